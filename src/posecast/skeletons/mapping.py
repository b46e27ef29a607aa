"""Mappings between joint layouts, through one common body layout, ``body-17``.

Every mapping is linear and declared as data: for each target joint a ``{source joint: weight}``
dict whose weights sum to 1 (an affine combination, so mapped positions move with the body and
mapping commutes with translation, rotation and - for left/right symmetric tables - mirroring).
Joints a layout does not have are averages of others (COCO has no spine: the mean of shoulders and
hips); a few are short extrapolations with a negative weight (documented where used).

``body-17``: the common layout
------------------------------
The 17 joints and the order of Human3.6M's 17-joint layout (``h36m-17``), with generic names and
these meanings, which every mapping below approximates:

====  ==============  =================================================================
 0    pelvis          midpoint of the two hip joints (H3.6M's root sits exactly there)
 1-3  right_hip/knee/ankle   joint centres of the right leg ("RFoot" of H3.6M is the ankle)
 4-6  left_hip/knee/ankle    same, left leg
 7    spine           mid-torso, about half-way between pelvis and thorax (H3.6M "Spine")
 8    thorax          base of the neck, between the inner ends of the collar bones
 9    neck            upper neck / chin level (H3.6M "Neck/Nose", about 12 cm above the thorax)
 10   head            upper head, between ear level and the crown (H3.6M "Head")
 11-13 left_shoulder/elbow/wrist
 14-16 right_shoulder/elbow/wrist
====  ==============  =================================================================

Left and right are the subject's own. In PoseCast's frame (metres, y up, right-handed) a subject
facing +z has the left side at +x; all kinematic skeletons here (CMU, H3.6M, SMPL) have their rest
pose in that orientation.

How good the correspondences are: joints that are the same anatomical joint centre in both layouts
(knees, elbows, wrists, and the hips of the mocap skeletons) agree up to each dataset's own joint
placement; derived joints (spine, thorax, neck, head, and the hips of keypoint detectors, which
mark the skin surface) can differ by several centimetres between layouts. Rest poses mapped here
(pelvis → thorax / thorax → neck / thorax → head, mm): H3.6M 491 / 121 / 236, SMPL 518 / 98 / 187,
CMU benchmark 334 / 132 / 222 - the cgspeed CMU hierarchy hangs the neck and both collar bones at
the top of ``Spine1``, well below the real base of the neck, so CMU torsos come out short (the
spine lands at 48 % of the way up in H3.6M and CMU, 54 % in SMPL). Use cross-layout mapping
for visualisation, training on pooled data and rough comparisons, never to compare benchmark
numbers across layouts.

**The corpus's body-17.** Through the canonical body (any rig without a table: Bandai, HDM05, and the whole
training corpus, `posecast.datasets.corpus`) the neck lands at the rig's neck *base* and the head at the base of
the skull (`BODY17_TO_CORPUS_CONVENTION`): about 12 cm and 5 cm below the meanings above. The video models are
trained on that body-17; a detector's keypoints (the documented meanings) are re-expressed with
`corpus_convention` before they read them, and what they estimate goes back with `documented_convention`
(`posecast.video.models.base.VideoForecaster.model_input`, `model_output`).

Routes: ``A → A`` is the identity (same joint names and parents), a registered direct table is used
when there is one (exact selections such as ``h36m-32 → h36m-17``), otherwise ``A → body-17 → B``
when B can be expressed in ``body-17`` joints (``body-17`` itself, ``h36m-17``). A skeleton without a table
of its own (any BVH, ASF/AMC, Mixamo, Unreal... rig) goes through the canonical body: its automatic mapping
onto ``smplh-22`` (`posecast.skeletons.canonical.retarget`), then ``smplh-22 → body-17 → B``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from posecast.errors import SkeletonError
from posecast.skeletons.base import Skeleton, get, pairs_by_prefix, register
from posecast.skeletons.cmu import CMU38_END_SITES, CMU38_NAMES
from posecast.skeletons.h36m import H36M17_FROM_32, H36M17_NAMES, H36M32_NAMES
from posecast.skeletons.smpl import SMPL_NAMES, SMPLH_BODY_JOINTS

BODY17 = "body-17"

BODY17_NAMES = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck", "head", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip
BODY17_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

WEIGHT_TOLERANCE = 1e-9
"""How far from 1 the weights of one target joint may sum."""

Table = Mapping[str, Mapping[str, float] | str]
"""``{target joint: {source joint: weight}}``; a plain source name stands for ``{name: 1.0}``."""


@register(BODY17, "body17")
def body_17() -> Skeleton:
    return Skeleton(
        name=BODY17,
        joint_names=BODY17_NAMES,
        parents=BODY17_PARENTS,
        offsets=None,
        left_right=pairs_by_prefix(BODY17_NAMES, "left_", "right_"),
        end_effectors=tuple(
            BODY17_NAMES.index(n) for n in ("head", "left_wrist", "right_wrist", "left_ankle", "right_ankle")
        ),
        description="PoseCast's common body layout: the 17 joints and order of Human3.6M's 17-joint layout with "
        "generic names (pelvis = mid-hips, thorax = base of neck...); every other layout maps onto it",
    )


# --------------------------------------------------------------------------------------- tables
def _body17_table(
    *,
    pelvis: Mapping[str, float] | str,
    spine: Mapping[str, float] | str,
    thorax: Mapping[str, float] | str,
    neck: Mapping[str, float] | str,
    head: Mapping[str, float] | str,
    limbs: Mapping[str, tuple[str, str]],
) -> dict[str, Mapping[str, float] | str]:
    """A body-17 table from the trunk entries and ``{limb joint: (left source, right source)}``."""
    table: dict[str, Mapping[str, float] | str] = {
        "pelvis": pelvis, "spine": spine, "thorax": thorax, "neck": neck, "head": head,
    }  # fmt: skip
    for joint, (left, right) in limbs.items():
        table[f"left_{joint}"] = left
        table[f"right_{joint}"] = right
    return table


def _same_names(names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    return {j: (f"left_{j}", f"right_{j}") for j in names}


_CMU_LIMBS = {
    "hip": ("LeftUpLeg", "RightUpLeg"),
    "knee": ("LeftLeg", "RightLeg"),
    "ankle": ("LeftFoot", "RightFoot"),
    "shoulder": ("LeftArm", "RightArm"),
    "elbow": ("LeftForeArm", "RightForeArm"),
    "wrist": ("LeftHand", "RightHand"),
}

#: CMU (cgspeed BVH hierarchy). ``Hips`` lies about 10 cm above and 3.5 cm behind the hip centres, so
#: the pelvis is their midpoint; ``Neck`` sits at the end of ``Spine1`` where the collar bones start
#: (the thorax); the neck is half-way between ``Neck1`` and ``Head`` (base of the skull); the head is
#: half-way between ``Head`` and the crown (``Head_end``). The spine is half-way between the lower
#: back and ``Spine``, 48 % of the way from pelvis to thorax as in H3.6M.
CMU38_TO_BODY17 = _body17_table(
    pelvis={"LeftUpLeg": 0.5, "RightUpLeg": 0.5},
    spine={"LowerBack": 0.5, "Spine": 0.5},
    thorax="Neck",
    neck={"Neck1": 0.5, "Head": 0.5},
    head={"Head": 0.5, "Head_end": 0.5},
    limbs=_CMU_LIMBS,
)

#: CMU BVH without end sites: the crown (``Head_end``) is extrapolated as ``2 Head - Neck1`` (the two
#: bones have the same length within 1 mm in the benchmark skeleton), so the head is
#: ``1.5 Head - 0.5 Neck1`` - exact in the rest pose up to that 1 mm, and off by the head's bend
#: relative to the upper neck otherwise.
CMU31_TO_BODY17 = {**CMU38_TO_BODY17, "head": {"Head": 1.5, "Neck1": -0.5}}

#: Human3.6M exp-map tree: the 17 joints are exactly 17 of the 32 (see ``h36m.H36M17_FROM_32``).
H36M32_TO_BODY17 = _body17_table(
    pelvis="Hips",
    spine="Spine1",
    thorax="Neck",
    neck="Head",
    head="Head_Site",
    limbs={
        "hip": ("LeftUpLeg", "RightUpLeg"),
        "knee": ("LeftLeg", "RightLeg"),
        "ankle": ("LeftFoot", "RightFoot"),
        "shoulder": ("LeftArm", "RightArm"),
        "elbow": ("LeftForeArm", "RightForeArm"),
        "wrist": ("LeftHand", "RightHand"),
    },
)

#: Human3.6M 17-joint layout: the definition of body-17 (a renaming).
H36M17_TO_BODY17 = _body17_table(
    pelvis="Hip",
    spine="Spine",
    thorax="Thorax",
    neck="Neck/Nose",
    head="Head",
    limbs={
        "hip": ("LHip", "RHip"),
        "knee": ("LKnee", "RKnee"),
        "ankle": ("LFoot", "RFoot"),
        "shoulder": ("LShoulder", "RShoulder"),
        "elbow": ("LElbow", "RElbow"),
        "wrist": ("LWrist", "RWrist"),
    },
)

#: SMPL / SMPL+H body. SMPL's ``pelvis`` joint is 9 cm above the hip centres, so the pelvis is their
#: midpoint; the thorax is the midpoint of the two collar joints (base of the neck); the spine is
#: half-way between ``spine1`` and ``spine2`` (54 % of the way up the torso); SMPL's ``neck`` (upper
#: neck) and ``head`` (centre of the head; SMPL has no crown joint, so this head is about 5 cm lower
#: than H3.6M's) are used as they are.
SMPL_TO_BODY17 = _body17_table(
    pelvis={"left_hip": 0.5, "right_hip": 0.5},
    spine={"spine1": 0.5, "spine2": 0.5},
    thorax={"left_collar": 0.5, "right_collar": 0.5},
    neck="neck",
    head="head",
    limbs=_same_names(("hip", "knee", "ankle", "shoulder", "elbow", "wrist")),
)

_DETECTOR_LIMBS = _same_names(("hip", "knee", "ankle", "shoulder", "elbow", "wrist"))
_SHOULDERS_AND_HIPS = {"left_shoulder": 0.25, "right_shoulder": 0.25, "left_hip": 0.25, "right_hip": 0.25}

#: COCO keypoints. No trunk points: pelvis = mid-hips, thorax = mid-shoulders, spine = the mean of
#: both (the torso centre), neck = half-way between the nose and the thorax, head = the mean of eyes
#: and ears (head centre at eye level). Detector hips and shoulders mark the body outline: they sit a
#: few centimetres lower and wider than mocap joint centres.
COCO17_TO_BODY17 = _body17_table(
    pelvis={"left_hip": 0.5, "right_hip": 0.5},
    spine=_SHOULDERS_AND_HIPS,
    thorax={"left_shoulder": 0.5, "right_shoulder": 0.5},
    neck={"nose": 0.5, "left_shoulder": 0.25, "right_shoulder": 0.25},
    head={"left_eye": 0.25, "right_eye": 0.25, "left_ear": 0.25, "right_ear": 0.25},
    limbs=_DETECTOR_LIMBS,
)

#: MediaPipe Pose / BlazePose: the same construction as COCO, on BlazePose's landmark names.
BLAZEPOSE33_TO_BODY17 = dict(COCO17_TO_BODY17)


# ------------------------------------------------------------------------------------- registry
_TABLES: dict[tuple[str, str], Table] = {}
_MATRICES: dict[tuple[str, str], np.ndarray] = {}


def register_mapping(source: str, target: str, table: Table) -> None:
    """Declare how ``target`` joints are made from ``source`` joints.

    Args:
        source: registered skeleton name of the input layout.
        target: registered skeleton name of the output layout (``"body-17"`` for the common layout).
        table: ``{target joint: {source joint: weight}}`` for every target joint; weights of a joint
            sum to 1 (a plain source name means weight 1). Checked when first used.
    """
    _TABLES[(source, target)] = table
    _MATRICES.pop((source, target), None)


def _build(source: Skeleton, target: Skeleton, table: Table) -> np.ndarray:
    where = f"mapping {source.name} → {target.name}"
    missing = [n for n in target.joint_names if n not in table]
    extra = [n for n in table if n not in target.joint_names]
    if missing or extra:
        raise SkeletonError(f"{where}: table lacks target joints {missing} or names unknown ones {extra}")
    m = np.zeros((target.num_joints, source.num_joints))
    for t, name in enumerate(target.joint_names):
        entry = table[name]
        weights = {entry: 1.0} if isinstance(entry, str) else dict(entry)
        if not weights:
            raise SkeletonError(f"{where}: no source joints for {name!r}")
        for src_name, w in weights.items():
            m[t, source.index(src_name)] += float(w)
        total = m[t].sum()
        if not np.isfinite(total) or abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise SkeletonError(f"{where}: weights of {name!r} sum to {total:.12g}, not 1")
    m.setflags(write=False)
    return m


def _registered(skel: Skeleton | str) -> Skeleton:
    """The skeleton, checked against the registered layout of the same name."""
    s = get(skel)
    try:
        reg = get(s.name)
    except SkeletonError:
        return s
    if not s.same_layout(reg):
        raise SkeletonError(f"skeleton {s.name!r} does not have the joints and parents of the registered {s.name!r}")
    return s


def _table_matrix(source: str, target: str) -> np.ndarray | None:
    if (source, target) not in _TABLES:
        return None
    if (source, target) not in _MATRICES:
        _MATRICES[(source, target)] = _build(get(source), get(target), _TABLES[(source, target)])
    return _MATRICES[(source, target)]


def _from_body17(target: str) -> np.ndarray | None:
    """``(J_target, 17)`` matrix making ``target`` from body-17, when body-17 determines it."""
    if target == BODY17:
        return np.eye(len(BODY17_NAMES))
    direct = _table_matrix(BODY17, target)
    if direct is not None:
        return direct
    to_body = _table_matrix(target, BODY17)
    if to_body is not None and to_body.shape[0] == to_body.shape[1]:
        is_perm = np.isin(to_body, (0.0, 1.0)).all() and (to_body.sum(axis=0) == 1).all()
        if is_perm:
            return to_body.T.copy()
    return None


CANONICAL_BODY = "smplh-22"
"""The canonical body of `posecast.skeletons.canonical`: any rig without a table of its own (a BVH, ASF,
Mixamo... skeleton) reaches the other layouts through its automatic mapping onto it."""


def _canonical_matrix(source: Skeleton) -> np.ndarray | None:
    """``(22, J)``: ``source`` onto the canonical body by `posecast.skeletons.canonical.retarget`, or None when
    its joints cannot be found."""
    from posecast.skeletons.canonical import retarget

    try:
        return retarget(source).matrix
    except SkeletonError:
        return None


def _route(source: Skeleton, target: Skeleton) -> tuple[np.ndarray, str]:
    if source.same_layout(target):
        return np.eye(source.num_joints), "identity"
    direct = _table_matrix(source.name, target.name)
    if direct is not None:
        return direct, "direct"
    from_body = _from_body17(target.name)
    if source.name == BODY17 and from_body is not None:
        return from_body, "direct"
    to_body = np.eye(source.num_joints) if source.name == BODY17 else _table_matrix(source.name, BODY17)
    if to_body is not None and from_body is not None:
        return from_body @ to_body, f"via {BODY17}"
    # no table: the automatic mapping onto the canonical body (and on from it); for a layout that has a table
    # onto body-17 (which cannot provide the canonical body), only to reach the canonical body itself
    onto_canonical = target.same_layout(get(CANONICAL_BODY)) and not source.same_layout(target)
    canonical = _canonical_matrix(source) if to_body is None or onto_canonical else None
    if canonical is not None:
        via = get(CANONICAL_BODY)
        if target.same_layout(via):
            return canonical, "via the canonical body's automatic mapping"
        try:
            onward, _ = _route(via, target)
        except SkeletonError:
            raise SkeletonError(
                f"no joint mapping from {source.name!r} to {target.name!r}: it maps onto the canonical body "
                f"{CANONICAL_BODY}, but {target.name!r} has joints that {BODY17} cannot provide"
            ) from None
        return onward @ canonical, f"via {CANONICAL_BODY} (the canonical body's automatic mapping)"
    known = sorted({s for s, t in _TABLES if t == BODY17})
    if to_body is None:
        why = (
            f"{source.name!r} has no mapping onto {BODY17} (layouts that have one: {', '.join(known)}) and "
            "does not map onto the canonical body by its joint names"
        )
    else:
        why = f"{target.name!r} has joints that {BODY17} cannot provide"
    raise SkeletonError(f"no joint mapping from {source.name!r} to {target.name!r}: {why}")


# ------------------------------------------------------------------------- the corpus's body-17
#: How the canonical body (``smplh-22``) lands on ``body-17`` for the corpus's mocap rigs, which is what every
#: model trained on the corpus filmed on ``body-17`` saw (`corpus_convention`): `retarget` puts the canonical
#: ``neck`` at the rig's neck base (CMU ``Neck``, where the collar bones start) and its ``head`` at the base of
#: the skull (CMU ``Head``), so through `SMPL_TO_BODY17` the corpus's body-17 neck sits at the documented
#: thorax (about 12 cm below the documented neck) and its head half-way between the documented neck and head;
#: its thorax (the collar joints' midpoint) 2 cm below the documented one. The rows (every other joint is
#: kept) were fitted by least squares on the CMU BVH training files, which map both ways (the direct
#: `CMU31_TO_BODY17` table and the canonical route): residual 0 mm for the neck and head, 9.9 mm for the
#: thorax (weights rounded, the shoulders made symmetric).
BODY17_TO_CORPUS_CONVENTION: dict[str, Mapping[str, float] | str] = {
    **{name: name for name in BODY17_NAMES},
    "thorax": {"thorax": 0.90, "neck": -0.41, "head": 0.10, "left_shoulder": 0.205, "right_shoulder": 0.205},
    "neck": "thorax",
    "head": {"neck": 0.5, "head": 0.5},
}


#: The way back (`documented_convention`): the corpus's neck is the documented thorax; the documented neck and
#: head lie on the line from the corpus's neck through its head, at 0.75 and 1.25 of the way (least squares on the
#: same CMU BVH files: residual 6.4 mm for each; the shoulders add nothing that matters, 6.2 mm).
CORPUS_CONVENTION_TO_BODY17: dict[str, Mapping[str, float] | str] = {
    **{name: name for name in BODY17_NAMES},
    "thorax": "neck",
    "neck": {"neck": 0.25, "head": 0.75},
    "head": {"neck": -0.25, "head": 1.25},
}


def mapped_visibility(matrix: np.ndarray, visibility: Any) -> np.ndarray:
    """``(..., J_target)`` visibility of points mapped by ``matrix (J_target, J_source)``: each target joint's is the
    least of its source joints' (``visibility (..., J_source)``)."""
    vis = np.asarray(visibility, dtype=np.float64)
    return np.stack([vis[..., np.flatnonzero(row)].min(axis=-1) for row in matrix], axis=-1)


