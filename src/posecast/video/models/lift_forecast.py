"""``lift+forecast``: a lifter's 3D estimate of the observed frames, forecast by a 3D motion model.

The video models (``phd``, ``posemonet``, ``hmmr``) each lift the observed 2D keypoints to 3D and forecast
with their own small decoder. This path lifts with the dedicated lifter (``lifter``,
`posecast.video.models.lifter`: every observed frame estimated from the frames before and after it; any video
model can take its place) and hands the estimated 3D past to a motion forecaster trained on the whole
corpus, by default ``dct-mlp``'s canonical-body variant: the ``body-17`` estimate is mapped onto the
canonical body (``smplh-22``; the joints ``body-17`` lacks, such as the spine chain, the collars and the
toes, are filled by the retargeting map of `posecast.skeletons.canonical`), forecast there and mapped back
to ``body-17``. A motion forecaster reads lifting noise as velocity, so the lifted past is first smoothed
over time (a quadratic Savitzky-Golay filter over `SMOOTH_FRAMES` frames) and the forecast is then shifted
to start at the last estimated pose (continuity).

Chosen on the projected corpus validation windows (`posecast.evaluation.protocols.video.
corpus_validation_windows`, mean 3D forecast MPJPE over the second). With ``phd``'s lifting (the first
version of this path): CMU BVH validation 160.5 mm raw, 152.7 with continuity only, 141.1 smoothed over 15
frames with continuity (9 frames: 143.2; holding the last estimate: 145.4); Bandai validation styles 101.9,
96.7, 88.0 (87.9; 93.5). With the lifter (2026-12-05, its model card; past MPJPE 39.3 / 24.7 mm against
``phd``'s 53.3 / 34.1 on CMU BVH / Bandai validation): smoothing over 15 / 9 / 0 frames 128.6 / **128.4** /
130.9 mm on CMU BVH and 56.3 / **53.3** / 53.1 on Bandai (with ``phd``'s lifting at 15 frames, the same
windows: 131.2 and 59.2), hence 9 frames.
The future cameras are the lifter's (scale held, translation extrapolated), and the
projected forecast is anchored at the last observed keypoints like every video model's
(`posecast.video.models.base`), with this path's own factors (`ANCHOR_TRANSLATION_SCALE`,
`ANCHOR_POSE_SCALE`, chosen with ``phd``'s lifting on the projected corpus validation windows with the grid of
`posecast.evaluation.protocols.video.anchor_validation`: translation 1, pose 0.25 scored 52.5 % future
PCK@0.05, pose 0 / 0.5 / 1: 52.2 / 52.2 / 50.4 %, 2D hold 51.2 %; rechecked with the lifter,
``benchmarks/video_anchor_validation.py --windows corpus --model lift+forecast``: 1 / 0.25 is still the best pair of the
grid, 52.9 %, pose 0: 52.4 %).
This path does not beat ``phd``'s own forecast (mean over the second on the same windows: CMU BVH 128.4 vs
125.1 mm, Bandai 53.3 vs 50.2 mm; at 1 s 172.8 vs 162.2 and 74.5 vs 59.4), and at 1 s on Bandai it is worse
than holding the lifted past (62.0 mm). Not because of the lifting: fed the *true* past of the same windows
(``body-17``, pelvis-centred, camera frame) the corpus forecaster is also worse than holding it at 1 s on Bandai
(66.3 vs 53.0 mm; better over the second, 40.4 vs 53.9). Undoing the camera's tilt changes nothing (66.3); adding
the true root trajectory gives 59.4; the rest is the route through the canonical body from ``body-17`` (the
joints it lacks interpolated) — ``dct-mlp``'s own ``body-17`` weights (CMU only) are worse still (109.7). A
forecaster trained on the corpus mapped to ``body-17`` is the next step.

Shapes: everything is batched, ``(B, T, 17, 2)`` keypoints in, ``(B, T, 17, 3)`` past and
``(B, F, 17, 3)`` future out (metres, camera-aligned, pelvis-centred per frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ModelError
from posecast.video.models.base import LAYOUT, VideoForecaster, VideoPrediction

#: frames of the Savitzky-Golay smoothing (quadratic) of the lifted past before it is forecast (0.36 s at 25 fps)
SMOOTH_FRAMES = 9
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

    def __init__(
        self, lifter: VideoForecaster, forecaster: Any, description: str = "", smooth_frames: int = SMOOTH_FRAMES
    ) -> None:
        if lifter.skeleton != LAYOUT:
            raise ModelError(f"{NAME}: the lifter must read and write {LAYOUT}, not {lifter.skeleton!r}")
        self.lifter, self.forecaster = lifter, forecaster
        self.fps = lifter.fps
        self.skeleton = LAYOUT
        self.uses_world = lifter.uses_world
        self.description = description
        #: frames of the Savitzky-Golay smoothing of the lifted past (below 5: none)
        self.smooth_frames = int(smooth_frames)

    def predict(
        self, keypoints: np.ndarray, visibility: np.ndarray, frames: int, world: np.ndarray | None = None
    ) -> VideoPrediction:
        from scipy.signal import savgol_filter

        lifted = self.lifter.predict(keypoints, visibility, frames, world)
        past = lifted.past
        n = min(self.smooth_frames, past.shape[1] - (1 - past.shape[1] % 2))
        smooth = savgol_filter(past, n, 2, axis=1) if n >= 5 else past
        future = np.asarray(self.forecaster.predict(smooth, frames, 1, fps=self.fps), dtype=np.float64)[:, 0]
        future = future - future[:, :, :1]  # pelvis-centred per frame, like the lifter's output
        future = future - (future[:, :1] - past[:, -1:])  # continuity: start at the last estimated pose
        return VideoPrediction(past=past, future=future, camera=lifted.camera)

    def __repr__(self) -> str:
        return f"LiftForecast({self.description or type(self.lifter).__name__})"


def build(lifter: str = "lifter", forecaster: str = "dct-mlp", route: str = "canonical") -> LiftForecast:
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
