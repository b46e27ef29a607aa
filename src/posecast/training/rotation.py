"""The rotation plug-in of the training loop: ``st-transformer-rot``
(`posecast.models.st_transformer.STTransformerRot`), the models that read joint rotations.

* Data: the CMU-Mocap benchmark training exp-maps (`posecast.datasets.cmu_mocap.rotation_sequences`,
  ``data: cmu-mocap`` or a folder with the benchmark's layout), validation carved from the end of each
  sequence; windows of ``history + 1`` frames (`posecast.datasets.windows.window_starts`).
* Rounds are epochs: a seeded permutation of the windows (sharded over torchrun processes), optional
  left/right mirroring of the rotations (`mirror_rotations`).
* Loss (`rotation_training_loss`): teacher-forced next-frame prediction, mean per-joint position error
  after SVD projection onto SO(3) and body-frame FK, plus ``params.rotation_loss`` (default 0.1) x the
  Frobenius distance of the raw outputs (the paper's loss).
* Validation: MPJPE (mm) of ``target_frames`` (default 25) frames rolled out on every validation window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from posecast.errors import ValueRangeError
from posecast.training.loop import LoopConfig, Plugin, TrainingTask, fit, read_config


class RotationTrainConfig(LoopConfig):
    """A training run of the rotation variant; ``configs/st-transformer-rot/*.yaml`` map onto it."""

    RENAMED: ClassVar[dict[str, str]] = {
        "horizon": "`frames_per_pass` (frames per network pass)",
        "target_horizon": "`target_frames` (frames rolled out in validation)",
    }

    model: str = "st-transformer-rot"
    net: Literal["st-transformer-rot"] = "st-transformer-rot"
    data: str = Field(default="cmu-mocap", description="cmu-mocap, or a folder with the benchmark's layout")
    history: int = 10
    frames_per_pass: Literal[1] = Field(
        default=1, description="frames per network pass (one: the network predicts the next frame)"
    )
    target_frames: int | None = Field(default=None, description="frames rolled out in validation (default 25)")
    joints: list[int] | None = None
    canonical: Literal["none"] = "none"
    params: dict[str, Any] = Field(default_factory=dict, description="network sizes and rotation_loss")
    epochs: int = Field(default=50, ge=1)
    batch_size: int = 256
    val_fraction: float = 0.1
    stride: int = 1
    augment_mirror: bool = True
    max_steps_per_epoch: int | None = None
    compile: bool = False


def load_config(path: Path | None, settings: tuple[str, ...] = (), **overrides: Any) -> RotationTrainConfig:
    """A config from a YAML file (optional) with keyword overrides on top (``None`` values ignored)."""
    return read_config(RotationTrainConfig, path, "rotation training config", settings=settings, **overrides)


def mirror_rotations(rotations, skeleton, axis: int = 0):
    """Left/right mirror of ``(..., J, 3, 3)`` local rotations: ``M R M`` with ``M`` the reflection of
    ``axis``, left and right joints swapped (the rotation counterpart of `datasets.windows.mirror`)."""
    import torch

    sign = torch.ones(3, dtype=rotations.dtype, device=rotations.device)
    sign[axis] = -1
    perm = torch.as_tensor(skeleton.mirror_permutation, device=rotations.device)
    return (rotations * sign[:, None] * sign[None, :]).index_select(-3, perm)


def rotation_training_loss(model, batch, rotation_loss: float = 0.1, net: Callable[..., Any] | None = None):
    """Teacher-forced next-frame loss on ``(B, T + 1, J, 3, 3)`` rotation windows: mean per-joint position
    error (metres, after SVD projection and body-frame FK) plus ``rotation_loss`` x the mean Frobenius
    distance between the raw outputs and the true next rotations of the modelled joints. ``net``: the
    module to call (default ``model.net``; the loop passes its DDP / compiled wrapper)."""
    import torch

    from posecast.kinematics import project_to_so3

    net = model.net if net is None else net
    x, target = batch[:, :-1], batch[:, 1:]
    b, t = x.shape[:2]
    raw = net(x[:, :, model.joints].reshape(b, t, -1), all_steps=True).reshape(b, t, len(model.joints), 3, 3)
    pred = x.clone()  # joints that are not modelled keep the rotation of the frame they follow
    pred[:, :, model.joints] = project_to_so3(raw)
    with torch.no_grad():
        true_pos = model.body_positions(target)
    loss = (model.body_positions(pred) - true_pos).norm(dim=-1).mean()
    if rotation_loss > 0:
        loss = loss + rotation_loss * (raw - target[:, :, model.joints]).flatten(-2).norm(dim=-1).mean()
    return loss


def window_rows(lengths: list[int], span: int, stride: int) -> np.ndarray:
    """Rows of the concatenated sequences (of ``lengths`` frames) where every ``span``-frame window
    starts (`posecast.datasets.windows.window_starts` per sequence)."""
    from posecast.datasets.windows import window_starts

    out, offset = [], 0
    for n in lengths:
        if n >= span:
            out.append(offset + window_starts(n, span, stride))
        offset += n
    if not out:
        raise ValueRangeError(f"no sequence has the {span} frames a window needs")
    return np.concatenate(out)


class RotationTask(TrainingTask):
    """`TrainingTask` of `STTransformerRot` (module docstring)."""

    kind = "rotation"
    round_name = "epoch"
    score_key = "val_mpjpe_mm"
    distributed = True

    def __init__(self, config: RotationTrainConfig) -> None:
        self.config = config
        self.name = config.model

    def prepare(self, dist: Any) -> None:
        import torch

        from posecast.datasets import cmu_mocap
        from posecast.datasets.training_data import describe
        from posecast.datasets.windows import split_sequences
        from posecast.models.neural import NeuralConfig
        from posecast.models.st_transformer import STTransformerRot

        config = self.config
        data_dir = None if config.data == "cmu-mocap" else Path(config.data)
        self.dist = dist
        h, f = config.history, config.target_frames or 25
        self.frames = f
        seqs, paths = cmu_mocap.rotation_sequences("train", data_dir)
        train_seqs, val_seqs = split_sequences(seqs, config.val_fraction, h + f)
        self.train_data = torch.as_tensor(np.concatenate(train_seqs), dtype=torch.float32, device=dist.device)
        self.train_starts = window_rows([len(s) for s in train_seqs], h + 1, config.stride)
        self.val_data = (
            torch.as_tensor(np.concatenate(val_seqs), dtype=torch.float32, device=dist.device) if val_seqs else None
        )
        self.val_starts = window_rows([len(s) for s in val_seqs], h + f, 1) if val_seqs else None
        self.ncfg = NeuralConfig(
            net="st-transformer-rot",
            skeleton="cmu-mocap-38",
            fps=cmu_mocap.FPS,
            history=h,
            frames_per_pass=1,
            joints=config.joints,
            canonical="none",
            params=config.params,
        )
        self.model = STTransformerRot(self.ncfg, name=config.model)
        self.network = self.model.net
        self.rotation_weight = float(config.params.get("rotation_loss", 0.1))
        self.description = describe(
            "cmu-mocap", paths, cmu_mocap.benchmark_dir(data_dir), frame="body, local rotations"
        )
        steps = math.ceil(len(self.train_starts) / (config.batch_size * dist.world))
        steps = min(steps, config.max_steps_per_epoch or steps)
        self.round_steps, self.total_steps = steps, steps * config.epochs

    def describe(self) -> dict[str, Any]:
        return {
            "network": self.ncfg.model_dump(),
            "data": self.description,
            "windows": {"train": len(self.train_starts), "val": 0 if self.val_starts is None else len(self.val_starts)},
        }

    def batches(self, round_index: int) -> Iterator[Any]:
        import torch

        config, dist = self.config, self.dist
        h, skel = config.history, self.model.skeleton
        rng = np.random.RandomState(config.seed * 1000 + round_index)
        perm = rng.permutation(len(self.train_starts))[dist.rank :: dist.world]
        for step in range(self.round_steps):
            idx = self.train_starts[perm[step * config.batch_size : (step + 1) * config.batch_size]]
            if len(idx) == 0:
                return
            batch = self.train_data[torch.as_tensor(idx[:, None] + np.arange(h + 1), device=dist.device)]
            if config.augment_mirror:
                flip = torch.as_tensor(rng.rand(len(idx)) < 0.5, device=dist.device)
                batch = torch.where(flip[:, None, None, None, None], mirror_rotations(batch, skel), batch)
            yield batch

    def loss(self, batch: Any, progress: float) -> tuple[Any, dict[str, float]]:
        return rotation_training_loss(self.model, batch, self.rotation_weight, net=self.module), {}

    def validate(self) -> dict[str, float]:
        import torch

        if self.val_data is None or self.val_starts is None:
            return {}
        model, h, f = self.model, self.config.history, self.frames
        err = np.zeros(f)
        for i in range(0, len(self.val_starts), 1024):
            rows = torch.as_tensor(self.val_starts[i : i + 1024, None] + np.arange(h + f), device=self.val_data.device)
            w = self.val_data[rows]
            pred = model.body_positions(model.rollout(w[:, :h], f))
            err += (pred - model.body_positions(w[:, h:])).norm(dim=-1).mean(-1).sum(0).double().cpu().numpy()
        curve = err / len(self.val_starts) * 1000.0
        return {"val_mpjpe_mm": float(curve.mean()), "val_mpjpe_mm_last": float(curve[-1])}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        self.model.save(directory, {"epoch": record["epoch"], "run": "run.json"})


def train(
    config: RotationTrainConfig,
    out: Path,
    resume: bool = True,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> Path:
    """Train ``config`` into the run directory ``out`` through the loop and return ``out``."""
    fit(RotationTask(config), Path(out), resume=resume, progress=progress)
    return Path(out)


PLUGIN = Plugin("rotation", RotationTrainConfig, RotationTask, default_data="cmu-mocap", distributed=True)
