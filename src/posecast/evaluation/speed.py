"""How fast a forecaster runs on the CPU: batch-1 latency of a 1-second forecast and batch throughput.

Protocol (every number a module constant, printed and stored with the result):

* input: one ``(1, T, J, 3)`` history of the model's own skeleton, ``T`` = the history length at
  the frame rate the model works at (a `NeuralForecaster`: its config ``history`` frames at its
  config ``fps``; baselines: 50 frames at 25 fps, the `cmu_bvh` protocol's 2 s); the forecast is
  `FORECAST_SECONDS` (1 s) at that rate, or ``seconds`` (``--seconds``: e.g. a 20 s rollout, where a
  long-horizon model's per-step costs show);
* weights: in a run of several models, a model with several shipped weight sets runs its canonical-body
  (``corpus``, 25 fps) weights when every such model in the run has them (`common_variant`), else (and in
  a run of one model) its CMU-Mocap weights where shipped; with a skeleton (``--skeleton-from``) each runs
  the weights it picks for that skeleton;
* **latency**: ``torch.set_num_threads(1)`` (restored afterwards), `WARMUP_RUNS` calls and at least
  `WARMUP_SECONDS` of warm-up, then calls timed one by one with ``time.perf_counter`` until at least
  `MIN_RUNS` calls *and* ``min_seconds`` have passed (at most `MAX_RUNS` calls); the median and the
  90th percentile are reported, through ``model.predict`` on the array and through
  ``model.forecast`` on a `Motion` (the wrapper's overhead: checks, `Forecast` construction);
* **throughput**: forecasts per second at batch `THROUGHPUT_BATCH` through ``predict`` with torch's
  default thread count, after one warm-up call, over at least `THROUGHPUT_SECONDS`;
* numpy's BLAS threads are not limited by this module (set ``OPENBLAS_NUM_THREADS=1`` /
  ``OMP_NUM_THREADS=1`` before starting Python for strictly single-threaded numpy); the machine
  record says which of those variables were set.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from posecast.errors import ValueRangeError
from posecast.models.base import Forecaster
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton

BASELINE_FPS = 25.0
BASELINE_HISTORY = 50
BASELINE_SKELETON = "cmu-bvh-31"
FORECAST_SECONDS = 1.0
MAX_FORECAST_SECONDS = 120.0
WARMUP_RUNS = 5
WARMUP_SECONDS = 0.2
MIN_RUNS = 50
MIN_SECONDS = 2.0
MAX_RUNS = 100_000
THROUGHPUT_BATCH = 256
THROUGHPUT_SECONDS = 1.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def protocol_description(
    min_seconds: float = MIN_SECONDS,
    batch: int = THROUGHPUT_BATCH,
    throughput_seconds: float = THROUGHPUT_SECONDS,
    min_runs: int = MIN_RUNS,
    seconds: float = FORECAST_SECONDS,
) -> dict[str, Any]:
    """The protocol as data, printed with every table and stored in every JSON."""
    return {
        "benchmark": "speed",
        "forecast": f"{seconds:g} s at the model's frame rate",
        "history": f"NeuralForecaster: its config history at its config fps; baselines: {BASELINE_HISTORY} frames "
        f"at {BASELINE_FPS:g} fps on {BASELINE_SKELETON}",
        "latency": f"batch 1, torch threads 1, {WARMUP_RUNS} warm-up calls (>= {WARMUP_SECONDS:g} s), then >= "
        f"{min_runs} timed calls and >= {min_seconds:g} s (at most {MAX_RUNS}); median and p90, ms",
        "paths": "predict(array (1, T, J, 3)) and forecast(Motion) (the wrapper's overhead on top)",
        "throughput": f"batch {batch} through predict, torch default threads, >= {throughput_seconds:g} s, "
        "forecasts per second",
        "blas_threads": "numpy BLAS threads as the environment sets them (see machine)",
    }


def machine_info() -> dict[str, Any]:
    """CPU model, core count, load average, library versions and thread settings of this machine."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    try:  # other work on the machine slows every timing: say how busy it was
        load = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_1_5_15_min": load,
        "cores_usable": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "torch_threads_default": torch.get_num_threads(),
        "env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
    }


