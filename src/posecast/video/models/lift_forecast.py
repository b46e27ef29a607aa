"""``lift+forecast``: a lifter's 3D estimate of the observed frames, forecast by a 3D motion model trained on
such estimates.

The video models (``phd``, ``posemonet``, ``hmmr``) each lift the observed 2D keypoints to 3D and forecast
with their own small decoder. This path lifts with the dedicated lifter (``lifter``,
`posecast.video.models.lifter`: every observed frame estimated from the frames before and after it; any video
model can take its place), smooths the estimated past over time (a quadratic Savitzky-Golay filter over
`SMOOTH_FRAMES` frames, `smooth_past`) and hands it to a motion forecaster. By default (``route="lifted"``)
that is ``dct-mlp``'s variant `LIFTED_VARIANT`, trained on exactly this input: corpus windows on ``body-17``
filmed by virtual cameras with the measured detector noise, their 2 s history lifted by the shipped lifter
and smoothed the same way, the true 1 s future as the target (`posecast.training.motion.LiftedHistory`;
two stages, ``configs/dct-mlp/corpus-body-17.yaml`` then ``lifted-body-17.yaml``; its model card). Its
forecast is left where it puts it: it learned to predict the true future, not to continue the last lifted
pose. ``route="canonical"`` is the earlier path: ``dct-mlp``'s corpus weights through the canonical body
(the joints ``body-17`` lacks filled by the retargeting map of `posecast.skeletons.canonical`), the forecast
shifted to start at the last estimated pose (``continuity``).

Chosen on the projected corpus validation windows (`posecast.evaluation.protocols.video.
corpus_validation_windows`, 3D forecast MPJPE in mm at 1 s and mean over the second). The smoothing, with
the canonical route: with ``phd``'s lifting (the first version of this path) CMU BVH validation 160.5 mm
raw, 152.7 with continuity only, 141.1 smoothed over 15 frames with continuity (9 frames: 143.2; holding
the last estimate: 145.4), Bandai 101.9, 96.7, 88.0 (87.9; 93.5); with the lifter (past MPJPE 39.3 / 24.7 mm
against ``phd``'s 53.3 / 34.1 on CMU BVH / Bandai) 15 / 9 / 0 frames 128.6 / **128.4** / 130.9 on CMU BVH
and 56.3 / **53.3** / 53.1 on Bandai, hence 9 frames. The forecaster (2026-12-05): the canonical route was
worse than holding the lifted past at 1 s on Bandai (74.5 vs 62.0 mm) and did not beat ``phd``'s own
decoder (mean 128.4 / 53.3 vs 125.1 / 50.2). Not because of the canonical body: a ``dct-mlp`` trained on the
corpus mapped to ``body-17`` forecasts the *true* past as well as the corpus weights through the canonical
body (mean 111.2 vs 110.7 on CMU BVH, 40.4 vs 40.4 on Bandai) and the lifted past no better (129.1 / 55.3).
The lifting error was the gap; trained on lifted histories (10 epochs), the forecaster gives 1 s 156.6 / 46.2 mm
and mean 117.2 / 37.3 (held lifted past at 1 s: 181.0 / 62.0; a 5-epoch run with the continuity shift: 160.5 /
52.4, mean 121.4 / 43.5, without it 119.4 / 38.4), below ``phd``'s own.

**Where the person goes** (2026-12-05, thirteenth session): ``lift+forecast+path`` (`build_path`) takes the
future cameras — the pelvis' path in the image and the person's scale — from a second forecaster,
``dct-mlp``'s variant `ROOT_VARIANT`, trained on the same lifted histories moved by the pelvis' motion in the
camera's view (the lifter's fitted cameras turned into offsets by `posecast.video.models.common.camera_offsets`;
`posecast.training.motion.TrainConfig.lifted_root`): its forecast pelvis, turned back by `offsets_to_cameras`.
The poses stay `LIFTED_VARIANT`'s, which forecasts them better. ``lift+forecast`` keeps the lifter's cameras,
scale held and translation extrapolated over five frames (`posecast.video.models.common.extrapolate_camera`).
On the validation windows the true future translation alone would have raised the anchored future PCK@0.05
from 37.7 to 61.1 % (CMU BVH) and 60.3 to 86.0 % (Bandai); the path forecaster gives 37.6 / 76.8 % against
38.1 / 61.3 % with the extrapolated cameras (model card ``dct-mlp/lifted-body-17-root``). It is not the default:
those validation windows hold walks, runs and in-place gestures but hardly any motion that bobs in place
(squats, jumps: 5 of 804 windows), and on the test data — real clips and HDM05, seen after the choice above —
it was worse than the extrapolated cameras (README, Video); which of the two a clip needs is not yet known
before seeing its future. Since the fourteenth session a window takes the path forecaster's cameras only when its
pelvis moved at least `PATH_GATE_M` (0.3 m) across the view and in depth over the last observed second
(`travelled`), chosen on the same validation windows: anchored PCK@0.05 37.5 / 77.4 % against 36.9 / 77.5 without
the gate (CMU BVH / Bandai; 0.1 / 0.2 m within 0.1 point of 0.3 m; 0.5 m: 38.4 / 75.6; sideways motion alone,
without depth: at best 37.6 / 76.8). On the test data, after the choice, the gate narrowed the losses on motion
in place without closing them: a squat changes the person's fitted scale, which reads as motion in depth
(the squats clip: 0.66 m in the last observed second, 0.07 m sideways).

The projected forecast is anchored at the last observed keypoints like every video model's
(`posecast.video.models.base`), with this path's own factors (`ANCHOR_TRANSLATION_SCALE`, `ANCHOR_POSE_SCALE`;
`PATH_ANCHOR_POSE_SCALE` for ``lift+forecast+path``), chosen with the grid of
`posecast.evaluation.protocols.video.anchor_validation` on the same validation windows
(``benchmarks/video_anchor_validation.py --windows corpus --model lift+forecast``,
``benchmarks/results/video_anchor_validation_lift_forecast.json``; ``..._path.json``): ``lift+forecast``
translation 1, pose 0.5, 54.5 % future PCK@0.05 pooled over the windows (pose 0.25 / 0.75 / 1: 54.1 / 54.4 /
53.9 %; raw projection 54.5 %; 2D hold 51.2 %; before the lifter's flip averaging 53.5 % at 1 / 0.5);
``lift+forecast+path`` translation 1, pose 1, 65.5 % (pose 0.5 / 0.75: 63.8 / 65.2 %; translation 0.5 / 1.5 at
pose 1: 54.1 / 53.9 %; raw projection 66.3 %). Earlier, with the canonical route, 1 / 0.25 was the best pair:
52.5 % with ``phd``'s lifting, 52.9 % with the lifter. Each joint's start is weighted by the backend's visibility
(`ANCHOR_VISIBILITY`: ``visibility · keypoint + (1 - visibility) · projection``; fourteenth session), which the
same grid scores at 54.8 % against 54.5 (``lift+forecast``) and 66.0 against 65.6 (``lift+forecast+path`` with
its travel gate); the other video models keep full anchors (it scored lower for them, module
`posecast.video.models.base`).

Shapes: everything is batched, ``(B, T, 17, 2)`` keypoints in, ``(B, T, 17, 3)`` past and
``(B, F, 17, 3)`` future out (metres, camera-aligned, pelvis-centred per frame).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ModelError
from posecast.skeletons.canonical import world_up
from posecast.video.models.base import LAYOUT, VideoForecaster, VideoPrediction
from posecast.video.models.common import camera_offsets, offsets_to_cameras

#: frames of the Savitzky-Golay smoothing (quadratic) of the lifted past before it is forecast (0.36 s at 25 fps)
SMOOTH_FRAMES = 9
#: anchored forecasts of this path: factor on the predicted pelvis motion in the image
ANCHOR_TRANSLATION_SCALE = 1.0
#: anchored forecasts of this path: factor on the predicted motion of the joints about the pelvis
ANCHOR_POSE_SCALE = 0.5
#: the same factor for ``lift+forecast+path`` (the future cameras from `ROOT_VARIANT`)
PATH_ANCHOR_POSE_SCALE = 1.0
#: anchored forecasts of both variants start each joint between its keypoint and the lifter's projection by the
#: backend's visibility (`posecast.video.models.base.start_of`; module docstring)
ANCHOR_VISIBILITY = True
NAME = "lift+forecast"
#: the registry name of the variant whose future cameras come from `ROOT_VARIANT` (`build_path`)
PATH_NAME = "lift+forecast+path"
#: the variant of the forecaster (``dct-mlp``) trained on the lifter's estimates (`posecast.training.motion.
#: LiftedHistory`), the default route
LIFTED_VARIANT = "lifted-body-17"
#: the variant trained on lifted histories that carry the pelvis' motion in the camera's view
#: (`posecast.training.motion.TrainConfig.lifted_root`): where the person goes in the image (the future cameras)
ROOT_VARIANT = "lifted-body-17-root"
#: ``lift+forecast+path`` takes a window's future cameras from `ROOT_VARIANT` only when the pelvis moved at least
#: this far over the last observed second (metres, in the image plane and in depth at the reference distance:
#: `travelled`); windows in place keep the lifter's extrapolated cameras, as ``lift+forecast`` does
PATH_GATE_M = 0.3


def travelled(offsets: np.ndarray, fps: float) -> np.ndarray:
    """``(B,)`` how far the pelvis moved across the view and in depth over the last observed second: the norm of
    the x and z parts of ``offsets (B, T, 3)`` (`posecast.video.models.common.camera_offsets` relative to the last
    frame) one second (or the whole window) before the last frame. Up and down is left out: a squat or a hop
    moves the pelvis in place."""
    back = min(offsets.shape[1] - 1, int(round(fps)))
    return np.linalg.norm(offsets[:, -1 - back, [0, 2]] - offsets[:, -1, [0, 2]], axis=-1)


def smooth_past(past: np.ndarray, frames: int = SMOOTH_FRAMES) -> np.ndarray:
    """A lifted past ``(B, T, J, 3)`` smoothed over time: a quadratic Savitzky-Golay filter over ``frames``
    frames (fewer where ``T`` is shorter; none below 5)."""
    from scipy.signal import savgol_filter

    n = min(frames, past.shape[1] - (1 - past.shape[1] % 2))
    return savgol_filter(past, n, 2, axis=1) if n >= 5 else past


class LiftForecast(VideoForecaster):
    """A lifter (a `VideoForecaster`: its estimate of the observed frames and cameras) and a 3D motion
    forecaster on ``body-17`` (anything with ``predict(history (B, T, J, 3), frames, samples, fps)``)."""

    name = NAME
    anchor_translation_scale = ANCHOR_TRANSLATION_SCALE
    anchor_pose_scale = ANCHOR_POSE_SCALE
    anchor_visibility = ANCHOR_VISIBILITY

    def __init__(
        self,
        lifter: VideoForecaster,
        forecaster: Any,
        description: str = "",
        smooth_frames: int = SMOOTH_FRAMES,
        continuity: bool = True,
        root_forecaster: Any | None = None,
        path_gate: float = PATH_GATE_M,
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
        #: shift the forecast to start at the last lifted pose (for a forecaster of true motion; one trained on
        #: lifted histories predicts the true future and is left where it puts it)
        self.continuity = bool(continuity)
        #: a forecaster of the lifted past *with* the pelvis' motion in the camera's view (trained with
        #: `posecast.training.motion.TrainConfig.lifted_root`): its forecast root gives the future cameras (None:
        #: the lifter's, a damped extrapolation of the observed ones); the poses stay ``forecaster``'s
        self.root_forecaster = root_forecaster
        #: the path forecaster's cameras only for windows that moved this far in the last second (`travelled`)
        self.path_gate = float(path_gate)
        if root_forecaster is not None:
            self.name = PATH_NAME
            self.anchor_pose_scale = PATH_ANCHOR_POSE_SCALE

    def predict(
        self, keypoints: np.ndarray, visibility: np.ndarray, frames: int, world: np.ndarray | None = None
    ) -> VideoPrediction:
        lifted = self.lifter.predict(keypoints, visibility, frames, world)
        past, camera = lifted.past, lifted.camera
        observed = past.shape[1]
        smooth = smooth_past(past, self.smooth_frames)
        with world_up("+y"):  # the lifter's camera-aligned frame has y up (the image's up) by construction
            future = np.asarray(self.forecaster.predict(smooth, frames, 1, fps=self.fps), dtype=np.float64)[:, 0]
        if self.root_forecaster is not None:
            reference = camera[:, observed - 1]
            offsets = camera_offsets(camera[:, :observed], reference)  # (B, T, 3)
            moves = travelled(offsets, self.fps) >= self.path_gate  # (B,)
            if moves.any():
                moving = smooth_past(past[moves] + offsets[moves, :, None], self.smooth_frames)
                path = np.asarray(self.root_forecaster.predict(moving, frames, 1, fps=self.fps), dtype=np.float64)
                path = path[:, 0, :, 0]  # (b, F, 3): the forecast pelvis, relative to the last observed frame
                camera = camera.copy()
                camera[moves, observed:] = offsets_to_cameras(reference[moves], path)
        future = future - future[:, :, :1]  # pelvis-centred per frame, like the lifter's output
        if self.continuity:
            future = future - (future[:, :1] - past[:, -1:])  # start at the last estimated pose
        return VideoPrediction(past=past, future=future, camera=camera)

    @property
    def keypoint_convention(self) -> str:
        """The lifter's (`VideoForecaster.keypoint_convention`): it reads the keypoints."""
        return self.lifter.keypoint_convention

    def __repr__(self) -> str:
        return f"LiftForecast({self.description or type(self.lifter).__name__})"


