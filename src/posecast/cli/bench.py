"""``posecast bench ...``: the benchmarks, each with its protocol spelled out.

Models come from the registry (`posecast.models`); what a model needs (training motions to fit, a
history with rotations) is read from its entry. Each command imports its protocol module in one place
(the first lines of its body), so a protocol that moves is repointed there.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from posecast.api import MAX_SAMPLES
from posecast.cli.common import (
    AsfOpt,
    FpsOpt,
    JsonOpt,
    ModelListOpt,
    ModelsOpt,
    SkeletonOpt,
    UnitsOpt,
    WeightsOpt,
    bench_models,
    check_output_dirs,
    check_seed,
    console,
    err_console,
    load_model,
    model_entry,
    run_models,
    with_weights,
    write_json,
    write_text,
)
from posecast.errors import DataNotFoundError, ModelError, SkeletonError, ValueRangeError

app = typer.Typer(help="Benchmarks with their protocols spelled out.", no_args_is_help=True)


MappingOpt = Annotated[
    Path | None,
    typer.Option(
        help="YAML/JSON joint mapping onto the canonical body (smplh-22) for rigs the automatic mapping gets wrong "
        "or cannot map, as in `posecast forecast` (its `up:` entry stands for --up)."
    ),
]


def file_reader(units: str | None, skeleton: str | None, fps: float | None, asf: Path | None):
    """A reader for `corpus.load_files` that reads each file as `posecast forecast` does (`posecast.api.load_motion`:
    units checked, plain numbers' body size checked, forecasts refused); ``asf`` goes to AMC clips only."""
    from posecast.api import load_motion
    from posecast.cli.common import parse_units
    from posecast.io.registry import format_suffix

    unit = parse_units(units)

    def read(path: Path) -> Any:
        clip_asf = asf if format_suffix(path) == ".amc" else None
        return load_motion(path, skeleton, fps, asf=clip_asf, units=unit)

    return read


def load_own_files(paths: list[Path], name: str, **options: Any) -> Any:
    """`corpus.load_files` for ``bench files`` and ``bench long-horizon --files``. Files that cannot be scored refuse
    the run (exit 2) with one message naming every one with its problem; nothing is written (an earlier result at
    the ``--json`` path stays as it was)."""
    from posecast.errors import listed
    from posecast.evaluation.protocols import corpus

    try:
        return corpus.load_files(paths, name, **options)
    except corpus.UnreadableFiles as exc:
        raise DataNotFoundError(f"{exc.head}: {listed(exc.items, most=len(exc.items))}") from None


def load_mapping(path: Path | None) -> dict[str, Any] | None:
    """``--mapping``: the checked mapping file (`load_mapping_file`), or None."""
    if path is None:
        return None
    from posecast.skeletons.canonical import load_mapping_file

    return load_mapping_file(path)


def progress_bar(label: str):
    """A transient progress bar on stderr and its ``tick(description, done, total)`` callback."""
    from rich.progress import Progress

    # (off where stderr is no terminal: a transient bar there only left an empty line before an error)
    progress = Progress(console=err_console, transient=True, disable=not err_console.is_terminal)
    task = progress.add_task(label, total=None)

    def tick(description: str, done: int, total: int) -> None:
        progress.update(task, description=description, completed=done, total=total)

    return progress, task, tick


# ------------------------------------------------------------------------------ motion models
@app.command("cmu-mocap")
def bench_cmu_mocap(
    model: Annotated[str, typer.Option(help="Model name.")] = "zero-velocity",
    protocol: Annotated[str, typer.Option(help="ltd8 (8 windows per file, LTD seed) or all (every window).")] = "ltd8",
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
) -> None:
    """CMU-Mocap benchmark (Li et al. 2018 split), windows, joints and units as LTD / MSR-GCN / PGBIG evaluate it;
    averaged over the test actions present (the shared data lacks basketball_signal and directing_traffic)."""
    from posecast.datasets.cmu_mocap import SKELETON, training_sequences
    from posecast.evaluation.protocols import cmu_mocap
    from posecast.evaluation.report import print_benchmark

    if protocol not in cmu_mocap.PROTOCOLS:
        raise ValueRangeError(f"unknown protocol {protocol!r}; use one of {', '.join(cmu_mocap.PROTOCOLS)}")
    check_output_dirs(json_path)
    entry, forecaster = load_model(model, weights, kinds=("motion",))
    if entry.needs_fit:
        forecaster.fit(training_sequences(), fps=cmu_mocap.FPS, skeleton=SKELETON)
    progress, _, tick = progress_bar("windows")
    with progress:
        if "rotations" in entry.inputs:  # reads the windows' rotations, not positions
            result = cmu_mocap.evaluate_rotations(forecaster, protocol)
            result.model = model
        else:
            result = cmu_mocap.evaluate(forecaster, protocol, model_name=model, progress=tick)
    d = result.to_dict()
    print_benchmark(d, console, unit=" ms")
    write_json(with_weights(d, weights, [entry.name], [entry.name] if weights else []), json_path)


@app.command("cmu-bvh")
def bench_cmu_bvh(
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
) -> None:
    """Raw CMU BVH test subjects 02 and 08: 2 s observed, 1 s forecast, real millimetres, global and root-relative."""
    from posecast.evaluation.protocols import cmu_bvh

    forecasters, entries = bench_models(model, models, weights, json_path)
    sequences = cmu_bvh.load_sequences()
    forecasters = cmu_bvh.prepare_models(forecasters)
    progress, _, tick = progress_bar("windows")
    with progress:
        result = cmu_bvh.evaluate(forecasters, sequences, progress=tick)
    cmu_bvh.print_result(result, console)
    write_json(with_weights(result, weights, *run_models(entries, weights)), json_path)


@app.command("corpus")
def bench_corpus(
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
    datasets: Annotated[
        str | None, typer.Option(help="Data sets, comma-separated (default: cmu_bvh,bandai_namco,hdm05_cuts).")
    ] = None,
    max_files: Annotated[
        int | None, typer.Option(help="Only N test files per data set, evenly spread (quick runs; printed).")
    ] = None,
) -> None:
    """Test parts of every data set on their own skeletons: 2 s + 1 s windows (1 s + 0.4 s for short clips),
    real mm, global and root-relative, bootstrap 95 % intervals; default models: the default motion model,
    zero-velocity, constant-velocity, nearest-neighbour."""
    from posecast.evaluation.protocols import corpus

    names = corpus.check_datasets(datasets)
    if max_files is not None and max_files < 1:
        raise ValueRangeError(f"--max-files must be positive, got {max_files}")
    if not model and not models:
        models = ",".join(corpus.default_model_names())
    forecasters, entries = bench_models(model, models, weights, json_path)
    forecasters = corpus.prepare_models(forecasters)
    progress, _, tick = progress_bar("loading")
    with progress:
        test_sets = [corpus.load_test_set(d, max_files=max_files, progress=tick) for d in names]
        result = corpus.evaluate(forecasters, test_sets, progress=tick)
    corpus.print_result(result, console)
    write_json(with_weights(result, weights, *run_models(entries, weights)), json_path)


@app.command("files")
def bench_files(
    paths: Annotated[list[Path], typer.Argument(help="Motion files or folders of them (searched at every depth).")],
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
    name: Annotated[str, typer.Option(help="What to call these files in the tables.")] = "files",
    max_files: Annotated[int | None, typer.Option(help="Only N files, evenly spread (quick runs; printed).")] = None,
    up: Annotated[
        str | None,
        typer.Option(help="Which axis points up in the files' world: x, y, z, -x, -y, -z (default: found per file)."),
    ] = None,
    units: UnitsOpt = None,
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    asf: AsfOpt = None,
    mapping: MappingOpt = None,
) -> None:
    """Your own motion files under the corpus protocol: 2 s + 1 s windows (1 s + 0.4 s for short files), real
    mm, global and root-relative, bootstrap 95 % intervals over files, per file in the JSON; files grouped by
    skeleton; default models: the default motion model, zero-velocity, constant-velocity (and nearest-neighbour
    when POSECAST_DATA holds the corpus). Files that cannot be read stop the run (exit 2), every one named with its
    problem, nothing written; other files in the folders are skipped and named; no file long enough for a
    window exits 2 (the JSON says so: not_scored); with POSECAST_DATA, files of the corpus's training, validation
    or test split are named (in_corpus)."""
    from posecast.datasets.paths import data_root
    from posecast.evaluation.protocols import corpus

    if max_files is not None and max_files < 1:
        raise ValueRangeError(f"--max-files must be positive, got {max_files}")
    if up is not None:
        from posecast.skeletons.canonical import parse_up

        parse_up(up)  # a bad value fails before any file is read
    if not model and models is None:
        names = corpus.default_model_names()
        if data_root(required=False) is None:  # the nearest-neighbour baseline is fitted on the corpus
            names = [n for n in names if n != "nearest-neighbour"]
            err_console.print("nearest-neighbour left out: it is fitted on the corpus (POSECAST_DATA is not set)")
        models = ",".join(names)
    read = file_reader(units, skeleton, fps, asf)
    joint_map = load_mapping(mapping)
    forecasters, entries = bench_models(model, models, weights, json_path, inputs=paths)
    progress, _, tick = progress_bar("loading")
    with progress:
        options = {"max_files": max_files, "up": up, "read": read, "progress": tick, "mapping": joint_map}
        test_sets = load_own_files(paths, name, **options)
        forecasters = corpus.prepare_models(forecasters)
        protocol = corpus.files_protocol_description(test_sets, paths, list(forecasters))
        result = corpus.evaluate(forecasters, test_sets, progress=tick, protocol=protocol)
    corpus.print_result(result, console)
    why = corpus.nothing_scored(result)
    if why:  # as `bench video`: the JSON is written and says so, the exit code is 2
        result["not_scored"] = why
    write_json(with_weights(result, weights, *run_models(entries, weights)), json_path)
    if why:
        written = f"; {json_path} records it (not_scored)" if json_path is not None else ""
        raise DataNotFoundError(f"no file could be scored ({why}){written}")


@app.command("long-horizon")
def bench_long_horizon(
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    seconds: Annotated[float, typer.Option(help="Whole seconds to roll out (1 to 120).")] = 20,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
    datasets: Annotated[
        str | None, typer.Option(help="Data sets, comma-separated (default: cmu_bvh,bandai_namco,hdm05_cuts).")
    ] = None,
    max_seeds: Annotated[
        int | None, typer.Option(help="At most N seeds per data set, evenly spread (quick runs; printed).")
    ] = None,
    train_reference: Annotated[
        bool, typer.Option(help="Also score each data set's training split (corpus) against its test data.")
    ] = True,
    plausibility: Annotated[
        bool, typer.Option(help="Distance of predicted poses to the nearest corpus training pose (needs the corpus).")
    ] = True,
    goal_model: Annotated[
        str | None,
        typer.Option(
            help="The model that should beat the others (goals; default: st-transformer when it runs, else the "
            "default motion model)."
        ),
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--files",
            help="Your own motion files or folders (repeatable) instead of the data sets' test splits, read and "
            "grouped as `bench files` does; each group is its own reference.",
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="--files: what to call them in the tables.")] = "files",
    up: Annotated[
        str | None,
        typer.Option(help="--files: which axis points up in their world: x, y, z, -x, -y, -z (default: found)."),
    ] = None,
    mapping: MappingOpt = None,
    units: UnitsOpt = None,
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    asf: AsfOpt = None,
) -> None:
    """Long rollouts on every data set's test part (ST-Transformer supplement H and more): per second, PS entropy /
    KLD, joint speed, bone-length error, foot skating, ground penetration, nearest-training-pose distance, goals.
    Default models: the default motion model, zero-velocity, constant-velocity. `--files` rolls out from your own
    files instead (groups without a file long enough for a seed are left out and listed: left_out in the JSON; none
    long enough exits 2, the JSON saying so: not_scored)."""
    from posecast.datasets.paths import data_root
    from posecast.evaluation.protocols import corpus, long_horizon

    n_seconds = long_horizon.check_seconds(seconds)
    n_seeds = long_horizon.check_max_seeds(max_seeds)
    if files and datasets:
        raise ValueRangeError("give --files or --datasets, not both")
    file_options = (up, mapping, units, skeleton, fps, asf)
    if (name != "files" or any(o is not None for o in file_options)) and not files:
        raise ValueRangeError("--name, --up, --mapping, --units, --skeleton, --fps and --asf go with --files")
    joint_map = load_mapping(mapping)
    names = [] if files else corpus.check_datasets(datasets)
    if files and data_root(required=False) is None:  # the plausibility index is the corpus's training poses
        if plausibility:
            err_console.print("nearest-training-pose distances left out: POSECAST_DATA is not set")
        plausibility = False
    if not model and models is None:
        models = ",".join(m for m in corpus.default_model_names() if m not in long_horizon.RETRIEVAL)
    forecasters, entries = bench_models(model, models, weights, json_path, inputs=files or ())
    if goal_model is not None and goal_model not in forecasters:
        raise ValueRangeError(f"--goal-model {goal_model!r} is not among the models run ({', '.join(forecasters)})")
    progress, _, tick = progress_bar("loading")
    with progress:
        left_out: dict[str, str] = {}
        if files:
            read = file_reader(units, skeleton, fps, asf)
            options = {"up": up, "read": read, "progress": tick, "mapping": joint_map}
            test_sets = load_own_files(files, name, **options)
            try:
                test_sets, left_out = long_horizon.with_seeds(test_sets)  # recorded in the JSON: left_out
            except DataNotFoundError as exc:  # no file long enough: as `bench files`, the JSON says so (not_scored)
                if json_path is None:
                    raise
                shown = [str(f) for f in files]
                write_json({"files": shown, "seconds": n_seconds, "datasets": {}, "not_scored": exc.problem}, json_path)
                raise DataNotFoundError(f"{exc.problem}; {json_path} records it (not_scored)") from None
            line = corpus.files_protocol_description(test_sets, files)["files"]  # the files of the groups kept
            if left_out:
                line += f"; left out, no file long enough for a seed: {', '.join(left_out)} (JSON: left_out)"
            train = None  # your files have no training split of their own
        else:
            test_sets = [corpus.load_test_set(d, progress=tick) for d in names]
            line = None
            train = {d: long_horizon.train_reference_sequences(d) for d in names} if train_reference else None
        forecasters = corpus.prepare_models(forecasters)
        index = long_horizon.PoseIndex.from_corpus() if plausibility else None
        goal = goal_model or long_horizon.pick_goal_model(forecasters)
        result = long_horizon.evaluate(
            forecasters,
            n_seconds,
            test_sets,
            index,
            train,
            n_seeds,
            goal,
            progress=tick,
            datasets_line=line,
            left_out=left_out,
        )
    long_horizon.print_result(result, console)
    write_json(with_weights(result, weights, *run_models(entries, weights)), json_path)


