"""Tracking glitches in the history a model reads: a joint a tracker loses (to the origin, or a bone that breaks)
and finds again is filled in; one it has not found again by the last frame is refused with what to do; a body that
jumped and stays a body (a capture pop, as in BVH files) is read as it is; live streams refuse such frames."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import posecast
from posecast.api import without_glitches
from posecast.errors import PosecastError, ValueRangeError
from posecast.motion import Motion, carry_lost, fill_glitches, tracking_glitches
from posecast.synthetic import synthetic_walk

FPS = 30.0


@pytest.fixture(scope="module")
def walk() -> Motion:
    return synthetic_walk(seconds=4.0, fps=FPS)  # cmu-bvh-31, walking along +z at 1.3 m/s


def test_a_joint_that_leaves_its_bones_by_a_jump_is_a_glitch_until_it_is_back():
    pos = np.zeros((10, 3, 3))
    pos[:, :, 2] = np.arange(10)[:, None] * 0.04  # 1.2 m/s along z
    pos[:, 0, 1], pos[:, 1, 1], pos[:, 2, 1] = 1.0, 1.3, 1.6  # a chain of two 0.3 m bones, straight up
    parents = [-1, 0, 1]
    bad = pos.copy()
    bad[4:7, 2] = 0.0  # the top joint at the origin for frames 4..6
    bad[9, 0] += [5.0, 0.0, 0.0]  # the bottom joint 5 m aside in the last frame
    found = tracking_glitches(bad, FPS, parents)
    assert [(g.joint, g.first, g.last, g.trailing) for g in found] == [(2, 4, 6, False), (0, 9, 9, True)]
    assert found[0].jump_m == pytest.approx(np.linalg.norm(pos[3, 2]))  # from frame 3 to the origin
    fixed = fill_glitches(bad, found)
    np.testing.assert_allclose(fixed[:9], pos[:9], atol=1e-12)  # a straight line at constant speed: the truth here
    np.testing.assert_allclose(fixed[9], bad[9])  # a trailing glitch has nothing after it to fill from
    carried = carry_lost(fixed, parents, found)
    np.testing.assert_allclose(carried[9, 0], pos[9, 0], atol=1e-12)  # carried with its first child (it is a root)
    # the whole body 0.5 m aside for good (a capture pop): bones kept, no glitch; nor is a fast joint that keeps them
    popped = pos.copy()
    popped[5:] += [0.5, 0.0, 0.0]
    assert tracking_glitches(popped, FPS, parents) == []
    swing = pos.copy()
    swing[5:, 2] = pos[5:, 1] + [0.3, 0.0, 0.0]  # the top bone swung 90 degrees in a frame: 13.5 m/s, same length
    assert tracking_glitches(swing, FPS, parents) == []
    assert tracking_glitches(bad, FPS, parents, start=9) == []  # frames before `start` are not motion


def test_a_forecast_reads_a_lost_and_found_joint_filled_in(walk):
    clean = walk.positions.copy()
    holed = clean.copy()
    holed[100:104, 20] = 0.0  # LeftHand lost for 4 frames, 0.5 s before the end
    fc = posecast.forecast(Motion(holed, FPS, walk.skeleton), model="dct-mlp", seconds=0.5)
    assert fc.metadata["repaired_glitches"] == [{"joint": walk.skeleton.joint_names[20], "first_frame": 100,
                                                 "last_frame": 103}]  # fmt: skip
    by_hand = holed.copy()
    w = np.arange(1, 5)[:, None] / 5
    by_hand[100:104, 20] = (1 - w) * clean[99, 20] + w * clean[104, 20]
    expected = posecast.forecast(Motion(by_hand, FPS, walk.skeleton), model="dct-mlp", seconds=0.5)
    np.testing.assert_allclose(fc.samples, expected.samples, atol=1e-9)
    np.testing.assert_allclose(fc.history.positions, by_hand, atol=1e-12)
    # far back (more than the 2 s read): left as it is, nothing said
    old = clean.copy()
    old[10:14, 20] = 0.0
    assert "repaired_glitches" not in posecast.forecast(Motion(old, FPS, walk.skeleton), model="dct-mlp").metadata
    # lost for 3 frames right after a rest pose left out (detached_start): filled, not taken for a loss at the end
    rest = clean.copy()
    rest[0, 18:21] += [0.0, 0.8, 0.0]
    rest[1:4, 20] = 0.0
    fc = posecast.forecast(Motion(rest[:60], FPS, walk.skeleton), model="dct-mlp", seconds=0.2)
    assert fc.metadata["history_starts_at_frame"] == 1
    assert fc.metadata["repaired_glitches"] == [{"joint": "LeftHand", "first_frame": 1, "last_frame": 3}]


def test_a_joint_lost_at_the_end_is_carried_and_a_person_lost_is_refused_saying_what_to_do(walk, tmp_path):
    hand = walk.positions.copy()
    hand[-5:, 20] = 0.0  # frames 116..120 of 121
    fc = posecast.forecast(Motion(hand, FPS, walk.skeleton), model="dct-mlp", seconds=0.2)
    assert fc.metadata["carried_joints"] == [{"joint": "LeftHand", "lost_from_frame": 116}]
    keep = walk.positions[115, 20] - walk.positions[115, 19]  # its offset from the forearm when last tracked
    np.testing.assert_allclose(fc.history.positions[116:, 20], walk.positions[116:, 19] + keep, atol=1e-12)
    assert np.abs(fc.samples[0, :, 20] - fc.samples[0, :, 19]).max() < 0.5  # the forecast hand stays at the arm
    for lost_for in (60, 90):  # lost 2 s or 3 s before the end: the frames read still have it lost
        far = walk.positions.copy()
        far[-lost_for:, 20] = 0.0
        meta = posecast.forecast(Motion(far, FPS, walk.skeleton), model="dct-mlp", seconds=0.2).metadata
        assert meta["carried_joints"] == [{"joint": "LeftHand", "lost_from_frame": 121 - lost_for}]
    gone = walk.positions.copy()
    gone[-3:] = 0.0
    said = r"every joint lost by the tracker from frame 118 \(3\.93 s\).* frames up to 3\.90 s \(CLI and Python: --at"
    with pytest.raises(ValueRangeError, match=said):
        posecast.forecast(Motion(gone, FPS, walk.skeleton), model="dct-mlp")
    fc = posecast.forecast(Motion(gone, FPS, walk.skeleton), model="dct-mlp", at=3.90)  # as the message says
    assert np.isfinite(fc.samples).all() and fc.history.num_frames == 118
    np.save(tmp_path / "gone.npy", gone)
    run = subprocess.run(
        [sys.executable, "-m", "posecast", "forecast", str(tmp_path / "gone.npy"), "--skeleton", "cmu-bvh-31",
         "--fps", "30", "--out", str(tmp_path / "f.npz")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2 and "gone.npy: every joint lost" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "f.npz").exists()


def test_a_body_that_jumps_and_stays_a_body_is_read_as_it_is(walk):
    popped = walk.positions.copy()
    popped[-10:] += [0.5, 0.0, 0.0]  # the whole body 0.5 m aside for good (a capture pop): bones intact
    history, said = without_glitches(Motion(popped, FPS, walk.skeleton), 0, posecast.models.get("dct-mlp"))
    assert said == {} and np.array_equal(history.positions, popped)
    popped[100:103, 20] = 0.0  # and a hand lost after the pop: filled from the popped body's frames
    history, said = without_glitches(Motion(popped, FPS, walk.skeleton), 0, posecast.models.get("dct-mlp"))
    assert said == {"repaired_glitches": [{"joint": "LeftHand", "first_frame": 100, "last_frame": 102}]}


def test_a_stream_carries_a_lost_joint_with_the_body_and_refuses_a_lost_person(walk):
    from posecast.serve.engine import StreamSession

    s = StreamSession("s", "m", None, walk.skeleton, FPS, 0.5, 15, 60, "y", 2)
    for i in range(10):
        frame, note = s.carry_lost(i / FPS, walk.positions[i])
        assert note is None and np.array_equal(frame, walk.positions[i])
        s.push(i / FPS, frame)
    for i in range(10, 16):  # LeftHand at the origin for 6 frames
        lost = walk.positions[i].copy()
        lost[20] = 0.0
        frame, note = s.carry_lost(i / FPS, lost)
        assert note == f"LeftHand lost by the tracker at t = {i / FPS:g} s: carried with the body"
        keep = walk.positions[9, 20] - walk.positions[9, 19]  # carried at its last tracked offset
        np.testing.assert_allclose(frame[20], walk.positions[i, 19] + keep, atol=1e-12)
        np.testing.assert_allclose(np.delete(frame, 20, axis=0), np.delete(walk.positions[i], 20, axis=0))
        s.push(i / FPS, frame)
    frame, note = s.carry_lost(16 / FPS, walk.positions[16])  # back: read as sent
    assert note is None and np.array_equal(frame, walk.positions[16])
    s.push(16 / FPS, frame)
    assert s.count == 17  # every frame taken
    with pytest.raises(PosecastError, match="every joint left their bones .* frame not taken"):
        s.carry_lost(17 / FPS, np.zeros_like(walk.positions[17]))
    assert s.count == 17
    moved = walk.positions[17] + [3.0, 0.0, 0.0]  # the tracker on someone 3 m away: a body, read as sent
    assert s.carry_lost(17 / FPS, moved)[1] is None


def test_at_names_the_range_it_takes_and_takes_the_last_frame_as_printed(walk):
    take = walk.frames(0, 116)  # 115 / 30 = 3.8333 s
    fc = posecast.forecast(take, model="zero-velocity", seconds=0.2, at=round(take.duration, 2))  # 3.83
    assert fc.history.num_frames == 116 and fc.ground_truth is None
    fc = posecast.forecast(take, model="zero-velocity", seconds=0.2, at=3.84)  # half a frame past: the last frame
    assert fc.history.num_frames == 116
    fast = synthetic_walk(seconds=1.0, fps=240.0).frames(0, 239)  # 0.9917 s, printed 0.99: 2 ms past, taken
    assert posecast.forecast(fast, model="zero-velocity", seconds=0.1, at=0.99).history.num_frames == 239
    for at in (0.0, 3.9, -1.0):
        with pytest.raises(ValueRangeError, match=r"give a time after its first frame up to 3\.833 s"):
            posecast.forecast(take, model="zero-velocity", seconds=0.2, at=at)


def test_jitter_is_measured_and_smoothing_keeps_a_quadratic_motion_and_takes_the_noise_out():
    from posecast.motion import jitter, smoothed

    rng = np.random.default_rng(1)
    t = np.arange(240) / 120.0
    path = np.stack([0.3 * t**2, 1.0 + 0.1 * t, -0.5 * t], axis=-1)  # (240, 3): a quadratic: the filter's own kind
    clean = np.repeat(path[:, None], 4, axis=1)
    np.testing.assert_allclose(smoothed(clean, 120.0, 0.2), clean, atol=1e-12)  # kept exactly, ends included
    noisy = clean + rng.normal(0.0, 0.01, clean.shape)
    np.testing.assert_allclose(jitter(noisy), 0.01, rtol=0.15)  # 1 cm of white noise read as about 1 cm
    assert jitter(clean).max() < 1e-6
    rms = lambda a: float(np.sqrt(((a - clean) ** 2).mean()))  # noqa: E731
    assert rms(smoothed(noisy, 120.0, 0.2)) < 0.4 * rms(noisy)  # a 25-frame quadratic fit: about a third
    assert smoothed(noisy[:4], 120.0, 0.2).tolist() == noisy[:4].tolist()  # too few frames for a window: as given


def test_a_jittery_history_is_noted_and_smooth_reads_it_smoothed(walk):
    rng = np.random.default_rng(2)
    noisy = Motion(walk.positions + rng.normal(0.0, 0.01, walk.positions.shape), FPS, walk.skeleton)
    fc = posecast.forecast(noisy, model="dct-mlp", seconds=0.4)
    assert fc.metadata["history_jitter_m"] == pytest.approx(0.01, rel=0.3)
    assert "history_jitter_m" not in posecast.forecast(walk, model="dct-mlp", seconds=0.4).metadata
    from posecast.motion import smoothed

    fc = posecast.forecast(noisy, model="dct-mlp", seconds=0.4, smooth=0.2)
    assert fc.metadata["smoothed_s"] == 0.2 and "history_jitter_m" not in fc.metadata
    np.testing.assert_allclose(fc.history.positions, smoothed(noisy.positions, FPS, 0.2), atol=1e-12)
    slow = Motion(noisy.positions[::2], FPS / 2, walk.skeleton)  # 15 fps: motion itself reads as jitter there
    assert "history_jitter_m" not in posecast.forecast(slow, model="dct-mlp", seconds=0.4).metadata
    for bad in (0.0, -1.0, 5.0, "0.2"):
        with pytest.raises(ValueRangeError, match="smooth must be a number of seconds"):
            posecast.forecast(walk, model="dct-mlp", smooth=bad)


def test_a_frozen_joint_is_noted_by_its_stretched_bone(walk):
    frozen = walk.positions.copy()
    frozen[-15:, 20] = frozen[-16, 20]  # LeftHand held for the last 0.5 s while the body walks on at 1.3 m/s
    fc = posecast.forecast(Motion(frozen, FPS, walk.skeleton), model="dct-mlp", seconds=0.2)
    stretched = {b["joint"]: b for b in fc.metadata["stretched_bones"]}
    # the hand's bone, and the one from the hand to its finger (which went on with the body, past a helper joint)
    assert set(stretched) == {"LeftHand", "LeftHandIndex1"}
    bone = stretched["LeftHand"]
    forearm = np.linalg.norm(walk.positions[-1, 20] - walk.positions[-1, 19])
    assert bone["joint"] == "LeftHand" and bone["usual_m"] == pytest.approx(forearm, abs=2e-3)
    assert bone["length_m"] == pytest.approx(np.linalg.norm(frozen[-1, 20] - frozen[-1, 19]), abs=1e-4)
    assert "stretched_bones" not in posecast.forecast(walk, model="dct-mlp", seconds=0.2).metadata


def test_losses_a_first_version_missed_or_misread(walk):
    from posecast.skeletons.base import Skeleton

    names = walk.skeleton.joint_names
    model = posecast.models.get("dct-mlp")

    def read(pos, skel=walk.skeleton):
        return without_glitches(Motion(pos, FPS, skel), 0, model)

    # hips behind zero-length helpers (cmu-bvh-31's LHipJoint, RHipJoint): judged through the bones past them
    hips = walk.positions.copy()
    hips[-3:, 0] += [3.0, 0.0, 0.0]
    history, said = read(hips)
    assert said["carried_joints"] == [{"joint": "Hips", "lost_from_frame": 118}]
    assert np.linalg.norm(history.positions[-1, 0] - walk.positions[-1, 0]) < 0.05
    # lost from frame 2 of 90 (most of the frames at the origin): still a loss, not a world root at home
    early = walk.positions[:90].copy()
    early[2:, 20] = 0.0
    assert read(early)[1]["carried_joints"] == [{"joint": "LeftHand", "lost_from_frame": 2}]
    # root-relative data: a hand at the origin, 0.3 m from the pelvis, is lost whatever its speed
    relative = walk.positions - walk.positions[:, :1]
    relative[-3:, 20] = 0.0
    assert read(relative)[1]["carried_joints"] == [{"joint": "LeftHand", "lost_from_frame": 118}]
    # a 3-frame history: its one second difference is the loss itself, not the jitter allowance
    short = walk.positions[:3].copy()
    short[-1, 20] = 0.0
    assert read(short)[1]["carried_joints"] == [{"joint": "LeftHand", "lost_from_frame": 2}]
    # hips under a world root at the origin (Bandai's joint_Root): carried with the body, not with the world root
    world = Skeleton("with-world-root", ("world", *names), (-1, *[p + 1 for p in walk.skeleton.parents]))
    rooted = np.concatenate([np.zeros((len(walk.positions), 1, 3)), walk.positions], axis=1)
    rooted[-3:, 1] = 0.0
    history, said = read(rooted, world)
    assert said["carried_joints"] == [{"joint": "Hips", "lost_from_frame": 118}]
    assert np.linalg.norm(history.positions[-1, 1] - walk.positions[-1, 0]) < 0.05
    assert read(np.concatenate([np.zeros((len(walk.positions), 1, 3)), walk.positions], axis=1), world)[1] == {}


def test_a_lower_body_lost_goes_with_the_spine_and_a_long_loss_is_still_one():
    long_walk = synthetic_walk(seconds=10.0, fps=FPS)
    names = long_walk.skeleton.joint_names
    model = posecast.models.get("dct-mlp")
    legs = [names.index(n) for n in ("Hips", "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg")]
    lower = long_walk.positions.copy()
    lower[-3:, legs] = 0.0  # hips and legs at the origin, spine and arms tracked
    history, said = without_glitches(Motion(lower, FPS, long_walk.skeleton), 0, model)
    assert {c["joint"] for c in said["carried_joints"]} == {names[j] for j in legs}
    assert np.linalg.norm(history.positions[-1, 0] - long_walk.positions[-1, 0]) < 0.1  # with the spine
    aside = long_walk.positions.copy()
    aside[-105:, 20] += [0.5, 0.0, 0.0]  # a hand on someone else for the last 3.5 s (more than the 2 s read)
    said = without_glitches(Motion(aside, FPS, long_walk.skeleton), 0, model)[1]
    assert said["carried_joints"] == [{"joint": "LeftHand", "lost_from_frame": 301 - 105}]


def test_a_joint_never_tracked_is_refused_as_such(walk):
    never = walk.positions.copy()
    never[:, 20] = 0.0  # LeftHand at the origin in every frame
    with pytest.raises(ValueRangeError, match=r"LeftHand never tracked: .* from the motion's first frame .* fill it"):
        posecast.forecast(Motion(never, FPS, walk.skeleton), model="dct-mlp", seconds=0.2)


def test_a_chain_moved_whole_and_swapped_arms_are_losses(walk):
    names = walk.skeleton.joint_names
    model = posecast.models.get("dct-mlp")
    arm = [names.index(n) for n in ("LeftForeArm", "LeftHand")]
    chain = [arm[0], *(j for j in range(len(names)) if j not in arm and names.index("LeftForeArm") in
                       _ancestors(walk.skeleton.parents, j))]  # fmt: skip
    aside = walk.positions.copy()
    aside[-5:, arm + chain] += [2.0, 0.0, 0.0]  # forearm, hand and fingers on someone 2 m away: their bones intact
    history, said = without_glitches(Motion(aside, FPS, walk.skeleton), 0, model)
    assert {c["joint"] for c in said["carried_joints"]} == {names[j] for j in set(arm + chain)}
    assert np.linalg.norm(history.positions[-1, arm[1]] - walk.positions[-1, arm[1]]) < 0.25  # not 2 m: the swing
    # the left arm and the right arm swapped for 4 frames in the middle (a 2D tracker's commonest error)
    left = [names.index(n) for n in ("LeftForeArm", "LeftHand")]
    right = [names.index(n) for n in ("RightForeArm", "RightHand")]
    swapped = walk.positions.copy()
    swapped[90:94, left], swapped[90:94, right] = walk.positions[90:94, right], walk.positions[90:94, left]
    said = without_glitches(Motion(swapped, FPS, walk.skeleton), 0, model)[1]
    assert {g["joint"] for g in said["repaired_glitches"]} >= {names[j] for j in left + right}
    assert all((g["first_frame"], g["last_frame"]) == (90, 93) for g in said["repaired_glitches"])


def _ancestors(parents, joint):
    out, p = [], parents[joint]
    while p >= 0:
        out.append(p)
        p = parents[p]
    return out


def test_a_stream_carries_a_chain_moved_whole(walk):
    from posecast.serve.engine import StreamSession

    names = walk.skeleton.joint_names
    arm = [j for j in range(len(names)) if j == names.index("LeftForeArm")
           or names.index("LeftForeArm") in _ancestors(walk.skeleton.parents, j)]  # fmt: skip
    s = StreamSession("s", "m", None, walk.skeleton, FPS, 0.5, 15, 60, "y", 2)
    for i in range(30):
        s.push(i / FPS, s.carry_lost(i / FPS, walk.positions[i])[0])
    aside = walk.positions[30].copy()
    aside[arm] += [2.0, 0.0, 0.0]
    frame, note = s.carry_lost(30 / FPS, aside)
    assert note is not None and "LeftForeArm" in note
    assert np.linalg.norm(frame[arm] - walk.positions[30, arm], axis=-1).max() < 0.1


def test_swaps_that_fill_most_frames_leave_the_true_frames_alone_and_a_stream_recovers(walk):
    from posecast.motion import descendants
    from posecast.serve.engine import StreamSession

    names, parents = walk.skeleton.joint_names, walk.skeleton.parents
    left = [names.index("LeftForeArm"), *descendants(parents, names.index("LeftForeArm"))]
    right = [names.index("RightForeArm"), *descendants(parents, names.index("RightForeArm"))]
    swapped = walk.positions.copy()
    swapped[:80, left], swapped[:80, right] = walk.positions[:80, right], walk.positions[:80, left]
    # swapped in 80 of 121 frames: the usual lengths are the swapped ones; the true frames are not taken for a swap
    history, said = without_glitches(Motion(swapped, FPS, walk.skeleton), 0, posecast.models.get("dct-mlp"))
    assert said == {} and np.array_equal(history.positions[80:], walk.positions[80:])
    # a stream that starts swapped and comes right at frame 40: carried for 0.5 s at most, then read as sent
    s = StreamSession("s", "m", None, walk.skeleton, FPS, 0.5, 15, 60, "y", 2)
    early = walk.positions.copy()
    early[:40, left], early[:40, right] = walk.positions[:40, right], walk.positions[:40, left]
    notes = []
    for i, frame in enumerate(early):
        taken, note = s.carry_lost(i / FPS, frame)
        notes.append(note)
        s.push(i / FPS, taken)
        if i >= 40 + round(0.5 * FPS):
            np.testing.assert_allclose(taken, walk.positions[i])
    assert sum(n is not None for n in notes) <= round(0.5 * FPS) + 1
