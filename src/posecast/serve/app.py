"""The FastAPI application of `posecast serve` (`create_app`) and the uvicorn runner (`run`).

Routes: ``GET /`` (the browser page), ``GET /health``, ``GET /v1/models``, ``POST /v1/forecast`` (JSON),
``POST /v1/forecast/upload`` (a motion file), ``POST /v1/motions`` (a motion file read into JSON),
``GET /v1/motions/example``, ``WS /v1/stream`` (skeleton frames), ``WS /v1/video`` (camera frames). The
wire format is `posecast.serve.schema`; the machinery `posecast.serve.engine` and `posecast.serve.video`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import math
import re
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect, WebSocketState

from posecast import __version__
from posecast.errors import PosecastError
from posecast.io.registry import gunzip_limit
from posecast.serve import engine
from posecast.serve.engine import Batcher, Limits, Models, error_text
from posecast.serve.schema import (
    ForecastRequest,
    ForecastResponse,
    Health,
    MotionUpload,
    StreamOpen,
    VideoOpen,
)

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_COOKIE = "posecast_token"
LOG = logging.getLogger("posecast.serve")
#: a gzip upload decompresses to at most this many request bodies (``--max-upload``): a small file that
#: expands to gigabytes is refused while it is read, not parsed
UPLOAD_GUNZIP_FACTOR = 4


#: seconds between looks at whether a waiting REST client is still connected (`run_rest`)
REST_DISCONNECT_POLL_S = 0.2


async def run_rest(executor: ThreadPoolExecutor, request: Request, job: Any) -> Any:
    """``job()`` on the REST ``executor`` (one thread: forecasts take their turn), skipped when its client has gone
    before its turn comes. Why (soak QA): a client that timed out and retried left its abandoned requests queued in
    front of its new one (a 49 ms forecast answered after 20.7 s behind four abandoned 5 s ones). A job already
    running finishes; its answer goes nowhere. A skipped job's answer is an empty 499 ("client closed request":
    nobody reads it, and a response object is not validated against the endpoint's model)."""
    gone = threading.Event()

    def guarded() -> Any:
        return None if gone.is_set() else job()

    future = asyncio.get_running_loop().run_in_executor(executor, guarded)
    while True:
        done, _ = await asyncio.wait({future}, timeout=REST_DISCONNECT_POLL_S)
        if done:
            return future.result()
        if await request.is_disconnected():
            gone.set()
            future.cancel()
            return Response(status_code=499)


#: the largest ``mapping`` form field (a mapping of a rig's joints: a few hundred bytes to a few kilobytes)
MAPPING_FIELD_BYTES = 65536


def upload_mapping(text: str | None) -> dict[str, Any] | None:
    """The upload's ``mapping`` form field — a joint mapping table as JSON or YAML text, what ``--mapping`` files
    hold (``{"left_hip": "LeftUpLeg", ...}``) — as a table, checked as a mapping file is; None when not given (QA: the
    field was ignored without a word)."""
    if text is None or not text.strip():
        return None
    import yaml

    from posecast.skeletons.canonical import validate_mapping_table

    if len(text) > MAPPING_FIELD_BYTES:
        raise PosecastError(f"form field mapping: over {MAPPING_FIELD_BYTES} bytes; a mapping is a few lines")
    try:  # (YAML aliases refused: a few lines of them expand to gigabytes, "billion laughs")
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text)):
            raise PosecastError("form field mapping: YAML anchors and aliases are not taken; write each entry out")
        table = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PosecastError(f"form field mapping: not valid JSON or YAML ({str(exc).splitlines()[0]})") from None
    table = validate_mapping_table(table, "form field mapping")
    if "up" in table:  # the answer comes back in the file's world, whose up axis the form field up names
        raise PosecastError("form field mapping: give the file's up axis as the form field up, not in the mapping")
    return table


#: the command line's hint in a reader's error (``"(CLI: --skeleton, --fps)"``): an upload names form fields instead
_CLI_HINT = re.compile(r" ?\(CLI: ([^)]*)\)")
#: the form fields of the upload endpoints that a reader's hint can name
UPLOAD_FIELDS = ("skeleton", "fps", "asf")


