"""Autoregressive sampling of key-pose hypotheses from a `CharPoseNet` (Diller et al., Sec. 5).

For each of the ``K`` hypotheses, the joint groups of `posecast.keyposes.model.sampling_groups` are
sampled in order (right hand, left hand, then the rest): the network predicts the group's
heatmaps given the positions already sampled, a voxel is drawn per joint from
``softmax(h / T)`` over the ``G^3`` voxel heatmap values ``h`` in ``[0, 1]`` (temperature ``T``; the
paper uses 0.025; ``T = 0`` takes the arg-max voxel), and the joint is placed at the voxel centre
plus the predicted offset there. The ``K`` chains run group by group as one batch or, in `predict_keyposes` (what
forecasts call), a chunk of chains at a time (`CHUNK_VOLUMES`: memory flat in K; the same voxels drawn) and
refined a chunk at a time (`REFINE_CHUNK`: the same poses).

A hypothesis' probability is the product over joints of the probabilities of the voxels it drew
(under the temperature-scaled distributions it was drawn from), normalised over the ``K``
hypotheses of an input: ``softmax_k(sum_j log p_kj)``. With ``T = 0`` or the deterministic
regression head all hypotheses get ``1 / K``.

Refinement (`refine_hypotheses`, `posecast.keyposes.refine`) runs in the canonical frame, where
the heatmaps live; poses are then turned back to the input's heading (root-relative).

Differences from the released code: its 10 hypotheses are 5 right-hand x 2 left-hand positions
picked deterministically among the top voxels, then one random draw of the other joints; here all
``K`` chains are independent draws (a deterministic variant is ``T = 0``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from posecast.keyposes.model import CharPoseNet, canonicalise, check_window, flat_index, heatmap_levels, voxel_index
from posecast.keyposes.refine import RefineConfig, refine_poses

#: heatmap volumes (chains x joints of a group) `predict_keyposes` decodes at once, about 0.55 MB each at G = 16:
#: memory stays flat in K (K = 1000 chains had needed 8.7 GB decoded in one batch)
CHUNK_VOLUMES = 256
#: hypotheses `refine_hypotheses` refines at once (Adam: each pose by its own terms, so the result is the same)
REFINE_CHUNK = 64


@dataclass(frozen=True)
class Hypotheses:
    """``K`` sampled key poses per observed window.

    Attributes:
        poses: ``(B, K, J, 3)`` root-relative poses in the input's orientation (metres).
        probabilities: ``(B, K)`` normalised over ``K``.
        log_likelihood: ``(B, K)`` sum over joints of the log-probability of each drawn voxel.
        voxels: ``(B, K, J)`` flat indices of the drawn voxels.
        canonical: ``(B, K, J, 3)`` the poses in the canonical (heatmap) frame.
        rotation: ``(B, 3, 3)``: ``canonical = poses @ rotation.T``.
        observed_canonical: ``(B, O, J, 3)`` the observed frames in the canonical frame.
        levels: ``(B, K, J, G, G, G)`` each joint's heatmap values, or None (regression head, or not kept).
        groups: the joint groups in sampling order.
        refined: whether `refine_hypotheses` was applied.
    """

    poses: torch.Tensor
    probabilities: torch.Tensor
    log_likelihood: torch.Tensor
    voxels: torch.Tensor
    canonical: torch.Tensor
    rotation: torch.Tensor
    observed_canonical: torch.Tensor
    levels: torch.Tensor | None
    groups: tuple[tuple[int, ...], ...]
    refined: bool = False


def sample_voxels(
    levels: torch.Tensor, temperature: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one voxel per heatmap.

    Args:
        levels: ``(N, V)`` heatmap values (flattened grids).
        temperature: ``T > 0`` draws from ``softmax(levels / T)``; ``T = 0`` takes the arg-max.
        generator: torch random generator (reproducible draws).

    Returns:
        ``(index (N,), log_probability (N,))`` of the drawn voxels (log-probability 0 for ``T = 0``).
    """
    if temperature <= 0:
        idx = levels.argmax(dim=-1)
        return idx, torch.zeros_like(levels[:, 0])
    logp = torch.log_softmax(levels / temperature, dim=-1)
    idx = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
    return idx, logp.gather(-1, idx[:, None])[:, 0]