def model_setup(model: Forecaster) -> tuple[float, int, Skeleton, int]:
    """``(fps, history frames, skeleton, parameter count)`` a speed run uses for ``model``."""
    from posecast import skeletons

    config = getattr(model, "config", None)
    net = getattr(model, "net", None)
    if config is not None and net is not None:  # a NeuralForecaster
        params = int(sum(p.numel() for p in net.parameters()))
        return float(config.fps), int(config.history), skeletons.get(config.skeleton), params
    history = max(BASELINE_HISTORY, int(getattr(model, "min_history", 1)))
    return BASELINE_FPS, history, skeletons.get(BASELINE_SKELETON), 0


def sample_history(skeleton: Skeleton, frames: int, fps: float, batch: int = 1) -> np.ndarray:
    """A deterministic moving ``(batch, frames, J, 3)`` history in metres for timing runs.

    The skeleton's rest pose (or seeded random points for keypoint layouts without offsets) standing on the floor
    (its lowest joint at y = 0) and walking forward at 1.2 m/s with a small per-joint sway, so no model sees a
    degenerate (static) input. Why on the floor: a canonical-body model bound to a skeleton (what ``forecast``, the
    CLI and the service run) lowers a history to the floor, its unbound ``predict`` reads it as given; the rest pose
    hung with its feet 0.96 m below the floor made the two time different rollouts (a 20 s ``st-transformer``
    rollout took 2.0 s through ``predict``, 1.0 s through ``forecast``: most poses of the first were pulled back by
    the pose prior).
    """
    rng = np.random.default_rng(0)
    j = skeleton.num_joints
    rest = skeleton.rest_positions() if skeleton.offsets is not None else rng.normal(0.0, 0.3, (j, 3))
    rest = rest - [0.0, rest[:, 1].min(), 0.0]
    t = np.arange(frames) / fps
    sway = 0.03 * np.sin(2 * np.pi * 1.5 * t[:, None, None] + rng.uniform(0, 2 * np.pi, (1, j, 3)))
    walk = np.zeros((frames, 1, 3))
    walk[:, 0, 2] = 1.2 * t
    one = rest[None] + sway + walk  # (frames, J, 3)
    return np.repeat(one[None], batch, axis=0)


def time_calls(
    fn: Callable[[], Any],
    min_runs: int = MIN_RUNS,
    min_seconds: float = MIN_SECONDS,
    max_runs: int = MAX_RUNS,
    warmup_runs: int = WARMUP_RUNS,
    warmup_seconds: float = WARMUP_SECONDS,
) -> np.ndarray:
    """Seconds taken by each of several calls of ``fn`` after a warm-up.

    Returns:
        ``(N,)`` durations, ``N >= min_runs``; calls continue until ``min_seconds`` of timed calls
        have passed too, or ``max_runs`` calls.
    """
    if min_runs < 1 or max_runs < min_runs or min_seconds < 0:
        raise ValueRangeError(f"impossible timing budget: {min_runs} to {max_runs} runs, {min_seconds} s")
    start = time.perf_counter()
    done = 0
    while done < warmup_runs or time.perf_counter() - start < warmup_seconds:
        fn()
        done += 1
    times = []
    total = 0.0
    while len(times) < max_runs and (len(times) < min_runs or total < min_seconds):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
    return np.array(times)


def check_seconds(seconds: float) -> None:
    """A forecast length the bench can time: more than 0 and at most `MAX_FORECAST_SECONDS`."""
    if isinstance(seconds, bool) or not 0 < seconds <= MAX_FORECAST_SECONDS:
        raise ValueRangeError(
            f"forecast length must be more than 0 and at most {MAX_FORECAST_SECONDS:g} s, got {seconds}"
        )


