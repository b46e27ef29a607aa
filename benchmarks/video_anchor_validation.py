"""How the anchoring constants of the video models' 2D forecasts were chosen (validation data only).

    python benchmarks/video_anchor_validation.py [--out benchmarks/results/video_anchor_validation.json]

runs `posecast.evaluation.protocols.video.anchor_validation` with the shipped video models: future PCK@0.05
on projected *validation* windows (the held-out ends of the CMU BVH training sequences and the Bandai Namco
validation styles, filmed by seeded virtual cameras) for a grid of translation / pose scales, the raw
projection, the 2D baselines and a visibility-weighted anchor; ``chosen`` is the pair that
`posecast.video.models.base.ANCHOR_TRANSLATION_SCALE` / ``ANCHOR_POSE_SCALE`` hold. Never run it on test data.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import posecast.models
from posecast.evaluation.protocols import video

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="video model (repeatable; default phd, posemonet, hmmr)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "video_anchor_validation.json")
    args = parser.parse_args()
    names = args.model or ["phd", "posemonet", "hmmr"]
    result = video.anchor_validation({n: posecast.models.get(n) for n in names})
    args.out.write_text(json.dumps(result, indent=1))
    for name, r in result["models"].items():
        print(
            f"{name}: raw {100 * r['raw']:.1f}, best {r['best']} {100 * r['grid'][r['best']]:.1f}, "
            f"visibility blend there {100 * r['visibility_blend_at_best']:.1f}"
        )
    print("baselines:", {k: round(100 * v, 1) for k, v in result["baselines"].items()})
    print(
        "chosen (best mean over models):", result["chosen"], f"{100 * result['mean_over_models'][result['chosen']]:.1f}"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
