"""Skeleton definitions (CMU, H3.6M, SMPL, keypoint layouts) and the mapping layer onto body-17."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import posecast
from posecast import skeletons
from posecast.errors import SkeletonError
from posecast.io.expmap_txt import expmap_fk, integrate_root_increments
from posecast.kinematics import axis_angle_to_matrix, forward_kinematics
from posecast.skeletons import mapping
from posecast.skeletons.base import Skeleton
from posecast.skeletons.h36m import (
    EXPMAP_COLUMNS,
    H36M17_FROM_32,
    H36M32_DUPLICATES,
    H36M32_OFFSETS_MM,
    H36M32_PARENTS,
    H36M32_STATIC_JOINTS,
    H36M32_USED_22,
    H36M_UNIT_M,
)
from posecast.synthetic import synthetic_walk


def expmap_to_pose(frames, root="zero"):
    return expmap_fk(frames, "h36m-32", H36M_UNIT_M, root)


ALL = skeletons.names()
KINEMATIC = [n for n in ALL if skeletons.get(n).has_offsets]
LAYOUTS = [n for n in mapping.layouts() if n != "body-17"]


# ------------------------------------------------------------------------------------ the trees
def test_expected_skeletons_are_registered():
    expected = {"cmu-mocap-38", "cmu-bvh-31", "h36m-32", "h36m-17", "smpl-24", "smplh-22", "blazepose-33", "coco-17"}
    assert expected | {"body-17"} <= set(ALL)
    assert {n: skeletons.get(n).num_joints for n in expected} == {
        "cmu-mocap-38": 38, "cmu-bvh-31": 31, "h36m-32": 32, "h36m-17": 17, "smpl-24": 24, "smplh-22": 22,
        "blazepose-33": 33, "coco-17": 17,
    }  # fmt: skip
    assert skeletons.get("coco").name == "coco-17" and skeletons.get("amass").name == "smplh-22"
    assert set(KINEMATIC) == {"cmu-mocap-38", "cmu-bvh-31", "h36m-32", "h36m-17", "smpl-24", "smplh-22"}


@pytest.mark.parametrize("name", ALL)
def test_every_skeleton_is_a_valid_tree(name):
    s = skeletons.get(name)
    j = s.num_joints
    assert s.parents[0] == -1 and all(0 <= p < i for i, p in enumerate(s.parents[1:], 1))
    assert len(set(s.joint_names)) == j
    depth = np.zeros(j, int)  # every joint reaches the root
    for i in range(1, j):
        depth[i] = depth[s.parents[i]] + 1
    assert (depth[1:] > 0).all()
    flat = [i for pair in s.left_right for i in pair]
    assert len(flat) == len(set(flat)), "a joint is in two mirror pairs"
    assert s.end_effectors and all(0 <= e < j for e in s.end_effectors)
    assert s.description
    if s.has_offsets:
        assert s.offsets.shape == (j, 3) and np.all(s.offsets[0] == 0)
        assert np.isfinite(s.offsets).all()
    back = Skeleton.from_dict(s.to_dict())
    assert back.same_layout(s) and back.left_right == s.left_right


def _side_free(name: str) -> str:
    n = re.sub(r"(?i)left|right", "", name)
    return re.sub(r"^[LR](?=[A-Z_])", "", n)


def _is_sided(name: str) -> bool:
    return bool(re.search(r"(?i)left|right", name) or re.match(r"^[LR](?=[A-Z_])", name))


@pytest.mark.parametrize("name", ALL)
def test_mirror_pairs_are_complete_and_an_involution(name):
    s = skeletons.get(name)
    perm = s.mirror_permutation
    np.testing.assert_array_equal(perm[perm], np.arange(s.num_joints))
    for a, b in s.left_right:
        assert _side_free(s.joint_names[a]) == _side_free(s.joint_names[b]), (s.joint_names[a], s.joint_names[b])
        assert re.search(r"(?i)left|^L(?=[A-Z_])|_left$", s.joint_names[a]), "pairs are (left, right)"
    paired = {i for pair in s.left_right for i in pair}
    unpaired_sided = [n for i, n in enumerate(s.joint_names) if _is_sided(n) and i not in paired]
    assert not unpaired_sided
    # the mirror image of the drawing tree is the tree itself (bones map onto bones)
    bones = {tuple(b) for b in s.bones}
    assert {(int(perm[p]), int(perm[c])) for p, c in bones} == bones


# Left/right twins mirror each other across x = 0 in the rest pose. Tolerances: H3.6M's offsets are
# symmetric to 0.01 mm by construction, except the two wrist end points (100.0 vs 137.5 mm, checked
# below). The CMU offsets are one actor's calibration and the SMPL template a scanned body: measured
# worst cases are 16 mm (CMU benchmark, finger tips), 25 mm (CMU subject 01: shoulders, plus a spine
# leaning 5 mm to one side) and 18 mm (SMPL: spine2 sits 9 mm off the mid-plane), hence 3 cm. A
# mispaired joint or a sign typo in an x offset costs more than a hip half-width (>= 6 cm). Which
# side is +x is checked separately (test_rest_pose_follows_the_posecast_convention).
SYMMETRY = {
    "cmu-mocap-38": (0.03, ()),
    "cmu-bvh-31": (0.03, ()),
    "h36m-32": (1e-4, (22, 23, 30, 31)),
    "h36m-17": (1e-4, ()),
    "smpl-24": (0.03, ()),
    "smplh-22": (0.03, ()),
}


@pytest.mark.parametrize("name", KINEMATIC)
def test_rest_pose_is_left_right_symmetric(name):
    tol, exceptions = SYMMETRY[name]
    s = skeletons.get(name)
    rest = s.rest_positions()
    mirrored = (rest * [-1.0, 1.0, 1.0])[s.mirror_permutation]
    err = np.linalg.norm(mirrored - rest, axis=-1)
    keep = np.setdiff1d(np.arange(s.num_joints), exceptions)
    assert err[keep].max() < tol, (s.joint_names[int(keep[np.argmax(err[keep])])], err[keep].max())
    if name == "h36m-32":  # the documented exception: R_Wrist_End is 37.5 mm further from the hand
        np.testing.assert_allclose(err[[22, 30]], 0.137499922 - 0.100000188, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "left_hip", "right_hip", "ankle", "toe", "head", "pelvis"),
    [
        ("cmu-mocap-38", "LeftUpLeg", "RightUpLeg", "LeftFoot", "LeftToeBase", "Head", "Hips"),
        ("cmu-bvh-31", "LeftUpLeg", "RightUpLeg", "LeftFoot", "LeftToeBase", "Head", "Hips"),
        ("h36m-32", "LeftUpLeg", "RightUpLeg", "LeftFoot", "LeftToeBase", "Head", "Hips"),
        ("smpl-24", "left_hip", "right_hip", "left_ankle", "left_foot", "head", "pelvis"),
    ],
)
def test_rest_pose_follows_the_posecast_convention(name, left_hip, right_hip, ankle, toe, head, pelvis):
    """y up, facing +z (toes ahead of the ankle), left side at +x: up x forward = +x."""
    s = skeletons.get(name)
    rest = s.rest_positions()
    at = {n: rest[s.index(n)] for n in (left_hip, right_hip, ankle, toe, head, pelvis)}
    assert at[left_hip][0] > 0.05 and at[right_hip][0] < -0.05
    assert at[toe][2] > at[ankle][2] + 0.05
    assert at[head][1] > at[pelvis][1] + 0.4 > at[ankle][1] + 0.8
    assert np.allclose(np.cross([0, 1, 0], [0, 0, 1]), [1, 0, 0])


def test_fk_with_identity_rotations_gives_the_rest_pose():
    for name in KINEMATIC:
        s = skeletons.get(name)
        pos, _ = forward_kinematics(np.broadcast_to(np.eye(3), (2, s.num_joints, 3, 3)), s.offsets, s.parents)
        np.testing.assert_allclose(pos[1], s.rest_positions(), atol=1e-12)


# -------------------------------------------------------------------------------------- H3.6M
def _reference_fkl(frame: np.ndarray) -> np.ndarray:
    """The row-vector FK of the reference code (LTD's numpy ``fkl``), written out literally, in mm."""

    def rodrigues(r):
        theta = np.linalg.norm(r)
        k = r / (theta + np.finfo(np.float32).eps)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx

    rot, xyz = [None] * 32, [None] * 32
    for i in range(32):
        r = rodrigues(frame[3 + 3 * i : 6 + 3 * i])
        p = H36M32_PARENTS[i]
        if p == -1:
            rot[i], xyz[i] = r, H36M32_OFFSETS_MM[i] + frame[:3]
        else:
            xyz[i] = H36M32_OFFSETS_MM[i] @ rot[p] + xyz[p]
            rot[i] = r @ rot[p]
    return np.array(xyz)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_h36m_fk_matches_the_row_vector_reference(seed):
    rng = np.random.default_rng(seed)
    frames = rng.uniform(-2.0, 2.0, size=(3, EXPMAP_COLUMNS))
    frames[:, :3] = rng.normal(scale=500.0, size=(3, 3))
    pos, rot, trans = expmap_to_pose(frames, root="as-is")
    # 1e-3 mm: the reference divides the axis by (angle + float32 eps), a relative error of ~1e-7
    for k in range(3):
        np.testing.assert_allclose(pos[k] * 1000, _reference_fkl(frames[k]), atol=1e-3)
    np.testing.assert_allclose(trans * 1000, frames[:, :3])
    zeroed = frames.copy()
    zeroed[:, :6] = 0
    body, _, _ = expmap_to_pose(frames, root="zero")
    np.testing.assert_allclose(body[0] * 1000, _reference_fkl(zeroed[0]), atol=1e-3)
    # the local rotations really are what FK consumed
    again, _ = forward_kinematics(rot, skeletons.get("h36m-32").offsets, H36M32_PARENTS, trans)
    np.testing.assert_allclose(again, pos, atol=1e-12)


def test_h36m_static_and_duplicate_joints_behave_as_documented():
    rng = np.random.default_rng(0)
    frames = rng.uniform(-1.5, 1.5, size=(5, EXPMAP_COLUMNS))
    pos, _, _ = expmap_to_pose(frames, root="zero")
    rest = skeletons.get("h36m-32").rest_positions()
    np.testing.assert_allclose(
        pos[:, list(H36M32_STATIC_JOINTS)], np.broadcast_to(rest[list(H36M32_STATIC_JOINTS)], (5, 4, 3)), atol=1e-12
    )
    for joint, twin in H36M32_DUPLICATES.items():
        np.testing.assert_allclose(pos[:, joint], pos[:, twin], atol=1e-12)
    moving = np.ptp(pos[:, list(H36M32_USED_22)], axis=0).max(axis=-1)
    assert len(H36M32_USED_22) == 22 and (moving > 1e-3).all()


def test_integrate_root_increments_matches_revert_coordinate_space():
    """Against a literal row-vector transcription of Martinez et al.'s revert_coordinate_space(., I, 0)."""
    rng = np.random.default_rng(5)
    frames = rng.uniform(-0.3, 0.3, size=(6, EXPMAP_COLUMNS))
    frames[:, :3] = rng.normal(scale=30.0, size=(6, 3))
    r_prev, t_prev = np.eye(3), np.zeros(3)
    want = frames.copy()
    for i in range(6):
        r_diff = axis_angle_to_matrix(frames[i, 3:6])  # Rodrigues, as the reference expmap2rotmat
        r = r_diff @ r_prev
        t = t_prev + r_prev.T @ frames[i, :3]
        want[i, :3], want[i, 3:6] = t, posecast.kinematics.matrix_to_axis_angle(r)
        r_prev, t_prev = r, t
    got = integrate_root_increments(frames)
    np.testing.assert_allclose(got, want, atol=1e-12)
    with pytest.raises(posecast.PosecastError, match="99"):
        integrate_root_increments(frames[:, :50])


def test_h36m_17_is_the_lifting_subset_of_h36m_32():
    s17, s32 = skeletons.get("h36m-17"), skeletons.get("h36m-32")
    assert s17.joint_names[:4] == ("Hip", "RHip", "RKnee", "RFoot") and s17.joint_names[-1] == "RWrist"
    assert s17.parents == skeletons.get("body-17").parents  # shoulders hang from the thorax
    np.testing.assert_allclose(s17.rest_positions(), s32.rest_positions()[list(H36M17_FROM_32)], atol=1e-12)
    m = skeletons.mapping_matrix("h36m-32", "h36m-17")
    np.testing.assert_array_equal(m, np.eye(32)[list(H36M17_FROM_32)])
    # and it is exact on moving poses too (the dropped stubs do not matter)
    pos, _, _ = expmap_to_pose(np.random.default_rng(1).uniform(-1, 1, (4, EXPMAP_COLUMNS)))
    mapped = skeletons.to_layout(pos, "h36m-17", source="h36m-32")
    sub = pos[:, list(H36M17_FROM_32)]
    np.testing.assert_allclose(mapped, sub)
    np.testing.assert_allclose(mapped, skeletons.to_layout(pos, "body-17", source="h36m-32"))
    with pytest.raises(posecast.PosecastError, match="99 columns"):
        expmap_to_pose(np.zeros((2, 98)))


# --------------------------------------------------------------------------------------- SMPL
def test_smpl_template_numbers():
    s24, s22 = skeletons.get("smpl-24"), skeletons.get("smplh-22")
    np.testing.assert_array_equal(s22.offsets, s24.offsets[:22])
    assert s22.parents == s24.parents[:22]
    rest = s24.rest_positions()
    femur = np.linalg.norm(s24.offsets[s24.index("left_knee")])
    tibia = np.linalg.norm(s24.offsets[s24.index("left_ankle")])
    assert femur == pytest.approx(0.3889875, abs=1e-7) and tibia == pytest.approx(0.4287674, abs=1e-7)
    head_above_pelvis = sum(s24.offsets[s24.index(n), 1] for n in ("spine1", "spine2", "spine3", "neck", "head"))
    assert rest[s24.index("head"), 1] == pytest.approx(head_above_pelvis) == pytest.approx(0.61896518, abs=1e-8)
    np.testing.assert_array_equal(skeletons.mapping_matrix("smpl-24", "smplh-22"), np.eye(24)[:22])


# ------------------------------------------------------------------------------- keypoint layouts
def test_blazepose_layout_is_mediapipes():
    pose = pytest.importorskip("mediapipe.python.solutions.pose")
    s = skeletons.get("blazepose-33")
    assert s.joint_names == tuple(lm.name.lower() for lm in pose.PoseLandmark)
    official = {frozenset(e) for e in pose.POSE_CONNECTIONS}
    extra = {frozenset(e) for e in ((0, 9), (0, 10), (7, 11), (8, 12))}  # documented face-body links
    assert {frozenset(map(int, b)) for b in s.bones} <= official | extra
    assert s.offsets is None


def test_coco_layout_uses_cocos_own_edges():
    # COCO's person_keypoints "skeleton" (1-based), as published with the annotations
    coco_skeleton = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
                     [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]  # fmt: skip
    official = {frozenset((a - 1, b - 1)) for a, b in coco_skeleton}
    s = skeletons.get("coco-17")
    assert s.joint_names[0] == "nose" and s.joint_names[5:7] == ("left_shoulder", "right_shoulder")
    assert {frozenset(map(int, b)) for b in s.bones} <= official
    assert s.offsets is None
    with pytest.raises(SkeletonError, match="no rest offsets"):
        s.rest_positions()


# ------------------------------------------------------------------------------------ mappings
def _pairs():
    direct = [("h36m-32", "h36m-17"), ("smpl-24", "smplh-22"), ("cmu-mocap-38", "cmu-bvh-31")]
    return [(s, "body-17") for s in LAYOUTS] + [(s, "h36m-17") for s in LAYOUTS] + direct


@pytest.mark.parametrize(("source", "target"), _pairs())
def test_mapping_matrices_are_affine(source, target):
    m = skeletons.mapping_matrix(source, target)
    assert m.shape == (skeletons.get(target).num_joints, skeletons.get(source).num_joints)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)
    assert skeletons.can_map(source, target)
    table = skeletons.mapping_table(source, target)
    assert list(table) == list(skeletons.get(target).joint_names)
    assert all(abs(sum(w.values()) - 1) < 1e-12 for w in table.values())


