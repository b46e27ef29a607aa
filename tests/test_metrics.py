"""Tests of posecast.evaluation.metrics: hand-computed cases, numpy/torch agreement, shapes, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist
from scipy.spatial.transform import Rotation

from posecast.errors import SkeletonError, ValueRangeError
from posecast.evaluation import (
    PCK_AUC_THRESHOLDS_M,
    acceleration_error,
    apd,
    best_of_k_ade,
    best_of_k_fde,
    bone_length_consistency,
    bone_lengths,
    dtw_mpjpe,
    dtw_path,
    euler_angle_error,
    gather_multimodal_futures,
    geodesic_error,
    matrix_to_h36m_euler,
    mm_ade,
    mm_fde,
    mpjpe,
    mpjpe_cumulative,
    multimodal_indices,
    pa_mpjpe,
    pck,
    pck_auc,
    power_spectrum,
    ps_entropy,
    ps_kld,
    reference_size,
)
from posecast.skeletons import Skeleton

RNG = np.random.default_rng(20240601)


def _t(x: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=requires_grad)


def _agree(fn, *arrays, atol: float = 1e-10, **kwargs) -> None:
    """The metric gives the same numbers for numpy and torch inputs, and returns the input's kind."""
    out_np = fn(*arrays, **kwargs)
    out_t = fn(*(_t(a) for a in arrays), **kwargs)
    assert isinstance(out_np, np.ndarray | np.floating)
    assert isinstance(out_t, torch.Tensor)
    np.testing.assert_allclose(out_t.detach().numpy(), out_np, atol=atol, equal_nan=True)


# --------------------------------------------------------------------------------------- MPJPE
# Two frames, two joints: offsets (3,4,0) & (0,0,1) in frame 0 -> 5 and 1; (0,0,0) & (1,2,2) -> 0 and 3.
GT2 = np.zeros((2, 2, 3))
PRED2 = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]], [[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]]])


def test_mpjpe_hand_computed():
    np.testing.assert_allclose(mpjpe(PRED2, GT2), [3.0, 1.5])
    np.testing.assert_allclose(mpjpe_cumulative(PRED2, GT2), [3.0, 2.25])  # mean of frames 0..k
    np.testing.assert_allclose(mpjpe(PRED2, GT2, weights=[1.0, 0.0]), [5.0, 0.0])  # joint subset
    np.testing.assert_allclose(mpjpe(PRED2, GT2, weights=np.array([True, False])), [5.0, 0.0])
    np.testing.assert_allclose(mpjpe(PRED2, GT2, weights=[3.0, 1.0]), [(15 + 1) / 4, 3 / 4])
    per_frame = np.array([[1.0, 1.0], [0.0, 0.0]])  # frame 1 has no joint: undefined
    out = mpjpe(PRED2, GT2, weights=per_frame)
    assert out[0] == 3.0 and np.isnan(out[1])
    assert mpjpe(PRED2[0], GT2[0]) == pytest.approx(3.0)  # a single pose gives a scalar


def test_at_horizon_differs_from_cumulative():
    f = np.arange(1, 11, dtype=float)  # error growing linearly: 1, 2, ..., 10 on every joint
    pred = np.zeros((10, 4, 3))
    pred[..., 0] = f[:, None]
    np.testing.assert_allclose(mpjpe(pred, np.zeros_like(pred)), f)
    np.testing.assert_allclose(mpjpe_cumulative(pred, np.zeros_like(pred)), (f + 1) / 2)


def test_mpjpe_numpy_torch_batching_and_grad():
    pred, gt = RNG.normal(size=(4, 3, 5, 7, 3)), RNG.normal(size=(4, 3, 5, 7, 3))
    assert mpjpe(pred, gt).shape == (4, 3, 5)
    assert mpjpe_cumulative(pred, gt).shape == (4, 3, 5)
    _agree(mpjpe, pred, gt)
    _agree(mpjpe_cumulative, pred, gt)
    w = (RNG.random((4, 3, 5, 7)) > 0.3).astype(float)
    _agree(mpjpe, pred, gt, weights=w)
    # per-batch element equals the loop
    np.testing.assert_allclose(mpjpe(pred, gt)[2, 1], mpjpe(pred[2, 1], gt[2, 1]))
    # torch: float32 in -> float32 out, differentiable; numpy gt is converted to the tensor's kind
    p32 = torch.tensor(pred, dtype=torch.float32, requires_grad=True)
    out = mpjpe(p32, gt)
    assert out.dtype == torch.float32
    out.mean().backward()
    assert p32.grad is not None and torch.isfinite(p32.grad).all()


def test_mpjpe_validation():
    with pytest.raises(ValueRangeError, match=r"\(2, 2, 3\).*\(2, 3, 3\)"):
        mpjpe(PRED2, np.zeros((2, 3, 3)))
    with pytest.raises(ValueRangeError, match="weights"):
        mpjpe(PRED2, GT2, weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueRangeError, match="non-negative"):
        mpjpe(PRED2, GT2, weights=[1.0, -1.0])
    with pytest.raises(ValueRangeError, match="all zero"):
        mpjpe(PRED2, GT2, weights=[0.0, 0.0])
    with pytest.raises(ValueRangeError, match="at least 3"):
        mpjpe_cumulative(PRED2[0], GT2[0])
    with pytest.raises(ValueRangeError, match="numeric"):
        mpjpe(PRED2, GT2, weights="all")
    with pytest.raises(ValueRangeError):
        mpjpe(np.zeros((2, 0, 3)), np.zeros((2, 0, 3)))


