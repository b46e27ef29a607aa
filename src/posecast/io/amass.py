"""AMASS motion files (``.npz``, SMPL+H body-model parameters) as motions on ``smplh-22``.

An AMASS file (Mahmood et al., ICCV 2019) is a numpy archive with

* ``poses``: ``(T, 156)`` axis-angle rotations of the 52 SMPL+H joints (22 body joints - root
  orientation in columns 0-2 - then 2 x 15 hand joints); columns 0-65 are the body. ``(T, 66)``
  (body only), ``(T, 72)`` (SMPL: 24 joints, its two hand joints are dropped) and ``(T, 165)`` (the
  SMPL-X release: 55 joints, body first) are read the same way.
* or, as AMASS's SMPL-X release and other SMPL-X exports split them, ``root_orient`` ``(T, 3)`` and
  ``pose_body`` ``(T, 63)`` (with ``pose_hand``, ``pose_jaw``, ``pose_eye``, not read): the same 66 numbers.
* ``trans``: ``(T, 3)`` translation in metres; ``mocap_framerate`` (``mocap_frame_rate`` in the SMPL-X
  release): frames per second; ``betas`` (16 shape coefficients), ``gender``, ``dmpls`` (soft tissue).

What the reader does, and what it leaves out:

* rotations: axis-angle → matrices (SMPL uses PoseCast's column-vector convention: a joint's global
  rotation is its parent's times its local rotation);
* positions: forward kinematics with the **mean-shape** rest offsets of ``smplh-22`` (see
  ``posecast.skeletons.smpl``: the SMPL male template at zero shape). ``betas``, ``gender`` and
  ``dmpls`` are ignored, so every subject gets the same body proportions; lengths stay in metres;
* the pelvis is placed at ``trans``. SMPL rotates the body about its pelvis joint ``J_0``, which sits
  at a shape-dependent point of the model frame (a few mm sideways, some 0.2-0.25 m down the model's
  y axis and about 3 cm along z), so a mesh made by the body model has its pelvis at ``trans + J_0``:
  the motion here is shifted by that constant vector, which changes no relative pose or velocity;
* axes: AMASS is z-up. PoseCast is y-up, so the world is rotated by -90 degrees about x,
  ``(x, y, z) → (x, z, -y)``: the root orientation becomes ``A @ R_root`` and the translation
  ``A @ trans`` with ``A = Rx(-90°)``, which rotates the whole motion rigidly (the body's own y-up
  rest frame is untouched). A standing AMASS subject (root orientation about +90 degrees about x)
  thus stands along +y.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from posecast import skeletons
from posecast.errors import FormatError
from posecast.io.registry import Format, refuse_options, register_format
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.rotations import axis_angle_to_matrix
from posecast.motion import MAX_FPS, Motion, check_fps
from posecast.skeletons.smpl import SMPLH_BODY_JOINTS

SKELETON = "smplh-22"
BODY_COLUMNS = 3 * SMPLH_BODY_JOINTS
POSE_WIDTHS = {
    156: "SMPL+H (52 joints)",
    66: "body only (22 joints)",
    72: "SMPL (24 joints)",
    165: "SMPL-X (55 joints)",
}
"""Accepted widths of ``poses``: all start with the 22 body joints."""

Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""``Rx(-90°)``: AMASS's z-up world to PoseCast's y-up world, ``(x, y, z) → (x, z, -y)``."""

_REQUIRED_MEMBERS = frozenset({"poses.npy", "trans.npy"})
#: the split layout of AMASS's SMPL-X releases and other SMPL-X exports: the body's 66 numbers in two arrays
_SPLIT_MEMBERS = frozenset({"root_orient.npy", "pose_body.npy", "trans.npy"})
_FPS_KEYS = ("mocap_framerate", "mocap_frame_rate")


