"""The learned networks st-transformer (+ rotation variant), traj-gcn and res-gru: shapes, causality,
weight sharing, the residual (zero-velocity) initialisation, building blocks against hand-computed
values, tiny trainings, and the rotation variant's benchmark path against the protocol harness."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import posecast
from posecast import skeletons
from posecast.errors import ModelError, ValueRangeError
from posecast.evaluation.protocols.cmu_mocap import evaluate_rotations
from posecast.io.expmap_txt import write_cmu_expmap
from posecast.kinematics import forward_kinematics
from posecast.models import get as get_model
from posecast.models.blocks import GraphConv, JointLinear, dct_matrix, sinusoidal_encoding
from posecast.models.learned import LEARNED, default_config_path
from posecast.models.neural import NeuralConfig, NeuralForecaster, build_net
from posecast.models.st_transformer import (
    SpatialAttention,
    STTransformer,
    STTransformerRot,
    TemporalAttention,
    build_rotation_variant,
    rotating_joints,
    training_loss,
)
from posecast.motion import Motion
from posecast.synthetic import synthetic_walk
from posecast.training import load_config, train
from posecast.training import rotation as rotation_training
from posecast.training.motion import default_loss, net_training_loss
from posecast.training.rotation import mirror_rotations

NETS = ("st-transformer", "traj-gcn", "res-gru")
SMALL = {
    "st-transformer": {"d_model": 16, "heads": 2, "layers": 2, "ff": 32},
    "traj-gcn": {"hidden": 32, "blocks": 2},
    "res-gru": {"hidden": 32},
}


def _config(net: str, history: int = 8, frames_per_pass: int = 6, **kw) -> NeuralConfig:
    return NeuralConfig(
        net=net,
        skeleton="cmu-bvh-31",
        fps=25.0,
        history=history,
        frames_per_pass=1 if net == "st-transformer" else frames_per_pass,
        params=SMALL[net],
        **kw,
    )


def _randomise_head(net: torch.nn.Module, scale: float = 0.05) -> None:
    """Give the zero-initialised read-out of a network random weights (to test more than the residual)."""
    g = torch.Generator().manual_seed(3)
    for name, p in net.named_parameters():
        if name.startswith(("head.", "out.", "readout.")):
            p.data = torch.randn(p.shape, generator=g) * scale


@pytest.fixture(scope="module")
def walk_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("walks")
    for i, (speed, cadence) in enumerate([(1.0, 0.8), (1.3, 0.9), (1.6, 1.0)]):
        posecast.save(synthetic_walk(seconds=4.0, fps=25.0, speed=speed, cadence=cadence), folder / f"walk{i}.npz")
    return folder


# ------------------------------------------------------------------------------- building blocks
def test_dct_matrix_is_orthonormal_and_matches_the_cosine_formula():
    c = dct_matrix(35)
    np.testing.assert_allclose(c @ c.T, np.eye(35), atol=1e-12)
    assert np.isclose(c[0, 7], 1 / math.sqrt(35)) and np.isclose(
        c[2, 3], math.sqrt(2 / 35) * math.cos(math.pi * 3.5 * 2 / 35)
    )


def test_sinusoidal_encoding_hand_values():
    e = sinusoidal_encoding(6, 8)
    assert e.shape == (6, 8)
    t = 5.0
    expected = [math.sin(t), math.cos(t), math.sin(t / 10), math.cos(t / 10), math.sin(t / 100), math.cos(t / 100)]
    np.testing.assert_allclose(e[5, :6].numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(sinusoidal_encoding(3, 5)[2, 4].item(), math.sin(2 / 10000 ** (4 / 5)), atol=1e-6)


def test_joint_linear_is_one_linear_map_per_joint():
    lin = JointLinear(4, 3, 5)
    x = torch.randn(2, 7, 4, 3)
    ref = torch.stack([x[:, :, j] @ lin.weight[j] + lin.bias[j] for j in range(4)], dim=2)
    torch.testing.assert_close(lin(x), ref)


def test_graph_conv_is_a_learnable_adjacency_times_features_times_weights():
    gc = GraphConv(6, 4, 3)
    x = torch.randn(2, 6, 4)
    a, w, b = gc.adjacency.detach().numpy(), gc.weight.detach().numpy(), gc.bias.detach().numpy()
    ref = np.einsum("nm,bmi,io->bno", a, x.numpy(), w) + b
    np.testing.assert_allclose(gc(x).detach().numpy(), ref, atol=1e-5)
    assert gc.adjacency.requires_grad and gc.adjacency.shape == (6, 6)


# ---------------------------------------------------------------------------------- networks
@pytest.mark.parametrize("name", NETS)
def test_network_shapes(name):
    cfg = _config(name)
    net = build_net(cfg).eval()
    d = 3 * 31
    x = torch.randn(4, cfg.history, d)
    assert net(x).shape == (4, cfg.frames_per_pass, d)
    if name == "st-transformer":
        assert net(x, all_steps=True).shape == (4, cfg.history, d)


def test_st_transformer_is_causal():
    torch.manual_seed(0)
    net = STTransformer(joints=5, channels=3, dim=16, heads=4, layers=3, ff=32).eval()
    _randomise_head(net, 0.5)
    x = torch.randn(2, 9, 15)
    t = 4
    x2 = x.clone()
    x2[:, t + 1] += torch.randn(2, 15)
    y, y2 = net(x, all_steps=True), net(x2, all_steps=True)
    torch.testing.assert_close(y[:, : t + 1], y2[:, : t + 1])  # outputs up to t ignore frame t + 1
    assert (y[:, t + 1 :] - y2[:, t + 1 :]).abs().amax(dim=-1).min() > 1e-4  # later outputs depend on it
    # inference computes the last block for the last frame only: the same next frame
    torch.testing.assert_close(net(x), y[:, -1:], atol=1e-5, rtol=1e-5)


def test_attention_weight_sharing():
    joints, dim = 7, 16
    temporal, spatial = TemporalAttention(joints, dim, 4), SpatialAttention(joints, dim, 4)
    # temporal: query/key/value and output projections per joint
    assert temporal.qkv.weight.shape == (joints, dim, 3 * dim) and temporal.out.weight.shape == (joints, dim, dim)
    # spatial: queries per joint, keys/values and output shared by all joints
    assert spatial.query.weight.shape == (joints, dim, dim)
    assert spatial.key_value.weight.shape == (2 * dim, dim) and spatial.out.weight.shape == (dim, dim)
    # with all queries equal the spatial attention treats the joints as a set: permuting them permutes
    # the output, which holds only if keys and values are shared across joints
    with torch.no_grad():
        spatial.query.weight[:] = spatial.query.weight[0]
        spatial.query.bias[:] = spatial.query.bias[0]
    e = torch.randn(2, 3, joints, dim)
    perm = torch.randperm(joints)
    torch.testing.assert_close(spatial(e[:, :, perm]), spatial(e)[:, :, perm], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NETS)
def test_untrained_networks_predict_zero_velocity(name):
    torch.manual_seed(0)
    model = NeuralForecaster(_config(name))
    walk = synthetic_walk(seconds=1.0, fps=25.0)
    pred = model.predict(walk.positions[None], 12)[0, 0]
    np.testing.assert_allclose(pred, np.broadcast_to(walk.positions[-1], pred.shape), atol=2e-5)


def test_st_transformer_loss_is_teacher_forced_next_frame_error():
    torch.manual_seed(0)
    cfg = load_config(
        None, model="st-transformer", net="st-transformer", history=6, frames_per_pass=1, params=SMALL["st-transformer"]
    )
    model = NeuralForecaster(_config("st-transformer", history=6))
    walk = torch.as_tensor(synthetic_walk(seconds=1.0, fps=25.0).positions, dtype=torch.float32)
    batch = torch.stack([walk[:7], walk[10:17]])  # windows of history + 1 frames: the sub-window is the window
    # an untrained network predicts zero velocity, so the loss is the mean frame-to-frame displacement
    expected = (batch[:, 1:] - batch[:, :-1]).norm(dim=-1).mean()
    torch.testing.assert_close(training_loss(model, batch, cfg.history), expected)
    weights = torch.tensor([2.0] + [1.0] * (len(model.joints) - 1))  # per-joint weights scale each joint's error
    weighted = ((batch[:, 1:] - batch[:, :-1]).norm(dim=-1) * weights).mean()
    torch.testing.assert_close(training_loss(model, batch, cfg.history, weights), weighted)
    # `posecast train` picks it up through the network module's hook
    assert net_training_loss("st-transformer") is training_loss and net_training_loss("traj-gcn") is None
    torch.testing.assert_close(default_loss(model, batch, cfg), expected)


def test_st_transformer_input_noise_perturbs_what_it_reads_while_training_only():
    """``params.input_noise``: Gaussian noise (m) on the frames the network reads, in training mode only;
    the targets stay clean. An untrained network returns its input frame, so each step's prediction is
    the noisy frame and the loss is the mean distance of the clean next frame from it."""
    from posecast.models.neural import canonical_frame, to_canonical

    sigma = 0.02
    config = NeuralConfig(
        net="st-transformer", skeleton="cmu-bvh-31", fps=25.0, history=6, frames_per_pass=1,
        params={**SMALL["st-transformer"], "input_noise": sigma},
    )  # fmt: skip
    model = NeuralForecaster(config)
    walk = torch.as_tensor(synthetic_walk(seconds=1.0, fps=25.0).positions, dtype=torch.float32)
    batch = torch.stack([walk[:7], walk[10:17]])
    clean = (batch[:, 1:] - batch[:, :-1]).norm(dim=-1).mean()
    model.net.eval()
    torch.testing.assert_close(training_loss(model, batch, 6), clean)  # evaluation: no noise
    model.net.train()
    torch.manual_seed(5)
    noisy = training_loss(model, batch, 6)
    torch.manual_seed(5)
    torch.randint(0, 1, (2,))  # the sub-window offset draw comes first
    origin, rot = canonical_frame(batch[:, :6], model.skeleton, config.canonical)
    x = to_canonical(batch, origin, rot)[:, :, model.joints]
    noise = sigma * torch.randn_like(x[:, :6])
    expected = (x[:, 1:] - (x[:, :6] + noise)).norm(dim=-1).mean()
    torch.testing.assert_close(noisy, expected)
    assert noisy > clean  # noise of 2 cm per coordinate against a few mm of motion per frame


def test_st_transformer_rollout_loss_by_hand_and_its_gradient():
    """``params.rollout_frames`` K / ``rollout_weight`` w: the teacher-forced loss plus w x the error of a K-frame
    rollout. An untrained network predicts zero velocity, so on windows of exactly history + K frames the
    rollout repeats frame ``history - 1`` and its error at step i is the distance to frame ``history - 1 + i``."""
    h, k, w = 6, 4, 0.5
    config = NeuralConfig(
        net="st-transformer", skeleton="cmu-bvh-31", fps=25.0, history=h, frames_per_pass=1,
        params={**SMALL["st-transformer"], "rollout_frames": k, "rollout_weight": w},
    )  # fmt: skip
    model = NeuralForecaster(config)
    model.net.eval()
    walk = torch.as_tensor(synthetic_walk(seconds=1.0, fps=25.0).positions, dtype=torch.float32)
    batch = torch.stack([walk[: h + k], walk[5 : 5 + h + k]])
    plain = NeuralForecaster(config.model_copy(update={"params": SMALL["st-transformer"]}), net=model.net)
    torch.manual_seed(0)
    tf = training_loss(plain, batch, h)  # the teacher-forced term alone (same offset draw)
    joints = list(model.joints)
    rolled = (batch[:, h:, joints] - batch[:, h - 1 : h, joints]).norm(dim=-1).mean()
    torch.manual_seed(0)
    torch.testing.assert_close(training_loss(model, batch, h), tf + w * rolled)
    # gradients reach the read-out through the rolled-out passes (the teacher-forced term alone would too,
    # so compare with it: the rollout adds to them)
    model.net.train()
    torch.manual_seed(0)
    training_loss(model, batch, h).backward()
    g_both = model.net.head.weight.grad.clone()
    model.net.zero_grad()
    torch.manual_seed(0)
    training_loss(plain, batch, h).backward()
    assert float((g_both - model.net.head.weight.grad).abs().max()) > 1e-6
    # too short a window for the rollout: one clear error
    with pytest.raises(ValueRangeError, match="rollout_frames"):
        training_loss(model, batch[:, : h + 2], h)


def test_val_stride_keeps_every_nth_validation_window(walk_folder):
    """``val_stride``: validation windows start every N frames (N = 1: every window), the training windows
    are untouched."""
    from posecast.training.loop import _Dist
    from posecast.training.motion import MotionTask

    def windows(val_stride: int) -> tuple[int, int]:
        cfg = load_config(None, data=str(walk_folder), model="dct-mlp", net="dct-mlp", history=8,
                          frames_per_pass=6, val_fraction=0.3, val_stride=val_stride)  # fmt: skip
        task = MotionTask(cfg)
        task.prepare(_Dist())
        return len(task.train_ws), len(task.val_ws)

    train1, val1 = windows(1)
    train3, val3 = windows(3)
    # three walks of 100 frames: the last 30 validate, 30 - 14 + 1 = 17 windows each, or 6 with stride 3
    assert train1 == train3 and val1 == 3 * 17 and val3 == 3 * 6


@pytest.mark.parametrize("name", NETS)
def test_tiny_training_reduces_the_loss(name, walk_folder, tmp_path):
    extra = {"frames_per_pass": 1, "target_frames": 6} if name == "st-transformer" else {"frames_per_pass": 6}
    cfg = load_config(
        None,
        data=str(walk_folder),
        model=name,
        net=name,
        history=8,
        params=SMALL[name],
        epochs=3,
        batch_size=16,
        lr=0.003,
        warmup_steps=1,
        max_steps_per_epoch=6,
        threads=1,
        val_fraction=0.2,
        **extra,
    )
    run = train(cfg, tmp_path / name, resume=False)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["train_loss"] < 0.9 * rows[0]["train_loss"]
    model = NeuralForecaster.load(run / "best")
    fc = model.forecast(synthetic_walk(seconds=2.0, fps=25.0), frames=20)  # autoregressive beyond one pass
    assert fc.samples.shape == (1, 20, 31, 3) and np.isfinite(fc.samples).all()


@pytest.mark.parametrize("name", NETS)
def test_registered_with_configs_for_both_data_sets(name):
    assert name in LEARNED
    for data in ("cmu-mocap", "cmu-bvh"):
        cfg = load_config(default_config_path(name, data))
        assert cfg.net == name and cfg.data == data
        assert cfg.history == (10 if data == "cmu-mocap" else 50)
        assert (cfg.target_frames or cfg.frames_per_pass) == 25 and cfg.augment_mirror and cfg.canonical == "heading"
    model = get_model(name, pretrained=False)
    assert isinstance(model, NeuralForecaster) and len(model.joints) == 25 and model.config.fps == 60.0


def test_weights_written_with_the_old_horizon_key_still_load(tmp_path):
    """``frames_per_pass`` was stored as ``horizon`` before the rename: such a config (and a weights folder
    with one) still loads, and is written back with the new key."""
    from pydantic import ValidationError

    from posecast.models import store

    new = _config("traj-gcn")
    old = {("horizon" if k == "frames_per_pass" else k): v for k, v in new.model_dump().items()}
    assert "horizon" in old and "frames_per_pass" not in old
    assert NeuralConfig.model_validate(old) == NeuralConfig(**old) == new and new.frames_per_pass == 6
    dumped = NeuralConfig(**old).model_dump()
    assert list(dumped) == list(store.current_keys(NeuralConfig, old)) and dumped["frames_per_pass"] == 6
    assert "horizon" not in dumped and store.current_keys(NeuralConfig, old) == dumped
    with pytest.raises(ValidationError):  # both keys at once: refused, not silently one of them
        NeuralConfig(**old, frames_per_pass=6)
    # a weights folder written before the rename
    model = NeuralForecaster(new, name="traj-gcn")
    _randomise_head(model.net)
    model.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["config"] == dumped
    meta["config"] = old
    (tmp_path / "config.json").write_text(json.dumps(meta, indent=1))
    back = NeuralForecaster.load(tmp_path)
    assert back.config == new
    history = synthetic_walk(seconds=1.0, fps=25.0).positions[None, -8:]
    np.testing.assert_allclose(back.predict(history, 10), model.predict(history, 10), atol=1e-6)


# --------------------------------------------------------------------------- rotation variant
def _rot_model(skeleton: str = "cmu-bvh-31", history: int = 6) -> STTransformerRot:
    torch.manual_seed(0)
    cfg = NeuralConfig(
        net="st-transformer-rot",
        skeleton=skeleton,
        fps=25.0,
        history=history,
        frames_per_pass=1,
        canonical="none",
        params=SMALL["st-transformer"],
    )
    return STTransformerRot(cfg)


def test_rotating_joints_of_the_benchmark_skeleton():
    joints = rotating_joints(skeletons.get("cmu-mocap-38"))
    # every non-root joint with a moving descendant; not the end sites, not the hands' zero-offset leaves
    assert 0 not in joints and not {6, 12, 19, 26, 28, 35, 37} & set(joints)
    assert {15, 23, 32} <= set(joints)  # Spine1 and the hands: their children sit at zero offsets, grandchildren not


def test_rotation_variant_outputs_rotations_and_fk_positions():
    model = _rot_model()
    _randomise_head(model.net, 0.3)
    walk = synthetic_walk(seconds=1.0, fps=25.0)
    rot = model.predict_rotations(walk.rotations[None], 5)[0]  # (5, 31, 3, 3)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-5)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)
    assert np.abs(rot[:, model.joints] - walk.rotations[-1, model.joints]).max() > 1e-3  # the network did act
    others = [j for j in range(31) if j not in model.joints]
    np.testing.assert_allclose(rot[:, others], np.broadcast_to(walk.rotations[-1, others], rot[:, others].shape))
    # forecast(): FK of the predicted rotations with the root held at its last observed pose
    fc = model.forecast(walk, frames=5)
    full = rot.copy()
    full[:, 0] = walk.rotations[-1, 0]
    expected, _ = forward_kinematics(full, walk.skeleton.offsets, walk.skeleton.parents, walk.root_translation[-1])
    np.testing.assert_allclose(fc.samples[0], expected, atol=1e-5)


def test_rotation_variant_needs_rotations():
    model = _rot_model()
    walk = synthetic_walk(seconds=1.0, fps=25.0)
    with pytest.raises(ModelError, match="needs joint rotations"):
        model.forecast(Motion(walk.positions, 25.0, "cmu-bvh-31"), frames=3)
    with pytest.raises(ModelError, match="cannot work from positions"):
        model.predict(walk.positions[None], 3)


def test_untrained_rotation_variant_is_zero_velocity_and_round_trips(tmp_path):
    model = _rot_model()
    walk = synthetic_walk(seconds=1.0, fps=50.0)  # another rate: resampled to 25 fps and back
    fc = model.forecast(walk, frames=8)
    np.testing.assert_allclose(fc.samples[0], np.broadcast_to(walk.positions[-1], (8, 31, 3)), atol=1e-5)
    _randomise_head(model.net)
    model.save(tmp_path / "rot")
    again = STTransformerRot.load(tmp_path / "rot")
    r = walk.rotations[None, :6]
    np.testing.assert_array_equal(model.predict_rotations(r, 3), again.predict_rotations(r, 3))


def test_rotation_variant_factory(tmp_path):
    model = build_rotation_variant(pretrained=False)
    assert model.config.fps == 60.0 and model.config.history == 10 and len(model.joints) == 24
    assert model.net.channels == 9 and model.net.joints == 24
    # its CMU-Mocap weights were retired (no better than zero-velocity): a clear error, and a saved
    # weights folder loads through the same builder
    with pytest.raises(
        ModelError, match="has no shipped weights; train it with `posecast train --model st-transformer-rot`"
    ):
        build_rotation_variant(pretrained=True)
    model.save(tmp_path / "w")
    loaded = build_rotation_variant(weights=tmp_path / "w")
    assert isinstance(loaded, STTransformerRot) and loaded.config.skeleton == "cmu-mocap-38"


def test_mirror_rotations_matches_motion_mirror():
    walk = synthetic_walk(seconds=0.5, fps=25.0)
    mirrored = mirror_rotations(torch.as_tensor(walk.rotations), walk.skeleton).numpy()
    np.testing.assert_allclose(mirrored, walk.mirror().rotations, atol=1e-12)


def _fake_benchmark(folder: Path) -> Path:
    """A CMU-Mocap-style folder (MANIFEST.csv + 117-column exp-map files at 120 Hz) of synthetic walks."""
    rows = []
    for split, i, speed in (("train", 1, 1.0), ("train", 2, 1.4), ("test", 1, 1.2)):
        rel = f"{split}/walking/walking_{i}.txt"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        walk = synthetic_walk(seconds=2.5, fps=120.0, speed=speed, skeleton="cmu-mocap-38")
        write_cmu_expmap(walk, folder / rel)
        rows.append({"path": rel, "split": split, "action": "walking", "in_benchmark": "yes", "status": "present"})
    with open(folder / "MANIFEST.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_rotation_variant_trains_and_benchmarks_on_exp_maps(tmp_path):
    data = _fake_benchmark(tmp_path / "bench")
    cfg = rotation_training.load_config(
        Path(posecast.__file__).parent / "configs" / "st-transformer-rot" / "cmu-mocap.yaml",
        data=str(data),
        params={**SMALL["st-transformer"], "rotation_loss": 0.1},
        epochs=3,
        batch_size=32,
        lr=0.003,
        warmup_steps=1,
        max_steps_per_epoch=5,
        threads=1,
        val_fraction=0.25,
    )
    run = rotation_training.train(cfg, tmp_path / "run")
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and rows[-1]["train_loss"] < rows[0]["train_loss"] and "val_mpjpe_mm" in rows[0]
    model = STTransformerRot.load(run / "best")
    result = evaluate_rotations(model, "all", data_dir=data)
    assert result.windows == {"walking": 151 - 34} and "rotations" in result.protocol["input"]
    assert all(np.isfinite(v) for v in result.average.values())


def test_rotation_benchmark_matches_the_harness_for_zero_velocity(cmu_mocap_dir):
    from posecast.evaluation.protocols import cmu_mocap

    cfg = load_config(Path(posecast.__file__).parent / "configs" / "st-transformer-rot" / "cmu-mocap.yaml")
    ncfg = NeuralConfig(
        net=cfg.net,
        skeleton="cmu-mocap-38",
        fps=60.0,
        history=10,
        frames_per_pass=1,
        joints=cfg.joints,
        canonical="none",
    )
    untrained = STTransformerRot(ncfg)  # residual init: repeats the last observed rotations
    ours = evaluate_rotations(untrained, "ltd8", cmu_mocap_dir)
    ref = cmu_mocap.evaluate(get_model("zero-velocity"), "ltd8", cmu_mocap_dir)
    assert ours.windows == ref.windows
    for action in ref.per_frame:
        np.testing.assert_allclose(ours.per_frame[action], ref.per_frame[action], atol=1e-3)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_inference_fast_path_equals_eager_and_follows_weight_updates(name):
    """Inference runs a traced copy of the whole rollout (and of the network) per input shape; it must
    give the eager result, and an in-place weight update (an optimiser step) must not leave a stale
    copy in use."""
    model = NeuralForecaster(_config(name, mirror_average=True))
    g = torch.Generator().manual_seed(0)
    for p in model.net.parameters():  # random weights everywhere, so that every path matters
        p.data = torch.randn(p.shape, generator=g) * 0.05
    history = synthetic_walk(seconds=1.0, fps=25.0).positions[None, -8:]

    def eager():
        with torch.no_grad():
            model._traces.clear()
            fast_run, model._run_net = model._run_net, model.net  # bypass the fast paths
            fast_rollout, model.rollout = model.rollout, model._rollout
            try:
                return model.predict(history, 12)
            finally:
                model._run_net, model.rollout = fast_run, fast_rollout

    first = model.predict(history, 12)  # first call per shape: eager, then traced
    again = model.predict(history, 12)  # traced
    model.predict(history, 12)  # a repeated rollout: traced whole when it has few passes
    traced = {k[0] for k, v in model._traces.items() if isinstance(v, torch.jit.ScriptModule)}
    passes = -(-13 // model.config.frames_per_pass)  # 12 frames at the model rate, plus one to interpolate
    assert traced == ({"net", "rollout"} if passes <= model.TRACE_MAX_PASSES else {"net"})  # fast paths ran
    np.testing.assert_allclose(again, first, atol=1e-6)
    np.testing.assert_allclose(again, eager(), atol=1e-6)
    with torch.no_grad():
        for p in model.net.parameters():
            p.mul_(1.5)  # in place, as an optimiser does
    updated = model.predict(history, 12)
    assert np.abs(updated - again).max() > 1e-4  # the new weights are used ...
    np.testing.assert_allclose(updated, eager(), atol=1e-6)  # ... exactly like the eager network


def test_traced_rollout_follows_a_changed_setting():
    """A rollout traced with mirror averaging on must not be reused once it is switched off."""
    model = NeuralForecaster(_config("traj-gcn", mirror_average=True))
    g = torch.Generator().manual_seed(0)
    for p in model.net.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.05
    history = synthetic_walk(seconds=1.0, fps=25.0).positions[None, -8:]
    for _ in range(3):  # traced from the second call on
        with_mirror = model.predict(history, 5)
    model.config.mirror_average = False
    without = model.predict(history, 5)
    model._traces.clear()
    np.testing.assert_allclose(without, model.predict(history, 5), atol=1e-6)  # eager, fresh
    assert np.abs(with_mirror - without).max() > 1e-4


@pytest.mark.parametrize("name,refresh", [("st-transformer", 1), ("st-transformer", 4), ("dct-mlp", 1)])
def test_keep_bones_gives_every_predicted_frame_the_last_observed_bone_lengths(name, refresh):
    """``NeuralConfig.keep_bones``: each pass's frames get the bone lengths of the window's last frame, so a
    rollout keeps those of the last observed frame (full passes, cached steps, several frames per pass);
    bone directions are the network's."""
    cfg = (
        _config(name)
        if name != "dct-mlp"
        else NeuralConfig(
            net="dct-mlp", skeleton="cmu-bvh-31", fps=25.0, history=8, frames_per_pass=6, params={"blocks": 2}
        )
    )
    params = {**cfg.params, "rollout_refresh": refresh} if name == "st-transformer" else cfg.params
    model = NeuralForecaster(cfg.model_copy(update={"params": params}))
    g = torch.Generator().manual_seed(1)
    for p in model.net.parameters():  # random weights: the raw network changes bone lengths
        p.data = torch.randn(p.shape, generator=g) * 0.05
    history = synthetic_walk(seconds=1.0, fps=25.0).positions[None, -8:]
    parents = np.array(model.skeleton.parents)
    child = np.nonzero(parents >= 0)[0]

    def lengths(x):
        return np.linalg.norm(x[..., child, :] - x[..., parents[child], :], axis=-1)

    raw = model.predict(history, 15)[0, 0]
    model.config.keep_bones = True
    kept = model.predict(history, 15)[0, 0]
    again = model.predict(history, 15)[0, 0]  # the traced path (settings are part of the trace key)
    want = lengths(history[0, -1])
    assert np.abs(lengths(raw) - want).max() > 1e-3  # the network alone does not keep them
    np.testing.assert_allclose(lengths(kept), np.broadcast_to(want, lengths(kept).shape), atol=1e-5)
    np.testing.assert_allclose(again, kept, atol=1e-5)
    # directions: each bone of the first predicted frame points where the network's own first frame does
    d_raw = raw[0, child] - raw[0, parents[child]]
    d_kept = kept[0, child] - kept[0, parents[child]]
    unit = lambda d: d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)  # noqa: E731
    moving = (np.linalg.norm(d_raw, axis=-1) > 1e-6) & (want > 1e-6)  # (the skeleton has zero-length bones)
    np.testing.assert_allclose(unit(d_kept)[moving], unit(d_raw)[moving], atol=1e-4)