@pytest.mark.parametrize("source", LAYOUTS + ["body-17"])
def test_mapping_commutes_with_mirroring(source):
    """Mirroring then mapping = mapping then mirroring, as matrices and on a Motion."""
    s, t = skeletons.get(source), skeletons.get("body-17")
    m = skeletons.mapping_matrix(s, t)
    np.testing.assert_allclose(m[:, s.mirror_permutation], m[t.mirror_permutation], atol=1e-12)
    pos = np.random.default_rng(2).normal(size=(3, s.num_joints, 3))
    motion = posecast.Motion(pos, 30.0, s)
    a = skeletons.to_layout(motion.mirror(), "body-17")
    b = skeletons.to_layout(motion, "body-17").mirror()
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(LAYOUTS), st.integers(0, 2**31 - 1))
def test_mapping_moves_with_the_body(source, seed):
    """Weights summing to 1 make mapping commute with any rotation + translation."""
    rng = np.random.default_rng(seed)
    j = skeletons.get(source).num_joints
    pos = rng.normal(size=(2, j, 3))
    r = axis_angle_to_matrix(rng.normal(size=3))
    t = rng.normal(size=3) * 5
    moved = skeletons.to_layout(pos @ r.T + t, "body-17", source=source)
    np.testing.assert_allclose(moved, skeletons.to_layout(pos, "body-17", source=source) @ r.T + t, atol=1e-9)


