"""The server's machinery without the web framework: limits, models kept loaded, stream sessions and the
micro-batcher that forecasts every due session in one network call per tick.

Threads: the asyncio event loop only parses, queues and sends. Stream forecasts run on one worker thread
(``compute``: torch is given one thread, two cores are shared with the pose backend and the clients), those
of streams that ask for long horizons or huge rigs on a second one (``heavy``, `is_heavy`), the pose backend
of video sessions on another pool (``pose``). A tick of the batcher takes every session of its lane with
a frame that has not been answered, groups them by what can share a network call (the same inner model,
frame rate, horizon and history length: sessions on different skeletons share the canonical-body call),
runs the groups on the lane's thread and hands each session its reply; frames that arrive meanwhile
wait for the next tick, and only the newest one of a session is answered (``skipped`` counts the rest).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import orjson

from posecast.errors import ModelError, PosecastError, SkeletonError, ValueRangeError
from posecast.motion import (
    GLITCH_SPEED,
    JITTER_STEPS,
    MAX_DETACHED,
    MAX_POSITION_M,
    ORIGIN_M,
    Bones,
    Glitch,
    Motion,
    carry_lost,
    detached_start,
    jitter,
    named_joints,
    sorted_median,
    swapped_chain,
)
from posecast.serve.schema import MAX_SAMPLES
from posecast.skeletons.base import Skeleton

#: z-up (x forward, y left, z up) → PoseCast's y-up frame: (x, y, z) → (x, z, -y); a proper rotation
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: decimals of metres in replies (0.01 mm): smaller, faster JSON, far below any model's error
DECIMALS = 5

#: history kept for models that do not say what they need (`Forecaster.history_frames` None), seconds
DEFAULT_HISTORY_SECONDS = 2.0


#: seconds: a stream frame this much earlier than the previous one starts a new timeline (a client whose clock
#: restarted, or one that sent a wild time, is not stuck); later ones, but not after it, are refused
NEW_TIMELINE_SECONDS = 1.0
#: a stream whose frames come, on a running mean over at least `PACE_FRAMES` gaps, faster than this many of its
#: frame periods apart is told so in its replies (`StreamSession.warning`): a 60 Hz sender that opened at 30 fps
PACE_TOO_FAST = 0.75
PACE_FRAMES = 10
#: frames a stream must hold before its joints are judged for tracking losses (`StreamSession.carry_lost`)
MIN_JUDGED_FRAMES = 5
#: seconds of frames between two measurements of a stream's bones (`StreamSession.carry_lost`; each costs ~0.5 ms)
BONES_EVERY_S = 0.5
#: frames per second: the lowest rate the server takes (a rate far below it makes one frame, or a short
#: history, span hours, which the models would resample and roll out)
MIN_FPS = 1.0
#: seconds: the longest history a request may span (`check_rate_and_horizon`)
MAX_HISTORY_SECONDS = 1000.0


@dataclass(frozen=True)
class Limits:
    """Bounds of the service (each is a flag of ``posecast serve``)."""

    ws_message_bytes: int = 1 << 20
    rest_body_bytes: int = 16 << 20
    joints: int = 256
    fps: float = 120.0
    sessions: int = 256
    idle_seconds: float = 60.0
    request_seconds: float = 60.0  # an HTTP request body must arrive within this of its head (`serve.deadlines`)
    seconds: float = 30.0  # longest forecast horizon
    frames: int = 20_000  # longest REST history

    def as_dict(self) -> dict[str, int | float]:
        """The bounds by name, counts as integers (JSON ``256``, not ``256.0``), rates and times as floats."""
        return {f.name: (float if f.type in (float, "float") else int)(getattr(self, f.name)) for f in fields(self)}


def to_y_up(positions: np.ndarray, up: str) -> np.ndarray:
    """``(..., 3)`` positions in the request's frame → PoseCast's (y up)."""
    return positions @ Z_UP_TO_Y_UP.T if up == "z" else positions


def from_y_up(positions: np.ndarray, up: str) -> np.ndarray:
    """``(..., 3)`` positions in PoseCast's frame → the request's."""
    return positions @ Z_UP_TO_Y_UP if up == "z" else positions


def rounded(a: np.ndarray) -> np.ndarray:
    """``a`` as float64 rounded to `DECIMALS`, for `dumps` (NaN stays NaN and is written as null)."""
    return np.round(np.asarray(a, dtype=np.float64), DECIMALS)


def dumps(obj: dict[str, Any]) -> str:
    """JSON text of ``obj``; numpy arrays become nested lists, NaN becomes null. orjson: about 10x faster
    than the standard library on a forecast (0.13 vs 1.2 ms for 30×31×3 numbers), which is a fifth of a
    stream reply's time otherwise."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def loads(text: str | bytes) -> Any:
    """Parse JSON text (orjson: NaN and Infinity are refused, as JSON has neither); `ValueError` otherwise."""
    return orjson.loads(text)


def error_text(message: str, busy: bool = False) -> str:
    """An error message; ``busy``: the server is full (``"busy": true``; the client raises `ServiceBusy`)."""
    return dumps({"error": message, "busy": True} if busy else {"error": message})