# ------------------------------------------------------------------------------------ PA-MPJPE
def test_pa_mpjpe_hand_computed():
    gt = np.array([[-1.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 0.5]])
    rot = Rotation.from_rotvec([0.3, -0.8, 0.5]).as_matrix()
    similar = 2.5 * gt @ rot.T + np.array([1.0, -2.0, 3.0])
    assert pa_mpjpe(similar[None], gt[None])[0] == pytest.approx(0.0, abs=1e-9)
    assert mpjpe(similar[None], gt[None])[0] > 1.0
    # a 2x scaled copy aligned rigidly: centroids meet, rotation stays the identity, so every joint is off
    # by its own distance to the centroid (0, 0, 0.1): 4 x sqrt(1.01) and 0.4, over 5 joints
    scaled = 2.0 * gt
    expect = (4 * math.sqrt(1.01) + 0.4) / 5
    assert pa_mpjpe(scaled[None], gt[None], scale=False)[0] == pytest.approx(expect)
    assert pa_mpjpe(scaled[None], gt[None])[0] == pytest.approx(0.0, abs=1e-9)


def test_pa_mpjpe_agreement_and_validation():
    pred, gt = RNG.normal(size=(2, 6, 9, 3)), RNG.normal(size=(2, 6, 9, 3))
    assert pa_mpjpe(pred, gt).shape == (2, 6)
    _agree(pa_mpjpe, pred, gt, atol=1e-8)
    # alignment never increases the error
    assert np.all(pa_mpjpe(pred, gt) <= mpjpe(pred, gt) + 1e-12)
    p = _t(pred, requires_grad=True)
    pa_mpjpe(p, gt).sum().backward()
    assert torch.isfinite(p.grad).all()
    with pytest.raises(ValueRangeError, match="3D"):
        pa_mpjpe(np.zeros((4, 5, 2)), np.zeros((4, 5, 2)))


# -------------------------------------------------------------------------------- acceleration
def test_acceleration_error_hand_computed():
    t = np.arange(4, dtype=float)
    pred = np.zeros((4, 2, 3))
    pred[:, 1, 0] = t**2  # second difference 2 on joint 1, joint 0 static
    gt = np.zeros_like(pred)
    np.testing.assert_allclose(acceleration_error(pred, gt), [1.0, 1.0])
    np.testing.assert_allclose(acceleration_error(pred, gt, fps=10), [100.0, 100.0])
    vis = np.ones((4, 2))
    vis[3, 1] = 0  # joint 1 invisible in frame 3: the acceleration at frame 2 (frames 1-3) skips it
    np.testing.assert_allclose(acceleration_error(pred, gt, weights=vis), [1.0, 0.0])
    # a constant-velocity offset has no acceleration error
    drift = gt + t[:, None, None] * np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(acceleration_error(drift, gt), [0.0, 0.0], atol=1e-12)


def test_acceleration_error_agreement_and_validation():
    pred, gt = RNG.normal(size=(3, 8, 5, 3)), RNG.normal(size=(3, 8, 5, 3))
    assert acceleration_error(pred, gt).shape == (3, 6)
    _agree(acceleration_error, pred, gt)
    with pytest.raises(ValueRangeError, match="at least 3 frames"):
        acceleration_error(pred[:, :2], gt[:, :2])
    with pytest.raises(ValueRangeError, match="fps"):
        acceleration_error(pred, gt, fps=0)


# ------------------------------------------------------------------------------- Euler angles
def test_h36m_euler_hand_computed():
    # elementary rotations: Rx(a) -> (-a, 0, 0), Ry(b) -> (0, -b, 0), Rz(c) -> (0, 0, -c)
    for axis, col in (("x", 0), ("y", 1), ("z", 2)):
        m = Rotation.from_euler(axis, 0.4).as_matrix()
        expect = np.zeros(3)
        expect[col] = -0.4
        np.testing.assert_allclose(matrix_to_h36m_euler(m), expect, atol=1e-12)


def test_h36m_euler_matches_scipy_away_from_gimbal_lock():
    rots = Rotation.random(2000, random_state=7)
    ang = rots.as_euler("XYZ")
    rots = rots[np.abs(ang[:, 1]) < 1.45]  # keep |E2| < 83 degrees
    mats = rots.as_matrix()
    ours = matrix_to_h36m_euler(mats)
    np.testing.assert_allclose(ours, -rots.as_euler("XYZ"), atol=1e-10)
    # the same angles rebuild the matrix: R = Rx(-E1) Ry(-E2) Rz(-E3)
    np.testing.assert_allclose(Rotation.from_euler("XYZ", -ours).as_matrix(), mats, atol=1e-10)
    _agree(matrix_to_h36m_euler, mats)


