"""The Python API's contracts as a researcher meets them (QA, a report-only tester using the API from its docstrings):
argument checks, copies, refusals of options that do not apply, names that are close to right."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import posecast
from posecast import Forecast, Motion
from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def walk() -> Motion:
    return synthetic_walk(seconds=3.0, fps=25.0)


def test_baselines_check_their_predict_arguments_as_the_networks_do(walk):
    history = np.stack([walk.positions[:20], walk.positions[5:25]])  # (2, 20, J, 3)
    for name in ("zero-velocity", "constant-velocity"):
        model = posecast.models.get(name)
        assert model.predict(history, 5).shape == (2, 1, 5, walk.num_joints, 3)
        for bad in (dict(frames=0), dict(frames=2.5), dict(frames=5, samples=0)):
            with pytest.raises(ValueRangeError):
                model.predict(history, **bad)
        with pytest.raises(ValueRangeError, match=r"shape \(B, T, J, 3\)"):
            model.predict(history[0], 5)  # (T, J, 3): had been read as a batch of T windows
        broken = history.copy()
        broken[:, -1, 0, 0] = np.nan
        with pytest.raises(ValueRangeError, match="NaN"):
            model.predict(broken, 5)
    with pytest.raises(ValueRangeError, match="at least 2"):
        posecast.models.get("constant-velocity").predict(history[:, :1], 5)


def test_training_takes_at_least_one_epoch(tmp_path):
    from posecast.training import run

    folder = tmp_path / "takes"
    folder.mkdir()
    posecast.save(synthetic_walk(seconds=3.0, fps=25.0), folder / "w.npz")
    with pytest.raises(ValueRangeError, match="epochs"):
        run("dct-mlp", tmp_path / "run", data=str(folder), epochs=0)
    assert not (tmp_path / "run" / "run.json").exists()


def test_array_readers_refuse_options_they_do_not_take(tmp_path, walk):
    """``unit="cm"`` for ``units="cm"`` had read a body 146 m tall without a word."""
    np.save(tmp_path / "w.npy", walk.positions * 100)
    with pytest.raises(ValueRangeError, match=r"w\.npy: unknown option\(s\) for reading a \.npy file: unit "):
        posecast.load(tmp_path / "w.npy", skeleton=walk.skeleton.name, fps=25, unit="cm")
    read = posecast.load(tmp_path / "w.npy", skeleton=walk.skeleton.name, fps=25, units="cm")
    np.testing.assert_allclose(read.positions, walk.positions, atol=1e-9)
    posecast.save(walk, tmp_path / "w.json")
    with pytest.raises(ValueRangeError, match="unknown option.*fsp"):
        posecast.load(tmp_path / "w.json", fsp=30)


def test_numpy_numbers_in_metadata_come_back_as_numbers(tmp_path, walk):
    meta = {"score": np.float32(0.5), "n": np.int64(3), "b": np.bool_(True), "a": np.arange(2)}
    moved = walk.with_positions(walk.positions, **meta)
    for suffix in (".json", ".npz"):
        back = posecast.load(posecast.save(moved, tmp_path / f"m{suffix}")).metadata
        assert (back["score"], back["n"], back["b"], back["a"]) == (0.5, 3, True, [0, 1])
        assert isinstance(back["n"], int) and isinstance(back["b"], bool)
    json.dumps(back)


def test_options_that_do_not_apply_to_the_model_are_refused(walk):
    with pytest.raises(ValueRangeError, match="fit_data applies to models fitted on motions"):
        posecast.forecast(walk, fit_data="/nonexistent", seconds=0.4)
    for option in (dict(up="z"), dict(mapping={"pelvis": "Hips"})):
        with pytest.raises(ValueRangeError, match="apply to models on the canonical body; 'zero-velocity'"):
            posecast.forecast(walk, model="zero-velocity", seconds=0.4, **option)
    fc = posecast.forecast(walk, model="nearest-neighbour", fit_data=synthetic_walk(seconds=6.0, fps=25.0), seconds=0.4)
    assert fc.samples.shape[1] == 10  # one Motion is a list of one


def test_an_array_history_is_copied(walk):
    buffer = walk.positions.copy()  # a robot's ring buffer, refilled after the call
    fc = posecast.forecast(buffer, skeleton=walk.skeleton.name, fps=25.0, seconds=0.4)
    kept = fc.history.positions.copy()
    buffer[:] = 0.0
    np.testing.assert_array_equal(fc.history.positions, kept)


def test_a_forecast_checks_its_history_and_metadata(walk):
    samples = np.zeros((1, 3, walk.num_joints, 3))
    with pytest.raises(ValueRangeError, match="history must be a Motion"):
        Forecast(samples, 25.0, walk.skeleton, history=walk.positions)
    with pytest.raises(ValueRangeError, match="metadata must be a dict"):
        Forecast(samples, 25.0, walk.skeleton, metadata=[1, 2])
    truth = np.zeros((3, walk.num_joints, 3))
    truth[1, 2, 0] = np.nan  # as a Motion's positions: finite, real, within reach (QA: NaN made every error NaN)
    with pytest.raises(ValueRangeError, match=r"ground truth positions contain NaN or inf \(first at index \(1, 2, 0"):
        Forecast(samples, 25.0, walk.skeleton, ground_truth=truth)
    with pytest.raises(ValueRangeError, match="ground truth positions must be real numbers"):
        Forecast(samples, 25.0, walk.skeleton, ground_truth=np.full((3, walk.num_joints, 3), "a"))
    with pytest.raises(ValueRangeError, match="more than"):
        Forecast(samples, 25.0, walk.skeleton, ground_truth=np.full((3, walk.num_joints, 3), 1e9))
    np.testing.assert_array_equal(Forecast(samples, 25.0, walk.skeleton, ground_truth=samples[0]).ground_truth, 0.0)


def test_names_close_to_right_get_a_suggestion():
    with pytest.raises(ValueRangeError, match="unknown model kind 'motions'"):
        posecast.models.available("motions")
    for typo in ("DCT-MLP", "dct_mlp", "charpos"):
        with pytest.raises(ModelError, match=r"did you mean '(dct-mlp|charpose)'\? available: "):
            posecast.models.get(typo)
    with pytest.raises(ModelError, match=r"unknown model 'zzz'; available: "):
        posecast.models.get("zzz")
    with pytest.raises(SkeletonError, match=r"did you mean 'h36m-17'\? known: "):
        posecast.skeletons.get("H36M-17")


def test_time_ranges_past_the_motion_say_so(walk):
    with pytest.raises(ValueRangeError, match=r"time 10 s is after the motion.s end \(3\.000 s\)"):
        walk.seconds(10)
    with pytest.raises(ValueRangeError, match=r"time -1 s is before the motion's start"):
        walk.until(-1)
    with pytest.raises(ValueRangeError, match=r"at 100 s \(--at\) is outside the motion"):
        posecast.forecast(walk, at=100, seconds=0.4)


def test_a_read_only_history_forecasts_without_warnings(walk):
    frozen = walk.positions.copy()
    frozen.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fc = posecast.forecast(Motion(frozen, 25.0, walk.skeleton), model="charpose", samples=2)
    assert fc.samples.shape[0] == 2


def test_a_unit_given_for_a_bvh_that_makes_a_giant_is_refused(tmp_path):
    """QA: ``--units m`` on a BVH in centimetres read a body 139 m tall (23 m for a CMU file) and benchmarked it in
    "real mm"; a unit given for a BVH or AMC file gets the body-size check that plain numbers get (too large only)."""
    from posecast.api import load_motion

    path = posecast.save(synthetic_walk(seconds=1.0, fps=30.0), tmp_path / "walk.bvh")  # written in centimetres
    with pytest.raises(ValueRangeError, match=r"walk\.bvh: a body spanning 138\.9 m.*unit given \(m\) is not the file"):
        load_motion(path, units="m")
    assert load_motion(path, units="mm").positions.ptp(axis=1).max() == pytest.approx(0.141, abs=1e-3)  # small: kept
    assert load_motion(path, units="cm").positions.ptp(axis=1).max() == pytest.approx(1.41, abs=1e-2)


def test_a_csv_of_bare_numbers_reads_with_skeleton_and_fps_as_a_npy_does(tmp_path):
    """QA: the help says --skeleton / --fps are for "a .csv without a '# skeleton=' line", but a .csv without a
    header line was refused ("header does not list <joint>_x..."): its first row had been taken for the header."""
    walk = synthetic_walk(seconds=1.0, fps=30.0)
    np.savetxt(tmp_path / "bare.csv", walk.positions.reshape(walk.num_frames, -1), delimiter=",")
    read = posecast.load(tmp_path / "bare.csv", skeleton=walk.skeleton.name, fps=30)
    assert read.num_frames == walk.num_frames  # the first row is a frame
    np.testing.assert_allclose(read.positions, walk.positions, atol=1e-12)
    with pytest.raises(posecast.errors.FormatError, match=r"rows of 93 numbers: the 17 joints of 'body-17' need 51"):
        posecast.load(tmp_path / "bare.csv", skeleton="body-17", fps=30)
