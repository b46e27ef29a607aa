"""Pose refinement by optimisation (Diller et al., CVPR 2022, Sec. 5, Eq. 2), in torch.

A sampled key pose is a set of joints drawn one by one from heatmaps, so limbs may come out a little
too long or short. Refinement moves every joint coordinate to minimise, per pose ``x`` (``(J, 3)``)::

    E(x) = w_e * sum_e |x_e - e|^2                      end effectors stay near their sampled positions
         + w_b * sum_bones | |x_c - x_p| - b_cp |        bone lengths of the last observed frame
         + w_a * sum_pairs penalty(cos angle)            joint angles (see below)
         + w_c * sum_j |x_j - x0_j|_1                    closeness to the last observed pose x0
         + w_h * sum_j -log p_j(x_j)                     heatmap likelihood

with the paper's weights ``w_e = 0.2, w_b = 1.0, w_a = 0.4, w_h = 0.1, w_c = 0.1`` (the released code
uses 1.0 for closeness and switches it off when the legs moved; we keep the paper's 0.1). Choices the
paper leaves open, made here:

* **Joint angles.** An angle is taken between consecutive bones ``a -> c`` and ``c -> g`` as its
  cosine (smooth everywhere, unlike the angle itself). Zero-length helper bones (CMU's ``LHipJoint``,
  ``LeftShoulder``...) carry no direction, so a bone runs from a joint's nearest ancestor that is at
  least ``min_bone`` metres away in the last observed frame. The paper matches the observed angles
  (``|cos - cos_obs|``); that pulls the forecast back to the observed pose, so the default
  ``angle_prior="observed_range"`` only penalises cosines outside the range seen over the observed
  frames widened by ``angle_margin`` (a hinge, zero inside); ``"last_frame"`` is the paper's term.
* **Heatmap likelihood.** ``log p_j(x) = h_j(x) / T - log sum_v exp(h_j(v) / T)`` where ``h_j`` is the
  joint's voxel heatmap in ``[0, 1]`` (`posecast.keyposes.model.heatmap_levels`), trilinearly
  interpolated between voxel centres (clamped at the cube's border). With ``T = 1`` (default)
  ``-log p_j(x) = 1 - h_j(x) + const``, exactly the paper's ``w_h * sum_j (1 - H_j)``.
* **Optimiser.** Adam on the coordinates for a fixed number of steps with a cosine-decayed step size
  (the L1 terms are not smooth, so a decaying step lands on the kinks), or L-BFGS (the paper's code
  uses scipy's Newton-CG with JAX Hessians). Poses are independent: all are optimised at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from posecast.errors import SkeletonError, ValueRangeError
from posecast.kinematics.fk import bone_triples
from posecast.skeletons.base import Skeleton


class RefineConfig(BaseModel):
    """Weights and optimiser of the refinement objective (module docstring)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(default=150, ge=0, description="optimiser steps (L-BFGS: iterations)")
    optimizer: Literal["adam", "lbfgs"] = "adam"
    lr: float = Field(default=0.01, gt=0, description="Adam step size in metres (L-BFGS: its lr)")
    end_effector_weight: float = Field(default=0.2, ge=0, description="w_e (paper)")
    bone_weight: float = Field(default=1.0, ge=0, description="w_b (paper)")
    angle_weight: float = Field(default=0.4, ge=0, description="w_a (paper)")
    heatmap_weight: float = Field(default=0.1, ge=0, description="w_h (paper)")
    closeness_weight: float = Field(default=0.1, ge=0, description="w_c (paper)")
    angle_prior: Literal["observed_range", "last_frame"] = "observed_range"
    angle_margin: float = Field(default=0.1, ge=0, description="slack (in cosine) around the observed range")
    heatmap_temperature: float = Field(default=1.0, gt=0, description="T of the heatmap likelihood")
    end_effectors: list[str] | None = Field(
        default=None, description="joints anchored to their sampled positions (default: the skeleton's end effectors)"
    )
    min_bone: float = Field(default=0.01, gt=0, description="bones shorter than this (m) carry no direction")


@dataclass(frozen=True)
class Refined:
    """Result of `refine_poses`.

    Attributes:
        poses: ``(..., J, 3)`` refined poses.
        terms_before: per-term objective (summed over poses, weights applied) of the input poses.
        terms_after: the same for the refined poses.
    """

    poses: torch.Tensor
    terms_before: dict[str, float]
    terms_after: dict[str, float]