_CONVENTION_MATRICES: dict[str, np.ndarray] = {}


def _convention_matrix(to_corpus: bool) -> np.ndarray:
    """``(17, 17)`` of `BODY17_TO_CORPUS_CONVENTION` (``to_corpus``) or `CORPUS_CONVENTION_TO_BODY17`, built once."""
    key = "to_corpus" if to_corpus else "to_documented"
    if key not in _CONVENTION_MATRICES:
        body = get(BODY17)
        table = BODY17_TO_CORPUS_CONVENTION if to_corpus else CORPUS_CONVENTION_TO_BODY17
        _CONVENTION_MATRICES[key] = _build(body, body, table)
    return _CONVENTION_MATRICES[key]


def _remap_body17(matrix: np.ndarray, points: Any) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2] != matrix.shape[1]:
        raise SkeletonError(f"array of shape {arr.shape} does not fit (..., {matrix.shape[1]}, C) for {BODY17!r}")
    return _apply(matrix, arr)


def documented_convention(points: Any) -> np.ndarray:
    """``(..., 17, C)`` points on the corpus's body-17 (what a corpus-trained video model estimates) re-expressed
    with the documented meanings (`CORPUS_CONVENTION_TO_BODY17`): neck at the upper neck, head near the crown."""
    return _remap_body17(_convention_matrix(False), points)


