"""The characteristic-pose forecaster: heatmap targets, network, autoregressive sampling, refinement,
training and configs (tiny CPU configs; a few real CMU BVH pairs when POSECAST_DATA is set)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from posecast import skeletons
from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.keyposes.model import (
    CharPoseConfig,
    CharPoseNet,
    canonicalise,
    charpose_loss,
    class_weights,
    flat_index,
    heatmap_levels,
    heatmap_target,
    load_charpose,
    save_charpose,
    voxel_centres,
    voxel_index,
)
from posecast.keyposes.refine import RefineConfig, bone_length_error, interpolate_levels, refine_poses
from posecast.keyposes.sampling import predict_keyposes, sample_hypotheses, sample_voxels
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.rotations import axis_angle_to_matrix
from posecast.training.keyposes import CharPoseTrainConfig, load_train_config, train_charpose


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one thread avoids spin-waiting on a machine busy with other jobs (10-50x faster)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SKEL = skeletons.get("cmu-bvh-31")
J = SKEL.num_joints
RH, LH = SKEL.index("RightHand"), SKEL.index("LeftHand")


def tiny(**kw) -> CharPoseConfig:
    """An 8^3-voxel network small enough for unit tests."""
    base = dict(
        skeleton="cmu-bvh-31",
        grid_size=8,
        sigma=1.0,
        kernel_size=3,
        embed_dim=16,
        feedforward=32,
        dropout=0.0,
        decoder_start=2,
        decoder_channels=[8, 8, 8],
        decoder_convs=[0, 1, 0],
        samples=4,
    )
    base.update(kw)
    return CharPoseConfig(**base)


def poses_fk(rotvec: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """``(..., J, 3)`` positions of the CMU BVH skeleton for ``(..., J, 3)`` local axis-angles."""
    off = SKEL.offsets if offsets is None else offsets
    pos, _ = forward_kinematics(axis_angle_to_matrix(rotvec), off, SKEL.parents)
    return pos


def synthetic_pairs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Observed windows that move from a random pose towards a random target pose (10 frames), and the
    target: the key pose is predictable from the trend."""
    rng = np.random.default_rng(seed)
    start = rng.normal(0, 0.15, (n, J, 3))
    goal = rng.normal(0, 0.5, (n, J, 3))
    t = (np.arange(10) / 14.0)[None, :, None, None]
    observed = poses_fk(start[:, None] + t * (goal - start)[:, None])
    return observed.astype(np.float32), poses_fk(goal).astype(np.float32)


# ----------------------------------------------------------------------------------------- targets
def test_heatmap_target_peak_bins_and_hand_values():
    cfg = CharPoseConfig(skeleton="cmu-bvh-31")  # the paper's 16^3 grid, 2 m, sigma 2, kernel 5, 10 bins
    point = torch.tensor([0.30, -0.70, 0.05])
    values, classes = heatmap_target(point, cfg)
    assert values.shape == classes.shape == (16, 16, 16)
    vox = voxel_index(point, 16, 2.0)
    assert vox.tolist() == [10, 2, 8]  # floor((x + 1) / 0.125)
    flat = int(flat_index(vox, 16))
    assert int(values.flatten().argmax()) == flat and float(values.flatten()[flat]) == 1.0
    # the target voxel is the only voxel of the top class; every class is one of the 10 bins
    assert int(classes[10, 2, 8]) == 9 and int((classes == 9).sum()) == 1
    assert classes.min() >= 0 and classes.max() <= 9
    # hand values: w(d) = exp(-d^2 / 8) per axis, zero beyond 2 voxels
    assert float(values[11, 2, 8]) == pytest.approx(math.exp(-1 / 8))
    assert int(classes[11, 2, 8]) == 8
    assert float(values[12, 4, 10]) == pytest.approx(math.exp(-12 / 8))
    assert int(classes[12, 4, 10]) == 2
    assert float(values[13, 2, 8]) == 0.0 and int(classes[13, 2, 8]) == 0
    counts = torch.bincount(classes.flatten(), minlength=10).tolist()
    assert counts == [16**3 - 125, 0, 8, 36, 24, 24, 14, 12, 6, 1]  # the 5^3 block, by distance class
    w = class_weights(cfg)
    assert float(w[9]) == pytest.approx(1 / math.log(2.2)) and float(w[0]) == pytest.approx(1 / math.log(1.2 + 3971))
    # the released code's convention exp(-(d / (2 sigma))^2): wider, face neighbours reach the top class
    ref = cfg.model_copy(update={"gaussian": "reference"})
    rv, rc = heatmap_target(point, ref)
    assert float(rv[11, 2, 8]) == pytest.approx(math.exp(-1 / 16)) and int(rc[11, 2, 8]) == 9
    assert int(rv.flatten().argmax()) == flat


