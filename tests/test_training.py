"""Training: determinism, resume, data-parallel (2 processes), and the trained forecaster contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.numpy import load_file

import posecast
import posecast.training
from posecast.models.neural import NeuralForecaster
from posecast.synthetic import synthetic_walk
from posecast.training import load_config, train

TINY = {
    "model": "dct-mlp",
    "net": "dct-mlp",
    "history": 8,
    "frames_per_pass": 6,
    "params": {"blocks": 2},
    "epochs": 2,
    "batch_size": 16,
    "lr": 0.001,
    "warmup_steps": 1,
    "max_steps_per_epoch": 4,
    "threads": 1,
    "val_fraction": 0.2,
}


@pytest.fixture(scope="module")
def walk_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("walks")
    for i, (speed, cadence) in enumerate([(1.0, 0.8), (1.3, 0.9), (1.6, 1.0)]):
        posecast.save(synthetic_walk(seconds=4.0, fps=25.0, speed=speed, cadence=cadence), folder / f"walk{i}.npz")
    return folder


def _weights(run: Path, which: str = "last") -> dict[str, np.ndarray]:
    return load_file(str(run / which / "model.safetensors"))


def test_training_is_deterministic_and_resumable(walk_folder, tmp_path):
    cfg = load_config(None, data=str(walk_folder), **TINY)
    a = train(cfg, tmp_path / "a", resume=False)
    b = train(cfg, tmp_path / "b", resume=False)
    wa, wb = _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    # interrupted after the first epoch, then resumed: the same weights as an uninterrupted run

    def interrupt(epoch, total, record):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "c", resume=False, progress=interrupt)
    c = train(cfg, tmp_path / "c", resume=True)
    wc = _weights(c)
    assert all(np.allclose(wa[k], wc[k], atol=1e-6) for k in wa)
    lines = [json.loads(x) for x in (c / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2] and "val_mpjpe_mm" in lines[0]
    run = json.loads((a / "run.json").read_text())
    assert len(run["data"]["files"]) == 3 and run["windows"]["train"] > 0 and run["parameters"] > 0
    assert not (a / "rounds").exists()
    # keep_rounds: every round's weights too, the last one equal to last/ (the same run otherwise)
    kept = train(load_config(None, data=str(walk_folder), **{**TINY, "keep_rounds": True}), tmp_path / "k")
    assert sorted(p.name for p in (kept / "rounds").iterdir()) == ["001", "002"]
    final = _weights(kept / "rounds", "002")
    assert all(np.array_equal(final[k], wa[k]) for k in wa)
    assert not all(np.array_equal(_weights(kept / "rounds", "001")[k], wa[k]) for k in wa)


def test_trained_model_forecasts_through_the_interface(walk_folder, tmp_path):
    cfg = load_config(None, data=str(walk_folder), **TINY)
    run = train(cfg, tmp_path / "run", resume=False)
    model = NeuralForecaster.load(run / "best")
    walk = synthetic_walk(seconds=2.0, fps=50.0)  # another frame rate: the wrapper resamples
    fc = model.forecast(walk, seconds=1.0)
    assert fc.samples.shape == (1, 50, 31, 3) and fc.fps == 50.0
    # the network is residual on the last pose: the first predicted frame stays near the last observed one
    assert np.abs(fc.samples[0, 0] - walk.positions[-1]).max() < 0.2
    # long autoregressive rollouts (many passes, re-canonicalised each time) have the right length
    long = model.forecast(walk, seconds=8.0)
    assert long.samples.shape == (1, 400, 31, 3) and np.isfinite(long.samples).all()


def test_two_process_data_parallel_training(walk_folder, tmp_path):
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump({**TINY, "epochs": 1}))
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "posecast",
        "train",
        "--model",
        "dct-mlp",
        "--data",
        str(walk_folder),
        "--config",
        str(cfg_path),
        "--out",
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[:3000] + "\n...\n" + r.stderr[-1500:]
    run = json.loads((out / "run.json").read_text())
    assert run["machine"]["processes"] == 2
    sums = np.array(run["replica_checksums"])
    assert sums.shape == (2, 2)
    np.testing.assert_allclose(sums[0], sums[1], rtol=1e-12)  # both replicas hold the same parameters
    assert (out / "best" / "model.safetensors").is_file()


def test_bad_training_config_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: dct-mlp\nnet: dct-mlp\nepochs: -3\nbogus: 1\n")
    with pytest.raises(posecast.PosecastError, match="invalid training config"):
        load_config(bad)


def test_a_configs_reading_files_are_found_beside_it(tmp_path, monkeypatch):
    """A config's ``reading: {asf, mapping}`` files named relative to the config's folder are found from any working
    directory (they had been read relative to the working directory only); an absolute path, a relative one not
    found beside the config, and one found from the working directory (as runs before recorded it, for resumes)
    stay as given."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "rig.asf").write_text(":version 1.10\n")
    (folder / "map.yaml").write_text("pelvis: Hips\n")
    cfg = folder / "train.yaml"
    cfg.write_text("model: dct-mlp\nnet: dct-mlp\nreading: {asf: rig.asf, mapping: map.yaml}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    reading = load_config(cfg).reading
    assert Path(reading.asf) == (folder / "rig.asf").resolve()
    assert Path(reading.mapping) == (folder / "map.yaml").resolve()
    monkeypatch.chdir(folder)
    assert load_config(cfg).reading.asf == "rig.asf"
    cfg.write_text(f"model: dct-mlp\nnet: dct-mlp\nreading: {{asf: {folder / 'rig.asf'}, mapping: other.yaml}}\n")
    reading = load_config(cfg).reading
    assert reading.asf == str(folder / "rig.asf") and reading.mapping == "other.yaml"


def test_fine_tuning_starts_from_the_given_weights(walk_folder, tmp_path):
    from posecast.errors import ValueRangeError
    from posecast.training.motion import initial_weights

    cfg = load_config(None, data=str(walk_folder), **TINY)
    a = train(cfg, tmp_path / "a", resume=False)
    best = _weights(a, "best")
    ncfg = NeuralForecaster.load(a / "best").config
    for init in (str(a), str(a / "best")):  # a run directory (its best weights) or a weights directory
        w, added = initial_weights(init, ncfg)
        assert added == () and set(w) == set(best) and all(np.array_equal(w[k].numpy(), best[k]) for k in w)
    # with a learning rate of 0 training leaves the initial weights as they are (AdamW's decay is lr-scaled)
    frozen = train(load_config(None, data=str(walk_folder), **{**TINY, "lr": 0.0, "init": str(a)}), tmp_path / "b")
    assert all(np.array_equal(_weights(frozen)[k], best[k]) for k in best)
    # and a network that does not fit is one clear error naming what differs
    bigger = load_config(None, data=str(walk_folder), **{**TINY, "params": {"blocks": 3}, "init": str(a)})
    with pytest.raises(ValueRangeError, match="do not fit the network.*params"):
        train(bigger, tmp_path / "c")
    with pytest.raises(ValueRangeError, match="neither a run"):
        train(load_config(None, data=str(walk_folder), **{**TINY, "init": str(tmp_path / "nowhere")}), tmp_path / "d")
    # parameters that only shape training (dropout, input noise, rollout loss) may differ from the init's
    for extra in ({"dropout": 0.3}, {"input_noise": 0.01, "rollout_frames": 4, "rollout_weight": 0.5}):
        other = NeuralForecaster.load(a / "best").config.model_copy(update={"params": {"blocks": 2, **extra}})
        w, _ = initial_weights(str(a), other)
        assert all(np.array_equal(w[k].numpy(), best[k]) for k in w)


def test_shipped_two_stage_configs_chain():
    from posecast.errors import ModelError
    from posecast.models.learned import default_config_path

    pre = load_config(default_config_path("dct-mlp", "cmu-mocap+bvh"))
    fine = load_config(default_config_path("dct-mlp", "cmu-mocap"))
    assert pre.data == "cmu-mocap+bvh" and fine.data == "cmu-mocap" and fine.init is None
    # the second stage fine-tunes the first: the same network, so `--init PRE_RUN` fits
    assert (pre.net, pre.params, pre.joints, pre.history, pre.frames_per_pass) == (
        fine.net,
        fine.params,
        fine.joints,
        fine.history,
        fine.frames_per_pass,
    )
    with pytest.raises(ModelError, match="no default training config for 'traj-gcn' on 'cmu-mocap\\+bvh'"):
        default_config_path("traj-gcn", "cmu-mocap+bvh")
    # lift+forecast's forecaster: the corpus on body-17 (`--data corpus:body-17` finds its config), then the same
    # network on lifted histories from that run
    from posecast.training.entry import default_config, plugin_for

    motion = plugin_for("dct-mlp")
    assert default_config("dct-mlp", motion, "corpus:body-17") == default_config_path("dct-mlp", "corpus-body-17")
    assert default_config("dct-mlp", motion, "corpus:body-17,-cmu_mocap/").name == "corpus-body-17.yaml"
    assert default_config("dct-mlp", motion, "corpus:-cmu_mocap/").name == "corpus.yaml"
    clean = load_config(default_config_path("dct-mlp", "corpus-body-17"))
    lifted = load_config(default_config_path("dct-mlp", "lifted-body-17"))
    assert clean.data == lifted.data == "corpus:body-17" and clean.lifted_history is None
    assert lifted.lifted_history == "lifter" and lifted.init == "runs/dct-mlp-corpus-body-17"
    assert (clean.net, clean.params, clean.history, clean.frames_per_pass) == (
        lifted.net,
        lifted.params,
        lifted.history,
        lifted.frames_per_pass,
    )
    # the st-transformer corpus weights: stage 2 continues stage 1's network with a rollout loss
    from posecast.training.motion import TRAINING_ONLY_PARAMS

    folder = Path(posecast.__file__).parent / "configs" / "st-transformer"
    one, two = load_config(folder / "corpus.yaml"), load_config(folder / "corpus-stage2.yaml")
    assert (one.data, two.data, two.init) == ("corpus", "corpus", None)
    assert {k: v for k, v in two.params.items() if k not in TRAINING_ONLY_PARAMS} == {
        k: v for k, v in one.params.items() if k not in TRAINING_ONLY_PARAMS
    }
    assert (two.params["rollout_frames"], two.params["rollout_weight"]) == (
        35,
        0.5,
    ) and "rollout_frames" not in one.params
    assert (one.history, one.frames_per_pass, one.keep_bones) == (two.history, two.frames_per_pass, two.keep_bones)


def test_fine_tuning_keeps_the_init_weights_inference_settings(walk_folder, tmp_path):
    """QA: fine-tuning the default model's weights (mirror-averaged, bones kept: chosen on validation for them) gave
    weights without those settings, without a word. A run from ``init`` takes ``mirror_average`` from the init
    weights, and ``keep_bones`` / ``bones_fed_back`` unless its config sets ``keep_bones`` itself; run.json says so."""
    a = train(load_config(None, data=str(walk_folder), **{**TINY, "epochs": 1, "keep_bones": True}), tmp_path / "a")
    meta_path = a / "best" / "config.json"
    meta = json.loads(meta_path.read_text())
    meta["config"].update(mirror_average=True, bones_fed_back=False)  # as the shipped dct-mlp/corpus weights
    meta_path.write_text(json.dumps(meta))
    b = train(load_config(None, data=str(walk_folder), **{**TINY, "epochs": 1, "init": str(a)}), tmp_path / "b")
    got = NeuralForecaster.load(b / "best").config
    assert (got.mirror_average, got.keep_bones, got.bones_fed_back) == (True, True, False)
    run = json.loads((b / "run.json").read_text())
    assert run["inherited_from_init"] == {"mirror_average": True, "keep_bones": True, "bones_fed_back": False}
    own = {**TINY, "epochs": 1, "init": str(a), "keep_bones": False}  # the config's own keep_bones wins
    c = NeuralForecaster.load(train(load_config(None, data=str(walk_folder), **own), tmp_path / "c") / "best").config
    assert (c.mirror_average, c.keep_bones, c.bones_fed_back) == (True, False, True)


def test_distillation_mixes_truth_and_teacher_losses(walk_folder, tmp_path):
    import torch

    from posecast.errors import ValueRangeError
    from posecast.training.motion import default_loss, load_teacher

    a = train(load_config(None, data=str(walk_folder), **TINY), tmp_path / "a", resume=False)
    student = NeuralForecaster.load(a / "best")
    teacher = load_teacher(str(a), student.config)
    walk = torch.as_tensor(posecast.load(walk_folder / "walk1.npz").positions, dtype=torch.float32)
    batch = torch.stack([walk[i : i + 14] for i in range(0, 40, 5)])  # (8, 14, 31, 3): 8 observed + 6 future
    cfg = load_config(None, data=str(walk_folder), **{**TINY, "velocity_loss": 1.0})
    with torch.no_grad():
        truth = float(default_loss(student, batch, cfg))
        mixed = {
            w: float(default_loss(student, batch, cfg.model_copy(update={"teacher_weight": w}), teacher))
            for w in (0.0, 0.5, 1.0)
        }
    assert truth > 1e-3 and mixed[0.0] == pytest.approx(truth)
    assert mixed[1.0] < 1e-6  # a teacher with the student's own weights forecasts exactly what it does
    assert mixed[0.5] == pytest.approx(0.5 * truth + 0.5 * mixed[1.0], rel=1e-5)

    # a run with a teacher trains, and records it
    b = train(load_config(None, data=str(walk_folder), **{**TINY, "teacher": str(a)}), tmp_path / "b")
    assert json.loads((b / "run.json").read_text())["config"]["teacher"] == str(a)
    other = load_config(None, data=str(walk_folder), **{**TINY, "frames_per_pass": 4, "teacher": str(a)})
    with pytest.raises(ValueRangeError, match="teacher does not fit.*frames_per_pass"):
        train(other, tmp_path / "c")
    assert not (tmp_path / "c").exists()  # refused before anything is written
    st = {**TINY, "model": "st-transformer", "net": "st-transformer", "frames_per_pass": 1, "target_frames": 3}
    with pytest.raises(ValueRangeError, match="loss of its own"):
        train(load_config(None, data=str(walk_folder), **{**st, "params": {}, "teacher": str(a)}), tmp_path / "d")


def test_stop_step_then_resume_equals_an_uninterrupted_run(walk_folder, tmp_path):
    """``stop_step`` stops in the middle of an epoch with the schedule of the full run; resuming replays
    the epoch's data order and ends with the weights of an uninterrupted run."""
    cfg = load_config(None, data=str(walk_folder), **TINY)
    a = train(cfg, tmp_path / "a", resume=False)
    b = train(cfg.model_copy(update={"stop_step": 3}), tmp_path / "b", resume=False)
    first = [json.loads(x) for x in (b / "metrics.jsonl").read_text().splitlines()]
    assert len(first) == 1 and first[0]["stopped"] == "stop_step"
    assert json.loads((b / "run.json").read_text())["steps"] == 3
    train(cfg, b, resume=True)
    wa, wb = _weights(a), _weights(b)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    rows = [json.loads(x) for x in (b / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 1, 2]
    ref = [json.loads(x) for x in (a / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["val_mpjpe_mm"] == pytest.approx(ref[-1]["val_mpjpe_mm"], rel=1e-9)
    # the wall-time cap stops the same way (here: after the first step)
    c = train(cfg.model_copy(update={"max_minutes": 1e-9}), tmp_path / "c", resume=False)
    assert json.loads((c / "run.json").read_text())["steps"] == 1
    assert json.loads((c / "metrics.jsonl").read_text())["stopped"] == "max_minutes"


def test_schedule_is_one_function():
    from posecast.training import lr_factor

    assert [lr_factor(s, 4, 10) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(4, 4, 10) == 1.0 and lr_factor(10, 4, 10) == pytest.approx(0.01) == lr_factor(99, 4, 10)
    assert lr_factor(7, 4, 10) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.5)) * 0.99 + 0.01)
    assert lr_factor(50, 4, 10, decay="constant") == 1.0 and lr_factor(10, 0, 10, floor=0.0) == pytest.approx(0.0)
    # with a wall-time budget the cosine follows whichever of steps and time is further along
    assert lr_factor(5, 4, 1000, time_fraction=0.5) == pytest.approx(0.5 * 0.99 + 0.01)
    assert lr_factor(7, 4, 10, time_fraction=0.1) == lr_factor(7, 4, 10)  # steps further along
    assert lr_factor(5, 4, 1000, time_fraction=3.0) == pytest.approx(0.01)  # past the budget: the floor
    assert lr_factor(2, 4, 1000, time_fraction=0.9) == 0.75  # the warm-up is by steps alone
    assert lr_factor(50, 4, 10, decay="constant", time_fraction=0.9) == 1.0


def test_a_run_is_not_resumed_on_other_data_or_another_network(walk_folder, tmp_path):
    """QA: `posecast train --out RUN` on other data went on from RUN's checkpoint without a word (and rewrote its
    run.json), on another rig it failed with kilobytes of tensor sizes: both refused in one line before anything
    is written."""
    from posecast.errors import ValueRangeError

    cfg = load_config(None, data=str(walk_folder), **{**TINY, "epochs": 1})
    run = train(cfg, tmp_path / "run", resume=False)
    before = (run / "run.json").read_text()
    other = tmp_path / "other"
    other.mkdir()
    posecast.save(synthetic_walk(seconds=4.0, fps=25.0, speed=0.7), other / "walk.npz")
    with pytest.raises(ValueRangeError, match=r"cannot resume the run here: it was started on other data .*no-resume"):
        train(cfg.model_copy(update={"data": str(other), "epochs": 2}), run, resume=True)
    with pytest.raises(ValueRangeError, match=r"it trains another network \(params: .*blocks.* -> .*--no-resume"):
        train(cfg.model_copy(update={"params": {"blocks": 3}, "epochs": 2}), run, resume=True)
    assert (run / "run.json").read_text() == before
    train(cfg.model_copy(update={"epochs": 2}), run, resume=True)  # the same run, longer: resumes
    assert json.loads((run / "run.json").read_text())["resumed_at_step"] > 0


def test_device_option(walk_folder, tmp_path, monkeypatch):
    """``device``: cpu by default; auto trains on the CPU where no GPU is visible (recorded in run.json);
    cuda without a GPU is one clear error before any training."""
    import torch

    from posecast.errors import ValueRangeError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = load_config(None, data=str(walk_folder), **{**TINY, "epochs": 1, "max_steps_per_epoch": 1})
    assert cfg.device == "cpu"
    run = train(cfg.model_copy(update={"device": "auto"}), tmp_path / "a", resume=False)
    info = json.loads((run / "run.json").read_text())
    assert info["config"]["device"] == "auto" and info["machine"]["gpu"] is None
    with pytest.raises(ValueRangeError, match="no GPU"):
        train(cfg.model_copy(update={"device": "cuda"}), tmp_path / "b", resume=False)
    assert not (tmp_path / "b" / "run.json").exists()
    with pytest.raises(ValueRangeError, match="device"):
        load_config(None, data=str(walk_folder), **{**TINY, "device": "tpu"})


# ------------------------------------------------------------------------- one entry: posecast train
def _cli(*args: str):
    from typer.testing import CliRunner

    from posecast.cli.app import app

    return CliRunner().invoke(app, ["train", *args])


def _check_run(out: Path, model: str, kind: str) -> dict:
    run = json.loads((out / "run.json").read_text())
    assert run["model"] == model and run["kind"] == kind and run["config"] and run["machine"]["torch"]
    assert run["command"].startswith(f"posecast train --model {model} --config src/posecast/configs/{model}/")
    assert run["data"] and (out / "metrics.jsonl").read_text().strip()
    assert (out / "last" / "model.safetensors").is_file() and (out / "train_state.pt").is_file()
    assert posecast.models.get(model, weights=out) is not None  # the registry loads the run
    return run


@pytest.fixture(scope="module")
def long_walks(tmp_path_factory) -> Path:
    """Motions long enough for the video models' validation carve (the last tenth, at least 50 frames)."""
    folder = tmp_path_factory.mktemp("long")
    for i, speed in enumerate((1.0, 1.4)):
        posecast.save(synthetic_walk(seconds=24.0, fps=25.0, speed=speed), folder / f"walk{i}.npz")
    return folder


def test_train_dispatches_motion_and_rotation_models(walk_folder, tmp_path):
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "dct"
    r = _cli(
        "--model", "dct-mlp", "--data", str(walk_folder), "--config", str(cfg_path), "--epochs", "1", "--out", str(out)
    )
    assert r.exit_code == 0, r.output
    assert "epoch 1/1" in r.output
    run = _check_run(out, "dct-mlp", "motion")
    assert run["windows"]["train"] > 0 and (out / "best").is_dir()

    from test_models_nets import _fake_benchmark

    bench = _fake_benchmark(tmp_path / "bench")
    out = tmp_path / "rot"
    small = ["--set", "params={d_model: 8, heads: 2, layers: 1, ff: 16}", "--set", "val_fraction=0.25"]
    args = ["--model", "st-transformer-rot", "--data", str(bench), "--epochs", "1", "--max-steps-per-epoch", "2"]
    r = _cli(*args, "--batch-size", "8", "--threads", "1", *small, "--out", str(out))
    assert r.exit_code == 0, r.output
    run = _check_run(out, "st-transformer-rot", "rotation")
    assert run["network"]["net"] == "st-transformer-rot" and run["network"]["params"]["d_model"] == 8


def test_a_folder_with_notes_a_short_take_and_a_run_inside_it_trains_and_says_so(walk_folder, tmp_path):
    """QA: a notes.txt in a folder of takes stopped `posecast train` (`bench files` skips it), a run written into its
    own data folder broke the next run there (its config.json read as a motion), and takes too short for one
    training window were dropped without a word. Now: .txt / .json files that are not motion are skipped and named,
    and the takes too short are named (run.json and a note)."""
    import shutil

    takes = tmp_path / "takes"
    shutil.copytree(walk_folder, takes)
    (takes / "notes.txt").write_text("session 3, actor B\n")
    posecast.save(synthetic_walk(seconds=0.4, fps=25.0), takes / "short.npz")  # 10 frames: under one window (14)
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump({**TINY, "epochs": 1}))
    for i in range(2):  # the second run reads the first one's files (config.json...) inside the folder
        r = _cli("--model", "dct-mlp", "--data", str(takes), "--config", str(cfg_path), "--out", str(takes / f"run{i}"))
        assert r.exit_code == 0, r.output
        run = json.loads((takes / f"run{i}" / "run.json").read_text())
        assert sorted(run["data"]["frames"]) == ["short.npz", "walk0.npz", "walk1.npz", "walk2.npz"]
        assert run["data"]["too_short"] == {"frames_needed": 14, "seconds": 0.56, "files": ["short.npz"]}
        assert "1 of 4 files are shorter than one training window (14 frames, 0.56 s)" in r.output
        assert "notes.txt (" in r.output and any(x.startswith("notes.txt (") for x in run["data"]["skipped"])
    assert any(x.startswith("run0/best/config.json (") for x in run["data"]["skipped"])
    (takes / "broken.bvh").write_text("HIERARCHY\n")  # a motion format that does not read: still an error
    with pytest.raises(posecast.errors.DataNotFoundError, match=r"1 of \d+ motion files cannot be read.*broken\.bvh"):
        posecast.training.run("dct-mlp", tmp_path / "x", cfg_path, data=str(takes))


def test_train_dispatches_video_models(long_walks, tmp_path):
    out = tmp_path / "phd"
    small = ["--set", "network.channels=8", "--set", "network.hidden=8", "--set", "network.blocks=1"]
    args = ["--model", "phd", "--data", str(long_walks), "--steps", "3", "--val-every", "2", "--batch-size", "2"]
    r = _cli(*args, "--length", "30", "--max-minutes", "0", *small, "--out", str(out))
    assert r.exit_code == 0, r.output
    run = _check_run(out, "phd", "video")
    assert run["steps"] == 3 and run["model_config"]["channels"] == 8 and not (out / "best").exists()
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in rows] == [2, 3] and "val_past_mm" in rows[0]
    assert "--steps 3" in run["command"] and "--set network.channels=8" in run["command"]
    # the shipped config: test subjects never read; a stop step keeps the full run's schedule
    assert run["data"]["val"]["validation"].startswith("the last 0.1 of every training sequence")