def parse_positions(value: Any, joints: int | None, limits: Limits, what: str = "positions") -> np.ndarray:
    """``value`` (nested lists) → a finite float64 array ``(..., J, 3)``; a `ValueRangeError` naming the
    problem otherwise."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueRangeError(f"{what} must be numbers nested as ...×J×3") from None
    if raw.dtype.kind not in "iuf" or (raw.ndim == 2 and _any_bool(value)):  # strings ("1.5"), booleans, ragged
        raise ValueRangeError(f"{what} must be numbers nested as ...×J×3 (not strings, booleans or ragged lists)")
    a = raw.astype(np.float64, copy=False)
    if a.ndim < 2 or a.shape[-1] != 3:
        raise ValueRangeError(f"{what} must be ...×J×3 (joints of [x, y, z]), got shape {list(a.shape)}")
    if joints is not None and a.shape[-2] != joints:
        raise ValueRangeError(f"{what} has {a.shape[-2]} joints, the skeleton {joints}")
    if a.shape[-2] > limits.joints:
        raise ValueRangeError(f"{what} has {a.shape[-2]} joints; the server takes at most {limits.joints}")
    if not np.isfinite(a).all():
        raise ValueRangeError(f"{what} holds NaN or infinite values")
    if a.size and np.abs(a).max() > MAX_POSITION_M:
        raise ValueRangeError(f"{what} holds a joint more than {MAX_POSITION_M:g} m from the origin (metres expected)")
    return a


def _any_bool(value: Any) -> bool:
    """Whether one frame's nested lists ``J×3`` hold a boolean (numpy reads ``[true, 0.5, 1]`` as numbers; a stream
    frame is not checked by the schema's strict numbers, a REST body is)."""
    if not isinstance(value, list):
        return False
    rows = [row for row in value if isinstance(row, list)]
    return bool in set(map(type, itertools.chain.from_iterable(rows)))  # 3 us a frame, a generator took 45


#: share of a frame's joints left out of its body span (`check_body_span`): the farthest from its median joint
SPAN_OUTLIER_SHARE = 0.1
#: rigs with fewer body joints than this keep all of them in the span (at least one is left out from here on)
SPAN_MIN_JOINTS = 6


@functools.lru_cache(maxsize=256)
def _body_joints(parents: tuple[int, ...]) -> np.ndarray | slice:
    """The joints of `check_body_span`: those with a parent, or all of them when fewer than two have one."""
    body = np.flatnonzero(np.asarray(parents) >= 0)
    return body if len(body) >= 2 else slice(None)


