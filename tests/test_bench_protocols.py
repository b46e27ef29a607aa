"""The cmu-bvh, long-horizon and speed benchmarks: protocol constants, window counts, hand-computed
errors, the collapse indicator, JSON keys and the command line's errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast import skeletons
from posecast.cli.app import main
from posecast.errors import ValueRangeError
from posecast.evaluation import speed
from posecast.evaluation.metrics import power_spectrum, ps_entropy, ps_kld
from posecast.evaluation.protocols import cmu_bvh
from posecast.evaluation.protocols import long_horizon as lh
from posecast.models.baselines import NearestNeighbour
from posecast.models.neural import NeuralConfig, NeuralForecaster
from posecast.synthetic import synthetic_walk

TINY = NeuralConfig(net="dct-mlp", skeleton="cmu-bvh-31", fps=25.0, history=8, frames_per_pass=6, params={"blocks": 2})


def run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "posecast", *args], capture_output=True, text=True, env=env, timeout=300
    )


def glide(frames: int, velocity=(0.0, 0.0, 1.2)) -> np.ndarray:
    """``(frames, 31, 3)``: the cmu-bvh-31 rest pose translated rigidly at ``velocity`` m/s (25 fps)."""
    rest = skeletons.get("cmu-bvh-31").rest_positions()
    t = np.arange(frames)[:, None, None] / 25.0
    return rest[None] + t * np.asarray(velocity)[None, None]


def walks(*seconds: float) -> list[cmu_bvh.TestSequence]:
    return [
        cmu_bvh.TestSequence(
            f"walk{i}", synthetic_walk(seconds=s, fps=25.0, speed=1.0 + 0.2 * i).positions, (f"subject {i:02d}", "walk")
        )
        for i, s in enumerate(seconds)
    ]


# ------------------------------------------------------------------------------------- cmu-bvh
def test_cmu_bvh_protocol_constants():
    assert (cmu_bvh.FPS, cmu_bvh.INPUT_N, cmu_bvh.OUTPUT_N, cmu_bvh.STRIDE) == (25.0, 50, 25, 10)
    assert cmu_bvh.SUBJECTS == ("02", "08") and cmu_bvh.TRAIN_SUBJECTS == ("01", "05", "06", "07")
    # the labels are real time at 25 fps: frame k (1-based) ends k * 40 ms after the last observed frame
    assert [k + 1 for k in cmu_bvh.REPORT_FRAMES.values()] == [2, 4, 8, 10, 14, 25]
    assert [int(lbl) for lbl in cmu_bvh.REPORT_FRAMES] == [(k + 1) * 40 for k in cmu_bvh.REPORT_FRAMES.values()]
    np.testing.assert_array_equal(cmu_bvh.window_starts(101), [0, 10, 20])
    np.testing.assert_array_equal(cmu_bvh.window_starts(75), [0])
    assert len(cmu_bvh.window_starts(74)) == 0
    assert len(cmu_bvh.window_starts(551)) == 48  # (551 - 75) // 10 + 1
    d = cmu_bvh.protocol_description()
    assert "every 10 frames" in d["windows"] and "millimetres" in d["units"]


@pytest.mark.parametrize(
    ("description", "group"),
    [
        ("walk", "walk"),
        ("slow walk/stride", "walk"),
        ("walk, exaggerated stride", "walk"),
        ("run/jog", "run"),
        ("jump, balance", "jump"),
        ("playground - forward jumps, turn around", "jump"),
        ("punch/strike", "other"),
        ("swordplay", "other"),
    ],
)
def test_activity_groups(description, group):
    assert cmu_bvh.activity(description) == group


def test_real_test_subjects_give_206_windows(cmu_bvh_dir):
    seqs = cmu_bvh.load_sequences(data_dir=cmu_bvh_dir)
    assert len(seqs) == 21 and all(s.positions.shape[1:] == (31, 3) for s in seqs)
    frames = {s.name: s.positions.shape[0] for s in seqs}
    # INDEX.csv: 02_05 has 1854 motion frames at 120 Hz -> (1854 - 1) / 120 s -> floor(15.442 * 25) + 1 = 387
    assert frames["02/02_05.bvh"] == 387 and frames["08/08_04.bvh"] == 101 and frames["02/02_03.bvh"] == 36
    windows, where = cmu_bvh.make_windows(seqs)
    assert windows.shape == (206, 75, 31, 3) and where[0] == ("02/02_04.bvh", 0)
    groups = {s.name: s.groups for s in seqs}
    assert groups["02/02_04.bvh"] == ("subject 02", "jump") and groups["08/08_11.bvh"] == ("subject 08", "walk")
    counts: dict[str, int] = {}
    for name, _ in where:
        for g in groups[name]:
            counts[g] = counts.get(g, 0) + 1
    assert counts == {"subject 02": 202, "subject 08": 4, "jump": 3, "other": 199, "walk": 4}
    # heights in metres, frame 0 (the T-pose) gone: the first frame is not the symmetric rest pose
    assert 1.2 < seqs[0].positions[..., 1].max() < 2.0


def test_cmu_bvh_errors_are_hand_computable():
    seq = [
        cmu_bvh.TestSequence("glide", glide(101), ("subject 99", "walk")),
        cmu_bvh.TestSequence("short", glide(60), ("subject 98", "other")),
    ]
    models = {"zero-velocity": posecast.models.get("zero-velocity"), "cv": posecast.models.get("constant-velocity")}
    r = cmu_bvh.evaluate(models, seq)
    zv, cv = r["models"]["zero-velocity"], r["models"]["cv"]
    # a rigid glide at 1.2 m/s: zero-velocity is off by 1.2 m/s x t in real mm, constant-velocity exact
    for label, k in cmu_bvh.REPORT_FRAMES.items():
        assert zv["average"][label] == pytest.approx(1.2 * (k + 1) / 25.0 * 1000.0)
        assert zv["root_relative"][label] == pytest.approx(0.0, abs=1e-9)
        assert cv["average"][label] == pytest.approx(0.0, abs=1e-6)
    assert zv["windows"] == {"all": 3, "subject 99": 3, "walk": 3}  # "short" has no window: left out
    assert r["protocol"]["files_without_windows"] == ["short"] and r["protocol"]["window_count"] == 3
    assert len(zv["per_frame"]) == 25 and set(zv["groups"]) == {"subject 99", "walk"}


def test_cmu_bvh_zero_velocity_matches_a_direct_computation():
    seqs = walks(4.0, 5.0)
    r = cmu_bvh.evaluate({"zv": posecast.models.get("zero-velocity")}, seqs)
    windows, _ = cmu_bvh.make_windows(seqs)
    err = np.linalg.norm(windows[:, 50:] - windows[:, 49:50], axis=-1).mean(axis=(0, 2)) * 1000.0
    rr = windows - windows[..., :1, :]
    err_rr = np.linalg.norm(rr[:, 50:] - rr[:, 49:50], axis=-1).mean(axis=(0, 2)) * 1000.0
    np.testing.assert_allclose(r["models"]["zv"]["per_frame"], err)
    np.testing.assert_allclose(r["models"]["zv"]["per_frame_root_relative"], err_rr)
    assert r["models"]["zv"]["average"]["1000"] == pytest.approx(err[24])


def test_nearest_neighbour_is_refitted_for_the_protocol():
    train = [glide(101), glide(80, (0.5, 0.0, 0.0))]
    models = cmu_bvh.prepare_models({"nn": posecast.models.get("nearest-neighbour")}, train)
    nn = models["nn"]
    assert isinstance(nn, NearestNeighbour) and (nn.window, nn.frames, nn.stride) == (50, 25, cmu_bvh.NN_STRIDE)
    assert nn.num_windows == 14 + 3  # starts 0..26 step 2, and 0..4 step 2
    # a glide's neighbour is a glide: the forecast continues it exactly
    seq = [cmu_bvh.TestSequence("glide", glide(101), ("subject 99", "walk"))]
    r = cmu_bvh.evaluate(models, seq)
    assert r["models"]["nn"]["average"]["1000"] == pytest.approx(0.0, abs=1e-3)


# -------------------------------------------------------------------------------- long-horizon
@pytest.mark.parametrize("bad", [0, -1, 2.5, 121, float("nan"), "20"])
def test_seconds_must_be_whole_and_in_range(bad):
    with pytest.raises(ValueRangeError, match="--seconds"):
        lh.check_seconds(bad)


def test_spectral_stats_equal_the_metrics():
    rng = np.random.default_rng(3)
    p, g = rng.normal(size=(7, 25, 4, 3)), rng.normal(size=(30, 25, 4, 3)).cumsum(axis=1)
    s = lh.spectral_stats(p, power_spectrum(g))
    assert s["entropy"] == pytest.approx(float(ps_entropy(p)), rel=1e-10)
    assert s["kld_pred_gt"] == pytest.approx(float(ps_kld(p, g, direction="pred_gt")), rel=1e-10)
    assert s["kld_gt_pred"] == pytest.approx(float(ps_kld(p, g, direction="gt_pred")), rel=1e-10)
    assert s["kld"] == pytest.approx(float(ps_kld(p, g)), rel=1e-10)


# the long-horizon evaluation itself: tests/test_long_horizon.py


# ------------------------------------------------------------------------------------- speed
def test_speed_result_has_the_required_keys():
    tiny = NeuralForecaster(TINY, name="tiny")
    models = {"zero-velocity": posecast.models.get("zero-velocity"), "tiny": tiny}
    r = speed.evaluate(models, min_runs=5, min_seconds=0.0, batch=4, throughput_seconds=0.05)
    assert r["model"] == "zero-velocity" and r["latency_ms_batch1"] == r["models"]["zero-velocity"]["latency_ms_batch1"]
    assert {"cpu", "cores", "torch", "torch_threads_default"} <= set(r["machine"])
    zv, t = r["models"]["zero-velocity"], r["models"]["tiny"]
    for m in (zv, t):
        assert m["latency_runs"] >= 5 and m["latency_threads"] == 1
        assert 0 < m["latency_ms_batch1"] <= m["latency_ms_batch1_p90"]
        assert m["throughput_forecasts_per_s"] > 0 and m["throughput_batch"] == 4
    assert (zv["parameters"], zv["history_frames"], zv["fps"], zv["forecast_frames"]) == (0, 50, 25.0, 25)
    assert t["parameters"] == sum(p.numel() for p in tiny.net.parameters()) > 0
    assert (t["history_frames"], t["fps"], t["forecast_frames"]) == (8, 25.0, 25)
    json.dumps(r)


def test_speed_times_the_forecast_length_asked_for():
    """``seconds`` (``--seconds``): 2 s at the model's 25 fps is 50 frames, said in the protocol; a length the
    bench cannot time is refused."""
    r = speed.evaluate(
        {"zero-velocity": posecast.models.get("zero-velocity")},
        min_runs=3,
        min_seconds=0.0,
        batch=2,
        throughput_seconds=0.01,
        seconds=2.0,
    )
    assert r["models"]["zero-velocity"]["forecast_frames"] == 50 and r["protocol"]["forecast"].startswith("2 s")
    for bad in (0.0, -1.0, float("nan"), 121.0, True):
        with pytest.raises(ValueRangeError, match="forecast length"):
            speed.evaluate({"zero-velocity": posecast.models.get("zero-velocity")}, seconds=bad)


def test_time_calls_counts_and_budget():
    calls = []
    times = speed.time_calls(lambda: calls.append(1), min_runs=7, min_seconds=0.0, warmup_runs=3, warmup_seconds=0.0)
    assert times.shape == (7,) and len(calls) == 10 and (times >= 0).all()
    with pytest.raises(ValueRangeError):
        speed.time_calls(lambda: None, min_runs=0)


# ------------------------------------------------------------------------------------ the CLI
def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``posecast *args`` in this process through the console entry point: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["posecast", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_unknown_model_is_one_line_exit_2_in_a_real_process(tmp_path):
    r = run("bench", "long-horizon", "--model", "nope", env_extra={"POSECAST_DATA": str(tmp_path)})
    assert r.returncode == 2 and "unknown model 'nope'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "cmu-bvh", "--model", "nope"], "unknown model 'nope'"),
        (["bench", "long-horizon", "--models", "zero-velocity,nope"], "unknown model 'nope'"),
        (["bench", "speed", "--model", "nope"], "unknown model 'nope'"),
        (["bench", "long-horizon", "--seconds", "0"], "--seconds"),
        (["bench", "long-horizon", "--seconds", "2.5"], "--seconds"),
        (["bench", "long-horizon", "--seconds", "-3"], "--seconds"),
        (["bench", "speed", "--batch", "0"], "--batch"),
        (["bench", "cmu-bvh", "--models", "zero-velocity,constant-velocity", "--weights", "{tmp}"], "--weights"),
        (["bench", "speed", "--model", "my-run", "--weights", "{tmp}"], "config.json"),
        (["bench", "cmu-bvh", "--json", "{tmp}/no/such/dir/out.json"], "does not exist"),
        (["bench", "cmu-bvh", "--json", "{tmp}"], "is a directory"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSECAST_DATA", str(tmp_path / "nowhere"))
    code, out, err = cli(monkeypatch, capsys, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_bench_speed_cli_with_weights_writes_json(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    NeuralForecaster(TINY, name="tiny").save(run_dir / "best")
    out = tmp_path / "speed.json"
    code, stdout, err = cli(
        monkeypatch,
        capsys,
        "bench",
        "speed",
        "--models",
        "tiny,zero-velocity",
        "--weights",
        str(run_dir),
        "--json",
        str(out),
        "--min-seconds",
        "0",
        "--batch",
        "8",
    )
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["model"] == "tiny" and d["latency_ms_batch1"] > 0 and list(d["models"]) == ["tiny", "zero-velocity"]
    assert d["models"]["tiny"]["parameters"] > 0 and d["models"]["tiny"]["latency_runs"] >= speed.MIN_RUNS
    text = " ".join(stdout.split())
    assert "torch threads 1" in text and "params" in text
    # the result names the weights it ran: the folder given and its tensors' SHA-256; no shipped model ran
    assert d["weights"] == str(run_dir)
    tensors = (run_dir / "best" / "model.safetensors").read_bytes()
    assert d["weights_sha256"] == hashlib.sha256(tensors).hexdigest()[:16]
    assert "shipped_weights" not in d


def test_bench_result_names_the_shipped_weights_it_ran(tmp_path, monkeypatch, capsys):
    out = tmp_path / "speed.json"
    args = ("bench", "speed", "--models", "dct-mlp,zero-velocity", "--json", str(out), "--min-seconds", "0")
    code, _, err = cli(monkeypatch, capsys, *args, "--batch", "2")
    assert code == 0, err
    d = json.loads(out.read_text())
    assert "weights" not in d and list(d["shipped_weights"]) == ["dct-mlp"]  # baselines have no weights
    root = Path(posecast.__file__).parent / "weights" / "dct-mlp"
    expected = {v.name: hashlib.sha256((v / "model.safetensors").read_bytes()).hexdigest()[:16] for v in root.iterdir()}
    assert d["shipped_weights"]["dct-mlp"] == expected and "corpus" in expected


def test_bench_cmu_bvh_cli(cmu_bvh_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSECAST_DATA", str(cmu_bvh_dir.parent))
    out = tmp_path / "bvh.json"
    code, stdout, err = cli(
        monkeypatch,
        capsys,
        "bench",
        "cmu-bvh",
        "--model",
        "zero-velocity",
        "--model",
        "constant-velocity",
        "--json",
        str(out),
    )
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["protocol"]["window_count"] == 206 and d["protocol"]["subjects"] == ["02", "08"]
    zv = d["models"]["zero-velocity"]
    assert set(zv) >= {"average", "root_relative", "groups"} and zv["windows"]["subject 08"] == 4
    assert list(zv["average"]) == ["80", "160", "320", "400", "560", "1000"]
    # zero-velocity errors grow with the horizon; constant velocity wins at 80 ms
    assert np.all(np.diff(list(zv["average"].values())) > 0)
    assert d["models"]["constant-velocity"]["average"]["80"] < zv["average"]["80"]
    text = " ".join(stdout.split())
    assert "a start every 10 frames" in text and "real millimetres" in text and "subject 08 4" in text


def test_speed_runs_the_common_canonical_body_weights_when_every_model_has_them():
    from posecast.models.neural import PretrainedModel

    dct, stt = PretrainedModel("dct-mlp"), PretrainedModel("st-transformer")
    assert "corpus" in dct.variants and "cmu-mocap" in dct.variants
    assert speed.common_variant(
        {"dct-mlp": dct, "st-transformer": stt, "zv": posecast.models.get("zero-velocity")}
    ) == ("corpus")
    assert (
        speed.common_variant(
            {"zv": posecast.models.get("zero-velocity"), "cv": posecast.models.get("constant-velocity")}
        )
        is None
    )
    assert speed.common_variant({"dct-mlp": dct}) is None  # one model: its first weights, as before
    models = {"dct-mlp": dct, "zv": posecast.models.get("zero-velocity")}
    r = speed.evaluate(models, min_runs=3, min_seconds=0.0, batch=2, throughput_seconds=0.01)
    m = r["models"]["dct-mlp"]
    assert (m["skeleton"], m["fps"], m["forecast_frames"]) == ("smplh-22", 25.0, 25)
    assert "corpus" in r["protocol"]["weights"]
    one = speed.evaluate({"dct-mlp": dct}, min_runs=3, min_seconds=0.0, batch=2, throughput_seconds=0.01)
    assert one["models"]["dct-mlp"]["fps"] == 60.0 and "weights" not in one["protocol"]


@pytest.mark.parametrize(
    "error",
    [MemoryError(), RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory")],
)
def test_running_out_of_memory_is_one_line_exit_2(monkeypatch, capsys, tmp_path, error):
    """numpy's MemoryError and torch's allocator RuntimeError: one error line, exit code 2, no traceback; other
    RuntimeErrors are not swallowed."""

    def fail(*_args, **_kwargs):
        raise error

    monkeypatch.setattr("posecast.io.detect_format", fail)
    walk = tmp_path / "w.npz"
    posecast_save_walk(walk)
    code, out, err = cli(monkeypatch, capsys, "info", str(walk))
    assert code == 2 and err.startswith("error: out of memory") and "Traceback" not in err


def test_other_runtime_errors_are_not_taken_for_memory(monkeypatch):
    from posecast.cli.app import is_out_of_memory

    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))


def posecast_save_walk(path) -> None:
    import posecast
    from posecast.synthetic import synthetic_walk

    posecast.save(synthetic_walk(seconds=1.0, fps=25.0), path)


def test_the_timing_history_stands_on_the_floor_so_both_paths_time_one_rollout():
    """QA: the rest pose hung with its feet 0.96 m below the floor; a canonical-body model bound to its skeleton
    (``forecast``) lowers a history to the floor and its ``predict`` does not, so the speed benchmark's two paths
    timed different rollouts (2.0 vs 1.0 s for 20 s). On the floor, both give the same forecast."""
    from posecast.motion import Motion

    skel = posecast.skeletons.get("smplh-22")
    h = speed.sample_history(skel, 50, 25.0, batch=2)
    assert h.shape == (2, 50, 22, 3) and h[..., 1].min() == pytest.approx(-0.03, abs=0.031)  # lowest joint, sway
    assert float(np.median(h[:, :, :, 1].min(axis=-1))) == pytest.approx(0.0, abs=0.03)
    model = posecast.models.get("dct-mlp").variant("corpus")
    a = np.asarray(model.predict(h[:1], 10, 1, fps=25.0))[0]
    b = model.forecast(Motion(h[0], 25.0, skel), frames=10).samples
    np.testing.assert_allclose(a, b, atol=1e-6)
