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
from posecast.errors import FormatError
from posecast.io.registry import Format, register_format
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from posecast.motion import Motion
from posecast.skeletons.cmu import ASF_UNIT_M

CMU_COLUMNS = 117
H36M_COLUMNS = 99
CMU_FPS = 120.0
H36M_FPS = 50.0
H36M_UNIT_M = 0.001


def read_expmap_array(path: Path, columns: int | None = None) -> np.ndarray:
    """``(T, C)`` float64 values of an exp-map text file; checks the column count and finiteness."""
    text = path.read_text(encoding="utf-8", errors="strict")
    rows = [ln.strip().rstrip(",") for ln in text.splitlines()]
    rows = [r for r in rows if r]
    if not rows:
        raise FormatError("no frames in the file", path)
    counts = np.array([r.count(",") + 1 for r in rows])
    want = columns or int(counts[0])
    bad = np.flatnonzero(counts != want)
    if bad.size:
        i = int(bad[0])
        raise FormatError(f"line {i + 1} has {counts[i]} values, expected {want}", path)
    try:
        data = np.loadtxt(io.StringIO("\n".join(rows)), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise FormatError(f"non-numeric value ({exc})", path) from None
    if not np.isfinite(data).all():
        r, c = np.argwhere(~np.isfinite(data))[0]
        raise FormatError(f"NaN or inf at line {r + 1}, column {c + 1}", path)
    return data


def expmap_to_local_rotations(expmaps: np.ndarray) -> np.ndarray:
    """``(..., J, 3)`` reference-code exp-maps → ``(..., J, 3, 3)`` PoseCast local rotations."""
    return axis_angle_to_matrix(-np.asarray(expmaps))


def local_rotations_to_expmap(rotations: np.ndarray) -> np.ndarray:
    """Inverse of `expmap_to_local_rotations`."""
    return -matrix_to_axis_angle(rotations)


def cmu_benchmark_fk(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Joint positions exactly as the CMU-Mocap benchmark computes them.

    Args:
        values: ``(..., 117)`` rows of a benchmark file.
        offsets: ``(38, 3)`` bone offsets in the output unit (the benchmark uses raw ASF x 70).

    Returns:
        ``(..., 38, 3)`` positions in the body-fixed frame (root rotation and translation ignored).
    """
    j = offsets.shape[0]
    rot = expmap_to_local_rotations(values[..., 3 : 3 + 3 * j].reshape(values.shape[:-1] + (j, 3)))
    rot[..., 0, :, :] = np.eye(3)
    pos, _ = forward_kinematics(rot, offsets, skeletons.get("cmu-mocap-38").parents)
    return pos


def _expmap_motion(
    path: Path, values: np.ndarray, skel_name: str, unit_m: float, fps: float, global_motion: bool, fmt: str
) -> Motion:
    skel = skeletons.get(skel_name)
    j = skel.num_joints
    rot = expmap_to_local_rotations(values[:, 3 : 3 + 3 * j].reshape(-1, j, 3))
    trans = values[:, :3] * unit_m
    fk_rot = rot.copy()
    if not global_motion:
        fk_rot[:, 0] = np.eye(3)
    pos, _ = forward_kinematics(fk_rot, skel.offsets, skel.parents, trans if global_motion else None)
    return Motion(
        positions=pos,
        fps=fps,
        skeleton=skel,
        rotations=rot,
        root_translation=trans,
        metadata={
            "source": str(path),
            "format": fmt,
            "frame": "global" if global_motion else "body (root rotation and translation ignored, as the benchmark)",
            "first_frame_is_rest_pose": fmt == "cmu-expmap",
        },
    )


def read_cmu_expmap(path: Path, global_motion: bool = False, **_: Any) -> Motion:
    """A CMU-Mocap benchmark file as a 120 Hz `Motion` on ``cmu-mocap-38`` (metres).

    Line 0 is the converter's synthetic T-pose, not motion (``metadata["first_frame_is_rest_pose"]``).
    """
    values = read_expmap_array(Path(path), CMU_COLUMNS)
    return _expmap_motion(Path(path), values, "cmu-mocap-38", ASF_UNIT_M, CMU_FPS, global_motion, "cmu-expmap")


def read_h36m_expmap(path: Path, global_motion: bool = True, **_: Any) -> Motion:
    """A Human3.6M exp-map file (Martinez et al.) as a 50 Hz `Motion` on ``h36m-32`` (metres)."""
    values = read_expmap_array(Path(path), H36M_COLUMNS)
    return _expmap_motion(Path(path), values, "h36m-32", H36M_UNIT_M, H36M_FPS, global_motion, "h36m-expmap")


def _write_expmap(motion: Motion, path: Path, skel_name: str, unit_m: float) -> None:
    skel = skeletons.get(skel_name)
    if not motion.skeleton.same_layout(skel):
        raise FormatError(f"only {skel_name} motions can be written in this format (got {motion.skeleton.name})", path)
    if motion.rotations is None:
        raise FormatError("the motion has no joint rotations; exp-map files store rotations", path)
    trans = motion.root_translation if motion.root_translation is not None else motion.positions[:, 0]
    values = np.concatenate(
        [trans / unit_m, local_rotations_to_expmap(motion.rotations).reshape(motion.num_frames, -1)], axis=1
    )
    np.savetxt(path, values, fmt="%.9g", delimiter=",")


def write_cmu_expmap(motion: Motion, path: Path, **_: Any) -> None:
    _write_expmap(motion, path, "cmu-mocap-38", ASF_UNIT_M)


def write_h36m_expmap(motion: Motion, path: Path, **_: Any) -> None:
    _write_expmap(motion, path, "h36m-32", H36M_UNIT_M)


def _column_count(head: bytes) -> int | None:
    line = head.split(b"\n", 1)[0].strip().rstrip(b",")
    if not line or line[:1] not in b"-+.0123456789":
        return None
    return line.count(b",") + 1


def _sniff(columns: int):
    return lambda head, path: path.suffix.lower() == ".txt" and _column_count(head) == columns


register_format(
    Format(
        "cmu-expmap",
        (".txt",),
        read_cmu_expmap,
        write_cmu_expmap,
        _sniff(CMU_COLUMNS),
        "CMU-Mocap benchmark exp-map text (117 columns, 120 Hz)",
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
    )
)
