"""The training loop: plain PyTorch, deterministic with a seed, resumable, data-parallel under torchrun.

Every run directory holds the artifacts that make its numbers traceable::

    run.json          full config, data files with sha256, code version, machine, timings
    metrics.jsonl     one line per epoch: train loss, validation MPJPE per horizon, lr, seconds
    last/             model.safetensors + config.json of the latest epoch
    best/             the same for the best validation epoch
    train_state.pt    optimizer, scheduler, epoch and RNG states (for --resume; tensors only)

Under ``torchrun --nproc_per_node N -m posecast train ...`` each process trains on its shard of
every epoch (gloo on CPU, nccl on GPU); rank 0 writes the files.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from posecast.datasets import windows as W
from posecast.errors import ValueRangeError
from posecast.models.neural import NeuralConfig, NeuralForecaster

_C = TypeVar("_C", bound=BaseModel)


class TrainConfig(BaseModel):
    """A training run. YAML files map onto it one to one (``--config FILE.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="registry name the weights are published under")
    net: str = Field(description="network family, e.g. 'dct-mlp'")
    data: str = "cmu-mocap"
    fps: float | None = None
    history: int = 10
    horizon: int = 25
    target_horizon: int | None = Field(default=None, description="frames scored per window (default: horizon)")
    joints: list[int] | None = None
    joint_weights: list[float] | None = Field(default=None, description="loss weight per modelled joint")
    canonical: str = "heading"
    params: dict[str, Any] = Field(default_factory=dict)
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    velocity_loss: float = 0.0
    seed: int = 0
    val_fraction: float = 0.1
    stride: int = 1
    augment_mirror: bool = True
    augment_reverse: bool = False
    augment_yaw: bool = False
    threads: int | None = None
    max_steps_per_epoch: int | None = None
    init: str | None = Field(
        default=None,
        description="start from these weights (fine-tuning): a run directory (its best/ weights), a weights "
        "directory with model.safetensors, or a shipped model 'NAME' / 'NAME/VARIANT'; the network "
        "config must match",
    )
    teacher: str | None = Field(
        default=None,
        description="distil: also fit the forecasts of these weights (a run directory, a weights directory or "
        "a shipped 'NAME' / 'NAME/VARIANT', e.g. an ensemble, with its own mirror averaging); same skeleton, "
        "frame rate, history and horizon",
    )
    teacher_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="loss = (1 - w) * loss(truth) + w * loss(teacher's forecast)"
    )
    compile: bool = Field(
        default=False,
        description="train through torch.compile (needs a C compiler; about 1.4x faster steps for dct-mlp on "
        "CPU after a compile of under a minute); evaluation and saved weights use the plain network",
    )


def read_config(schema: type[_C], path: Path | None, what: str = "training config", /, **overrides: Any) -> _C:
    """A pydantic ``schema`` from a YAML file (optional) with keyword overrides on top (``None`` values
    ignored); any problem is one `ValueRangeError` line (``"invalid <what>: ..."``) naming the file."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueRangeError(f"cannot read config: {exc}", path) from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return schema(**data)
    except Exception as exc:  # pydantic.ValidationError: report it as one line
        raise ValueRangeError(f"invalid {what}: {exc}".replace("\n", "; "), path) from None


def load_config(path: Path | None, **overrides: Any) -> TrainConfig:
    """A config from a YAML file (optional) with keyword overrides on top (``None`` values ignored)."""
    return read_config(TrainConfig, path, **overrides)


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear learning-rate warm-up: ``(step + 1) / warmup_steps`` during the first ``warmup_steps``
    steps (0-based ``step``), 1 afterwards (and always 1 when ``warmup_steps`` is 0)."""
    return (step + 1) / warmup_steps if step < warmup_steps else 1.0


