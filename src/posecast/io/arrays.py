"""Plain array formats: joint positions (and forecasts) as ``.npz``, ``.npy``, ``.csv`` and ``.json``.

Schemas (all lengths in metres, times in seconds):

* ``.npz`` motion: ``kind="motion"``, ``positions (T, J, 3)``, ``fps``, ``skeleton`` (JSON of the
  skeleton), optional ``rotations (T, J, 3, 3)``, ``root_translation (T, 3)``, ``metadata`` (JSON).
* ``.npz`` forecast: ``kind="forecast"``, ``samples (S, F, J, 3)``, ``fps``, ``horizon`` (s),
  ``skeleton``, ``model``, optional ``probabilities (S,)``, ``ground_truth (F, J, 3)``,
  ``history (T, J, 3)`` with ``history_fps``, ``metadata``.
* ``.npy``: only numbers, ``(T, J, 3)`` or ``(T, 3J)``; pass ``skeleton=`` and ``fps=`` to `load`. A ``.npz``
  without ``skeleton`` that holds one array (and perhaps ``fps``, then used as its rate) is read the same way
  (`bare_positions_key`).
* ``.csv``: ``# key=value`` comment lines (``skeleton``, ``fps``, ``units``; a skeleton that is not
  registered, such as a BVH file's own rig, also as ``# skeleton-json {...}``), a header
  ``<joint>_x,<joint>_y,<joint>_z,...`` and one row per frame.
* ``.json``: ``{"format": "posecast-motion" | "posecast-forecast", "version": 1, ...}`` with the
  same fields as the ``.npz`` files, arrays as nested lists.

Files are never unpickled: ``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from posecast import skeletons
from posecast.errors import FormatError, NeedsReadingOptions, SkeletonError, ValueRangeError
from posecast.io.registry import Format, register_format
from posecast.motion import Forecast, Motion
from posecast.skeletons.base import Skeleton

JSON_VERSION = 1


# ------------------------------------------------------------------------------------ skeletons
def skeleton_to_json(skel: Skeleton) -> str:
    return json.dumps(skel.to_dict())


def skeleton_from_field(value: Any) -> Skeleton:
    """A skeleton from a stored name or a stored description (dict or JSON string)."""
    if isinstance(value, Skeleton):
        return value
    if isinstance(value, np.ndarray):
        value = value.item() if value.shape == () else str(value)
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):
            return skeletons.get(text)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormatError(f"stored skeleton is not valid JSON: {exc}") from None
    if isinstance(value, dict):
        try:
            return skeletons.get(value["name"]) if set(value) == {"name"} else Skeleton.from_dict(value)
        except KeyError:
            raise FormatError("stored skeleton has no name") from None
    raise FormatError(f"cannot interpret stored skeleton of type {type(value).__name__}")


def _meta_json(meta: dict[str, Any]) -> str:
    """``meta`` as JSON: arrays as lists, numpy numbers and booleans as Python's (QA: a ``np.float32`` came back as
    the text ``"0.5"``), NaN and infinities as null (QA: written as bare ``NaN``, which is not JSON), anything else
    as its text."""
    text = json.dumps(meta, default=lambda o: o.tolist() if isinstance(o, np.ndarray | np.generic) else str(o))
    return json.dumps(_finite_or_null(json.loads(text)), allow_nan=False)


def _finite_or_null(value: Any) -> Any:
    """``value`` (parsed JSON) with every NaN or infinite number replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ npz
def _scalar(z: Any, key: str, path: Path) -> Any:
    if key not in z:
        raise FormatError(f"missing array {key!r}", path)
    arr = z[key]
    return arr.item() if arr.shape == () else arr


#: the arrays of a key-pose forecast as ``posecast forecast --model charpose`` writes it (.json / .npz)
KEYPOSE_FIELDS = frozenset({"hypotheses", "observed", "joint_names", "parents", "fps"})