def test_train_dispatches_keypose_and_classifier_models(walk_folder, tmp_path):
    from test_charpose import tiny

    cfg = {"network": tiny().model_dump(), "starts_per_key": 2, "batch_size": 4, "warmup_steps": 0}
    cfg_path = tmp_path / "charpose.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "charpose"
    args = ["--model", "charpose", "--config", str(cfg_path), "--data", str(walk_folder), "--epochs", "1"]
    r = _cli(*args, "--max-steps-per-epoch", "1", "--out", str(out))
    assert r.exit_code == 0, r.output
    run = _check_run(out, "charpose", "keypose")
    assert run["data"]["train_pairs"] > 0

    # a CMU-BVH-like folder: INDEX.csv with descriptions, training subject 01, test subject 02
    root = tmp_path / "bvh"
    rows = [("01/01_01.bvh", "walk", 1.0), ("01/01_02.bvh", "dance", 0.3), ("02/02_01.bvh", "walk", 1.2)]
    for rel, _, speed in rows:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        posecast.save(synthetic_walk(seconds=2.0, fps=25.0, speed=speed), root / rel)
    (root / "INDEX.csv").write_text("file,description\n" + "".join(f"{f},{d}\n" for f, d, _ in rows))
    out = tmp_path / "cls"
    r = _cli(
        "--model", "keypose-classifier", "--data", str(root), "--epochs", "2", "--batch-size", "16", "--out", str(out)
    )
    assert r.exit_code == 0, r.output
    run = _check_run(out, "keypose-classifier", "classifier")
    assert run["data"]["class_counts"]["dance"] > 0 and 0 <= run["accuracy"]["test_accuracy"] <= 1
    facts = json.loads((out / "last" / "config.json").read_text())["training"]
    assert facts["test_files"] == ["02/02_01.bvh"] and set(facts["files_sha256"]) == {"01/01_01.bvh", "01/01_02.bvh"}


