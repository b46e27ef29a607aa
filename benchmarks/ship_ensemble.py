"""Assemble the best weights of several training runs into one ``ensemble`` model, ship it, card it.

Usage::

    .venv/bin/python benchmarks/ship_ensemble.py NAME VARIANT RUN_DIR [RUN_DIR ...] [--mirror-average]

writes ``src/posecast/weights/NAME/VARIANT/{model.safetensors, config.json, MODEL_CARD.md}``: one
network whose output is the mean of the runs' networks (``posecast.models.ensemble``). For
``VARIANT == "cmu-mocap"`` it runs ``posecast bench cmu-mocap`` on both protocols with the shipped
weights (``benchmarks/results/cmu-mocap_{ltd8,all}_NAME.json``) and puts the tables in the card,
next to each member's own all-windows average. The card lists every member run: its config,
training time, best epoch and validation score, and the training data with sha256 hashes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WEIGHTS = ROOT / "src" / "posecast" / "weights"
sys.path.insert(0, str(HERE))

from ship_model import LABELS, benchmark_sections, init_run, pretraining_sections, run_cmu_benchmarks  # noqa: E402


def pretrained(run: dict) -> str:
    """The member's pretraining run, its data and minutes, or a dash."""
    found = init_run(run)
    if found is None:
        return "-"
    path, pre = found
    return f"`{path.name}` ({pre['data']['source']}, {pre.get('training_seconds', 0) / 60:.1f} min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("variant")
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--mirror-average", action="store_true", help="ship with mirror-averaged inference on")
    parser.add_argument("--no-bench", action="store_true")
    args = parser.parse_args()

    from posecast.evaluation.protocols import cmu_mocap
    from posecast.models.ensemble import assemble, load_members

    members = load_members([r / "best" for r in args.runs])
    ens = assemble(members, args.name, mirror_average=args.mirror_average)
    dst = WEIGHTS / args.name / args.variant
    runs = [json.loads((r / "run.json").read_text()) for r in args.runs]
    metas = [json.loads((r / "best" / "config.json").read_text()) for r in args.runs]
    ens.save(
        dst,
        {
            "members": [
                {
                    "run": str(r),
                    "epoch": m.get("epoch"),
                    "seconds": run.get("training_seconds"),
                    "code_version": run.get("code_version"),
                }
                for r, m, run in zip(args.runs, metas, runs, strict=True)
            ]
        },
    )
    results = {} if args.no_bench or args.variant != "cmu-mocap" else run_cmu_benchmarks(args.name)
    member_all = []
    if results:
        for m in members:  # each member alone, same protocol and inference settings
            m.config.mirror_average = args.mirror_average
            member_all.append(cmu_mocap.evaluate(m, "all").average)

    size_mb = (dst / "model.safetensors").stat().st_size / 1e6
    params = sum(p.numel() for p in ens.net.parameters())
    c = ens.config
    lines = [
        f"# Model card: `{args.name}` — weights `{args.variant}`",
        "",
        f"- network: `ensemble` of {len(members)} `{c.params['net']}` networks with parameters "
        f"{json.dumps(c.params['params'])}: the forecast is the mean of the members' outputs (in the canonical "
        f"frame, every pass); {params:,} parameters in all; weights file {size_mb:.2f} MB (safetensors)",
        f"- skeleton `{c.skeleton}`, {c.fps:g} fps, reads {c.history} frames, predicts {c.frames_per_pass} per pass "
        f"(longer horizons autoregressively), canonical frame `{c.canonical}`, mirror-averaged inference: "
        f"{c.mirror_average}",
        "- the members were trained independently with `posecast train` (one run each, configs below) and "
        "assembled with `benchmarks/ship_ensemble.py`; no test data was seen by any run",
        "",
        "## Members",
        "",
        "| member | run | best epoch / epochs | best val MPJPE (mm) | training minutes | threads x processes | "
        "code version | started from |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, (r, run, meta) in enumerate(zip(args.runs, runs, metas, strict=True)):
        metrics = [json.loads(x) for x in (r / "metrics.jsonl").read_text().splitlines() if x.strip()]
        mach = run.get("machine", {})
        lines.append(
            f"| {i} | `{r.name}` | {meta.get('epoch')} / {len(metrics)} | {run.get('best_val', float('nan')):.2f} | "
            f"{run.get('training_seconds', 0) / 60:.1f} | {mach.get('threads', '?')} x {mach.get('processes', 1)} | "
            f"{run.get('code_version')} | {pretrained(run)} |"
        )
    for i, run in enumerate(runs):
        lines += ["", f"### Member {i} training config", "", "```json", json.dumps(run["config"], indent=1), "```"]
        lines += pretraining_sections(run, "####", files=False)
    every_run = [*runs, *(found[1] for run in runs if (found := init_run(run)))]  # pretraining runs too
    sources = sorted({run["data"]["source"] for run in every_run})
    files = {f: h for run in every_run for f, h in run["data"]["files"].items()}
    lines += ["", "## Training data", "", f"Source(s) `{'`, `'.join(sources)}`; sha256 of every file:", ""]
    lines += [f"- `{f}` `{h}`" for f, h in files.items()]
    lines += benchmark_sections(results)
    if member_all:
        lines += [
            "",
            "## Each member alone (protocol `all`, six-action average, same inference settings)",
            "",
            "| member | " + " | ".join(LABELS) + " |",
            "|---|" + "---|" * len(LABELS),
        ]
        for i, avg in enumerate(member_all):
            lines.append(f"| {i} | " + " | ".join(f"{avg[label]:.2f}" for label in LABELS) + " |")
        avg = results["all"]["average"]
        lines.append("| ensemble | " + " | ".join(f"{avg[label]:.2f}" for label in LABELS) + " |")
    (dst / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {dst}")


if __name__ == "__main__":
    main()