def test_heatmap_target_batched_and_clamped_at_the_border():
    cfg = tiny()
    pts = torch.tensor([[[0.0, 0.0, 0.0], [5.0, -5.0, 0.9]]])  # (1, 2, 3); the second is outside the cube
    values, classes = heatmap_target(pts, cfg)
    assert values.shape == (1, 2, 8, 8, 8)
    assert int(values[0, 0].flatten().argmax()) == int(flat_index(torch.tensor([4, 4, 4]), 8))
    assert float(values[0, 1, 7, 0, 7]) == 1.0 and int(classes[0, 1, 7, 0, 7]) == cfg.bins - 1


def test_voxel_centres_and_trilinear_interpolation():
    c = voxel_centres(4, 2.0)
    assert c.shape == (64, 3)
    assert c[0].tolist() == [-0.75, -0.75, -0.75] and c[int(flat_index(torch.tensor([3, 1, 2]), 4))].tolist() == [
        0.75,
        -0.25,
        0.25,
    ]
    levels = torch.rand(2, 4, 4, 4)
    pts = torch.stack([c[5], c[40]])  # exactly at voxel centres
    got = interpolate_levels(levels, pts, 2.0)
    assert torch.allclose(got, torch.stack([levels[0].flatten()[5], levels[1].flatten()[40]]))
    # halfway between two voxels along x: the mean; beyond the border: the border value
    mid = interpolate_levels(levels[:1], torch.tensor([[0.0, -0.75, -0.75]]), 2.0)
    assert float(mid[0]) == pytest.approx(float(levels[0, 1, 0, 0] + levels[0, 2, 0, 0]) / 2, rel=1e-6)
    out = interpolate_levels(levels[:1], torch.tensor([[-3.0, -0.75, -0.75]]), 2.0)
    assert float(out[0]) == pytest.approx(float(levels[0, 0, 0, 0]))


# ------------------------------------------------------------------------------------------- network
def test_sub_voxel_upsample_is_a_stride_two_transposed_convolution():
    from posecast.keyposes.model import SubVoxelUpsample

    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose3d(5, 3, 2, stride=2)
    up = SubVoxelUpsample(5, 3)
    with torch.no_grad():  # Linear row (a, b, c, out) <- conv weight [in, out, a, b, c]
        up.linear.weight.copy_(conv.weight.permute(2, 3, 4, 1, 0).reshape(24, 5))
        up.linear.bias.copy_(conv.bias.repeat(8))
    x = torch.randn(2, 5, 3, 4, 2)
    want = conv(x)  # (2, 3, 6, 8, 4)
    got = up(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-6)


def test_shapes_offsets_bounded_and_levels_in_unit_range():
    torch.manual_seed(0)
    cfg = tiny()
    net = CharPoseNet(cfg).eval()
    obs, tgt = (torch.as_tensor(a) for a in synthetic_pairs(3))
    obs_c, tgt_c, rot = canonicalise(obs, SKEL, "heading", tgt)
    assert obs_c.shape == (3, 10, J, 3) and tgt_c.shape == (3, J, 3) and rot.shape == (3, 3, 3)
    assert torch.allclose(obs_c[:, :, 0], torch.zeros(3, 10, 3))  # root-relative
    left, right = SKEL.index("LeftUpLeg"), SKEL.index("RightUpLeg")
    lat = obs_c[:, -1, left] - obs_c[:, -1, right]
    assert torch.allclose(lat[:, 2], torch.zeros(3), atol=1e-6) and bool((lat[:, 0] > 0).all())  # hips along +x
    logits, offsets = net(obs_c, tgt_c)
    assert logits.shape == (3, J, 8, 8, 8, 10) and offsets.shape == (3, J, 8, 8, 8, 3)
    assert float(offsets.detach().abs().max()) <= cfg.voxel_size * cfg.offset_clamp + 1e-7
    lv = heatmap_levels(logits)
    lv = lv.detach()
    assert lv.shape == (3, J, 8, 8, 8) and float(lv.min()) >= 0 and float(lv.max()) <= 1
    hyp = sample_hypotheses(net, obs, samples=5, generator=torch.Generator().manual_seed(0))
    assert hyp.poses.shape == hyp.canonical.shape == (3, 5, J, 3)
    assert hyp.levels.shape == (3, 5, J, 8, 8, 8) and hyp.voxels.shape == (3, 5, J)
    assert torch.allclose(hyp.probabilities.sum(-1), torch.ones(3))
    # poses are the canonical ones turned back: canonical = poses @ rot.T
    assert torch.allclose(hyp.poses @ rot.transpose(-1, -2)[:, None], hyp.canonical, atol=1e-6)
    reg = CharPoseNet(tiny(head="regression")).eval()
    assert reg(obs_c, tgt_c).shape == (3, J, 3)
    assert reg.decoder is None and net.regressor is None


