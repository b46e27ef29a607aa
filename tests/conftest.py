"""Shared fixtures. Real data comes from POSECAST_DATA; tests that need it skip when it is absent."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posecast.datasets.paths import dataset_dir

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist's workers get COLUMNS=80 / LINES=24 from execnet; a user's piped `posecast` output has no
    # COLUMNS, so the CLI writes 200 columns (`posecast.cli.common.PIPED_WIDTH`) and tests read whole lines
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


def _need(name: str) -> Path:
    path = dataset_dir(name, required=False)
    if path is None:
        pytest.skip(f"real data {name!r} not available: set POSECAST_DATA to the shared data root")
    return path


@pytest.fixture(scope="session")
def cmu_mocap_dir() -> Path:
    """The CMU-Mocap benchmark folder (``$POSECAST_DATA/cmu_mocap``)."""
    return _need("cmu_mocap")


@pytest.fixture(scope="session")
def cmu_bvh_dir() -> Path:
    """The raw CMU BVH folder (``$POSECAST_DATA/cmu_bvh``)."""
    return _need("cmu_bvh")


@pytest.fixture(scope="session")
def video_dir() -> Path:
    """The video clips folder (``$POSECAST_DATA/video``)."""
    return _need("video")


@pytest.fixture(scope="session")
def posecast_data() -> Path:
    """The data root with every motion data set of the corpus and the cross-data-set benchmark."""
    for name in ("cmu_bvh", "bandai_namco", "hdm05_cuts", "cmu_mocap"):
        _need(name)
    path = dataset_dir("cmu_bvh", required=False)
    assert path is not None
    return path.parent


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``posecast ARGS`` in this process through the console entry point (errors become one line on stderr and
    exit code 2, as for a user): ``(exit code, stdout, stderr)``."""
    import sys

    from posecast.cli.app import main

    def call(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["posecast", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return call


@contextlib.contextmanager
def _serving(**app_options: Any) -> Iterator[str]:
    """`posecast.serve.app.create_app(**app_options)` under uvicorn in a thread on a free loopback port, as
    `posecast serve` runs it (`posecast.serve.app.uvicorn_options` of the limits): its root URL,
    ``http://127.0.0.1:PORT``."""
    import uvicorn

    from posecast.serve.app import create_app, uvicorn_options
    from posecast.serve.engine import Limits

    limits = app_options.setdefault("limits", Limits())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tls = app_options.pop("tls", None)  # (certfile, keyfile): served over https, as with --ssl-certfile/--ssl-keyfile
    config = uvicorn.Config(
        create_app(**app_options),
        log_level="warning",
        **uvicorn_options(limits),
        **({"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="session")
def serving():
    """``with serving(**create_app options) as url``: a live `posecast serve` for the test (needs the serve extra)."""
    pytest.importorskip("uvicorn", reason="the serve extra is not installed")
    return _serving


@pytest.fixture(scope="session")
def bandai_like_rig():
    """A Bandai-like rig: a world root on the floor at the origin (``joint_Root``), the body under ``Hips``."""
    import numpy as np

    from posecast.skeletons.base import Skeleton

    names = (
        "joint_Root", "Hips", "Spine", "Chest", "Neck", "Head",
        "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L", "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
        "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L", "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
    )  # fmt: skip
    parents = (-1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 3, 10, 11, 12, 1, 14, 15, 16, 1, 18, 19, 20)
    off = np.array([
        [0, 0, 0], [0, 0.94, 0], [0, 0.1, 0], [0, 0.12, 0], [0, 0.2, 0], [0, 0.1, 0],
        [0.05, 0.15, 0], [0.12, 0, 0], [0.26, 0, 0], [0.24, 0, 0],
        [-0.05, 0.15, 0], [-0.12, 0, 0], [-0.26, 0, 0], [-0.24, 0, 0],
        [0.09, -0.06, 0], [0, -0.41, 0], [0, -0.42, 0], [0, -0.05, 0.12],
        [-0.09, -0.06, 0], [0, -0.41, 0], [0, -0.42, 0], [0, -0.05, 0.12],
    ], dtype=float)  # fmt: skip
    pairs = [(names.index(n), names.index(n[:-1] + "R")) for n in names if n.endswith("_L")]
    return Skeleton("bandai-like", names, parents, off, left_right=pairs)
