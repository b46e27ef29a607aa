"""Training of the characteristic-pose network on (observed window -> next key pose) pairs.

A plain loop (not resumable): AdamW, a linear warm-up over ``warmup_steps`` then a constant learning
rate (the paper: lr 1e-3, weight decay 1e-3, 1,000 warm-up steps, batch 100), teacher forcing (the
conditioning joints' true positions are the tokens: `posecast.keyposes.model.charpose_loss`), and
an optional left/right mirror of half of every batch. Pairs come from `cmu_bvh_pairs` (key poses
mined from the CMU BVH training subjects, ``starts_per_key`` random windows per key pose, the
paper's 25 repetitions per epoch) split by motion into training and validation, or are given.

The run directory holds::

    run.json          training config, data summary, parameter count, machine, code version
    metrics.jsonl     one line per epoch: train loss parts, validation loss, validation MPJPE (m) of
                      the arg-max pose (T = 0, one hypothesis, no refinement), seconds
    model.safetensors + config.json      the last epoch (`posecast.keyposes.model.load_charpose`)
    best/             the same for the epoch with the lowest validation loss
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from posecast.errors import SkeletonError, ValueRangeError
from posecast.keyposes.dataset import KeyPosePairs
from posecast.keyposes.model import CharPoseConfig, CharPoseNet, charpose_loss, save_charpose
from posecast.keyposes.sampling import sample_hypotheses
from posecast.training.loop import git_commit, read_config, warmup_factor


class CharPoseTrainConfig(BaseModel):
    """A training run; ``configs/charpose/*.yaml`` map onto it one to one."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="charpose", description="name the weights are published under")
    data: Literal["cmu-bvh"] = "cmu-bvh"
    network: CharPoseConfig
    subjects: list[str] | None = Field(default=None, description="training subjects (default: the whole split)")
    starts_per_key: int = Field(default=25, ge=1, description="random observed windows per key pose")
    val_fraction: float = Field(default=0.1, ge=0, lt=1, description="fraction of motions held out")
    epochs: int = Field(default=50, ge=1)
    batch_size: int = Field(default=100, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-3, ge=0)
    warmup_steps: int = Field(default=1000, ge=0)
    query_joints: int | None = Field(
        default=None, ge=1, description="joints scored per step, drawn at random (default: all)"
    )
    augment_mirror: bool = True
    seed: int = 0
    threads: int | None = None
    max_steps_per_epoch: int | None = Field(default=None, ge=1)


def load_train_config(path: Path | None = None, **overrides: Any) -> CharPoseTrainConfig:
    """A config from a YAML file with top-level keyword overrides (``None`` values ignored)."""
    return read_config(CharPoseTrainConfig, path, "charpose training config", **overrides)


def split_by_motion(pairs: KeyPosePairs, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` of the pairs, whole motions held out (``ceil(fraction * motions)``, at
    least one motion stays for training)."""
    motions = np.unique(pairs.motion_index)
    n_val = min(int(math.ceil(val_fraction * len(motions))), len(motions) - 1) if val_fraction > 0 else 0
    held = np.random.default_rng(seed).permutation(motions)[:n_val]
    is_val = np.isin(pairs.motion_index, held)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _arrays(pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    obs, tgt = (pairs.observed, pairs.target) if isinstance(pairs, KeyPosePairs) else pairs
    return torch.as_tensor(np.asarray(obs), dtype=torch.float32), torch.as_tensor(np.asarray(tgt), dtype=torch.float32)


def evaluate(net: CharPoseNet, observed: torch.Tensor, target: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
    """Validation loss and MPJPE (m, root-relative) of the arg-max pose (T = 0, no refinement)."""
    from posecast.keyposes.model import canonicalise

    net.eval()
    loss_sum, err_sum, n = 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(observed), batch_size):
            o, t = observed[i : i + batch_size], target[i : i + batch_size]
            _, parts = charpose_loss(net, o, t)
            hyp = sample_hypotheses(net, o, samples=1, temperature=0.0, keep_levels=False)
            _, tgt_c, _ = canonicalise(o, net.skeleton, net.config.canonical, t)
            assert tgt_c is not None
            err = (hyp.canonical[:, 0] - tgt_c).norm(dim=-1).mean(-1)
            loss_sum += parts["total"] * len(o)
            err_sum += float(err.sum())
            n += len(o)
    return {"val_loss": loss_sum / max(n, 1), "val_mpjpe_m": err_sum / max(n, 1)}


_INFERENCE_ONLY = ("temperature", "samples", "refine", "refinement")


def _load_init(net: CharPoseNet, directory: Path) -> None:
    """Copy the parameters of the weights in ``directory`` into ``net`` (same architecture required)."""
    from posecast.errors import ModelError
    from posecast.keyposes.model import load_charpose

    start = load_charpose(directory)
    mine = net.config.model_dump(exclude=set(_INFERENCE_ONLY))
    theirs = start.config.model_dump(exclude=set(_INFERENCE_ONLY))
    diff = sorted(k for k in mine if mine[k] != theirs.get(k))
    if diff or start.skeleton.name != net.skeleton.name:
        raise ModelError(f"init weights do not fit the training config (differs in {diff or ['skeleton']})", directory)
    net.load_state_dict(start.state_dict())


def train_charpose(
    config: CharPoseTrainConfig,
    out: Path,
    train_pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray] | None = None,
    val_pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[int, dict[str, Any]], None] | None = None,
    init: Path | None = None,
) -> Path:
    """Train ``config`` into the run directory ``out`` (module docstring) and return it.

    Args:
        config: the run.
        out: run directory (created).
        train_pairs: pairs or ``(observed (N, O, J, 3), target (N, J, 3))`` arrays; default: built from
            ``config.data`` and split by motion with ``val_fraction``.
        val_pairs: validation pairs (default: the held-out motions; none when ``train_pairs`` is given).
        progress: called after every epoch with ``(epoch, metrics)``.
        init: a weights directory (``model.safetensors`` + ``config.json``, e.g. shipped weights or a
            run's ``best/``) whose parameters start the training (a continuation); its network config
            must equal ``config.network`` except the inference-only ``temperature``/``samples``/
            ``refine``/``refinement``; default: a fresh initialisation.

    Raises:
        SkeletonError: the pairs' skeleton is not the network's.
        ValueRangeError: pairs whose window length differs from the network's.
        ModelError: ``init`` is not a charpose weights directory or does not fit ``config.network``.
    """
    net_cfg = config.network
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    description: dict[str, Any]
    if train_pairs is None:
        from posecast.keyposes.dataset import cmu_bvh_pairs

        pairs = cmu_bvh_pairs(
            "train",
            subjects=config.subjects,
            fps=net_cfg.fps,
            observed=net_cfg.observed,
            starts_per_key=config.starts_per_key,
            seed=config.seed,
        )
        if pairs.skeleton.name != net_cfg.skeleton:
            raise SkeletonError(
                f"data skeleton {pairs.skeleton.name!r} differs from the network's {net_cfg.skeleton!r}"
            )
        tr, va = split_by_motion(pairs, config.val_fraction, config.seed)
        obs_all, tgt_all = _arrays(pairs)
        train_obs, train_tgt = obs_all[tr], tgt_all[tr]
        val = (obs_all[va], tgt_all[va]) if len(va) else None
        description = {
            "source": config.data,
            "motions": len(pairs.files),
            "val_files": sorted({pairs.files[int(i)] for i in pairs.motion_index[va]}),
        }
    else:
        for given in (train_pairs, val_pairs):
            if isinstance(given, KeyPosePairs) and given.skeleton.name != net_cfg.skeleton:
                raise SkeletonError(f"pairs on skeleton {given.skeleton.name!r}, the network on {net_cfg.skeleton!r}")
        train_obs, train_tgt = _arrays(train_pairs)
        val = _arrays(val_pairs) if val_pairs is not None else None
        description = {"source": "given pairs"}
    description.update({"train_pairs": len(train_obs), "val_pairs": 0 if val is None else len(val[0])})
    net = CharPoseNet(net_cfg)
    if init is not None:
        _load_init(net, Path(init))
        description["init"] = str(init)
    j = net.skeleton.num_joints
    if train_obs.ndim != 4 or train_obs.shape[1:] != (net_cfg.observed, j, 3) or train_tgt.shape[1:] != (j, 3):
        raise ValueRangeError(
            f"pairs of shapes {tuple(train_obs.shape)} -> {tuple(train_tgt.shape)} do not fit the network "
            f"((N, {net_cfg.observed}, {j}, 3) -> (N, {j}, 3))"
        )
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_factor(s, config.warmup_steps))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run_info = {
        "config": config.model_dump(),
        "data": description,
        "parameters": net.num_parameters(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "code_version": git_commit(),
    }
    (out / "run.json").write_text(json.dumps(run_info, indent=1))
    metrics_path = out / "metrics.jsonl"
    metrics_path.write_text("")
    gen = torch.Generator().manual_seed(config.seed)
    steps = math.ceil(len(train_obs) / config.batch_size)
    if config.max_steps_per_epoch:
        steps = min(steps, config.max_steps_per_epoch)
    best = math.inf
    for epoch in range(config.epochs):
        t0 = time.time()
        net.train()
        perm = torch.randperm(len(train_obs), generator=gen)
        sums: dict[str, float] = {}
        for s in range(steps):
            idx = perm[s * config.batch_size : (s + 1) * config.batch_size]
            obs, tgt = train_obs[idx], train_tgt[idx]
            if config.augment_mirror:
                from posecast.datasets.windows import mirror

                flip = torch.rand(len(idx), generator=gen) < 0.5
                obs = torch.where(flip[:, None, None, None], mirror(obs, net.skeleton), obs)
                tgt = torch.where(flip[:, None, None], mirror(tgt, net.skeleton), tgt)
            queries = None
            if config.query_joints is not None and config.query_joints < j:
                queries = torch.randperm(j, generator=gen)[: config.query_joints].sort().values
            loss, parts = charpose_loss(net, obs, tgt, queries)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
        record: dict[str, Any] = {"epoch": epoch + 1, **{f"train_{k}": v / steps for k, v in sums.items()}}
        record["lr"] = sched.get_last_lr()[0]
        if val is not None:
            record.update(evaluate(net, *val))
        record["seconds"] = time.time() - t0
        with metrics_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        meta = {"epoch": epoch + 1, "metrics": record}
        save_charpose(net, out, config.name, meta)
        score = record.get("val_loss", record.get("train_total", math.inf))
        if score < best:
            best = score
            save_charpose(net, out / "best", config.name, meta)
        if progress is not None:
            progress(epoch + 1, record)
    return out