def test_config_validation_and_json_round_trip(tmp_path):
    with pytest.raises(ValueError, match="grid_size"):
        CharPoseConfig(skeleton="cmu-bvh-31", grid_size=12)
    with pytest.raises(ValueError, match="odd"):
        CharPoseConfig(skeleton="cmu-bvh-31", kernel_size=4)
    with pytest.raises(ValueError, match="offset_min_bin"):
        CharPoseConfig(skeleton="cmu-bvh-31", offset_min_bin=10)
    with pytest.raises(ValueError, match="decoder_convs"):
        CharPoseConfig(skeleton="cmu-bvh-31", decoder_convs=[1, 1])
    with pytest.raises(SkeletonError, match="NoSuchHand"):
        CharPoseNet(tiny(lead_joints=["NoSuchHand"]))
    cfg = tiny(bins=6, sigma=1.5, lead_joints=["LeftHand", "RightFoot"], refinement=RefineConfig(steps=7))
    again = CharPoseConfig(**json.loads(cfg.model_dump_json()))
    assert again == cfg and again.refinement.steps == 7
    torch.manual_seed(1)
    net = CharPoseNet(cfg).eval()
    save_charpose(net, tmp_path / "m", metadata={"epoch": 3})
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["config"] == cfg.model_dump() and meta["epoch"] == 3 and meta["parameters"] == net.num_parameters()
    loaded = load_charpose(tmp_path / "m")
    assert loaded.config == cfg and loaded.groups == net.groups
    obs = torch.as_tensor(synthetic_pairs(2)[0])
    a = sample_hypotheses(net, obs, generator=torch.Generator().manual_seed(5))
    b = sample_hypotheses(loaded, obs, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.poses, b.poses) and torch.equal(a.probabilities, b.probabilities)
    with pytest.raises(ModelError, match="no config.json"):
        load_charpose(tmp_path / "missing")
    (tmp_path / "m" / "config.json").write_text('{"config": {"skeleton": 3}}')
    with pytest.raises(ModelError, match="invalid charpose config"):
        load_charpose(tmp_path / "m")


def test_shipped_yaml_is_the_paper_setup():
    from importlib.resources import files

    path = files("posecast") / "configs" / "charpose" / "cmu-bvh.yaml"
    cfg = load_train_config(path)
    n = cfg.network
    assert (n.grid_size, n.cube_size, n.bins, n.sigma, n.kernel_size, n.observed) == (16, 2.0, 10, 2.0, 5, 10)
    assert n.temperature == 0.025 and n.samples == 10 and n.lead_joints == ["RightHand", "LeftHand"]
    r = n.refinement
    assert (r.end_effector_weight, r.bone_weight, r.angle_weight, r.heatmap_weight, r.closeness_weight) == (
        0.2,
        1.0,
        0.4,
        0.1,
        0.1,
    )
    assert (cfg.lr, cfg.weight_decay, cfg.warmup_steps, cfg.batch_size) == (1e-3, 1e-3, 1000, 100)
    net = CharPoseNet(n)
    assert net.groups[:2] == [[RH], [LH]] and net.groups[2] == [i for i in range(J) if i not in (RH, LH)]
    assert 100_000 < net.num_parameters() < 1_000_000
    with pytest.raises(ValueRangeError, match="invalid charpose training config"):
        load_train_config(path, epochs=0)


# -------------------------------------------------------------------------------------- training
def test_tiny_training_reduces_the_loss_and_writes_a_loadable_run(tmp_path):
    obs, tgt = synthetic_pairs(8)
    cfg = CharPoseTrainConfig(
        network=tiny(refinement=RefineConfig(steps=10)),
        epochs=15,
        batch_size=8,
        lr=1e-2,
        weight_decay=0.0,
        warmup_steps=0,
        augment_mirror=False,
    )
    out = train_charpose(cfg, tmp_path / "run", train_pairs=(obs, tgt), val_pairs=(obs[:4], tgt[:4]))
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 15
    first, last = lines[0], lines[-1]
    assert last["train_total"] < 0.75 * first["train_total"]
    assert last["train_heatmap"] < 0.5 * first["train_heatmap"] and last["train_offset"] < first["train_offset"]
    assert last["val_loss"] < first["val_loss"] and math.isfinite(last["val_mpjpe_m"])
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["train_pairs"] == 8 and run["parameters"] > 0
    for d in (out / "last", out / "best"):
        net = load_charpose(d)
        hyp = predict_keyposes(net, torch.as_tensor(obs[:2]), samples=3)
        assert hyp.poses.shape == (2, 3, J, 3) and hyp.refined and bool(torch.isfinite(hyp.poses).all())