@app.command("speed")
def bench_speed(
    model: ModelListOpt = None,
    models: ModelsOpt = None,
    json_path: JsonOpt = None,
    weights: WeightsOpt = None,
    batch: Annotated[int, typer.Option(help="Batch size of the throughput run.")] = 256,
    min_seconds: Annotated[float, typer.Option(help="Least time spent on each latency measurement (s).")] = 2.0,
    seconds: Annotated[
        float, typer.Option(help="Forecast length to time (s; default 1): e.g. 20 for a long rollout.")
    ] = 1.0,
    skeleton_from: Annotated[
        Path | None,
        typer.Option(
            help="Time the models on the skeleton of this motion file (e.g. a Bandai .bvh.gz): canonical-body "
            "models then map the history onto their body and the forecast back in every call."
        ),
    ] = None,
) -> None:
    """CPU speed: batch-1 latency of a 1 s forecast (or --seconds) on one thread (median, p90), batch throughput,
    parameters."""
    from posecast.evaluation import speed
    from posecast.evaluation.protocols import cmu_bvh

    speed.check_seconds(seconds)
    if batch < 1:
        raise ValueRangeError(f"--batch must be positive, got {batch}")
    if not min_seconds >= 0:
        raise ValueRangeError(f"--min-seconds must be zero or more, got {min_seconds}")
    skel = None
    if skeleton_from is not None:
        from posecast.io import load

        skel = load(skeleton_from).skeleton
    forecasters, entries = bench_models(model, models, weights, json_path)
    if any(e.needs_fit for e in entries.values()):
        forecasters = cmu_bvh.prepare_models(forecasters)  # fitted as in the cmu-bvh protocol
    progress, task, _ = progress_bar("timing")
    with progress:
        result = speed.evaluate(
            forecasters,
            min_seconds=min_seconds,
            batch=batch,
            progress=lambda name: progress.update(task, description=f"timing {name}"),
            skeleton=skel,
            seconds=seconds,
        )
    speed.print_result(result, console)
    write_json(with_weights(result, weights, *run_models(entries, weights)), json_path)


