"""``lift+forecast``: a video model's 3D estimate of the observed frames, forecast by a 3D motion model.

The video models (``phd``, ``posemonet``, ``hmmr``) each lift the observed 2D keypoints to 3D and forecast
with their own small decoder. This path keeps the lifting (the video model's estimate of the observed
frames and its fitted cameras) and hands the estimated 3D past to a motion forecaster trained on the whole
corpus, by default ``dct-mlp``'s canonical-body variant: the ``body-17`` estimate is mapped onto the
canonical body (``smplh-22``; the joints ``body-17`` lacks, such as the spine chain, the collars and the
toes, are filled by the retargeting map of `posecast.skeletons.canonical`), forecast there and mapped back
to ``body-17``. Per-frame lifting is noisy (about 7 cm per joint) and a motion forecaster reads that
noise as velocity, so the lifted past is first smoothed over time (a quadratic Savitzky-Golay filter over
`SMOOTH_FRAMES` frames) and the forecast is then shifted to start at the last estimated pose (continuity).
Chosen on the projected corpus validation windows (`posecast.evaluation.protocols.video.
corpus_validation_windows`, mean 3D forecast MPJPE over the second, shipped ``phd`` lifting): CMU BVH
validation 160.5 mm raw, 152.7 with continuity only, 141.1 smoothed over 15 frames with continuity (9
frames: 143.2; holding the last estimate: 145.4); Bandai validation styles 101.9, 96.7, 88.0 (87.9; 93.5).
The future cameras are the lifter's (scale held, translation extrapolated), and the
projected forecast is anchored at the last observed keypoints like every video model's
(`posecast.video.models.base`), with this path's own factors (`ANCHOR_TRANSLATION_SCALE`,
`ANCHOR_POSE_SCALE`, chosen on the projected corpus validation windows with the grid of
`posecast.evaluation.protocols.video.anchor_validation`: translation 1, pose 0.25 scored 52.5 % future
PCK@0.05 with the corpus ``phd`` lifting, pose 0 / 0.5 / 1: 52.2 / 52.2 / 50.4 %, 2D hold 51.2 %).
Measured with that lifter, this path does not beat ``phd``'s own forecast (1 s MPJPE on the same windows:
CMU BVH 175.2 vs 166.6 mm, Bandai 76.9 vs 59.3 mm): the corpus forecaster reads the lifting error that
``phd``'s decoder, trained on its own estimates, has learned to live with.

Shapes: everything is batched, ``(B, T, 17, 2)`` keypoints in, ``(B, T, 17, 3)`` past and
``(B, F, 17, 3)`` future out (metres, camera-aligned, pelvis-centred per frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ModelError
from posecast.video.models.base import LAYOUT, VideoForecaster, VideoPrediction

#: frames of the Savitzky-Golay smoothing (quadratic) of the lifted past before it is forecast (0.6 s at 25 fps)
SMOOTH_FRAMES = 15
#: anchored forecasts of this path: factor on the predicted pelvis motion in the image
ANCHOR_TRANSLATION_SCALE = 1.0
#: anchored forecasts of this path: factor on the predicted motion of the joints about the pelvis
ANCHOR_POSE_SCALE = 0.25
NAME = "lift+forecast"


class LiftForecast(VideoForecaster):
    """A lifter (a `VideoForecaster`: its estimate of the observed frames and cameras) and a 3D motion
    forecaster on ``body-17`` (anything with ``predict(history (B, T, J, 3), frames, samples, fps)``)."""

    name = NAME
    anchor_translation_scale = ANCHOR_TRANSLATION_SCALE
    anchor_pose_scale = ANCHOR_POSE_SCALE

    def __init__(self, lifter: VideoForecaster, forecaster: Any, description: str = "") -> None:
        if lifter.skeleton != LAYOUT:
            raise ModelError(f"{NAME}: the lifter must read and write {LAYOUT}, not {lifter.skeleton!r}")
        self.lifter, self.forecaster = lifter, forecaster
        self.fps = lifter.fps
        self.skeleton = LAYOUT
        self.uses_world = lifter.uses_world
        self.description = description

    def predict(
        self, keypoints: np.ndarray, visibility: np.ndarray, frames: int, world: np.ndarray | None = None
    ) -> VideoPrediction:
        from scipy.signal import savgol_filter

        lifted = self.lifter.predict(keypoints, visibility, frames, world)
        past = lifted.past
        n = min(SMOOTH_FRAMES, past.shape[1] - (1 - past.shape[1] % 2))
        smooth = savgol_filter(past, n, 2, axis=1) if n >= 5 else past
        future = np.asarray(self.forecaster.predict(smooth, frames, 1, fps=self.fps), dtype=np.float64)[:, 0]
        future = future - future[:, :, :1]  # pelvis-centred per frame, like the lifter's output
        future = future - (future[:, :1] - past[:, -1:])  # continuity: start at the last estimated pose
        return VideoPrediction(past=past, future=future, camera=lifted.camera)

    def __repr__(self) -> str:
        return f"LiftForecast({self.description or type(self.lifter).__name__})"


def build(lifter: str = "phd", forecaster: str = "dct-mlp", route: str = "canonical") -> LiftForecast:
    """The registry builder: shipped ``lifter`` (a video model) and shipped ``forecaster`` (a motion model);
    ``route="canonical"`` runs the forecaster's canonical-body variant through the canonical body even where
    it has a ``body-17`` variant (``"layout"``: the variant the registry picks for ``body-17``)."""
    from posecast import skeletons
    from posecast.models import get

    lift = get(lifter)
    if not isinstance(lift, VideoForecaster):
        raise ModelError(f"{NAME}: the lifter {lifter!r} is not a video model")
    model = get(forecaster)
    body = skeletons.get(LAYOUT)
    if route == "canonical" and hasattr(model, "canonical"):
        fc = model.canonical(body)
    elif route in ("canonical", "layout"):
        fc = model.on_skeleton(body)
    else:
        raise ModelError(f"{NAME}: route is 'canonical' or 'layout', not {route!r}")
    return LiftForecast(lift, fc, f"{lifter} lifting, {forecaster} forecasting ({route})")


def load(weights: Path | None = None) -> LiftForecast:
    """`build` with the defaults (this path has no weights of its own)."""
    if weights is not None:
        raise ModelError(f"{NAME} has no weights of its own: it combines shipped models")
    return build()