def git_commit() -> str | None:
    """The repository commit the code runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class _Dist:
    """Process-group bookkeeping for torchrun (a single process when WORLD_SIZE is unset)."""

    def __init__(self) -> None:
        import torch
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        self.device = torch.device("cpu")
        if self.enabled and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            single_node = os.environ.get("LOCAL_WORLD_SIZE", str(self.world)) == str(self.world)
            if backend == "gloo" and single_node and "GLOO_SOCKET_IFNAME" not in os.environ:
                # all replicas on this machine: talk over loopback rather than whatever the host name
                # resolves to (sandboxes and containers often resolve it to an unreachable address)
                if os.path.exists("/sys/class/net/lo"):
                    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
            if backend == "nccl":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                torch.cuda.set_device(self.device)
            dist.init_process_group(backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def mean(self, value: float) -> float:
        if not self.enabled:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            # every replica reaches this point before any tears its sockets down: a rank that exits
            # while a peer still reads from it makes gloo abort the peer
            dist.barrier()
            dist.destroy_process_group()


def net_training_loss(net: str) -> Callable[..., Any] | None:
    """The ``training_loss(model, batch, config)`` defined by the module of network family ``net``
    (see ``NET_MODULES``), or None when it has none."""
    import importlib

    from posecast.models.neural import NET_MODULES

    module = NET_MODULES.get(net)
    return getattr(importlib.import_module(module), "training_loss", None) if module else None


def default_loss(model: NeuralForecaster, batch, config: TrainConfig, teacher: NeuralForecaster | None = None):
    """MPJPE (metres) over the predicted frames (rolled out with gradients when the target is longer
    than one network pass), plus an optional velocity term. A network whose module defines its own
    ``training_loss`` (e.g. teacher-forced next-frame prediction) is trained with that instead.

    With a ``teacher`` (distillation, ``TrainConfig.teacher``) the same loss is also taken against the
    teacher's forecast of the window, and the two are mixed by ``config.teacher_weight``."""
    import torch

    custom = net_training_loss(config.net)
    if custom is not None:
        return custom(model, batch, config)
    h = config.history
    f = config.target_horizon or config.horizon
    pred = model.rollout(batch[:, :h], f) if f > config.horizon else model.step(batch[:, :h])[:, :f]
    joints = model.joints
    w = joint_weights(config, len(joints), pred)

    def loss_to(target):  # target (B, f, J, 3)
        err = ((pred[:, :, joints] - target[:, :, joints]).norm(dim=-1) * w).mean()
        if config.velocity_loss > 0:
            full_p = torch.cat([batch[:, h - 1 : h], pred], 1)
            full_t = torch.cat([batch[:, h - 1 : h], target], 1)
            vp, vt = full_p[:, 1:] - full_p[:, :-1], full_t[:, 1:] - full_t[:, :-1]
            err = err + config.velocity_loss * ((vp[:, :, joints] - vt[:, :, joints]).norm(dim=-1) * w).mean()
        return err

    truth = loss_to(batch[:, h : h + f])
    if teacher is None or config.teacher_weight == 0:
        return truth
    with torch.no_grad():
        guide = teacher.rollout(batch[:, :h], f)
    return (1 - config.teacher_weight) * truth + config.teacher_weight * loss_to(guide)


def joint_weights(config: TrainConfig, count: int, like):
    """``(count,)`` loss weights of the modelled joints, normalised to mean 1 (uniform by default)."""
    import torch

    if config.joint_weights is None:
        return torch.ones(count, dtype=like.dtype, device=like.device)
    if len(config.joint_weights) != count:
        raise ValueRangeError(f"joint_weights has {len(config.joint_weights)} entries for {count} modelled joints")
    w = torch.as_tensor(config.joint_weights, dtype=like.dtype, device=like.device)
    return w * (count / w.sum())


def evaluate_windows(
    model: NeuralForecaster, ws: W.WindowSet, history: int, frames: int, batch_size: int = 1024
) -> np.ndarray:
    """``(frames,)`` mean per-joint error (metres) of autoregressive forecasts on every window of ``ws``."""
    import torch

    total, count = np.zeros(frames), 0
    with torch.no_grad():
        for i in range(0, len(ws), batch_size):
            b = torch.as_tensor(ws.batch(np.arange(i, min(i + batch_size, len(ws)))))
            pred = model.rollout(b[:, :history], frames)
            err = (pred - b[:, history : history + frames])[:, :, model.joints].norm(dim=-1).mean(-1)
            total += err.sum(0).double().numpy()
            count += b.shape[0]
    return total / max(count, 1)


