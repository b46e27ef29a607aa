"""The ``posecast`` command line: info, forecast, render, bench, models, formats, demo.

Every `PosecastError` becomes one line on stderr and exit code 2; output files are written
atomically, so a failed command leaves nothing half-written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from posecast.errors import PosecastError, ValueRangeError

app = typer.Typer(
    name="posecast",
    help="Forecast human motion in 3D: read motions, forecast, render, benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks with their protocols spelled out.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

console = Console()
err_console = Console(stderr=True)

MOTION_OUTPUTS = (".npz", ".json")
DEMO_MODELS = ("dct-mlp", "st-transformer", "res-gru")  # best cmu-bvh numbers first
RENDER_OUTPUTS = (".mp4", ".gif", ".html")

SkeletonOpt = Annotated[str | None, typer.Option(help="Skeleton name for files that hold only numbers (.npy).")]
FpsOpt = Annotated[float | None, typer.Option(help="Frame rate for files that hold only numbers (.npy).")]


def _load_motion(path: Path, skeleton: str | None, fps: float | None):
    from posecast.io import load
    from posecast.motion import Motion

    options: dict[str, Any] = {}
    if skeleton:
        options["skeleton"] = skeleton
    if fps:
        options["fps"] = fps
    obj = load(path, **options)
    if not isinstance(obj, Motion):
        raise PosecastError("holds a forecast, not a motion; use `posecast render` to look at it", path)
    return obj


def _check_outputs(outs: list[Path], allowed: tuple[str, ...]) -> None:
    """Fail before any work when an output cannot be written."""
    if not outs:
        raise ValueRangeError("give at least one --out PATH")
    for out in outs:
        suffix = out.suffix.lower()
        if suffix not in allowed:
            raise ValueRangeError(f"{out}: cannot write {suffix or 'a file without suffix'}; use {', '.join(allowed)}")
        if not out.parent.exists():
            raise ValueRangeError(f"{out}: output directory {out.parent} does not exist")


def _write(obj: Any, out: Path, **render_options: Any) -> None:
    from posecast.io import save

    if out.suffix.lower() in RENDER_OUTPUTS:
        from posecast.viz import render

        render(obj, out, **render_options)
    else:
        save(obj, out)


# ----------------------------------------------------------------------------------------- info
@app.command()
def info(
    file: Annotated[Path, typer.Argument(help="A motion or forecast file.")],
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Describe a motion file: format, frames, rate, skeleton, extent."""
    from posecast.io import detect_format, load
    from posecast.motion import Forecast

    fmt = detect_format(file)
    options = {k: v for k, v in (("skeleton", skeleton), ("fps", fps)) if v}
    obj = load(file, **options)
    d: dict[str, Any] = {
        "file": str(file),
        "format": fmt.name,
        "skeleton": obj.skeleton.name,
        "joints": obj.skeleton.num_joints,
        "fps": obj.fps,
    }
    if isinstance(obj, Forecast):
        d.update(
            kind="forecast",
            model=obj.model,
            samples=obj.num_samples,
            frames=obj.num_frames,
            horizon_s=obj.horizon,
            has_history=obj.history is not None,
            has_ground_truth=obj.ground_truth is not None,
        )
    else:
        pos = obj.positions
        d.update(
            kind="motion",
            frames=obj.num_frames,
            duration_s=round(obj.duration, 4),
            has_rotations=obj.rotations is not None,
            extent_m=[round(float(x), 3) for x in (pos.max(axis=(0, 1)) - pos.min(axis=(0, 1)))],
            height_m=round(float(np.median(pos[..., 1].max(axis=1) - pos[..., 1].min(axis=1))), 3),
            metadata={k: v for k, v in obj.metadata.items() if k != "source"},
        )
    if as_json:
        console.print_json(json.dumps(d, default=str))
        return
    for k, v in d.items():
        console.print(f"[bold]{k}[/bold]: {v}", highlight=False)


@app.command()
def formats() -> None:
    """List the file formats PoseCast reads and writes."""
    from posecast.io import formats as all_formats

    for f in all_formats():
        mode = "read/write" if f.write else "read"
        console.print(f"[bold]{f.name:12}[/bold] {', '.join(f.suffixes):18} {mode:10} {f.description}", highlight=False)