def corpus_convention(points: Any, visibility: Any = None) -> Any:
    """``(..., 17, C)`` body-17 points (pixels or metres; NaN: missing) re-expressed as the corpus's body-17
    (`BODY17_TO_CORPUS_CONVENTION`): the input a model trained on the corpus expects from a pose detector. With
    ``visibility (..., 17)`` also returns the visibility of each new joint (`mapped_visibility`)."""
    m = _convention_matrix(True)
    out = _remap_body17(m, points)
    return out if visibility is None else (out, mapped_visibility(m, visibility))


def can_map(source: Skeleton | str, target: Skeleton | str) -> bool:
    """True when `mapping_matrix(source, target)` exists."""
    try:
        _route(_registered(source), _registered(target))
    except SkeletonError:
        return False
    return True


def mapping_matrix(source: Skeleton | str, target: Skeleton | str) -> np.ndarray:
    """``(J_target, J_source)`` matrix ``M`` with ``target_positions = M @ source_positions``.

    Each row sums to 1. Raises `SkeletonError` when the layouts cannot be mapped.
    """
    m, _ = _route(_registered(source), _registered(target))
    return np.array(m)


def mapping_table(source: Skeleton | str, target: Skeleton | str) -> dict[str, dict[str, float]]:
    """``{target joint: {source joint: weight}}`` of the (possibly composed) mapping."""
    src, tgt = _registered(source), _registered(target)
    m, _ = _route(src, tgt)
    return {
        tgt.joint_names[t]: {src.joint_names[s]: float(m[t, s]) for s in np.flatnonzero(m[t])}
        for t in range(tgt.num_joints)
    }