def check_body_span(positions: np.ndarray, skeleton: Skeleton, what: str = "positions") -> None:
    """A `ValueRangeError` when the body in ``positions`` ``(..., J, 3)`` (on ``skeleton``'s joints) is not
    person-sized in metres: the median over frames of each frame's bounding-box longest side outside
    `posecast.io.reading.BODY_SPAN_M` (millimetres or centimetres, or every joint at one point). Root joints are left
    out (a world root on the floor's origin may be far from the person), and so are the tenth of the joints
    farthest from the frame's median joint, at least one from `SPAN_MIN_JOINTS` joints (`SPAN_OUTLIER_SHARE`: a
    tracker's stray joint metres away is a lost joint, carried with the body, not a sign of centimetres)."""
    from posecast.io.reading import BODY_SPAN_M

    frames = positions.reshape(-1, *positions.shape[-2:])
    if not len(frames):  # nothing to judge
        return
    frames = frames[:: max(1, len(frames) // 50), _body_joints(tuple(skeleton.parents))]
    joints = frames.shape[-2]
    keep = joints - (max(1, math.floor(SPAN_OUTLIER_SHARE * joints)) if joints >= SPAN_MIN_JOINTS else 0)
    # every stream frame is checked on the event loop: a few whole-array operations (medians by sorting, squared
    # distances, a partition: np.median's own checks cost 35 us a call, np.linalg.norm 10, take_along_axis 25)
    median = sorted_median(np.swapaxes(frames, 0, 1))  # (N, 3): each frame's median joint
    d = frames - median[:, None]
    far = np.einsum("njk,njk->nj", d, d)  # (N, J) squared distances from the median joint
    near = np.argpartition(far, keep - 1, axis=-1)[:, :keep] if keep < joints else slice(None)
    kept = frames[np.arange(len(frames))[:, None], near] if keep < joints else frames  # (N, keep, 3)
    span = float(sorted_median((kept.max(axis=-2) - kept.min(axis=-2)).max(axis=-1)))
    lo, hi = BODY_SPAN_M
    if span > hi:
        guess = "millimetres" if span > 300 else "centimetres"
        raise ValueRangeError(
            f"{what}: a body spanning {span:.4g} m; positions must be metres (these look like {guess})"
        )
    if span < lo:
        raise ValueRangeError(
            f"{what}: a body spanning {span:.3g} m (joints at one point?); positions must be a person's joints "
            "in metres"
        )


def resolve_skeleton(spec: Any, limits: Limits) -> tuple[Skeleton, np.ndarray | None]:
    """A registered skeleton name or an `posecast.serve.schema.InlineSkeleton` → ``(skeleton, order)``: an
    inline skeleton may list its joints in any order (Kinect v2, OpenNI), ``order`` then says where each of
    the skeleton's joints is in the client's (`posecast.skeletons.base.in_any_order`; None: the same order)."""
    from posecast import skeletons
    from posecast.skeletons.base import in_any_order

    if isinstance(spec, str):
        try:
            skel = skeletons.get(spec)
        except PosecastError:
            raise SkeletonError(
                f"unknown skeleton {spec!r}: give a registered name ({', '.join(skeletons.names())}) "
                "or an inline skeleton {joints, parents}"
            ) from None
    else:
        if len(spec.joints) > limits.joints:
            raise SkeletonError(f"skeleton has {len(spec.joints)} joints; the server takes at most {limits.joints}")
        offsets = None if spec.offsets is None else np.asarray(spec.offsets, dtype=np.float64)
        if offsets is not None and offsets.shape != (len(spec.joints), 3):
            raise SkeletonError(f"skeleton offsets must be {len(spec.joints)}×3, got {list(offsets.shape)}")
        if offsets is not None and not np.isfinite(offsets).all():
            raise SkeletonError("skeleton offsets hold NaN or infinite values")
        if offsets is not None and not np.abs(offsets).any():  # all zero: no rest pose given (as if left out)
            offsets = None
        skel, order = in_any_order(spec.name, spec.joints, spec.parents, offsets)
        return skel, order
    if skel.num_joints > limits.joints:
        raise SkeletonError(f"skeleton {skel.name!r} has {skel.num_joints} joints; the server takes {limits.joints}")
    return skel, None


def skeleton_order(positions: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """Positions ``(..., J, 3)`` in the client's joint order on the skeleton's joints (`resolve_skeleton`)."""
    return positions if order is None else positions[..., order, :]


def client_order(positions: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """Positions ``(..., J, 3)`` on the skeleton's joints back in the client's joint order (`resolve_skeleton`)."""
    return positions if order is None else positions[..., np.argsort(order), :]


def client_joints(skeleton: Skeleton, order: np.ndarray | None) -> list[str]:
    """The skeleton's joint names in the client's order (`resolve_skeleton`)."""
    names = skeleton.joint_names
    return list(names) if order is None else [names[k] for k in np.argsort(order)]


class Models:
    """Models the server has loaded, each built once (thread-safe), and their skeleton bindings."""

    def __init__(self, default: str | None = None, mirror_average: bool = True) -> None:
        """``default``: the model for requests that name none; ``mirror_average=False`` turns the learned
        motion models' test-time mirror averaging off (half the network cost; see `posecast serve --help`)."""
        from posecast.models import default_model, info

        self.mirror_average = mirror_average
        fallback = default_model("motion")
        self.default = info(default).name if default else (fallback.name if fallback else "zero-velocity")
        if info(self.default).kind not in ("motion", "keypose") or info(self.default).needs_fit:
            raise ModelError(f"model {self.default!r} cannot serve motion forecasts (see `posecast models`)")
        if info(self.default).learned and not info(self.default).variants():
            raise ModelError(f"model {self.default!r} has no shipped weights (see `posecast models`)")
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def name(self, model: str | None, kinds: tuple[str, ...] = ("motion", "keypose")) -> str:
        """The model to use (``model`` or the default), checked: known, of ``kinds``, needs no fitting."""
        from posecast.models import info

        name = self.default if model is None else model
        entry = info(name)
        if entry.kind not in kinds:
            raise ModelError(f"model {name!r} is a {entry.kind} model; this endpoint takes {' or '.join(kinds)} models")
        if entry.needs_fit:
            raise ModelError(f"model {name!r} needs training motions and cannot be served")
        return name

    def get(self, name: str) -> Any:
        """The built model ``name`` (loaded on first use)."""
        with self._lock:
            if name not in self._built:
                from posecast.models import get

                model = get(name)
                if not self.mirror_average:
                    _no_mirror_average(model)
                self._built[name] = model
            return self._built[name]

    def warm(self) -> None:
        """Load the default model and run it twice on a walk (the second call traces the network), so
        that the first client does not wait for it."""
        from posecast.models import info
        from posecast.synthetic import synthetic_walk

        model = self.get(self.default)
        if info(self.default).kind != "motion":
            return
        walk = synthetic_walk(seconds=2.0, fps=30.0)
        bound = model.on_skeleton(walk.skeleton)
        net, history = _network(bound), _encode(bound, walk.positions[None])[0]
        b = 1
        while b <= PAD_LIMIT:  # the batch shapes of `Batcher._predict_group`, 1 s at 30 fps
            for _ in range(2):  # the second call traces the rollout
                net.predict(np.repeat(history, b, axis=0), 30, 1, fps=30.0)
            b *= 2

    def listing(self) -> list[dict[str, Any]]:
        from posecast.models import available

        out = []
        for m in available():
            d = m.to_dict()
            usable = not m.needs_fit and (not m.learned or bool(m.variants()))  # a learned model needs weights
            d["served"] = {
                "stream": m.kind == "motion" and usable,
                "forecast": m.kind in ("motion", "keypose") and usable,
                "video": m.kind == "video" and usable,
            }
            d["default"] = m.name == self.default
            out.append(d)
        return out


def _no_mirror_average(model: Any) -> None:
    """Turn test-time mirror averaging off in every network of ``model`` (a shipped learned model)."""
    from posecast.models.neural import NeuralForecaster, PretrainedModel

    nets = [model.variant(v) for v in model.variants] if isinstance(model, PretrainedModel) else [model]
    for net in nets:
        if isinstance(net, NeuralForecaster) and net.config.mirror_average:
            net.config = net.config.model_copy(update={"mirror_average": False})


@dataclass(eq=False)
class StreamSession:
    """One live skeleton stream: the newest ``keep`` frames ``(keep, J, 3)`` (y up), the reply slot and counts."""

    id: str
    model: str
    forecaster: Any  # bound to the session's skeleton
    skeleton: Skeleton
    fps: float
    seconds: float
    frames: int
    keep: int
    up: str
    min_history: int
    order: np.ndarray | None = None  # the skeleton's joints in the client's order (`resolve_skeleton`)
    max_fps: float = Limits.fps  # the server's frame-rate bound (`Limits.fps`): the highest rate `warning` may advise
    buffer: np.ndarray = field(init=False)
    count: int = 0  # frames received
    t_last: float = -math.inf
    arrival: float = 0.0  # perf_counter of the newest frame
    pending: bool = False
    unanswered: int = 0
    last_message: float = field(default_factory=time.monotonic)
    deliver: Callable[[dict[str, Any] | str], None] | None = None  # takes each reply (set by the endpoint)
    closed: bool = False
    heavy: bool = False  # forecast on the batcher's heavy lane (`is_heavy`; set by `Batcher.add`)
    _bucket: float = 0.0
    _bucket_time: float = field(default_factory=time.monotonic)
    _rate_warned: float = 0.0
    _head: list[np.ndarray] = field(default_factory=list)  # the timeline's first frames (`push`)
    _head_open: bool = True
    note: str | None = None  # why the history started over, or which joints the newest frame carried (replies say)
    _bones: Bones | None = None  # the kept history's bones (`carry_lost`), measured at frame count `_bones_at`
    _bones_at: int = 0
    _jitter: np.ndarray | None = None
    _measure_from: int = 0  # bones are measured on the frames pushed from this count on
    _carrying_since: float | None = None  # t since which joints (not at the origin) have been carried
    _span_checked: float = -math.inf  # t of the last frame whose body size was checked (`span_due`)
    _pace: float = 1.0  # running mean of the time between frames, in the stream's frame periods
    _paced: int = 0  # gaps in that mean

    def __post_init__(self) -> None:
        self.buffer = np.zeros((self.keep, self.skeleton.num_joints, 3))

    def ready(self) -> dict[str, Any]:
        return {
            "type": "ready",
            "session": self.id,
            "model": self.model,
            "fps": self.fps,
            "seconds": self.seconds,
            "frames": self.frames,
            "skeleton": self.skeleton.name,
            "joints": client_joints(self.skeleton, self.order),
            "parents": self.client_parents(),
            "history_frames": self.keep,
            "up": self.up,
        }

    def client_parents(self) -> list[int]:
        """The parent indices in the client's order (as the client gave them)."""
        if self.order is None:
            return list(self.skeleton.parents)
        out = [-1] * len(self.order)
        for k, given in enumerate(self.order):
            p = self.skeleton.parents[k]
            out[int(given)] = -1 if p < 0 else int(self.order[p])
        return out

    def waiting(self) -> dict[str, Any]:
        """The reply to a frame while the session has fewer frames than the model needs."""
        reply: dict[str, Any] = {
            "type": "waiting",
            "t": self.t_last,
            "frames": min(self.count, self.keep),
            "needed": self.min_history,
        }
        if self.note:
            reply["note"] = self.note
        warning = self.warning()
        if warning:
            reply["warning"] = warning
        return reply

    def warning(self) -> str | None:
        """What the client should know about its frame times: frames that come persistently faster than the
        stream's rate (each is taken as one frame period, so the motion would be read too slow)."""
        if self._paced < PACE_FRAMES or self._pace >= PACE_TOO_FAST:
            return None
        every = 1000.0 * self._pace / self.fps
        rate = self.fps / self._pace
        advice = (  # (QA: frames 1 us apart were told to open at 1,000,000 fps, which the server refuses)
            f"open the stream with fps {rate:.0f}"
            if rate <= self.max_fps
            else f"send at most {self.max_fps:g} frames/s (the server's bound) and open the stream at that rate; "
            "or check the frame times sent (seconds)"
        )
        return (
            f"frames arrive every {every:.3g} ms but the stream was opened at {self.fps:g} fps "
            f"({1000.0 / self.fps:.3g} ms); each frame is taken as one frame period, so the motion is read "
            f"{1 / self._pace:.2g}x too slow: {advice}"
        )

    def admit(self, limits: Limits) -> str | None:
        """Rate limit: None when the frame may be taken, else an error to send (at most one a second)."""
        now = time.monotonic()
        self._bucket = max(0.0, self._bucket - (now - self._bucket_time) * limits.fps)
        self._bucket_time = now
        if self._bucket >= limits.fps:  # more than a second's worth of frames above the bound
            if now - self._rate_warned >= 1.0:
                self._rate_warned = now
                return f"more than {limits.fps:g} frames/s: frames dropped"
            return ""
        self._bucket += 1.0
        return None

    def restart(self) -> None:
        """Forget the history and the last time: the client's clock started over (a frame more than
        `NEW_TIMELINE_SECONDS` before the last one)."""
        self.count = 0
        self.t_last = -math.inf
        self.pending = False
        self.note = f"t went back by more than {NEW_TIMELINE_SECONDS:g} s: the history started over"
        self._pace, self._paced = 1.0, 0

    def span_due(self, t: float, positions: np.ndarray) -> bool:
        """Whether frame ``positions (J, 3)`` (y up) at ``t`` gets `check_body_span` (then `span_checked`): every frame
        until the stream's bones are measured, then every `BONES_EVERY_S` and every frame in which a joint moved
        further from the newest kept frame than a body moves (`carry_lost`'s allowance) — a frame whose joints all
        stay that near has the body of a frame that was checked (a frame sent in other units, or collapsed to a
        point, moves every joint far) — and every frame in which a judged bone is off its usual length. The check
        had run on every frame: a third of the event loop's time at 32 sessions."""
        if self._bones is None or self._jitter is None or not t > self.t_last:
            return True
        if t - self._span_checked >= BONES_EVERY_S:
            return True
        if self._jumped(t, positions).any() or not len(self._bones.child):
            return True
        # a body collapsed to a point or rescaled breaks its bones, even where frames dropped or refused before it
        # widened the allowance (review: three dropped frames, then a collapsed one, had been taken)
        return bool(self._bones.bone_broken(positions).any())

    def _jumped(self, t: float, positions: np.ndarray) -> np.ndarray:
        """``(J,)`` joints of frame ``positions`` at ``t`` further from the newest kept frame than a body moves since
        then (`GLITCH_SPEED`) plus `JITTER_STEPS` of their jitter (measured bones needed: `carry_lost`)."""
        allowed = GLITCH_SPEED * (t - self.t_last) + JITTER_STEPS * self._jitter
        return np.linalg.norm(positions - self._last(), axis=-1) > allowed

    def span_checked(self, t: float) -> None:
        """The frame at ``t`` passed `check_body_span`."""
        self._span_checked = t

    def carry_lost(self, t: float, positions: np.ndarray) -> tuple[np.ndarray, str | None]:
        """Frame ``positions (J, 3)`` (y up) at ``t`` as the history should hold it when a tracker lost joints: a
        joint that left its body (`posecast.motion.Bones.lost`, bones measured on the kept history every
        `BONES_EVERY_S`) — by a jump faster than a body moves since the newest kept frame (plus its jitter's
        allowance, as `posecast.motion.tracking_glitches`), or to the origin — is carried with its body: at its
        offset in the newest kept frame from its `posecast.motion.carrier`, and named in the returned note; the
        frame is then taken, and once the joint is back it is read as sent. A `PosecastError` when nothing is left to
        carry them with (the frame is not taken). Joints carried for `BONES_EVERY_S` without being at the origin are
        then taken as sent and the bones measured afresh on the frames from there (the tracker's new reading is the
        body now — or the bones had been measured on a swap). The timeline's first frames are not judged (too few to
        measure bones; a rest pose sent first is left out by `push` instead)."""
        kept = min(self.count, self.keep, self.count - self._measure_from)
        if self._head_open or kept < MIN_JUDGED_FRAMES or not t > self.t_last:
            return positions, None
        every = max(1, round(BONES_EVERY_S * self.fps))  # every frame until the history holds that much, then less
        if self._bones is None or self._bones_at < every or not 0 <= self.count - self._bones_at < every:
            history = self.buffer[min(self.count, self.keep) - kept : min(self.count, self.keep)]
            self._bones, self._jitter, self._bones_at = (
                Bones.measure(history, self.skeleton.parents),
                jitter(history),
                self.count,
            )
        bones, last = self._bones, self._last()
        origin = (np.linalg.norm(positions, axis=-1) < ORIGIN_M) & bones.strays
        jumped = self._jumped(t, positions)
        if not (jumped | origin).any():  # the usual frame: a joint is only lost by a jump or at the origin (below)
            self._carrying_since = None
            return positions, None
        broken_now, broken_before = bones.bone_broken(np.stack([positions, last]))  # (B,) each
        lost = bones.lost(positions, broken_now) & (jumped | origin)
        newly = broken_now & ~broken_before  # chains moved whole (`swapped_chain`)
        lost[list(swapped_chain(bones, self.skeleton.parents, newly, jumped))] = True
        if not (lost & ~origin).any():
            self._carrying_since = None
        elif self._carrying_since is None:
            self._carrying_since = t
        elif t - self._carrying_since >= BONES_EVERY_S - 1e-9:  # carried long enough: the body is what is sent now
            self._carrying_since, self._bones, self._measure_from = None, None, self.count
            lost &= origin
        if not lost.any():
            return positions, None
        which = named_joints(self.skeleton.joint_names, np.flatnonzero(lost))
        gone = [Glitch(int(j), 1, 1, True, 0.0) for j in np.flatnonzero(lost)]  # frame 1 of (newest kept, this one)
        carried = carry_lost(np.stack([last, positions]), self.skeleton.parents, gone, 0, bones.home)
        if carried is None:
            raise PosecastError(
                f"{which} left their bones since the previous frame, with nothing left to carry them (the tracker "
                "lost the person?): frame not taken"
            )
        return carried[1], f"{which} lost by the tracker at t = {t:g} s: carried with the body"

    def push(self, t: float, positions: np.ndarray) -> None:
        """Add frame ``positions`` ``(J, 3)`` (y up) at time ``t`` (s). The history stays on the stream's
        frame grid: frames missing before ``t`` (a gap of about two or more frame periods: dropped packets)
        are filled by linear interpolation from the previous frame; a gap of over a second starts over. A
        stream's first frames that are not motion (a rest pose before it, `posecast.motion.detached_start`) are
        left out as soon as the frames after them tell: decided on the first frames of the timeline as they come
        (as `posecast.api.forecast_motion` decides on the first frames of a motion), once, when the timeline has
        ``MAX_DETACHED + 2`` frames. A rest pose followed by a gap is not found (the gap's filled frames are slower)."""
        if self.count and t - self.t_last > max(1.0, 3.0 / self.fps):
            self.note = (
                f"t moved {t - self.t_last:.4g} s forward, more than 1 s: the history started over (t is in seconds)"
            )
            self.count = 0
            self._pace, self._paced = 1.0, 0
        elif self.count:
            gap = (t - self.t_last) * self.fps
            self._pace = gap if self._paced == 0 else 0.9 * self._pace + 0.1 * gap
            self._paced += 1
        if not self.count:  # a new timeline: its bones are measured afresh
            self._head, self._head_open = [], True
            self._bones, self._measure_from, self._carrying_since = None, 0, None
        if self.count:
            missing = int(round((t - self.t_last) * self.fps)) - 1
            if missing > 0:
                prev = self._last().copy()
                for k in range(1, missing + 1):
                    self._append(prev + (positions - prev) * (k / (missing + 1)))
        self._append(positions)
        if self._head_open:  # the history is the timeline's first frames from the first that is motion
            kept = self._head[detached_start(np.asarray(self._head), self.fps) :]
            newest = kept[-self.keep :]
            self.buffer[: len(newest)] = newest
            self.count = len(kept)
            self._head_open = len(self._head) < MAX_DETACHED + 2
        self.t_last = t
        self.arrival = time.perf_counter()
        self.pending = self.count >= self.min_history
        if self.pending:
            self.note = None
        self.unanswered += 1

    def _append(self, frame: np.ndarray) -> None:
        if self._head_open:
            self._head.append(np.array(frame, dtype=float))
        if self.count < self.keep:
            self.buffer[self.count] = frame
        else:
            self.buffer[:-1] = self.buffer[1:]
            self.buffer[-1] = frame
        self.count += 1

    def _last(self) -> np.ndarray:
        return self.buffer[min(self.count, self.keep) - 1]

    def history(self) -> np.ndarray:
        """``(T, J, 3)`` the frames kept, oldest first (a copy)."""
        return self.buffer[: min(self.count, self.keep)].copy()


@dataclass
class _Job:
    session: StreamSession
    history: np.ndarray  # (T, J, 3)
    t: float
    arrival: float
    skipped: int
    note: str | None = None  # the session's note when the job was taken (a joint carried in this frame)


class Batcher:
    """Forecasts of all due stream sessions, one network call per group per tick (see the module doc).

    Two lanes, each with its own tick and worker thread: sessions whose forecasts are cheap (`is_heavy` false:
    the usual 1 s horizon) on ``compute``, the others on ``heavy`` — so that one stream asking for a 30 s
    rollout at 120 fps, or a huge rig, slows only the streams that ask as much, not every other one (it had
    taken three 30 fps streams beside it from 29 to 4.4 forecasts/s)."""

    def __init__(self, compute: ThreadPoolExecutor, limits: Limits, heavy: ThreadPoolExecutor | None = None) -> None:
        self.compute = compute
        self.heavy = heavy if heavy is not None else compute
        self.limits = limits
        self.sessions: dict[str, StreamSession] = {}
        self._wake = {False: asyncio.Event(), True: asyncio.Event()}
        self._tasks: list[asyncio.Task[None]] = []
        self._stats_lock = threading.Lock()
        #: counters for /health and the load test: ticks, forecasts, seconds in network calls (both lanes)
        self.stats = {"ticks": 0, "forecasts": 0, "compute_seconds": 0.0, "largest_batch": 0, "heavy_forecasts": 0}

    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._run(False)), loop.create_task(self._run(True))]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []

    def add(self, session: StreamSession) -> None:
        session.heavy = is_heavy(session)
        self.sessions[session.id] = session

    def remove(self, session: StreamSession) -> None:
        session.closed = True
        self.sessions.pop(session.id, None)

    def notify(self, session: StreamSession | None = None) -> None:
        """Wake the lane of ``session`` (both lanes without one)."""
        if session is None:
            for event in self._wake.values():
                event.set()
        else:
            self._wake[session.heavy].set()

    async def _run(self, heavy: bool) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake[heavy]
        executor = self.heavy if heavy else self.compute
        while True:
            await wake.wait()
            wake.clear()
            jobs = []
            for s in list(self.sessions.values()):
                if s.heavy == heavy and s.pending and not s.closed:
                    jobs.append(_Job(s, s.history(), s.t_last, s.arrival, s.unanswered - 1, s.note))
                    s.pending = False
                    s.unanswered = 0
            if not jobs:
                continue
            try:
                replies = await loop.run_in_executor(executor, self._forecast, jobs)
            except Exception as exc:  # noqa: BLE001 - a model failure must not stop the service
                replies = [error_text(f"forecast failed: {exc}")] * len(jobs)
            for job, text in zip(jobs, replies, strict=True):
                if job.session.deliver is not None and not job.session.closed:
                    job.session.deliver(text)

    def _forecast(self, jobs: list[_Job]) -> list[dict[str, Any] | str]:
        """On the compute thread: every job's reply (a forecast, to be written by `dumps`, or an error text)."""
        t0 = time.perf_counter()
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, job in enumerate(jobs):
            s = job.session
            key = (id(_network(s.forecaster)), s.fps, s.frames, job.history.shape[0])
            groups.setdefault(key, []).append(i)
        out: list[dict[str, Any] | str | None] = [None] * len(jobs)
        for members in groups.values():
            try:
                preds = self._predict_group([jobs[i] for i in members])
            except PosecastError as exc:
                for i in members:
                    out[i] = error_text(str(exc))
                continue
            for i, pred in zip(members, preds, strict=True):
                job = jobs[i]
                s = job.session
                if not np.isfinite(pred).all():  # never sent as a forecast: the client would read nulls
                    out[i] = error_text("the model's forecast for this window is not finite; check the positions sent")
                    continue
                reply: dict[str, Any] = {
                    "type": "forecast",
                    "t": job.t,
                    "fps": s.fps,
                    "model": s.model,
                    "forecast": rounded(client_order(from_y_up(pred, s.up), s.order)),
                    "skipped": job.skipped,
                    "compute_ms": round((time.perf_counter() - job.arrival) * 1e3, 3),
                }
                warning = s.warning()
                if warning:
                    reply["warning"] = warning
                if job.note:
                    reply["note"] = job.note
                out[i] = reply
        with self._stats_lock:  # two lanes' threads
            self.stats["ticks"] += 1
            self.stats["forecasts"] += len(jobs)
            self.stats["heavy_forecasts"] += sum(job.session.heavy for job in jobs)
            self.stats["compute_seconds"] += time.perf_counter() - t0
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(jobs))
        return [o if o is not None else error_text("no forecast") for o in out]

    @staticmethod
    def _predict_group(jobs: list[_Job]) -> list[np.ndarray]:
        """One network call for jobs that share the model (or its canonical-body inner model), rate,
        horizon and history length: ``F×J×3`` forecasts, one per job.

        Sessions bound to the same skeleton are mapped on and off the canonical body together. The network
        runs on chunks of `PAD_LIMIT` histories, the last one padded to a power of two (repeating the last
        history; rows are independent, so the answers do not change): a network keeps one traced graph per
        input shape, and five shapes, warmed at start (`Models.warm`), serve every number of sessions
        instead of one new trace (a fifth of a second) for each; traced chunks of 16 also beat one untraced
        call on a large batch (1.8 against 2.9 ms per forecast at 50 sessions, measured in the load test)."""
        s0 = jobs[0].session
        net = _network(s0.forecaster)
        by_rig: dict[int, list[int]] = {}
        for i, j in enumerate(jobs):
            by_rig.setdefault(id(j.session.forecaster), []).append(i)
        histories = {k: np.stack([jobs[i].history for i in idx]) for k, idx in by_rig.items()}
        encoded = {k: _encode(jobs[idx[0]].session.forecaster, histories[k]) for k, idx in by_rig.items()}
        batch = np.concatenate([e for e, _ in encoded.values()])
        chunks = []
        for lo in range(0, batch.shape[0], PAD_LIMIT):  # traced shapes only: 16 at a time
            chunk = batch[lo : lo + PAD_LIMIT]
            b = chunk.shape[0]
            if padded_batch(b) > b:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], padded_batch(b) - b, axis=0)])
            chunks.append(np.asarray(net.predict(chunk, s0.frames, 1, fps=s0.fps))[:b])
        pred = np.concatenate(chunks)
        out: list[np.ndarray | None] = [None] * len(jobs)
        start = 0
        for k, idx in by_rig.items():
            part = pred[start : start + len(idx)]
            start += len(idx)
            decoded = _decode(jobs[idx[0]].session.forecaster, part, histories[k], encoded[k][1])
            for row, i in enumerate(idx):
                out[i] = decoded[row, 0]
        return out  # type: ignore[return-value]


