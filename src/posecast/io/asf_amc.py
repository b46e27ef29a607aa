"""Acclaim ASF/AMC motion capture (the native format of CMU's mocap database and of HDM05).

An ``.asf`` file describes one actor's skeleton: a ``:root`` and a list of bones (``:bonedata``),
each with a unit ``direction`` and a ``length`` in the rest pose (global axes), a local frame
``axis ax ay az XYZ`` and its degrees of freedom (``dof rx ry rz``), plus a ``:hierarchy``. An
``.amc`` file holds the motion: per frame, a frame number line, then one line per bone that has
dofs, ``name value value ...`` in the order of its ``dof`` line (the root's in the order of its
``order`` line, translations included).

Conventions of this module (PoseCast works in metres, seconds, y up; CMU and HDM05 capture is y up):

* **Skeleton** (the CMU BVH convention): one joint per bone, placed at the bone's *start* (the end
  of its parent bone): ``lfemur`` sits at the hip, ``ltibia`` at the knee, ``lfoot`` at the ankle.
  Joint 0 is ``root``; every leaf bone also gets an end joint ``<bone>_end`` at its end. Joints are
  in depth-first order of the ``:hierarchy`` (children in the order listed), each end joint right
  after its bone. Rest offsets (metres, global rest axes): a root child's is zero, the joint of a
  bone ``c`` with parent bone ``p`` has ``length_p * direction_p``.
* **Rotations**: a bone's local rotation (its joint's, relative to its parent joint) is
  ``L = C @ M @ C^-1``, where ``C`` is the bone's ``axis`` frame and ``M`` the rotation from its dof
  angles, both as rotations about fixed axes applied in the order written: ``axis ... XYZ`` (and
  dof angles in a bone whose axis order is ``XYZ``) give ``R = Rz @ Ry @ Rx`` (x applied first;
  scipy ``"xyz"``, BVH ``Zrotation Yrotation Xrotation``). ``M`` uses the bone's axis order for
  the dof axes it has (a bone with ``dof rx rz`` gets ``Rz @ Rx``). The root's ``M`` follows its
  ``order`` line (the Acclaim definition: "the sequence in which root rotations are calculated
  about fixed, global axes"), its ``C`` comes from ``orientation`` in its ``axis`` order, and its
  ``position`` is added to the AMC translation (both are zero in CMU and HDM05 files).
  The global rotation of a bone is its parent's times ``L``, so positions follow by ordinary
  forward kinematics and the motion can be written back to BVH. Bones without dofs, and end
  joints, keep the rest (identity) rotation.
* **Units**: ``:units length f`` means one file unit is ``1 / f`` inch (CMU and HDM05 write 0.45),
  so metres per unit = ``0.0254 / f``; ``angle deg`` or ``rad`` (an AMC ``:DEGREES`` /
  ``:RADIANS`` line wins for the motion's values).
* **Frame rate**: AMC files have no rate line in general: ``fps=`` if given, else a
  ``:SAMPLES-PER-SECOND`` header line, else a ``_<take>_<rate>.amc`` file name (HDM05's
  ``HDM_bd_squat1Reps_001_120.amc``), else 120 (the CMU and HDM05 rate), said in
  ``metadata["fps_source"]``.
* **Finding the ASF** (`find_asf`): ``asf=`` if given; else the ``.asf`` whose stem is the clip's
  actor prefix (``HDM_bd.asf`` for ``HDM_bd_x_001_120.amc``, ``02.asf`` for CMU ``02_01.amc``),
  next to the clip or in a sibling ``asf/`` folder one level up (HDM05's layout); else the only
  ``.asf`` next to the clip. ``.asf.gz`` counts too.
* **An ``.asf`` loaded on its own** gives the rest pose as a one-frame `Motion` (``fps=`` or 120),
  so that ``posecast info actor.asf`` shows the skeleton.

Text is decoded as UTF-8, else Latin-1 (HDM05's AMC headers name a Windows path with ``ü``), and
gzip-compressed files (``.amc.gz``, ``.asf.gz``) are read transparently.

Speed: the AMC values of a whole file are parsed at once by vectorised numpy
(`posecast.io.decimals`, the same values as ``np.loadtxt``, its fallback), after checking with numpy
on the file's bytes that every frame lists the same bones in the same order with the right number of
values (`_read_frames`); rotations and forward kinematics run on arrays in the structure-of-arrays
layout of the BVH reader (`posecast.io.bvh._euler_to_matrix_soa`, `posecast.io.bvh._fk_soa`), a few
hundred frames at a time, one Euler call per rotation order. Files that break the regular layout
(blank lines or comments between frames, bones in another order per frame, tabs, runs of blanks) are
read by a line-by-line parser, which also explains every error with its line.
``benchmarks/bvh_throughput.py`` measures it next to the BVH reader.
"""

from __future__ import annotations

import io
import math
import numbers
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import FormatError, NeedsReadingOptions, PosecastError, ValueRangeError, listed, quiet
from posecast.io.bvh import UNITS, _euler_to_matrix_soa, _fk_soa, _level_order, left_right_pairs
from posecast.io.decimals import PAD, parse_decimals, split_tokens
from posecast.io.registry import Format, inner_name, read_bytes, register_format
from posecast.motion import MAX_FPS, Motion, check_magnitude
from posecast.skeletons.base import Skeleton

__all__ = ["DEFAULT_FPS", "AsfSkeleton", "asf_left_right", "find_asf", "parse_asf", "read_amc", "read_asf"]

#: Frame rate assumed when neither ``fps=``, a header line nor the file name gives one (CMU, HDM05).
DEFAULT_FPS = 120.0
INCH_M = 0.0254

_AXES = "xyz"
_ROT_DOFS = ("rx", "ry", "rz")
_ROOT_TOKENS = ("tx", "ty", "tz", "rx", "ry", "rz")
#: Generic skeleton names written by exporters, replaced by the file stem in the skeleton's name.
_GENERIC_NAMES = {"", "vicon"}
_RATE_IN_NAME = re.compile(r"_\d+_(\d+)$")
_RATE_HEADER = re.compile(r"^:\s*SAMPLES[-_ ]?PER[-_ ]?SECOND\s*[:=]?\s*(\S+)", re.IGNORECASE)
_INT_LINE = re.compile(rb"^[ \t]*[+-]?\d+[ \t\r]*$")


# ================================================================================== ASF parsing
@dataclass(frozen=True)
class _Bone:
    name: str
    line: int
    direction: tuple[float, float, float]
    length: float
    axis: tuple[float, float, float]  # angles in the ASF's angle unit
    axis_order: str  # e.g. "xyz": rotations about fixed axes, first applied first
    dofs: tuple[str, ...]  # lower case, in file order (the order of the AMC values)


