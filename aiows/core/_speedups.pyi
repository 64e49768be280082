# Type stub for the compiled masking module, _speedups.c.

def apply_mask(key: bytes, data: bytes | bytearray | memoryview, /) -> bytes: ...
def scan_messages(
    data: bytes,
    pos: int,
    max_size: int,
    decode_text: bool,
    out: list[object],
    spec: tuple[type, type, object, object, object],
    /,
) -> int: ...
def build_frame(
    b0: int, key: bytes, data: bytes | bytearray | memoryview, /
) -> bytes: ...
def build_frame_into(
    b0: int, key: bytes, data: bytes | bytearray | memoryview, out: bytearray, /
) -> int: ...
def new_payload(size: int, /) -> tuple[bytes, memoryview]: ...
def scan_continuations(
    data: bytes | bytearray | memoryview, pos: int, limit: int, /
) -> tuple[int, bytes, bool]: ...