#: the network runs on at most this many sessions at a time, padded to a power of two (`Batcher._predict_group`);
#: `NeuralForecaster.TRACE_MAX_BATCH`: larger batches would run untraced
PAD_LIMIT = 16


def padded_batch(b: int) -> int:
    """The batch size a chunk of ``b <= PAD_LIMIT`` sessions runs at: the next power of two."""
    return 1 << (b - 1).bit_length()


def _network(forecaster: Any) -> Any:
    """The model that makes the forecast: a canonical-body wrapper's inner model, else the model itself."""
    return forecaster.inner if hasattr(forecaster, "encode") else forecaster


def _encode(forecaster: Any, history: np.ndarray) -> tuple[np.ndarray, Any]:
    """The histories as the network reads them, and how (`CanonicalForecaster.encode_reading`; None otherwise)."""
    return forecaster.encode_reading(history) if hasattr(forecaster, "encode") else (history, None)


def _decode(forecaster: Any, prediction: np.ndarray, history: np.ndarray, reading: Any = None) -> np.ndarray:
    return forecaster.decode(prediction, history, reading=reading) if hasattr(forecaster, "encode") else prediction


#: a stream session whose forecast spans more than this many seconds, or holds more than `HEAVY_FRAME_JOINTS`
#: frame-joints (frames x joints of one reply), is forecast on the batcher's heavy lane (`is_heavy`). Measured
#: (`dct-mlp`, one thread, a 31-joint CMU rig): 1 s at 30 fps 3-4 ms a forecast, 3 s 16-30 ms, 30 s at 120 fps
#: 160 ms plus 13 ms to write its 3 MB reply — a 30 fps stream has 33 ms per frame.
HEAVY_SECONDS = 2.0
#: see `HEAVY_SECONDS`: 1 s at 120 fps on a 52-joint rig is 6,240
HEAVY_FRAME_JOINTS = 10_000