# --------------------------------------------------------------------------------------- models
@app.command()
def models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the forecasting models and their pretrained weights."""
    from posecast.models import available

    infos = [m.to_dict() for m in available()] + _other_models()
    if as_json:
        console.print_json(json.dumps(infos))
        return
    for m in infos:
        if m["pretrained"]:
            weights = "weights: " + ", ".join(v["variant"] for v in m["pretrained"])
        elif m["kind"] == "learned":
            weights = "no weights shipped"
        else:
            weights = "needs training data" if m["needs_training_data"] else "no weights needed"
        console.print(f"[bold]{m['name']:20}[/bold] {m['kind']:9} {weights:20} {m['summary']}", highlight=False)


def _weight_sets(name: str) -> list[dict[str, Any]]:
    """The shipped weight folders of ``name`` (``weights/<name>/<variant>/``) with their model cards."""
    from posecast.models.neural import WEIGHTS_DIR

    root = WEIGHTS_DIR / name
    folders = sorted(p for p in root.iterdir() if (p / "model.safetensors").is_file()) if root.is_dir() else []
    return [{"variant": p.name, "card": f"weights/{name}/{p.name}/MODEL_CARD.md"} for p in folders]


def _other_models() -> list[dict[str, Any]]:
    """Models outside the motion-forecaster registry: video forecasters and key-pose forecasters."""
    from posecast.video.models import MODELS as VIDEO_MODELS

    infos = [
        {
            "name": name,
            "kind": "video",
            "summary": summary + " (input: a video or image)",
            "needs_training_data": False,
            "pretrained": _weight_sets(name),
        }
        for name, (_, summary) in VIDEO_MODELS.items()
    ]
    infos += [
        {
            "name": name,
            "kind": "keypose",
            "summary": "next characteristic 3D pose: K hypotheses with probabilities (Diller et al. 2022)",
            "needs_training_data": False,
            "pretrained": _weight_sets(name),
        }
        for name in KEYPOSE_MODELS
    ]
    return infos


WeightsOpt = Annotated[
    Path | None, typer.Option(help="Use weights from a training run directory (its best/ or last/ folder).")
]


def _get_model(name: str, weights: Path | None):
    """The registered model, or the one trained into ``weights`` (a run dir or its best/last folder)."""
    from posecast.models import get
    from posecast.models.learned import ROTATION_MODEL
    from posecast.models.neural import NeuralForecaster

    if weights is None:
        return get(name)
    folder = weights / "best" if (weights / "best" / "config.json").is_file() else weights
    if name == ROTATION_MODEL:
        from posecast.models.st_transformer import STTransformerRot

        return STTransformerRot.load(folder)
    return NeuralForecaster.load(folder)


def _fit_if_needed(model: Any, name: str, train_data: Path | None, fps: float) -> None:
    from posecast.models import available

    info = {m.name: m for m in available()}[name]
    if not info.needs_training_data:
        return
    if train_data is None:
        raise ValueRangeError(
            f"model {name!r} needs training motions: pass --train-data DIR (a folder of motion files)"
        )
    from posecast.io import formats as all_formats
    from posecast.io import load

    suffixes = {s for f in all_formats() for s in f.suffixes}
    paths = sorted(p for p in Path(train_data).rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not paths:
        raise ValueRangeError(f"{train_data}: no motion files found")
    motions = [load(p) for p in paths]
    model.fit(motions, fps=fps)


# ------------------------------------------------------------------------------------- forecast
@app.command()
def forecast(
    file: Annotated[Path, typer.Argument(help="The observed motion.")],
    model: Annotated[
        str | None,
        typer.Option(
            help="Model name (see `posecast models`); default constant-velocity for motions, phd for videos, "
            "hmmr for images."
        ),
    ] = None,
    horizon: Annotated[float | None, typer.Option(help="Seconds to forecast.")] = None,
    frames: Annotated[int | None, typer.Option(help="Frames to forecast (instead of --horizon).")] = None,
    samples: Annotated[int, typer.Option(help="Hypotheses to draw.")] = 1,
    at: Annotated[
        float | None, typer.Option(help="Forecast from this time (s); later frames become ground truth.")
    ] = None,
    out: Annotated[list[Path] | None, typer.Option(help="Output: .npz .json .mp4 .gif .html (repeatable).")] = None,
    train_data: Annotated[Path | None, typer.Option(help="Training motions for models that need them.")] = None,
    weights: WeightsOpt = None,
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
) -> None:
    """Forecast the future of a motion (or of the person in a video or image) and write it."""
    from posecast.models import resolve_frames
    from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    outs = out or []
    suffix = file.suffix.lower()
    if suffix in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        from posecast.cli.video_cmds import forecast_media

        default = "phd" if suffix in VIDEO_SUFFIXES else "hmmr"
        forecast_media(file, model=model or default, horizon=horizon, frames=frames, at=at, outs=outs, weights=weights)
        return
    model = model or "constant-velocity"
    if model in KEYPOSE_MODELS:
        from posecast.cli.keypose_cmds import forecast_keypose

        forecast_keypose(
            file, model=model, samples=samples, at=at, outs=outs, weights=weights, skeleton=skeleton, fps=fps
        )
        return
    _check_outputs(outs, MOTION_OUTPUTS + RENDER_OUTPUTS)
    motion = _load_motion(file, skeleton, fps)
    n = resolve_frames(motion.fps, frames, horizon)
    history, truth = motion, None
    if at is not None:
        if not 0 < at <= motion.duration:
            raise ValueRangeError(f"--at {at} s is outside the motion (0 to {motion.duration:.2f} s)")
        history = motion.seconds(0, at + 0.5 / motion.fps)
        rest = motion.positions[history.num_frames : history.num_frames + n]
        truth = rest if rest.shape[0] == n else None
    forecaster = _get_model(model, weights)
    _fit_if_needed(forecaster, model, train_data, history.fps)
    result = forecaster.forecast(history, frames=n, samples=samples, ground_truth=truth)
    for o in outs:
        _write(result, o)
        console.print(f"wrote {o}", highlight=False)
    if not outs:
        console.print(repr(result))


# --------------------------------------------------------------------------------------- render
@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="A motion or forecast file.")],
    out: Annotated[list[Path] | None, typer.Option(help="Output: .mp4 .gif .html (repeatable).")] = None,
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
) -> None:
    """Render a motion or a saved forecast to video, GIF or an interactive HTML viewer."""
    from posecast.io import load

    outs = out or []
    _check_outputs(outs, RENDER_OUTPUTS)
    options = {k: v for k, v in (("skeleton", skeleton), ("fps", fps)) if v}
    obj = load(file, **options)
    for o in outs:
        _write(obj, o)
        console.print(f"wrote {o}", highlight=False)


# ---------------------------------------------------------------------------------------- bench
@bench_app.command("cmu-mocap")
def bench_cmu_mocap(
    model: Annotated[str, typer.Option(help="Model name.")] = "zero-velocity",
    protocol: Annotated[str, typer.Option(help="ltd8 (8 windows per file, LTD seed) or all (every window).")] = "ltd8",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
    weights: WeightsOpt = None,
) -> None:
    """CMU-Mocap benchmark (Li et al. 2018 split), exactly as LTD / MSR-GCN / PGBIG evaluate it."""
    from rich.progress import Progress

    from posecast.evaluation.protocols import cmu_mocap
    from posecast.evaluation.report import print_benchmark

    if protocol not in cmu_mocap.PROTOCOLS:
        raise ValueRangeError(f"unknown protocol {protocol!r}; use one of {', '.join(cmu_mocap.PROTOCOLS)}")
    if json_path is not None and not json_path.parent.exists():
        raise ValueRangeError(f"{json_path}: output directory does not exist")
    forecaster = _get_model(model, weights)
    if getattr(forecaster, "fit", None) is not None and getattr(forecaster, "num_windows", 1) == 0:
        forecaster.fit(cmu_mocap.training_windows(), fps=cmu_mocap.FPS, skeleton="cmu-mocap-38")
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("windows", total=None)

        def tick(action: str, done: int, total: int) -> None:
            progress.update(task, description=f"{action}", completed=done, total=total)

        from posecast.models.st_transformer import STTransformerRot, bench_rotation_variant

        if isinstance(forecaster, STTransformerRot):  # reads the windows' rotations, not positions
            result = bench_rotation_variant(forecaster, protocol)
            result.model = model
        else:
            result = cmu_mocap.evaluate(forecaster, protocol, model_name=model, progress=tick)
    d = result.to_dict()
    print_benchmark(d, console, unit=" ms")
    if json_path is not None:
        from posecast.io import atomic_output

        with atomic_output(json_path) as tmp:
            tmp.write_text(json.dumps(d, indent=1))
        console.print(f"wrote {json_path}", highlight=False)


ModelListOpt = Annotated[list[str] | None, typer.Option("--model", help="Model name (repeatable).")]
ModelsOpt = Annotated[str | None, typer.Option("--models", help="Several models, comma-separated, side by side.")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")]


def _bench_models(model: list[str] | None, models: str | None, weights: Path | None, json_path: Path | None):
    """``{name: forecaster}`` for the bench commands that compare several models.

    Names come from ``--model`` (repeatable) and ``--models a,b,c`` (default: zero-velocity);
    ``--weights`` goes to the one name that is not a baseline (it may be a label of your choosing).
    """
    from posecast.errors import ModelError
    from posecast.models import available

    names = list(dict.fromkeys([*(model or []), *(n.strip() for n in (models or "").split(",") if n.strip())]))
    names = names or ["zero-velocity"]
    if json_path is not None and not json_path.parent.exists():
        raise ValueRangeError(f"{json_path}: output directory does not exist")
    known = {m.name: m for m in available()}
    learned = [n for n in names if n not in known or known[n].kind != "baseline"]
    if weights is not None and len(learned) != 1:
        raise ValueRangeError(
            f"--weights goes with exactly one learned model, got {len(learned)} ({', '.join(learned) or 'none'})"
        )
    unknown = [n for n in names if n not in known and weights is None]
    if unknown:
        raise ModelError(f"unknown model {unknown[0]!r}; available: {', '.join(known)}")
    return {n: _get_model(n, weights if n in learned else None) for n in names}


def _write_json(d: dict[str, Any], json_path: Path | None) -> None:
    if json_path is not None:
        from posecast.io import atomic_output

        with atomic_output(json_path) as tmp:
            tmp.write_text(json.dumps(d, indent=1))
        console.print(f"wrote {json_path}", highlight=False)


@bench_app.command("cmu-bvh")
def bench_cmu_bvh(
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
) -> None:
    """Raw CMU BVH test subjects 02 and 08: 2 s observed, 1 s forecast, real millimetres, global and root-relative."""
    from rich.progress import Progress

    from posecast.evaluation.protocols import cmu_bvh

    forecasters = _bench_models(model, models, weights, json_path)
    sequences = cmu_bvh.load_sequences()
    forecasters = cmu_bvh.prepare_models(forecasters)
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("windows", total=None)

        def tick(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        result = cmu_bvh.evaluate(forecasters, sequences, progress=tick)
    cmu_bvh.print_result(result, console)
    _write_json(result, json_path)


@bench_app.command("long-horizon")
def bench_long_horizon(
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    seconds: Annotated[float, typer.Option(help="Whole seconds to roll out (1 to 120).")] = 20,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
    train_reference: Annotated[
        bool, typer.Option(help="Also score the training subjects' 1-s clips against the test data (a reference row).")
    ] = True,
) -> None:
    """Long rollouts (ST-Transformer supplement H): power-spectrum entropy / KLD and joint speed per second."""
    from rich.progress import Progress

    from posecast.evaluation.protocols import cmu_bvh, long_horizon
    from posecast.models.baselines import NearestNeighbour

    n_seconds = long_horizon.check_seconds(seconds)
    forecasters = _bench_models(model, models, weights, json_path)
    sequences = cmu_bvh.load_sequences()
    needs_train = train_reference or any(isinstance(f, NearestNeighbour) for f in forecasters.values())
    train = [s.positions for s in cmu_bvh.load_sequences(cmu_bvh.TRAIN_SUBJECTS)] if needs_train else None
    forecasters = cmu_bvh.prepare_models(forecasters, train)
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("seeds", total=None)

        def tick(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        result = long_horizon.evaluate(
            forecasters, n_seconds, sequences, train if train_reference else None, progress=tick
        )
    long_horizon.print_result(result, console)
    _write_json(result, json_path)


@bench_app.command("speed")
def bench_speed(
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
    batch: Annotated[int, typer.Option(help="Batch size of the throughput run.")] = 256,
    min_seconds: Annotated[float, typer.Option(help="Least time spent on each latency measurement (s).")] = 2.0,
) -> None:
    """CPU speed: batch-1 latency of a 1 s forecast on one thread (median, p90), batch throughput, parameters."""
    from rich.progress import Progress

    from posecast.evaluation import speed
    from posecast.evaluation.protocols import cmu_bvh
    from posecast.models.baselines import NearestNeighbour

    if batch < 1:
        raise ValueRangeError(f"--batch must be positive, got {batch}")
    if not min_seconds >= 0:
        raise ValueRangeError(f"--min-seconds must be zero or more, got {min_seconds}")
    forecasters = _bench_models(model, models, weights, json_path)
    if any(isinstance(f, NearestNeighbour) for f in forecasters.values()):
        forecasters = cmu_bvh.prepare_models(forecasters)  # indexed as in the cmu-bvh protocol
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("timing", total=None)
        result = speed.evaluate(
            forecasters,
            min_seconds=min_seconds,
            batch=batch,
            progress=lambda name: progress.update(task, description=f"timing {name}"),
        )
    speed.print_result(result, console)
    _write_json(result, json_path)


# ---------------------------------------------------------------------------------------- train
@app.command()
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


# ----------------------------------------------------------------------------------------- demo
@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option(help="Where to write the demo files.")] = Path("posecast-demo"),
) -> None:
    """Forecast one second of motion and render it (a CMU clip when POSECAST_DATA is set, else a synthetic walk)."""
    from posecast.data import dataset_dir
    from posecast.io import load
    from posecast.models import get
    from posecast.synthetic import synthetic_walk

    out_dir.mkdir(parents=True, exist_ok=True)
    bvh_dir = dataset_dir("cmu_bvh", required=False)
    clip = bvh_dir / "02" / "02_01.bvh" if bvh_dir else None
    if clip is not None and clip.is_file():
        motion = load(clip).resample(25.0).frames(1)  # drop the synthetic rest pose of frame 0
        label = f"CMU motion capture {clip.name} (subject 02, walk)"
    else:
        motion = synthetic_walk(seconds=6.0, fps=25.0)
        label = "SYNTHETIC procedurally generated walk (no POSECAST_DATA found)"
    at_frame = min(motion.num_frames - 25, int(3 * motion.fps))
    history = motion.frames(0, at_frame)
    truth = motion.positions[at_frame : at_frame + 25]
    from posecast.models.neural import shipped_variants

    # the learned model with the best cmu-bvh numbers in docs/benchmarks.md, when its weights are shipped
    model_name = next((m for m in DEMO_MODELS if "cmu-bvh" in shipped_variants(m)), "constant-velocity")
    result = get(model_name).forecast(history, frames=25, ground_truth=truth)
    console.print(f"input: {label}", highlight=False)
    console.print(
        f"model: {model_name}; observed {history.duration:.1f} s, forecast {result.horizon:.1f} s", highlight=False
    )
    for name in ("forecast.mp4", "forecast.html", "forecast.npz"):
        _write(result, out_dir / name)
        console.print(f"wrote {out_dir / name}", highlight=False)


KEYPOSE_MODELS = ("charpose",)
"""Models that forecast the next characteristic pose (hypotheses with probabilities), not a trajectory."""


def _register_extensions() -> None:
    """Commands defined next to their capability (video, key poses) join the app here."""
    from posecast.cli import keypose_cmds, video_cmds

    keypose_cmds.register(app, bench_app)
    video_cmds.register(app, bench_app)


_register_extensions()


def main() -> None:
    """Console entry point: PoseCast errors become one line on stderr and exit code 2."""
    try:
        app()
    except PosecastError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