def keypose_forecast(d: Any, path: Path) -> Forecast:
    """A key-pose document (``posecast forecast --model charpose --out k.json|k.npz``: ``hypotheses`` (K, J, 3),
    ``probabilities``, the ``observed`` window (O, J, 3), ``joint_names`` and ``parents``) as a `Forecast` of K
    one-frame samples with that window as its history, so that it can be rendered and inspected. What the
    key-pose drawing reads comes along in ``metadata`` (``kind`` ``"keyposes"``, the clip as ``source``, the last
    observed time, world roots, the up axis, each hypothesis' origin, and the true next key pose where the
    document has it: ``true_keypose_root_relative`` (J, 3), ``true_keypose_time_s``, ``true_keypose_errors_m``,
    with the ``anchor``, ``floor_m`` and ``up_vector`` that place it as drawn,
    `posecast.keyposes.forecaster.shown_truth`); the skeleton's left/right pairs from the document, else from the
    joint names."""
    from posecast.io.bvh import left_right_pairs
    from posecast.skeletons.canonical import UP_ROTATIONS

    def value(key: str, default: Any = None) -> Any:
        if key not in d or d[key] is None:
            return default
        arr = np.asarray(d[key])
        return arr.item() if arr.shape == () else arr

    try:
        names = [str(n) for n in np.asarray(d["joint_names"]).reshape(-1)]
        parents = tuple(int(x) for x in np.asarray(d["parents"]).reshape(-1))
        name = str(np.asarray(d["skeleton"]).reshape(-1)[0]) if "skeleton" in d else "keyposes"
        pairs = value("left_right")
        pairs = left_right_pairs(names) if pairs is None else tuple(map(tuple, np.asarray(pairs).reshape(-1, 2)))
        skel = Skeleton(name, tuple(names), parents, left_right=pairs)
        hyps = d["hypotheses"]
        sources = value("sources")
        if len(hyps) and isinstance(hyps[0], dict):  # the JSON document: one object per hypothesis
            hyp = np.asarray([h["positions"] for h in hyps], dtype=np.float64)
            sources = [h.get("source") or "" for h in hyps]
            errors = [h["mpjpe_m"] for h in hyps] if all("mpjpe_m" in h for h in hyps) else None
            if d.get("probabilities") is None:
                d = {**d, "probabilities": [h["probability"] for h in hyps]}
        else:
            hyp = np.asarray(hyps, dtype=np.float64)
            errors = value("true_keypose_mpjpe_m")
        observed = np.asarray(d["observed"], dtype=np.float64)
        fps = float(np.asarray(d["fps"]).reshape(-1)[0])
        probs = np.asarray(d["probabilities"], dtype=np.float64) if d.get("probabilities") is not None else None
        meta: dict[str, Any] = {"source": str(value("file", value("source_file", path))), "kind": "keyposes"}
        static = [str(n) for n in np.asarray(value("static_joints", [])).reshape(-1) if str(n) in names]
        meta["static_joints"] = static
        for key in ("last_observed_time_s", "canonical_body"):
            if value(key) is not None:
                meta[key] = value(key) if key == "canonical_body" else float(value(key))
        up = value("up_vector")
        up = None if up is None or not np.all(np.isfinite(np.asarray(up, dtype=np.float64))) else up
        if up is not None:
            found = [a for a, r in UP_ROTATIONS.items() if np.allclose(r[1], np.asarray(up, dtype=np.float64))]
            meta.update({"up_axis": found[0]} if found else {})
        if sources is not None and any(str(s) for s in np.asarray(sources).reshape(-1)):
            meta["from_rollout"] = [str(s) == "rollout" for s in np.asarray(sources).reshape(-1)]
        truth = d.get("true_keypose") if isinstance(d.get("true_keypose"), dict) else None
        rel = truth["root_relative"] if truth is not None else value("true_keypose_root_relative")
        if rel is not None:
            floor = value("floor_m")
            floor = None if floor is None or not np.isfinite(float(floor)) else float(floor)
            meta["true_keypose_root_relative"] = np.asarray(rel, dtype=np.float64).tolist()
            meta["anchor"] = np.asarray(value("anchor"), dtype=np.float64).tolist()
            meta["floor_m"] = floor
            meta["up_vector"] = None if up is None else np.asarray(up, dtype=np.float64).tolist()
            meta["true_keypose_time_s"] = float(truth["time_s"] if truth is not None else value("true_keypose_time_s"))
            if errors is not None:
                meta["true_keypose_errors_m"] = [float(e) for e in np.asarray(errors).reshape(-1)]
    except (KeyError, TypeError, ValueError, IndexError, SkeletonError) as exc:
        raise FormatError(f"not a readable key-pose forecast ({exc})", path) from None
    if hyp.ndim != 3 or observed.ndim != 3 or hyp.shape[1:] != observed.shape[1:] or hyp.shape[1] != len(names):
        raise FormatError(f"key-pose hypotheses {hyp.shape} and observed window {observed.shape} do not fit", path)
    return Forecast(
        samples=hyp[:, None],
        fps=fps,
        skeleton=skel,
        probabilities=probs,
        history=Motion(observed, fps, skel),
        model=str(d.get("model", "charpose")),
        metadata=meta,
    )


def bare_positions_key(names: Any) -> str | None:
    """The array of a ``.npz`` that holds bare positions (no ``skeleton``: not written by PoseCast), given its array
    ``names``: its only array besides an optional ``fps`` (whatever its name, ``positions`` say); None for other
    archives (PoseCast's own motions and forecasts, AMASS's, key-pose forecasts, several arrays: a second one such as
    ``rotations`` would otherwise be dropped unread)."""
    names = set(names)
    if "skeleton" in names or {"poses", "pose_body", "samples", "kind"} & names or KEYPOSE_FIELDS <= names:
        return None
    rest = sorted(names - {"fps"})  # one array and nothing else: other arrays (rotations...) would be dropped unread
    return rest[0] if len(rest) == 1 else None