def test_training_can_continue_from_saved_weights(tmp_path):
    obs, tgt = synthetic_pairs(8)
    kw = dict(batch_size=8, weight_decay=0.0, warmup_steps=0, augment_mirror=False)
    first = train_charpose(
        CharPoseTrainConfig(network=tiny(), epochs=3, lr=1e-2, **kw),
        tmp_path / "a",
        train_pairs=(obs, tgt),
        val_pairs=(obs[:4], tgt[:4]),
    )
    trained = json.loads((first / "metrics.jsonl").read_text().splitlines()[-1])["val_loss"]
    # lr 1e-9: AdamW moves every parameter by ~1e-9, so the continuation evaluates the loaded weights;
    # inference-only settings (temperature) may differ from the init's
    still = CharPoseTrainConfig(network=tiny(temperature=0.5), epochs=1, lr=1e-9, **kw)
    pairs = dict(train_pairs=(obs, tgt), val_pairs=(obs[:4], tgt[:4]))
    init = str(first / "last")
    cont = train_charpose(still.model_copy(update={"init": init}), tmp_path / "b", **pairs)
    fresh = train_charpose(still, tmp_path / "c", **pairs)
    cont_loss = json.loads((cont / "metrics.jsonl").read_text())["val_loss"]
    fresh_loss = json.loads((fresh / "metrics.jsonl").read_text())["val_loss"]
    assert cont_loss == pytest.approx(trained, rel=1e-4)
    assert abs(fresh_loss - trained) > 1e-2
    assert json.loads((cont / "run.json").read_text())["data"]["init"] == init
    other = CharPoseTrainConfig(network=tiny(feedforward=16), epochs=1, lr=1e-9, init=init, **kw)
    with pytest.raises(ModelError, match="init weights do not fit"):
        train_charpose(other, tmp_path / "d", train_pairs=(obs, tgt))
    with pytest.raises(ModelError, match="neither a run"):
        train_charpose(still.model_copy(update={"init": str(tmp_path / "nowhere")}), tmp_path / "e", **pairs)
    assert not (tmp_path / "e").exists()  # refused before anything is written


def test_regression_ablation_trains_and_gives_identical_hypotheses():
    torch.manual_seed(0)
    obs, tgt = (torch.as_tensor(a) for a in synthetic_pairs(8))
    net = CharPoseNet(tiny(head="regression"))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, parts = charpose_loss(net, obs, tgt)
        assert set(parts) == {"regression", "total"}
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    hyp = predict_keyposes(net, obs[:2], samples=4)
    assert torch.equal(hyp.poses[:, 0], hyp.poses[:, 3]) and hyp.levels is None
    assert torch.allclose(hyp.probabilities, torch.full((2, 4), 0.25))


def test_no_offset_ablation_places_joints_at_voxel_centres():
    torch.manual_seed(0)
    net = CharPoseNet(tiny(use_offsets=False)).eval()
    assert net.offset_out is None
    obs, tgt = (torch.as_tensor(a) for a in synthetic_pairs(2))
    loss, parts = charpose_loss(net, obs, tgt)
    assert "offset" not in parts and torch.isfinite(loss)
    hyp = sample_hypotheses(net, obs, generator=torch.Generator().manual_seed(0))
    assert torch.equal(hyp.canonical, net.centres[hyp.voxels])


# -------------------------------------------------------------------------------------- sampling
def test_sample_voxels_temperature():
    gen = torch.Generator().manual_seed(0)
    levels = torch.zeros(1, 512)
    levels[0, 100], levels[0, 7] = 1.0, 0.9
    # low temperature: always the arg-max voxel
    idx, lp = sample_voxels(levels.expand(300, -1), 0.01, gen)
    assert bool((idx == 100).all())
    assert float(lp[0]) == pytest.approx(-math.log1p(math.exp(-10) + 510 * math.exp(-100)), abs=1e-6)
    idx0, lp0 = sample_voxels(levels, 0.0)
    assert int(idx0) == 100 and float(lp0) == 0.0
    # the paper's T = 0.025: the 0.9 voxel is exp(-4) as likely as the peak, the rest negligible
    idx, lp = sample_voxels(levels.expand(20000, -1), 0.025, gen)
    frac = float((idx == 7).float().mean())
    assert frac == pytest.approx(math.exp(-4) / (1 + math.exp(-4)), abs=0.006)
    assert set(idx.tolist()) <= {7, 100}
    # high temperature: spread over the grid
    idx, _ = sample_voxels(levels.expand(2000, -1), 10.0, gen)
    assert len(set(idx.tolist())) > 400 and float((idx == 100).float().mean()) < 0.01


