"""Motion recorded with another up axis than PoseCast's y (z-up BVH rigs, ROS and Human3.6M world
coordinates): the models on the canonical body find the axis, forecast upright and turn the forecast
back, so that a z-up recording gets exactly the y-up recording's forecast turned z up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast.errors import SkeletonError
from posecast.motion import Motion
from posecast.skeletons.canonical import (
    UP_ROTATIONS,
    parse_up,
    retarget,
    trunk_axis,
    up_axes,
    world_up,
)
from posecast.synthetic import synthetic_walk


def _posecast(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posecast", *args], capture_output=True, text=True, timeout=120)


def _turned(positions: np.ndarray, axis: str) -> np.ndarray:
    """y-up positions ``(..., 3)`` turned so that +y points along ``axis`` (the inverse of UP_ROTATIONS)."""
    return positions @ UP_ROTATIONS[axis]  # row vectors: p @ R = R^T p


def _canonical_walk() -> np.ndarray:
    walk = synthetic_walk(seconds=2.0, fps=25.0)
    return retarget(walk.skeleton).to_canonical(walk.positions)  # (50, 22, 3), y up, walking along +z


def test_rotations_are_proper_and_turn_their_axis_up():
    for axis, rot in UP_ROTATIONS.items():
        sign, name = (1.0 if axis[0] == "+" else -1.0), axis[1]
        vec = sign * np.eye(3)["xyz".index(name)]
        np.testing.assert_allclose(rot @ vec, [0.0, 1.0, 0.0], atol=1e-12)
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rot) == pytest.approx(1.0)  # never a mirror: left stays left


@pytest.mark.parametrize("axis", list(UP_ROTATIONS))
def test_a_walk_recorded_along_any_axis_is_found(axis):
    walk = _canonical_walk()
    assert up_axes(_turned(walk, axis)[None]) == [axis]


def test_a_body_lying_along_its_path_is_not_turned_and_a_still_one_is():
    walk = _canonical_walk()
    pose = walk[0] - walk[0, 0]
    lying = _turned(np.repeat(pose[None], 50, axis=0), "+x")  # the trunk along +x, y still up
    assert trunk_axis(lying[None]) == ["+x"]
    # a still body lying on its side is taken for a standing one in an x-up world (documented)
    assert up_axes(lying[None]) == ["+x"]
    # ... but one moving 0.6 m along its trunk (crawling head first) is not: it lies on its path
    crawl = lying + np.linspace(0.0, 0.6, 50)[:, None, None] * np.array([1.0, 0.0, 0.0])
    assert up_axes(crawl[None]) == ["+y"]
    # a block that states the world, and a mapping's own entry, win over the guess
    with world_up("y"):
        assert up_axes(lying[None]) == ["+y"]
        assert up_axes(lying[None], explicit="-z") == ["-z"]
    assert up_axes(lying[None]) == ["+x"]  # the block is over


def test_a_body_turning_over_is_undecided_and_stays_y_up():
    walk = _canonical_walk()
    pose = walk[0] - walk[0, 0]
    angles = np.linspace(0.0, np.pi, 50)  # head over heels about x within the window
    rot = np.stack([np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]]) for a in angles])
    over = np.einsum("tij,kj->tki", rot, pose)
    assert trunk_axis(over[None]) == [None]
    assert up_axes(over[None]) == ["+y"]


def test_parse_up_accepts_the_usual_spellings_and_names_the_problem():
    for text, axis in [("z", "+z"), ("-Z", "-z"), ("y-up", "+y"), (" x ", "+x"), ("+y", "+y"), ("Z up", "+z")]:
        assert parse_up(text) == axis
    for bad in ("q", "", "zz", 3, None):
        with pytest.raises(SkeletonError, match="up axis"):
            parse_up(bad)


def test_a_mapping_names_the_up_axis_and_a_bad_one_names_the_file(tmp_path: Path):
    assert retarget("smplh-22", {"up": "z"}).up == "+z"
    assert retarget("smplh-22", {"up": "z", "head": "head"}).up == "+z"
    assert retarget("smplh-22").up is None
    good = tmp_path / "map.yaml"
    good.write_text("up: -x\n")
    assert retarget("smplh-22", good).up == "-x"
    bad = tmp_path / "bad.yaml"
    bad.write_text("up: sideways\n")
    with pytest.raises(SkeletonError, match=r"bad\.yaml: up axis 'sideways'"):
        retarget("smplh-22", bad)


@pytest.mark.parametrize("model", ["dct-mlp", "st-transformer", "charpose"])
def test_a_z_up_history_gets_the_y_up_forecast_turned_z_up(model):
    walk = _canonical_walk()
    upright = Motion(walk, 25.0, "smplh-22")
    z_up = Motion(_turned(walk, "+z"), 25.0, "smplh-22")
    kw = {} if model == "charpose" else {"seconds": 0.4}
    a = posecast.forecast(upright, model=model, **kw)
    b = posecast.forecast(z_up, model=model, **kw)
    np.testing.assert_allclose(b.samples, _turned(a.samples, "+z"), atol=1e-5)
    assert b.metadata["up_axis"] == "+z" and a.metadata["up_axis"] == "+y"  # recorded also when y
    # told that y is up, the model sees a person lying down: another forecast
    c = posecast.forecast(z_up, model=model, mapping={"up": "y"}, **kw)
    assert np.abs(c.samples - b.samples).max() > 0.02
    np.testing.assert_allclose(posecast.forecast(z_up, model=model, up="y", **kw).samples, c.samples, atol=1e-6)
    np.testing.assert_allclose(posecast.forecast(z_up, model=model, up="z", **kw).samples, b.samples, atol=1e-6)


def _z_up_bvh(path: Path) -> Motion:
    """The synthetic walk written as a BVH file whose world (rest pose and motion) has z up."""
    walk = synthetic_walk(seconds=3.0, fps=30.0)
    q = UP_ROTATIONS["+z"].T  # y -> z
    skel = walk.skeleton.with_offsets(walk.skeleton.offsets @ q.T, name="walk-z-up")
    rot = q @ walk.rotations @ q.T  # every local rotation conjugated: the whole rig turned rigidly
    root = None if walk.root_translation is None else walk.root_translation @ q.T
    turned = Motion(walk.positions @ q.T, walk.fps, skel, rotations=rot, root_translation=root)
    posecast.save(turned, path)
    return walk


def test_a_z_up_bvh_file_forecast_on_the_command_line(tmp_path: Path):
    upright = tmp_path / "walk.bvh"
    walk = _z_up_bvh(tmp_path / "walk_z_up.bvh")
    posecast.save(walk, upright)
    back = posecast.load(tmp_path / "walk_z_up.bvh")
    np.testing.assert_allclose(back.positions, _turned(walk.positions, "+z"), atol=1e-6)
    outs = {}
    for name in ("walk.bvh", "walk_z_up.bvh"):
        npz = tmp_path / f"{name}.npz"
        r = _posecast("forecast", str(tmp_path / name), "--horizon", "0.5", "--out", str(npz))
        assert r.returncode == 0, r.stderr
        outs[name] = posecast.load(npz)
    np.testing.assert_allclose(outs["walk_z_up.bvh"].samples, _turned(outs["walk.bvh"].samples, "+z"), atol=1e-4)
    # the forecast carries on the walk: the pelvis keeps moving in the z-up file's horizontal plane
    pelvis = outs["walk_z_up.bvh"].samples[0, :, 0]
    assert np.ptp(pelvis[:, 2]) < 0.1 < np.linalg.norm(pelvis[-1, :2] - pelvis[0, :2])
    # --up: one line and exit 2 for a bad axis, nothing written
    bad = tmp_path / "bad.npz"
    r = _posecast("forecast", str(tmp_path / "walk_z_up.bvh"), "--up", "q", "--out", str(bad))
    assert r.returncode == 2 and "up axis 'q'" in r.stderr and "Traceback" not in r.stderr
    assert not bad.exists()
    missing = ["--up", "z", "--mapping", str(tmp_path / "no.yaml"), "--out", str(bad)]
    r = _posecast("forecast", str(tmp_path / "walk_z_up.bvh"), *missing)
    assert r.returncode == 2 and "no.yaml" in r.stderr and not bad.exists()  # a missing mapping file is named
    forced = tmp_path / "forced.npz"
    r = _posecast("forecast", str(tmp_path / "walk_z_up.bvh"), "--up", "z", "--horizon", "0.5", "--out", str(forced))
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(posecast.load(forced).samples, outs["walk_z_up.bvh"].samples, atol=1e-6)


def test_renderings_draw_a_z_up_recording_standing(tmp_path: Path):
    from posecast.viz.scene import build_scene, up_note

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    z_up = Motion(_turned(walk.positions, "+z"), walk.fps, walk.skeleton)
    upright, turned = build_scene(walk), build_scene(z_up)
    assert upright.up == "+y" and turned.up == "+z"
    np.testing.assert_allclose(turned.history, upright.history, atol=1e-9)  # drawn as if recorded y up
    fc = posecast.forecast(z_up, model="dct-mlp", seconds=0.4)
    scene = build_scene(fc)
    assert scene.up == "+z" and up_note(scene.up) == "z up in the data, drawn upright"
    np.testing.assert_allclose(scene.samples, fc.samples @ UP_ROTATIONS["+z"].T, atol=1e-9)  # R p for each p
    assert np.ptp(scene.samples[0, :, 0, 1]) < 0.1  # the pelvis keeps its height on the screen
