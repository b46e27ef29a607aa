"""Training on the corpus: velocity-continuing padding, speed / short-history augmentation, corpus data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecast.models.blocks import pad_last, pad_velocity
from posecast.models.dct_mlp import DCTMLP
from posecast.training.motion import SHORTEST_HISTORY, pad_short_histories, speed_resample, speed_window


def _ramp(b: int = 2, t: int = 6, d: int = 3) -> torch.Tensor:
    """``(b, t, d)`` frames moving by 0.5 per frame (plus a per-feature offset)."""
    return (0.5 * torch.arange(t, dtype=torch.float64)[None, :, None] + torch.arange(d)[None, None]).repeat(b, 1, 1)


def test_velocity_padding_interpolates_between_holding_and_constant_velocity():
    x = _ramp()
    torch.testing.assert_close(pad_velocity(x, 4, 0.0), pad_last(x, 4))
    cv = pad_velocity(x, 4, 1.0)[:, 6:]
    torch.testing.assert_close(cv, x[:, -1:] + 0.5 * torch.arange(1, 5, dtype=x.dtype)[None, :, None])
    # decay 0.5: the k-th future frame moves v (0.5 + 0.25 + ...), i.e. 0.25, 0.375, 0.4375 beyond the last
    damped = pad_velocity(x, 3, 0.5)[0, 6:, 0] - x[0, -1, 0]
    torch.testing.assert_close(damped, torch.tensor([0.25, 0.375, 0.4375], dtype=x.dtype))


def test_untrained_dct_mlp_with_velocity_padding_continues_the_observed_motion():
    torch.manual_seed(0)
    net = DCTMLP(features=3, history=6, frames=4, blocks=2, velocity_decay=1.0).double()
    x = _ramp(1)
    with torch.no_grad():
        y = net(x)
    expected = x[:, -1:] + 0.5 * torch.arange(1, 5, dtype=x.dtype)[None, :, None]
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=0)


def test_speed_resample_plays_windows_faster_or_slower():
    batch = torch.arange(2 * 20, dtype=torch.float64).reshape(2, 20, 1, 1).expand(-1, -1, 2, 3)
    out = speed_resample(batch, torch.tensor([1.0, 2.0], dtype=torch.float64), 8)
    assert out.shape == (2, 8, 2, 3)
    torch.testing.assert_close(out[0, :, 0, 0], batch[0, :8, 0, 0])
    torch.testing.assert_close(out[1, :, 0, 0], batch[1, 0:16:2, 0, 0])
    half = speed_resample(batch, torch.tensor([0.5, 0.5], dtype=torch.float64), 3)
    torch.testing.assert_close(half[0, :, 0, 0], torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert speed_window(75, 0.0) == 75 and speed_window(75, 0.2) == 90  # ceil(74 * 1.2) + 1


def test_short_history_augmentation_repeats_the_first_kept_frame():
    batch = torch.arange(3 * 30, dtype=torch.float32).reshape(3, 30, 1, 1).expand(-1, -1, 1, 3)
    rng = np.random.RandomState(1)
    same = pad_short_histories(batch, 20, 0.0, rng)
    torch.testing.assert_close(same, batch)
    out = pad_short_histories(batch, 20, 1.0, np.random.RandomState(1))
    for w in range(3):
        frames = out[w, :, 0, 0] - batch[w, 0, 0, 0]
        first = int(frames[0])
        assert 20 - first >= SHORTEST_HISTORY and first >= 1
        assert torch.all(frames[: first + 1] == first)  # padded with copies of the first kept frame
        torch.testing.assert_close(out[w, first:], batch[w, first:])  # the rest (and the future) untouched


@pytest.mark.usefixtures("posecast_data")
def test_corpus_training_data_leaves_out_the_named_sources():
    from posecast.datasets.training_data import load_training_data
    from posecast.errors import ValueRangeError

    data = load_training_data("corpus:-cmu_bvh/06/,-cmu_mocap/", min_frames=75)
    assert data.skeleton.name == "smplh-22" and data.fps == 25.0
    assert data.description["excluded"] == ["cmu_bvh/06/", "cmu_mocap/"]
    full = load_training_data("corpus", min_frames=75)
    assert len(data.train) < len(full.train) and len(data.val) < len(full.val)  # 06 has validation files too
    assert all(s.shape[1:] == (22, 3) for s in data.train[:10])
    # every kept training sequence carries its data set; the excluded source is gone
    assert len(data.train_datasets) == len(data.train)
    assert set(data.train_datasets) == {"cmu_bvh", "bandai_namco"}
    assert set(full.train_datasets) == {"cmu_bvh", "bandai_namco", "cmu_mocap"}
    with pytest.raises(ValueRangeError, match="PREFIX"):
        load_training_data("corpus:cmu_bvh")


@pytest.mark.usefixtures("posecast_data")
def test_corpus_training_data_on_another_layout_is_the_mapped_corpus():
    from posecast.datasets import corpus
    from posecast.datasets.training_data import load_training_data
    from posecast.errors import ValueRangeError
    from posecast.skeletons.mapping import to_layout

    full = load_training_data("corpus:-cmu_mocap/", min_frames=75)
    data = load_training_data("corpus:body-17,-cmu_mocap/", min_frames=75)
    assert data.skeleton.name == "body-17" and data.description["layout"] == "body-17"
    assert data.description["excluded"] == ["cmu_mocap/"]
    assert len(data.train) == len(full.train) and len(data.val) == len(full.val)
    assert data.train_datasets == full.train_datasets
    for mapped, canonical in ((data.train[0], full.train[0]), (data.val[-1], full.val[-1])):
        assert mapped.shape == (canonical.shape[0], 17, 3)
        np.testing.assert_allclose(mapped, to_layout(canonical, "body-17", source=corpus.SKELETON), atol=1e-6)
    # body-17's pelvis is the midpoint of the canonical hips (what a 2D detector's hips give)
    np.testing.assert_allclose(data.train[0][:, 0], full.train[0][:, 1:3].mean(1), atol=1e-6)
    with pytest.raises(ValueRangeError, match="LAYOUT"):
        load_training_data("corpus:body-17,h36m-17")


def test_cut_glitches_by_hand():
    from posecast.datasets.training_data import cut_glitches

    # 12 frames of one joint walking 0.1 m per frame at 25 fps (2.5 m/s), then a 1 m jump (25 m/s) after frame 5
    seq = np.zeros((12, 2, 3))
    seq[:, 0, 0] = 0.1 * np.arange(12)
    seq[6:, 1, 2] = 1.0
    pieces = cut_glitches(seq, 25.0, limit=12.5, margin=1)
    # the step 5 -> 6 is cut with one frame on each side: frames 4..7 go, 0..3 and 8..11 stay
    assert [p.shape[0] for p in pieces] == [4, 4]
    np.testing.assert_array_equal(pieces[0], seq[:4])
    np.testing.assert_array_equal(pieces[1], seq[8:])
    assert len(cut_glitches(seq, 25.0, limit=30.0)) == 1  # 25 m/s is under a 30 m/s limit
    assert [p.shape[0] for p in cut_glitches(seq, 25.0, limit=12.5, margin=0)] == [5, 5]  # both frames of the step go
    # a glitch at the very start or end leaves one piece; a sequence of one frame is itself
    assert [p.shape[0] for p in cut_glitches(seq[5:], 25.0, margin=1)] == [4]
    assert [p.shape[0] for p in cut_glitches(seq[:7], 25.0, margin=1)] == [4]
    assert len(cut_glitches(seq[:1], 25.0)) == 1 and cut_glitches(seq[:0], 25.0) == []
    # glitch_frames: the frames cut_glitches leaves out
    from posecast.datasets.training_data import glitch_frames

    np.testing.assert_array_equal(np.flatnonzero(glitch_frames(seq, 25.0, 12.5, 1)), [4, 5, 6, 7])
    assert not glitch_frames(seq, 25.0, 30.0).any() and glitch_frames(seq[:1], 25.0).shape == (1,)


@pytest.mark.usefixtures("posecast_data")
def test_corpus_training_data_is_cut_at_capture_glitches():
    from posecast.datasets import corpus
    from posecast.datasets.training_data import GLITCH_SPEED, load_training_data

    data = load_training_data("corpus", min_frames=10)
    fastest = max(float(np.linalg.norm(np.diff(s, axis=0), axis=-1).max()) * corpus.FPS for s in data.train + data.val)
    assert fastest <= GLITCH_SPEED
    # the raw corpus has them: CMU-Mocap's directing_traffic_1 spins its whole body at over 30 m/s
    raw, rows, _ = corpus.training_sequences("train", ["cmu_mocap"])
    spin = next(s for s, r in zip(raw, rows, strict=True) if r["file"].endswith("directing_traffic_1.txt"))
    assert np.linalg.norm(np.diff(spin, axis=0), axis=-1).max() * corpus.FPS > 30.0
    assert "glitches_cut" in data.description
    # Bandai Namco has none: every one of its training sequences is whole
    bandai = corpus.training_sequences("train", ["bandai_namco"])[0]
    assert sum(n == "bandai_namco" for n in data.train_datasets) == sum(s.shape[0] >= 10 for s in bandai)


def _grouped_data():
    from posecast.training.video import VideoData

    # three still sequences of 10, 20 and 5 frames: one random body-17 pose scaled by 1, 2, 3
    pose = np.random.default_rng(3).normal(size=(17, 3)).astype(np.float32)
    seqs = [np.repeat((i + 1) * pose[None], n, axis=0) for i, n in enumerate((10, 20, 5))]
    return VideoData(train=seqs, val=seqs[:1], fps=25.0, skeleton="body-17", train_datasets=["a", "b", "a"])


def test_video_window_probabilities_by_hand():
    data = _grouped_data()
    # windows of 6 frames: 5, 15 and 0 starts
    np.testing.assert_allclose(data.window_probabilities(6), [0.25, 0.75, 0.0])
    # each data set by its weight first, then a start within it: a's 5 starts share its half
    np.testing.assert_allclose(data.window_probabilities(6, {"a": 1, "b": 1}), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(data.window_probabilities(6, {"a": 3, "b": 1}), [0.75, 0.25, 0.0])
    np.testing.assert_allclose(data.window_probabilities(6, {"a": 0, "b": 2}), [0.0, 1.0, 0.0])
    # windows of 4 frames: a has 7 + 2 starts, b 17
    np.testing.assert_allclose(data.window_probabilities(4, {"a": 1, "b": 1}), [0.5 * 7 / 9, 0.5, 0.5 * 2 / 9])


def test_video_window_probabilities_refuse_bad_weights():
    from posecast.errors import ValueRangeError
    from posecast.training.video import VideoData

    data = _grouped_data()
    with pytest.raises(ValueRangeError, match="missing b"):
        data.window_probabilities(6, {"a": 1})
    with pytest.raises(ValueRangeError, match="unknown c"):
        data.window_probabilities(6, {"a": 1, "b": 1, "c": 1})
    for bad in ({"a": -1, "b": 1}, {"a": 0, "b": 0}, {"a": float("nan"), "b": 1}):
        with pytest.raises(ValueRangeError, match="finite"):
            data.window_probabilities(6, bad)
    with pytest.raises(ValueRangeError, match="frames a window needs"):
        data.window_probabilities(21, {"a": 1, "b": 1})
    with pytest.raises(ValueRangeError, match="no a training sequence"):
        data.window_probabilities(11, {"a": 1, "b": 1})
    unlabelled = VideoData(train=data.train, val=data.val, fps=25.0)
    with pytest.raises(ValueRangeError, match="data: corpus"):
        unlabelled.window_probabilities(6, {"a": 1, "b": 1})


def test_video_sample_draws_by_the_dataset_weights():
    from posecast.video.cameras import CameraConfig

    data = _grouped_data()
    rng = np.random.default_rng(0)

    def size(batch):  # pose size per window: pelvis-centred, camera-aligned points keep the scale 1, 2 or 3
        return np.linalg.norm(batch.points[:, 0], axis=-1).sum(-1)

    one = size(data.sample(64, 6, rng, CameraConfig.clean(), {"a": 1, "b": 0}))
    np.testing.assert_allclose(one, one[0], rtol=1e-4)  # every window from sequence 0 (a's one long enough)
    sizes = size(data.sample(400, 6, rng, CameraConfig.clean(), {"a": 1, "b": 1}))
    assert np.all(np.isclose(sizes, one[0], rtol=1e-4) | np.isclose(sizes, 2 * one[0], rtol=1e-4))
    share_b = float(np.mean(np.isclose(sizes, 2 * one[0], rtol=1e-4)))
    assert 0.4 < share_b < 0.6  # binomial(400, 0.5): 0.4-0.6 is more than 4 standard deviations


def _labelled_task(monkeypatch, **overrides):
    """A `MotionTask` on three still body-17 sequences of 40, 80 and 40 frames (one pose scaled by 1, 2, 3),
    from data sets a, b, a."""
    import posecast.datasets.training_data as td
    from posecast import skeletons
    from posecast.training import load_config
    from posecast.training.loop import _Dist
    from posecast.training.motion import MotionTask

    pose = np.random.default_rng(3).normal(size=(17, 3)).astype(np.float32)
    seqs = [np.repeat((i + 1) * pose[None], n, axis=0) for i, n in enumerate((40, 80, 40))]
    data = td.TrainingData(skeletons.get("body-17"), 25.0, seqs, seqs[:1], {}, ["a", "b", "a"])
    monkeypatch.setattr(td, "load_training_data", lambda *a, **k: data)
    config = dict(
        model="dct-mlp", net="dct-mlp", data="corpus", history=10, frames_per_pass=5, params={"blocks": 2},
        epochs=1, batch_size=50, max_steps_per_epoch=4, threads=1, augment_mirror=False,
    )  # fmt: skip
    task = MotionTask(load_config(None, **{**config, **overrides}))
    task.prepare(_Dist("cpu"))
    return task, pose


def _scales(task, pose) -> np.ndarray:
    """The scale (1, 2 or 3: the sequence) of every window the task's first epoch draws."""
    batches = np.concatenate([b.numpy() for b in task.batches(0)])
    return np.round(np.linalg.norm(batches[:, 0], axis=-1).sum(-1) / np.linalg.norm(pose, axis=-1).sum()).astype(int)