def weights_path(init: str, what: str = "init") -> Path:
    """The weights folder named by ``TrainConfig.init`` / ``teacher``: a run directory (its best/), a
    weights folder, or shipped weights ``NAME`` / ``NAME/VARIANT`` (`posecast.models.store.resolve`)."""
    from posecast.errors import ModelError
    from posecast.models import store

    try:
        return store.resolve(init)
    except ModelError:
        raise ValueRangeError(f"{what}: {init!r} is neither a run or weights directory nor shipped weights") from None


def load_teacher(teacher: str, ncfg: NeuralConfig) -> NeuralForecaster:
    """The forecaster named by ``TrainConfig.teacher`` (eval mode, frozen), checked against ``ncfg``."""
    path = weights_path(teacher, "teacher")
    model = NeuralForecaster.load(path)
    keys = ("skeleton", "fps", "history", "horizon")
    diff = [f"{k} {getattr(model.config, k)!r} vs {getattr(ncfg, k)!r}" for k in keys
            if getattr(model.config, k) != getattr(ncfg, k)]  # fmt: skip
    if diff:
        raise ValueRangeError(f"teacher does not fit the network ({', '.join(diff)})", path)
    model.net.eval().requires_grad_(False)
    return model


def initial_weights(init: str, ncfg: NeuralConfig) -> dict[str, Any]:
    """The state dict named by ``TrainConfig.init``, checked against the network config ``ncfg``."""
    path = weights_path(init)
    source = NeuralForecaster.load(path)
    keys = ("net", "skeleton", "history", "horizon", "joints", "params")
    diff = [f"{k} {getattr(source.config, k)!r} vs {getattr(ncfg, k)!r}" for k in keys
            if getattr(source.config, k) != getattr(ncfg, k)]  # fmt: skip
    if diff:
        raise ValueRangeError(f"init weights do not fit the network ({', '.join(diff)})", path)
    return source.net.state_dict()