def _fake_decoder(net: CharPoseNet, peaks: dict[int, list[int]]):
    """Replace ``net.decode`` by hand-made heatmaps: joint ``j`` gets top-class logits at the voxels
    ``peaks[j]`` (default: voxel ``j``) and zero offsets. Records the joints of every call."""
    calls: list[list[int]] = []
    v = net.config.grid_size**3
    bins = net.config.bins

    def decode(features):
        queries = current["queries"]
        calls.append(list(queries))
        b, q = features.shape[:2]
        logits = torch.zeros(b, q, v, bins)
        logits[..., 0] = 20.0  # class 0 everywhere
        for i, jnt in enumerate(queries):
            for p in peaks.get(jnt, [jnt]):
                logits[:, i, p, 0], logits[:, i, p, -1] = 0.0, 20.0
        g = net.config.grid_size
        return logits.reshape(b, q, g, g, g, bins), torch.zeros(b, q, g, g, g, 3)

    current: dict = {}
    attend = net.attend

    def attend_spy(memory, queries, token_positions=None, token_joints=None, allowed=None):
        current["queries"] = queries.tolist()
        current.setdefault("tokens", []).append([] if token_joints is None else token_joints.tolist())
        return attend(memory, queries, token_positions, token_joints, allowed)

    net.decode = decode  # type: ignore[method-assign]
    net.attend = attend_spy  # type: ignore[method-assign]
    return calls, current


def test_sampled_joints_fall_in_high_probability_voxels_and_order_is_respected():
    torch.manual_seed(0)
    net = CharPoseNet(tiny())
    peaks = {RH: [30, 300], LH: [77]}  # two equally likely right-hand voxels
    calls, spy = _fake_decoder(net, peaks)
    obs = torch.as_tensor(synthetic_pairs(2)[0])
    hyp = sample_hypotheses(net, obs, samples=64, generator=torch.Generator().manual_seed(0))
    rest = [i for i in range(J) if i not in (RH, LH)]
    assert calls == [[RH], [LH], rest]
    assert spy["tokens"] == [[], [RH], [RH, LH]]  # each step sees the joints sampled before it
    vox = hyp.voxels
    assert set(vox[..., RH].flatten().tolist()) == {30, 300}  # both modes are drawn
    assert bool((vox[..., LH] == 77).all())
    assert torch.equal(vox[..., rest], torch.as_tensor(rest).expand(2, 64, -1))
    assert torch.equal(hyp.canonical, net.centres[vox])  # zero offsets: voxel centres
    # equal-probability modes: every hypothesis gets the same likelihood, probabilities sum to one
    assert torch.allclose(hyp.probabilities, torch.full((2, 64), 1 / 64))
    # sequential rest: one joint per step, in tree order after the hands
    net2 = CharPoseNet(tiny(sequential_rest=True))
    calls2, _ = _fake_decoder(net2, {})
    sample_hypotheses(net2, obs, samples=2)
    assert calls2 == [[RH], [LH]] + [[i] for i in rest]
    # not autoregressive: every joint at once, no tokens
    net3 = CharPoseNet(tiny(autoregressive=False))
    calls3, spy3 = _fake_decoder(net3, {})
    sample_hypotheses(net3, obs, samples=2)
    assert calls3 == [list(range(J))] and spy3["tokens"] == [[]] and net3.token_embed is None


def test_hypothesis_probabilities_are_normalised_products():
    torch.manual_seed(0)
    net = CharPoseNet(tiny()).eval()
    obs = torch.as_tensor(synthetic_pairs(3, seed=4)[0])
    hyp = sample_hypotheses(net, obs, samples=10, temperature=0.05, generator=torch.Generator().manual_seed(1))
    assert hyp.probabilities.shape == (3, 10)
    assert torch.allclose(hyp.probabilities.sum(-1), torch.ones(3), atol=1e-6)
    # the log-likelihood is the sum over joints of log softmax(h / T) at the drawn voxels
    flat = hyp.levels.flatten(-3) / 0.05
    logp = torch.log_softmax(flat, -1).gather(-1, hyp.voxels[..., None])[..., 0].sum(-1)
    assert torch.allclose(hyp.log_likelihood, logp, atol=1e-4)
    assert torch.allclose(hyp.probabilities, torch.softmax(logp, -1), atol=1e-5)


