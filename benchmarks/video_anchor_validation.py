"""How the anchoring constants of the video models' 2D forecasts were chosen (validation data only).

    python benchmarks/video_anchor_validation.py [--windows corpus|cmu] [--model NAME ...] [--out PATH]

runs `posecast.evaluation.protocols.video.anchor_validation` with the shipped video models: future PCK@0.05
on projected *validation* windows, filmed by seeded virtual cameras, for a grid of translation / pose scales,
the raw projection, the 2D baselines and a visibility-weighted anchor; ``chosen`` is the pair with the best
mean over the models (`posecast.video.models.base.ANCHOR_TRANSLATION_SCALE` / ``ANCHOR_POSE_SCALE`` hold
1 / 0.25). The windows must be held out from the weights' training data:

* ``--windows corpus`` (default; models ``phd`` and ``hmmr``, whose shipped weights trained on the corpus):
  the corpus validation split (`corpus_validation_windows`), written to
  ``results/video_anchor_validation_corpus.json``;
* ``--windows cmu`` (model ``posemonet``, whose shipped weights trained on CMU BVH only): the held-out ends
  of the CMU BVH training sequences and the Bandai Namco validation styles (`validation_windows`), written to
  ``results/video_anchor_validation.json``; those sequence ends are training data of the corpus weights.

On the corpus windows (run of 2026-12-04, phd and hmmr) the best mean pair was 1 / 0.5 at 52.49 % against
52.42 % for the shipped 1 / 0.25 (2D hold 51.2 %): within 0.1 point, the shipped factors were kept.

Never run it on test data.
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
    parser.add_argument("--windows", choices=("corpus", "cmu"), default="corpus", help="validation windows")
    parser.add_argument("--model", action="append", help="video model (repeatable; default: by --windows)")
    parser.add_argument("--out", type=Path, default=None, help="default: by --windows")
    args = parser.parse_args()
    corpus = args.windows == "corpus"
    names = args.model or (["phd", "hmmr"] if corpus else ["posemonet"])
    name = "video_anchor_validation_corpus.json" if corpus else "video_anchor_validation.json"
    out = args.out or HERE / "results" / name
    windows = video.corpus_validation_windows() if corpus else video.validation_windows()
    result = video.anchor_validation({n: posecast.models.get(n) for n in names}, windows=windows)
    result["windows"] = "corpus_validation_windows" if corpus else "validation_windows"
    out.write_text(json.dumps(result, indent=1))
    for name, r in result["models"].items():
        print(
            f"{name}: raw {100 * r['raw']:.1f}, best {r['best']} {100 * r['grid'][r['best']]:.1f}, "
            f"visibility blend there {100 * r['visibility_blend_at_best']:.1f}"
        )
    print("baselines:", {k: round(100 * v, 1) for k, v in result["baselines"].items()})
    print(
        "chosen (best mean over models):", result["chosen"], f"{100 * result['mean_over_models'][result['chosen']]:.1f}"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