def holds_bare_positions(path: str | Path) -> bool:
    """Whether the ``.npz`` at ``path`` holds bare positions (`bare_positions_key`): read as a ``.npy`` is, with
    ``skeleton=`` and ``fps=``, units and the body-size check (`posecast.io.reading.load_file`). A probe only: an
    archive it cannot open (truncated, corrupt) is False, and the reader then names the problem."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return bare_positions_key(z.files) is not None
    except Exception:  # (QA: a truncated .npz's BadZipFile escaped from here as a traceback)
        return False


#: the reading options of the array formats (.npy, .npz, .csv, .json): what `posecast.load` passes them
ARRAY_OPTIONS = frozenset({"skeleton", "fps", "units", "scale"})


def _known_options(options: dict[str, Any], path: Path, what: str) -> None:
    """Refuse options the array readers do not take (QA: ``unit="cm"`` for ``units=`` read a body 146 m tall without
    a word), as the BVH and AMC readers refuse theirs."""
    unknown = sorted(set(options) - ARRAY_OPTIONS)
    if unknown:
        raise ValueRangeError(
            f"unknown option(s) for reading {what}: {', '.join(unknown)} (it takes {', '.join(sorted(ARRAY_OPTIONS))})",
            path,
        )


def read_npz(path: Path, **options: Any) -> Motion | Forecast:
    _known_options(options, path, "a .npz file")
    try:
        z = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise FormatError(f"not a readable .npz file without pickles ({exc})", path) from None
    with z:
        if KEYPOSE_FIELDS <= set(z.files):
            try:
                arrays = {k: z[k] for k in z.files}
            except ValueError as exc:  # an object array would need unpickling: never
                raise FormatError(f"not a readable .npz file without pickles ({exc})", path) from None
            return keypose_forecast(arrays, path)
        kind = str(_scalar(z, "kind", path)) if "kind" in z else ("forecast" if "samples" in z else "motion")
        if "skeleton" not in z:
            amass_arrays = {"poses", "pose_body", "root_orient", "trans", "mocap_framerate", "betas", "gender"}
            if {"poses", "pose_body"} & set(z.files) or len(amass_arrays & set(z.files)) >= 2:  # AMASS's, not all
                raise FormatError("an AMASS file needs 'poses' (or 'root_orient' + 'pose_body') and 'trans'", path)
            key = bare_positions_key(z.files)
            if key is None:
                raise FormatError(
                    f"missing 'skeleton' (name or JSON) among its arrays ({', '.join(z.files) or 'none'}); was it "
                    "written by posecast? A .npz of bare positions holds one array (or one named 'positions') and is "
                    "read with skeleton= and fps= (CLI: --skeleton, --fps), as a .npy",
                    path,
                )
            if "fps" in z.files and options.get("fps") is None:  # the file's own rate, when it has one
                options = {**options, "fps": float(_scalar(z, "fps", path))}
            try:
                arr = z[key]
            except ValueError as exc:  # an object array would need unpickling: never
                raise FormatError(f"not a readable .npz file without pickles ({exc})", path) from None
            return plain_positions(arr, options, path, "a .npz file without 'skeleton'")
        skel = skeleton_from_field(z["skeleton"])
        meta = metadata_field(json.loads(str(_scalar(z, "metadata", path))) if "metadata" in z else {}, path)
        fps = float(_scalar(z, "fps", path))
        if kind == "forecast":
            history = None
            if "history" in z:
                history = Motion(z["history"], float(_scalar(z, "history_fps", path)), skel)
            return Forecast(
                samples=z["samples"] if "samples" in z else _scalar(z, "samples", path),
                fps=fps,
                skeleton=skel,
                probabilities=z["probabilities"] if "probabilities" in z else None,
                history=history,
                ground_truth=z["ground_truth"] if "ground_truth" in z else None,
                model=str(_scalar(z, "model", path)) if "model" in z else "",
                metadata=meta,
            )
        if kind != "motion":
            raise FormatError(f"unknown kind {kind!r} (expected 'motion' or 'forecast')", path)
        if "positions" not in z:
            raise FormatError("missing array 'positions'", path)
        meta = _sourced(meta, path)
        return Motion(
            positions=z["positions"],
            fps=fps,
            skeleton=skel,
            rotations=_rotation_field(z["rotations"], path) if "rotations" in z else None,
            root_translation=z["root_translation"] if "root_translation" in z else None,
            metadata=meta,
        )


def metadata_field(meta: Any, path: Path) -> dict[str, Any]:
    """A saved file's ``metadata``: a JSON object, else a `FormatError` naming ``path`` (QA: a list made
    ``AttributeError`` tracebacks)."""
    if not isinstance(meta, dict):
        raise FormatError(f"'metadata' must be a JSON object, not a {type(meta).__name__}", path)
    return meta


def _sourced(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """A saved motion's metadata as loaded from ``path``: this file is its source (errors name it); the file it
    was first made from is kept beside it (``made_from``)."""
    made = meta.get("made_from") or meta.get("source")
    return {**meta, "source": str(path), **({"made_from": made} if made else {})}


def write_npz(obj: Motion | Forecast, path: Path, **_: Any) -> None:
    arrays: dict[str, Any] = {"fps": np.float64(obj.fps), "skeleton": np.str_(skeleton_to_json(obj.skeleton))}
    if isinstance(obj, Forecast):
        arrays.update(kind=np.str_("forecast"), samples=obj.samples, horizon=np.float64(obj.horizon))
        arrays["model"] = np.str_(obj.model)
        if obj.probabilities is not None:
            arrays["probabilities"] = obj.probabilities
        if obj.ground_truth is not None:
            arrays["ground_truth"] = obj.ground_truth
        if obj.history is not None:
            arrays["history"] = obj.history.positions
            arrays["history_fps"] = np.float64(obj.history.fps)
    elif isinstance(obj, Motion):
        arrays.update(kind=np.str_("motion"), positions=obj.positions)
        if obj.rotations is not None:
            arrays["rotations"] = obj.rotations
        if obj.root_translation is not None:
            arrays["root_translation"] = obj.root_translation
    else:
        raise FormatError(f"cannot save a {type(obj).__name__} as .npz", path)
    arrays["metadata"] = np.str_(_meta_json(obj.metadata))
    with open(path, "wb") as fh:  # a file handle keeps numpy from appending another ".npz"
        np.savez_compressed(fh, **arrays)


# ---------------------------------------------------------------------------------------- units
def declared_units(value: Any, path: Path) -> float:
    """Metres per unit of the units a file declares (a CSV's ``# units=``, a JSON document's ``"units"``): a name of
    `posecast.io.bvh.UNITS` (m, cm, mm, inch, cmu) or a positive number of metres per unit, also written as text
    (what ``--units`` takes, `posecast.io.bvh.metres_per_unit`); another value is a `FormatError` naming the file."""
    from posecast.io.bvh import metres_per_unit

    units = value.strip() if isinstance(value, str) else value
    if isinstance(units, str):
        try:
            units = float(units)
        except ValueError:
            pass
    try:
        if units == "auto":  # a file states its unit; "auto" is the readers' guess, not one
            raise ValueRangeError("auto")
        return metres_per_unit(units, path)[1]
    except ValueRangeError:
        from posecast.io.bvh import UNITS

        raise FormatError(f"unknown units {value!r} (use {', '.join(UNITS)}, or metres per unit)", path) from None


# ------------------------------------------------------------------------------------------ npy
def _need(options: dict[str, Any], path: Path, what: str) -> tuple[Skeleton, float]:
    if options.get("skeleton") is None or options.get("fps") is None:
        raise NeedsReadingOptions(f"{what} holds only numbers: pass skeleton= and fps= (CLI: --skeleton, --fps)", path)
    return skeletons.get(options["skeleton"]), float(options["fps"])


def _reshape_positions(arr: np.ndarray, skel: Skeleton, path: Path) -> np.ndarray:
    j = skel.num_joints
    if arr.ndim == 3 and arr.shape[1:] == (j, 3):
        return arr
    if arr.ndim == 2 and arr.shape[1] == 3 * j:
        return arr.reshape(arr.shape[0], j, 3)
    raise FormatError(
        f"array of shape {arr.shape} does not fit skeleton {skel.name!r}: expected (T, {j}, 3) or (T, {3 * j})", path
    )


def plain_positions(arr: np.ndarray, options: dict[str, Any], path: Path, what: str = "a .npy file") -> Motion:
    """A motion from an array of bare positions (a ``.npy``, a ``.npz`` without a skeleton): ``skeleton=`` and ``fps=``
    from ``options`` (without them a `FormatError` saying that ``what`` holds only numbers), ``scale=`` (metres per
    unit) applied."""
    skel, fps = _need(options, path, what)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise FormatError(f"array has dtype {arr.dtype}; positions are real numbers", path)
    scale = float(options.get("scale", 1.0))
    if options.get("units") is not None:  # posecast.load(..., units="mm") as load_motion takes it (it had been ignored)
        if "scale" in options:
            raise FormatError("give units= or scale= (metres per unit), not both", path)
        from posecast.io.bvh import metres_per_unit

        scale = metres_per_unit(options["units"], path)[1]
    pos = _reshape_positions(arr.astype(np.float64), skel, path) * scale
    return Motion(pos, fps, skel, metadata={"source": str(path)})


def read_npy(path: Path, **options: Any) -> Motion:
    _known_options(options, path, "a .npy file")
    _need(options, path, "a .npy file")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise FormatError(f"not a readable .npy file without pickles ({exc})", path) from None
    return plain_positions(arr, options, path)


def write_npy(obj: Motion, path: Path, **_: Any) -> None:
    if not isinstance(obj, Motion):
        raise FormatError(".npy holds one motion's positions; save forecasts as .npz or .json", path)
    with open(path, "wb") as fh:
        np.save(fh, obj.positions)


# ------------------------------------------------------------------------------------------ csv
def read_csv(path: Path, **options: Any) -> Motion:
    _known_options(options, path, "a .csv file")
    text = path.read_text(encoding="utf-8-sig")  # (a spreadsheet's byte-order mark is not part of the first line)
    meta: dict[str, str] = {}
    lines = []
    described: str | None = None  # a skeleton no registry knows, stored by `write_csv`
    for line in text.splitlines():
        if line.startswith(CSV_SKELETON_LINE):
            described = line[len(CSV_SKELETON_LINE) :]
        elif line.startswith("#"):
            for item in line[1:].split():
                if "=" in item:
                    k, v = item.split("=", 1)
                    meta[k.strip()] = v.strip()
        elif line.strip():
            lines.append(line)
    if not lines:
        raise FormatError("no header and no frames", path)
    header, body_lines = [h.strip() for h in next(csv.reader([lines[0]]))], lines[1:]
    bare = all(_is_float(h) for h in header)  # no header: rows of x, y, z per joint in the skeleton's order (QA)
    order = None  # a described skeleton with its joints in any order (a Kinect SDK's): where each joint's columns are
    if options.get("skeleton") or described is None:
        skel = skeletons.get(options.get("skeleton") or meta.get("skeleton") or _missing("skeleton", path))
    else:
        try:
            skel, order = _described_skeleton(described)
        except (FormatError, SkeletonError, ValueError, TypeError) as exc:
            raise FormatError(f"bad '{CSV_SKELETON_LINE.strip()}' line: {exc}", path) from None
    listed = list(skel.joint_names) if order is None else [skel.joint_names[k] for k in np.argsort(order)]
    if bare:  # plain numbers, as a .npy holds them: read with the skeleton given
        if len(header) != 3 * skel.num_joints:
            raise FormatError(
                f"no header, and rows of {len(header)} numbers: the {skel.num_joints} joints of {skel.name!r} need "
                f"{3 * skel.num_joints} (x, y, z each, in the skeleton's order)",
                path,
            )
        header, body_lines = [f"{n}_{a}" for n in listed for a in "xyz"], lines
    time_col = next((i for i, h in enumerate(header) if h.strip().lower() in ("time", "t")), None)
    given_fps = options.get("fps") or meta.get("fps")
    if given_fps is None and time_col is None:
        _missing("fps", path)
    cols = [i for i, h in enumerate(header) if h[-2:] in ("_x", "_y", "_z")]
    names = [header[i][:-2] for i in cols[::3]]
    if names != listed or len(cols) != 3 * skel.num_joints:
        raise FormatError(
            f"header does not list <joint>_x,_y,_z for the {skel.num_joints} joints of {skel.name!r} in order", path
        )
    if not body_lines:
        raise FormatError("no frames after the header", path)
    wanted = cols + ([time_col] if time_col is not None else [])
    try:  # numpy's parser: a plain numeric table without building a Python string per cell (16x the file's size)
        table = np.loadtxt(body_lines, delimiter=",", usecols=wanted, ndmin=2, dtype=np.float64)
    except ValueError:  # quoted or empty cells, short rows: read row by row below, which names the cell
        table = None
    if table is not None:
        data, times = table[:, : len(cols)], (table[:, -1] if time_col is not None else None)
    else:
        data, times = _csv_rows(body_lines, header, cols, time_col, path)
    if "scale" in options and "units" in meta:
        raise FormatError(f"the header declares units={meta['units']}; leave the unit option out", path)
    scale = float(options["scale"]) if "scale" in options else declared_units(meta.get("units", "m"), path)
    positions = data.reshape(data.shape[0], skel.num_joints, 3) * scale
    if order is not None:  # columns in the described order -> the skeleton's (parents first)
        positions = positions[:, order]
    extra: dict[str, Any] = {}
    if times is not None:
        fps, positions, extra = _on_frame_grid(times, positions, given_fps, path)
    else:
        fps = float(given_fps)
    declared = {"units_declared": meta["units"]} if "units" in meta else {}  # trusted: no body-size check
    return Motion(positions, fps, skel, metadata={"source": str(path), **extra, **declared})


#: seconds: the longest gap between a CSV's timed rows that is bridged (linear interpolation); a longer one is an error
CSV_MAX_GAP_S = 1.0


def _described_skeleton(described: str) -> tuple[Skeleton, np.ndarray | None]:
    """A CSV's ``# skeleton-json`` skeleton and, when its joints are listed in another order than parents first (a
    Kinect SDK's), where each of the skeleton's joints is among them (`posecast.skeletons.base.in_any_order`)."""
    try:
        return skeleton_from_field(described), None
    except SkeletonError:
        data = json.loads(described)
        if not isinstance(data, dict) or "joint_names" not in data or "parents" not in data:
            raise
        from posecast.skeletons.base import in_any_order

        return in_any_order(str(data.get("name", "csv")), data["joint_names"], data["parents"], data.get("offsets"))


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_rows(
    lines: list[str], header: list[str], cols: list[int], time_col: int | None, path: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    """A CSV's frame rows read one by one (``(T, 3J)`` positions, ``(T,)`` times or None): for tables numpy's parser
    refuses, so that the error names the row and the cell (or reads quoted cells it cannot)."""
    body = list(csv.reader(lines))
    try:
        data = np.array([[float(r[i]) for i in cols] for r in body], dtype=np.float64)
    except ValueError:
        k, i = next((k, i) for k, r in enumerate(body) for i in cols if not _is_float(r[i]))
        raise FormatError(
            f"frame row {k + 1}, column {header[i]}: {body[k][i]!r} is not a number (an empty cell is a gap: fill it "
            "in, e.g. from the frames around it)",
            path,
        ) from None
    except IndexError:
        short = next(k for k, r in enumerate(body) if len(r) <= cols[-1])
        raise FormatError(
            f"frame row {short + 1} has {len(body[short])} values; the header has {len(header)} columns", path
        ) from None
    if time_col is None:
        return data, None
    try:
        times = np.array([float(r[time_col]) for r in body], dtype=np.float64)
    except (ValueError, IndexError):
        k = next(k for k, r in enumerate(body) if len(r) <= time_col or not _is_float(r[time_col]))
        raise FormatError(f"frame row {k + 1}: its time is not a number", path) from None
    return data, times


def _on_frame_grid(
    times: np.ndarray, positions: np.ndarray, given_fps: Any, path: Path
) -> tuple[float, np.ndarray, dict[str, Any]]:
    """A CSV's frames with a time column: ``(fps, (T, J, 3) positions on the grid t0 + k / fps, metadata)``. The rate
    is the one declared, else the median time step's (made exact over the whole span: stamps are rounded); rows off
    that grid — missing rows, a tracker's jittered stamps — are brought onto it by linear interpolation
    (``metadata["bridged_gaps_s"]`` lists the gaps of more than 1.5 frames that were bridged); times that do not
    increase, or a gap over `CSV_MAX_GAP_S`, are errors."""
    steps = np.diff(times)
    if not np.isfinite(times).all() or (steps <= 0).any():
        k = int(np.flatnonzero(~(steps > 0))[0]) if steps.size and not (steps > 0).all() else 0
        raise FormatError(f"times must increase: frame rows {k + 1} and {k + 2} are at {times[k]:g} and "
                          f"{times[min(k + 1, len(times) - 1)]:g} s", path)  # fmt: skip
    if given_fps is not None:
        fps = float(given_fps)
        if steps.size and not 0.5 < float(np.median(steps)) * fps < 2.0:
            raise FormatError(
                f"the time column steps by {float(np.median(steps)):.4g} (median) but fps is {fps:g}: times must be "
                "seconds",
                path,
            )
    elif steps.size:  # the median step's rate, made exact over the whole span (stamps are rounded)
        if float(np.median(steps)) > 0.5:
            raise FormatError(
                f"the time column steps by {float(np.median(steps)):.4g} (median): times must be seconds (or give "
                "'# fps=...')",
                path,
            )
        fps = _rate_of(steps)
    else:
        raise NeedsReadingOptions("one frame and no fps: add a '# fps=...' line or pass fps= (CLI: --fps)", path)
    if steps.size and steps.max() > CSV_MAX_GAP_S:
        k = int(np.argmax(steps))
        raise FormatError(
            f"frame rows {k + 1} and {k + 2} are {steps[k]:.3g} s apart (at {times[k]:g} and {times[k + 1]:g} s): a "
            f"gap of over {CSV_MAX_GAP_S:g} s is not bridged; split the file there",
            path,
        )
    n = int(np.floor((times[-1] - times[0]) * fps + 0.5)) + 1
    grid = times[0] + np.arange(n) / fps
    if n == len(times) and np.abs(grid - times).max() <= CSV_ON_GRID_FRAMES / fps:
        return fps, positions, {}  # every row at its frame (stamps rounded or jittered): taken as it is
    flat = positions.reshape(len(times), -1)
    out = np.stack([np.interp(grid, times, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    # a row near its grid point is that frame as recorded, not a blend with its neighbours (a blend would hide a
    # joint the tracker dropped to the origin in it from the loss checks)
    nearest = np.clip(np.rint((times - times[0]) * fps).astype(np.int64), 0, n - 1)
    off = np.abs(grid[nearest] - times)
    by_distance = np.argsort(-off, kind="stable")  # farthest first: of two rows near one frame, the nearer is kept
    close = by_distance[off[by_distance] <= CSV_ON_GRID_FRAMES / fps]
    out[nearest[close]] = flat[close]
    gaps = [round(float(s), 6) for s in steps if s > 1.5 / fps]
    return fps, out.reshape((n,) + positions.shape[1:]), {"bridged_gaps_s": gaps} if gaps else {}


#: frames: a CSV row whose time is within this of a frame of the grid is taken as that frame (`_on_frame_grid`)
CSV_ON_GRID_FRAMES = 0.25
#: a rate this close to a whole number of frames per second (relative) is that number (`_rate_of`)
CSV_WHOLE_RATE = 5e-4


def _rate_of(steps: np.ndarray) -> float:
    """The frame rate of a CSV's time steps (seconds, increasing): each step counted as the whole number of frames of
    the median step it is nearest (dropped rows two or more, a row right after another none), the frame period
    fitted by least squares to the times against those frame counts (a rounded or jittered stamp's error averages
    out, where a median of stamps rounded to the millisecond reads 30 fps as 30.3), and a whole number of frames per
    second when it lies within what the stamps' scatter allows (`CSV_WHOLE_RATE` at least)."""
    median = float(np.median(steps))
    frames = np.concatenate([[0.0], np.cumsum(np.rint(steps / median))])  # (T,) a row close after another: its frame
    times = np.concatenate([[0.0], np.cumsum(steps)])
    k, t = frames - frames.mean(), times - times.mean()
    period = float((k * t).sum() / (k * k).sum())
    fps = 1.0 / period
    scatter = float(np.abs(t - k * period).max())  # seconds: how far the stamps stray from the fitted grid
    whole = round(fps)
    tolerance = max(CSV_WHOLE_RATE, 2.0 * scatter / max(float(times[-1]), period))
    return float(whole) if whole and abs(fps - whole) <= tolerance * whole else fps