def _ms(times: np.ndarray) -> tuple[float, float]:
    return float(np.median(times) * 1e3), float(np.percentile(times, 90) * 1e3)


def measure(
    model: Forecaster,
    min_runs: int = MIN_RUNS,
    min_seconds: float = MIN_SECONDS,
    batch: int = THROUGHPUT_BATCH,
    throughput_seconds: float = THROUGHPUT_SECONDS,
    skeleton: Skeleton | None = None,
    variant: str | None = None,
    seconds: float = FORECAST_SECONDS,
) -> dict[str, Any]:
    """Latency and throughput of one model forecasting ``seconds`` (module docstring). With ``skeleton`` the model runs
    bound to it (`Forecaster.on_skeleton`: for canonical-body models the joint mapping both ways is part
    of every call), on a history of that skeleton at the model's frame rate. Without, a model with several
    shipped weight sets runs its ``variant`` when it has one, else its first (`_first_variant`).

    Returns:
        ``{"latency_ms_batch1", "latency_ms_batch1_p90", "forecast_latency_ms_batch1",
        "forecast_latency_ms_batch1_p90", "wrapper_overhead_ms", "latency_runs", "forecast_runs",
        "throughput_forecasts_per_s", "throughput_batch", "throughput_threads", "parameters", "fps",
        "history_frames", "forecast_frames", "skeleton", "joints"}``.
    """
    import torch

    if batch < 1:
        raise ValueRangeError(f"throughput batch must be positive, got {batch}")
    check_seconds(seconds)
    from posecast.models.neural import PretrainedModel

    if skeleton is not None:
        model = model.on_skeleton(skeleton)
        fps, history, _, params = model_setup(getattr(model, "inner", model))
    else:
        if isinstance(model, PretrainedModel):
            model = model.variant(variant if variant in model.variants else _first_variant(model))
        fps, history, skeleton, params = model_setup(model)
    frames = max(1, round(seconds * fps))
    h1 = sample_history(skeleton, history, fps)
    motion = Motion(positions=h1[0], fps=fps, skeleton=skeleton)
    default_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        lat = time_calls(lambda: model.predict(h1, frames, 1, fps=fps), min_runs, min_seconds)
        fc = time_calls(lambda: model.forecast(motion, frames=frames), min_runs, min_seconds)
    finally:
        torch.set_num_threads(default_threads)
    hb = sample_history(skeleton, history, fps, batch)
    model.predict(hb, frames, 1, fps=fps)  # warm-up at this batch size
    calls, t0 = 0, time.perf_counter()
    while calls < 1 or time.perf_counter() - t0 < throughput_seconds:
        model.predict(hb, frames, 1, fps=fps)
        calls += 1
    elapsed = time.perf_counter() - t0
    p50, p90 = _ms(lat)
    f50, f90 = _ms(fc)
    return {
        "latency_ms_batch1": p50,
        "latency_ms_batch1_p90": p90,
        "forecast_latency_ms_batch1": f50,
        "forecast_latency_ms_batch1_p90": f90,
        "wrapper_overhead_ms": f50 - p50,
        "latency_runs": int(lat.shape[0]),
        "forecast_runs": int(fc.shape[0]),
        "latency_threads": 1,
        "throughput_forecasts_per_s": batch * calls / elapsed,
        "throughput_batch": batch,
        "throughput_threads": default_threads,
        "parameters": params,
        "fps": fps,
        "history_frames": history,
        "forecast_frames": frames,
        "skeleton": skeleton.name,
        "joints": skeleton.num_joints,
        **({"indexed_windows": int(model.num_windows)} if hasattr(model, "num_windows") else {}),
    }


#: the weight set a speed run without a skeleton times when every model with several has it: the
#: canonical-body weights (25 fps), so that models are compared at the same frame rate on the same body
COMMON_VARIANT = "corpus"


