"""``posecast train``: train a learned motion model into a run directory (weights, config, metrics).

Self-contained on purpose: it keeps its own code path (`posecast.training.train`, and
`posecast.models.st_transformer.train_rotation_variant` for the rotation model) until the training
loops are rewired.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from posecast.cli.common import console, err_console
from posecast.errors import ValueRangeError


def train(
    model: Annotated[str, typer.Option(help="Learned model to train (see `posecast models`).")],
    out: Annotated[Path, typer.Option(help="Run directory (weights, config, metrics).")],
    data: Annotated[
        str,
        typer.Option(
            help="cmu-mocap, cmu-mocap+bvh (benchmark files + CMU BVH subjects 01, 05, 07), cmu-bvh, or a folder."
        ),
    ] = "cmu-mocap",
    config: Annotated[Path | None, typer.Option(help="YAML training config (default: the shipped one).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Override the number of epochs.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    init: Annotated[
        str | None,
        typer.Option(
            help="Fine-tune: start from a run directory, a weights directory or shipped weights (NAME or NAME/VARIANT)."
        ),
    ] = None,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="Distil: also fit the forecasts of these weights (run directory, weights directory or NAME, e.g. "
            "dct-mlp-ens); mixed by teacher_weight in the config (default 0.5)."
        ),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads per process.")] = None,
    max_steps_per_epoch: Annotated[int | None, typer.Option(help="Cap steps per epoch (smoke tests).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in --out.")] = True,
) -> None:
    """Train a model; works under `torchrun --nproc_per_node N -m posecast train ...` (DDP)."""
    import os

    from rich.progress import Progress

    from posecast.models.learned import LEARNED, ROTATION_MODEL, default_config_path
    from posecast.training import load_config
    from posecast.training import train as run_training

    if model not in LEARNED and model != ROTATION_MODEL:
        raise ValueRangeError(f"{model!r} is not a learned model; trainable: {', '.join([*LEARNED, ROTATION_MODEL])}")
    if model == ROTATION_MODEL:
        from posecast.models.st_transformer import train_rotation_variant

        def run_training(cfg, out, resume=True, progress=None):  # noqa: F811  (its own loop: rotations in)
            return train_rotation_variant(cfg, out, progress=progress)

    data_key = data if data in ("cmu-mocap", "cmu-mocap+bvh", "cmu-bvh") else "cmu-bvh"
    cfg = load_config(
        config or default_config_path(model, data_key),
        data=data,
        epochs=epochs,
        seed=seed,
        init=init,
        teacher=teacher,
        threads=threads,
        max_steps_per_epoch=max_steps_per_epoch,
    )
    main_rank = int(os.environ.get("RANK", "0")) == 0
    with Progress(console=err_console, transient=True, disable=not main_rank) as progress:
        task = progress.add_task(f"training {model}", total=cfg.epochs)

        def tick(epoch: int, total: int, record: dict[str, Any]) -> None:
            progress.update(task, completed=epoch)
            if main_rank:
                val = f", val {record['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in record else ""
                console.print(f"epoch {epoch}/{total}: loss {record['train_loss'] * 1000:.1f} mm{val}", highlight=False)

        run_training(cfg, out, resume=resume, progress=tick)
    if main_rank:
        console.print(f"wrote {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""
    app.command()(train)
