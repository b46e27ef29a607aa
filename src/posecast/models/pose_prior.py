"""A Gaussian-mixture prior over body poses, for training losses that keep rollouts among real poses.

Features (`pose_features`): every joint but the root, root-relative, turned about the vertical (y) axis so
that the hip vector (left minus right hip) points along +x: ``(J - 1) x 3`` numbers per pose in metres,
the features the long-horizon benchmark's nearest-training-pose distance uses
(`posecast.evaluation.protocols.long_horizon.PoseIndex`), here in torch and differentiable.

`PosePrior.fit` runs EM (full covariances, k-means start, a small ridge on every covariance) on such
features of training poses; `PosePrior.nll` is the negative log-density of new poses and `PosePrior.excess`
how far above a quantile of the training poses' own NLL it lies (0 for poses as likely as most training
poses). Used by the ST-Transformer's ``params.prior_weight`` (`posecast.models.st_transformer.training_loss`):
frames of its self-fed training rollouts, where no recorded future exists to compare with, are scored by it.

Written by hand (about 60 lines of EM in torch) instead of adding scikit-learn: the prior must be evaluated
inside the training graph (torch, with gradients), and the fit runs once per training run on ~10^5 poses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from posecast.errors import ValueRangeError
from posecast.kinematics.alignment import heading_canonical, heading_turn, turn_about_y

#: linearised steps of `PosePrior.project` (measured: 6 reach the level set to well under 0.1 nats)
PROJECT_ITERATIONS = 6
#: nats: `PosePrior.project` finishes a point still this far above the threshold by `PosePrior._shrink`
PROJECT_TOLERANCE = 0.1


def pose_features(poses: torch.Tensor, root: int, left_hip: int, right_hip: int) -> torch.Tensor:
    """``(..., J, 3)`` poses (y up, metres) → ``(..., (J - 1) * 3)`` root-relative, heading-canonical features
    (`posecast.kinematics.alignment.heading_canonical`), the root left out."""
    turned = heading_canonical(poses - poses[..., root : root + 1, :], left_hip, right_hip)
    keep = [j for j in range(poses.shape[-2]) if j != root]
    return turned[..., keep, :].flatten(-2)


class PosePrior(torch.nn.Module):
    """A ``K``-component full-covariance Gaussian mixture over ``D``-dimensional pose features.

    Buffers: ``means (K, D)``, ``chol (K, D, D)`` (lower Cholesky factors of the covariances), ``log_weights
    (K,)``, ``threshold`` (scalar: the training NLL quantile `excess` measures from). ``joints``: the (root,
    left hip, right hip) indices `pose_excess` builds the features of whole poses with.

    With ``parents`` (the skeleton's, one per joint) the prior judges poses, not bodies: a buffer
    ``bone_lengths (J - 1,)`` (one per non-root joint in joint order; the fit's median training lengths) and
    every whole pose `pose_excess` and `project_poses` see gets those lengths first (bone directions kept), so
    a person with other proportions than the training people (or a rig whose automatic mapping places the
    neck or the collars elsewhere) is not read as an unlikely pose; `project_poses` gives the moved pose
    back its own lengths. The mixture must then be fitted on poses with those lengths too
    (`posecast.training.motion.fit_pose_prior` with ``normalise``).
    """

    def __init__(
        self,
        means: torch.Tensor,
        covariances: torch.Tensor,
        weights: torch.Tensor,
        joints: tuple[int, int, int] = (0, 1, 2),
        parents: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.joints = tuple(int(j) for j in joints)
        self.parents = None if parents is None else tuple(int(j) for j in parents)
        k, d = means.shape
        if covariances.shape != (k, d, d) or weights.shape != (k,):
            raise ValueRangeError(
                f"mixture of {k} x {d} means needs covariances ({k}, {d}, {d}) and weights ({k},), got "
                f"{tuple(covariances.shape)} and {tuple(weights.shape)}"
            )
        chol = torch.linalg.cholesky(covariances.double())
        self.register_buffer("means", means.double())
        self.register_buffer("chol", chol)
        self.register_buffer("log_weights", torch.log(weights.double().clamp_min(1e-300)))
        self.register_buffer("threshold", torch.tensor(0.0, dtype=torch.float64))
        if self.parents is not None:
            bones = sum(1 for j in self.parents if j >= 0)
            self.register_buffer("bone_lengths", torch.ones(bones, dtype=torch.float64))

    def normalised(self, poses: torch.Tensor) -> torch.Tensor:
        """``(..., J, 3)`` poses with the prior's ``bone_lengths`` (directions kept); as they are without
        ``parents``."""
        if self.parents is None:
            return poses
        from posecast.kinematics.fk import set_bone_lengths

        return set_bone_lengths(poses, self.bone_lengths.to(poses.dtype), self)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def component_log_density(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` → ``(N, K)``: log weight + log Gaussian density of each component."""
        if x.shape[-1] != self.dim:
            raise ValueRangeError(f"pose features of size {x.shape[-1]}; this prior has {self.dim}")
        chol = self.chol.to(x.dtype)
        diff = (x[None] - self.means.to(x.dtype)[:, None]).transpose(1, 2)  # (K, D, N)
        z = torch.linalg.solve_triangular(chol, diff, upper=False)
        maha = (z**2).sum(1)  # (K, N)
        logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)  # (K,)
        lp = self.log_weights.to(x.dtype)[:, None] - 0.5 * (maha + logdet[:, None] + self.dim * math.log(2 * math.pi))
        return lp.T

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` features → ``(...)`` negative log-density (nats)."""
        flat = x.reshape(-1, self.dim)
        return -torch.logsumexp(self.component_log_density(flat), dim=1).reshape(x.shape[:-1])

    def excess(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., D)`` → ``(...)``: ``max(0, nll - threshold) / D`` (nats per feature above the threshold)."""
        return torch.relu(self.nll(x) - self.threshold.to(x.dtype)) / self.dim

    def pose_excess(self, poses: torch.Tensor) -> torch.Tensor:
        """`excess` of ``(..., J, 3)`` whole poses (features by `pose_features` with ``joints``) → ``(...)``."""
        return self.excess(pose_features(self.normalised(poses), *self.joints))

    def nll_and_gradient(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, D)`` → ``(N,)`` NLL and its ``(N, D)`` gradient, in closed form (no autograd): the
        gradient of ``-log sum_k w_k N(x; mu_k, S_k)`` is ``sum_k r_k S_k^-1 (x - mu_k)`` with ``r`` the
        components' responsibilities."""
        chol = self.chol.to(x.dtype)
        diff = (x[None] - self.means.to(x.dtype)[:, None]).transpose(1, 2)  # (K, D, N)
        z = torch.linalg.solve_triangular(chol, diff, upper=False)
        maha = (z**2).sum(1)  # (K, N)
        logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        lp = self.log_weights.to(x.dtype)[:, None] - 0.5 * (maha + logdet[:, None] + self.dim * math.log(2 * math.pi))
        total = torch.logsumexp(lp, dim=0)  # (N,)
        resp = torch.exp(lp - total[None])  # (K, N)
        pull = torch.linalg.solve_triangular(chol.transpose(1, 2), z, upper=True)  # S^-1 (x - mu): (K, D, N)
        return -total, (resp[:, None] * pull).sum(0).T

    def project(self, x: torch.Tensor, iterations: int = PROJECT_ITERATIONS) -> torch.Tensor:
        """``(N, D)`` features → the same, each row whose NLL is above ``threshold`` moved onto the threshold's
        level set by ``iterations`` linearised steps along the NLL's gradient (each the smallest move that
        reaches the level to first order; what is then still more than `PROJECT_TOLERANCE` above it goes the
        rest of the way towards its component's mean, `_shrink`); rows at or below it are returned unchanged."""
        if torch.jit.is_tracing():  # a traced rollout (`posecast.models.tracing`) must not bake in which rows move
            return self._project_every_row(x, iterations)
        out = x.clone()
        over = self.nll(x) > self.threshold  # the gradient only for the rows that move
        if not bool(over.any()):
            return out
        idx = torch.nonzero(over)[:, 0]
        y = self._steps(x[idx], iterations)
        left = torch.nonzero(self.nll(y) > self.threshold + PROJECT_TOLERANCE)[:, 0]
        if len(left):  # far out or in a very narrow mixture: the rest of the way towards the nearest mean
            y[left] = self._shrink(y[left])
        out[idx] = y
        return out

    def _steps(self, y: torch.Tensor, iterations: int) -> torch.Tensor:
        """``iterations`` linearised steps of ``(N, D)`` rows along the NLL's gradient, each the smallest move that
        reaches the threshold's level to first order (a row at or below it has no gap and does not move)."""
        for _ in range(iterations):
            nll, grad = self.nll_and_gradient(y)
            gap = (nll - self.threshold).clamp_min(0.0)
            y = y - (gap / (grad * grad).sum(1).clamp_min(1e-12))[:, None] * grad
        return y

    def _project_every_row(self, x: torch.Tensor, iterations: int) -> torch.Tensor:
        """`project` without branching on the data, for tracing: every row takes the steps (a row at or below the
        threshold has no gap and stays where it is) and the `_shrink`, kept where `project` keeps them (QA: a
        rollout traced on a history whose poses moved had baked in their count, and every later forecast of that
        shape failed; one traced where none moved would have skipped the projection for good)."""
        over = self.nll(x) > self.threshold
        y = self._steps(x, iterations)
        left = self.nll(y) > self.threshold + PROJECT_TOLERANCE
        y = torch.where(left[:, None], self._shrink(y), y)
        return torch.where(over[:, None], y, x)

    def _shrink(self, x: torch.Tensor, steps: int = 24) -> torch.Tensor:
        """``(N, D)`` points above the threshold → the point of the segment from each to the mean of its most
        responsible component where the NLL meets the threshold (bisection; the mean's own NLL is below it
        for any component that holds training poses)."""
        mean = self.means.to(x.dtype)[self.component_log_density(x).argmax(1)]
        lo = torch.zeros(len(x), dtype=x.dtype)
        hi = torch.ones(len(x), dtype=x.dtype)
        for _ in range(steps):
            mid = 0.5 * (lo + hi)
            ok = self.nll(mean + mid[:, None] * (x - mean)) <= self.threshold
            lo, hi = torch.where(ok, mid, lo), torch.where(ok, hi, mid)
        return mean + lo[:, None] * (x - mean)

    def project_poses(self, poses: torch.Tensor, iterations: int = PROJECT_ITERATIONS) -> torch.Tensor:
        """``(..., J, 3)`` poses (y up, metres) → the same with each pose less likely than ``threshold`` moved
        onto it (`project` on its `pose_features`; with ``parents`` at the prior's bone lengths, then the pose's
        own lengths back): the root joint, the heading and every pose as likely as the threshold or more stay
        exactly as they were. Used at inference (``params.project_prior`` of the
        ST-Transformer) on every predicted token before it is fed back."""
        root, left, right = self.joints
        shape = poses.shape
        own = poses.reshape(-1, shape[-2], 3).to(torch.float64)
        p = self.normalised(own)
        rel = p - p[:, root : root + 1]
        c, s = heading_turn(rel, left, right)  # (N, 1) each: the features' turn, kept to turn the change back
        keep = [j for j in range(shape[-2]) if j != root]
        feats = turn_about_y(rel[:, keep], c, s)
        moved = self.project(feats.flatten(1), iterations).reshape(feats.shape) - feats
        if not torch.jit.is_tracing() and not bool(moved.any()):  # (traced: every pose goes the whole way, see
            return poses  # `project`; a pose that did not move comes back at its own bone lengths, to float error)
        p = p.clone()
        p[:, keep] += turn_about_y(moved, c, -s)
        if self.parents is not None:  # the pose's own bone lengths back, the moved bone directions kept
            # (the move itself changes bone lengths, so the result is near the level set, not on it: measured
            # on the shipped ST-Transformer's rollouts, 1410 nats above it before, 94 at most after)
            from posecast.kinematics.fk import bone_lengths, set_bone_lengths

            p = set_bone_lengths(p, bone_lengths(own, self), self)
        return p.to(poses.dtype).reshape(shape)

    @classmethod
    def fit(
        cls,
        x: torch.Tensor,
        joints: tuple[int, int, int] = (0, 1, 2),
        components: int = 32,
        iterations: int = 40,
        ridge: float = 1e-5,
        quantile: float = 0.99,
        seed: int = 0,
        sample_weights: torch.Tensor | None = None,
        parents: Sequence[int] | None = None,
    ) -> PosePrior:
        """EM on ``(N, D)`` features (float64 inside; ``joints`` as in the constructor): k-means (20 rounds)
        from ``components`` random samples, then ``iterations`` EM steps; ``ridge`` is added to every
        covariance's diagonal; the threshold is the ``quantile`` of the fitted mixture's NLL over ``x``.
        ``sample_weights (N,)`` (default: all 1) weigh the poses in EM and in the quantile, as if each were
        repeated that many times (e.g. each data set of a corpus weighted the same). ``parents``: as in the
        constructor (``x`` then holds features of poses with the lengths the caller puts in ``bone_lengths``)."""
        x = torch.as_tensor(x, dtype=torch.float64)
        n, d = x.shape
        if n < components * (d + 1):
            raise ValueRangeError(f"{n} poses are too few for {components} components of dimension {d}")
        gen = torch.Generator().manual_seed(seed)
        means = x[torch.randperm(n, generator=gen)[:components]].clone()
        for _ in range(20):
            assign = torch.cdist(x, means).argmin(1)
            for k in range(components):
                members = x[assign == k]
                if len(members):
                    means[k] = members.mean(0)
        w = torch.ones(n, dtype=torch.float64) if sample_weights is None else torch.as_tensor(sample_weights).double()
        if w.shape != (n,) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueRangeError(f"sample weights must be {n} non-negative numbers with a positive sum")
        eye = ridge * torch.eye(d, dtype=torch.float64)
        resp = torch.nn.functional.one_hot(assign, components).double()
        for it in range(iterations + 1):
            rw = resp * w[:, None]
            nk = rw.sum(0) + 1e-10
            weights = nk / w.sum()
            means = (rw.T @ x) / nk[:, None]
            covs = torch.stack(
                [((rw[:, k : k + 1] * (x - means[k])).T @ (x - means[k])) / nk[k] + eye for k in range(components)]
            )
            prior = cls(means, covs, weights, joints, parents)
            if it < iterations:
                lp = prior.component_log_density(x)
                resp = torch.softmax(lp, dim=1)
        nll, order = torch.sort(prior.nll(x))
        cum = torch.cumsum(w[order], 0)
        at = int(torch.searchsorted(cum, quantile * cum[-1]).clamp_max(n - 1))
        prior.threshold.fill_(float(nll[at]))
        return prior
