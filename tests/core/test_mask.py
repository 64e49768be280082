"""Masking (RFC 6455 §5.3): compiled and pure-Python paths, and mask keys."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from aiows.core import mask, speedups
from aiows.core.mask import (
    MaskKeySource,
    apply_mask,
    build_frame,
    py_apply_mask,
    py_build_frame,
)

from .helpers import xor_mask

try:
    from aiows.core import _speedups
except ImportError:  # depends on the build
    _speedups = None

needs_speedups = pytest.mark.skipif(_speedups is None, reason="no compiled module")

KEYS = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x01\x02\x03\x04", b"\xa5Z\x0f\xf0"]
LENGTHS = [*range(71), 1000, 4093, 65535, 65536, 1 << 20]


def payload(n: int) -> bytes:
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def apply_funcs() -> list[Callable[[bytes, bytes], bytes]]:
    funcs: list[Callable[[bytes, bytes], bytes]] = [py_apply_mask, apply_mask]
    if _speedups is not None:
        funcs.append(_speedups.apply_mask)
    return funcs


@pytest.mark.parametrize("n", LENGTHS)
def test_pure_and_compiled_agree_with_reference(n: int) -> None:
    data = payload(n)
    key = b"\x9c\x31\xe7\x08"
    expected = xor_mask(key, data)
    for func in apply_funcs():
        masked = func(key, data)
        assert masked == expected
        assert func(key, masked) == data


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("n", range(0, 20))
def test_keys_and_tail_lengths(key: bytes, n: int) -> None:
    data = payload(n)
    for func in apply_funcs():
        assert func(key, data) == xor_mask(key, data)


def test_zero_key_is_identity_and_ones_key_inverts() -> None:
    data = payload(33)
    for func in apply_funcs():
        assert func(b"\0\0\0\0", data) == data
        assert func(b"\xff\xff\xff\xff", data) == bytes(255 - b for b in data)


def test_empty_payload() -> None:
    for func in apply_funcs():
        assert func(b"abcd", b"") == b""
    assert py_apply_mask(b"abcd", b"") == b""


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_accepts_bytes_like(kind: Callable[[bytes], bytes]) -> None:
    data = payload(37)
    expected = xor_mask(b"k3y!", data)
    for func in apply_funcs():
        result = func(b"k3y!", kind(data))
        assert type(result) is bytes
        assert result == expected
    framed = [py_build_frame(0x82, b"k3y!", kind(data))]
    framed.append(build_frame(0x82, b"k3y!", kind(data)))
    assert framed == [b"\x82\xa5k3y!" + expected] * 2


def test_memoryview_slice() -> None:
    data = payload(100)
    view = memoryview(data)[13:71]
    for func in apply_funcs():
        assert func(b"wxyz", view) == xor_mask(b"wxyz", data[13:71])


@pytest.mark.parametrize("n", [0, 1, 5, 8, 125, 126, 65536])
def test_build_frame_masks_after_header_and_key(n: int) -> None:
    data = payload(n)
    key = b"\x10\x20\x30\x40"
    expected_tail = key + xor_mask(key, data)
    frames = [py_build_frame(0x81, key, data), build_frame(0x81, key, data)]
    if _speedups is not None:
        frames.append(_speedups.build_frame(0x81, key, data))
    for frame in frames:
        assert frame[0] == 0x81
        assert frame.endswith(expected_tail)
        assert len(frame) == len(expected_tail) + (
            2 if n < 126 else 4 if n < 65536 else 10
        )


def test_build_frame_empty_payload() -> None:
    assert build_frame(0x8A, b"abcd", b"") == b"\x8a\x80abcd"
    assert py_build_frame(0x82, b"abcd", b"\0\0") == b"\x82\x82abcdab"


@needs_speedups
def test_compiled_rejects_bad_key() -> None:
    assert _speedups is not None
    with pytest.raises(ValueError, match="mask key must be 4 bytes"):
        _speedups.apply_mask(b"abc", b"data")
    with pytest.raises(ValueError, match="mask key must be 4 bytes"):
        _speedups.build_frame(0x82, b"abcde", b"data")


@needs_speedups
def test_compiled_argument_errors() -> None:
    assert _speedups is not None
    with pytest.raises(TypeError, match=r"apply_mask\(key, data\)"):
        _speedups.apply_mask(b"abcd")
    with pytest.raises(TypeError, match=r"build_frame\(b0, key, data\)"):
        _speedups.build_frame(0x82, b"abcd")
    with pytest.raises(TypeError):
        _speedups.apply_mask(b"abcd", "text")
    with pytest.raises(TypeError):
        _speedups.build_frame("x", b"abcd", b"")
    with pytest.raises(TypeError):
        _speedups.build_frame(0x82, b"abcd", 5)
    with pytest.raises(ValueError, match="b0 must be a byte"):
        _speedups.build_frame(256, b"abcd", b"")


def test_module_uses_compiled_when_available() -> None:
    if speedups.NO_EXTENSIONS or _speedups is None:
        assert mask.COMPILED is False
        assert mask.apply_mask is py_apply_mask
    else:
        assert mask.COMPILED is True
        assert mask.apply_mask is _speedups.apply_mask
        assert mask.build_frame is _speedups.build_frame


# The parser's source: parser_module.__file__ is its compiled build's, when
# it was compiled.
PARSER_SOURCE = str(Path(mask.__file__).with_name("parser.py"))


def load_fresh(path: str, name: str) -> ModuleType:
    """Execute a core module's file afresh as a separate module."""
    spec = importlib.util.spec_from_file_location(f"aiows.core.{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_extensions_env_leaves_compiled_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIOWS_NO_EXTENSIONS", "1")
    fresh = load_fresh(speedups.__file__, "_speedups_no_ext")
    assert fresh.compiled is None