def train(
    config: TrainConfig,
    out: Path,
    resume: bool = True,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    loss_fn: Callable[..., Any] | None = None,
) -> Path:
    """Train ``config`` into the run directory ``out`` and return it (see the module docstring)."""
    import torch

    from posecast.datasets.training_data import load_training_data

    if config.teacher and net_training_loss(config.net) is not None:  # refuse before loading any data
        raise ValueRangeError(f"teacher: {config.net} trains with a loss of its own, which takes no teacher")
    dist = _Dist()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    data = load_training_data(
        config.data,
        config.fps,
        config.val_fraction,
        min_frames=config.history + max(config.horizon, config.target_horizon or 0),
    )
    f_target = config.target_horizon or config.horizon
    span = config.history + max(config.horizon, f_target)
    train_ws = W.WindowSet.from_sequences(data.train, span, data.skeleton, data.fps, config.stride)
    val_ws = (
        W.WindowSet.from_sequences(data.val, config.history + f_target, data.skeleton, data.fps, 1)
        if data.val
        else None
    )
    ncfg = NeuralConfig(
        net=config.net,
        skeleton=data.skeleton.name,
        fps=data.fps,
        history=config.history,
        horizon=config.horizon,
        joints=config.joints,
        canonical=config.canonical,  # type: ignore[arg-type]
        params=config.params,
    )
    if not data.skeleton.same_layout(NeuralForecaster(ncfg).skeleton):
        raise ValueRangeError("training data skeleton differs from its registered layout")
    model = NeuralForecaster(ncfg, name=config.model)
    if config.init:
        model.net.load_state_dict(initial_weights(config.init, ncfg))
    teacher = load_teacher(config.teacher, ncfg) if config.teacher else None
    if teacher is not None:
        teacher.net.to(dist.device)
    model.net.to(dist.device).train()
    net = model.net
    if dist.enabled:
        net = torch.nn.parallel.DistributedDataParallel(model.net)
        model.net = net  # the wrapper calls the DDP module, which syncs gradients
    if config.compile:
        # the loss calls the compiled module; parameters are shared with `net`, which is what gets
        # evaluated and saved (a compiled module's state dict has prefixed keys)
        model.net = torch.compile(net)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_ws) / (config.batch_size * dist.world))
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    total_steps = steps_per_epoch * config.epochs

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return warmup_factor(step, config.warmup_steps)
        t = (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0))) * 0.99 + 0.01

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "train_state.pt"
    start_epoch, best, elapsed = 0, math.inf, 0.0
    if resume and state_path.is_file() and (out / "last" / "model.safetensors").is_file():
        from safetensors.torch import load_file

        state = torch.load(state_path, weights_only=True)
        model_state = load_file(str(out / "last" / "model.safetensors"))
        (net.module if dist.enabled else net).load_state_dict(model_state)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, best, elapsed = int(state["epoch"]), float(state["best"]), float(state["elapsed"])
        torch.set_rng_state(state["torch_rng"])
    run_info = {
        "config": config.model_dump(),
        "network": ncfg.model_dump(),
        "data": data.description,
        "windows": {"train": len(train_ws), "val": len(val_ws) if val_ws else 0},
        "parameters": int(sum(p.numel() for p in model.net.parameters())),
        "code_version": git_commit(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "processes": dist.world,
        },
    }
    if dist.main:
        (out / "run.json").write_text(json.dumps(run_info, indent=1))
    if loss_fn is None:

        def with_teacher(model: NeuralForecaster, batch: Any, config: TrainConfig) -> Any:
            return default_loss(model, batch, config, teacher)

        loss_fn = with_teacher

    skel = data.skeleton
    for epoch in range(start_epoch, config.epochs):
        t0 = time.time()
        rng = np.random.RandomState(config.seed * 1000 + epoch)
        perm = rng.permutation(len(train_ws))[dist.rank :: dist.world]
        net.train()
        losses = []
        for step in range(steps_per_epoch):
            idx = perm[step * config.batch_size : (step + 1) * config.batch_size]
            if len(idx) == 0:
                break
            batch = torch.as_tensor(train_ws.batch(idx), device=dist.device)
            if config.augment_mirror:
                flip = torch.as_tensor(rng.rand(len(idx)) < 0.5, device=dist.device)
                batch = torch.where(flip[:, None, None, None], W.mirror(batch, skel), batch)
            if config.augment_reverse:
                rev = torch.as_tensor(rng.rand(len(idx)) < 0.5, device=dist.device)
                batch = torch.where(rev[:, None, None, None], W.reverse(batch), batch)
            if config.augment_yaw:
                ang = torch.as_tensor(rng.uniform(-math.pi, math.pi, len(idx)), dtype=batch.dtype, device=dist.device)
                batch = W.yaw(batch, ang)
            loss = loss_fn(model, batch, config)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        net.eval()
        elapsed += time.time() - t0
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": dist.mean(float(np.mean(losses))),
            "lr": opt.param_groups[0]["lr"],
            "seconds": round(elapsed, 1),
        }
        if dist.main:
            if val_ws is not None:
                inner = NeuralForecaster(ncfg, net=net.module if dist.enabled else net, name=config.model)
                curve = evaluate_windows(inner, val_ws, config.history, f_target) * 1000.0
                record["val_mpjpe_mm"] = float(curve.mean())
                record["val_mpjpe_mm_last"] = float(curve[-1])
            score = record.get("val_mpjpe_mm", record["train_loss"])
            plain = NeuralForecaster(ncfg, net=net.module if dist.enabled else net, name=config.model)
            plain.save(out / "last", {"epoch": epoch + 1, "run": "run.json"})
            if score < best:
                best = score
                plain.save(out / "best", {"epoch": epoch + 1, "run": "run.json"})
            torch.save(
                {
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "epoch": epoch + 1,
                    "best": best,
                    "elapsed": elapsed,
                    "torch_rng": torch.get_rng_state(),
                },
                state_path,
            )
            with open(out / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
        if progress:
            progress(epoch + 1, config.epochs, record)
        dist.barrier()
    if dist.enabled:  # record that every replica ended with the same parameters
        import torch.distributed as tdist

        flat = torch.cat([p.detach().reshape(-1).double() for p in net.parameters()])
        mine = torch.tensor([float(flat.sum()), float((flat * flat).sum())], dtype=torch.float64, device=dist.device)
        gathered = [torch.zeros_like(mine) for _ in range(dist.world)]
        tdist.all_gather(gathered, mine)
        run_info["replica_checksums"] = [g.tolist() for g in gathered]
    if dist.main:
        run_info["training_seconds"] = round(elapsed, 1)
        run_info["best_val"] = best
        (out / "run.json").write_text(json.dumps(run_info, indent=1))
    dist.close()
    return out
