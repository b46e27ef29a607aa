"""A small Python client of `posecast serve`: REST forecasts, live skeleton streams and camera streams,
numpy arrays in and out (needs the ``serve`` extra for WebSockets; HTTP uses only the standard library).

A robot loop: stream the pose you observe at 30 Hz, act on the newest forecast, never block::

    import time
    from posecast.client import Client
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=30.0)  # stands in for your mocap system or the robot's camera
    with Client("http://127.0.0.1:8000").stream(walk.skeleton, fps=walk.fps, seconds=1.0) as stream:
        for i, pose in enumerate(walk.positions):  # (J, 3) metres, y up, one frame per tick
            stream.send(i / walk.fps, pose)
            reply = stream.latest()  # the newest forecast that has arrived, or None: never waits
            if reply is not None and reply.forecast is not None:
                print(f"t={reply.t:.2f} s: {reply.forecast.shape[0]} future frames")  # (F, J, 3) metres
            time.sleep(1 / walk.fps)

One call for a whole motion::

    result = Client().forecast(motion.positions, motion.skeleton, motion.fps, seconds=1.0)
    result.positions  # (S, F, J, 3) metres, S = 1 for motion models

Errors the server answers (``{"error": ...}`` bodies, HTTP 4xx, error messages on a stream) raise
`ServiceError` (``.status`` is the HTTP status, None on WebSockets; ``.error`` the server's message), a session
refused by a full server `ServiceBusy` (a `ServiceError`: wait and retry); a server that cannot be reached, does not
answer in time or closes a stream raises `ServiceUnavailable`.
With a token, HTTP requests carry ``Authorization: Bearer TOKEN`` and WebSockets ``?token=TOKEN``.
The wire format is `posecast.serve.schema` (docs/serve.md).
"""

from __future__ import annotations

import json
import math
import mimetypes
import secrets
import ssl
import struct
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

import numpy as np

from posecast.errors import PosecastError, SkeletonError, ValueRangeError
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton

#: largest reply the WebSocket client accepts, bytes (a 30 s forecast of 256 joints at 120 Hz is ~30 MB of JSON)
MAX_REPLY_BYTES = 64 << 20

#: the header of a video frame message: little-endian float64 timestamp (seconds), then the image bytes
VIDEO_HEADER = struct.Struct("<d")


class ServiceError(PosecastError):
    """The server answered with an error: ``error`` is its message, ``status`` the HTTP status (None for an
    error message on a WebSocket), ``url`` the endpoint."""

    def __init__(self, error: str, status: int | None = None, url: str | None = None) -> None:
        self.error = error
        self.status = status
        self.url = url
        super().__init__(error if status is None else f"{error} (HTTP {status})", url)


class ServiceBusy(ServiceError):
    """The server holds as many stream and video sessions as it may (``--max-sessions``) and refused a new one: its
    error message says ``"busy": true`` and it closes the WebSocket with code 1013, "try again later". A
    `ServiceError`, so code catching that still does; catch this one to wait and retry."""


class ServiceUnavailable(PosecastError, ConnectionError):
    """The server cannot be reached, did not answer within the timeout, or closed a stream."""