@needs_speedups
def test_without_env_the_extension_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOWS_NO_EXTENSIONS", raising=False)
    fresh = load_fresh(speedups.__file__, "_speedups_env")
    assert fresh.compiled is _speedups


def test_pure_python_when_not_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speedups, "compiled", None)
    fresh = load_fresh(mask.__file__, "_mask_no_ext")
    assert fresh.COMPILED is False
    assert fresh.apply_mask is fresh.py_apply_mask
    assert fresh.build_frame is fresh.py_build_frame
    assert fresh.apply_mask(b"abcd", b"abcdabc") == b"\0" * 7
    parser = load_fresh(PARSER_SOURCE, "_parser_no_ext")
    assert parser._scan_messages is None
    frames = b"\x82\x01x\x81\x02hi"
    assert [m.data for m in parser.FrameParser().feed(frames)] == [b"x", "hi"]
    raw = parser.FrameParser(decode_text=False).feed(frames)
    assert [m.data for m in raw] == [b"x", b"hi"]


@needs_speedups
def test_compiled_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speedups, "compiled", _speedups)
    fresh = load_fresh(mask.__file__, "_mask_compiled")
    assert fresh.COMPILED is True
    assert _speedups is not None
    assert fresh.apply_mask is _speedups.apply_mask
    parser = load_fresh(PARSER_SOURCE, "_parser_compiled")
    assert parser._scan_messages is _speedups.scan_messages


