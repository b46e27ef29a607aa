"""Training: determinism, resume, data-parallel (2 processes), and the trained forecaster contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file

import posecast
from posecast.models.neural import NeuralForecaster
from posecast.synthetic import synthetic_walk
from posecast.training import load_config, train

TINY = {
    "model": "dct-mlp",
    "net": "dct-mlp",
    "history": 8,
    "horizon": 6,
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


def test_fine_tuning_starts_from_the_given_weights(walk_folder, tmp_path):
    from posecast.errors import ValueRangeError
    from posecast.training.loop import initial_weights

    cfg = load_config(None, data=str(walk_folder), **TINY)
    a = train(cfg, tmp_path / "a", resume=False)
    best = _weights(a, "best")
    ncfg = NeuralForecaster.load(a / "best").config
    for init in (str(a), str(a / "best")):  # a run directory (its best weights) or a weights directory
        w = initial_weights(init, ncfg)
        assert set(w) == set(best) and all(np.array_equal(w[k].numpy(), best[k]) for k in w)
    # with a learning rate of 0 training leaves the initial weights as they are (AdamW's decay is lr-scaled)
    frozen = train(load_config(None, data=str(walk_folder), **{**TINY, "lr": 0.0, "init": str(a)}), tmp_path / "b")
    assert all(np.array_equal(_weights(frozen)[k], best[k]) for k in best)
    # and a network that does not fit is one clear error naming what differs
    bigger = load_config(None, data=str(walk_folder), **{**TINY, "params": {"blocks": 3}, "init": str(a)})
    with pytest.raises(ValueRangeError, match="do not fit the network.*params"):
        train(bigger, tmp_path / "c")
    with pytest.raises(ValueRangeError, match="neither a run"):
        train(load_config(None, data=str(walk_folder), **{**TINY, "init": str(tmp_path / "nowhere")}), tmp_path / "d")


def test_shipped_two_stage_configs_chain():
    from posecast.errors import ModelError
    from posecast.models.learned import default_config_path

    pre = load_config(default_config_path("dct-mlp", "cmu-mocap+bvh"))
    fine = load_config(default_config_path("dct-mlp", "cmu-mocap"))
    assert pre.data == "cmu-mocap+bvh" and fine.data == "cmu-mocap" and fine.init is None
    # the second stage fine-tunes the first: the same network, so `--init PRE_RUN` fits
    assert (pre.net, pre.params, pre.joints, pre.history, pre.horizon) == (
        fine.net,
        fine.params,
        fine.joints,
        fine.history,
        fine.horizon,
    )
    with pytest.raises(ModelError, match="no default training config for 'traj-gcn' on 'cmu-mocap\\+bvh'"):
        default_config_path("traj-gcn", "cmu-mocap+bvh")


def test_distillation_mixes_truth_and_teacher_losses(walk_folder, tmp_path):
    import torch

    from posecast.errors import ValueRangeError
    from posecast.training.loop import default_loss, load_teacher

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
    other = load_config(None, data=str(walk_folder), **{**TINY, "horizon": 4, "teacher": str(a)})
    with pytest.raises(ValueRangeError, match="teacher does not fit.*horizon"):
        train(other, tmp_path / "c")
    assert not (tmp_path / "c").exists()  # refused before anything is written
    st = {**TINY, "model": "st-transformer", "net": "st-transformer", "horizon": 1, "target_horizon": 3}
    with pytest.raises(ValueRangeError, match="loss of its own"):
        train(load_config(None, data=str(walk_folder), **{**st, "params": {}, "teacher": str(a)}), tmp_path / "d")
