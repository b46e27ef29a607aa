"""Reading a motion file as the command line and the public API read it: the reader's options (``skeleton``, ``fps``,
``asf``, ``units``), a unit for files of plain numbers, and a check that positions read as metres have a body's size.
`posecast.api.load_motion` is `load_motion`; training on a folder (`posecast.datasets.training_data.folder_motions`)
reads each file with it, so a file reads the same for a forecast, a benchmark and a training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import PosecastError, UnitsNeeded, ValueRangeError
from posecast.motion import Forecast, Motion

#: the motion formats whose reader takes ``units=`` (a length unit of the file)
UNIT_FORMATS = ("bvh", "amc")


def load_file(
    path: str | Path,
    skeleton: str | None = None,
    fps: float | None = None,
    asf: str | Path | None = None,
    units: str | float | None = None,
) -> Motion | Forecast:
    """A motion or forecast file as `load_motion` reads it (the same options and checks on a motion), a forecast
    as it is: what ``posecast info`` describes."""
    from posecast.io import detect_format, load
    from posecast.io.arrays import holds_bare_positions
    from posecast.io.registry import format_suffix

    where = Path(path)
    if fps is not None and not 0 < fps < float("inf"):  # (QA: a forecast file read with fps -1 took no notice)
        raise ValueRangeError(f"fps {fps:g}: give a positive frame rate (frames per second)")
    suffix = format_suffix(where)
    checked = units is not None or suffix in tuple(f".{n}" for n in SIZE_CHECKED) or suffix == ".npz"
    name = detect_format(path).name if checked else None
    if name == "npz" and holds_bare_positions(where):  # not PoseCast's own .npz: plain numbers, read as a .npy is
        name = "npy"
    if units is not None and name not in UNIT_FORMATS + SIZE_CHECKED:
        raise ValueRangeError(
            f"units apply to BVH, AMC and plain-number (.npy, .csv, a .npz without 'skeleton') files and to JSON "
            f"documents; a {name} file is read as it is",
            where,
        )
    options: dict[str, Any] = {k: v for k, v in (("skeleton", skeleton), ("fps", fps), ("asf", asf)) if v is not None}
    if units is not None:
        if name in UNIT_FORMATS:
            options["units"] = units
        else:
            from posecast.io.bvh import metres_per_unit

            options["scale"] = metres_per_unit(units, where)[1]  # applied by the reader, before any check
    obj = load(path, **options)
    if isinstance(obj, Motion) and name in SIZE_CHECKED:  # metres unless told otherwise: a body must look like one
        give = 'give their unit (a "units" field in the file, or --units / units= when it has none)'
        # a unit the file declares (PoseCast's own .json and .csv say "m") is trusted for small bodies (a toy or a
        # small robot written by PoseCast had been refused, with no way to load it), not for one over 10 m (a file
        # in mm that says "m")
        declared = obj.metadata.get("units_declared") is not None
        check_body_size(obj, where, give if name == "json" else None, smallest=not declared)
    elif isinstance(obj, Motion) and units is not None and name in UNIT_FORMATS:
        # a unit given for a BVH or AMC file makes a body 23 m tall as easily (QA: --units m on a CMU BVH); too
        # large is refused, small is left alone (a toy or a robot)
        check_body_size(obj, where, f"the unit given ({units}) is not the file's: leave --units out", smallest=False)
    return obj


def load_motion(
    path: str | Path,
    skeleton: str | None = None,
    fps: float | None = None,
    asf: str | Path | None = None,
    units: str | float | None = None,
) -> Motion:
    """A motion file (``skeleton`` / ``fps`` for files that hold only numbers, ``fps`` also instead of a BVH's
    Frame Time or an AMC clip's rate, ``asf`` for an AMC clip's skeleton, ``units`` for the length unit of a BVH or
    AMC file instead of the reader's default, or of a file of plain numbers (``.npy``, ``.csv``) or a JSON
    document without a ``"units"`` field, read as metres otherwise and refused when its body cannot be in metres,
    `check_body_size`); a forecast file is refused."""
    obj = load_file(path, skeleton, fps, asf, units)
    if not isinstance(obj, Motion):
        raise PosecastError("holds a forecast, not a motion; use `posecast render` to look at it", Path(path))
    return obj


#: files of plain numbers: positions in metres unless ``units`` says otherwise (`load_motion`); PoseCast's own
#: ``.npz`` stores metres by definition
PLAIN_FORMATS = ("npy", "csv")
#: formats whose motions must have a body's size in metres (`check_body_size`) and take ``units`` as a scale: the
#: plain numbers, and JSON, which is also written by hand (its ``"units"`` field, else metres)
SIZE_CHECKED = PLAIN_FORMATS + ("json",)
#: metres: the largest distance between two joints of a frame (median over the frames that are not all zeros:
#: missed detections) of a plain-number motion must lie in this range, else its units are wrong (an adult spans
#: about 1.6-2 m; in mm, 1,700)
BODY_SPAN_M = (0.2, 10.0)


def check_body_size(motion: Motion, where: Path | None, give: str | None = None, smallest: bool = True) -> None:
    """A `UnitsNeeded` (a `ValueRangeError`) when ``motion``'s body span (`BODY_SPAN_M`) says its positions are not
    metres (``give``: how to give the unit, for the message; ``smallest=False``: only a body too large is refused)."""
    pos = motion.positions[:: max(1, motion.num_frames // 50)]  # up to about 50 frames
    pos = pos[np.abs(pos).reshape(len(pos), -1).max(axis=1) > 0] if np.abs(pos).max() > 0 else pos
    span = float(np.median(np.ptp(pos, axis=1).max(axis=-1)))  # per frame: the bounding box's longest side
    lo, hi = BODY_SPAN_M
    give = give or "give their unit (--units on the command line, units= in Python)"
    if span > hi:
        guess = "mm" if span > 300 else "cm" if span > 100 else "cm or inch"
        raise UnitsNeeded(f"a body spanning {span:.4g} m: positions must be metres ({guess}?); {give}", where)
    if span < lo and smallest:
        raise UnitsNeeded(f"a body spanning {span:.3g} m: positions must be metres; {give}", where)
