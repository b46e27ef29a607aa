"""Inverse kinematics from positions (`posecast.kinematics.ik`): bone directions reproduced exactly,
twists from the reference, bone lengths kept, no NaN on degenerate bones."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posecast.errors import SkeletonError
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.ik import extend_rotations, local_translations, rotations_from_positions, swing
from posecast.skeletons.base import Skeleton


def rz(deg: float) -> np.ndarray:
    return Rotation.from_euler("z", deg, degrees=True).as_matrix()


def ry(deg: float) -> np.ndarray:
    return Rotation.from_euler("y", deg, degrees=True).as_matrix()


def random_rotations(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix().reshape(shape + (3, 3))


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# A tree with most cases: a root whose children are a zero-length helper (at its parent, like CMU's
# LHipJoint) and a spine, single-child chains, a chest with three non-collinear children, a neck with
# two, leaves. (Collinear children: `test_collinear_children_take_the_reference_twist`.)
TREE = Skeleton(
    name="ik-test",
    joint_names=(
        "root",
        "helper",
        "thigh",
        "shin",
        "spine",
        "chest",
        "l_arm",
        "r_arm",
        "l_hand",
        "neck",
        "head",
        "tip",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 5, 6, 5, 9, 9),
    offsets=np.array(
        [
            [0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],  # helper: zero-length bone
            [0.1, -0.05, 0.0],
            [0.0, -0.4, 0.02],
            [0.0, 0.2, -0.01],
            [0.01, 0.25, 0.0],
            [0.2, 0.05, 0.0],
            [-0.2, 0.05, 0.0],
            [0.25, 0.0, 0.03],
            [0.0, 0.15, 0.02],
            [0.0, 0.1, 0.05],
            [0.0, 0.0, 0.12],
        ]
    ),
)
#: joints whose global rotation the positions determine completely (several non-collinear child bones;
#: the root's depends on the helper's rotation, which positions do not give)
DETERMINED = [5, 9]


def test_swing_hand_computed():
    x, y, z = np.eye(3)
    np.testing.assert_allclose(swing(x, y), rz(90), atol=1e-15)
    np.testing.assert_allclose(swing(2 * x, 5 * z), ry(-90), atol=1e-15)  # lengths do not matter
    np.testing.assert_allclose(swing(y, y), np.eye(3), atol=1e-15)
    half = swing(x, -x)  # opposite: a half turn about an axis perpendicular to x
    np.testing.assert_allclose(half @ x, -x, atol=1e-15)
    np.testing.assert_allclose(half @ half.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(half) == pytest.approx(1.0)
    batch = swing(np.array([x, y, [1.0, 1.0, 0.0]]), np.array([y, -y, [0.0, 1.0, 1.0]]))
    assert batch.shape == (3, 3, 3) and np.isfinite(batch).all()
    np.testing.assert_allclose(batch[2] @ unit(np.array([1.0, 1.0, 0.0])), unit(np.array([0.0, 1.0, 1.0])), atol=1e-15)
    # the smallest rotation: its axis is perpendicular to both directions, its angle the angle between them
    rotvec = Rotation.from_matrix(batch[2]).as_rotvec()
    assert np.degrees(np.linalg.norm(rotvec)) == pytest.approx(60.0)
    assert abs(rotvec @ np.array([1.0, 1.0, 0.0])) < 1e-12 and abs(rotvec @ np.array([0.0, 1.0, 1.0])) < 1e-12


def test_hand_computed_chain():
    """root -> a (0, 1, 0) -> b (0, 1, 0): bones pointed along +x, then +z (stretched to 2 m)."""
    skel = Skeleton("chain3", ("root", "a", "b"), (-1, 0, 1), offsets=[[0, 0, 0], [0, 1, 0], [0, 1, 0]])
    root = np.array([1.0, 2.0, 3.0])
    pos = np.array([[root, root + [1, 0, 0], root + [1, 0, 2]]])
    rot = rotations_from_positions(pos, skel)
    g_root = rz(-90)  # the smallest rotation taking +y to +x
    g_a = ry(-90) @ g_root  # then +x (where the root left the bone a -> b) to +z
    np.testing.assert_allclose(rot[0, 0], g_root, atol=1e-15)
    np.testing.assert_allclose(rot[0, 1], g_root.T @ g_a, atol=1e-15)
    np.testing.assert_allclose(rot[0, 2], np.eye(3), atol=1e-15)  # a leaf: the rest pose
    fk, _ = forward_kinematics(rot, skel.offsets, skel.parents, pos[:, 0])
    np.testing.assert_allclose(fk[0], [root, root + [1, 0, 0], root + [1, 0, 1]], atol=1e-15)  # b: length 1 kept


def test_round_trip_reproduces_positions_and_determined_rotations():
    rng = np.random.default_rng(0)
    rot = random_rotations(rng, (40, TREE.num_joints))
    root = rng.normal(size=(40, 3))
    pos, _ = forward_kinematics(rot, TREE.offsets, TREE.parents, root)
    ik = rotations_from_positions(pos, TREE)  # no reference
    back, glob = forward_kinematics(ik, TREE.offsets, TREE.parents, pos[:, 0])
    np.testing.assert_allclose(back, pos, atol=1e-9)  # every joint, without any reference
    _, true_glob = forward_kinematics(rot, TREE.offsets, TREE.parents, root)
    np.testing.assert_allclose(glob[:, DETERMINED], true_glob[:, DETERMINED], atol=1e-9)
    # with the true rotations as reference (one per frame), every rotation comes back
    ik_ref = rotations_from_positions(pos, TREE, rot)
    np.testing.assert_allclose(ik_ref, rot, atol=1e-9)
    # leading batch dimensions
    batched = rotations_from_positions(pos.reshape(4, 10, TREE.num_joints, 3), TREE, rot.reshape(4, 10, -1, 3, 3))
    np.testing.assert_allclose(batched.reshape(rot.shape), rot, atol=1e-9)


def test_reference_of_one_frame_carries_the_twist():
    """Continuing a motion: at the reference frame itself the reference comes back; a bone that turns
    is turned by the smallest rotation, so its twist changes smoothly and by no more than the bone."""
    rng = np.random.default_rng(1)
    rot0 = random_rotations(rng, (TREE.num_joints,))
    rot1 = rot0 @ Rotation.from_rotvec(rng.normal(scale=0.02, size=(TREE.num_joints, 3))).as_matrix()  # ~1 degree
    pos, _ = forward_kinematics(np.stack([rot0, rot1]), TREE.offsets, TREE.parents, np.zeros((2, 3)))
    ik = rotations_from_positions(pos, TREE, rot0)
    np.testing.assert_allclose(ik[0], rot0, atol=1e-9)
    step = np.degrees(np.linalg.norm(Rotation.from_matrix(np.swapaxes(ik[0], -1, -2) @ ik[1]).as_rotvec(), axis=-1))
    true_step = np.degrees(np.linalg.norm(Rotation.from_matrix(np.swapaxes(rot0, -1, -2) @ rot1).as_rotvec(), axis=-1))
    assert step.max() < 2 * true_step.max() + 1e-6  # no twist flips
    back, _ = forward_kinematics(ik, TREE.offsets, TREE.parents, pos[:, 0])
    np.testing.assert_allclose(back, pos, atol=1e-9)


def test_single_child_chain_directions_exact_lengths_kept():
    """Positions whose bones stretch and shrink: directions exactly, the skeleton's lengths."""
    n = 6
    skel = Skeleton(
        "chain", tuple(f"j{i}" for i in range(n)), (-1, *range(n - 1)), offsets=[[0, 0, 0]] + [[0, 0.3, 0.1]] * (n - 1)
    )
    rng = np.random.default_rng(2)
    pos = np.cumsum(rng.normal(size=(25, n, 3)), axis=1)  # random bones of random lengths
    ik = rotations_from_positions(pos, skel)
    fk, _ = forward_kinematics(ik, skel.offsets, skel.parents, pos[:, 0])
    parents = np.array(skel.parents[1:])
    np.testing.assert_allclose(unit(fk[:, 1:] - fk[:, parents]), unit(pos[:, 1:] - pos[:, parents]), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(fk[:, 1:] - fk[:, parents], axis=-1), np.hypot(0.3, 0.1), rtol=1e-12)
    np.testing.assert_allclose(fk[:, 0], pos[:, 0])


