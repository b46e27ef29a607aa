"""How well the lifter copes with bodies and postures unlike its training data (validation data only).

    python benchmarks/lifter_bodies.py [--weights lifter/VARIANT ...] [--out PATH]
    python benchmarks/lifter_bodies.py --forecaster dct-mlp/lifted-body-17 [--forecaster DIR ...] [--out PATH]

The windows of the corpus **validation** split (`posecast.evaluation.protocols.video.corpus_validation_windows`'s
sequences: CMU BVH validation files, a 50-frame window every 10 frames; Bandai Namco validation styles, every 50
frames) in six versions, each filmed by the same seeded virtual cameras with the measured detector noise
(`CameraConfig.measured`): as captured; other bodies (every bone scaled by 0.85-1.15, twins alike, times a
whole-body 0.9-1.1: `posecast.datasets.windows.random_proportions`, seed 1 — wider than the 0.9-1.1 of
`configs/lifter/corpus-bodies.yaml`); tilted off the vertical by 30 and by 90 degrees about a random horizontal
axis (`posecast.datasets.windows.tilt`, seed 2); going from upright to 90 degrees or back within the window
(`posecast.datasets.windows.tilt_ramps`, seed 3: lying down / getting up); played 1.5x faster. Scores:
`posecast.video.models.lifter.evaluate` (past MPJPE in mm over all 50 frames, with the bones kept at their window
medians, and of the last frame). Written to ``results/lifter_bodies.json``. With ``--forecaster`` (weights of
`lift+forecast`'s forecaster): the same variants on windows of 75 frames (50 observed, 25 forecast; CMU BVH 238
windows, Bandai 566), the shipped lifter's past held and `lift+forecast` with each forecaster, scored as the video
bench scores (`posecast.evaluation.protocols.video.bench_cmu`: past MPJPE, forecast at 400 ms and 1 s, mean over the
second; default detector noise), written to ``results/lift_forecast_bodies.json``.
Never run it on test data.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LENGTH = 50
SEED = 12345  # the cameras: posecast.training.video.VAL_SEED


def sequences(dataset: str) -> list[np.ndarray]:
    from posecast.datasets import corpus
    from posecast.skeletons.mapping import map_positions

    c = corpus.load()
    return [
        map_positions(c.positions(i).astype(np.float64), "body-17", corpus.SKELETON)[0]
        for i in c.select("validation", [dataset])
    ]


def windows(seqs: list[np.ndarray], length: int, stride: int) -> np.ndarray:
    from posecast.datasets.windows import slice_windows, window_starts

    return np.concatenate(
        [slice_windows(s, window_starts(len(s), length, stride), length) for s in seqs if len(s) >= length]
    )


def variants(seqs: list[np.ndarray], stride: int, length: int = LENGTH) -> dict[str, np.ndarray]:
    from posecast import skeletons
    from posecast.datasets.windows import random_proportions, rescale_bones, tilt, tilt_ramps

    skel = skeletons.get("body-17")
    base = windows(seqs, length, stride)
    n = len(base)
    azimuth = np.random.default_rng(2).uniform(0, 2 * np.pi, n)
    t = np.arange(length) * 1.5
    i0 = np.floor(t).astype(int)
    frac = (t - i0)[None, :, None, None]
    long = windows(seqs, int(np.ceil(t[-1])) + 1, stride)
    fast = long[:, i0] * (1 - frac) + long[:, np.minimum(i0 + 1, long.shape[1] - 1)] * frac
    return {
        "as captured": base,
        "other bodies": rescale_bones(base, skel, random_proportions(np.random.default_rng(1), skel, n, 0.15, 0.1)),
        "tilted 30 degrees": tilt(base, np.full(n, np.deg2rad(30)), azimuth),
        "tilted 90 degrees": tilt(base, np.full(n, np.deg2rad(90)), azimuth),
        "lying down / getting up": tilt(
            base, tilt_ramps(np.random.default_rng(3), np.full(n, np.deg2rad(90)), length), azimuth
        ),
        "1.5x faster": fast,
    }


def forecasts(weights: list[str], out: Path) -> None:
    """``--forecaster``: the lifted past held and `lift+forecast` with each forecaster on the changed windows."""
    from posecast.evaluation.protocols import video as vp
    from posecast.models import get, store
    from posecast.models.neural import NeuralForecaster
    from posecast.video.models import lift_forecast

    lifter = get("lifter")
    models = {"lifter (last lifted pose held)": lifter}
    for w in weights:
        fc = NeuralForecaster.load(store.resolve(w))
        models[f"lift+forecast ({w})"] = lift_forecast.LiftForecast(lifter, fc, w, continuity=False)
    result = {"protocol": __doc__.split("\n\n")[2].replace("\n", " "), "results": {}}
    for k, (dataset, stride) in enumerate((("cmu_bvh", 10), ("bandai_namco", 50))):
        changed = variants(sequences(dataset), stride, vp.OBSERVE + vp.FUTURE)
        del changed["1.5x faster"]
        for name, w in changed.items():
            rows = vp.bench_cmu(models, film_default(w, SEED + k))
            for label in models:
                r, f = rows[label], rows[label]["forecast_mpjpe_mm"]
                scores = {
                    "windows": len(w),
                    "past_mm": round(r["past_mpjpe_mm"], 2),
                    "400_mm": round(f["400"], 2),
                    "1000_mm": round(f["1000"], 2),
                    "mean_mm": round(r["forecast_mean_mpjpe_mm"], 2),
                }
                result["results"].setdefault(label, {}).setdefault(dataset, {})[name] = scores
                print(f"{label:48s} {dataset:13s} {name:18s} " + " ".join(f"{a} {v}" for a, v in scores.items()))
    out.write_text(json.dumps(result, indent=1))


def film_default(w: np.ndarray, seed: int):
    from posecast.video.cameras import film

    return film(w, "body-17", 25.0, np.random.default_rng(seed))


def main() -> None:
    import torch

    from posecast.models import store
    from posecast.video.cameras import CameraConfig, film
    from posecast.video.models import lifter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", action="append", help="lifter weights (shipped NAME/VARIANT or a folder)")
    ap.add_argument(
        "--forecaster", action="append", help="lift+forecast's forecaster weights (NAME/VARIANT or a folder)"
    )
    ap.add_argument("--out", type=Path, help="default: results/lifter_bodies.json (results/lift_forecast_bodies.json)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    results = Path(__file__).parent / "results"
    if args.forecaster:
        return forecasts(args.forecaster, args.out or results / "lift_forecast_bodies.json")
    args.out = args.out or results / "lifter_bodies.json"
    nets = {w: lifter.load(store.resolve(w)).net for w in args.weights or ["lifter"]}
    result = {"protocol": __doc__.split("\n\n")[2].replace("\n", " "), "results": {}}
    for k, (dataset, stride) in enumerate((("cmu_bvh", 10), ("bandai_namco", 50))):
        for name, w in variants(sequences(dataset), stride).items():
            batch = film(w, "body-17", 25.0, np.random.default_rng(SEED + k), CameraConfig.measured())
            for label, net in nets.items():
                with torch.no_grad():
                    r = {a: round(v, 2) for a, v in lifter.evaluate(net, batch).items()}
                result["results"].setdefault(label, {}).setdefault(dataset, {})[name] = {"windows": len(w), **r}
                print(
                    f"{label:28s} {dataset:13s} {name:18s} {len(w):5d} "
                    + " ".join(f"{a} {v:6.1f}" for a, v in r.items()),
                    flush=True,
                )
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
