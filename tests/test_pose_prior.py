"""The Gaussian-mixture pose prior (`posecast.models.pose_prior`) and the ST-Transformer's plausibility term."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from posecast.errors import ValueRangeError
from posecast.models.neural import NeuralConfig, NeuralForecaster, hip_pair
from posecast.models.pose_prior import PosePrior, pose_features
from posecast.models.st_transformer import training_loss
from posecast.synthetic import synthetic_walk
from posecast.training.motion import fit_pose_prior


def test_features_are_root_relative_and_turned_to_the_hip_vector():
    # root at (1, 0, 1); left hip 0.1 m along +z from it, right hip 0.1 m along -z: the hip vector points
    # along +z, so the pose is turned by -90 degrees about y (z -> x, x -> -z)
    pose = torch.tensor(
        [[1.0, 0.0, 1.0], [1.0, 0.0, 1.1], [1.0, 0.0, 0.9], [1.2, 0.5, 1.0]],
        dtype=torch.float64,
    )
    f = pose_features(pose, 0, 1, 2).reshape(3, 3)
    want = torch.tensor([[0.1, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.0, 0.5, -0.2]], dtype=torch.float64)
    torch.testing.assert_close(f, want, atol=1e-12, rtol=0)
    # the same pose moved and turned about y gives the same features
    a = 0.7
    rot = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]], dtype=torch.float64)
    moved = pose @ rot.T + torch.tensor([3.0, 0.0, -2.0], dtype=torch.float64)
    torch.testing.assert_close(pose_features(moved, 0, 1, 2).reshape(3, 3), want, atol=1e-12, rtol=0)


def _two_blobs(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, -1.0]])
    covs = [np.diag([0.04, 0.01, 0.02]), np.array([[0.05, 0.02, 0.0], [0.02, 0.03, 0.0], [0.0, 0.0, 0.01]])]
    which = rng.random(n) < 0.3
    x = np.where(
        which[:, None],
        rng.multivariate_normal(means[0], covs[0], n),
        rng.multivariate_normal(means[1], covs[1], n),
    )
    return x, means, covs


def test_fit_recovers_a_known_mixture_and_nll_is_its_density():
    x, means, covs = _two_blobs()
    prior = PosePrior.fit(torch.as_tensor(x), components=2, iterations=30, ridge=1e-9)
    order = torch.argsort(prior.means[:, 0])
    np.testing.assert_allclose(prior.means[order].numpy(), means, atol=0.03)
    weights = torch.exp(prior.log_weights[order]).numpy()
    np.testing.assert_allclose(weights, [0.3, 0.7], atol=0.03)
    fitted_cov = (prior.chol @ prior.chol.transpose(1, 2))[order].numpy()
    np.testing.assert_allclose(fitted_cov[1], covs[1], atol=0.005)
    # NLL against scipy's densities of the fitted parameters (a reference implementation)
    q = x[:50]
    dens = sum(
        w * multivariate_normal(m, c).pdf(q)
        for w, m, c in zip(weights, prior.means[order].numpy(), fitted_cov, strict=True)
    )
    np.testing.assert_allclose(prior.nll(torch.as_tensor(q)).numpy(), -np.log(dens), rtol=0, atol=1e-8)
    # the threshold is the 99 % quantile of the training NLL: about 1 % of the training points exceed it
    frac = (prior.excess(torch.as_tensor(x)) > 0).double().mean().item()
    assert 0.005 <= frac <= 0.015


def test_excess_is_zero_inside_positive_outside_and_differentiable():
    x, _, _ = _two_blobs()
    prior = PosePrior.fit(torch.as_tensor(x), components=2, iterations=20)
    inside = torch.tensor([[1.0, 2.0, -1.0]], dtype=torch.float64)
    assert prior.excess(inside).item() == 0.0
    far = torch.tensor([[5.0, -3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    e = prior.excess(far)
    expected = (prior.nll(far.detach()) - prior.threshold) / 3
    torch.testing.assert_close(e.detach(), expected, atol=1e-9, rtol=0)
    e.sum().backward()
    # the gradient points away from the data: a step against it lowers the excess
    step = far.detach() - 1e-3 * far.grad / far.grad.norm()
    assert prior.excess(step).item() < e.item()


def test_fit_refuses_too_few_poses():
    with pytest.raises(ValueRangeError, match="too few"):
        PosePrior.fit(torch.zeros(10, 3), components=4)


def _walk_model(**params) -> NeuralForecaster:
    torch.manual_seed(0)
    cfg = NeuralConfig(
        net="st-transformer",
        skeleton="cmu-bvh-31",
        fps=25.0,
        history=6,
        frames_per_pass=3,
        params={"d_model": 8, "heads": 2, "layers": 1, "ff": 16, "context": 12, "dropout": 0.0, **params},
    )
    model = NeuralForecaster(cfg)
    with torch.no_grad():
        model.net.head.weight.normal_(0.0, 0.05)
    return model


def test_training_loss_adds_the_prior_term_over_the_longer_rollout():
    walks = [synthetic_walk(seconds=6.0, fps=25.0, speed=1.0 + 0.1 * i) for i in range(3)]
    model = _walk_model(rollout_frames=3, prior_weight=1.0, prior_frames=9)
    with pytest.raises(ValueRangeError, match="needs a pose prior"):
        training_loss(model, torch.zeros(2, 15, 31, 3), 6)
    prior = fit_pose_prior([w.positions for w in walks], model.skeleton, stride=1, components=2)
    root, left, right = prior.joints
    assert root == 0 and (left, right) == hip_pair(model.skeleton)
    model.pose_prior = prior
    batch = torch.as_tensor(np.stack([w.positions[:15] for w in walks]), dtype=torch.float32)
    plain = _walk_model(rollout_frames=3)
    torch.manual_seed(1)
    without = training_loss(plain, batch, 6)
    torch.manual_seed(1)
    with_prior = training_loss(model, batch, 6)
    # the same draws of offsets: the difference is the prior term, computed here on the same rollout
    torch.manual_seed(1)
    torch.randint(0, 1, (3,))  # the teacher-forced term's offsets (one possible offset: 15 = 12 + 3)
    start = torch.randint(0, 15 - 6 - 3 + 1, (3,))
    rows = start[:, None] + torch.arange(6)
    rolled = model.rollout(batch[torch.arange(3)[:, None], rows], 12)
    term = prior.pose_excess(rolled.double()).mean()
    torch.testing.assert_close((with_prior - without).double(), term, atol=1e-5, rtol=1e-4)
    assert term.item() > 0  # an untrained network's rollout leaves the three walks' poses


def test_sample_weights_act_as_repeated_poses():
    x, _, _ = _two_blobs(n=600, seed=3)
    x = torch.as_tensor(x)
    twice = torch.ones(600, dtype=torch.float64)
    twice[:200] = 2.0
    # one component: the fit is the weighted mean and covariance, no start to depend on
    weighted = PosePrior.fit(x, components=1, iterations=3, sample_weights=twice, quantile=0.9)
    repeated = PosePrior.fit(torch.cat([x, x[:200]]), components=1, iterations=3, quantile=0.9)
    torch.testing.assert_close(weighted.means, repeated.means, atol=1e-12, rtol=0)
    torch.testing.assert_close(weighted.chol, repeated.chol, atol=1e-12, rtol=0)
    torch.testing.assert_close(weighted.threshold, repeated.threshold, atol=1e-12, rtol=0)
    torch.testing.assert_close(repeated.means[0], torch.cat([x, x[:200]]).mean(0), atol=1e-12, rtol=0)
    with pytest.raises(ValueRangeError, match="sample weights"):
        PosePrior.fit(x, components=2, sample_weights=-twice)


def test_balanced_prior_weighs_every_data_set_the_same():
    # a big data set of slow walks and a small one of fast walks: balanced, each gets half the mixture
    slow = [synthetic_walk(seconds=8.0, fps=25.0, speed=0.8).positions]
    fast = [synthetic_walk(seconds=2.0, fps=25.0, speed=2.0, cadence=1.6).positions]
    skel = NeuralForecaster(
        NeuralConfig(net="st-transformer", skeleton="cmu-bvh-31", fps=25.0, history=6, frames_per_pass=3)
    ).skeleton
    plain = fit_pose_prior(slow + fast, skel, stride=1, components=1)
    balanced = fit_pose_prior(slow + fast, skel, stride=1, components=1, datasets=["a", "b"])
    f_slow = pose_features(torch.as_tensor(slow[0], dtype=torch.float64), *plain.joints)
    f_fast = pose_features(torch.as_tensor(fast[0], dtype=torch.float64), *plain.joints)
    n_s, n_f = len(f_slow), len(f_fast)
    torch.testing.assert_close(plain.means[0], torch.cat([f_slow, f_fast]).mean(0), atol=1e-9, rtol=0)
    torch.testing.assert_close(balanced.means[0], 0.5 * f_slow.mean(0) + 0.5 * f_fast.mean(0), atol=1e-9, rtol=0)
    assert (n_s, n_f) == (201, 51)  # so the unbalanced mean is far from the balanced one
    with pytest.raises(ValueRangeError, match="1 data-set names for 2 sequences"):
        fit_pose_prior(slow + fast, skel, stride=1, components=1, datasets=["a"])


def test_prior_warmup_scores_a_stretch_after_a_free_rollout():
    walks = [synthetic_walk(seconds=6.0, fps=25.0, speed=1.0 + 0.1 * i) for i in range(3)]
    batch = torch.as_tensor(np.stack([w.positions[:15] for w in walks]), dtype=torch.float32)
    model = _walk_model(rollout_frames=3, prior_weight=1.0, prior_frames=6, prior_warmup=20)
    model.pose_prior = fit_pose_prior([w.positions for w in walks], model.skeleton, stride=1, components=2)
    plain = _walk_model(rollout_frames=3, prior_weight=1.0, prior_frames=6)
    plain.pose_prior = model.pose_prior
    torch.manual_seed(4)
    base = training_loss(plain, batch, 6)
    torch.manual_seed(4)
    loss = training_loss(model, batch, 6)
    # redo the extra term by hand with the same draws: offsets of the two terms, then the warm-up length
    torch.manual_seed(4)
    torch.randint(0, 1, (3,))
    start = torch.randint(0, 15 - 6 - 3 + 1, (3,))
    w = int(torch.randint(1, 21, ()).item())
    history = batch[torch.arange(3)[:, None], start[:, None] + torch.arange(6)]
    with torch.no_grad():
        far = model.rollout(history, w)
    late = model.rollout(torch.cat([history, far], dim=1)[:, -6:], 6)
    torch.testing.assert_close(
        (loss - base).double(), model.pose_prior.pose_excess(late.double()).mean(), atol=1e-5, rtol=1e-4
    )
    loss.backward()
    assert model.net.embed.weight.grad is not None and torch.isfinite(model.net.embed.weight.grad).all()


def test_speed_mismatch_by_hand():
    from posecast.models.st_transformer import speed_mismatch

    # 3 joints, root 0 still; joint 1 moves 2 cm per frame in the real windows, joint 2 1 cm
    t = torch.arange(6, dtype=torch.float64)[None, :, None]
    real = torch.zeros(2, 6, 3, 3, dtype=torch.float64)
    real[:, :, 1, 0] = 0.02 * t[..., 0]
    real[:, :, 2, 2] = 0.01 * t[..., 0]
    rolled = real.clone()
    rolled[:, :, 1, 0] = 0.01 * t[..., 0]  # half the speed: |log 0.5| - log 1.1
    rolled[:, :, 2, 2] = 0.0105 * t[..., 0]  # 5 % faster: inside the margin
    want = (math.log(2.0) - math.log(1.1)) / 2
    torch.testing.assert_close(speed_mismatch(rolled, real, 0), torch.tensor(want, dtype=torch.float64))
    # moving the whole body (the root too) changes nothing: speeds are root-relative
    shifted = rolled + 0.3 * t[..., None]
    torch.testing.assert_close(speed_mismatch(shifted, real, 0), torch.tensor(want, dtype=torch.float64))


def _two_gaussians() -> PosePrior:
    means = torch.tensor([[0.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    covs = torch.stack([torch.diag(torch.tensor([1.0, 0.25])), torch.diag(torch.tensor([0.5, 0.5]))]).double()
    prior = PosePrior(means, covs, torch.tensor([0.6, 0.4], dtype=torch.float64))
    prior.threshold.fill_(4.0)
    return prior


def test_nll_gradient_in_closed_form_equals_autograd():
    prior = _two_gaussians()
    x = torch.tensor([[0.3, -0.2], [5.0, 2.0], [-4.0, 1.0]], dtype=torch.float64, requires_grad=True)
    nll, grad = prior.nll_and_gradient(x.detach())
    (auto,) = torch.autograd.grad(prior.nll(x).sum(), x)
    torch.testing.assert_close(nll, prior.nll(x).detach())
    torch.testing.assert_close(grad, auto)


def test_projection_reaches_the_level_set_by_a_near_shortest_move_and_leaves_likely_points_alone():
    prior = _two_gaussians()
    inside = torch.tensor([[0.2, 0.1], [2.8, -0.3]], dtype=torch.float64)
    assert bool((prior.nll(inside) < prior.threshold).all())
    torch.testing.assert_close(prior.project(inside), inside, rtol=0, atol=0)
    far = torch.tensor([[0.0, 3.0], [6.0, 1.0], [-3.0, -2.0]], dtype=torch.float64)
    out = prior.project(far)
    torch.testing.assert_close(prior.nll(out), torch.full((3,), 4.0, dtype=torch.float64), atol=1e-6, rtol=0)
    # the nearest point of the level set, by brute force over a fine grid of the plane
    g = torch.linspace(-6.0, 8.0, 1401, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    level = grid[(prior.nll(grid) - 4.0).abs() < 0.02]
    for p, q in zip(far, out, strict=True):
        nearest = float((level - p).norm(dim=1).min())
        move = float((q - p).norm())
        assert nearest - 0.03 <= move <= 1.05 * nearest + 0.03  # linearised steps: within 5 % of the shortest


def test_projected_poses_keep_root_and_heading_and_reach_the_threshold():
    walk = synthetic_walk(seconds=12.0, fps=25.0)
    skel = walk.skeleton
    prior = fit_pose_prior([walk.positions], skel, stride=1, components=2, quantile=0.9)
    poses = torch.as_tensor(walk.positions[::10], dtype=torch.float64)
    odd = poses.clone()
    odd[:, 5:] += torch.tensor([0.0, 0.25, 0.1], dtype=torch.float64)  # every joint from the 6th on moved
    root, left, right = prior.joints
    out = prior.project_poses(odd)
    torch.testing.assert_close(out[:, root], odd[:, root], rtol=0, atol=0)
    feats = pose_features(out, root, left, right)
    assert float((prior.nll(feats) - prior.threshold).max()) < 0.1  # all on or under the threshold (tolerance)
    turned = pose_features(odd, root, left, right).reshape(len(odd), -1, 3)
    moved = feats.reshape(turned.shape) - turned
    hips = [j - (j > root) for j in (left, right)]  # indices among the non-root joints
    across = moved[:, hips[0]] - moved[:, hips[1]]
    assert float(across[:, 2].abs().max()) < 0.05  # the hip vector stays (nearly) along x: the heading holds
    likely = poses[prior.nll(pose_features(poses, root, left, right)) <= prior.threshold]
    assert len(likely) and torch.equal(prior.project_poses(likely), likely)


def test_normalised_prior_judges_poses_not_bodies():
    """``fit_pose_prior(normalise=True)`` (``params.project_normalise``): the mixture is fitted on the poses at
    their median bone lengths (kept as ``bone_lengths``); a body 20 % taller in the same poses is as likely
    (the plain prior finds it far less likely), and a projected pose keeps its own bone lengths."""
    from posecast.kinematics.fk import bone_lengths, set_bone_lengths

    walk = synthetic_walk(seconds=12.0, fps=25.0)
    skel = walk.skeleton
    plain = fit_pose_prior([walk.positions], skel, stride=1, components=2, quantile=0.9)
    norm = fit_pose_prior([walk.positions], skel, stride=1, components=2, quantile=0.9, normalise=True)
    poses = torch.as_tensor(walk.positions, dtype=torch.float64)
    torch.testing.assert_close(norm.bone_lengths, bone_lengths(poses, skel).median(0).values, rtol=0, atol=0)
    tall = set_bone_lengths(poses[::10], 1.2 * bone_lengths(poses[::10], skel), skel)
    torch.testing.assert_close(norm.pose_excess(tall), norm.pose_excess(poses[::10]), rtol=0, atol=1e-9)
    assert float(plain.pose_excess(tall).min()) > 1.0 > float(norm.pose_excess(tall).max())
    # an odd pose of the tall body: moved onto the level set, its own (tall) bones back
    odd = tall.clone()
    odd[:, 5:] += torch.tensor([0.0, 0.25, 0.1], dtype=torch.float64)
    own = bone_lengths(odd, skel)
    out = norm.project_poses(odd)
    torch.testing.assert_close(bone_lengths(out, skel), own, rtol=0, atol=1e-9)
    # near the level set, not on it (the move changes bone lengths; the pose's own come back)
    assert float(norm.pose_excess(out).mean()) < 0.1 * float(norm.pose_excess(odd).mean())
    # the buffers round-trip through a state dict (the weights file)
    again = PosePrior(norm.means, norm.chol @ norm.chol.transpose(1, 2), norm.log_weights.exp(), norm.joints,
                      skel.parents)  # fmt: skip
    again.load_state_dict(norm.state_dict())
    torch.testing.assert_close(again.project_poses(odd), out, rtol=0, atol=1e-12)


def test_a_traced_projection_holds_for_inputs_whose_other_poses_move():
    """QA: an ST-Transformer rollout traced (`posecast.models.tracing`) on a history whose poses the projection moved
    had baked in how many moved: every later forecast of that shape failed (and one traced where none moved would
    have skipped the projection for good). Traced, `project_poses` takes every pose the whole way, with no branch on
    the data: a trace made on odd poses gives the eager result on likely ones and the other way round."""
    walk = synthetic_walk(seconds=12.0, fps=25.0)
    prior = fit_pose_prior([walk.positions], walk.skeleton, stride=1, components=2, quantile=0.9)
    poses = torch.as_tensor(walk.positions[::10][:5], dtype=torch.float64)
    odd = poses.clone()
    odd[:, 5:] += torch.tensor([0.0, 0.25, 0.1], dtype=torch.float64)
    mixed = torch.cat([poses[:3], odd[3:]])  # two of five move
    likely = poses[prior.nll(pose_features(poses, *prior.joints)) <= prior.threshold][:1].repeat(5, 1, 1)

    class Project(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return prior.project_poses(x)

    for example in (odd, likely, mixed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(Project(), (example,), check_trace=False)
        for x in (odd, likely, mixed):
            torch.testing.assert_close(traced(x), prior.project_poses(x), rtol=0, atol=1e-9)
    assert not torch.equal(prior.project_poses(odd), odd)  # (the odd poses do move)
