"""`posecast serve`: live motion forecasting over HTTP and WebSockets (needs the ``serve`` extra).

- `posecast.serve.schema`: the wire format (pydantic models of every request and reply).
- `posecast.serve.engine`: limits, loaded models, stream sessions, the micro-batcher.
- `posecast.serve.video`: camera sessions (pose backend + video model).
- `posecast.serve.app`: the FastAPI application (`create_app`) and the uvicorn runner (`run`).
"""

from __future__ import annotations

from posecast.serve.engine import Limits
from posecast.serve.schema import (
    ErrorBody,
    ForecastRequest,
    ForecastResponse,
    Health,
    InlineSkeleton,
    MotionUpload,
    StreamFrame,
    StreamOpen,
    StreamReady,
    StreamReply,
    StreamWaiting,
    VideoOpen,
    VideoReady,
    VideoReply,
)

__all__ = [
    "ErrorBody",
    "ForecastRequest",
    "ForecastResponse",
    "Health",
    "InlineSkeleton",
    "Limits",
    "MotionUpload",
    "StreamFrame",
    "StreamOpen",
    "StreamReady",
    "StreamReply",
    "StreamWaiting",
    "VideoOpen",
    "VideoReady",
    "VideoReply",
    "create_app",
    "run",
]


def __getattr__(name: str):
    if name in ("create_app", "run"):  # fastapi is imported only when the app is wanted
        from posecast.serve import app

        return getattr(app, name)
    raise AttributeError(name)