def _body17(name: str, rest: np.ndarray) -> dict[str, np.ndarray]:
    mapped = skeletons.to_layout(rest, "body-17", source=name)
    return dict(zip(skeletons.get("body-17").joint_names, mapped, strict=True))


@pytest.mark.parametrize("name", KINEMATIC)
def test_rest_pose_on_body17_is_plausible_anatomy(name):
    b = _body17(name, skeletons.get(name).rest_positions())
    # vertical order along +y
    assert b["head"][1] > b["neck"][1] > b["thorax"][1] > b["spine"][1] > b["pelvis"][1]
    for side in ("left", "right"):
        assert b[f"{side}_hip"][1] > b[f"{side}_knee"][1] + 0.3 > b[f"{side}_ankle"][1] + 0.6
        thigh = np.linalg.norm(b[f"{side}_knee"] - b[f"{side}_hip"])
        shin = np.linalg.norm(b[f"{side}_ankle"] - b[f"{side}_knee"])
        upper_arm = np.linalg.norm(b[f"{side}_elbow"] - b[f"{side}_shoulder"])
        assert 0.35 < thigh < 0.5 and 0.35 < shin < 0.5 and 0.22 < upper_arm < 0.32
    # left at +x, right at -x; pelvis half-way between the hips
    assert b["left_hip"][0] > 0.05 > -0.05 > b["right_hip"][0]
    np.testing.assert_allclose(b["pelvis"], (b["left_hip"] + b["right_hip"]) / 2, atol=1e-6)
    if name != "h36m-32" and name != "h36m-17":  # H3.6M's rest pose has both arms raised along the spine
        assert b["left_shoulder"][0] > 0.1 and b["right_shoulder"][0] < -0.1
        assert b["left_wrist"][0] > b["left_elbow"][0] > b["left_shoulder"][0]


