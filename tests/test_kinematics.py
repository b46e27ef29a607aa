"""Rotations, FK, Lie algebra and Procrustes against hand-computed values and scipy/roma."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from posecast import kinematics as K
from posecast.errors import SkeletonError, ValueRangeError

RNG = np.random.default_rng(0)


def _rotvecs(n: int) -> np.ndarray:
    v = RNG.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True) * RNG.uniform(0.01, np.pi - 0.01, size=(n, 1))


def test_axis_angle_matrix_by_hand():
    r = K.axis_angle_to_matrix(np.array([0.0, 0.0, np.pi / 2]))
    np.testing.assert_allclose(r @ [1.0, 0, 0], [0, 1, 0], atol=1e-15)  # x -> y
    np.testing.assert_allclose(K.matrix_to_axis_angle(r), [0, 0, np.pi / 2], atol=1e-15)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_round_trips_batched(backend):
    v = _rotvecs(24).reshape(2, 3, 4, 3)
    x = torch.tensor(v) if backend == "torch" else v
    m = K.axis_angle_to_matrix(x)
    assert tuple(m.shape) == (2, 3, 4, 3, 3)

    def close(a, b):
        a = a.numpy() if backend == "torch" else a
        b = b.numpy() if backend == "torch" else b
        np.testing.assert_allclose(a, b, atol=1e-10)

    close(K.matrix_to_axis_angle(m), x)
    close(K.quat_to_matrix(K.matrix_to_quat(m)), m)
    close(K.quat_to_axis_angle(K.axis_angle_to_quat(x)), x)
    close(K.sixd_to_matrix(K.matrix_to_6d(m)), m)
    for order in ("ZYX", "XYZ", "zxy", "YXZ", "xzx"):
        close(K.euler_to_matrix(K.matrix_to_euler(m, order), order), m)


def test_numpy_and_torch_agree_with_scipy():
    v = _rotvecs(50)
    ref = Rotation.from_rotvec(v)
    np.testing.assert_allclose(K.axis_angle_to_matrix(torch.tensor(v)).numpy(), ref.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(
        K.matrix_to_quat(ref.as_matrix()) * np.sign(ref.as_quat()[:, 3:]), ref.as_quat(), atol=1e-12
    )
    e = RNG.uniform(-1, 1, size=(50, 3))
    np.testing.assert_allclose(
        K.euler_to_matrix(torch.tensor(e), "ZYX").numpy(), Rotation.from_euler("ZYX", e).as_matrix(), atol=1e-12
    )


def test_bvh_euler_order_is_intrinsic_product():
    a, b, c = 0.3, -0.5, 1.1
    rz = K.axis_angle_to_matrix(np.array([0, 0, a]))
    ry = K.axis_angle_to_matrix(np.array([0, b, 0]))
    rx = K.axis_angle_to_matrix(np.array([c, 0, 0]))
    np.testing.assert_allclose(K.euler_to_matrix(np.array([a, b, c]), "ZYX"), rz @ ry @ rx, atol=1e-15)
    np.testing.assert_allclose(K.euler_to_matrix(np.array([a, b, c]), "zyx"), rx @ ry @ rz, atol=1e-15)


@pytest.mark.parametrize("order", ["ZZX", "ABC", "Zyx", "XY"])
def test_bad_euler_orders(order):
    with pytest.raises(ValueRangeError):
        K.euler_to_matrix(np.zeros(3), order)


def test_project_to_so3_and_geodesic():
    m = K.axis_angle_to_matrix(_rotvecs(10))
    noisy = m + RNG.normal(scale=1e-3, size=m.shape)
    for proj in (K.project_to_so3(noisy), K.project_to_so3(torch.tensor(noisy)).numpy()):
        np.testing.assert_allclose(proj @ np.swapaxes(proj, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(proj), 1.0, atol=1e-12)
        assert np.abs(proj - m).max() < 5e-3
    a = K.axis_angle_to_matrix(np.array([0.0, 0.0, 0.2]))
    b = K.axis_angle_to_matrix(np.array([0.0, 0.0, 0.7]))
    assert K.geodesic_angle(a, b) == pytest.approx(0.5)
    assert float(K.geodesic_angle(torch.tensor(a), torch.tensor(b))) == pytest.approx(0.5)


def test_fk_two_bone_chain_by_hand():
    parents = [-1, 0, 1]
    offsets = np.array([[0, 0, 0], [1.0, 0, 0], [1.0, 0, 0]])
    rot = np.broadcast_to(np.eye(3), (1, 3, 3, 3)).copy()
    rot[0, 0] = K.axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))  # root turns 90° about z
    rot[0, 1] = K.axis_angle_to_matrix(np.array([0, 0, np.pi / 2]))  # joint 1 another 90°
    pos, glob = K.forward_kinematics(rot, offsets, parents, root_translation=np.array([[0, 0, 5.0]]))
    np.testing.assert_allclose(pos[0], [[0, 0, 5], [0, 1, 5], [-1, 1, 5]], atol=1e-15)
    np.testing.assert_allclose(glob[0, 2] @ [1.0, 0, 0], [-1, 0, 0], atol=1e-15)
    tpos, _ = K.forward_kinematics(torch.tensor(rot, requires_grad=True), torch.tensor(offsets), parents)
    np.testing.assert_allclose(tpos.detach().numpy()[0], pos[0] - [0, 0, 5], atol=1e-15)
    tpos.sum().backward()  # differentiable


def test_fk_rejects_mismatched_shapes():
    with pytest.raises(SkeletonError):
        K.forward_kinematics(np.zeros((2, 3, 3, 3)), np.zeros((4, 3)), [-1, 0, 1])


def test_so3_and_se3_exp_log():
    v = _rotvecs(20)
    np.testing.assert_allclose(K.so3_log(K.so3_exp(v)), v, atol=1e-10)
    np.testing.assert_allclose(K.hat(v) @ np.array([1.0, 2, 3]), np.cross(v, [1.0, 2, 3]), atol=1e-14)
    np.testing.assert_allclose(K.vee(K.hat(v)), v, atol=1e-15)
    xi = np.concatenate([RNG.normal(size=(20, 3)), v], axis=1)
    t = K.se3_exp(xi)
    np.testing.assert_allclose(t[:, 3], np.broadcast_to([0, 0, 0, 1.0], (20, 4)))
    np.testing.assert_allclose(K.se3_log(t), xi, atol=1e-9)
    # pure translation, and the small-angle branch against a tiny rotation
    np.testing.assert_allclose(K.se3_exp(np.array([1.0, 2, 3, 0, 0, 0]))[:3, 3], [1, 2, 3])
    tiny = np.array([0.3, -0.2, 0.1, 1e-5, -2e-5, 1e-5])
    np.testing.assert_allclose(K.se3_log(K.se3_exp(tiny)), tiny, atol=1e-12)
    # se3 exp by hand: rotation pi/2 about z with rho = (1, 0, 0): V rho = (2/pi, 2/pi, 0)
    hand = K.se3_exp(np.array([1.0, 0, 0, 0, 0, np.pi / 2]))
    np.testing.assert_allclose(hand[:3, 3], [2 / np.pi, 2 / np.pi, 0], atol=1e-12)
    tt = torch.tensor(xi, requires_grad=True)
    K.se3_log(K.se3_exp(tt)).sum().backward()
    assert torch.isfinite(tt.grad).all()


def test_procrustes_recovers_similarity():
    src = RNG.normal(size=(3, 17, 3))
    rot = K.axis_angle_to_matrix(_rotvecs(3))
    tgt = 1.7 * src @ np.swapaxes(rot, -1, -2) + np.array([1.0, -2.0, 0.5])
    aligned, r, t, s = K.procrustes(src, tgt)
    np.testing.assert_allclose(aligned, tgt, atol=1e-10)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(s, 1.7, atol=1e-10)
    aligned_rigid, *_ = K.procrustes(torch.tensor(src), torch.tensor(tgt), scale=False)
    assert aligned_rigid.shape == (3, 17, 3)


# pelvis, hip, a helper halfway down the thigh (hangs off the hip), knee, ankle, toe
_LIMB_PARENTS = (-1, 0, 1, 1, 3, 4)
_LIMB = np.array([[0, 0.1, 0], [0, 0, 0], [0.15, -0.2, 0], [0.3, -0.4, 0], [0, -0.8, 0], [0.2, -0.8, 0]])


def test_two_bone_reach_by_hand():
    """Thigh and shin both 0.5 long (3-4-5 triangles): the ankle brought up from 0.8 to 0.6 below the hip puts the
    knee at (0.4, -0.3) on the side it bent to; the thigh's helper turns with the thigh, the toe moves with the
    ankle unturned, the pelvis stays. Out of reach the limb is straight along the hip -> target line; a straight
    limb bends towards its toes; a target beside the limb turns it about the hip, the knee still in front."""
    from posecast.kinematics.ik import two_bone_reach

    out = two_bone_reach(_LIMB, _LIMB_PARENTS, 1, 3, 4, np.array([0.0, -0.6, 0.0]))
    want = [[0, 0.1, 0], [0, 0, 0], [0.2, -0.15, 0], [0.4, -0.3, 0], [0, -0.6, 0], [0.2, -0.6, 0]]
    np.testing.assert_allclose(out, want, atol=1e-12)
    far = two_bone_reach(_LIMB, _LIMB_PARENTS, 1, 3, 4, np.array([0.0, -2.0, 0.0]))
    np.testing.assert_allclose(far[3:], [[0, -0.5, 0], [0, -1.0, 0], [0.2, -1.0, 0]], atol=1e-12)
    same = two_bone_reach(_LIMB, _LIMB_PARENTS, 1, 3, 4, _LIMB[4])  # already there: nothing moves
    np.testing.assert_allclose(same, _LIMB, atol=1e-12)
    straight = np.array([[0, 0.1, 0], [0, 0, 0], [0, -0.25, 0], [0, -0.5, 0], [0, -1.0, 0], [0, -1.0, 0.2]])
    bent = two_bone_reach(straight, _LIMB_PARENTS, 1, 3, 4, np.array([0.0, -0.6, 0.0]))
    np.testing.assert_allclose(bent[3:], [[0, -0.3, 0.4], [0, -0.6, 0], [0, -0.6, 0.2]], atol=1e-12)
    side = two_bone_reach(_LIMB, _LIMB_PARENTS, 1, 3, 4, np.array([0.0, 0.0, 0.6]))  # the limb turned to +z
    np.testing.assert_allclose(side[3:], [[0.4, 0, 0.3], [0, 0, 0.6], [0.2, 0, 0.6]], atol=1e-12)


def test_two_bone_reach_batched_keeps_every_bone():
    from posecast.kinematics.ik import two_bone_reach

    rng = np.random.default_rng(3)
    poses = _LIMB + rng.normal(scale=0.1, size=(4, 50, 6, 3))
    target = poses[..., 1, :] + rng.normal(scale=0.5, size=(4, 50, 3))
    out = two_bone_reach(poses, _LIMB_PARENTS, 1, 3, 4, target)
    bone = lambda x: np.linalg.norm(x[..., 1:, :] - x[..., [0, 1, 1, 3, 4], :], axis=-1)  # noqa: E731
    np.testing.assert_allclose(bone(out), bone(poses), atol=1e-12)
    l1, l2 = bone(poses)[..., 2], bone(poses)[..., 3]
    d = np.linalg.norm(target - poses[..., 1, :], axis=-1)
    reach = (d <= l1 + l2) & (d >= np.abs(l1 - l2))
    assert 0 < reach.sum() < reach.size  # both kinds drawn
    np.testing.assert_allclose(out[reach][:, 4], target[reach], atol=1e-12)
    np.testing.assert_allclose(out[..., 0, :], poses[..., 0, :])  # above the hip nothing moves
