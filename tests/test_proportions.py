"""Standard-build bodies (`posecast.kinematics.proportions`) and networks that read them
(`NeuralConfig.standard_bones`, `TrainConfig.standard_bones`)."""

from __future__ import annotations

import numpy as np
import pytest

from posecast.errors import ValueRangeError
from posecast.kinematics.proportions import (
    bone_lengths,
    from_standard,
    keep_rigid_bones,
    set_lengths,
    standard_lengths,
    to_standard,
)
from posecast.synthetic import synthetic_walk

#: a chain 0 -> 1 -> 2 and a branch 0 -> 3
PARENTS = (-1, 0, 1, 0)


def test_set_lengths_on_a_small_tree_by_hand():
    pose = np.array([[1.0, 1.0, 0.0], [1.0, 3.0, 0.0], [4.0, 3.0, 0.0], [1.0, 1.0, 0.0]])  # joint 3 on the root
    out = set_lengths(pose, np.array([0.5, 2.0, 0.25]), PARENTS)
    # root kept; 1 half a metre up from it; 2 two metres along +x from 1; a zero-length bone points along +y
    np.testing.assert_allclose(out, [[1, 1, 0], [1, 1.5, 0], [3, 1.5, 0], [1, 1.25, 0]], atol=1e-12)
    np.testing.assert_allclose(bone_lengths(out, PARENTS), [0.5, 2.0, 0.25], atol=1e-12)


def test_set_lengths_matches_the_torch_rebuild_of_the_training_code():
    import torch

    from posecast.kinematics.fk import set_bone_lengths

    walk = synthetic_walk(seconds=1.0, fps=25.0)
    rng = np.random.default_rng(3)
    lengths = rng.uniform(0.05, 0.5, size=walk.skeleton.num_joints - 1)
    want = set_bone_lengths(torch.from_numpy(walk.positions), torch.from_numpy(lengths), walk.skeleton).numpy()
    np.testing.assert_allclose(set_lengths(walk.positions, lengths, walk.skeleton.parents), want, atol=1e-12)


def test_to_standard_scales_the_root_path_and_from_standard_gives_the_build_back():
    walk = synthetic_walk(seconds=2.0, fps=25.0)
    parents = walk.skeleton.parents
    h = walk.positions[None]  # (1, T, J, 3)
    own = bone_lengths(h[0, -1], parents)
    standard = own * np.linspace(0.8, 1.3, own.size)  # another build: some bones shorter, some longer
    std, build = to_standard(h, standard, parents)
    root = int(np.flatnonzero(np.asarray(parents) < 0)[0])
    scale = standard.sum() / own.sum()  # the walk's bones keep their lengths in every frame
    np.testing.assert_allclose(build.scale, [scale], rtol=1e-9)
    want = np.broadcast_to(standard, (h.shape[1], own.size))
    np.testing.assert_allclose(bone_lengths(std[0], parents), want, atol=1e-9)
    np.testing.assert_allclose(std[0, :, root], h[0, :, root] * scale, atol=1e-12)  # the root path, scaled
    # bone directions are kept (bones of some length: the rig's zero-length hip joints stay at zero)
    children = [j for j, p in enumerate(parents) if p >= 0 and own[j - 1] > 1e-6]
    d_own = h[0, :, children] - h[0, :, [parents[j] for j in children]]
    d_std = std[0, :, children] - std[0, :, [parents[j] for j in children]]
    cos = (d_own * d_std).sum(-1) / np.linalg.norm(d_own, axis=-1) / np.linalg.norm(d_std, axis=-1)
    assert cos.min() > 1 - 1e-9
    # a "forecast" that is the standard history itself comes back as the history (its bones never changed)
    back = from_standard(std[:, None], build, parents)  # (B, S, T, J, 3)
    np.testing.assert_allclose(back[0, 0], h[0], atol=1e-9)


def test_from_standard_gives_each_history_its_own_last_lengths_and_scale():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(3, 6, 4, 3))  # three histories of a body whose bones change from frame to frame
    standard = np.array([0.3, 0.4, 0.2])
    std, build = to_standard(h, standard, PARENTS)
    np.testing.assert_allclose(build.lengths, bone_lengths(h[:, -1], PARENTS), atol=1e-12)
    pred = std[:, None, -2:]  # (B, 1, 2, J, 3)
    back = from_standard(pred, build, PARENTS)
    want = np.broadcast_to(bone_lengths(h[:, -1], PARENTS)[:, None, None], (3, 1, 2, 3))
    np.testing.assert_allclose(bone_lengths(back, PARENTS), want, atol=1e-9)
    np.testing.assert_allclose(back[..., 0, :], pred[..., 0, :] / build.scale[:, None, None, None], atol=1e-12)


def test_refusals():
    with pytest.raises(ValueRangeError, match="one root"):
        bone_lengths(np.zeros((2, 3)), (-1, -1))
    with pytest.raises(ValueRangeError, match="3 standard bone lengths for a skeleton of 2 bones"):
        to_standard(np.zeros((1, 2, 3, 3)), np.ones(3), (-1, 0, 1))
    with pytest.raises(ValueRangeError, match="no frames"):
        standard_lengths([], PARENTS)


