"""The ``lifter`` video model: dilated centred receptive field, bones at their window medians, a tiny training
run that lifts better than it started, the forecaster contract (past lifted, last pose held), the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posecast
from posecast import skeletons
from posecast.errors import ModelError, ValueRangeError
from posecast.kinematics.fk import bone_lengths, keep_bone_lengths, set_bone_lengths
from posecast.models import store
from posecast.skeletons.mapping import to_layout
from posecast.synthetic import synthetic_walk
from posecast.training.loop import fit
from posecast.training.video import VideoData, VideoTask, VideoTrainConfig
from posecast.video.cameras import CameraConfig
from posecast.video.models import lifter
from posecast.video.models.common import ResBlock1d, TemporalEncoder


def _changed(enc: torch.nn.Module, length: int, at: int, dim: int) -> np.ndarray:
    torch.manual_seed(0)
    x = torch.randn(1, length, dim)
    y = x.clone()
    y[:, at] += 1.0
    with torch.no_grad():
        d = (enc(x) - enc(y)).abs().amax(dim=-1)[0]
    return np.flatnonzero(d.numpy() > 1e-6)


def test_dilated_centred_encoder_sees_30_frames_each_side() -> None:
    enc = TemporalEncoder(6, 16, blocks=4, kernel=3, causal=False, dilations=(1, 2, 4, 8)).eval()
    assert enc.receptive_field == 1 + 2 * 2 * (1 + 2 + 4 + 8) == 61
    np.testing.assert_array_equal(_changed(enc, 120, 60, 6), np.arange(30, 91))


def test_dilated_causal_block_is_causal() -> None:
    torch.manual_seed(0)
    block = ResBlock1d(8, 3, causal=True, dilation=4).eval()
    assert block.receptive_field == 17
    x = torch.randn(1, 8, 40)
    y = x.clone()
    y[..., 20] += torch.randn(8)  # not a constant: the per-frame norm removes a shift of every channel
    with torch.no_grad():
        d = (block(x) - block(y)).abs().amax(dim=1)[0]
    # two taps-of-3 convolutions dilated by 4: outputs 20, 24, ..., 36 (a span of 17 frames, every 4th)
    np.testing.assert_array_equal(np.flatnonzero(d.numpy() > 1e-6), np.arange(20, 37, 4))
    with pytest.raises(ValueError):
        TemporalEncoder(6, 8, blocks=2, dilations=(1,))


def test_bone_lengths_agree_with_the_checked_metric() -> None:
    from posecast.evaluation.metrics import bone_lengths as metric

    skel = skeletons.get("body-17")
    poses = torch.as_tensor(np.random.default_rng(4).normal(size=(3, 5, 17, 3)))
    got = bone_lengths(poses, skel)
    assert got.shape == (3, 5, 16)
    torch.testing.assert_close(got, torch.as_tensor(np.asarray(metric(poses.numpy(), skel))))


def test_set_bone_lengths_by_hand() -> None:
    chain = type("S", (), {"parents": (-1, 0, 1)})()
    poses = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 2.0, 0.0], [4.0, 2.0, 0.0]]], dtype=torch.float64)
    out = set_bone_lengths(poses, torch.tensor([0.5, 1.0], dtype=torch.float64), chain)
    # the root stays; bone 0->1 along +y, 0.5 long; bone 1->2 along +x, 1 long
    expected = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.5, 0.0], [2.0, 0.5, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(out[0], expected)
    ref = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.5, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(keep_bone_lengths(poses, ref, chain), out)


def test_median_bones_makes_lengths_constant_and_keeps_directions() -> None:
    body = skeletons.get("body-17")
    pos = to_layout(synthetic_walk(seconds=2.0, fps=25.0), "body-17").positions
    truth = torch.as_tensor(pos - pos[:, :1], dtype=torch.float64)[None]
    rng = np.random.default_rng(0)
    noisy = truth + torch.as_tensor(rng.normal(0, 0.01, truth.shape))
    noisy = noisy - noisy[..., :1, :]
    out = lifter.median_bones(noisy, body)
    lengths = bone_lengths(out, body)
    assert float((lengths - lengths[:, :1]).abs().max()) < 1e-9
    expected = bone_lengths(noisy, body).median(dim=1).values
    torch.testing.assert_close(lengths[:, 0], expected)
    children = [j for j, p in enumerate(body.parents) if p >= 0]
    parents = [body.parents[j] for j in children]
    d_in = noisy[..., children, :] - noisy[..., parents, :]
    d_out = out[..., children, :] - out[..., parents, :]
    cos = (d_in * d_out).sum(-1) / (d_in.norm(dim=-1) * d_out.norm(dim=-1))
    assert float(cos.min()) > 1 - 1e-9


@pytest.fixture(scope="module")
def walk_data() -> VideoData:
    pos = to_layout(synthetic_walk(seconds=8.0, fps=25.0), "body-17").positions
    return VideoData(train=[pos], val=[pos], fps=25.0)


def test_tiny_training_lifts_better_and_the_forecaster_holds_the_last_pose(walk_data: VideoData, tmp_path) -> None:
    cfg = lifter.LifterConfig(channels=32, hidden=64, dilations=(1, 2))
    fixed = walk_data.sample(16, 20, np.random.default_rng(1), CameraConfig.clean())
    config = VideoTrainConfig(
        model="lifter",
        network=cfg.model_dump(),
        steps=80,
        batch_size=16,
        length=20,
        lr=3e-3,
        warmup_steps=5,
        val_every=40,
    )
    task = VideoTask(config, data=walk_data, camera=CameraConfig.clean())
    torch.manual_seed(0)
    with torch.no_grad():
        before = lifter.evaluate(lifter.build(cfg), fixed)["val_past_mm"]
    fit(task, tmp_path / "run")
    after = lifter.evaluate(task.network, fixed)
    assert after["val_past_mm"] < 0.6 * before
    assert set(after) == {"val_past_mm", "val_past_bones_mm", "val_last_mm"}
    model = posecast.models.get("lifter", weights=tmp_path / "run")
    assert isinstance(model, lifter.Lifter)
    # the checkpoint says which body-17 it saw (the config's data: cmu-bvh, the layout tables' body-17)
    assert store.load_folder(tmp_path / "run" / "last")[1]["keypoint_convention"] == "body-17"
    assert model.keypoint_convention == "body-17"
    pred = model.predict(fixed.keypoints[:3], fixed.visibility[:3], 7)
    assert pred.past.shape == (3, 20, 17, 3) and pred.future.shape == (3, 7, 17, 3)
    assert pred.camera.shape == (3, 27, 3) and (pred.camera[..., 0] > 0).all()
    np.testing.assert_allclose(pred.past[..., 0, :], 0.0, atol=1e-9)
    np.testing.assert_allclose(pred.future, np.repeat(pred.past[:, -1:], 7, axis=1))
    # keep_bones: every bone the same length in every frame of a window
    lengths = bone_lengths(torch.as_tensor(pred.past), skeletons.get("body-17")).numpy()
    np.testing.assert_allclose(lengths, np.repeat(lengths[:, :1], 20, axis=1), atol=1e-9)


def test_config_and_registry() -> None:
    with pytest.raises(ValueError):
        lifter.LifterConfig(kernel=4)
    with pytest.raises(ValueError):
        lifter.LifterConfig(dilations=(1, 0))
    assert posecast.models.info("lifter").kind == "video"
    if not store.variants("lifter"):
        with pytest.raises(ModelError):
            posecast.models.get("lifter")


# ----------------------------------------------------------------------- other bodies (BodyAugment)
def test_rescale_bones_by_hand() -> None:
    from posecast.datasets.windows import rescale_bones

    skel = skeletons.get("body-17")
    rng = np.random.default_rng(3)
    w = rng.normal(size=(2, 3, 17, 3))
    f = np.ones((2, 17))
    knee = skel.joint_names.index("right_knee")
    f[0, knee] = 2.0  # the thigh of the first window twice as long
    out = rescale_bones(w, skel, f)
    moved = w[0, :, knee] - w[0, :, skel.parents[knee]]  # the knee moves by one thigh more...
    below = [j for j in range(17) if j == knee or knee in _ancestors(skel, j)]
    np.testing.assert_allclose(out[0][:, below], w[0][:, below] + moved[:, None], atol=1e-12)
    others = [j for j in range(17) if j not in below]  # ...and so do the joints below it, nothing else
    np.testing.assert_allclose(out[0][:, others], w[0][:, others], atol=1e-12)
    np.testing.assert_allclose(out[1], w[1], atol=1e-12)
    with pytest.raises(Exception, match="factors"):
        rescale_bones(w, skel, f[:, :5])


def _ancestors(skel, j: int) -> set[int]:
    out = set()
    while skel.parents[j] >= 0:
        j = skel.parents[j]
        out.add(j)
    return out


def test_random_proportions_are_symmetric_and_in_range() -> None:
    from posecast.datasets.windows import random_proportions

    skel = skeletons.get("body-17")
    f = random_proportions(np.random.default_rng(0), skel, 500, 0.1, 0.05)
    twin = np.asarray(skel.mirror_permutation)
    np.testing.assert_array_equal(f, f[:, twin])
    assert f.min() >= 0.9 * 0.95 - 1e-12 and f.max() <= 1.1 * 1.05 + 1e-12
    assert f.std() > 0.03  # really varied


def test_tilt_rotates_about_a_horizontal_axis_through_the_mean_root() -> None:
    from posecast.datasets.windows import tilt

    w = np.zeros((2, 2, 17, 3))
    w[:, :, 0] = [[1.0, 1.0, 0.0], [1.0, 1.0, 2.0]]  # root at (1, 1, 0) then (1, 1, 2): mean (1, 1, 1)
    w[:, :, 8] = w[:, :, 0] + [0.0, 0.5, 0.0]  # a joint half a metre above the root
    out = tilt(w, np.array([np.pi / 2, np.pi / 2]), np.array([0.0, np.pi / 2]))
    # about x (azimuth 0): up -> +z; about z (azimuth 90 degrees): up -> -x
    np.testing.assert_allclose(out[0, :, 8] - out[0, :, 0], [[0, 0, 0.5]] * 2, atol=1e-12)
    np.testing.assert_allclose(out[1, :, 8] - out[1, :, 0], [[-0.5, 0, 0]] * 2, atol=1e-12)
    np.testing.assert_allclose(out[:, :, 0].mean(axis=1), [[1, 1, 1]] * 2, atol=1e-12)  # the centre stays
    np.testing.assert_allclose(tilt(w, np.zeros(2), np.ones(2)), w, atol=1e-12)


def test_tilt_per_frame_and_ramps_lie_down_or_get_up() -> None:
    from posecast.datasets.windows import BodyAugment, tilt, tilt_ramps

    w = np.zeros((1, 3, 17, 3))
    w[:, :, 8] = [0.0, 0.5, 0.0]  # half a metre above the root, which stays at the origin
    out = tilt(w, np.array([[0.0, np.pi / 4, np.pi / 2]]), np.zeros(1))  # about x, a different tilt per frame
    h = 0.5 / np.sqrt(2)
    np.testing.assert_allclose(out[0, :, 8], [[0, 0.5, 0], [0, h, h], [0, 0, 0.5]], atol=1e-12)
    with pytest.raises(ValueRangeError, match="angles"):
        tilt(w, np.zeros((1, 2)), np.zeros(1))
    a = tilt_ramps(np.random.default_rng(0), np.full(400, np.pi / 2), 50)
    assert a.shape == (400, 50) and a.min() >= 0.0 and a.max() <= np.pi / 2 + 1e-12
    step = np.diff(a, axis=1)
    down = (step >= -1e-12).all(axis=1)  # going down to the tilt: never back up
    up = (step <= 1e-12).all(axis=1)  # getting up: never further down
    assert (down | up).all() and 0.35 < down.mean() < 0.65
    ends = np.where(down, a[:, -1] - a[:, 0], a[:, 0] - a[:, -1])
    assert np.median(ends) > 0.5  # most windows cover a large part of the way
    # BodyAugment: ramps only when asked for, and without them the random stream is the old one
    skel = skeletons.get("body-17")
    base = 0.01 * np.random.default_rng(1).normal(size=(64, 20, 17, 3))
    base[:, :, 8, 1] += 0.5  # upright: the thorax half a metre above the pelvis
    old = BodyAugment(skel, 0.0, 0.0, 90.0, 1.0)(base, np.random.default_rng(2))
    rng = np.random.default_rng(2)  # the draws as before tilt_ramp existed: which windows, the angle, the azimuth
    on = rng.random(64) < 1.0
    angles = np.where(on, np.deg2rad(rng.uniform(0.0, 90.0, 64)), 0.0)
    np.testing.assert_allclose(old, tilt(base, angles, rng.uniform(0.0, 2 * np.pi, 64)), atol=1e-12)
    ramped = BodyAugment(skel, 0.0, 0.0, 90.0, 1.0, 1.0)(base, np.random.default_rng(2))
    upward = lambda b: (b[:, :, 8] - b[:, :, 0])[..., 1] / np.linalg.norm(b[:, :, 8] - b[:, :, 0], axis=-1)  # noqa: E731
    assert upward(base).min() > 0.9 and upward(old).std(axis=1).max() < 0.05  # a fixed tilt stays within a window
    assert (np.ptp(upward(ramped), axis=1) > 0.2).mean() > 0.4  # ramps: the body's lean changes within the window


def test_training_windows_get_other_bodies(walk_data: VideoData) -> None:
    from posecast.datasets.windows import BodyAugment

    skel = skeletons.get("body-17")
    plain = walk_data.sample(64, 10, np.random.default_rng(5), CameraConfig.clean())
    body = BodyAugment(skel, bones=0.1, scale=0.1, tilt_degrees=90.0, tilt_probability=0.5)
    other = walk_data.sample(64, 10, np.random.default_rng(5), CameraConfig.clean(), body=body)
    before = bone_lengths(torch.as_tensor(plain.points), skel).numpy()
    after = bone_lengths(torch.as_tensor(other.points), skel).numpy()
    ratio = after / before
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1], ratio.shape), atol=1e-9)  # a body per window
    assert ratio.min() >= 0.81 - 1e-9 and ratio.max() <= 1.21 + 1e-9 and ratio.std() > 0.03
    # the pelvis-to-thorax direction in the camera frame: upright without tilt, often far off it with
    up = lambda b: b.points[:, :, 8, 1] / np.linalg.norm(b.points[:, :, 8], axis=-1)  # noqa: E731
    assert up(plain).min() > 0.8 and (up(other)[:, 0] < 0.7).mean() > 0.15


def test_init_from_weights_of_a_network_with_tuple_fields(walk_data: VideoData, tmp_path) -> None:
    cfg = lifter.LifterConfig(channels=16, hidden=16, dilations=(1, 2))
    base = dict(model="lifter", network=cfg.model_dump(), steps=2, batch_size=4, length=10, val_every=2)
    fit(VideoTask(VideoTrainConfig(**base), data=walk_data, camera=CameraConfig.clean()), tmp_path / "a")
    task = VideoTask(
        VideoTrainConfig(
            **base, init=str(tmp_path / "a"), augment_bones=0.1, augment_tilt=30, augment_tilt_probability=1
        ),
        data=walk_data,
        camera=CameraConfig.clean(),
    )
    fit(task, tmp_path / "b")  # dilations (1, 2) vs the [1, 2] of config.json: the same network
    assert task.body is not None and task.body.bones == 0.1


def test_flip_average_lifts_mirrored_keypoints_to_the_mirrored_estimate() -> None:
    """With ``flip_average`` the lifter is mirror-equivariant by construction (an untrained network is not):
    keypoints mirrored in the image (x flipped, left and right swapped) lift to the mirrored estimate."""
    torch.manual_seed(3)
    perm = skeletons.get("body-17").mirror_permutation
    rng = np.random.default_rng(3)
    kp = rng.uniform(100, 500, size=(2, 30, 17, 2))
    vis = rng.uniform(0.3, 1.0, size=(2, 30, 17))
    mirrored_kp = kp[..., perm, :].copy()
    mirrored_kp[..., 0] = 640.0 - mirrored_kp[..., 0]

    def mirror(p: np.ndarray) -> np.ndarray:
        q = p[..., perm, :].copy()
        q[..., 0] = -q[..., 0]
        return q

    net = lifter.build(lifter.LifterConfig(channels=16, hidden=16, dilations=(1, 2)))
    plain = lifter.Lifter(net)
    a, _ = plain.lift(kp, vis)
    b, _ = plain.lift(mirrored_kp, vis[..., perm])
    assert np.abs(mirror(a) - b).max() > 1e-3  # not equivariant on its own
    flip = lifter.Lifter(lifter.build(net.config.model_copy(update={"flip_average": True})))
    flip.net.load_state_dict(net.state_dict())
    a, cam_a = flip.lift(kp, vis)
    b, cam_b = flip.lift(mirrored_kp, vis[..., perm])
    np.testing.assert_allclose(mirror(a), b, atol=1e-5)
    np.testing.assert_allclose(cam_a[..., 0], cam_b[..., 0], rtol=1e-5)  # the same scale
    np.testing.assert_allclose(cam_a[..., 1] + cam_b[..., 1], 640.0, atol=1e-3)  # mirrored pelvis position
