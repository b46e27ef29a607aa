"""Key-pose forecasting interface and benchmark: `posecast forecast --model charpose`, the pose classifier
and its inception-style score, the bench metrics and `run_bench` on a tiny subset, the shipped weights."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import posecast
from posecast import skeletons
from posecast.evaluation.protocols import keyposes as bench
from posecast.keyposes.classifier import (
    CLASSES,
    PoseClassifier,
    coarse_label,
    inception_score,
    load_classifier,
    save_classifier,
)
from posecast.keyposes.model import CharPoseConfig, CharPoseNet, save_charpose
from posecast.keyposes.refine import RefineConfig
from posecast.synthetic import synthetic_walk
from posecast.training.classifier import train_classifier

SKEL = skeletons.get("cmu-bvh-31")
J = SKEL.num_joints


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(**kw) -> CharPoseConfig:
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
        refinement=RefineConfig(steps=10),
    )
    base.update(kw)
    return CharPoseConfig(**base)


# ------------------------------------------------------------------------------------- classifier
def test_coarse_labels_of_cmu_descriptions():
    assert coarse_label("walk") == "locomotion" and coarse_label("run/jog") == "locomotion"
    assert coarse_label("slow walk/stride") == "locomotion"
    assert coarse_label("playground - forward jumps, turn around") == "playground"
    assert coarse_label("basketball - forward dribble, 90-degree left turns") == "basketball"
    assert coarse_label("dance - expressive arms, pirouette") == "dance"
    assert coarse_label("punch/strike") is None and coarse_label("swordplay") is None


def test_inception_score_by_hand():
    # confident and balanced over two classes: KL = log 2 for every sample -> IS = 2
    assert inception_score(np.array([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(2.0, rel=1e-6)
    # every sample the same distribution: IS = 1
    assert inception_score(np.array([[0.3, 0.7]] * 5)) == pytest.approx(1.0)
    # p1 = (0.9, 0.1), p2 = (0.5, 0.5): marginal (0.7, 0.3)
    p = np.array([[0.9, 0.1], [0.5, 0.5]])
    m = p.mean(0)
    kl = (p * np.log(p / m)).sum(1).mean()
    assert inception_score(p) == pytest.approx(math.exp(kl))
    with pytest.raises(posecast.errors.ValueRangeError):
        inception_score(np.zeros((0, 3)))


def test_classifier_learns_separable_poses_and_round_trips(tmp_path):
    walk = synthetic_walk(seconds=2.0, fps=25.0).positions
    crouch = walk.copy()
    crouch[:, 1:, 1] *= 0.5  # squashed bodies: a second, clearly different class
    poses = np.concatenate([walk, crouch]).astype(np.float32)
    labels = np.repeat([0, 2], len(walk))
    net = train_classifier(poses, labels, SKEL, hidden=32, epochs=30, batch_size=32)
    pred = net.probabilities(torch.as_tensor(poses)).argmax(-1).numpy()
    assert (pred == labels).mean() > 0.95
    save_classifier(net, tmp_path / "cls", {"note": "test"})
    again = load_classifier(tmp_path / "cls")
    assert again.classes == CLASSES
    torch.testing.assert_close(again.probabilities(torch.as_tensor(poses)), net.probabilities(torch.as_tensor(poses)))
    with pytest.raises(posecast.errors.ModelError):
        load_classifier(tmp_path / "missing")


# ---------------------------------------------------------------------------------------- metrics
def test_mpjpe_and_diversity_by_hand():
    target = torch.zeros(1, J, 3)
    hyp = torch.zeros(1, 3, J, 3)
    hyp[0, 1, :, 0] = 0.1  # every joint 10 cm off
    hyp[0, 2, :, 1] = 0.3
    assert bench.mpjpe(hyp, target)[0].tolist() == pytest.approx([0.0, 0.1, 0.3])
    # pairs: (0,1) 0.1, (0,2) 0.3, (1,2) sqrt(0.1^2 + 0.3^2)
    want = (0.1 + 0.3 + math.hypot(0.1, 0.3)) / 3
    assert float(bench.diversity(hyp)[0]) == pytest.approx(want)
    assert float(bench.diversity(hyp[:, :1])[0]) == 0.0


def test_ablation_switches_are_restored():
    torch.manual_seed(0)
    net = CharPoseNet(tiny()).eval()
    groups, off = net.groups, net.offset_out
    with bench.ablated(net, offsets=False, autoregressive=False):
        assert net.offset_out is None and net.groups == [list(range(J))]
        obs = torch.as_tensor(synthetic_walk(seconds=0.4, fps=25.0).positions[None, :10], dtype=torch.float32)
        h = bench.sample_hypotheses(net, obs, samples=2, generator=torch.Generator().manual_seed(0))
        # no offsets: every joint sits exactly at its voxel's centre
        torch.testing.assert_close(h.canonical, net.centres[h.voxels])
    assert net.groups is groups and net.offset_out is off


# ------------------------------------------------------------------------------------- the bench
def _tiny_motions() -> list[posecast.Motion]:
    return [synthetic_walk(seconds=3.0, fps=60.0, speed=s, cadence=c) for s, c in ((1.2, 0.9), (1.0, 0.7))]


def test_run_bench_on_a_tiny_subset_has_every_key():
    torch.manual_seed(0)
    motions = _tiny_motions()
    data = bench.bench_data(motions, history=12, starts="evaluation", max_keys=2)
    assert len(data) == 10 and data.history.shape == (10, 12, J, 3)
    # the history ends on the last observed frame (root-relative windows come from the same frames)
    last_world = data.history[:, -1]
    np.testing.assert_allclose(last_world - last_world[:, :1], data.pairs.observed[:, -1], atol=1e-5)
    train = bench.bench_data(motions, history=12, starts="random", starts_per_key=2, seed=1)

    def constant_velocity(history: torch.Tensor, frames: int) -> torch.Tensor:
        v = history[:, -1] - history[:, -2]
        return history[:, -1:] + v[:, None] * torch.arange(1, frames + 1)[None, :, None, None]

    seq = bench.fit_sequence_baseline("cv", constant_velocity, train, fps=25.0, seconds=0.4, steps=5)
    classifier = PoseClassifier(SKEL, hidden=8)
    small = dict(grid_size=4, decoder_start=1, decoder_channels=[4, 4, 4], decoder_convs=[0, 0, 0])
    net = CharPoseNet(tiny(**small)).eval()
    reg = CharPoseNet(tiny(head="regression")).eval()
    result = bench.run_bench(
        data,
        net=net,
        classifier=classifier,
        mean_keypose=bench.average_keypose(train.pairs),
        regression=reg,
        sequence=seq,
        samples=50,
    )
    json.dumps(result)  # JSON-ready
    assert set(result) >= {"best_of_10_vs_best_deterministic", "best_deterministic", "goal", "protocol", "methods"}
    names = {
        "charpose",
        "charpose, not refined",
        "charpose, no offsets",
        "charpose, not autoregressive",
        "zero-velocity",
        "average key pose",
        "regression head",
        "cv + selector",
        "cv, oracle frame (reference)",
    }
    assert set(result["methods"]) == names
    for name, m in result["methods"].items():
        for key in ("best_of_10_mpjpe_m", "diversity_m", "bone_length_error_m", "quality_is"):
            assert math.isfinite(m[key]), key
        assert set(m["per_start"]) == {"start", "one-third", "middle", "two-thirds", "latest"}
        if name.endswith(("no offsets", "not autoregressive")):  # ablations: 10 draws, no best-of-50
            assert m["hypotheses"] == 10 and "best_of_50_mpjpe_m" not in m
        else:
            assert m["best_of_50_mpjpe_m"] <= m["best_of_10_mpjpe_m"] + 1e-9
    full = result["methods"]["charpose"]
    assert full["hypotheses"] == 50 and result["methods"]["zero-velocity"]["diversity_m"] == 0.0
    det = [v["best_of_10_mpjpe_m"] for v in result["methods"].values() if v["kind"] == "deterministic"]
    assert result["best_of_10_vs_best_deterministic"] == pytest.approx(full["best_of_10_mpjpe_m"] / min(det))
    # zero-velocity by hand: the last observed pose against the key pose
    p = data.pairs
    zv = np.linalg.norm(p.observed[:, -1] - p.target, axis=-1).mean(-1)
    assert result["methods"]["zero-velocity"]["best_of_10_mpjpe_m"] == pytest.approx(zv.mean(), rel=1e-5)
    # the oracle frame is at least as close as the selected one on every input
    assert (
        result["methods"]["cv, oracle frame (reference)"]["best_of_10_mpjpe_m"]
        <= result["methods"]["cv + selector"]["best_of_10_mpjpe_m"] + 1e-9
    )
    md = bench.markdown(result)
    assert "| charpose |" in md and "best deterministic" in md


# ---------------------------------------------------------------------------------- forecast CLI
def test_forecast_cli_writes_json_npz_html_with_k_hypotheses(cli, tmp_path):
    torch.manual_seed(0)
    net = CharPoseNet(tiny())
    save_charpose(net, tmp_path / "w")
    clip = tmp_path / "walk.npz"
    motion = synthetic_walk(seconds=3.0, fps=30.0)
    posecast.save(motion, clip)
    outs = [tmp_path / "f.json", tmp_path / "f.npz", tmp_path / "f.html"]
    args = [
        "forecast",
        str(clip),
        "--model",
        "charpose",
        "--samples",
        "6",
        "--at",
        "1.0",
        "--weights",
        str(tmp_path / "w"),
    ]
    code, stdout, err = cli(*args, *[a for o in outs for a in ("--out", str(o))])
    assert code == 0, err
    d = json.loads(outs[0].read_text())
    assert len(d["hypotheses"]) == 6 and d["skeleton"] == "cmu-bvh-31" and len(d["joint_names"]) == J
    probs = [h["probability"] for h in d["hypotheses"]]
    assert sum(probs) == pytest.approx(1.0) and probs == sorted(probs, reverse=True)
    obs = np.array(d["observed"])
    assert obs.shape == (10, J, 3)
    # the observed window ends at --at: the clip at 25 fps, frames 16..25
    np.testing.assert_allclose(obs, motion.resample_rigid(25.0).positions[16:26], atol=1e-5)
    h0 = d["hypotheses"][0]
    lift = d["grounded_m"][0] * np.array(d["up_vector"])  # placed at the root, then stood on the observed floor
    np.testing.assert_allclose(np.array(h0["positions"]) - lift - obs[-1, 0], h0["root_relative"], atol=2e-6)
    assert np.array(h0["positions"])[:, 1].min() == pytest.approx(d["floor_m"], abs=1e-5)
    truth = d["true_keypose"]
    keys = posecast.keyposes.mine_keyposes(motion)
    assert truth is not None and truth["frame"] == next(k.frame for k in keys if k.time > 1.0 + 0.02)
    assert truth["best_of_k_mpjpe_m"] == pytest.approx(min(h["mpjpe_m"] for h in d["hypotheses"]))
    with np.load(outs[1], allow_pickle=False) as z:
        assert z["hypotheses"].shape == (6, J, 3) and z["probabilities"].sum() == pytest.approx(1.0)
        assert z["observed"].shape == (10, J, 3) and str(z["skeleton"]) == "cmu-bvh-31"
        assert z["true_keypose"].shape == (J, 3) and list(z["joint_names"]) == list(SKEL.joint_names)
    html = outs[2].read_text()
    assert "6 key-pose hypotheses after t = 1.00 s" in html and "true next key pose at t = " in html
    # errors: one line, exit 2, nothing written
    code, _, err = cli("forecast", str(clip), "--model", "charpose", "--at", "0.1", "--weights", str(tmp_path / "w"))
    assert code == 2 and "observes 10" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("forecast", str(clip), "--model", "charpose", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and "cannot write .csv" in err


# ------------------------------------------------------------------------------------ shipped weights
def test_shipped_weights_load_and_forecast_a_real_cmu_file(cli, cmu_bvh_dir, tmp_path):
    net = posecast.models.get("charpose").net  # the default weights: charpose/corpus on the canonical body
    assert net.skeleton.name == "smplh-22" and net.config.grid_size == 16 and net.config.refine
    assert posecast.models.get("charpose", "cmu-bvh").net.skeleton.name == "cmu-bvh-31"
    out = tmp_path / "f.json"
    code, _, err = cli(
        "forecast", str(cmu_bvh_dir / "02" / "02_05.bvh"), "--model", "charpose", "--samples", "10", "--at", "3.0",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    d = json.loads(out.read_text())
    assert len(d["hypotheses"]) == 10 and sum(h["probability"] for h in d["hypotheses"]) == pytest.approx(1.0)
    assert d["true_keypose"] is not None
    # a trained model lands near the true key pose (a loose bound: 25 cm best-of-10)
    assert d["true_keypose"]["best_of_k_mpjpe_m"] < 0.25
    rel = np.array([h["root_relative"] for h in d["hypotheses"]])
    # hip-centred frame of the last observed frame: the predicted hip (a heatmap too) lies near the origin,
    # within half a 12.5 cm voxel for the most probable hypothesis, within a few voxels for the unlikely ones
    assert np.abs(rel[0, 0]).max() < 0.0625 and np.abs(rel[:, 0]).max() < 0.4
    cls = load_classifier(posecast.models.store.shipped("keypose-classifier", "cmu-bvh"))
    assert cls.classes == CLASSES


# ------------------------------------------------------------------------------- the corpus protocol
def _pairs(rows, datasets, labels, *, starts=None, observed=None, target=None, skeleton=SKEL):
    """KeyPosePairs from ``rows`` of (motion, key frame) per pair; ``datasets``/``labels`` per motion."""
    from posecast.keyposes.dataset import KeyPosePairs

    n, j = len(rows), skeleton.num_joints
    table = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return KeyPosePairs(
        observed=np.zeros((n, 2, j, 3), np.float32) if observed is None else observed,
        target=np.zeros((n, j, 3), np.float32) if target is None else target,
        motion_index=table[:, 0],
        start_frame=np.zeros(n, np.int64),
        key_frame=table[:, 1],
        time_to_key=np.ones(n),
        start_kind=np.array(starts or ["start"] * n, dtype=str),
        files=tuple(f"f{i}" for i in range(len(datasets))),
        key_frames=tuple(np.zeros(0, np.int64) for _ in datasets),
        skeleton=skeleton,
        fps=25.0,
        datasets=tuple(datasets),
        labels=tuple(labels),
    )


def test_equal_weight_averages_starts_then_key_poses_then_data_sets():
    # motion 0 (A, class x): key 10 with inputs 1, 3; motion 1 (A, class y): key 5 with input 6;
    # motion 2 (B, class x): key 7 with inputs 10, 20, 30
    pairs = _pairs([(0, 10), (0, 10), (1, 5), (2, 7), (2, 7), (2, 7)], ["A", "A", "B"], ["x", "y", "x"])
    r = bench.equal_weight(np.array([1.0, 3.0, 6.0, 10.0, 20.0, 30.0]), pairs)
    # per key: 2, 6, 20; A = (2 + 6) / 2 = 4, B = 20; overall (4 + 20) / 2 = 12 (not the pair mean 11.67
    # nor the key mean 9.33)
    assert r["datasets"] == {"A": 4.0, "B": 20.0} and r["overall"] == 12.0
    assert r["classes"] == {"A": {"x": 2.0, "y": 6.0}, "B": {"x": 20.0}}
    assert r["key_poses"] == {"A": {"x": 1, "y": 1}, "B": {"x": 1}}
    assert bench.key_ids(pairs).tolist() == [0, 0, 1, 2, 2, 2]
    with pytest.raises(posecast.errors.ValueRangeError):
        bench.equal_weight(np.ones(3), pairs)


def test_top1_is_the_most_probable_of_the_first_ten():
    pairs = _pairs([(0, 1), (0, 1)], ["A"], ["x"])
    data = bench.BenchData(pairs, np.zeros((2, 1, J, 3), np.float32))
    poses = torch.zeros(2, 12, J, 3)
    poses[:, :, :, 0] = torch.arange(12, dtype=torch.float32)[None, :, None] / 100  # hypothesis k is k cm off
    prob = torch.full((2, 12), 0.01)
    prob[0, 4] = 0.5  # input 0: hypothesis 4 is the most probable
    prob[1, 7], prob[1, 11] = 0.3, 0.6  # input 1: 11 is more probable but not among the first 10
    m = bench.input_metrics(poses, prob, data, ks=(10,))
    np.testing.assert_allclose(m["top1_mpjpe_m"], [0.04, 0.07], rtol=1e-6)
    np.testing.assert_allclose(m["best_of_10_mpjpe_m"], [0.0, 0.0])
    np.testing.assert_allclose(m["mean_mpjpe_m"], [0.045, 0.045], rtol=1e-6)
    # a deterministic method: its one pose is its top-1 and its best-of-K for every K
    one = bench.input_metrics(poses[:, 3:4], None, data, ks=(10, 50))
    np.testing.assert_allclose(one["top1_mpjpe_m"], [0.03, 0.03], rtol=1e-6)
    np.testing.assert_allclose(one["best_of_50_mpjpe_m"], [0.03, 0.03], rtol=1e-6)
    assert (one["diversity_m"] == 0).all()


def test_select_keys_caps_each_class_of_the_capped_data_set_evenly():
    # bandai: walk keys 0..6 (7), bow keys 0..1 (2), two starts each; cmu_bvh: 5 keys, one start each
    rows = [(0, k) for k in range(7) for _ in range(2)] + [(1, k) for k in range(2) for _ in range(2)]
    rows += [(2, k) for k in range(5)]
    pairs = _pairs(rows, ["bandai_namco", "bandai_namco", "cmu_bvh"], ["walk", "bow", "walk"])
    keep, counts = bench.select_keys(pairs, max_keys_per_class=3)
    kept = sorted({(int(pairs.motion_index[i]), int(pairs.key_frame[i])) for i in keep})
    # walk: 3 of 7 evenly spread -> keys 0, 3, 6; bow and every cmu_bvh key stay
    assert kept == [(0, 0), (0, 3), (0, 6), (1, 0), (1, 1)] + [(2, k) for k in range(5)]
    assert len(keep) == 3 * 2 + 2 * 2 + 5  # every start of a kept key pose
    assert counts == {
        "bandai_namco": {"bow": {"available": 2, "evaluated": 2}, "walk": {"available": 7, "evaluated": 3}},
        "cmu_bvh": {"walk": {"available": 5, "evaluated": 5}},
    }
    # a quick run: at most ceil(4 / 2) = 2 key poses per data set, evenly spread
    keep, counts = bench.select_keys(pairs, max_keys_per_class=3, max_keys=4)
    kept = sorted({(int(pairs.motion_index[i]), int(pairs.key_frame[i])) for i in keep})
    assert kept == [(0, 0), (1, 1), (2, 0), (2, 4)]
    assert counts["cmu_bvh"]["walk"] == {"available": 5, "evaluated": 2}


def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]], np.float32)


def test_nearest_key_pose_retrieves_a_rotated_window_and_rotates_its_key_pose():
    train = bench.bench_data(_tiny_motions(), history=2, starts="random", starts_per_key=3, seed=0).pairs
    index = bench.NearestKeyPose.fit(train)
    assert len(index) == len(train)
    i = len(train) // 2
    r = _rot_y(70.0)
    query = train.observed[i : i + 1] @ r.T  # the same window turned 70 degrees about the vertical
    pred = index.predict(query)
    np.testing.assert_allclose(pred[0, 0].numpy(), train.target[i] @ r.T, atol=1e-4)
    # unturned it answers with its own key pose, in its own orientation
    np.testing.assert_allclose(index.predict(train.observed[i : i + 1])[0, 0].numpy(), train.target[i], atol=1e-4)
    # neighbours have distinct key poses, nearest first (the window itself)
    idx, _ = index.neighbours(query, 3)
    assert idx[0, 0] == i and len(set(index.key[idx[0]].tolist())) == 3
    # spread: mean pairwise MPJPE of those key poses, each in the canonical frame of its own window
    from posecast.keyposes.model import canonicalise

    _, k, _ = canonicalise(
        torch.as_tensor(train.observed[idx[0]]), SKEL, "heading", torch.as_tensor(train.target[idx[0]])
    )
    want = np.mean([float((k[a] - k[b]).norm(dim=-1).mean()) for a, b in ((0, 1), (0, 2), (1, 2))])
    assert index.spread(query, 3)[0] == pytest.approx(want, rel=1e-4)


def _corpus_tiny() -> tuple[bench.BenchData, bench.BenchData]:
    from dataclasses import replace

    motions = _tiny_motions() + [synthetic_walk(seconds=3.0, fps=60.0, speed=0.8, cadence=0.8)]
    sets, labels = ("cmu_bvh", "cmu_bvh", "hdm05_cuts"), ("walk", "run", "jog")
    test = bench.bench_data(motions, history=12, starts="evaluation")
    test = bench.BenchData(replace(test.pairs, datasets=sets, labels=labels), test.history)
    keep, _ = bench.select_keys(test.pairs, max_keys=4)
    test = bench.BenchData(test.pairs.subset(keep), test.history[keep])
    train = bench.bench_data(motions, history=12, starts="random", starts_per_key=2, seed=1)
    return test, bench.BenchData(replace(train.pairs, datasets=sets, labels=labels), train.history)


def test_run_corpus_bench_on_a_tiny_subset():
    torch.manual_seed(0)
    data, train = _corpus_tiny()
    p = data.pairs

    def constant_velocity(history: torch.Tensor, frames: int) -> torch.Tensor:
        v = history[:, -1] - history[:, -2]
        return history[:, -1:] + v[:, None] * torch.arange(1, frames + 1)[None, :, None, None]

    small = dict(grid_size=4, decoder_start=1, decoder_channels=[4, 4, 4], decoder_convs=[0, 0, 0])
    from types import SimpleNamespace

    from posecast.keyposes.proposals import FrameSelector, ProposalSettings, TimingProposals

    toy = SimpleNamespace(config=SimpleNamespace(fps=25.0, history=12), rollout=constant_velocity)
    proposals = TimingProposals(ProposalSettings(seconds=0.4), FrameSelector(SKEL.num_joints, 8), forecaster=toy)
    result = bench.run_corpus_bench(
        data,
        net=CharPoseNet(tiny(**small, refinement=RefineConfig(steps=2))).eval(),
        mean_keypose=bench.average_keypose(train.pairs),
        nearest=bench.NearestKeyPose.fit(train.pairs),
        classifier=PoseClassifier(SKEL, ("walk", "run", "jog"), hidden=8),
        regression=CharPoseNet(tiny(head="regression")).eval(),
        sequence=bench.fit_sequence_baseline("cv", constant_velocity, train, fps=25.0, seconds=0.4, steps=3),
        spread_neighbours=2,
        notes=["a note"],
        proposals=proposals,
    )
    json.dumps(result)  # JSON-ready
    methods = result["methods"]
    assert list(methods) == [
        "charpose, heatmap draws only",
        "charpose",
        "charpose, rollout frames only",
        "regression head",
        "cv + selector",
        "cv, oracle frame (reference)",
        "nearest training key pose",
        "zero-velocity",
        "average key pose",
    ]
    full = methods["charpose"]
    assert full["hypotheses"] == 10 and "best_of_50_mpjpe_m" not in full
    assert 0.1 <= full["rollout_share"] <= 1.0  # the selector's frame is always among them
    assert result["protocol"]["timing_proposals"]["seconds"] == pytest.approx(0.4)
    assert methods["charpose, heatmap draws only"]["hypotheses"] == 10
    # probabilities are the belief near each hypothesis (draws included), so the top-1 of the full merge and
    # that of the rollout frames alone may differ
    only = methods["charpose, rollout frames only"]
    assert only["best_of_10_mpjpe_m"] <= only["top1_mpjpe_m"]
    assert full["best_of_10_mpjpe_m"] <= full["top1_mpjpe_m"] <= full["best_of_10_mpjpe_m"] + 10.0
    det = {n: m["best_of_10_mpjpe_m"] for n, m in methods.items() if m["kind"] == "deterministic"}
    assert result["best_deterministic"] == min(det, key=det.__getitem__)
    assert result["best_of_10_vs_best_deterministic"] == pytest.approx(full["best_of_10_mpjpe_m"] / min(det.values()))
    assert result["top1_vs_best_deterministic"] == pytest.approx(full["top1_mpjpe_m"] / min(det.values()))
    # zero-velocity by hand: per key the mean over its 5 starts, per data set over key poses, then over sets
    zv = np.linalg.norm(p.observed[:, -1] - p.target, axis=-1).mean(-1)
    kid = bench.key_ids(p)
    per_key = np.array([zv[kid == k].mean() for k in range(kid.max() + 1)])
    key_set = np.array([p.datasets[p.motion_index[kid == k][0]] for k in range(kid.max() + 1)])
    want = np.mean([per_key[key_set == d].mean() for d in ("cmu_bvh", "hdm05_cuts")])
    assert methods["zero-velocity"]["best_of_10_mpjpe_m"] == pytest.approx(want, rel=1e-5)
    assert methods["zero-velocity"]["top1_mpjpe_m"] == pytest.approx(want, rel=1e-5)
    # 4 key poses spread over 2 data sets: 2 each; per-class rows carry the counts and every method
    proto = result["protocol"]
    assert proto["key_poses"] == 4 and proto["key_poses_per_dataset"] == {"cmu_bvh": 2, "hdm05_cuts": 2}
    assert proto["inputs"] == 20 and proto["notes"] == ["a note"]
    assert sum(r["key_poses"] for r in result["per_class"]) == 4
    assert {(r["dataset"], r["class"]) for r in result["per_class"]} <= {
        ("cmu_bvh", "walk"),
        ("cmu_bvh", "run"),
        ("hdm05_cuts", "jog"),
    }
    for row in result["per_class"]:
        assert set(row["methods"]) == set(methods) and row["true_spread_m"] >= 0
    truth = result["ground_truth"]
    assert truth["spread_of_similar_observations_m"] > 0 and math.isfinite(truth["quality_is"])
    assert result["diversity_vs_true_spread"] == pytest.approx(
        full["diversity_m"] / truth["spread_of_similar_observations_m"]
    )
    assert set(result["goal"]) == {
        "best_of_10_at_least_26_percent_below_best_deterministic",
        "top1_not_worse_than_best_deterministic",
        "bone_length_error_under_1_cm",
        "diversity_of_the_order_of_true_spread",
    }
    for m in methods.values():
        assert set(m["per_dataset"]) == {"cmu_bvh", "hdm05_cuts"} and math.isfinite(m["quality_is"])
        assert set(m["per_start"]) == {"start", "one-third", "middle", "two-thirds", "latest"}
    md = bench.corpus_markdown(result)
    assert "| charpose | multi-hypothesis |" in md and "| hdm05_cuts | jog |" in md and "a note" in md


def test_corpus_bench_refuses_a_model_on_another_body(cli, tmp_path):
    save_charpose(CharPoseNet(tiny()), tmp_path / "w")  # cmu-bvh-31 weights
    code, _, err = cli("bench", "keyposes", "--weights", str(tmp_path / "w"))
    assert code == 2 and "smplh-22" in err and "--protocol cmu-bvh" in err
    code, _, err = cli("bench", "keyposes", "--protocol", "h36m")
    assert code == 2 and "--protocol must be corpus or cmu-bvh" in err
    code, _, err = cli("bench", "keyposes", "--samples", "5", "--weights", str(tmp_path / "w"))
    assert code == 2 and "at least 10" in err


def test_corpus_evaluation_data_on_real_files(posecast_data):
    data, counts = bench.corpus_evaluation_data("test", max_files=2, max_keys_per_class=2)
    p = data.pairs
    assert p.skeleton.name == "smplh-22" and set(p.datasets) == {"cmu_bvh", "bandai_namco", "hdm05_cuts"}
    kid = bench.key_ids(p)
    assert (np.bincount(kid) == 5).all()  # the five evaluation starts of every kept key pose
    ds, lab = p.pair_values(p.datasets), p.pair_values(p.labels)
    for d, classes in counts.items():
        for c, n in classes.items():
            assert n["evaluated"] == len(set(kid[(ds == d) & (lab == c)].tolist()))
            assert n["evaluated"] == (min(n["available"], 2) if d == "bandai_namco" else n["available"])
    # the history ends on the last observed frame
    last = data.history[:, -1]
    np.testing.assert_allclose(last - last[:, :1], p.observed[:, -1], atol=1e-5)