def test_h36m_euler_gimbal_lock_branch():
    for b in (math.pi / 2, -math.pi / 2):
        m = Rotation.from_euler("XYZ", [0.7, b, -0.2]).as_matrix()
        m[0, 2] = np.sign(m[0, 2])  # exactly locked
        e = matrix_to_h36m_euler(m)
        assert e[2] == 0.0 and e[1] == pytest.approx(-np.sign(m[0, 2]) * math.pi / 2)
        np.testing.assert_allclose(Rotation.from_euler("XYZ", -e).as_matrix(), m, atol=1e-12)
        mt = torch.tensor(m, requires_grad=True)
        matrix_to_h36m_euler(mt).sum().backward()
        assert torch.isfinite(mt.grad).all()


def test_euler_angle_error_hand_computed():
    gt = np.zeros((1, 3, 3))  # one frame, root + two joints, all identity
    pred = np.array([[[0.5, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.4]]])
    # root excluded: sqrt(0.3^2 + 0.4^2) = 0.5
    np.testing.assert_allclose(euler_angle_error(pred, gt), [0.5])
    np.testing.assert_allclose(euler_angle_error(pred, gt, exclude_root=False), [math.sqrt(0.5)])
    np.testing.assert_allclose(euler_angle_error(pred, gt, mask=[True, True, False]), [0.3])
    mask3 = np.ones((3, 3), dtype=bool)
    mask3[1, 0] = False
    np.testing.assert_allclose(euler_angle_error(pred, gt, mask=mask3), [0.4])
    # the same through rotation matrices
    mats = lambda r: Rotation.from_rotvec(r.reshape(-1, 3)).as_matrix().reshape(r.shape + (3,))
    np.testing.assert_allclose(euler_angle_error(mats(pred), mats(gt), rep="matrix"), [0.5])
    # a pure y rotation: Euler (0, -b, 0)
    pred_y = np.zeros((1, 3, 3))
    pred_y[0, 2] = [0.0, 0.2, 0.0]
    np.testing.assert_allclose(euler_angle_error(pred_y, gt), [0.2])


def test_euler_angle_error_against_scipy_and_torch():
    gt = RNG.normal(scale=0.5, size=(2, 4, 6, 3))
    pred = gt + RNG.normal(scale=0.1, size=gt.shape)
    out = euler_angle_error(pred, gt)
    assert out.shape == (2, 4)
    ref = lambda x: -Rotation.from_rotvec(x.reshape(-1, 3)).as_euler("XYZ").reshape(x.shape)
    diff = ref(gt) - ref(pred)
    diff[..., 0, :] = 0
    np.testing.assert_allclose(out, np.linalg.norm(diff.reshape(2, 4, -1), axis=-1), atol=1e-10)
    _agree(euler_angle_error, pred, gt, atol=1e-9)
    p = _t(pred, requires_grad=True)
    euler_angle_error(p, gt).sum().backward()
    assert torch.isfinite(p.grad).all()


def test_euler_angle_error_validation():
    with pytest.raises(ValueRangeError, match="rep"):
        euler_angle_error(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), rep="quat")
    with pytest.raises(ValueRangeError, match="rotation matrices"):
        euler_angle_error(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)), rep="matrix")
    with pytest.raises(ValueRangeError, match="mask"):
        euler_angle_error(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), mask=[True, False])
    with pytest.raises(ValueRangeError, match="differ"):
        euler_angle_error(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))
    with pytest.raises(ValueRangeError, match="3, 3"):
        matrix_to_h36m_euler(np.zeros((4, 3)))


def test_euler_angle_error_on_cmu_benchmark(cmu_mocap_dir):
    """LTD's angle metric on a real CMU-Mocap file: zero-velocity error grows with the horizon."""
    from posecast.io.expmap_txt import read_expmap_array

    values = read_expmap_array(cmu_mocap_dir / "test" / "walking" / "walking_1.txt")[::2]  # 60 Hz
    expmaps = values[:, 3:].reshape(len(values), 38, 3)  # joint 0 = root rotation (excluded)
    truth = expmaps[60:85]  # 25 future frames
    zero_vel = np.repeat(expmaps[59:60], 25, axis=0)
    err = euler_angle_error(zero_vel, truth)
    assert err.shape == (25,) and np.all(np.isfinite(err))
    assert 0 < err[0] < err[-1]
    ref = lambda x: -Rotation.from_rotvec(x.reshape(-1, 3)).as_euler("XYZ").reshape(x.shape)
    diff = ref(truth) - ref(zero_vel)
    diff[:, 0] = 0
    np.testing.assert_allclose(err, np.linalg.norm(diff.reshape(25, -1), axis=-1), atol=1e-9)