def _missing(what: str, path: Path) -> str:
    also = " (or a '# skeleton-json {...}' line for a rig no registry knows)" if what == "skeleton" else ""
    raise NeedsReadingOptions(f"no {what}: add a '# {what}=...' line{also} or pass {what}= (CLI: --{what})", path)


#: the comment line that holds a skeleton no registry knows (JSON, `Skeleton.to_dict`) in a .csv file
CSV_SKELETON_LINE = "# skeleton-json "


def write_csv(obj: Motion, path: Path, **_: Any) -> None:
    if not isinstance(obj, Motion):
        raise FormatError(".csv holds one motion; save forecasts as .npz or .json", path)
    if 1.0 / obj.fps > CSV_MAX_GAP_S:  # the reader would split the file at every row (a tracking gap)
        raise FormatError(
            f"the motion has {obj.fps:g} frames per second: rows more than {CSV_MAX_GAP_S:g} s apart read back as "
            "tracking gaps; resample it first (motion.resample(fps)) or save it as .npz or .json",
            path,
        )
    header = ["time"] + [f"{n}_{a}" for n in obj.skeleton.joint_names for a in "xyz"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"# skeleton={obj.skeleton.name} fps={obj.fps:.10g} units=m\n")
        if not skeletons.is_registered(
            obj.skeleton
        ):  # a file's own rig (a BVH hierarchy): stored so that it loads again
            fh.write(CSV_SKELETON_LINE + json.dumps(obj.skeleton.to_dict()) + "\n")
        w = csv.writer(fh)
        w.writerow(header)
        flat = obj.positions.reshape(obj.num_frames, -1)
        for t, row in zip(obj.times, flat, strict=True):
            w.writerow([f"{t:.6f}"] + [f"{v:.6f}" for v in row])


