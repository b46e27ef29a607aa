"""HMMR (posecast.video.models.hmmr): centred temporal encoder, hallucinator, ±Δt predictors,
single-frame forecasts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecast.video.cameras import CameraConfig, film
from posecast.video.models import hmmr as H
from posecast.video.models.posemonet import rest_pose
from posecast.video.track import PoseTrack


def tiny(**kw) -> H.HMMRConfig:
    return H.HMMRConfig(feature=32, regressor=32, hallucinator=32, **kw)


def synthetic_batch(n: int, frames: int, seed: int = 0):
    """Filmed windows of a rest pose swinging its limbs (no real data needed)."""
    rng = np.random.default_rng(seed)
    rest = rest_pose("body-17")
    t = np.arange(frames)[:, None, None] / 25.0
    w = []
    for _ in range(n):
        amp = rng.normal(size=(1, 17, 3)) * 0.1
        amp[:, 0] = 0
        w.append(rest[None] + amp * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t) + [0, 1.0, 0])
    return film(np.stack(w), "body-17", 25.0, rng, CameraConfig.clean())


def test_centred_encoder_sees_six_frames_each_side():
    torch.manual_seed(0)
    net = H.HMMR(tiny()).eval()
    assert net.receptive_field == 13
    x = torch.randn(1, 31, 17, 3)
    c = 15
    with torch.no_grad():
        base = net.movie(net.features(x))[0, c]
        for offset, changes in ((-7, False), (-6, True), (0, True), (6, True), (7, False)):
            y = x.clone()
            y[0, c + offset] += 1.0
            moved = net.movie(net.features(y))[0, c]
            assert bool((moved - base).abs().max() > 1e-6) == changes, offset


def test_hallucinator_maps_one_frame_to_a_representation():
    torch.manual_seed(0)
    net = H.HMMR(tiny()).eval()
    x = torch.randn(2, 1, 17, 3)
    with torch.no_grad():
        phi = net.features(x)
        hal = net.hallucinate(phi)
        assert hal.shape == (2, 1, 32)
        torch.testing.assert_close(hal, phi + net.hal(phi))  # skip connection
        # frame-local: hallucinating frame 0 of a longer clip ignores the other frames
        clip = torch.cat([x, torch.randn(2, 4, 17, 3)], dim=1)
        torch.testing.assert_close(net.hallucinate(net.features(clip))[:, :1], hal)


def test_dynamics_predictors_start_from_the_current_pose_with_separate_weights():
    torch.manual_seed(0)
    net = H.HMMR(tiny()).eval()
    rep = torch.randn(3, 32)
    with torch.no_grad():
        pose, deltas = net.heads(rep)
        assert pose.shape == (3, 17, 3) and deltas.shape == (3, 10, 17, 3)
        assert net.fdt.l1.weight.shape[0] == 10  # one set of weights per offset
        net.fdt.l3.weight.zero_()
        net.fdt.l3.bias.zero_()
        _, deltas = net.heads(rep)
    torch.testing.assert_close(deltas, pose[:, None].expand(-1, 10, -1, -1))


def test_single_frame_forecast_lengths_and_times():
    torch.manual_seed(0)
    model = H.HMMRForecaster(H.HMMR(tiny()))
    batch = synthetic_batch(1, 1)
    track = batch.track(0, start_time=3.0)
    fc = model.forecast_track(track, 0.4)  # 10 frames at 25 fps: 5 predicted, then held
    assert fc.past.shape == (6, 17, 3) and fc.future.shape == (10, 17, 3)
    np.testing.assert_allclose(fc.times, 3.0 + np.arange(-5, 11) / 25.0)
    np.testing.assert_allclose(fc.future[5:], np.repeat(fc.future[4:5], 5, axis=0))
    assert fc.camera.shape == (16, 3) and np.isfinite(fc.camera).all()
    short = model.forecast_track(track, 0.08)
    assert short.future.shape == (2, 17, 3)
    np.testing.assert_allclose(short.future, fc.future[:2])
    np.testing.assert_allclose(short.past, fc.past)


def test_a_person_seen_in_the_last_frame_only_gets_a_hallucinated_past_marked_so(tmp_path, capsys):
    """Review: hmmr reads a 60-frame track detected only at frame 59 as that one frame and hallucinates 0.2 s before
    it; the written forecast had no history_detected, and the note said the history starts at the first detection,
    though start_time lies 0.2 s before it. Now history_detected marks only the frame seen, and the note says so."""
    import dataclasses
    from pathlib import Path

    import posecast
    from posecast.cli.forecast import write_video_forecast

    torch.manual_seed(0)
    model = H.HMMRForecaster(H.HMMR(tiny()))
    track = synthetic_batch(1, 60).track(0)
    detected = np.arange(60) == 59
    track = dataclasses.replace(track, detected=detected).bridged()
    fc = model.forecast(track, seconds=0.2)
    assert len(fc.metadata["video"].past) == 6  # the frame and the 5 hallucinated before it
    assert fc.metadata["history_detected"] == [False] * 5 + [True]  # (had been left out)
    assert fc.metadata["start_time"] == pytest.approx(59 / 25 - 0.2, abs=1e-9)
    write_video_forecast(fc, Path("late.mp4"), [tmp_path / "f.json"])
    out = " ".join(capsys.readouterr().out.split())
    assert "first seen at 2.36 s): the model reads that frame alone and hallucinates 0.20 s of past before it" in out
    assert "history_detected: its last frame only" in out and "the history written starts there" not in out
    assert posecast.load(tmp_path / "f.json").metadata["history_detected"] == [False] * 5 + [True]


def test_video_forecast_shapes():
    torch.manual_seed(0)
    model = H.HMMRForecaster(H.HMMR(tiny()))
    batch = synthetic_batch(2, 20)
    pred = model.predict(batch.keypoints, batch.visibility, 7)
    assert pred.past.shape == (2, 20, 17, 3) and pred.future.shape == (2, 7, 17, 3)
    assert pred.camera.shape == (2, 27, 3)
    fc = model.forecast_track(batch.track(1), 0.2)
    assert fc.past.shape == (20, 17, 3) and fc.future.shape == (5, 17, 3) and len(fc.times) == 25


def test_tiny_training_run_reduces_the_loss():
    torch.manual_seed(0)
    net = H.build(tiny(train_frames=0))  # every frame: a deterministic loss
    batch = synthetic_batch(4, 15)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, logs = H.training_loss(net, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert set(logs) >= {"temporal", "single", "hal", "current_mm"}
    assert losses[-1] < 0.6 * losses[0]


def test_offsets_must_be_dense():
    with pytest.raises(Exception, match="offsets"):
        H.HMMRForecaster(H.HMMR(tiny(deltas=[-5, 5])))


def test_shipped_weights_forecast_from_one_frame():
    from posecast import models

    if not models.store.variants("hmmr"):
        pytest.skip("no shipped hmmr weights")
    model = models.get("hmmr")
    track = synthetic_batch(1, 1).track(0)
    assert isinstance(track, PoseTrack)
    fc = model.forecast_track(track, 1.0)
    assert fc.past.shape == (6, 17, 3) and fc.future.shape == (25, 17, 3) and fc.model == "hmmr"
    head = np.linalg.norm(fc.past[-1, 10] - fc.past[-1, 0])
    assert 0.3 < head < 1.2


def test_saved_weights_round_trip_and_mismatch(tmp_path):
    import json

    from posecast.errors import ModelError
    from posecast.models import store

    torch.manual_seed(0)
    net = H.HMMR(tiny())
    store.save_folder(tmp_path, net.state_dict(), {"config": net.config.model_dump()})
    batch = synthetic_batch(1, 1)
    a = H.HMMRForecaster(net).single(batch.keypoints, batch.visibility, 3)
    b = H.load(tmp_path).single(batch.keypoints, batch.visibility, 3)
    np.testing.assert_allclose(a.future, b.future, atol=1e-6)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["config"]["feature"] = 16
    (tmp_path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="hmmr"):
        H.load(tmp_path)