# ------------------------------------------------------------------------------- video models
def print_tables(result: dict[str, Any]) -> None:
    """Print a result dict: lists of flat dicts become tables, the rest ``key: value`` lines."""
    from rich.table import Table

    def show(name: str, value: Any) -> None:
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            cols = list(dict.fromkeys(k for r in value for k in r if not isinstance(r[k], dict | list)))
            table = Table(title=name, title_justify="left")
            for c in cols:
                table.add_column(str(c), justify="left" if isinstance(value[0].get(c), str) else "right")
            for r in value:
                table.add_row(*(fmt(r.get(c)) for c in cols))
            console.print(table)
        elif isinstance(value, dict):
            for k, v in value.items():
                show(f"{name}.{k}" if name else str(k), v)
        else:
            console.print(f"[bold]{name}[/bold]: {value}", highlight=False)

    show("", result)


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e-2 and v != 0 else f"{v:.2f}"
    return str(v)


@app.command("video")
def bench_video(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="Video model name (repeatable; default: every video model, lift+forecast included)."
        ),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
    clips: Annotated[
        Path | None,
        typer.Option(
            "--clips",
            help="Folder of clips to score (every file with a video suffix, subfolders not searched; every other "
            "entry is listed as ignored; default $POSECAST_DATA/video).",
        ),
    ] = None,
    cmu: Annotated[
        bool, typer.Option(help="Also score the projected CMU test windows (3D and 2D; needs $POSECAST_DATA).")
    ] = True,
    corpus: Annotated[
        bool,
        typer.Option(help="Also score the projected test splits of Bandai Namco and HDM05 (3D and 2D)."),
    ] = False,
    backend: Annotated[
        bool, typer.Option(help="Also run the pose backend report (the shared clips only, about a minute).")
    ] = True,
    markdown_path: Annotated[
        Path | None, typer.Option("--markdown", help="Write the tables with their protocol as markdown.")
    ] = None,
) -> None:
    """Video forecasting benchmark: the video models (raw and anchored projections) against 2D hold and 2D constant
    velocity on real clips (PCK@0.05 / @0.1 with bootstrap intervals), and in 3D / 2D on projected CMU test data."""
    check_output_dirs(json_path, markdown_path)
    for name in model or []:
        model_entry(name, kinds=("video",))
    try:
        from posecast.evaluation.protocols import video as protocol
    except ImportError as exc:
        raise ModelError(f"the video benchmark is not available ({exc})") from exc
    if clips is not None:
        protocol.folder_clips(clips)  # a missing folder fails here, before the models load
    result = protocol.run_video_bench(
        model or None,
        json_path,
        with_cmu=cmu,
        with_corpus=corpus,
        clips_dir=clips,
        with_backend=backend and clips is None,
    )
    md = protocol.markdown(result)
    console.print(md, highlight=False, markup=False, soft_wrap=True)
    if json_path is not None:
        console.print(f"wrote {json_path}", highlight=False)
    if markdown_path is not None:
        write_text(md, markdown_path)
    if clips is not None and not protocol.scored_clips(result):  # a reviewer's script must notice
        raise DataNotFoundError(
            "no clip could be scored (" + (result.get("clips_skipped") or "every clip skipped or unreadable")
            + "; the reasons per clip are in the output)", clips
        )  # fmt: skip


