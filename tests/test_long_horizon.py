"""The long-horizon benchmark (``posecast bench long-horizon``): hand-computed foot skating, ground
penetration, bone-length error, heading canonicalisation and nearest-training-pose distance; seeds, the
per-second rows and goals on synthetic walks; the command line on real data (skipped without POSECAST_DATA)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import posecast
from posecast import skeletons
from posecast.cli.app import main
from posecast.errors import DataNotFoundError, ValueRangeError
from posecast.evaluation.metrics import power_spectrum
from posecast.evaluation.protocols import corpus
from posecast.evaluation.protocols import long_horizon as lh
from posecast.evaluation.protocols.cmu_bvh import TestSequence as Sequence_
from posecast.kinematics.fk import bone_triples
from posecast.skeletons.base import Skeleton
from posecast.skeletons.canonical import NAMES, PARENTS, retarget
from posecast.synthetic import synthetic_walk

CMU = skeletons.get("cmu-bvh-31")
CAN = {n: i for i, n in enumerate(NAMES)}


def walk_set(*seconds: float) -> corpus.TestSet:
    seqs = [
        Sequence_(f"walk{i}", synthetic_walk(seconds=s, fps=25.0, speed=1.0 + 0.2 * i).positions, ("cmu_bvh",))
        for i, s in enumerate(seconds)
    ]
    return corpus.TestSet("cmu_bvh", CMU, seqs, (25.0,))


def walk_index() -> lh.PoseIndex:
    """A plausibility index of every frame of a slower-stepping synthetic walk (on the canonical body)."""
    poses = retarget(CMU).to_canonical(synthetic_walk(seconds=3.0, fps=25.0, speed=1.1, cadence=0.5).positions)
    return lh.PoseIndex(poses, CAN["pelvis"], CAN["left_hip"], CAN["right_hip"], "a synthetic walk", parents=PARENTS)


# --------------------------------------------------------------------------------- the metrics
def test_protocol_constants():
    assert (lh.FPS, lh.SEED_FRAMES, lh.SECOND, lh.SEED_STRIDE) == (25.0, 50, 25, 10)
    assert lh.FOOT_CONTACT_M == 0.025 and lh.POSE_STRIDE == 5 and lh.QUERY_STRIDE == 5
    assert (lh.GOAL_KLD, lh.GOAL_SPEED, lh.GOAL_BONE_CM) == (0.10, (0.8, 1.2), 1.0)
    assert lh.summary_seconds(20) == [1, 2, 5, 10, 20] and lh.summary_seconds(3) == [1, 2, 3]
    assert lh.summary_seconds(7) == [1, 2, 5, 7]
    d = lh.protocol_description(20, 64, train_reference=True)
    assert d["seconds"] == 20 and "at most 64 per data set" in d["seeds"] and "train_reference" in d
    assert "plausibility" in d and "plausibility" not in lh.protocol_description(2, plausibility=False)


def test_the_protocol_describes_only_the_data_sets_run():
    """Review: ``bench long-horizon --datasets cmu_bvh`` described all three data sets in its protocol. All three run:
    the line the committed results hold."""
    results = Path(__file__).parents[1] / "benchmarks" / "results"
    for name in ("long-horizon_models.json", "long-horizon_st-transformer.json"):
        stored = json.loads((results / name).read_text())["protocol"]
        assert lh.protocol_description(stored["seconds"])["datasets"] == stored["datasets"]
    line = lh.protocol_description(2, datasets=["cmu_bvh"])["datasets"]
    assert (
        line
        == "the test split of each data set (bench corpus): cmu_bvh (frame 0 dropped); resampled linearly to 25 fps"
    )
    result = lh.evaluate({"zero-velocity": posecast.models.get("zero-velocity")}, 2, [walk_set(4.0)])
    assert result["protocol"]["datasets"] == line


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "3"])
def test_max_seeds_must_be_a_positive_whole_number(bad):
    with pytest.raises(ValueRangeError, match="--max-seeds"):
        lh.check_max_seeds(bad)


def test_foot_skating_of_a_sliding_foot():
    # one foot (joint 1) over 5 frames at 25 fps, ground at y = 0.10 m:
    # frames 0-2 at 1 cm above the ground sliding 2 cm per frame along x (0.5 m/s): steps 1, 2 in contact;
    # frame 3 lifted to 10 cm above it, moving 8 cm (2 m/s) along z: steps 3 and 4 out of contact
    pos = np.zeros((5, 2, 3))
    pos[:, 1, 1] = 0.10 + np.array([0.01, 0.01, 0.01, 0.10, 0.10])
    pos[:, 1, 0] = [0.0, 0.02, 0.04, 0.04, 0.04]
    pos[:, 1, 2] = [0.0, 0.0, 0.0, 0.08, 0.16]
    pos[:, 0] = [0.0, 1.0, 0.0]  # the other joint is not a foot
    speed, contact = lh.foot_steps(pos, [1], 0.10)
    assert speed.shape == contact.shape == (4, 1)
    np.testing.assert_allclose(speed[:, 0], [0.5, 0.5, 2.0, 2.0])
    assert contact[:, 0].tolist() == [True, True, False, False]
    assert lh.foot_skating(speed, contact) == pytest.approx(0.5)
    # exactly at the threshold counts as contact; just above does not
    pos2 = pos.copy()
    pos2[:, 1, 1] = 0.10 + lh.FOOT_CONTACT_M
    assert lh.foot_steps(pos2, [1], 0.10)[1].all()
    pos2[:, 1, 1] += 1e-4
    s, c = lh.foot_steps(pos2, [1], 0.10)
    assert not c.any() and lh.foot_skating(s, c) is None
    # batched: ground per sequence
    both = np.stack([pos, pos + [0.0, 1.0, 0.0]])
    _, c = lh.foot_steps(both, [1], np.array([0.10, 1.10]))
    assert c[:, :, 0].tolist() == [[True, True, False, False]] * 2


def test_ground_penetration_and_observed_ground():
    # two feet (joints 0, 1); ground 0: frame 1 foot 0 is 3 cm below, frame 2 both below (2 and 5 cm)
    pos = np.zeros((4, 3, 3))
    pos[:, 0, 1] = [0.05, -0.03, -0.02, 0.0]
    pos[:, 1, 1] = [0.04, 0.02, -0.05, 0.01]
    pos[:, 2, 1] = -1.0  # not a foot
    depth = lh.ground_penetration(pos, [0, 1], 0.0)
    np.testing.assert_allclose(depth, [0.0, 0.03, 0.05, 0.0])
    # the observed ground of a seed: the lowest foot height over its frames
    assert lh.observed_ground(pos, [0, 1]) == pytest.approx(-0.05)
    assert lh.observed_ground(pos[:, :2] + [0, 0.5, 0], [0, 1]) == pytest.approx(0.45)
    np.testing.assert_allclose(lh.observed_ground(np.stack([pos, pos + [0, 1, 0]]), [0]), [-0.03, 0.97])


def test_bone_length_error_of_a_stretched_bone():
    # a chain 0 -> 1 -> 2 along y, bones of 0.4 m and 0.3 m; frame 1 stretches bone 1->2 by 2 cm,
    # frame 2 shortens bone 0->1 by 1 cm and stretches 1->2 by 3 cm
    ref = np.array([[0.0, 0.0, 0.0], [0.0, 0.4, 0.0], [0.0, 0.7, 0.0]])
    frames = np.stack([ref, ref + [[0, 0, 0], [0, 0, 0], [0, 0.02, 0]], ref + [[0, 0, 0], [0, -0.01, 0], [0, 0.02, 0]]])
    bones = np.array([[0, 1], [1, 2]])
    np.testing.assert_allclose(lh.bone_length_error(frames, ref, bones), [0.0, 0.01, 0.02], atol=1e-12)
    # a rigid motion (turn and shift) changes no length
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(lh.bone_length_error((ref @ turn.T + 3.0)[None], ref, bones), [0.0], atol=1e-12)
    assert lh.bone_length_error(frames, ref, np.zeros((0, 2), dtype=int)).tolist() == [0.0, 0.0, 0.0]


def test_scored_bones_skip_helpers_and_the_world_root():
    # floor-level top joint 0 -> hips 1 -> zero-length helper 2 -> leg 3 -> foot 4; hips 1 -> spine 5
    toy = Skeleton("toy", ("floor", "hips", "helper", "leg", "foot", "spine"), (-1, 0, 1, 2, 3, 1))
    bones = lh.scored_bones(toy, static=[0, 2], root=1)
    assert bones.tolist() == [[2, 3], [3, 4], [1, 5]]  # not floor->hips (above the root), not hips->helper
    real = lh.scored_bones(CMU, corpus.static_joints(CMU, [walk_set(4.0).sequences[0].positions]), 0)
    assert 0 < len(real) < CMU.num_joints - 1


def test_heading_canonical_turns_the_hips_onto_x():
    # hips across +z (facing -x): after the turn across +x; a second pose already along x stays
    pose = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.1], [0.0, 0.0, -0.1], [0.3, 0.5, 0.0]])
    out = lh.heading_canonical(np.stack([pose, pose[:, [2, 1, 0]] * [-1, 1, 1]]), 1, 2)
    np.testing.assert_allclose(out[0, 1], [0.1, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out[0, 3], [0.0, 0.5, -0.3], atol=1e-12)  # turned with the hips, y kept
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(np.stack([pose, pose]), axis=-1))
    along_x = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.2, 0.3, 0.4]])
    np.testing.assert_allclose(lh.heading_canonical(along_x, 1, 2), along_x, atol=1e-12)
    vertical = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, -0.1, 0.0], [0.2, 0.3, 0.4]])
    np.testing.assert_allclose(lh.heading_canonical(vertical, 1, 2), vertical)


def test_pose_index_with_a_tiny_training_set():
    # 4 joints (root, left hip, right hip, hand); three training poses, hips across x
    base = np.array([[0.0, 1.0, 0.0], [0.1, 1.0, 0.0], [-0.1, 1.0, 0.0], [0.0, 1.5, 0.0]])
    train = np.stack([base, base, base])
    train[1, 3] = [0.0, 1.0, 0.5]  # hand forward
    train[2, 3] = [0.6, 1.0, 0.0]  # hand sideways
    index = lh.PoseIndex(train, 0, 1, 2)
    assert len(index) == 3
    # a training pose, moved 5 m away and turned 90 degrees about y: distance 0, found
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    moved = (train[2] - train[2, 0]) @ turn.T + [5.0, 0.2, -3.0]
    d, i = index.nearest(moved)
    assert i == 2 and d == pytest.approx(0.0, abs=1e-12)
    # the hand 3 cm off the first pose's hand: RMS over the 3 non-root joints = 3 cm / sqrt(3)
    q = base.copy()
    q[3] += [0.0, 0.03, 0.0]
    d, i = index.nearest(q[None, None])
    assert d.shape == (1, 1) and i[0, 0] == 0
    assert d[0, 0] == pytest.approx(0.03 / np.sqrt(3))
    np.testing.assert_allclose(index.distance(np.stack([q, moved])), [0.03 / np.sqrt(3), 0.0], atol=1e-12)
    with pytest.raises(ValueRangeError):
        index.distance(np.zeros((2, 5, 3)))
    with pytest.raises(ValueRangeError):
        lh.PoseIndex(np.zeros((0, 4, 3)), 0, 1, 2)


def test_pose_index_is_exact_against_a_kd_tree():
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(0)
    train = rng.normal(scale=0.3, size=(500, 6, 3))
    index = lh.PoseIndex(train, 0, 1, 2)
    queries = train[rng.integers(0, 500, 60)] + rng.normal(scale=0.05, size=(60, 6, 3))
    d, i = index.nearest(queries)
    kd, ki = cKDTree(index.features).query(index._features(queries))
    np.testing.assert_allclose(d, kd / np.sqrt(5), rtol=1e-12)
    assert (i == ki).all()


def test_spectrum_in_chunks_equals_the_pooled_metric():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(9, 25, 4, 3)).cumsum(axis=1)
    chunked = lh.normalise_spectrum(lh.power_sum(w[:4]) + lh.power_sum(w[4:]))
    np.testing.assert_allclose(chunked, np.asarray(power_spectrum(w)), rtol=1e-10)
    s = lh.spectrum_stats(chunked, chunked)
    assert s["kld"] == pytest.approx(0.0, abs=1e-12) and s["entropy"] > 0


# ---------------------------------------------------------------------------- seeds and evaluation
def test_seeds_are_the_long_windows_evenly_subsampled():
    ts = walk_set(4.0, 2.0, 3.4)  # 101, 51 and 86 frames: seeds at 0, 10, 20 / none / 0, 10
    seeds, future, where = lh.make_seeds(ts)
    assert where == [("walk0", 0), ("walk0", 10), ("walk0", 20), ("walk2", 0), ("walk2", 10)]
    assert seeds.shape == (5, 50, 31, 3) and future.shape == (5, 25, 31, 3)
    np.testing.assert_array_equal(seeds[4], ts.sequences[2].positions[10:60])
    np.testing.assert_array_equal(future[4], ts.sequences[2].positions[60:85])
    _, _, where = lh.make_seeds(ts, max_seeds=3)  # evenly spread: seeds 0, 2, 4
    assert where == [("walk0", 0), ("walk0", 20), ("walk2", 10)]
    with pytest.raises(DataNotFoundError, match="long-horizon seed"):
        lh.make_seeds(walk_set(2.0))


def test_bend_angles_by_hand():
    # a chain 0 -> 1 -> 2 -> 3 -> 4 and a branch 1 -> 5: bends at 2 (0 -> 1 -> 2), 3, 4 and 5 (0 -> 1 -> 5)
    parents = (-1, 0, 1, 2, 3, 1)
    triples = bone_triples(parents)
    assert triples.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [0, 1, 5]]
    # helper joints (not away from their parent) are walked past: 2 is a helper at 1's place, so 3 bends at 1
    # (bones 0 -> 1, 1 -> 3; 2 itself gets no row) and 4 at 3 (bone 2 -> 3 is bone 1 -> 3); a joint whose walk
    # ends at the root gets none
    walked = bone_triples(parents, away=(False, True, False, True, True, True))
    assert walked.tolist() == [[0, 1, 3], [2, 3, 4], [0, 1, 5]]
    assert bone_triples((-1, 0, 1), away=(False, False, True)).tolist() == []
    with pytest.raises(ValueError, match="away has 2 entries for 3 joints"):
        bone_triples((-1, 0, 1), away=(True, True))
    pose = np.array(
        [
            [0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 2.0, 0.0],  # straight on: 0
            [1.0, 2.0, 0.0],  # a right angle: 90
            [0.0, 2.0, 0.0],  # folded back onto the bone before: 180
            [0.0, 1.0, 0.0],  # a bone of zero length: 0
        ]
    )
    np.testing.assert_allclose(lh.bend_angles(pose, triples), [0.0, 90.0, 180.0, 0.0], atol=1e-6)
    bent = pose.copy()
    bent[2] = [np.sin(np.radians(30.0)), 1.0 + np.cos(np.radians(30.0)), 0.0]  # 30 degrees at joint 1
    assert lh.bend_angles(bent[None, None], triples).shape == (1, 1, 4)
    assert lh.bend_angles(bent, triples)[0] == pytest.approx(30.0)


def test_pose_index_bend_limits_are_the_training_maxima():
    # root, two hips along x, a spine (3) and a head (4) above it: the head's bend at the spine is scored
    parents = (-1, 0, 0, 0, 3)
    base = np.array([[0.0, 1.0, 0.0], [0.1, 1.0, 0.0], [-0.1, 1.0, 0.0], [0.0, 1.5, 0.0], [0.0, 2.0, 0.0]])
    train = np.stack([base, base])
    train[1, 4] = [0.5 * np.sin(np.radians(20.0)), 1.5 + 0.5 * np.cos(np.radians(20.0)), 0.0]  # head bent 20 degrees
    index = lh.PoseIndex(train, 0, 1, 2, parents=parents)
    assert index.bend_triples.tolist() == [[0, 3, 4]]
    np.testing.assert_allclose(index.bend_limit, [20.0], atol=1e-9)

    def head_at(deg: float) -> np.ndarray:
        q = base.copy()
        q[4] = [0.5 * np.sin(np.radians(deg)), 1.5 + 0.5 * np.cos(np.radians(deg)), 0.0]
        return q

    # the margin: beyond 20 + 5 degrees only
    assert index.bend_outside(np.stack([head_at(10.0), head_at(24.0), head_at(26.0), head_at(120.0)])).tolist() == [
        False,
        False,
        True,
        True,
    ]
    assert index.bend_outside(head_at(24.0), margin_deg=3.0)
    # a bend the training poses never vary (the mapping fixes it) is not scored
    still = lh.PoseIndex(np.stack([base, base]), 0, 1, 2, parents=parents)
    assert still.bend_triples.shape == (0, 3) and not still.bend_outside(head_at(120.0))
    with pytest.raises(ValueRangeError, match="without parents"):
        lh.PoseIndex(train, 0, 1, 2).bend_outside(base)
    with pytest.raises(ValueRangeError, match="4 parents"):
        lh.PoseIndex(train, 0, 1, 2, parents=parents[:4])


def test_zero_and_constant_velocity_on_synthetic_walks():
    ts = walk_set(4.0, 4.0)
    models = {n: posecast.models.get(n) for n in ("zero-velocity", "constant-velocity")}
    train = [retarget(CMU).to_canonical(synthetic_walk(seconds=3.0, fps=25.0).positions)]
    r = lh.evaluate_test_set(models, ts, 3, walk_index(), train, "a walk", goal_model="constant-velocity")
    info = r["info"]
    assert (info["seeds"], info["seed_files"], info["files"]) == (6, 2, 2)
    assert info["reference_windows"] == 2 * 77 and info["feet"] == ["LeftToeBase", "RightToeBase"]
    zv, cv = r["models"]["zero-velocity"]["per_second"], r["models"]["constant-velocity"]["per_second"]
    assert [row["second"] for row in zv] == [1, 2, 3] and set(zv[0]) == {"second", *lh.METRICS}
    for row in zv:  # a frozen pose: no speed, no spectrum but 0 Hz, bones and feet where they were
        assert row["speed_m_s"] == pytest.approx(0.0, abs=1e-9) and row["speed_ratio"] == pytest.approx(0.0, abs=1e-9)
        assert row["entropy"] < 1e-3
        assert row["kld"] > 0.5 and row["bone_error_cm"] == pytest.approx(0.0, abs=1e-9)
        assert row["penetration_cm"] == 0.0 and row["foot_skate_m_s"] in (None, 0.0)
    assert zv[0]["nn_mm"] == pytest.approx(zv[2]["nn_mm"], rel=1e-9) and zv[0]["nn_mm"] > 0.1
    assert zv[0]["bend_out_pct"] == zv[2]["bend_out_pct"] and 0.0 <= zv[0]["bend_out_pct"] <= 100.0
    # constant velocity: the same speed every second, limbs stretched more and more, feet through the floor
    assert cv[0]["speed_m_s"] == pytest.approx(cv[2]["speed_m_s"], rel=1e-9) and cv[0]["speed_m_s"] > 0.05
    assert 0 < cv[0]["bone_error_cm"] < cv[1]["bone_error_cm"] < cv[2]["bone_error_cm"]
    assert cv[2]["nn_mm"] > cv[0]["nn_mm"]
    # the recorded next second of a rigid walk: bones exact, the feet on the observed ground
    cont = r["continuation"]
    assert cont["second"] == 1 and cont["bone_error_cm"] == pytest.approx(0.0, abs=1e-9)
    assert cont["kld"] < 0.2 and cont["speed_ratio"] > 0.5 and 0 < cont["foot_contact"] <= 1
    td = r["test_data"]
    assert td["speed_m_s"] > 0.1 and td["entropy"] > 0 and td["nn_poses"] == 2 * 20
    assert 0.0 <= td["bend_out_pct"] <= 100.0
    assert cv[0]["speed_ratio"] == pytest.approx(cv[0]["speed_m_s"] / td["speed_m_s"])
    tr = r["train_data"]
    assert (
        tr["source"] == "a walk"
        and tr["windows"] == 11
        and tr["kld"] == pytest.approx(0.5 * (tr["kld_pred_gt"] + tr["kld_gt_pred"]))
    )
    # goals: zero-velocity misses KLD and speed, meets bones and (frozen) NN; constant velocity is the goal
    # model here and beats zero-velocity on KLD and speed but not on bones or NN
    g = r["goals"]
    zg = {c["goal"].split()[0]: c["met"] for c in g["models"]["zero-velocity"]["checks"]}
    assert zg == {"PS": False, "speed": False, "bone-length": True, "NN": True}
    better = {c["goal"].split(",")[0]: c["met"] for c in g["better"]["checks"]}
    assert better["PS KLD"] and better["|speed ratio - 1|"] and not better["bone-length error"]
    assert g["better"]["met"] is False and g["better"]["checks"][0]["other"] == "zero-velocity"
    json.dumps(r)  # plain JSON types throughout


def rows(kld, speed, bone, nn):
    return {
        "per_second": [
            {"second": t + 1, "kld": k, "speed_ratio": s, "bone_error_cm": b, "nn_mm": n}
            for t, (k, s, b, n) in enumerate(zip(kld, speed, bone, nn, strict=True))
        ]
    }


def test_goals_by_hand():
    models = {
        "st": rows([0.05, 0.09, 0.10], [0.8, 1.0, 1.2], [0.2, 0.5, 0.9], [60.0, 70.0, 70.0]),
        "frozen": rows([1.5] * 3, [0.0] * 3, [0.0] * 3, [90.0] * 3),
        "slow": rows([0.2, 0.3, 0.4], [0.5, 0.4, 0.3], [1.0, 1.5, 2.0], [80.0, 50.0, 60.0]),
        "nearest-neighbour": rows([0.01] * 3, [1.0] * 3, [0.1] * 3, [10.0] * 3),
    }
    g = lh.check_goals(models, "st")
    st = g["models"]["st"]
    assert st["met"] and [c["met"] for c in st["checks"]] == [True, True, True, True]
    assert st["checks"][1]["value"] == [0.8, 1.2] and st["checks"][3]["limit"] == 70.0
    slow = [c["met"] for c in g["models"]["slow"]["checks"]]
    assert slow == [False, False, False, False]  # 0.4 > 0.1; 0.3-0.5; bone 1.0 is not < 1; 60 > 50
    assert [c["met"] for c in g["models"]["frozen"]["checks"]] == [False, False, True, True]
    b = {c["goal"].split(",")[0]: c for c in g["better"]["checks"]}
    # mean KLD 0.08 vs slow's 0.3; |ratio - 1| 0.133 vs slow's 0.6; nearest-neighbour is not the bar
    assert b["PS KLD"]["other"] == "slow" and b["PS KLD"]["best_other"] == pytest.approx(0.3) and b["PS KLD"]["met"]
    assert b["|speed ratio - 1|"]["value"] == pytest.approx(0.4 / 3) and b["|speed ratio - 1|"]["met"]
    # bone error: the frozen pose's 0 is lower, but st reaches the < 1 cm goal itself
    bone = b["bone-length error"]
    assert bone["other"] == "frozen" and bone["goal_reached"] and bone["met"]
    # NN at the last second: 70 vs slow's 60, but st's own NN goal (70 <= 70) is reached
    assert b["NN distance"]["best_other"] == 60.0 and b["NN distance"]["met"]
    assert g["better"]["met"] is True
    assert lh.check_goals(models, "absent")["better"]["reason"] == "absent not run here"


def test_unavailable_models_and_printing(capsys):
    class Refuses(posecast.models.get("zero-velocity").__class__):
        def on_skeleton(self, skeleton, mapping=None):
            from posecast.errors import SkeletonError

            raise SkeletonError("no weights for this skeleton")

    models = {"zero-velocity": posecast.models.get("zero-velocity"), "refuses": Refuses()}
    result = lh.evaluate(models, 2, [walk_set(4.0)], goal_model="zero-velocity")
    d = result["datasets"]["cmu_bvh"]
    assert d["unavailable"] == {"refuses": "no weights for this skeleton"} and "nn_mm" not in d["test_data"]
    assert d["models"]["zero-velocity"]["per_second"][0]["nn_mm"] is None
    assert d["goals"]["better"]["met"] is None and "no other" in d["goals"]["better"]["reason"]
    assert "plausibility" not in result["protocol"] and result["protocol"]["goal_model"] == "zero-velocity"
    from rich.console import Console

    lh.print_result(result, Console(width=200))
    text = capsys.readouterr().out
    assert "real next second" in text and "refuses not available" in text and "goals" in text
    md = "\n".join(lh.markdown(result))
    assert md.startswith("### Long horizons") and "#### cmu_bvh" in md and "| zero-velocity | 2 |" in md


# ------------------------------------------------------------------------------------ real data
def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["posecast", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_bench_long_horizon_cli_on_cmu_bvh(cmu_bvh_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSECAST_DATA", str(cmu_bvh_dir.parent))
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "long.json"
    code, stdout, err = cli(
        monkeypatch,
        capsys,
        "bench",
        "long-horizon",
        "--models",
        "zero-velocity,constant-velocity",
        "--datasets",
        "cmu_bvh",
        "--seconds",
        "2",
        "--max-seeds",
        "12",
        "--no-train-reference",
        "--no-plausibility",
        "--json",
        str(out),
    )
    assert code == 0, err
    d = json.loads(out.read_text())
    assert list(d["datasets"]) == ["cmu_bvh"] and d["protocol"]["seconds"] == 2
    r = d["datasets"]["cmu_bvh"]
    assert r["info"]["seeds"] == 12 and r["info"]["files"] == 21 and r["info"]["skeleton"] == "cmu-bvh-31"
    assert r["info"]["feet"] == ["LeftToeBase", "RightToeBase"] and r["info"]["reference_windows"] > 2000
    zv = r["models"]["zero-velocity"]["per_second"]
    assert len(zv) == 2 and zv[1]["speed_m_s"] < 1e-9 and zv[1]["nn_mm"] is None
    cv = r["models"]["constant-velocity"]["per_second"]
    assert cv[1]["speed_ratio"] > 0.1 and cv[1]["bone_error_cm"] > cv[0]["bone_error_cm"] > 0
    # real motion: rigid bones, a little skating of the toe joints, barely below its own ground
    cont = r["continuation"]
    assert cont["bone_error_cm"] < 0.01 and cont["foot_skate_m_s"] < 0.2 and cont["penetration_cm"] < 0.5
    assert "train_data" not in r and r["test_data"]["speed_m_s"] > 0.1
    text = " ".join(stdout.split())
    assert "seeds: 12 from" in text and "at most 12 per data set" in text and "goals" in text


def test_the_test_data_reference_is_the_files_that_give_seeds():
    """Speed and spectrum references come from the files long enough for a seed (3 s): a short, faster clip
    beside them no longer makes the seeds' own recorded continuation look slow (CMU BVH: 0.76 of the reference
    with every file). Every file's speed is kept beside it."""
    fast = synthetic_walk(seconds=2.0, fps=25.0, speed=1.0, cadence=2.0).positions  # 50 frames: no seed
    long = walk_set(4.0)
    ts = corpus.TestSet("cmu_bvh", CMU, [*long.sequences, Sequence_("fast", fast, ("cmu_bvh",))], (25.0,))
    scorer, td = lh.make_scorer(ts)
    alone, td_alone = lh.make_scorer(long)
    assert td["speed_m_s"] == pytest.approx(td_alone["speed_m_s"], rel=1e-12)
    np.testing.assert_allclose(scorer.reference_spectrum, alone.reference_spectrum, rtol=1e-12)
    assert td["windows"] == td_alone["windows"] == 77 and td["files"] == 1
    assert td["all_files"]["files"] == 2 and td["all_files"]["speed_m_s"] > 1.2 * td["speed_m_s"]
    # with no file long enough for a seed, every file is the reference
    _, short = lh.make_scorer(walk_set(2.0, 2.0))
    assert short["files"] == short["all_files"]["files"] == 2
    assert short["speed_m_s"] == pytest.approx(short["all_files"]["speed_m_s"])
    line = lh._facts(
        "cmu_bvh",
        {
            "info": {
                **dict.fromkeys(("seeds", "seed_files", "files", "skeleton"), 1),
                "bones_scored": 1,
                "feet": ["a", "b"],
                "reference_windows": 77,
            },
            "test_data": td,
        },
    )[2]
    assert line.startswith("test data: the 1 of 2 files that give seeds (all 2: ")