@pytest.mark.parametrize(
    ("model", "option", "value"),
    [
        ("phd", "epochs", 3),
        ("dct-mlp", "steps", 10),
        ("charpose", "teacher", "dct-mlp"),
        ("st-transformer-rot", "init", "runs/x"),
        ("keypose-classifier", "length", 20),
    ],
)
def test_an_option_of_another_kind_is_refused_before_anything(model, option, value, tmp_path, monkeypatch):
    from posecast.datasets import training_data
    from posecast.errors import ValueRangeError
    from posecast.training import run

    def no_data(*a, **k):  # pragma: no cover - reached only if the refusal came too late
        raise AssertionError("data loaded")

    monkeypatch.setattr(training_data, "load_training_data", no_data)
    with pytest.raises(ValueRangeError, match=f"--{option.replace('_', '-')} does not apply to {model}"):
        run(model, tmp_path / "out", **{option: value})
    assert not (tmp_path / "out").exists()


def test_refusals_are_one_line_with_exit_code_2(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "posecast", "train", "--model", "phd", "--epochs", "3", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "--epochs does not apply to phd (video training" in r.stderr and not out.exists()
    with pytest.raises(posecast.PosecastError, match="learns nothing"):
        posecast.training.run("zero-velocity", tmp_path / "z")
    with pytest.raises(posecast.PosecastError, match="trains 'dct-mlp', not 'traj-gcn'"):
        cfg = Path(posecast.__file__).parent / "configs" / "dct-mlp" / "cmu-mocap.yaml"
        posecast.training.run("traj-gcn", tmp_path / "t", config=cfg)
    with pytest.raises(posecast.PosecastError, match="invalid video training config.*network"):
        posecast.training.run("hmmr", tmp_path / "h", settings=["network.bogus=1"])
    assert not (tmp_path / "z").exists() and not (tmp_path / "t").exists() and not (tmp_path / "h").exists()
    for bad in ("nan", "inf"):  # not a number: said so, not "should be >= 0"
        with pytest.raises(posecast.PosecastError, match=f"lr = '{bad}' .*: Input should be a finite number"):
            posecast.training.run("dct-mlp", tmp_path / "n", settings=[f"lr={bad}"])
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    ("schema", "old", "new"),
    [
        ("motion", "horizon", "`frames_per_pass` (frames per network pass)"),
        ("motion", "target_horizon", "`target_frames` (frames scored per window)"),
        ("rotation", "horizon", "`frames_per_pass` (frames per network pass)"),
        ("rotation", "target_horizon", "`target_frames` (frames rolled out in validation)"),
    ],
)
def test_a_config_with_a_renamed_key_is_one_line_naming_the_new_key(schema, old, new, tmp_path):
    """``horizon`` / ``target_horizon`` (frames, not a duration) were renamed; a YAML file, a ``--set`` or a
    keyword that still uses the old key gets one line naming the new one, without pydantic's dump."""
    import importlib

    from pydantic import ValidationError

    from posecast.errors import ValueRangeError

    module = importlib.import_module(f"posecast.training.{schema}")
    path = tmp_path / "old.yaml"
    path.write_text(f"model: st-transformer-rot\nnet: st-transformer-rot\nhistory: 8\n{old}: 1\n")
    for kw in ({"path": path}, {"path": None, "settings": (f"{old}=1",)}, {"path": None, old: 1}):
        with pytest.raises(ValueRangeError) as err:
            module.load_config(**kw)
        message = str(err.value)
        assert message.count("\n") == 0 and f"`{old}` is now {new}" in message and "input_value" not in message
    with pytest.raises(ValidationError, match=f"`{old}` is now"):  # the schema itself, used directly
        (module.TrainConfig if schema == "motion" else module.RotationTrainConfig)(model="m", net="n", **{old: 1})


