"""CLI commands of the video work; `register` adds them to the app (see `posecast.cli.app`)."""

from __future__ import annotations

from typing import Any


def register(app: Any, bench_app: Any) -> None:
    """Add this module's commands to `app` and its benchmarks to `bench_app`."""
