"""The ``phd`` video model: causality and receptive field of the temporal encoder, a tiny training
run, the registry, and the shipped weights on a track with a variable frame rate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import posecast
from posecast.errors import ModelError
from posecast.models import store
from posecast.motion import Forecast
from posecast.skeletons.mapping import to_layout
from posecast.synthetic import synthetic_walk
from posecast.training.loop import fit, lr_factor
from posecast.training.video import VideoData, VideoTask, VideoTrainConfig
from posecast.video import models as vmodels
from posecast.video.cameras import CameraConfig, film
from posecast.video.models import phd
from posecast.video.models.base import VideoForecast, resample_track
from posecast.video.models.common import TemporalEncoder


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
    cfg = phd.PHDConfig(channels=32, hidden=64, context=10, ar_max_steps=5)
    fixed = walk_data.sample(16, 20, np.random.default_rng(1), CameraConfig.clean())
    config = VideoTrainConfig(
        model="phd", network=cfg.model_dump(), steps=60, batch_size=16, length=20, lr=3e-3, warmup_steps=5, val_every=30
    )
    task = VideoTask(
        config, data=walk_data, camera=CameraConfig.clean(), evaluate=lambda n, v: phd.evaluate(n, v, observe=10)
    )
    losses = []

    def measure(done, rounds, record):
        with torch.no_grad():
            losses.append(float(phd.training_loss(task.network, fixed, 0.0)[0]))

    torch.manual_seed(0)  # the loop builds the network under seed 0 (the config's)
    with torch.no_grad():
        before = float(phd.training_loss(phd.build(cfg), fixed, 0.0)[0])
    run = fit(task, tmp_path / "run", progress=measure)
    assert losses[-1] < 0.7 * before
    curve = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert run["steps"] == 60 and [r["step"] for r in curve] == [30, 60] and "val_past_mm" in curve[-1]
    assert not (tmp_path / "run" / "best").exists()  # video runs keep their last weights
    model = posecast.models.get("phd", weights=tmp_path / "run")
    assert isinstance(model, phd.PHD)
    for k, v in task.network.state_dict().items():
        torch.testing.assert_close(model.net.state_dict()[k], v)


def test_video_training_stops_at_a_step_and_resumes_exactly(walk_data: VideoData, tmp_path) -> None:
    """``stop_step`` keeps the schedule of the full run; resuming from there (in the middle of a round)
    ends with the weights of an uninterrupted run."""
    cfg = phd.PHDConfig(channels=16, hidden=16, context=10, ar_max_steps=5, blocks=1)
    kw = dict(model="phd", network=cfg.model_dump(), steps=8, batch_size=4, length=20, warmup_steps=2, val_every=3)

    def evaluate(net, val):
        return phd.evaluate(net, val, observe=10)

    whole = fit(VideoTask(VideoTrainConfig(**kw), data=walk_data, evaluate=evaluate), tmp_path / "a")
    assert whole["steps"] == 8 and whole["stopped"] is None
    part = fit(VideoTask(VideoTrainConfig(**kw, stop_step=5), data=walk_data, evaluate=evaluate), tmp_path / "b")
    assert part["steps"] == 5 and part["stopped"] == "stop_step"
    a = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in b] == [3, 5] and b[-1]["stopped"] == "stop_step"
    assert b[-1]["lr"] == pytest.approx(1e-3 * lr_factor(5, 2, 8))  # the schedule of the 8-step run
    rest = fit(VideoTask(VideoTrainConfig(**kw), data=walk_data, evaluate=evaluate), tmp_path / "b")
    assert rest["steps"] == 8 and rest["resumed_at_step"] == 5
    c = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in c] == [3, 5, 6, 8]
    for key in ("train_loss", "lr", "val_past_mm"):
        assert [r[key] for r in c if r["step"] != 5] == pytest.approx([r[key] for r in a], rel=1e-6)
    wa, wb = store.load_folder(tmp_path / "a" / "last")[0], store.load_folder(tmp_path / "b" / "last")[0]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


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
    _, times = resample_track(track, model.fps, align="end")  # the forecast's clock ends at the last frame
    assert fc.past.shape == (len(times), 17, 3) and fc.future.shape == (15, 17, 3)
    assert fc.camera.shape == (t + 15, 3) and fc.times.shape == (t + 15,)
    np.testing.assert_allclose(fc.times[:t], times)
    np.testing.assert_allclose(np.diff(fc.times), 1 / model.fps, atol=1e-9)
    np.testing.assert_allclose(fc.past[:, 0], 0.0, atol=1e-6)
    assert (fc.camera[:, 0] > 0).all()
    # the estimated past re-projects close to the keypoints it was estimated from (within 10 % of the
    # person's height in pixels on average)
    px = fc.pixels()[:t]
    rs, _ = resample_track(track, model.fps, align="end")
    height = np.nanmax(rs.keypoints[..., 1], axis=1) - np.nanmin(rs.keypoints[..., 1], axis=1)
    err = np.nanmean(np.linalg.norm(px - rs.keypoints, axis=-1), axis=1) / height
    assert np.mean(err) < 0.1
    out = fc.to_forecast()
    assert isinstance(out, Forecast) and out.samples.shape == (1, 15, 17, 3)
    assert out.history is not None and out.history.num_frames == t


def test_ship_run_writes_half_weights_and_a_card_with_the_train_command(walk_data, tmp_path, monkeypatch):
    from posecast.training.video import model_card, ship_run

    cfg = phd.PHDConfig(channels=16, hidden=16, context=10, blocks=1)
    config = VideoTrainConfig(
        model="phd", network=cfg.model_dump(), steps=4, batch_size=4, length=20, val_every=2, stop_step=3
    )
    fit(VideoTask(config, data=walk_data, evaluate=lambda n, v: phd.evaluate(n, v, observe=10)), tmp_path / "run")
    monkeypatch.setattr(store, "WEIGHTS_DIR", tmp_path / "weights")
    dest = ship_run(tmp_path / "run", "phd", "tiny")
    assert dest == tmp_path / "weights" / "phd" / "tiny"
    from safetensors.torch import load_file

    assert all(t.dtype == torch.float16 for t in load_file(str(dest / "model.safetensors")).values())
    assert isinstance(posecast.models.get("phd", weights=dest), phd.PHD)
    card = (dest / "MODEL_CARD.md").read_text()
    assert "stopped at step 3 of 4 by `stop_step` 3" in card
    assert "- reproduce: `posecast train --model phd --config src/posecast/configs/phd/cmu-bvh.yaml" in card
    assert "--stop-step 3" in card and "| 2 |" in card and "| 3 |" in card  # the validation curve
    meta = json.loads((dest / "config.json").read_text())
    assert meta["training"]["steps"] == 3 and meta["training"]["train_config"]["stop_step"] == 3
    # the data it trained on travels with the weights (run.json does not: no pointer to it is left)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["training"]["data"] == {k: v for k, v in run["data"].items() if k != "frames"} and "run" not in meta
    # a run of the former `python -m posecast.video.train` (network config beside the config, no command)
    old = {"config": {"model": "phd", "steps": 1800, "batch_size": 32, "max_minutes": 28.0, "threads": 1},
           "model_config": phd.PHDConfig().model_dump(), "steps": 1401}  # fmt: skip
    text = model_card("phd", old, [])
    assert "--max-minutes 28.0" not in text and "by the wall-time cap (28.0 min)" in text
    assert "reproduce: `posecast train --model phd --config src/posecast/configs/phd/cmu-bvh.yaml --out RUN" in text