@dataclass(frozen=True, eq=False)
class AsfSkeleton:
    """A parsed ``.asf`` file (lengths in file units, angles in ``angle_unit``).

    Attributes:
        name: the ``:name`` line ("" when absent; CMU and HDM05 write ``VICON``).
        length_multiplier: the ``:units length`` value (metres per unit = 0.0254 / it).
        angle_unit: ``"deg"`` or ``"rad"``.
        root_order: the root's ``order`` tokens, lower case (``("tx", "ty", "tz", "rx", "ry", "rz")``).
        root_axis: the root's ``axis`` order, lower case (``"xyz"``).
        root_position / root_orientation: the root's preset position (file units) and orientation.
        bones: bone name -> definition, in file order.
        joint_names / parents: the joint layout (see the module notes): ``root``, one joint per
            bone, ``<bone>_end`` after every leaf bone, depth-first.
        offsets: ``(J, 3)`` rest offsets in file units.
        joint_bone: per joint, the bone whose rotation it carries (``None`` for the root and end
            joints).
    """

    name: str
    length_multiplier: float
    angle_unit: str
    root_order: tuple[str, ...]
    root_axis: str
    root_position: tuple[float, float, float]
    root_orientation: tuple[float, float, float]
    bones: dict[str, _Bone]
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    joint_bone: tuple[str | None, ...]

    @property
    def metres_per_unit(self) -> float:
        return INCH_M / self.length_multiplier

    @property
    def dof_bones(self) -> tuple[str, ...]:
        """Bones that have values in an AMC frame, in ASF order."""
        return tuple(b.name for b in self.bones.values() if b.dofs)

    def skeleton(self, name: str, scale: float | None = None) -> Skeleton:
        """The PoseCast `Skeleton` (offsets in metres, ``scale`` metres per unit; default from ``:units``)."""
        return _skeleton(self, name, self.metres_per_unit if scale is None else scale)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _float(tok: str, line: int, what: str) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise FormatError(f"line {line}: {what} {tok!r} is not a number") from None
    if not math.isfinite(value):
        raise FormatError(f"line {line}: {what} is {tok!r}; it must be finite")
    return value


def _floats(toks: list[str], n: int, line: int, what: str) -> tuple[float, ...]:
    if len(toks) < n:
        raise FormatError(f"line {line}: {what} needs {n} numbers, found {len(toks)}")
    return tuple(_float(t, line, what) for t in toks[:n])


def _order_token(tok: str, line: int, what: str) -> str:
    order = tok.lower()
    if len(order) != 3 or set(order) != set(_AXES):
        raise FormatError(f"line {line}: {what} order {tok!r} must be a permutation of XYZ")
    return order


class _BoneBuilder:
    def __init__(self, line: int) -> None:
        self.line = line
        self.fields: dict[str, Any] = {}
        self.after_limits = False


def _finish_bone(b: _BoneBuilder, bones: dict[str, _Bone]) -> None:
    f = b.fields
    name = f.get("name")
    if name is None:
        raise FormatError(f"line {b.line}: a bone (begin ... end) without a name")
    if name == "root":
        raise FormatError(f"line {b.line}: a bone may not be called 'root' (the name of the :root segment)")
    if name in bones:
        raise FormatError(f"line {b.line}: bone name {name!r} is used twice (first on line {bones[name].line})")
    for key in ("direction", "length"):
        if key not in f:
            raise FormatError(f"line {b.line}: bone {name!r} has no {key}")
    length = f["length"]
    if length < 0:
        raise FormatError(f"line {b.line}: bone {name!r} has a negative length {length}")
    d = np.asarray(f["direction"], dtype=np.float64)
    norm = float(np.linalg.norm(d))
    if norm == 0.0:
        if length > 0:
            raise FormatError(f"line {b.line}: bone {name!r} has direction 0 0 0; it needs a unit vector")
        unit = (0.0, 0.0, 0.0)
    else:
        unit = (float(d[0] / norm), float(d[1] / norm), float(d[2] / norm))
    axis, order = f.get("axis", ((0.0, 0.0, 0.0), "xyz"))
    bones[name] = _Bone(name, b.line, unit, float(length), axis, order, tuple(f.get("dof", ())))


def _bone_line(b: _BoneBuilder, key: str, toks: list[str], line: int) -> None:
    f = b.fields
    if key == "name":
        if len(toks) != 1:
            raise FormatError(f"line {line}: a bone name is one word, found {' '.join(toks)!r}")
        f["name"] = toks[0]
    elif key == "direction":
        f["direction"] = _floats(toks, 3, line, "direction")
    elif key == "length":
        f["length"] = _floats(toks, 1, line, "length")[0]
    elif key == "axis":
        angles = _floats(toks, 3, line, "axis")
        order = _order_token(toks[3], line, "axis") if len(toks) > 3 else "xyz"
        f["axis"] = (angles, order)
    elif key == "dof":
        dofs = [t.lower() for t in toks]
        for t in dofs:
            if t not in ("rx", "ry", "rz", "tx", "ty", "tz", "l"):
                raise FormatError(f"line {line}: unknown dof {t!r} (expected rx, ry, rz, tx, ty, tz or l)")
            if t not in _ROT_DOFS:
                raise FormatError(
                    f"line {line}: dof {t!r} (bone translation or stretch) is not supported; only rx, ry, rz"
                )
        if len(set(dofs)) != len(dofs):
            raise FormatError(f"line {line}: a dof is repeated in {' '.join(toks)!r}")
        f["dof"] = tuple(dofs)
    b.after_limits = key == "limits"  # limits continue on lines of bare numbers


