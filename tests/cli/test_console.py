"""``aiows.cli.console``: what is written where, and the prompt kept out of
the way of the lines written around it."""

from __future__ import annotations

import io
import re
import threading

from aiows import WSMessage, WSMsgType
from aiows.cli.console import Console, describe

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"


def terminal_console(typed: str = "") -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(
        out,
        io.StringIO(),
        pretty=True,
        quiet=False,
        line_buffer=lambda: typed,
        redraw=True,
    )
    return console, out


def test_describe_escapes_control_characters_and_cuts_binary() -> None:
    assert describe(WSMsgType.TEXT, "a\tb\x1b[2J") == "TEXT a\\tb\\x1b[2J"
    assert describe(WSMsgType.BINARY, b"\x00" * 300) == (
        "BINARY " + "00" * 256 + "... (300 bytes)"
    )


def test_pipe_output_is_data_only() -> None:
    out, err = io.StringIO(), io.StringIO()
    console = Console(out, err, pretty=False, quiet=True)
    console.message(WSMessage(WSMsgType.TEXT, "line\nbreak", None))
    console.message(WSMessage(WSMsgType.BINARY, b"\x01\xff", None))
    console.note("connected")  # quiet: not shown
    console.note("pong", always=True)
    console.reply("/json: not valid JSON")
    assert out.getvalue() == "line\nbreak\n01ff\n"
    assert err.getvalue() == "pong\n/json: not valid JSON\n"
    assert console.prompt == ""


def test_line_written_under_the_prompt_redraws_it_with_what_is_typed() -> None:
    console, out = terminal_console(typed="half a li")
    assert console.prompt == "> "
    assert console.begin_prompt()
    console.prompt_shown()
    console.note("connected")
    assert re.fullmatch(rf"\r\x1b\[K{STAMP} \* connected\n> half a li", out.getvalue())


def test_line_written_while_the_prompt_is_drawn_waits_and_redraws_it() -> None:
    """readline has written the prompt but not reported it yet: the line
    waits for the report, then goes above the prompt, not after it (seen in
    CI: ``> 10:01:16.033 < TEXT hello``)."""
    console, out = terminal_console(typed="ab")
    assert console.begin_prompt()  # the input thread starts drawing
    out.write("> ")  # readline draws the prompt
    writer = threading.Thread(target=console.note, args=("connected",))
    writer.start()
    writer.join(0.05)
    assert writer.is_alive()  # waiting for the prompt to be reported
    assert out.getvalue() == "> "
    console.prompt_shown()  # readline's pre-input hook
    writer.join(5)
    assert not writer.is_alive()
    assert re.fullmatch(rf"> \r\x1b\[K{STAMP} \* connected\n> ab", out.getvalue())


def test_prompt_never_reported_is_waited_for_briefly() -> None:
    console, out = terminal_console()
    assert console.begin_prompt()  # and readline never reports it
    console.note("connected")
    assert re.fullmatch(rf"{STAMP} \* connected\n", out.getvalue())


def test_stop_prompting_erases_the_prompt_and_keeps_it_off() -> None:
    console, out = terminal_console()
    console.begin_prompt()
    console.prompt_shown()
    console.stop_prompting()
    assert out.getvalue() == "\r\x1b[K"
    assert not console.begin_prompt()
    console.note("closing")
    assert re.fullmatch(rf"\r\x1b\[K{STAMP} \* closing\n", out.getvalue())


def test_prompt_drawn_after_stop_is_erased_at_once() -> None:
    console, out = terminal_console()
    assert console.begin_prompt()
    console.stop_prompting()  # the session ends while readline draws it
    console.prompt_shown()
    assert out.getvalue() == "\r\x1b[K"
    console.finish()
    assert out.getvalue() == "\r\x1b[K"


def test_entered_line_leaves_no_prompt_to_redraw() -> None:
    console, out = terminal_console(typed="x")
    console.begin_prompt()
    console.prompt_shown()
    console.prompt_done()
    console.note("sent")
    assert re.fullmatch(rf"{STAMP} \* sent\n", out.getvalue())


def test_stop_waits_for_a_prompt_being_drawn_and_erases_it() -> None:
    """The session ends while readline draws a prompt: the prompt is erased
    once drawn, before the last lines are written (seen on a slow terminal:
    ``>aiows: error: ...``)."""
    console, out = terminal_console()
    assert console.begin_prompt()  # the input thread starts drawing
    stopper = threading.Thread(target=console.stop_prompting)
    stopper.start()
    stopper.join(0.05)
    assert stopper.is_alive()  # waiting for the prompt to be on screen
    console.prompt_shown()  # readline's pre-input hook
    stopper.join(5)
    assert not stopper.is_alive()
    assert out.getvalue() == "\r\x1b[K"
    assert not console.begin_prompt()


def test_stop_does_not_wait_when_no_prompt_is_being_drawn() -> None:
    console, out = terminal_console()
    assert console.begin_prompt()
    console.prompt_shown()
    console.prompt_done()  # the line was entered
    console.stop_prompting()  # returns at once: nothing to wait for
    assert out.getvalue() == ""
