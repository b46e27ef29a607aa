"""Incremental decoding of the ST-Transformer: the decode cache (`STTransformer.init_cache` /
`STTransformer.step_cached`) against full passes over the growing window, and the forecaster's cached
rollout (`cached_rollout`) against full passes on the same schedule and against the reference rollout."""

from __future__ import annotations

import pytest
import torch

import posecast
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
from posecast.models.st_transformer import DEFAULT_REFRESH, DecodeCache, STTransformer, cached_rollout
from posecast.synthetic import synthetic_walk

TOL = 1e-5  # float32, metres (or network units)
SMALL = {"d_model": 16, "heads": 2, "layers": 2, "ff": 32}


def _net(joints: int = 5, channels: int = 3, seed: int = 0) -> STTransformer:
    torch.manual_seed(seed)
    net = STTransformer(joints, channels, dim=16, heads=4, layers=3, ff=32).eval()
    with torch.no_grad():  # a random read-out, so the test sees more than the residual (zero-velocity) init
        net.head.weight.normal_(0.0, 0.3)
        net.head.bias.normal_(0.0, 0.1)
    return net


def _forecaster(history: int = 8, refresh: int = 3, seed: int = 0, traced: bool = False, **kw) -> NeuralForecaster:
    """A small random st-transformer forecaster on cmu-bvh-31; eager unless ``traced`` (tracing costs test time)."""
    torch.manual_seed(seed)
    cfg = NeuralConfig(
        net="st-transformer",
        skeleton="cmu-bvh-31",
        fps=25.0,
        history=history,
        frames_per_pass=1,
        params={**SMALL, "rollout_refresh": refresh},
        **kw,
    )
    model = NeuralForecaster(cfg)
    with torch.no_grad():
        model.net.head.weight.normal_(0.0, 0.05)
    if not traced:
        model.TRACE_MAX_BATCH = 0  # no batch takes the traced path
    return model


def _walk(batch: int, frames: int) -> torch.Tensor:
    """``(batch, frames, 31, 3)`` real-looking motion: synthetic walks at different speeds and offsets."""
    walks = [synthetic_walk(seconds=4.0, fps=25.0, speed=1.0 + 0.2 * i, cadence=0.8 + 0.05 * i) for i in range(batch)]
    return torch.stack(
        [torch.as_tensor(w.positions[3 * i : 3 * i + frames], dtype=torch.float32) for i, w in enumerate(walks)]
    )


def _reference(model: NeuralForecaster, window: torch.Tensor, frames: int) -> torch.Tensor:
    """The reference rollout: a full pass per frame over the sliding window, re-canonicalised every pass."""
    out = []
    for _ in range(frames):
        y = model.step(window)
        out.append(y)
        window = torch.cat([window, y], dim=1)[:, -model.config.history :]
    return torch.cat(out, dim=1)


def _schedule_full_passes(model: NeuralForecaster, window: torch.Tensor, frames: int, refresh: int) -> torch.Tensor:
    """The cached rollout's schedule computed with full passes (`STTransformer.forward`) only: a restart
    every ``refresh`` frames on the newest ``history - refresh + 1`` frames, whose canonical frame is
    held until the next restart (written out independently of `cached_rollout`)."""
    from posecast.datasets.windows import mirror

    h = model.config.history
    skel, joints = model.skeleton, model.joints

    def one(win, origin, rot):  # full pass in a given canonical frame, world frame out
        x = to_canonical(win, origin, rot)
        y = model.net(x[:, :, joints].reshape(*x.shape[:2], -1)).reshape(x.shape[0], 1, len(joints), 3)
        full = x.new_zeros(x.shape[0], 1, skel.num_joints, 3)
        full[:, :, joints] = y
        return from_canonical(follow_parents(full, x[:, -1], joints, skel), origin, rot)

    out: list[torch.Tensor] = []
    win = window[:, -h:]
    while len(out) < frames:
        both = torch.cat([win, mirror(win, skel)]) if model.config.mirror_average else win
        origin, rot = canonical_frame(both, skel, model.config.canonical)
        grown = win
        for _ in range(1 + min(h - win.shape[1], frames - len(out) - 1)):
            if model.config.mirror_average:
                b = grown.shape[0]
                y2 = one(torch.cat([grown, mirror(grown, skel)]), origin, rot)
                y = 0.5 * (y2[:b] + mirror(y2[b:], skel))
            else:
                y = one(grown, origin, rot)
            out.append(y)
            grown = torch.cat([grown, y], dim=1)
        win = grown[:, -(h - refresh + 1) :]
    return torch.cat(out, dim=1)[:, :frames]