def test_bones_not_fed_back_correct_only_the_returned_frames():
    """``bones_fed_back: false``: every returned frame has the last observed bone lengths, but each pass reads
    the network's own frames, so every frame is the raw rollout's frame with its bones rescaled (by hand:
    `keep_bone_lengths` of the raw rollout); with feedback the second pass differs."""
    from posecast.kinematics.fk import keep_bone_lengths

    cfg = NeuralConfig(
        net="dct-mlp", skeleton="cmu-bvh-31", fps=25.0, history=8, frames_per_pass=6, params={"blocks": 2}
    )
    model = NeuralForecaster(cfg)
    g = torch.Generator().manual_seed(2)
    for p in model.net.parameters():
        p.data = torch.randn(p.shape, generator=g) * 0.05
    history = synthetic_walk(seconds=1.0, fps=25.0).positions[None, -8:]
    raw = model.predict(history, 15)[:, 0]
    by_hand = keep_bone_lengths(torch.as_tensor(raw), torch.as_tensor(history[:, -1:]), model.skeleton).numpy()
    model.config.keep_bones, model.config.bones_fed_back = True, False
    output_only = model.predict(history, 15)[:, 0]
    np.testing.assert_allclose(output_only, by_hand, atol=1e-5)
    np.testing.assert_allclose(model.predict(history, 15)[:, 0], output_only, atol=1e-5)  # traced: same
    model.config.bones_fed_back = True
    fed = model.predict(history, 15)[:, 0]
    np.testing.assert_allclose(fed[:, :6], output_only[:, :6], atol=1e-5)  # the first pass is the same
    assert np.abs(fed[:, 6:] - output_only[:, 6:]).max() > 1e-4