def _safe_norm(v: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    return torch.sqrt((v * v).sum(-1) + eps * eps)


def _cosines(x: torch.Tensor, a: torch.Tensor, c: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``(..., P)`` cosines between bones ``a -> c`` and ``c -> g`` of ``(..., J, 3)`` poses."""
    u = x[..., c, :] - x[..., a, :]
    v = x[..., g, :] - x[..., c, :]
    return (u * v).sum(-1) / (_safe_norm(u) * _safe_norm(v))


def interpolate_levels(levels: torch.Tensor, points: torch.Tensor, cube_size: float) -> torch.Tensor:
    """Trilinear interpolation of voxel values between voxel centres.

    Args:
        levels: ``(..., G, G, G)`` values on a ``G^3`` grid over the cube ``[-cube_size/2, cube_size/2]^3``
            (axes x, y, z in that order).
        points: ``(..., 3)`` positions in metres, same leading shape as ``levels``.
        cube_size: edge of the cube in metres.

    Returns:
        ``(...)`` interpolated values (points outside the cube get the border value).
    """
    g = levels.shape[-1]
    if levels.shape[-3:] != (g, g, g) or points.shape[-1] != 3 or points.shape[:-1] != levels.shape[:-3]:
        raise ValueRangeError(
            f"levels (..., G, G, G) and points (..., 3) do not match: {tuple(levels.shape)}, {tuple(points.shape)}"
        )
    u = (points + cube_size / 2) / (cube_size / g) - 0.5  # continuous voxel index
    u = u.clamp(0, g - 1)
    i0 = u.floor().clamp(0, max(g - 2, 0))
    f = u - i0
    i0 = i0.long()
    flat = levels.reshape(*levels.shape[:-3], g**3)
    out = torch.zeros_like(points[..., 0])
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                ix = (i0[..., 0] + dx).clamp(max=g - 1)
                iy = (i0[..., 1] + dy).clamp(max=g - 1)
                iz = (i0[..., 2] + dz).clamp(max=g - 1)
                w = (
                    (f[..., 0] if dx else 1 - f[..., 0])
                    * (f[..., 1] if dy else 1 - f[..., 1])
                    * (f[..., 2] if dz else 1 - f[..., 2])
                )
                idx = (ix * g + iy) * g + iz
                out = out + w * flat.gather(-1, idx[..., None])[..., 0]
    return out


class _Objective:
    """The terms of Eq. 2 for ``(N, J, 3)`` poses (everything precomputed once)."""

    def __init__(
        self,
        start: torch.Tensor,
        observed: torch.Tensor,
        skeleton: Skeleton,
        levels: torch.Tensor | None,
        cube_size: float,
        config: RefineConfig,
    ) -> None:
        self.cfg = config
        last = observed[:, -1]
        bones = torch.as_tensor(skeleton.bones, device=start.device)
        self.par, self.chi = bones[:, 0], bones[:, 1]
        self.lengths = _safe_norm(last[:, self.chi] - last[:, self.par])  # (N, B)
        self.x0 = last
        ee = end_effector_indices(skeleton, config.end_effectors)
        self.ee = torch.as_tensor(ee, dtype=torch.long, device=start.device)
        self.e = start[:, self.ee].detach().clone()
        # angle pairs from the mean observed bone lengths (helper joints: zero length in every frame)
        mean_len = _safe_norm(observed[..., self.chi, :] - observed[..., self.par, :]).mean(dim=(0, 1))
        away = [False] + [bool(v) for v in (mean_len >= config.min_bone).tolist()]
        a, c, g = torch.as_tensor(bone_triples(skeleton.parents, away), device=start.device).T
        self.a, self.c, self.g = a, c, g
        cos_obs = _cosines(observed, a, c, g)  # (N, O, P)
        if config.angle_prior == "observed_range":
            self.lo = cos_obs.amin(1) - config.angle_margin
            self.hi = cos_obs.amax(1) + config.angle_margin
        else:
            self.target_cos = cos_obs[:, -1]
        self.levels = None
        if levels is not None and config.heatmap_weight > 0:
            t = config.heatmap_temperature
            self.levels = levels
            self.log_z = torch.logsumexp(levels.flatten(-3) / t, dim=-1)  # (N, J)
        self.cube = cube_size

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        out: dict[str, torch.Tensor] = {}
        out["end_effector"] = cfg.end_effector_weight * ((x[:, self.ee] - self.e) ** 2).sum()
        length = _safe_norm(x[:, self.chi] - x[:, self.par])
        out["bone"] = cfg.bone_weight * (length - self.lengths).abs().sum()
        if self.a.numel():
            cos = _cosines(x, self.a, self.c, self.g)
            if cfg.angle_prior == "observed_range":
                pen = torch.relu(self.lo - cos) + torch.relu(cos - self.hi)
            else:
                pen = (cos - self.target_cos).abs()
            out["angle"] = cfg.angle_weight * pen.sum()
        else:
            out["angle"] = x.new_zeros(())
        out["closeness"] = cfg.closeness_weight * (x - self.x0).abs().sum()
        if self.levels is not None:
            h = interpolate_levels(self.levels, x, self.cube)
            nll = self.log_z - h / cfg.heatmap_temperature
            out["heatmap"] = cfg.heatmap_weight * nll.sum()
        else:
            out["heatmap"] = x.new_zeros(())
        return out


def refine_poses(
    poses: torch.Tensor,
    observed: torch.Tensor,
    skeleton: Skeleton,
    levels: torch.Tensor | None = None,
    cube_size: float = 2.0,
    config: RefineConfig | None = None,
) -> Refined:
    """Refine sampled poses by minimising Eq. 2 (module docstring).

    All inputs share one coordinate frame (with ``levels``: the hip-centred, heading-normalised frame
    of the heatmap cube, as `posecast.keyposes.sampling.Hypotheses` keeps them).

    Args:
        poses: ``(..., J, 3)`` sampled poses (metres); the end-effector anchors are their joints.
        observed: ``(..., O, J, 3)`` the observed frames behind each pose (same leading shape); bone
            lengths and ``x0`` come from the last frame, the angle range from all of them.
        skeleton: joint layout (bones, end effectors).
        levels: optional ``(..., J, G, G, G)`` heatmaps in ``[0, 1]`` over the cube.
        cube_size: edge of the heatmap cube in metres.
        config: weights and optimiser (`RefineConfig` defaults: the paper's weights).

    Returns:
        `Refined` poses ``(..., J, 3)`` with the objective's terms before and after.

    Raises:
        SkeletonError: joint counts differ from the skeleton.
        ValueRangeError: shapes do not match.
    """
    cfg = config or RefineConfig()
    j = skeleton.num_joints
    if poses.shape[-2:] != (j, 3):
        raise SkeletonError(f"poses of shape {tuple(poses.shape)} do not fit skeleton {skeleton.name!r} ({j} joints)")
    lead = poses.shape[:-2]
    if observed.shape[:-3] != lead or observed.shape[-2:] != (j, 3):
        raise ValueRangeError(
            f"observed of shape {tuple(observed.shape)} must be (..., O, J, 3) with ... = {tuple(lead)}"
        )
    if levels is not None and levels.shape[:-3] != (*lead, j):
        raise ValueRangeError(f"levels of shape {tuple(levels.shape)} must be (..., J, G, G, G) with ... = {lead}")
    n = math.prod(lead)
    x_start = poses.detach().reshape(n, j, 3).float()
    obs = observed.detach().reshape(n, *observed.shape[-3:]).float()
    lv = None if levels is None else levels.detach().reshape(n, j, *levels.shape[-3:]).float()
    with torch.enable_grad():
        objective = _Objective(x_start, obs, skeleton, lv, cube_size, cfg)
        x = x_start.clone().requires_grad_(True)

        def total() -> torch.Tensor:
            return sum(objective.terms(x).values())  # type: ignore[return-value]

        with torch.no_grad():
            before = {k: float(v) for k, v in objective.terms(x).items()}
        if cfg.steps > 0 and cfg.optimizer == "adam":
            opt = torch.optim.Adam([x], lr=cfg.lr)
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / cfg.steps, 1.0)))
            )
            for _ in range(cfg.steps):
                opt.zero_grad()
                loss = total()
                loss.backward()
                opt.step()
                sched.step()
        elif cfg.steps > 0:
            opt = torch.optim.LBFGS([x], lr=cfg.lr, max_iter=cfg.steps, line_search_fn="strong_wolfe")

            def closure() -> torch.Tensor:
                opt.zero_grad()
                loss = total()
                loss.backward()
                return loss

            opt.step(closure)
        with torch.no_grad():
            after = {k: float(v) for k, v in objective.terms(x).items()}
    out = x.detach().to(poses.dtype).reshape(poses.shape)
    return Refined(poses=out, terms_before=before, terms_after=after)


def bone_length_error(poses: torch.Tensor, reference: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """``(...)`` mean absolute bone-length difference (m) between ``(..., J, 3)`` poses and reference poses."""
    bones = torch.as_tensor(skeleton.bones, device=poses.device)
    p, c = bones[:, 0], bones[:, 1]
    lp = _safe_norm(poses[..., c, :] - poses[..., p, :])
    lr = _safe_norm(reference[..., c, :] - reference[..., p, :])
    return (lp - lr).abs().mean(-1)


def end_effector_indices(skeleton: Skeleton, names: Sequence[str] | None) -> list[int]:
    """Indices of the named joints, or the skeleton's declared end effectors when ``names`` is None."""
    return skeleton.indices(names) if names is not None else list(skeleton.end_effectors)
