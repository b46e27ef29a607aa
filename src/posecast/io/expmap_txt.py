"""Exponential-map text files: the CMU-Mocap benchmark format (117 columns) and the Human3.6M format
of Martinez et al. (99 columns).

Both store one frame per line, comma-separated: the root position (3 columns), then one exp-map per
joint (3 columns each) in the skeleton's joint order. The exp-map ``r`` encodes the joint's local
rotation in the *row-vector* convention of the reference code (``R_row = expmap(r)``, positions
``p_j = offset_j @ R_row(parent) + p_parent``). In PoseCast's column-vector convention the local
rotation is the transpose, ``expmap(-r)``; FK then runs through `forward_kinematics`.

* CMU-Mocap benchmark (``cmu-mocap-38``): 120 Hz files, root position in ASF units. The benchmark FK
  ignores the root translation and the root rotation (the three children of the root are not
  rotated by it), so positions are in a body-fixed frame: `read_cmu_expmap` does the same by
  default; ``global_motion=True`` applies both. Lengths are converted to metres.
* Human3.6M (``h36m-32``): 50 Hz files, root position in millimetres, root rotation and
  translation applied (as in the Martinez et al. FK).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from posecast import skeletons
from posecast.errors import FormatError, ValueRangeError
from posecast.io.registry import SNIFF_BYTES, Format, refuse_options, register_format
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from posecast.motion import Motion, check_fps
from posecast.skeletons.cmu import ASF_UNIT_M
from posecast.skeletons.h36m import H36M_UNIT_M

CMU_COLUMNS = 117
H36M_COLUMNS = 99
CMU_FPS = 120.0
ROOT_COLUMNS = 3
"""Leading columns of a row that hold the root position (file units); the rest are exp-maps."""
MAX_ANGLE_RAD = 1000.0
"""Largest exp-map value read (radians): a value beyond is not a rotation (real files stay within a few pi)."""
H36M_FPS = 50.0


def _is_number(token: str) -> bool:
    """Whether ``np.loadtxt`` reads ``token`` as a number: Python's ``float`` also takes ``1_0`` and non-ASCII
    digits, which it does not (QA: the search for the bad value then found none and raised ``StopIteration``)."""
    if not token.isascii() or "_" in token:
        return False
    try:
        float(token)
    except ValueError:
        return False
    return True


def _is_header(row: str) -> bool:
    """Whether a file's first line is a header of column names: its first value is not a number, nor starts
    like one (a row of numbers with another separator is not a header)."""
    first = _split(row, "," in row)[0]
    return not _is_number(first) and first[:1] not in "-+.0123456789"


def _split(row: str, comma: bool) -> list[str]:
    return [v.strip() for v in row.split(",")] if comma else row.split()


def read_expmap_array(path: Path, columns: int | None = None) -> np.ndarray:
    """``(T, C)`` float64 values of an exp-map text file; checks the column count and finiteness.

    Values are separated by commas (as the benchmark files are) or, in a file whose first frame line has no
    comma, by blanks (``np.savetxt``'s default). Blank lines, ``#`` comment lines and one header line before the
    first frame (a first value that is not a number: column names) are skipped; errors give the file's 1-based
    line numbers.
    """
    text = path.read_text(encoding="utf-8-sig", errors="strict")  # (a byte-order mark is not part of line 1)
    numbered = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1)]
    numbered = [(n, r) for n, r in numbered if r and not r.startswith("#")]
    if numbered and _is_header(numbered[0][1]):
        numbered = numbered[1:]
    if not numbered:
        raise FormatError("no frames in the file", path)
    comma = "," in numbered[0][1]
    lines = [n for n, _ in numbered]
    rows = [r.rstrip(",").rstrip() if comma else r for _, r in numbered]
    counts = np.array([r.count(",") + 1 for r in rows] if comma else [len(r.split()) for r in rows])
    want = columns or int(counts[0])
    bad = np.flatnonzero(counts != want)
    if bad.size:
        i = int(bad[0])
        separator = "commas" if comma else "blanks"
        hint = f" (values are separated by {separator}, as on line {lines[0]})" if comma != ("," in rows[i]) else ""
        if ";" in rows[i] and (counts[i] == 1 or comma):  # semicolons between values, maybe decimal commas
            hint = " (values are separated by semicolons; use commas or blanks)"
            if comma:
                hint = (
                    " (values are separated by semicolons, with decimal commas; write decimal points, and commas or "
                    "blanks between values)"
                )
        layouts = {CMU_COLUMNS: "the CMU-Mocap benchmark's", H36M_COLUMNS: "Human3.6M's"}
        if not hint and want in layouts:  # say which exp-map layout the file was read as, and the other one
            other = H36M_COLUMNS if want == CMU_COLUMNS else CMU_COLUMNS
            hint = f" ({layouts[want]} layout; {layouts[other]} has {other})"
        raise FormatError(f"line {lines[i]} has {counts[i]} values, expected {want}{hint}", path)
    try:
        data = np.loadtxt(io.StringIO("\n".join(rows)), delimiter="," if comma else None, dtype=np.float64, ndmin=2)
    except ValueError:
        found = next(
            ((i, k, v) for i, r in enumerate(rows) for k, v in enumerate(_split(r, comma)) if not _is_number(v)), None
        )
        if found is None:  # (no token found: still one clear error, never a StopIteration)
            raise FormatError("values that are not plain decimal numbers", path) from None
        i, k, value = found
        raise FormatError(f"line {lines[i]}, column {k + 1}: non-numeric value {value!r}", path) from None
    if not np.isfinite(data).all():
        r, c = np.argwhere(~np.isfinite(data))[0]
        raise FormatError(f"NaN or inf at line {lines[r]}, column {c + 1}", path)
    angles = np.abs(data[:, ROOT_COLUMNS:])
    if angles.size and angles.max() > MAX_ANGLE_RAD:  # an exp-map is an angle in radians: not a rotation
        r, c = np.unravel_index(int(np.argmax(angles)), angles.shape)
        raise FormatError(
            f"line {lines[r]}, column {c + 1 + ROOT_COLUMNS}: {data[r, c + ROOT_COLUMNS]:g} is no rotation (exp-map "
            f"values are angles in radians; this file's largest is beyond {MAX_ANGLE_RAD:g})",
            path,
        )
    return data


def expmap_to_local_rotations(expmaps: np.ndarray) -> np.ndarray:
    """``(..., J, 3)`` reference-code exp-maps → ``(..., J, 3, 3)`` PoseCast local rotations."""
    return axis_angle_to_matrix(-np.asarray(expmaps))


def local_rotations_to_expmap(rotations: np.ndarray) -> np.ndarray:
    """Inverse of `expmap_to_local_rotations`."""
    return -matrix_to_axis_angle(rotations)


def expmap_fk(
    values: np.ndarray, skeleton: str, unit_m: float, root: str = "zero", offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of exp-map rows, computed the reference way in PoseCast's convention.

    Args:
        values: ``(..., 3 + 3J)`` rows (root position in file units, then one exp-map per joint).
        skeleton: the skeleton name (``cmu-mocap-38`` or ``h36m-32``).
        unit_m: metres per file unit of the root position.
        root: ``"zero"`` ignores the root rotation and position like the benchmarks (body-fixed frame,
            root at the origin); ``"as-is"`` applies columns 0-5 as an absolute root pose.
        offsets: ``(J, 3)`` bone offsets in the output unit (default: the skeleton's, in metres).

    Returns:
        ``(positions (..., J, 3), local rotations (..., J, 3, 3), root translation (..., 3) in metres)``.
    """
    if root not in ("zero", "as-is"):
        raise ValueRangeError(f"root must be 'zero' or 'as-is', not {root!r}")
    skel = skeletons.get(skeleton)
    j = skel.num_joints
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] != 3 + 3 * j:
        raise FormatError(f"{skeleton} exp-map rows need {3 + 3 * j} columns, got shape {values.shape}")
    rot = expmap_to_local_rotations(values[..., 3:].reshape(values.shape[:-1] + (j, 3)))
    trans = values[..., :3] * unit_m
    fk_rot = rot.copy()
    if root == "zero":
        fk_rot[..., 0, :, :] = np.eye(3)
    pos, _ = forward_kinematics(
        fk_rot, skel.offsets if offsets is None else offsets, skel.parents, trans if root == "as-is" else None
    )
    return pos, rot, trans