def test_cmu_rest_pose_on_body17_numbers():
    """Hand-checked against the benchmark offsets (ASF units x 0.0254 / 0.45 m)."""
    b = _body17("cmu-mocap-38", skeletons.get("cmu-mocap-38").rest_positions())
    unit = 0.0254 / 0.45
    np.testing.assert_allclose(b["left_hip"], np.array([1.65674, -1.80282, 0.62477]) * unit, atol=1e-12)
    thorax_y = (2.0545 + 2.06436) * unit  # LowerBack (0) + Spine + Spine1; Neck has a zero offset
    assert b["thorax"][1] == pytest.approx(thorax_y)
    head_y = thorax_y + (1.56711 + 1.56041 + 0.5 * 1.6256) * unit
    assert b["head"][1] == pytest.approx(head_y)
    # CMU-31 (no Head_end) extrapolates the crown: within 3 mm of CMU-38's head on the same offsets
    rest38 = skeletons.get("cmu-mocap-38").rest_positions()
    from_31 = skeletons.to_layout(
        skeletons.to_layout(rest38, "cmu-bvh-31", source="cmu-mocap-38"), "body-17", source="cmu-bvh-31"
    )
    assert np.linalg.norm(from_31[10] - b["head"]) < 0.003
    np.testing.assert_allclose(np.delete(from_31, 10, axis=0), np.delete(list(b.values()), 10, axis=0), atol=1e-12)