# -------------------------------------------------------------------------------- network level
@pytest.mark.parametrize(("batch", "start", "channels"), [(1, 1, 3), (3, 4, 3), (2, 9, 3), (2, 3, 9)])
def test_cached_steps_equal_full_passes_over_the_growing_window(batch, start, channels):
    capacity = 10
    net = _net(channels=channels)
    x = torch.randn(batch, capacity, 5 * channels)
    with torch.no_grad():
        y, cache = net.init_cache(x[:, :start], capacity)
        assert (y - net(x[:, :start])).abs().max() <= TOL
        assert int(cache.length) == start and cache.capacity == capacity
        assert cache.keys[0].shape == (5, batch, 4, capacity, 4) and len(cache.values) == 3
        for t in range(start, capacity):
            y, cache = net.step_cached(x[:, t : t + 1], cache)
            assert y.shape == (batch, 1, 5 * channels)
            assert (y - net(x[:, : t + 1])).abs().max() <= TOL, t
        # the cache is full: the next frame needs a new cache
        with pytest.raises(ValueRangeError, match="decode cache is full"):
            net.step_cached(x[:, :1], cache)
    # a cached key is the temporal projection of that frame's block input: compare with the full pass's
    with torch.no_grad():
        _, k, _ = net.blocks[0].attend(net.embed(x.reshape(batch, capacity, 5, channels)) + _encoding(capacity))
    torch.testing.assert_close(cache.keys[0].transpose(0, 1), k, atol=TOL, rtol=0)


def _encoding(length: int, dim: int = 16) -> torch.Tensor:
    from posecast.models.blocks import sinusoidal_encoding

    return sinusoidal_encoding(length, dim)[:, None]


def test_streams_in_a_batch_are_independent_and_the_cache_is_written_in_place():
    net = _net()
    x = torch.randn(3, 6, 15)
    with torch.no_grad():
        _, both = net.init_cache(x[:2, :3], 6)
        _, alone = net.init_cache(x[2:, :3], 6)
        keys_before = both.keys[1].clone()
        y, after = net.step_cached(x[:2, 3:4], both)
        assert after.keys[1] is both.keys[1] and int(after.length) == 4  # same buffers, one more frame
        assert torch.equal(after.keys[1][:, :, :, :3], keys_before[:, :, :, :3])  # the old slots are untouched
        assert not torch.equal(after.keys[1][:, :, :, 3], keys_before[:, :, :, 3])  # slot 3 was written
        torch.testing.assert_close(y, net(x[:2, :4]), atol=TOL, rtol=0)
        _, alone = net.step_cached(x[2:, 3:4], alone)
        # batching caches of equal length: concatenate along dimension 1 of the buffers
        merged = DecodeCache(
            tuple(torch.cat([a, b], 1) for a, b in zip(after.keys, alone.keys, strict=True)),
            tuple(torch.cat([a, b], 1) for a, b in zip(after.values, alone.values, strict=True)),
            after.length,
            after.encoding,
        )
        y3, _ = net.step_cached(x[:, 4:5], merged)
        torch.testing.assert_close(y3, net(x[:, :5]), atol=TOL, rtol=0)


def test_cache_errors_and_refresh_setting():
    net = _net()
    with pytest.raises(ValueRangeError, match="cannot start from 7 tokens"):
        net.init_cache(torch.zeros(1, 7, 15), 6)
    with pytest.raises(ModelError, match="rollout_refresh must be at least 1"):
        STTransformer(5, refresh=0)
    assert _forecaster(refresh=4).net.refresh == 4
    cfg = NeuralConfig(
        net="st-transformer", skeleton="cmu-bvh-31", fps=25.0, history=8, frames_per_pass=1, params=SMALL
    )
    assert NeuralForecaster(cfg).net.refresh == DEFAULT_REFRESH


# ----------------------------------------------------------------------------- forecaster level
@pytest.mark.parametrize(
    ("batch", "start", "refresh", "extra"),
    [
        (1, 8, 3, {}),  # a full window (what predict passes): restarts every 3 frames
        (2, 5, 3, {}),  # a window shorter than the history: cached steps first
        (5, 8, 8, {"canonical": "translation"}),  # refresh = history: restarts on one frame
        (2, 8, 4, {"mirror_average": True}),
    ],
)
def test_cached_rollout_equals_full_passes_on_its_schedule(batch, start, refresh, extra):
    model = _forecaster(refresh=refresh, **extra)
    window = _walk(batch, start)
    frames = 20
    with torch.no_grad():
        want = _schedule_full_passes(model, window, frames, refresh)
        got = model.rollout(window, frames)
        assert got.shape == (batch, frames, 31, 3)
        assert (got - want).abs().max() <= TOL
        # the first frame comes from a full pass on the whole given window: the reference's first frame
        assert (got[:, 0] - _reference(model, window, 1)[:, 0]).abs().max() <= TOL


