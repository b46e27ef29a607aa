"""Copy a training run's best weights into the package and write its model card.

Usage::

    .venv/bin/python benchmarks/ship_model.py RUN_DIR NAME VARIANT [--mirror-average]

writes ``src/posecast/weights/NAME/VARIANT/{model.safetensors, config.json, MODEL_CARD.md}`` and,
for ``VARIANT == "cmu-mocap"``, runs ``posecast bench cmu-mocap`` on both protocols with the shipped
weights (results in ``benchmarks/results/cmu-mocap_{ltd8,all}_NAME.json``), whose tables go into the
card. The card lists the training data with sha256 hashes, the full config, the training time on
this machine and the per-epoch validation curve, all read from the run's ``run.json`` and
``metrics.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WEIGHTS = ROOT / "src" / "posecast" / "weights"
LABELS = ("80", "160", "320", "400", "560", "1000")


def _table(result: dict) -> list[str]:
    out = ["| action | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
    for action, row in {**result["actions"], "average": result["average"]}.items():
        out.append(f"| {action} | " + " | ".join(f"{row[label]:.2f}" for label in LABELS) + " |")
    return out


def run_cmu_benchmarks(name: str) -> dict[str, dict]:
    """``posecast bench cmu-mocap`` on both protocols with the shipped weights of ``name``; the results
    (also written to ``benchmarks/results/cmu-mocap_{ltd8,all}_NAME.json``) by protocol."""
    exe = str(Path(sys.executable).parent / "posecast")
    results = {}
    for protocol in ("ltd8", "all"):
        out = HERE / "results" / f"cmu-mocap_{protocol}_{name}.json"
        subprocess.run(
            [exe, "bench", "cmu-mocap", "--model", name, "--protocol", protocol, "--json", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        results[protocol] = json.loads(out.read_text())
    return results


def benchmark_sections(results: dict[str, dict]) -> list[str]:
    """Model-card sections: one per protocol, its description and the per-action table."""
    lines: list[str] = []
    for protocol, result in results.items():
        lines += ["", f"## CMU-Mocap benchmark, protocol `{protocol}`", ""]
        lines += [
            f"- {k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in result["protocol"].items()
        ]
        lines += ["", *_table(result)]
    return lines


def init_run(run: dict) -> tuple[Path, dict] | None:
    """The run a fine-tuning run started from (its config's ``init``), when that is a run directory."""
    init = run["config"].get("init")
    if not init:
        return None
    path = Path(init).parent if Path(init).name == "best" else Path(init)
    record = path / "run.json"
    return (path, json.loads(record.read_text())) if record.is_file() else None


def total_minutes(run: dict) -> float:
    """Training minutes of a run plus those of the run it was initialised from (recursively)."""
    found = init_run(run)
    return run.get("training_seconds", 0) / 60 + (total_minutes(found[1]) if found else 0.0)


def pretraining_sections(run: dict, heading: str = "##", files: bool = True) -> list[str]:
    """Card sections for the run a fine-tuning run started from: its data (with every file's hash when
    ``files``), config, time and curve."""
    init = run["config"].get("init")
    found = init_run(run)
    if found is None:
        return [] if not init else ["", f"{heading} Initial weights", "", f"`{init}` (no run record)"]
    path, pre = found
    metrics = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines() if x.strip()]
    mach = pre.get("machine", {})
    curve = ", ".join(f"{m['val_mpjpe_mm']:.1f}" for m in metrics if "val_mpjpe_mm" in m)
    lines = [
        "",
        f"{heading} Pretraining run `{path.name}` (the initial weights of the run above)",
        "",
        f"- data `{pre['data']['source']}`: {pre['windows']['train']} training windows, {pre['windows']['val']} "
        f"validation windows; {len(metrics)} epochs in {pre.get('training_seconds', 0) / 60:.1f} minutes "
        f"({mach.get('threads', '?')} torch thread(s) x {mach.get('processes', 1)} process(es)); best validation "
        f"{pre.get('best_val', float('nan')):.2f} mm; code version {pre.get('code_version')}",
        f"- validation MPJPE by epoch (mm): {curve}",
        "",
        "```json",
        json.dumps(pre["config"], indent=1),
        "```",
    ]
    if files and "corpus" in pre["data"]:
        lines += ["", "Training data:", "", *corpus_section(pre["data"])]
    elif files:
        lines += ["", "Training data (sha256):", "", *[f"- `{f}` `{h}`" for f, h in pre["data"]["files"].items()]]
    return lines + pretraining_sections(pre, heading, files)