# ---------------------------------------------------------------------------------------------- replies
@dataclass(frozen=True)
class ForecastResult:
    """A REST forecast.

    Attributes:
        positions: ``(S, F, J, 3)`` metres in the request's frame (``up``): ``S`` hypotheses of ``F`` frames,
            starting one frame after the last observed one.
        probabilities: ``(S,)`` for models that give hypotheses, else None.
        model, fps, skeleton, joints, up: what the server ran and how to read ``positions``.
        seconds: the horizon, ``F / fps``.
        compute_ms: server time spent forecasting, milliseconds.
        history_starts_at_frame: leading frames left out as not motion (a rest pose sent first).
        repaired_glitches, carried_joints: joints a tracker lost that were filled in, or carried with the body
            (guide, "Imperfect tracking"); empty almost always.
        history_jitter_m: the history's median joint jitter when above 6 mm at 24 fps and more and no ``smooth``
            was sent (send it), else None.
    """

    positions: np.ndarray
    probabilities: np.ndarray | None
    model: str
    fps: float
    skeleton: str
    joints: tuple[str, ...]
    up: str
    seconds: float
    compute_ms: float
    history_starts_at_frame: int = 0
    repaired_glitches: tuple[dict[str, Any], ...] = ()
    carried_joints: tuple[dict[str, Any], ...] = ()
    history_jitter_m: float | None = None

    @property
    def best(self) -> np.ndarray:
        """``(F, J, 3)``: the most probable hypothesis (the only one for motion models)."""
        i = 0 if self.probabilities is None else int(np.argmax(self.probabilities))
        return self.positions[i]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ForecastResult:
        probs = d.get("probabilities")
        return cls(
            positions=_array(d["positions"]),
            probabilities=None if probs is None else np.asarray(probs, dtype=np.float64),
            model=d["model"],
            fps=float(d["fps"]),
            skeleton=d["skeleton"],
            joints=tuple(d["joints"]),
            up=d["up"],
            seconds=float(d["seconds"]),
            compute_ms=float(d["compute_ms"]),
            history_starts_at_frame=int(d.get("history_starts_at_frame", 0)),
            repaired_glitches=tuple(d.get("repaired_glitches") or ()),
            carried_joints=tuple(d.get("carried_joints") or ()),
            history_jitter_m=d.get("history_jitter_m"),
        )


@dataclass(frozen=True)
class Reply:
    """A reply on a skeleton stream.

    Attributes:
        kind: ``"forecast"``, or ``"waiting"`` while the session holds fewer frames than its model needs.
        t: time (s) of the newest frame the reply used.
        forecast: ``(F, J, 3)`` metres in the session's frame (``(S, F, J, 3)`` with ``probabilities``);
            None while waiting.
        probabilities: ``(S,)`` for models that give hypotheses, else None.
        skipped: frames that arrived since the previous reply and got no reply of their own (newest wins).
        compute_ms: server time from that frame's arrival to the forecast being ready, milliseconds.
        model, fps: what the session runs.
        frames, needed: while waiting, frames held and frames the model needs.
        warning: the server's warning about the stream, e.g. frames sent faster than the session's fps (the
            motion is then read too slowly: open the stream with the real rate); None when all is well.
        note: which joints the tracker lost in the newest frame and were carried with the body, or why the history
            started over (t jumped).
        received: ``time.perf_counter()`` when the client read the reply.
    """

    kind: str
    t: float
    forecast: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    skipped: int = 0
    compute_ms: float | None = None
    model: str | None = None
    fps: float | None = None
    frames: int | None = None
    needed: int | None = None
    warning: str | None = None
    note: str | None = None
    received: float = field(default_factory=time.perf_counter)

    @property
    def waiting(self) -> bool:
        return self.kind == "waiting"


@dataclass(frozen=True)
class VideoReply:
    """A reply on a camera stream.

    Attributes:
        t: time (s) of the frame it answers.
        detected: whether the pose backend found a person in that frame.
        keypoints: ``(K, 2)`` image pixels (x right, y down; NaN where unseen), None when not detected.
        visibility: ``(K,)`` in 0..1, None when not detected.
        forecast: ``(F, J, 3)`` metres (camera-aligned, pelvis-centred), None before anyone was seen.
        forecast_pixels: ``(F, J, 2)`` the forecast projected into the image, None with ``forecast``.
        skipped: frames coalesced since the previous reply (newest wins).
        compute_ms: decode + pose + forecast time for this frame, milliseconds.
        model, fps: the video model and its frame rate.
        received: ``time.perf_counter()`` when the client read the reply.
    """

    t: float
    detected: bool
    keypoints: np.ndarray | None
    visibility: np.ndarray | None
    forecast: np.ndarray | None
    forecast_pixels: np.ndarray | None
    skipped: int
    compute_ms: float
    model: str
    fps: float
    received: float = field(default_factory=time.perf_counter)