def test_traced_cached_rollout_is_the_eager_one():
    """At inference (batch <= 16) the two halves of a pass run as traced, frozen copies, the cache buffers
    written in place by the traced step; a trace of a whole short rollout follows the refresh setting."""
    model = _forecaster(refresh=3, traced=True, mirror_average=True)
    window = _walk(2, 8)
    with torch.no_grad():
        want = _schedule_full_passes(model, window, 12, 3)
        first = model.rollout(window, 12)  # eager, tracing each half of a pass on first use
        again = model.rollout(window, 12)  # through the traced copies
        assert any(k[0] == "st-step" and isinstance(v, torch.jit.ScriptModule) for k, v in model._traces.items())
        assert (first - want).abs().max() <= TOL and (again - want).abs().max() <= TOL
        # rollouts of a few frames are traced whole (NeuralForecaster.rollout); the refresh is in the key
        short = [model.rollout(window, 4) for _ in range(3)]
        assert (short[-1] - want[:, :4]).abs().max() <= TOL
        model.net.refresh = 1
        assert (model.rollout(window, 4) - _reference(model, window, 4)).abs().max() <= TOL


def test_refresh_one_is_the_reference_rollout():
    model = _forecaster(refresh=1)
    window = _walk(2, 8)
    with torch.no_grad():
        assert cached_rollout(model, window, 5) is None  # no cache: the wrapper's pass-per-frame loop
        torch.testing.assert_close(model.rollout(window, 12), _reference(model, window, 12), atol=0, rtol=0)


def test_rollouts_within_the_window_are_exact_without_a_moving_canonical_frame():
    """With a fixed canonical frame (``canonical: none``) and no sliding (the window plus the forecast fit in
    ``history`` frames) the cached rollout is the reference rollout, whatever the refresh."""
    model = _forecaster(history=12, refresh=6, canonical="none")
    window = _walk(3, 4)
    with torch.no_grad():
        got = model.rollout(window, 9)  # window lengths 4 .. 12: no restart
        assert (got - _reference(model, window, 9)).abs().max() <= TOL


def test_training_rollouts_take_full_passes_with_gradients():
    model = _forecaster(refresh=4)
    model.net.train()
    window = _walk(2, 8)
    torch.manual_seed(1)
    pred = model.rollout(window, 6)  # autograd on: no cache (it is written in place)
    pred.pow(2).mean().backward()
    assert model.net.blocks[0].temporal.qkv.weight.grad is not None
    model.net.eval()
    with torch.no_grad():
        assert cached_rollout(model, window, 6) is not None
    with torch.enable_grad():
        assert cached_rollout(model, window, 6) is None


def test_predict_uses_the_cache_and_keeps_its_contract():
    model = _forecaster(refresh=3)
    walk = synthetic_walk(seconds=2.0, fps=25.0)
    got = model.predict(walk.positions[None, -8:], 10, samples=2)
    assert got.shape == (1, 2, 10, 31, 3)
    with torch.no_grad():
        window = torch.as_tensor(walk.positions[None, -8:], dtype=torch.float32)
        want = _schedule_full_passes(model, window, 11, 3)[:, :10].double().numpy()
    assert abs(got[0, 1] - want[0]).max() <= TOL


# ------------------------------------------------------------------------------- shipped weights
SHIPPED = [v for v in store.variants("st-transformer")] if store.variants("st-transformer") else []


@pytest.mark.skipif(not SHIPPED, reason="no shipped st-transformer weights in this checkout")
@pytest.mark.parametrize("variant", SHIPPED)
def test_shipped_weights_cache_equals_full_passes(variant):
    model = posecast.models.get("st-transformer").variant(variant)
    p = model.net.patch  # frames per token
    h = model.config.history // p  # tokens
    capacity = model.net.context or h
    torch.manual_seed(0)
    x = torch.randn(2, capacity * p, 3 * len(model.joints)) * 0.3
    with torch.no_grad():
        y, cache = model.net.init_cache(x[:, : h // 2 * p], capacity)
        assert (y - model.net(x[:, : h // 2 * p])).abs().max() <= TOL
        for t in range(h // 2, min(capacity, h // 2 + 6)):
            y, cache = model.net.step_cached(x[:, t * p : (t + 1) * p], cache)
            assert (y - model.net(x[:, : (t + 1) * p])).abs().max() <= TOL


@pytest.mark.skipif(not SHIPPED, reason="no shipped st-transformer weights in this checkout")
def test_shipped_rollout_equals_full_passes_on_its_schedule():
    model = posecast.models.get("st-transformer").variant("cmu-mocap" if "cmu-mocap" in SHIPPED else SHIPPED[0])
    from posecast.evaluation.speed import sample_history

    h = model.config.history
    window = torch.as_tensor(sample_history(model.skeleton, h, model.config.fps, batch=2), dtype=torch.float32)
    with torch.no_grad():  # shipped configs keep the reference rollout: a full pass per frame, bit for bit
        assert model.net.refresh == DEFAULT_REFRESH == 1
        torch.testing.assert_close(model.rollout(window, 3), _reference(model, window, 3), atol=0, rtol=0)
    refresh = max(2, h // 2)
    model.net.refresh, model.TRACE_MAX_BATCH = refresh, 0  # (this forecaster is shared: restored below)
    try:
        with torch.no_grad():
            got = model.rollout(window, 2 * h)
            want = _schedule_full_passes(model, window, 2 * h, refresh)
    finally:
        model.net.refresh = DEFAULT_REFRESH
        del model.TRACE_MAX_BATCH
    assert (got - want).abs().max() <= TOL
