"""``posecast serve``: the live forecasting service (`posecast.serve`, the ``serve`` extra)."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from posecast.errors import PosecastError


def serve(
    host: Annotated[str, typer.Option(help="Address to bind (anything but loopback needs --token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: Annotated[
        str | None, typer.Option(help="Model for requests that name none (default: the registry's motion default).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="POSECAST_TOKEN",
            help="Every request must carry it: 'Authorization: Bearer TOKEN', or ?token= / a 'token' field on "
            "WebSockets. Also read from POSECAST_TOKEN.",
        ),
    ] = None,
    ssl_certfile: Annotated[
        str | None, typer.Option(help="TLS certificate (browsers need HTTPS for a camera).")
    ] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="TLS private key.")] = None,
    max_message: Annotated[int, typer.Option(help="Largest WebSocket message, bytes.")] = 1 << 20,
    max_upload: Annotated[int, typer.Option(help="Largest HTTP request body, bytes.")] = 16 << 20,
    max_joints: Annotated[int, typer.Option(help="Most joints per skeleton.")] = 256,
    max_fps: Annotated[float, typer.Option(help="Highest stream frame rate, frames/s.")] = 120.0,
    max_sessions: Annotated[int, typer.Option(help="Most concurrent WebSocket sessions.")] = 256,
    idle: Annotated[float, typer.Option(help="Seconds without a message before a session is closed.")] = 60.0,
    request_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds an HTTP request's body may take to arrive after its headers (which get 10 s); a connection "
            "past either is closed."
        ),
    ] = 60.0,
    max_seconds: Annotated[float, typer.Option(help="Longest forecast horizon, seconds.")] = 30.0,
    threads: Annotated[int, typer.Option(help="Torch threads for the forecasts.")] = 1,
    mirror_average: Annotated[
        bool,
        typer.Option(
            help="Test-time mirror averaging of the learned motion models, as the library does. Off: half the "
            "network cost per forecast (more sessions per core), about 1-1.5 % less accurate on the corpus "
            "validation split."
        ),
    ] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve forecasts over HTTP and WebSockets: a browser page at /, REST at /v1/forecast, skeleton streams at
    /v1/stream, camera frames at /v1/video, the OpenAPI page at /docs (docs/serve.md)."""
    try:
        from posecast.serve import Limits, run
    except ImportError as exc:
        raise PosecastError(f"posecast serve needs the serve extra: pip install 'posecast[serve]' ({exc})") from None
    for name, value in (
        ("--max-message", max_message),
        ("--max-upload", max_upload),
        ("--max-joints", max_joints),
        ("--max-fps", max_fps),
        ("--max-sessions", max_sessions),
        ("--idle", idle),
        ("--request-timeout", request_timeout),
        ("--max-seconds", max_seconds),
        ("--threads", threads),
        ("--port", port),
    ):
        if not 0 < value < math.inf:  # (NaN too; QA: --max-seconds inf was served)
            raise PosecastError(f"{name} must be a positive number, got {value}")
    if port > 65535:  # (QA: --port 70000 ended in a traceback from bind)
        raise PosecastError(f"--port must be from 1 to 65535, got {port}")
    if token is not None and not token.strip():  # QA: --token "" let anyone in on a public address
        raise PosecastError("--token is empty: give a secret (or leave it out to serve on loopback only)")
    levels = ("critical", "error", "warning", "info", "debug", "trace")
    if log_level.lower() not in levels:
        raise PosecastError(f"--log-level must be one of {', '.join(levels)}, got {log_level!r}")
    limits = Limits(
        ws_message_bytes=max_message,
        rest_body_bytes=max_upload,
        joints=max_joints,
        fps=max_fps,
        sessions=max_sessions,
        idle_seconds=idle,
        request_seconds=request_timeout,
        seconds=max_seconds,
    )
    run(
        host=host,
        port=port,
        model=model,
        token=token,
        limits=limits,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        threads=threads,
        log_level=log_level.lower(),
        mirror_average=mirror_average,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command()(serve)