# ----------------------------------------------------------------------------------------- json
def _arr(d: dict[str, Any], key: str, path: Path, optional: bool = False) -> np.ndarray | None:
    if key not in d or d[key] is None:
        if optional:
            return None
        raise FormatError(f"missing field {key!r}", path)
    try:
        return np.asarray(d[key], dtype=np.float64)
    except (ValueError, TypeError):
        raise FormatError(f"field {key!r} is not a regular array of numbers", path) from None


def _json_fps(d: dict[str, Any], what: str, path: Path, default: float | None = None) -> float:
    """A JSON object's ``fps``: a number (``true`` is not one, although Python counts it as 1)."""
    fps = d.get("fps", default)
    if isinstance(fps, bool) or not isinstance(fps, int | float):
        raise FormatError(f"missing or non-numeric field {what!r}: {fps!r}", path)
    try:
        return float(fps)
    except OverflowError:  # an integer of hundreds of digits
        raise FormatError(f"field {what!r} is no frame rate ({len(str(fps))} digits)", path) from None


def _option_fps(value: Any, path: Path) -> float:
    """The ``fps=`` option (any real number, numpy's included) as a float."""
    try:
        fps = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueRangeError(f"fps= must be a number, got {str(value)[:40]!r}", path) from None
    if isinstance(value, bool) or not math.isfinite(fps) or fps <= 0:
        raise ValueRangeError(f"fps= must be a positive number, got {value!r}", path)
    return fps


