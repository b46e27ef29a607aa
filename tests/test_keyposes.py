"""Characteristic key poses: annotation files, mining (synthetic and hand-checked CMU frames), the
``posecast keyposes`` command and the (observed window -> next key pose) pairs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posecast
from posecast.errors import FormatError, PosecastError, SkeletonError, ValueRangeError
from posecast.keyposes import (
    GrabAnnotation,
    H36MAnnotation,
    KeyPose,
    articulation,
    build_pairs,
    cmu_bvh_pairs,
    evaluation_starts,
    grab_first_contact,
    mine_keyposes,
    read_grab_annotations,
    read_h36m_annotations,
    write_grab_annotations,
    write_h36m_annotations,
)
from posecast.keyposes.mining import mine_motion
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton
from posecast.synthetic import synthetic_walk

# ------------------------------------------------------------------------------ synthetic motion
TOY = Skeleton(
    name="toy-keyposes",
    joint_names=("Hips", "LeftHip", "RightHip", "LeftFoot", "RightFoot", "Chest", "Head", "LeftHand", "RightHand"),
    parents=(-1, 0, 0, 1, 2, 0, 5, 5, 5),
    offsets=np.array(
        [
            [0, 0, 0],
            [0.1, 0, 0],
            [-0.1, 0, 0],
            [0, -0.9, 0],
            [0, -0.9, 0],
            [0, 0.5, 0],
            [0, 0.2, 0],
            [0.3, 0, 0],
            [-0.3, 0, 0],
        ],
        dtype=float,
    ),  # fmt: skip
    left_right=((1, 2), (3, 4), (7, 8)),
    end_effectors=(6, 7, 8, 3, 4),
)
RIGHT_HAND = 8


def reach(
    fps: float = 100.0,
    seconds: float = 5.0,
    bumps: tuple[tuple[float, float, float], ...] = ((2.5, 0.4, 0.12),),
    joint: int = RIGHT_HAND,
) -> Motion:
    """The toy standing still while ``joint`` reaches forward (+z) and back: one Gaussian bump
    ``(centre s, amplitude m, width s)`` per reach. The most articulated moment of a reach is its centre."""
    t = np.arange(int(round(seconds * fps)) + 1) / fps
    pos = np.repeat(TOY.rest_positions()[None], t.shape[0], axis=0)
    pos[:, :, 1] += 1.0
    for c, a, w in bumps:
        pos[:, joint, 2] += a * np.exp(-0.5 * ((t - c) / w) ** 2)
    return Motion(positions=pos, fps=fps, skeleton=TOY, metadata={"source": "reach"})


def turned(motion: Motion, yaw_deg: float, velocity: tuple[float, float]) -> Motion:
    """The same motion turned about y and travelling horizontally at ``velocity`` (m/s in x, z)."""
    a = math.radians(yaw_deg)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    pos = motion.positions @ rot.T
    pos[..., 0] += velocity[0] * motion.times[:, None] + 3.0
    pos[..., 2] += velocity[1] * motion.times[:, None] - 2.0
    return motion.with_positions(pos)


# ---------------------------------------------------------------------------------------- mining
def test_a_reach_peaks_at_its_most_extended_frame_driven_by_the_hand():
    m = reach()
    (k,) = mine_keyposes(m)
    assert k.frame == 250 and k.time == pytest.approx(2.5)
    assert k.joints[0] == RIGHT_HAND and k.joint_names[0] == "RightHand"
    a, dist, channels = articulation(m)
    assert channels == (*TOY.end_effectors, 0) and dist.shape == (m.num_frames, 6)
    # The hand is 0.4 m out (less the smoothing, less the reference's share of the bump); only that channel moves,
    # so the RMS over the 6 channels is its distance / sqrt(6), and the score is all of it (the signal starts near 0).
    assert a[250] == pytest.approx(dist[250, 2] / math.sqrt(6))
    assert 0.3 < dist[250, 2] < 0.4 and k.score == pytest.approx(a[250] - a.min(), abs=1e-3)


def test_heading_travel_and_frame_rate_do_not_change_key_poses():
    m = reach(bumps=((1.2, 0.4, 0.1), (2.4, 0.3, 0.1), (3.9, 0.5, 0.15)))
    base = mine_keyposes(m)
    assert [k.frame for k in base] == [120, 240, 390]
    moved = mine_keyposes(turned(m, 70.0, (0.8, -1.1)))
    assert [k.frame for k in moved] == [k.frame for k in base]
    np.testing.assert_allclose([k.score for k in moved], [k.score for k in base], rtol=1e-9)
    slower = mine_keyposes(m.resample(30.0))
    np.testing.assert_allclose([k.time for k in slower], [1.2, 2.4, 3.9], atol=1 / 30 + 1e-9)


def test_nothing_to_find_in_a_still_or_merely_travelling_body():
    still = reach(bumps=())
    assert mine_keyposes(still) == []
    assert mine_keyposes(turned(still, 30.0, (1.4, 0.2))) == []
    assert mine_keyposes(still[:2]) == []


def test_separation_and_prominence_thresholds():
    m = reach(bumps=((2.0, 0.4, 0.06), (2.3, 0.3, 0.06)))
    both = mine_keyposes(m, min_separation_s=0.1)
    assert [k.frame for k in both] == [200, 230]
    (one,) = mine_keyposes(m, min_separation_s=0.35)
    assert one.frame == 200  # the larger reach survives the suppression
    assert mine_keyposes(m, min_separation_s=0.1, prominence=both[1].score + 1e-6) == both[:1]
    assert mine_keyposes(m, prominence=1.0) == []


def test_tracked_joints_can_be_chosen():
    m = reach(bumps=((1.5, 0.4, 0.1),), joint=7)  # the left hand reaches
    assert [k.frame for k in mine_keyposes(m)] == [150]
    assert mine_keyposes(m, joints=["RightHand", "Head"]) == []
    assert mine_keyposes(m, joints=[7])[0].joint_names[0] == "LeftHand"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"smoothing_s": -0.1}, ValueRangeError, "smoothing_s"),
        ({"min_separation_s": float("nan")}, ValueRangeError, "min_separation_s"),
        ({"prominence": "much"}, ValueRangeError, "prominence"),
        ({"reference_s": 0}, ValueRangeError, "reference_s"),
        ({"joints": ["Tail"]}, SkeletonError, "Tail"),
        ({"joints": [42]}, SkeletonError, "42"),
        ({"joints": []}, SkeletonError, "at least one"),
    ],
)
def test_bad_mining_options(kwargs, error, message):
    with pytest.raises(error, match=message):
        mine_keyposes(reach(seconds=1.0), **kwargs)


def test_synthetic_walk_key_poses_are_its_full_strides():
    """Independent check: the full stride is where the feet are furthest apart along the walk."""
    from scipy.signal import find_peaks

    m = synthetic_walk(seconds=6.0, fps=120.0)
    s = m.skeleton
    apart = np.abs(m.positions[:, s.index("LeftToeBase"), 2] - m.positions[:, s.index("RightToeBase"), 2])
    strides, _ = find_peaks(apart)
    mined = mine_keyposes(m)
    assert len(mined) == len(strides) == 11
    np.testing.assert_allclose([k.frame for k in mined], strides, atol=2)  # within 2 frames = 17 ms


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.2, 3.8), st.floats(-0.5, 0.5), st.floats(0.03, 0.4), st.sampled_from([3, 4, 6, 7, 8])),
        max_size=6,
    ),
    st.floats(0.0, 0.6),
    st.floats(0.0, 0.1),
)
def test_mined_key_poses_respect_their_own_definition(bumps, min_sep, prominence):
    m = reach(seconds=4.0, fps=50.0, bumps=())
    pos = m.positions.copy()
    for c, a, w, j in bumps:
        pos[:, j, 2] += a * np.exp(-0.5 * ((m.times - c) / w) ** 2)
    m = m.with_positions(pos)
    keys = mine_keyposes(m, min_separation_s=min_sep, prominence=prominence)
    a, _, _ = articulation(m)
    frames = [k.frame for k in keys]
    assert frames == sorted(frames) and all(0 < f < m.num_frames - 1 for f in frames)
    assert all(b - f >= min_sep * m.fps - 1e-9 for f, b in zip(frames, frames[1:], strict=False))
    for k in keys:
        assert k.score >= prominence and a[k.frame] >= a[k.frame - 1] and a[k.frame] >= a[k.frame + 1]
        assert k.time == pytest.approx(k.frame / m.fps) and k.joints
    stricter = mine_keyposes(m, min_separation_s=min_sep, prominence=prominence + 0.02)
    assert {k.frame for k in stricter} <= set(frames)


# ---------------------------------------------------------- real data: hand-checked key poses
# Files of $POSECAST_DATA/cmu_bvh read with posecast.load(path)[1:] (the synthetic T-pose dropped), optionally
# cut to [t0, t1) s. Each expected time was found with an independent signal and confirmed by looking at
# contact sheets of the mined poses: full strides = the feet furthest apart; the top of a jump = highest root;
# the crouches = lowest root; punches = the right arm most extended (hand furthest from the shoulder);
# "bend over, scoop up, rise, lift arm" = lowest root (scoop) and highest right hand (arm lift); sideways
# arabesque = highest left toe. Every expected time must have a mined key pose within TOLERANCE_S; for the
# walk and the run the mined poses must also be exactly the strides.
TOLERANCE_S = 0.12
HAND_CHECKED = [
    ("02/02_01.bvh", None, [0.65, 1.21, 1.76, 2.31], True),  # walk: full strides
    ("02/02_03.bvh", None, [0.41, 0.79, 1.18], True),  # run: full strides
    ("02/02_04.bvh", None, [0.62, 1.18, 1.70], False),  # jump: crouch, top of the jump, landing crouch
    ("02/02_05.bvh", (0.0, 7.0), [1.39, 2.85, 4.35, 5.77], False),  # punches: arm fully extended
    ("02/02_06.bvh", (0.0, 10.0), [1.21, 2.48, 3.96, 5.26, 6.67, 7.91, 9.38], False),  # scoop / arm lift
    ("01/01_01.bvh", (0.0, 8.0), [2.07, 3.71, 5.12, 6.71], False),  # forward jumps: tops of the jumps
    ("05/05_04.bvh", None, [6.0], False),  # ballet: sideways arabesque, leg highest
]


@pytest.mark.parametrize(("name", "span", "expected", "exact"), HAND_CHECKED, ids=[h[0] for h in HAND_CHECKED])
def test_hand_checked_key_poses_on_cmu_bvh(cmu_bvh_dir, name, span, expected, exact):
    m = posecast.load(cmu_bvh_dir / name)[1:]
    if span is not None:
        m = m.seconds(*span)
    times = np.array([k.time for k in mine_keyposes(m)])
    for t in expected:
        assert np.abs(times - t).min() <= TOLERANCE_S, (name, t, times.round(2))
    if exact:
        assert len(times) == len(expected), (name, times.round(2))


# ----------------------------------------------------------------------------------- annotations
H36M_TEXT = """sample-id;start;action;comment
S1-Directions;0;583;
S1-Eating_2;0;1019;sit
S5-Purchases_1;12;1857;Skip? maybe; unsure
"""
GRAB_TEXT = "sampleid;frameidx\ns2-doorknob-use-2;212\ns10-mug-drink-1;348\n"


def test_read_h36m_annotations(tmp_path):
    path = tmp_path / "charposes.csv"
    path.write_text(H36M_TEXT)
    rows = read_h36m_annotations(path)
    assert rows == [
        H36MAnnotation("S1-Directions", 0, 583, ""),
        H36MAnnotation("S1-Eating_2", 0, 1019, "sit"),
        H36MAnnotation("S5-Purchases_1", 12, 1857, "Skip? maybe; unsure"),
    ]
    assert [r.line for r in rows] == [2, 3, 4]
    r = rows[1]
    assert (r.subject, r.action) == ("S1", "Eating_2")
    assert r.time == pytest.approx(1019 / 50)
    assert r.keypose(fps=25.0) == KeyPose(510, 20.38)  # 20.38 s at 25 fps: frame 509.5, rounded to even


def test_read_grab_annotations_and_contact(tmp_path):
    path = tmp_path / "charposes.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GRAB_TEXT.replace("\n", "\r\n").encode() + b"\r\n\r\n")  # BOM, CRLF, blanks
    rows = read_grab_annotations(path)
    assert rows == [GrabAnnotation("s2-doorknob-use-2", 212), GrabAnnotation("s10-mug-drink-1", 348)]
    r = rows[0]
    assert (r.subject, r.object_name, r.intent) == ("s2", "doorknob", "use-2")
    contact = np.zeros((400, 7))
    contact[37:120, 3] = 1
    first = grab_first_contact(contact)
    assert first == 37 and r.frame(first) == 249
    assert r.keypose(first, fps=30.0) == KeyPose(62, 249 / 120)
    with pytest.raises(ValueRangeError, match="never touched"):
        grab_first_contact(np.zeros((10, 4)))
    path.write_text("s2-doorknob-use-2;212\n")  # the header is optional
    assert read_grab_annotations(path) == rows[:1]


@pytest.mark.parametrize(
    ("which", "text", "message"),
    [
        ("h36m", "sample-id;start;action;comment\nS1-Walking;0\n", "line 2: expected 'sample-id;start;frame;comment'"),
        ("h36m", "S1-Walking;0;-4;\n", "line 1: characteristic frame '-4' is not a non-negative whole number"),
        ("h36m", "S1-Walking;zero;4;\n", "line 1: start frame 'zero'"),
        ("h36m", "\n\nS1-Walking;10;4;\n", "line 3: characteristic frame 4 comes before the window start 10"),
        (
            "h36m",
            "S1-Walking;0;4;\nS1-Walking;0;5;\n",
            "line 2: sample id 'S1-Walking' was already annotated on line 1",
        ),
        ("h36m", "Walking;0;4;\n", "line 1: sample id 'Walking' is not SUBJECT-ACTION"),
        ("h36m", "S1-Walking;0;12345678901;\n", "too large"),
        ("h36m", "sample-id;start;action;comment\n", "no annotations"),
        ("grab", "sampleid;frameidx\ns2-mug-lift-1;4;5\n", "line 2: expected 'sampleid;frameidx', found 3 field(s)"),
        ("grab", "s2-mug;4\n", "line 1: sample id 's2-mug' is not SUBJECT-OBJECT-INTENT"),
        ("grab", "s2-mug-lift-1;4.5\n", "line 1: frame offset '4.5'"),
        ("grab", "", "no annotations"),
    ],
)
def test_bad_annotation_rows_name_file_and_line(tmp_path, which, text, message):
    path = tmp_path / f"{which}.csv"
    path.write_text(text)
    reader = read_h36m_annotations if which == "h36m" else read_grab_annotations
    with pytest.raises(FormatError) as info:
        reader(path)
    assert message in str(info.value) and str(info.value).startswith(str(path))


def test_unreadable_annotation_files(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        read_h36m_annotations(tmp_path / "missing.csv")
    with pytest.raises(FormatError, match="directory"):
        read_grab_annotations(tmp_path)
    (tmp_path / "latin1.csv").write_bytes("S1-Caf\xe9;0;4;\n".encode("latin-1"))
    with pytest.raises(FormatError, match="not UTF-8"):
        read_h36m_annotations(tmp_path / "latin1.csv")


def test_writers_refuse_what_would_not_read_back(tmp_path):
    with pytest.raises(ValueRangeError, match="line breaks, NULs"):
        write_h36m_annotations([H36MAnnotation("S1-Walking", 0, 4, "two\nlines")], tmp_path / "a.csv")
    with pytest.raises(ValueRangeError, match="before window start"):
        write_h36m_annotations([H36MAnnotation("S1-Walking", 5, 4)], tmp_path / "a.csv")
    with pytest.raises(ValueRangeError, match="SUBJECT-OBJECT-INTENT"):
        write_grab_annotations([GrabAnnotation("mug", 4)], tmp_path / "a.csv")
    with pytest.raises(ValueRangeError, match="no annotations"):
        write_grab_annotations([], tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()


_word = st.text(st.characters(codec="utf-8", exclude_characters=";-", exclude_categories=("Z", "C")), min_size=1)
_frame = st.integers(0, 10**9 - 1)
_comment = st.text(st.characters(codec="utf-8", exclude_characters="\n\r\x00"), max_size=20).map(str.strip)


@st.composite
def h36m_rows(draw):
    ids = draw(
        st.lists(st.builds(lambda n, a: f"S{n}-{a}", st.integers(0, 99), _word), min_size=1, max_size=8, unique=True)
    )
    out = []
    for sid in ids:
        start = draw(_frame)
        out.append(H36MAnnotation(sid, start, draw(st.integers(start, 10**9 - 1)), draw(_comment)))
    return out


@st.composite
def grab_rows(draw):
    ids = draw(
        st.lists(
            st.builds(lambda n, o, i: f"s{n}-{o}-{i}", st.integers(0, 99), _word, _word),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    return [GrabAnnotation(sid, draw(_frame)) for sid in ids]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(h36m_rows(), grab_rows())
def test_annotation_files_round_trip(tmp_path, h36m, grab):
    write_h36m_annotations(h36m, tmp_path / "h.csv")
    write_grab_annotations(grab, tmp_path / "g.csv")
    assert read_h36m_annotations(tmp_path / "h.csv") == h36m
    assert read_grab_annotations(tmp_path / "g.csv") == grab


_garbage = st.one_of(
    st.binary(max_size=200),
    st.text(st.sampled_from(list("S1s2-;0123456789 \n\r\t-_abc\x00\ufeff\u2028é")), max_size=120).map(str.encode),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_garbage)
def test_garbage_annotation_files_only_raise_posecast_errors(tmp_path, data):
    path = tmp_path / "garbage.csv"
    path.write_bytes(data)
    for reader in (read_h36m_annotations, read_grab_annotations):
        try:
            rows = reader(path)
        except PosecastError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
        else:
            assert rows and all(isinstance(r, H36MAnnotation | GrabAnnotation) for r in rows)


# ---------------------------------------------------------------------------------------- pairs
def _keys(*times: float) -> list[KeyPose]:
    return [KeyPose(0, t) for t in times]


def test_evaluation_starts_follow_the_papers_five_inputs():
    # keys at 25-fps frames 30 and 60, 10 observed frames: first key s in [0, 20], second s in [21, 50].
    m = reach(fps=50.0, seconds=4.0)
    pairs = build_pairs([m], keyposes=[_keys(1.2, 2.4)], starts="evaluation")
    assert pairs.start_frame.tolist() == [0, 6, 10, 12, 20, 21, 30, 35, 39, 50]
    assert pairs.key_frame.tolist() == [30] * 5 + [60] * 5
    assert pairs.start_kind.tolist() == ["start", "one-third", "middle", "two-thirds", "latest"] * 2
    np.testing.assert_allclose(pairs.time_to_key, (pairs.key_frame - pairs.start_frame - 9) / 25.0)
    assert pairs.time_to_key[[0, 4, 5]].tolist() == pytest.approx([0.84, 0.04, 1.2])
    np.testing.assert_array_equal(evaluation_starts(0, 2), [0, 0, 1, 0, 2])
    with pytest.raises(ValueRangeError, match="empty"):
        evaluation_starts(3, 2)


def test_pairs_are_root_relative_and_target_the_next_key_pose():
    m = turned(
        reach(fps=120.0, seconds=6.0, bumps=((1.0, 0.4, 0.1), (2.2, 0.3, 0.1), (2.9, 0.4, 0.1), (4.5, 0.4, 0.2))),
        40,
        (1.0, 0.5),
    )
    pairs = build_pairs([m], starts_per_key=30, seed=3)
    keys = pairs.key_frames[0]
    assert keys.tolist() == [25, 55, 72, 112]  # mined at 120 Hz: 1.0, 2.2, 2.9, 4.5 s -> 25-fps frames
    assert len(pairs) == 4 * 30 and pairs.observed.shape == (120, 10, TOY.num_joints, 3)
    assert pairs.observed.dtype == np.float32 and pairs.target.shape == (120, TOY.num_joints, 3)
    assert np.all(pairs.observed[:, :, 0] == 0) and np.all(pairs.target[:, 0] == 0)
    m25 = m.resample(25.0)
    rel = (m25.positions - m25.positions[:, :1]).astype(np.float32)
    for i in range(len(pairs)):
        s, k = int(pairs.start_frame[i]), int(pairs.key_frame[i])
        last = s + 9
        np.testing.assert_array_equal(pairs.observed[i], rel[s : s + 10])
        np.testing.assert_array_equal(pairs.target[i], rel[k])
        assert k > last and not np.any((keys > last) & (keys < k)), "target is not the next key pose"
        assert s >= 0 and (k == keys[0] or last >= keys[keys < k].max())
        assert pairs.metadata(i)["file"] == "reach"
    assert set(pairs.start_frame[pairs.key_frame == 72].tolist()) <= set(range(46, 63))  # last frame in [55, 72)


def test_pairs_are_deterministic_given_the_seed():
    motions = [reach(bumps=((1.0, 0.4, 0.1), (3.0, 0.4, 0.1))), reach(bumps=((2.0, 0.3, 0.1),))]
    a = build_pairs(motions, starts_per_key=8, seed=11)
    b = build_pairs(motions, starts_per_key=8, seed=11)
    c = build_pairs(motions, starts_per_key=8, seed=12)
    np.testing.assert_array_equal(a.observed, b.observed)
    np.testing.assert_array_equal(a.start_frame, b.start_frame)
    assert not np.array_equal(a.start_frame, c.start_frame)
    assert a.motion_index.tolist() == [0] * 16 + [1] * 8
    assert a.metadata(20) == {
        "file": "reach",
        "dataset": None,
        "label": None,
        "key_frame": 50,
        "start_frame": int(a.start_frame[20]),
        "time_to_key_s": pytest.approx((50 - a.start_frame[20] - 9) / 25),
        "start_kind": "random",
    }


def test_bad_pair_options():
    m = reach(seconds=2.0)
    with pytest.raises(ValueRangeError, match="observed"):
        build_pairs([m], observed=0)
    with pytest.raises(ValueRangeError, match="starts"):
        build_pairs([m], starts="all")
    with pytest.raises(ValueRangeError, match="2 entries for 1 motions"):
        build_pairs([m], keyposes=[[], []])
    with pytest.raises(SkeletonError, match="different skeletons"):
        build_pairs([m, synthetic_walk(seconds=1.0)])
    with pytest.raises(ValueRangeError, match="not in the train split"):
        cmu_bvh_pairs("train", subjects=["02"])
    assert len(build_pairs([m], keyposes=[_keys(0.2)])) == 0  # a key pose before 10 observed frames fit


def test_cmu_bvh_test_split_pairs(cmu_bvh_dir):
    pairs = cmu_bvh_pairs("test", subjects=["08"])
    assert len(pairs) > 0 and len(pairs) % 5 == 0
    assert all("/08/" in f.replace(os.sep, "/") for f in pairs.files) and len(pairs.files) == 11
    assert set(pairs.start_kind.tolist()) == {"start", "one-third", "middle", "two-thirds", "latest"}
    assert pairs.observed.shape[1:] == (10, 31, 3) and np.all(pairs.observed[:, :, 0] == 0)
    assert pairs.fps == 25.0 and np.all(pairs.time_to_key >= 0.04 - 1e-9)


# ------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def walk_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keyposes") / "walk.npz"
    posecast.save(synthetic_walk(seconds=3.0, fps=30.0), path)
    return path


def test_cli_table_and_json(cli, walk_file, tmp_path):
    out = tmp_path / "keys.json"
    code, stdout, err = cli("keyposes", str(walk_file), "--skip-frames", "3", "--prominence", "0.04", "--out", str(out))
    assert code == 0, err
    motion = posecast.load(walk_file)
    expected = mine_motion(motion, skip_frames=3, prominence=0.04).keyposes  # on the canonical body, upright
    assert [k.frame for k in expected] == [k.frame + 3 for k in mine_motion(motion[3:], prominence=0.04).keyposes]
    d = json.loads(out.read_text())
    assert d["skipped_frames"] == 3 and d["options"] == {"prominence": 0.04} and d["fps"] == 30.0
    assert d["mined_on"] == "smplh-22" and d["up_axis"] == "+y"
    assert [k["frame"] for k in d["keyposes"]] == [k.frame for k in expected]
    first = d["keyposes"][0]
    assert first["time_s"] == pytest.approx(first["frame"] / 30.0)
    assert first["score_m"] == pytest.approx(expected[0].score) and first["joints"] == list(expected[0].joint_names)
    np.testing.assert_allclose(first["positions"], motion.positions[first["frame"]], atol=1e-6)
    for k in d["keyposes"]:
        assert f"{k['time_s']:.3f}" in stdout


def test_cli_says_a_picture_is_not_a_motion_file(cli, tmp_path):
    """QA: `posecast keyposes CLIP.mp4` answered "unrecognised file format (suffix '.mp4'; known: ...)"."""
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "frame.png")
    code, _, err = cli("keyposes", str(tmp_path / "frame.png"))
    assert code == 2 and "frame.png: holds an image: this command reads motion files" in err and "poses" in err


def test_cli_writes_every_out_given(cli, walk_file, tmp_path):
    """``--out`` is repeatable (as for forecast, render, poses): each file written, none dropped."""
    outs = [tmp_path / "keys.json", tmp_path / "keys.html"]
    code, stdout, err = cli(
        "keyposes", str(walk_file), "--prominence", "0.04", *[a for o in outs for a in ("--out", str(o))]
    )
    assert code == 0, err
    assert all(o.is_file() for o in outs) and all(f"wrote {o}" in " ".join(stdout.split()) for o in outs)
    code, _, err = cli("keyposes", str(walk_file), "--out", str(outs[0]), "--out", str(tmp_path / "x.txt"))
    assert code == 2 and "x.txt" in err


def test_cli_corpus_preset_under_explicit_options(cli, walk_file, tmp_path):
    out = tmp_path / "keys.json"
    code, _, err = cli("keyposes", str(walk_file), "--preset", "corpus", "--prominence", "0.04", "--out", str(out))
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["options"] == {"reference_s": 1.5, "prominence": 0.04}
    expected = mine_motion(posecast.load(walk_file), skip_frames=0, reference_s=1.5, prominence=0.04).keyposes
    assert [k["frame"] for k in d["keyposes"]] == [k.frame for k in expected]


def test_cli_corpus_preset_finds_the_bow_of_a_short_bandai_clip(cli, posecast_data, tmp_path):
    """A Bandai bow starts and ends at rest: the default criterion (tuned on long CMU clips) finds nothing,
    the corpus criterion the deepest point of the bow (frame 68 of 30 fps on the canonical body; 66 on the rig's own
    leaves, checked by eye: the head is within 1 cm of its lowest over frames 64-70)."""
    clip = posecast_data / "bandai_namco" / "dataset-1" / "dataset-1_bow_giant_001.bvh.gz"
    found = {}
    for preset in ("default", "corpus"):
        out = tmp_path / f"{preset}.json"
        code, _, err = cli("keyposes", str(clip), "--preset", preset, "--out", str(out))
        assert code == 0, err
        found[preset] = [k["frame"] for k in json.loads(out.read_text())["keyposes"]]
    assert found == {"default": [], "corpus": [68]}


def test_cli_renders_mp4_and_html(cli, tmp_path):
    short = tmp_path / "short.npz"
    posecast.save(synthetic_walk(seconds=1.2, fps=25.0), short)
    code, _, err = cli("keyposes", str(short), "--out", str(tmp_path / "keys.mp4"))
    assert code == 0, err
    assert (tmp_path / "keys.mp4").read_bytes()[4:8] == b"ftyp"
    code, _, err = cli("keyposes", str(short), "--out", str(tmp_path / "keys.html"))
    assert code == 0, err
    times = ", ".join(f"{k.time:.2f}" for k in mine_motion(posecast.load(short), skip_frames=0).keyposes)
    assert times.count(",") >= 1
    assert f"key poses at t = {times} s" in (tmp_path / "keys.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{walk}", "--out", "{out_xyz}"], "cannot write .xyz"),
        (["{walk}", "--skip-frames", "500"], "--skip-frames 500"),
        (["{walk}", "--prominence", "-1"], "prominence"),
        (["{missing}", "--out", "{out_json}"], "no such file"),
        (["{walk}", "--preset", "cmu", "--out", "{out_json}"], "--preset must be one of default, corpus"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(cli, walk_file, tmp_path, args, message):
    subst = {
        "walk": str(walk_file),
        "out_xyz": str(tmp_path / "k.xyz"),
        "out_json": str(tmp_path / "k.json"),
        "missing": str(tmp_path / "none.bvh"),
    }
    code, _, err = cli("keyposes", *[a.format(**subst) for a in args])
    assert code == 2 and message in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_cli_entry_point_exit_code(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "posecast", "keyposes", str(tmp_path / "none.bvh")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "no such file" in r.stderr


def test_video_timeline_holds_key_poses_with_the_clip_clock():
    from posecast.keyposes.render import KeyPoseScene, keypose_timeline, render_keyposes

    frames, marks = keypose_timeline(6, [1, 4], 2)
    assert frames.tolist() == [0, 1, 1, 1, 2, 3, 4, 4, 4, 5]
    assert marks.tolist() == [0, 1, 1, 1, 0, 0, 2, 2, 2, 0]
    from posecast.viz.scene import build_scene

    base = build_scene(reach(fps=10.0, seconds=0.9))
    from dataclasses import fields

    from posecast.viz.scene import Scene

    scene = KeyPoseScene(
        **{f.name: getattr(base, f.name) for f in fields(Scene)}, clip_times=frames / 10, key_index=marks, num_keys=2
    )
    assert scene.frame_label(2) == "t =  0.10 s  ◆ key pose 1/2" and scene.frame_label(5) == "t =  0.30 s"
    with pytest.raises(ValueRangeError, match="outside"):
        render_keyposes(reach(seconds=1.0), [KeyPose(500, 5.0)], "x.mp4")


def test_the_cli_mines_a_z_up_recording_as_its_y_up_twin():
    """Mining measures heights and headings along +y; `mine_motion` (what ``posecast keyposes`` runs) turns a z-up
    world upright first, so the same motion recorded z-up gives the same key poses (frames and scores)."""
    import dataclasses

    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=6.0, fps=30.0)
    to_z_up = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    z_up = dataclasses.replace(walk, positions=walk.positions @ to_z_up.T, rotations=None, root_translation=None)
    want = mine_motion(walk)
    got = mine_motion(z_up)
    assert got.up_axis == "+z" and want.up_axis == "+y"
    assert [k.frame for k in got.keyposes] == [k.frame for k in want.keyposes] and len(want.keyposes) > 5
    np.testing.assert_allclose([k.score for k in got.keyposes], [k.score for k in want.keyposes], atol=1e-9)
    # told which axis is up, the same; told wrongly (y), the walk is mined lying down and differs
    assert [k.frame for k in mine_motion(z_up, up="z").keyposes] == [k.frame for k in want.keyposes]
    assert [k.frame for k in mine_motion(z_up, up="y").keyposes] != [k.frame for k in want.keyposes]


def test_a_rig_that_does_not_map_is_mined_on_its_own_joints_and_says_so():
    """The toy has no knees: not the canonical body's, so its own end effectors are mined (as before), and the
    description says why; a joint mapping that cannot map it is an error, not a silent fallback."""
    motion = reach()
    mined = mine_motion(motion)
    assert mined.body == "toy-keyposes" and not mined.canonical
    assert [k.frame for k in mined.keyposes] == [k.frame for k in mine_keyposes(motion)] == [250]
    assert mined.keyposes[0].joint_names == ("RightHand",)
    assert "rig's own joints" in mined.description() and "does not map" in mined.description()
    with pytest.raises(SkeletonError, match="cannot be mapped"):
        mine_motion(motion, mapping={"head": "Head"})
    # told the world is z up, the rig's own joints are turned upright too (y becomes -z)
    lying = motion.with_positions(motion.positions @ np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T)
    assert [k.frame for k in mine_motion(lying, up="z").keyposes] == [250]


def test_cli_leaves_a_rest_pose_out_by_itself_as_forecast_does(cli, tmp_path):
    """A rest pose written before the motion (CMU BVH's T-pose frame 0) is left out without --skip-frames, said
    so, and recorded in the JSON; it had made a key pose of its own at 0.1 s. --skip-frames 0 keeps it."""
    walk = synthetic_walk(seconds=3.0, fps=30.0)
    posed = walk.positions.copy()
    posed[0, 18:21] += [0.0, 0.8, 0.0]  # frame 0: the left arm 0.8 m up, 24 m/s to frame 1
    path = tmp_path / "rest.npz"
    posecast.save(Motion(posed, walk.fps, walk.skeleton), path)
    out = tmp_path / "k.json"
    code, stdout, err = cli("keyposes", str(path), "--out", str(out))
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["skipped_frames"] == 1
    assert [k["frame"] for k in d["keyposes"]] == [k.frame + 1 for k in mine_motion(walk[1:], skip_frames=0).keyposes]
    text = " ".join(stdout.split())
    assert "the first frame left out" in text and "rest pose written before the motion" in text
    code, stdout, err = cli("keyposes", str(path), "--skip-frames", "0", "--out", str(out))
    assert code == 0 and json.loads(out.read_text())["skipped_frames"] == 0 and "rest pose" not in stdout


def test_cli_takes_up_mapping_and_units_as_forecast_does(cli, tmp_path):
    """--up and --mapping (with an up: entry) say which way is up; --units reads the file's length unit; a bad
    mapping file is one line naming it."""
    walk = synthetic_walk(seconds=4.0, fps=30.0)
    z_up = Motion(walk.positions @ np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]]).T, walk.fps, walk.skeleton)
    path = tmp_path / "z.npz"
    posecast.save(z_up, path)
    want = [k.frame for k in mine_motion(walk).keyposes]
    (tmp_path / "up.yaml").write_text("up: z\n")
    (tmp_path / "bad.yaml").write_text("head: [1, 2\n")
    found = {}
    for name, args in {"up": ["--up", "z"], "mapping": ["--mapping", str(tmp_path / "up.yaml")],
                       "wrong": ["--up", "y"]}.items():  # fmt: skip
        out = tmp_path / f"{name}.json"
        code, _, err = cli("keyposes", str(path), *args, "--out", str(out))
        assert code == 0, err
        d = json.loads(out.read_text())
        found[name] = ([k["frame"] for k in d["keyposes"]], d["up_axis"])
    assert found["up"] == found["mapping"] == (want, "+z") and found["wrong"][1] == "+y"  # (told: not turned)
    code, _, err = cli("keyposes", str(path), "--mapping", str(tmp_path / "bad.yaml"))
    assert code == 2 and "bad.yaml" in err and "not valid YAML" in err and len(err.strip().splitlines()) == 1
    bvh = tmp_path / "walk.bvh"
    posecast.save(walk, bvh)
    code, out_m, _ = cli("keyposes", str(bvh))
    code_mm, out_mm, err = cli("keyposes", str(bvh), "--units", "mm")  # a body 1.7 mm tall never moves 5 cm
    assert code == code_mm == 0, err
    assert f"{len(want)} key poses" in out_m and "walk.bvh: 0 key poses" in out_mm


def test_cli_amc_clip_with_its_asf_given(cli, posecast_data, tmp_path):
    """An AMC clip away from its ASF is refused pointing at --asf, which keyposes now takes."""
    import shutil

    amc = next((posecast_data / "hdm05_cuts").rglob("HDM_bd_squat1Reps_001_120.amc*"))
    clip = tmp_path / amc.name
    shutil.copy(amc, clip)
    code, _, err = cli("keyposes", str(clip))
    assert code == 2 and "--asf FILE" in err
    asf = posecast_data / "hdm05_cuts" / "asf" / "HDM_bd.asf"
    out = tmp_path / "k.json"
    code, stdout, err = cli("keyposes", str(clip), "--asf", str(asf), "--out", str(out))
    assert code == 0, err
    expected = mine_motion(posecast.load(amc)).keyposes
    assert [k["frame"] for k in json.loads(out.read_text())["keyposes"]] == [k.frame for k in expected] != []