def test_standard_lengths_are_the_medians_of_the_sequences():
    a = np.zeros((5, 4, 3))
    a[:, 1, 1], a[:, 2, 1], a[:, 3, 0] = 1.0, 3.0, np.arange(5.0)  # bone 3's length 0..4
    np.testing.assert_allclose(standard_lengths([a], PARENTS, stride=1), [1.0, 2.0, 2.0])


def test_a_network_with_standard_bones_reads_the_standard_build_and_answers_in_the_histories_own():
    """`NeuralConfig.standard_bones`: the network reads histories at the standard lengths (the same forecast for a
    history and for that history rebuilt at the standard lengths, up to the root scale), and the forecast keeps the
    history's own bone lengths."""
    from posecast.models.neural import NeuralConfig, NeuralForecaster

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    parents = walk.skeleton.parents
    cfg = NeuralConfig(net="dct-mlp", skeleton=walk.skeleton.name, fps=25.0, history=20, frames_per_pass=10,
                       params={"blocks": 2}, keep_bones=True)  # fmt: skip
    plain = NeuralForecaster(cfg)
    own = bone_lengths(walk.positions[-1], parents)
    standard = own * np.linspace(0.85, 1.2, own.size)
    std_net = NeuralForecaster(cfg.model_copy(update={"standard_bones": [float(x) for x in standard]}), net=plain.net)
    h = walk.positions[None]
    pred = std_net.predict(h, 15)  # (1, 1, 15, J, 3)
    np.testing.assert_allclose(
        bone_lengths(pred[0, 0], parents), np.broadcast_to(own, (15, own.size)), atol=1e-5
    )  # the history's own lengths
    # what the network made of the standard history, given the walk's build back, is the forecast
    std, build = to_standard(h[:, -std_net.history_frames(25.0) :], standard, parents)
    inner = plain.predict(std, 15)
    np.testing.assert_allclose(pred, from_standard(inner, build, parents), atol=1e-5)
    # a history already at the standard build is forecast as without the option (up to float32 rounding)
    same = NeuralForecaster(cfg.model_copy(update={"standard_bones": [float(x) for x in own]}), net=plain.net)
    np.testing.assert_allclose(same.predict(h, 15), plain.predict(h, 15), atol=2e-5)


def test_keep_rigid_bones_by_hand():
    """A chain root -> a -> b and a branch root -> c. Over the seen frames bone a is 1 m, b 0.5 m (rigid) and c
    stretches from 0.30 to 0.36 m. Poses with a at 2 m (along +x), b at 0.25 m (along +y), c at 0.4 m: a and b are set
    back to 1 and 0.5 m along their own directions (b's base moved with a), c keeps the pose's 0.4 m."""
    parents = (-1, 0, 1, 0)
    seen = np.zeros((1, 3, 4, 3))
    seen[0, :, 1] = [0.0, 1.0, 0.0]
    seen[0, :, 2] = [0.0, 1.5, 0.0]
    seen[0, :, 3, 0] = [0.30, 0.33, 0.36]
    poses = np.zeros((1, 2, 4, 3))
    poses[0, :, 0] = [5.0, 0.0, 0.0]  # the root stays where it is
    poses[0, :, 1] = [7.0, 0.0, 0.0]
    poses[0, :, 2] = [7.0, 0.25, 0.0]
    poses[0, :, 3] = [5.0, 0.0, 0.4]
    kept = keep_rigid_bones(poses, seen, parents)
    np.testing.assert_allclose(kept[0, 0], [[5, 0, 0], [6, 0, 0], [6, 0.5, 0], [5, 0, 0.4]], atol=1e-12)
    # only the bones asked for: b alone (a keeps the pose's 2 m, b's base stays at a's end)
    only_b = keep_rigid_bones(poses, seen, parents, np.array([False, True, False]))
    np.testing.assert_allclose(only_b[0, 1], [[5, 0, 0], [7, 0, 0], [7, 0.5, 0], [5, 0, 0.4]], atol=1e-12)
    # nothing to change: the very same array back
    assert keep_rigid_bones(kept, seen, parents) is kept
    # float32 poses stay float32
    assert keep_rigid_bones(poses.astype(np.float32), seen, parents).dtype == np.float32


def test_keep_rigid_bones_per_history_of_a_batch_and_nothing_seen():
    """Each history of a batch judges its own bones (one rigid, one stretching: only the first history's bone is
    set, for both of its samples); an empty history keeps the poses as they are."""
    parents = (-1, 0)
    seen = np.zeros((2, 4, 2, 3))
    seen[0, :, 1, 1] = 1.0  # rigid, 1 m
    seen[1, :, 1, 1] = [1.0, 1.1, 1.2, 1.3]  # stretching
    poses = np.zeros((2, 2, 3, 2, 3))
    poses[..., 1, 1] = 2.0
    kept = keep_rigid_bones(poses, seen, parents)
    np.testing.assert_allclose(kept[0, ..., 1, 1], 1.0)
    np.testing.assert_allclose(kept[1, ..., 1, 1], 2.0)
    assert keep_rigid_bones(poses, seen[:, :0], parents) is poses