def test_autoregressive_conditioning_changes_later_joints_only():
    torch.manual_seed(0)
    net = CharPoseNet(tiny()).eval()
    obs, tgt = (torch.as_tensor(a) for a in synthetic_pairs(2))
    obs_c, tgt_c, _ = canonicalise(obs, SKEL, "heading", tgt)
    with torch.no_grad():
        memory = net.encode(obs_c)
        token = torch.tensor([RH])
        here, there = torch.tensor([[[0.4, 0.2, 0.3]]] * 2), torch.tensor([[[-0.4, -0.5, 0.1]]] * 2)

        def logits(query: int, pos: torch.Tensor, allowed: bool) -> torch.Tensor:
            feats = net.attend(memory, torch.tensor([query]), pos, token, torch.tensor([[allowed]]))
            return net.decode(feats)[0]

        # the left hand's heatmap depends on where the right hand was sampled ...
        a, b = logits(LH, here, True), logits(LH, there, True)
        assert float((a - b).abs().max()) > 1e-5
        assert float((heatmap_levels(a) - heatmap_levels(b)).abs().max()) > 0
        # ... and a query that may not see the token is unaffected, bit for bit: the boolean mask becomes
        # -inf scores, whose softmax weights (and gradients) are exactly 0 in every attention kernel
        assert torch.equal(logits(LH, here, False), logits(LH, there, False))
    # teacher forcing leaks nothing: the right hand ignores every target, the left hand sees only the
    # right hand's target, the rest see both hands but none of their own
    tgt_c = tgt_c.clone().requires_grad_(True)
    logits, offsets = net(obs_c, tgt_c)

    def grad_of(joint: int) -> torch.Tensor:
        (g,) = torch.autograd.grad(logits[:, joint].sum() + offsets[:, joint].sum(), tgt_c, retain_graph=True)
        return g.abs().sum(dim=(0, 2))  # per target joint

    def seen(g: torch.Tensor) -> list[int]:
        """Target joints whose gradient is not exactly zero. Checked joint by joint, never as
        ``g.sum() - g[RH] - g[LH] == 0``: in float32 that is minus the rounding error of ``g[RH] + g[LH]``
        (a few 1e-9, depending on the CPU's last bits), not zero, even without any leak."""
        return torch.nonzero(g).flatten().tolist()

    g_rh, g_lh, g_head = grad_of(RH), grad_of(LH), grad_of(SKEL.index("Head"))
    assert seen(g_rh) == []
    assert seen(g_lh) == [RH]
    assert seen(g_head) == sorted([RH, LH])


# ------------------------------------------------------------------------------------ refinement
def test_refinement_restores_bone_lengths_and_stays_in_high_likelihood_voxels():
    rng = np.random.default_rng(3)
    n = 4
    observed_rot = rng.normal(0, 0.25, (n, 10, J, 3))
    observed = torch.as_tensor(poses_fk(observed_rot), dtype=torch.float32)
    # the sampled pose: another posture whose bones are 15-30 % too long or too short
    scale = np.where(rng.random((n, J, 1)) < 0.5, rng.uniform(0.7, 0.85, (n, J, 1)), rng.uniform(1.15, 1.3, (n, J, 1)))
    pose_rot = rng.normal(0, 0.4, (n, J, 3))
    truth = torch.as_tensor(poses_fk(pose_rot), dtype=torch.float32)
    start = torch.as_tensor(
        np.stack([poses_fk(pose_rot[i], SKEL.offsets * scale[i]) for i in range(n)]), dtype=torch.float32
    )
    # heatmaps (16^3, 2 m): a blob of sigma 1.5 voxels around each sampled joint
    centres = voxel_centres(16, 2.0)
    d2 = ((centres[None, None] - start[:, :, None]) ** 2).sum(-1) / (0.125**2)
    levels = torch.exp(-d2 / (2 * 1.5**2)).reshape(n, J, 16, 16, 16)
    before = bone_length_error(start, observed[:, -1], SKEL)
    result = refine_poses(start, observed, SKEL, levels, 2.0, RefineConfig())
    after = bone_length_error(result.poses, observed[:, -1], SKEL)
    assert bool((after < 0.2 * before).all()), (before, after)
    assert result.terms_after["bone"] < 0.2 * result.terms_before["bone"]
    # still where the heatmaps are high (on average within half a voxel of the sample) ...
    moved = (result.poses - start).norm(dim=-1)
    assert float(moved.mean()) < 0.0625
    h_after = interpolate_levels(levels, result.poses, 2.0)
    assert float(h_after.mean()) > 0.8 and float(h_after.min()) > 0.4
    # ... thanks to the heatmap term: without it the joints drift further from their voxels
    free = refine_poses(start, observed, SKEL, levels, 2.0, RefineConfig(heatmap_weight=0.0)).poses
    assert float(interpolate_levels(levels, free, 2.0).min()) < float(h_after.min())
    assert float((free - start).norm(dim=-1).mean()) > float(moved.mean())
    # and not collapsed onto the last observed pose: closer to the sampled posture than to it
    to_truth = (result.poses - truth).norm(dim=-1).mean()
    to_last = (result.poses - observed[:, -1]).norm(dim=-1).mean()
    assert float(to_truth) < 0.5 * float(to_last)


