"""``posecast train``: train any learned model into a run directory (weights, config, metrics), a thin
layer over `posecast.training.run` (which picks the plug-in from the model's registry entry).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from posecast.cli.common import (
    AsfOpt,
    FpsOpt,
    MappingOpt,
    SkeletonOpt,
    UnitsOpt,
    UpOpt,
    check_out_dir,
    check_seed,
    console,
    err_console,
    parse_units,
)
from posecast.errors import ValueRangeError, listed


def train(
    model: Annotated[str, typer.Option(help="Learned model to train (see `posecast models`).")],
    out: Annotated[
        Path | None, typer.Option(help="Run directory (weights, config, metrics); default runs/MODEL.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML training config (default: the shipped configs/MODEL/DATA.yaml); a shipped config also by its "
            "name (corpus-stage2) or its src/posecast/configs/MODEL/NAME.yaml path from any folder or install."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="Training data: motion models cmu-mocap, cmu-mocap+bvh (benchmark files + CMU BVH subjects "
            "01, 05, 07), cmu-bvh, cmu-bvh:LAYOUT, corpus (the training corpus on smplh-22; corpus:LAYOUT maps it "
            "to another layout, e.g. corpus:body-17; corpus:-PREFIX leaves files out) or a folder of motions; "
            "st-transformer-rot cmu-mocap or a benchmark folder; video models cmu-bvh, corpus (their corpus "
            "configs) or a folder; key-pose models cmu-bvh, corpus or a folder (with the corpus config, files of any "
            "mappable rig are mapped onto the canonical body and the timing proposals fitted on them; with the "
            "cmu-bvh config the files must be on cmu-bvh-31); classifier models cmu-bvh, corpus or a folder on the "
            "network's own skeleton. Default: the kind's (motion models cmu-mocap, the others cmu-bvh); the shipped "
            "models' own runs name corpus configs (their model cards)."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (motion, rotation, key-pose, classifier).")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps of the run (video).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    init: Annotated[
        str | None,
        typer.Option(
            help="Start from these weights: a run directory, a weights folder or shipped NAME or NAME/VARIANT "
            "(motion, video, key-pose)."
        ),
    ] = None,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="Distil: also fit the forecasts of these weights (run directory, weights folder or NAME, e.g. "
            "dct-mlp-ens); mixed by teacher_weight in the config (motion)."
        ),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads per process.")] = None,
    max_steps_per_epoch: Annotated[
        int | None, typer.Option(help="Cap the steps per epoch, e.g. for smoke tests (epoch-based kinds).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    length: Annotated[int | None, typer.Option(help="Frames per training window (video).")] = None,
    val_every: Annotated[int | None, typer.Option(help="Steps between validations (video).")] = None,
    stop_step: Annotated[
        int | None,
        typer.Option(help="Stop after this optimiser step, keeping the schedule of the full run (resumable)."),
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option(help="Stop after this much wall time (0: no cap; resumable).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Config override KEY=VALUE (repeatable; dotted keys reach into mappings: params.blocks=2)."
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in --out.")] = True,
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    units: UnitsOpt = None,
    asf: AsfOpt = None,
    mapping: MappingOpt = None,
    up: UpOpt = None,
) -> None:
    """Train a learned model (motion / rotation / video / key-pose / classifier); options that do not
    apply to the model's kind are refused. The reading options (--skeleton, --fps, --units, --asf, --mapping, --up)
    read every file of a --data folder as `posecast forecast` reads one file. Motion models also train under
    `torchrun --nproc_per_node N -m posecast train ...` (DDP)."""
    import os

    from rich.progress import Progress

    from posecast.training import run

    if out is not None:
        check_out_dir(out)
    if config is not None and not config.is_file():  # a shipped config by name or by its checkout path
        from posecast.training.entry import shipped_config

        found = shipped_config(model, config)
        if found != config:
            err_console.print(f"config: {config} -> {found}", highlight=False)
        config = found
    if fps is not None and not fps > 0:
        raise ValueRangeError(f"--fps {fps:g}: give a positive frame rate (frames per second)")
    if data is not None and not data.strip():  # (QA: "" was read as the working directory)
        raise ValueRangeError("--data is empty: give a folder of motion files or a named source (corpus, cmu-bvh, ...)")
    if seed is not None:
        check_seed(seed)
    for option, value, least in (  # (QA: --threads -1 ended in a traceback, --max-minutes -1 and --threads 0 trained;
        ("--threads", threads, 1),
        ("--max-steps-per-epoch", max_steps_per_epoch, 1),
        ("--max-minutes", max_minutes, 0),
    ):  # the other numbers are the config schema's to check, which names the flag too)
        if value is not None and not least <= value < math.inf:
            raise ValueRangeError(f"{option} must be {'positive' if least else 'zero or more'}, got {value}")
    from posecast.datasets.training_data import NAMED_SOURCES

    if data is not None and data.partition(":")[0] not in NAMED_SOURCES and Path(data).is_dir():
        data = str(Path(data).resolve())  # the run's record and a resume name the folder from anywhere
    given = {"skeleton": skeleton, "fps": fps, "units": parse_units(units), "asf": asf, "mapping": mapping, "up": up}
    # files named by absolute path: the run (run.json, a resume) reads them from any folder
    reading = {k: str(v.resolve()) if isinstance(v, Path) else v for k, v in given.items() if v is not None}
    options: dict[str, Any] = {
        "data": data,
        "reading": reading or None,
        "epochs": epochs,
        "steps": steps,
        "seed": seed,
        "init": init,
        "teacher": teacher,
        "threads": threads,
        "max_steps_per_epoch": max_steps_per_epoch,
        "batch_size": batch_size,
        "lr": lr,
        "length": length,
        "val_every": val_every,
        "stop_step": stop_step,
        "max_minutes": max_minutes,
    }
    main_rank = int(os.environ.get("RANK", "0")) == 0
    with Progress(console=err_console, transient=True, disable=not main_rank or not err_console.is_terminal) as bar:
        task = bar.add_task(f"training {model}", total=None)

        ticks = []
        started = ((out or Path("runs") / model) / "run.json").is_file()  # a run there before this command

        def tick(done: int, rounds: int, record: dict[str, Any]) -> None:
            ticks.append(done)
            bar.update(task, completed=done, total=rounds)
            if main_rank:
                console.print(_line(done, rounds, record), highlight=False)

        where = run(model, out, config, resume=resume, progress=tick, settings=set_ or (), **options)
    if main_rank:
        if not ticks and resume and started:  # QA: a finished run given again printed only "wrote RUN"
            console.print(
                f"note: the run in {where} was already complete: nothing was trained (--no-resume, or another --out, "
                "trains anew)",
                highlight=False,
            )
        console.print(f"wrote {where}", highlight=False)
        info = json.loads((Path(where) / "run.json").read_text()) if (Path(where) / "run.json").is_file() else {}
        data = info.get("data") if isinstance(info.get("data"), dict) else {}
        if isinstance(data.get("train"), dict):  # video runs: {"train": {...}, "val": {...}}
            data = data["train"]
        if data.get("skipped"):
            skipped = data["skipped"]
            console.print(f"note: skipped {len(skipped)} file(s), not motion: {listed(skipped)}", highlight=False)
        short = data.get("too_short") or {}
        if short.get("files"):
            n, total = len(short["files"]), len(data.get("frames") or {}) or "?"
            console.print(
                f"note: {n} of {total} files are shorter than one training window ({short['frames_needed']} frames, "
                f"{short['seconds']:.2f} s) and were not trained on: {listed(short['files'])}",
                highlight=False,
            )
        if str(info.get("best_chosen_on", "")).startswith("train_loss"):
            console.print(
                "note: no validation windows (too few or too short files): best/ was chosen on the training loss",
                highlight=False,
            )


def _line(done: int, rounds: int, record: dict[str, Any]) -> str:
    """One progress line: the round, the training loss and the validation numbers."""
    head = (
        f"epoch {record['epoch']}/{rounds}"
        if "epoch" in record
        else f"step {record.get('step')} (round {done}/{rounds})"
    )
    parts = [f"loss {record['train_loss']:.4g}"]
    parts += [f"{k} {v:.4g}" for k, v in record.items() if k.startswith("val_") and isinstance(v, float)]
    if record.get("stopped"):
        parts.append(f"stopped ({record['stopped']})")
    return f"{head}: {', '.join(parts)}"


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""
    app.command()(train)