def form_hint(message: str) -> str:
    """A reader's error for an upload: its command-line hint as the form fields to send (QA: an upload of a .npy was
    told "(CLI: --skeleton, --fps)"), or left out where the endpoint has no such field (``--units``)."""

    def fields(match: re.Match[str]) -> str:
        named = [f"'{w}'" for w in re.findall(r"--([a-z-]+)", match.group(1)) if w in UPLOAD_FIELDS]
        return f" (form field{'s' if len(named) > 1 else ''} {' and '.join(named)})" if named else ""

    return _CLI_HINT.sub(fields, message)


def upload_name(filename: str | None, default: str) -> str:
    """A safe file name for an upload (the format is found from its suffixes): the client's base name, or
    ``default`` with the client's last two suffixes when the name is empty, ``.``, ``..`` or too long."""
    base = Path(filename or "").name
    if base not in ("", ".", "..") and len(base.encode()) <= 120:
        return base
    suffixes = [x for x in Path(base).suffixes[-2:] if len(x) <= 12 and x[1:].isalnum()]
    return Path(default).stem + ("".join(suffixes) or Path(default).suffix)


#: frames of the video sessions' pose backend and model run on this many threads
POSE_THREADS = 2
#: seconds a session's close may take: a client that stopped reading (a stalled robot process, a background tab)
#: keeps the send buffer full and would hold the close, and its session slot, for as long as it stays connected
CLOSE_TIMEOUT_S = 2.0
#: numbers in a forecast reply above which it is written to JSON on a worker thread, not on the event loop (orjson:
#: about 8 ns a number, so 30,000 take 0.25 ms and a 3600-frame, 256-joint reply 0.2 s)
BIG_REPLY_NUMBERS = 30_000


