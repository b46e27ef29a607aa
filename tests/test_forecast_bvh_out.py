"""A forecast written back as a BVH on the input's own skeleton: `Forecast.to_motion` and
``posecast forecast INPUT.bvh --out f.bvh`` (observed frames + forecast sample 0, same joint names and
bone lengths, rotations recovered from the forecast positions)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast.cli.forecast import departure_note
from posecast.datasets.paths import dataset_dir
from posecast.errors import SkeletonError, ValueRangeError
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.rotations import geodesic_angle
from posecast.motion import Forecast, Motion
from posecast.skeletons.base import Skeleton
from posecast.synthetic import synthetic_walk


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "posecast", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=300,
    )


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def free_hips_walk(seconds: float = 2.0, fps: float = 30.0) -> Motion:
    """The synthetic walk under a ground-level root that never moves, the ``Hips`` translating below it
    (BVH position channels that move: the layout of the Bandai Namco files)."""
    walk = synthetic_walk(seconds=seconds, fps=fps)
    s = walk.skeleton
    skel = Skeleton(
        name="free-hips",
        joint_names=("ground", *s.joint_names),
        parents=(-1, 0, *(p + 1 for p in s.parents[1:])),
        offsets=np.concatenate([np.zeros((1, 3)), [[0.0, 1.0, 0.0]], s.offsets[1:]]),
    )
    n = walk.num_frames
    rot = np.concatenate([np.broadcast_to(np.eye(3), (n, 1, 3, 3)), walk.rotations], axis=1)
    moves = np.broadcast_to(skel.offsets, (n, skel.num_joints, 3)).copy()
    moves[:, 1] = walk.positions[:, 0]  # the hips' translation from the ground: the walk's root path
    pos, _ = forward_kinematics(rot, moves, skel.parents, np.zeros((n, 3)))
    return Motion(positions=pos, fps=fps, skeleton=skel, rotations=rot, metadata={"units": "cm"})


def single_child_bones(skel: Skeleton) -> list[int]:
    """Joints whose bone (from the parent) is the parent's only child bone: the forecast decides its
    direction exactly, whatever the other bones do."""
    parents = np.array(skel.parents)
    return [
        c
        for c in range(1, skel.num_joints)
        if np.linalg.norm(skel.offsets[c]) > 0 and (parents == parents[c]).sum() == 1
    ]


def check_written(observed: Motion, fc: Forecast, written: Motion, free: tuple[int, ...] = ()) -> None:
    """The BVH written from ``fc`` (sample 0) after ``observed``, loaded back, is the input's skeleton
    with the observed frames followed by the forecast's."""
    skel = observed.skeleton
    t, f = observed.num_frames, fc.num_frames
    assert written.skeleton.joint_names == skel.joint_names
    assert written.skeleton.parents == skel.parents
    assert written.num_frames == t + f and written.fps == pytest.approx(fc.fps)
    np.testing.assert_allclose(written.skeleton.bone_lengths(), skel.bone_lengths(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(written.positions[:t], observed.positions, atol=1e-6)
    future = written.positions[t:]
    np.testing.assert_allclose(future[:, 0], fc.samples[0, :, 0], atol=1e-6)  # root motion included
    for j in free:  # translating joints follow the forecast
        np.testing.assert_allclose(future[:, j], fc.samples[0, :, j], atol=1e-6)
    # the forecast's bone lengths are the input's, in every frame
    parents = np.array(skel.parents)
    rigid = [c for c in range(1, skel.num_joints) if c not in free]
    lengths = np.linalg.norm(future[:, rigid] - future[:, parents[rigid]], axis=-1)
    np.testing.assert_allclose(
        lengths, np.broadcast_to(np.linalg.norm(skel.offsets[rigid], axis=-1), lengths.shape), atol=1e-6
    )
    # ... and its bone directions the forecast's, wherever a bone is its parent's only one
    bones = [c for c in single_child_bones(skel) if c not in free]
    fc_pos = fc.samples[0]
    cos = np.sum(
        unit(future[:, bones] - future[:, parents[bones]]) * unit(fc_pos[:, bones] - fc_pos[:, parents[bones]]), -1
    )
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1e-4
    # the first forecast frame continues the observed rotations: no twist flips at the join (a flip turns a
    # joint by up to 180 degrees; a learned model may start moving a joint that was still, by a few degrees)
    steps = np.degrees(geodesic_angle(written.rotations[1:], written.rotations[:-1]))  # (T + F - 1, J)
    observed_step = steps[t - 10 : t - 1].max(axis=0)
    assert (steps[t - 1] <= 3 * observed_step + 10.0).all(), (steps[t - 1], observed_step)


def test_to_motion_on_a_generated_skeleton_with_free_hips(tmp_path):
    motion = free_hips_walk()
    fc = posecast.forecast(motion, seconds=0.5)
    joined = fc.to_motion()
    assert joined.metadata["observed_frames"] == motion.num_frames and joined.metadata["forecast_frames"] == 15
    posecast.save(joined, tmp_path / "f.bvh")
    check_written(motion, fc, posecast.load(tmp_path / "f.bvh"), free=(1,))
    future = fc.to_motion(include_history=False)
    assert future.num_frames == fc.num_frames and future.metadata["observed_frames"] == 0
    np.testing.assert_allclose(future.rotations, joined.rotations[motion.num_frames :])


def test_to_motion_of_a_rigid_forecast_is_exact():
    """A forecast whose bones keep their lengths (here: the true future) comes back to the micrometre."""
    motion = synthetic_walk(seconds=2.0, fps=25.0)
    history = motion[:30]
    fc = Forecast(samples=motion.positions[None, 30:], fps=25.0, skeleton=motion.skeleton, history=history)
    joined = fc.to_motion()
    np.testing.assert_allclose(joined.positions, motion.positions, atol=1e-9)
    assert np.isfinite(joined.rotations).all()


def test_to_motion_positions_only_history_and_resampled_history():
    walk = synthetic_walk(seconds=2.0, fps=50.0)
    plain = Motion(positions=walk.positions, fps=50.0, skeleton=walk.skeleton)  # no rotations: recovered
    fc = Forecast(samples=walk.positions[None, -5:], fps=50.0, skeleton=walk.skeleton, history=plain[:-5])
    joined = fc.to_motion()
    np.testing.assert_allclose(joined.positions, walk.positions, atol=1e-9)
    # a forecast at 25 fps after a 50 fps history: the history is resampled, its bones stay rigid
    fc25 = Forecast(samples=walk.positions[None, -6::2], fps=25.0, skeleton=walk.skeleton, history=walk[:-6])
    joined = fc25.to_motion()
    assert joined.fps == 25.0 and joined.num_frames == walk[:-6].resample(25.0).num_frames + 3
    pos, _ = forward_kinematics(joined.rotations, walk.skeleton.offsets, walk.skeleton.parents, joined.positions[:, 0])
    np.testing.assert_allclose(joined.positions, pos, atol=1e-9)


def test_to_motion_errors():
    walk = synthetic_walk(seconds=1.0, fps=25.0)
    with pytest.raises(SkeletonError, match="no history"):
        Forecast(samples=walk.positions[None], fps=25.0, skeleton=walk.skeleton).to_motion()
    fc = Forecast(samples=walk.positions[None, -3:], fps=25.0, skeleton=walk.skeleton, history=walk[:-3])
    with pytest.raises(ValueRangeError, match="sample 1"):
        fc.to_motion(sample=1)
    coco = Motion(positions=np.zeros((5, 17, 3)), fps=25.0, skeleton="coco-17")
    with pytest.raises(SkeletonError, match="no rest offsets"):
        Forecast(samples=np.zeros((1, 2, 17, 3)), fps=25.0, skeleton="coco-17", history=coco).to_motion()


# ----------------------------------------------------------------------------------------- the CLI
def cli_round_trip(source: Path, tmp_path: Path, free: tuple[int, ...] = (), skip: int = 0) -> None:
    r = run("forecast", str(source), "--horizon", "1", "--out", "f.npz", "--out", "f.bvh", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fc = posecast.load(tmp_path / "f.npz")
    observed = posecast.load(source)
    assert fc.metadata["history_starts_at_frame"] == skip  # CMU BVH's T-pose (skip 1) is not in the history
    observed = observed[skip:]
    assert fc.history.num_frames == observed.num_frames
    written = posecast.load(tmp_path / "f.bvh")
    check_written(observed, fc, written, free)
    text = (tmp_path / "f.bvh").read_text()
    for name in observed.metadata.get("bvh_end_sites", {}):  # the input's End Sites are back
        assert f"JOINT {name}\n" in text or f"ROOT {name}\n" in text
    assert text.count("End Site") == sum(len(v) for v in observed.metadata.get("bvh_end_sites", {}).values())
    assert written.metadata["units"] == observed.metadata["units"]
    assert written.metadata.get("bvh_rotation_order") == observed.metadata.get("bvh_rotation_order")  # kept


def test_cli_writes_bvh_of_a_generated_walk(tmp_path):
    source = tmp_path / "walk.bvh"
    posecast.save(synthetic_walk(seconds=3.0, fps=25.0), source)
    cli_round_trip(source, tmp_path)


def test_cli_writes_bvh_in_the_inputs_rotation_order(tmp_path):
    source = tmp_path / "walk_zxy.bvh"
    posecast.save(synthetic_walk(seconds=3.0, fps=25.0), source, order="ZXY")  # as Mixamo writes them
    assert posecast.load(source).metadata["bvh_rotation_order"] == "ZXY"
    cli_round_trip(source, tmp_path)
    text = (tmp_path / "f.bvh").read_text()
    assert "Zrotation Xrotation Yrotation" in text and "Zrotation Yrotation Xrotation" not in text


def test_cli_writes_bvh_in_each_joints_own_order_and_channels(tmp_path):
    """A rig whose joints do not share one rotation order, with position channels on some joints (the Poser / DAZ
    and Bandai Namco layouts): the forecast's BVH has every joint's channels as the input has them."""
    walk = synthetic_walk(seconds=3.0, fps=25.0)
    orders = ("ZXY", "YXZ", "XYZ", "ZYX", "XZY", "YZX")
    layout = {}
    for j, name in enumerate(walk.skeleton.joint_names):
        rotations = " ".join(f"{a}rotation" for a in orders[j % len(orders)])
        six = j == 0 or j % 3 == 1  # the root, and every third joint, with position channels too
        layout[name] = ("Xposition Yposition Zposition " if six else "") + rotations
    source = tmp_path / "mixed.bvh"
    posecast.save(Motion(walk.positions, walk.fps, walk.skeleton, rotations=walk.rotations,
                         metadata={"bvh_joint_channels": layout}), source)  # fmt: skip
    read = posecast.load(source)
    assert read.metadata["bvh_joint_channels"] == layout and "bvh_rotation_order" not in read.metadata
    np.testing.assert_allclose(read.positions, walk.positions, atol=1e-9)
    cli_round_trip(source, tmp_path)
    assert posecast.load(tmp_path / "f.bvh").metadata["bvh_joint_channels"] == layout


def test_cli_fps_rescues_a_bvh_with_a_bad_frame_time(tmp_path):
    source = tmp_path / "walk.bvh"
    posecast.save(synthetic_walk(seconds=3.0, fps=25.0), source)
    text = source.read_text()
    assert "Frame Time: 0.04\n" in text
    source.write_text(text.replace("Frame Time: 0.04\n", "Frame Time: 25\n"))  # the rate where the period belongs
    r = run("forecast", str(source), "--horizon", "0.4", "--out", "f.npz", cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "f.npz").exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "walk.bvh" in lines[0] and "1/25 = 0.04 s" in lines[0] and "--fps" in lines[0], r.stderr
    r = run("forecast", str(source), "--fps", "25", "--horizon", "0.4", "--out", "f.npz", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    fc = posecast.load(tmp_path / "f.npz")
    assert fc.fps == 25.0 and fc.num_frames == 10


def test_cli_writes_compressed_outputs_by_their_inner_suffix(tmp_path):
    """``--out f.bvh.gz`` and ``--out f.json.gz`` are written compressed, as `posecast formats` says (they had been
    refused as '.gz'); a compressed rendering is refused before any work."""
    source = tmp_path / "walk.bvh"
    posecast.save(synthetic_walk(seconds=2.0, fps=25.0), source)
    outs = ["f.bvh", "f.bvh.gz", "f.json.gz", "f.npz.gz", "f.npz"]
    r = run("forecast", str(source), "--horizon", "0.4", *[a for o in outs for a in ("--out", o)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "f.bvh.gz").read_bytes()[:2] == b"\x1f\x8b"
    plain, packed = posecast.load(tmp_path / "f.bvh"), posecast.load(tmp_path / "f.bvh.gz")
    np.testing.assert_array_equal(packed.positions, plain.positions)
    fc = posecast.load(tmp_path / "f.npz")
    for name in ("f.json.gz", "f.npz.gz"):
        np.testing.assert_allclose(posecast.load(tmp_path / name).samples, fc.samples, atol=1e-6)
    r = run("forecast", str(source), "--out", "g.npz", "--out", "g.mp4.gz", cwd=tmp_path)
    assert r.returncode == 2 and "g.mp4.gz: cannot write .mp4 gzip-compressed" in r.stderr, r.stderr
    assert not (tmp_path / "g.npz").exists()


def test_cli_refuses_a_joint_name_bvh_cannot_hold_before_any_work(tmp_path):
    """The reader takes ``LeftHand{Index1}``, the BVH writer cannot: refused before the forecast, so the .npz given
    before the .bvh is not left behind."""
    source = tmp_path / "brace.bvh"
    posecast.save(synthetic_walk(seconds=2.0, fps=25.0), source)
    text = source.read_text()
    assert "JOINT LeftHandIndex1\n" in text
    source.write_text(text.replace("JOINT LeftHandIndex1\n", "JOINT LeftHand{Index1}\n"))
    r = run("forecast", str(source), "--out", "p1.npz", "--out", "p2.bvh", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "p2.bvh" in lines[0] and "'LeftHand{Index1}' cannot be written" in lines[0], r.stderr
    assert not (tmp_path / "p1.npz").exists() and not (tmp_path / "p2.bvh").exists()


def test_cli_writes_bvh_on_a_cmu_skeleton(cmu_bvh_dir, tmp_path):
    source = next(p for p in sorted(cmu_bvh_dir.rglob("*.bvh")))
    cli_round_trip(source, tmp_path, skip=1)


def test_bandai_file_with_free_hips(tmp_path):
    root = dataset_dir("bandai_namco", required=False)
    if root is None:
        pytest.skip("real data 'bandai_namco' not available: set POSECAST_DATA to the shared data root")
    source = next(iter(sorted(root.rglob("*.bvh.gz"))))
    motion = posecast.load(source)
    fc = posecast.forecast(motion[:60], seconds=0.5)
    posecast.save(fc.to_motion(), tmp_path / "f.bvh")
    written = posecast.load(tmp_path / "f.bvh")
    check_written(motion[:60], fc, written, free=(motion.skeleton.index("Hips"),))


def test_cli_refuses_bvh_without_a_hierarchy(tmp_path):
    source = tmp_path / "points.npz"
    rng = np.random.default_rng(0)
    posecast.save(Motion(positions=rng.normal(size=(30, 17, 3)), fps=25.0, skeleton="coco-17"), source)
    r = run("forecast", str(source), "--horizon", "1", "--out", "f.npz", "--out", "f.bvh", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "f.bvh" in lines[0] and "no hierarchy" in lines[0], r.stderr
    assert not (tmp_path / "f.npz").exists() and not (tmp_path / "f.bvh").exists()


def test_to_motion_positions_only_history_keeps_the_persons_proportions():
    """Positions with other bone lengths and other angles between the bones that leave one joint (hips and
    spine from the pelvis) than the skeleton's rest pose come back to the sub-millimetre: the rest offsets are
    fitted to the history (`fit_offsets`); with the template's offsets the same recovery misses by centimetres."""
    from posecast.kinematics.ik import fit_offsets, rotations_from_positions

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    skel = walk.skeleton
    rng = np.random.default_rng(0)
    person = skel.offsets * rng.uniform(0.8, 1.25, size=(skel.num_joints, 1))  # other lengths
    branching = [j for j in range(skel.num_joints) if list(skel.parents).count(j) > 1]
    assert branching  # the walk's skeleton has joints with several child bones
    tilt = posecast.kinematics.euler_to_matrix(np.radians([12.0, -8.0, 5.0]), "ZYX")
    for j in branching:
        kids = [c for c, p in enumerate(skel.parents) if p == j]
        person[kids[0]] = tilt @ person[kids[0]]  # one child bone at another angle to its siblings
    pos, _ = forward_kinematics(walk.rotations, person, skel.parents, walk.positions[:, 0])
    plain = Motion(positions=pos, fps=25.0, skeleton=skel)
    fc = Forecast(samples=pos[None, 40:], fps=25.0, skeleton=skel, history=plain[:40])
    joined = fc.to_motion()
    np.testing.assert_allclose(joined.positions, pos, atol=5e-4)
    lengths = np.linalg.norm(joined.skeleton.offsets, axis=-1)
    np.testing.assert_allclose(lengths, np.linalg.norm(person, axis=-1), atol=1e-6)
    # the template's offsets cannot point every bone of the branching joints where the person's are
    template = forward_kinematics(rotations_from_positions(pos, skel), skel.offsets, skel.parents, pos[:, 0])[0]
    assert np.linalg.norm(template - pos, axis=-1).max() > 0.01
    np.testing.assert_allclose(fit_offsets(pos, skel), joined.skeleton.offsets, atol=1e-9)
    with pytest.raises(SkeletonError, match=r"do not fit \(T, \d+, 3\)"):
        fit_offsets(pos[:, :3], skel)


def test_json_and_npz_copies_of_a_bvh_motion_write_the_same_bvh(cmu_bvh_dir, tmp_path):
    """A motion read from a BVH file, saved by PoseCast as .json and as .npz, forecasts to the same BVH: only the
    root translates (the JSON used to hold positions rounded to the micrometre, off their rotations by more than
    the writer's and `extend_rotations`' tolerances: 21 joints got position channels and followed the forecast)."""
    motion = posecast.load(cmu_bvh_dir / "02" / "02_01.bvh")[1:61]
    texts, written = {}, {}
    for suffix in (".npz", ".json"):
        copy = posecast.load(posecast.save(motion, tmp_path / f"m{suffix}"))
        np.testing.assert_array_equal(copy.positions, motion.positions)  # exact, both
        np.testing.assert_array_equal(copy.rotations, motion.rotations)
        fc = posecast.forecast(copy, model="constant-velocity", seconds=0.5)
        path = posecast.save(fc.to_motion(), tmp_path / f"f{suffix}.bvh")
        texts[suffix], written[suffix] = path.read_text(), posecast.load(path)
    channel_lines = {s: [ln.strip() for ln in t.splitlines() if "CHANNELS" in ln] for s, t in texts.items()}
    assert channel_lines[".json"] == channel_lines[".npz"]
    assert sum(line.startswith("CHANNELS 6") for line in channel_lines[".npz"]) == 1  # the root's, as read
    assert channel_lines[".npz"][0] == "CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"
    np.testing.assert_allclose(written[".json"].positions, written[".npz"].positions, atol=1e-9)
    parents = np.array(motion.skeleton.parents)
    lengths = np.linalg.norm(written[".json"].positions[:, 1:] - written[".json"].positions[:, parents[1:]], axis=-1)
    assert np.ptp(lengths, axis=0).max() < 1e-9  # no bone stretches


def test_to_motion_says_how_far_the_bvh_departs_from_a_forecast_that_stretches_bones():
    """A two-joint rig (a 1 m bone up from the root): a forecast that doubles the bone is written with the rig's
    1 m, so the child is 1 m off the forecast in each of the 4 frames and the root 0 m: largest 1 m, mean 0.5 m."""
    skel = Skeleton(
        name="stick", joint_names=("root", "tip"), parents=(-1, 0), offsets=np.array([[0, 0, 0], [0, 1.0, 0]])
    )
    rest = np.array([[0.0, 0, 0], [0, 1, 0]])
    history = Motion(
        positions=np.repeat(rest[None], 3, axis=0), fps=10.0, skeleton=skel, rotations=np.tile(np.eye(3), (3, 2, 1, 1))
    )
    stretched = np.array([[0.0, 0, 0], [0, 2, 0]])
    fc = Forecast(samples=np.repeat(stretched[None, None], 4, axis=1), fps=10.0, skeleton=skel, history=history)
    joined = fc.to_motion()
    np.testing.assert_allclose(joined.positions[3:, 1], np.broadcast_to([0.0, 1.0, 0.0], (4, 3)), atol=1e-12)
    assert joined.metadata["departure_m"] == pytest.approx(1.0, abs=1e-12)
    assert joined.metadata["departure_mean_m"] == pytest.approx(0.5, abs=1e-12)
    assert joined.metadata["departure_observed_m"] == pytest.approx(0.0, abs=1e-12)  # the history is written as read
    assert joined.metadata["bone_change_m"] == pytest.approx(1.0, abs=1e-12)  # the cause: the bone, 1 m -> 2 m
    assert joined.metadata["bone_change_joint"] == "tip" and "observed_bone_range_m" not in joined.metadata
    note = departure_note(joined.metadata)
    assert note == (
        "the BVH's joints are up to 100 cm (mean 50.0 cm) from the forecast's positions in the forecast frames; the "
        "forecast changes bone lengths by up to 100 cm (tip), and a BVH keeps the rig's; .npz / .json hold the "
        "model's positions"
    )
    rigid = Forecast(samples=np.repeat(rest[None, None], 4, axis=1), fps=10.0, skeleton=skel, history=history)
    assert rigid.to_motion().metadata["departure_m"] == pytest.approx(0.0, abs=1e-12)
    assert departure_note(rigid.to_motion().metadata) is None


def test_the_departure_note_measures_the_observed_frames_and_blames_no_bone_that_holds():
    """Review: a positions-only rig whose root stays at the origin while its hips carry the translation (a Bandai
    take's joint_Root and Hips copied as positions) gives a BVH off in the observed frames too, as a BVH joint keeps
    one offset from its parent; the note had said only the forecast frames and blamed bone lengths, which the
    forecast keeps here (the leg bone holds its 0.5 m). The hips walk 0.2 m a frame along x, 1 m up."""
    skel = Skeleton(
        name="walker",
        joint_names=("root", "hips", "foot"),
        parents=(-1, 0, 1),
        offsets=np.array([[0, 0, 0], [0, 1.0, 0], [0, -0.5, 0]]),
    )

    def frames(start: int, n: int) -> np.ndarray:
        hips = np.stack([0.2 * np.arange(start, start + n), np.ones(n), np.zeros(n)], axis=-1)
        return np.stack([np.zeros((n, 3)), hips, hips - [0.0, 0.5, 0.0]], axis=1)

    history = Motion(positions=frames(0, 10), fps=10.0, skeleton=skel)  # positions only
    fc = Forecast(samples=frames(10, 5)[None], fps=10.0, skeleton=skel, history=history)
    meta = fc.to_motion().metadata
    assert meta["departure_observed_m"] > 0.5 and meta["departure_m"] > 0.5
    assert meta["bone_change_m"] == pytest.approx(0.0, abs=1e-9)  # the leg keeps its length
    assert meta["observed_bone_range_joint"] == "hips" and meta["observed_bone_range_parent"] == "root"
    assert meta["observed_bone_range_m"] == pytest.approx(np.hypot(1.8, 1.0) - 1.0)  # |(x, 1, 0)|, x 0 .. 1.8 m
    note = departure_note(meta)
    assert "in the forecast frames and up to" in note and "from the input's in the observed frames" in note
    assert "the distance from root to hips varies by 106 cm in the observed frames" in note
    assert "bone lengths" not in note and note.endswith(".npz / .json hold the model's positions")


def test_cli_notes_a_bvh_that_departs_from_the_forecast(tmp_path):
    """constant-velocity extrapolates every joint on its own: its BVH (rig's bone lengths) departs from the forecast
    by far more than 5 cm, in one note line with the largest distance; zero-velocity keeps the bones: no note."""
    posecast.save(synthetic_walk(seconds=3.0, fps=25.0), tmp_path / "walk.bvh")
    r = run("forecast", "walk.bvh", "--model", "constant-velocity", "--out", "f.npz", "--out", "f.bvh", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    notes = [ln for ln in r.stdout.splitlines() if ln.startswith("note: f.bvh:")]
    note = " ".join(r.stdout[r.stdout.index("note: f.bvh:") :].split())  # (the console wraps long lines)
    assert len(notes) == 1 and "the forecast changes bone lengths by up to" in note, r.stdout
    assert ".npz / .json hold the model's positions" in note and "observed frames" not in note, r.stdout
    fc, written = posecast.load(tmp_path / "f.npz"), posecast.load(tmp_path / "f.bvh")
    gap = np.linalg.norm(written.positions[fc.history.num_frames :] - fc.samples[0], axis=-1).max()
    assert gap > 0.05 and f"joints are up to {100 * gap:.0f} cm" in notes[0]
    r = run("forecast", "walk.bvh", "--model", "zero-velocity", "--out", "g.bvh", cwd=tmp_path)
    assert r.returncode == 0 and "note:" not in r.stdout, r.stdout