def cmu_benchmark_fk(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Joint positions exactly as the CMU-Mocap benchmark computes them.

    Args:
        values: ``(..., 117)`` rows of a benchmark file.
        offsets: ``(38, 3)`` bone offsets in the output unit (the benchmark uses raw ASF x 70).

    Returns:
        ``(..., 38, 3)`` positions in the body-fixed frame (root rotation and translation ignored).
    """
    return expmap_fk(values, "cmu-mocap-38", ASF_UNIT_M, "zero", offsets)[0]


def integrate_root_increments(values: np.ndarray) -> np.ndarray:
    """``(T, 3 + 3J)`` H3.6M rows whose columns 0-5 are per-frame root *increments* (as the Martinez et
    al. files store them) → the same rows with an absolute root position and root exp-map, starting
    from the identity at the origin.

    Column-vector form of Martinez et al.'s ``revert_coordinate_space(frames, I, 0)``:
    ``G_t = G_{t-1} @ E(r_t)^T`` and ``T_t = T_{t-1} + G_{t-1} @ d_t`` (``G`` the PoseCast root
    rotation, ``d_t`` columns 0-2, ``r_t`` columns 3-5).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != H36M_COLUMNS:
        raise FormatError(f"expected (T, {H36M_COLUMNS}) exp-map rows, got shape {values.shape}")
    out = values.copy()
    g, t = np.eye(3), np.zeros(3)
    steps = expmap_to_local_rotations(values[:, 3:6])
    for i in range(values.shape[0]):  # a running product: inherently sequential, T small
        t = t + g @ values[i, :3]
        g = g @ steps[i]
        out[i, :3] = t
        out[i, 3:6] = -matrix_to_axis_angle(g)  # back to the row-vector exp-map of the file
    return out


def _expmap_motion(
    path: Path, values: np.ndarray, skel_name: str, unit_m: float, fps: float, global_motion: bool, fmt: str
) -> Motion:
    pos, rot, trans = expmap_fk(values, skel_name, unit_m, "as-is" if global_motion else "zero")
    return Motion(
        positions=pos,
        fps=fps,
        skeleton=skel_name,
        rotations=rot,
        root_translation=trans,
        metadata={
            "source": str(path),
            "format": fmt,
            "frame": "global" if global_motion else "body (root rotation and translation ignored, as the benchmark)",
            "first_frame_is_rest_pose": fmt == "cmu-expmap",
        },
    )


def _rate(fps: float | None, native: float, skel_name: str, options: dict[str, Any], path: Path) -> float:
    """The frame rate to read an exp-map file at: ``fps`` when given (instead of the format's own, as a BVH's
    Frame Time is overridden), else ``native``; ``skeleton=`` and other options are refused (QA: they had been
    ignored without a word: ``--fps 60`` on a benchmark file gave 120 Hz)."""
    refuse_options(options, "an exp-map file", path, f"its columns are {skel_name}'s")
    return native if fps is None else check_fps(fps, path)


def read_cmu_expmap(path: Path, global_motion: bool = False, fps: float | None = None, **options: Any) -> Motion:
    """A CMU-Mocap benchmark file as a 120 Hz `Motion` on ``cmu-mocap-38`` (metres; ``fps``: another rate).

    Columns 0-5 are the absolute root position and rotation. Line 0 is the converter's synthetic
    T-pose, not motion (``metadata["first_frame_is_rest_pose"]``).
    """
    rate = _rate(fps, CMU_FPS, "cmu-mocap-38", options, Path(path))
    values = read_expmap_array(Path(path), CMU_COLUMNS)
    return _expmap_motion(Path(path), values, "cmu-mocap-38", ASF_UNIT_M, rate, global_motion, "cmu-expmap")


def read_h36m_expmap(path: Path, global_motion: bool = False, fps: float | None = None, **options: Any) -> Motion:
    """A Human3.6M exp-map file (Martinez et al.) as a 50 Hz `Motion` on ``h36m-32`` (metres; ``fps``: another
    rate).

    Columns 0-5 of these files are per-frame root increments; by default they are ignored, as the
    3D benchmarks do (body frame). ``global_motion=True`` integrates them (`integrate_root_increments`)
    and applies the resulting root pose.
    """
    rate = _rate(fps, H36M_FPS, "h36m-32", options, Path(path))
    values = read_expmap_array(Path(path), H36M_COLUMNS)
    if global_motion:
        values = integrate_root_increments(values)
    return _expmap_motion(Path(path), values, "h36m-32", H36M_UNIT_M, rate, global_motion, "h36m-expmap")


def root_increments(values: np.ndarray) -> np.ndarray:
    """Inverse of `integrate_root_increments`: ``(T, 99)`` rows with an absolute root (position in file units,
    row-vector exp-map) → the same rows with columns 0-5 as per-frame increments, as Martinez et al.'s files
    store them: ``r_t`` the exp-map of ``G_{t-1}^T @ G_t`` and ``d_t = G_{t-1}^T @ (T_t - T_{t-1})``, starting
    from the identity at the origin (``G_{-1} = I``, ``T_{-1} = 0``)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != H36M_COLUMNS:
        raise FormatError(f"expected (T, {H36M_COLUMNS}) exp-map rows, got shape {values.shape}")
    g = expmap_to_local_rotations(values[:, 3:6])  # (T, 3, 3) absolute root rotations
    before = np.concatenate([np.eye(3)[None], g[:-1]])  # G_{t-1}
    moved = np.diff(values[:, :3], axis=0, prepend=np.zeros((1, 3)))  # T_t - T_{t-1}
    out = values.copy()
    out[:, :3] = np.einsum("tji,tj->ti", before, moved)
    out[:, 3:6] = local_rotations_to_expmap(np.einsum("tji,tjk->tik", before, g))
    return out


def _stores_increments(motion: Motion) -> bool:
    """Whether ``motion`` was read from a Human3.6M file in the body frame: its root rotation and translation are
    then the file's per-frame increments as they were (`read_h36m_expmap` without ``global_motion``)."""
    meta = motion.metadata
    return meta.get("format") == "h36m-expmap" and str(meta.get("frame", "")).startswith("body")


#: which `.txt` writer holds which skeleton (`posecast.save` picks by the motion's skeleton)
_TXT_WRITERS = {"cmu-mocap-38": "cmu-expmap", "h36m-32": "h36m-expmap"}


def _write_expmap(motion: Motion, path: Path, skel_name: str, unit_m: float) -> None:
    skel = skeletons.get(skel_name)
    if not isinstance(motion, Motion) or not motion.skeleton.same_layout(skel):
        got = motion.skeleton.name if isinstance(motion, Motion) else f"a {type(motion).__name__}"
        holds = " or ".join(f"{s} (format={f!r})" for s, f in _TXT_WRITERS.items())
        raise FormatError(
            f"only {skel_name} motions can be written in this format (got {got}); .txt holds {holds}", path
        )
    if motion.rotations is None:
        raise FormatError("the motion has no joint rotations; exp-map files store rotations", path)
    trans = motion.root_translation if motion.root_translation is not None else motion.positions[:, 0]
    values = np.concatenate(
        [trans / unit_m, local_rotations_to_expmap(motion.rotations).reshape(motion.num_frames, -1)], axis=1
    )
    if skel_name == "h36m-32" and not _stores_increments(motion):  # the file's root columns are increments
        values = root_increments(values)
    np.savetxt(path, values, fmt="%.9g", delimiter=",")


def write_cmu_expmap(motion: Motion, path: Path, **_: Any) -> None:
    """A ``cmu-mocap-38`` motion as a benchmark file: the absolute root position (ASF units) and root exp-map,
    then one exp-map per joint, as `read_cmu_expmap` reads them."""
    _write_expmap(motion, path, "cmu-mocap-38", ASF_UNIT_M)


def write_h36m_expmap(motion: Motion, path: Path, **_: Any) -> None:
    """An ``h36m-32`` motion as a Martinez et al. file: columns 0-5 are per-frame root increments
    (`root_increments` of the motion's root), so that ``global_motion=True`` reads the same root path back; a
    motion read in the body frame keeps the increments it was read with."""
    _write_expmap(motion, path, "h36m-32", H36M_UNIT_M)


def _column_count(head: bytes) -> int | None:
    """The number of values on the first frame line of a file's first bytes, after blank and ``#`` lines and a
    header (as `read_expmap_array` reads them); None when there is no complete numeric line to count."""
    lines = head.removeprefix(b"\xef\xbb\xbf").split(b"\n")  # (a UTF-8 byte-order mark: not part of line 1)
    if len(head) >= SNIFF_BYTES:
        lines = lines[:-1]  # the last one may be cut short
    header_allowed = True
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        comma = b"," in line
        first = (line.split(b",")[0] if comma else line.split()[0]).strip()
        if not first or first[:1] not in b"-+.0123456789":  # `_is_header`
            if header_allowed:
                header_allowed = False
                continue
            return None
        line = line.rstrip(b",").rstrip()
        return line.count(b",") + 1 if comma else len(line.split())
    return None


def _sniff(columns: int):
    return lambda head, path: path.suffix.lower() == ".txt" and _column_count(head) == columns


def _writes(skel_name: str):
    return lambda obj: isinstance(obj, Motion) and obj.skeleton.same_layout(skeletons.get(skel_name))


register_format(
    Format(
        "cmu-expmap",
        (".txt",),
        read_cmu_expmap,
        write_cmu_expmap,
        _sniff(CMU_COLUMNS),
        "CMU-Mocap benchmark exp-map text (117 columns, 120 Hz)",
        writes=_writes("cmu-mocap-38"),
    )
)
register_format(
    Format(
        "h36m-expmap",
        (".txt",),
        read_h36m_expmap,
        write_h36m_expmap,
        _sniff(H36M_COLUMNS),
        "Human3.6M exp-map text, Martinez et al. (99 columns, 50 Hz)",
        writes=_writes("h36m-32"),
    )
)
