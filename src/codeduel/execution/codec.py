"""Exact-type tagged serialization for values crossing the sandbox boundary.

Why not pickle or JSON: pickle runs code on load, and JSON blurs types (tuple vs list, int vs
float, nan, bytes, sets). The judge compares what the untrusted child returns, so every value
must arrive as a plain builtin of *exactly* the type it had: ``type(x) is int`` is checked, so an
``int`` subclass or any object with a custom ``__eq__`` cannot cross (:class:`UnsupportedType`).

The format is stable (tasks cache expected outputs with it): a version byte, then one tagged
item. Decoding is bounded (depth, size) and raises :class:`CodecError` on malformed input,
because the judge decodes bytes written by untrusted code.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["MAX_BYTES", "MAX_DEPTH", "CodecError", "UnsupportedType", "dumps", "loads"]

VERSION = 1
MAX_DEPTH = 100
MAX_BYTES = 64 * 1024 * 1024

_LEN = struct.Struct(">I")
_F64 = struct.Struct(">d")
_C128 = struct.Struct(">dd")


class UnsupportedType(Exception):
    """The value (or something inside it) is not an exact builtin type the codec carries."""


class CodecError(ValueError):
    """The bytes are not a valid encoding (truncated, unknown tag, too deep or too large)."""


def dumps(obj: object) -> bytes:
    """Encode ``obj``; raises :class:`UnsupportedType` for anything but exact builtins."""
    out: list[bytes] = [bytes((VERSION,))]
    size = _encode(obj, out, 0, [1])
    if size > MAX_BYTES:
        raise UnsupportedType(f"value too large to transfer ({size} bytes > {MAX_BYTES})")
    return b"".join(out)


def _encode(x: object, out: list[bytes], depth: int, size: list[int]) -> int:
    if depth > MAX_DEPTH:
        raise UnsupportedType(f"value nested deeper than {MAX_DEPTH} levels")
    if size[0] > MAX_BYTES:
        raise UnsupportedType(f"value too large to transfer (> {MAX_BYTES} bytes)")
    t = type(x)
    if x is None:
        chunk = b"N"
    elif t is bool:
        chunk = b"T" if x else b"F"
    elif t is int:
        n = int.bit_length(x) // 8 + 1  # type: ignore[arg-type]
        chunk = b"i" + _LEN.pack(n) + int.to_bytes(x, n, "big", signed=True)  # type: ignore[arg-type]
    elif t is float:
        chunk = b"f" + _F64.pack(x)  # type: ignore[arg-type]
    elif t is complex:
        chunk = b"c" + _C128.pack(x.real, x.imag)  # type: ignore[attr-defined]
    elif t is str:
        data = str.encode(x, "utf-8", "surrogatepass")  # type: ignore[arg-type]
        chunk = b"s" + _LEN.pack(len(data)) + data
    elif t is bytes:
        chunk = b"b" + _LEN.pack(len(x)) + x  # type: ignore[arg-type,operator]
    elif t is list or t is tuple or t is set or t is frozenset:
        tag = {list: b"l", tuple: b"t", set: b"S", frozenset: b"Z"}[t]
        items = list(x)  # type: ignore[call-overload]
        out.append(tag + _LEN.pack(len(items)))
        size[0] += 5
        for item in items:
            _encode(item, out, depth + 1, size)
        return size[0]
    elif t is dict:
        pairs = list(dict.items(x))  # type: ignore[arg-type]
        out.append(b"d" + _LEN.pack(len(pairs)))
        size[0] += 5
        for k, v in pairs:
            _encode(k, out, depth + 1, size)
            _encode(v, out, depth + 1, size)
        return size[0]
    else:
        raise UnsupportedType(f"cannot transfer a value of type {_type_name(t)}")
    out.append(chunk)
    size[0] += len(chunk)
    return size[0]


def _type_name(t: type) -> str:
    mod = getattr(t, "__module__", "")
    name = getattr(t, "__qualname__", repr(t))
    return name if mod in ("builtins", "", None) else f"{mod}.{name}"


def loads(data: bytes | bytearray | memoryview) -> Any:
    """Decode bytes from :func:`dumps`; raises :class:`CodecError` if they are not valid."""
    view = memoryview(data)
    if len(view) > MAX_BYTES + 1:
        raise CodecError(f"encoded value too large ({len(view)} bytes)")
    if len(view) < 2 or view[0] != VERSION:
        raise CodecError("not a codeduel codec value (bad version byte)")
    try:
        value, pos = _decode(view, 1, 0)
    except CodecError:
        raise
    except (struct.error, IndexError) as e:
        raise CodecError(f"truncated value: {e}") from None
    except (TypeError, UnicodeDecodeError, ValueError) as e:  # unhashable key, bad utf-8
        raise CodecError(f"malformed value: {e}") from None
    if pos != len(view):
        raise CodecError(f"{len(view) - pos} trailing bytes after value")
    return value


def _take(view: memoryview, pos: int, n: int) -> memoryview:
    end = pos + n
    if end > len(view):
        raise CodecError("truncated value")
    return view[pos:end]


def _decode(view: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise CodecError(f"value nested deeper than {MAX_DEPTH} levels")
    tag = view[pos]
    pos += 1
    if tag == 0x4E:  # N
        return None, pos
    if tag == 0x54:  # T
        return True, pos
    if tag == 0x46:  # F
        return False, pos
    if tag == 0x69:  # i
        (n,) = _LEN.unpack_from(view, pos)
        raw = _take(view, pos + 4, n)
        return int.from_bytes(raw, "big", signed=True), pos + 4 + n
    if tag == 0x66:  # f
        return _F64.unpack_from(view, pos)[0], pos + 8
    if tag == 0x63:  # c
        re_, im = _C128.unpack_from(view, pos)
        return complex(re_, im), pos + 16
    if tag == 0x73 or tag == 0x62:  # s, b
        (n,) = _LEN.unpack_from(view, pos)
        raw = _take(view, pos + 4, n)
        pos += 4 + n
        if tag == 0x62:
            return raw.tobytes(), pos
        return str(raw, "utf-8", "surrogatepass"), pos
    if tag in (0x6C, 0x74, 0x53, 0x5A, 0x64):  # l t S Z d
        (n,) = _LEN.unpack_from(view, pos)
        pos += 4
        # Every item takes at least one byte: refuse counts the input cannot hold.
        if n > len(view) - pos:
            raise CodecError("container length exceeds the data")
        if tag == 0x64:
            d: dict[Any, Any] = {}
            for _ in range(n):
                k, pos = _decode(view, pos, depth + 1)
                v, pos = _decode(view, pos, depth + 1)
                d[k] = v
            return d, pos
        items: list[Any] = []
        for _ in range(n):
            item, pos = _decode(view, pos, depth + 1)
            items.append(item)
        if tag == 0x6C:
            return items, pos
        if tag == 0x74:
            return tuple(items), pos
        if tag == 0x53:
            return set(items), pos
        return frozenset(items), pos
    raise CodecError(f"unknown tag {tag!r} at byte {pos - 1}")