def _parse_asf_text(text: str) -> AsfSkeleton:
    """Parse ASF text (errors carry no path: the caller adds it)."""
    name = ""
    length_mult, angle_unit = 1.0, "deg"
    root_order: tuple[str, ...] | None = None
    root_axis, root_pos, root_ori = "xyz", (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    bones: dict[str, _Bone] = {}
    hierarchy: list[tuple[int, list[str]]] = []
    seen_sections: set[str] = set()
    section = ""
    bone: _BoneBuilder | None = None
    hier_open = False
    for lineno, raw in enumerate(text.split("\n"), 1):
        stripped = raw.split("#", 1)[0].replace(",", " ").replace("(", " ").replace(")", " ").strip()
        if not stripped:
            continue
        if stripped.startswith(":"):
            if bone is not None:
                raise FormatError(f"line {lineno}: bone block opened on line {bone.line} is not closed by 'end'")
            key, _, rest = stripped.partition(" ")
            section = key[1:].lower()
            seen_sections.add(section)
            if section == "name":
                name = rest.strip()
            continue
        toks = stripped.split()
        key = toks[0].lower()
        if section == "units":
            if key == "length":
                length_mult = _floats(toks[1:], 1, lineno, ":units length")[0]
                if length_mult <= 0:
                    raise FormatError(f"line {lineno}: :units length {toks[1]} must be positive")
            elif key == "angle":
                unit = toks[1].lower() if len(toks) > 1 else ""
                if unit not in ("deg", "rad"):
                    raise FormatError(f"line {lineno}: :units angle must be deg or rad, not {unit!r}")
                angle_unit = unit
        elif section == "root":
            if key == "order":
                order = tuple(t.lower() for t in toks[1:])
                bad = [t for t in order if t not in _ROOT_TOKENS]
                if bad or len(set(order)) != len(order):
                    raise FormatError(
                        f"line {lineno}: root order {' '.join(toks[1:])!r}: expected distinct tokens among "
                        "TX TY TZ RX RY RZ"
                    )
                root_order = order
            elif key == "axis":
                root_axis = _order_token(toks[1] if len(toks) > 1 else "", lineno, "root axis")
            elif key == "position":
                root_pos = _floats(toks[1:], 3, lineno, "root position")  # type: ignore[assignment]
            elif key == "orientation":
                root_ori = _floats(toks[1:], 3, lineno, "root orientation")  # type: ignore[assignment]
        elif section == "bonedata":
            if key == "begin":
                if bone is not None:
                    raise FormatError(f"line {lineno}: 'begin' inside the bone block opened on line {bone.line}")
                bone = _BoneBuilder(lineno)
            elif key == "end":
                if bone is None:
                    raise FormatError(f"line {lineno}: 'end' without a bone block")
                _finish_bone(bone, bones)
                bone = None
            elif bone is None:
                raise FormatError(f"line {lineno}: {toks[0]!r} outside a bone block (begin ... end)")
            elif re.match(r"^[+-]?(\d|\.\d|inf|nan)", key) and bone.after_limits:
                continue
            else:
                _bone_line(bone, key, toks[1:], lineno)
        elif section == "hierarchy":
            if key == "begin":
                hier_open = True
            elif key == "end":
                hier_open = False
            else:
                if not hier_open:
                    raise FormatError(f"line {lineno}: hierarchy line outside 'begin' ... 'end'")
                hierarchy.append((lineno, toks))
    if bone is not None:
        raise FormatError(f"bone block opened on line {bone.line} is not closed by 'end' (truncated file?)")
    if "bonedata" not in seen_sections:
        if seen_sections & {"fully-specified", "degrees", "radians"}:
            raise FormatError("an AMC motion file (it has :FULLY-SPECIFIED / :DEGREES lines), not an ASF skeleton")
        if not seen_sections:
            raise FormatError("not an ASF file: no ':' keywords (:root, :bonedata, :hierarchy)")
        raise FormatError("no :bonedata section: the skeleton defines no bones")
    if not bones:
        raise FormatError("the :bonedata section defines no bones")
    if "hierarchy" not in seen_sections or not hierarchy:
        raise FormatError("no :hierarchy section (or an empty one): cannot tell how the bones connect")
    if root_order is None:
        root_order = _ROOT_TOKENS
    children: dict[str, list[str]] = {}
    parent_of: dict[str, tuple[str, int]] = {}
    for lineno, toks in hierarchy:
        parent, kids = toks[0], toks[1:]
        if parent != "root" and parent not in bones:
            raise FormatError(f"line {lineno}: the hierarchy names {parent!r}, which is not a bone of :bonedata")
        for kid in kids:
            if kid == "root":
                raise FormatError(f"line {lineno}: 'root' cannot be the child of {parent!r} (a cycle)")
            if kid not in bones:
                raise FormatError(f"line {lineno}: the hierarchy names {kid!r}, which is not a bone of :bonedata")
            if kid == parent:
                raise FormatError(f"line {lineno}: bone {kid!r} is its own parent (a cycle)")
            if kid in parent_of:
                first, first_line = parent_of[kid]
                raise FormatError(
                    f"line {lineno}: bone {kid!r} has two parents, {first!r} (line {first_line}) and {parent!r}"
                )
            parent_of[kid] = (parent, lineno)
            children.setdefault(parent, []).append(kid)
    # depth-first from the root; bones never reached are on a cycle or detached
    names: list[str] = ["root"]
    parents: list[int] = [-1]
    joint_bone: list[str | None] = [None]
    offsets: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]
    stack: list[tuple[str, int, tuple[float, float, float]]] = [
        (c, 0, (0.0, 0.0, 0.0)) for c in reversed(children.get("root", []))
    ]
    while stack:
        bname, parent_joint, offset = stack.pop()
        b = bones[bname]
        j = len(names)
        names.append(bname)
        parents.append(parent_joint)
        joint_bone.append(bname)
        offsets.append(offset)
        tip = (b.direction[0] * b.length, b.direction[1] * b.length, b.direction[2] * b.length)
        kids = children.get(bname, [])
        if not kids:
            names.append(f"{bname}_end")
            parents.append(j)
            joint_bone.append(None)
            offsets.append(tip)
        for c in reversed(kids):
            stack.append((c, j, tip))
    missing = [b for b in bones if b not in set(names)]
    if missing:
        on_cycle = [b for b in missing if b in parent_of]
        what = "on a cycle or below one" if on_cycle else "not in the :hierarchy"
        raise FormatError(f"bone(s) {', '.join(missing)} are {what}: not connected to the root")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FormatError(f"joint name {dup!r} is used twice (a bone is called like another bone's end joint)")
    off = np.asarray(offsets, dtype=np.float64)
    off.setflags(write=False)
    return AsfSkeleton(
        name=name,
        length_multiplier=length_mult,
        angle_unit=angle_unit,
        root_order=root_order,
        root_axis=root_axis,
        root_position=root_pos,
        root_orientation=root_ori,
        bones=bones,
        joint_names=tuple(names),
        parents=tuple(parents),
        offsets=off,
        joint_bone=tuple(joint_bone),
    )


@lru_cache(maxsize=32)
def _parse_asf_cached(text: str) -> AsfSkeleton:
    return _parse_asf_text(text)


def parse_asf(path: str | os.PathLike[str]) -> AsfSkeleton:
    """Parse an ``.asf`` (or ``.asf.gz``) file.

    Raises:
        FormatError: naming the file, the line and the problem (no ``:bonedata``, a bone without
            name/direction/length, duplicate bone names, a hierarchy naming unknown bones, two
            parents, cycles, unsupported dofs, non-numeric values).
    """
    p = Path(path)
    text = _decode(read_bytes(p))
    if not text.strip():
        raise FormatError("file is empty", p)
    try:
        return _parse_asf_cached(text)
    except PosecastError as exc:  # the cached parser does not know the path
        raise type(exc)(exc.problem, p) from None


# ==================================================================================== skeletons
def asf_left_right(names: tuple[str, ...] | list[str]) -> tuple[tuple[int, int], ...]:
    """``(left, right)`` pairs, sorted: `posecast.io.bvh.left_right_pairs`, which also reads the ASF habit of a
    lower-case ``l``/``r`` prefix (``lfemur``/``rfemur``, ``lhipjoint_end``/``rhipjoint_end``)."""
    return tuple(sorted(left_right_pairs(names)))


@lru_cache(maxsize=64)
def _skeleton_cached(asf: AsfSkeleton, name: str, scale: float) -> Skeleton:
    names = asf.joint_names
    has_child = set(asf.parents[1:])
    return Skeleton(
        name=name,
        joint_names=names,
        parents=asf.parents,
        offsets=asf.offsets * scale,
        left_right=asf_left_right(names),
        end_effectors=tuple(j for j in range(len(names)) if j not in has_child),
        description=f"ASF skeleton {asf.name or name!r}: one joint per bone at the bone's start, end joints at leaves",
    )


def _skeleton(asf: AsfSkeleton, name: str, scale: float) -> Skeleton:
    return _skeleton_cached(asf, name, float(scale))


