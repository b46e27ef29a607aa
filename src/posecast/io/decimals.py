"""Vectorised parsing of plain decimal numbers in a byte buffer (the value blocks of BVH and AMC files).

Used by `posecast.io.bvh` and `posecast.io.asf_amc` before ``np.loadtxt``: it gives the very same float64
values, or ``None`` when a token is not of the plain form it handles, and the reader then takes its
``np.loadtxt`` path unchanged (so every error message, and every unusual but valid file, stays as it was).

A token is handled when it is an optional ``+``/``-``, then 1 to 15 digits with at most one ``.`` among
them, then optionally ``e``/``E``, an optional sign and digits (4 bytes at most), at most 16 bytes after the sign,
with a decimal exponent (written exponent minus fraction digits) in [-22, 22]. Its mantissa ``m`` (the
digits as an integer, below ``10**15 < 2**53``) and ``10**|k|`` are then exact in float64, so ``m / 10**-k``
(or ``m * 10**k``) is one correctly rounded IEEE operation: the correctly rounded value of the decimal,
which is what ``np.loadtxt`` returns too (it parses with ``PyOS_string_to_double``, David Gay's correctly
rounded ``strtod``). This is Clinger's fast path; no approximation is involved.

How: each token's bytes (after its sign) are gathered as two little-endian 64-bit words, masked to
the token's length and classified byte-wise with numpy (digit, dot, ``e``); per-token counts and the
dot's position are horizontal byte sums (a multiply by ``0x0101010101010101``); the dot byte is
squeezed out with masks and shifts, and 8 digit bytes become a number with three multiply-shift
steps (the SWAR method of simdjson). Tokens are processed in blocks of `_CHUNK` so that temporaries
stay in cache. Every CMU BVH file and HDM05 clip takes this path (none falls back to ``np.loadtxt``).

Measured on AMD EPYC, pinned to one core (``taskset -c 1``), numpy 1.26.4, on the value blocks of the
82 CMU BVH files (81.5 MB, 10.35 M values) and the 62 HDM05 AMC clips (10.6 MB, 0.82 M values plus
bone names):

=====================================================  ==========  ==========
parser                                                   CMU BVH     HDM05 AMC
=====================================================  ==========  ==========
``np.loadtxt`` (the C parser; AMC with ``usecols``)      2,100 ms      185 ms
``float()`` over ``bytes.split()`` (``np.fromiter``)     2,819 ms      271 ms
``np.array(bytes.split()).astype(float)``                3,933 ms      352 ms
this module (`split_tokens` + `parse_decimals`)            974 ms      134 ms
=====================================================  ==========  ==========

(``np.loadtxt`` on a ``StringIO``, on a list of lines or with ``encoding="latin1"`` is within 5 %
of the ``BytesIO`` call; ``delimiter=" "`` breaks on CRLF files; pandas is not a dependency.)
"""

from __future__ import annotations

import numpy as np

_U = np.uint64
_WIDTH = 16  # bytes of a token after its sign
_MAX_DIGITS = 15  # mantissas below 10**15 < 2**53 are exact in float64
_MAX_EXP = 22  # 10**22 is the largest power of ten exact in float64
_P10 = np.array([float(10**k) for k in range(_MAX_EXP + 1)])
_COL = np.arange(_WIDTH, dtype=np.uint8)
#: ``_LOW[k]``: the low ``k`` bytes of a word set (k = 0..16; 8 and more: all of them).
_LOW = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1] * 9, dtype=np.uint64)
_ONES = _U(0x0101010101010101)
_SIGN = np.array([1.0, -1.0])
#: Tokens per block. Measured (ns a token, CMU BVH / HDM05 values): 4096: 100 / 161, 8192: 87 / 130,
#: 32768: 61 / 194, 131072: 211 / -; AMC clips hold about 13,000 values, BVH files about 126,000.
_CHUNK = 8192
_WEIGHTS = np.tile(_COL, _CHUNK)  # column of every byte of a block's (n, 16) token bytes
PAD = 24  # zero bytes `parse_decimals` needs after the data