def corpus_section(data: dict) -> list[str]:
    """Card lines describing a run's training corpus: its key, splits and minutes per data set."""
    c = data["corpus"]
    lines = [
        f"Source `{data['source']}`: the training corpus `{c['key']}` (`posecast corpus build`; "
        f"{c['skeleton']}, {c['fps']:g} fps, metres), training split for training, validation split for "
        "validation and the choice of epoch; files left out: "
        + (", ".join(f"`{x}*`" for x in data.get("excluded", [])) or "none")
        + ". Splits (fixed, `$POSECAST_DATA/README.md`, `posecast.datasets.splits`): CMU BVH subjects 01, 05, 06, "
        "07 (every 6th file validates), Bandai Namco every style but the validation styles (dataset-2 `exhausted`, "
        "dataset-1 `proud`, `tired`) and the test styles (dataset-2 `feminine`, dataset-1 `giant`, `sad`), the "
        "CMU-Mocap benchmark training files that are not CMU BVH files. Never seen: CMU BVH subjects 02 and 08, "
        "the Bandai test styles, HDM05.",
        "",
        "| data set | split | files | minutes |",
        "|---|---|---|---|",
    ]
    for dataset, by_split in c["minutes"].items():
        for split, minutes in by_split.items():
            lines.append(f"| {dataset} | {split} | {c['files'][dataset][split]} | {minutes:.1f} |")
    return lines