def _skeleton_name(asf: AsfSkeleton, asf_path: Path) -> str:
    label = asf.name if asf.name.strip().lower() not in _GENERIC_NAMES else _stem(asf_path, ".asf")
    return f"asf-{'-'.join(label.split())}"


def _stem(path: Path, suffix: str) -> str:
    name = inner_name(path)
    return name[: -len(suffix)] if name.lower().endswith(suffix) else Path(name).stem


# ========================================================================== rotations and FK plan
def _fixed_axes_matrix(angles: tuple[float, ...], order: str, degrees: bool) -> np.ndarray:
    """``R = R_o3 @ R_o2 @ R_o1`` for ``order = o1 o2 o3`` (rotations about fixed axes, first applied first)."""
    axes = tuple(reversed([_AXES.index(a) for a in order]))
    vals = [angles[_AXES.index(a)] for a in order][::-1]
    deg = np.asarray(vals, dtype=np.float64) * (1.0 if degrees else 180.0 / math.pi)
    out = np.empty((3, 3, 1, 1))
    _euler_to_matrix_soa(deg.reshape(3, 1, 1), axes, out)
    m = out[:, :, 0, 0].copy()
    m[np.abs(m) < 1e-15] = 0.0
    return m


@dataclass(frozen=True, eq=False)
class _Plan:
    """Where each joint's values are in a frame row, with joints in level order (see `_fk_soa`).

    Rotations are computed per group of joints with the same rotation order, all three axes each:
    a dof a bone lacks reads a row of zeros (column ``n_values`` of the block), which costs less
    than one more call per dof pattern. The root is in its group like any bone.
    """

    n_values: int  # values per frame row (root first, then the dof bones in ASF order)
    columns: dict[str, tuple[int, int]]  # segment ("root" or bone) -> (first column, count)
    order: np.ndarray
    back: np.ndarray
    levels: list[tuple[int, int, int, np.ndarray]]
    # per rotation order: (axes for _euler_to_matrix_soa, level-order slots (k,), block rows (3, k),
    # and for the joints whose C is not the identity: (their positions in the group, C (n, 3, 3)))
    groups: list[tuple[tuple[int, ...], np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]]
    identity_slots: np.ndarray
    root_translation_columns: tuple[tuple[int, int], ...]  # (axis, column)
    root_position: np.ndarray  # (3,) file units
    angle_columns: np.ndarray  # columns of a frame row that hold angles (not root translations)


@lru_cache(maxsize=32)
def _plan(asf: AsfSkeleton) -> _Plan:
    columns: dict[str, tuple[int, int]] = {"root": (0, len(asf.root_order))}
    col = len(asf.root_order)
    for b in asf.bones.values():
        if b.dofs:
            columns[b.name] = (col, len(b.dofs))
            col += len(b.dofs)
    zero_row = col
    order, levels = _level_order(list(asf.parents))
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    degrees = asf.angle_unit == "deg"
    grouped: dict[tuple[int, ...], tuple[list[int], list[list[int]], list[np.ndarray]]] = {}
    identity: list[int] = []

    def add(q: int, rotation_order: str, dof_column: dict[str, int], c: np.ndarray) -> None:
        # fixed axes, first applied first: R = R_o3 @ R_o2 @ R_o1, i.e. intrinsic o3 o2 o1
        applied = rotation_order[::-1]
        axes = tuple(_AXES.index(a) for a in applied)
        slots, rows, cs = grouped.setdefault(axes, ([], [], []))
        slots.append(q)
        rows.append([dof_column.get(a, zero_row) for a in applied])
        cs.append(c)

    for q, j in enumerate(order.tolist()):
        if j == 0:
            rot = [t[1] for t in asf.root_order if t[0] == "r"]
            rotation_order = "".join(rot) + "".join(a for a in _AXES if a not in rot)
            dof_column = {t[1]: i for i, t in enumerate(asf.root_order) if t[0] == "r"}
            add(q, rotation_order, dof_column, _fixed_axes_matrix(asf.root_orientation, asf.root_axis, degrees))
            continue
        bname = asf.joint_bone[j]
        bone = asf.bones[bname] if bname is not None else None
        if bone is None or not bone.dofs:
            identity.append(q)
            continue
        first, _ = columns[bone.name]
        dof_column = {d[1]: first + i for i, d in enumerate(bone.dofs)}
        add(q, bone.axis_order, dof_column, _fixed_axes_matrix(bone.axis, bone.axis_order, degrees))
    groups = []
    for axes, (slots, rows, cs) in grouped.items():
        c_arr = np.stack(cs)
        conj = np.flatnonzero(np.abs(c_arr - np.eye(3)).max(axis=(1, 2)) > 0)
        groups.append(
            (
                axes,
                np.asarray(slots, dtype=np.int64),
                np.asarray(rows, dtype=np.int64).T,
                (conj, c_arr[conj]) if conj.size else None,
            )
        )
    trans = tuple((_AXES.index(t[1]), i) for i, t in enumerate(asf.root_order) if t[0] == "t")
    return _Plan(
        n_values=col,
        columns=columns,
        order=order,
        back=back,
        levels=levels,
        groups=groups,
        identity_slots=np.asarray(identity, dtype=np.int64),
        root_translation_columns=trans,
        root_position=np.asarray(asf.root_position, dtype=np.float64),
        angle_columns=np.setdiff1d(np.arange(col), [c for _, c in trans]),
    )


#: Joints x frames per block in `_pose` (as in the BVH reader: temporaries stay in cache).
_BLOCK_ELEMENTS = 16384


