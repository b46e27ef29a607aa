"""Where data lives: the ``POSECAST_DATA`` root and the data sets under it (``cmu_mocap``, ``cmu_bvh``,
``video``; their layouts, splits and loaders are the other modules of `posecast.datasets`).

Nothing is downloaded: code reaches the shared data only through ``POSECAST_DATA``.
"""

from __future__ import annotations

import os
from pathlib import Path

from posecast.errors import DataNotFoundError

ENV_VAR = "POSECAST_DATA"


#: what a refusal for want of the data sets says works without them
ON_YOUR_OWN_FILES = (
    "on your own files: posecast bench files DIR, posecast bench long-horizon --files DIR, posecast train --data FOLDER"
)


def data_root(required: bool = True, needed: str | None = None) -> Path | None:
    """The directory named by ``POSECAST_DATA``, or ``None`` (or an error if ``required``, naming the data set
    ``needed`` when given and what works without the data sets)."""
    value = os.environ.get(ENV_VAR)
    if value and Path(value).is_dir():
        return Path(value)
    if required:
        why = f"{ENV_VAR} points at {value!r}, which is not a directory" if value else f"{ENV_VAR} is not set"
        what = f"the data set {needed!r}" if needed else "the data sets"
        raise DataNotFoundError(
            f"this needs {what}: {why} (the folder that holds cmu_bvh/, bandai_namco/, hdm05_cuts/, cmu_mocap/, "
            f"video/: README, Quick start); {ON_YOUR_OWN_FILES}"
        )
    return None


def dataset_dir(name: str, required: bool = True) -> Path | None:
    """``$POSECAST_DATA/<name>`` (``cmu_mocap``, ``cmu_bvh``, ``video``)."""
    root = data_root(required, name)
    if root is None:
        return None
    path = root / name
    if not path.is_dir():
        if required:
            raise DataNotFoundError(f"data set {name!r} not found under {root}")
        return None
    return path