def read_json(path: Path, **options: Any) -> Motion | Forecast:
    """A PoseCast JSON document (`write_json`), a key-pose forecast (``posecast forecast --model charpose``), or a
    motion written by hand: an object without ``"format"`` that has ``"positions"`` (frames x joints x 3), with
    ``"skeleton"`` (a registered name or a description) and ``"fps"`` unless ``skeleton=`` / ``fps=`` give them
    (which win, as for a CSV), and optionally ``"units"``; its rotations PoseCast finds from the positions (a
    ``"rotations"`` field is refused there: only PoseCast's own motion documents carry them, tied to the positions).
    PoseCast's own documents keep their skeleton and frame rate: ``skeleton=`` / ``fps=`` apply to hand-written ones.

    Lengths are metres unless the document says otherwise in ``"units"`` (`declared_units`: m, cm, mm, inch, cmu
    or metres per unit), which applies to every length in it: positions, root translations, samples, ground
    truth, the history, and the offsets of a skeleton described in the document. ``scale=`` (metres per unit,
    what ``posecast.api.load_motion`` passes for ``units=``) does the same for a document without ``"units"``.
    """
    _known_options(options, path, "a .json file")
    try:  # (a byte-order mark is not part of the document: editors on Windows write one, as for a CSV)
        d = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON at line {exc.lineno}: {exc.msg}", path) from None
    except RecursionError:
        raise FormatError("JSON nested too deeply to be a motion", path) from None
    if isinstance(d, dict) and "format" not in d and KEYPOSE_FIELDS <= set(d):  # `posecast forecast --model charpose`
        if "scale" in options:
            raise FormatError("a key-pose forecast is in metres, as written; leave the unit option out", path)
        return keypose_forecast(d, path)
    by_hand = isinstance(d, dict) and "format" not in d and "positions" in d  # a motion written by hand
    if not by_hand and (not isinstance(d, dict) or d.get("format") not in ("posecast-motion", "posecast-forecast")):
        raise FormatError(
            'not a motion or forecast: expected "format": "posecast-motion" or "posecast-forecast" (PoseCast\'s '
            'documents), or a motion\'s "positions" (frames x joints x 3) with "skeleton" and "fps"',
            path,
        )
    if by_hand:  # the CSV's rules: skeleton= / fps= (CLI --skeleton, --fps) win over the document's
        forecast_fields = sorted({"samples", "history", "horizon", "probabilities"} & set(d))
        if forecast_fields:  # its samples would have been dropped without a word
            raise FormatError(
                f'looks like a forecast ({", ".join(forecast_fields)}) without "format": "posecast-forecast"', path
            )
        if "rotations" in d:  # unchecked rotations that disagree with the positions make a written BVH translate
            raise FormatError(  # every joint (position channels), so only PoseCast's own documents carry them
                'rotations are read only from PoseCast\'s motion documents ("format": "posecast-motion", written by '
                "posecast.save); leave them out: PoseCast finds the rotations from the positions",
                path,
            )
        d = {**d, "format": "posecast-motion"}
        for key in ("skeleton", "fps"):
            if options.get(key) is not None:
                d[key] = _option_fps(options[key], path) if key == "fps" else options[key]
            elif d.get(key) is None:
                raise NeedsReadingOptions(f'no {key}: add a "{key}" field or pass {key}= (CLI: --{key})', path)
    # PoseCast's own documents describe their skeleton and frame rate: skeleton= / fps= (--skeleton / --fps, for
    # files that hold only numbers) do not apply to them, so a folder of .npy files and PoseCast documents reads
    # with one set of options
    if "skeleton" not in d:
        raise FormatError("missing field 'skeleton'", path)
    try:
        skel = skeleton_from_field(d["skeleton"])
    except SkeletonError as exc:
        raise SkeletonError(exc.problem, path) from None
    declared = d.get("units")
    if declared is not None and "scale" in options:
        raise FormatError(f'the file declares "units": {json.dumps(declared)}; leave the unit option out', path)
    scale = declared_units(declared, path) if declared is not None else float(options.get("scale", 1.0))
    described = isinstance(d["skeleton"], dict) and set(d["skeleton"]) != {"name"}
    if scale != 1.0 and skel.offsets is not None and described:  # offsets written in the document's units too
        skel = skel.with_offsets(skel.offsets * scale)

    def lengths(a: np.ndarray | None) -> np.ndarray | None:
        return a if a is None or scale == 1.0 else a * scale

    fps = _json_fps(d, "fps", path)
    meta = metadata_field(d.get("metadata") or {}, path)
    if d["format"] == "posecast-forecast":
        hist = d.get("history")
        return Forecast(
            samples=lengths(_arr(d, "samples", path)),
            fps=fps,
            skeleton=skel,
            probabilities=_arr(d, "probabilities", path, optional=True),
            history=None
            if not hist
            else Motion(lengths(_arr(hist, "positions", path)), _json_fps(hist, "history fps", path, fps), skel),
            ground_truth=lengths(_arr(d, "ground_truth", path, optional=True)),
            model=str(d.get("model", "")),
            metadata=meta,
        )
    return Motion(
        positions=lengths(_arr(d, "positions", path)),
        fps=fps,
        skeleton=skel,
        rotations=_rotation_field(_arr(d, "rotations", path, optional=True), path),
        root_translation=lengths(_arr(d, "root_translation", path, optional=True)),
        # a declared unit is trusted (`posecast.io.reading.load_file` checks the body's size only without one)
        metadata=_sourced(meta if declared is None else {**meta, "units_declared": declared}, path),
    )