# ------------------------------------------------------------------------------------ geodesic
def test_geodesic_error_hand_computed():
    gt = np.stack([np.eye(3), Rotation.from_euler("x", 90, degrees=True).as_matrix()])[None]  # (1, 2, 3, 3)
    pred = np.stack(
        [Rotation.from_euler("z", 0.3).as_matrix(), Rotation.from_euler("y", 90, degrees=True).as_matrix()]
    )[None]
    # Rx(90)^T Ry(90) is a rotation by 120 degrees
    np.testing.assert_allclose(geodesic_error(pred, gt, per_joint=True), [[0.3, 2 * math.pi / 3]], atol=1e-12)
    np.testing.assert_allclose(geodesic_error(pred, gt), [(0.3 + 2 * math.pi / 3) / 2], atol=1e-12)
    np.testing.assert_allclose(geodesic_error(pred, gt, weights=[1, 0]), [0.3], atol=1e-12)
    rv = lambda m: Rotation.from_matrix(m.reshape(-1, 3, 3)).as_rotvec().reshape(m.shape[:-1])
    np.testing.assert_allclose(geodesic_error(rv(pred), rv(gt), rep="expmap"), geodesic_error(pred, gt), atol=1e-12)


def test_geodesic_error_agreement():
    a = Rotation.random(60, random_state=3).as_matrix().reshape(3, 4, 5, 3, 3)
    b = Rotation.random(60, random_state=4).as_matrix().reshape(3, 4, 5, 3, 3)
    assert geodesic_error(a, b).shape == (3, 4)
    _agree(geodesic_error, a, b, atol=1e-9)
    ref = (Rotation.from_matrix(a.reshape(-1, 3, 3)).inv() * Rotation.from_matrix(b.reshape(-1, 3, 3))).magnitude()
    np.testing.assert_allclose(geodesic_error(a, b, per_joint=True).ravel(), ref, atol=1e-9)


# ----------------------------------------------------------------------------------------- PCK
def _pck_case():
    gt = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0, 2.0, 2.0]]])  # box 1 x 2 x 2
    off = np.array([0.021, 0.071, 0.121, 0.2])  # distances from the truth
    pred = gt.copy()
    pred[0, :, 0] += off
    return pred, gt


def test_pck_hand_computed():
    pred, gt = _pck_case()
    np.testing.assert_allclose(pck(pred, gt, 0.1), [0.5])
    np.testing.assert_allclose(pck(pred, gt, 0.0215), [0.25])
    np.testing.assert_allclose(pck(pred, gt, 0.021), [0.0])  # joint 0 is exactly 0.021 away: not below
    np.testing.assert_allclose(pck(pred, gt, 0.1, visibility=[1, 1, 1, 0]), [2 / 3])
    # relative: box diagonal 3 (x 0.05 = 0.15 -> 3 of 4), longest side 2 (-> 0.1 -> 2 of 4)
    np.testing.assert_allclose(reference_size(gt), [3.0])
    np.testing.assert_allclose(reference_size(gt, "bbox_max_side"), [2.0])
    np.testing.assert_allclose(reference_size(gt, "torso", torso_joints=(0, 3)), [math.sqrt(8)])
    np.testing.assert_allclose(pck(pred, gt, 0.05, relative_to="bbox_diagonal"), [0.75])
    np.testing.assert_allclose(pck(pred, gt, 0.05, relative_to="bbox_max_side"), [0.5])
    np.testing.assert_allclose(pck(pred, gt, 0.05, relative_to=np.array([1.0])), [0.25])
    # the box ignores invisible joints: without joint 3 it is 1 x 2 x 0 -> diagonal sqrt(5)
    np.testing.assert_allclose(reference_size(gt, visibility=[1, 1, 1, 0]), [math.sqrt(5)])


def test_pck_auc_hand_computed():
    pred, gt = _pck_case()
    # thresholds 0, 5, ..., 150 mm: 0.021 is below 26 of them, 0.071 below 16, 0.121 below 6, 0.2 below none
    np.testing.assert_allclose(pck_auc(pred, gt), [(26 + 16 + 6 + 0) / (4 * 31)])
    np.testing.assert_allclose(pck_auc(pred * 1000, gt * 1000, thresholds=np.linspace(0, 150, 31)), pck_auc(pred, gt))
    assert len(PCK_AUC_THRESHOLDS_M) == 31 and PCK_AUC_THRESHOLDS_M[-1] == pytest.approx(0.15)


def test_pck_agreement_shapes_validation():
    gt = RNG.normal(size=(3, 5, 10, 2))  # 2D keypoints
    pred = gt + RNG.normal(scale=0.3, size=gt.shape)
    vis = RNG.random((3, 5, 10)) > 0.2
    assert pck(pred, gt, 0.3).shape == (3, 5)
    _agree(pck, pred, gt, threshold=0.3, visibility=vis)
    _agree(pck, pred, gt, threshold=0.05, relative_to="bbox_diagonal", visibility=vis)
    _agree(pck_auc, pred, gt)
    _agree(reference_size, gt, kind="bbox_max_side", visibility=vis)
    with pytest.raises(ValueRangeError, match="torso_joints"):
        pck(pred, gt, 0.1, relative_to="torso")
    with pytest.raises(ValueRangeError, match="unknown reference"):
        reference_size(gt, "height")
    with pytest.raises(ValueRangeError, match="threshold"):
        pck(pred, gt, np.ones(7))
    with pytest.raises(ValueRangeError, match="thresholds"):
        pck_auc(pred, gt, thresholds=[])