def corpus_benchmark_section(result: dict, name: str) -> list[str]:
    """Card lines with `posecast bench corpus` results (root-relative and global) of ``name``."""
    sys.path.insert(0, str(HERE))
    from make_docs import corpus_table

    lines = ["", "## Cross-data-set benchmark (`posecast bench corpus`)", ""]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in result["protocol"].items()]
    for dataset, d in result["datasets"].items():
        for kind in ("root_relative", "global"):
            lines += ["", f"{dataset}, {kind.replace('_', '-')} (real mm, mean [95 % interval])", ""]
            lines += corpus_table(d["models"], kind, list(LABELS), this=name)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("variant")
    parser.add_argument(
        "--which",
        default="best",
        help="best, last, or a round kept by keep_rounds (rounds/NNN), chosen on another validation",
    )
    parser.add_argument("--mirror-average", action="store_true", help="ship with mirror-averaged inference on")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--half", action="store_true", help="store the weights as float16 (half the size)")
    parser.add_argument("--extra", type=Path, help="a markdown file appended to the model card")
    args = parser.parse_args()
    if args.which not in ("best", "last") and not args.which.startswith("rounds/"):
        parser.error(f"--which must be best, last or rounds/NNN, not {args.which!r}")

    src = args.run / args.which
    dst = WEIGHTS / args.name / args.variant
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "model.safetensors", dst / "model.safetensors")
    meta = json.loads((src / "config.json").read_text())
    from posecast.models import store
    from posecast.models.neural import NeuralConfig
    from posecast.training.loop import shipped_data_record

    meta["config"] = store.current_keys(NeuralConfig, meta["config"])  # runs from before a field's rename
    meta["name"] = args.name
    meta["config"]["mirror_average"] = bool(args.mirror_average)
    run = json.loads((args.run / "run.json").read_text())
    metrics = [json.loads(x) for x in (args.run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    if "training_seconds" not in run and metrics:  # a run stopped by hand: the wall time of its last logged round
        run["training_seconds"] = metrics[-1].get("seconds", 0.0)
    meta["training"] = {
        "epoch": meta.get("epoch"),
        "seconds": run.get("training_seconds"),
        "parameters": run.get("parameters"),
        "code_version": run.get("code_version"),
        "data": shipped_data_record(run),
    }
    meta.pop("run", None)  # (run.json is not shipped: its data record is, above)
    (dst / "config.json").write_text(json.dumps(meta, indent=1))
    if args.half:
        state, _ = store.load_folder(dst)
        store.save_folder(dst, state, meta, half=True)

    results = {}
    if args.variant == "cmu-mocap" and args.no_bench:  # reuse results already written by a previous run
        for protocol in ("ltd8", "all"):
            out = HERE / "results" / f"cmu-mocap_{protocol}_{args.name}.json"
            if out.is_file():
                results[protocol] = json.loads(out.read_text())
    if args.variant == "cmu-mocap" and not args.no_bench:
        results = run_cmu_benchmarks(args.name)

    size_mb = (dst / "model.safetensors").stat().st_size / 1e6
    cfg = run["config"]
    machine = {"cpus": "?", "threads": "?", "processes": 1, "torch": "?", **run.get("machine", {})}
    lines = [
        f"# Model card: `{args.name}` — weights `{args.variant}`",
        "",
        f"- network: `{meta['config']['net']}` with parameters {json.dumps(meta['config']['params'])}; "
        f"{run.get('parameters'):,} trainable parameters; weights file {size_mb:.2f} MB (safetensors"
        + (", float16)" if args.half else ")"),
        f"- skeleton `{meta['config']['skeleton']}`, {meta['config']['fps']:g} fps, reads {meta['config']['history']} "
        f"frames, predicts {meta['config']['frames_per_pass']} per pass (longer horizons autoregressively), "
        f"canonical frame `{meta['config']['canonical']}`, "
        f"mirror-averaged inference: {meta['config']['mirror_average']}",
        f"- trained with `posecast train` for {len(metrics)} epochs "
        f"(weights from epoch {meta.get('epoch')}, "
        + {"best": "the best validation epoch", "last": "the last epoch"}.get(
            args.which, "chosen on another validation: see below"
        )
        + ") "
        f"in {run.get('training_seconds', 0) / 60:.1f} minutes on "
        + (
            f"one {machine['gpu']} GPU with {machine['cpus']} CPU cores "
            if machine.get("gpu")
            else f"{machine['cpus']} CPU cores "
        )
        + f"({machine['threads']} torch threads x {machine['processes']} process(es), torch "
        f"{machine['torch']}); code version {run.get('code_version')}"
        + (f"; after a pretraining run (below): {total_minutes(run):.1f} minutes in all" if init_run(run) else ""),
        f"- windows: {run['windows']['train']} training, {run['windows']['val']} validation ("
        + (
            "the corpus validation split"
            if "corpus" in run["data"]
            else "carved from the end of each training sequence"
        )
        + "; no test data seen)",
        "",
        "## Training config",
        "",
        "```json",
        json.dumps(cfg, indent=1),
        "```",
        "",
        "## Training data",
        "",
        f"Source `{run['data']['source']}`; sha256 of every file:",
        "",
    ]
    if "corpus" in run["data"]:
        lines[-2:] = corpus_section(run["data"])
    else:
        lines += [f"- `{f}` `{h}`" for f, h in run["data"]["files"].items()]
    lines += pretraining_sections(run)
    lines += [
        "",
        "## Validation curve (real mm, mean over modelled joints and predicted frames)",
        "",
        "| epoch | train loss (mm) | val MPJPE (mm) | val MPJPE last frame (mm) |",
        "|---|---|---|---|",
    ]
    for m in metrics:
        lines.append(
            f"| {m['epoch']} | {m['train_loss'] * 1000:.1f} | {m.get('val_mpjpe_mm', float('nan')):.1f} | "
            f"{m.get('val_mpjpe_mm_last', float('nan')):.1f} |"
        )
    lines += benchmark_sections(results)
    corpus_json = HERE / "results" / f"corpus_{args.name}.json"
    if args.variant == "corpus" and corpus_json.is_file():
        lines += corpus_benchmark_section(json.loads(corpus_json.read_text()), args.name)
    if args.extra:
        lines += ["", args.extra.read_text().rstrip()]
    (dst / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {dst}")


if __name__ == "__main__":
    main()
