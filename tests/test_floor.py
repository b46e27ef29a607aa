"""Histories whose floor is clearly not at y = 0 (camera-space trackers put the origin at the camera, in-place
exports at the hips): the models on the canonical body see them at the training data's floor height and move
the forecast back, so that a history lowered or raised by a metre gets the same forecast lowered or raised.
Inside the band the training data covers, the world is passed on as recorded."""

from __future__ import annotations

import numpy as np
import pytest

import posecast
from posecast.motion import Motion
from posecast.skeletons.canonical import FLOOR_REF_M, floor_heights, floor_offsets, retarget
from posecast.synthetic import synthetic_walk


def _canonical_walk() -> np.ndarray:
    walk = synthetic_walk(seconds=2.0, fps=25.0)
    return retarget(walk.skeleton).to_canonical(walk.positions)  # (50, 22, 3), y up


def _history_with_lowest(g: float) -> np.ndarray:
    """A (1, 2, 22, 3) history whose lowest joint is at height ``g`` in both frames."""
    h = np.zeros((1, 2, 22, 3))
    h[..., 1] = g + 1.0
    h[0, :, 5, 1] = g
    return h


def test_the_floor_is_judged_on_the_frames_the_model_reads_and_a_glitch_does_not_set_it():
    h = np.zeros((1, 100, 22, 3))
    h[..., 1] = np.linspace(0.04, 1.0, 22)  # standing on the floor: lowest joint at 0.04 in every frame
    assert floor_offsets(h)[0] == 0.0
    glitch = h.copy()
    glitch[0, 10, :, 1] -= 1.5  # one frame 1.5 m down (a tracker glitch) ...
    assert floor_offsets(glitch)[0] == 0.0  # ... does not move the floor (10th percentile of the frames)
    glitch[0, 96:, :, 1] -= 1.5  # the last four frames down: within the last four frames that is the floor
    assert floor_offsets(glitch, window=4)[0] == pytest.approx(-1.5)
    assert floor_offsets(glitch, window=50)[0] == 0.0  # 4 of 50 frames (8 %): below the 10th percentile
    assert floor_offsets(glitch)[0] == 0.0


@pytest.mark.parametrize(
    ("g", "offset"),
    [
        (0.0, 0.0),  # on the floor
        (-0.10, 0.0),  # the band's lower edge (calibration: the corpus reaches -0.08)
        (-0.15, 0.5 * (-0.15 - FLOOR_REF_M)),  # half way through the ramp
        (-0.20, -0.20 - FLOOR_REF_M),  # below it: all of the offset
        (-1.0, -1.0 - FLOOR_REF_M),  # a camera-space tracker
        (1.10, 0.0),  # a child on a climbing frame (the corpus reaches 1.06)
        (1.15, 0.5 * (1.15 - FLOOR_REF_M)),
        (2.0, 2.0 - FLOOR_REF_M),
    ],
)
def test_floor_offsets_by_hand(g, offset):
    assert floor_offsets(_history_with_lowest(g))[0] == pytest.approx(offset, abs=1e-12)


def test_floor_offsets_are_continuous():
    g = np.linspace(-0.3, 1.3, 1601)
    off = np.array([floor_offsets(_history_with_lowest(x))[0] for x in g])
    assert np.abs(np.diff(off)).max() < 0.02  # 1 mm steps of height: no jump anywhere


@pytest.mark.parametrize("model", ["dct-mlp", "st-transformer", "charpose"])
def test_a_history_a_metre_off_the_floor_gets_the_same_forecast_moved(model):
    walk = _canonical_walk()
    assert -0.1 < walk[..., 1].min() < 0.1  # the walk stands on the floor ...
    walk[..., 1] += FLOOR_REF_M - floor_heights(walk[None])[0]  # ... exactly where a far-off history is put
    kw = {} if model == "charpose" else {"seconds": 0.4}
    base = posecast.forecast(Motion(walk, 25.0, "smplh-22"), model=model, **kw)
    for dy in (-1.0, -0.94, 1.5):
        up = np.array([0.0, dy, 0.0])
        moved = posecast.forecast(Motion(walk + up, 25.0, "smplh-22"), model=model, **kw)
        np.testing.assert_allclose(moved.samples, base.samples + up, atol=1e-4)  # float32 at metres: 0.1 mm


