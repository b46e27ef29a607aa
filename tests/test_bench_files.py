"""``posecast bench files``: the corpus protocol on motion files of one's own — file gathering, rest-pose
frames, grouping by skeleton, the up axis, per-file results, hand-computed errors, and agreement with
``bench corpus`` on the same real files (skipped without POSECAST_DATA)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import posecast
from posecast.datasets.paths import dataset_dir
from posecast.errors import DataNotFoundError, ValueRangeError
from posecast.evaluation.protocols import corpus
from posecast.io.registry import motion_files
from posecast.models.baselines import ConstantVelocity, ZeroVelocity

#: a rig no registry knows: hips, a spine joint above it, a hand ahead of the spine
RIG = posecast.Skeleton(
    "rig-3", ("hips", "chest", "hand"), (-1, 0, 1), offsets=np.array([[0, 1, 0], [0, 0.5, 0], [0.4, 0, 0]])
)
OTHER = posecast.Skeleton("rig-2", ("root", "tip"), (-1, 0), offsets=np.array([[0, 1, 0], [0, 0.5, 0]]))
FPS = 50.0
V = 0.02  # m per source frame (1 m/s at 50 fps) along x: the whole body glides
RISE = 0.004  # m per source frame: the hand rises relative to the chest


def glide(frames: int) -> np.ndarray:
    """``(frames, 3, 3)`` at `FPS`: the rig gliding along x at `V` per frame, its hand rising `RISE` per frame."""
    t = np.arange(frames, dtype=np.float64)
    pos = np.zeros((frames, 3, 3))
    pos[:, 0] = np.stack([V * t, np.ones_like(t), np.zeros_like(t)], axis=-1)
    pos[:, 1] = pos[:, 0] + [0.0, 0.5, 0.0]
    pos[:, 2] = pos[:, 1] + np.stack([np.full_like(t, 0.4), RISE * t, np.zeros_like(t)], axis=-1)
    return pos


def write(path, positions, skeleton=RIG, fps=FPS):
    posecast.save(posecast.Motion(positions, fps, skeleton), path)
    return path


def test_motion_files_skip_hidden_asf_and_other_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    for name in (
        "a/one.bvh",
        "a/b/two.amc",
        "a/b/two.asf",
        "three.npz",
        "notes.md",
        "clip.mp4",
        "._one.bvh",
        ".git/x.bvh",
    ):
        (tmp_path / name).write_text("x")
    (tmp_path / "four.BVH.gz").write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in motion_files(tmp_path)]
    assert found == ["a/b/two.amc", "a/one.bvh", "four.BVH.gz", "three.npz"]


def test_gather_files_order_duplicates_and_errors(tmp_path):
    (tmp_path / "d").mkdir()
    a = write(tmp_path / "d" / "a.npz", glide(10))
    b = write(tmp_path / "b.npz", glide(10))
    assert corpus.gather_files([b, tmp_path / "d", a]) == [b, a]
    with pytest.raises(DataNotFoundError, match="no such file"):
        corpus.gather_files([tmp_path / "missing.bvh"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="no motion files"):
        corpus.gather_files([tmp_path / "empty"])


def test_hand_computed_errors_rest_frame_and_per_file(tmp_path):
    """4 s at 50 fps -> 100 frames at 25 fps -> 3 long windows (starts 0, 10, 20). The chest never moves relative
    to the hips, so it is left out (the protocol's static joints); zero-velocity at predicted frame k (25 fps: 2
    source frames each): the hips off by 2 V k, the hand by 2 k |(V, RISE)|; root-relative only the hand's rise;
    constant velocity exact. A T-pose frame 1 m away before the motion is dropped and reported."""
    rest = np.zeros((1, 3, 3))
    rest[0, :, 2] = 1.0
    write(tmp_path / "glide.npz", np.concatenate([rest, glide(200)]))
    (ts,) = corpus.load_files([tmp_path / "glide.npz"], name="mine")
    assert ts.name == "mine" and ts.recorded_up == "+y" and ts.sequences[0].positions.shape == (100, 3, 3)
    (facts,) = ts.file_facts
    assert facts == {
        "file": "glide.npz",
        "source_fps": FPS,
        "rest_pose_frames_dropped": 1,
        "up_axis": "not found (+y used)",  # a rig that does not map onto the canonical body
        "turned_from": "+y",
        "tracking_losses": 0,
        "frames": 100,
    }
    np.testing.assert_allclose(ts.sequences[0].positions, glide(200)[::2], atol=1e-12)
    res = corpus.evaluate({"zv": ZeroVelocity(), "cv": ConstantVelocity()}, [ts], resamples=50)
    d = res["datasets"]["mine"]
    assert d["info"]["windows"]["1000"] == 3 and d["info"]["recorded_up_axis"] == "+y"
    assert d["info"]["excluded_joints"] == ["chest"] and d["info"]["root"] == "hips"
    assert d["info"]["first_frame"].endswith("glide.npz 1")
    for label, k in corpus.HORIZONS.items():
        steps = 2 * k
        glob = (V * steps + np.hypot(V * steps, RISE * steps)) / 2 * 1000
        rel = RISE * steps / 2 * 1000
        assert d["models"]["zv"]["global"][label]["mean"] == pytest.approx(glob, rel=1e-9)
        assert d["models"]["zv"]["root_relative"][label]["mean"] == pytest.approx(rel, rel=1e-9)
        assert d["models"]["cv"]["global"][label]["mean"] == pytest.approx(0.0, abs=1e-6)
        assert d["models"]["zv"]["per_file"]["glide.npz"]["root_relative"][label] == pytest.approx(rel, rel=1e-9)
    assert res["protocol"]["benchmark"] == "corpus"  # no protocol given: the corpus description


def test_groups_by_skeleton_and_short_files(tmp_path):
    write(tmp_path / "a.npz", glide(200))
    write(tmp_path / "b.npz", glide(60))  # 1.2 s: 30 frames at 25 fps, too short for any window
    two = np.zeros((80, 2, 3))
    two[:, 0, 1], two[:, 1, 1] = 1.0, 1.5
    two[:, 1, 0] = np.linspace(0.0, 0.3, 80)  # the tip sways
    write(tmp_path / "c.npz", two, OTHER)
    sets = corpus.load_files([tmp_path], name="lab")
    assert [t.name for t in sets] == ["lab:rig-3", "lab:rig-2"]
    assert [s.name for s in sets[0].sequences] == ["a.npz", "b.npz"] and sets[1].sequences[0].name == "c.npz"
    protocol = corpus.files_protocol_description(sets, [tmp_path])
    assert protocol["benchmark"] == "files" and protocol["datasets"] == ["lab:rig-3", "lab:rig-2"]
    assert "3 motion files" in protocol["files"] and "lab:rig-3 +y" in protocol["up"]
    res = corpus.evaluate({"zv": ZeroVelocity()}, sets, resamples=20, protocol=protocol)
    first = res["datasets"]["lab:rig-3"]
    assert first["info"]["files_without_windows"] == ["b.npz"]
    assert first["models"]["zv"]["per_file"]["b.npz"]["root_relative"]["80"] is None
    assert corpus.load_files([tmp_path], max_files=1)[0].note == "1 of 3 files, evenly spread (quick run)"
    two[:, 1, 0] = 0.0  # a still rig: nothing to score
    write(tmp_path / "c.npz", two, OTHER)
    with pytest.raises(DataNotFoundError, match=r"static over the test data \(c.npz\): nothing in them moves"):
        corpus.load_files([tmp_path])


def test_saved_forecasts_and_unreadable_files_named_together(tmp_path):
    write(tmp_path / "ok.npz", glide(100))
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT\n")
    (tmp_path / "broken2.bvh").write_text("not a bvh")
    walk = posecast.Motion(glide(100), FPS, RIG)
    posecast.save(posecast.forecast(walk, model="zero-velocity", seconds=0.4), tmp_path / "saved_forecast.npz")
    with pytest.raises(DataNotFoundError) as err:
        corpus.load_files([tmp_path])
    text = str(err.value)
    assert "3 of 4 files cannot be scored" in text and "broken.bvh" in text and "broken2.bvh" in text
    assert "saved_forecast.npz: a saved forecast, not a recorded motion" in text


def test_up_axis_found_per_group_and_given(tmp_path):
    """A walk recorded z up: the axis is found and the files are turned y up, so every error equals that of the
    same walk recorded y up; ``up=`` overrides (and then the walk is scored lying down)."""
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=4.0, fps=25.0)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # y -> z
    posecast.save(walk, tmp_path / "y.npz")
    zdir = tmp_path / "z"
    zdir.mkdir()
    posecast.save(posecast.Motion(walk.positions @ turn.T, walk.fps, walk.skeleton), zdir / "z.npz")
    (ys,) = corpus.load_files([tmp_path / "y.npz"])
    (zs,) = corpus.load_files([zdir])
    assert ys.recorded_up == "+y" and zs.recorded_up == "+z" and zs.file_facts[0]["turned_from"] == "+z"
    np.testing.assert_allclose(zs.sequences[0].positions, ys.sequences[0].positions, atol=1e-12)  # turned y up
    (given,) = corpus.load_files([zdir], up="y")
    assert given.recorded_up == "+y" and given.file_facts[0]["turned_from"] == "+y"
    np.testing.assert_allclose(given.sequences[0].positions, zs.sequences[0].positions @ turn.T, atol=1e-12)
    model = posecast.models.get("dct-mlp")
    a = corpus.evaluate({"m": model}, [ys], resamples=10)["datasets"]["files"]["models"]["m"]
    b = corpus.evaluate({"m": model}, [zs], resamples=10)["datasets"]["files"]["models"]["m"]
    for key in ("global", "root_relative"):
        for label in corpus.HORIZONS:
            assert b[key][label]["mean"] == pytest.approx(a[key][label]["mean"], abs=1e-6)


def test_same_numbers_as_bench_corpus_on_the_same_files():
    """The CMU BVH test files through ``bench files`` (rest pose found) and ``bench corpus`` (frame 0 dropped by
    the data set's rule): the same windows and errors."""
    if dataset_dir("cmu_bvh", required=False) is None:
        pytest.skip("real data 'cmu_bvh' not available: set POSECAST_DATA to the shared data root")
    from posecast.datasets import splits

    files = corpus.pick_files(splits.files("cmu_bvh", "test"), 3)
    ref = corpus.load_test_set("cmu_bvh", max_files=3)
    (mine,) = corpus.load_files(files)
    assert [f["rest_pose_frames_dropped"] for f in mine.file_facts] == [1, 1, 1]
    for a, b in zip(ref.sequences, mine.sequences, strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)
    models = {"zv": ZeroVelocity(), "m": posecast.models.get("dct-mlp")}
    r1 = corpus.evaluate(models, [ref], resamples=20)["datasets"]["cmu_bvh"]["models"]
    r2 = corpus.evaluate(models, [mine], resamples=20)["datasets"]["files"]["models"]
    for m in models:
        for key in ("global", "root_relative"):
            for label in corpus.HORIZONS:
                x, y = r1[m][key][label]["mean"], r2[m][key][label]["mean"]
                assert (np.isnan(x) and np.isnan(y)) or x == pytest.approx(y, rel=1e-9)


def test_cli_bench_files(tmp_path):
    from typer.testing import CliRunner

    from posecast.cli.app import app

    write(tmp_path / "a.npz", glide(200))
    write(tmp_path / "b.npz", glide(150))
    out = tmp_path / "r.json"
    args = ["bench", "files", str(tmp_path), "--models", "zero-velocity,constant-velocity", "--name", "lab"]
    r = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["protocol"]["benchmark"] == "files" and list(d["datasets"]) == ["lab"]
    per_file = d["datasets"]["lab"]["models"]["zero-velocity"]["per_file"]
    assert set(per_file) == {"a.npz", "b.npz"}
    assert "largest root-relative errors of zero-velocity" in r.output and "up axis as recorded: +y" in r.output


def _bench_files_cli(folder, tmp_path):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "posecast",
            "bench",
            "files",
            str(folder),
            "--models",
            "zero-velocity",
            "--json",
            str(tmp_path / "x.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    folder = tmp_path / "takes"
    folder.mkdir()
    r = _bench_files_cli(folder, tmp_path)
    assert r.returncode == 2 and "no motion files" in r.stderr and "Traceback" not in r.stderr
    (folder / "x.bvh").write_text("nonsense")
    r = _bench_files_cli(folder, tmp_path)
    assert r.returncode == 2 and "x.bvh" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.json").exists()  # nothing written


def test_cli_long_horizon_on_files(tmp_path):
    """``bench long-horizon --files``: rollouts from your own files, each group its own reference (a held pose
    moves at 0 times the walk's speed); ``--files`` and ``--datasets`` together are refused."""
    from typer.testing import CliRunner

    from posecast.cli.app import app
    from posecast.synthetic import synthetic_walk

    posecast.save(synthetic_walk(seconds=6.0, fps=30.0), tmp_path / "walk.npz")
    out = tmp_path / "lh.json"
    args = ["bench", "long-horizon", "--files", str(tmp_path / "walk.npz"), "--name", "mine", "--seconds", "2"]
    r = CliRunner().invoke(app, [*args, "--models", "zero-velocity", "--no-plausibility", "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert list(d["datasets"]) == ["mine"] and d["protocol"]["datasets"].startswith("1 motion files from")
    rows = d["datasets"]["mine"]["models"]["zero-velocity"]["per_second"]
    assert [row["second"] for row in rows] == [1, 2] and rows[0]["speed_ratio"] == pytest.approx(0.0, abs=1e-9)
    r = CliRunner().invoke(app, [*args, "--datasets", "cmu_bvh"])
    assert isinstance(r.exception, ValueRangeError) and "--files or --datasets" in str(r.exception)
    # no file long enough for a seed: exit 2 naming each file with its frames, and the JSON says so (as bench files)
    posecast.save(synthetic_walk(seconds=2.0, fps=30.0), tmp_path / "short.npz")
    args = ["bench", "long-horizon", "--files", str(tmp_path / "short.npz"), "--seconds", "2", "--no-plausibility"]
    r = CliRunner().invoke(app, [*args, "--models", "zero-velocity", "--json", str(out)])
    assert isinstance(r.exception, DataNotFoundError) and "short.npz 51" in str(r.exception)
    assert f"{out} records it (not_scored)" in str(r.exception)
    d = json.loads(out.read_text())
    assert d["datasets"] == {} and "short.npz 51" in d["not_scored"] and d["files"] == [str(tmp_path / "short.npz")]


def test_one_file_prints_no_interval(tmp_path, capsys):
    """QA: one file's bootstrap "interval" printed as 82-82; a group of one file says so instead."""
    from rich.console import Console

    write(tmp_path / "a.npz", glide(200))
    result = corpus.evaluate({"zero-velocity": ZeroVelocity()}, corpus.load_files([tmp_path]), resamples=10)
    cell = result["datasets"]["files"]["models"]["zero-velocity"]["global"]["400"]
    assert cell["low"] == cell["high"] == pytest.approx(cell["mean"])
    corpus.print_result(result, Console(width=250))
    out = capsys.readouterr().out
    assert "1 file" in out and f"{cell['low']:.0f}-{cell['high']:.0f}" not in out
    write(tmp_path / "b.npz", 2.0 * glide(200))
    result = corpus.evaluate({"zero-velocity": ZeroVelocity()}, corpus.load_files([tmp_path]), resamples=10)
    corpus.print_result(result, Console(width=250))
    cell = result["datasets"]["files"]["models"]["zero-velocity"]["global"]["400"]
    assert cell["low"] < cell["high"] and f"{cell['low']:.0f}-{cell['high']:.0f}" in capsys.readouterr().out


def test_a_mapping_lets_an_unnamed_rig_be_scored_like_its_named_twin(tmp_path):
    """The synthetic walk on a copy of its rig whose joints are called j0, j1, ...: the automatic mapping refuses
    it (the default model is listed as unavailable), an explicit mapping (the named rig's assignment, renamed; its
    ``up:`` entry taken as the files' up axis) gives the named walk's errors."""
    from posecast.skeletons.canonical import retarget
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=4.0, fps=25.0)
    sk = walk.skeleton
    anon = posecast.Skeleton("anon", tuple(f"j{i}" for i in range(sk.num_joints)), sk.parents, offsets=sk.offsets)
    posecast.save(walk, tmp_path / "named.npz")
    (tmp_path / "anon").mkdir()
    posecast.save(posecast.Motion(walk.positions, walk.fps, anon), tmp_path / "anon" / "walk.npz")
    renamed = {c: {f"j{sk.index(j)}": w for j, w in src.items()} for c, src in retarget(sk).assignment.items()}
    model = posecast.models.get("dct-mlp")
    (plain,) = corpus.load_files([tmp_path / "anon"])
    res = corpus.evaluate({"m": model}, [plain], resamples=10)["datasets"]["files"]
    assert "m" in res["unavailable"] and "cannot be mapped" in res["unavailable"]["m"]
    (named,) = corpus.load_files([tmp_path / "named.npz"])
    (mapped,) = corpus.load_files([tmp_path / "anon"], mapping={**renamed, "up": "y"})
    assert mapped.mapping == renamed and mapped.recorded_up == "+y"
    a = corpus.evaluate({"m": model}, [named], resamples=10)["datasets"]["files"]["models"]["m"]
    b = corpus.evaluate({"m": model}, [mapped], resamples=10)["datasets"]["files"]["models"]["m"]
    for key in ("global", "root_relative"):
        for label in corpus.HORIZONS:
            assert b[key][label]["mean"] == pytest.approx(a[key][label]["mean"], abs=1e-6)


def test_per_file_means_pool_to_the_table_and_the_worst_file_comes_first(tmp_path):
    """Two files gliding at V and 2 V (3 and 1 long windows): each file's zero-velocity error is its own hand-computed
    value, the table's mean the window-weighted mean of the two, and the faster file is named first."""
    write(tmp_path / "slow.npz", glide(200))
    fast = glide(160)
    fast[..., 0] *= 2.0  # x doubled: twice the speed along x, the same rise
    write(tmp_path / "fast.npz", fast)
    (ts,) = corpus.load_files([tmp_path])
    d = corpus.evaluate({"zv": ZeroVelocity()}, [ts], resamples=20)["datasets"]["files"]
    per = d["models"]["zv"]["per_file"]
    assert d["info"]["windows"]["1000"] == 3 + 1
    for label, k in corpus.HORIZONS.items():
        steps = 2 * k
        slow = (V * steps + np.hypot(V * steps, RISE * steps)) / 2 * 1000
        quick = (2 * V * steps + np.hypot(2 * V * steps, RISE * steps)) / 2 * 1000
        assert per["slow.npz"]["global"][label] == pytest.approx(slow, rel=1e-9)
        assert per["fast.npz"]["global"][label] == pytest.approx(quick, rel=1e-9)
        assert d["models"]["zv"]["global"][label]["mean"] == pytest.approx((3 * slow + quick) / 4, rel=1e-9)
    model, label, rows = corpus.worst_files(d)
    assert (model, label, [f for f, _ in rows]) == ("zv", "1000", ["fast.npz", "slow.npz"])
    assert corpus.worst_file_lines(d)[0] == "largest root-relative errors of zv at 1000 ms (mm):"


def test_two_rigs_with_one_name_stay_two_groups_and_a_file_counts_once(tmp_path):
    twin = posecast.Skeleton("rig-3", ("pelvis", "chest", "hand"), (-1, 0, 1), offsets=RIG.offsets)
    (tmp_path / "a").mkdir()
    write(tmp_path / "a" / "take.npz", glide(200))
    write(tmp_path / "b.npz", glide(200), twin)
    (tmp_path / "link.npz").symlink_to(tmp_path / "a" / "take.npz")
    sets = corpus.load_files([tmp_path / "a", tmp_path / "a" / "take.npz", tmp_path / "b.npz"], name="lab")
    assert [t.name for t in sets] == ["lab:rig-3", "lab:rig-3-2"]
    assert [len(t.sequences) for t in sets] == [1, 1]  # the folder's file and the same file given again: once
    assert corpus.file_names([tmp_path / "link.npz", tmp_path / "b.npz"]) == ["link.npz", "b.npz"]  # as given


def test_files_with_different_up_axes_in_one_group_are_each_turned(tmp_path):
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=4.0, fps=25.0)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # y -> z
    posecast.save(walk, tmp_path / "y.npz")
    posecast.save(posecast.Motion(walk.positions @ turn.T, walk.fps, walk.skeleton), tmp_path / "z.npz")
    (ts,) = corpus.load_files([tmp_path])
    assert ts.recorded_up in ("+y (1 files), +z (1 files)", "+z (1 files), +y (1 files)")
    assert [f["turned_from"] for f in ts.file_facts] == ["+y", "+z"]
    np.testing.assert_allclose(ts.sequences[0].positions, ts.sequences[1].positions, atol=1e-12)


def test_loose_files_in_a_folder_are_skipped_but_not_when_given(tmp_path):
    write(tmp_path / "take.npz", glide(100))
    (tmp_path / "README.txt").write_text("takes of 2026-12-06")
    (tmp_path / "result.json").write_text('{"protocol": {}}')
    (ts,) = corpus.load_files([tmp_path])
    assert len(ts.sequences) == 1 and [x.split(" ")[0] for x in ts.skipped] == ["README.txt", "result.json"]
    write(tmp_path / "take2.npz", glide(100))  # QA: --max-files 2 had taken README.txt as one of its two
    (ts,) = corpus.load_files([tmp_path], max_files=2)
    assert len(ts.sequences) == 2 and not ts.skipped
    with pytest.raises(DataNotFoundError, match="README.txt"):
        corpus.load_files([tmp_path / "take.npz", tmp_path / "README.txt"])
    with pytest.raises(DataNotFoundError, match="an ASF file is a skeleton"):
        (tmp_path / "x.asf").write_text("")
        corpus.gather_files([tmp_path / "x.asf"])


def test_a_mapping_that_fits_no_rig_or_contradicts_up_is_refused(tmp_path):
    from posecast.errors import SkeletonError

    write(tmp_path / "take.npz", glide(100))
    with pytest.raises(SkeletonError, match="fits none of the files' rigs"):
        corpus.load_files([tmp_path], mapping={"pelvis": {"NoSuchJoint": 1.0}})
    with pytest.raises(SkeletonError, match="contradicts the mapping's up: \\+z"):
        corpus.load_files([tmp_path], up="y", mapping={"pelvis": {"hips": 1.0}, "up": "z"})


def test_long_horizon_on_a_z_up_file_equals_the_y_up_file(tmp_path):
    """The long-horizon scorer (spectra, speeds, ground, feet) on a z-up copy of a walk: every number of the y-up
    walk's (the files are turned at loading, the scorer sees y up)."""
    from posecast.evaluation.protocols import long_horizon
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=5.0, fps=25.0)
    turn = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    posecast.save(walk, tmp_path / "y.npz")
    (tmp_path / "z").mkdir()
    posecast.save(posecast.Motion(walk.positions @ turn.T, walk.fps, walk.skeleton), tmp_path / "z" / "z.npz")
    models = {"cv": ConstantVelocity()}
    rows = []
    for path in (tmp_path / "y.npz", tmp_path / "z"):
        sets = corpus.load_files([path])
        res = long_horizon.evaluate(models, 2, sets)["datasets"]["files"]
        rows.append(res["models"]["cv"]["per_second"])
    for a, b in zip(*rows, strict=True):
        for key, value in a.items():
            if isinstance(value, float):
                assert b[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_long_horizon_leaves_out_groups_without_a_seed(tmp_path):
    from posecast.evaluation.protocols import long_horizon

    write(tmp_path / "long.npz", glide(200))  # 4 s
    two = np.zeros((60, 2, 3))
    two[:, 0, 1], two[:, 1, 1] = 1.0, 1.5
    two[:, 1, 0] = np.linspace(0.0, 0.3, 60)
    write(tmp_path / "short.npz", two, OTHER)  # 1.2 s
    kept, left_out = long_horizon.with_seeds(corpus.load_files([tmp_path]))
    assert [t.name for t in kept] == ["files:rig-3"] and list(left_out) == ["files:rig-2"]
    assert left_out["files:rig-2"].startswith("no file has the 75 frames (3 s at 25 fps) of a seed")
    assert "short.npz 30" in left_out["files:rig-2"]  # 1.2 s: 30 frames at 25 fps
    with pytest.raises(DataNotFoundError, match=r"of a long-horizon seed and its next second; .*short\.npz 30"):
        long_horizon.with_seeds(corpus.load_files([tmp_path / "short.npz"]))


def test_the_protocol_describes_the_nearest_neighbour_baseline_only_when_it_runs(tmp_path):
    write(tmp_path / "a.npz", glide(100))
    sets = corpus.load_files([tmp_path])
    assert "nearest_neighbour" not in corpus.files_protocol_description(sets, [tmp_path], ["zero-velocity"])
    assert "nearest_neighbour" in corpus.files_protocol_description(sets, [tmp_path], ["nearest-neighbour"])


# ------------------------------------------------------------------ reporting at the edges (QA of 2026-12-07)
def test_nothing_scored_exits_2_with_the_reason_and_the_json_says_so(tmp_path, cli):
    """Every file too short for a window: exit 2 with one line naming why (as `bench video` when no clip is scored),
    and the JSON, written, says so (``not_scored``) instead of looking like a run with empty tables."""
    folder = tmp_path / "takes"
    folder.mkdir()
    write(folder / "a.npz", glide(30))  # 0.6 s: 15 frames at 25 fps
    write(folder / "b.npz", glide(60))  # 1.2 s: 30 frames, still under the 35 of a short window
    out = tmp_path / "r.json"
    code, stdout, err = cli("bench", "files", str(folder), "--models", "zero-velocity", "--json", str(out))
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "no file could be scored" in err and "a.npz 15 frames, b.npz 30 frames" in err and str(out) in err
    d = json.loads(out.read_text())
    assert "no file has the 35 frames (1.4 s at 25 fps) of a window" in d["not_scored"]
    assert d["datasets"]["files"]["models"] == {}
    write(folder / "c.npz", glide(200))  # one file long enough: scored, exit 0
    code, _, err = cli("bench", "files", str(folder), "--models", "zero-velocity", "--json", str(out))
    assert code == 0, err
    assert "not_scored" not in json.loads(out.read_text())


def test_every_unreadable_file_is_named_and_an_earlier_result_survives(tmp_path, cli):
    """Seven broken files: one message names all seven with their problem; the ``--json`` path is not written, so an
    earlier result there stays as it was (a refused rerun into ``benchmarks/results/`` must not wipe it)."""
    folder = tmp_path / "takes"
    folder.mkdir()
    write(folder / "ok.npz", glide(100))
    out = tmp_path / "r.json"
    code, _, err = cli("bench", "files", str(folder), "--models", "zero-velocity", "--json", str(out))
    assert code in (0, None), err
    earlier = out.read_text()
    bad = [f"broken{i}.bvh" for i in range(7)]
    for name in bad:
        (folder / name).write_text("not a bvh")
    (folder / "notes.txt").write_text("takes of monday")  # skipped (not motion)
    code, _, err = cli("bench", "files", str(folder), "--models", "zero-velocity", "--json", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "7 of 9 files cannot be scored" in err and all(name in err for name in bad) and "more" not in err
    assert err.count("HIERARCHY") == 7 and out.read_text() == earlier
    with pytest.raises(corpus.UnreadableFiles) as info:  # the library: every file on the error
        corpus.load_files([folder])
    assert len(info.value.files) == 7 and "and 2 more" in str(info.value)


def test_long_horizon_records_left_out_groups_and_counts_the_files_used(tmp_path, cli):
    """A rig whose only file is shorter than a seed: left out, with the reason, in the JSON (``left_out``) and the
    printed output, not only on stderr; the protocol counts the file used, not both."""
    from posecast.synthetic import synthetic_walk

    posecast.save(synthetic_walk(seconds=4.0, fps=25.0), tmp_path / "walk.npz")
    two = np.zeros((60, 2, 3))
    two[:, 0, 1], two[:, 1, 1] = 1.0, 1.5
    two[:, 1, 0] = np.linspace(0.0, 0.3, 60)
    write(tmp_path / "short.npz", two, OTHER)  # 1.2 s
    out = tmp_path / "lh.json"
    args = ["--files", str(tmp_path), "--models", "zero-velocity", "--seconds", "1", "--no-plausibility"]
    code, stdout, err = cli("bench", "long-horizon", *args, "--json", str(out))
    assert code == 0, err
    d = json.loads(out.read_text())
    (kept,) = d["datasets"]
    assert list(d["left_out"]) == ["files:rig-2"] and "short.npz 30" in d["left_out"]["files:rig-2"]
    assert d["protocol"]["datasets"].startswith("1 motion files from") and "files:rig-2" in d["protocol"]["datasets"]
    assert "files:rig-2: left out, no file has the 75 frames" in stdout


def test_other_files_in_a_motion_folder_are_skipped_and_named(tmp_path, cli):
    """Images, videos and other files beside the motion files (at any depth) are named with why they are skipped, in
    the printed output and the JSON; hidden files and ASF skeletons are not motion and not listed."""
    write(tmp_path / "take.npz", glide(100))
    (tmp_path / "sub").mkdir()
    for name in ("frame.png", "clip.mp4", "sub/notes.md", ".DS_Store", "sub/skel.asf"):
        (tmp_path / name).write_bytes(b"x")
    out = tmp_path / "r.json"
    code, stdout, err = cli("bench", "files", str(tmp_path), "--models", "zero-velocity", "--json", str(out))
    assert code == 0, err
    info = json.loads(out.read_text())["datasets"]["files"]["info"]
    assert sorted(x.split(" ")[0] for x in info.get("skipped_files", [])) == ["clip.mp4", "frame.png", "sub/notes.md"]
    assert "clip.mp4 (a video, not motion" in stdout and "frame.png (an image, not motion)" in stdout
    named = {x.split(" ")[0]: x for x in corpus.other_files([tmp_path])}
    assert "not a motion format (.md" in named["sub/notes.md"]


def test_corpus_members_by_content_not_by_name(tmp_path):
    """`corpus_members.find` against an index of hashes (the data sets' own): a copy under another name is found,
    gzipped too (the indexes hash Bandai's decompressed BVH); a file of the same name and other content is not."""
    import gzip
    import hashlib

    from posecast.datasets import corpus_members

    content = b"HIERARCHY\nROOT Hips\n" * 50
    known = {hashlib.sha256(content).hexdigest(): ("train", "cmu_bvh/01/01_01.bvh", len(content))}
    (tmp_path / "renamed.bvh").write_bytes(content)
    (tmp_path / "copy.bvh.gz").write_bytes(gzip.compress(content))
    (tmp_path / "01_01.bvh").write_bytes(content[:-1] + b"!")
    found = corpus_members.find(sorted(tmp_path.iterdir()), known)
    assert {p.name: v for p, v in found.items()} == {
        "copy.bvh.gz": ("train", "cmu_bvh/01/01_01.bvh"),
        "renamed.bvh": ("train", "cmu_bvh/01/01_01.bvh"),
    }
    assert corpus_members.find(sorted(tmp_path.iterdir()), {}) == {}


def test_files_of_the_corpus_training_split_are_named(posecast_data, tmp_path, monkeypatch, capsys):
    """Copies of a CMU BVH and a Bandai training file (renamed; the Bandai one decompressed) and of a Bandai
    validation file beside a test-split file: the training and validation files are named in the JSON and the
    printed output (PoseCast's shipped models were trained on that split), per file in ``file_facts``; the test file as
    held out. The same note in ``bench long-horizon --files``."""
    import gzip
    import shutil

    from rich.console import Console

    from posecast.evaluation.protocols import long_horizon

    monkeypatch.setenv("POSECAST_DATA", str(posecast_data))
    bandai = posecast_data / "bandai_namco" / "dataset-1"
    shutil.copy(posecast_data / "cmu_bvh" / "01" / "01_02.bvh", tmp_path / "mine_a.bvh")
    (tmp_path / "mine_b.bvh").write_bytes(gzip.decompress((bandai / "dataset-1_bow_active_001.bvh.gz").read_bytes()))
    shutil.copy(bandai / "dataset-1_bow_proud_001.bvh.gz", tmp_path / "mine_c.bvh.gz")  # validation style
    shutil.copy(bandai / "dataset-1_bow_sad_001.bvh.gz", tmp_path / "mine_d.bvh.gz")  # test style
    sets = corpus.load_files([tmp_path])
    result = corpus.evaluate({"zero-velocity": ZeroVelocity()}, sets, resamples=10)
    train = result["in_corpus"]["train"]
    assert train["note"] == (
        "2 files are in the training split of the corpus: PoseCast's shipped models were trained on it "
        "(nearest-neighbour replays it); the numbers on them are not held out"
    )
    assert train["files"] == {
        "mine_a.bvh": "cmu_bvh/01/01_02.bvh",
        "mine_b.bvh": "bandai_namco/dataset-1/dataset-1_bow_active_001.bvh.gz",
    }
    assert result["in_corpus"]["validation"]["files"] == {
        "mine_c.bvh.gz": "bandai_namco/dataset-1/dataset-1_bow_proud_001.bvh.gz"
    }
    facts = {f["file"]: f for t in sets for f in t.file_facts}
    assert facts["mine_a.bvh"]["corpus_split"] == "train" and facts["mine_d.bvh.gz"]["corpus_split"] == "test"
    # QA: a test-split file was not named; its numbers are held-out ones, which a user should see too
    assert result["in_corpus"]["test"] == {
        "note": "1 file is in the test split of the corpus: no shipped model was trained or chosen on it; the numbers "
        "on it are held out",
        "files": {"mine_d.bvh.gz": "bandai_namco/dataset-1/dataset-1_bow_sad_001.bvh.gz"},
    }
    corpus.print_result(result, Console(width=250))
    assert "note: 2 files are in the training split of the corpus" in capsys.readouterr().out
    kept, _ = long_horizon.with_seeds(sets)
    lh = long_horizon.evaluate({"zero-velocity": ZeroVelocity()}, 1, kept, max_seeds=2)
    assert lh["in_corpus"]["train"]["note"] == train["note"]


def test_a_npz_of_bare_positions_reads_as_the_npy_with_skeleton_and_fps(tmp_path, cli):
    """A .npz holding one array of positions (no skeleton: not written by PoseCast) with --skeleton/--fps: the same
    numbers as the .npy of the same array, in ``bench files`` as in `posecast.api.load_motion` (units included);
    without them the error says what to pass."""
    from posecast.api import load_motion
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=4.0, fps=30.0)
    (tmp_path / "npy").mkdir()
    (tmp_path / "npz").mkdir()
    np.save(tmp_path / "npy" / "walk.npy", walk.positions)
    np.savez(tmp_path / "npz" / "walk.npz", positions=walk.positions)
    np.savez(tmp_path / "unnamed_mm.npz", walk.positions * 1000.0)  # one array under numpy's own name, in mm
    a = load_motion(tmp_path / "npz" / "walk.npz", walk.skeleton.name, 30.0)
    b = load_motion(tmp_path / "npy" / "walk.npy", walk.skeleton.name, 30.0)
    np.testing.assert_array_equal(a.positions, b.positions)
    c = load_motion(tmp_path / "unnamed_mm.npz", walk.skeleton.name, 30.0, units="mm")
    np.testing.assert_allclose(c.positions, b.positions, atol=1e-12)
    with pytest.raises(posecast.PosecastError, match=r"a body spanning .* \(mm\?\)"):
        load_motion(tmp_path / "unnamed_mm.npz", walk.skeleton.name, 30.0)
    with pytest.raises(posecast.PosecastError, match="without 'skeleton' holds only numbers: pass skeleton= and fps="):
        load_motion(tmp_path / "npz" / "walk.npz")
    np.savez(tmp_path / "rated.npz", positions=walk.positions, fps=30.0)  # its own rate read with it
    np.testing.assert_array_equal(load_motion(tmp_path / "rated.npz", walk.skeleton.name).positions, b.positions)
    assert load_motion(tmp_path / "rated.npz", walk.skeleton.name).fps == 30.0
    np.savez(tmp_path / "two.npz", positions=walk.positions, rotations=np.zeros((walk.num_frames, 4)))
    with pytest.raises(posecast.PosecastError, match=r"among its arrays \(positions, rotations\)"):  # none dropped
        load_motion(tmp_path / "two.npz", walk.skeleton.name, 30.0)
    rows = []
    for sub in ("npy", "npz"):
        out = tmp_path / f"{sub}.json"
        args = ["--skeleton", walk.skeleton.name, "--fps", "30", "--models", "zero-velocity", "--json", str(out)]
        code, _, err = cli("bench", "files", str(tmp_path / sub), *args)
        assert code == 0, err
        rows.append(json.loads(out.read_text())["datasets"]["files"]["models"]["zero-velocity"]["root_relative"])
    assert rows[0] == rows[1]
    forecasts = []  # `posecast forecast` reads it with the same reader
    for src in (tmp_path / "npy" / "walk.npy", tmp_path / "npz" / "walk.npz"):
        out = tmp_path / f"f_{src.suffix[1:]}.npz"
        args = ["--skeleton", walk.skeleton.name, "--fps", "30", "--model", "constant-velocity", "--out", str(out)]
        code, _, err = cli("forecast", str(src), *args)
        assert code == 0, err
        forecasts.append(posecast.load(out).samples)
    np.testing.assert_array_equal(*forecasts)
