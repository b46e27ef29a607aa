"""PoseMoNet (posecast.video.models.posemonet): Lie head and FK, refinement mixing, shapes, training,
shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecast.kinematics.lie import se3_exp
from posecast.video.cameras import CameraConfig, film
from posecast.video.models import posemonet as P
from posecast.video.track import PoseTrack

PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)  # body-17


def tiny() -> P.PoseMoNetConfig:
    return P.PoseMoNetConfig(
        history=6,
        future_frames=4,
        hidden=16,
        expert_width=16,
        refine_hidden=16,
        conv_channels=4,
        experts=3,
        dropout=0.0,
    )


def random_poses(n: int, seed: int = 0, spread: float = 0.08) -> torch.Tensor:
    """``(n, 17, 3)`` rest poses, randomly turned and perturbed, pelvis at the origin (float64)."""
    import roma

    g = torch.Generator().manual_seed(seed)
    rest = torch.as_tensor(P.rest_pose("body-17"))
    pos = rest + spread * torch.randn(n, 17, 3, generator=g, dtype=torch.float64)
    rot = roma.rotvec_to_rotmat(torch.randn(n, 3, generator=g, dtype=torch.float64))
    pos = pos @ rot.transpose(-1, -2)
    return pos - pos[:, :1]


def chain_reference(xi: np.ndarray) -> np.ndarray:
    """Joint positions by multiplying 4x4 ``se3_exp`` matrices down the tree, one joint at a time."""
    mats = se3_exp(xi)  # numpy in, numpy out
    glob = [None] * len(PARENTS)
    out = np.zeros(xi.shape[:-1] + (3,))
    for j, p in enumerate(PARENTS):
        glob[j] = mats[..., j, :, :] if p < 0 else glob[p] @ mats[..., j, :, :]
        out[..., j, :] = glob[j][..., :3, 3]
    return out


# ----------------------------------------------------------------------------------- Lie head
def test_lie_fk_matches_the_product_of_se3_exponentials():
    xi = np.random.default_rng(0).normal(size=(5, 17, 6)) * 0.4
    got = P.lie_fk(torch.as_tensor(xi), PARENTS).numpy()
    np.testing.assert_allclose(got, chain_reference(xi), atol=1e-10)


def test_lie_targets_reproduce_the_joints_through_fk():
    pos = random_poses(16)
    xi = P.positions_to_lie(pos, PARENTS, P.rest_pose("body-17"))
    assert xi.shape == (16, 17, 6)
    np.testing.assert_allclose(P.lie_fk(xi, PARENTS).numpy(), pos.numpy(), atol=1e-9)
    np.testing.assert_allclose(chain_reference(xi.numpy()), pos.numpy(), atol=1e-9)


def test_rest_pose_has_no_rotation_and_bone_translations():
    rest = P.rest_pose("body-17")
    xi = P.positions_to_lie(torch.as_tensor(rest)[None], PARENTS, rest)[0].numpy()
    np.testing.assert_allclose(xi[:, 3:], 0.0, atol=1e-7)  # every bone along its rest direction
    bones = np.linalg.norm(rest[1:] - rest[np.array(PARENTS[1:])], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(xi[1:, :3], axis=-1), bones, atol=1e-9)


def test_turning_the_body_changes_only_the_root_twist():
    import roma

    pos = random_poses(4, seed=3)
    rot = roma.rotvec_to_rotmat(torch.tensor([0.3, -1.2, 0.5], dtype=torch.float64))
    rest = P.rest_pose("body-17")
    a = P.positions_to_lie(pos, PARENTS, rest)
    b = P.positions_to_lie(pos @ rot.T, PARENTS, rest)
    np.testing.assert_allclose(a[:, 1:].numpy(), b[:, 1:].numpy(), atol=1e-8)
    assert not torch.allclose(a[:, 0], b[:, 0])


def test_omega_is_zero_exactly_when_the_two_paths_agree():
    torch.manual_seed(0)
    net = P.PoseMoNet(tiny())
    lie = 0.3 * torch.randn(2, 10, 17, 6)
    coord = P.lie_fk(lie, PARENTS)
    target = random_poses(1).float().expand(2, 10, 17, 3)
    out = {
        "past_coord": coord[:, :6],
        "past_lie": lie[:, :6],
        "future_coord": coord[:, 6:],
        "future_lie": lie[:, 6:],
        "refined": coord,
    }
    _, parts = net.loss(out, target)
    assert parts["omega"] < 1e-6
    out["past_coord"] = out["past_coord"] + torch.tensor([0.01, 0.0, 0.0])  # 1 cm off on the 6 past frames
    _, parts = net.loss(out, target)
    assert parts["omega"] == pytest.approx(0.01 * 6 / 10, rel=1e-4)


def test_self_projection_gates_are_softmax_mixtures():
    sp = P.SelfProjection(8, 17, 12, 5)
    x = torch.randn(3, 8)
    g = sp.gate_weights(x)
    assert g.shape == (3, 2, 5)
    torch.testing.assert_close(g.sum(-1), torch.ones(3, 2))
    coord, lie = sp(x)
    assert coord.shape == (3, 17, 3) and lie.shape == (3, 17, 6)


# ---------------------------------------------------------------------------------- refinement
def test_refinement_alpha_is_learned_and_mixes_the_two_paths():
    torch.manual_seed(0)
    gr = P.GlobalRefinement(tiny(), 17)
    assert isinstance(gr.alpha_logit, torch.nn.Parameter) and gr.alpha_logit.requires_grad
    coord, lie = torch.randn(2, 9, 17, 3), torch.randn(2, 9, 17, 6)
    with torch.no_grad():  # make the two paths differ
        gr.gru_out.weight.normal_()
        gr.conv_out.weight.normal_()
        gr.alpha_logit.normal_(std=3.0)
    a = gr.alpha
    assert a.shape == (17, 3) and bool((a > 0).all()) and bool((a < 1).all())
    gru_r, conv = gr.paths(coord, lie)
    torch.testing.assert_close(gr(coord, lie), a * gru_r + (1 - a) * conv)
    with torch.no_grad():
        gr.alpha_logit.fill_(50.0)
    torch.testing.assert_close(gr(coord, lie), gru_r)
    with torch.no_grad():
        gr.alpha_logit.fill_(-50.0)
    torch.testing.assert_close(gr(coord, lie), conv)
    with torch.no_grad():
        gr.alpha_logit.zero_()
    gr(coord, lie).pow(2).sum().backward()
    assert gr.alpha_logit.grad is not None and gr.alpha_logit.grad.abs().sum() > 0


def test_refinement_starts_as_the_identity_and_handles_odd_lengths():
    gr = P.GlobalRefinement(tiny(), 17)
    coord, lie = torch.randn(1, 7, 17, 3), torch.randn(1, 7, 17, 6)
    torch.testing.assert_close(gr(coord, lie), coord)  # both residual read-outs start at zero


# ------------------------------------------------------------------------------------ network
def test_shapes_and_zero_velocity_start():
    torch.manual_seed(0)
    net = P.PoseMoNet(tiny()).eval()
    out = net(torch.randn(3, 6, 17, 3), steps=9)
    assert out["past_coord"].shape == (3, 6, 17, 3) and out["past_lie"].shape == (3, 6, 17, 6)
    assert out["future_coord"].shape == (3, 9, 17, 3) and out["future_lie"].shape == (3, 9, 17, 6)
    assert out["refined"].shape == (3, 15, 17, 3)
    # the untrained MGN holds the last estimated pose (residual read-out starts at zero)
    torch.testing.assert_close(out["future_coord"], out["past_coord"][:, -1:].expand(-1, 9, -1, -1))


def synthetic_batch(n: int, frames: int, seed: int = 0):
    """Filmed windows of a rest pose swinging its limbs (no real data needed)."""
    rng = np.random.default_rng(seed)
    rest = P.rest_pose("body-17")
    t = np.arange(frames)[:, None, None] / 25.0
    w = []
    for _ in range(n):
        amp = rng.normal(size=(1, 17, 3)) * 0.1
        amp[:, 0] = 0
        w.append(rest[None] + amp * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t) + [0, 1.0, 0])
    return film(np.stack(w), "body-17", 25.0, rng, CameraConfig.clean())


def test_tiny_training_run_reduces_the_loss():
    torch.manual_seed(0)
    cfg = tiny()
    net = P.build(cfg)
    batch = synthetic_batch(8, cfg.history + cfg.future_frames)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, logs = P.training_loss(net, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert set(logs) >= {"pln", "mgn", "gr", "omega", "alpha_mean"}
    assert losses[-1] < 0.6 * losses[0]


def test_predict_pads_short_and_windows_long_tracks():
    torch.manual_seed(0)
    model = P.PoseMoNetForecaster(P.PoseMoNet(tiny()))
    for frames in (3, 6, 20):
        batch = synthetic_batch(2, frames, seed=frames)
        pred = model.predict(batch.keypoints, batch.visibility, 5)
        assert pred.past.shape == (2, frames, 17, 3) and pred.future.shape == (2, 5, 17, 3)
        assert pred.camera.shape == (2, frames + 5, 3) and np.isfinite(pred.camera).all()


def test_saved_weights_round_trip(tmp_path):
    from posecast.models import store

    torch.manual_seed(0)
    net = P.PoseMoNet(tiny())
    store.save_folder(tmp_path, net.state_dict(), {"config": net.config.model_dump()})
    model = P.load(tmp_path)
    batch = synthetic_batch(1, 6)
    a = P.PoseMoNetForecaster(net).predict(batch.keypoints, batch.visibility, 3)
    b = model.predict(batch.keypoints, batch.visibility, 3)
    np.testing.assert_allclose(a.future, b.future, atol=1e-6)


def test_weights_written_with_the_old_horizon_key_still_load(tmp_path):
    """``future_frames`` was stored as ``horizon`` before the rename: such weights still load (and still
    fit ``--init`` of a training run), and the config is written back with the new key."""
    from posecast.models import store
    from posecast.training.video import VideoData, VideoTask, VideoTrainConfig

    cfg = tiny()
    old = {("horizon" if k == "future_frames" else k): v for k, v in cfg.model_dump().items()}
    assert P.PoseMoNetConfig.model_validate(old) == P.PoseMoNetConfig(**old) == cfg and cfg.future_frames == 4
    assert "horizon" not in cfg.model_dump() and store.current_keys(P.PoseMoNetConfig, old) == cfg.model_dump()
    torch.manual_seed(0)
    net = P.PoseMoNet(cfg)
    store.save_folder(tmp_path / "w", net.state_dict(), {"config": old})
    assert P.load(tmp_path / "w").net.config == cfg
    data = VideoData(train=[random_poses(40).numpy()], val=[random_poses(40, seed=1).numpy()], fps=25.0)
    config = VideoTrainConfig(model="posemonet", network=cfg.model_dump(), init=str(tmp_path / "w"), length=10)
    task = VideoTask(config, data=data, camera=CameraConfig.clean())
    task.prepare(None)  # the init check compares the configs key by key: no "differs in horizon"
    for k, v in net.state_dict().items():
        torch.testing.assert_close(task.network.state_dict()[k], v)


def test_shipped_weights_forecast_a_track():
    from posecast import models

    if not models.store.variants("posemonet"):
        pytest.skip("no shipped posemonet weights")
    model = models.get("posemonet")
    batch = synthetic_batch(1, 40)
    track = batch.track(0, start_time=2.0)
    fc = model.forecast_track(track, 0.5)
    assert fc.past.shape == (40, 17, 3) and fc.future.shape == (12, 17, 3)
    np.testing.assert_allclose(fc.times[:40], track.times)
    np.testing.assert_allclose(np.diff(fc.times[39:]), 1 / 25.0)
    assert fc.camera.shape == (52, 3) and fc.model == "posemonet" and fc.skeleton == "body-17"
    # a sensible body: the estimated pelvis-to-head distance is between 0.3 and 1.2 m
    head = np.linalg.norm(fc.past[:, 10] - fc.past[:, 0], axis=-1)
    assert 0.3 < head.mean() < 1.2
    assert isinstance(track, PoseTrack)


def test_mismatched_weights_raise_model_error(tmp_path):
    import json

    from posecast.errors import ModelError
    from posecast.models import store

    net = P.PoseMoNet(tiny())
    store.save_folder(tmp_path, net.state_dict(), {"config": net.config.model_dump()})
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["config"]["hidden"] = 24
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="posemonet"):
        P.load(tmp_path)