def test_every_shipped_config_loads_and_reproduces_itself():
    """Every ``configs/<model>/*.yaml`` loads into its kind's schema, and the reproduce command of the
    config it gives is that file itself (the video configs of all three models share one layout)."""
    from posecast.training.entry import config_files, load, plugin_for, reproduce_command

    seen = set()
    for folder in sorted((Path(posecast.__file__).parent / "configs").iterdir()):
        for path in config_files(folder.name):
            plugin = plugin_for(folder.name)
            cfg = load(folder.name, plugin, path)
            seen.add(plugin.kind)
            rel = f"src/posecast/configs/{folder.name}/{path.name}"
            assert (
                reproduce_command(folder.name, cfg) == f"posecast train --model {folder.name} --config {rel} --out RUN"
            )
    assert seen == {"motion", "rotation", "video", "keypose", "classifier"}
    hmmr = load("hmmr", plugin_for("hmmr"), Path(posecast.__file__).parent / "configs" / "hmmr" / "cmu-bvh.yaml")
    assert hmmr.steps == 900 and hmmr.length == 29 and hmmr.network["feature"] == 128
    cmd = reproduce_command("hmmr", hmmr.model_copy(update={"stop_step": 752, "max_minutes": None}))
    assert cmd.endswith("--out RUN --set max_minutes=null --stop-step 752")


