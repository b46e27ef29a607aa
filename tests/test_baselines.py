"""Forecaster interface and the three baselines."""

from __future__ import annotations

import numpy as np
import pytest

import posecast
from posecast.errors import ModelError, ValueRangeError
from posecast.models.baselines import NearestNeighbour
from posecast.synthetic import synthetic_walk


@pytest.fixture(scope="module")
def walk():
    return synthetic_walk(seconds=6.0, fps=25.0)


def test_registry_lists_the_baselines():
    names = [m.name for m in posecast.models.available()]
    assert names[:3] == ["zero-velocity", "constant-velocity", "nearest-neighbour"]
    with pytest.raises(ModelError, match="unknown model"):
        posecast.models.get("nope")


def test_zero_velocity_repeats_the_last_pose(walk):
    fc = posecast.models.get("zero-velocity").forecast(walk.frames(0, 50), seconds=1.0, samples=3)
    assert fc.samples.shape == (3, 25, 31, 3) and fc.fps == 25.0 and fc.horizon == pytest.approx(1.0)
    np.testing.assert_array_equal(fc.samples, np.broadcast_to(walk.positions[49], fc.samples.shape))


def test_constant_velocity_by_hand():
    pos = np.zeros((2, 31, 3))
    pos[1] = 0.1  # every coordinate moves 0.1 per frame
    m = posecast.Motion(pos, 10.0, "cmu-bvh-31")
    fc = posecast.models.get("constant-velocity").forecast(m, frames=3)
    np.testing.assert_allclose(fc.samples[0, :, 5, 0], [0.2, 0.3, 0.4])
    with pytest.raises(ValueRangeError, match="at least 2"):
        posecast.models.get("constant-velocity").forecast(m.frames(0, 1), frames=3)


def test_constant_velocity_is_exact_on_uniform_translation(walk):
    # a rigidly translating pose is extrapolated exactly
    pose = walk.positions[0]
    traj = pose[None] + np.arange(40)[:, None, None] * np.array([0.01, 0.0, 0.04])
    m = posecast.Motion(traj[:30], 25.0, walk.skeleton)
    fc = posecast.models.get("constant-velocity").forecast(m, frames=10)
    np.testing.assert_allclose(fc.samples[0], traj[30:], atol=1e-12)


@pytest.mark.parametrize(
    ("frames", "seconds", "message"),
    [
        (None, None, "exactly one"),
        (5, 1.0, "exactly one"),
        (0, None, "impossible"),
        (None, -1.0, "impossible"),
        (None, float("nan"), "impossible"),
    ],
)
def test_bad_horizons(walk, frames, seconds, message):
    with pytest.raises(ValueRangeError, match=message):
        posecast.models.get("zero-velocity").forecast(walk, frames=frames, seconds=seconds)


def test_nearest_neighbour_finds_the_continuation(walk):
    nn = NearestNeighbour(window=10, frames=25).fit([walk.frames(0, 100)])
    # a query that is a translated copy of training frames 40..49 returns frames 50..74 translated
    shift = np.array([3.0, 0.0, -2.0])
    query = posecast.Motion(walk.positions[40:50] + shift, 25.0, walk.skeleton)
    fc = nn.forecast(query, frames=25)
    np.testing.assert_allclose(fc.samples[0], walk.positions[50:75] + shift, atol=1e-5)
    # K hypotheses, nearest first; the walk is periodic, so the second is one gait cycle away
    fc3 = nn.forecast(query, frames=30, samples=3)
    assert fc3.samples.shape == (3, 30, 31, 3)
    # beyond the indexed 25 frames it searches again from the end of the forecast: frames 75..79
    np.testing.assert_allclose(fc3.samples[0, 25:], walk.positions[75:80] + shift, atol=1e-5)
    with pytest.raises(ModelError, match="fit"):
        NearestNeighbour().forecast(query, frames=5)
    with pytest.raises(ValueRangeError, match="fps"):
        nn.forecast(query.resample(50.0), frames=5)


def test_nearest_neighbour_ignores_heading(walk):
    # the same walk turned by 90 degrees about the vertical finds the same continuation, turned
    nn = NearestNeighbour(window=10, frames=25).fit([walk.frames(0, 100)])
    turn = np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    query = posecast.Motion(walk.positions[40:50] @ turn.T, 25.0, walk.skeleton)
    fc = nn.forecast(query, frames=10)
    np.testing.assert_allclose(fc.samples[0], walk.positions[50:60] @ turn.T, atol=1e-5)