def _apply(m: np.ndarray, arr: np.ndarray) -> np.ndarray:
    out = np.einsum("ts,...sc->...tc", m, np.where(np.isfinite(arr), arr, 0.0))
    bad = ~np.isfinite(arr).all(axis=-1)
    if bad.any():  # a missing source joint spoils exactly the target joints that use it
        spoiled = np.einsum("ts,...s->...t", (m != 0).astype(np.float64), bad.astype(np.float64)) > 0
        out[spoiled] = np.nan
    return out


def map_positions(positions: Any, target: Skeleton | str, source: Skeleton | str) -> tuple[np.ndarray, str]:
    """Positions ``(..., J_source, C)`` on layout ``source`` mapped onto ``target``, and the route taken.

    Returns:
        the ``(..., J_target, C)`` float64 array (NaN in a source joint spoils only the target joints
        made from it) and the route: ``"identity"``, ``"direct"`` or ``"via body-17"``.

    Raises:
        SkeletonError: no mapping exists, or the array does not fit the source layout.
    """
    tgt, src = _registered(target), _registered(source)
    arr = np.asarray(positions, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2] != src.num_joints:
        raise SkeletonError(
            f"array of shape {arr.shape} does not fit (..., {src.num_joints}, C) for skeleton {src.name!r}"
        )
    m, route = _route(src, tgt)
    return _apply(m, arr), route


