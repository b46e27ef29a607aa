"""Options of `posecast.load` checked once for every reader (`posecast.io.registry.load`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import posecast
from posecast.errors import ValueRangeError


def test_fps_option_takes_numpy_numbers_and_names_itself_when_not_a_number(tmp_path):
    """Review: a hand-written JSON read with ``fps=np.float32(25)`` was refused as ``missing or non-numeric field
    'fps': 25.0``, naming a field of the file for a value that came from the option; a numpy number is a number."""
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"positions": np.zeros((3, 17, 3)).tolist()}))
    for fps in (np.float32(25), np.int64(25), 25, 25.0):
        m = posecast.load(path, skeleton="h36m-17", fps=fps)
        assert m.fps == 25.0 and type(m.fps) is float
    for bad in ("25", True, [25]):
        with pytest.raises(ValueRangeError, match=r"fps= must be a number, got "):
            posecast.load(path, skeleton="h36m-17", fps=bad)
    np.save(tmp_path / "a.npy", np.zeros((3, 17, 3)))  # a reader that converted it already: the same
    assert posecast.load(tmp_path / "a.npy", skeleton="h36m-17", fps=np.float32(25)).fps == 25.0
