"""The video-forecaster contract: a `PoseTrack` (or a clip / image path) in, a forecast out.

A video model implements one batched array method, `VideoForecaster.predict`, on 2D keypoints at
its own fixed frame rate; the base class's `VideoForecaster.forecast_track` does the rest: maps the
track to ``body-17``, resamples it to the model's rate by its real timestamps (variable frame rate
allowed), calls ``predict`` and builds the `VideoForecast` with the times on the clip's clock.
`VideoForecaster.forecast` is the registry's common call: it also takes a video or image path (the
pose backend extracts the track) and returns a `posecast.motion.Forecast` whose ``metadata`` holds
the 2D track (``"track"``) and the `VideoForecast` (``"video"``, for overlays).
Benchmarks call ``predict`` directly on batches of virtual-camera windows
(`posecast.video.cameras.film`).

3D outputs are in the **camera-aligned frame**, pelvis-centred per frame (metres; x right in the
image, y up, z toward the camera); the per-frame weak-perspective camera ``(s, tx, ty)`` places them
in the image: ``u = s X + tx``, ``v = -s Y + ty`` (pixels).

Anchoring
---------
A model's projected forecast drifts off the person (its estimated past does not re-project exactly onto
the keypoints), so `VideoForecast.pixels` and `VideoForecast.future_pixels` return by default the
**anchored** forecast: it starts exactly at the last observed 2D keypoints (``anchor``, the track at the
model's last observed frame) and adds only the predicted 2D motion, split into the motion of the pelvis
(the camera translation ``(tx, ty)``) and the motion of the joints about it::

    start_j      = anchor_j                         (the model's projection where anchor_j is NaN)
    future[k, j] = start_j + translation_scale · (t_k - t_0) + pose_scale · (p_kj - p_0j - (t_k - t_0))

with ``p`` the raw projections, ``p_0`` the last estimated observed frame and ``t = (tx, ty)`` of the
camera. The factors (`ANCHOR_TRANSLATION_SCALE`, `ANCHOR_POSE_SCALE`) were chosen on projected
**validation** windows only (`posecast.evaluation.protocols.video.anchor_validation`: the video models'
held-out ends of the CMU BVH training sequences and the Bandai Namco validation styles, filmed by virtual
cameras); the predicted pose motion of the shipped models scored no better than none there, hence the
small pose factor. Every joint seen in the last frame is anchored: blending by the backend's visibility
scored lower on that validation data for these models; ``lift+forecast`` and ``lift+forecast+path``, whose
lifter's projection is closer, start each joint at ``visibility · keypoint + (1 - visibility) · projection``
(`VideoForecaster.anchor_visibility`, `start_of`; chosen on the corpus validation windows).
``pixels(anchored=False)`` gives the raw projection.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import ModelError, ValueRangeError, problems
from posecast.models.base import resolve_frames
from posecast.motion import Forecast, Motion
from posecast.video.track import PoseTrack

LAYOUT = "body-17"
#: seconds: a video forecast whose person was seen for less than this (``metadata["observed_s"]``) gets a note: the
#: shipped video models learned from 1 s (``phd``, ``posemonet``) or 2 s (``lift+forecast``) of past
SHORT_PAST_S = 0.5
#: anchored forecasts: factor on the predicted pelvis (camera translation) motion in the image
ANCHOR_TRANSLATION_SCALE = 1.0
#: anchored forecasts: factor on the predicted motion of the joints about the pelvis in the image
ANCHOR_POSE_SCALE = 0.25
#: `VideoForecaster.keypoint_convention` of a network trained on the corpus filmed on body-17: it saw the corpus's
#: body-17 (`posecast.skeletons.mapping.corpus_convention`: neck at its base, head at the base of the skull)
CORPUS_CONVENTION = "corpus"
#: `VideoForecaster.keypoint_convention` of a network trained on body-17 as the layout tables define it (a pose
#: detector's; the CMU BVH training subjects through the direct CMU table)
DOCUMENTED_CONVENTION = LAYOUT


def data_convention(data: str) -> str:
    """The keypoint convention of a video network trained on ``data`` (a video training config's ``data``):
    `CORPUS_CONVENTION` for corpus data, else `DOCUMENTED_CONVENTION` (the CMU BVH subjects through the direct CMU
    table; a folder of motion files is taken as documented too, although a rig without a table of its own reaches
    body-17 through the canonical body)."""
    return CORPUS_CONVENTION if str(data).startswith("corpus") else DOCUMENTED_CONVENTION


def trained_convention(meta: dict[str, Any]) -> str:
    """The keypoint convention a video network was trained on, from its weights' metadata: ``keypoint_convention``
    (written with every checkpoint since 2026-12-06), else `data_convention` of ``training`` -> ``train_config`` ->
    ``data`` (shipped weights), else `DOCUMENTED_CONVENTION`."""
    if meta.get("keypoint_convention") in (CORPUS_CONVENTION, DOCUMENTED_CONVENTION):
        return str(meta["keypoint_convention"])
    return data_convention(str(((meta.get("training") or {}).get("train_config") or {}).get("data", "")))


@dataclass
class VideoForecast:
    """What a video model returns for one track.

    Attributes:
        past: ``(T, J, 3)`` estimated 3D of the observed frames (metres, camera-aligned, pelvis-centred).
        future: ``(H, J, 3)`` forecast, same frame.
        fps: the model's frame rate (of ``past`` and ``future``).
        times: ``(T + H,)`` seconds on the clip's clock (past frames, then future frames).
        camera: ``(T + H, 3)`` weak perspective per frame ``(s px/m, tx px, ty px)``:
            ``u = s X + tx``, ``v = -s Y + ty`` (future frames: scale held, translation extrapolated).
        skeleton: joint layout (``"body-17"``).
        model: name of the model.
        anchor: ``(J, 2)`` observed keypoints (pixels) at the last past frame ``times[T - 1]``, where the
            anchored forecast starts (NaN for joints not seen); None: no anchoring (raw projection).
        translation_scale, pose_scale: factors on the predicted pelvis motion and on the joints' motion
            about it in the anchored forecast (module docstring).
        anchor_weight: ``(J,)`` the backend's visibility of each anchor joint, for models that start a joint
            the detector barely saw nearer their own estimate (`start_of`); None: every seen joint starts at
            its keypoint.
    """

    past: np.ndarray
    future: np.ndarray
    fps: float
    times: np.ndarray
    camera: np.ndarray
    skeleton: str = LAYOUT
    model: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    anchor: np.ndarray | None = None
    translation_scale: float = ANCHOR_TRANSLATION_SCALE
    pose_scale: float = ANCHOR_POSE_SCALE
    anchor_weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        t, h = len(self.past), len(self.future)
        if self.past.ndim != 3 or self.future.ndim != 3 or self.past.shape[1:] != self.future.shape[1:]:
            raise ModelError(f"video forecast shapes do not match: past {self.past.shape}, future {self.future.shape}")
        if self.times.shape != (t + h,) or self.camera.shape != (t + h, 3):
            raise ModelError(
                f"video forecast of {t} + {h} frames has times {self.times.shape} and camera {self.camera.shape}"
            )
        if self.anchor is not None:
            self.anchor = np.asarray(self.anchor, dtype=np.float64)
            if t == 0 or self.anchor.shape != (self.past.shape[1], 2):
                raise ModelError(
                    f"video forecast anchor {self.anchor.shape} does not fit {t} past frames of "
                    f"{self.past.shape[1]} joints (needs ({self.past.shape[1]}, 2) and a past frame)"
                )

    def pixels(self, anchored: bool = True) -> np.ndarray:
        """``(T + H, J, 2)`` image positions: the past through ``camera`` (the re-projection of the estimate),
        then `future_pixels` (anchored by default)."""
        from posecast.video.models.common import project_pixels

        return np.concatenate([project_pixels(self.past, self.camera[: len(self.past)]), self.future_pixels(anchored)])

    def start_pixels(self, anchored: bool = True) -> np.ndarray:
        """``(J, 2)`` where the forecast starts, at ``times[T - 1]``: the ``anchor`` (the model's projection of
        its last estimated frame for joints without one, or for every joint when ``anchored`` is False or
        there is no anchor)."""
        from posecast.video.models.common import project_pixels

        t = len(self.past)
        est = project_pixels(self.past[t - 1], self.camera[t - 1])
        if not anchored or self.anchor is None:
            return est
        return start_of(self.anchor, est, self.anchor_weight)

    def future_pixels(self, anchored: bool = True) -> np.ndarray:
        """``(H, J, 2)`` image positions of the forecast: anchored (module docstring) when ``anchored`` and the
        forecast has an ``anchor``, else the raw projection through the future cameras."""
        t = len(self.past)
        return anchor_pixels(
            self.past[t - 1],
            self.future,
            self.camera[t - 1],
            self.camera[t:],
            self.anchor if anchored else None,
            self.translation_scale,
            self.pose_scale,
            self.anchor_weight,
        )

    def to_forecast(self) -> Forecast:
        """A `posecast.motion.Forecast` (one sample) with the past as its history, for the writers: its metadata's
        ``start_time`` is the first history frame's time in seconds from the clip's first frame (the clock of
        ``--at`` and of the detection times), ``clip_start_s`` the container's time of that first frame
        (``metadata["clip_start_s"]`` here, 0 when not given; an MPEG-TS starts at 1.4 s or so)."""
        history = Motion(self.past, self.fps, self.skeleton, metadata={"source": self.metadata.get("source")})
        clip_start = float(self.metadata.get("clip_start_s", 0.0))
        return Forecast(
            samples=self.future[None],
            fps=self.fps,
            skeleton=self.skeleton,
            history=history,
            model=self.model,
            metadata={
                "source": self.metadata.get("source"),
                "frame": "camera-aligned (x right in the image, y up, z toward the camera), pelvis-centred",
                "up_axis": "+y",  # the image's up, whatever the person does (renderings take it as it is)
                "start_time": round(float(self.times[0]) - clip_start, 9) + 0.0,  # + 0.0: never -0.0
                "clip_start_s": clip_start,
                # per past frame: the person was detected at (the clip frame nearest) it; elsewhere the past is
                # estimated from keypoints bridged or held from the detections
                **(
                    {"history_detected": np.asarray(self.metadata["detected"], dtype=bool).tolist()}
                    if self.metadata.get("detected") is not None and len(self.metadata["detected"]) == len(self.past)
                    else {}
                ),
            },
        )


def anchor_pixels(
    last: np.ndarray,
    future: np.ndarray,
    last_camera: np.ndarray,
    future_camera: np.ndarray,
    anchor: np.ndarray | None,
    translation_scale: float = ANCHOR_TRANSLATION_SCALE,
    pose_scale: float = ANCHOR_POSE_SCALE,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """The anchored forecast in pixels (module docstring), batched over leading dimensions ``...``.

    Args:
        last: ``(..., J, 3)`` the last estimated observed frame (camera-aligned metres).
        future: ``(..., H, J, 3)`` the forecast.
        last_camera, future_camera: ``(..., 3)`` and ``(..., H, 3)`` their pixel cameras ``(s, tx, ty)``.
        anchor: ``(..., J, 2)`` observed pixels at the last frame (NaN: not seen, the projection of
            ``last`` is used); None: the raw projection of ``future``.
        translation_scale, pose_scale: factors on the pelvis motion (the change of ``(tx, ty)``) and on
            the joints' motion about it.
        weight: ``(..., J)`` how much of each joint's start is the anchor (the backend's visibility in 0..1),
            the rest the projection of ``last``; None: all of it (`start_of`).

    Returns:
        ``(..., H, J, 2)`` pixels: ``start + translation_scale · Δt + pose_scale · (Δp - Δt)`` with ``start``
        the anchor, ``Δp`` the change of the raw projections since ``last`` and ``Δt`` of the translation.
    """
    from posecast.video.models.common import project_pixels

    raw = project_pixels(future, future_camera)
    if anchor is None:
        return raw
    est = project_pixels(last, last_camera)  # (..., J, 2)
    start = start_of(anchor, est, weight)
    moved = future_camera[..., :, None, 1:] - last_camera[..., None, None, 1:]  # (..., H, 1, 2)
    pose = raw - est[..., None, :, :] - moved
    return start[..., None, :, :] + translation_scale * moved + pose_scale * pose


def start_of(anchor: np.ndarray, estimate: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Where an anchored forecast starts, ``(..., J, 2)``: the observed ``anchor`` pixels (the model's projected
    ``estimate`` where they are NaN), blended as ``w · anchor + (1 - w) · estimate`` by ``weight (..., J)``
    when given (the backend's visibility: a joint the detector barely saw starts nearer the model's estimate)."""
    anchor = np.asarray(anchor, dtype=np.float64)
    seen = np.isfinite(anchor).all(-1, keepdims=True)
    if weight is None:
        return np.where(seen, anchor, estimate)
    w = np.clip(np.nan_to_num(np.asarray(weight, dtype=np.float64)), 0.0, 1.0)[..., None]
    return np.where(seen, w * np.nan_to_num(anchor) + (1.0 - w) * estimate, estimate)