# ----------------------------------------------------------------------------------------- DTW
def test_dtw_hand_computed():
    # 1 joint, 1 coordinate: gt 0 -> 2, prediction 0 -> 0.8 -> 2
    gt = np.array([0.0, 2.0]).reshape(2, 1, 1)
    pred = np.array([0.0, 0.8, 2.0]).reshape(3, 1, 1)
    for backend in ("numpy", "dtaidistance"):
        np.testing.assert_array_equal(dtw_path(pred, gt, backend=backend), [[0, 0], [1, 0], [2, 1]])
    # true frame 0 is matched by predicted frames 0 and 1 (errors 0 and 0.8), frame 1 by frame 2
    np.testing.assert_allclose(dtw_mpjpe(pred, gt), [0.4, 0.0])


def test_dtw_backends_agree():
    for trial in range(20):
        a = RNG.normal(size=(int(RNG.integers(5, 40)), 6, 3))
        b = RNG.normal(size=(int(RNG.integers(5, 40)), 6, 3))
        p1, p2 = dtw_path(a, b, backend="dtaidistance"), dtw_path(a, b, backend="numpy")
        np.testing.assert_array_equal(p1, p2, err_msg=f"trial {trial}")
        # the path's cost equals dtaidistance's DTW distance (sqrt of the summed squared distances)
        from dtaidistance import dtw_ndim

        cost = np.sqrt(sum(((a[i] - b[j]) ** 2).sum() for i, j in p2))
        assert cost == pytest.approx(dtw_ndim.distance(a.reshape(len(a), -1), b.reshape(len(b), -1)))
    np.testing.assert_allclose(dtw_mpjpe(a, b, backend="numpy"), dtw_mpjpe(a, b, backend="dtaidistance"))


def test_dtw_backends_break_ties_alike():
    """Integer keypoints tie often: both back ends take the path dtaidistance's C code takes (the numpy
    back-tracking had preferred (i-1, j) to (i, j-1), as dtaidistance's pure-Python code does: another path
    of the same cost, and other per-frame errors)."""
    pred = np.array([[1, 0], [0, 0], [1, 0], [0, 1]], dtype=float).reshape(4, 1, 2)
    gt = np.array([[1, 1], [1, 1], [0, 1], [0, 0]], dtype=float).reshape(4, 1, 2)
    for backend in ("numpy", "dtaidistance"):  # by hand: at (3, 3) the cells left of it and above it tie
        np.testing.assert_array_equal(dtw_path(pred, gt, backend=backend), [[0, 0], [1, 0], [2, 1], [3, 2], [3, 3]])
    rng = np.random.default_rng(5)
    for _ in range(60):
        a = rng.integers(0, 3, size=(int(rng.integers(3, 25)), 1, 2)).astype(float)
        b = rng.integers(0, 3, size=(int(rng.integers(3, 25)), 1, 2)).astype(float)
        np.testing.assert_array_equal(dtw_path(a, b, backend="numpy"), dtw_path(a, b, backend="dtaidistance"))


def _time_shift_pair():
    t = np.linspace(0, 2 * np.pi, 30)
    joints = np.stack([np.sin(t + k) for k in range(5)], axis=1)  # (30, 5)
    motion = np.stack([joints, np.cos(2 * joints), 0.5 * joints**2], axis=-1)  # (30, 5, 3)
    hold = lambda frame, n: np.repeat(motion[[frame]], n, axis=0)
    gt = np.concatenate([hold(0, 2), motion, hold(-1, 6)])  # the same motion, started 4 frames later
    pred = np.concatenate([hold(0, 6), motion, hold(-1, 2)])
    return pred, gt


def test_dtw_mpjpe_time_shift_is_free():
    pred, gt = _time_shift_pair()
    assert mpjpe(pred, gt).mean() > 0.3
    np.testing.assert_allclose(dtw_mpjpe(pred, gt), 0.0, atol=1e-12)
    np.testing.assert_allclose(dtw_mpjpe(pred, gt, procrustes_align=True), 0.0, atol=1e-8)
    # the warp is found on the raw pose vectors; Procrustes only enters the matched errors, which can
    # only shrink: per true frame, PA errors along the same path are <= the plain ones
    noisy = pred + np.random.default_rng(5).normal(scale=0.2, size=pred.shape)
    assert np.all(dtw_mpjpe(noisy, gt, procrustes_align=True) <= dtw_mpjpe(noisy, gt) + 1e-12)


def test_dtw_mpjpe_batching_torch_and_validation():
    pred = RNG.normal(size=(2, 3, 12, 4, 3))
    gt = RNG.normal(size=(2, 3, 9, 4, 3))
    out = dtw_mpjpe(pred, gt)
    assert out.shape == (2, 3, 9)
    np.testing.assert_allclose(out[1, 2], dtw_mpjpe(pred[1, 2], gt[1, 2]))
    _agree(dtw_mpjpe, pred, gt)
    _agree(dtw_mpjpe, pred, gt, procrustes_align=True, atol=1e-8)
    p = _t(pred, requires_grad=True)
    dtw_mpjpe(p, gt).sum().backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # a single frame on one side: every frame of the other is matched to it
    one = gt[0, 0, :1]
    expect = mpjpe(pred[0, 0], np.repeat(one, 12, axis=0)).mean(keepdims=True)
    np.testing.assert_allclose(dtw_mpjpe(pred[0, 0], one), expect)
    with pytest.raises(ValueRangeError, match="same leading dims"):
        dtw_mpjpe(pred, gt[0])
    with pytest.raises(ValueRangeError, match="backend"):
        dtw_path(pred[0, 0], gt[0, 0], backend="fast")
    with pytest.raises(ValueRangeError):
        dtw_path(pred[0, 0], gt[0, 0, :, :2])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(0, 2**32 - 1),
)
def test_dtw_path_properties(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 2, 2)), rng.normal(size=(m, 2, 2))
    path = dtw_path(a, b, backend="numpy")
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (n - 1, m - 1)
    steps = np.diff(path, axis=0)
    assert np.all((steps >= 0) & (steps <= 1)) and np.all(steps.sum(axis=1) >= 1)
    np.testing.assert_array_equal(path, dtw_path(a, b, backend="dtaidistance"))