def _array(value: Any) -> np.ndarray:
    """Nested JSON lists → a float64 array (``null`` → NaN: the server writes NaN as ``null``)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return np.asarray(_nan_for_none(value), dtype=np.float64)


def _nan_for_none(value: Any) -> Any:
    if isinstance(value, list):
        return [_nan_for_none(v) for v in value]
    return np.nan if value is None else value


def _optional(value: Any) -> np.ndarray | None:
    return None if value is None else _array(value)


# ---------------------------------------------------------------------------------------------- requests
def skeleton_spec(skeleton: str | Skeleton | Mapping[str, Any]) -> str | dict[str, Any]:
    """What the wire format takes for ``skeleton``: a registered name as it is; a `Skeleton` by its name when it
    is the registered one (the same joints, parents and rest offsets), else inline (name, joints, parents,
    offsets: a file's own bone lengths matter to models that retarget); a mapping ``{"joints", "parents"[,
    "offsets", "name"]}`` as it is."""
    if isinstance(skeleton, str):
        return skeleton
    if isinstance(skeleton, Skeleton):
        from posecast import skeletons

        try:
            known = skeletons.get(skeleton.name)
        except PosecastError:
            known = None
        if known is not None and known.same_layout(skeleton) and _same_offsets(known.offsets, skeleton.offsets):
            return skeleton.name
        spec: dict[str, Any] = {
            "name": skeleton.name,
            "joints": list(skeleton.joint_names),
            "parents": list(skeleton.parents),
        }
        if skeleton.offsets is not None:
            spec["offsets"] = np.asarray(skeleton.offsets, dtype=np.float64).tolist()
        return spec
    if isinstance(skeleton, Mapping):
        return dict(skeleton)
    raise SkeletonError(f"skeleton must be a name, a Skeleton or {{joints, parents}}, got {type(skeleton).__name__}")


def _same_offsets(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0.0, atol=1e-9))


def _numbers(a: Any, shape: str) -> list[Any]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-1] != 3:
        raise ValueRangeError(f"positions must be {shape} (joints of [x, y, z] metres), got shape {list(arr.shape)}")
    return arr.tolist()


def _multipart(fields: Mapping[str, Any], files: Mapping[str, Path]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of ``fields`` (strings) and ``files`` (paths): ``(body, content type)``."""
    boundary = "posecast-" + secrets.token_hex(12)
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, path in files.items():
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        filename = path.name.replace('"', "_")
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {kind}\r\n\r\n"
        )
        parts.append(head.encode() + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _tls_hint(reason: Any, cafile_given: bool) -> str:
    """What to do when the server's certificate is not trusted (a self-signed ``--ssl-certfile``)."""
    if not (isinstance(reason, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(reason)):
        return ""
    if cafile_given:
        return " (the URL's host must be one the cafile certificate names, and it must be the server's certificate)"
    return " (a self-signed server certificate: Client(url, cafile='cert.pem') trusts it)"


class Client:
    """A client of the server at ``url`` (``http://HOST:PORT``, or ``https://``).

    Args:
        url: the server's address.
        token: the server's ``--token``, when it has one.
        timeout: seconds to wait for a connection or an HTTP answer.
        cafile: for ``https://``: a certificate (PEM) to trust besides the system's, e.g. the self-signed
            ``--ssl-certfile`` of a server on the local network (its host name or address must be the one in
            ``url``).
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        token: str | None = None,
        timeout: float = 10.0,
        cafile: str | Path | None = None,
    ) -> None:
        if not isinstance(url, str):  # (QA: url=42 raised an AttributeError from urllib)
            raise ValueRangeError(f"url must be a string http://HOST:PORT or https://HOST:PORT, got {url!r}")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueRangeError(f"url must be http://HOST:PORT or https://HOST:PORT, got {url!r}")
        try:
            port = parts.port  # (QA: "http://h:notaport" was taken, then urllib's InvalidURL at the first request)
        except ValueError:
            port = -1
        if port is not None and not 0 < port < 65536:
            raise ValueRangeError(f"url {url!r}: the port must be a number from 1 to 65535")
        if token is not None and (not isinstance(token, str) or not token.strip() or token != token.strip()
                                  or any(c in token for c in "\r\n")):  # fmt: skip
            raise ValueRangeError("token must be a non-empty string without spaces at its ends or line breaks")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < math.inf:
            raise ValueRangeError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = float(timeout)
        self._ssl: ssl.SSLContext | None = None
        if cafile is not None:
            if parts.scheme != "https":
                raise ValueRangeError(f"cafile applies to https:// servers, not {url!r}")
            if Path(cafile).is_dir():
                raise ValueRangeError(f"cafile {str(cafile)!r}: is a directory; give the PEM certificate file")
            if not Path(cafile).is_file():
                raise ValueRangeError(f"cafile {str(cafile)!r}: no such certificate file")
            try:
                self._ssl = ssl.create_default_context(cafile=str(cafile))
            except (ssl.SSLError, OSError) as exc:
                raise ValueRangeError(f"cafile {str(cafile)!r}: not a PEM certificate ({exc})") from None

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # ------------------------------------------------------------------ HTTP
    def _request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Any:
        url = self.url + path
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw)["error"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode("utf-8", "replace").strip()[:500] or exc.reason
            raise ServiceError(str(message), exc.code, f"{method} {url}") from None
        except urllib.error.URLError as exc:
            self._over_upload_bound(body, method, url)
            hint = _tls_hint(exc.reason, self._ssl is not None)
            raise ServiceUnavailable(f"cannot reach the server: {exc.reason}{hint}", url) from None
        except TimeoutError:
            raise ServiceUnavailable(f"no answer within {self.timeout:g} s", url) from None
        except OSError as exc:
            self._over_upload_bound(body, method, url)
            raise ServiceUnavailable(f"connection failed: {exc}", url) from None

    def _over_upload_bound(self, body: bytes | None, method: str, url: str) -> None:
        """After a failed request with a body: when the server is up and the body is over its ``--max-upload``
        bound, raise the 413 it answered (QA: a server answers an over-long body at once and closes the connection,
        which reads here as a reset while sending -- a client told "cannot reach the server" of a server that is
        up). Otherwise return (the caller reports the connection failure)."""
        if body is None or len(body) <= 1 << 16:
            return
        try:
            bound = int(self._request("GET", "/health")["limits"]["rest_body_bytes"])
        except (PosecastError, KeyError, TypeError, ValueError):
            return
        if len(body) > bound:
            raise ServiceError(
                f"request body of {len(body)} bytes is over the server's bound of {bound} bytes (its --max-upload)",
                413,
                f"{method} {url}",
            ) from None

    def _post_json(self, path: str, payload: Mapping[str, Any]) -> Any:
        try:
            body = json.dumps(payload, allow_nan=False).encode()
        except ValueError:
            raise ValueRangeError("positions hold NaN or infinite values (JSON cannot carry them)") from None
        return self._request("POST", path, body, "application/json")

    def health(self) -> dict[str, Any]:
        """``GET /health``: ``{"status": "ok", "version", "model", "sessions", "video_sessions", "limits"}``."""
        return self._request("GET", "/health")

    def models(self) -> list[dict[str, Any]]:
        """``GET /v1/models``: the registry's listing, each with ``served`` (stream/forecast/video) and ``default``."""
        return self._request("GET", "/v1/models")["models"]

    def stats(self) -> dict[str, Any]:
        """``GET /v1/stats``: the batcher's counters (ticks, forecasts, compute_seconds, largest_batch, sessions)."""
        return self._request("GET", "/v1/stats")

    def forecast(
        self,
        positions: np.ndarray | Motion,
        skeleton: str | Skeleton | Mapping[str, Any] | None = None,
        fps: float | None = None,
        seconds: float = 1.0,
        model: str | None = None,
        samples: int | None = None,
        up: str = "y",
        mapping: Mapping[str, Any] | None = None,
        smooth: float | None = None,
    ) -> ForecastResult:
        """``POST /v1/forecast``: the future of ``positions`` ``(T, J, 3)`` metres on ``skeleton`` at ``fps``
        (a `Motion` brings both). ``up="z"`` for z-up positions (x forward, y left, z up): the forecast comes
        back in the same frame. Key-pose models (``charpose``) ignore ``seconds`` and give ``samples`` poses.
        ``smooth``: seconds over which to smooth a tracker's jitter out of the history first."""
        if isinstance(positions, Motion):
            skeleton = positions.skeleton if skeleton is None else skeleton
            fps = positions.fps if fps is None else fps
            positions = positions.positions
        if skeleton is None or fps is None:
            raise ValueRangeError("give the skeleton and fps of the positions (or pass a Motion)")
        payload: dict[str, Any] = {
            "skeleton": skeleton_spec(skeleton),
            "fps": float(fps),
            "positions": _numbers(positions, "T×J×3"),
            "seconds": float(seconds),
            "up": up,
        }
        for key, value in (("model", model), ("samples", samples), ("mapping", mapping), ("smooth", smooth)):
            if value is not None:
                payload[key] = dict(value) if isinstance(value, Mapping) else value
        return ForecastResult.from_json(self._post_json("/v1/forecast", payload))

    def forecast_file(
        self,
        path: str | Path,
        seconds: float = 1.0,
        model: str | None = None,
        samples: int | None = None,
        fps: float | None = None,
        asf: str | Path | None = None,
        up: str = "y",
    ) -> ForecastResult:
        """``POST /v1/forecast/upload``: the future of a motion file (BVH, AMC with its ``asf``, npz...)."""
        fields: dict[str, Any] = {"seconds": float(seconds), "up": up}
        for key, value in (("model", model), ("samples", samples), ("fps", fps)):
            if value is not None:
                fields[key] = value
        body, kind = _multipart(fields, self._files(path, asf))
        return ForecastResult.from_json(self._request("POST", "/v1/forecast/upload", body, kind))

    def motion(self, path: str | Path, fps: float | None = None, asf: str | Path | None = None) -> Motion:
        """``POST /v1/motions``: a motion file read by the server, as a `Motion` (positions in metres, y up).
        Its skeleton is the registered one of that name when the joints and parents (and the rest offsets,
        when the server sends them) agree, else one built from the reply."""
        from posecast import skeletons

        body, kind = _multipart({} if fps is None else {"fps": float(fps)}, self._files(path, asf))
        d = self._request("POST", "/v1/motions", body, kind)
        spec = d["skeleton"]
        offsets = spec.get("offsets")
        skel = Skeleton(
            name=spec.get("name", "inline"),
            joint_names=tuple(spec["joints"]),
            parents=tuple(spec["parents"]),
            offsets=None if offsets is None else np.asarray(offsets, dtype=np.float64),
        )
        try:
            known = skeletons.get(skel.name)
        except PosecastError:
            known = None
        if (
            known is not None
            and known.same_layout(skel)
            and (offsets is None or _same_offsets(known.offsets, skel.offsets))
        ):
            skel = known
        return Motion(_array(d["positions"]), float(d["fps"]), skel, metadata={"source": d.get("source")})

    @staticmethod
    def _files(path: str | Path, asf: str | Path | None) -> dict[str, Path]:
        files = {"file": Path(path)}
        if asf is not None:
            files["asf"] = Path(asf)
        for p in files.values():
            if not p.is_file():
                raise PosecastError("no such file", p)
        return files

    # ------------------------------------------------------------------ WebSockets
    def _ws_url(self, path: str) -> str:
        parts = urllib.parse.urlsplit(self.url + path)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = urllib.parse.urlencode({"token": self.token}) if self.token is not None else ""
        return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path, query, ""))

    def stream(
        self,
        skeleton: str | Skeleton | Mapping[str, Any],
        fps: float,
        seconds: float = 1.0,
        model: str | None = None,
        up: str = "y",
        mapping: Mapping[str, Any] | None = None,
    ) -> Stream:
        """Open a skeleton stream (``WS /v1/stream``): `Stream.send` frames ``(J, 3)`` at ``fps``, read
        forecasts of ``seconds`` with `Stream.recv` / `Stream.latest`. Use it as a context manager."""
        opening: dict[str, Any] = {
            "skeleton": skeleton_spec(skeleton),
            "fps": float(fps),
            "seconds": float(seconds),
            "up": up,
        }
        if model is not None:
            opening["model"] = model
        if mapping is not None:
            opening["mapping"] = dict(mapping)
        return Stream(self._connect("/v1/stream"), opening, self._ws_url("/v1/stream"), self.timeout)

    def video(self, seconds: float = 1.0, model: str | None = None, up: str = "y") -> VideoStream:
        """Open a camera stream (``WS /v1/video``): `VideoStream.send` JPEG/PNG frames, read the 2D keypoints
        and ``seconds`` of forecast with `VideoStream.recv` / `VideoStream.latest`."""
        opening: dict[str, Any] = {"seconds": float(seconds), "up": up}
        if model is not None:
            opening["model"] = model
        return VideoStream(self._connect("/v1/video"), opening, self._ws_url("/v1/video"), self.timeout)

    def _connect(self, path: str) -> Any:
        try:
            from websockets.sync.client import connect
        except ImportError as exc:  # pragma: no cover - the serve extra is missing
            raise PosecastError("streams need the websockets package: pip install 'posecast[serve]'") from exc
        url = self._ws_url(path)
        shown = url.split("?", 1)[0]
        try:
            tls = {"ssl": self._ssl} if self._ssl is not None and url.startswith("wss:") else {}
            ws = connect(url, open_timeout=self.timeout, max_size=MAX_REPLY_BYTES, compression=None, **tls)
            return ws.__enter__()  # a connection used as a context manager (websockets >= 17.1 wants that)
        except TimeoutError:
            raise ServiceUnavailable(f"no answer within {self.timeout:g} s", shown) from None
        except OSError as exc:
            hint = _tls_hint(exc, self._ssl is not None)
            raise ServiceUnavailable(f"cannot reach the server: {exc}{hint}", shown) from None
        except Exception as exc:  # websockets' handshake errors (InvalidStatus, InvalidHandshake...)
            status = getattr(getattr(exc, "response", None), "status_code", None)
            raise ServiceError(f"the server refused the stream: {exc}", status, shown) from None