def test_refinement_terms_by_hand():
    # two joints on a toy chain: bone 0 -> 1 of observed length 1; the pose starts with length 2
    from posecast.skeletons.base import Skeleton

    toy = Skeleton(
        name="toy-chain", joint_names=("a", "b"), parents=(-1, 0), offsets=np.array([[0, 0, 0], [1, 0, 0.0]])
    )
    observed = torch.tensor([[[[0.0, 0, 0], [1.0, 0, 0]]] * 3])  # (1, 3, 2, 3)
    start = torch.tensor([[[0.0, 0, 0], [2.0, 0, 0]]])
    cfg = RefineConfig(end_effectors=["b"], steps=0)
    res = refine_poses(start, observed, toy, config=cfg)
    assert res.terms_before["bone"] == pytest.approx(1.0, abs=1e-6)  # w_b * |2 - 1|
    assert res.terms_before["closeness"] == pytest.approx(0.1 * 1.0)  # w_c * |2 - 1|_1
    assert res.terms_before["end_effector"] == 0.0 and res.terms_before["angle"] == 0.0
    assert torch.equal(res.poses, start)
    # only the bone term: the chain shrinks back to length 1
    only_bone = RefineConfig(end_effectors=[], closeness_weight=0, angle_weight=0, steps=300, lr=0.02)
    res = refine_poses(start, observed, toy, config=only_bone)
    assert float((res.poses[0, 1] - res.poses[0, 0]).norm()) == pytest.approx(1.0, abs=0.01)
    lb = refine_poses(start, observed, toy, config=only_bone.model_copy(update={"optimizer": "lbfgs", "lr": 1.0}))
    assert float((lb.poses[0, 1] - lb.poses[0, 0]).norm()) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(SkeletonError):
        refine_poses(torch.zeros(1, 3, 3), observed, toy)


def test_predict_keyposes_refines_in_the_canonical_frame():
    torch.manual_seed(0)
    net = CharPoseNet(tiny(refinement=RefineConfig(steps=30))).eval()
    obs = torch.as_tensor(synthetic_pairs(2)[0])
    raw = predict_keyposes(net, obs, samples=3, refine=False, generator=torch.Generator().manual_seed(2))
    ref = predict_keyposes(net, obs, samples=3, generator=torch.Generator().manual_seed(2))
    assert not raw.refined and ref.refined
    assert torch.equal(raw.voxels, ref.voxels) and torch.equal(raw.probabilities, ref.probabilities)
    assert not torch.equal(raw.poses, ref.poses)
    last = obs[:, -1] - obs[:, -1, :1]
    err_raw = bone_length_error(raw.poses, last[:, None].expand_as(raw.poses), SKEL)
    err_ref = bone_length_error(ref.poses, last[:, None].expand_as(ref.poses), SKEL)
    assert bool((err_ref < err_raw).all())
    with pytest.raises(ValueRangeError, match=r"\(B, 10, 31, 3\)"):
        sample_hypotheses(net, obs[:, :5])


