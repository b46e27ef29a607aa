"""Histories whose floor is clearly not at y = 0 (camera-space trackers put the origin at the camera, in-place
exports at the hips): the models on the canonical body see them at the training data's floor height and move
the forecast back, so that a history lowered or raised by a metre gets the same forecast lowered or raised.
Inside the band the training data covers, the world is passed on as recorded."""

from __future__ import annotations

import numpy as np
import pytest

import posecast
from posecast.motion import Motion
from posecast.skeletons.canonical import FLOOR_REF_M, floor_offsets, retarget
from posecast.synthetic import synthetic_walk


def _canonical_walk() -> np.ndarray:
    walk = synthetic_walk(seconds=2.0, fps=25.0)
    return retarget(walk.skeleton).to_canonical(walk.positions)  # (50, 22, 3), y up


def _history_with_lowest(g: float) -> np.ndarray:
    """A (1, 2, 22, 3) history whose lowest joint is at height ``g``."""
    h = np.zeros((1, 2, 22, 3))
    h[..., 1] = g + 1.0
    h[0, 1, 5, 1] = g
    return h


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
    walk[..., 1] += FLOOR_REF_M - walk[..., 1].min()  # ... exactly where a far-off history is put
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
    assert bound.encode(low)[..., 1].min() == pytest.approx(FLOOR_REF_M, abs=1e-9)