R = TypeVar("R")


class _Socket(Generic[R]):
    """What skeleton and camera streams share: the opening handshake, reading replies, draining."""

    def __init__(self, ws: Any, opening: dict[str, Any], url: str, timeout: float) -> None:
        self._ws = ws
        self.url = url.split("?", 1)[0]
        self._pending: R | None = None
        #: the newest reply received so far (kept: `latest` answers None when nothing new came)
        self.last: R | None = None
        from websockets.exceptions import ConnectionClosed

        try:
            try:
                ws.send(json.dumps(opening))
            except ConnectionClosed:  # refused before the opening was read (a full server): its reason is queued
                pass
            first = self._read(timeout)
        except BaseException:
            self.close()
            raise
        if first.get("type") != "ready":  # pragma: no cover - the server always answers ready or an error
            self.close()
            raise ServiceError(f"unexpected opening reply {first!r}", None, self.url)
        #: the server's ``ready`` message: session id, model, fps, seconds, joints, parents, ...
        self.info: dict[str, Any] = first

    def _read(self, timeout: float | None) -> dict[str, Any]:
        """The next message as a dict; `ServiceError` for an error message, `TimeoutError` when none came."""
        from websockets.exceptions import ConnectionClosed

        try:
            text = self._ws.recv(timeout=timeout)  # TimeoutError when nothing came
        except ConnectionClosed as exc:
            raise ServiceUnavailable(f"the server closed the stream ({exc})", self.url) from None
        msg = json.loads(text)
        if "error" in msg:  # a full server marks its refusal ("busy"), then closes with 1013, "try again later"
            raise (ServiceBusy if msg.get("busy") is True else ServiceError)(str(msg["error"]), None, self.url)
        return msg

    def _reply(self, msg: dict[str, Any]) -> R:
        raise NotImplementedError

    def recv(self, timeout: float | None = None) -> R:
        """The next reply (waits up to ``timeout`` seconds, None: for ever; `TimeoutError` after it). An error
        message of the server raises `ServiceError` (the session goes on)."""
        if self._pending is not None:
            reply, self._pending = self._pending, None
            return reply
        reply = self._reply(self._read(timeout))
        self.last = reply
        return reply

    def latest(self) -> R | None:
        """The newest reply that has arrived since the previous call (older ones are dropped), or None; never
        waits. An error message among them raises `ServiceError`; the newest reply then waits for the next call."""
        newest, error = self._pending, None
        self._pending = None
        while True:
            try:
                newest = self._reply(self._read(0))
            except TimeoutError:
                break
            except ServiceError as exc:
                error = error or exc
        if newest is not None:
            self.last = newest
        if error is not None:
            self._pending = newest
            raise error
        return newest

    def close(self) -> None:
        """End the session (idempotent)."""
        self._ws.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stream(_Socket[Reply]):
    """A live skeleton stream (`Client.stream`). ``info`` is the server's ``ready`` message: ``frames`` (F per
    forecast), ``history_frames`` (frames the session keeps), ``joints``, ``model``..."""

    def __init__(self, ws: Any, opening: dict[str, Any], url: str, timeout: float) -> None:
        super().__init__(ws, opening, url, timeout)
        self.joints = len(self.info["joints"])

    def send(self, t: float, positions: np.ndarray) -> None:
        """Send the frame observed at ``t`` seconds (increasing): ``positions`` ``(J, 3)`` metres."""
        from websockets.exceptions import ConnectionClosed

        pos = np.asarray(positions, dtype=np.float64)
        if pos.shape != (self.joints, 3):
            raise ValueRangeError(
                f"a frame is {self.joints}×3 positions (the session's skeleton), got {list(pos.shape)}"
            )
        if not np.isfinite(pos).all() or not math.isfinite(t):
            raise ValueRangeError("t and positions must be finite numbers")
        try:
            self._ws.send(json.dumps({"t": float(t), "positions": pos.tolist()}))
        except ConnectionClosed as exc:
            raise ServiceUnavailable(f"the server closed the stream ({exc})", self.url) from None

    def _reply(self, msg: dict[str, Any]) -> Reply:
        said = {"warning": msg.get("warning"), "note": msg.get("note")}
        if msg.get("type") == "waiting":
            return Reply(
                kind="waiting", t=float(msg["t"]), frames=int(msg["frames"]), needed=int(msg["needed"]), **said
            )
        probs = msg.get("probabilities")
        return Reply(
            kind="forecast",
            t=float(msg["t"]),
            forecast=_array(msg["forecast"]),
            probabilities=None if probs is None else np.asarray(probs, dtype=np.float64),
            skipped=int(msg.get("skipped", 0)),
            compute_ms=msg.get("compute_ms"),
            model=msg.get("model"),
            fps=msg.get("fps"),
            **said,
        )