def test_degenerate_bones_give_no_nan():
    skel = TREE
    rng = np.random.default_rng(3)
    rot = random_rotations(rng, (5, skel.num_joints))
    pos, _ = forward_kinematics(rot, skel.offsets, skel.parents, np.zeros((5, 3)))
    pos[1] = 0.0  # every joint at the origin: no direction anywhere
    pos[2, 3] = pos[2, 2]  # shin on top of its parent (a zero-length target)
    pos[3, 5:] = pos[3, 4]  # chest and everything above it collapsed onto the spine
    pos[4] = pos[0]
    pos[4, 3] = pos[4, 2] - (pos[0, 3] - pos[0, 2])  # the shin exactly opposite the reference's: a half turn
    ref = rot[0]
    ik = rotations_from_positions(pos, skel, ref)
    assert np.isfinite(ik).all()
    np.testing.assert_allclose(ik @ np.swapaxes(ik, -1, -2), np.broadcast_to(np.eye(3), ik.shape), atol=1e-12)
    np.testing.assert_allclose(ik[1], ref, atol=1e-12)  # nothing to go by: the reference throughout
    np.testing.assert_allclose(ik[2, 2], ref[2], atol=1e-12)  # thigh: its only child has no target
    flipped, _ = forward_kinematics(ik[4], skel.offsets, skel.parents, pos[4, 0])
    np.testing.assert_allclose(flipped[3] - flipped[2], pos[4, 3] - pos[4, 2], atol=1e-12)
    assert np.isfinite(rotations_from_positions(pos, skel)).all()