def is_heavy(session: StreamSession) -> bool:
    """Whether the session's forecasts go to the batcher's heavy lane (`HEAVY_SECONDS`, `HEAVY_FRAME_JOINTS`)."""
    return session.seconds > HEAVY_SECONDS or session.frames * session.skeleton.num_joints > HEAVY_FRAME_JOINTS


#: niceness the heavy lane's thread adds to its own (`lower_thread_priority`)
HEAVY_NICENESS = 10


def lower_thread_priority() -> None:
    """Run the calling thread at `HEAVY_NICENESS` more than the process (Linux schedules threads one by one);
    elsewhere, or where it is not allowed, nothing changes."""
    import os

    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + HEAVY_NICENESS)
    except (AttributeError, OSError):  # not Linux-like, or not permitted
        pass


def new_session_id() -> str:
    return secrets.token_hex(6)


def open_stream(
    models: Models,
    limits: Limits,
    skeleton: Skeleton,
    fps: float,
    seconds: float,
    model: str | None,
    up: str,
    mapping: dict[str, Any] | None,
    order: np.ndarray | None = None,
) -> StreamSession:
    """Build a stream session (loads and binds the model: call it off the event loop); ``order``: where the
    skeleton's joints are in the client's frames (`resolve_skeleton`)."""
    from posecast.models import resolve_frames

    check_rate_and_horizon(fps, seconds, limits)
    name = models.name(model, kinds=("motion",))
    forecaster = models.get(name).on_skeleton(skeleton, mapping)
    frames = resolve_frames(fps, None, seconds)
    need = forecaster.history_frames(fps)
    keep = max(int(need) if need is not None else int(math.ceil(DEFAULT_HISTORY_SECONDS * fps)), forecaster.min_history)
    return StreamSession(
        id=new_session_id(),
        model=name,
        forecaster=forecaster,
        skeleton=skeleton,
        fps=fps,
        seconds=seconds,
        frames=frames,
        keep=keep,
        up=up,
        min_history=max(1, forecaster.min_history),
        order=order,
        max_fps=limits.fps,
    )


