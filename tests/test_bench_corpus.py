"""The cross-data-set benchmark (``posecast bench corpus``): hand-computed MPJPE on a tiny synthetic data set,
the joint-exclusion and root rules, the long/short window rule, the file bootstrap, the goals, and a smoke
run on a couple of real files per data set (skipped without POSECAST_DATA)."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posecast.datasets.paths import dataset_dir
from posecast.errors import SkeletonError, ValueRangeError
from posecast.evaluation.protocols import corpus
from posecast.evaluation.protocols.cmu_bvh import TestSequence as Sequence_
from posecast.models.baselines import ConstantVelocity, NearestNeighbour, ZeroVelocity
from posecast.skeletons.base import Skeleton

#: a Bandai-like toy: a static floor-level top joint, the hips under it, a zero-length helper, a hand
TOY = Skeleton("toy-4", ("floor", "hips", "helper", "hand"), (-1, 0, 1, 1))
V = 0.01  # hips speed, m per frame along x
RISE = 0.002  # the hand rises relative to the hips, m per frame


def toy_positions(frames: int, start: int = 0) -> np.ndarray:
    """``(frames, 4, 3)``: hips at (V t, 1, 0), the helper on the hips, the hand 0.5 m ahead rising RISE per frame."""
    t = np.arange(start, start + frames, dtype=np.float64)
    pos = np.zeros((frames, 4, 3))
    pos[:, 1] = np.stack([V * t, np.ones_like(t), np.zeros_like(t)], axis=-1)
    pos[:, 2] = pos[:, 1]
    pos[:, 3] = pos[:, 1] + np.stack([np.full_like(t, 0.5), RISE * t, np.zeros_like(t)], axis=-1)
    return pos


def toy_set(*frames: int) -> corpus.TestSet:
    seqs = [Sequence_(f"f{i}", toy_positions(n), ("toy",)) for i, n in enumerate(frames)]
    return corpus.TestSet("cmu_bvh", TOY, seqs, (25.0,))


def zv_expected(frame: int) -> tuple[float, float]:
    """Zero-velocity MPJPE (mm) at predicted ``frame`` on the toy, global and root-relative, over hips and hand."""
    k = frame
    hips = V * k * 1000
    hand = math.hypot(V * k, RISE * k) * 1000
    return (hips + hand) / 2, (0.0 + RISE * k * 1000) / 2


# ---------------------------------------------------------------------------------------- rules
def test_protocol_constants():
    assert corpus.FPS == 25.0 and corpus.DATASETS == ("cmu_bvh", "bandai_namco", "hdm05_cuts")
    assert (corpus.LONG.observed, corpus.LONG.predicted, corpus.LONG.stride) == (50, 25, 10)
    assert (corpus.SHORT.observed, corpus.SHORT.predicted, corpus.SHORT.stride) == (25, 10, 5)
    assert [int(lbl) for lbl in corpus.HORIZONS] == [f * 40 for f in corpus.HORIZONS.values()]  # real ms at 25 fps
    assert list(corpus.HORIZONS.values()) == [2, 4, 8, 10, 14, 25]
    assert corpus.DROP_FIRST_FRAME == {"cmu_bvh": True, "bandai_namco": False, "hdm05_cuts": False}
    d = corpus.protocol_description()
    assert d["benchmark"] == "corpus" and d["horizon_frames"] == [2, 4, 8, 10, 14, 25]
    assert "files" in d["interval"] and "1000 resamples" in d["interval"]


def test_window_plan_long_short_none():
    spec, starts = corpus.window_plan(85)  # 75-frame windows every 10 frames
    assert spec is corpus.LONG and starts.tolist() == [0, 10]
    spec, starts = corpus.window_plan(75)
    assert spec is corpus.LONG and starts.tolist() == [0]
    spec, starts = corpus.window_plan(74)  # too short for a long window: 35-frame windows every 5 frames
    assert spec is corpus.SHORT and starts.tolist() == [0, 5, 10, 15, 20, 25, 30, 35]
    spec, starts = corpus.window_plan(40)
    assert spec is corpus.SHORT and starts.tolist() == [0, 5]
    spec, starts = corpus.window_plan(34)
    assert spec is None and len(starts) == 0
    assert corpus.horizon_windows({"long": 3, "short": 7}) == {
        "80": 10,
        "160": 10,
        "320": 10,
        "400": 10,
        "560": 3,
        "1000": 3,
    }


def test_static_joints_and_root():
    a = toy_positions(30)
    assert corpus.static_joints(TOY, [a]) == [0, 2]  # the floor joint and the zero-length helper
    assert corpus.root_joint(TOY, [0, 2]) == 1  # the hips, under the floor-level top joint
    # a joint static in one file but moving in another is kept; a root that moves is the root
    b = a.copy()
    b[:, 2] += np.array([0.0, 0.0, 0.05])  # the helper sits 5 cm off the hips in this file (still constant)
    assert corpus.static_joints(TOY, [a, b]) == [0]
    b[5:, 2, 2] += 0.001  # ... and moves by 1 mm once
    assert corpus.static_joints(TOY, [a, b]) == [0]
    moving_top = a.copy()
    moving_top[:, 0, 2] = np.arange(30) * 0.01
    assert corpus.static_joints(TOY, [moving_top]) == [2] and corpus.root_joint(TOY, [2]) == 0
    # below the tolerance is still static
    c = a.copy()
    c[:, 2, 1] += np.linspace(0, corpus.STATIC_TOLERANCE_M / 2, 30)
    assert corpus.static_joints(TOY, [c]) == [0, 2]
    with pytest.raises(SkeletonError):
        corpus.root_joint(TOY, [0, 1, 2, 3])


def test_test_set_facts_and_windows():
    ts = toy_set(85, 40, 30)  # 2 long windows, 2 short, none
    assert ts.static == [0, 2] and ts.root == 1
    sets = corpus.make_windows(ts)
    assert set(sets) == {"long", "short"}
    long_ws, long_owner = sets["long"]
    short_ws, short_owner = sets["short"]
    assert len(long_ws) == 2 and long_owner.tolist() == [0, 0] and long_ws.length == 75
    assert len(short_ws) == 2 and short_owner.tolist() == [1, 1] and short_ws.length == 35
    np.testing.assert_array_equal(short_ws.batch(np.array([1])), toy_positions(40)[None, 5:40])
    with pytest.raises(SkeletonError):
        corpus.TestSet("cmu_bvh", TOY, [Sequence_("bad", np.zeros((40, 3, 3)), ("x",))])


# ------------------------------------------------------------------------------------ evaluation
def test_hand_computed_mpjpe_and_window_counts():
    ts = toy_set(85, 40, 30)
    r = corpus.evaluate_test_set({"zero-velocity": ZeroVelocity(), "constant-velocity": ConstantVelocity()}, ts)
    info = r["info"]
    assert info["excluded_joints"] == ["floor", "helper"] and info["root"] == "hips" and info["joints"] == 2
    assert info["files_without_windows"] == ["f2"]
    assert info["windows_by_kind"] == {"long": 2, "short": 2} and info["files_by_kind"] == {"long": 1, "short": 1}
    assert info["windows"] == {"80": 4, "160": 4, "320": 4, "400": 4, "560": 2, "1000": 2}
    assert r["unavailable"] == {}
    for label, frame in corpus.HORIZONS.items():
        glob, rel = zv_expected(frame)  # every window of the linear motion has the same errors
        zv, cv = r["models"]["zero-velocity"], r["models"]["constant-velocity"]
        for key, want in (("global", glob), ("root_relative", rel)):
            cell = zv[key][label]
            assert cell["mean"] == pytest.approx(want, abs=1e-9)
            assert cell["low"] == pytest.approx(want, abs=1e-9) and cell["high"] == pytest.approx(want, abs=1e-9)
            assert cell["windows"] == info["windows"][label]
            assert cv[key][label]["mean"] == pytest.approx(0.0, abs=1e-9)  # the motion is linear
    assert r["models"]["zero-velocity"]["global"]["1000"]["mean"] == pytest.approx((250 + 25 * math.sqrt(104)) / 2)


def test_short_windows_get_short_histories_and_long_horizons_only_long_windows():
    class Recorder(ZeroVelocity):
        name = "recorder"

        def __init__(self) -> None:
            self.calls: list[tuple[int, int]] = []

        def predict(self, history, frames, samples=1, fps=None):
            assert fps == corpus.FPS
            self.calls.append((history.shape[1], frames))
            out = super().predict(history, frames, samples, fps)
            if history.shape[1] == corpus.SHORT.observed:  # short windows: 1 m off on every joint
                out = out + np.array([1.0, 0.0, 0.0])
            return out

    rec = Recorder()
    r = corpus.evaluate_test_set({"recorder": rec}, toy_set(85, 40))
    assert sorted(set(rec.calls)) == [(25, 10), (50, 25)]
    glob = r["models"]["recorder"]["global"]
    # 2 long windows with the zero-velocity error, 2 short ones 1000 mm off up to 400 ms; later only the long ones
    assert glob["560"]["mean"] == pytest.approx(zv_expected(14)[0])
    assert glob["1000"]["mean"] == pytest.approx(zv_expected(25)[0])
    assert glob["80"]["mean"] > 400 and glob["80"]["windows"] == 4 and glob["1000"]["windows"] == 2


def test_models_bound_once_per_data_set_and_unavailable_ones_reported():
    class Bound(ZeroVelocity):
        def __init__(self) -> None:
            self.bound_to: list[str] = []

        def on_skeleton(self, skeleton, mapping=None):
            self.bound_to.append(skeleton.name)
            return ZeroVelocity()

    class Refuses(ZeroVelocity):
        def on_skeleton(self, skeleton, mapping=None):
            raise SkeletonError("cannot map joint 'hand'")

    other = NearestNeighbour(window=5, frames=5).fit([toy_positions(40)[:, :3]], fps=25.0)
    other.skeleton = Skeleton("toy-3", ("a", "b", "c"), (-1, 0, 1))
    b = Bound()
    ts = toy_set(85, 40)
    r = corpus.evaluate_test_set({"bound": b, "refuses": Refuses(), "other": other}, ts)
    assert b.bound_to == ["toy-4"]
    assert set(r["models"]) == {"bound"}
    assert "cannot map joint 'hand'" in r["unavailable"]["refuses"]
    assert "toy-3" in r["unavailable"]["other"]
    assert corpus.bind(ZeroVelocity(), TOY).name == "zero-velocity"


def test_nearest_neighbour_is_replaced_by_the_protocol_one():
    made = []

    def make(residual=True):
        made.append(residual)
        return NearestNeighbour(window=25, frames=25).fit([toy_positions(120)], fps=25.0)

    models = corpus.prepare_models(
        {"nearest-neighbour": NearestNeighbour(residual=False), "zero-velocity": ZeroVelocity()}, make
    )
    assert made == [False] and models["nearest-neighbour"].num_windows > 0
    assert isinstance(models["zero-velocity"], ZeroVelocity)
    r = corpus.evaluate_test_set(models, toy_set(85, 40))
    assert set(r["models"]) == {"nearest-neighbour", "zero-velocity"}  # it serves short windows (25 frames) too
    # the same linear motion continues: the residual neighbour's displacements are exact
    assert r["models"]["nearest-neighbour"]["global"]["1000"]["mean"] == pytest.approx(0.0, abs=1e-4)


# ------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_weights_and_ci():
    w = corpus.bootstrap_weights(5, resamples=200, seed=3)
    assert w.shape == (200, 5) and (w.sum(axis=1) == 5).all()
    np.testing.assert_array_equal(w, corpus.bootstrap_weights(5, resamples=200, seed=3))  # deterministic
    assert not np.array_equal(w, corpus.bootstrap_weights(5, resamples=200, seed=4))
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 20, size=(12, 3)).astype(float)
    sums = counts * rng.uniform(10, 100, size=(12, 1)) + rng.normal(0, 5, size=(12, 3))
    weights = corpus.bootstrap_weights(12)
    mean, low, high = corpus.bootstrap_ci(sums, counts, weights)
    np.testing.assert_allclose(mean, sums.sum(0) / counts.sum(0))
    assert (low < mean).all() and (mean < high).all()
    # the same as resampling files one resample at a time
    draws = np.random.default_rng(corpus.BOOTSTRAP_SEED).integers(0, 12, size=(corpus.BOOTSTRAP_RESAMPLES, 12))
    stats = np.array([sums[d].sum(0) / counts[d].sum(0) for d in draws])
    np.testing.assert_allclose(low, np.percentile(stats, 2.5, axis=0))
    np.testing.assert_allclose(high, np.percentile(stats, 97.5, axis=0))
    # a statistic without windows is NaN; one file gives a zero-width interval
    mean, low, high = corpus.bootstrap_ci(np.zeros((3, 1)), np.zeros((3, 1)), corpus.bootstrap_weights(3))
    assert np.isnan(mean).all() and np.isnan(low).all()
    mean, low, high = corpus.bootstrap_ci(np.array([[6.0]]), np.array([[3.0]]), corpus.bootstrap_weights(1))
    assert (mean, low, high) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueRangeError):
        corpus.bootstrap_weights(0)


def test_file_sums_counts_windows_per_horizon():
    errors = {"long": np.tile(np.arange(1.0, 26.0), (3, 1)), "short": np.tile(np.arange(1.0, 11.0) * 10, (2, 1))}
    owners = {"long": np.array([0, 0, 2]), "short": np.array([1, 1])}
    sums, counts = corpus.file_sums(errors, owners, 3)
    assert counts.tolist() == [[2] * 6, [2, 2, 2, 2, 0, 0], [1] * 6]
    assert sums[:, 0].tolist() == [4.0, 40.0, 2.0] and sums[:, 5].tolist() == [50.0, 0.0, 25.0]


# ----------------------------------------------------------------------------------------- goals
def _result(default: dict[str, float], zv: float, cv: float) -> dict:
    def cells(values):
        return {label: {"mean": values[label], "low": 0.0, "high": 0.0, "windows": 1} for label in corpus.HORIZONS}

    flat = {label: zv for label in corpus.HORIZONS}, {label: cv for label in corpus.HORIZONS}
    return {
        "models": {
            "m": {"global": cells(default), "root_relative": cells(default)},
            "zero-velocity": {"global": cells(flat[0]), "root_relative": cells(flat[0])},
            "constant-velocity": {"global": cells(flat[1]), "root_relative": cells(flat[1])},
        },
        "unavailable": {},
    }


def test_goals():
    ok = {"80": 99.0, "160": 99.0, "320": 75.0, "400": 75.0, "560": 75.0, "1000": 75.0}  # 75 % of 100 is enough
    g = corpus.check_goals(_result(ok, zv=100.0, cv=120.0), "m")
    assert g["met"] is True and len(g["checks"]) == 12
    assert "goals met by m" in corpus.goal_line("cmu_bvh", g)
    bad = {**ok, "560": 76.0, "80": 100.0}  # not strictly below at 80 ms, not 25 % below at 560 ms
    g = corpus.check_goals(_result(bad, zv=100.0, cv=120.0), "m")
    missed = [(c["positions"], c["horizon"]) for c in g["checks"] if not c["met"]]
    assert missed == [("root_relative", "80"), ("root_relative", "560"), ("global", "80")]
    line = corpus.goal_line("bandai_namco", g)
    assert line.startswith("bandai_namco: goals missed by m") and "rr 560 ms 76.0 (goal <= 75.0)" in line
    res = _result(ok, 100.0, 120.0)
    del res["models"]["constant-velocity"]
    res["unavailable"] = {"constant-velocity": "why"}
    g = corpus.check_goals(res, "m")
    assert g["met"] is None and "constant-velocity not available" in corpus.goal_line("x", g)
    assert corpus.check_goals(_result(ok, 1, 1), None)["met"] is None


def test_evaluate_and_print(tmp_path):
    from rich.console import Console

    models = {"zero-velocity": ZeroVelocity(), "constant-velocity": ConstantVelocity()}
    result = corpus.evaluate(models, [toy_set(85, 40)], goal_model="constant-velocity", resamples=50, seed=1)
    assert result["protocol"]["goal_model"] == "constant-velocity"
    assert result["protocol"]["bootstrap"] == {"resamples": 50, "seed": 1}
    d = result["datasets"]["cmu_bvh"]
    assert d["goals"]["met"] is False  # constant velocity is not below itself
    json.dumps(result)  # plain JSON
    buf = io.StringIO()
    corpus.print_result(result, Console(file=buf, width=160))
    text = buf.getvalue()
    assert "joints: every joint except" in text and "excluded joints: floor, helper" in text
    assert "root: hips" in text and "windows: 80 ms 4" in text and "cmu_bvh: goals missed" in text
    assert "250.0" not in text and f"{zv_expected(25)[0]:.1f}" in text


def test_the_protocol_describes_only_the_data_sets_run():
    """Review: ``bench corpus --datasets cmu_bvh`` named the data set run in ``datasets`` but its ``files`` and
    ``first_frame`` lines still described all three. All three run: the description the committed results hold."""
    stored = json.loads((Path(__file__).parents[1] / "benchmarks" / "results" / "corpus.json").read_text())
    full = corpus.protocol_description()
    assert {k: full[k] for k in ("datasets", "files", "first_frame")} == {
        k: stored["protocol"][k] for k in ("datasets", "files", "first_frame")
    }
    one = corpus.protocol_description(["hdm05_cuts"])
    assert one["datasets"] == ["hdm05_cuts"]
    assert one["files"] == "the test split of each data set (posecast.datasets.splits): hdm05_cuts actor bd"
    assert one["first_frame"] == "dropped where it is a synthetic rest pose: hdm05_cuts kept (real motion)"
    result = corpus.evaluate({"zero-velocity": ZeroVelocity()}, [toy_set(85)], resamples=10)  # the toy is "cmu_bvh"
    protocol = result["protocol"]
    assert protocol["datasets"] == ["cmu_bvh"] and "bandai" not in protocol["files"] + protocol["first_frame"]
    assert "hdm05" not in protocol["files"] + protocol["first_frame"] and "subjects 02, 08" in protocol["files"]


def test_check_datasets_and_pick_files(tmp_path):
    assert corpus.check_datasets(None) == list(corpus.DATASETS)
    assert corpus.check_datasets("bandai_namco, cmu_bvh") == ["bandai_namco", "cmu_bvh"]
    with pytest.raises(ValueRangeError, match="nope"):
        corpus.check_datasets("cmu_bvh,nope")
    files = [tmp_path / f"{i}.bvh" for i in range(10)]
    assert corpus.pick_files(files, 3) == [files[0], files[4], files[9]] or corpus.pick_files(files, 3) == [
        files[0],
        files[5],
        files[9],
    ]
    assert corpus.pick_files(files, None) == files and corpus.pick_files(files, 20) == files


def test_default_model_names():
    from posecast.models import default_model

    expected = [default_model("motion").name, "zero-velocity", "constant-velocity", "nearest-neighbour"]
    assert corpus.default_model_names() == list(dict.fromkeys(expected))


# ------------------------------------------------------------------------------------- real data
def _amc_readable() -> bool:
    from posecast.io.registry import formats

    return any(".amc" in f.suffixes for f in formats())


@pytest.mark.parametrize("dataset", corpus.DATASETS)
def test_real_data_smoke(dataset):
    if dataset_dir(dataset, required=False) is None:
        pytest.skip(f"real data {dataset!r} not available: set POSECAST_DATA to the shared data root")
    if dataset == "hdm05_cuts" and not _amc_readable():
        pytest.skip("no ASF/AMC reader in this build yet")
    from posecast.datasets import splits

    ts = corpus.load_test_set(dataset, max_files=2)
    files = splits.files(dataset, "test")
    assert [s.name for s in ts.sequences] == [
        p.relative_to(dataset_dir(dataset)).as_posix() for p in (files[0], files[-1])
    ]  # the first and the last file, named relative to the data set's folder
    facts = {
        "cmu_bvh": ("Hips", {"LHipJoint", "RHipJoint"}, 120.0),
        "bandai_namco": ("Hips", {"joint_Root"}, 30.0),
        "hdm05_cuts": ("root", set(), 120.0),
    }[dataset]
    names = ts.skeleton.joint_names
    assert names[ts.root] == facts[0] and facts[1] <= {names[j] for j in ts.static}
    assert ts.source_fps == (facts[2],)
    hips_height = np.median(np.concatenate([s.positions[:, ts.root, 1] for s in ts.sequences]))
    assert 0.6 < hips_height < 1.3  # metres, y up
    r = corpus.evaluate_test_set({"zero-velocity": ZeroVelocity(), "constant-velocity": ConstantVelocity()}, ts)
    assert r["unavailable"] == {} and sum(r["info"]["windows_by_kind"].values()) > 0
    for m in r["models"].values():
        for key in ("global", "root_relative"):
            for label, cell in m[key].items():
                if cell["windows"]:
                    assert cell["low"] <= cell["mean"] <= cell["high"] and 0 < cell["mean"] < 3000, (key, label)


def test_cli_bench_corpus_quick(tmp_path):
    if dataset_dir("cmu_bvh", required=False) is None:
        pytest.skip("real data 'cmu_bvh' not available: set POSECAST_DATA to the shared data root")
    from typer.testing import CliRunner

    from posecast.cli.app import app

    out = tmp_path / "corpus.json"
    args = ["bench", "corpus", "--models", "zero-velocity,constant-velocity", "--datasets", "cmu_bvh"]
    r = CliRunner().invoke(app, [*args, "--max-files", "1", "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert list(d["datasets"]) == ["cmu_bvh"] and d["protocol"]["benchmark"] == "corpus"
    assert d["protocol"]["datasets"] == ["cmu_bvh"]  # the protocol names the data sets run, not all three
    cell = d["datasets"]["cmu_bvh"]["models"]["constant-velocity"]["root_relative"]["80"]
    assert set(cell) == {"mean", "low", "high", "windows"}
    assert "cmu_bvh: goals" in r.output and "1 of 21 files" in r.output


def test_cli_unknown_data_set_is_one_line_exit_2(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "posecast", "bench", "corpus", "--datasets", "nope", "--json", str(tmp_path / "x.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "nope" in r.stderr and not (tmp_path / "x.json").exists()


def test_goals_skip_horizons_without_windows():
    """A quick run (``--max-files``) can leave the long horizons without a window (NaN means): those are not
    goals missed, they are named as unchecked."""
    ok = {"80": 99.0, "160": 99.0, "320": 75.0, "400": 75.0, "560": float("nan"), "1000": float("nan")}
    res = _result(ok, zv=100.0, cv=120.0)
    for m in ("zero-velocity", "constant-velocity"):
        for key in ("global", "root_relative"):
            for label in ("560", "1000"):
                res["models"][m][key][label]["mean"] = float("nan")
    g = corpus.check_goals(res, "m")
    assert g["met"] is True and len(g["checks"]) == 8 and g["reason"] == "no windows at 560, 1000 ms"
    line = corpus.goal_line("hdm05_cuts", g)
    assert "goals met by m" in line and "no windows at 560, 1000 ms" in line and "nan" not in line