def is_amass_npz(path: str | Path) -> bool:
    """True when ``path`` is a zip archive whose members include ``poses.npy`` and ``trans.npy`` (or the split
    SMPL-X layout: ``root_orient.npy``, ``pose_body.npy`` and ``trans.npy``).

    Reads only the zip directory (at the end of the file), never the arrays.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            return _REQUIRED_MEMBERS <= names or _SPLIT_MEMBERS <= names
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _sniff(head: bytes, path: Path) -> bool:
    return head[:4] == b"PK\x03\x04" and is_amass_npz(path)


def _array(z: Any, key: str, path: Path) -> np.ndarray:
    if key not in z:
        raise FormatError(f"missing array {key!r} (an AMASS motion file has poses, trans and mocap_framerate)", path)
    try:
        arr = z[key]
    except ValueError as exc:  # object arrays need pickle, which is never allowed
        raise FormatError(f"array {key!r} cannot be read without unpickling ({exc})", path) from None
    if not isinstance(arr, np.ndarray):  # a member that is not in .npy format comes back as raw bytes
        raise FormatError(f"member {key!r} of the archive is not a numpy array", path)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):  # (complex: its imaginary part was dropped)
        raise FormatError(f"array {key!r} has non-real dtype {arr.dtype}", path)
    return arr.astype(np.float64)


def _gender(z: Any) -> str:
    if "gender" not in z:
        return "unknown"
    try:
        g = z["gender"]
    except ValueError:  # stored as a pickled object: not needed, not unpickled
        return "unknown"
    value = g.item() if g.shape == () else (g.reshape(-1)[0] if g.size else "")
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value) or "unknown"


def _finite(name: str, arr: np.ndarray, path: Path) -> None:
    if not np.isfinite(arr).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise FormatError(f"{name} contains NaN or inf (first at index {idx})", path)


def amass_arrays_to_motion(
    poses: np.ndarray, trans: np.ndarray, fps: float, source: str | None = None, **metadata: Any
) -> Motion:
    """A `Motion` on ``smplh-22`` from AMASS parameters (z-up world).

    Args:
        poses: ``(T, P)`` axis-angle rotations, the 22 body joints in the first 66 columns.
        trans: ``(T, 3)`` translations in metres, z up.
        fps: frames per second.
        source: file name for messages and metadata.
        **metadata: extra facts stored in ``Motion.metadata``.

    Returns:
        positions ``(T, 22, 3)`` by mean-shape FK, rotations ``(T, 22, 3, 3)`` (root orientation
        converted to y-up), root translation ``(T, 3)`` (= ``trans`` in y-up), all in metres, y up.
    """
    poses = np.asarray(poses, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    skel = skeletons.get(SKELETON)
    rot = axis_angle_to_matrix(poses[:, :BODY_COLUMNS].reshape(-1, SMPLH_BODY_JOINTS, 3))
    rot[:, 0] = Z_UP_TO_Y_UP @ rot[:, 0]
    root = trans @ Z_UP_TO_Y_UP.T
    pos, _ = forward_kinematics(rot, skel.offsets, skel.parents, root)
    meta = {"format": "amass", "up_axis": "converted from z-up by Rx(-90 deg)", **metadata}
    if source is not None:
        meta = {"source": source, **meta}
    return Motion(positions=pos, fps=fps, skeleton=skel, rotations=rot, root_translation=root, metadata=meta)


def read_amass(path: Path, fps: float | None = None, **options: Any) -> Motion:
    """An AMASS ``.npz`` as a `Motion` on ``smplh-22`` (metres, y up; see the module notes); ``fps`` instead of its
    ``mocap_framerate`` (as a BVH's Frame Time is overridden); ``skeleton=`` and other options are refused (QA: they
    had been ignored without a word).

    Raises:
        FormatError: missing arrays, wrong shapes, NaN/inf values or an impossible frame rate.
    """
    path = Path(path)
    refuse_options(options, "an AMASS file", path, "it is read on smplh-22")
    given_fps = None if fps is None else check_fps(fps, str(path))
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise FormatError(f"not a readable .npz archive ({exc})", path) from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise FormatError("a single numpy array, not an AMASS .npz archive", path)
    with z:
        if "poses" not in z and "root_orient" in z and "pose_body" in z:  # split SMPL-X layout: the body's 66
            root, body = _array(z, "root_orient", path), _array(z, "pose_body", path)
            if root.ndim != 2 or body.ndim != 2 or root.shape[1] != 3 or body.shape[1] != BODY_COLUMNS - 3:
                raise FormatError(
                    f"'root_orient' {root.shape} and 'pose_body' {body.shape}: expected (T, 3) and (T, "
                    f"{BODY_COLUMNS - 3})",
                    path,
                )
            if root.shape[0] != body.shape[0]:
                raise FormatError(f"'root_orient' has {root.shape[0]} frames and 'pose_body' {body.shape[0]}", path)
            poses = np.concatenate([root, body], axis=1)
        else:
            poses = _array(z, "poses", path)
        trans = _array(z, "trans", path)
        fps_key = next((k for k in _FPS_KEYS if k in z), None)
        if fps_key is None:
            raise FormatError("missing 'mocap_framerate' (frames per second)", path)
        fps_arr = _array(z, fps_key, path)
        n_betas = int(_array(z, "betas", path).size) if "betas" in z else 0
        gender = _gender(z)
    if poses.ndim != 2 or poses.shape[1] not in POSE_WIDTHS:
        widths = ", ".join(f"{w} ({what})" for w, what in POSE_WIDTHS.items())
        raise FormatError(f"'poses' has shape {poses.shape}; expected (T, P) with P one of {widths}", path)
    if poses.shape[0] == 0:
        raise FormatError("'poses' has no frames", path)
    if trans.shape != (poses.shape[0], 3):
        raise FormatError(f"'trans' has shape {trans.shape}; expected ({poses.shape[0]}, 3) to match 'poses'", path)
    if fps_arr.size != 1:
        raise FormatError(f"{fps_key!r} has shape {fps_arr.shape}; expected a single number", path)
    _finite("'poses'", poses, path)
    _finite("'trans'", trans, path)
    fps = float(fps_arr.reshape(-1)[0])
    if given_fps is not None:
        fps = given_fps
    elif not np.isfinite(fps) or fps <= 0 or fps > MAX_FPS:
        raise FormatError(f"{fps_key!r} is {fps!r}, not a frame rate in (0, {MAX_FPS:g}] frames/s", path)
    return amass_arrays_to_motion(
        poses,
        trans,
        fps,
        source=str(path),
        gender=gender,
        pose_width=int(poses.shape[1]),
        ignored=f"betas ({n_betas} values), gender, dmpls and hand joints: mean-shape body",
    )


register_format(
    Format(
        "amass",
        (".npz",),
        read_amass,
        None,
        _sniff,
        "AMASS SMPL+H parameters (.npz with poses, trans, mocap_framerate), read on smplh-22 by mean-shape FK",
    )
)
