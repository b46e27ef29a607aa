"""The wire format of `posecast serve`: pydantic models of every request and reply.

Conventions (docs/serve.md is the page for people):

- Positions are metres, y up, right-handed (PoseCast's frame). ``"up": "z"`` in a request or an opening
  message declares z-up positions (x forward, y left, z up, as robots use): they are turned into y-up on
  the way in and back on the way out.
- Times are seconds; ``fps`` is frames per second.
- Every error body, on HTTP and on WebSockets, is ``{"error": "..."}``.
- Arrays are nested JSON lists: ``T×J×3`` is a list of ``T`` frames of ``J`` joints of ``[x, y, z]``.

A video frame on ``/v1/video`` is one binary WebSocket message: an 8-byte little-endian float64 timestamp
in seconds, then the bytes of one JPEG or PNG image.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

Vec3 = list[Annotated[float, Strict()]]
"""``[x, y, z]`` metres: numbers (a string such as ``"1.5"`` or a boolean is refused, not read as one)."""

Up = Literal["y", "z"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InlineSkeleton(_Model):
    """A skeleton given by its joints: ``joints`` names (``J``), ``parents`` indices (``-1`` for the one root;
    any order, e.g. Kinect v2's, whose ``Neck`` comes before its parent) and optional rest ``offsets`` (``J×3``
    metres, from each joint's parent). The server maps it onto the canonical body by names and topology;
    positions go in and come back in the order given."""

    name: str = Field("inline", max_length=200)
    joints: list[str] = Field(min_length=1)
    parents: list[int] = Field(min_length=1)
    offsets: list[Vec3] | None = None


#: the most hypotheses one request may ask for (JSON and upload alike)
MAX_SAMPLES = 100

SkeletonSpec = str | InlineSkeleton
"""A registered skeleton name (``posecast.skeletons.names()``: ``cmu-bvh-31``, ``smplh-22``...) or an inline one."""


class ForecastRequest(_Model):
    """``POST /v1/forecast``: forecast the future of one observed motion."""

    skeleton: SkeletonSpec
    fps: float = Field(gt=0, strict=True, description="frames per second of `positions` (a number)")
    positions: list[list[Vec3]] = Field(min_length=1, description="T×J×3 observed positions, metres")
    seconds: float = Field(1.0, gt=0, description="how far to forecast")
    model: str | None = Field(None, description="a motion or key-pose model (default: the server's model)")
    samples: int | None = Field(None, ge=1, le=MAX_SAMPLES, description="hypotheses (key-pose models default to 10)")
    up: Up = "y"
    mapping: dict[str, Any] | None = Field(
        None, description="explicit joint mapping onto the canonical body ({canonical joint: your joint})"
    )
    smooth: float | None = Field(
        None,
        gt=0,
        le=1.0,
        description="seconds: smooth a tracker's jitter out of the history first (quadratic Savitzky-Golay, e.g. 0.2)",
    )


class ForecastResponse(_Model):
    """The forecast: ``positions`` is ``S×F×J×3`` (``S`` hypotheses of ``F`` frames, starting one frame
    after the last observed one), with ``probabilities`` (``S``) for models that give hypotheses."""

    model: str
    fps: float
    skeleton: str
    up: Up
    joints: list[str]
    positions: list[list[list[Vec3]]]
    probabilities: list[float] | None = None
    seconds: float
    history_starts_at_frame: int = Field(
        0, description="leading frames of the request left out as not motion (a rest pose sent before it)"
    )
    repaired_glitches: list[dict[str, Any]] = Field(
        default_factory=list,
        description="tracking losses filled in among the frames the model reads: a joint that jumped off its bones "
        "(or to the origin) and came back ({joint, first_frame, last_frame}, frames of the request)",
    )
    carried_joints: list[dict[str, Any]] = Field(
        default_factory=list,
        description="joints still lost in the last frame, carried with the body from their last tracked frame "
        "({joint, lost_from_frame}); a person lost whole is a 400",
    )
    history_jitter_m: float | None = Field(
        None, description="the history's median joint jitter when it is above 6 mm (a tracker's noise: try smooth)"
    )
    compute_ms: float = Field(description="server time spent forecasting, milliseconds")


class StreamOpen(_Model):
    """First message on ``/v1/stream``: opens a session."""

    skeleton: SkeletonSpec
    fps: float = Field(gt=0, strict=True, description="frame rate of the stream (a number)")
    seconds: float = Field(1.0, gt=0, description="how far each forecast reaches")
    model: str | None = None
    up: Up = "y"
    mapping: dict[str, Any] | None = None
    token: str | None = Field(None, description="the server's token, when it has one (or ?token= in the URL)")


class StreamReady(_Model):
    """The server's answer to `StreamOpen`: what the session runs."""

    type: Literal["ready"] = "ready"
    session: str
    model: str
    fps: float
    seconds: float
    frames: int = Field(description="forecast frames F per reply")
    skeleton: str
    joints: list[str]
    parents: list[int]
    history_frames: int = Field(description="frames of history the session keeps (what the model needs)")
    up: Up


class StreamFrame(_Model):
    """One observed frame: ``positions`` is ``J×3`` metres at time ``t`` (seconds, increasing)."""

    t: float
    positions: list[Vec3]


class StreamWaiting(_Model):
    """The reply to a frame while the session has fewer frames than its model needs (``needed``)."""

    type: Literal["waiting"] = "waiting"
    t: float
    frames: int
    needed: int
    note: str | None = Field(
        None,
        description="why the history started over (a jump in t), or which joints the tracker lost in the newest "
        "frame and were carried with the body, when it did",
    )
    warning: str | None = Field(None, description="as in `StreamReply`")


class StreamReply(_Model):
    """A forecast from the newest frame received when the server got to it.

    ``skipped`` counts the frames that arrived since the previous reply and got no reply of their own
    (newest frame wins: they are still part of the history)."""

    type: Literal["forecast"] = "forecast"
    t: float = Field(description="time of the newest frame the forecast used")
    fps: float
    model: str
    forecast: list[list[Vec3]] = Field(description="F×J×3 metres (streams serve the deterministic motion models)")
    skipped: int
    compute_ms: float = Field(description="time from that frame's arrival to the forecast being ready, ms")
    warning: str | None = Field(
        None,
        description="present while frames come persistently faster than the stream's fps (each frame is taken "
        "as one frame period, so the motion would be read too slow): reopen with the rate it names",
    )
    note: str | None = Field(
        None, description="which joints the tracker lost in the newest frame, carried with the body (guide)"
    )


class VideoOpen(_Model):
    """First message on ``/v1/video`` (JSON text); then binary frames (8-byte LE float64 time + JPEG/PNG)."""

    model: str | None = Field(None, description="a video model (default: the registry's video default)")
    seconds: float = Field(1.0, gt=0)
    up: Up = "y"
    token: str | None = None


class VideoReady(_Model):
    """The server's answer to `VideoOpen`: the forecast's layout (``skeleton``, ``joints``, ``parents``:
    ``body-17``) and the layout of the 2D keypoints the pose backend finds (``keypoint_*``: BlazePose)."""

    type: Literal["ready"] = "ready"
    session: str
    model: str
    fps: float
    seconds: float
    skeleton: str
    joints: list[str]
    parents: list[int]
    keypoint_skeleton: str
    keypoint_joints: list[str]
    keypoint_parents: list[int]
    up: Up


class VideoReply(_Model):
    """A forecast from a camera frame: the 2D keypoints the backend found in it (pixels, x right, y down;
    ``null`` where unseen) and the model's 3D forecast (camera-aligned, pelvis-centred) with its projection
    into the image."""

    type: Literal["forecast"] = "forecast"
    t: float
    detected: bool
    keypoints: list[list[float | None]] | None = None
    visibility: list[float] | None = None
    fps: float
    model: str
    forecast: list[list[Vec3]] | None = Field(None, description="F×J×3 metres")
    forecast_pixels: list[list[list[float]]] | None = Field(None, description="F×J×2 image pixels")
    skipped: int
    compute_ms: float = Field(description="decode + pose + forecast time for this frame, ms")


class ErrorBody(_Model):
    """Every error, on HTTP (with a 4xx status) and on WebSockets."""

    error: str


class Health(_Model):
    status: Literal["ok"] = "ok"
    version: str
    model: str
    mirror_average: bool
    sessions: int
    video_sessions: int
    limits: dict[str, int | float]  # counts as integers, rates and times as floats (`engine.Limits.as_dict`)


class MotionUpload(_Model):
    """``POST /v1/motions`` (a BVH/AMC/npz... file): the motion as the stream and forecast requests take it."""

    skeleton: InlineSkeleton
    fps: float
    positions: list[list[Vec3]]
    source: str


__all__ = [
    "ErrorBody",
    "ForecastRequest",
    "ForecastResponse",
    "Health",
    "InlineSkeleton",
    "MotionUpload",
    "SkeletonSpec",
    "StreamFrame",
    "StreamOpen",
    "StreamReady",
    "StreamReply",
    "StreamWaiting",
    "VideoOpen",
    "VideoReady",
    "VideoReply",
]