def test_collinear_children_take_the_reference_twist():
    """A joint whose two child bones lie on one line: the line's direction from the positions, the
    twist about it from the reference (a Wahba fit alone would pick an arbitrary one)."""
    skel = Skeleton(
        "bar",
        ("root", "mid", "left", "right"),
        (-1, 0, 1, 1),
        offsets=[[0, 0, 0], [0, 0.5, 0], [0.3, 0, 0], [-0.2, 0, 0]],
    )
    rng = np.random.default_rng(4)
    rot = random_rotations(rng, (10, 4))
    pos, _ = forward_kinematics(rot, skel.offsets, skel.parents, np.zeros((10, 3)))
    ik = rotations_from_positions(pos, skel, rot)
    np.testing.assert_allclose(ik, rot, atol=1e-9)
    ik0 = rotations_from_positions(pos, skel)
    assert np.isfinite(ik0).all()
    back, _ = forward_kinematics(ik0, skel.offsets, skel.parents, pos[:, 0])
    np.testing.assert_allclose(back, pos, atol=1e-9)


def test_local_translations_are_the_offsets_of_a_rigid_motion():
    rng = np.random.default_rng(5)
    rot = random_rotations(rng, (3, TREE.num_joints))
    root = rng.normal(size=(3, 3))
    pos, glob = forward_kinematics(rot, TREE.offsets, TREE.parents, root)
    lt = local_translations(pos, glob, TREE.parents)
    np.testing.assert_allclose(lt[:, 1:], np.broadcast_to(TREE.offsets[1:], lt[:, 1:].shape), atol=1e-12)
    np.testing.assert_allclose(lt[:, 0], root)