def test_token_st_transformer_trains_and_keeps_bones(walk_folder, tmp_path):
    """An ST-Transformer on tokens of 5 frames with a context longer than its history trains end to end;
    ``keep_bones`` in the training config reaches the weights' config, so its forecasts keep the last
    observed bone lengths."""
    from posecast.models import store
    from posecast.synthetic import synthetic_walk

    params = {
        "d_model": 8,
        "heads": 2,
        "layers": 1,
        "ff": 8,
        "context": 15,
        "rollout_refresh": 2,
        "velocity_decay": 0.9,
    }
    cfg = {**TINY, "model": "st-transformer", "net": "st-transformer", "history": 10, "frames_per_pass": 5}
    cfg.update(target_frames=10, params=params, keep_bones=True, epochs=1)
    out = train(load_config(None, data=str(walk_folder), **cfg), tmp_path / "st")
    config = store.read_config(out / "best")["config"]
    assert config["keep_bones"] is True and config["frames_per_pass"] == 5 and config["params"]["context"] == 15
    model = posecast.models.get("st-transformer", weights=out)
    walk = synthetic_walk(seconds=2.0, fps=25.0)
    pred = model.predict(walk.positions[None], 12)[0, 0]  # (12, J, 3)
    parents = walk.skeleton.parents
    bones = [j for j in range(1, len(parents)) if parents[j] >= 0]
    want = np.linalg.norm(walk.positions[-1, bones] - walk.positions[-1, [parents[j] for j in bones]], axis=-1)
    got = np.linalg.norm(pred[:, bones] - pred[:, [parents[j] for j in bones]], axis=-1)
    np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), atol=1e-5)
    # a run may switch the learned linear base on over these weights: every other weight starts from them,
    # the base from its own initialisation (the last step's velocity damped by velocity_decay)
    from posecast.errors import ValueRangeError
    from posecast.training.motion import initial_weights

    start = _weights(out, "best")
    linear = {**cfg, "params": {**params, "linear_base": True, "clean_base": True}, "lr": 0.0, "init": str(out)}
    fine = train(load_config(None, data=str(walk_folder), **linear), tmp_path / "st-linear")
    tuned = _weights(fine)
    assert set(tuned) == set(start) | {"base.weight", "base.bias"}
    assert all(np.array_equal(tuned[k], start[k]) for k in start)
    gain = 0.9 * (1 - 0.9 ** np.arange(1, 6)) / 0.1
    np.testing.assert_allclose(tuned["base.weight"][:, 3], -gain, rtol=1e-6)
    assert np.count_nonzero(tuned["base.weight"][:, [0, 1, 2, 4]]) == 0
    # the other way round (weights with a part the network does not have) is refused
    ncfg = NeuralForecaster.load(out / "best").config
    _, added = initial_weights(str(fine), ncfg.model_copy(update={"params": {**params, "linear_base": True}}))
    assert added == ()
    with pytest.raises(ValueRangeError, match="do not fit the network"):
        train(load_config(None, data=str(walk_folder), **{**cfg, "init": str(fine)}), tmp_path / "st-back")
    # the rollout's projection prior (params.project_prior): fitted on the training poses at the start of a
    # run, stored with the weights (in full precision), the network left as it was at learning rate 0
    from posecast.models.pose_prior import pose_features
    from posecast.training.motion import fit_pose_prior

    longer = tmp_path / "longer"  # enough poses for a mixture over 29 joints (every 5th frame is fitted)
    longer.mkdir()
    walks = [synthetic_walk(seconds=12.0, fps=25.0, speed=1.0 + 0.3 * i).positions for i in range(3)]
    for i, w in enumerate(walks):
        posecast.save(posecast.Motion(w, 25.0, walk.skeleton), longer / f"w{i}.npz")
    proj = {**params, "project_prior": 0.9, "project_components": 1, "project_after": 0.4}
    attach = {**cfg, "params": proj, "lr": 0.0, "init": str(out), "stop_step": 1}
    run = train(load_config(None, data=str(longer), **attach), tmp_path / "st-proj")
    stored = _weights(run, "best")
    assert all(np.array_equal(stored[k], start[k]) for k in start)
    assert stored["pose_prior.chol"].dtype == np.float64 and stored["pose_prior.means"].shape[0] == 1
    model = NeuralForecaster.load(run / "best")
    prior = model.net.pose_prior
    assert model.net.project_from == 2  # tokens: 0.4 s at 25 fps in tokens of 5 frames
    nll = prior.nll(pose_features(torch.as_tensor(np.concatenate(walks)), *prior.joints))
    assert 0.8 < float((nll <= prior.threshold).double().mean()) < 1.0  # about the 0.9 quantile (validation out)
    torch.testing.assert_close(
        prior.means, fit_pose_prior(walks, walk.skeleton, components=1, quantile=0.9).means, atol=0.05, rtol=0
    )
    # the short-term read-out (params.short_frames, short_ridge): fitted by ridge regression on the frozen network
    # at learning rate 0, stored with it; the rest of the weights unchanged; refused where it would go stale
    short = {**params, "short_frames": 5, "short_context": 4, "short_ridge": 1e-3}
    fitted = train(load_config(None, data=str(longer), **{**attach, "params": short}), tmp_path / "st-short")
    stored = _weights(fitted, "best")
    assert all(np.array_equal(stored[k], start[k]) for k in start)
    assert stored["short_head.weight"].shape == (5 * 31 * 3, 31 * 8 + 3 * 31 * 3) and stored["short_head.weight"].any()
    run_info = json.loads((fitted / "run.json").read_text())
    assert run_info["short_head_fit"]["windows"] > 0 and 0 < run_info["short_head_fit"]["train_rms_m"] < 0.05
    assert NeuralForecaster.load(fitted / "best").net.short_frames == 5
    # refused where the read-out would go stale (trained on) or stay zero (never fitted)
    for bad in (
        {"params": short, "lr": 1e-3},
        {"params": {**short, "short_ridge": None}},
        {"params": {**params, "short_ridge": 1e-3}},
    ):
        with pytest.raises(ValueRangeError, match="short_frames / short_ridge"):
            train(load_config(None, data=str(longer), **{**attach, **bad}), tmp_path / "st-bad")
    # training on from weights with a read-out drops it (the network it was fitted on changes)
    on = train(load_config(None, data=str(longer), **{**cfg, "params": params, "init": str(fitted)}), tmp_path / "on")
    assert not any(k.startswith("short_head.") for k in _weights(on, "best"))


