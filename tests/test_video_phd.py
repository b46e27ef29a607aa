"""The ``phd`` video model: causality and receptive field of the temporal encoder, a tiny training
run, the registry, and the shipped weights on a track with a variable frame rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posecast
from posecast.errors import ModelError
from posecast.models import store
from posecast.motion import Forecast
from posecast.skeletons.mapping import to_layout
from posecast.synthetic import synthetic_walk
from posecast.video import models as vmodels
from posecast.video.cameras import CameraConfig, film
from posecast.video.models import phd
from posecast.video.models.base import VideoForecast, resample_track
from posecast.video.models.common import TemporalEncoder
from posecast.video.train import VideoData, VideoTrainConfig, train_video_model


def _changed(enc: torch.nn.Module, length: int, at: int, dim: int) -> np.ndarray:
    """Frames whose output changes when input frame ``at`` is perturbed."""
    torch.manual_seed(0)
    x = torch.randn(1, length, dim)
    y = x.clone()
    y[:, at] += 1.0
    with torch.no_grad():
        d = (enc(x) - enc(y)).abs().amax(dim=-1)[0]
    return np.flatnonzero(d.numpy() > 1e-6)


def test_causal_encoder_and_receptive_field_13() -> None:
    torch.manual_seed(0)
    enc = TemporalEncoder(12, 32, blocks=3, kernel=3, causal=True).eval()
    assert enc.receptive_field == 13
    changed = _changed(enc, 60, 20, 12)
    # output t depends exactly on inputs t-12 .. t: perturbing frame 20 changes outputs 20 .. 32 only
    np.testing.assert_array_equal(changed, np.arange(20, 33))


def test_centred_encoder_receptive_field() -> None:
    torch.manual_seed(0)
    enc = TemporalEncoder(12, 32, blocks=3, kernel=3, causal=False).eval()
    np.testing.assert_array_equal(_changed(enc, 60, 30, 12), np.arange(24, 37))


def test_phd_net_is_causal_end_to_end() -> None:
    torch.manual_seed(0)
    net = phd.build(phd.PHDConfig(channels=32, hidden=32)).eval()
    d = 17 * 3
    x = torch.randn(2, 40, d)
    y = x.clone()
    y[:, 25:] = torch.randn(2, 15, d)  # a different future
    with torch.no_grad():
        a, b = net.encode(x), net.encode(y)
        np.testing.assert_allclose(a[:, :25].numpy(), b[:, :25].numpy(), atol=1e-6)
        assert (a[:, 25:] - b[:, 25:]).abs().max() > 1e-4
        # the AR prediction of frame 25 uses strips up to 24 only
        np.testing.assert_allclose(net.rollout(a[:, :25], 3).numpy(), net.rollout(b[:, :25], 3).numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def walk_data() -> VideoData:
    pos = to_layout(synthetic_walk(seconds=8.0, fps=25.0), "body-17").positions
    return VideoData(train=[pos], val=[pos], fps=25.0)


def test_tiny_training_reduces_loss_and_round_trips(walk_data: VideoData, tmp_path) -> None:
    torch.manual_seed(0)
    cfg = phd.PHDConfig(channels=32, hidden=64, context=10, ar_max_steps=5)
    net = phd.build(cfg)
    fixed = walk_data.sample(16, 20, np.random.default_rng(1), CameraConfig.clean())
    with torch.no_grad():
        before = float(phd.training_loss(net, fixed, 0.0)[0])
    run = train_video_model(
        net,
        phd.training_loss,
        VideoTrainConfig(model="phd", steps=60, batch_size=16, length=20, lr=3e-3, warmup_steps=5, val_every=30),
        tmp_path / "run",
        evaluate=lambda n, v: phd.evaluate(n, v, observe=10),
        data=walk_data,
        model_config=cfg.model_dump(),
        camera=CameraConfig.clean(),
    )
    with torch.no_grad():
        after = float(phd.training_loss(net, fixed, 0.0)[0])
    assert after < 0.7 * before
    assert run["steps"] == 60 and len(run["curve"]) == 2 and "val_past_mm" in run["curve"][-1]
    model = posecast.models.get("phd", weights=tmp_path / "run" / "last")
    assert isinstance(model, phd.PHD)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(model.net.state_dict()[k], v)


def _track(seed: int = 0):
    """A filmed synthetic walk with a jittery ~30 fps clock (variable frame rate), on body-17."""
    pos = to_layout(synthetic_walk(seconds=3.0, fps=30.0), "body-17").positions
    b = film(pos[None], "body-17", 30.0, np.random.default_rng(seed))
    track = b.track(0, start_time=5.0)
    rng = np.random.default_rng(seed)
    times = 5.0 + np.cumsum(np.r_[0.0, rng.uniform(0.02, 0.045, track.num_frames - 1)])
    from dataclasses import replace

    return replace(track, times=times)


def test_resample_track_uses_timestamps() -> None:
    track = _track()
    rs, times = resample_track(track, 25.0)
    np.testing.assert_allclose(np.diff(times), 0.04)
    assert times[0] == track.times[0] and times[-1] <= track.times[-1] + 1e-9
    # linear interpolation at a resampled time, by hand
    k = 7
    i = np.searchsorted(track.times, times[k], side="right") - 1
    w = (times[k] - track.times[i]) / (track.times[i + 1] - track.times[i])
    expect = track.keypoints[i] * (1 - w) + track.keypoints[i + 1] * w
    np.testing.assert_allclose(rs.keypoints[k], expect)


def test_registry() -> None:
    assert posecast.models.info("phd").kind == "video"
    with pytest.raises(ModelError):
        posecast.models.get("no-such-model")
    with pytest.raises(ModelError):
        vmodels.module("no-such-model")


@pytest.mark.skipif(not store.variants("phd"), reason="phd has no shipped weights yet")
def test_shipped_weights_forecast_a_track() -> None:
    model = posecast.models.get("phd")
    track = _track()
    fc = model.forecast_track(track, 0.6)
    assert isinstance(fc, VideoForecast)
    t = len(fc.past)
    _, times = resample_track(track, model.fps)
    assert fc.past.shape == (len(times), 17, 3) and fc.future.shape == (15, 17, 3)
    assert fc.camera.shape == (t + 15, 3) and fc.times.shape == (t + 15,)
    np.testing.assert_allclose(fc.times[:t], times)
    np.testing.assert_allclose(np.diff(fc.times), 1 / model.fps, atol=1e-9)
    np.testing.assert_allclose(fc.past[:, 0], 0.0, atol=1e-6)
    assert (fc.camera[:, 0] > 0).all()
    # the estimated past re-projects close to the keypoints it was estimated from (within 10 % of the
    # person's height in pixels on average)
    px = fc.pixels()[:t]
    rs, _ = resample_track(track, model.fps)
    height = np.nanmax(rs.keypoints[..., 1], axis=1) - np.nanmin(rs.keypoints[..., 1], axis=1)
    err = np.nanmean(np.linalg.norm(px - rs.keypoints, axis=-1), axis=1) / height
    assert np.mean(err) < 0.1
    out = fc.to_forecast()
    assert isinstance(out, Forecast) and out.samples.shape == (1, 15, 17, 3)
    assert out.history is not None and out.history.num_frames == t