def check_rate_and_horizon(fps: float, seconds: float, limits: Limits, frames: int | None = None) -> None:
    """Refuse a frame rate outside ``MIN_FPS..limits.fps``, a horizon outside ``0..limits.seconds`` (also once
    rounded to whole frames: one frame at a low rate is a long time) and, with ``frames``, a history longer
    than `MAX_HISTORY_SECONDS`: each would let one small request take unbounded time and memory."""
    if not (MIN_FPS <= fps <= limits.fps):
        raise ValueRangeError(f"fps {fps:g} is outside {MIN_FPS:g}..{limits.fps:g} (the server's frame-rate bounds)")
    if not (0 < seconds <= limits.seconds):
        raise ValueRangeError(f"seconds {seconds:g} is outside 0..{limits.seconds:g} (the server's horizon bound)")
    if max(1, round(seconds * fps)) / fps > limits.seconds + 1e-9:
        raise ValueRangeError(
            f"one frame at {fps:g} fps is longer than the server's horizon bound ({limits.seconds:g} s)"
        )
    if frames is not None and frames / fps > MAX_HISTORY_SECONDS:
        raise ValueRangeError(
            f"the history spans {frames / fps:g} s; the server takes at most {MAX_HISTORY_SECONDS:g} s (send the "
            "recent part)"
        )