def split_tokens(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the runs of bytes above 32 (blank) in the ``uint8`` array ``arr``.

    Every byte up to 32 (controls, blank) separates tokens: the caller checks that only the ones it
    allows (blank, LF, CR before LF) are there.
    """
    sep = np.ones(arr.size + 2, dtype=bool)
    np.less_equal(arr, 32, out=sep[1:-1])
    edges = np.flatnonzero(np.diff(sep.view(np.int8)))
    return edges[0::2], edges[1::2]


def padded(data: bytes | np.ndarray) -> np.ndarray:
    """``data`` as a ``uint8`` array followed by `PAD` zero bytes (what `parse_decimals` reads)."""
    arr = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes) else data
    out = np.zeros(arr.size + PAD, dtype=np.uint8)
    out[: arr.size] = arr
    return out


def parse_decimals(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """float64 values of the tokens ``buf[starts[i]:ends[i]]``, or ``None`` if any is not a plain decimal.

    Args:
        buf: ``uint8`` bytes followed by at least `PAD` zero bytes (see `padded`).
        starts, ends: int64 token bounds (``ends`` exclusive), as from `split_tokens`.
    """
    n = starts.size
    out = np.empty(n)
    # every byte offset as the start of an (unaligned) little-endian 64-bit word
    words = np.ndarray((buf.size - 7,), dtype=np.uint64, buffer=buf, strides=(1,))
    for a in range(0, n, _CHUNK):
        if not _parse_block(buf, words, starts[a : a + _CHUNK], ends[a : a + _CHUNK], out[a : a + _CHUNK]):
            return None
    return out


def _count(mask: np.ndarray) -> np.ndarray:
    """Per row of an ``(n, 16)`` array of small bytes (0/1 flags, or flags times their column): their sum."""
    w = mask.view(np.uint64)
    return ((w[:, 0] + w[:, 1]) * _ONES) >> _U(56)


def _digits8(v: np.ndarray) -> np.ndarray:
    """The numbers whose 8 decimal digits (bytes 0..9, most significant in the lowest byte) are ``v``'s."""
    v = (v * _U(10) + (v >> _U(8))) & _U(0x00FF00FF00FF00FF)
    v = (v * _U(100) + (v >> _U(16))) & _U(0x0000FFFF0000FFFF)
    return (v * _U(10000) + (v >> _U(32))) & _U(0xFFFFFFFF)


def _parse_block(buf: np.ndarray, words: np.ndarray, s: np.ndarray, e: np.ndarray, out: np.ndarray) -> bool:
    n = s.size
    first = buf[s]
    neg = first == 45  # '-'
    s = s + (neg | (first == 43))  # '+'
    length = e - s
    if length.min() < 1 or length.max() > _WIDTH:
        return False
    tok = np.zeros((n, 2), dtype=np.uint64)  # the token's bytes after the sign, zeros after its end
    tok[:, 0] = words[s] & _LOW[np.minimum(length, 8)]
    long = np.flatnonzero(length > 8)
    if long.size:
        tok[long, 1] = words[s[long] + 8] & _LOW[length[long] - 8]
    b = tok.view(np.uint8)  # (n, 16)
    q = length.astype(np.uint64)  # end of the mantissa
    exp = np.zeros(n, dtype=np.int64)
    is_e = (b | 32) == 101  # 'e' or 'E'
    r = np.flatnonzero(is_e.view(np.uint64)[:, 0] | is_e.view(np.uint64)[:, 1])
    if r.size:  # tokens with an exponent: parse it, then keep the mantissa only
        e_r = is_e[r]
        if _count(e_r).max() > 1:
            return False
        qr = _position(e_r)
        ex = _exponent(words, s[r] + qr.astype(np.int64) + 1, length[r] - qr.astype(np.int64) - 1)
        if ex is None:
            return False
        exp[r] = ex
        q[r] = qr
        tok[r, 0] &= _LOW[np.minimum(qr, _U(8))]
        tok[r, 1] &= _LOW[np.maximum(qr, _U(8)) - _U(8)]
    d = b - 48
    is_digit = d < 10
    is_dot = b == 46
    n_digits = _count(is_digit)
    n_dots = _count(is_dot)
    if (
        n_dots.max() > 1
        or n_digits.min() < 1
        or n_digits.max() > _MAX_DIGITS
        or not np.array_equal(n_digits + n_dots, q)  # nothing else in the mantissa
    ):
        return False
    d *= is_digit.view(np.uint8)
    lo, hi = d.view(np.uint64)[:, 0], d.view(np.uint64)[:, 1]
    # squeeze out the dot (at p; p = q without one, which moves only zeros): the digits after it move down a byte
    p = np.where(n_dots > 0, _position(is_dot), q)
    exp -= (q - p - n_dots).astype(np.int64)  # minus the number of fraction digits
    mlo, mhi = _LOW[p], _LOW[np.maximum(p, 8) - 8]
    lo = (lo & mlo) | (((lo >> _U(8)) | (hi << _U(56))) & ~mlo)
    hi = (hi & mhi) | ((hi >> _U(8)) & ~mhi)
    # digits 0..n-1 now sit in bytes 0..n-1 of (lo, hi): right-align them in 8-digit groups
    k = np.minimum(n_digits, _U(8))
    m = _digits8(lo << ((_U(8) - k) << _U(3))).astype(np.float64)
    many = np.flatnonzero(n_digits > 8)
    if many.size:
        extra = n_digits[many] - _U(8)
        m[many] = m[many] * _P10[extra] + _digits8(hi[many] << ((_U(8) - extra) << _U(3)))
    if exp.min() < -_MAX_EXP or exp.max() > _MAX_EXP:
        return False
    np.divide(m, _P10[np.maximum(-exp, 0)], out=out)
    up = np.flatnonzero(exp > 0)
    if up.size:
        out[up] = m[up] * _P10[exp[up]]
    out *= _SIGN[neg.view(np.uint8)]  # -0 stays -0.0, as float("-0") is
    return True


def _position(flags: np.ndarray) -> np.ndarray:
    """Per row of an ``(n, 16)`` bool array with at most one True: its column (0 without one)."""
    n = flags.shape[0]
    if _WEIGHTS.size < 16 * n:
        return _count(flags.view(np.uint8) * _COL)
    return _count((flags.view(np.uint8).reshape(-1) * _WEIGHTS[: 16 * n]).reshape(n, 16))


def _exponent(words: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray | None:
    """The exponents ``buf[start:start + length]`` (after an ``e``): an optional sign, then digits, 4 bytes at most."""
    if length.min() < 1 or length.max() > 4:
        return None
    x = words[start] & _LOW[length]
    first = x & _U(0xFF)
    minus = first == 45
    signed = minus | (first == 43)
    x >>= signed.astype(np.uint64) << _U(3)
    n = length - signed
    if n.min() < 1:
        return None
    d = x.view(np.uint8).reshape(-1, 8) - np.uint8(48)
    is_digit = (d < 10).view(np.uint64)[:, 0]
    if not np.array_equal((is_digit * _ONES) >> _U(56), n):  # every byte a digit
        return None
    digits = d.view(np.uint64)[:, 0] & _LOW[n]
    value = _digits8(digits << ((_U(8) - n.astype(np.uint64)) << _U(3))).astype(np.int64)
    return np.where(minus, -value, value)
