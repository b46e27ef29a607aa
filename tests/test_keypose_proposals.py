"""Timing proposals of charpose (`posecast.keyposes.proposals`): bone lengths, the greedy cover, the merge,
the selector's training, storage, and the shipped weights on a real file."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from posecast import skeletons
from posecast.errors import ModelError, ValueRangeError
from posecast.keyposes import proposals as P

SKEL = skeletons.get("smplh-22")


def _chain():
    """A 3-joint chain 0 -> 1 -> 2."""
    from posecast.skeletons.base import Skeleton

    return Skeleton(name="chain3", joint_names=("a", "b", "c"), parents=(-1, 0, 1))


def test_keep_bone_lengths_by_hand():
    skel = _chain()
    ref = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 3.0, 0.0]])  # lengths 1 and 2
    pose = torch.tensor([[[1.0, 1.0, 1.0], [4.0, 1.0, 1.0], [4.0, 1.0, 2.0]]])  # lengths 3 (+x), 1 (+z)
    out = P.keep_bone_lengths(pose, ref, skel)
    want = torch.tensor([[[1.0, 1.0, 1.0], [2.0, 1.0, 1.0], [2.0, 1.0, 3.0]]])  # root kept, +x by 1, +z by 2
    torch.testing.assert_close(out, want)
    # a bone of zero length points up with the reference length
    flat = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    torch.testing.assert_close(P.keep_bone_lengths(flat, ref, skel)[0, 1], torch.tensor([0.0, 1.0, 0.0]))


def test_facility_pick_covers_both_clusters_by_hand():
    # one joint; candidates at x = 0, 0.1, 5, 5.1 (two clusters); uniform belief, k = 2: one per cluster
    x = torch.tensor([0.0, 0.1, 5.0, 5.1])
    cands = torch.zeros(1, 4, 1, 3)
    cands[0, :, 0, 0] = x
    pick = P.facility_pick(cands, torch.full((1, 4), 0.25), 2)
    assert sorted(int(i) // 2 for i in pick[0]) == [0, 1]
    # first given: kept first; belief on the right cluster only -> the second pick stays there
    bel = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    pick = P.facility_pick(cands, bel, 2, first=torch.tensor([0]))
    assert int(pick[0, 0]) == 0 and int(pick[0, 1]) in (2, 3)
    # greedy step by hand: with the first at 0, adding 2 leaves 0.5 * 0 + 0.5 * 0.1, adding 3 the same -> 2
    assert int(pick[0, 1]) == 2
    with pytest.raises(ValueRangeError):
        P.facility_pick(cands, bel, 5)


def _settings(**kw):
    return P.ProposalSettings(**{"seconds": 0.4, "steps": 30, "batch_size": 8, "hidden": 8, **kw})


def test_merge_puts_the_selector_pick_first_and_flags_sources():
    torch.manual_seed(0)
    n, f, k, j = 3, 10, 4, SKEL.num_joints
    rest = torch.as_tensor(SKEL.rest_positions(), dtype=torch.float32)
    rollout = rest + 0.05 * torch.randn(n, f, j, 3)
    draws = rest + 0.05 * torch.randn(n, k, j, 3)
    scores = torch.randn(n, f)
    poses, prob, source = P.merge(
        rollout, scores, draws, rest.expand(n, j, 3), SKEL, _settings(weight=0.85, probability_scale=0.0)
    )
    assert poses.shape == (n, k, j, 3) and prob.shape == (n, k) and source.shape == (n, k)
    torch.testing.assert_close(prob.sum(-1), torch.ones(n))
    assert bool((prob[:, :-1] >= prob[:, 1:]).all())  # most probable first
    assert bool(source[:, 0].all())  # the selector's arg-max frame is the top hypothesis
    best = scores.argmax(-1)
    fixed = P.keep_bone_lengths(rollout, rest.expand(n, 1, j, 3), SKEL)
    torch.testing.assert_close(poses[:, 0], fixed[torch.arange(n), best])
    # every rollout frame got the bone lengths of the last observed pose
    from posecast.keyposes.refine import bone_length_error

    assert float(bone_length_error(poses[source], rest.expand(int(source.sum()), j, 3), SKEL).max()) < 1e-5
    # weight 0: only the arg-max frame comes from the rollout (it has no belief: last, probability 0)
    _, p0, src0 = P.merge(
        rollout, scores, draws, rest.expand(n, j, 3), SKEL, _settings(weight=0.0, probability_scale=0.0)
    )
    assert bool(src0[:, -1].all()) and not bool(src0[:, :-1].any())
    torch.testing.assert_close(p0[:, -1], torch.zeros(n))
    # the shipped kind of probability (belief near each hypothesis): same hypotheses, other order and weights
    poses_s, prob_s, _ = P.merge(rollout, scores, draws, rest.expand(n, j, 3), SKEL, _settings(weight=0.85))
    torch.testing.assert_close(prob_s.sum(-1), torch.ones(n))
    assert bool((prob_s[:, :-1] >= prob_s[:, 1:]).all())
    for i in range(n):  # the same set of poses, reordered
        d = (poses_s[i][:, None] - poses[i][None]).abs().amax(dim=(-1, -2))
        assert bool((d.min(-1).values < 1e-6).all())


def test_hypothesis_belief_by_hand():
    # one joint; candidates at x = 0, 0.1, 1.0 with beliefs 0.2, 0.3, 0.5; picks 0 and 2
    cands = torch.zeros(1, 3, 1, 3, dtype=torch.float64)
    cands[0, :, 0, 0] = torch.tensor([0.0, 0.1, 1.0])
    bel = torch.tensor([[0.2, 0.3, 0.5]], dtype=torch.float64)
    pick = torch.tensor([[0, 2]])
    torch.testing.assert_close(
        P.hypothesis_belief(cands, bel, pick, 0.0), torch.tensor([[0.2, 0.5]], dtype=torch.float64)
    )
    s = 0.05
    want0 = 0.2 + 0.3 * np.exp(-0.1 / s) + 0.5 * np.exp(-1.0 / s)
    want2 = 0.2 * np.exp(-1.0 / s) + 0.3 * np.exp(-0.9 / s) + 0.5
    torch.testing.assert_close(
        P.hypothesis_belief(cands, bel, pick, s), torch.tensor([[want0, want2]], dtype=torch.float64)
    )
    # a wide scale: the hypothesis among the most belief wins over the single most believed candidate
    cands[0, :, 0, 0] = torch.tensor([0.0, 0.05, 3.0])
    bel = torch.tensor([[0.3, 0.3, 0.4]], dtype=torch.float64)
    near = P.hypothesis_belief(cands, bel, torch.tensor([[0, 2]]), 0.5)
    assert float(near[0, 0]) > float(near[0, 1])


def _toy_forecaster(fps=25.0, history=6):
    def rollout(window, frames):
        v = window[:, -1] - window[:, -2]
        return window[:, -1:] + v[:, None] * torch.arange(1, frames + 1)[None, :, None, None]

    return SimpleNamespace(config=SimpleNamespace(fps=fps, history=history), rollout=rollout)


def test_selector_learns_a_fixed_frame_and_round_trips(tmp_path):
    """Key poses that are always the rollout's 4th frame: the trained selector picks it; stored and loaded
    it scores the same."""
    from posecast.keyposes.dataset import build_pairs, pair_history
    from posecast.keyposes.model import CharPoseConfig, CharPoseNet, save_charpose
    from posecast.synthetic import synthetic_walk

    motions = [synthetic_walk(seconds=3.0, fps=25.0, speed=s) for s in (0.8, 1.2)]
    pairs = build_pairs(motions, fps=25.0, observed=4, starts="random", starts_per_key=4, seed=0)
    fc = _toy_forecaster()
    histories = pair_history(pairs, motions, 6)
    roll = fc.rollout(torch.as_tensor(histories), 10)
    # make the 4th rolled-out frame the key pose of every pair
    from dataclasses import replace

    tgt = (roll[:, 3] - roll[:, 3, :1]).numpy()
    pairs = replace(pairs, target=tgt.astype(np.float32))
    settings = _settings(steps=800, batch_size=64, hidden=16)
    prop = P.fit_proposals(settings, pairs.skeleton, 25.0, 4, pairs, histories, forecaster=fc)
    assert prop.training["train_exact_frame_accuracy"] > 0.9
    frames, s = prop.scores(
        prop.rollout(torch.as_tensor(histories), 25.0), torch.as_tensor(pairs.observed), pairs.skeleton, 25.0
    )
    assert float((s.argmax(-1) == 3).float().mean()) > 0.9
    torch.testing.assert_close(frames[:, 3], torch.as_tensor(tgt), atol=1e-4, rtol=0)
    # stored with a charpose network and read back
    net = CharPoseNet(
        CharPoseConfig(
            skeleton=pairs.skeleton.name,
            observed=4,
            grid_size=4,
            decoder_start=1,
            decoder_channels=[4, 4, 4],
            decoder_convs=[0, 0, 0],
        ),
        pairs.skeleton,
    )
    save_charpose(net, tmp_path, "charpose")
    assert P.proposals_of(tmp_path, pairs.skeleton.num_joints) is None
    P.attach(tmp_path, prop)
    meta = json.loads((tmp_path / "config.json").read_text())
    assert meta["proposals"]["settings"]["hidden"] == 16 and meta["proposals"]["training"]["pairs"] == len(pairs)
    back = P.proposals_of(tmp_path, pairs.skeleton.num_joints)
    assert back is not None
    roll_c, last_c, _ = P.canonical_rollout(roll, torch.as_tensor(pairs.observed), pairs.skeleton)
    times = P.frame_times(10, 25.0)
    torch.testing.assert_close(back.selector(roll_c, last_c, times), prop.selector(roll_c, last_c, times))
    (tmp_path / P.WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ModelError, match="timing proposals"):
        P.proposals_of(tmp_path, pairs.skeleton.num_joints)


def test_short_history_is_padded_with_its_first_frame():
    fc = _toy_forecaster(history=6)
    prop = P.TimingProposals(_settings(), P.FrameSelector(2, 4), forecaster=fc)
    hist = torch.arange(3 * 2 * 3, dtype=torch.float32).reshape(1, 3, 2, 3)
    padded = torch.cat([hist[:, :1].expand(1, 3, 2, 3), hist], 1)
    torch.testing.assert_close(prop.rollout(hist, 25.0), fc.rollout(padded, 10))
    with pytest.raises(ModelError, match="fps"):
        prop.rollout(hist, 30.0)


def test_epochs_zero_needs_init():
    from posecast.training.keyposes import CharPoseTrainConfig

    with pytest.raises(ValueError, match="init"):
        CharPoseTrainConfig(network={"skeleton": "smplh-22"}, epochs=0)
    cfg = CharPoseTrainConfig(network={"skeleton": "smplh-22"}, epochs=0, init="charpose/corpus", proposals={})
    assert cfg.proposals is not None and cfg.proposals.weight == pytest.approx(0.85)


def test_shipped_charpose_merges_rollout_frames_on_a_bandai_file(posecast_data):
    """The shipped corpus weights carry proposals: on a Bandai test-style walk the K hypotheses mix rollout
    frames (bone lengths of the last observed frame) and heatmap draws, the top one a rollout frame."""
    import posecast.models
    from posecast.io import load

    files = sorted((posecast_data / "bandai_namco").rglob("dataset-1_walk_giant_001.bvh.gz"))
    if not files:
        pytest.skip("no Bandai walk file in POSECAST_DATA")
    model = posecast.models.get("charpose")
    assert model.proposals is not None
    motion = load(files[0])
    fc = model.forecast(motion, samples=10, at=2.5)
    src = fc.metadata["from_rollout"]
    assert len(src) == 10 and src[0] and 0 < sum(src) < 10
    assert fc.probabilities is not None and abs(float(np.sum(fc.probabilities)) - 1.0) < 1e-6
    assert fc.num_samples == 10
    # the paper's design alone: heatmap draws only, nothing from the rollout
    alone = model.without_proposals().forecast(motion, samples=10, at=2.5)
    assert alone.metadata["from_rollout"] is None and model.proposals is not None


def test_a_forecaster_on_another_body_is_refused():
    """The shipped proposals' forecaster works on the canonical body: a network on CMU BVH cannot use it."""
    with pytest.raises(ModelError, match="smplh-22"):
        P.fit_proposals(_settings(), skeletons.get("cmu-bvh-31"), 25.0, 10, pairs=object(), histories=None)