class VideoStream(_Socket[VideoReply]):
    """A camera stream (`Client.video`). ``info`` is the server's ``ready`` message (model, fps, joints...)."""

    def send(self, t: float, image: bytes | np.ndarray, quality: int = 85) -> None:
        """Send the frame taken at ``t`` seconds (increasing): JPEG or PNG bytes, or an ``(H, W, 3)`` uint8
        RGB array (encoded as JPEG of ``quality``)."""
        from websockets.exceptions import ConnectionClosed

        if isinstance(image, np.ndarray):
            image = encode_jpeg(image, quality)
        try:
            self._ws.send(VIDEO_HEADER.pack(float(t)) + bytes(image))
        except ConnectionClosed as exc:
            raise ServiceUnavailable(f"the server closed the stream ({exc})", self.url) from None

    def _reply(self, msg: dict[str, Any]) -> VideoReply:
        return VideoReply(
            t=float(msg["t"]),
            detected=bool(msg["detected"]),
            keypoints=_optional(msg.get("keypoints")),
            visibility=_optional(msg.get("visibility")),
            forecast=_optional(msg.get("forecast")),
            forecast_pixels=_optional(msg.get("forecast_pixels")),
            skipped=int(msg.get("skipped", 0)),
            compute_ms=float(msg["compute_ms"]),
            model=msg["model"],
            fps=float(msg["fps"]),
        )


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """``(H, W, 3)`` uint8 RGB → JPEG bytes (Pillow)."""
    import io

    from PIL import Image

    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueRangeError(f"an image is (H, W, 3) uint8 RGB, got {arr.dtype} {list(arr.shape)}")
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


__all__ = [
    "Client",
    "ForecastResult",
    "Reply",
    "ServiceBusy",
    "ServiceError",
    "ServiceUnavailable",
    "Stream",
    "VideoReply",
    "VideoStream",
    "encode_jpeg",
    "skeleton_spec",
]