@app.command("video-backend")
def bench_video_backend(
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON.")] = None,
    md: Annotated[Path | None, typer.Option(help="Write the report as a markdown table with its protocol.")] = None,
) -> None:
    """Pose backend on the shared clips: agreement with Google's reference, detection, bone stability, speed."""
    from posecast.datasets import dataset_dir
    from posecast.evaluation.protocols.video_backend import backend_report, write_report

    check_output_dirs(json_path, md)
    report = backend_report(dataset_dir("video").parent)
    print_tables({"clips": report["clips"], "reference": report["reference"]})
    for p in write_report(report, json_path, md):
        console.print(f"wrote {p}", highlight=False)


@app.command("detector-noise")
def bench_detector_noise(
    json_path: JsonOpt = None,
    markdown_path: Annotated[Path | None, typer.Option("--markdown", help="Write the tables as markdown.")] = None,
    save: Annotated[
        bool,
        typer.Option(help="Also store the noise model where CameraConfig.measured() reads it (video training)."),
    ] = False,
) -> None:
    """Detector noise of the pose backend on the shared clips (error against Google's reference, jitter,
    dropouts) and the virtual-camera noise model made from it."""
    from posecast.datasets import dataset_dir
    from posecast.evaluation.protocols import detector_noise as protocol

    check_output_dirs(json_path, markdown_path)
    model = protocol.noise_model(protocol.measure(dataset_dir("video").parent))
    text = protocol.markdown(model)
    console.print(text, highlight=False, markup=False)
    if json_path:
        write_json(model, json_path)
    if markdown_path:
        write_text(text, markdown_path)
    if save:
        console.print(f"wrote {protocol.save_noise_model(model)}", highlight=False)