def _round(a: np.ndarray | None, digits: int = 6) -> Any:
    return None if a is None else np.round(a, digits).tolist()


def _exact(a: np.ndarray | None) -> Any:
    """Every float64 as its shortest exact decimal (``json.dumps`` of a Python float reads back bit for bit)."""
    return None if a is None else np.asarray(a, dtype=np.float64).tolist()


def write_json(obj: Motion | Forecast, path: Path, **_: Any) -> None:
    base = {"version": JSON_VERSION, "skeleton": obj.skeleton.to_dict(), "fps": obj.fps, "units": "m"}
    if isinstance(obj, Forecast):
        d = {
            "format": "posecast-forecast",
            **base,
            "model": obj.model,
            "horizon": obj.horizon,
            "samples": _round(obj.samples),
            "probabilities": _round(obj.probabilities),
            "ground_truth": _round(obj.ground_truth),
            "history": None
            if obj.history is None
            else {"fps": obj.history.fps, "positions": _round(obj.history.positions)},
        }
    elif isinstance(obj, Motion):
        # exact, not rounded: a motion's positions are tied to its rotations and offsets (forward kinematics), and
        # rounding them to the micrometre broke that tie by more than the BVH writer and `Forecast.to_motion`
        # tell apart from a joint that translates (position channels on every joint, bones following the forecast)
        d = {
            "format": "posecast-motion",
            **base,
            "positions": _exact(obj.positions),
            "rotations": _exact(obj.rotations),
            "root_translation": _exact(obj.root_translation),
        }
    else:
        raise FormatError(f"cannot save a {type(obj).__name__} as .json", path)
    d["metadata"] = json.loads(_meta_json(obj.metadata))
    path.write_text(json.dumps(d), encoding="utf-8")