# ------------------------------------------------------------------------- power spectrum
T = 64
TT = np.arange(T)


def _seq(signal: np.ndarray) -> np.ndarray:
    """One sequence of one feature: (N=1, T, J=1, D=1)."""
    return signal.reshape(1, -1, 1, 1)


def test_ps_entropy_hand_computed():
    assert ps_entropy(_seq(np.ones(T))) == pytest.approx(0.0, abs=1e-6)  # all power at DC
    tone = np.cos(2 * np.pi * 5 * TT / T)
    assert ps_entropy(_seq(tone)) == pytest.approx(math.log(2), abs=1e-6)  # bins 5 and T-5
    spec = power_spectrum(_seq(tone))[:, 0, 0]
    np.testing.assert_allclose(spec[[5, T - 5]], [0.5, 0.5], atol=1e-9)
    noise = np.random.default_rng(1).normal(size=(400, T, 1, 1))
    h_noise = ps_entropy(noise)
    assert math.log(T) - 0.01 < h_noise < math.log(T)  # pooled white noise: nearly flat
    # not pooled: each sequence's own spectrum is rougher, its entropy lower (about ln T - 0.42)
    assert 3.5 < ps_entropy(noise, pooled=False) < h_noise


def test_ps_kld_hand_computed():
    w1, w2 = 2 * np.pi * 1 * TT / T, 2 * np.pi * 2 * TT / T
    p = _seq(np.cos(w1) + 2 * np.cos(w2))  # power 1 : 4 -> 0.1, 0.4 on bins 1, 2 and mirror bins
    q = _seq(2 * np.cos(w1) + np.cos(w2))  # 0.4, 0.1
    u = _seq(np.cos(w1) + np.cos(w2))  # 0.25 each
    assert ps_kld(p, q) == pytest.approx(0.6 * math.log(4), abs=1e-6)
    kl_pu = 2 * (0.1 * math.log(0.1 / 0.25) + 0.4 * math.log(0.4 / 0.25))
    kl_up = 2 * (0.25 * math.log(0.25 / 0.1) + 0.25 * math.log(0.25 / 0.4))
    assert ps_kld(p, u, direction="pred_gt") == pytest.approx(kl_pu, abs=1e-6)
    assert ps_kld(p, u, direction="gt_pred") == pytest.approx(kl_up, abs=1e-6)
    assert ps_kld(p, u) == pytest.approx((kl_pu + kl_up) / 2, abs=1e-6)
    assert ps_kld(p, p) == pytest.approx(0.0, abs=1e-12)


def test_ps_metrics_sets_agreement_and_validation():
    pred = RNG.normal(size=(2, 8, 30, 5, 3))
    gt = RNG.normal(size=(2, 20, 30, 5, 3))
    assert ps_entropy(pred).shape == (2,)
    assert ps_entropy(pred, per_feature=True).shape == (2, 5, 3)
    assert ps_kld(pred, gt).shape == (2,)
    assert power_spectrum(pred).shape == (2, 30, 5, 3)
    assert power_spectrum(pred, pooled=False).shape == (2, 8, 30, 5, 3)
    np.testing.assert_allclose(power_spectrum(pred).sum(axis=-3), 1.0)
    _agree(ps_entropy, pred)
    _agree(ps_entropy, pred, pooled=False)
    _agree(ps_kld, pred, gt)
    _agree(ps_kld, pred, gt, pooled=False, direction="pred_gt")
    # identical sequences: pooled and per-sequence agree, and the divergence to itself is 0
    same = np.repeat(pred[:, :1], 4, axis=1)
    np.testing.assert_allclose(ps_entropy(same), ps_entropy(same, pooled=False))
    np.testing.assert_allclose(ps_kld(same, same, pooled=False), 0.0, atol=1e-12)
    with pytest.raises(ValueRangeError, match="length T"):
        ps_kld(pred, gt[:, :, :20])
    with pytest.raises(ValueRangeError, match="direction"):
        ps_kld(pred, gt, direction="forward")
    with pytest.raises(ValueRangeError, match=r"\(\.\.\., N, T, J, D\)"):
        ps_entropy(pred[0, 0])