def test_extend_rotations_keeps_observed_frames_and_continues_the_truth():
    rng = np.random.default_rng(6)
    t, f = 20, 10
    start = rng.normal(size=(TREE.num_joints, 3))
    rv = start + np.cumsum(rng.normal(scale=0.03, size=(t + f, TREE.num_joints, 3)), axis=0)
    rot = Rotation.from_rotvec(rv.reshape(-1, 3)).as_matrix().reshape(t + f, -1, 3, 3)
    root = np.cumsum(rng.normal(scale=0.01, size=(t + f, 3)), axis=0)
    pos, _ = forward_kinematics(rot, TREE.offsets, TREE.parents, root)
    out_rot, out_pos = extend_rotations(pos[:t], rot[:t], pos[t:], TREE)
    assert out_rot.shape == (t + f, TREE.num_joints, 3, 3) and out_pos.shape == (t + f, TREE.num_joints, 3)
    np.testing.assert_array_equal(out_rot[:t], rot[:t])
    np.testing.assert_array_equal(out_pos[:t], pos[:t])
    np.testing.assert_allclose(out_pos[t:], pos[t:], atol=1e-9)  # a rigid forecast comes back exactly
    _, glob = forward_kinematics(out_rot, TREE.offsets, TREE.parents, root)
    _, true_glob = forward_kinematics(rot, TREE.offsets, TREE.parents, root)
    np.testing.assert_allclose(glob[t:, DETERMINED], true_glob[t:, DETERMINED], atol=1e-9)
    # positions-only history: rotations recovered, positions from FK with the skeleton's bones
    ik_rot, ik_pos = extend_rotations(pos[:t], None, pos[t:], TREE)
    np.testing.assert_allclose(ik_pos, pos, atol=1e-9)
    assert np.isfinite(ik_rot).all()


def test_extend_rotations_free_and_constant_translations():
    """A BVH whose Hips translate under a ground-level root (Bandai's joint_Root), and a joint with a
    constant translation that is not its rest offset: the Hips follow the forecast, the other keeps
    its translation."""
    skel = Skeleton(
        "free",
        ("ground", "hips", "spine", "head"),
        (-1, 0, 1, 2),
        offsets=[[0, 0, 0], [0.0, 1.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.3, 0.0]],
    )
    rng = np.random.default_rng(7)
    n = 15
    rot = Rotation.from_rotvec(np.cumsum(rng.normal(scale=0.05, size=(n, 4, 3)), axis=0).reshape(-1, 3))
    rot = rot.as_matrix().reshape(n, 4, 3, 3)
    rot[:, 0] = np.eye(3)
    moves = np.broadcast_to(skel.offsets, (n, 4, 3)).copy()
    moves[:, 1] = [[0.03 * i, 0.9 + 0.01 * np.sin(i), 0.02 * i] for i in range(n)]  # the hips move
    moves[:, 3] = [0.0, 0.35, 0.0]  # the head sits 5 cm further than its rest offset, always
    pos, _ = forward_kinematics(rot, moves, skel.parents, np.zeros((n, 3)))
    out_rot, out_pos = extend_rotations(pos[:10], rot[:10], pos[10:], skel)
    np.testing.assert_allclose(out_pos[10:], pos[10:], atol=1e-9)
    np.testing.assert_allclose(out_rot[10:, 0], np.eye(3).reshape(1, 3, 3).repeat(5, 0), atol=1e-12)


def test_bad_input_is_a_skeleton_error():
    no_offsets = Skeleton("pts", ("a", "b"), (-1, 0))
    with pytest.raises(SkeletonError, match="no rest offsets"):
        rotations_from_positions(np.zeros((2, 2, 3)), no_offsets)
    with pytest.raises(SkeletonError, match="do not fit"):
        rotations_from_positions(np.zeros((2, 5, 3)), TREE)
    with pytest.raises(SkeletonError, match="reference rotations"):
        rotations_from_positions(np.zeros((2, TREE.num_joints, 3)), TREE, np.zeros((3, TREE.num_joints, 3, 3)))
