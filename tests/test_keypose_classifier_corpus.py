"""The ``corpus`` variant of the key-pose classifier: classes from the corpus action labels (aliases, rare
labels dropped, left/right twins), key poses and their neighbours as training poses, mirroring that swaps
the sided classes, the training plug-in's ``data: corpus`` guards, and the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import posecast
from posecast import skeletons
from posecast.errors import ValueRangeError
from posecast.keyposes.classifier import (
    CLASSES,
    CORPUS_VARIANT,
    NAME,
    choose_classes,
    corpus_class,
    load_classifier,
    mirror_class,
    mirror_indices,
)
from posecast.keyposes.mining import KeyPose
from posecast.models import store
from posecast.training.classifier import (
    ClassifierTask,
    ClassifierTrainConfig,
    accuracy_facts,
    corpus_keyposes,
    labelled_keyposes,
)

CANON = skeletons.get("smplh-22")
LW, RW = CANON.index("left_wrist"), CANON.index("right_wrist")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def canonical_walk(frames: int = 20) -> np.ndarray:
    """``(frames, 22, 3)`` a synthetic walk on the canonical body (through the automatic mapping)."""
    from posecast.skeletons.canonical import retarget
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=frames / 25.0 + 0.2, fps=25.0)
    return retarget(walk.skeleton).to_canonical(walk.positions[:frames]).astype(np.float32)


# ------------------------------------------------------------------------------------- class names
def test_corpus_class_merges_the_aliases_only():
    assert corpus_class("walking_extra") == "walk" and corpus_class("running") == "run"
    assert corpus_class("dance-short") == "dance"
    assert corpus_class("bow") == "bow" and corpus_class("walk-turn-left") == "walk-turn-left"


def test_mirror_class_swaps_left_and_right_words():
    pairs = [
        ("raise-up-left-hand", "raise-up-right-hand"),
        ("wave-left-hand", "wave-right-hand"),
        ("walk-turn-left", "walk-turn-right"),
        ("walk-left", "walk-right"),
        ("kick_left_front", "kick_right_front"),
    ]
    for a, b in pairs:
        assert mirror_class(a) == b and mirror_class(b) == a
    assert mirror_class("left-to-right") == "right-to-left"
    for same in ("bow", "wave-both-hands", "leftover", "playground"):
        assert mirror_class(same) == same


def test_mirror_indices_point_at_twins_and_mark_the_unpaired():
    classes = ("bow", "wave-left-hand", "wave-right-hand", "kick-left")
    assert mirror_indices(classes) == (0, 2, 1, -1)
    assert mirror_indices(CLASSES) == (0, 1, 2, 3)  # the CMU coarse classes have no side


def test_choose_classes_drops_rare_labels_and_their_twins():
    labels: list[str] = []
    motions: list[int] = []

    def add(label: str, poses_per_motion: list[int], first_motion: int) -> None:
        for k, n in enumerate(poses_per_motion):
            labels.extend([label] * n)
            motions.extend([first_motion + k] * n)

    add("walk", [6, 6, 6, 6, 6], 0)  # 30 key poses in 5 files: kept
    add("kick", [25], 10)  # 25 in 1 file: too few files
    add("bow", [3, 3, 4], 20)  # 10 in 3 files: too few key poses
    add("wave-left-hand", [10, 10, 10], 30)  # kept on its own, dropped with its twin
    add("wave-right-hand", [2, 2, 1], 40)  # 5 in 3 files
    add("byebye", [7, 7, 6], 50)  # exactly 20 in 3 files: kept
    classes, dropped = choose_classes(labels, motions, min_motions=3, min_keyposes=20)
    assert classes == ("byebye", "walk")
    assert dropped == {
        "bow": "10 key poses in 3 files",
        "kick": "25 key poses in 1 files",
        "wave-right-hand": "5 key poses in 3 files",
        "wave-left-hand": "its mirror twin 'wave-right-hand' is dropped",
    }
    with pytest.raises(ValueRangeError, match="labels but motions"):
        choose_classes(["walk", "walk"], [0])
    with pytest.raises(ValueRangeError, match="no label"):
        choose_classes(["walk"] * 5, [0] * 5)


# ------------------------------------------------------------------------------------ training data
def test_labelled_keyposes_takes_each_key_frame_and_its_neighbours_once():
    t = 20
    pos = np.zeros((t, CANON.num_joints, 3))
    pos[:, :, 0] = np.arange(t)[:, None]  # x = frame number
    meta = {"label": "walking_extra", "source": "cmu_mocap/train/walking_extra/x.txt", "dataset": "cmu_mocap"}
    a = posecast.Motion(pos, 25.0, CANON, metadata=meta)
    b = posecast.Motion(pos + 100.0, 25.0, CANON, metadata={"label": "bow"})
    keys = [[KeyPose(0, 0.0), KeyPose(10, 0.4), KeyPose(12, 0.48)], [KeyPose(19, 0.76)]]
    got = labelled_keyposes([a, b], neighbours=2, keyposes=keys)
    # a: frames of 0 (0..2, none before the start), 10 (8..12) and 12 (10..14), each once
    want_a = [0, 1, 2, 8, 9, 10, 11, 12, 13, 14]
    assert got.motion.tolist() == [0] * 10 + [1] * 3
    np.testing.assert_array_equal(got.poses[:10, 0, 0], want_a)
    # frame 11 lies between keys 10 and 12: it counts from the first of the two
    assert got.offset[:10].tolist() == [0, 1, 2, -2, -1, 0, 1, 0, 1, 2]
    # b: key 19 is the last frame: 17, 18, 19
    np.testing.assert_array_equal(got.poses[10:, 0, 0], [117, 118, 119])
    assert got.offset[10:].tolist() == [-2, -1, 0]
    assert got.labels.tolist() == ["walk"] * 10 + ["bow"] * 3  # the alias applied
    assert got.keys.sum() == 4 and got.poses.dtype == np.float32
    assert got.files == ("cmu_mocap/train/walking_extra/x.txt", "motion 1") and got.datasets == ("cmu_mocap", "")
    only_keys = labelled_keyposes([a, b], neighbours=0, keyposes=keys)
    assert only_keys.poses[:, 0, 0].tolist() == [0, 10, 12, 119] and (only_keys.offset == 0).all()
    with pytest.raises(ValueRangeError, match="neighbours"):
        labelled_keyposes([a], neighbours=-1, keyposes=keys[:1])
    with pytest.raises(ValueRangeError, match="no action label"):
        labelled_keyposes([posecast.Motion(pos, 25.0, CANON)], keyposes=keys[:1])


def test_corpus_keyposes_never_reads_the_test_split():
    with pytest.raises(ValueRangeError, match="never used"):
        corpus_keyposes("test")


def test_accuracy_facts_by_hand():
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0]])
    y = np.array([0, 1, 1, 1])  # class 0: 1/1 right, class 1: 2/3 right, class 2 absent
    f = accuracy_facts(p, y, ("a", "b", "c"))
    assert f["accuracy"] == pytest.approx(0.75)
    assert f["balanced_accuracy"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert f["per_class"] == pytest.approx({"a": 1.0, "b": 2 / 3}) and f["counts"] == {"a": 1, "b": 3}


# ------------------------------------------------------------------------------------ mirroring
def _raised(poses: np.ndarray, joint: int) -> np.ndarray:
    out = poses.copy()
    out[:, joint, 1] += 0.6  # the wrist 60 cm higher
    return out


def test_mirrored_batches_swap_the_sided_classes():
    walk = canonical_walk(20)
    # only left-hand raises and bows are given: the right-hand class is seen through mirroring alone
    poses = np.concatenate([_raised(walk, LW), walk]).astype(np.float32)
    labels = np.repeat([0, 2], len(walk))
    classes = ("raise-up-left-hand", "raise-up-right-hand", "bow")
    config = ClassifierTrainConfig(batch_size=40, epochs=1, augment_mirror=True)
    task = ClassifierTask(config, poses, labels, CANON, classes)
    task.prepare(None)
    # the class weights see the mirrored twins: both raise classes half as frequent as bows
    assert task.weight.tolist() == pytest.approx([4 / 3, 4 / 3, 2 / 3])
    (xb, yb), flipped = next(iter(task.batches(0))), 0
    for x, y in zip(xb, yb.tolist(), strict=True):
        x = x.numpy()
        lifted = x[LW, 1] - x[RW, 1]
        if y == 2:
            assert abs(lifted) < 0.3  # a bow stays a bow, mirrored or not
        else:  # the raised wrist decides the label: left raised -> class 0, right raised (mirrored) -> 1
            assert y == (0 if lifted > 0.3 else 1) and abs(lifted) > 0.3
        flipped += y == 1
    assert 0 < flipped < 20

    plain = ClassifierTask(ClassifierTrainConfig(batch_size=40, augment_mirror=False), poses, labels, CANON, classes)
    plain.prepare(None)
    assert plain.weight[1] == 0 and 1 not in next(iter(plain.batches(0)))[1].tolist()


def test_a_classifier_trained_on_one_side_recognises_the_other_by_mirroring():
    from posecast.datasets.windows import mirror
    from posecast.training.classifier import train_classifier

    walk = canonical_walk(20)
    poses = np.concatenate([_raised(walk, LW), walk]).astype(np.float32)
    labels = np.repeat([0, 2], len(walk))
    classes = ("raise-up-left-hand", "raise-up-right-hand", "bow")
    right = mirror(torch.as_tensor(_raised(walk, LW)), CANON)  # right wrist raised, never given as such
    for mirrored in (True, False):
        net = train_classifier(
            poses, labels, CANON, classes=classes, hidden=32, epochs=20, batch_size=8, lr=1e-2, mirror=mirrored
        )
        assert (net.probabilities(torch.as_tensor(poses)).argmax(-1).numpy() == labels).mean() > 0.9
        found = (net.probabilities(right).argmax(-1) == 1).float().mean()
        assert found > 0.9 if mirrored else found == 0  # without mirroring the class is never learnt


def test_corpus_data_refuses_another_frame_rate_before_loading():
    task = ClassifierTask(ClassifierTrainConfig(data="corpus", fps=30.0))
    with pytest.raises(ValueRangeError, match="needs fps 25"):
        task.prepare(None)


# ---------------------------------------------------------------------------------- shipped weights
def test_shipped_corpus_variant_loads_and_cmu_bvh_stays_the_default():
    assert set(store.variants(NAME)) >= {"cmu-bvh", CORPUS_VARIANT}
    assert store.default_variant(NAME) == "cmu-bvh" and load_classifier().classes == CLASSES
    assert store.read_config(store.shipped(NAME, "cmu-bvh"))["default"] is True  # marked, as other models do
    net = load_classifier(variant=CORPUS_VARIANT)
    assert net.skeleton.name == "smplh-22"
    assert {"walk", "run", "bow", "dance", "playground", "wave-left-hand", "wave-right-hand"} <= set(net.classes)
    assert not {"walking_extra", "running", "dance-short", "squat", "lie"} & set(net.classes)
    assert list(net.classes) == sorted(net.classes)
    for c, m in zip(net.classes, mirror_indices(net.classes), strict=True):
        assert m >= 0 and net.classes[m] == mirror_class(c)  # every sided class has its twin
    cfg = store.read_config(store.shipped(NAME, CORPUS_VARIANT))
    assert cfg["skeleton"] == "smplh-22" and "class_rules" not in cfg and cfg.get("default") is not True
    assert set(cfg["labels"]["dropped"]).isdisjoint(net.classes)
    assert cfg["training"]["val_accuracy"] > 0.5 and cfg["training"]["val_balanced_accuracy"] > 0.5
    p = net.probabilities(torch.as_tensor(canonical_walk(12)))
    assert p.shape == (12, len(net.classes))
    torch.testing.assert_close(p.sum(-1), torch.ones(12))
    again = posecast.models.get(NAME, variant=CORPUS_VARIANT)
    assert again.classes == net.classes


def test_shipped_corpus_classifier_on_validation_key_poses(posecast_data):
    """On real validation key poses (a spread of Bandai files): better than chance by far, and a mirrored
    key pose mostly gets the mirror class of the pose's class."""
    from posecast.datasets.windows import mirror

    net = load_classifier(variant=CORPUS_VARIANT)
    val = corpus_keyposes("validation", 0, datasets=["bandai_namco"], max_files=60)
    known = np.isin(val.labels, net.classes)
    x = torch.as_tensor(val.poses[known])
    y = np.array([net.classes.index(c) for c in val.labels[known]])
    assert len(y) > 50
    pred = net.probabilities(x).argmax(-1).numpy()
    assert (pred == y).mean() > 0.5  # 21 classes: chance is under 0.1
    twin = np.array(mirror_indices(net.classes))
    pred_mirrored = net.probabilities(mirror(x, CANON)).argmax(-1).numpy()
    assert (pred_mirrored == twin[pred]).mean() > 0.7