@dataclass
class VideoPrediction:
    """Batched output of `VideoForecaster.predict`: ``past (B, T, J, 3)``, ``future (B, F, J, 3)``
    (metres, camera-aligned, pelvis-centred) and ``camera (B, T + F, 3)`` pixel cameras."""

    past: np.ndarray
    future: np.ndarray
    camera: np.ndarray


def load_network(name: str, weights: Path | None, config_class: type, net_class: type) -> Any:
    """The network of video model ``name`` from weights folder ``weights`` (default: its shipped one,
    `posecast.models.store`): ``net_class(config_class(**config))`` with the folder's state loaded; a config the
    class refuses is a `ModelError` naming the folder. Every video model's ``load`` wraps this."""
    from posecast.models import store

    directory = Path(weights) if weights is not None else store.shipped(name)
    state, meta = store.load_folder(directory)
    try:
        with store.keeps_rng():
            net = net_class(config_class(**meta["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"invalid {name} config: {problems(exc)}", directory) from None
    store.load_state(net, state, directory, f"the {name}")
    net.keypoint_convention = trained_convention(meta)
    return net


def resample_track(track: PoseTrack, fps: float, align: str = "start") -> tuple[PoseTrack, np.ndarray]:
    """``track`` resampled at ``fps`` by linear interpolation on its real timestamps, and the new
    ``(T',)`` times: ``align="start"``: ``times[0] + k / fps`` up to the last frame; ``align="end"``: the same
    number of frames ending exactly at the last frame, ``times[-1] - k / fps`` (what a forecast needs: its
    last observed frame is the newest observation). A single frame stays one frame. NaN keypoints stay NaN
    where their neighbours are NaN; ``detected`` takes the nearer source frame."""
    if align not in ("start", "end"):
        raise ValueRangeError(f"align must be 'start' or 'end', not {align!r}")
    times = track.times
    if track.num_frames < 2:
        return track, times.copy()
    n = int(math.floor((times[-1] - times[0]) * fps + 1e-6)) + 1
    new = times[0] + np.arange(n) / fps if align == "start" else times[-1] - np.arange(n)[::-1] / fps
    i1 = np.clip(np.searchsorted(times, new, side="right"), 1, len(times) - 1)
    i0 = i1 - 1
    frac = np.clip((new - times[i0]) / (times[i1] - times[i0]), 0.0, 1.0)

    def lerp(a: np.ndarray) -> np.ndarray:
        w = frac.reshape(-1, *([1] * (a.ndim - 1)))
        return a[i0] * (1 - w) + a[i1] * w

    nearest = np.where(frac < 0.5, i0, i1)
    out = PoseTrack(
        keypoints=lerp(track.keypoints),
        visibility=lerp(track.visibility),
        times=new,
        image_size=track.image_size,
        skeleton=track.skeleton,
        detected=track.detected[nearest],
        world=None if track.world is None else lerp(track.world),
        metadata={**track.metadata, "resampled_fps": fps},
    )
    return out, new


class VideoForecaster(ABC):
    """Base class of the video models.

    Class attributes:
        name: registry name.
        fps: the fixed frame rate the model runs at.
        skeleton: the layout it reads and writes (``body-17``).
        uses_world: True when ``predict`` uses the backend's world landmarks when given.
        anchor_translation_scale, anchor_pose_scale: the factors of the anchored forecasts it returns
            (`VideoForecast`; default `ANCHOR_TRANSLATION_SCALE`, `ANCHOR_POSE_SCALE`).
        anchor_visibility: start each joint's anchored forecast between its keypoint and the model's own
            projection by the backend's visibility (`start_of`) instead of at the keypoint.

    `keypoint_convention` says which body-17 the network read in training; `model_input` turns a track (a pose
    detector's, on body-17 as documented) into it and `model_output` turns its 3D estimates back. Batches of
    virtual-camera windows (benchmarks, training) are filmed in the network's own convention and go to
    ``predict`` as they are.
    """

    name: str = ""
    fps: float = 25.0
    skeleton: str = LAYOUT
    uses_world: bool = False
    anchor_translation_scale: float = ANCHOR_TRANSLATION_SCALE
    anchor_pose_scale: float = ANCHOR_POSE_SCALE
    anchor_visibility: bool = False

    @property
    def keypoint_convention(self) -> str:
        """`CORPUS_CONVENTION` or `DOCUMENTED_CONVENTION`: the body-17 the network was trained on (`trained_convention`
        of its weights; a model without a network of its own says so itself)."""
        return getattr(getattr(self, "net", None), "keypoint_convention", DOCUMENTED_CONVENTION)

    def model_input(self, track: PoseTrack) -> PoseTrack:
        """``track`` (on ``body-17`` as documented: what `PoseTrack.to_layout` makes of a detector's keypoints) as
        the network reads it: re-expressed by `posecast.skeletons.mapping.corpus_convention` (keypoints, world
        landmarks, each new joint's visibility the least of its sources') for a network trained on the corpus;
        unchanged otherwise. On the CMU BVH validation files filmed in the documented convention, the remap brings
        the corpus-trained models back to what they estimate from the corpus's own: past MPJPE lifter 44.8 -> 39.6
        mm (39.4 from the corpus's keypoints), hmmr 72.9 -> 55.2 (54.9), posemonet 87.6 -> 77.1 (76.8), phd 63.2
        -> 58.2 (57.6)."""
        if self.keypoint_convention != CORPUS_CONVENTION:
            return track
        from posecast.skeletons.mapping import corpus_convention

        keypoints, visibility = corpus_convention(track.keypoints, track.visibility)
        world = None if track.world is None else corpus_convention(track.world)
        return replace(track, keypoints=keypoints, visibility=visibility, world=world)

    def model_output(self, points: np.ndarray) -> np.ndarray:
        """3D points ``(..., 17, 3)`` the network estimated, with the documented body-17 meanings: re-expressed by
        `posecast.skeletons.mapping.documented_convention` for a network trained on the corpus; unchanged
        otherwise. `forecast_track` returns its past and future so (``predict``, which benchmarks call on windows
        filmed in the network's own convention, does not)."""
        if self.keypoint_convention != CORPUS_CONVENTION:
            return points
        from posecast.skeletons.mapping import documented_convention

        return documented_convention(points)

    @abstractmethod
    def predict(
        self,
        keypoints: np.ndarray,
        visibility: np.ndarray,
        frames: int,
        world: np.ndarray | None = None,
    ) -> VideoPrediction:
        """Batched estimation of the observed frames and forecast of the next ``frames``.

        Args:
            keypoints: ``(B, T, J, 2)`` pixels at ``self.fps`` (x right, y down; NaN for unseen joints).
            visibility: ``(B, T, J)`` scores in ``[0, 1]``.
            frames: future frames ``F`` to predict.
            world: optional ``(B, T, J, 3)`` backend world landmarks (metres, y up, hip-centred).
        """

    def forecast(
        self,
        source: PoseTrack | str | Path,
        frames: int | None = None,
        seconds: float | None = None,
        samples: int = 1,
    ) -> Forecast:
        """Forecast the person in ``source`` (a `PoseTrack`, or a video / image file whose track the pose
        backend extracts): ``seconds`` (default 1) or ``frames`` at the model's rate beyond the last
        observed frame. Returns a one-sample `Forecast` (camera-aligned 3D, the estimated past as its
        history) with ``metadata["track"]`` (the 2D track) and ``metadata["video"]`` (`VideoForecast`)."""
        if samples != 1:
            raise ValueRangeError(f"video model {self.name!r} gives one forecast, not {samples} samples")
        if frames is not None and seconds is not None:
            raise ValueRangeError("give only one of frames and seconds")
        if frames is not None:  # the motion models' checks (numpy numbers taken, booleans refused)
            frames = resolve_frames(1.0, frames, None)
        elif seconds is not None:
            resolve_frames(1.0, None, seconds)
            seconds = float(seconds)
        track = source if isinstance(source, PoseTrack) else extract_track(Path(source))
        track = track.without_leaving()  # (a track extracted here is so already; one made elsewhere may not be)
        read = track
        changes = track.person_changes()
        if len(changes):  # another person (or shot) since some frame: the forecast reads the last one only
            read = track.since_last_change()
            track = replace(track, metadata={**track.metadata, "person_changed_s": float(
                track.times[changes[-1]] - track.times[0])})  # fmt: skip
        duration = frames / self.fps if frames is not None else (1.0 if seconds is None else seconds)
        video = self.forecast_track(read, duration)
        video.metadata["clip_start_s"] = float(track.times[0])  # the clock `start_time` and --at count from
        fc = video.to_forecast()
        seen = read.times[read.detected] if read.detected.any() else read.times[-1:]
        fc.metadata["observed_s"] = round(float(seen[-1] - seen[0]), 4)  # how long the person read was seen
        fc.metadata.update(track=track, video=video)  # the track as observed (who was seen, where)
        return fc

    def warm(self, seconds: float) -> None:
        """Prepare for a live camera forecasting ``seconds`` ahead on every frame (e.g. trace what a steady
        stream runs, so that its first frames do not wait for it). Models with nothing to prepare do nothing."""
        return None

    def forecast_track(self, track: PoseTrack, seconds: float) -> VideoForecast:
        """Estimate the past of ``track`` in 3D and forecast ``seconds`` beyond its last frame.

        The model reads the track from its first detected frame on (`PoseTrack.from_first_detection`): the frames
        before it would hold the first pose seen, a person standing still to the model, so the estimated past, its
        times and its per-frame ``detected`` start there; a model that needs more frames than that pads them its own
        way (``posemonet`` and the motion forecaster of ``lift+forecast`` repeat the first frame, the convolutions
        pad at the edge). The track may be on any layout that maps to ``body-17``; it is resampled to ``self.fps``
        using ``track.times`` on a clock that ends at its last frame (`resample_track`, ``align="end"``). Returned
        times continue that clock by ``1 / fps`` per future frame; the network reads it as `model_input` makes
        it and its estimates come back through `model_output` (body-17 as documented); the forecast is anchored
        (`anchored`) at the track's last keypoints (as given).
        """
        resolve_frames(1.0, None, seconds)  # a positive number of seconds (numpy numbers too, no booleans)
        seconds = float(seconds)
        if track.num_frames == 0:
            raise ValueRangeError("the pose track has no frames")
        body = track.from_first_detection().to_layout(self.skeleton)
        rs, times = resample_track(body, self.fps, align="end")
        f = max(1, round(seconds * self.fps))
        seen = self.model_input(rs)
        world = None if (seen.world is None or not self.uses_world) else seen.world[None]
        pred = self.predict(seen.keypoints[None], seen.visibility[None], f, world=world)
        t = rs.num_frames
        if pred.past.shape[:2] != (1, t) or pred.future.shape[:2] != (1, f) or pred.camera.shape != (1, t + f, 3):
            raise ModelError(f"model {self.name!r} returned inconsistent shapes for {t} observed + {f} future frames")
        all_times = np.concatenate([times, times[-1] + np.arange(1, f + 1) / self.fps])
        video = VideoForecast(
            past=self.model_output(pred.past[0]),
            future=self.model_output(pred.future[0]),
            fps=self.fps,
            times=all_times,
            camera=pred.camera[0],
            skeleton=self.skeleton,
            model=self.name,
            metadata={"source": track.metadata.get("source"), "detected": rs.detected.copy()},
        )
        return self.anchored(video, rs.keypoints[-1], rs.visibility[-1])

    def anchored(
        self, video: VideoForecast, keypoints: np.ndarray, visibility: np.ndarray | None = None
    ) -> VideoForecast:
        """``video`` anchored at ``keypoints (J, 2)``, the observed pixels at its last past frame (NaN: not
        seen), with this model's `anchor_translation_scale` and `anchor_pose_scale`, and, for a model with
        `anchor_visibility`, each joint's start weighted by the backend's ``visibility (J,)`` there."""
        weight = None if visibility is None or not self.anchor_visibility else np.array(visibility, dtype=np.float64)
        return replace(
            video,
            anchor=np.array(keypoints, dtype=np.float64),
            translation_scale=self.anchor_translation_scale,
            pose_scale=self.anchor_pose_scale,
            anchor_weight=weight,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, fps={self.fps:g})"


def extract_track(path: Path, max_time: float | None = None, static: bool = False) -> PoseTrack:
    """The pose track of the person in a video (its first ``max_time`` seconds; ``static``: detect on
    every frame) or an image file (MediaPipe backend); a one-line `FormatError` for anything else."""
    from posecast.errors import FormatError
    from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES, extract_image_pose, extract_poses

    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        raise FormatError(f"not a video or image: use {', '.join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)}", path)
    if not path.is_file():
        raise FormatError("no such file", path)
    if suffix in IMAGE_SUFFIXES:
        if max_time is not None:
            raise ValueRangeError("--at applies to videos, not to an image", path)
        return extract_image_pose(path)
    return extract_poses(path, max_time=max_time, static=static)
