"""Shared fixtures. Real data comes from POSECAST_DATA; tests that need it skip when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from posecast.datasets.paths import dataset_dir


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