def test_mapping_through_body17_and_identity():
    walk = synthetic_walk(seconds=0.5, fps=20.0)
    assert skeletons.to_layout(walk, walk.skeleton) is walk
    np.testing.assert_array_equal(skeletons.mapping_matrix("coco-17", "coco"), np.eye(17))
    out = skeletons.to_layout(walk, "h36m-17")
    assert out.skeleton.name == "h36m-17" and out.fps == walk.fps and out.rotations is None
    assert out.metadata["layout_mapping"] == {"from": walk.skeleton.name, "to": "h36m-17", "route": "via body-17"}
    via = skeletons.to_layout(skeletons.to_layout(walk, "body-17"), "h36m-17")
    np.testing.assert_allclose(out.positions, via.positions)
    composed = skeletons.mapping_matrix("body-17", "h36m-17") @ skeletons.mapping_matrix(walk.skeleton, "body-17")
    np.testing.assert_allclose(skeletons.mapping_matrix(walk.skeleton, "h36m-17"), composed)


def test_mapping_errors_are_clear():
    assert not skeletons.can_map("coco-17", "cmu-mocap-38")
    with pytest.raises(SkeletonError, match="'cmu-mocap-38' has joints that body-17 cannot provide"):
        skeletons.mapping_matrix("coco-17", "cmu-mocap-38")
    odd = Skeleton("my-rig", ("root", "a"), (-1, 0))
    with pytest.raises(SkeletonError, match="'my-rig' has no mapping onto body-17"):
        skeletons.to_layout(np.zeros((1, 2, 3)), "body-17", source=odd)
    with pytest.raises(SkeletonError, match="needs source="):
        skeletons.to_layout(np.zeros((5, 17, 3)), "body-17")
    with pytest.raises(SkeletonError, match=r"does not fit \(\.\.\., 33, C\)"):
        skeletons.to_layout(np.zeros((5, 17, 3)), "body-17", source="blazepose-33")
    impostor = Skeleton("coco-17", tuple(f"j{i}" for i in range(17)), (-1,) + (0,) * 16)
    with pytest.raises(SkeletonError, match="does not have the joints and parents of the registered"):
        skeletons.mapping_matrix(impostor, "body-17")
    with pytest.raises(SkeletonError, match="unknown skeleton"):
        skeletons.can_map("coco-17", "nope") or skeletons.mapping_matrix("coco-17", "nope")
    walk = synthetic_walk(seconds=0.2, fps=20.0)
    with pytest.raises(SkeletonError, match="not on the given source"):
        skeletons.to_layout(walk, "body-17", source="coco-17")