def test_epochs_zero_rewrites_the_init_network_with_proposals(tmp_path, monkeypatch):
    """A run that trains no network: last/ and best/ hold the init weights unchanged plus the proposals (the
    selector's corpus training is replaced by a small stand-in; `fit_proposals` is tested above)."""
    from posecast.keyposes.model import CharPoseConfig, CharPoseNet, load_charpose, save_charpose
    from posecast.training.keyposes import CharPoseTrainConfig, train_charpose

    small = dict(skeleton="smplh-22", observed=4, grid_size=4, decoder_start=1, decoder_channels=[4, 4, 4])
    small.update(decoder_convs=[0, 0, 0], lead_joints=["right_wrist", "left_wrist"])
    torch.manual_seed(0)
    save_charpose(CharPoseNet(CharPoseConfig(**small)), tmp_path / "init")
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(8, 4, SKEL.num_joints, 3)).astype(np.float32) * 0.1
    tgt = rng.normal(size=(8, SKEL.num_joints, 3)).astype(np.float32) * 0.1
    stand_in = P.TimingProposals(_settings(hidden=4), P.FrameSelector(SKEL.num_joints, 4), {"pairs": 0})
    monkeypatch.setattr(P, "fit_proposals", lambda *a, **k: stand_in)
    config = CharPoseTrainConfig(
        network=small, epochs=0, init=str(tmp_path / "init"), proposals={"hidden": 4}, batch_size=4
    )
    out = train_charpose(config, tmp_path / "run", (obs, tgt), (obs, tgt))
    want = load_charpose(tmp_path / "init").state_dict()
    for sub in ("last", "best"):
        got = load_charpose(out / sub).state_dict()
        assert all(torch.equal(got[k], want[k]) for k in want)
        assert P.proposals_of(out / sub, SKEL.num_joints) is not None
    run = json.loads((out / "run.json").read_text())
    assert run["init_only"] and run["steps"] == 0 and run["proposals"] == {"pairs": 0}
    # a network on another body than the forecaster's is refused before any data is read
    other = dict(small, skeleton="cmu-bvh-31", lead_joints=["RightHand", "LeftHand"])
    bad = CharPoseTrainConfig(network=other, epochs=0, init=str(tmp_path / "init"), proposals={})
    with pytest.raises(ModelError, match="smplh-22"):
        train_charpose(bad, tmp_path / "bad", (obs, tgt))