def _conjugate(c: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``C_k @ M_kt @ C_k^T`` for ``c (k, 3, 3)`` and ``m (3, 3, k, T)`` (SoA layout)."""
    cm = np.einsum("kij,jlkt->ilkt", c, m)
    return np.einsum("ilkt,kml->imkt", cm, c)


def _pose(
    data: np.ndarray, plan: _Plan, offsets_m: np.ndarray, scale: float, amc_degrees: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(T, J, 3)``, local rotations ``(T, J, 3, 3)`` and root positions ``(T, 3)`` (metres).

    Args:
        data: ``(T, V)`` frame rows (file units; angles in degrees, or radians if not ``amc_degrees``).
        plan: the layout from `_plan`.
        offsets_m: ``(J, 3)`` rest offsets in metres, output joint order.
        scale: metres per file unit.
    """
    n_frames, n_joints = data.shape[0], len(plan.order)
    positions = np.empty((n_frames, n_joints, 3))
    rotations = np.empty((n_frames, n_joints, 3, 3))
    root_all = np.empty((n_frames, 3))
    offsets_level = np.ascontiguousarray(offsets_m[plan.order].T)[:, :, None]  # (3, J, 1)
    step = max(64, _BLOCK_ELEMENTS // n_joints)
    eye = np.eye(3)[:, :, None, None]
    for t0 in range(0, n_frames, step):
        t1 = min(t0 + step, n_frames)
        tb = t1 - t0
        block = np.empty((plan.n_values + 1, tb))  # one row per value, then a row of zeros
        block[:-1] = data[t0:t1].T
        block[-1] = 0.0
        if not amc_degrees:
            block[plan.angle_columns] *= 180.0 / math.pi
        rot = np.empty((3, 3, n_joints, tb))
        for axes, slots, rows, conj in plan.groups:
            tmp = np.empty((3, 3, len(slots), tb))
            _euler_to_matrix_soa(block[rows], axes, tmp)
            if conj is not None:
                where, c = conj
                tmp[:, :, where] = _conjugate(c, tmp[:, :, where])
            rot[:, :, slots] = tmp
        if plan.identity_slots.size:
            rot[:, :, plan.identity_slots] = eye
        root = np.empty((3, tb))
        root[:] = (plan.root_position * scale)[:, None]
        for axis, c in plan.root_translation_columns:
            root[axis] += block[c] * scale
        pos = _fk_soa(rot, offsets_level, root, plan.levels)
        positions[t0:t1] = pos[:, plan.back].transpose(2, 1, 0)
        rotations[t0:t1] = rot[:, :, plan.back].transpose(3, 2, 0, 1)
        root_all[t0:t1] = root.T
    return positions, rotations, root_all


# ==================================================================================== AMC parsing
@dataclass
class _AmcHeader:
    degrees: bool | None = None
    fps: float | None = None
    fps_line: int = 0
    lines: int = 0  # header lines (the first frame line is lines + 1)
    comment: str = ""


def _split_header(text: bytes, path: Path) -> tuple[_AmcHeader, int]:
    """The header (``#`` comments and ``:`` keywords before the first frame) and where the body starts."""
    head = _AmcHeader()
    pos = 0
    line = 0
    while pos < len(text):
        end = text.find(b"\n", pos)
        end = len(text) if end < 0 else end
        raw = text[pos:end].strip()
        if raw and raw[:1] not in (b"#", b":"):
            break
        line += 1
        pos = end + 1
        if not raw:
            continue
        s = _decode(raw)
        if s.startswith("#"):
            head.comment = head.comment or s
            continue
        key = s.split()[0].upper()
        if key == ":DEGREES":
            head.degrees = True
        elif key == ":RADIANS":
            head.degrees = False
        elif key in (":BONEDATA", ":HIERARCHY", ":ROOT", ":VERSION"):
            raise FormatError(f"line {line}: {key.lower()} belongs to an ASF skeleton file, not an AMC motion", path)
        else:
            m = _RATE_HEADER.match(s)
            if m:
                try:
                    fps = float(m.group(1))
                except ValueError:
                    raise FormatError(f"line {line}: frame rate {m.group(1)!r} is not a number", path) from None
                if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
                    raise FormatError(f"line {line}: frame rate {m.group(1)!r} is not in (0, {MAX_FPS:g}]", path)
                head.fps, head.fps_line = fps, line
    head.lines = line
    return head, pos


def _diagnose(
    body: bytes, first_line: int, asf: AsfSkeleton, plan: _Plan, path: Path, asf_label: str
) -> tuple[np.ndarray, int]:
    """Line-by-line reader of the frames: returns ``(T, V)`` rows and the first frame number, or raises a
    `FormatError` with the line.

    Handles what the fast path does not: blank lines and comments between frames, leading blanks,
    tabs, bones listed in another order in different frames, and frames out of order (sorted by their
    numbers when every number from the lowest to the highest is there once; `_frame_order`).
    """
    text = _decode(body)
    rows: list[np.ndarray] = []
    numbers: list[tuple[int, int]] = []  # (frame number, its line) of each row
    row: np.ndarray | None = None
    got: set[str] = set()
    number = None
    frame_line = 0

    def close() -> None:
        if row is None:
            return
        missing = [s for s in plan.columns if s not in got]
        if missing:
            raise FormatError(
                f"frame {number} (line {frame_line}) has no line for {', '.join(map(repr, missing))}; "
                f"{asf_label} gives {'it' if len(missing) == 1 else 'them'} dofs",
                path,
            )
        rows.append(row)

    for k, raw in enumerate(text.split("\n")):
        lineno = first_line + k
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        toks = s.split()
        if len(toks) == 1 and re.fullmatch(r"[+-]?\d+", toks[0]):
            close()
            n = int(toks[0])
            number, frame_line = n, lineno
            numbers.append((n, lineno))
            row = np.empty(plan.n_values)
            got = set()
            continue
        if s.startswith(":"):
            raise FormatError(f"line {lineno}: keyword {toks[0]!r} after the first frame", path)
        name = toks[0]
        if row is None:
            raise FormatError(f"line {lineno}: expected a frame number before the values of {name!r}", path)
        if name not in plan.columns:
            if name in asf.bones:
                raise FormatError(
                    f"line {lineno}: frame {number} gives values for bone {name!r}, which has no dof in {asf_label}",
                    path,
                )
            raise FormatError(f"line {lineno}: frame {number} names bone {name!r}, which {asf_label} lacks", path)
        if name in got:
            raise FormatError(f"line {lineno}: frame {number} lists bone {name!r} twice", path)
        values = toks[1:]
        first, want = plan.columns[name]
        if len(values) != want:
            dofs = " ".join(asf.root_order if name == "root" else asf.bones[name].dofs)
            raise FormatError(
                f"line {lineno}: frame {number}, {name!r} has {len(values)} values; {asf_label} declares {want} "
                f"({dofs})",
                path,
            )
        for i, tok in enumerate(values):
            try:
                v = float(tok)
            except ValueError:
                raise FormatError(
                    f"line {lineno}: frame {number}, {name!r} value {i + 1}: {tok!r} is not a number", path
                ) from None
            if not math.isfinite(v):
                raise FormatError(
                    f"line {lineno}: frame {number}, {name!r} value {i + 1} is {tok!r}; values must be finite", path
                )
            row[first + i] = v
        got.add(name)
    close()
    if not rows:
        raise FormatError("no frames: the file has a header but no frame lines", path)
    order = _frame_order(numbers, path)
    return np.stack(rows)[order], numbers[order[0]][0]


def _frame_order(numbers: list[tuple[int, int]], path: Path) -> np.ndarray:
    """The order of an AMC file's frames by their numbers (``(number, line)`` in file order): the file's own
    when the numbers count up by one; sorted when they are out of order but every number from the lowest to the
    highest is there once; else a `FormatError` naming the line of a repeated number or the missing ones."""
    values = np.array([n for n, _ in numbers])
    if (np.diff(values) == 1).all():
        return np.arange(len(values))
    first_line: dict[int, int] = {}
    for n, line in numbers:
        if n in first_line:
            raise FormatError(
                f"line {line}: frame number {n} appears a second time (first on line {first_line[n]})", path
            )
        first_line[n] = line
    lo, hi = int(values.min()), int(values.max())
    if hi - lo + 1 == len(values):  # every frame there, in another order: sorted by number
        return np.argsort(values, kind="stable")
    if (np.diff(values) > 0).all():  # in order, with a gap
        k = int(np.flatnonzero(np.diff(values) != 1)[0]) + 1
        n, line, before = int(values[k]), numbers[k][1], int(values[k - 1])
        raise FormatError(
            f"line {line}: frame number {n} follows frame {before} (frame(s) {before + 1}-{n - 1} missing; frames "
            "must be numbered consecutively)",
            path,
        )
    if hi - lo + 1 > 2 * len(values):  # a mistyped number (frame 41234567890): not a range to enumerate
        raise FormatError(
            f"the frames are numbered {lo} (line {first_line[lo]}) to {hi} (line {first_line[hi]}), far more numbers "
            f"than the file's {len(values)} frames: a frame number is wrong (frames must be numbered consecutively)",
            path,
        )
    missing = sorted(set(range(lo, hi + 1)) - set(first_line))
    raise FormatError(
        f"frame(s) {listed([str(n) for n in missing], ', ')} missing: the frames are numbered {lo} to {hi}, out of "
        "order and with gaps (frames must be numbered consecutively)",
        path,
    )


def _loadtxt(blob: bytes, usecols: np.ndarray) -> np.ndarray | None:
    try:
        with quiet(wait=False):
            return np.loadtxt(io.BytesIO(blob), dtype=np.float64, comments=None, ndmin=2, usecols=usecols)
    except Exception:
        return None


def _fast_values(buf: np.ndarray, size: int, frame_ends: np.ndarray, layout: _FrameLayout) -> np.ndarray | None:
    """``(T, 1 + V)`` frame numbers and values of the joined frame lines ``buf[:size]`` (zero padded after;
    ``frame_ends``: the LFs between them) by `posecast.io.decimals`, or ``None`` when a frame has another
    number of tokens, a value token is not a plain decimal or a control byte other than a line end is in the
    lines (`split_tokens` would take it for a blank; then ``np.loadtxt`` reads them, or refuses)."""
    n_frames = frame_ends.size + 1
    body = buf[:size]
    if np.count_nonzero((body < 32) & (body != 10) & (body != 13)):  # other control bytes: np.loadtxt refuses them
        return None
    starts, ends = split_tokens(body)
    per = int(layout.value_tokens[-1]) + 1  # tokens of a joined frame line
    if starts.size != n_frames * per:
        return None
    if not np.array_equal(np.searchsorted(starts, frame_ends), per * np.arange(1, n_frames)):
        return None
    pick = (np.arange(n_frames)[:, None] * per + layout.value_tokens).ravel()
    values = parse_decimals(buf, starts[pick], ends[pick])
    return None if values is None else values.reshape(n_frames, -1)


def _read_frames(
    body: bytes, first_line: int, asf: AsfSkeleton, plan: _Plan, path: Path, label: str
) -> tuple[np.ndarray, int]:
    """``(T, V)`` frame rows and the first frame number.

    Fast path for the regular layout every CMU and HDM05 file has: each frame is its number, then
    one line per dof bone, the same bones in the same order, values separated by single spaces.
    It is checked on the bytes as a whole with numpy on the byte array (the number of blanks on
    every line, through the positions of blanks and line ends; the bone name at the start of every
    line, as 8-byte words gathered through a sliding-window view), each frame's lines are joined
    into one, and the values (frame numbers included, names skipped) are parsed by
    `posecast.io.decimals` (`_fast_values`: vectorised, the same float64 values as ``np.loadtxt``),
    or, when a token is not a plain decimal or a frame has another number of tokens (a line with two
    blanks in a row), by one ``np.loadtxt`` call that skips the name columns (a C parser; it fails on
    a frame with fewer values). Anything else is read, or explained with its line, by `_diagnose`.

    Measured on the 62 HDM05 clips, AMD EPYC pinned to one core: parsing their values took 185 ms
    with ``np.loadtxt`` (about half of the reader's time), 271 ms with ``float`` over ``bytes.split()``,
    134 ms with `posecast.io.decimals` (tokens found, value tokens picked, parsed); the whole reader
    went from 35,400 to about 42,000 frames/s (``benchmarks/bvh_throughput.py``). Blanking the names
    instead of skipping their columns cost ``np.loadtxt`` 15 % more, and checking them with one
    fancy-indexed byte gather 1.3 ms a clip against 0.1 ms for the word gather.
    """

    def slow() -> tuple[np.ndarray, int]:
        return _diagnose(body, first_line, asf, plan, path, label)

    body = body.rstrip(b"\r\n")
    if not body.strip():
        raise FormatError("no frames: the file has a header but no frame lines", path)
    if b"\t" in body or b"#" in body or b":" in body:  # single bytes: memchr-fast checks
        return slow()
    # frame layout from the first frame: its number line, then one line per dof bone
    first_lines: list[bytes] = []
    pos = 0
    while pos <= len(body) and len(first_lines) <= len(plan.columns) + 1:
        end = body.find(b"\n", pos)
        end = len(body) if end < 0 else end
        first_lines.append(body[pos:end].rstrip(b"\r"))
        pos = end + 1
        if len(first_lines) > 1 and _INT_LINE.match(first_lines[-1]):
            break
    stride = len(first_lines) - 1 if len(first_lines) > 1 and _INT_LINE.match(first_lines[-1]) else len(first_lines)
    if not _INT_LINE.match(first_lines[0]):
        return slow()
    names = [ln.split(b" ", 1)[0] for ln in first_lines[1:stride]]
    if stride - 1 != len(plan.columns) or {n.decode("latin-1") for n in names} != set(plan.columns):
        return slow()
    arr = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    n_lines = newlines.size + 1
    n_frames, rest = divmod(n_lines, stride)
    if rest:
        return slow()
    layout = _layout(plan, tuple(names))
    # values per line: the blanks before each line end must be the running sum of the layout's counts
    spaces = np.flatnonzero(arr == 32)
    if spaces.size != n_frames * layout.spaces_per_frame:
        return slow()
    line = np.arange(n_lines - 1)
    expected = (line // stride) * layout.spaces_per_frame + layout.cum_spaces[line % stride]
    if not np.array_equal(np.searchsorted(spaces, newlines), expected):
        return slow()
    buf = np.zeros(arr.size + max(layout.window, PAD), dtype=np.uint8)  # padded for the name windows, the parser
    buf[: arr.size] = arr
    if b"\r" in body:  # CRLF line ends (HDM05 mixes them with LF): every CR must end a line
        cr = np.flatnonzero(arr == 13)
        if not (arr[cr + 1] == 10).all():
            return slow()
        buf[cr] = 32
    # every bone line starts with its name and a blank
    starts = np.empty(n_lines, dtype=np.int64)
    starts[0] = 0
    starts[1:] = newlines + 1
    windows = np.lib.stride_tricks.sliding_window_view(buf, layout.window)
    words = windows[starts.reshape(n_frames, stride)[:, 1:]].view(np.uint64)  # (T, bones, window / 8)
    if not np.array_equal(words & layout.name_mask, np.broadcast_to(layout.name_words, words.shape)):
        return slow()
    buf[newlines[layout.join_mask(n_lines - 1)]] = 32  # one line per frame
    values = _fast_values(buf, arr.size, newlines[layout.stride - 1 :: layout.stride], layout)
    if values is None:
        values = _loadtxt(buf[: arr.size].tobytes(), layout.value_tokens)
    if values is None or values.shape != (n_frames, 1 + plan.n_values) or not np.isfinite(values).all():
        return slow()
    first = values[0, 0]
    if first != int(first) or not np.array_equal(values[:, 0], first + np.arange(n_frames)):
        return slow()
    data = np.empty((n_frames, plan.n_values))
    data[:, layout.columns] = values[:, 1:]
    return data, int(first)


@dataclass(frozen=True, eq=False)
class _FrameLayout:
    """Byte-level layout of one frame of a regular AMC file (see `_read_frames`)."""

    stride: int  # lines per frame
    spaces_per_frame: int
    cum_spaces: np.ndarray  # (stride,) blanks up to the end of each line of a frame
    window: int  # bytes compared at the start of each bone line (a multiple of 8)
    name_words: np.ndarray  # (bones, window / 8) uint64: each name and its blank, zero padded
    name_mask: np.ndarray  # (bones, window / 8) uint64: 0xFF on the bytes of the name and its blank
    value_tokens: np.ndarray  # token indices of the frame number and the values on a joined frame line
    columns: np.ndarray  # (V,) the plan's column of each value of a frame line, in file order

    def join_mask(self, n_newlines: int) -> np.ndarray:
        """True for the newlines inside a frame (they become blanks), False for those that end one."""
        mask = np.ones(n_newlines, dtype=bool)
        mask[self.stride - 1 :: self.stride] = False
        return mask


@lru_cache(maxsize=64)
def _layout(plan: _Plan, names: tuple[bytes, ...]) -> _FrameLayout:
    window = 8 * ((max(len(n) for n in names) + 1 + 7) // 8)
    words = np.zeros((len(names), window), dtype=np.uint8)
    mask = np.zeros((len(names), window), dtype=np.uint8)
    columns: list[int] = []
    counts: list[int] = []
    tokens = [0]
    for k, name in enumerate(names):
        word = name + b" "
        words[k, : len(word)] = np.frombuffer(word, dtype=np.uint8)
        mask[k, : len(word)] = 0xFF
        start, count = plan.columns[name.decode("latin-1")]
        columns += range(start, start + count)
        counts.append(count)
        tokens += range(tokens[-1] + 2, tokens[-1] + 2 + count)  # skip the name token
    return _FrameLayout(
        stride=len(names) + 1,
        spaces_per_frame=sum(counts),
        cum_spaces=np.cumsum([0, *counts]),
        window=window,
        name_words=words.view(np.uint64),
        name_mask=mask.view(np.uint64),
        value_tokens=np.asarray(tokens, dtype=np.int64),
        columns=np.asarray(columns, dtype=np.int64),
    )


# ================================================================================= finding the ASF
def _asf_candidates(folder: Path) -> list[Path]:
    try:
        named = [p for p in folder.iterdir() if p.name.lower().endswith((".asf", ".asf.gz"))]
    except OSError:
        return []
    return sorted(p for p in named if p.is_file())


def find_asf(amc: str | os.PathLike[str]) -> tuple[Path, str]:
    """The skeleton file of an AMC clip, and how it was found.

    Looks at the ``.asf`` (and ``.asf.gz``) files next to the clip and in a sibling ``asf/`` folder
    one level up. One whose stem is the clip's actor prefix (the clip's stem starts with it plus
    ``_`` or ``-``: ``HDM_bd.asf`` for ``HDM_bd_squat_001_120.amc``, ``02.asf`` for ``02_01.amc``)
    wins, the longest prefix first and the clip's own folder before ``asf/``; else the only ``.asf``
    next to the clip.

    Raises:
        FormatError: naming the clip, the files considered and how to pass the skeleton.
    """
    p = Path(amc)
    clip = _stem(p, ".amc")
    clip_dir = Path(os.path.abspath(p)).parent  # (QA: a bare file name's parent's parent was ".", not the folder above)
    here = _asf_candidates(clip_dir)
    sibling = _asf_candidates(clip_dir.parent / "asf") if clip_dir.name.lower() != "asf" else []
    scored = []
    for rank, folder in ((0, here), (1, sibling)):
        for f in folder:
            stem = _stem(f, ".asf")
            if clip == stem or (clip.startswith(stem) and clip[len(stem) : len(stem) + 1] in ("_", "-")):
                scored.append((-len(stem), rank, f.name.lower().endswith(".gz"), f))
    if scored:
        scored.sort(key=lambda s: s[:3])
        best = scored[0]
        where = "next to the clip" if best[1] == 0 else "in the sibling asf/ folder"
        return best[3], f"actor prefix, {where}"
    if len(here) == 1:
        return here[0], "the only .asf next to the clip"
    considered = [str(f) for f in here + sibling]
    seen = (
        f"considered {', '.join(considered)}: none has the clip's actor prefix "
        f"(a stem that {clip!r} starts with), and the clip's folder does not hold exactly one"
        if considered
        else f"no .asf next to the clip nor in {clip_dir.parent / 'asf'}"
    )
    raise NeedsReadingOptions(
        f"cannot find the skeleton (.asf) of this AMC clip: {seen}; pass asf=FILE (CLI: --asf FILE)", p
    )


# ==================================================================================== readers
def _metres_per_unit(units: str | float, asf: AsfSkeleton, where: Path) -> tuple[str, float]:
    if isinstance(units, str) and units == "asf":
        return "asf", asf.metres_per_unit
    if isinstance(units, bool) or not isinstance(units, str | numbers.Real):
        raise ValueRangeError(f"units must be 'asf', a unit name or metres per unit, not {units!r}", where)
    if isinstance(units, numbers.Real):
        value = float(units)
        if not math.isfinite(value) or value <= 0:
            raise ValueRangeError(f"units {units!r}: metres per unit must be a positive number", where)
        return "custom", value
    if units not in UNITS:
        raise ValueRangeError(f"unknown units {units!r}; use asf, {', '.join(UNITS)} or metres per unit", where)
    return units, UNITS[units]


def _check_options(options: dict[str, Any], where: Path) -> None:
    if "skeleton" in options:
        raise ValueRangeError("skeleton= does not apply to an AMC clip: its ASF names the joints (asf=)", where)
    if options:
        raise ValueRangeError(f"unknown option(s) for ASF/AMC: {', '.join(sorted(options))}", where)


def _fps(fps: float | None, header: _AmcHeader, path: Path) -> tuple[float, str]:
    if fps is not None:
        try:
            value = float(fps)
        except (TypeError, ValueError):
            raise ValueRangeError(f"fps {fps!r} is not a number", path) from None
        if not (math.isfinite(value) and 0 < value <= MAX_FPS):
            raise ValueRangeError(f"fps {fps!r} is not in (0, {MAX_FPS:g}]", path)
        return value, "option"
    if header.fps is not None:
        return header.fps, f"header line {header.fps_line}"
    m = _RATE_IN_NAME.search(_stem(path, ".amc"))
    if m and 1 <= int(m.group(1)) <= MAX_FPS:
        return float(m.group(1)), "file name"
    return DEFAULT_FPS, f"default ({DEFAULT_FPS:g} Hz, the CMU and HDM05 rate: pass fps= if the clip has another)"


def read_amc(
    path: str | os.PathLike[str],
    *,
    asf: str | os.PathLike[str] | None = None,
    fps: float | None = None,
    units: str | float = "asf",
    **options: Any,
) -> Motion:
    """Read an AMC motion (``.amc`` or ``.amc.gz``) on its ASF skeleton into a `Motion`.

    Args:
        path: the clip.
        asf: its ``.asf`` (``.asf.gz``) skeleton; default: found by `find_asf`.
        fps: frames per second; default: a ``:SAMPLES-PER-SECOND`` header line, else the
            ``_<take>_<rate>.amc`` file name, else 120 (``metadata["fps_source"]`` says which).
        units: ``"asf"`` (metres per unit from the ASF's ``:units length``, see the module notes),
            a unit name of `posecast.io.bvh.UNITS` or metres per unit.

    Returns:
        a `Motion`: ``positions (T, J, 3)`` metres (y up, as CMU and HDM05 capture is), local
        ``rotations (T, J, 3, 3)`` (``C M C^-1`` per bone, identity for bones without dofs and for
        end joints), ``root_translation (T, 3)``, on the ASF's skeleton (module notes; named
        ``asf-<:name>``, or ``asf-<file stem>`` when the name is the exporter's ``VICON``).

    Raises:
        FormatError: naming the file, the line and the problem: no skeleton found, an AMC frame
            naming a bone the ASF lacks or missing one it has, the wrong number of values for a
            bone's dofs, frames out of order or missing, non-numeric values, an empty file; ASF
            problems name the ASF (see `parse_asf`).
    """
    p = Path(path)
    _check_options(options, p)
    if asf is None:
        asf_path, found_by = find_asf(p)
    else:
        asf_path, found_by = Path(asf), "option"
        if not asf_path.is_file():
            raise FormatError("no such ASF file (given as asf=)", asf_path)
    skel_def = parse_asf(asf_path)
    text = read_bytes(p)
    if text.startswith(b"\xef\xbb\xbf"):
        text = text[3:]
    if not text.strip():
        raise FormatError("file is empty", p)
    if b"\r" in text and b"\n" not in text:  # old Mac line ends; CRLF is handled by the parsers
        text = text.replace(b"\r", b"\n")
    header, start = _split_header(text, p)
    plan = _plan(skel_def)
    label = f"the ASF {asf_path.name}"
    data, first_number = _read_frames(text[start:], header.lines + 1, skel_def, plan, p, label)
    unit_name, scale = _metres_per_unit(units, skel_def, p)
    frame_rate, fps_source = _fps(fps, header, p)
    skeleton = skel_def.skeleton(_skeleton_name(skel_def, asf_path), scale)
    amc_degrees = header.degrees if header.degrees is not None else skel_def.angle_unit == "deg"
    with np.errstate(all="ignore"):
        positions, rotations, root = _pose(data, plan, skeleton.offsets, scale, amc_degrees)
    if not np.isfinite(positions).all():
        raise FormatError("values are too large: joint positions overflow to infinity", p)
    check_magnitude(positions, p, FormatError)
    metadata: dict[str, Any] = {
        "source": str(p),
        "format": "amc",
        "asf": str(asf_path),
        "asf_found_by": found_by,
        "asf_name": skel_def.name,
        "units": unit_name,
        "metres_per_unit": scale,
        "asf_length_multiplier": skel_def.length_multiplier,
        "angle_unit": "deg" if amc_degrees else "rad",
        "fps_source": fps_source,
        "first_frame_number": first_number,
    }
    if header.comment:
        metadata["amc_comment"] = header.comment
    try:
        return Motion(
            positions=positions,
            fps=frame_rate,
            skeleton=skeleton,
            rotations=rotations,
            root_translation=root,
            metadata=metadata,
        )
    except PosecastError as exc:
        raise FormatError(exc.problem, p) from None


def read_asf(
    path: str | os.PathLike[str], *, fps: float | None = None, units: str | float = "asf", **options: Any
) -> Motion:
    """An ``.asf`` skeleton on its own: its rest pose as a one-frame `Motion` (``fps`` default 120).

    ``metadata["rest_pose"]`` is True. Use `read_amc` (``posecast.load(clip, asf=...)``) for motion.
    """
    p = Path(path)
    if "asf" in options:
        raise FormatError("this is an ASF skeleton, not an AMC motion: load the .amc clip, with asf= this file", p)
    _check_options(options, p)
    skel_def = parse_asf(p)
    unit_name, scale = _metres_per_unit(units, skel_def, p)
    skeleton = skel_def.skeleton(_skeleton_name(skel_def, p), scale)
    rest = skeleton.rest_positions()
    if fps is None:
        rate = DEFAULT_FPS
    else:
        try:
            rate = float(fps)
        except (TypeError, ValueError):
            raise ValueRangeError(f"fps {fps!r} is not a number", p) from None
    root = (np.asarray(skel_def.root_position) * scale)[None]
    return Motion(
        positions=(rest + root)[None],
        fps=rate,
        skeleton=skeleton,
        rotations=np.broadcast_to(np.eye(3), (1, skeleton.num_joints, 3, 3)).copy(),
        root_translation=root,
        metadata={
            "source": str(p),
            "format": "asf",
            "rest_pose": True,
            "asf_name": skel_def.name,
            "units": unit_name,
            "metres_per_unit": scale,
            "asf_length_multiplier": skel_def.length_multiplier,
        },
    )


# ===================================================================================== register
_ASF_SNIFF = re.compile(rb"^[ \t]*:(bonedata|hierarchy|root|version)\b", re.MULTILINE | re.IGNORECASE)
_AMC_HEADER_SNIFF = re.compile(rb"^[ \t]*:(fully-specified|degrees|radians)\b", re.MULTILINE | re.IGNORECASE)


def _sniff_amc(head: bytes, _: Path) -> bool:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if _AMC_HEADER_SNIFF.search(head):  # at the start of a line: a CSV comment or a JSON string that says
        return True  # "angles:radians" is no AMC clip (QA: such a .csv was read as one)
    if _ASF_SNIFF.search(head):
        return False
    lines = [ln.strip() for ln in head.replace(b"\r", b"\n").split(b"\n")]
    body = [ln for ln in lines[:-1] if ln and ln[:1] not in (b"#", b":")]
    if len(body) < 2 or not re.fullmatch(rb"[+-]?\d+", body[0]):
        return False
    toks = body[1].split()
    return len(toks) >= 2 and toks[0][:1].isalpha() and b"," not in body[1]


def _sniff_asf(head: bytes, path: Path) -> bool:
    return _ASF_SNIFF.search(head) is not None and not _sniff_amc(head, path)


register_format(
    Format(
        "amc",
        (".amc",),
        read_amc,
        None,
        _sniff_amc,
        "Acclaim AMC motion (CMU, HDM05) on its ASF skeleton (asf=, or found next to the clip)",
        gzip_aware=True,
    )
)
register_format(
    Format(
        "asf",
        (".asf",),
        read_asf,
        None,
        _sniff_asf,
        "Acclaim ASF skeleton on its own: its rest pose as a one-frame motion",
    )
)
