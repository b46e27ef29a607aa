"""The detector-noise measurement (`posecast.evaluation.protocols.detector_noise`), the measured
virtual-camera noise model (`CameraConfig.measured`) and video training on the corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posecast.evaluation.protocols import detector_noise as dn
from posecast.video.cameras import CameraConfig


def test_person_height_is_the_median_vertical_extent():
    kp = np.zeros((3, 17, 2))
    kp[:, 1, 1] = [100.0, 300.0, 200.0]  # extents 100, 300, 200 -> median 200
    kp[1, 2] = np.nan  # a missing joint does not matter
    assert dn.person_height(kp) == pytest.approx(200.0)


@pytest.mark.parametrize(("fps", "frames"), [(5, 5), (12, 7), (25, 13), (30, 15), (60, 31)])
def test_savgol_window_is_odd_about_half_a_second_and_at_least_five(fps, frames):
    assert dn.savgol_window(fps) == frames


def test_jitter_recovers_white_noise_about_a_smooth_track_and_is_zero_without_it():
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, 4000)[:, None, None]
    smooth = 300.0 + 50.0 * t + 20.0 * t**2 + np.zeros((1, 17, 2))  # a quadratic: the fit leaves nothing
    assert dn.jitter(smooth, 25.0) == pytest.approx({"inner": 0.0, "leaf": 0.0}, abs=1e-9)
    sigma = np.where(dn._leaves(), 3.0, 1.5)[None, :, None]
    noisy = smooth + sigma * rng.standard_normal(smooth.shape)
    got = dn.jitter(noisy, 25.0)
    # corrected for the smoother's centre weight, the residual's RMS estimates the noise itself
    assert got["inner"] == pytest.approx(1.5, rel=0.03)
    assert got["leaf"] == pytest.approx(3.0, rel=0.03)
    assert dn.jitter(noisy[:10], 25.0) is None  # shorter than the 13-frame window


def test_lag1_and_reference_error_of_an_ar1_error():
    rng = np.random.default_rng(1)
    rho, n = 0.6, 20000
    e = np.zeros((n, 17, 2))
    white = rng.standard_normal((n, 17, 2))
    for i in range(1, n):
        e[i] = rho * e[i - 1] + np.sqrt(1 - rho**2) * white[i]
    assert dn.lag1(e) == pytest.approx(rho, abs=0.02)
    ref = np.full((n, 17, 2), 100.0)
    r = dn.reference_error(ref + 2.0 * e, ref, fps=5.0)
    assert r["frames"] == n
    assert r["inner"] == pytest.approx(2.0, rel=0.03) and r["leaf"] == pytest.approx(2.0, rel=0.03)
    assert r["rho_25fps"] == pytest.approx(r["lag1"] ** 0.2)  # 5 fps -> 25 fps: five steps per clip frame


def test_noise_model_from_measurements_by_hand():
    measured = {
        "protocol": {},
        "clips": [
            {"clip": "a", "no_person": 0.0, "low_visibility": 0.05, "jitter_inner_h": 0.002, "jitter_leaf_h": 0.004},
            {"clip": "b", "no_person": 0.01, "low_visibility": 0.10, "jitter_inner_h": 0.010, "jitter_leaf_h": 0.012},
            {"clip": "c", "no_person": 0.0, "low_visibility": 0.00, "jitter_inner_h": 0.004, "jitter_leaf_h": 0.006},
        ],
        "reference": {"inner_h": 0.015, "rho_25fps": 0.8},
    }
    m = dn.noise_model(measured)
    assert m["noise"] == [0.002, 0.015]  # smallest clip jitter .. the reference error (the largest)
    assert m["leaf_noise_gain"] == pytest.approx(1.5)  # median of 2.0, 1.2, 1.5
    assert m["jitter_correlation"] == [0.0, 0.8]
    assert m["drop_frame_probability"] == [0.0, pytest.approx(0.01 + dn.DROPOUT_MARGIN)]
    assert m["drop_joint_probability"] == [0.0, 0.1]


def test_camera_config_measured_reads_the_stored_noise_model(tmp_path):
    path = tmp_path / "noise.json"
    path.write_text(
        json.dumps(
            {
                "noise": [0.001, 0.02],
                "leaf_noise_gain": 1.4,
                "jitter_correlation": [0.0, 0.9],
                "drop_frame_probability": [0.0, 0.02],
                "drop_joint_probability": [0.0, 0.1],
            }
        )
    )
    cfg = CameraConfig.measured(path)
    assert cfg.noise == (0.001, 0.02) and cfg.leaf_noise_gain == 1.4 and cfg.jitter_correlation == (0.0, 0.9)
    assert cfg.distance == CameraConfig().distance  # the cameras are the defaults'
    shipped = CameraConfig.measured()  # the shipped measurement loads and is a valid range set
    assert 0 < shipped.noise[0] < shipped.noise[1] < 0.1


def test_video_training_config_picks_the_measured_noise():
    from posecast.training.video import VideoTask, load_config

    task = VideoTask(load_config(None, model="phd", noise="measured"))
    assert task.camera == CameraConfig.measured()
    assert VideoTask(load_config(None, model="phd")).camera is None  # the defaults (the guess)


def test_video_data_from_the_corpus_maps_to_body17_with_its_validation_split(posecast_data):
    from posecast.training.video import VideoData

    data = VideoData.load(25.0, "body-17", source="corpus")
    assert data.skeleton == "body-17" and data.fps == 25.0
    assert all(s.shape[1:] == (17, 3) for s in data.train[:5] + data.val[:5])
    minutes = sum(len(s) for s in data.train) / 25.0 / 60.0
    assert minutes > 150  # about 3 h of training motion (CMU BVH 11 min alone)
    assert data.description["train"]["validation"].startswith("the corpus validation split")
    assert len(data.val) > 100  # CMU BVH validation files and three Bandai validation styles


def test_bench_detector_noise_on_the_shared_clips(video_dir, tmp_path):
    """The measurement on the real clips: every clip measured, the squats clip against Google's reference
    (the backend run with smoothing off differs from the smoothed reference by a few pixels: 5.0 px inner,
    6.1 px leaf per coordinate when measured), and a noise model whose ranges hold the measurements."""
    from typer.testing import CliRunner

    from posecast.cli.app import app

    out = tmp_path / "noise.json"
    result = CliRunner().invoke(app, ["bench", "detector-noise", "--json", str(out)])
    assert result.exit_code == 0, result.output
    model = json.loads(out.read_text())
    clips = model["measured"]["clips"]
    assert len(clips) == len([p for p in video_dir.iterdir() if p.suffix in (".mp4", ".avi")])
    ref = model["measured"]["reference"]
    assert ref["frames"] == 65 and 1.0 < ref["inner"] < 15.0 and ref["inner"] <= ref["leaf"] < 20.0
    inner = [c["jitter_inner_h"] for c in clips]
    assert model["noise"][0] == pytest.approx(min(inner), abs=1e-5)
    assert model["noise"][1] >= max(inner) - 1e-5 and model["noise"][1] >= ref["inner_h"] - 1e-5