# -------------------------------------------------------------------------- stochastic metrics
def test_apd_hand_computed():
    s = np.array([0.0, 3.0, 4.0]).reshape(3, 1, 1, 1)  # distances 3, 4, 1
    assert apd(s) == pytest.approx(8 / 3)
    two = np.array([[0.0, 0.0], [3.0, 4.0]]).reshape(2, 1, 1, 2)
    assert apd(two) == pytest.approx(5.0)
    assert apd(s[:1]) == 0.0
    samples = RNG.normal(size=(4, 10, 6, 7, 3))
    out = apd(samples)
    assert out.shape == (4,)
    np.testing.assert_allclose(out[1], pdist(samples[1].reshape(10, -1)).mean())
    _agree(apd, samples)
    x = _t(samples, requires_grad=True)
    apd(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_best_of_k_hand_computed():
    gt = np.zeros((2, 1, 2))  # T=2, J=1, D=2
    a = np.array([[[3.0, 4.0]], [[0.0, 0.0]]])  # ADE 2.5, FDE 0
    b = np.array([[[1.0, 0.0]], [[0.0, 2.0]]])  # ADE 1.5, FDE 2
    samples = np.stack([a, b])
    assert best_of_k_ade(samples, gt) == pytest.approx(1.5)
    assert best_of_k_fde(samples, gt) == pytest.approx(0.0)
    # the distance is the norm of the whole pose, not a per-joint mean: joints off by 3 and 4 -> 5
    one = np.array([[[3.0, 0.0], [0.0, 4.0]]])[None]  # K=1, T=1, J=2, D=2
    assert best_of_k_ade(one, np.zeros((1, 2, 2))) == pytest.approx(5.0)
    # multimodal: pseudo futures {gt, b}: best ADE 1.5 and 0 -> 0.75; FDE 0 and 0 -> 0
    pseudo = np.stack([gt, b])
    assert mm_ade(samples, pseudo) == pytest.approx(0.75)
    assert mm_fde(samples, pseudo) == pytest.approx(0.0)
    # a padded slot marked invalid is ignored
    padded = np.stack([gt, b, 100 + gt])
    assert mm_ade(samples, padded, valid=[True, True, False]) == pytest.approx(0.75)


def test_best_of_k_reference_and_agreement():
    samples = RNG.normal(size=(3, 5, 8, 4, 3))
    gt = RNG.normal(size=(3, 8, 4, 3))
    ade = best_of_k_ade(samples, gt)
    ref = np.linalg.norm((samples - gt[:, None]).reshape(3, 5, 8, -1), axis=-1).mean(axis=-1).min(axis=-1)
    np.testing.assert_allclose(ade, ref)
    _agree(best_of_k_ade, samples, gt)
    _agree(best_of_k_fde, samples, gt)
    pseudo = RNG.normal(size=(3, 6, 8, 4, 3))
    _agree(mm_ade, samples, pseudo)
    _agree(mm_fde, samples, pseudo)
    np.testing.assert_allclose(
        mm_ade(samples, pseudo)[2], np.mean([best_of_k_ade(samples[2], pseudo[2, m]) for m in range(6)])
    )
    with pytest.raises(ValueRangeError, match=r"\(\.\.\., T, J, D\)"):
        best_of_k_ade(samples, gt[:, :4])
    with pytest.raises(ValueRangeError, match="pseudo_futures"):
        mm_ade(samples, pseudo[:, :, :4])
    with pytest.raises(ValueRangeError, match="K samples"):
        apd(gt[0])


def test_multimodal_indices_and_gather():
    last = np.array([0.0, 0.3, 0.7, 2.0]).reshape(4, 1, 1)
    groups = multimodal_indices(last, threshold=0.5)
    assert [g.tolist() for g in groups] == [[0, 1], [0, 1, 2], [1, 2], [3]]
    assert [g.tolist() for g in multimodal_indices(last, 0.5, chunk=1)] == [g.tolist() for g in groups]
    assert [g.tolist() for g in multimodal_indices(torch.tensor(last), 0.5)] == [g.tolist() for g in groups]
    futures = np.arange(4, dtype=float).reshape(4, 1, 1, 1) * np.ones((4, 2, 1, 1))
    pseudo, valid = gather_multimodal_futures(futures, groups)
    assert pseudo.shape == (4, 3, 2, 1, 1)
    np.testing.assert_array_equal(valid, [[1, 1, 0], [1, 1, 1], [1, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(pseudo[1, :, 0, 0, 0], [0, 1, 2])
    pseudo_t, valid_t = gather_multimodal_futures(torch.tensor(futures), groups)
    np.testing.assert_array_equal(pseudo_t.numpy(), pseudo)
    # every window with samples equal to its own future: MMADE = mean distance to the group's futures
    samples = futures[:, None]  # K = 1
    np.testing.assert_allclose(mm_ade(samples, pseudo, valid), [0.5, 2 / 3, 0.5, 0.0])
    np.testing.assert_allclose(mm_ade(torch.tensor(samples), pseudo_t, valid_t).numpy(), [0.5, 2 / 3, 0.5, 0.0])
    with pytest.raises(ValueRangeError, match="threshold"):
        multimodal_indices(last, threshold=0)
    with pytest.raises(ValueRangeError, match=r"\(N, J, D\)"):
        multimodal_indices(last[:, 0])
    with pytest.raises(ValueRangeError, match="out of range"):
        gather_multimodal_futures(futures, [np.array([7])] * 4)


# --------------------------------------------------------------------------------- bone lengths
CHAIN = (-1, 0, 1)
CHAIN_POS = np.array(
    [
        [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 2.0, 0.0]],  # lengths 1, 2
        [[0.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 3.0, 2.0]],  # lengths 3, 2
    ]
)


def test_bone_lengths_hand_computed():
    np.testing.assert_allclose(bone_lengths(CHAIN_POS, CHAIN), [[1.0, 2.0], [3.0, 2.0]])
    r = bone_length_consistency(CHAIN_POS, CHAIN, reference_lengths=[1.5, 2.5])
    np.testing.assert_allclose(r.mean_length, [2.0, 2.0])
    np.testing.assert_allclose(r.deviation_from_mean, [1.0, 0.0])
    np.testing.assert_allclose(r.coefficient_of_variation, [0.5, 0.0])
    np.testing.assert_allclose(r.deviation_from_reference, [1.0, 0.5])
    assert r.summary() == pytest.approx(
        {"deviation_from_reference": 0.75, "deviation_from_mean": 0.5, "coefficient_of_variation": 0.25}
    )
    assert bone_length_consistency(CHAIN_POS, CHAIN).deviation_from_reference is None


def test_bone_lengths_with_skeleton_rest_and_zero_length_bones():
    skel = Skeleton(
        name="test-chain4",
        joint_names=("root", "a", "b", "tip"),
        parents=(-1, 0, 1, 2),
        offsets=np.array([[0, 0, 0], [1.0, 0, 0], [0, 2.0, 0], [0, 0, 0]]),
    )
    pos = np.concatenate([CHAIN_POS, CHAIN_POS[:, 2:]], axis=1)  # tip coincides with b: zero-length bone
    r = bone_length_consistency(pos, skel, reference_lengths="rest")
    np.testing.assert_allclose(r.deviation_from_reference, [1.0, 0.0, 0.0])
    assert np.isnan(r.coefficient_of_variation[2])
    assert r.summary()["coefficient_of_variation"] == pytest.approx(0.25)
    # torch path: same numbers, differentiable
    x = _t(pos, requires_grad=True)
    rt = bone_length_consistency(x, skel, reference_lengths="rest")
    np.testing.assert_allclose(rt.deviation_from_reference.detach().numpy(), r.deviation_from_reference)
    rt.deviation_from_mean.sum().backward()
    assert torch.isfinite(x.grad).all()
    batch = np.stack([pos, 2 * pos])
    assert bone_length_consistency(batch, skel).deviation_from_mean.shape == (2, 3)
    with pytest.raises(SkeletonError, match="3 joints but skeleton"):
        bone_lengths(CHAIN_POS, skel)
    with pytest.raises(SkeletonError, match="reference lengths"):
        bone_length_consistency(pos, skel, reference_lengths=[1.0, 2.0])
    with pytest.raises(ValueRangeError, match="rest"):
        bone_length_consistency(CHAIN_POS, CHAIN, reference_lengths="rest")


def test_bone_lengths_on_cmu_benchmark(cmu_mocap_dir):
    """Forward kinematics keeps bones rigid: real CMU-Mocap positions deviate by ~0 from rest lengths."""
    import posecast

    motion = posecast.load(cmu_mocap_dir / "test" / "walking" / "walking_1.txt")
    r = bone_length_consistency(motion.positions, motion.skeleton, reference_lengths="rest")
    assert r.summary()["deviation_from_reference"] < 1e-12
    assert r.summary()["coefficient_of_variation"] < 1e-12
    noisy = motion.positions + np.random.default_rng(0).normal(scale=0.01, size=motion.positions.shape)
    assert bone_length_consistency(noisy, motion.skeleton, "rest").summary()["deviation_from_reference"] > 0.005


def test_rotation_matrices_under_the_expmap_default_are_refused_and_masked_nan_joints_are_left_out():
    from scipy.spatial.transform import Rotation

    from posecast.evaluation.metrics import euler_angle_error

    a = Rotation.random(4 * 22, random_state=0).as_matrix().reshape(4, 22, 3, 3)
    b = Rotation.random(4 * 22, random_state=1).as_matrix().reshape(4, 22, 3, 3)
    with pytest.raises(ValueRangeError, match="holds rotation matrices .* pass rep='matrix'"):
        euler_angle_error(a, b)
    assert euler_angle_error(a, b, rep="matrix").shape == (4,)
    e = np.random.default_rng(0).normal(size=(4, 3, 3))  # exp-maps of 3 joints: still read as such
    assert euler_angle_error(e, 1.1 * e).shape == (4,)
    rng = np.random.default_rng(1)
    pred, gt = rng.normal(size=(5, 17, 3)), rng.normal(size=(5, 17, 3))
    unseen = pred.copy()
    unseen[:, 16] = np.nan  # a keypoint never seen, stored as NaN, weight 0: left out, not NaN
    w = np.ones(17)
    w[16] = 0.0
    np.testing.assert_allclose(mpjpe(unseen, gt, weights=w), mpjpe(pred[:, :16], gt[:, :16]), rtol=1e-12)
