"""``--history SECONDS`` / ``posecast.forecast(history=)``: only the newest seconds before the forecast point are
observed, kept and written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast.errors import ValueRangeError
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def walk() -> posecast.Motion:
    return synthetic_walk(seconds=30.0, fps=120.0)


@pytest.fixture(scope="module")
def walk_file(tmp_path_factory, walk) -> Path:
    path = tmp_path_factory.mktemp("hist") / "walk.npz"
    posecast.save(walk, path)
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "posecast", *args], capture_output=True, text=True, env=dict(os.environ), timeout=300
    )


def test_history_keeps_the_last_seconds_and_the_same_forecast(walk):
    """3 s at 120 fps is 361 frames (a span of 3 s, as Motion.duration counts), ending at the same last frame; dct-mlp
    reads 2 s (241 frames at 120 fps), so the forecast is the one of the whole take."""
    whole = posecast.forecast(walk, model="dct-mlp")
    short = posecast.forecast(walk, model="dct-mlp", history=3)
    assert short.history.num_frames == 361 and short.history.duration == pytest.approx(3.0)
    assert np.array_equal(short.history.positions, walk.positions[-361:])
    assert np.abs(short.samples - whole.samples).max() <= 1e-6
    meta = short.metadata
    assert meta["history_seconds"] == 3.0 and meta["history_starts_at_frame"] == 3240
    assert meta["start_time"] == pytest.approx(27.0) and "history_model_reads_s" not in meta
    assert "history_seconds" not in whole.metadata and whole.history.num_frames == 3601


def test_history_with_at(walk):
    """--at cuts first; the kept seconds end at the frame --at names, and the ground truth is unchanged."""
    whole = posecast.forecast(walk, model="dct-mlp", at=20.0)
    short = posecast.forecast(walk, model="dct-mlp", at=20.0, history=3)
    assert np.array_equal(short.history.positions, walk.positions[2400 - 360 : 2401])
    assert short.metadata["start_time"] == pytest.approx(17.0) and short.metadata["history_starts_at_frame"] == 2040
    assert np.abs(short.samples - whole.samples).max() <= 1e-6
    assert np.array_equal(short.ground_truth, whole.ground_truth)


def test_history_shorter_than_the_model_reads(walk):
    """The model reads what was kept, as it reads a short file; the metadata says how much it would have read; fewer
    frames than its minimum is refused naming it."""
    fc = posecast.forecast(walk, model="dct-mlp", history=0.5)
    assert fc.history.num_frames == 61 and fc.metadata["history_model_reads_s"] == pytest.approx(2.0)
    short_file = posecast.forecast(walk.frames(walk.num_frames - 61), model="dct-mlp")
    assert np.abs(fc.samples - short_file.samples).max() <= 1e-5
    # a short file says so too: what it holds and what the model reads (the CLI's note)
    assert short_file.metadata["history_model_reads_s"] == pytest.approx(2.0)
    assert short_file.metadata["history_held_s"] == pytest.approx(0.5)
    assert "history_held_s" not in fc.metadata and "history_model_reads_s" not in posecast.forecast(walk).metadata
    with pytest.raises(ValueRangeError, match="needs at least 2"):
        posecast.forecast(walk, model="dct-mlp", history=0.001)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "3"])
def test_bad_history_refused(walk, bad):
    with pytest.raises(ValueRangeError, match="history must be a positive number of seconds"):
        posecast.forecast(walk, model="dct-mlp", history=bad)


def test_history_refused_for_keypose_models(walk):
    with pytest.raises(ValueRangeError, match="history applies to motion models"):
        posecast.forecast(walk, model="charpose", history=3)


def test_cli_history_smaller_npz_and_refusals(walk_file, tmp_path):
    whole, short = tmp_path / "whole.npz", tmp_path / "short.npz"
    r = run("forecast", str(walk_file), "--model", "dct-mlp", "--out", str(whole))
    assert r.returncode == 0, r.stderr
    r = run("forecast", str(walk_file), "--model", "dct-mlp", "--history", "3", "--at", "20", "--out", str(short))
    assert r.returncode == 0, r.stderr
    # a forecast point 2 frames into the file: a note says how little the model sees (QA: a 2-frame file's forecast
    # stood still without a word)
    r = run("forecast", str(walk_file), "--at", str(1 / 120), "--out", str(tmp_path / "early.npz"))
    assert r.returncode == 0 and "holds 2 frames (0.00833 s), less than the 2 s dct-mlp reads" in r.stdout, r.stdout
    assert short.stat().st_size * 5 < whole.stat().st_size
    fc = posecast.load(short)
    assert fc.history.num_frames == 361 and fc.metadata["start_time"] == pytest.approx(17.0)
    for bad in ("0", "-2", "nan", "inf"):
        r = run("forecast", str(walk_file), "--model", "dct-mlp", "--history", bad, "--out", str(tmp_path / "x.npz"))
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "history" in r.stderr, r.stderr
    image = tmp_path / "still.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    video = tmp_path / "clip.bin"
    video.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(64))  # a Matroska signature: a video by its first bytes
    for source, kind in ((image, "image"), (video, "video")):
        r = run("forecast", str(source), "--history", "3", "--out", str(tmp_path / "v.npz"))
        assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
        assert f"--history applies to motion files, not to a {kind}" in r.stderr
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "v.npz").exists()


def test_render_clock_on_the_takes_clock(walk):
    from posecast.viz.scene import build_scene

    fc = posecast.forecast(walk, model="dct-mlp", history=3)
    scene = build_scene(fc)
    assert scene.frame_label(0) == "t = 27.00 s  observed"
