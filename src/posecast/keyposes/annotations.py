"""Readers (and writers) of the characteristic-pose annotation files of Diller et al. (CVPR 2022).

Two ``;``-separated text files come with the paper's code (``data_generation/*/charposes.csv``):

* **Human3.6M**: header ``sample-id;start;action;comment``, then one row per sequence, e.g.
  ``S1-Eating_2;0;1019;sit``: the sample id (``<subject>-<action>[_<take>]``), the first frame of the
  window the observations may come from, the frame of the characteristic pose (both in the 50 Hz
  ``D3_Positions`` stream) and a free comment (may be empty; everything after the third ``;``).
* **GRAB**: header ``sampleid;frameidx``, then e.g. ``s2-doorknob-use-2;212``: the sample id
  (``<subject>-<object>-<intent>[-<take>]``) and the characteristic pose as an offset in frames
  (120 Hz) from the first frame with object contact (`grab_first_contact`).

Rows become frozen dataclasses (`H36MAnnotation`, `GrabAnnotation`). The header is optional, blank
lines are skipped, a UTF-8 byte-order mark and CRLF line ends are accepted. Anything else that is
not a valid row (missing fields, frames that are not non-negative integers, a characteristic frame
before the window start, a sample id given twice, a file that is not UTF-8 text) is a `FormatError`
naming the file and the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posecast.errors import FormatError, ValueRangeError
from posecast.io.registry import atomic_output
from posecast.keyposes.mining import KeyPose

H36M_FPS = 50.0
"""Frame rate of the Human3.6M ``D3_Positions`` stream the H3.6M annotations count in."""
GRAB_FPS = 120.0
"""Frame rate of GRAB sequences, the unit of the GRAB annotation offsets."""

H36M_HEADER = ("sample-id", "start", "action", "comment")
GRAB_HEADER = ("sampleid", "frameidx")

MAX_DIGITS = 9
"""Frame numbers longer than this are rejected (a day at 10 kHz has 9 digits)."""

_H36M_ID = re.compile(r"(S[0-9]+)-([^\s;]+)")
_GRAB_ID = re.compile(r"(s[0-9]+)-([^\s;-]+)-([^\s;]+)")
_INT = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class H36MAnnotation:
    """One row of the Human3.6M characteristic-pose file.

    Attributes:
        sample_id: ``"<subject>-<action>"``, e.g. ``"S1-Directions_1"``.
        start: first frame (50 Hz) of the span the observations may be drawn from.
        frame: frame (50 Hz) of the characteristic pose, ``>= start``.
        comment: free text ("" when none).
        line: line of the file it was read from (0 when not read from a file; not compared).
    """

    sample_id: str
    start: int
    frame: int
    comment: str = ""
    line: int = field(default=0, compare=False)

    @property
    def subject(self) -> str:
        """``"S1"``."""
        return self.sample_id.split("-", 1)[0]

    @property
    def action(self) -> str:
        """``"Directions_1"`` (action and take as in the file name of the sequence)."""
        return self.sample_id.split("-", 1)[1]

    @property
    def time(self) -> float:
        """Time of the characteristic pose in seconds from the start of the sequence."""
        return self.frame / H36M_FPS

    def keypose(self, fps: float = H36M_FPS) -> KeyPose:
        """The characteristic pose as a `KeyPose` of the sequence at ``fps`` (nearest frame)."""
        return KeyPose(int(round(self.time * fps)), self.time)


@dataclass(frozen=True)
class GrabAnnotation:
    """One row of the GRAB characteristic-pose file.

    Attributes:
        sample_id: ``"<subject>-<object>-<intent>[-<take>]"``, e.g. ``"s2-doorknob-use-2"``.
        offset: frames (120 Hz) from the first frame with object contact to the characteristic pose.
        line: line of the file it was read from (0 when not read from a file; not compared).
    """

    sample_id: str
    offset: int
    line: int = field(default=0, compare=False)

    @property
    def subject(self) -> str:
        """``"s2"``."""
        return self.sample_id.split("-", 2)[0]

    @property
    def object_name(self) -> str:
        """``"doorknob"``."""
        return self.sample_id.split("-", 2)[1]

    @property
    def intent(self) -> str:
        """What is done with the object, with the take: ``"use-2"``."""
        return self.sample_id.split("-", 2)[2]

    def frame(self, first_contact: int) -> int:
        """Frame (120 Hz) of the characteristic pose in a sequence whose first contact is ``first_contact``."""
        return int(first_contact) + self.offset

    def keypose(self, first_contact: int, fps: float = GRAB_FPS) -> KeyPose:
        """The characteristic pose as a `KeyPose` of the sequence at ``fps`` (nearest frame)."""
        t = self.frame(first_contact) / GRAB_FPS
        return KeyPose(int(round(t * fps)), t)


def grab_first_contact(contact: np.ndarray) -> int:
    """First frame with any object contact, from GRAB's ``(T, V)`` per-vertex object contact labels
    (``contact/object`` in a GRAB sequence file; non-zero = in contact)."""
    c = np.asarray(contact)
    if c.ndim < 1 or c.shape[0] == 0:
        raise ValueRangeError(f"contact labels of shape {c.shape} have no frames")
    touching = np.flatnonzero(c.reshape(c.shape[0], -1).any(axis=1))
    if touching.size == 0:
        raise ValueRangeError("the object is never touched in this sequence")
    return int(touching[0])


# --------------------------------------------------------------------------------------- reading
def _lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of the non-blank lines of a UTF-8 text file."""
    if not path.exists():
        raise FormatError("no such file", path)
    if path.is_dir():
        raise FormatError("is a directory, not an annotation file", path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror}", path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text (byte {exc.start})", path) from None
    if "\x00" in text:
        raise FormatError("binary content (NUL bytes), not an annotation file", path)
    out = []
    for n, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip():
            out.append((n, line))
    return out


