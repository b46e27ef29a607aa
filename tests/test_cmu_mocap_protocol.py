"""The CMU-Mocap harness must reproduce the reference protocol to the hundredth of a "mm"."""

from __future__ import annotations

import json

import numpy as np
import pytest

import posecast
from posecast.evaluation.protocols import cmu_mocap as cmu

# PROTOCOL.md §9: zero-velocity, LTD 8-window protocol, 38-joint mean, benchmark "mm".
REFERENCE_ZERO_VELOCITY = {
    "basketball": [26.48, 49.24, 92.89, 112.81, 148.46, 199.55],
    "jumping": [24.00, 46.36, 91.99, 113.01, 144.20, 185.50],
    "running": [44.73, 84.17, 148.42, 177.31, 222.44, 213.82],
    "soccer": [25.36, 49.19, 89.97, 109.38, 142.55, 207.49],
    "walking": [20.73, 39.19, 73.05, 88.07, 113.86, 154.89],
    "washwindow": [14.15, 28.42, 56.58, 70.05, 85.47, 110.62],
}


def test_window_starts_match_the_ltd_draws(cmu_mocap_dir):
    ref = json.loads((cmu_mocap_dir / "ltd_test_windows.json").read_text())
    for entry in ref["files"].values():
        starts = cmu.window_starts(entry["frames_after_stride2"], "ltd8")
        np.testing.assert_array_equal(starts, np.array(entry["window_starts"]) + cmu.LTD_OFFSET)


def test_all_windows_protocol_counts():
    assert len(cmu.window_starts(289, "all")) == 255  # basketball, PROTOCOL.md §7
    assert len(cmu.window_starts(82, "all")) == 48  # running


def test_only_present_files_are_used(cmu_mocap_dir):
    test = cmu.files("test", cmu_mocap_dir)
    assert set(test) == set(REFERENCE_ZERO_VELOCITY)  # basketball_signal, directing_traffic missing
    train = cmu.files("train", cmu_mocap_dir)
    assert [p.name for p in train["directing_traffic"]] == ["directing_traffic_1.txt", "directing_traffic_4.txt"]
    assert "washwindow" not in train and "walking_extra" not in train


def test_zero_velocity_reproduces_the_reference_table(cmu_mocap_dir):
    result = cmu.evaluate(posecast.models.get("zero-velocity"), "ltd8", cmu_mocap_dir)
    assert set(result.actions) == set(REFERENCE_ZERO_VELOCITY)
    for action, ref in REFERENCE_ZERO_VELOCITY.items():
        got = [result.actions[action][label] for label in cmu.REPORT_FRAMES]
        np.testing.assert_allclose(got, ref, atol=0.005 + 1e-9, err_msg=action)
    assert result.windows == dict.fromkeys(REFERENCE_ZERO_VELOCITY, 8)
    np.testing.assert_allclose(
        result.average["80"], np.mean([r[0] for r in REFERENCE_ZERO_VELOCITY.values()]), atol=0.01
    )
    # the average says which actions it is over, and which of the benchmark's eight have no test file
    assert result.protocol["average"] == (
        "unweighted mean over the 6 actions evaluated (basketball, jumping, running, soccer, walking, washwindow); "
        "the benchmark's basketball_signal and directing_traffic have no test file here"
    )


def test_all_protocol_runs_every_window(cmu_mocap_dir):
    result = cmu.evaluate(posecast.models.get("constant-velocity"), "all", cmu_mocap_dir)
    assert result.windows == {
        "basketball": 255,
        "jumping": 1009,
        "running": 48,
        "soccer": 265,
        "walking": 146,
        "washwindow": 1343,
    }
    assert all(len(v) == cmu.OUTPUT_N for v in result.per_frame.values())
    # errors grow with the horizon for a constant-velocity extrapolation
    assert result.average["80"] < result.average["400"] < result.average["1000"]


def test_perfect_predictor_scores_zero_and_units_are_benchmark_mm(cmu_mocap_dir):
    path = cmu.files("test", cmu_mocap_dir)["walking"][0]
    bench = cmu.load_positions(path, "bench")
    metres = cmu.load_positions(path, "m")
    np.testing.assert_allclose(bench, metres * cmu.BENCH_MM_PER_M, rtol=1e-12, atol=1e-9)
    # femur (LeftUpLeg -> LeftLeg) is 7.594 ASF units = 531.6 benchmark "mm" (PROTOCOL.md §4)
    femur = np.linalg.norm(bench[:, 3] - bench[:, 2], axis=-1)
    np.testing.assert_allclose(femur, 531.6, atol=0.1)

    def oracle(history: np.ndarray, frames: int) -> np.ndarray:
        oracle.calls += 1
        return np.zeros((history.shape[0], frames) + history.shape[2:])

    oracle.calls = 0
    # all-zero predictions: error equals the mean distance of the true joints from the origin, except
    # the ground-truth joints, which the protocol fills in
    res = cmu.evaluate(oracle, "ltd8", cmu_mocap_dir, model_name="zeros")
    assert oracle.calls == len(res.actions) and res.model == "zeros"
    starts = cmu.window_starts(bench.shape[0], "ltd8")
    truth = bench[starts[:, None] + np.arange(10, 35)[None]]
    filled = cmu.apply_protocol_fill(np.zeros_like(truth), truth)
    expected = np.linalg.norm(filled - truth, axis=-1).mean(axis=(0, 2))
    np.testing.assert_allclose(res.per_frame["walking"], expected, rtol=1e-12)


def test_protocol_fill_copies_coinciding_joints():
    truth = np.random.default_rng(0).normal(size=(2, 38, 3))
    pred = np.random.default_rng(1).normal(size=(2, 38, 3))
    out = cmu.apply_protocol_fill(pred, truth)
    np.testing.assert_array_equal(out[:, [0, 1, 2, 7, 8, 13]], truth[:, [0, 1, 2, 7, 8, 13]])
    np.testing.assert_array_equal(out[:, 16], pred[:, 15])
    np.testing.assert_array_equal(out[:, 36], pred[:, 32])
    np.testing.assert_array_equal(out[:, 3], pred[:, 3])


def test_unknown_protocol_is_a_clear_error():
    with pytest.raises(posecast.PosecastError, match="unknown protocol"):
        cmu.window_starts(100, "ltd256")