def build(
    lifter: str = "lifter", forecaster: str = "dct-mlp", route: str = "lifted", path: bool = False
) -> LiftForecast:
    """The registry builder: shipped ``lifter`` (a video model) and shipped ``forecaster`` (a motion model).
    ``route="lifted"``: the forecaster's variant trained on lifted histories (`LIFTED_VARIANT`), its forecast
    left where it puts it (no continuity shift); ``"canonical"``: its canonical-body variant through the
    canonical body even where it has a ``body-17`` variant; ``"layout"``: the variant the registry picks for
    ``body-17``. ``path`` (lifted route only): the future cameras from the forecaster's `ROOT_VARIANT`
    (``lift+forecast+path``)."""
    from posecast import skeletons
    from posecast.models import get

    lift = get(lifter)
    if not isinstance(lift, VideoForecaster):
        raise ModelError(f"{NAME}: the lifter {lifter!r} is not a video model")
    model = get(forecaster)
    root = None  # the path forecaster (lift+forecast+path only)
    body = skeletons.get(LAYOUT)
    if route == "lifted":
        if LIFTED_VARIANT not in getattr(model, "variants", ()):
            raise ModelError(f"{NAME}: {forecaster!r} has no variant {LIFTED_VARIANT!r} trained on lifted histories")
        fc = model.variant(LIFTED_VARIANT)
        if path:
            if ROOT_VARIANT not in getattr(model, "variants", ()):
                raise ModelError(f"{PATH_NAME}: {forecaster!r} has no variant {ROOT_VARIANT!r} that forecasts the path")
            root = model.variant(ROOT_VARIANT)
    elif path:
        raise ModelError(f"{PATH_NAME}: the path forecaster needs route 'lifted', not {route!r}")
    elif route == "canonical" and hasattr(model, "canonical"):
        fc = model.canonical(body)
    elif route in ("canonical", "layout"):
        fc = model.on_skeleton(body)
    else:
        raise ModelError(f"{NAME}: route is 'lifted', 'canonical' or 'layout', not {route!r}")
    return LiftForecast(
        lift,
        fc,
        f"{lifter} lifting, {forecaster} forecasting ({route})",
        continuity=route != "lifted",
        root_forecaster=root,
    )


def build_path(lifter: str = "lifter", forecaster: str = "dct-mlp") -> LiftForecast:
    """The registry builder of ``lift+forecast+path``: `build` with the future cameras from `ROOT_VARIANT`."""
    return build(lifter, forecaster, "lifted", path=True)


def load(weights: Path | None = None) -> LiftForecast:
    """`build` with the defaults (this path has no weights of its own)."""
    if weights is not None:
        raise ModelError(f"{NAME} has no weights of its own: it combines shipped models")
    return build()
