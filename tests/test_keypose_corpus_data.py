"""Action labels (`posecast.datasets.actions`) and the corpus key-pose pairs (`posecast.keyposes.dataset`)."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.datasets import actions
from posecast.errors import ValueRangeError


@pytest.mark.parametrize(
    ("description", "group"),
    [
        ("walk", "walk"),
        ("slow walk/stride", "walk"),
        ("run/jog", "run"),
        ("jump, balance", "jump"),
        ("punch/strike", "punch/strike"),
        ("bend over, scoop up, rise, lift arm", "bend"),
        ("playground - forward jumps, turn around", "playground"),  # the group wins over "jump"
        ("basketball - forward dribble", "basketball"),
        ("dance - expressive arms, pirouette", "dance"),
        ("swordplay", "swordplay"),
        ("wash self", "wash"),
        ("salsa lesson", "other"),
    ],
)
def test_cmu_groups(description, group):
    assert actions.cmu_group(description) == group


def test_hdm05_classes():
    assert actions.hdm05_class("HDM_bd_kickLFront1Reps_001_120.amc") == "kick"
    assert actions.hdm05_class("/x/y/HDM_bd_lieDownFloor_003_120.amc") == "lie"
    assert actions.action_label("hdm05_cuts", "hdm05_cuts/bd/HDM_bd_squat1Reps_002_120.amc") == "squat"
    with pytest.raises(ValueRangeError, match="not an HDM05"):
        actions.hdm05_class("squat.amc")


def test_labels_from_the_indexes(posecast_data):
    assert actions.action_label("bandai_namco", "bandai_namco/dataset-1/dataset-1_bow_active_001.bvh.gz") == "bow"
    wave = posecast_data / "bandai_namco/dataset-2/dataset-2_wave-left-hand_active_001.bvh.gz"
    assert actions.action_label("bandai_namco", wave) == "wave-left-hand"
    assert actions.action_label("cmu_bvh", "cmu_bvh/02/02_05.bvh") == "punch/strike"
    signal = "cmu_mocap/train/basketball_signal/basketball_signal_1.txt"
    assert actions.action_label("cmu_mocap", signal) == "basketball_signal"
    with pytest.raises(ValueRangeError, match="not listed"):
        actions.action_label("bandai_namco", "bandai_namco/dataset-1/nothing.bvh.gz")
    with pytest.raises(ValueRangeError, match="no action labels"):
        actions.action_label("h36m", "S1/walking.txt")


def test_corpus_test_pairs_carry_data_sets_and_labels(posecast_data):
    from posecast.keyposes.dataset import CORPUS_MINING, canonical_motions, corpus_pairs
    from posecast.keyposes.mining import mine_keyposes

    pairs = corpus_pairs("test", datasets=["hdm05_cuts"], max_files=6)
    assert pairs.skeleton.name == "smplh-22" and pairs.fps == 25.0
    assert set(pairs.datasets) == {"hdm05_cuts"} and len(pairs.labels) == len(pairs.files) == 6
    labels = pairs.pair_values(pairs.labels)
    assert labels.shape == (len(pairs),)
    # five evaluation starts per key pose, every label an HDM05 class of its file
    assert len(pairs) % 5 == 0 and set(pairs.start_kind) == {"start", "one-third", "middle", "two-thirds", "latest"}
    for i in range(0, len(pairs), 5):
        meta = pairs.metadata(i)
        assert meta["dataset"] == "hdm05_cuts" and meta["label"] == actions.hdm05_class(meta["file"])
    # root-relative windows and targets on the canonical pelvis
    assert np.abs(pairs.observed[:, :, 0]).max() == 0 and np.abs(pairs.target[:, 0]).max() == 0
    # the corpus mining keeps the one action of a short Bandai raise-up clip (validation style)
    (motion,) = [
        m
        for m in canonical_motions("validation", ["bandai_namco"])
        if m.metadata["source"].endswith("dataset-2_raise-up-right-hand_exhausted_001.bvh.gz")
    ]
    keys = mine_keyposes(motion, **CORPUS_MINING)
    assert len(keys) >= 1
    hand = motion.skeleton.index("right_wrist")
    height = motion.positions[:, hand, 1] - motion.positions[:, 0, 1]
    # the key pose has the right hand near its highest point of the clip
    assert height[keys[0].frame] > height.min() + 0.8 * (height.max() - height.min())


def test_charpose_trains_on_the_corpus_and_validates_on_its_validation_split(posecast_data, tmp_path):
    import json

    from posecast.keyposes.model import CharPoseConfig, load_charpose
    from posecast.training.keyposes import CharPoseTrainConfig, train_charpose

    net_cfg = CharPoseConfig(
        skeleton="smplh-22",
        grid_size=4,
        sigma=1.0,
        kernel_size=3,
        embed_dim=8,
        feedforward=8,
        decoder_start=2,
        decoder_channels=[4, 4],
        decoder_convs=[0, 0],
        lead_joints=["right_wrist", "left_wrist"],
    )
    cfg = CharPoseTrainConfig(
        data="corpus", network=net_cfg, epochs=1, max_steps_per_epoch=1, batch_size=4, starts_per_key=1
    )
    out = train_charpose(cfg, tmp_path / "run")
    run = json.loads((out / "run.json").read_text())["data"]
    # training pairs from the train split, validation pairs from the validation split: disjoint motions
    assert run["train_pairs"] > 10_000 and run["val_pairs"] > 1_000 and run["motions"] > run["val_motions"]
    assert run["val_source"].startswith("the corpus validation split")
    assert load_charpose(out / "best").skeleton.name == "smplh-22"
