"""BVH (Biovision hierarchy) motion files: a vectorised reader and a writer.

A BVH file has a ``HIERARCHY`` section (a tree of joints, each with a rest ``OFFSET`` from its parent
and a list of ``CHANNELS``) and a ``MOTION`` section (``Frames:``, ``Frame Time:`` and one line of
numbers per frame, one number per channel, in the order the channels are declared).

Conventions of this module (PoseCast works in metres, seconds, y up):

* Rotation channels are intrinsic Euler angles in degrees in the order written: ``Zrotation
  Yrotation Xrotation`` means ``R = Rz @ Ry @ Rx`` (scipy order ``"ZYX"``). Any order, any number of
  rotation channels up to three, interleaved with position channels or not, is accepted.
* Position channels give the joint's translation relative to its parent and *replace* the rest
  ``OFFSET`` on the axes they cover (the MotionBuilder / Blender reading; pybvh reads the root the
  same way). They are allowed on any joint, not only the root.
* Lengths are converted to metres (see `read_bvh` for how units are guessed).
* The CMU "MotionBuilder-friendly" release (cgspeed) writes a synthetic T-pose as frame 0 of every
  file. The reader keeps it, since it is in the file: drop it with ``motion[1:]`` where it matters.

The parser reads the motion block with vectorised numpy (`posecast.io.decimals`: the same values as
``np.loadtxt``, about twice as fast), or, when it is not plain decimals, in a single ``np.loadtxt``
call; Euler angles to matrices and forward kinematics then run on arrays in a structure-of-arrays
layout, a few hundred frames at a time (see `_euler_to_matrix_soa`, `_fk_soa` and `_pose` for the
measured reasons). Nothing is created per frame.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from posecast import skeletons
from posecast.errors import FormatError, NeedsReadingOptions, PosecastError, ValueRangeError, quiet
from posecast.io.decimals import padded, parse_decimals, split_tokens
from posecast.io.registry import Format, formats, register_format
from posecast.kinematics.fk import forward_kinematics
from posecast.motion import MAX_FPS, Motion, check_fps, check_magnitude
from posecast.skeletons.base import Skeleton
from posecast.skeletons.cmu import ASF_UNIT_M

__all__ = ["UNITS", "left_right_pairs", "read_bvh", "write_bvh"]

#: Metres per file unit for the names accepted by ``units=``.
UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": ASF_UNIT_M, "mmd": 0.08}

#: bone names only MikuMikuDance rigs have (their centre, upper and lower body): with them, ``units="auto"`` reads
#: MMD's unit (8 cm, as MMD tools convert it) where the extent would say CMU units (an MMD model is about 20 units)
_MMD_NAMES = ("センター", "上半身", "下半身")

#: ``units="auto"``: upper bounds of the rest-pose extent (file units) for each guess, see `read_bvh`.
_AUTO_UNIT_BOUNDS = ((6.0, "m"), (45.0, "cmu"), (95.0, "inch"), (600.0, "cm"), (math.inf, "mm"))

_END_NAME = re.compile(r"_end[0-9]*$")
_CHANNELS = {f"{a}{k}": (k[0], i) for i, a in enumerate("xyz") for k in ("position", "rotation")}
_AXES = "XYZ"
_MAX_ROT_CHANNELS = 3
_WRITE_DIGITS = "%.12g"
#: Bones whose length in ``positions`` differs from the rest offset by more than this (metres) are
#: written with position channels, so that positions survive a write/read round trip.
_TRANSLATION_TOL_M = 1e-8


# ============================================================================== hierarchy parsing
@dataclass
class _Node:
    name: str
    parent: int  # node index, -1 for the root
    line: int
    is_end: bool = False
    offset: tuple[float, float, float] | None = None
    channels: list[tuple[str, int]] | None = None  # ("p" | "r", axis 0..2) in file order
    first_column: int = 0
    children: list[int] = field(default_factory=list)


class _Tokens:
    """Whitespace-separated tokens of the hierarchy, each with its 1-based line number."""

    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, int]] = [
            (tok, n) for n, line in enumerate(text.split("\n"), 1) for tok in line.split()
        ]
        self.pos = 0
        self.last_line = text.count("\n") + 1

    def peek(self) -> tuple[str, int] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def next(self, what: str, path: Path | None) -> tuple[str, int]:
        item = self.peek()
        if item is None:
            raise FormatError(f"hierarchy ends before {what} (line {self.last_line}; truncated file?)", path)
        self.pos += 1
        return item

    def words_to_brace(self, line: int) -> tuple[list[str], bool]:
        """The tokens left on ``line`` up to an opening ``{`` (consumed too; what follows it on the line is left
        for the caller), and whether the ``{`` was there: ``JOINT Left Up Leg {``, ``End Site { OFFSET 0 0 1 }``."""
        out = []
        while self.pos < len(self.items) and self.items[self.pos][1] == line:
            tok = self.items[self.pos][0]
            self.pos += 1
            if tok == "{":
                return out, True
            out.append(tok)
        return out, False


def _number(tok: str, line: int, what: str, path: Path | None) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise FormatError(f"line {line}: {what} {tok!r} is not a number", path) from None
    if not math.isfinite(value):
        raise FormatError(f"line {line}: {what} is {tok!r}; it must be finite", path)
    return value


def _read_offset(toks: _Tokens, line: int, node: _Node, path: Path | None) -> None:
    if node.offset is not None:
        raise FormatError(f"line {line}: second OFFSET for joint {node.name!r}", path)
    values = [_number(toks.next("the OFFSET values", path)[0], line, "OFFSET value", path) for _ in range(3)]
    node.offset = (values[0], values[1], values[2])


def _read_channels(toks: _Tokens, line: int, node: _Node, path: Path | None) -> None:
    if node.channels is not None:
        raise FormatError(f"line {line}: second CHANNELS line for joint {node.name!r}", path)
    tok, _ = toks.next("the number of channels", path)
    try:
        n = int(tok)
    except ValueError:
        raise FormatError(f"line {line}: channel count {tok!r} is not an integer", path) from None
    if not 0 <= n <= 6:
        raise FormatError(f"line {line}: {n} channels on joint {node.name!r}; BVH allows 0 to 6", path)
    chans: list[tuple[str, int]] = []
    for _ in range(n):
        tok, tline = toks.next(f"the {n} channel names of joint {node.name!r}", path)
        key = _CHANNELS.get(tok.lower())
        if key is None:
            raise FormatError(
                f"line {tline}: unknown channel {tok!r} on joint {node.name!r} "
                "(expected Xposition, Yposition, Zposition, Xrotation, Yrotation or Zrotation)",
                path,
            )
        chans.append(key)
    pos_axes = [a for k, a in chans if k == "p"]
    if len(set(pos_axes)) != len(pos_axes):
        raise FormatError(f"line {line}: joint {node.name!r} repeats a position channel", path)
    if len(chans) - len(pos_axes) > _MAX_ROT_CHANNELS:
        raise FormatError(f"line {line}: joint {node.name!r} has more than 3 rotation channels", path)
    node.channels = chans


def _read_end_site(toks: _Tokens, owner: str, parent: int, line: int, path: Path | None) -> _Node:
    """The body of an End Site after its ``{``, up to and including its ``}``: an OFFSET and, as some exporters
    write, an empty ``CHANNELS 0`` line (an End Site has no channels)."""
    end = _Node(owner, parent, line, is_end=True, channels=[])
    while True:
        tok, tline = toks.next(f"'}}' closing the End Site of {owner!r}", path)
        key = tok.upper()
        if key == "OFFSET":
            _read_offset(toks, tline, end, path)
        elif key == "CHANNELS":
            ntok, _ = toks.next("the number of channels", path)
            if ntok != "0":
                raise FormatError(
                    f"line {tline}: the End Site of {owner!r} declares {ntok} channels; an End Site has none", path
                )
        elif tok == "}":
            if end.offset is None:
                raise FormatError(f"line {tline}: the End Site of {owner!r} has no OFFSET", path)
            return end
        else:
            raise FormatError(f"line {tline}: expected OFFSET in the End Site of {owner!r}, not {tok!r}", path)


def _parse_hierarchy(text: str, path: Path | None) -> list[_Node]:
    """Nodes of the hierarchy in file (depth-first) order, End Sites included."""
    toks = _Tokens(text)
    tok, line = toks.next("HIERARCHY", path)
    if tok.upper() != "HIERARCHY":
        raise FormatError(f"line {line}: expected HIERARCHY, found {tok!r}; not a BVH file?", path)
    tok, line = toks.next("ROOT", path)
    if tok.upper() != "ROOT":
        raise FormatError(f"line {line}: expected ROOT after HIERARCHY, found {tok!r}", path)
    nodes: list[_Node] = []
    stack: list[int] = []  # open ROOT/JOINT blocks

    def open_joint(kind: str, line: int, parent: int) -> None:
        words, brace = toks.words_to_brace(line)
        name = " ".join(words)
        if not name:
            raise FormatError(f"line {line}: {kind} without a name", path)
        if not brace:
            btok, bline = toks.next(f"'{{' of joint {name!r}", path)
            if btok != "{":
                raise FormatError(f"line {bline}: expected '{{' after {kind} {name}, found {btok!r}", path)
        nodes.append(_Node(name, parent, line))
        if parent >= 0:
            nodes[parent].children.append(len(nodes) - 1)
        stack.append(len(nodes) - 1)

    def check_ready(node: _Node, line: int, what: str) -> None:
        if node.offset is None:
            raise FormatError(f"line {line}: joint {node.name!r} (line {node.line}) has no OFFSET before {what}", path)
        if node.channels is None:
            raise FormatError(
                f"line {line}: joint {node.name!r} (line {node.line}) has no CHANNELS line before {what}", path
            )

    open_joint("ROOT", line, -1)
    while stack:
        node = nodes[stack[-1]]
        item = toks.peek()
        if item is None:
            raise FormatError(
                f"unbalanced braces: the block of joint {node.name!r} (line {node.line}) is not closed before "
                f"the MOTION section ({len(stack)} block(s) left open)",
                path,
            )
        tok, line = toks.next("", path)
        key = tok.upper()
        if key == "OFFSET":
            _read_offset(toks, line, node, path)
        elif key == "CHANNELS":
            _read_channels(toks, line, node, path)
        elif key == "JOINT":
            check_ready(node, line, "its child joint")
            open_joint("JOINT", line, stack[-1])
        elif key == "END":
            check_ready(node, line, "its End Site")
            _, brace = toks.words_to_brace(line)  # "Site" (and a name some exporters add), then maybe "{"
            if not brace:
                btok, bline = toks.next("'{' of an End Site", path)
                if btok != "{":
                    raise FormatError(f"line {bline}: expected '{{' after End Site, found {btok!r}", path)
            end = _read_end_site(toks, node.name, stack[-1], line, path)
            nodes.append(end)
            node.children.append(len(nodes) - 1)
        elif tok == "}":
            check_ready(node, line, "'}'")
            stack.pop()
        elif tok == "{":
            raise FormatError(f"line {line}: unbalanced braces: unexpected '{{' inside joint {node.name!r}", path)
        else:
            raise FormatError(
                f"line {line}: unexpected {tok!r} in joint {node.name!r} (expected OFFSET, CHANNELS, JOINT, "
                "End Site or '}')",
                path,
            )
    item = toks.peek()
    if item is not None:
        tok, line = item
        if tok.upper() == "ROOT":
            raise FormatError(f"line {line}: a second ROOT; files with several hierarchies are not supported", path)
        if tok == "}":
            raise FormatError(f"line {line}: unbalanced braces: '}}' after the ROOT block closes nothing", path)
        raise FormatError(f"line {line}: unexpected {tok!r} after the hierarchy (expected MOTION)", path)
    seen: dict[str, int] = {}
    for n in nodes:
        if not n.is_end:
            if n.name in seen:
                first = seen[n.name]
                raise FormatError(f"line {n.line}: joint name {n.name!r} is used twice (first on line {first})", path)
            seen[n.name] = n.line
    column = 0
    for n in nodes:
        n.first_column = column
        column += len(n.channels or ())
    return nodes


# ================================================================================ motion section
_MOTION_RE = re.compile(rb"^[ \t]*MOTION[ \t]*$", re.MULTILINE | re.IGNORECASE)
_FRAMES_RE = re.compile(r"^\s*Frames\s*:\s*(\S*)\s*$", re.IGNORECASE)
_FRAME_TIME_RE = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S*)\s*$", re.IGNORECASE)


def _snap_frame_time(literal: str, value: float) -> tuple[float, bool]:
    """``(fps, snapped)``: the integer rate ``N`` when the literal looks like a rounded ``1/N``, else
    ``1 / value``.

    Rule: the written value must have at least 4 significant digits (``.0083333``, ``0.033333``) and
    ``1/N`` must round to it at the number of decimals written (or lie within 1e-6 relative).
    Coarser literals (``0.0167``) are taken as written: with 3 digits a rate cannot be told from its
    neighbours.
    """
    rate = round(1.0 / value)
    if rate < 1 or rate > MAX_FPS:
        return 1.0 / value, False
    snapped = 1.0 / rate
    mantissa = literal.lower().split("e")[0].lstrip("+-")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    significant = len(mantissa.replace(".", "").lstrip("0"))
    exponent = int(literal.lower().split("e")[1]) if "e" in literal.lower() else 0
    half_ulp = 0.5 * 10.0 ** (exponent - decimals)
    close = abs(snapped - value) <= 1e-6 * value or (significant >= 4 and abs(snapped - value) <= half_ulp * 1.000001)
    return (float(rate), snapped != value) if close else (1.0 / value, False)


#: seconds: the longest ``Frame Time`` read as a frame period. Motion capture records at 24 frames/s or more
#: (stop-motion keyframes at a few), so a period over a second -- under one frame per second -- is not one; in
#: practice it is the rate written where the period belongs (``Frame Time: 120``), which read as a period makes a
#: 3 s take last 11 hours and every step between frames 120 times too slow.
MAX_FRAME_TIME_S = 1.0
_FPS_HINT = "pass fps= (CLI: --fps) to read the file at its real rate"


def _frame_header(
    text: bytes, start: int, line: int, path: Path, need_time: bool = True
) -> tuple[int, int, float | None, str, int, int]:
    """Parse ``Frames:`` and ``Frame Time:`` after the MOTION line.

    With ``need_time`` False (the caller has the rate from ``fps=``) the Frame Time line may be missing and its
    value is not checked (``frame_time`` is then the value when it is a positive number, else None).

    Returns ``(frames, frames_line, frame_time, frame_time_literal, data_start, data_first_line)``.
    """
    found: dict[str, tuple[str, int]] = {}
    pos = start
    while len(found) < 2:
        if pos >= len(text):
            if not need_time and "Frames" in found:
                break
            missing = " and ".join(k for k in ("'Frames:'", "'Frame Time:'") if k.strip("':") not in found)
            raise FormatError(f"the MOTION section (line {line}) ends before {missing} (truncated file?)", path)
        end = text.find(b"\n", pos)
        end = len(text) if end < 0 else end
        raw = text[pos:end].decode("latin-1")
        if not raw.strip():
            line += 1
            pos = end + 1
            continue
        m = _FRAMES_RE.match(raw)
        key = "Frames" if m else None
        if m is None:
            m = _FRAME_TIME_RE.match(raw)
            key = "Frame Time" if m else None
        if (m is None or key is None) and not need_time and "Frames" in found:
            break  # no Frame Time line, and the rate is given: the frames start here
        line += 1
        pos = end + 1
        if m is None or key is None or key in found:
            wanted = ("'Frames: N'", "'Frame Time: seconds'")
            want = " and ".join(k for k in wanted if k[1:-1].split(":")[0] not in found)
            hint = f" ({_FPS_HINT} when the file has no Frame Time)" if "Frame Time" in want else ""
            error = NeedsReadingOptions if hint else FormatError
            raise error(f"line {line}: expected {want} after MOTION, found {raw.strip()[:60]!r}{hint}", path)
        found[key] = (m.group(1), line)
    frames_tok, frames_line = found["Frames"]
    ft_tok, ft_line = found.get("Frame Time", ("", 0))
    try:  # (Python's int and float take "1_0" and non-ASCII digits; the frame rows' parser does not)
        if "_" in frames_tok or not frames_tok.isascii():
            raise ValueError(frames_tok)
        frames = int(frames_tok)
    except ValueError:
        raise FormatError(f"line {frames_line}: frame count {frames_tok!r} is not an integer", path) from None
    if frames <= 0:
        raise FormatError(f"line {frames_line}: the file declares {frames} frames; a motion needs at least one", path)
    try:
        if "_" in ft_tok or not ft_tok.isascii():
            raise ValueError(ft_tok)
        frame_time: float | None = float(ft_tok)
    except ValueError:
        if need_time:
            raise NeedsReadingOptions(
                f"line {ft_line}: frame time {ft_tok!r} is not a number; {_FPS_HINT}", path
            ) from None
        frame_time = None
    if frame_time is not None and not (math.isfinite(frame_time) and frame_time > 0):
        if need_time:
            raise NeedsReadingOptions(
                f"line {ft_line}: frame time {ft_tok!r} must be a positive number of seconds; {_FPS_HINT}", path
            )
        frame_time = None
    if need_time and frame_time is not None:
        if frame_time > MAX_FRAME_TIME_S:
            raise NeedsReadingOptions(
                f"line {ft_line}: Frame Time {ft_tok} s is under one frame per second, which is not motion capture: "
                f"did the exporter write the rate instead of the frame period (1/{ft_tok} = {1.0 / frame_time:.6g} s)?"
                f" {_FPS_HINT}",
                path,
            )
        if 1.0 / frame_time > MAX_FPS:
            raise NeedsReadingOptions(
                f"line {ft_line}: frame time {ft_tok!r} s means more than {MAX_FPS:g} frames/s; {_FPS_HINT}", path
            )
    return frames, frames_line, frame_time, ft_tok, pos, line + 1


_DECIMAL_RE = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
_NON_FINITE = ("nan", "inf", "infinity")
_FIELD_SEPARATOR = re.compile(r"[ \t]+")


def _diagnose_frames(data: bytes, channels: int, frames: int, frames_line: int, first_line: int, path: Path) -> None:
    """Slow, line-by-line check of the frame lines that raises a `FormatError` naming the line.

    Only called when the fast path found a problem (so its cost does not matter).
    """
    lines = data.decode("latin-1").split("\n")
    nonblank = [i for i, raw in enumerate(lines) if raw.strip(" \t")]
    for count, i in enumerate(nonblank):
        lineno, frame = first_line + i, count + 1
        values = [v for v in _FIELD_SEPARATOR.split(lines[i]) if v]  # numpy splits on spaces and tabs only
        if len(values) != channels:
            if i == nonblank[-1] and len(values) < channels:
                raise FormatError(
                    f"line {lineno}: frame {frame} has only {len(values)} of the {channels} values the hierarchy "
                    f"declares; the file looks truncated ({count} complete frames of {frames} declared by 'Frames:' "
                    f"on line {frames_line})",
                    path,
                )
            raise FormatError(
                f"line {lineno}: frame {frame} has {len(values)} values but the hierarchy has {channels} channels",
                path,
            )
        for k, tok in enumerate(values, 1):
            word = tok.strip()
            if _DECIMAL_RE.match(word) is None and word.lower().lstrip("+-") not in _NON_FINITE:
                raise FormatError(f"line {lineno}: frame {frame}, value {k}: {tok!r} is not a number", path)
            value = float(word)
            if not math.isfinite(value):
                raise FormatError(f"line {lineno}: frame {frame}, value {k} is {tok!r}; values must be finite", path)
    found = len(nonblank)
    if found < frames:
        raise FormatError(
            f"the file ends after {found} frames but 'Frames:' (line {frames_line}) declares {frames} "
            "(truncated file?)",
            path,
        )
    if found > frames:
        raise FormatError(
            f"the file has {found} frame lines but 'Frames:' (line {frames_line}) declares {frames}", path
        )
    # reached only if numpy rejects something the checks above accept
    raise FormatError(f"the frame lines (from line {first_line}) cannot be read as numbers", path)


def _fast_frames(data: bytes, channels: int, frames: int) -> np.ndarray | None:
    """``(frames, channels)`` values by `posecast.io.decimals`, or ``None`` unless the block is plain: exactly
    ``frames`` lines of ``channels`` plain decimals separated by blanks (LF or CRLF line ends, no tabs)."""
    body = data.rstrip(b" \r\n")
    arr = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    if newlines.size != frames - 1:
        return None
    if b"\r" in body:
        cr = np.flatnonzero(arr == 13)
        if not (arr[cr + 1] == 10).all():  # a CR must end a line (numpy also ends a line at a lone CR)
            return None
    if np.count_nonzero(arr < 32) != newlines.size + body.count(b"\r"):  # tabs and other controls
        return None
    starts, ends = split_tokens(arr)
    if starts.size != frames * channels or not np.array_equal(
        np.searchsorted(starts, newlines), channels * np.arange(1, frames)
    ):
        return None
    values = parse_decimals(padded(arr), starts, ends)
    return None if values is None else values.reshape(frames, channels)


def _read_frames(data: bytes, channels: int, frames: int, frames_line: int, first_line: int, path: Path) -> np.ndarray:
    """``(frames, channels)`` float64 values of the motion block.

    A block of plain decimals (every CMU file) is parsed by `posecast.io.decimals` (vectorised, the
    same float64 values as ``np.loadtxt``); anything else by one ``np.loadtxt`` call (numpy >= 1.23 has
    a C parser), and a block that fails either is explained, with its line, by `_diagnose_frames`.
    Measured on AMD EPYC pinned to one core, all 82 CMU files (81.5 MB of values): ``np.loadtxt``
    2.10 s, ``float`` over ``bytes.split()`` 2.82 s, `posecast.io.decimals` 0.98 s.
    """
    if re.search(rb"\S", data) is None:
        raise FormatError(
            f"no frame lines after 'Frame Time:' but 'Frames:' (line {frames_line}) declares {frames} "
            "(truncated file?)",
            path,
        )
    arr = _fast_frames(data, channels, frames)
    if arr is not None:
        return arr
    try:
        with quiet(wait=False):
            arr = np.loadtxt(io.BytesIO(data), dtype=np.float64, comments=None, ndmin=2)
    except Exception:  # any failure is explained, with its line, by the slow check below
        arr = None
    if arr is None or arr.shape != (frames, channels) or not np.isfinite(arr).all():
        _diagnose_frames(data, channels, frames, frames_line, first_line, path)
    assert arr is not None
    return arr


# ============================================================================== vectorised maths
_ONE = 1.0  # marks a matrix entry known to be exactly 1 (``None`` marks an exact 0)


def _scaled(x: np.ndarray | float | None, f: np.ndarray) -> np.ndarray | None:
    if x is None:
        return None
    return f if x is _ONE else x * f


def _plus(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | float | None:
    if a is None:
        return b
    return a if b is None else a + b


def _euler_to_matrix_soa(angles_deg: np.ndarray, axes: tuple[int, ...], out: np.ndarray) -> None:
    """Rotation matrices ``R = R_a0(t0) @ R_a1(t1) @ ...`` (intrinsic, as BVH channels are listed).

    Args:
        angles_deg: ``(m, k, T)`` angles in degrees, one row per channel in file order.
        axes: ``m`` axis indices (0 = x, 1 = y, 2 = z), any sequence of 1 to 3 axes.
        out: ``(3, 3, k, T)`` output, ``out[i, j]`` is the matrix entry ``(i, j)``.

    Hand-vectorised rather than ``scipy.spatial.transform.Rotation.from_euler`` because on the 85,312
    rotations of ``01_01.bvh`` scipy 1.17 took 100 ms of CPU and this 3.1 ms (in `_pose`'s blocks;
    9.2 ms on whole arrays), measured on the 2-core dev machine. Starting from the identity it
    right-multiplies by one elementary rotation per channel, which mixes two columns: for axis
    ``a`` with the other two axes ``(i, j)`` in cyclic order, ``col_i <- col_i cos t + col_j sin t``
    and ``col_j <- col_j cos t - col_i sin t``.
    Entries known to be 0 or 1 are tracked symbolically, so no work is spent on them (this is
    the closed form of each order, derived on the fly). Checked against scipy in the tests.
    """
    # cos and sin from t = tan(angle / 2): numpy 1.26 computes float64 tan with SIMD but sin and cos
    # with scalar code; on 256k angles tan took 0.4 ms where cos + sin took 6.7 ms. Accuracy: a few
    # ulp (checked against scipy in the tests); at 180 degrees t is 1.6e16 and cos = -1, sin ~ 1e-16.
    t = np.tan(angles_deg * (np.pi / 360.0))
    t2 = t * t
    inv = 1.0 / (1.0 + t2)
    cos = (1.0 - t2) * inv
    sin = (t + t) * inv
    # cols[col][row]: an array, _ONE or None
    cols: list[list[Any]] = [[_ONE if r == c else None for r in range(3)] for c in range(3)]
    for n, a in enumerate(axes):
        i, j = (a + 1) % 3, (a + 2) % 3
        c, s = cos[n], sin[n]
        ns = -s
        ci, cj = cols[i], cols[j]
        cols[i] = [_plus(_scaled(ci[r], c), _scaled(cj[r], s)) for r in range(3)]
        cols[j] = [_plus(_scaled(cj[r], c), _scaled(ci[r], ns)) for r in range(3)]
    for col in range(3):
        for row in range(3):
            v = cols[col][row]
            out[row, col] = 0.0 if v is None else v


def _fk_soa(
    rot: np.ndarray,
    local_translation: np.ndarray,
    root: np.ndarray,
    levels: list[tuple[int, int, int, np.ndarray]],
) -> np.ndarray:
    """Forward kinematics in structure-of-arrays layout, joints in level order.

    Args:
        rot: ``(3, 3, J, T)`` local rotations (``rot[i, j]`` = entry ``(i, j)``), joints ordered by
            depth and, within a depth, parents of other joints first.
        local_translation: ``(3, J, 1)`` rest offsets or ``(3, J, T)`` per-frame translations.
        root: ``(3, T)`` root positions.
        levels: per depth ``(start, stop_of_non_leaves, stop, parent_indices)``.

    Returns:
        ``(3, J, T)`` global positions.

    Same maths as `posecast.kinematics.forward_kinematics` (also level-batched), but each level's
    3x3 products are one ``einsum`` over contiguous ``(k, T)`` planes instead of ``np.matmul`` on
    ``(..., 3, 3)`` stacks. FK of ``01_01.bvh`` (31 joints, 2752 frames, in `_pose`'s blocks) took
    2.9 ms of CPU this way, 5.3 ms with the products written as elementwise sums, and 23.9 ms with
    ``forward_kinematics``. Global rotations of leaves are not needed for positions and are skipped.
    """
    _, _, n_joints, n_frames = rot.shape
    glob = np.empty_like(rot)
    pos = np.empty((3, n_joints, n_frames))
    glob[:, :, 0] = rot[:, :, 0]
    pos[:, 0] = root
    for start, stop_inner, stop, parents in levels:
        gp = glob[:, :, parents]  # (3, 3, k, T)
        lt = local_translation[:, start:stop]
        if lt.shape[-1] == 1:
            delta = np.einsum("ijkt,jk->ikt", gp, lt[..., 0])
        else:
            delta = np.einsum("ijkt,jkt->ikt", gp, lt)
        pos[:, start:stop] = pos[:, parents] + delta
        if stop_inner > start:
            n = stop_inner - start
            np.einsum("ijkt,jlkt->ilkt", gp[:, :, :n], rot[:, :, start:stop_inner], out=glob[:, :, start:stop_inner])
    return pos


def _level_order(parents: list[int]) -> tuple[np.ndarray, list[tuple[int, int, int, np.ndarray]]]:
    """Joints sorted by depth, non-leaves first within a depth: ``(order, levels)`` for `_fk_soa`."""
    n = len(parents)
    depth = [0] * n
    has_child = [False] * n
    for j in range(1, n):
        depth[j] = depth[parents[j]] + 1
        has_child[parents[j]] = True
    order = sorted(range(n), key=lambda j: (depth[j], not has_child[j], j))
    new_of = np.empty(n, dtype=np.int64)
    new_of[order] = np.arange(n)
    levels = []
    start = 1
    while start < n:
        d = depth[order[start]]
        stop = start
        while stop < n and depth[order[stop]] == d:
            stop += 1
        inner = start
        while inner < stop and has_child[order[inner]]:
            inner += 1
        ps = np.array([new_of[parents[order[q]]] for q in range(start, stop)], dtype=np.int64)
        levels.append((start, inner, stop, ps))
        start = stop
    return np.asarray(order, dtype=np.int64), levels


@dataclass
class _Plan:
    """Where each joint's channels are in a frame line, with joints in level order (see `_fk_soa`)."""

    order: np.ndarray  # (J,) output joint index of each level-order slot
    back: np.ndarray  # (J,) level-order slot of each output joint
    levels: list[tuple[int, int, int, np.ndarray]]
    rotation_groups: list[tuple[tuple[int, ...], slice | np.ndarray, np.ndarray]]  # (axes, slots, columns (m, k))
    no_rotation: list[int]  # slots with identity rotation
    root_columns: list[tuple[int, int]]  # (axis, column) of root position channels
    translation_columns: list[tuple[int, int, int]]  # (slot, axis, column) of other position channels
    root_offset: np.ndarray  # (3,) file units


def _plan(nodes: list[_Node], keep: list[int], parents: list[int]) -> _Plan:
    order, levels = _level_order(parents)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    groups: dict[tuple[int, ...], tuple[list[int], list[list[int]]]] = {}
    no_rotation: list[int] = []
    root_columns: list[tuple[int, int]] = []
    translation_columns: list[tuple[int, int, int]] = []
    for q, j in enumerate(order.tolist()):
        node = nodes[keep[j]]
        chans = node.channels or []
        for c, (kind, axis) in enumerate(chans):
            if kind == "p":
                if j == 0:
                    root_columns.append((axis, node.first_column + c))
                else:
                    translation_columns.append((q, axis, node.first_column + c))
        rot_axes = tuple(a for kind, a in chans if kind == "r")
        if rot_axes:
            slots, cols = groups.setdefault(rot_axes, ([], []))
            slots.append(q)
            cols.append([node.first_column + c for c, (kind, _) in enumerate(chans) if kind == "r"])
        else:
            no_rotation.append(q)
    rotation_groups: list[tuple[tuple[int, ...], slice | np.ndarray, np.ndarray]] = []
    for axes, (slots, cols) in groups.items():
        contiguous = slots == list(range(slots[0], slots[0] + len(slots)))
        where = slice(slots[0], slots[0] + len(slots)) if contiguous else np.asarray(slots, dtype=np.int64)
        rotation_groups.append((axes, where, np.asarray(cols, dtype=np.int64).T))
    root_offset = np.asarray(nodes[keep[0]].offset, dtype=np.float64)
    return _Plan(order, back, levels, rotation_groups, no_rotation, root_columns, translation_columns, root_offset)


#: Joints x frames per block in `_pose`. Working on blocks of frames keeps the temporaries of the
#: Euler and FK steps in cache and avoids fresh pages for every large temporary: on ``01_01.bvh``
#: (31 joints, 2752 frames) `_pose` took about 30 ms of CPU on whole arrays, 10-11 ms in blocks of
#: 256 or 512 frames, 14 ms in blocks of 128 and 17-19 ms in blocks of 1024.
_BLOCK_ELEMENTS = 16384


def _pose(
    data: np.ndarray, plan: _Plan, offsets: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(T, J, 3)``, local rotations ``(T, J, 3, 3)`` and root positions ``(T, 3)``.

    Args:
        data: ``(T, C)`` frame values (file units and degrees).
        plan: channel layout from `_plan`.
        offsets: ``(J, 3)`` rest offsets in metres, output joint order.
        scale: metres per file unit.
    """
    n_frames, n_joints = data.shape[0], len(plan.order)
    positions = np.empty((n_frames, n_joints, 3))
    rotations = np.empty((n_frames, n_joints, 3, 3))
    root_all = np.empty((n_frames, 3))
    offsets_level = np.ascontiguousarray(offsets[plan.order].T)  # (3, J)
    step = max(64, _BLOCK_ELEMENTS // n_joints)
    for t0 in range(0, n_frames, step):
        t1 = min(t0 + step, n_frames)
        block = np.ascontiguousarray(data[t0:t1].T)  # (C, Tb): one row per channel
        tb = t1 - t0
        rot = np.empty((3, 3, n_joints, tb))
        for axes, where, cols in plan.rotation_groups:
            if isinstance(where, slice):
                _euler_to_matrix_soa(block[cols], axes, rot[:, :, where])
            else:
                tmp = np.empty((3, 3, len(where), tb))
                _euler_to_matrix_soa(block[cols], axes, tmp)
                rot[:, :, where] = tmp
        if plan.no_rotation:
            rot[:, :, plan.no_rotation] = np.eye(3)[:, :, None, None]
        root = np.empty((3, tb))
        root[:] = (plan.root_offset * scale)[:, None]
        for axis, col in plan.root_columns:
            root[axis] = block[col] * scale
        if plan.translation_columns:
            local = np.repeat(offsets_level[:, :, None], tb, axis=2)
            for q, axis, col in plan.translation_columns:
                local[axis, q] = block[col] * scale
        else:
            local = offsets_level[:, :, None]
        pos = _fk_soa(rot, local, root, plan.levels)
        positions[t0:t1] = pos[:, plan.back].transpose(2, 1, 0)
        rotations[t0:t1] = rot[:, :, plan.back].transpose(3, 2, 0, 1)
        root_all[t0:t1] = root.T
    return positions, rotations, root_all


# =================================================================================== skeletons
_SEPARATORS = " _.:-|"


def _twin_candidates(name: str) -> list[str]:
    """Names the right-hand twin of ``name`` could have, if ``name`` is a left joint."""
    out = []
    for left, right in (("Left", "Right"), ("left", "right"), ("LEFT", "RIGHT")):
        k = name.find(left)
        while k >= 0:
            prev = name[k - 1] if k > 0 else ""
            boundary = not prev.isalpha() or (left[0].isupper() and prev.islower() and left != "LEFT")
            if boundary:
                out.append(name[:k] + right + name[k + len(left) :])
            k = name.find(left, k + 1)
    for k, ch in enumerate(name):
        if ch not in "Ll":
            continue
        before_ok = k == 0 or name[k - 1] in _SEPARATORS
        nxt = name[k + 1] if k + 1 < len(name) else ""
        after_sep = nxt == "" or nxt in _SEPARATORS
        camel = nxt.isupper() or nxt.isdigit()
        if before_ok and (after_sep or camel):  # "L_Hip", "Hip_L", "hip.l", "LHipJoint", "lShldr", "Bip01 L Thigh"
            out.append(name[:k] + ("R" if ch == "L" else "r") + name[k + 1 :])
    return out


def left_right_pairs(names: tuple[str, ...] | list[str]) -> tuple[tuple[int, int], ...]:
    """``(left, right)`` index pairs of mirrored joints, found from the names.

    Recognised: ``Left``/``Right`` anywhere at a word or camel-case boundary (``LeftArm``,
    ``mixamorig:LeftArm``, ``left_arm``, ``HandLeft``), a lone ``L``/``l`` between separators
    (``L_Hip``, ``hip_l``, ``arm.L``, ``Bip01 L Thigh``) and a ``L``/``l`` prefix before a capital
    (``LHipJoint``, ``lShldr``). On the CMU names it gives the pairs of ``skeletons.cmu.cmu_left_right``.
    Then, among the joints still unpaired, the ASF habit of a lower-case ``l``/``r`` prefix (``lfemur`` /
    ``rfemur``, ``lhipjoint``, ``lthumb``: QA, an HDM05 take written as BVH and read back had no pairs, so
    `posecast.motion.Motion.mirror` reflected it without swapping its sides).
    """
    index = {n: i for i, n in enumerate(names)}
    used: set[int] = set()
    pairs = []
    for i, n in enumerate(names):
        if i in used:
            continue
        for twin in _twin_candidates(n):
            t = index.get(twin)
            if t is not None and t != i and t not in used:
                pairs.append((i, t))
                used.update((i, t))
                break
    for i, n in enumerate(names):  # lower-case l/r prefixes, both present (``lfemur``/``rfemur``)
        if i in used or len(n) < 2 or n[0] != "l" or not n[1].islower():
            continue
        t = index.get("r" + n[1:])
        if t is not None and t not in used and t != i:
            pairs.append((i, t))
            used.update((i, t))
    return tuple(pairs)


@lru_cache(maxsize=32)
def _registered_by_names(names: tuple[str, ...], parents: tuple[int, ...]) -> tuple[Skeleton, np.ndarray] | None:
    """The registered skeleton (other than the CMU ones `_registered_layout` matches as they are) with exactly these
    joint names and parents by name, in any order, and ``order``: its joint ``i`` is the file's joint ``order[i]``;
    None when there is none. Why: `write_bvh` writes joints depth-first, so a motion on ``smpl-24`` came back as
    ``bvh-<file>`` in another joint order (QA: indexed by the registered order, 1.5 m off)."""
    index = {n: i for i, n in enumerate(names)}
    for name in skeletons.names():
        skel = skeletons.get(name)
        if name in ("cmu-bvh-31", "cmu-mocap-38") or skel.offsets is None or set(skel.joint_names) != set(index):
            continue
        file_parent = {names[i]: (names[q] if q >= 0 else None) for i, q in enumerate(parents)}
        own = skel.joint_names
        own_parent = {n: (own[q] if q >= 0 else None) for n, q in zip(own, skel.parents, strict=True)}
        if len(index) == len(names) and file_parent == own_parent:
            return skel, np.array([index[n] for n in skel.joint_names])
    return None


def _registered_layout(names: tuple[str, ...], parents: tuple[int, ...]) -> Skeleton | None:
    for reg in ("cmu-bvh-31", "cmu-mocap-38"):
        skel = skeletons.get(reg)
        if skel.joint_names == names and skel.parents == parents:
            return skel
    return None


# ======================================================================================== units
def metres_per_unit(units: str | float, where: str | Path | None = None) -> tuple[str, float]:
    """``units`` (a name of `UNITS` or metres per unit) → ``(name, metres per unit)``; a `ValueRangeError` else."""
    if isinstance(units, bool) or not isinstance(units, str | numbers.Real):
        raise ValueRangeError(f"units must be a name or a number of metres per unit, not {units!r}", where)
    if isinstance(units, numbers.Real):
        value = float(units)
        if not math.isfinite(value) or value <= 0:
            raise ValueRangeError(f"units {units!r}: metres per unit must be a positive number", where)
        return "custom", value
    name = units.strip().lower()  # "CM" is cm
    if name not in UNITS:
        raise ValueRangeError(
            f"unknown units {units!r}; use {', '.join(UNITS)} or a number of metres per unit (BVH files also take "
            "auto: the unit guessed from the rest pose's size)",
            where,
        )
    return name, UNITS[name]


def _guess_units(extent: float) -> str:
    for bound, name in _AUTO_UNIT_BOUNDS:
        if extent < bound:
            return name
    return "mm"  # pragma: no cover (last bound is inf)


# ======================================================================================== reader
@dataclass(frozen=True)
class _Layout:
    """Everything that depends only on the hierarchy text (cached: files of one actor share it)."""

    names: tuple[str, ...]  # output joints (End Sites included when asked)
    parents: tuple[int, ...]
    offsets: np.ndarray  # (J, 3) file units, read-only
    plan: _Plan
    n_channels: int
    rest_extent: float  # largest side of the rest pose's bounding box, End Sites included, file units
    translated: tuple[str, ...]  # non-root joints with position channels
    end_site_offsets: dict[str, tuple[tuple[float, float, float], ...]]  # per joint name, file units
    left_right: tuple[tuple[int, int], ...]
    registered: Skeleton | None  # the registered skeleton with this exact layout, if any
    rotation_order: str | None  # the Euler order every joint's rotation channels share ("ZXY"), else None
    joint_channels: tuple[tuple[str, tuple[str, ...]], ...]  # (name, channel names in file order) per joint


@lru_cache(maxsize=32)
def _layout(header: str, end_sites: bool) -> _Layout:
    """The joint layout and channel plan of a hierarchy (errors carry no path: the caller adds it)."""
    nodes = _parse_hierarchy(header, None)
    n_channels = sum(len(n.channels or ()) for n in nodes)
    if n_channels == 0:
        raise FormatError("the hierarchy declares no channels, so frames cannot be read")
    keep = [i for i, n in enumerate(nodes) if end_sites or not n.is_end]
    out_of = {node: k for k, node in enumerate(keep)}
    taken = {n.name for n in nodes if not n.is_end}
    names: list[str] = []
    for i in keep:
        n = nodes[i]
        name = n.name
        if n.is_end:
            base, name, extra = f"{n.name}_end", f"{n.name}_end", 1
            while name in taken:
                name, extra = f"{base}{extra}", extra + 1
            taken.add(name)
        names.append(name)
    parents = [-1 if nodes[i].parent < 0 else out_of[nodes[i].parent] for i in keep]
    offsets = np.array([nodes[i].offset for i in keep], dtype=np.float64).reshape(len(keep), 3)
    offsets.setflags(write=False)
    rest = np.zeros((len(nodes), 3))
    for i, n in enumerate(nodes[1:], 1):
        rest[i] = rest[n.parent] + np.asarray(n.offset)
    ends: dict[str, list[tuple[float, float, float]]] = {}
    for n in nodes:
        if n.is_end and n.offset is not None:
            ends.setdefault(nodes[n.parent].name, []).append(n.offset)
    names_t, parents_t = tuple(names), tuple(parents)
    return _Layout(
        names=names_t,
        parents=parents_t,
        offsets=offsets,
        plan=_plan(nodes, keep, parents),
        n_channels=n_channels,
        rest_extent=float((rest.max(axis=0) - rest.min(axis=0)).max()),
        translated=tuple(n.name for n in nodes[1:] if any(k == "p" for k, _ in n.channels or ())),
        end_site_offsets={k: tuple(v) for k, v in ends.items()},
        left_right=left_right_pairs(names_t),
        registered=_registered_layout(names_t, parents_t),
        rotation_order=_common_order(nodes),
        joint_channels=tuple(
            (n.name, tuple(_channel_name(c) for c in n.channels or ())) for n in nodes if not n.is_end
        ),
    )


def _channel_name(channel: tuple[str, int]) -> str:
    """``("r", 2)`` → ``"Zrotation"``."""
    kind, axis = channel
    return f"{_AXES[axis]}{'position' if kind == 'p' else 'rotation'}"


def _common_order(nodes: list[_Node]) -> str | None:
    """The Euler order (``"ZXY"``, three different axes) of the rotation channels when every joint that has
    three uses it."""
    orders = {"".join(_AXES[a] for k, a in n.channels or () if k == "r") for n in nodes}
    orders = {o for o in orders if len(o) == 3 and len(set(o)) == 3}
    return orders.pop() if len(orders) == 1 else None


#: bytes that no Latin-1 text holds (C1 control codes) but that start most Shift-JIS characters (kana, level-1 kanji)
_C1_BYTES = re.compile(rb"[\x80-\x9f]")


def _decode_header(raw: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of a hierarchy's bytes: UTF-8; else Shift-JIS (``cp932``: MikuMikuDance and other Japanese
    exporters' joint names) when it decodes and holds bytes that Latin-1 text never has (0x80-0x9F, which start
    kana and most kanji in Shift-JIS); else Latin-1 (every byte a character, so names always read)."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if _C1_BYTES.search(raw):
        try:
            return raw.decode("cp932"), "cp932"
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1"), "latin-1"


def _no_options(options: dict[str, Any], doing: str, where: Path) -> None:
    if "skeleton" in options and doing == "reading":  # (a folder read with --skeleton for its plain-number files)
        raise ValueRangeError("skeleton= does not apply to a BVH file: it names its own joints", where)
    if options:
        raise ValueRangeError(f"unknown option(s) for {doing} BVH: {', '.join(sorted(options))}", where)


def read_bvh(
    path: str | os.PathLike[str],
    *,
    units: str | float = "auto",
    end_sites: bool = False,
    fps: float | None = None,
    **options: Any,
) -> Motion:
    """Read a BVH file into a `Motion` with positions, local rotations and root translation.

    Args:
        path: the ``.bvh`` file (any channel layout and rotation order, LF or CRLF, tabs or spaces).
        units: length unit of the file: ``"m"``, ``"cm"``, ``"mm"``, ``"inch"``, ``"cmu"`` (CMU ASF
            units, ``skeletons.cmu.ASF_UNIT_M`` = 0.0254 / 0.45 m), a float (metres per unit), or
            ``"auto"``. ``"auto"`` looks at the rest pose (all angles zero, End Sites included): its
            extent ``E`` = the largest side of its bounding box, in file units, is a human's height
            or arm span, so ``E < 6`` → metres (1-2.5 expected), ``6 <= E < 45`` → CMU ASF units (a
            CMU skeleton is about 25-35 units), ``45 <= E < 95`` → inches (3ds Max, Poser / DAZ rigs:
            about 60-80), ``95 <= E < 600`` → centimetres (100-250 expected), ``E >= 600`` →
            millimetres (1000-2500 expected); a rig with MikuMikuDance's bone names (``センター``, ``上半身``,
            ``下半身``) in the CMU range → ``"mmd"`` (0.08 m, MMD's unit). The
            decision is kept in ``metadata["units"]``, ``metadata["metres_per_unit"]``,
            ``metadata["units_guessed"]`` and ``metadata["rest_pose_extent"]``.
        end_sites: also return the End Sites as joints named ``<parent>_end``, each right after
            its parent's chain (the file's depth-first order). For CMU files this is the 38-joint
            ``cmu-mocap-38`` layout of the prediction benchmark.
        fps: frames per second instead of the file's ``Frame Time`` (which is then not checked and may be
            missing): for files whose exporter wrote a wrong one. ``metadata["fps_source"]`` is then ``"option"``.
            Without it a Frame Time that is not a positive number, or over `MAX_FRAME_TIME_S` (a rate written as
            the period, ``Frame Time: 120``), is an error that says so.

    Returns:
        a `Motion`: ``positions (T, J, 3)`` metres, ``rotations (T, J, 3, 3)`` local (identity for
        End Sites and for joints without rotation channels), ``root_translation (T, 3)`` metres,
        ``fps`` from ``Frame Time`` (a rounded ``1/N`` such as ``.0083333`` is snapped to ``1/N``;
        the literal is kept in ``metadata["frame_time"]``). Non-root joints with position channels
        are listed in ``metadata["bvh_translated_joints"]``: for them the positions follow the
        channels, not the skeleton's rest offsets. The skeleton has the file's names,
        parents and offsets (metres; root row zero), left/right pairs from the names
        (`left_right_pairs`) and the leaves as end effectors. A file with the CMU cgspeed hierarchy
        gets the registered ``cmu-bvh-31`` (or ``cmu-mocap-38`` with ``end_sites``) skeleton with
        the file's own offsets. Without ``end_sites`` the End Site offsets (metres) are kept in
        ``metadata["bvh_end_sites"]`` so that `write_bvh` can restore them.

    Frame 0 of CMU files is a synthetic T-pose written by the converter; it is returned as is.

    Raises:
        FormatError: naming the file, the problem and the line where there is one (missing MOTION
            section, unbalanced braces, unknown channels, frame lines with the wrong number of
            values, non-numeric or non-finite values, fewer or more frames than ``Frames:`` says).
    """
    p = Path(path)
    _no_options(options, "reading", p)
    given_fps = None if fps is None else check_fps(fps, p)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}", p) from None
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    elif text[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark (Windows editors save it)
        try:
            text = text.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise FormatError("the file starts with a UTF-16 byte-order mark but is not UTF-16 text", p) from None
    if b"\r" in text:  # CRLF (or old Mac CR) line endings: one pass, only for such files
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    m = _MOTION_RE.search(text)
    if m is None:
        if not text.lstrip().upper().startswith(b"HIERARCHY"):
            raise FormatError("not a BVH file: it does not start with HIERARCHY", p)
        raise FormatError("no MOTION section (is the file truncated after the hierarchy?)", p)
    header_bytes = text[: m.start()]
    header, encoding = _decode_header(header_bytes)
    try:
        layout = _layout(header, end_sites)
    except PosecastError as exc:  # the cached parser does not know the path
        raise type(exc)(exc.problem, p) from None
    motion_line = header_bytes.count(b"\n") + 1
    frames, frames_line, frame_time, ft_literal, data_start, first_line = _frame_header(
        text, m.end() + 1, motion_line, p, need_time=given_fps is None
    )
    data = _read_frames(text[data_start:], layout.n_channels, frames, frames_line, first_line, p)
    if given_fps is not None:
        rate, snapped = given_fps, False
    else:
        assert frame_time is not None
        rate, snapped = _snap_frame_time(ft_literal, frame_time)

    if isinstance(units, str) and units.strip().lower() == "auto":
        unit_name, guessed, extent = _guess_units(layout.rest_extent), True, layout.rest_extent
        if unit_name == "cmu" and any(n in _MMD_NAMES for n in layout.names):
            unit_name = "mmd"
        scale = UNITS[unit_name]
    else:
        (unit_name, scale), guessed, extent = metres_per_unit(units, p), False, None
    offsets_m = layout.offsets * scale
    with np.errstate(all="ignore"):
        positions, rotations, root = _pose(data, layout.plan, offsets_m, scale)
    if not np.isfinite(positions).all():
        raise FormatError("values are too large: joint positions overflow to infinity", p)
    check_magnitude(positions, p, FormatError)

    offsets_m[0] = 0.0
    registered, order = layout.registered, None
    if registered is None and (found := _registered_by_names(layout.names, layout.parents)) is not None:
        registered, order = found  # a registered rig written depth-first (PoseCast's smpl-24 BVH): its own order
        positions, rotations, offsets_m = positions[:, order], rotations[:, order], offsets_m[order]
    if registered is not None:
        skeleton = registered.with_offsets(offsets_m)
    else:
        has_child = set(layout.parents[1:])
        skeleton = Skeleton(
            name=f"bvh-{p.stem}",
            joint_names=layout.names,
            parents=layout.parents,
            offsets=offsets_m,
            left_right=layout.left_right,
            end_effectors=tuple(j for j in range(len(layout.names)) if j not in has_child),
            description=f"hierarchy of the BVH file {p.name}",
        )
    metadata: dict[str, Any] = {
        "source": str(p),
        "format": "bvh",
        "units": unit_name,
        "metres_per_unit": scale,
        "units_guessed": guessed,
        "frame_time": frame_time,
        "frame_time_snapped": snapped,
        "bvh_channels": layout.n_channels,
    }
    if encoding != "utf-8":  # joint names read from a legacy 8-bit encoding
        metadata["encoding"] = encoding
    if given_fps is not None:  # the Frame Time line (kept above when it is a number) was not used
        metadata["fps_source"] = "option"
    if extent is not None:
        metadata["rest_pose_extent"] = extent
    if layout.rotation_order is not None:  # `write_bvh` writes forecasts on this rig in the same order
        metadata["bvh_rotation_order"] = layout.rotation_order
    # each joint's channels as read: `write_bvh` writes the joints of this rig with them again
    metadata["bvh_joint_channels"] = {name: " ".join(chans) for name, chans in layout.joint_channels}
    moved = [axis for axis, _ in layout.plan.root_columns]  # the root's OFFSET on these axes is not read (the channels
    if moved and np.any(layout.plan.root_offset[moved] != 0.0):  # are the position), but kept for `write_bvh`
        metadata["bvh_root_offset"] = [float(v) * scale for v in layout.plan.root_offset]
    if layout.translated:  # their bones follow the position channels, not the skeleton's rest offsets
        metadata["bvh_translated_joints"] = list(layout.translated)
    if not end_sites:
        metadata["bvh_end_sites"] = {
            name: [[float(v) * scale for v in vec] for vec in vecs] for name, vecs in layout.end_site_offsets.items()
        }
    try:
        return Motion(
            positions=positions,
            fps=rate,
            skeleton=skeleton,
            rotations=rotations,
            root_translation=root,
            metadata=metadata,
        )
    except PosecastError as exc:
        raise FormatError(exc.problem, p) from None


# ======================================================================================== writer
def _writable_elsewhere() -> str:
    suffixes = sorted({s for f in formats() if f.write is not None and f.name != "bvh" for s in f.suffixes})
    return ", ".join(suffixes) or "another format"


def _check_order(order: str, where: Path) -> tuple[int, ...]:
    up = order.upper() if isinstance(order, str) else ""
    if len(up) != 3 or set(up) - set(_AXES) or up[0] == up[1] or up[1] == up[2]:
        raise ValueRangeError(
            f"invalid rotation order {order!r}: three of X/Y/Z (e.g. 'ZYX', 'ZXY'), consecutive axes different",
            where,
        )
    return tuple(_AXES.index(a) for a in up)


def bvh_name_problem(name: str) -> str | None:
    """Why joint ``name`` cannot be written to a BVH file (braces, tabs, line breaks, runs of spaces, empty), else
    None."""
    if not name or " ".join(name.split()) != name or "{" in name or "}" in name:
        return f"joint name {name!r} cannot be written to a BVH file"
    return None


#: degrees: a rotation angle this small counts as zero when a joint read with fewer than three rotation channels is
#: written with the same ones (its rotation must lie about those axes)
_ZERO_ANGLE_DEG = 1e-7

_Channel = tuple[str, int]  # ("p" | "r", axis), as `_Node.channels`


def _stored_channels(value: Any) -> list[_Channel] | None:
    """A joint's channels from ``metadata["bvh_joint_channels"]`` (``"Xposition ... Zrotation"``), or None when the
    value is not a channel list the reader could have read."""
    if not isinstance(value, str):
        return None
    chans = [_CHANNELS.get(tok.lower()) for tok in value.split()]
    if any(c is None for c in chans) or len(chans) > 6:
        return None
    out = [c for c in chans if c is not None]
    pos_axes = [a for k, a in out if k == "p"]
    if len(set(pos_axes)) != len(pos_axes) or len(out) - len(pos_axes) > _MAX_ROT_CHANNELS:
        return None
    return out


def _euler_order_ok(axes: tuple[int, ...]) -> bool:
    return len(axes) == 3 and axes[0] != axes[1] and axes[1] != axes[2]


def _completed(axes: tuple[int, ...]) -> tuple[int, ...] | None:
    """A three-axis Euler order that starts with the one or two (different) ``axes``, or None."""
    if len(axes) == 1:
        return (axes[0], (axes[0] + 1) % 3, (axes[0] + 2) % 3)
    if len(axes) == 2 and axes[0] != axes[1]:
        return (axes[0], axes[1], 3 - axes[0] - axes[1])
    return None


@dataclass
class _JointOut:
    """How one joint is written: its channels in file order and the columns they take from."""

    channels: list[_Channel]
    euler: tuple[int, ...]  # the Euler order its rotation channels are computed in (3 axes)
    offset: np.ndarray  # (3,) metres, the OFFSET line
    angles: np.ndarray | None = None  # (T, 3) degrees in ``euler`` when already computed (else by `write_bvh`)


def _merge(base: list[_Channel], kind: str, group: list[_Channel]) -> list[_Channel]:
    """``base`` with its channels of ``kind`` replaced by ``group``, placed where the first of them was (positions
    first and rotations last when ``base`` had none)."""
    if [c for c in base if c[0] == kind] == group:
        return base
    out: list[_Channel] = []
    placed = False
    for c in base:
        if c[0] != kind:
            out.append(c)
        elif not placed:
            out += group
            placed = True
    if not placed:
        out = group + out if kind == "p" else out + group
    return out


def _joint_out(
    base: list[_Channel] | None,
    default_axes: tuple[int, ...],
    forced_axes: tuple[int, ...] | None,
    rest: np.ndarray,
    translation: np.ndarray,
    rot: np.ndarray,
    identity: bool,
    is_root: bool,
) -> _JointOut:
    """The channels one joint is written with.

    Args:
        base: the channels it was read with (``metadata["bvh_joint_channels"]``), or None.
        default_axes: the rotation order of joints written without ``base``.
        forced_axes: the ``order=`` the caller gave (every joint's rotations in it), or None.
        rest: ``(3,)`` its rest offset (metres; zeros for the root).
        translation: ``(T, 3)`` its translation in its parent's frame (the root: its position).
        rot: ``(T, 3, 3)`` its local rotations.
        identity: whether ``rot`` is the identity in every frame.
        is_root: the root joint.

    Without ``base`` (a motion that did not come from a BVH file): the root gets ``X/Y/Zposition`` then three
    rotation channels, another joint three rotation channels, and position channels too when its translation
    leaves its rest offset by more than `_TRANSLATION_TOL_M`. With ``base``, the channels read are kept where they
    hold the motion: position channels are added (all three) when an axis without one does not stay at the OFFSET
    (the root's OFFSET then holds its constant position on the axes without channels); rotation channels in the
    order read, completed to three (or three added) when the rotation does not lie about the axes read.
    """
    moving_axes = np.abs(translation - rest).max(axis=0) > _TRANSLATION_TOL_M  # (3,)
    if base is None:
        axes = forced_axes or default_axes
        pos = [("p", a) for a in range(3)] if is_root or moving_axes.any() else []
        return _JointOut(pos + [("r", a) for a in axes], axes, rest.copy())
    offset = rest.copy()
    pos_axes = [a for k, a in base if k == "p"]
    free = [a for a in range(3) if a not in pos_axes]  # axes the OFFSET gives
    if is_root:
        constant = np.ptp(translation, axis=0) <= _TRANSLATION_TOL_M
        offset[free] = translation[0, free]
        ok = bool(constant[free].all())
    else:
        ok = not moving_axes[free].any()
    channels = base if ok else _merge(base, "p", [("p", a) for a in range(3)])
    if not ok:
        offset = rest.copy()
    read = tuple(a for k, a in base if k == "r")
    if forced_axes is not None:
        axes = forced_axes
        group = list(forced_axes)
    elif _euler_order_ok(read):
        axes = read
        group = list(read)
    elif not read:
        axes = default_axes
        group = [] if identity else list(default_axes)
    else:
        completed = _completed(read)
        if completed is None:  # repeated axes ("ZZX"): not an Euler order this writer can fill in
            axes, group = default_axes, list(default_axes)
        else:
            axes = completed
            angles = _partial_angles(rot, axes, len(read))
            lies_about_read = np.abs(angles[:, len(read) :]).max() <= _ZERO_ANGLE_DEG
            group = list(read) if lies_about_read else list(completed)
            return _JointOut(_merge(channels, "r", [("r", a) for a in group]), axes, offset, angles)
    return _JointOut(_merge(channels, "r", [("r", a) for a in group]), axes, offset)


def _partial_angles(rot: np.ndarray, axes: tuple[int, ...], used: int) -> np.ndarray:
    """``(T, 3)`` Euler angles (degrees, order ``axes`` of three different axes) of ``rot (T, 3, 3)``, each frame in
    whichever of the two equivalent solutions puts the least on the angles after the first ``used``: ``(a, b, c)``
    and ``(a + 180, 180 - b, c + 180)`` give the same rotation, and scipy returns the one with ``|b| <= 90``, so
    ``Rz(30) @ Rx(120)`` read from a two-channel joint comes back as ``(-150, 60, 180)`` unless turned back."""
    with quiet(UserWarning, wait=False):  # gimbal lock: scipy warns and sets the third angle to zero
        angles = Rotation.from_matrix(rot).as_euler("".join(_AXES[a] for a in axes), degrees=True)
    other = angles + [180.0, 0.0, 180.0]
    other[:, 1] = 180.0 - angles[:, 1]
    other = (other + 180.0) % 360.0 - 180.0
    better = np.abs(other[:, used:]).max(axis=1) < np.abs(angles[:, used:]).max(axis=1)
    angles[better] = other[better]
    return angles


def _layout_out(
    motion: Motion, read_channels: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[bool], list[list[int]]]:
    """For `write_bvh`: each joint's translation in its parent's frame from the positions ``(T, J, 3)`` (the root:
    its position), the rest offsets ``(J, 3)`` (the root's zero), whether each joint's rotation is the identity in
    every frame ``(J,)``, whether it is written as an End Site, and each joint's children (index order). An End
    Site is a leaf named ``*_end`` (an ASF/AMC bone's end, or an End Site read as a joint with ``end_sites=True``)
    that neither turns nor moves, unless it was a JOINT of the BVH file the motion was read from. A BVH marks the
    end of a bone with an End Site (CMU's own BVH conversions of their ASF/AMC takes do; DCC tools take it for the
    tip of the last bone), where a JOINT would be one more bone with three channels that never change."""
    skel = motion.skeleton
    rot, pos = motion.rotations, motion.positions
    assert rot is not None and skel.offsets is not None
    n_frames, n_joints = pos.shape[:2]
    parents = skel.parent_array
    children: list[list[int]] = [[] for _ in range(n_joints)]
    for j in range(1, n_joints):
        children[parents[j]].append(j)
    _, glob = forward_kinematics(rot, skel.offsets, skel.parents, pos[:, 0])
    local = np.zeros((n_frames, n_joints, 3))
    local[:, 0] = pos[:, 0]
    if n_joints > 1:
        d = pos[:, 1:] - pos[:, parents[1:]]
        local[:, 1:] = np.einsum("tjki,tjk->tji", glob[:, parents[1:]], d)
    rest = np.array(skel.offsets, dtype=np.float64)
    rest[0] = 0.0
    moving = np.abs(local - rest).max(axis=(0, 2)) > _TRANSLATION_TOL_M
    identity = np.abs(rot - np.eye(3)).max(axis=(0, 2, 3)) < 1e-12
    end_site = [
        j > 0
        and not children[j]
        and _END_NAME.search(skel.joint_names[j]) is not None
        and bool(identity[j])
        and not moving[j]
        and skel.joint_names[j] not in read_channels  # a JOINT of the file it was read from stays one
        for j in range(n_joints)
    ]
    return local, rest, identity, end_site, children


#: `recording_end_sites`: where `write_bvh` puts the End Site names it wrote (None: nowhere)
_END_SITES_WRITTEN: ContextVar[list[tuple[str, ...]] | None] = ContextVar("posecast_bvh_end_sites", default=None)


@contextmanager
def recording_end_sites() -> Iterator[list[tuple[str, ...]]]:
    """Inside the block, every `write_bvh` call (``posecast.save(motion, "x.bvh")`` too) appends to the list yielded
    the names of the joints it wrote as End Sites (`written_as_end_sites`), from its own layout, so that a caller
    that writes and then tells the user (``posecast forecast``) need not run the forward kinematics again. Per
    thread / context (a `ContextVar`)."""
    got: list[tuple[str, ...]] = []
    token = _END_SITES_WRITTEN.set(got)
    try:
        yield got
    finally:
        _END_SITES_WRITTEN.reset(token)


def written_as_end_sites(motion: Motion) -> tuple[str, ...]:
    """The joints of ``motion`` that `write_bvh` writes as End Sites (`_layout_out`), which a plain `read_bvh` of
    the file does not return as joints (``end_sites=True`` does, under the same ``<parent>_end`` names). It runs
    the writer's forward kinematics again; to learn them while writing, wrap the write in `recording_end_sites`."""
    if motion.rotations is None or motion.skeleton.offsets is None:
        return ()
    read_channels = motion.metadata.get("bvh_joint_channels")
    _, _, _, end_site, _ = _layout_out(motion, read_channels if isinstance(read_channels, dict) else {})
    return tuple(n for n, e in zip(motion.skeleton.joint_names, end_site, strict=True) if e)


def write_bvh(
    motion: Motion,
    path: str | os.PathLike[str],
    *,
    order: str | None = None,
    units: str | float | None = None,
    **options: Any,
) -> None:
    """Write a `Motion` that has local rotations (and a skeleton with offsets) as a BVH file.

    Call it through ``posecast.save(motion, "out.bvh")`` (atomic); it writes exactly ``path``.

    Args:
        motion: a motion with ``rotations (T, J, 3, 3)`` on a skeleton with rest offsets.
        path: output file.
        order: Euler order of every joint's rotation channels, intrinsic (``"ZYX"`` writes ``Zrotation
            Yrotation Xrotation``, ``R = Rz @ Ry @ Rx``). ``None``: each joint in the order it was read with
            (``metadata["bvh_joint_channels"]``); joints without one in ``metadata["bvh_rotation_order"]`` (when
            all the joints of the file shared one), else ``"ZYX"``.
        units: length unit of the file (names as in `read_bvh` or metres per unit). ``None``:
            ``metadata["metres_per_unit"]`` when the motion came from a BVH file, else ``"cm"``,
            the most common BVH unit.

    A motion read from a BVH file (``metadata["bvh_joint_channels"]``, kept by `Forecast.to_motion`) is written
    with each joint's channels as read (which ones, in which order), except where they cannot hold the motion:
    a joint whose translation leaves its rest offset on an axis without a position channel gets all three, and
    one whose rotation does not lie about the one or two axes it was read with gets three rotation channels
    (see `_joint_out`); the positions always survive a round trip. Other motions: the root gets 6 channels
    (``X/Y/Zposition`` from ``positions[:, 0]`` then the rotation), the other joints 3 rotation channels, and a
    joint whose bone vector in ``positions`` differs from its rest offset (bones that stretch, or positions
    edited apart from the rotations) 3 position channels as well. Leaves named ``*_end`` with identity
    rotations that do not move become End Sites, unless they were joints of the BVH file the motion was read
    from (`written_as_end_sites` names them; ``read_bvh(..., end_sites=True)`` reads them back as joints); End
    Sites recorded by `read_bvh` in ``metadata["bvh_end_sites"]`` are restored. Joints are written depth-first,
    children in index order, with 12 significant digits. Joint names must not contain braces, tabs, line breaks
    or runs of spaces (`bvh_name_problem`).

    Raises:
        FormatError: the motion has no rotations or the skeleton no offsets (positions-only motions
            cannot be written as BVH; the error lists the formats that can hold them).
    """
    p = Path(path)
    _no_options(options, "writing", p)
    if not isinstance(motion, Motion):
        hint = (
            "save it as .npz or .json, or one hypothesis with its history as BVH: save(forecast.to_motion(i), ...)"
            if type(motion).__name__ == "Forecast"
            else f"use {_writable_elsewhere()}"
        )
        raise FormatError(f"a BVH file holds one Motion, not a {type(motion).__name__}; {hint}", p)
    if 1.0 / motion.fps > MAX_FRAME_TIME_S:  # what `read_bvh` would refuse as a rate written where the period belongs
        raise FormatError(
            f"the motion has {motion.fps:g} frames per second, a Frame Time over {MAX_FRAME_TIME_S:g} s, which BVH "
            "readers (PoseCast's too) take for a mistake: resample it first (motion.resample(fps)) or save it as .npz "
            "or .json",
            p,
        )
    if motion.rotations is None:
        raise FormatError(
            "cannot write BVH: the motion has only joint positions, and BVH stores joint rotations. "
            f"Save positions-only motions as {_writable_elsewhere()}",
            p,
        )
    rotation_field(motion.rotations, p)  # rotation matrices, else the first frame and joint that is not (QA: scipy's)
    skel = motion.skeleton
    if skel.offsets is None:
        raise FormatError(
            f"cannot write BVH: skeleton {skel.name!r} has no rest offsets; save as {_writable_elsewhere()}", p
        )
    forced = None if order is None else _check_order(order, p)
    stored_order = motion.metadata.get("bvh_rotation_order")
    default_axes = forced or _check_order(
        stored_order if isinstance(stored_order, str) and len(set(stored_order)) == len(stored_order) == 3 else "ZYX",
        p,
    )
    if units is None:
        stored = motion.metadata.get("metres_per_unit")
        ok = isinstance(stored, int | float) and not isinstance(stored, bool) and math.isfinite(stored) and stored > 0
        units = float(stored) if ok else "cm"
    _, scale = metres_per_unit(units, p)
    for name in skel.joint_names:
        problem = bvh_name_problem(name)
        if problem is not None:
            raise FormatError(problem, p)
    read_channels = motion.metadata.get("bvh_joint_channels")
    read_channels = read_channels if isinstance(read_channels, dict) else {}

    rot, pos = motion.rotations, motion.positions
    n_frames, n_joints = pos.shape[:2]
    local, rest, identity, end_site, children = _layout_out(motion, read_channels)
    stored_ends = motion.metadata.get("bvh_end_sites")
    stored_ends = stored_ends if isinstance(stored_ends, dict) else {}

    joints = [j for j in range(n_joints) if not end_site[j]]
    out = {
        j: _joint_out(
            _stored_channels(read_channels.get(skel.joint_names[j])),
            default_axes,
            forced,
            rest[j],
            local[:, j],
            rot[:, j],
            bool(identity[j]),
            j == 0,
        )
        for j in joints
    }
    angles = np.zeros((n_frames, n_joints, 3))
    for j in joints:
        if out[j].angles is not None:
            angles[:, j] = out[j].angles
    for axes in {out[j].euler for j in joints if out[j].angles is None}:  # one scipy call per rotation order
        group = [j for j in joints if out[j].euler == axes and out[j].angles is None]
        with quiet(UserWarning, wait=False):  # gimbal lock: scipy warns, the angles still give the same matrix
            euler = Rotation.from_matrix(rot[:, group].reshape(-1, 3, 3))
            angles[:, group] = euler.as_euler("".join(_AXES[a] for a in axes), degrees=True).reshape(
                n_frames, len(group), 3
            )

    root_offset = motion.metadata.get("bvh_root_offset")  # the root's OFFSET as read, on its position axes
    if isinstance(root_offset, list | tuple) and len(root_offset) == 3 and 0 in out:
        if all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in root_offset):
            for kind, axis in out[0].channels:
                if kind == "p":  # a position channel: the reader takes the channel, the OFFSET is the file's as read
                    out[0].offset[axis] = float(root_offset[axis])

    fmt = _WRITE_DIGITS
    lines = ["HIERARCHY"]
    columns: list[np.ndarray] = []

    def offset_line(vec: np.ndarray | list[float], depth: int) -> str:
        return "\t" * depth + "OFFSET " + " ".join(fmt % (float(v) / scale + 0.0) for v in vec)

    restored: list[np.ndarray] = []  # End Site offsets from metadata; stack entry -1 - k is restored[k]
    stack: list[tuple[int, int, bool]] = [(0, 0, False)]  # (joint, depth, closing)
    while stack:
        j, depth, closing = stack.pop()
        tab = "\t" * depth
        if closing:
            lines.append(tab + "}")
            continue
        if j < 0 or end_site[j]:
            vec = restored[-1 - j] if j < 0 else skel.offsets[j]
            lines += [tab + "End Site", tab + "{", offset_line(vec, depth + 1), tab + "}"]
            continue
        spec = out[j]
        lines += [tab + ("ROOT " if j == 0 else "JOINT ") + skel.joint_names[j], tab + "{"]
        lines.append(offset_line(spec.offset, depth + 1))
        names = " ".join(_channel_name(c) for c in spec.channels)
        lines.append(tab + f"\tCHANNELS {len(spec.channels)}" + (f" {names}" if names else ""))
        rotations_done = 0
        for kind, axis in spec.channels:
            if kind == "p":
                columns.append(local[:, j, axis : axis + 1] / scale)
            else:  # the rotation channels are the first angles of the joint's Euler order
                columns.append(angles[:, j, rotations_done : rotations_done + 1])
                rotations_done += 1
        stack.append((j, depth, True))
        extra = stored_ends.get(skel.joint_names[j], [])  # End Sites dropped by read_bvh, after the children
        for vec in reversed(extra) if isinstance(extra, list) else []:
            if isinstance(vec, list | tuple) and len(vec) == 3 and all(isinstance(v, int | float) for v in vec):
                stack.append((-1 - len(restored), depth + 1, False))
                restored.append(np.asarray(vec, dtype=np.float64))
        for c in reversed(children[j]):
            stack.append((c, depth + 1, False))
    table = np.concatenate(columns, axis=1) + 0.0 if columns else np.zeros((n_frames, 0))  # + 0.0: -0.0 -> 0.0
    lines += ["MOTION", f"Frames: {n_frames}", f"Frame Time: {1.0 / motion.fps:.10g}"]
    row = " ".join([fmt] * table.shape[1])
    body = "\n".join(row % tuple(r) for r in table.tolist())
    with open(p, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines))
        fh.write("\n")
        fh.write(body)
        fh.write("\n")
    if (record := _END_SITES_WRITTEN.get()) is not None:
        record.append(tuple(n for n, e in zip(skel.joint_names, end_site, strict=True) if e))


# ===================================================================================== register
def _sniff(head: bytes, _: Path) -> bool:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip()[:9].upper() == b"HIERARCHY"


register_format(
    Format(
        "bvh",
        (".bvh",),
        read_bvh,
        write_bvh,
        _sniff,
        "Biovision hierarchy motion capture: joint rotations on a skeleton (read and write)",
    )
)


#: the largest entry of ``R R^T - I`` of a saved rotation (PoseCast writes them exact; float32 ones are ~1e-7 off)
ROTATION_TOLERANCE = 1e-4


def rotation_field(rotations: Any, path: Path) -> Any:
    """A saved motion's ``rotations (T, J, 3, 3)``, checked to be rotation matrices (orthonormal, determinant +1);
    a `FormatError` naming the first frame and joint that is not (QA: zeros or 3 I were read and written back into a
    BVH as they were). Another shape is left to `posecast.motion.Motion`'s check."""
    if rotations is None:
        return None
    rot = np.asarray(rotations)
    if rot.ndim != 4 or rot.shape[-2:] != (3, 3) or rot.dtype.kind not in "fiu" or not np.isfinite(rot).all():
        return rotations
    r = rot.astype(np.float64)
    off = np.abs(r @ np.swapaxes(r, -1, -2) - np.eye(3)).max(axis=(-2, -1))
    bad = (off > ROTATION_TOLERANCE) | (np.linalg.det(r) <= 0) if r.size else off > 0
    if bad.any():
        t, j = (int(x) for x in np.argwhere(bad)[0])
        raise FormatError(f"'rotations' frame {t}, joint {j} is not a rotation matrix (orthonormal, det +1)", path)
    return rotations