def _tiny_canonical_net():
    from posecast.keyposes.model import CharPoseConfig, CharPoseNet

    torch.manual_seed(0)
    cfg = CharPoseConfig(
        skeleton="smplh-22",
        observed=4,
        grid_size=4,
        decoder_start=1,
        decoder_channels=[4, 4, 4],
        decoder_convs=[0, 0, 0],
        lead_joints=["right_wrist", "left_wrist"],
    )
    return CharPoseNet(cfg).eval()


def test_frame_likelihood_scores_every_stride_and_interpolates():
    net = _tiny_canonical_net()
    rest = torch.as_tensor(SKEL.rest_positions(), dtype=torch.float32)
    torch.manual_seed(1)
    observed = rest + 0.02 * torch.randn(2, 4, SKEL.num_joints, 3)
    frames = (rest + 0.05 * torch.randn(2, 10, SKEL.num_joints, 3)) - rest[0]
    every = P.frame_likelihood(net, observed, frames, stride=1)
    assert every.shape == (2, 10) and bool((every <= 0).all())
    # one frame by hand: the teacher-forced heatmaps at the network's temperature, the frame's own voxels
    from posecast.keyposes.model import canonicalise, flat_index, heatmap_levels, voxel_index

    obs_c, _, rot = canonicalise(observed[:1], SKEL, net.config.canonical)
    cand = frames[:1, 3] @ rot[0].T
    with torch.no_grad():
        logits, _ = net(obs_c, cand)
    logp = torch.log_softmax(heatmap_levels(logits).flatten(-3) / net.config.temperature, -1)
    vox = flat_index(voxel_index(cand, net.config.grid_size, net.config.cube_size), net.config.grid_size)
    want = float(logp.gather(-1, vox[..., None]).sum())
    assert float(every[0, 3]) == pytest.approx(want, rel=1e-5)
    # stride 5 scores frames 4 and 9, holds frame 4's value before it and is linear in between
    sparse = P.frame_likelihood(net, observed, frames, stride=5)
    torch.testing.assert_close(sparse[:, [4, 9]], every[:, [4, 9]].to(sparse.dtype), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(sparse[:, :4], sparse[:, 4:5].expand(2, 4))
    torch.testing.assert_close(sparse[:, 6], 0.6 * sparse[:, 4] + 0.4 * sparse[:, 9], rtol=1e-6, atol=1e-5)
    # the scores add selector temperature x weight x log-likelihood; weight 0 leaves the selector alone
    fc = _toy_forecaster(history=4)
    prop = P.TimingProposals(
        _settings(seconds=0.4, likelihood_weight=0.5, likelihood_stride=1), P.FrameSelector(22, 4), forecaster=fc
    )
    world = observed[:, -1:, :1] + frames  # any world frames: scores make them root-relative again
    f0, s0 = P.TimingProposals(_settings(seconds=0.4), prop.selector, forecaster=fc).scores(
        world, observed, SKEL, 25.0, net
    )
    f1, s1 = prop.scores(world, observed, SKEL, 25.0, net)
    torch.testing.assert_close(f0, f1)
    ll = P.frame_likelihood(net, observed, f1, stride=1)
    torch.testing.assert_close(s1, s0 + 2.0 * 0.5 * ll.to(s0.dtype), rtol=1e-5, atol=1e-4)


def test_the_shipped_forecaster_rolls_out_the_networks_own_frames_for_the_selector():
    """The default forecaster keeps bone lengths in its forecasts (``keep_bones``), but the frame selector was
    trained on its network's own frames: the proposals' copy rolls those out (`merge` keeps the bones after
    scoring), and the shared default model is left as shipped."""
    from posecast import models
    from posecast.keyposes.proposals import FrameSelector, ProposalSettings, TimingProposals

    shipped = models.get("dct-mlp").variant("corpus")
    assert shipped.config.keep_bones
    fc = TimingProposals(ProposalSettings(), FrameSelector(22)).forecaster
    assert fc is not shipped and not fc.config.keep_bones and shipped.config.keep_bones