def _int(value: str, what: str, n: int, path: Path) -> int:
    v = value.strip()
    if not _INT.fullmatch(v):
        raise FormatError(f"line {n}: {what} {value.strip()[:40]!r} is not a non-negative whole number", path)
    if len(v) > MAX_DIGITS:
        raise FormatError(f"line {n}: {what} {v[:20]}... is too large", path)
    return int(v)


def _is_header(fields: list[str], header: tuple[str, ...]) -> bool:
    return [f.strip().lower() for f in fields] == list(header)


def read_h36m_annotations(path: str | os.PathLike[str]) -> list[H36MAnnotation]:
    """Read a Human3.6M characteristic-pose file (format in the module docstring).

    Returns:
        the rows in file order.

    Raises:
        FormatError: naming the file and line of the first bad row.
    """
    p = Path(path)
    rows = _lines(p)
    out: list[H36MAnnotation] = []
    seen: dict[str, int] = {}
    for i, (n, line) in enumerate(rows):
        fields = line.split(";", 3)
        if i == 0 and _is_header(line.split(";"), H36M_HEADER):
            continue
        if len(fields) < 3:
            raise FormatError(f"line {n}: expected 'sample-id;start;frame;comment', found {len(fields)} field(s)", p)
        sid = fields[0].strip()
        if not _H36M_ID.fullmatch(sid):
            raise FormatError(f"line {n}: sample id {sid[:40]!r} is not SUBJECT-ACTION like 'S1-Directions_1'", p)
        start = _int(fields[1], "start frame", n, p)
        frame = _int(fields[2], "characteristic frame", n, p)
        if frame < start:
            raise FormatError(f"line {n}: characteristic frame {frame} comes before the window start {start}", p)
        if sid in seen:
            raise FormatError(f"line {n}: sample id {sid!r} was already annotated on line {seen[sid]}", p)
        seen[sid] = n
        comment = fields[3].strip() if len(fields) > 3 else ""
        out.append(H36MAnnotation(sid, start, frame, comment, line=n))
    if not out:
        raise FormatError("no annotations in the file", p)
    return out


def read_grab_annotations(path: str | os.PathLike[str]) -> list[GrabAnnotation]:
    """Read a GRAB characteristic-pose file (format in the module docstring).

    Returns:
        the rows in file order.

    Raises:
        FormatError: naming the file and line of the first bad row.
    """
    p = Path(path)
    rows = _lines(p)
    out: list[GrabAnnotation] = []
    seen: dict[str, int] = {}
    for i, (n, line) in enumerate(rows):
        fields = line.split(";")
        if i == 0 and _is_header(fields, GRAB_HEADER):
            continue
        if len(fields) != 2:
            raise FormatError(f"line {n}: expected 'sampleid;frameidx', found {len(fields)} field(s)", p)
        sid = fields[0].strip()
        if not _GRAB_ID.fullmatch(sid):
            raise FormatError(
                f"line {n}: sample id {sid[:40]!r} is not SUBJECT-OBJECT-INTENT like 's2-doorknob-use-2'", p
            )
        offset = _int(fields[1], "frame offset", n, p)
        if sid in seen:
            raise FormatError(f"line {n}: sample id {sid!r} was already annotated on line {seen[sid]}", p)
        seen[sid] = n
        out.append(GrabAnnotation(sid, offset, line=n))
    if not out:
        raise FormatError("no annotations in the file", p)
    return out


# --------------------------------------------------------------------------------------- writing
def _check_frame(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0 or value >= 10**MAX_DIGITS:
        raise ValueRangeError(f"{what} must be a whole number in [0, 10^{MAX_DIGITS}), got {value!r}")
    return int(value)


def write_h36m_annotations(records: Iterable[H36MAnnotation], path: str | os.PathLike[str]) -> Path:
    """Write Human3.6M annotations in the paper's format (with its header), atomically.

    Raises:
        ValueRangeError: a record that the reader would not read back identically.
    """
    lines = [";".join(H36M_HEADER)]
    records = list(records)
    if not records:
        raise ValueRangeError("no annotations to write")
    for r in records:
        if not _H36M_ID.fullmatch(r.sample_id):
            raise ValueRangeError(f"sample id {r.sample_id!r} is not SUBJECT-ACTION like 'S1-Directions_1'")
        start, frame = _check_frame(r.start, "start"), _check_frame(r.frame, "frame")
        if frame < start:
            raise ValueRangeError(f"{r.sample_id}: characteristic frame {frame} before window start {start}")
        if r.comment != r.comment.strip() or any(c in r.comment for c in "\n\r\x00"):
            raise ValueRangeError(f"{r.sample_id}: comment {r.comment!r} has line breaks, NULs or surrounding blanks")
        lines.append(f"{r.sample_id};{start};{frame};{r.comment}")
    p = Path(path)
    with atomic_output(p) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def write_grab_annotations(records: Iterable[GrabAnnotation], path: str | os.PathLike[str]) -> Path:
    """Write GRAB annotations in the paper's format (with its header), atomically.

    Raises:
        ValueRangeError: a record that the reader would not read back identically.
    """
    lines = [";".join(GRAB_HEADER)]
    records = list(records)
    if not records:
        raise ValueRangeError("no annotations to write")
    for r in records:
        if not _GRAB_ID.fullmatch(r.sample_id):
            raise ValueRangeError(f"sample id {r.sample_id!r} is not SUBJECT-OBJECT-INTENT like 's2-doorknob-use-2'")
        lines.append(f"{r.sample_id};{_check_frame(r.offset, 'offset')}")
    p = Path(path)
    with atomic_output(p) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