def test_many_hypotheses_are_drawn_and_refined_in_chunks_with_the_same_result(monkeypatch):
    """K hypotheses are decoded at most `CHUNK_VOLUMES` heatmap volumes at a time and refined `REFINE_CHUNK` at a
    time (1,000 in one batch had needed 8.7 GB), and the chunks draw the voxels one batch draws for the same
    generator (`torch.multinomial` fills its random numbers row by row; positions to float rounding: the decoder
    in another batch size) and refine exactly as one batch (Adam moves each pose by its own terms); the timing
    proposals' belief of each picked candidate is the same computed 64 at a time."""
    from posecast.keyposes import sampling
    from posecast.keyposes.proposals import hypothesis_belief

    torch.manual_seed(0)
    net = CharPoseNet(tiny(refinement=RefineConfig(steps=5))).eval()
    obs = torch.as_tensor(synthetic_pairs(2)[0])
    decoded = []
    decode = net.decode
    monkeypatch.setattr(net, "decode", lambda feats: decoded.append(feats.shape[0] * feats.shape[1]) or decode(feats))
    whole = sampling.sample_hypotheses(net, obs, samples=70, generator=torch.Generator().manual_seed(3), chunk=None)
    assert max(decoded) == 2 * 70 * max(len(g) for g in net.groups)  # every chain of a group at once
    decoded.clear()
    parts = sampling.sample_hypotheses(net, obs, samples=70, generator=torch.Generator().manual_seed(3), chunk=40)
    assert max(decoded) <= 40 and len(decoded) > 2 * len(net.groups)
    decoded.clear()
    sampling.predict_keyposes(net, obs, samples=70, generator=torch.Generator().manual_seed(3))  # (forecasts)
    assert max(decoded) <= sampling.CHUNK_VOLUMES
    assert torch.equal(whole.voxels, parts.voxels)  # the same draws; the decoder's floats may round otherwise
    for name in ("poses", "probabilities", "log_likelihood", "levels"):  # in another batch size: a few 1e-7
        torch.testing.assert_close(getattr(whole, name), getattr(parts, name), rtol=1e-6, atol=1e-5, msg=name)
    monkeypatch.setattr(sampling, "REFINE_CHUNK", 16)  # 140 hypotheses: 9 chunks
    refined = sampling.refine_hypotheses(net, parts)
    obs_c = parts.observed_canonical[:, None].expand(2, 70, *parts.observed_canonical.shape[1:])
    at_once = refine_poses(
        parts.canonical, obs_c, net.skeleton, parts.levels, net.config.cube_size, net.config.refinement
    )
    assert torch.equal(refined.canonical, at_once.poses) and not torch.equal(refined.canonical, parts.canonical)
    cands = torch.randn(1, 150, J, 3, dtype=torch.float64)
    belief = torch.rand(1, 150, dtype=torch.float64)
    pick = torch.randperm(150)[None, :100]
    d = (cands[0, pick[0], None] - cands[0, None]).norm(dim=-1).mean(-1)  # (100, 150) by hand
    np.testing.assert_allclose(hypothesis_belief(cands, belief, pick, 0.05)[0], (belief * torch.exp(-d / 0.05)).sum(-1))


# ------------------------------------------------------------------------------------- real data
def test_real_cmu_bvh_pairs_train_sample_and_rotate_with_the_input(cmu_bvh_dir):
    import posecast
    from posecast.keyposes import build_pairs

    motion = posecast.load(cmu_bvh_dir / "01" / "01_01.bvh")[1:]
    pairs = build_pairs([motion], fps=25.0, observed=10, starts_per_key=1, seed=0)
    assert pairs.skeleton.same_layout(SKEL) and len(pairs) > 4
    obs, tgt = torch.as_tensor(pairs.observed[:8]), torch.as_tensor(pairs.target[:8])
    torch.manual_seed(0)
    net = CharPoseNet(tiny(refinement=RefineConfig(steps=20))).eval()
    loss, parts = charpose_loss(net, obs, tgt)
    assert torch.isfinite(loss) and parts["heatmap"] > 0
    # heading normalisation: turning the input about the vertical turns the hypotheses with it
    angle = 0.7
    c, s = math.cos(angle), math.sin(angle)
    yaw = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float32)
    a = predict_keyposes(net, obs, samples=3, generator=torch.Generator().manual_seed(0))
    b = predict_keyposes(net, obs @ yaw.T, samples=3, generator=torch.Generator().manual_seed(0))
    # the turned input is canonicalised back to the same frame only up to float rounding (heatmap levels
    # differ by ~2e-7, CPU-dependent), which can tip a voxel draw whose top two candidates tie to ~1e-5
    # (0 of 44,640 draws over 60 angles; at most ~0.5% of runs): at most one hypothesis may differ, the
    # others must have the same voxels and turned poses (refinement treats hypotheses independently)
    same = (a.voxels == b.voxels).all(-1)  # (B, K)
    assert int((~same).sum()) <= 1
    assert torch.allclose((a.poses @ yaw.T)[same], b.poses[same], atol=2e-3)
    assert bool(torch.isfinite(a.poses).all()) and a.poses.shape == (8, 3, J, 3)


def test_warmup_is_the_shared_loop_helper_and_cpu_yaml_matches_the_shipped_weights():
    from importlib.resources import files

    from posecast.training.loop import warmup_factor

    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0
    cfg = load_train_config(files("posecast") / "configs" / "charpose" / "cmu-bvh-cpu.yaml")
    shipped = json.loads((files("posecast") / "weights" / "charpose" / "cmu-bvh" / "config.json").read_text())
    assert shipped["config"] == cfg.network.model_dump()
    assert (cfg.network.grid_size, cfg.query_joints, cfg.batch_size) == (8, 8, 64)
    # the 8^3 grid keeps the paper's Gaussian width in metres: 1 voxel of 25 cm = 2 voxels of 12.5 cm
    assert cfg.network.sigma * cfg.network.voxel_size == pytest.approx(2.0 * 2.0 / 16)