def test_a_folder_of_the_users_own_rig_trains_on_the_canonical_body(tmp_path):
    """Files on a rig no registry knows (here a renamed copy of the synthetic walker, z up) are mapped onto the
    canonical body and turned upright; the trained weights then forecast on that rig."""
    import dataclasses

    from posecast.motion import Motion

    folder = tmp_path / "mine"
    folder.mkdir()
    z_up = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # y up -> z up
    for i, speed in enumerate((1.0, 1.3, 1.6)):
        w = synthetic_walk(seconds=5.0, fps=25.0, speed=speed)
        rig = dataclasses.replace(w.skeleton, name="my-rig")
        posecast.save(Motion(w.positions @ z_up.T, 25.0, rig), folder / f"take{i}.npz")
    (folder / "notes.asf").write_text(":version 1.10\n")  # an ASF beside the takes is no motion: skipped
    cfg = {**TINY, "history": 10, "frames_per_pass": 5, "epochs": 1}
    out = train(load_config(None, data=str(folder), **cfg), tmp_path / "run")
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["mapped_to"] == "smplh-22" and run["network"]["skeleton"] == "smplh-22"
    model = posecast.models.get("dct-mlp", weights=out)
    take = posecast.load(folder / "take0.npz")
    fc = model.forecast(take, seconds=0.4)
    assert fc.samples.shape == (1, 10, take.num_joints, 3) and np.isfinite(fc.samples).all()
    from posecast.datasets.training_data import canonical_upright

    up = canonical_upright(take, folder / "take0.npz")
    names = posecast.skeletons.get("smplh-22").joint_names
    height = up[:, names.index("head"), 1] - up[:, names.index("pelvis"), 1]
    assert (height > 0.4).all()  # upright: the head above the pelvis along +y after the turn