def test_inside_the_band_the_world_is_passed_on_as_recorded():
    walk = _canonical_walk()
    bound = posecast.models.get("dct-mlp").on_skeleton("smplh-22")
    for dy in (-0.05, 0.0, 0.3):
        h = (walk + np.array([0.0, dy, 0.0]))[None]
        np.testing.assert_array_equal(bound.encode(h), h)
    low = (walk + np.array([0.0, -1.0, 0.0]))[None]
    assert floor_heights(bound.encode(low))[0] == pytest.approx(FLOOR_REF_M, abs=1e-9)


def test_a_glitch_frame_early_in_a_long_motion_does_not_move_the_floor_of_the_forecast():
    walk = synthetic_walk(seconds=8.0, fps=25.0)
    glitched = walk.positions.copy()
    glitched[25] -= np.array([0.0, 1.5, 0.0])  # one frame at 1 s, 1.5 m down, long before the model's window
    clean = posecast.forecast(walk, model="dct-mlp", seconds=0.4)
    bad = posecast.forecast(Motion(glitched, walk.fps, walk.skeleton), model="dct-mlp", seconds=0.4)
    np.testing.assert_allclose(bad.samples, clean.samples, atol=1e-6)
    assert "floor_offset_m" not in bad.metadata
    low = posecast.forecast(Motion(walk.positions - [0.0, 1.0, 0.0], walk.fps, walk.skeleton), model="dct-mlp")
    assert low.metadata["floor_offset_m"] < -0.9  # recorded when the floor was moved


def test_key_poses_stand_on_the_observed_floor():
    from posecast.keyposes.forecaster import grounded_poses, observed_floor

    obs = np.zeros((10, 3, 3))
    obs[:, :, 1] = [[0.0, 1.0, 1.7]] * 10
    obs[2:4, :, 1] += 0.5  # two frames in the air (20 %): over the 10th percentile, the floor stays at 0
    assert observed_floor(obs, np.array([0.0, 1.0, 0.0])) == pytest.approx(0.0)
    poses = np.array([[[0.0, 0.6, 0.0], [0.0, 1.2, 0.0]], [[0.0, -0.4, 0.0], [0.0, 0.3, 0.0]]])  # floating, sunk
    up = np.array([0.0, 1.0, 0.0])
    placed, moves = grounded_poses(poses, 0.05, up)
    np.testing.assert_allclose(moves, [-0.55, 0.45])
    np.testing.assert_allclose(placed[:, :, 1].min(axis=1), [0.05, 0.05])
    np.testing.assert_allclose(placed[..., [0, 2]], poses[..., [0, 2]])  # only along the up axis
    z_up = np.array([0.0, 0.0, 1.0])
    placed_z, _ = grounded_poses(poses[..., [0, 2, 1]], 0.05, z_up)  # the same in a z-up world
    np.testing.assert_allclose(placed_z[..., [0, 2, 1]], placed)


def test_charpose_hypotheses_are_grounded_and_keep_their_root_relative_shape():
    walk = _canonical_walk()
    fc = posecast.forecast(Motion(walk + [0.0, 0.5, 0.0], 25.0, "smplh-22"), model="charpose", samples=3)
    floor, up = fc.metadata["floor_m"], fc.metadata["up_vector"]
    np.testing.assert_allclose((fc.samples[:, 0] @ up).min(axis=-1), floor, atol=1e-9)
    moved = fc.samples[:, 0] - fc.metadata["anchor"] - fc.metadata["grounded_m"][:, None, None] * up
    np.testing.assert_allclose(moved, fc.metadata["root_relative"], atol=1e-9)
