"""The ST-Transformer on tokens of several frames (``frames_per_pass: P > 1``): token layout by hand,
causality of the teacher-forced outputs, the decode cache against full passes, the cached rollout with a
context longer than the history against full passes on the same schedule, and the training loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecast.errors import ModelError, ValueRangeError
from posecast.models import store
from posecast.models.neural import (
    NeuralConfig,
    NeuralForecaster,
    canonical_frame,
    follow_parents,
    from_canonical,
    to_canonical,
)
from posecast.models.pose_prior import pose_features
from posecast.models.st_transformer import STTransformer, context_frames, training_loss
from posecast.synthetic import synthetic_walk

TOL = 1e-5
SMALL = {"d_model": 16, "heads": 2, "layers": 2, "ff": 32}


def _net(patch: int, joints: int = 4, seed: int = 0, decay: float = 0.0, **shared: bool) -> STTransformer:
    torch.manual_seed(seed)
    net = STTransformer(joints, 3, dim=16, heads=4, layers=3, ff=32, patch=patch, velocity_decay=decay, **shared)
    net.eval()
    with torch.no_grad():  # a random read-out, not only the zero-velocity init
        net.head.weight.normal_(0.0, 0.3)
        net.head.bias.normal_(0.0, 0.1)
        if net.linear_base:
            net.base.weight.normal_(0.0, 0.3)
            net.base.bias.normal_(0.0, 0.1)
    return net


def test_tokens_hold_consecutive_frames_of_one_joint():
    net = _net(patch=2, joints=2)
    # frame t, joint j, coordinate c holds 100 t + 10 j + c
    x = torch.tensor([[[100.0 * t + 10 * j + c for j in range(2) for c in range(3)] for t in range(4)]])
    tok = net.tokens(x)
    assert tok.shape == (1, 2, 2, 6)
    # token 1 of joint 1: frames 2 and 3 of that joint
    assert tok[0, 1, 1].tolist() == [210.0, 211.0, 212.0, 310.0, 311.0, 312.0]
    with pytest.raises(ValueRangeError, match="do not split into tokens of 2 frames"):
        net.tokens(torch.zeros(1, 3, 6))


def test_untrained_network_holds_the_last_frame_of_each_token():
    net = STTransformer(2, 3, dim=16, heads=2, layers=1, ff=16, patch=3).eval()  # zero-initialised read-out
    x = torch.randn(1, 6, 6)
    with torch.no_grad():
        nxt = net(x)
        every = net(x, all_steps=True)
    assert nxt.shape == (1, 3, 6) and every.shape == (1, 6, 6)
    head_bias = net.head.bias.reshape(2, 3, 3).transpose(0, 1).reshape(3, 6)  # zero at init
    torch.testing.assert_close(nxt[0], x[0, 5].expand(3, 6) + head_bias)
    torch.testing.assert_close(every[0, :3], x[0, 2].expand(3, 6))


SHARED = [{}, {"shared_temporal": True}, {"shared_temporal": True, "shared_spatial": True}]


@pytest.mark.parametrize(("patch", "decay", "shared"), [(2, 0.0, {}), (5, 0.0, {}), (5, 0.9, {}), (5, 0.9, SHARED[2])])
def test_outputs_are_causal_per_token(patch, decay, shared):
    net = _net(patch, decay=decay, **shared)
    x = torch.randn(2, 4 * patch, 12)
    with torch.no_grad():
        every = net(x, all_steps=True)
        for n in range(1, 5):  # the frames after token n - 1 equal a forward pass on the first n tokens
            torch.testing.assert_close(every[:, (n - 1) * patch : n * patch], net(x[:, : n * patch]), atol=TOL, rtol=0)


def test_velocity_prior_continues_the_tokens_mean_velocity():
    net = STTransformer(1, 3, dim=8, heads=2, layers=1, ff=8, patch=3, velocity_decay=0.5).eval()
    # one joint moving along x: 0, 1, 4 (mean velocity (4 - 0) / 2 = 2 per frame); y and z still
    x = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [4.0, 0.0, 0.0]]])
    with torch.no_grad():
        y = net(x)  # untrained: the head adds its zero bias, so this is the prior alone
    # frame k after the token: 4 + 2 (0.5 + ... + 0.5^k): 5, 5.5, 5.75
    torch.testing.assert_close(y[0, :, 0], torch.tensor([5.0, 5.5, 5.75]))
    torch.testing.assert_close(y[0, :, 1:], torch.zeros(3, 2))
    with pytest.raises(ModelError, match="velocity_decay needs tokens of at least 2 frames"):
        STTransformer(1, 3, patch=1, velocity_decay=0.5)


def test_linear_base_starts_as_the_last_steps_velocity_and_is_learned():
    net = STTransformer(1, 3, dim=8, heads=2, layers=1, ff=8, patch=3, velocity_decay=0.5, linear_base=True).eval()
    # one joint moving along x: 0, 1, 4 (last step 3 per frame), y: 2, 2, 1 (last step -1); z still
    x = torch.tensor([[[0.0, 2.0, 0.0], [1.0, 2.0, 0.0], [4.0, 1.0, 0.0]]])
    with torch.no_grad():
        y = net(x)  # untrained: the last step's velocity damped by 0.5 per frame (3 x 0.5, 0.75, 0.875)
    torch.testing.assert_close(y[0], torch.tensor([[5.5, 0.5, 0.0], [6.25, 0.25, 0.0], [6.625, 0.125, 0.0]]))
    # the same map for every coordinate: weights w and biases b give last + w @ (frames - last) + b
    with torch.no_grad():
        net.base.weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
        net.base.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
        y = net(x)
    rel = x[0] - x[0, -1]  # (3 frames, 3 coordinates)
    want = x[0, -1] + torch.stack([rel[1] + 0.1, rel[0] + 0.2, 2 * rel[2] + 0.3])
    torch.testing.assert_close(y[0], want)
    assert sum(p.numel() for p in net.base.parameters()) == 12
    with pytest.raises(ModelError, match="linear_base needs tokens of at least 2 frames"):
        STTransformer(1, 3, patch=1, linear_base=True)


def test_clean_base_reads_the_start_from_other_frames():
    net = _net(3, linear_base=True)
    x, clean = torch.randn(2, 6, 12), torch.randn(2, 6, 12)
    with torch.no_grad():
        both = net(x, all_steps=True, base_from=clean)
        noisy, moved = net(x, all_steps=True), net(clean, all_steps=True)
        # the offsets come from x, the starting point from clean: both - noisy = base(clean) - base(x)
        zero = torch.zeros(2, 2, 4, 16)  # no offsets: the read-out is the base plus the head's bias
        start_shift = net._read_out(net.tokens(clean), zero) - net._read_out(net.tokens(x), zero)
        torch.testing.assert_close(both - noisy, start_shift)
    assert not torch.allclose(both, moved)


@pytest.mark.parametrize("shared", [*SHARED, {"linear_base": True}])
@pytest.mark.parametrize(("batch", "start", "decay"), [(1, 1, 0.0), (3, 3, 0.8)])
def test_cached_steps_equal_full_passes(batch, start, decay, shared):
    patch, capacity = 3, 6
    net = _net(patch, decay=decay, **shared)
    x = torch.randn(batch, capacity * patch, 12)
    with torch.no_grad():
        y, cache = net.init_cache(x[:, : start * patch], capacity)
        assert y.shape == (batch, patch, 12)
        torch.testing.assert_close(y, net(x[:, : start * patch]), atol=TOL, rtol=0)
        for n in range(start, capacity):
            y, cache = net.step_cached(x[:, n * patch : (n + 1) * patch], cache)
            torch.testing.assert_close(y, net(x[:, : (n + 1) * patch]), atol=TOL, rtol=0)
        with pytest.raises(ValueRangeError, match="decode cache is full"):
            net.step_cached(x[:, :patch], cache)


def _forecaster(history=6, patch=3, context=12, refresh=3, shared=None, **kw) -> NeuralForecaster:
    torch.manual_seed(0)
    cfg = NeuralConfig(
        net="st-transformer",
        skeleton="cmu-bvh-31",
        fps=25.0,
        history=history,
        frames_per_pass=patch,
        params={**SMALL, "rollout_refresh": refresh, "context": context, **(shared or {})},
        **kw,
    )
    model = NeuralForecaster(cfg)
    with torch.no_grad():
        model.net.head.weight.normal_(0.0, 0.05)
    model.TRACE_MAX_BATCH = 0
    return model


def _walk(batch: int, frames: int) -> torch.Tensor:
    walks = [synthetic_walk(seconds=4.0, fps=25.0, speed=1.0 + 0.2 * i) for i in range(batch)]
    return torch.stack(
        [torch.as_tensor(w.positions[2 * i : 2 * i + frames], dtype=torch.float32) for i, w in enumerate(walks)]
    )


def _schedule(model: NeuralForecaster, window: torch.Tensor, frames: int) -> torch.Tensor:
    """The cached rollout's schedule with full passes only, written out in frames: start on the last
    ``history`` frames; full passes on the growing window (canonical frame of the start's last frame) until
    it holds ``context`` frames; restart on its newest ``max(P, min(history, context - (refresh - 1) P))`` frames.
    With a short-term read-out (``short_frames``) the very first pass gives its frames instead of ``P``."""
    p, h = model.config.frames_per_pass, model.config.history
    context, refresh = model.config.params["context"], model.config.params["rollout_refresh"]
    keep = max(p, min(h, context - (refresh - 1) * p))
    skel, joints = model.skeleton, model.joints
    out: list[torch.Tensor] = []
    win = window[:, -h:]
    while sum(y.shape[1] for y in out) < frames:
        origin, rot = canonical_frame(win, skel, model.config.canonical)
        grown = win
        while True:
            x = to_canonical(grown, origin, rot)
            flat = x[:, :, joints].reshape(*x.shape[:2], -1)
            short = not out and model.net.short_frames > 0
            y = model.net.short_read_out(flat, model.net.last_features(flat)) if short else model.net(flat)
            y = y.reshape(x.shape[0], -1, len(joints), 3)
            full = x.new_zeros(x.shape[0], y.shape[1], skel.num_joints, 3)
            full[:, :, joints] = y
            y = from_canonical(follow_parents(full, x[:, -1], joints, skel), origin, rot)
            out.append(y)
            grown = torch.cat([grown, y], dim=1)
            if grown.shape[1] > context or sum(o.shape[1] for o in out) >= frames:
                break
        win = grown[:, -keep:]
    return torch.cat(out, dim=1)[:, :frames]


@pytest.mark.parametrize(("refresh", "frames", "shared"), [(3, 40, {}), (7, 29, {}), (2, 17, {}), (3, 23, SHARED[2])])
def test_cached_rollout_equals_full_passes_on_its_schedule(refresh, frames, shared):
    model = _forecaster(refresh=refresh, shared=shared)
    window = _walk(2, 6)
    with torch.no_grad():
        got = model.rollout(window, frames)
        want = _schedule(model, window, frames)
    assert got.shape == (2, frames, 31, 3)
    assert (got - want).abs().max() <= TOL


def test_reference_rollout_makes_one_pass_per_token():
    model = _forecaster(refresh=1)
    window = _walk(1, 6)
    with torch.no_grad():
        got = model.rollout(window, 7)
        first = model.step(window)
        second = model.step(torch.cat([window, first], dim=1)[:, -6:])
        third = model.step(torch.cat([window, first, second], dim=1)[:, -6:])
    torch.testing.assert_close(got, torch.cat([first, second, third], dim=1)[:, :7])


def test_config_checks():
    with pytest.raises(ModelError, match="must be a multiple of it"):
        _forecaster(history=7)
    with pytest.raises(ModelError, match="params.context"):
        _forecaster(context=4)
    with pytest.raises(ModelError, match="params.context"):
        _forecaster(context=13)
    assert context_frames(_forecaster().config) == 12
    assert _forecaster().net.context == 4  # tokens


def test_training_loss_scores_the_frames_after_every_token():
    model = _forecaster()
    batch = _walk(3, 15)
    model.net.train()
    loss = training_loss(model, batch, 6)
    loss.backward()
    assert loss.item() > 0 and model.net.embed.weight.grad is not None
    # an untrained network (zero read-out) predicts each token's last frame held: the loss is the mean
    # distance of the next three frames to it, computed here by hand in the canonical frame of frame 5
    model = _forecaster()
    with torch.no_grad():
        model.net.head.weight.zero_()
        model.net.head.bias.zero_()
    model.net.eval()
    walk = _walk(1, 15)  # exactly context + P frames: a single possible offset
    origin, rot = canonical_frame(walk[:, :6], model.skeleton, "heading")
    x = to_canonical(walk, origin, rot)
    held = x[:, [2, 2, 2, 5, 5, 5, 8, 8, 8, 11, 11, 11]]
    want = (held - x[:, 3:15]).norm(dim=-1).mean()
    torch.testing.assert_close(training_loss(model, walk, 6), want, atol=1e-6, rtol=0)
    with pytest.raises(ValueRangeError, match="need 15 frames"):
        training_loss(model, walk[:, :14], 6)


@pytest.mark.skipif("corpus" not in store.variants("st-transformer"), reason="no shipped st-transformer/corpus")
def test_shipped_corpus_rollout_is_its_schedule():
    """The shipped corpus weights (tokens of 5 frames, a context of 80 frames, refresh 7) roll out exactly the
    full passes of their schedule (bones not kept here: the schedule above does not keep them)."""
    from posecast.evaluation.speed import sample_history

    model = NeuralForecaster.load(store.shipped("st-transformer", "corpus"))
    assert model.net.patch == model.config.frames_per_pass > 1 and model.net.refresh > 1
    model.config.keep_bones, model.TRACE_MAX_BATCH = False, 0
    h = model.config.history
    window = torch.as_tensor(sample_history(model.skeleton, h, model.config.fps, batch=2), dtype=torch.float32)
    prior = model.net.pose_prior
    model.net.pose_prior = None  # the schedule without the projection (params.project_prior), tested below
    with torch.no_grad():
        got = model.rollout(window, 60)
        want = _schedule(model, window, 60)
    assert (got - want).abs().max() <= TOL
    # with it: the first params.project_after seconds are untouched; from then on every predicted pose is as
    # likely as the prior's threshold or more (bones not kept here, so the projected poses are the output)
    model.net.pose_prior = prior
    start = model.net.project_from * model.net.patch
    assert start == round(model.config.params["project_after"] * model.config.fps)
    ramp = model.net.project_ramp  # params.project_ramp: the projection blended in over that many frames
    assert ramp == round(model.config.params["project_ramp"] * model.config.fps) == 10
    with torch.no_grad():
        blended = model.rollout(window, 60)
        model.net.project_ramp = 0
        projected = model.rollout(window, 60)
        model.net.project_ramp = ramp
        nll = prior.nll(pose_features(prior.normalised(projected.double()), *prior.joints))
        before = prior.nll(pose_features(prior.normalised(got.double()), *prior.joints))
    torch.testing.assert_close(projected[:, :start], got[:, :start], atol=0, rtol=0)
    torch.testing.assert_close(blended[:, :start], got[:, :start], atol=0, rtol=0)
    # judged at the prior's bone lengths (params.project_normalise) the poses come to the level set, not onto
    # it (each pose then gets its own lengths back): here at most 92 nats above it, from 847 without
    above, above_before = (nll[:, start:] - prior.threshold).max(), (before[:, start:] - prior.threshold).max()
    assert float(above_before) > 500.0 and float(above) < 0.15 * float(above_before)
    assert float((projected[:, start:] - got[:, start:]).abs().max()) > 1e-3  # it did move poses
    # blended in: the first projected frame moves a tenth of the way the whole projection moves it
    moved, full = (blended[:, start] - got[:, start]).norm(dim=-1), (projected[:, start] - got[:, start]).norm(dim=-1)
    torch.testing.assert_close(moved, full / ramp, atol=1e-5, rtol=1e-4)


def test_shared_projections_by_parameter_count():
    """Per block: temporal q/k/v and output projections per joint or one for all joints, the spatial query
    per joint or shared; keys/values, output and feed-forward of the spatial side always shared."""
    j, d, ff, layers, p = 5, 16, 32, 2, 3

    def count(**shared):
        net = STTransformer(j, 3, dim=d, heads=2, layers=layers, ff=ff, patch=p, **shared)
        return sum(t.numel() for t in net.parameters())

    embed_head = j * (3 * p * d + d) + j * (d * 3 * p + 3 * p)
    common = (d * 2 * d + 2 * d) + (d * d + d) + 3 * 2 * d + (d * ff + ff) + (ff * d + d)  # per block
    temporal_joint, temporal_shared = j * (d * 3 * d + 3 * d) + j * (d * d + d), (d * 3 * d + 3 * d) + (d * d + d)
    query_joint, query_shared = j * (d * d + d), d * d + d
    assert count() == embed_head + layers * (common + temporal_joint + query_joint)
    assert count(shared_temporal=True) == embed_head + layers * (common + temporal_shared + query_joint)
    assert count(shared_temporal=True, shared_spatial=True) == embed_head + layers * (
        common + temporal_shared + query_shared
    )


def test_shared_config_keys_reach_the_network():
    model = _forecaster(shared={"shared_temporal": True, "shared_spatial": True})
    assert model.net.shared_temporal
    assert isinstance(model.net.blocks[0].temporal.qkv, torch.nn.Linear)
    assert isinstance(model.net.blocks[0].spatial.query, torch.nn.Linear)
    assert not _forecaster().net.shared_temporal


@pytest.mark.parametrize("causal", [False, True])
def test_attention_on_many_leading_dimensions_is_the_textbook_formula(causal):
    from posecast.models.st_transformer import _attention

    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 3, 2, 4, 5) for _ in range(3))  # (B, J, H, T, E)
    scores = q @ k.transpose(-1, -2) / 5**0.5
    if causal:
        scores = scores.masked_fill(torch.ones(4, 4, dtype=torch.bool).triu(1), float("-inf"))
    torch.testing.assert_close(_attention(q, k, v, causal), scores.softmax(-1) @ v, atol=1e-6, rtol=0)


def test_training_loss_refuses_windows_shorter_than_context_plus_a_token():
    model = _forecaster(history=6, patch=3, context=9)
    with pytest.raises(ValueRangeError, match=r"need 12 frames \(context \+ frames_per_pass\), got 11"):
        training_loss(model, torch.zeros(2, 11, 31, 3), 6)


# ------------------------------------------------------------------ the short-term read-out (short_frames)
def _short_forecaster(frames: int = 6, context: int = 4, refresh: int = 3) -> NeuralForecaster:
    model = _forecaster(refresh=refresh, shared={"short_frames": frames, "short_context": context})
    with torch.no_grad():  # a random read-out, not its zero initialisation
        model.net.short_head.weight.normal_(0.0, 0.02)
        model.net.short_head.bias.normal_(0.0, 0.01)
    model.net.eval()
    return model


def test_short_read_out_is_the_last_frame_plus_a_linear_map_of_features_and_frames():
    model = _short_forecaster(frames=6, context=4)
    net = model.net
    x = torch.randn(2, 6, net.joints * 3)
    with torch.no_grad():
        e = net.last_features(x)
        y = net.short_read_out(x, e)
        # by hand: the last block's output on the last token is the full pass' (its read-out reads it)
        torch.testing.assert_close(net._read_out(net.tokens(x)[:, -1:], e[:, None]), net(x), atol=TOL, rtol=0)
        feats = torch.cat([e.reshape(2, -1), (x[:, -4:-1] - x[:, -1:]).reshape(2, -1)], dim=1)
        want = x[:, -1:] + (feats @ net.short_head.weight.T + net.short_head.bias).view(2, 6, -1)
    assert y.shape == (2, 6, net.joints * 3)
    torch.testing.assert_close(y, want, atol=TOL, rtol=0)
    with pytest.raises(ModelError, match="multiple of frames_per_pass"):
        _forecaster(shared={"short_frames": 4, "short_context": 4})
    with pytest.raises(ModelError, match="cached rollout"):  # the full-pass rollout would ignore it
        _forecaster(refresh=1, shared={"short_frames": 6})
    with pytest.raises(ModelError, match="at most history"):
        _forecaster(shared={"short_frames": 6, "short_context": 7})
    assert _forecaster(shared={"short_frames": 6}).net.short_context == 6  # default: short_frames


@pytest.mark.parametrize(("short", "refresh", "frames"), [(6, 3, 23), (3, 2, 17), (9, 3, 14), (6, 3, 4)])
def test_cached_rollout_starts_with_the_short_read_out(short, refresh, frames):
    """The first ``short_frames`` frames of a cached rollout are the short read-out's; the network then reads
    them as if it had predicted them (its cache fed with them), and the rest of the schedule is unchanged —
    also when they fill the cache (9 frames: the window reaches the context of 12) and when fewer frames
    than they hold are asked for."""
    model = _short_forecaster(frames=short, context=3, refresh=refresh)
    window = _walk(2, 6)
    with torch.no_grad():
        got = model.rollout(window, frames)
        want = _schedule(model, window, frames)
        model.net.short_head.weight.zero_()  # a zero read-out holds the last observed frame
        model.net.short_head.bias.zero_()
        held = model.rollout(window, frames)
    assert got.shape == (2, frames, 31, 3)
    assert (got - want).abs().max() <= TOL
    n = min(short, frames)
    torch.testing.assert_close(held[:, :n], window[:, -1:].expand(-1, n, -1, -1), atol=TOL, rtol=0)
    assert (got[:, :n] - held[:, :n]).abs().max() > 1e-3


def test_fit_short_head_recovers_constant_velocity(tmp_path):
    """Rigid poses moving at constant velocities: the next frames are a linear map of the last ones relative to
    the last, so the ridge fit (tiny ridge) is exact and the fitted read-out continues an unseen velocity."""
    from posecast.training.readout import fit_short_head

    pose = torch.as_tensor(synthetic_walk(seconds=1.0, fps=25.0).positions[0])
    rng = torch.Generator().manual_seed(3)
    t = torch.arange(40, dtype=torch.float32)[:, None, None] / 25.0

    def moving(v):
        return (pose + t * torch.as_tensor(v, dtype=torch.float32)).numpy()

    seqs = [moving(torch.randn(3, generator=rng) * torch.tensor([1.0, 0.3, 1.0])) for _ in range(12)]
    model = _short_forecaster(frames=6, context=3)
    info = fit_short_head(model, seqs, ridge=1e-9, stride=1)
    assert info["windows"] == 12 * (40 - 12 + 1) and info["train_rms_m"] < 1e-4
    seq = moving([0.4, -0.1, 0.9])
    with torch.no_grad():
        pred = model.predict(seq[None, :6], 6)[0, 0]
    np.testing.assert_allclose(pred, seq[6:12], atol=1e-3)
    with pytest.raises(ModelError, match="no short-term read-out"):
        fit_short_head(_forecaster(), seqs, ridge=1e-3)


def test_solve_short_head_is_ridge_regression_on_standardised_inputs():
    """The read-out's fit against a direct ridge regression (numpy) on the same pairs: each input standardised,
    penalty ``ridge x rows`` on the standardised coefficients, the bias free; and its training RMS."""
    from posecast.datasets import windows as W
    from posecast.training.readout import short_head_equations, short_head_pairs, solve_short_head

    model = _short_forecaster(frames=6, context=3)
    walks = [synthetic_walk(seconds=3.0, fps=25.0, speed=s).positions for s in (0.8, 1.1, 1.5)]
    eq = short_head_equations(model, walks, stride=3)
    ridge = 0.05
    info = solve_short_head(model, eq, ridge)
    ws = W.WindowSet.from_sequences(walks, 12, model.skeleton, 25.0, 3)
    x, y = (t.numpy() for t in short_head_pairs(model, ws.batch(np.arange(len(ws)))))
    assert info["windows"] == len(ws) and x.shape[0] == 2 * len(ws)
    mean, sd = x.mean(0), x.std(0)
    keep = sd > 1e-6  # inputs that never vary (none expected) would make the standardisation singular
    z = (x[:, keep] - mean[keep]) / sd[keep]
    v = np.linalg.solve(z.T @ z + ridge * len(z) * np.eye(z.shape[1]), z.T @ (y - y.mean(0)))
    w = np.zeros((x.shape[1], y.shape[1]))
    w[keep] = v / sd[keep, None]
    b = y.mean(0) - mean @ w
    np.testing.assert_allclose(model.net.short_head.weight.detach().numpy().T, w, atol=2e-4, rtol=1e-3)
    np.testing.assert_allclose(model.net.short_head.bias.detach().numpy(), b, atol=2e-4, rtol=1e-3)
    rms = np.sqrt(((x @ w + b - y) ** 2).mean())
    assert info["train_rms_m"] == pytest.approx(rms, rel=1e-3)


def test_still_windows_join_the_fit_with_their_share():
    """``still``: every ``round(1 / still)``-th window held at its last observed frame joins the normal equations,
    weighted so that the held windows weigh ``still`` times the real ones; a fit with them forecasts a held pose
    closer to standing still than one without."""
    from posecast.datasets import windows as W
    from posecast.training.readout import fit_short_head, short_head_equations, short_head_pairs

    model = _short_forecaster(frames=6, context=3)
    walks = [synthetic_walk(seconds=3.0, fps=25.0, speed=s).positions for s in (0.8, 1.1, 1.5)]
    eq = short_head_equations(model, walks, stride=3, batch_size=7, still=0.25)
    ws = W.WindowSet.from_sequences(walks, 12, model.skeleton, 25.0, 3)
    real = ws.batch(np.arange(len(ws)))
    held = np.repeat(real[::4, 5:6], 12, axis=1)  # history 6: frame 5 is the last observed one
    x, _ = short_head_pairs(model, real)
    xs, ys = short_head_pairs(model, held)
    assert eq.total == pytest.approx(len(x) + len(xs)) and eq.total == pytest.approx(1.25 * len(x), rel=0.05)
    xa = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    xsa = torch.cat([xs, torch.ones(len(xs), 1, dtype=xs.dtype)], 1)
    # each held window weighs 0.25 x 4; features of other batch sizes differ in float32 rounding
    torch.testing.assert_close(eq.xtx, xa.T @ xa + xsa.T @ xsa, atol=1e-5, rtol=1e-4)
    assert float(ys.abs().max()) == 0.0  # a held window's future is its last frame

    def drift(still: float) -> float:
        fit_short_head(model, walks, 1e-3, stride=3, still=still)
        window = torch.as_tensor(np.repeat(walks[0][40:41], 6, axis=0)[None], dtype=torch.float32)
        with torch.no_grad():
            return float((model.rollout(window, 6) - window[:, -1:]).norm(dim=-1).mean())

    assert drift(1.0) < 0.5 * drift(0.0)


def test_a_traced_rollout_follows_a_changed_projection_blend():
    """A traced whole rollout bakes its settings in: changing ``net.project_ramp`` (a sweep does) must not reuse
    the graph traced with the old value."""
    from posecast.evaluation.speed import sample_history

    model = NeuralForecaster.load(store.shipped("st-transformer", "corpus"))
    window = torch.as_tensor(sample_history(model.skeleton, model.config.history, model.config.fps, batch=1))
    frames = 40  # 8 passes of 5 frames: traced (TRACE_MAX_PASSES), past the projection's start at 25
    with torch.no_grad():
        model.rollout(window.float(), frames)  # first call: eager, records the shape
        blended = model.rollout(window.float(), frames)  # second: traced with the shipped 0.4 s blend
        model.net.project_ramp = 0
        model.rollout(window.float(), frames)
        at_once = model.rollout(window.float(), frames)
    assert float((blended - at_once).abs().max()) > 1e-3  # another graph, another rollout