def test_the_default_run_checks_the_goals_of_a_model_it_runs(tmp_path, monkeypatch, capsys):
    """Without --goal-model, the "better than the others" goal is checked for st-transformer when it runs, else for
    the default motion model: the default models (which do not include st-transformer) no longer report the goal
    "not checked (st-transformer not run here)"; a goal model named is kept."""
    from posecast.models import default_model

    default = default_model("motion").name
    posecast.save(synthetic_walk(seconds=4.0, fps=25.0), tmp_path / "walk.npz")
    out = tmp_path / "lh.json"
    args = ["bench", "long-horizon", "--files", str(tmp_path / "walk.npz"), "--seconds", "1", "--no-plausibility"]
    code, stdout, err = cli(monkeypatch, capsys, *args, "--json", str(out))
    assert code in (0, None), err
    d = json.loads(out.read_text())
    assert d["protocol"]["goal_model"] == default and default in d["datasets"]["files"]["models"]
    better = d["datasets"]["files"]["goals"]["better"]
    assert better["met"] is not None and "not run here" not in better.get("reason", "")
    named = ["--models", "zero-velocity", "--goal-model", "zero-velocity", "--json", str(out)]
    code, _, err = cli(monkeypatch, capsys, *args, *named)
    assert code in (0, None), err
    assert json.loads(out.read_text())["protocol"]["goal_model"] == "zero-velocity"
    assert lh.pick_goal_model([default, "zero-velocity", "constant-velocity"]) == default
    assert lh.pick_goal_model(["st-transformer", default, "zero-velocity"]) == lh.GOAL_MODEL
    assert lh.pick_goal_model(["nearest-neighbour", "zero-velocity", "constant-velocity"]) == "zero-velocity"
    assert lh.pick_goal_model(["nearest-neighbour"]) is None  # a retrieval baseline is not the bar
