"""Where the ``aiows`` command writes: messages, notes, replies, errors.

In a terminal every line gets a timestamp and a tag (``<`` received, ``>``
sent, ``*`` a note) and the prompt with what is being typed is drawn again
below it.  In a pipe only the data of each message goes to standard output;
everything else goes to standard error.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import IO, Final

from .. import WSMessage, WSMsgType

__all__ = ["PROMPT", "Console", "describe", "escape", "escape_lines"]

PROMPT: Final = "> "

#: Bytes of a BINARY message shown in the terminal (pipe mode shows all).
MAX_SHOWN_BYTES: Final = 256

# How long a write or stop_prompting() waits for a prompt readline is
# drawing, seconds.
_DRAW_WAIT: Final = 0.5

# Control characters from a server (a TEXT message, a close reason, a header
# in an error) would move the cursor, clear the screen, set the terminal's
# title or reorder the text shown (bidirectional overrides); they are shown
# escaped.
_CONTROL_ESCAPES: Final = {
    **{c: f"\\x{c:02x}" for c in range(0x20)},
    0x7F: "\\x7f",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    **{c: f"\\x{c:02x}" for c in range(0x80, 0xA0)},
    **{
        c: f"\\u{c:04x}"
        for c in (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    },
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def escape(text: str) -> str:
    """``text`` on one line, its control characters escaped.

    >>> escape("bye\\x1b[2J\\n")
    'bye\\\\x1b[2J\\\\n'
    """
    return text.translate(_CONTROL_ESCAPES)


def escape_lines(text: str) -> str:
    """``text`` with the control characters of each line escaped, its line
    breaks kept (a traceback, the help)."""
    return "\n".join(escape(line) for line in text.split("\n"))


def _timestamp() -> str:
    return datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3]


def describe(kind: WSMsgType, data: str | bytes) -> str:
    """One line for a message in the terminal.

    >>> describe(WSMsgType.TEXT, "a\\nb")
    'TEXT a\\\\nb'
    >>> describe(WSMsgType.BINARY, b"\\x00\\xff")
    'BINARY 00ff (2 bytes)'
    """
    if kind == WSMsgType.TEXT:
        assert isinstance(data, str)
        return f"TEXT {escape(data)}"
    raw = bytes(data) if not isinstance(data, str) else data.encode()
    shown = raw[:MAX_SHOWN_BYTES].hex()
    more = "..." if len(raw) > MAX_SHOWN_BYTES else ""
    return f"BINARY {shown}{more} ({len(raw)} bytes)"


class Console:
    """Where the client writes: messages, notes, command feedback, errors.

    ``pretty`` output (a terminal) shows timestamps and type tags and keeps
    the prompt and the line being typed intact when a message arrives.
    Plain output (a pipe) writes only message data to ``out``; notes and
    command feedback go to ``err``.

    The prompt belongs to the input thread, which reports it with
    :meth:`begin_prompt`, :meth:`prompt_shown` and :meth:`prompt_done`.
    Once :meth:`stop_prompting` is called no prompt is drawn again, and one
    on screen is erased, so nothing is left in front of the last lines.
    """

    def __init__(
        self,
        out: IO[str],
        err: IO[str],
        *,
        pretty: bool,
        quiet: bool,
        line_buffer: Callable[[], str] | None = None,
        redraw: bool = False,
        escape_data: bool = False,
    ) -> None:
        self.out = out
        self.err = err
        #: Timestamps and tags (a terminal); set for the scripted demo too.
        self.pretty = pretty
        #: Suppress notes (plain output without --demo).
        self.quiet = quiet
        # readline's get_line_buffer: what is typed after the prompt.
        self._line_buffer = line_buffer
        #: Whether a prompt is drawn on ``out`` (both ends are a terminal).
        self.redraw = redraw
        #: Whether plain output escapes the data of TEXT messages too: it
        #: goes to a terminal (input from a pipe), not to another program.
        self.escape_data = escape_data
        # Writes come from the event loop, prompt changes from the input
        # thread: one lock orders them.
        self._lock = threading.Lock()
        # Signalled when a prompt being drawn is on screen.
        self._drawn = threading.Condition(self._lock)
        # The input thread is drawing a prompt (begin_prompt() returned
        # True, and readline has not reported it on screen yet).
        self._drawing = False
        # The prompt is on screen, with what is typed after it.
        self._prompt_on_screen = False
        # stop_prompting() was called: the session is ending.
        self._stopped = False

    # ------------------------------------------------------------------
    # The prompt (called from the input thread)

    @property
    def prompt(self) -> str:
        """What the input thread shows in front of a line being typed."""
        return PROMPT if self.redraw else ""

    def begin_prompt(self) -> bool:
        """The input thread is about to prompt; False if it must not."""
        with self._lock:
            self._drawing = not self._stopped
            return self._drawing

    def prompt_shown(self) -> None:
        """The prompt is on screen (readline's pre-input hook)."""
        with self._lock:
            self._drawing = False
            self._drawn.notify_all()
            if self._stopped:
                # stop_prompting() came first: take the prompt off again.
                self._erase_prompt()
            else:
                self._prompt_on_screen = self.redraw

    def prompt_done(self) -> None:
        """The line has been entered (or input ended)."""
        with self._lock:
            self._drawing = False
            self._drawn.notify_all()
            self._prompt_on_screen = False

    def stop_prompting(self) -> None:
        """Erase the prompt, if shown, and draw it no more.

        A prompt readline is drawing at this moment is waited for (briefly)
        and erased, so that no piece of it lands among the last lines.
        """
        with self._lock:
            self._stopped = True
            if self._drawing:
                self._drawn.wait_for(lambda: not self._drawing, _DRAW_WAIT)
            if self._prompt_on_screen:
                self._erase_prompt()
                self._prompt_on_screen = False

    def _erase_prompt(self) -> None:
        self.out.write("\r\x1b[K")
        self.out.flush()

    # ------------------------------------------------------------------
    # Lines

    def _write(self, stream: IO[str], text: str) -> None:
        with self._lock:
            if self._drawing and stream is self.out:
                # readline may have written the prompt without reporting it
                # yet: a line written now would follow it ("> 12:00 < ...").
                # Wait (briefly) until it is on screen, then draw it again.
                self._drawn.wait_for(lambda: not self._drawing, _DRAW_WAIT)
            if self._prompt_on_screen and stream is self.out:
                typed = self._line_buffer() if self._line_buffer is not None else ""
                stream.write(f"\r\x1b[K{text}\n{PROMPT}{typed}")
            else:
                stream.write(text + "\n")
            stream.flush()

    def message(self, msg: WSMessage) -> None:
        """Show a TEXT or BINARY message received."""
        if self.pretty:
            self._write(self.out, f"{_timestamp()} < {describe(msg.type, msg.data)}")
        elif msg.type == WSMsgType.TEXT:
            self._write(self.out, escape(msg.data) if self.escape_data else msg.data)
        else:
            self._write(self.out, bytes(msg.data).hex())

    def sent(self, kind: WSMsgType, data: str | bytes) -> None:
        """Show a message sent (pretty output only; the scripted demo)."""
        if self.pretty:
            self._write(self.out, f"{_timestamp()} > {describe(kind, data)}")

    def note(self, text: str, *, always: bool = False) -> None:
        """A status line: connected, closed, what the demo does, a pong.

        In a pipe it goes to ``err``, and only when not ``quiet`` or when
        ``always`` is set.  It is one line: control characters (from a
        server's close reason, say) are escaped.
        """
        text = escape(text)
        if self.pretty:
            self._write(self.out, f"{_timestamp()} * {text}")
        elif always or not self.quiet:
            self._write(self.err, text)

    def reply(self, text: str) -> None:
        """Feedback to a command: /ping's latency, /help, a bad command
        (control characters escaped, line breaks kept)."""
        self._write(self.out if self.pretty else self.err, escape_lines(text))

    def finish(self) -> None:
        """The session is over: no prompt is left on screen."""
        self.stop_prompting()