def forecast_once(
    models: Models,
    limits: Limits,
    skeleton: Skeleton,
    fps: float,
    positions: np.ndarray,
    seconds: float,
    model: str | None,
    samples: int | None,
    up: str,
    mapping: dict[str, Any] | None,
    order: np.ndarray | None = None,
    smooth: float | None = None,
) -> dict[str, Any]:
    """A REST forecast (on the compute thread): positions ``(T, J, 3)`` in the request's frame and joint order
    (``order``: `resolve_skeleton`) → the reply dict, in the same frame and order (``smooth``: as
    `posecast.forecast`)."""
    from posecast.api import forecast_motion
    from posecast.models import info

    check_rate_and_horizon(fps, seconds, limits, positions.shape[0])
    if samples is not None and not 1 <= samples <= MAX_SAMPLES:
        raise ValueRangeError(f"samples {samples} is outside 1..{MAX_SAMPLES}")
    if positions.shape[0] > limits.frames:
        raise ValueRangeError(f"{positions.shape[0]} frames; the server takes at most {limits.frames} per request")
    name = models.name(model)
    t0 = time.perf_counter()
    ordered = skeleton_order(positions, order)
    check_body_span(ordered, skeleton)
    motion = Motion(to_y_up(ordered, up), fps, skeleton, metadata={"source": "request"})
    keypose = info(name).kind == "keypose"
    fc = forecast_motion(
        models.get(name), motion, seconds=None if keypose else seconds, samples=samples, mapping=mapping, smooth=smooth
    )
    return {
        "model": name,
        "fps": fc.fps,
        "skeleton": skeleton.name,
        "up": up,
        "joints": client_joints(skeleton, order),
        "positions": rounded(client_order(from_y_up(fc.samples, up), order)).tolist(),
        "probabilities": None if fc.probabilities is None else [round(float(p), 6) for p in fc.probabilities],
        "seconds": fc.samples.shape[1] / fc.fps,
        "history_starts_at_frame": int(fc.metadata.get("history_starts_at_frame", 0)),
        "repaired_glitches": list(fc.metadata.get("repaired_glitches", [])),
        "carried_joints": list(fc.metadata.get("carried_joints", [])),
        "history_jitter_m": fc.metadata.get("history_jitter_m"),
        "compute_ms": round((time.perf_counter() - t0) * 1e3, 3),
    }
