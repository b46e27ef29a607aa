"""Model-card numbers of the video models on the projected CMU test subjects.

    python benchmarks/video_cards.py --model posemonet --model hmmr [--out-dir benchmarks/results]

writes ``video_<model>.json`` (the raw numbers of `posecast.evaluation.protocols.video.model_benchmark`,
plus `single_frame_benchmark` for models that forecast from one image) and ``video_<model>.md`` (the
tables with their protocol) for each model, with its shipped weights (or ``--weights RUN``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import posecast
from posecast.evaluation.protocols import video

COLUMNS = ("80", "160", "320", "400", "560", "1000")


def _row(observe: str, name: str, r: dict[str, Any]) -> str:
    f = r["forecast_mpjpe_mm"]
    cells = [f"{r['past_mpjpe_mm']:.1f}", f"{r['past_pa_mpjpe_mm']:.1f}", *(f"{f[c]:.1f}" for c in COLUMNS)]
    return f"| {observe} frames | {name} | " + " | ".join(cells) + f" | {r['forecast_mean_mpjpe_mm']:.1f} |"


def markdown(name: str, result: dict[str, Any], weights: str) -> str:
    """The card tables of ``result`` with their protocol."""
    p = result["protocol"]
    lines = [
        f"### `{name}` (video) on projected CMU test subjects",
        "",
        f"Protocol: {p['data']}; {p['windows']} windows of 75 frames every {p['window_stride_frames']} frames; "
        f"{p['units']}. `observe 50`: the model sees the 2D keypoints of frames 1-50 (2 s, the `posecast bench "
        "video` protocol); `observe 25`: frames 26-50 only (1 s). Forecast: the next 25 frames (1 s). "
        "`+zero-velocity`: the model's last estimated frame held.",
        "",
        "| observed | model | past MPJPE | past PA-MPJPE | "
        + " | ".join(f"{c} ms" for c in COLUMNS)
        + " | mean forecast |",
        "|---|---|---|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for observe in ("50", "25"):
        for model, r in result[f"observe_{observe}"].items():
            lines.append(_row(observe, model, r))
    single = result.get("single_frame")
    if single:
        offsets = list(single["mpjpe_mm"])
        lines += [
            "",
            f"Single frame: {single['protocol']}. Current pose: MPJPE {single['current_mpjpe_mm']:.1f} mm, "
            f"PA-MPJPE {single['current_pa_mpjpe_mm']:.1f} mm.",
            "",
            "| offset (ms) | " + " | ".join(offsets) + " |",
            "|---|" + "---|" * len(offsets),
            f"| {name} (hallucinated) | " + " | ".join(f"{single['mpjpe_mm'][o]:.1f}" for o in offsets) + " |",
            "| static (current held) | " + " | ".join(f"{single['static_mpjpe_mm'][o]:.1f}" for o in offsets) + " |",
        ]
    lines += [
        "",
        f"Weights `{weights}`. Raw numbers: `benchmarks/results/video_{name}.json`; reproduce with "
        f"`python benchmarks/video_cards.py --model {name}`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="video model name (repeatable)")
    parser.add_argument("--weights", default=None, help="weights of the (single) model instead of the shipped ones")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    for name in args.model:
        model = posecast.models.get(name, weights=args.weights)
        result = video.single_frame_benchmark(model) if hasattr(model, "single") else video.model_benchmark(model)
        weights = args.weights or f"src/posecast/weights/{name}/{posecast.models.store.default_variant(name)}"
        (args.out_dir / f"video_{name}.json").write_text(json.dumps(result, indent=1))
        (args.out_dir / f"video_{name}.md").write_text(markdown(name, result, weights))
        print(markdown(name, result, weights))


if __name__ == "__main__":
    main()
