"""Tracker jitter and ``--smooth``: how much Gaussian noise on the history costs the default forecaster, and how much
smoothing it first (`posecast.motion.smoothed`) wins back — and costs clean capture.

Usage::

    POSECAST_DATA=../shared/data .venv/bin/python benchmarks/smoothing.py [--json PATH] [--model dct-mlp]

Protocol (printed with the table): CMU BVH files of the training subjects (not the test subjects 02 and 08; this
is a description of the option, not a model choice) 01_01, 05_02, 06_01, 07_05, each without its T-pose frame at
its own 120 fps; windows ending every 2 s from 3 s on while a 1 s true future follows, at most 6 per file; the
history is the whole motion up to the window's end, with Gaussian noise of the given deviation added to every
coordinate of every history frame (numpy seed 0, drawn in a fixed order); `posecast.forecast(..., seconds=1.0,
smooth=S)`; mean joint error (metres -> mm) over all joints at 83, 400 and 1000 ms, mean over windows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

FILES = ("01/01_01.bvh", "05/05_02.bvh", "06/06_01.bvh", "07/07_05.bvh")
NOISE_M = (0.0, 0.01, 0.02)
SMOOTH_S = (None, 0.1, 0.2, 0.3)
HORIZONS_S = (0.083, 0.4, 1.0)


def measure(model: str = "dct-mlp") -> dict:
    import posecast
    from posecast.datasets.paths import dataset_dir
    from posecast.motion import Motion

    root = dataset_dir("cmu_bvh")
    rng = np.random.default_rng(0)
    errors: dict[tuple[float, float | None], list[np.ndarray]] = {}
    windows = 0
    for name in FILES:
        motion = posecast.load(root / name).frames(1)
        fps = motion.fps
        picks = [round(fps * s) - 1 for s in HORIZONS_S]
        for end_s in np.arange(3.0, motion.duration - 1.2, 2.0)[:6]:
            end = int(end_s * fps)
            history, truth = motion.positions[:end], motion.positions[end : end + int(fps)]
            windows += 1
            for noise in NOISE_M:
                noisy = Motion(history + rng.normal(0.0, noise, history.shape), fps, motion.skeleton)
                for smooth in SMOOTH_S:
                    fc = posecast.forecast(noisy, model=model, seconds=1.0, smooth=smooth)
                    err = np.linalg.norm(fc.samples[0] - truth, axis=-1).mean(axis=-1)
                    errors.setdefault((noise, smooth), []).append(err[picks])
    rows = [
        {"noise_m": noise, "smooth_s": smooth, "mm": [round(1000 * float(v), 1) for v in np.mean(e, axis=0)]}
        for (noise, smooth), e in errors.items()
    ]
    return {
        "protocol": {
            "files": [f"cmu_bvh/{f}" for f in FILES],
            "windows": windows,
            "model": model,
            "horizons_s": list(HORIZONS_S),
            "text": __doc__.split("Protocol (printed with the table): ", 1)[1].strip(),
        },
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--model", default="dct-mlp")
    args = parser.parse_args()
    result = measure(args.model)
    print(f"{result['protocol']['windows']} windows; mean joint error (mm) at 83 / 400 / 1000 ms")
    print("| history | as given | --smooth 0.1 | --smooth 0.2 | --smooth 0.3 |")
    print("|---|---|---|---|---|")
    for noise in NOISE_M:
        cells = [r["mm"] for r in result["rows"] if r["noise_m"] == noise]
        label = "clean" if noise == 0 else f"{100 * noise:g} cm noise"
        print(f"| {label} | " + " | ".join(" / ".join(f"{v:.0f}" for v in c) for c in cells) + " |")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