def test_a_run_without_validation_windows_says_its_best_round_was_chosen_on_the_training_loss(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    posecast.save(synthetic_walk(seconds=2.0, fps=25.0), folder / "walk.npz")  # too short to carve validation
    cfg = {**TINY, "epochs": 1}
    out = train(load_config(None, data=str(folder), **cfg), tmp_path / "run")
    run = json.loads((out / "run.json").read_text())
    assert run["windows"]["val"] == 0
    assert run["best_val"] is None and run["best_chosen_on"].startswith("train_loss")
    again = train(load_config(None, data=str(folder), **cfg), tmp_path / "run")  # resumed: nothing left to do
    assert json.loads((again / "run.json").read_text())["best_val"] is None


def test_a_folder_with_unreadable_files_names_them_all_at_once(walk_folder, tmp_path):
    """Training on a folder of takes: every file that cannot be read is named with its problem in one error,
    not the first one only."""
    import shutil

    from posecast.datasets.training_data import folder_motions
    from posecast.errors import DataNotFoundError

    folder = tmp_path / "takes"
    shutil.copytree(walk_folder, folder)
    (folder / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "empty.npz").write_bytes(b"")
    with pytest.raises(DataNotFoundError) as exc:
        folder_motions(folder, None)
    msg = str(exc.value)
    assert "2 of 5 motion files cannot be read" in msg and "broken.bvh" in msg and "empty.npz" in msg
    assert "reading options" not in msg  # (the advice is for files that need reading options)
    # a bare .npy take is told "pass skeleton= and fps= (CLI: --skeleton, --fps)", which apply to the whole folder
    npy = tmp_path / "npy"
    npy.mkdir()
    np.save(npy / "take.npy", posecast.load(walk_folder / "walk0.npz").positions)
    with pytest.raises(DataNotFoundError, match=r"take\.npy.*reading options .* apply to every file of the folder"):
        folder_motions(npy, None)


def test_folder_takes_place_each_take_as_the_plugins_ask(walk_folder, tmp_path, monkeypatch):
    """The one reader of training folders (`FolderTakes`: the motion, video and key-pose plug-ins): takes on their own
    registered layout or on the canonical body, both standing along +y; what a run records; the joint mapping's file
    read once however often the run asks for it; files that need reading options told so by the error's type."""
    import shutil

    from posecast.datasets.training_data import FolderTakes, ReadOptions
    from posecast.errors import FormatError, NeedsReadingOptions, UnitsNeeded, ValueRangeError
    from posecast.skeletons import canonical

    folder = tmp_path / "takes"
    shutil.copytree(walk_folder, folder)
    (folder / "notes.txt").write_text("session notes\n")
    takes = FolderTakes.read(folder, None)
    assert len(takes.motions) == len(takes.paths) == 3 and takes.one_registered_layout()
    assert takes.record() == {"skipped": ["notes.txt (" + takes.skipped[0].split(" (", 1)[1]]}
    own, can = takes.placed(canonical=False), takes.placed(canonical=True)
    np.testing.assert_allclose(own[0].positions, takes.motions[0].positions, atol=1e-9)  # already upright: unchanged
    assert {m.skeleton.name for m in can} == {"smplh-22"} and can[0].num_frames == takes.motions[0].num_frames
    names = can[0].skeleton.joint_names
    assert (can[0].positions[:, names.index("head"), 1] > can[0].positions[:, names.index("pelvis"), 1]).all()
    mixed = takes.placed(canonical=[True, False, True])
    assert [m.skeleton.name for m in mixed] == ["smplh-22", takes.motions[1].skeleton.name, "smplh-22"]

    table = tmp_path / "map.yaml"
    table.write_text("up: y\n")
    reads = []
    real = canonical.load_mapping_file
    monkeypatch.setattr(canonical, "load_mapping_file", lambda f: reads.append(f) or real(f))
    mapped = FolderTakes.read(folder, None, ReadOptions(mapping=str(table)))
    assert not mapped.one_registered_layout()  # a joint mapping puts every take on the canonical body
    assert mapped.record()["reading"]["mapping_table"] == {"up": "+y"}
    mapped.placed(canonical=True)
    assert mapped.mapping == {"up": "+y"} and len(reads) == 1  # checked, recorded, used: read once
    mapped.reading.mapping = str(tmp_path / "other.yaml")
    (tmp_path / "other.yaml").write_text("up: z\n")
    assert mapped.mapping == {"up": "+z"} and len(reads) == 2  # another file: read again

    # the readers' errors say when a reading option would read the file (the folder's advice keys on the type)
    bare = tmp_path / "take.npy"
    np.save(bare, takes.motions[0].positions)
    with pytest.raises(NeedsReadingOptions, match="--skeleton, --fps"):
        posecast.load(bare)
    np.save(bare, 1000.0 * takes.motions[0].positions)  # millimetres
    with pytest.raises(UnitsNeeded) as exc:
        posecast.io.reading.load_motion(bare, skeleton=takes.motions[0].skeleton.name, fps=25.0)
    assert isinstance(exc.value, ValueRangeError) and "mm?" in str(exc.value)
    bvh = tmp_path / "rate.bvh"
    bvh.write_text(
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n"
        " End Site\n {\n  OFFSET 0 1 0\n }\n}\nMOTION\nFrames: 2\nFrame Time: 120\n0 0 0\n0 0 0\n"
    )
    with pytest.raises(NeedsReadingOptions, match="--fps"):
        posecast.load(bvh)
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    with pytest.raises(FormatError) as exc:
        posecast.load(tmp_path / "broken.bvh")
    assert not isinstance(exc.value, NeedsReadingOptions)


def test_train_reads_a_folder_with_the_reading_options_of_forecast(cli, walk_folder, tmp_path):
    """QA: `posecast train` had no reading options, so takes of plain numbers (or in cm, or z up) had to be saved as
    .npz first. Now --skeleton / --fps / --units / --up read every file of the folder as `posecast forecast` reads one:
    the run trains on the same metres and frames as the .npz takes give, and records how it read them."""
    from posecast.datasets.training_data import ReadOptions, load_training_data

    takes = [posecast.load(p) for p in sorted(walk_folder.glob("*.npz"))]
    folder = tmp_path / "npy"
    folder.mkdir()
    z_up = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # y up -> z up: (x, y, z) -> (x, -z, y)
    for i, take in enumerate(takes):
        np.save(folder / f"take{i}.npy", 100.0 * take.positions @ z_up.T)  # centimetres, z up, no header
    code, _, err = cli("train", "--model", "dct-mlp", "--data", str(folder), "--out", str(tmp_path / "bare"))
    assert code == 2 and "take0.npy" in err and "--skeleton" in err  # (no options: the reading options are named)
    common = ["--model", "dct-mlp", "--data", str(folder), "--epochs", "1", "--max-steps-per-epoch", "2"]
    common += ["--set", "history=8", "--set", "frames_per_pass=6", "--set", "params={blocks: 2}"]
    reading = ["--skeleton", takes[0].skeleton.name, "--fps", "25", "--units", "cm", "--up", "z"]
    out = tmp_path / "run"
    code, stdout, err = cli("train", *common, *reading, "--out", str(out))
    assert code == 0, err
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["reading"] == {"skeleton": takes[0].skeleton.name, "fps": 25.0, "units": "cm", "up": "z"}
    assert "mapped_to" not in run["data"]  # an up axis alone: the files' own (registered) layout, turned upright
    assert "--skeleton" in run["command"] and "--units cm" in run["command"] and "--up z" in run["command"]
    assert "already complete" not in stdout
    code, stdout, err = cli("train", *common, *reading, "--out", str(out))  # again: resumed, nothing left to do
    assert code == 0 and "was already complete: nothing was trained" in stdout, err
    # the same sequences as the .npz takes (y up, metres) give; the up axis is also found without --up
    direct = np.concatenate([t.positions for t in takes])
    for given in (run["data"]["reading"], {"skeleton": takes[0].skeleton.name, "fps": 25.0, "units": "cm"}):
        read = load_training_data(str(folder), 25.0, reading=ReadOptions(**given), min_frames=14)
        np.testing.assert_allclose(np.concatenate(read.train + read.val), direct, atol=1e-5)
    # a resume that would read the files otherwise is refused, naming what differs
    code, _, err = cli("train", *common, *reading[:2], "--fps", "50", *reading[4:], "--out", str(out))
    assert code == 2 and "other reading options (fps: 25.0 -> 50.0)" in err
    # reading options apply to folders only, and to the kinds that read folders of motions; checked once
    code, _, err = cli("train", "--model", "dct-mlp", "--data", "cmu-bvh", "--units", "cm", "--out", str(tmp_path))
    assert code == 2 and "reading options (--units) apply to a folder of motion files, not to 'cmu-bvh'" in err
    code, _, err = cli("train", "--model", "st-transformer-rot", "--up", "z", "--out", str(tmp_path / "y"))
    assert code == 2 and "--up does not apply to st-transformer-rot" in err
    for bad, says in [
        (["--skeleton", "no-such-rig"], "no-such-rig"),
        (["--fps", "-3"], "--fps -3: give a positive frame rate"),
        (["--units", "furlong"], "unknown units 'furlong'"),
        (["--asf", str(tmp_path / "none.asf")], "none.asf: no such ASF file"),
    ]:
        code, _, err = cli("train", *common, *bad, "--out", str(tmp_path / "z"))
        assert code == 2 and says in err and err.count(says) == 1, err
        assert not (tmp_path / "z").exists()  # nothing written
    # a key-pose config on its own layout cannot take a joint mapping (it maps onto the canonical body)
    table = tmp_path / "map.yaml"
    table.write_text("pelvis: hips\n")
    kp = ["--model", "charpose", "--data", str(folder), "--mapping", str(table)]
    code, _, err = cli("train", *kp, "--out", str(tmp_path / "kp"))
    assert code == 2 and "a joint mapping (--mapping) maps files onto the canonical body" in err
    assert not (tmp_path / "kp" / "run.json").exists()


def test_a_video_run_resumes_only_on_the_data_it_started_on(tmp_path, monkeypatch):
    """QA: video runs describe their data as {"train": ..., "val": ...}; a resume on another folder went on."""
    from posecast.training.loop import resume_mismatch

    before = {"data": {"train": {"source": "/a", "files": {"x.npz": "1"}, "reading": {"fps": 30.0}}, "val": "v"}}
    (tmp_path / "run.json").write_text(json.dumps(before))
    same = {"data": {"train": {"source": "/a", "files": {"x.npz": "1"}, "reading": {"fps": 30.0}}, "val": "v"}}
    assert resume_mismatch(tmp_path / "run.json", same) is None
    other = {"data": {"train": {"source": "/b", "files": {"y.npz": "2"}}, "val": "v"}}
    assert "other data source ('/a' then, '/b' now)" in resume_mismatch(tmp_path / "run.json", other)
    faster = {"data": {"train": {"source": "/a", "files": {"x.npz": "1"}, "reading": {"fps": 60.0}}, "val": "v"}}
    assert "other reading options (fps: 30.0 -> 60.0)" in resume_mismatch(tmp_path / "run.json", faster)
    # a folder named relative then (older runs), absolute now (`posecast train` records it so): the same data
    (tmp_path / "takes").mkdir()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps({"data": {"source": "takes", "files": {"x.npz": "1"}}}))
    now = {"data": {"source": str(tmp_path / "takes"), "files": {"x.npz": "1"}}}
    assert resume_mismatch(tmp_path / "run.json", now) is None