def test_bad_tables_are_rejected(monkeypatch):
    monkeypatch.setattr(mapping, "_TABLES", dict(mapping._TABLES))
    monkeypatch.setattr(mapping, "_MATRICES", {})
    table = dict(mapping.COCO17_TO_BODY17)
    table["head"] = {"left_eye": 0.5, "right_eye": 0.4}
    mapping.register_mapping("coco-17", "body-17", table)
    with pytest.raises(SkeletonError, match="weights of 'head' sum to 0.9"):
        skeletons.mapping_matrix("coco-17", "body-17")
    mapping.register_mapping("coco-17", "body-17", {k: v for k, v in table.items() if k != "neck"})
    with pytest.raises(SkeletonError, match=r"lacks target joints \['neck'\]"):
        skeletons.mapping_matrix("coco-17", "body-17")
    mapping.register_mapping("coco-17", "body-17", {**mapping.COCO17_TO_BODY17, "neck": "chin"})
    with pytest.raises(SkeletonError, match="no joint 'chin'"):
        skeletons.mapping_matrix("coco-17", "body-17")


def test_keypoint_arrays_2d_and_missing_joints():
    rng = np.random.default_rng(4)
    kp = rng.uniform(0, 640, size=(10, 17, 2))  # pixels
    kp[3, skeletons.get("coco-17").index("left_ear")] = np.nan
    out = skeletons.to_layout(kp, "body-17", source="coco-17")
    assert out.shape == (10, 17, 2)
    bad = np.argwhere(~np.isfinite(out).all(axis=-1))
    assert bad.tolist() == [[3, skeletons.get("body-17").index("head")]]
    names = skeletons.get("coco-17").joint_names
    np.testing.assert_allclose(out[:, 0], (kp[:, names.index("left_hip")] + kp[:, names.index("right_hip")]) / 2)


