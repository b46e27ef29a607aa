"""Training data and the training loop of the video models (shared by phd, posemonet, hmmr).

Data: the CMU BVH motions (``$POSECAST_DATA/cmu_bvh``) at the model's rate, mapped to ``body-17``
with `posecast.skeletons.mapping.to_layout`; the training subjects (01, 05, 06, 07) of the split in
``$POSECAST_DATA/README.md``, with validation carved from the end of each training sequence (the last
`VAL_FRACTION`, as for the motion models); the test subjects (02, 08) are never read here. Every
training batch films freshly sampled windows with fresh random cameras and detector noise
(`posecast.video.cameras.film`); the validation set is a fixed, seeded set of filmed windows.

Use from a model module::

    from posecast.video.train import VideoData, VideoTrainConfig, train_video_model
    data = VideoData.load(fps=25.0)
    batch = data.sample(batch_size=64, length=50, rng=np.random.default_rng(0))   # a VirtualBatch
    result = train_video_model(net, loss_fn, config, out_dir, evaluate=..., data=data)

``loss_fn(net, batch, progress) -> (loss tensor, {name: float})`` where ``progress`` in ``[0, 1]`` is
the fraction of training done (for curricula). Run directories get ``run.json`` (config, data files
with sha256, code version, machine, timings) and ``metrics.jsonl``; weights are written with
`save_weights` (safetensors + JSON config) and `write_model_card` drafts ``MODEL_CARD.md``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from posecast.errors import ModelError, ValueRangeError
from posecast.video.cameras import CameraConfig, VirtualBatch, film

LAYOUT = "body-17"
#: validation: the last tenth of every training sequence at least `VAL_MIN_FRAMES` long (its remaining
#: part also that long), as `posecast.datasets.windows.split_sequences` carves it for the motion models
VAL_FRACTION = 0.1
VAL_MIN_FRAMES = 50


# ------------------------------------------------------------------------------------------ data
def load_sequences(
    subjects: tuple[str, ...], fps: float = 25.0, layout: str = LAYOUT
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """CMU BVH motions of ``subjects`` at ``fps`` on ``layout``: ``(N_i, J, 3)`` world metres, and a
    description (files with sha256)."""
    from posecast.datasets.cmu_bvh import cmu_bvh_motions
    from posecast.datasets.training_data import describe as _describe
    from posecast.skeletons.mapping import to_layout

    motions, paths, root = cmu_bvh_motions(subjects, fps)
    seqs = [to_layout(m, layout).positions for m in motions]
    return seqs, _describe("cmu-bvh", paths, root, subjects=list(subjects), fps=fps, layout=layout)


def window_index(sequences: list[np.ndarray], length: int, stride: int = 1) -> np.ndarray:
    """``(N, 2)`` (sequence, start) of every window of ``length`` frames taken every ``stride`` frames."""
    rows = [(i, s) for i, seq in enumerate(sequences) for s in range(0, len(seq) - length + 1, stride)]
    if not rows:
        raise ValueRangeError(f"no sequence has {length} frames")
    return np.asarray(rows, dtype=np.int64)


def gather_windows(sequences: list[np.ndarray], index: np.ndarray, length: int) -> np.ndarray:
    """``(B, length, J, 3)`` windows at ``index (B, 2)`` rows of (sequence, start)."""
    return np.stack([sequences[i][s : s + length] for i, s in index])


@dataclass
class VideoData:
    """3D training and validation sequences ``(N_i, J, 3)`` on ``body-17`` at ``fps``."""

    train: list[np.ndarray]
    val: list[np.ndarray]
    fps: float
    skeleton: str = LAYOUT
    description: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, fps: float = 25.0, layout: str = LAYOUT) -> VideoData:
        """CMU BVH training subjects, validation carved from the end of each sequence (`VAL_FRACTION`)."""
        from posecast.datasets.cmu_bvh import TRAIN_SUBJECTS as CMU_BVH_TRAIN_SUBJECTS
        from posecast.datasets.windows import split_sequences

        sequences, desc = load_sequences(CMU_BVH_TRAIN_SUBJECTS, fps, layout)
        train, val = split_sequences(sequences, VAL_FRACTION, VAL_MIN_FRAMES)
        dval = {
            "source": desc["source"],
            "validation": f"the last {VAL_FRACTION:g} of every training sequence of at least "
            f"{VAL_MIN_FRAMES / VAL_FRACTION:g} frames ({len(val)} parts, {sum(len(v) for v in val)} frames)",
        }
        return cls(train, val, fps, layout, {"train": desc, "val": dval})

    def sample(
        self, batch_size: int, length: int, rng: np.random.Generator, camera: CameraConfig | None = None
    ) -> VirtualBatch:
        """``batch_size`` random training windows of ``length`` frames, filmed by random cameras."""
        seqs = [s for s in self.train if len(s) >= length]
        lengths = np.array([len(s) - length + 1 for s in seqs], dtype=np.float64)
        which = rng.choice(len(seqs), size=batch_size, p=lengths / lengths.sum())
        starts = (rng.random(batch_size) * lengths[which]).astype(np.int64)
        windows = np.stack([seqs[i][s : s + length] for i, s in zip(which, starts, strict=True)])
        return film(windows, self.skeleton, self.fps, rng, camera)

    def validation(
        self, length: int, stride: int = 10, seed: int = 0, camera: CameraConfig | None = None
    ) -> VirtualBatch:
        """A fixed set of filmed validation windows (every ``stride`` frames, cameras from ``seed``)."""
        idx = window_index(self.val, length, stride)
        windows = gather_windows(self.val, idx, length)
        batch = film(windows, self.skeleton, self.fps, np.random.default_rng(seed), camera)
        batch.metadata.update({"stride": stride, "seed": seed, "windows": len(idx)})
        return batch


def batch_slice(batch: VirtualBatch, sl: slice) -> VirtualBatch:
    """Windows ``sl`` of a `VirtualBatch` (for evaluating large validation sets in chunks)."""
    from dataclasses import replace

    from posecast.video.cameras import Cameras

    c = batch.cameras
    cams = Cameras(c.rotation[sl], c.position[sl], c.focal[sl], c.centre[sl], c.image_size[sl], c.weak[sl])
    return replace(
        batch,
        keypoints=batch.keypoints[sl],
        visibility=batch.visibility[sl],
        detected=batch.detected[sl],
        image_size=batch.image_size[sl],
        world=batch.world[sl],
        points=batch.points[sl],
        root=batch.root[sl],
        camera=batch.camera[sl],
        clean=batch.clean[sl],
        cameras=cams,
    )


# ------------------------------------------------------------------------------------- weights
def save_weights(directory: Path, net: Any, config: dict[str, Any], metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model.safetensors`` (the state dict) and ``config.json`` (``{"config": ..., **metadata}``)."""
    from safetensors.torch import save_file

    from posecast.io.registry import atomic_output

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_output(directory / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    with atomic_output(directory / "config.json") as tmp:
        Path(tmp).write_text(json.dumps({"config": config, **(metadata or {})}, indent=1))
    return directory


def load_weights(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(state_dict, config.json contents)`` of a weight directory written by `save_weights`."""
    from safetensors.torch import load_file

    directory = Path(directory)
    try:
        meta = json.loads((directory / "config.json").read_text())
        state = load_file(str(directory / "model.safetensors"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read video model weights: {exc}", directory) from None
    return state, meta


def write_model_card(
    directory: Path, name: str, run: dict[str, Any], curve: list[dict[str, Any]], extra: str = ""
) -> Path:
    """A ``MODEL_CARD.md`` skeleton: network, data with sha256, config, training time, the per-step
    validation curve, then ``extra`` (benchmark tables with their protocol)."""
    from posecast.io.registry import atomic_output

    lines = [f"# Model card: `{name}` (video)", ""]
    m = run.get("machine", {})
    lines.append(
        f"- {run.get('parameters', 0):,} trainable parameters; trained in {run.get('training_seconds', 0) / 60:.1f}"
        f" minutes ({run.get('steps', '?')} steps) on this machine ({m.get('threads', '?')} torch thread(s),"
        f" {m.get('cpus', '?')} CPUs, torch {m.get('torch', '?')}); code version {run.get('code_version')}"
    )
    lines.append(
        "- training data: CMU BVH training subjects on body-17 filmed by random virtual cameras with simulated "
        "detector noise (`posecast.video.cameras`); validation: the last tenth of every long training sequence, "
        "fixed seeded cameras (the test subjects 02, 08 are not used in training or validation)"
    )
    cfg = run.get("config", {})
    if run.get("steps") is not None and cfg.get("steps") and run["steps"] < cfg["steps"]:
        lines.append(
            f"- stopped at step {run['steps']} of {cfg['steps']} by the wall-time cap ({cfg.get('max_minutes')} min);"
            " the learning-rate schedule is the one of the full run"
        )
    lines.append(
        f"- reproduce: `python -m posecast.video.train {cfg.get('model', name)} --out RUN --config "
        f"src/posecast/configs/{name}/<variant>.yaml` (the configs below)"
    )
    lines += ["", "## Model config", "", "```json", json.dumps(run.get("model_config", {}), indent=1), "```", ""]
    lines += ["## Training config", "", "```json", json.dumps(cfg, indent=1), "```", ""]
    for part in ("train", "val"):
        desc = run.get("data", {}).get(part, {})
        if desc:
            lines += [f"## {part} data (sha256)", ""]
            lines += [f"- `{k}` `{v}`" for k, v in desc.get("files", {}).items()]
            lines.append("")
    if curve:
        keys = [k for k in curve[-1] if k not in ("step",)]
        lines += [
            "## Validation curve",
            "",
            "Training columns are means over the last logging interval (losses in metres / normalised image units,"
            " `*_mm` in mm); `val_*` are on the fixed validation windows (ends of the training sequences):"
            " `val_past_mm` = MPJPE of the estimated frames, `val_future_mm` = MPJPE of the self-fed forecast"
            " after the first 25 frames (pelvis-centred, real mm).",
            "",
            "| step | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for row in curve:
            lines.append(
                f"| {row['step']} | "
                + " | ".join(f"{row[k]:.4g}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys)
                + " |"
            )
        lines.append("")
    if extra:
        lines += [extra, ""]
    path = Path(directory) / "MODEL_CARD.md"
    with atomic_output(path) as tmp:
        Path(tmp).write_text("\n".join(lines))
    return path


# ----------------------------------------------------------------------------------------- loop
class VideoTrainConfig(BaseModel):
    """A training run of a video model (the model's own hyper-parameters live in its config)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    steps: int = 3000
    batch_size: int = 64
    length: int = Field(default=50, description="frames per training window")
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    seed: int = 0
    threads: int | None = 1
    val_every: int = 250
    val_stride: int = 10
    max_minutes: float | None = Field(default=None, description="stop (and save) after this much wall time")


def train_video_model(
    net: Any,
    loss_fn: Callable[[Any, VirtualBatch, float], tuple[Any, dict[str, float]]],
    config: VideoTrainConfig,
    out: Path,
    evaluate: Callable[[Any, VirtualBatch], dict[str, float]] | None = None,
    data: VideoData | None = None,
    save: Callable[[Any, Path], None] | None = None,
    model_config: dict[str, Any] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    camera: CameraConfig | None = None,
    run_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``net`` with AdamW (warm-up then cosine decay, gradient clipping at 1) on freshly filmed
    windows; evaluate every ``val_every`` steps on the fixed validation windows; write ``run.json``,
    ``metrics.jsonl`` and the final weights to ``out/last`` (``save(net, dir)``, default
    `save_weights` with ``model_config``; ``run_info``: extra facts for ``run.json``, e.g. the
    weights the run started from). Returns the run information (also in ``run.json``)."""
    import torch

    from posecast.training.loop import git_commit

    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    data = data or VideoData.load()
    val = data.validation(config.length, config.val_stride, seed=12345, camera=camera) if evaluate else None
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)

    def lr_at(step: int) -> float:
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        t = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0))) * 0.99 + 0.01

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {
        "config": config.model_dump(),
        "model_config": model_config or {},
        "data": data.description,
        "validation_windows": len(val) if val is not None else 0,
        "parameters": int(sum(p.numel() for p in params)),
        "code_version": git_commit(),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        **(run_info or {}),
    }
    (out / "run.json").write_text(json.dumps(run, indent=1))
    curve: list[dict[str, Any]] = []
    t0, losses, step = time.time(), [], 0
    deadline = None if config.max_minutes is None else t0 + 60.0 * config.max_minutes
    for step in range(1, config.steps + 1):
        net.train()
        batch = data.sample(config.batch_size, config.length, rng, camera)
        loss, logs = loss_fn(net, batch, (step - 1) / max(1, config.steps - 1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        stop = deadline is not None and time.time() > deadline
        if step % config.val_every == 0 or step == config.steps or stop:
            record: dict[str, Any] = {
                "step": step,
                "train_loss": float(np.mean(losses[-config.val_every :])),
                **{k: float(v) for k, v in logs.items()},
                "lr": float(opt.param_groups[0]["lr"]),
                "seconds": round(time.time() - t0, 1),
            }
            if evaluate is not None and val is not None:
                net.eval()
                with torch.no_grad():
                    record.update(evaluate(net, val))
            curve.append(record)
            with open(out / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            if progress:
                progress(record)
        if stop:
            break
    net.eval()
    run["steps"] = step
    run["training_seconds"] = round(time.time() - t0, 1)
    run["curve"] = curve
    (out / "run.json").write_text(json.dumps(run, indent=1))
    if save is not None:
        save(net, out / "last")
    else:
        save_weights(out / "last", net, model_config or {}, {"run": "run.json", "steps": step})
    return run


def main(argv: list[str] | None = None) -> None:
    """``python -m posecast.video.train MODEL --out DIR [--config FILE.yaml] [--steps N] [--max-minutes M] ...``:
    train a registered video model whose module defines ``build(config)``, ``training_loss`` and
    ``evaluate`` (phd does). The YAML file holds `VideoTrainConfig` fields and a ``model_config``
    mapping (the model's own config, e.g. `PHDConfig`); command-line options and ``--set key=JSON``
    (model config) override it. Shipped configs: ``src/posecast/configs/<model>/<variant>.yaml``."""
    import argparse
    import importlib

    import yaml

    from posecast.video.models import MODELS

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("model")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--config", type=Path, default=None)
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--length", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--val-every", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], help="model config override key=JSON")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from the weights in this directory (model.safetensors + config.json, e.g. the shipped"
        " ones); its model config is used unless --set overrides it",
    )
    a = p.parse_args(argv)
    if a.model not in MODELS:
        raise SystemExit(f"unknown video model {a.model!r}; available: {', '.join(MODELS)}")
    data_cfg: dict[str, Any] = {}
    if a.config is not None:
        data_cfg = yaml.safe_load(a.config.read_text()) or {}
    model_cfg = dict(data_cfg.pop("model_config", {}) or {})
    init_state = None
    if a.init is not None:
        init_state, init_meta = load_weights(a.init)
        model_cfg.update(init_meta.get("config", {}))
    model_cfg.update({k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)})
    module = importlib.import_module(MODELS[a.model][0])
    cfg_cls = type(module.build().config)
    net = module.build(cfg_cls(**model_cfg))
    if init_state is not None:
        try:
            net.load_state_dict(init_state)
        except RuntimeError as exc:
            raise ModelError(f"--init weights do not match the {a.model} config: {exc}", a.init) from None
    cli = {
        "steps": a.steps,
        "batch_size": a.batch_size,
        "length": a.length,
        "lr": a.lr,
        "max_minutes": a.max_minutes,
        "val_every": a.val_every,
        "seed": a.seed,
    }
    data_cfg.update({k: v for k, v in cli.items() if v is not None})
    data_cfg["model"] = a.model
    tcfg = VideoTrainConfig(**data_cfg)
    data = VideoData.load(fps=net.config.fps, layout=net.config.skeleton)
    train_video_model(
        net,
        module.training_loss,
        tcfg,
        a.out,
        evaluate=module.evaluate,
        data=data,
        model_config=net.config.model_dump(),
        progress=lambda r: print(json.dumps(r), flush=True),
        run_info={"init": str(a.init)} if a.init is not None else None,
    )


if __name__ == "__main__":
    main()


def ship_run(run_dir: Path, name: str, variant: str, extra: str = "") -> Path:
    """Copy ``run_dir/last`` into ``src/posecast/weights/<name>/<variant>/`` (training facts added to its
    ``config.json``) and write its ``MODEL_CARD.md`` from ``run.json`` (``extra``: benchmark tables)."""
    import shutil

    from posecast.video.models import WEIGHTS_DIR

    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    dest = WEIGHTS_DIR / name / variant
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "last" / "model.safetensors", dest / "model.safetensors")
    meta = json.loads((run_dir / "last" / "config.json").read_text())
    meta["training"] = {
        "steps": run.get("steps"),
        "seconds": run.get("training_seconds"),
        "parameters": run.get("parameters"),
        "code_version": run.get("code_version"),
        "train_config": run.get("config"),
    }
    (dest / "config.json").write_text(json.dumps(meta, indent=1))
    write_model_card(dest, name, run, run.get("curve", []), extra)
    return dest