def _to_input(canonical: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """``(B, K, J, 3)`` canonical → input orientation (``rot`` is orthonormal)."""
    return canonical @ rot[:, None]


def sample_hypotheses(
    net: CharPoseNet,
    observed: torch.Tensor,
    samples: int | None = None,
    temperature: float | None = None,
    generator: torch.Generator | None = None,
    keep_levels: bool = True,
    chunk: int | None = None,
) -> Hypotheses:
    """Sample ``K`` key poses for each observed window (module docstring), without refinement.

    Args:
        net: a trained network (put in eval mode here).
        observed: ``(B, O, J, 3)`` observed frames (metres; any root position and heading).
        samples: ``K`` (default: the config's ``samples``).
        temperature: sampling temperature (default: the config's).
        generator: random generator for reproducible draws.
        keep_levels: keep every joint's heatmap (needed by refinement; ``B*K*J*G^3`` floats).
        chunk: decode at most this many heatmap volumes (chains x joints of a group) at once, at least one chain
            (None: all ``B*K`` chains at once; `predict_keyposes` gives `CHUNK_VOLUMES`); the draws do not depend on
            it (the same voxels for a given generator; positions to float rounding), the memory does.

    Returns:
        `Hypotheses`.
    """
    cfg = net.config
    check_window(observed, net)
    k = samples or cfg.samples
    t = cfg.temperature if temperature is None else float(temperature)
    net.eval()
    with torch.no_grad():
        obs_c, _, rot = canonicalise(observed, net.skeleton, cfg.canonical)
        b, _, j, _ = obs_c.shape
        groups = tuple(tuple(g) for g in net.groups)
        if net.regressor is not None:
            pose = net.regress(net.encode(obs_c), obs_c)  # (B, J, 3)
            canon = pose[:, None].expand(b, k, j, 3).clone()
            vox = flat_index(voxel_index(canon, cfg.grid_size, cfg.cube_size), cfg.grid_size)
            zeros = canon.new_zeros(b, k)
            return Hypotheses(
                poses=_to_input(canon, rot),
                probabilities=torch.full_like(zeros, 1.0 / k),
                log_likelihood=zeros,
                voxels=vox,
                canonical=canon,
                rotation=rot,
                observed_canonical=obs_c,
                levels=None,
                groups=groups,
            )
        memory = net.encode(obs_c).repeat_interleave(k, dim=0)  # (B*K, J, D)
        n = b * k
        g = cfg.grid_size
        pos = obs_c.new_zeros(n, j, 3)
        vox = torch.zeros(n, j, dtype=torch.long, device=obs_c.device)
        loglik = obs_c.new_zeros(n)
        levels_all = obs_c.new_zeros(n, j, g, g, g) if keep_levels else None
        sampled: list[int] = []
        for members in net.groups:
            queries = torch.as_tensor(members, dtype=torch.long, device=obs_c.device)
            tokens = torch.as_tensor(sampled, dtype=torch.long, device=obs_c.device)
            q = len(members)
            step = n if chunk is None else max(1, int(chunk) // q)
            # the chains of this group a chunk at a time, in order: the decoder's volumes are (chains, q, G^3,
            # channels) and 1,000 chains at once took 8.7 GB; the draws consume the generator row by row as one
            # call over all chains does (`torch.multinomial` fills its exponentials in row order), so the chunks
            # draw the very voxels the whole batch would
            for a in range(0, n, step):
                e = min(n, a + step)
                feats = net.attend(
                    memory[a:e], queries, pos[a:e][:, tokens] if sampled else None, tokens if sampled else None
                )
                logits, offsets = net.decode(feats)  # (C, q, G, G, G, bins), (C, q, G, G, G, 3)
                lv = heatmap_levels(logits)  # (C, q, G, G, G)
                del logits
                idx, lp = sample_voxels(lv.reshape((e - a) * q, -1), t, generator)
                idx = idx.reshape(e - a, q)
                place = net.centres[idx]  # (C, q, 3)
                if offsets is not None:
                    off = offsets.flatten(-4, -2)  # (C, q, V, 3)
                    place = place + off.gather(2, idx[:, :, None, None].expand(-1, -1, 1, 3))[:, :, 0]
                pos[a:e, queries] = place
                vox[a:e, queries] = idx
                loglik[a:e] += lp.reshape(e - a, q).sum(-1)
                if levels_all is not None:
                    levels_all[a:e, queries] = lv
            sampled.extend(members)
        canon = pos.reshape(b, k, j, 3)
        ll = loglik.reshape(b, k)
        return Hypotheses(
            poses=_to_input(canon, rot),
            probabilities=torch.softmax(ll, dim=-1),
            log_likelihood=ll,
            voxels=vox.reshape(b, k, j),
            canonical=canon,
            rotation=rot,
            observed_canonical=obs_c,
            levels=None if levels_all is None else levels_all.reshape(b, k, j, g, g, g),
            groups=groups,
        )


def refine_hypotheses(net: CharPoseNet, hypotheses: Hypotheses, config: RefineConfig | None = None) -> Hypotheses:
    """`posecast.keyposes.refine.refine_poses` on every hypothesis, in the canonical frame, with each
    joint's heatmap as the likelihood term (config: the network's ``refinement`` by default)."""
    cfg = config or net.config.refinement
    h = hypotheses
    b, k = h.canonical.shape[:2]
    obs = h.observed_canonical[:, None].expand(b, k, *h.observed_canonical.shape[1:])
    if cfg.optimizer != "adam":  # L-BFGS couples the poses through its line search: all at once
        poses = refine_poses(h.canonical, obs, net.skeleton, h.levels, net.config.cube_size, cfg).poses
        return replace(h, canonical=poses, poses=_to_input(poses, h.rotation), refined=True)
    # Adam moves each pose by its own terms (the objective is a sum over poses): refined a chunk at a time, the
    # same poses, without the whole batch's temporaries (1,000 hypotheses had added 600 MB)
    j = h.canonical.shape[-2]
    flat = h.canonical.reshape(b * k, j, 3)
    flat_obs = obs.reshape(b * k, *obs.shape[2:])
    flat_lv = None if h.levels is None else h.levels.reshape(b * k, *h.levels.shape[2:])
    parts = [
        refine_poses(
            flat[a : a + REFINE_CHUNK],
            flat_obs[a : a + REFINE_CHUNK],
            net.skeleton,
            None if flat_lv is None else flat_lv[a : a + REFINE_CHUNK],
            net.config.cube_size,
            cfg,
        ).poses
        for a in range(0, b * k, REFINE_CHUNK)
    ]
    poses = torch.cat(parts).reshape(h.canonical.shape)
    return replace(h, canonical=poses, poses=_to_input(poses, h.rotation), refined=True)


def predict_keyposes(
    net: CharPoseNet,
    observed: torch.Tensor,
    samples: int | None = None,
    temperature: float | None = None,
    refine: bool | None = None,
    generator: torch.Generator | None = None,
    chunk: int | None = CHUNK_VOLUMES,
) -> Hypotheses:
    """Sample ``K`` hypotheses and refine them (``refine`` defaults to the config's flag).

    Args:
        net: trained network.
        observed: ``(B, O, J, 3)`` observed frames.
        samples, temperature, generator, chunk: as in `sample_hypotheses` (here `CHUNK_VOLUMES` heatmap volumes
            at once by default: memory flat in K).
        refine: run the pose refinement (the paper's full method); False is its "not refined" ablation.

    Returns:
        `Hypotheses` with ``poses (B, K, J, 3)`` and ``probabilities (B, K)``.
    """
    do_refine = net.config.refine if refine is None else refine
    hyps = sample_hypotheses(net, observed, samples, temperature, generator, keep_levels=do_refine, chunk=chunk)
    if do_refine and net.regressor is None:
        hyps = refine_hypotheses(net, hyps)
    return hyps