def _sniff_json(head: bytes, _: Path) -> bool:
    s = head.lstrip()
    return s.startswith(b"{") and b"posecast-" in head


def _sniff_npz(head: bytes, path: Path) -> bool:
    if head[:2] != b"PK" or path.suffix.lower() != ".npz":
        return False
    from posecast.io.amass import is_amass_npz  # AMASS archives are .npz too: leave them to that reader

    return not is_amass_npz(path)


register_format(
    Format(
        "npz",
        (".npz",),
        read_npz,
        write_npz,
        _sniff_npz,
        "PoseCast motions and forecasts as numpy archives",
    )
)
register_format(
    Format(
        "npy",
        (".npy",),
        read_npy,
        write_npy,
        lambda h, _: h[:6] == b"\x93NUMPY",
        "a bare (T, J, 3) position array; needs skeleton= and fps=",
    )
)
register_format(Format("csv", (".csv",), read_csv, write_csv, None, "joint positions, one row per frame"))
register_format(
    Format("json", (".json",), read_json, write_json, _sniff_json, "PoseCast motions and forecasts as JSON")
)


def _rotation_field(rotations: Any, path: Path) -> Any:
    """`posecast.io.bvh.rotation_field` (one check for every writer and reader of rotations)."""
    from posecast.io.bvh import rotation_field

    return rotation_field(rotations, path)