def test_key_source_gives_four_byte_keys_from_urandom(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def fake_urandom(n: int) -> bytes:
        calls.append(n)
        base = len(calls)
        return bytes((base * 31 + i) & 0xFF for i in range(n))

    monkeypatch.setattr(mask.os, "urandom", fake_urandom)
    source = MaskKeySource()
    assert calls == []  # nothing drawn until the first key
    pool = fake_urandom(4096)
    calls.clear()
    keys = [source.next_key() for _ in range(1024)]
    assert calls == [4096]
    assert all(len(key) == 4 for key in keys)
    assert b"".join(keys) == pool
    # The 1025th key needs a refill, and comes from the new pool.
    key = source.next_key()
    assert calls == [4096, 4096]
    assert key == bytes((2 * 31 + i) & 0xFF for i in range(4))
    for _ in range(1023):
        source.next_key()
    assert calls == [4096, 4096]
    source.next_key()
    assert calls == [4096, 4096, 4096]


def test_key_source_real_randomness() -> None:
    source = MaskKeySource()
    keys = [source.next_key() for _ in range(3000)]
    assert {len(key) for key in keys} == {4}
    assert all(type(key) is bytes for key in keys)
    # 3000 keys from a CSPRNG: a repeat is astronomically unlikely to be many.
    assert len(set(keys)) > 2990
    assert MaskKeySource.REFILL == 4096


@pytest.mark.parametrize("key", [b"", b"abc", b"abcde"])
def test_pure_path_refuses_bad_key_like_compiled(key: bytes) -> None:
    from aiows.core.mask import py_apply_mask

    with pytest.raises(ValueError, match="4 bytes"):
        py_apply_mask(key, b"data")


@pytest.mark.parametrize("n", [0, 1, 125, 126, 65535, 65536, 70000])
def test_build_frame_layout_pure_and_compiled(n: int) -> None:
    key = b"\x01\x02\x03\x04"
    data = os.urandom(n)
    frame = mask.py_build_frame(0x82, key, data)
    if n < 126:
        assert frame[:2] == bytes([0x82, 0x80 | n])
        rest = frame[2:]
    elif n < 65536:
        assert frame[:4] == bytes([0x82, 0x80 | 126]) + n.to_bytes(2, "big")
        rest = frame[4:]
    else:
        assert frame[:10] == bytes([0x82, 0x80 | 127]) + n.to_bytes(8, "big")
        rest = frame[10:]
    assert rest[:4] == key
    assert xor_mask(key, rest[4:]) == data
    assert mask.build_frame(0x82, key, data) == frame


# -- keys after fork() (issue 11, defect 7) ------------------------------------


def test_discard_makes_the_next_key_a_fresh_draw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws = iter([b"A" * 4096, b"B" * 4096])
    monkeypatch.setattr(mask.os, "urandom", lambda n: next(draws))
    source = MaskKeySource()
    assert source.next_key() == b"AAAA"
    source.discard()
    assert source.next_key() == b"BBBB"
    assert source.next_key() == b"BBBB"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")
def test_forked_child_draws_different_keys() -> None:
    # Fill the pool first: a child must not go on slicing its copy of it.
    mask.KEYS.next_key()
    count = 16
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its keys and leave without pytest teardown
        try:
            os.close(read_end)
            keys = b"".join(mask.KEYS.next_key() for _ in range(count))
            os.write(write_end, keys)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        child = b""
        while len(child) < 4 * count:
            chunk = os.read(read_end, 4 * count)
            if not chunk:
                break
            child += chunk
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(child) == 4 * count
    parent = b"".join(mask.KEYS.next_key() for _ in range(count))
    # Sixteen keys from independent draws: sharing even one is a 1 in 2**28
    # chance, while a copied pool shares all of them.
    child_keys = {child[i : i + 4] for i in range(0, len(child), 4)}
    parent_keys = {parent[i : i + 4] for i in range(0, len(parent), 4)}
    assert child_keys.isdisjoint(parent_keys)


def test_module_refills_after_fork_where_fork_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks: list[Callable[[], None]] = []

    def register_at_fork(*, after_in_child: Callable[[], None]) -> None:
        hooks.append(after_in_child)

    monkeypatch.setattr(os, "register_at_fork", register_at_fork, raising=False)
    fresh = load_fresh(mask.__file__, "_mask_fork")
    assert hooks == [fresh.KEYS.discard]
    # Without fork (Windows) there is nothing to register, and keys work.
    monkeypatch.delattr(os, "register_at_fork")
    fresh = load_fresh(mask.__file__, "_mask_no_fork")
    assert len(fresh.KEYS.next_key()) == 4


# -- frames built into reused memory (the send lane's scratch) -----------------


@pytest.mark.parametrize("n", [0, 1, 125, 126, 65535, 65536, 70000])
def test_build_frame_into_writes_the_same_frame_and_says_its_length(n: int) -> None:
    key = b"\x0a\x0b\x0c\x0d"
    data = os.urandom(n)
    expected = mask.py_build_frame(0x82, key, data)
    assert mask.frame_size(n) == len(expected)
    funcs = [mask.py_build_frame_into, mask.build_frame_into]
    if _speedups is not None:
        funcs.append(_speedups.build_frame_into)
    for func in funcs:
        out = bytearray(b"\xee" * (len(expected) + 3))
        assert func(0x82, key, data, out) == len(expected)
        assert out[: len(expected)] == expected
        assert out[len(expected) :] == b"\xee\xee\xee"  # nothing past the frame


def test_build_frame_into_refuses_a_buffer_too_small() -> None:
    funcs = [mask.py_build_frame_into, mask.build_frame_into]
    if _speedups is not None:
        funcs.append(_speedups.build_frame_into)
    for func in funcs:
        out = bytearray(9)
        with pytest.raises(ValueError, match="a frame of 10 bytes does not fit in 9"):
            func(0x82, b"abcd", b"1234", out)
        assert out == bytearray(9)  # left untouched


@needs_speedups
def test_compiled_build_frame_into_argument_errors() -> None:
    assert _speedups is not None
    with pytest.raises(TypeError, match=r"build_frame_into\(b0, key, data, out\)"):
        _speedups.build_frame_into(0x82, b"abcd", b"")
    with pytest.raises(BufferError):  # bytes are not writable
        _speedups.build_frame_into(0x82, b"abcd", b"", b"0123456789")
    with pytest.raises(ValueError, match="mask key must be 4 bytes"):
        _speedups.build_frame_into(0x82, b"abc", b"", bytearray(10))
    with pytest.raises(ValueError, match="b0 must be a byte"):
        _speedups.build_frame_into(-1, b"abcd", b"", bytearray(10))
    with pytest.raises(TypeError):
        _speedups.build_frame_into(0x82, b"abcd", 5, bytearray(10))


def test_a_memoryview_of_wider_items_counts_its_bytes_on_both_paths() -> None:
    data = bytes(range(8))
    wide = memoryview(bytearray(data)).cast("I")
    key = b"\x01\x02\x03\x04"
    for build in (mask.py_build_frame, mask.build_frame):
        assert build(0x82, key, wide) == mask.py_build_frame(0x82, key, data)
    assert mask.py_apply_mask(key, wide) == xor_mask(key, data)