# ---------------------------------------------------------------------------- key-pose models
@app.command("keyposes")
def bench_keyposes(
    model: Annotated[str, typer.Option(help="Key-pose model (see `posecast models`).")] = "charpose",
    json_path: JsonOpt = None,
    markdown_path: Annotated[Path | None, typer.Option("--markdown", help="Write the tables as markdown.")] = None,
    weights: WeightsOpt = None,
    protocol: Annotated[
        str,
        typer.Option(
            help="corpus: the test splits (CMU BVH 02/08, Bandai test styles, HDM05 bd) on smplh-22; "
            "cmu-bvh: the earlier CMU BVH subject split on cmu-bvh-31."
        ),
    ] = "corpus",
    split: Annotated[
        str, typer.Option(help="corpus: test, or validation (the corpus validation split, for choices).")
    ] = "test",
    regression_weights: Annotated[
        Path | None,
        typer.Option(help="Regression-head weights (default: the shipped corpus-regression / cmu-bvh-regression)."),
    ] = None,
    classifier: Annotated[
        Path | None,
        typer.Option(help="corpus: quality classifier folder (default: the shipped keypose-classifier/corpus)."),
    ] = None,
    samples: Annotated[
        int | None, typer.Option(help="Hypotheses drawn per input (default 10 for corpus, 50 for cmu-bvh).")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="corpus: sampling temperature (default: the model's).")
    ] = None,
    max_keys: Annotated[
        int | None, typer.Option(help="Only N test key poses (corpus: spread over the data sets; quick runs).")
    ] = None,
    max_keys_per_class: Annotated[
        int, typer.Option(help="corpus: at most N key poses per Bandai action class (evenly spread).")
    ] = 40,
    ablations: Annotated[
        bool | None, typer.Option(help="Also evaluate the ablations (default: off for corpus, on for cmu-bvh).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the draws.")] = 0,
) -> None:
    """Key-pose forecasting: best-of-10 and top-1 MPJPE, diversity, bone lengths, quality, per action class."""
    from posecast import skeletons
    from posecast.evaluation.protocols import keyposes as bench
    from posecast.models import store

    check_output_dirs(json_path, markdown_path)
    if protocol not in ("corpus", "cmu-bvh"):
        raise ValueRangeError(f"--protocol must be corpus or cmu-bvh, not {protocol!r}")
    model_entry(model, kinds=("keypose",))  # an unknown name is said so, with the list (QA: "no shipped weights")
    check_seed(seed)
    if max_keys is not None and max_keys < 1:
        raise ValueRangeError(f"--max-keys must be at least 1, got {max_keys}")
    if samples is not None and samples > MAX_SAMPLES:
        raise ValueRangeError(f"--samples must be at most {MAX_SAMPLES}, got {samples}")
    if temperature is not None and not 0 < temperature < math.inf:
        raise ValueRangeError(f"--temperature must be a positive number, got {temperature}")
    if protocol == "cmu-bvh":
        given = {"--split": split != "test", "--temperature": temperature is not None,
                 "--classifier": classifier is not None, "--max-keys-per-class": max_keys_per_class != 40}  # fmt: skip
        if any(given.values()):  # (QA: accepted, and silently not used)
            raise ValueRangeError(f"{', '.join(k for k, v in given.items() if v)}: corpus protocol options only")
        samples = 50 if samples is None else samples
        if samples < 50:
            raise ValueRangeError(f"--samples must be at least 50 (best-of-50), got {samples}")
        if weights is None and "cmu-bvh" in store.variants(model):
            weights = f"{model}/cmu-bvh"  # the shipped weights of this protocol, whichever variant is the default
        _, forecaster = load_model(model, weights, kinds=("keypose",))
        progress, task, tick = progress_bar("loading")
        with progress:
            components = bench.default_components(forecaster.net, regression_weights=regression_weights, seed=seed)
            progress.update(task, description="test data")
            data = bench.evaluation_data(max_keys=max_keys)
            result = bench.run_bench(
                data,
                samples=samples,
                seed=seed,
                model_name=model,
                ablations=True if ablations is None else ablations,
                progress=tick,
                **components,
            )
        md = bench.markdown(result)
    else:
        samples = 10 if samples is None else samples
        if samples < 10:
            raise ValueRangeError(f"--samples must be at least 10 (best-of-10), got {samples}")
        if split not in ("test", "validation"):
            raise ValueRangeError(f"--split must be test or validation, not {split!r}")
        if max_keys_per_class < 1:
            raise ValueRangeError(f"--max-keys-per-class must be at least 1, got {max_keys_per_class}")
        _, forecaster = load_model(model, weights or bench.corpus_model_weights(model), kinds=("keypose",))
        net = forecaster.net
        if not net.skeleton.same_layout(skeletons.get(bench.CORPUS_SKELETON)):
            raise SkeletonError(
                f"{model} is on {net.skeleton.name!r}; the corpus benchmark runs on {bench.CORPUS_SKELETON!r} "
                "(--protocol cmu-bvh for cmu-bvh-31 weights)"
            )
        progress, task, tick = progress_bar("loading")
        with progress:
            components = bench.corpus_components(
                net,
                regression_weights=regression_weights,
                classifier=classifier,
                seed=seed,
                progress=lambda text: progress.update(task, description=text),
            )
            progress.update(task, description=f"{split} data")
            data, counts = bench.corpus_evaluation_data(
                split,
                fps=net.config.fps,
                observed=net.config.observed,
                history=components["sequence"].history,
                max_keys_per_class=max_keys_per_class,
                max_keys=max_keys,
            )
            result = bench.run_corpus_bench(
                data,
                key_counts=counts,
                samples=samples,
                temperature=temperature,
                seed=seed,
                model_name=model,
                ablations=bool(ablations),
                split=split,
                max_keys_per_class=max_keys_per_class,
                proposals=forecaster.proposals,
                progress=tick,
                **components,
            )
        md = bench.corpus_markdown(result)
    console.print(md, highlight=False, markup=False, soft_wrap=True)
    ran = [model, "keypose-classifier", "dct-mlp"]  # charpose, the quality classifier, the timing proposals
    write_json(with_weights(result, weights, ran, [model] if weights else []), json_path)
    if markdown_path is not None:
        write_text(md, markdown_path)


def register(root: typer.Typer) -> None:
    """Add the ``bench`` group to ``root``."""
    root.add_typer(app, name="bench")