def _first_variant(model) -> str:
    """A `PretrainedModel`'s weight set timed when the run has no common one: CMU-Mocap when shipped."""
    return "cmu-mocap" if "cmu-mocap" in model.variants else model.variants[0]


def common_variant(models: Mapping[str, Forecaster]) -> str | None:
    """For a comparison (two models or more): `COMMON_VARIANT` when every model with several shipped weight
    sets (a `PretrainedModel`) has it and there is at least one such model; else None (each its
    `_first_variant`, as a run of one model always does)."""
    from posecast.models.neural import PretrainedModel

    multi = [m for m in models.values() if isinstance(m, PretrainedModel)]
    ok = len(models) > 1 and multi and all(COMMON_VARIANT in m.variants for m in multi)
    return COMMON_VARIANT if ok else None


def evaluate(
    models: Mapping[str, Forecaster],
    min_runs: int = MIN_RUNS,
    min_seconds: float = MIN_SECONDS,
    batch: int = THROUGHPUT_BATCH,
    throughput_seconds: float = THROUGHPUT_SECONDS,
    progress: Callable[[str], None] | None = None,
    skeleton: Skeleton | None = None,
    seconds: float = FORECAST_SECONDS,
) -> dict[str, Any]:
    """Speed of several models on this machine, each forecasting ``seconds``.

    Returns:
        ``{"protocol", "machine", "model", "latency_ms_batch1", "models": {name: measure(...)}}``; the
        top-level ``model`` / ``latency_ms_batch1`` are those of the first model (the only one when a
        single model is measured), so a one-model result reads flat.
    """
    if not models:
        raise ValueRangeError("no model to time")
    check_seconds(seconds)
    protocol = protocol_description(min_seconds, batch, throughput_seconds, min_runs, seconds)
    out: dict[str, Any] = {"protocol": protocol, "machine": machine_info()}
    variant = common_variant(models) if skeleton is None else None
    if variant is not None:
        protocol["weights"] = f"every model with several shipped weight sets runs its {variant!r} weights"
    results = {}
    for name, model in models.items():
        if progress:
            progress(name)
        results[name] = measure(model, min_runs, min_seconds, batch, throughput_seconds, skeleton, variant, seconds)
    first = next(iter(results))
    out.update(model=first, latency_ms_batch1=results[first]["latency_ms_batch1"], models=results)
    return out


def print_result(result: Mapping[str, Any], console: Any = None) -> None:
    """Print the protocol, the machine and a table with one row per model."""
    from rich.console import Console
    from rich.table import Table

    from posecast.evaluation.report import protocol_lines

    console = console or Console()
    console.print(f"[bold]{', '.join(result['models'])}[/bold] on {result['protocol']['benchmark']}")
    for line in protocol_lines(result["protocol"]):
        console.print(f"  {line}", highlight=False)
    m = result["machine"]
    console.print(
        f"machine: {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), torch {m['torch']} "
        f"(default {m['torch_threads_default']} threads), numpy {m['numpy']}"
        + (", " + ", ".join(f"{k}={v}" for k, v in m["env"].items()) if m["env"] else ""),
        highlight=False,
    )
    first = next(iter(result["models"].values()))
    table = Table(title="speed", title_justify="left")
    columns = ("model", "params", "history", "predict p50 ms", "p90", "forecast p50 ms", "p90")
    for col in (*columns, f"forecasts/s (batch {first['throughput_batch']}, {first['throughput_threads']} thr)"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name, r in result["models"].items():
        table.add_row(
            name,
            f"{r['parameters']:,}",
            f"{r['history_frames']} @ {r['fps']:g} fps",
            f"{r['latency_ms_batch1']:.3f}",
            f"{r['latency_ms_batch1_p90']:.3f}",
            f"{r['forecast_latency_ms_batch1']:.3f}",
            f"{r['forecast_latency_ms_batch1_p90']:.3f}",
            f"{r['throughput_forecasts_per_s']:,.0f}",
        )
    console.print(table)