def test_nearest_neighbour_residual_continues_from_the_observed_pose(walk):
    train = walk.frames(0, 100)
    query = posecast.Motion(walk.positions[40:50] * 1.02, 25.0, walk.skeleton)  # a slightly larger person
    res = NearestNeighbour(window=10, frames=25).fit([train]).forecast(query, frames=5)
    lit = NearestNeighbour(window=10, frames=25, residual=False).fit([train]).forecast(query, frames=5)
    # residual: last observed pose + the neighbour's displacement (frames 40..49 are the nearest window)
    np.testing.assert_allclose(
        res.samples[0], query.positions[-1] + (walk.positions[50:55] - walk.positions[49]), atol=1e-5
    )
    # literal: the neighbour's own frames, moved to the observed root in the ground plane
    shift = query.positions[-1, 0] - walk.positions[49, 0]
    shift[1] = 0.0
    np.testing.assert_allclose(lit.samples[0], walk.positions[50:55] + shift, atol=1e-5)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_the_registry_alone_says_which_models_give_distinct_samples(walk):
    """Whether ``samples=K`` gives K different forecasts has one source, the registry's ``distinct_samples``
    (read by `posecast.api.check_samples`, the CLI, the server and ``posecast models --json``). The
    forecasters had carried a second one, a ``deterministic`` attribute no code read, and it had drifted:
    nearest-neighbour said ``deterministic = True`` while its K samples are its K nearest windows."""
    import posecast.keyposes.forecaster  # noqa: F401  (the key-pose forecaster, so its class is seen too)
    import posecast.models.neural  # noqa: F401
    import posecast.models.st_transformer  # noqa: F401
    from posecast.keyposes.forecaster import KeyPoseForecaster
    from posecast.models.base import Forecaster
    from posecast.models.canonical import CanonicalForecaster

    classes = [Forecaster, KeyPoseForecaster, *_subclasses(Forecaster)]
    assert CanonicalForecaster in classes and NearestNeighbour in classes
    assert [c.__name__ for c in classes if hasattr(c, "deterministic")] == []
    # the registry's word matches what the models do
    info = posecast.models.registry.info
    assert info("nearest-neighbour").gives_distinct_samples and not info("zero-velocity").gives_distinct_samples
    query = posecast.Motion(walk.positions[40:50], 25.0, walk.skeleton)
    nn = NearestNeighbour(window=10, frames=25).fit([walk.frames(0, 100)]).forecast(query, frames=5, samples=2)
    assert np.abs(nn.samples[0] - nn.samples[1]).max() > 1e-3
    zv = posecast.models.get("zero-velocity").forecast(query, frames=5, samples=2)
    np.testing.assert_array_equal(zv.samples[0], zv.samples[1])


def _walk_away(skel, seconds: float, fps: float, start, yaw: float, phase: float = 0.0) -> np.ndarray:
    """``(T, J, 3)``: the body walking at 1.2 m/s from ``start`` with heading ``yaw`` (rad about +y), its legs
    swinging rigidly about the hips (every bone keeps its length), its feet on y = 0; ``joint_Root`` stays at 0."""
    rest = skel.rest_positions()
    rest[1:, 1] -= rest[1:, 1].min()  # soles on the floor
    t = np.arange(round(seconds * fps)) / fps
    out = np.empty((t.size,) + rest.shape)
    for i, ti in enumerate(t):
        pos = rest.copy()
        for hip, sign in ((14, 1.0), (18, -1.0)):  # UpperLeg_L, UpperLeg_R and the three joints below each
            a = sign * 0.35 * np.sin(2 * np.pi * ti + phase)
            c, s = np.cos(a), np.sin(a)
            rel = pos[hip + 1 : hip + 4] - pos[hip]
            turned = [rel[:, 0], c * rel[:, 1] - s * rel[:, 2], s * rel[:, 1] + c * rel[:, 2]]
            pos[hip + 1 : hip + 4] = pos[hip] + np.stack(turned, -1)
        pos[1:, 2] += 1.2 * ti
        cy, sy = np.cos(yaw), np.sin(yaw)
        body = pos[1:] @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]).T + np.asarray(start, dtype=float)
        out[i, 1:], out[i, 0] = body, 0.0
    return out


def test_nearest_neighbour_at_120_fps_on_a_world_root_rig_keeps_the_body(bandai_like_rig):
    """At 120 fps, with a floor-level world root the walking body has left: searched once a second (not every
    25 frames) in a frame about the hips (not the world root), the body keeps its bones and its floor, and the
    world root stays put (session 26 QA, finding 3: bones stretched 6-13x, the body sank a metre)."""
    skel, fps = bandai_like_rig, 120.0
    train = [_walk_away(skel, 4.0, fps, (x, 0.0, z), yaw) for x, z, yaw in ((0, 1, 0.0), (3, -2, 1.2), (-4, 2, -2.0))]
    nn = NearestNeighbour().fit(train, fps=fps, skeleton=skel)
    assert nn._every == 120  # 25 frames at 25 fps: one search a second at 120 fps too
    query = _walk_away(skel, 0.5, fps, (6.0, 0.0, -5.0), 2.5, phase=1.0)
    out = nn.predict(query[None], 6 * 120, fps=fps)[0, 0]  # 6 s
    bones = [(p, c) for c, p in enumerate(skel.parents) if p > 0]
    length = lambda x: np.stack([np.linalg.norm(x[..., c, :] - x[..., p, :], axis=-1) for p, c in bones], -1)  # noqa: E731
    change = np.abs(length(out) / length(query[-1]) - 1)
    assert np.median(change) < 0.02 and change.max() < 0.15
    low = out[:, 1:, 1].min(axis=1)  # the lowest body joint per frame; the observed floor is y = 0
    assert np.abs(low).max() < 0.05
    np.testing.assert_array_equal(out[:, 0], 0.0)  # joint_Root where it was observed