def _validation_message(exc: ValidationError | RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        if e.get("type") == "json_invalid":
            parts.append("the body is not valid JSON")
            continue
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        if not loc and e.get("type") == "missing":  # (QA: an empty body read "invalid request: Field required")
            parts.append("the body is empty: send a JSON object (see /docs)")
            continue
        parts.append(f"{loc}: {e.get('msg', 'invalid')}" if loc else str(e.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _HttpOnly:
    """ASGI middleware calling ``handler(scope, receive, send, app)`` for HTTP requests (WebSockets and lifespan pass
    straight through)."""

    def __init__(self, app: Any, handler: Any) -> None:
        self.app, self.handler = app, handler

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        await self.handler(scope, receive, send, self.app)


class _BodyLimit:
    """ASGI middleware: HTTP request bodies over ``limit`` bytes get 413 ``{"error"}`` (declared or streamed)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"request body over {self.limit} bytes (the server's --max-upload bound)"
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _error(413, message)(scope, receive, send)
        seen, over = 0, False

        async def counted() -> dict[str, Any]:
            nonlocal seen, over
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    over = True
                    raise _TooLarge(message)
            return msg

        async def unless_over(msg: dict[str, Any]) -> None:  # the body parser's own 400 gives way to the 413
            if not over:
                await send(msg)

        try:
            await self.app(scope, counted, unless_over)
        except _TooLarge:
            pass
        if over:
            await _error(413, message)(scope, receive, send)


class _TooLarge(Exception):
    pass


class _Outbox:
    """What a WebSocket session has to send: errors in order, then the newest forecast (older ones are
    replaced: newest wins). One sender task per session drains it, so sends never interleave."""

    def __init__(self) -> None:
        self.errors: deque[str] = deque(maxlen=16)
        self.forecast: dict[str, Any] | str | None = None
        self.wake = asyncio.Event()
        self.closed = False

    def error(self, message: str) -> None:
        self.errors.append(error_text(message))
        self.wake.set()

    def put(self, reply: dict[str, Any] | str) -> None:
        """A reply: an error text joins the queue; a forecast (a dict, or text) replaces the one not yet sent,
        whose frame then counts as skipped in the newer one."""
        if isinstance(reply, str) and reply.startswith('{"error"'):
            self.errors.append(reply)
        else:
            old = self.forecast
            if isinstance(reply, dict) and old is not None:
                reply["skipped"] += 1 + (old["skipped"] if isinstance(old, dict) else 0)
            self.forecast = reply
        self.wake.set()

    async def drain(self, ws: WebSocket) -> None:
        """Send what comes in until `close` is called, then what is left."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.errors:
                await ws.send_text(self.errors.popleft())
            if self.forecast is not None:
                reply, self.forecast = self.forecast, None
                if isinstance(reply, str):
                    text = reply
                elif np.size(reply.get("forecast", ())) > BIG_REPLY_NUMBERS:  # off the event loop (25 MB: 0.2 s)
                    text = await asyncio.to_thread(engine.dumps, reply)
                else:
                    text = engine.dumps(reply)
                await ws.send_text(text)
            if self.closed:
                return

    def close(self) -> None:
        self.closed = True
        self.wake.set()


def create_app(
    model: str | None = None,
    token: str | None = None,
    limits: Limits | None = None,
    warm: bool = True,
    mirror_average: bool = True,
) -> FastAPI:
    """The service: ``model`` (default: the registry's motion default) answers requests that name none;
    with ``token`` every request must carry it; ``limits`` bounds everything (`engine.Limits`); ``warm``
    loads and runs the default model once before the first request is taken; ``mirror_average=False``
    runs the learned motion models without test-time mirror averaging (`engine.Models`)."""
    limits = limits or Limits()
    models = Models(model, mirror_average=mirror_average)
    compute = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posecast-compute")  # stream forecasts
    heavy = ThreadPoolExecutor(  # long or huge ones (`Batcher`), at a lower CPU priority where the OS allows
        max_workers=1, thread_name_prefix="posecast-heavy", initializer=engine.lower_thread_priority
    )
    # REST requests (a history of thousands of frames, 100 key-pose hypotheses: seconds) on a thread of their own,
    # so that one of them never holds up the streams' forecasts (it ran on `compute`: a 4.7 s charpose request
    # stalled every stream for 4.7 s)
    rest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="posecast-rest")
    pose_pool = ThreadPoolExecutor(max_workers=POSE_THREADS, thread_name_prefix="posecast-pose")
    state: dict[str, Any] = {"batcher": None, "video": {}, "opened": 0, "connections": 0, "pending": 0}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            await asyncio.get_running_loop().run_in_executor(compute, models.warm)
        batcher = Batcher(compute, limits, heavy)
        batcher.start()
        state["batcher"] = batcher
        try:
            yield
        finally:
            await batcher.stop()
            for v in list(state["video"].values()):
                v.close()
            compute.shutdown(wait=False, cancel_futures=True)
            heavy.shutdown(wait=False, cancel_futures=True)
            rest.shutdown(wait=False, cancel_futures=True)
            pose_pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="PoseCast",
        version=__version__,
        description="Live 3D human-motion forecasting: skeleton streams and camera frames in, forecasts out. "
        'Every error body is {"error": ...}. Wire format: posecast.serve.schema (docs/serve.md).',
        lifespan=lifespan,
    )
    app.state.models = models
    app.state.limits = limits
    app.state.sessions = state
    app.add_middleware(_BodyLimit, limit=limits.rest_body_bytes)

    def batcher() -> Batcher:
        if state["batcher"] is None:  # pragma: no cover - only before startup
            raise RuntimeError("the server has not started")
        return state["batcher"]

    def session_count() -> int:
        return len(batcher().sessions) + len(state["video"])

    @contextlib.asynccontextmanager
    async def connection() -> Any:
        """Counts a WebSocket from its accept to its end (sessions being opened count too)."""
        state["connections"] += 1
        try:
            yield
        finally:
            state["connections"] -= 1

    # ------------------------------------------------------------------ auth and errors
    def authorised(headers: Any, query: Any, cookies: Any, given: str | None = None) -> bool:
        if token is None:
            return True
        auth = headers.get("authorization", "")
        candidates = [
            auth[7:] if auth.lower().startswith("bearer ") else None,
            query.get("token"),
            cookies.get(TOKEN_COOKIE),
            given,
        ]
        return any(c is not None and hmac.compare_digest(c.encode(), token.encode()) for c in candidates)

    cookie: list[tuple[bytes, bytes]] = []
    if token is not None:  # the page opened with ?token=: its scripts and sockets then carry the cookie
        with_cookie = Response()
        with_cookie.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        cookie = [h for h in with_cookie.raw_headers if h[0] == b"set-cookie"]

    async def auth_and_errors(scope: dict[str, Any], receive: Any, send: Any, inner: Any) -> None:
        """401 without the token, 500 ``{"error"}`` for an unexpected failure (the server goes on), the token cookie
        for the page. A plain ASGI wrapper, not Starlette's ``BaseHTTPMiddleware``, whose wrapped ``receive`` never
        reported a client gone (`run_rest` needs that; soak QA)."""
        request = Request(scope)
        if not authorised(request.headers, request.query_params, request.cookies):
            message = "missing or wrong token: send 'Authorization: Bearer TOKEN' (or ?token=TOKEN)"
            return await _error(401, message)(scope, receive, send)
        started = False
        page = bool(cookie) and bool(request.query_params.get("token")) and request.url.path == "/"

        async def sending(msg: dict[str, Any]) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
                if page:
                    msg = {**msg, "headers": [*msg.get("headers", []), *cookie]}
            await send(msg)

        try:
            await inner(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - an unexpected failure answers 500 {"error"} and the server goes on
            LOG.exception("internal error on %s %s", request.method, request.url.path)  # for the operator
            if started:
                raise
            await _error(500, f"internal error: {type(exc).__name__}")(scope, receive, send)

    app.add_middleware(_HttpOnly, handler=auth_and_errors)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(PosecastError)
    async def on_posecast(request: Request, exc: PosecastError) -> JSONResponse:
        return _error(400, str(exc))

    # ------------------------------------------------------------------ HTTP
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", response_model=Health)
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "model": models.default,
            "mirror_average": models.mirror_average,
            "sessions": len(batcher().sessions),
            "video_sessions": len(state["video"]),
            "limits": limits.as_dict(),
        }

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"default": models.default, "models": models.listing()}

    @app.get("/v1/stats", include_in_schema=False)
    async def stats() -> dict[str, Any]:
        return {**batcher().stats, "sessions_opened": state["opened"], "sessions": session_count()}

    @app.post("/v1/forecast", response_model=ForecastResponse, responses={400: {}, 413: {}, 422: {}})
    async def forecast(req: ForecastRequest, request: Request) -> Any:
        skel, order = engine.resolve_skeleton(req.skeleton, limits)
        pos = engine.parse_positions(req.positions, skel.num_joints, limits)
        return await run_rest(
            rest,
            request,
            lambda: engine.forecast_once(
                models,
                limits,
                skel,
                req.fps,
                pos,
                req.seconds,
                req.model,
                req.samples,
                req.up,
                req.mapping,
                order,
                req.smooth,
            ),
        )

    async def _read_upload(
        file: UploadFile, asf: UploadFile | None, fps: float | None, skeleton: str | None = None
    ) -> Any:
        from posecast.api import load_motion

        name = upload_name(file.filename, "upload")
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise PosecastError(f"fps must be a positive number of frames per second, got {fps:g}")
        if asf is None and name.lower().removesuffix(".gz").endswith(".amc"):  # (the reader would look on disk)
            raise PosecastError(f"{name}: an AMC clip needs its skeleton: send the .asf file as the form field 'asf'")
        with tempfile.TemporaryDirectory(prefix="posecast-upload-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(await file.read())
            asf_path = None
            if asf is not None:
                asf_path = Path(tmp) / upload_name(asf.filename, "skeleton.asf")
                if asf_path == path:
                    asf_path = Path(tmp) / f"skeleton-{asf_path.name}"
                asf_path.write_bytes(await asf.read())
            loop = asyncio.get_running_loop()

            def read() -> Any:  # a gzip upload may not expand beyond a few request bodies
                with gunzip_limit(UPLOAD_GUNZIP_FACTOR * limits.rest_body_bytes):
                    return load_motion(path, skeleton=skeleton, fps=fps, asf=asf_path)

            try:
                motion = await loop.run_in_executor(rest, read)
            except PosecastError as exc:
                raise PosecastError(form_hint(str(exc).replace(str(path), name).replace(tmp + "/", ""))) from None
        if motion.num_frames > limits.frames or motion.num_joints > limits.joints:
            raise PosecastError(
                f"{name}: {motion.num_frames} frames of {motion.num_joints} joints; the server takes at most "
                f"{limits.frames} frames of {limits.joints} joints"
            )
        return motion

    def _motion_json(motion: Any, source: str) -> dict[str, Any]:
        skel = motion.skeleton
        return {
            "skeleton": {
                "name": skel.name,
                "joints": list(skel.joint_names),
                "parents": list(skel.parents),
                "offsets": None if skel.offsets is None else engine.rounded(skel.offsets).tolist(),
            },
            "fps": motion.fps,
            "positions": engine.rounded(motion.positions).tolist(),
            "source": source,
        }

    @app.post("/v1/motions", response_model=MotionUpload, responses={400: {}, 413: {}})
    async def read_motion(
        file: Annotated[UploadFile, File()],
        asf: Annotated[UploadFile | None, File()] = None,
        fps: Annotated[float | None, Form()] = None,
        skeleton: Annotated[str | None, Form()] = None,
    ) -> dict[str, Any]:
        motion = await _read_upload(file, asf, fps, skeleton)
        return _motion_json(motion, upload_name(file.filename, "upload"))

    @app.get("/v1/motions/example", response_model=MotionUpload)
    async def example_motion() -> dict[str, Any]:
        from posecast.synthetic import synthetic_walk

        return _motion_json(synthetic_walk(seconds=12.0, fps=30.0), "synthetic walk (posecast.synthetic)")

    @app.post("/v1/forecast/upload", response_model=ForecastResponse, responses={400: {}, 413: {}, 422: {}})
    async def forecast_upload(
        request: Request,
        file: Annotated[UploadFile, File()],
        asf: Annotated[UploadFile | None, File()] = None,
        seconds: Annotated[float, Form()] = 1.0,
        model: Annotated[str | None, Form()] = None,
        samples: Annotated[int | None, Form()] = None,
        fps: Annotated[float | None, Form()] = None,
        up: Annotated[str, Form()] = "y",
        skeleton: Annotated[str | None, Form()] = None,
        mapping: Annotated[str | None, Form()] = None,
    ) -> Any:
        if up not in ("y", "z"):
            raise PosecastError(f"up must be 'y' or 'z', got {up!r}")
        table = upload_mapping(mapping)
        motion = await _read_upload(file, asf, fps, skeleton)
        if motion.fps > limits.fps:  # a file captured faster than the server's rate (240 Hz mocap): resampled
            motion = motion.resample(limits.fps, anchor="end")
        if up == "z" and str(motion.metadata.get("up_axis", "")).startswith("converted"):
            raise PosecastError(
                f"{file.filename}: its reader turns it y up already ({motion.metadata['up_axis']}); send up=y"
            )
        pos = motion.positions  # the file's own world, whose up axis ``up`` declares (answered in it)
        return await run_rest(
            rest,
            request,
            lambda: engine.forecast_once(
                models, limits, motion.skeleton, motion.fps, pos, seconds, model, samples, up, table
            ),
        )

    # ------------------------------------------------------------------ WebSockets
    async def _open(ws: WebSocket, schema: type, what: str) -> Any:
        """Accept ``ws`` and read its opening message; None when the client left or was refused."""
        await ws.accept()
        if token is not None and not authorised(ws.headers, ws.query_params, ws.cookies, None):
            # no token in the request itself: it must come in the opening message (one try), and until it has,
            # the connection takes no session slot from clients that have shown theirs
            state["pending"] += 1
            try:
                opening = await _read_opening(ws, schema, what, once=True)
            finally:
                state["pending"] -= 1
            if opening is None:
                return None
        else:
            opening = None
        if state["connections"] - state["pending"] > limits.sessions:
            await ws.send_text(error_text(f"the server holds {limits.sessions} sessions already; try later", busy=True))
            await ws.close(code=1013)
            return None
        return opening if opening is not None else await _read_opening(ws, schema, what)

    async def _read_opening(ws: WebSocket, schema: type, what: str, once: bool = False) -> Any:
        """The next valid opening message (errors answered, the client may try again within the idle bound,
        counted from the connection, not reset by refused openings; ``once``: a client that has not shown a
        token gets one try); None when the client left, stayed silent past the idle bound or has no token."""
        deadline = time.monotonic() + limits.idle_seconds
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=max(0.0, deadline - time.monotonic()))
            except (WebSocketDisconnect, RuntimeError, KeyError):
                return None
            except TimeoutError:
                await ws.send_text(error_text(f"no opening message within {limits.idle_seconds:g} s: closing"))
                await ws.close(code=1000)
                return None
            if msg.get("type") == "websocket.disconnect":
                return None
            text = msg.get("text")
            problem = None
            if text is None:
                problem = f"{what}: the opening message is JSON text, not binary"
            elif len(text) > limits.ws_message_bytes:
                problem = f"message over {limits.ws_message_bytes} bytes"
            else:
                try:
                    opening = schema.model_validate_json(text)
                except ValidationError as exc:
                    problem = f"{what}: " + _validation_message(exc)
            if problem is not None:
                await ws.send_text(error_text(problem))
                if once:
                    await ws.close(code=1008)
                    return None
                continue
            if not authorised(ws.headers, ws.query_params, ws.cookies, opening.token):
                await ws.send_text(error_text("missing or wrong token (give ?token= or a 'token' field)"))
                await ws.close(code=1008)
                return None
            return opening

    async def _receive(ws: WebSocket, outbox: _Outbox) -> dict[str, Any] | None:
        """The next message (``{"text"}`` or ``{"bytes"}``); None when the session ends (left or idle)."""
        try:
            msg = await asyncio.wait_for(ws.receive(), timeout=limits.idle_seconds)
        except TimeoutError:
            outbox.error(f"no message for {limits.idle_seconds:g} s: closing")
            return None
        except (WebSocketDisconnect, RuntimeError):
            return None
        if msg["type"] == "websocket.disconnect":
            return None
        size = len(msg.get("text") or msg.get("bytes") or b"")
        if size > limits.ws_message_bytes:
            outbox.error(f"message of {size} bytes is over the {limits.ws_message_bytes}-byte bound: ignored")
            return {}
        return msg

    async def _messages(ws: WebSocket, outbox: _Outbox) -> Any:
        """The session's messages (`_receive`; oversized ones answered and left out) until it ends."""
        while True:
            msg = await _receive(ws, outbox)
            if msg is None:
                return
            if msg:
                yield msg

    async def _finish(ws: WebSocket, outbox: _Outbox, sender: asyncio.Task[None]) -> None:
        """Let the sender send what is queued (e.g. the idle notice), then close."""
        outbox.close()
        try:
            await asyncio.wait_for(sender, timeout=2.0)
        except BaseException:  # noqa: BLE001 - the client left, or sending hung: give up on it
            sender.cancel()
        if ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):  # a client that does not read would hold the close (and its slot)
                await asyncio.wait_for(ws.close(code=1000), timeout=CLOSE_TIMEOUT_S)

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        async with connection():
            await _stream(ws)

    @app.websocket("/v1/video")
    async def video(ws: WebSocket) -> None:
        async with connection():
            await _video(ws)

    async def _session(ws: WebSocket, schema: type, pool: Any, build: Any) -> Any:
        """The session ``build(opening)`` makes (in ``pool``) from the client's opening message; a refused opening
        (a `PosecastError` of ``build``) is answered and the client may try again, on /v1/stream and /v1/video
        alike (QA: /v1/video closed at once). None when the client left or stayed silent (`_read_opening`)."""
        opening = await _open(ws, schema, "opening message")
        loop = asyncio.get_running_loop()
        while opening is not None:
            try:
                return await loop.run_in_executor(pool, build, opening)
            except PosecastError as exc:
                await ws.send_text(error_text(str(exc)))
                opening = await _read_opening(ws, schema, "opening message")
        return None

    async def _stream(ws: WebSocket) -> None:
        def build(opening: Any) -> engine.StreamSession:
            skel, order = engine.resolve_skeleton(opening.skeleton, limits)
            return engine.open_stream(
                models,
                limits,
                skel,
                opening.fps,
                opening.seconds,
                opening.model,
                opening.up,
                opening.mapping,
                order,
            )

        session = await _session(ws, StreamOpen, compute, build)
        if session is None:
            return
        state["opened"] += 1
        outbox = _Outbox()
        session.deliver = outbox.put
        b = batcher()
        b.add(session)
        await ws.send_text(engine.dumps(session.ready()))
        sender = asyncio.create_task(outbox.drain(ws))
        joints = session.skeleton.num_joints
        try:
            async for msg in _messages(ws, outbox):
                text = msg.get("text")
                if text is None:
                    outbox.error('stream frames are JSON text: {"t": seconds, "positions": J×3}')
                    continue
                try:
                    frame = engine.loads(text)
                except ValueError:
                    outbox.error('not JSON (nor are NaN and Infinity): a frame is {"t": seconds, "positions": J×3}')
                    continue
                try:
                    if not isinstance(frame, dict) or "t" not in frame or "positions" not in frame:
                        raise PosecastError('a frame is {"t": seconds, "positions": J×3}')
                    t = frame["t"]
                    if isinstance(t, bool) or not isinstance(t, int | float) or not np.isfinite(t):
                        raise PosecastError("t must be a finite number of seconds")
                    if session.t_last - engine.NEW_TIMELINE_SECONDS <= t <= session.t_last:
                        raise PosecastError(f"t {t:g} does not come after the previous frame's {session.t_last:g}")
                    pos = engine.parse_positions(frame["positions"], joints, limits)
                    if pos.ndim != 2:
                        raise PosecastError(f"positions must be J×3 for one frame, got shape {list(pos.shape)}")
                    pos = engine.skeleton_order(pos, session.order)
                    upright = engine.to_y_up(pos, session.up)
                    if session.span_due(float(t), upright):
                        engine.check_body_span(pos, session.skeleton)
                        session.span_checked(float(t))
                    upright, carried = session.carry_lost(float(t), upright)  # (an earlier t restarts the history)
                except PosecastError as exc:
                    outbox.error(str(exc))
                    continue
                refused = session.admit(limits)
                if refused is not None:
                    if refused:
                        outbox.error(refused)
                    continue
                if t < session.t_last:  # far back: the client's clock restarted; so does the history
                    session.restart()  # (only for a frame that is taken: a refused one changes nothing)
                session.push(float(t), upright)
                if carried:  # said in this frame's reply
                    session.note = carried
                session.last_message = time.monotonic()
                if session.pending:
                    b.notify(session)
                else:  # too few frames for the model yet: say so, so that no client waits in vain
                    session.unanswered = 0
                    outbox.put(engine.dumps(session.waiting()))
        finally:
            b.remove(session)
            await _finish(ws, outbox, sender)

    async def _video(ws: WebSocket) -> None:
        from posecast.serve.video import VideoSession, split_frame

        loop = asyncio.get_running_loop()

        def build(opening: Any) -> VideoSession:
            from posecast.models import default_model, info
            from posecast.video.backend import default_backend
            from posecast.video.extract import min_side

            engine.check_rate_and_horizon(1.0, opening.seconds, limits)
            name = opening.model or (default_model("video").name if default_model("video") else None)
            if name is None or info(name).kind != "video":
                raise PosecastError(f"model {name!r} is not a video model (see `posecast models`)")
            backend = default_backend()
            models.get(name).warm(opening.seconds)
            return VideoSession(
                id=engine.new_session_id(),
                model=name,
                forecaster=models.get(name),
                pose=backend.session(static=False),
                backend_skeleton=backend.skeleton,
                seconds=opening.seconds,
                up=opening.up,
                min_side=min_side(backend),
            )

        session = await _session(ws, VideoOpen, pose_pool, build)
        if session is None:
            return
        state["opened"] += 1
        state["video"][session.id] = session
        outbox = _Outbox()
        await ws.send_text(engine.dumps(session.ready()))
        sender = asyncio.create_task(outbox.drain(ws))

        async def run_stage(step: Any, *args: Any) -> Any:
            try:
                return await loop.run_in_executor(pose_pool, step, *args)
            except Exception as exc:  # noqa: BLE001 - one bad frame must not end the session
                return error_text(f"frame failed: {type(exc).__name__}: {exc}")

        async def posing() -> None:  # stage 1: newest raw frame → pose, handed to stage 2
            while session.slot is not None and not session.closed:
                (t, image, arrival), session.slot = session.slot, None
                part = await run_stage(session.pose_step, t, image, arrival)
                if isinstance(part, str):
                    outbox.put(part)
                    continue
                if session.posed is not None:
                    session.skipped += 1
                session.posed = part
                if not session.forecasting:
                    session.forecasting = True
                    spawn(forecasting())
            session.posing = False

        async def forecasting() -> None:  # stage 2: newest posed frame → forecast → reply
            while session.posed is not None and not session.closed:
                part, session.posed = session.posed, None
                outbox.put(await run_stage(session.forecast_step, part))
            session.forecasting = False

        tasks: set[asyncio.Task[None]] = set()

        def spawn(coro: Any) -> None:
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        try:
            async for msg in _messages(ws, outbox):
                data = msg.get("bytes")
                if data is None:
                    outbox.error("video frames are binary: an 8-byte little-endian float64 time, then JPEG/PNG")
                    continue
                try:
                    t, image = split_frame(data)
                except PosecastError as exc:
                    outbox.error(str(exc))
                    continue
                session.last_message = time.monotonic()
                session.offer(t, image)
                if not session.posing:
                    session.posing = True
                    spawn(posing())
        finally:
            session.closed = True
            state["video"].pop(session.id, None)
            if tasks:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
            await loop.run_in_executor(pose_pool, session.close)
            await _finish(ws, outbox, sender)

    return app


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is the loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """A `PosecastError` when ``host:port`` cannot be listened on (in use, not an address of this machine),
    before anything says the server is up."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PosecastError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a port in TIME_WAIT is free
        try:
            sock.bind(address)
        except OSError as exc:
            raise PosecastError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    model: str | None = None,
    token: str | None = None,
    limits: Limits | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    threads: int = 1,
    log_level: str = "warning",
    mirror_average: bool = True,
) -> None:
    """Serve until interrupted. Without ``token`` only a loopback ``host`` is allowed."""
    import torch
    import uvicorn

    if token is not None and not token.strip():  # QA: an empty token let anyone in on a public address
        raise PosecastError("the token is empty: give a secret, or none to serve on loopback only")
    if token is None and not is_loopback(host):
        raise PosecastError(f"refusing to serve on {host} without --token (anyone on the network could use it)")
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise PosecastError("give both --ssl-certfile and --ssl-keyfile, or neither")
    for f in (ssl_certfile, ssl_keyfile):
        if f is not None and Path(f).is_dir():
            raise PosecastError("is a directory; give the PEM file", Path(f))
        if f is not None and not Path(f).is_file():
            raise PosecastError("no such file", Path(f))
    if ssl_certfile is not None:  # QA: a file that is no certificate, or unreadable, ended in a traceback
        import ssl

        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(ssl_certfile, ssl_keyfile)
        except (ssl.SSLError, OSError) as exc:
            raise PosecastError(
                f"cannot use --ssl-certfile {ssl_certfile} with --ssl-keyfile {ssl_keyfile}: "
                f"{exc.strerror or getattr(exc, 'reason', None) or exc}"
            ) from None
    limits = limits or Limits()
    torch.set_num_threads(max(1, threads))
    app = create_app(model=model, token=token, limits=limits, mirror_average=mirror_average)
    check_port(host, port)
    scheme = "https" if ssl_certfile else "http"
    print(f"PoseCast serving on {scheme}://{host}:{port}/ (Ctrl+C to stop)", file=sys.stderr, flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level=log_level,
        **uvicorn_options(limits),
    )


def uvicorn_options(limits: Limits) -> dict[str, Any]:
    """The ``uvicorn.Config`` options `run` serves with for ``limits`` (the tests' live server too): WebSocket
    message bound, deadlines for half-sent requests (`posecast.serve.deadlines`), a 5 s keep-alive."""
    from posecast.serve.deadlines import protocol_class

    return {
        "ws_max_size": limits.ws_message_bytes,
        "http": protocol_class(limits.request_seconds),
        "timeout_keep_alive": 5,
    }