def to_layout(data: Any, target: Skeleton | str, source: Skeleton | str | None = None) -> Any:
    """Joint positions on another layout.

    Args:
        data: an array ``(..., J_source, C)`` of positions (``C = 3``, or 2 for image keypoints); NaN
            marks missing joints and spoils only the target joints made from them. Or an object that
            maps itself, such as a `posecast.motion.Motion`: its own ``to_layout(target)`` is called
            (`Motion.to_layout`: a new `Motion` on ``target`` with the same fps, no rotations, and
            ``metadata["layout_mapping"]``; the motion itself when the layouts are the same).
        target: the layout to map onto (name or `Skeleton`).
        source: the layout of an array (required for arrays: several layouts share a joint count);
            for an object that maps itself, optional and checked against its skeleton.

    Returns:
        the ``(..., J_target, C)`` array (`map_positions`), or what ``data.to_layout`` returns.

    Raises:
        SkeletonError: no mapping exists, or the data do not fit the source layout.
    """
    if not isinstance(data, np.ndarray) and callable(getattr(data, "to_layout", None)):
        return data.to_layout(target) if source is None else data.to_layout(target, source=source)
    _registered(target)
    if source is None:
        raise SkeletonError("to_layout needs source= for a plain array (which layout are its joints in?)")
    return map_positions(data, target, source)[0]