def test_standard_bones_trains_on_one_build_and_stores_it(walk_folder, tmp_path):
    """``standard_bones``: the run's sequences get the training sequences' median bone lengths, which the weights'
    config keeps (`NeuralConfig.standard_bones`), so the forecasts read that build and answer in the input's."""
    from posecast.kinematics.proportions import bone_lengths, standard_lengths
    from posecast.models import store

    cfg = load_config(None, data=str(walk_folder), **{**TINY, "keep_bones": True, "standard_bones": True})
    out = train(cfg, tmp_path / "std")
    stored = store.read_config(out / "best")["config"]["standard_bones"]
    walks = [posecast.load(p) for p in sorted(walk_folder.glob("*.npz"))]
    parents = walks[0].skeleton.parents
    # the three walks' bones (one body) at their medians; a 5th of the frames went to validation, same body
    np.testing.assert_allclose(stored, standard_lengths([w.positions for w in walks], parents), atol=1e-6)
    assert json.loads((out / "run.json").read_text())["data"]["standard_bones"].startswith("every sequence")
    model = NeuralForecaster.load(out / "best")
    big = walks[0].positions * 1.2  # a bigger person: forecast with the input's own bones
    pred = model.predict(big[None], 10)[0, 0]
    np.testing.assert_allclose(
        bone_lengths(pred, parents), np.broadcast_to(bone_lengths(big[-1], parents), (10, len(parents) - 1)), atol=1e-5
    )
