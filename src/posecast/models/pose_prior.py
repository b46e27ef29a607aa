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

import torch

from posecast.errors import ValueRangeError
from posecast.kinematics.alignment import heading_canonical


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
    """

    def __init__(
        self,
        means: torch.Tensor,
        covariances: torch.Tensor,
        weights: torch.Tensor,
        joints: tuple[int, int, int] = (0, 1, 2),
    ) -> None:
        super().__init__()
        self.joints = tuple(int(j) for j in joints)
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
        return self.excess(pose_features(poses, *self.joints))

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
    ) -> PosePrior:
        """EM on ``(N, D)`` features (float64 inside; ``joints`` as in the constructor): k-means (20 rounds)
        from ``components`` random samples, then ``iterations`` EM steps; ``ridge`` is added to every
        covariance's diagonal; the threshold is the ``quantile`` of the fitted mixture's NLL over ``x``.
        ``sample_weights (N,)`` (default: all 1) weigh the poses in EM and in the quantile, as if each were
        repeated that many times (e.g. each data set of a corpus weighted the same)."""
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
            prior = cls(means, covs, weights, joints)
            if it < iterations:
                lp = prior.component_log_density(x)
                resp = torch.softmax(lp, dim=1)
        nll, order = torch.sort(prior.nll(x))
        cum = torch.cumsum(w[order], 0)
        at = int(torch.searchsorted(cum, quantile * cum[-1]).clamp_max(n - 1))
        prior.threshold.fill_(float(nll[at]))
        return prior