def test_motion_training_draws_windows_by_dataset_weights(monkeypatch):
    # 15-frame windows: 26, 66 and 26 of them; by default every window once (a permutation)
    task, pose = _labelled_task(monkeypatch)
    assert task.window_p is None and "dataset_shares" not in task.describe()
    scales = _scales(task, pose)
    assert len(scales) == 118 and np.bincount(scales, minlength=4).tolist() == [0, 26, 66, 26]
    # only b
    task, pose = _labelled_task(monkeypatch, dataset_weights={"a": 0, "b": 1})
    assert set(_scales(task, pose)) == {2} and task.describe()["dataset_shares"] == {"a": 0.0, "b": 1.0}
    # a and b alike: a's half split between its two sequences by their windows (26 and 26)
    task, pose = _labelled_task(monkeypatch, dataset_weights={"a": 1, "b": 1}, batch_size=1000)
    np.testing.assert_allclose(task.window_p[task.train_ws.sequence == 1].sum(), 0.5)
    scales = _scales(task, pose)  # an epoch's steps: one of 1000 windows, s.d. of a share at most 0.016
    assert len(scales) == 1000
    np.testing.assert_allclose(np.bincount(scales, minlength=4)[1:] / 1000, [0.25, 0.5, 0.25], atol=0.07)


def test_motion_training_refuses_bad_dataset_weights(monkeypatch):
    from posecast.errors import ValueRangeError

    with pytest.raises(ValueRangeError, match="missing b"):
        _labelled_task(monkeypatch, dataset_weights={"a": 1})
    with pytest.raises(ValueRangeError, match="finite"):
        _labelled_task(monkeypatch, dataset_weights={"a": -1, "b": 1})


@pytest.mark.usefixtures("posecast_data")
def test_the_long_horizon_references_leave_capture_glitches_out():
    import re

    from posecast.datasets import corpus
    from posecast.datasets.training_data import GLITCH_SPEED
    from posecast.evaluation.protocols.long_horizon import PoseIndex, train_reference_sequences

    index = PoseIndex.from_corpus()
    left_out = re.search(r"\((\d+) at capture glitches left out\)", index.source)
    assert left_out is not None and 0 < int(left_out.group(1)) < 0.01 * len(index)
    seqs, description = train_reference_sequences("cmu_mocap")
    assert "cut at capture glitches" in description
    fastest = max(float(np.linalg.norm(np.diff(s, axis=0), axis=-1).max()) * corpus.FPS for s in seqs if len(s) > 1)
    assert fastest <= GLITCH_SPEED
