"""CLI commands of the keypose work; `register` adds them to the app (see `posecast.cli.app`).

* ``posecast keyposes FILE [--out PATH.{json,html,mp4,gif}]``: mine and list key poses.
* ``posecast forecast FILE --model charpose`` (dispatched here by app.py): `forecast_keypose`.
* ``posecast bench keyposes --model charpose [--json PATH]``: `posecast.keyposes.bench`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from posecast.errors import ModelError, SkeletonError, ValueRangeError

KEYPOSE_OUTPUTS = (".json", ".html", ".mp4", ".gif")
FORECAST_OUTPUTS = (".json", ".npz", ".html")
SHIPPED = "cmu-bvh"
"""Variant of the shipped charpose weights (``src/posecast/weights/charpose/<variant>``)."""


def _weights_dir(name: str, weights: Path | None) -> Path:
    """The folder holding ``config.json`` + ``model.safetensors``: ``weights`` (a run directory, its
    ``best/``, or a weights folder) or the shipped ``weights/<name>/cmu-bvh``."""
    from posecast.models.neural import WEIGHTS_DIR

    if weights is None:
        folder = WEIGHTS_DIR / name / SHIPPED
        if not (folder / "config.json").is_file():
            raise ModelError(f"model {name!r} has no shipped weights; train one and pass --weights DIR", folder)
        return folder
    return weights / "best" if (weights / "best" / "config.json").is_file() else weights


def load_keypose_net(name: str, weights: Path | None = None):
    """A trained `CharPoseNet` for model ``name`` (only ``charpose`` exists)."""
    from posecast.keyposes.model import load_charpose

    if name != "charpose":
        raise ModelError(f"unknown key-pose model {name!r}; available: charpose")
    return load_charpose(_weights_dir(name, weights))


# ------------------------------------------------------------------------------------- keyposes
def keyposes(
    file: Annotated[Path, typer.Argument(help="A motion file.")],
    out: Annotated[
        Path | None, typer.Option(help="Write .json (key poses with positions), or .html / .mp4 / .gif (rendered).")
    ] = None,
    skip_frames: Annotated[
        int, typer.Option(help="Ignore this many frames at the start (1 for CMU BVH files: frame 0 is a T-pose).")
    ] = 0,
    smoothing: Annotated[float | None, typer.Option(help="Trajectory smoothing in seconds (default 0.05).")] = None,
    min_separation: Annotated[
        float | None, typer.Option(help="Minimum seconds between key poses (default 0.3).")
    ] = None,
    prominence: Annotated[
        float | None, typer.Option(help="Metres the body must return after a key pose (default 0.05).")
    ] = None,
    reference: Annotated[
        float | None, typer.Option(help="Width in seconds of the moving reference pose (default 0.75).")
    ] = None,
    skeleton: Annotated[str | None, typer.Option(help="Skeleton name for files that hold only numbers (.npy).")] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate for files that hold only numbers (.npy).")] = None,
) -> None:
    """Mine the characteristic key poses of a motion (moments of most articulation before returning)."""
    from rich.table import Table

    from posecast.cli.app import _check_outputs, _load_motion, console
    from posecast.keyposes import mine_keyposes

    if out is not None:
        _check_outputs([out], KEYPOSE_OUTPUTS)
    motion = _load_motion(file, skeleton, fps)
    if not 0 <= skip_frames < motion.num_frames:
        raise ValueRangeError(f"--skip-frames {skip_frames} must be in [0, {motion.num_frames}) for this motion")
    options = {
        k: v
        for k, v in (
            ("smoothing_s", smoothing),
            ("min_separation_s", min_separation),
            ("prominence", prominence),
            ("reference_s", reference),
        )
        if v is not None
    }
    clip = motion.frames(skip_frames)
    found = mine_keyposes(clip, **options)
    table = Table(title=f"{file.name}: {len(found)} key poses", title_justify="left")
    for col in ("frame", "time (s)", "score (m)", "driven by"):
        table.add_column(col, justify="left" if col == "driven by" else "right")
    for k in found:
        table.add_row(
            str(k.frame + skip_frames),
            f"{(k.frame + skip_frames) / motion.fps:.3f}",
            f"{k.score:.3f}",
            ", ".join(k.joint_names),
        )
    console.print(table)
    if out is None:
        return
    if out.suffix.lower() == ".json":
        from posecast.io import atomic_output

        doc = {
            "file": str(file),
            "fps": motion.fps,
            "skeleton": motion.skeleton.name,
            "joint_names": list(motion.skeleton.joint_names),
            "skipped_frames": skip_frames,
            "options": options,
            "keyposes": [
                {
                    **k.to_dict(),
                    "frame": k.frame + skip_frames,
                    "time_s": (k.frame + skip_frames) / motion.fps,
                    "positions": np.round(clip.positions[k.frame], 6).tolist(),
                }
                for k in found
            ],
        }
        with atomic_output(out) as tmp:
            tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    else:
        from posecast.keyposes.render import render_keyposes

        render_keyposes(clip, found, out)
    console.print(f"wrote {out}", highlight=False)


# ------------------------------------------------------------------------------------- forecast
def observed_window(motion: Any, fps: float, observed: int, at: float | None) -> tuple[np.ndarray, int, Any]:
    """``(window (O, J, 3) world positions, index of its last frame at fps, the motion at fps)``: the
    ``observed`` frames ending at time ``at`` (the frame nearest to it; default: the clip's end)."""
    clip = motion.resample(fps)
    last = clip.num_frames - 1 if at is None else int(round(at * fps))
    if at is not None and not 0 <= at <= motion.duration:
        raise ValueRangeError(f"--at {at} s is outside the motion (0 to {motion.duration:.2f} s)")
    if last + 1 < observed:
        need = (observed - 1) / fps
        where = "the clip" if at is None else f"--at {at} s"
        raise ValueRangeError(
            f"{where} leaves {last + 1} frames at {fps:g} fps before the forecast; the model observes "
            f"{observed} (use --at {need:.2f} or later)"
        )
    return clip.positions[last - observed + 1 : last + 1].astype(np.float32), last, clip


def forecast_keypose(
    file: Path,
    *,
    model: str,
    samples: int,
    at: float | None,
    outs: list[Path],
    weights: Path | None,
    skeleton: str | None,
    fps: float | None,
) -> dict[str, Any]:
    """``posecast forecast FILE --model charpose``: K refined key-pose hypotheses with probabilities.

    The network observes the ``O`` frames (at its rate) ending at ``--at`` (default: the clip's end);
    with ``--at`` the true next key pose is the first key pose mined from the whole clip
    (`posecast.keyposes.mine_keyposes`, default criterion) after the last observed frame. Outputs:
    ``.json`` / ``.npz`` (hypotheses in world coordinates placed at the last observed root, and
    ``root_relative``: in the hip-centred frame the network predicts in, where the predicted hip --
    drawn from its heatmap like every joint -- lies near, not exactly at, the origin; probabilities;
    skeleton; the observed window; the true key pose when known, root-relative as scored) and
    ``.html`` (observed window, then every hypothesis and the true key pose, all at the last
    observed root). Returns the JSON document.
    """
    import torch
    from rich.table import Table

    from posecast.cli.app import _check_outputs, _load_motion, console
    from posecast.keyposes.sampling import predict_keyposes

    if outs:
        _check_outputs(outs, FORECAST_OUTPUTS)
    if samples < 1:
        raise ValueRangeError(f"--samples must be at least 1, got {samples}")
    folder = _weights_dir(model, weights) if model == "charpose" else None
    net = load_keypose_net(model, weights)
    cfg = net.config
    motion = _load_motion(file, skeleton, fps)
    if not motion.skeleton.same_layout(net.skeleton):
        raise SkeletonError(
            f"{file}: motion on skeleton {motion.skeleton.name!r} ({motion.num_joints} joints), model {model!r} "
            f"on {net.skeleton.name!r} ({net.skeleton.num_joints} joints)"
        )
    window, last, clip = observed_window(motion, cfg.fps, cfg.observed, at)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        hyp = predict_keyposes(net, torch.as_tensor(window)[None], samples=samples, generator=gen)
    rel = hyp.poses[0].double().numpy()  # (K, J, 3) root-relative
    prob = hyp.probabilities[0].double().numpy()
    order = np.argsort(-prob, kind="stable")
    rel, prob = rel[order], prob[order]
    root = window[-1, 0].astype(np.float64)
    world = rel + root
    truth = None
    if at is not None:
        from posecast.keyposes import mine_keyposes

        t_last = last / cfg.fps
        after = [k for k in mine_keyposes(motion) if k.time > t_last + 0.5 / cfg.fps]
        if after:
            k = after[0]
            pose = motion.positions[k.frame].astype(np.float64)
            true_rel = pose - pose[:1]
            err = np.linalg.norm(rel - true_rel, axis=-1).mean(-1)
            truth = {
                "frame": int(k.frame),
                "time_s": float(k.time),
                "seconds_after_last_observed": float(k.time - t_last),
                "positions": pose,
                "root_relative": true_rel,
                "mpjpe_m": err,
            }
    names = list(net.skeleton.joint_names)
    doc: dict[str, Any] = {
        "file": str(file),
        "model": model,
        "weights": str(folder) if folder is not None else None,
        "skeleton": net.skeleton.name,
        "joint_names": names,
        "parents": list(net.skeleton.parents),
        "fps": cfg.fps,
        "observed_frames": cfg.observed,
        "last_observed_time_s": last / cfg.fps,
        "at_s": at,
        "refined": bool(hyp.refined),
        "temperature": cfg.temperature,
        "observed": np.round(window, 6).tolist(),
        "hypotheses": [
            {
                "probability": float(p),
                "positions": np.round(w, 6).tolist(),
                "root_relative": np.round(r, 6).tolist(),
                **({"mpjpe_m": float(truth["mpjpe_m"][i])} if truth else {}),
            }
            for i, (p, w, r) in enumerate(zip(prob, world, rel, strict=True))
        ],
        "true_keypose": None
        if truth is None
        else {
            "frame": truth["frame"],
            "time_s": truth["time_s"],
            "seconds_after_last_observed": truth["seconds_after_last_observed"],
            "positions": np.round(truth["positions"], 6).tolist(),
            "root_relative": np.round(truth["root_relative"], 6).tolist(),
            "best_of_k_mpjpe_m": float(truth["mpjpe_m"].min()),
        },
    }
    table = Table(
        title=f"{file.name}: {samples} key-pose hypotheses after t = {last / cfg.fps:.2f} s ({model})",
        title_justify="left",
    )
    for col in ("#", "probability", *(["MPJPE to true key pose (m)"] if truth else [])):
        table.add_column(col, justify="right")
    for i, h in enumerate(doc["hypotheses"]):
        table.add_row(str(i + 1), f"{h['probability']:.3f}", *([f"{h['mpjpe_m']:.3f}"] if truth else []))
    console.print(table)
    if truth is not None:
        console.print(
            f"true next key pose: frame {truth['frame']} (t = {truth['time_s']:.2f} s); best of {samples}: "
            f"{doc['true_keypose']['best_of_k_mpjpe_m']:.3f} m",
            highlight=False,
        )
    for out in outs:
        _write_keypose_forecast(doc, out, window, world, rel, prob, truth, clip, net.skeleton)
        console.print(f"wrote {out}", highlight=False)
    return doc


def _write_keypose_forecast(doc, out: Path, window, world, rel, prob, truth, clip, skel) -> None:
    from posecast.io import atomic_output

    suffix = out.suffix.lower()
    if suffix == ".json":
        with atomic_output(out) as tmp:
            tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    elif suffix == ".npz":
        arrays = {
            "observed": window.astype(np.float64),
            "hypotheses": world,
            "hypotheses_root_relative": rel,
            "probabilities": prob,
            "joint_names": np.array(doc["joint_names"], dtype=str),
            "parents": np.array(doc["parents"], dtype=np.int64),
            "skeleton": np.array(doc["skeleton"], dtype=str),
            "fps": np.array(doc["fps"], dtype=np.float64),
            "last_observed_time_s": np.array(doc["last_observed_time_s"], dtype=np.float64),
        }
        if truth is not None:
            arrays["true_keypose"] = truth["positions"]
            arrays["true_keypose_root_relative"] = truth["root_relative"]
            arrays["true_keypose_time_s"] = np.array(truth["time_s"], dtype=np.float64)
        with atomic_output(out) as tmp:
            with tmp.open("wb") as fh:
                np.savez(fh, **arrays)
    else:
        from posecast.motion import Forecast
        from posecast.viz import render

        history = clip.with_positions(window.astype(np.float64))
        root = window[-1, 0].astype(np.float64)
        gt = None if truth is None else (truth["root_relative"] + root)[None]
        fc = Forecast(
            samples=world[:, None],
            fps=doc["fps"],
            skeleton=skel,
            probabilities=prob,
            history=history,
            ground_truth=gt,
            model=doc["model"],
        )
        name = Path(doc["file"]).name
        known = f"; green: true next key pose at t = {truth['time_s']:.2f} s" if truth else ""
        title = (
            f"{name}: {len(prob)} key-pose hypotheses after t = {doc['last_observed_time_s']:.2f} s "
            f"(opacity: probability){known}"
        )
        render(fc, out, title=title, max_samples=len(prob))


# ------------------------------------------------------------------------------------- bench
def bench_keyposes(
    model: Annotated[str, typer.Option(help="Key-pose model (charpose).")] = "charpose",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
    markdown_path: Annotated[Path | None, typer.Option("--markdown", help="Write the table as markdown.")] = None,
    weights: Annotated[Path | None, typer.Option(help="Weights folder or training run directory.")] = None,
    regression_weights: Annotated[
        Path | None, typer.Option(help="Regression-head weights (default: the shipped cmu-bvh-regression).")
    ] = None,
    samples: Annotated[int, typer.Option(help="Hypotheses drawn per input (best-of-10 uses the first 10).")] = 50,
    max_keys: Annotated[int | None, typer.Option(help="Only the first N test key poses (quick runs).")] = None,
    ablations: Annotated[bool, typer.Option(help="Also evaluate the ablations.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the draws.")] = 0,
) -> None:
    """Key-pose forecasting on CMU BVH test subjects 02, 08: best-of-10/50 MPJPE, diversity, bone lengths, quality."""
    from rich.progress import Progress

    from posecast.cli.app import _write_json, console, err_console
    from posecast.io import atomic_output
    from posecast.keyposes import bench

    for p in (json_path, markdown_path):
        if p is not None and not p.parent.exists():
            raise ValueRangeError(f"{p}: output directory does not exist")
    if samples < 50:
        raise ValueRangeError(f"--samples must be at least 50 (best-of-50), got {samples}")
    net = load_keypose_net(model, weights)
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("loading", total=None)

        def tick(label: str, done: int, total: int) -> None:
            progress.update(task, description=label, completed=done, total=total)

        components = bench.default_components(net, regression_weights=regression_weights, seed=seed)
        progress.update(task, description="test data")
        data = bench.evaluation_data(max_keys=max_keys)
        result = bench.run_bench(
            data, samples=samples, seed=seed, model_name=model, ablations=ablations, progress=tick, **components
        )
    md = bench.markdown(result)
    console.print(md, highlight=False, markup=False)
    _write_json(result, json_path)
    if markdown_path is not None:
        with atomic_output(markdown_path) as tmp:
            tmp.write_text(md, encoding="utf-8")
        console.print(f"wrote {markdown_path}", highlight=False)


def register(app: Any, bench_app: Any) -> None:
    """Add this module's commands to `app` and its benchmarks to `bench_app`."""
    app.command(name="keyposes")(keyposes)
    bench_app.command(name="keyposes")(bench_keyposes)