# ---------------------------------------------------------------------------------- real data
def test_cmu_benchmark_file_on_body17(cmu_mocap_dir):
    motion = posecast.load(cmu_mocap_dir / "test" / "walking" / "walking_1.txt")
    b = skeletons.to_layout(motion, "body-17")
    names = b.skeleton.joint_names
    p = b.positions[1:]  # line 0 is the converter's T-pose
    at = {n: p[:, i] for i, n in enumerate(names)}
    assert (at["head"][:, 1] > at["thorax"][:, 1]).all() and (at["thorax"][:, 1] > at["pelvis"][:, 1] + 0.2).all()
    assert (at["left_hip"][:, 0] > at["right_hip"][:, 0]).all()
    for side in ("left", "right"):  # bones of the mapped layout stay rigid where they are real bones
        shin = np.linalg.norm(at[f"{side}_ankle"] - at[f"{side}_knee"], axis=-1)
        assert np.ptp(shin) < 1e-9


def test_a_skeleton_in_any_joint_order_is_put_parents_first_with_its_permutation():
    from posecast.skeletons.base import in_any_order

    # Kinect v2's SDK order: Neck (2) hangs from SpineShoulder (20), which comes later
    names = ["SpineBase", "SpineMid", "Neck", "Head", "SpineShoulder"]
    parents = [-1, 0, 4, 2, 1]
    offsets = np.arange(15.0).reshape(5, 3)
    skel, order = in_any_order("kinect", names, parents, offsets)
    assert order.tolist() == [0, 1, 4, 2, 3]  # depth-first from the root
    assert skel.joint_names == ("SpineBase", "SpineMid", "SpineShoulder", "Neck", "Head")
    assert skel.parents == (-1, 0, 1, 2, 3)
    np.testing.assert_array_equal(skel.offsets, offsets[order])
    given = np.random.default_rng(0).normal(size=(7, 5, 3))
    np.testing.assert_array_equal(given[:, order][:, np.argsort(order)], given)  # in and back out
    same, none = in_any_order("ok", ["a", "b"], [-1, 0])
    assert none is None and same.joint_names == ("a", "b")
    with pytest.raises(SkeletonError, match="exactly one root"):
        in_any_order("two", ["a", "b"], [-1, -1])
    with pytest.raises(SkeletonError, match="out of range or themselves: b"):
        in_any_order("bad", ["a", "b"], [-1, 5])
    with pytest.raises(SkeletonError, match="not connected to the root 'a'.*b, c"):
        in_any_order("loop", ["a", "b", "c"], [-1, 2, 1])
