"""`posecast.io.decimals`: the vectorised parser of BVH / AMC value blocks must give exactly Python's
``float`` (the correctly rounded value, as ``np.loadtxt``) for every token it takes, and ``None`` (the
readers then use ``np.loadtxt``) for every token it does not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posecast.io.decimals import padded, parse_decimals, split_tokens


def parse(text: str) -> np.ndarray | None:
    data = text.encode()
    starts, ends = split_tokens(np.frombuffer(data, dtype=np.uint8))
    return parse_decimals(padded(data), starts, ends)


def same(values: np.ndarray, tokens: list[str]) -> bool:
    """Bit for bit (so -0.0 differs from 0.0)."""
    expected = np.array([float(t) for t in tokens])
    return values.shape == expected.shape and values.view(np.uint64).tolist() == expected.view(np.uint64).tolist()


def test_hand_picked_tokens_give_floats_values_bit_for_bit():
    tokens = ["0", "-0", "+7", ".5", "5.", "-0.000001", "123456789012345", "1.23456789012345", "3.97569e-015",
              "1E+022", "-2.5e-7", "99999999.9999999", "0.1", "-33.3333"]  # fmt: skip
    values = parse(" ".join(tokens))
    assert values is not None and same(values, tokens)
    assert parse("1.5 -2\r\n3 4\n")[3] == 4.0 and parse("1.5 -2\r\n3 4\n").size == 4  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    [
        "nan",
        "inf",
        "1e",
        "1.2.3",
        "--1",
        "-",
        "1e+",
        "0x10",
        "1,5",
        "1_000",
        "1234567890123456",
        "1e23",
        "1e-9999",
        "12345678.12345678",
        "1e1234",
        "e5",
        ".",
        "1-2",
    ],  # fmt: skip
)
def test_tokens_it_does_not_take_give_none(text):
    """Not plain decimals (or beyond the exact fast path: 16 digits, exponents past 22): None, so the reader
    falls back to ``np.loadtxt``, which either reads them or explains the error."""
    assert parse(f"1.0 {text} 2.0") is None


decimal = st.builds(
    lambda sign, whole, frac, dot, exp: sign + whole + (("." + frac) if dot else "") + exp,
    st.sampled_from(["", "-", "+"]),
    st.from_regex(r"[0-9]{1,8}", fullmatch=True),
    st.from_regex(r"[0-9]{0,7}", fullmatch=True),
    st.booleans(),
    st.one_of(st.just(""), st.from_regex(r"[eE][+-]?0?[0-9]", fullmatch=True)),
)


def takes(token: str) -> bool:
    """The documented fast-path rule: after an optional sign at most 16 bytes, 1 to 15 digits with at most one
    dot, an optional exponent (sign and digits, 4 bytes at most), and a decimal exponent (written exponent minus
    the fraction digits) within +-22."""
    body = token[1:] if token[:1] in "+-" else token
    mantissa, _, exponent = body.lower().partition("e")
    digits = mantissa.replace(".", "", 1)
    fraction = len(mantissa.partition(".")[2])
    written = int(exponent) if exponent else 0
    return len(body) <= 16 and 1 <= len(digits) <= 15 and abs(written - fraction) <= 22


@settings(max_examples=300, deadline=None)
@given(st.lists(decimal, min_size=1, max_size=40), st.sampled_from([" ", "  ", "\n", " \r\n"]))
def test_random_plain_decimals_are_parsed_exactly_or_refused(tokens, sep):
    """Taken exactly when every token is of the fast path's form, and then exactly Python's float."""
    values = parse(sep.join(tokens))
    assert (values is not None) == all(takes(t) for t in tokens)
    if values is not None:
        assert same(values, tokens)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=30))
def test_numbers_as_writers_print_them(xs):
    """Values as BVH / AMC writers print them (``%g``-like, ``repr``, fixed decimals): exact whenever taken."""
    for fmt in ("{:.6f}", "{:g}", "{!r}", "{:.4e}"):
        tokens = [fmt.format(x) for x in xs]
        values = parse(" ".join(tokens))
        if values is not None:
            assert same(values, tokens)
