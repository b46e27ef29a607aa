"""The default (learned) motion model on anyone's skeleton: Bandai .bvh.gz, HDM05 ASF/AMC, a CMU BVH with
Mixamo-style names - forecast, written as .npz and as .bvh on the input's own skeleton."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast.models import default_model


def _posecast(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "posecast", *args], capture_output=True, text=True, timeout=120)


def test_the_default_motion_model_is_learned_and_works_on_the_canonical_body():
    entry = default_model("motion")
    assert entry is not None and entry.learned
    variants = {v["skeleton"] for v in entry.variants()}
    assert "smplh-22" in variants


def _check_outputs(src: Path, npz: Path, bvh: Path, horizon_s: float = 1.0, skip: int = 0) -> None:
    observed = posecast.load(src)
    fc = posecast.load(npz)
    # leaf joints named *_end (ASF end sites) are written as BVH End Sites: read them back as joints
    back = posecast.load(bvh, end_sites=any(n.endswith("_end") for n in observed.skeleton.joint_names))
    assert fc.skeleton.joint_names == observed.skeleton.joint_names
    assert fc.model == default_model("motion").name
    assert fc.num_frames == round(horizon_s * observed.fps)
    assert np.isfinite(fc.samples).all()
    # the BVH holds the observed frames then the forecast, on the same joints; the forecast starts where
    # the observation ends (the first forecast frame within 10 cm of the last observed one, per joint)
    names = [re.sub(r"^.*:", "", n) for n in back.skeleton.joint_names]
    assert names == [re.sub(r"^.*:", "", n) for n in observed.skeleton.joint_names]
    assert fc.metadata["history_starts_at_frame"] == skip  # a rest pose first (CMU BVH: 1) is not in the history
    assert back.num_frames == observed.num_frames - skip + fc.num_frames
    step = np.linalg.norm(fc.samples[0, 0] - observed.positions[-1], axis=-1)
    assert step.max() < 0.10


@pytest.mark.usefixtures("posecast_data")
def test_bandai_bvh_gz_forecast_writes_npz_and_bvh(tmp_path):
    from posecast.datasets.splits import files

    src = files("bandai_namco", "test")[0]
    npz, bvh = tmp_path / "f.npz", tmp_path / "f.bvh"
    r = _posecast("forecast", str(src), "--horizon", "1", "--out", str(npz), "--out", str(bvh))
    assert r.returncode == 0, r.stderr
    _check_outputs(src, npz, bvh)


@pytest.mark.usefixtures("posecast_data")
def test_hdm05_amc_with_its_asf_nearby_forecast_writes_npz_and_bvh(tmp_path):
    from posecast.datasets.splits import files

    src = next(p for p in files("hdm05_cuts", "test") if "jog" in p.name.lower() or "walk" in p.name.lower())
    npz, bvh = tmp_path / "f.npz", tmp_path / "f.bvh"
    r = _posecast("forecast", str(src), "--horizon", "0.5", "--out", str(npz), "--out", str(bvh))
    assert r.returncode == 0, r.stderr
    _check_outputs(src, npz, bvh, horizon_s=0.5)


def test_cmu_bvh_with_mixamo_names_forecast_writes_npz_and_bvh(tmp_path, cmu_bvh_dir):
    text = (cmu_bvh_dir / "02" / "02_01.bvh").read_text()
    renamed = re.sub(r"^(\s*(?:ROOT|JOINT)\s+)(\S+)", r"\1mixamorig:\2", text, flags=re.MULTILINE)
    src = tmp_path / "mixamo_walk.bvh"
    src.write_text(renamed)
    motion = posecast.load(src)
    assert motion.skeleton.joint_names[0] == "mixamorig:Hips"
    npz, bvh = tmp_path / "f.npz", tmp_path / "f.bvh"
    r = _posecast("forecast", str(src), "--horizon", "1", "--out", str(npz), "--out", str(bvh))
    assert r.returncode == 0, r.stderr
    _check_outputs(src, npz, bvh, skip=1)


def test_an_unmappable_skeleton_is_one_clear_error_and_nothing_is_written(tmp_path):
    from posecast.motion import Motion
    from posecast.skeletons.base import Skeleton

    skel = Skeleton("snake", ("a", "b", "c"), (-1, 0, 1), np.array([[0, 0, 0], [0, 0.3, 0], [0, 0.3, 0]]))
    pos = np.cumsum(np.random.default_rng(0).normal(0, 0.01, (40, 3, 3)), axis=0) + skel.rest_positions()
    src = tmp_path / "snake.bvh"
    posecast.save(Motion(pos, 25.0, skel, rotations=np.broadcast_to(np.eye(3), (40, 3, 3, 3))), src)
    out = tmp_path / "f.npz"
    r = _posecast("forecast", str(src), "--out", str(out))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "missing" in r.stderr.lower() or "cannot" in r.stderr.lower()
    assert not out.exists()


def test_an_explicit_mapping_file_is_used_and_a_bad_one_refused(tmp_path, cmu_bvh_dir):
    src = cmu_bvh_dir / "02" / "02_01.bvh"
    good = tmp_path / "map.yaml"
    good.write_text("spine2: Spine\nhead: Head\n")
    out = tmp_path / "f.json"
    r = _posecast("forecast", str(src), "--mapping", str(good), "--horizon", "0.2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert posecast.load(out).metadata.get("mapping", {}).get("spine2") == {"Spine": 1.0}
    bad = tmp_path / "bad.yaml"
    bad.write_text("spine2: NoSuchJoint\n")
    r = _posecast("forecast", str(src), "--mapping", str(bad), "--out", str(tmp_path / "g.json"))
    assert r.returncode == 2 and "NoSuchJoint" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "g.json").exists()


@pytest.mark.usefixtures("posecast_data")
def test_st_transformer_runs_its_corpus_weights_on_any_mapped_skeleton_for_long_horizons(tmp_path):
    """`posecast forecast FILE --model st-transformer --horizon 3` on a Bandai skeleton: the canonical-body
    (corpus) weights through the canonical body, 3 s at the file's 30 fps, on the file's own joints; the
    rollout keeps bones within 15 cm of the observed lengths (hand-checked scale: 6-9 cm mean error at 20 s
    on validation)."""
    from posecast.datasets.splits import files
    from posecast.models import get
    from posecast.models.canonical import CanonicalForecaster

    src = files("bandai_namco", "test")[0]
    observed = posecast.load(src)
    st = get("st-transformer")
    assert isinstance(st.on_skeleton(observed.skeleton), CanonicalForecaster)
    npz, bvh = tmp_path / "f.npz", tmp_path / "f.bvh"
    args = ["--model", "st-transformer", "--horizon", "3", "--out", str(npz), "--out", str(bvh)]
    r = _posecast("forecast", str(src), *args)
    assert r.returncode == 0, r.stderr
    fc = posecast.load(npz)
    assert fc.model == "st-transformer" and fc.num_frames == round(3 * observed.fps)
    assert fc.skeleton.joint_names == observed.skeleton.joint_names and np.isfinite(fc.samples).all()
    parents = observed.skeleton.parents
    bones = [(j, p) for j, p in enumerate(parents) if p >= 0]
    seen = np.array([np.linalg.norm(observed.positions[-1, j] - observed.positions[-1, p]) for j, p in bones])
    last = np.array([np.linalg.norm(fc.samples[0, -1, j] - fc.samples[0, -1, p]) for j, p in bones])
    assert np.abs(last - seen).max() < 0.15


@pytest.mark.parametrize("layout", ["coco-17", "blazepose-33"])
def test_keypoint_layouts_without_a_spine_forecast_through_their_body17_table(layout):
    """COCO and BlazePose 3D keypoints (no spine joints to place automatically) reach the canonical body through
    their declared body-17 table; the forecast continues the walk on their own joints."""
    import posecast
    from posecast import skeletons
    from posecast.motion import Motion
    from posecast.skeletons.canonical import NAMES, retarget
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    canon = retarget(walk.skeleton).to_canonical(walk.positions)
    skel = skeletons.get(layout)
    index = {n: i for i, n in enumerate(NAMES)}
    pos = np.stack([canon[:, index[n]] if n in index else canon[:, index["head"]] for n in skel.joint_names], 1)
    r = retarget(skel)
    assert r.assignment["pelvis"] == {"left_hip": 0.5, "right_hip": 0.5}
    fc = posecast.forecast(Motion(pos, 25.0, layout), seconds=1.0)
    hip = skel.joint_names.index("left_hip")
    assert fc.samples.shape == (1, 25, skel.num_joints, 3)
    assert np.linalg.norm(fc.samples[0, 0, hip] - pos[-1, hip]) < 0.1  # no jump at the seam
    assert np.linalg.norm(fc.samples[0, -1, hip] - pos[-1, hip]) > 0.5  # walking on
    # a rightly named person is not said to be swapped (QA: COCO's made-up feet, extended from the knees through the
    # ankles, had pointed backwards and every COCO person got the note)
    assert not {"toes_forward_cos", "hips_shoulders_cos"} & set(fc.metadata)


@pytest.mark.parametrize("model", ["dct-mlp", "st-transformer"])
def test_forecasts_keep_the_rigs_own_bones(model):
    """A canonical-body model that keeps bones keeps the user's rig's body bones too: CMU's ``LeftShoulder -> LeftArm``
    spans the canonical collar, which the mapping makes up, and had changed by up to 20-30 % within 1 s."""
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=3.0, fps=30.0)
    fc = posecast.forecast(walk, model=model, seconds=1.0)
    parents = walk.skeleton.parents
    children = [j for j, p in enumerate(parents) if p >= 0]

    def lengths(p):
        return np.linalg.norm(p[..., children, :] - p[..., [parents[j] for j in children], :], axis=-1)

    np.testing.assert_allclose(
        lengths(fc.samples[0]), np.broadcast_to(lengths(walk.positions[-1]), (30, len(children))), atol=1e-5
    )


def test_bones_that_stretch_in_the_history_are_left_as_forecast():
    """Only bones rigid over the history are kept: one that stretched (a tracker's positions) keeps the forecast's
    own lengths, the others the last observed ones (`CanonicalForecaster._keep_rig_bones`)."""
    from posecast.models import get
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    bound = get("dct-mlp").on_skeleton(walk.skeleton)
    parents = walk.skeleton.parents
    children = [j for j, p in enumerate(parents) if p >= 0]
    hand, arm = walk.skeleton.index("LeftHand"), walk.skeleton.index("LeftForeArm")
    seen = walk.positions[None].copy()  # (1, T, J, 3)
    stretch = 1.0 + 0.1 * np.linspace(0.0, 1.0, seen.shape[1])[:, None]  # the forearm grows 10 % over the history
    below = {hand}
    for j, p in enumerate(parents):  # the hand and its fingers move out together
        if p in below:
            below.add(j)
    shift = (stretch - 1.0) * (seen[0, :, hand] - seen[0, :, arm])  # (T, 3)
    seen[0][:, sorted(below)] += shift[:, None]
    rng = np.random.default_rng(0)
    forecast = seen[:, None, -5:] + rng.normal(0.0, 0.02, (1, 1, 5) + seen.shape[2:])  # (1, 1, 5, J, 3)
    kept = bound._keep_rig_bones(forecast, seen)

    def lengths(p):
        return np.linalg.norm(p[..., children, :] - p[..., [parents[j] for j in children], :], axis=-1)

    k = children.index(hand)
    np.testing.assert_allclose(lengths(kept)[..., k], lengths(forecast)[..., k], atol=1e-9)
    others = [i for i in range(len(children)) if i != k]
    np.testing.assert_allclose(
        lengths(kept)[..., others], np.broadcast_to(lengths(seen[0, -1])[others], (1, 1, 5, len(others))), atol=1e-9
    )
    np.testing.assert_allclose(kept[..., 0, :], forecast[..., 0, :])  # the root stays where forecast