def layouts() -> list[str]:
    """Names of the layouts that map onto ``body-17``."""
    return sorted({s for s, t in _TABLES if t == BODY17} | {BODY17})


register_mapping("cmu-mocap-38", BODY17, CMU38_TO_BODY17)
register_mapping("cmu-bvh-31", BODY17, CMU31_TO_BODY17)
register_mapping("h36m-32", BODY17, H36M32_TO_BODY17)
register_mapping("h36m-17", BODY17, H36M17_TO_BODY17)
register_mapping("smpl-24", BODY17, SMPL_TO_BODY17)
register_mapping("smplh-22", BODY17, SMPL_TO_BODY17)
register_mapping("coco-17", BODY17, COCO17_TO_BODY17)
register_mapping("blazepose-33", BODY17, BLAZEPOSE33_TO_BODY17)

# Exact selections between related layouts (each target joint is one source joint).
register_mapping("h36m-32", "h36m-17", {t: H36M32_NAMES[s] for t, s in zip(H36M17_NAMES, H36M17_FROM_32, strict=True)})
register_mapping("smpl-24", "smplh-22", {n: n for n in SMPL_NAMES[:SMPLH_BODY_JOINTS]})
register_mapping("cmu-mocap-38", "cmu-bvh-31", {n: n for i, n in enumerate(CMU38_NAMES) if i not in CMU38_END_SITES})


def canonical_via_body17(name: str) -> dict[str, dict[str, float]]:
    """Explicit `posecast.skeletons.canonical.retarget` entries for the registered layout ``name``: the canonical
    body made from its joints through its table onto ``body-17`` and ``body-17``'s own mapping."""
    from posecast.skeletons.canonical import NAMES, retarget

    composed = retarget(BODY17).matrix @ mapping_matrix(name, BODY17)  # (22, J)
    joints = get(name).joint_names
    return {
        NAMES[i]: {joints[j]: float(composed[i, j]) for j in np.flatnonzero(np.abs(composed[i]) > 1e-12)}
        for i in range(len(NAMES))
    }


def _register_fallbacks() -> None:
    """Keypoint layouts without a spine reach the canonical body through their body-17 table."""
    from posecast.skeletons.canonical import register_fallback

    for name in ("coco-17", "blazepose-33"):
        register_fallback(name, lambda name=name: canonical_via_body17(name))


_register_fallbacks()
