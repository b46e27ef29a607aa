"""``posecast.forecast``: one call from a source (a motion file, a `Motion`, a video, an image or a
pose track) to a `Forecast`, with the model the registry names for that kind of input by default.

The CLI's ``posecast forecast`` is this call plus the writers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from posecast.errors import ModelError, PosecastError, ValueRangeError

# reading files: one implementation in `posecast.io.reading`, the public API's names kept
from posecast.io.reading import (  # noqa: F401 (re-exported)
    BODY_SPAN_M,
    PLAIN_FORMATS,
    SIZE_CHECKED,
    UNIT_FORMATS,
    check_body_size,
    load_file,
    load_motion,
)
from posecast.models.base import MAX_SAMPLES, check_samples_count  # noqa: F401 (MAX_SAMPLES: the CLI's --samples)
from posecast.motion import (
    MAX_MEASURED_FRAMES,
    Bones,
    Forecast,
    Motion,
    carry_lost,
    check_at,
    detached_start,
    fill_glitches,
    is_number,
    jitter,
    named_joints,
    rigid_off_origin,
    smoothed,
    stretched_bones,
    tracking_glitches,
)

if TYPE_CHECKING:
    from posecast.skeletons.base import Skeleton

#: model kinds that can read each input kind
READERS = {"motion": ("motion", "keypose"), "video": ("video",), "image": ("video",)}


def sniff_kind(path: str | Path) -> str | None:
    """``"motion"``, ``"video"`` or ``"image"`` from a file's first bytes (container and format signatures), or
    None when they say nothing (a missing file, plain text that is not a BVH, ...)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head[4:8] == b"ftyp" and head[0] == 0:  # ISO media: a binary box size, then the file-type box
        return "image" if head[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1") else "video"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "video"  # Matroska / WebM
    if (head[:4] == b"RIFF" and head[8:12] == b"AVI ") or head[:3] == b"FLV" or head[:6] in (b"GIF87a", b"GIF89a"):
        return "video"
    if (
        head[:8] == b"\x89PNG\r\n\x1a\n"
        or head[:3] == b"\xff\xd8\xff"
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    ):
        return "image"
    if head[:2] == b"\x1f\x8b" or head[:4] == b"PK\x03\x04" or head.lstrip().upper().startswith(b"HIERARCHY"):
        return "motion"  # gzip (.bvh.gz), zip (.npz arrays, AMASS), BVH text
    return None


def folder_error(folder: Path) -> PosecastError:
    """The one-line error for a folder given where one file is read: a folder of images (a frame sequence) gets
    the ``ffmpeg`` line that makes a video of it."""
    import re

    from posecast.errors import FormatError
    from posecast.video import IMAGE_SUFFIXES

    try:
        images = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except OSError:
        images = []
    if not images:
        return FormatError("is a folder: give one motion, video or image file", folder)
    parts = [re.fullmatch(r"(.*?)(\d+)(\.[^.]+)", n) for n in images]
    shared = {(m.group(1), len(m.group(2)), m.group(3)) for m in parts if m}
    if len(shared) == 1 and all(parts):
        prefix, digits, suffix = shared.pop()
        start = min(int(m.group(2)) for m in parts if m)
        source = f"-start_number {start} -i {folder / f'{prefix}%0{digits}d{suffix}'}"
    else:
        source = f"-pattern_type glob -i '{folder / ('*' + Path(images[0]).suffix)}'"
    return FormatError(
        f"is a folder of {len(images)} image{'s' * (len(images) != 1)}: give one video or image file (make a video "
        f"of the frames first: ffmpeg -framerate FPS {source} -pix_fmt yuv420p clip.mp4, FPS their frame rate)",
        folder,
    )


def input_kind(source: Any) -> str:
    """``"motion"``, ``"video"`` or ``"image"``: what ``source`` is (a path by its content first, `sniff_kind`,
    then by its suffix; a video of a single frame is an image, and so is a one-frame `PoseTrack`). A folder is a
    `FormatError` (`folder_error`): one file is read."""
    from posecast.video.track import PoseTrack

    if isinstance(source, Motion):
        return "motion"
    if isinstance(source, PoseTrack):
        return "image" if source.num_frames == 1 else "video"
    if isinstance(source, str | Path):
        from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

        if Path(source).is_dir():
            raise folder_error(Path(source))
        suffix = Path(source).suffix.lower()
        kind = sniff_kind(source)
        if kind is None:
            kind = "video" if suffix in VIDEO_SUFFIXES else "image" if suffix in IMAGE_SUFFIXES else "motion"
        if kind == "video" and suffix in VIDEO_SUFFIXES and Path(source).is_file():
            from posecast.video.decode import single_frame

            if single_frame(source):  # one frame is a picture: the image default reads it (no motion to see)
                return "image"
        return kind
    raise ValueRangeError(f"cannot forecast from a {type(source).__name__}: give a path, a Motion or a PoseTrack")


def resolve_model(kind: str, model: str | None) -> str:
    """The model to use on an input of ``kind``: ``model`` if it can read it, else the registry's default."""
    from posecast.models import default_model, info

    if model is None:
        found = default_model(kind)
        if found is None:
            raise ModelError(f"no default model for {kind} inputs; name one (see `posecast models`)")
        return found.name
    entry = info(model)
    if entry.kind not in READERS[kind]:
        raise ModelError(
            f"model {model!r} is a {entry.kind} model and cannot forecast from a {kind}; "
            f"use a {' or '.join(READERS[kind])} model (see `posecast models`)"
        )
    return model


def fit_motions(folder: str | Path) -> list[Motion]:
    """Every motion file under ``folder`` (for models that must be fitted on training motions)."""
    from posecast.io import load
    from posecast.io.registry import motion_files

    paths = motion_files(folder)
    if not paths:
        raise ValueRangeError(f"{folder}: no motion files found")
    return [load(p) for p in paths]


_BUILT: dict[str, Any] = {}
_BUILT_LOCK = threading.Lock()  # held only to look up and store, never while a model is built
_BUILDING: dict[str, threading.Lock] = {}  # one lock per model name, held while it is built
BUILT_MODELS = 4
"""`forecast` keeps this many models it built with their shipped weights (the most recently used): a model is
built, loaded and traced once, not at every call (each call had built and traced it anew: 145 ms and 7 MB
that were never given back, per call of a 1 s `dct-mlp` forecast; 2-3 ms once built)."""


def built_model(name: str) -> Any:
    """The model ``name`` with its shipped weights, built once per process (`BUILT_MODELS` kept; models that
    are fitted on the caller's motions are built afresh every time)."""
    from posecast.models import get, info

    if info(name).needs_fit:
        return get(name)

    def kept() -> Any:
        with _BUILT_LOCK:
            model = _BUILT.pop(name, None)
            if model is not None:
                _BUILT[name] = model  # most recently used last
            return model

    model = kept()
    if model is not None:
        return model
    with _BUILT_LOCK:
        building = _BUILDING.setdefault(name, threading.Lock())
    # one thread builds a model while the others' forecasts with models already built go on (the global lock
    # had been held through a build: a thread forecasting every frame stalled 0.7-0.9 s while another built
    # charpose; threads QA); a second thread asking for the same model waits for the first one's
    with building:
        model = kept()
        if model is None:
            model = get(name)  # keeps the caller's torch random stream (`posecast.models.store.keeps_rng`)
            with _BUILT_LOCK:
                while len(_BUILT) >= BUILT_MODELS:
                    _BUILT.pop(next(iter(_BUILT)))
                _BUILT[name] = model
    return model


def forecast(
    source: str | Path | Motion | Any,
    model: str | None = None,
    seconds: float | None = None,
    frames: int | None = None,
    samples: int | None = None,
    at: float | None = None,
    weights: str | Path | None = None,
    fit_data: str | Path | Motion | Sequence[Motion] | None = None,
    skeleton: str | Skeleton | None = None,
    fps: float | None = None,
    asf: str | Path | None = None,
    mapping: str | Path | dict[str, Any] | None = None,
    up: str | None = None,
    units: str | float | None = None,
    smooth: float | None = None,
    history: float | None = None,
) -> Forecast:
    """Forecast the future of ``source`` and return it as a `Forecast`.

    Args:
        source: a motion file, a `Motion`, positions ``(T, J, 3)`` (metres; with ``skeleton`` and ``fps``), a
            video or image file, or a `PoseTrack`.
        model: a registry name (default: the registry's default for the kind of input).
        seconds / frames: how far to forecast (default one second); key-pose models take neither.
        samples: hypotheses (default 1; key-pose models default to 10).
        at: forecast from this time (seconds) of the source instead of its end; for motions, the true
            frames after it become the forecast's ``ground_truth`` when the motion has them (key-pose models:
            the next key pose mined from the motion after it, ``(1, J, 3)``, with ``metadata["true_keypose"]``:
            its frame, time and each hypothesis' root-relative MPJPE to it).
        weights: a training run, a weights folder or a shipped ``NAME[/VARIANT]`` instead of the
            model's shipped weights.
        fit_data: training motions (a folder, a Motion or a list of them) for models that must be fitted first
            (nearest-neighbour); refused for other models.
        skeleton / fps: for positions given as an array, and motion files that hold only numbers (``.npy``).
        asf: the ASF skeleton of an AMC clip (default: found next to the clip, see `posecast.io.asf_amc`).
        mapping: how the motion's joints map onto the canonical body of models trained on it (a YAML/JSON
            file or a dict ``{canonical joint: source joint | {source joint: weight}}``; default: found from
            the joint names and topology, `posecast.skeletons.canonical.retarget`). Models on the canonical body.
        up: which axis points up in the motion's world (``"z"``, ``"-y"``...; default: found from the motion,
            `posecast.skeletons.canonical.up_axes`). Models on the canonical body.
        units: the length unit (``"m"``, ``"cm"``, ``"mm"``, ``"inch"``, ``"cmu"`` or metres per unit) of
            positions given as an array (default metres; an array whose body cannot be in metres is refused, as a
            ``.npy`` file is), or of a BVH or AMC file instead of the reader's default (BVH: guessed from the rest
            pose's size, which takes a body 45-95 units tall for one in inches: name ``"cm"`` for a small child
            recorded in centimetres).
        smooth: seconds: smooth a tracker's jitter out of the history before a motion model reads it
            (`posecast.motion.smoothed`, e.g. 0.2; default: read as given). Clean motion capture needs none.
        history: seconds: observe only the newest ``history`` seconds of the motion before the forecast point
            (before ``at`` when given, else before the end): the forecast's ``history``, and so every file written
            from it, holds only those (`history_window`). Motions and motion models only.
    """
    from posecast.models import get

    check_history(history)

    if samples is not None:
        check_samples_count(samples)  # (the one check a model's own forecast and predict make)
    if isinstance(source, np.ndarray):  # positions (T, J, 3) with what they are on
        if skeleton is None or fps is None:
            raise ValueRangeError(
                "positions given as an array need skeleton= and fps= (or wrap them: posecast.Motion(positions, "
                "fps, skeleton))"
            )
        # a copy: the forecast's history must not change when the caller refills the array (a robot's ring buffer);
        # checked as Motion checks it first (QA: complex positions lost their imaginary part, booleans were taken)
        if source.dtype.kind not in "iuf":
            raise ValueRangeError(f"positions must be real numbers, got an array of {source.dtype}")
        source = Motion(np.array(source, dtype=np.float64), fps, skeleton)
        if units is not None:  # an array's unit: scaled here, like a file of plain numbers
            from posecast.io.bvh import metres_per_unit

            source = Motion(source.positions * metres_per_unit(units)[1], source.fps, source.skeleton)
        skeleton, fps, units = None, None, None
        # metres unless units= says otherwise, as for .npy / .csv files: an array in cm had been forecast as a body
        # 133 m tall (QA)
        check_body_size(source, None, "give their unit (units='cm', 'mm', ... or metres per unit)")
    if isinstance(source, Motion) and (skeleton is not None or fps is not None or asf is not None):
        given = ", ".join(n for n, v in (("skeleton", skeleton), ("fps", fps), ("asf", asf)) if v is not None)
        raise ValueRangeError(f"{given} apply to files; a Motion has its own (make a new Motion to change them)")
    kind = input_kind(source)
    name = resolve_model(kind, model)
    from posecast.models import info

    check_samples(info(name), samples)  # before the model is built and a video's poses are extracted
    forecaster = built_model(name) if weights is None else get(name, weights=weights)
    if kind != "motion":
        if history is not None:
            raise ValueRangeError(f"history applies to motions, not to a {kind}: the video models read their own past")
        if smooth is not None:
            raise ValueRangeError(f"smooth applies to motions, not to a {kind}: the video models smooth their own")
        if up is not None:
            raise ValueRangeError(f"up applies to motions, not to a {kind}: the image's own up is used")
        if units is not None:
            raise ValueRangeError(f"units applies to motion files, not to a {kind}")
        if at is not None and isinstance(source, str | Path):
            from posecast.video.models.base import extract_track

            source = extract_track(Path(source), max_time=at)
        return forecaster.forecast(source, frames=frames, seconds=seconds, samples=1 if samples is None else samples)
    if isinstance(source, Motion) and units is not None:
        raise ValueRangeError("units apply to motion files; a Motion is in metres already")
    motion = source if isinstance(source, Motion) else load_motion(source, skeleton, fps, asf, units)
    from posecast.skeletons.canonical import load_mapping_file, mapping_file_named, mapping_with_up

    mapping_file = mapping if isinstance(mapping, str | Path) else None  # (its entries' errors name it)
    if up is not None:
        mapping = mapping_with_up(mapping, up)
    elif mapping_file is not None:  # read now: a built model binds by the mapping's contents, not its path
        mapping = load_mapping_file(mapping_file)
    with mapping_file_named(mapping_file):
        fc = forecast_motion(forecaster, motion, frames, seconds, samples, at, fit_data, mapping, smooth, history)
    if weights is not None:  # which weights made it: a training run's forecast is not the shipped model's
        fc.metadata.setdefault("weights", str(weights))
    return fc


def check_samples(entry: Any, samples: int | None) -> None:
    """A `ValueRangeError` for ``samples K > 1`` on a motion model whose K samples would all be the same forecast
    (`posecast.models.registry.ModelInfo.distinct_samples`; ``posecast models --json`` lists it): K identical copies
    had been written without a word; and on a video model, which gives one forecast (refused before the poses are
    extracted, not after). ``entry``: the model's registry entry (`posecast.models.info`)."""
    if samples is None or samples <= 1 or entry.gives_distinct_samples:
        return
    if entry.kind == "video":  # the video forecasters give one forecast (`VideoForecaster.forecast`)
        raise ValueRangeError(f"video model {entry.name!r} gives one forecast, not {samples} samples")
    if entry.kind != "motion":
        return
    from posecast.models import available

    several = [m.name for m in available() if m.gives_distinct_samples]
    raise ValueRangeError(
        f"model {entry.name!r} is deterministic: its {samples} samples would be one forecast {samples} times; "
        f"samples > 1 is for models that give several ({', '.join(several)}; `posecast models`)"
    )


def forecast_motion(
    forecaster: Any,
    motion: Motion,
    frames: int | None = None,
    seconds: float | None = None,
    samples: int | None = None,
    at: float | None = None,
    fit_data: str | Path | Motion | Sequence[Motion] | None = None,
    mapping: str | Path | dict[str, Any] | None = None,
    smooth: float | None = None,
    history_s: float | None = None,
) -> Forecast:
    """`forecast` of a `Motion` with a model already built (``posecast.models.get``: a motion or key-pose
    model); a server keeps its models and calls this. Leading frames that are not part of the motion (a rest pose
    written before it, `posecast.motion.detached_start`) are left out of the history; ``history_s``: only the
    newest seconds are kept (`history_window`)."""
    if at is not None and not is_number(at):
        raise ValueRangeError(f"at must be a number of seconds, got {at!r}")
    check_history(history_s)
    from posecast.models import info, resolve_frames

    name = forecaster.name
    entry = info(name)
    check_samples(entry, samples)
    if history_s is not None and entry.kind != "motion":
        raise ValueRangeError(
            f"history applies to motion models; {name!r} reads its own window of the motion (the last 10 frames)"
        )
    if smooth is not None and (not is_number(smooth) or not 0 < smooth <= MAX_SMOOTH_S):
        raise ValueRangeError(f"smooth must be a number of seconds in (0, {MAX_SMOOTH_S:g}], got {smooth!r}")
    if smooth is not None and entry.kind == "keypose":
        raise ValueRangeError(f"smooth applies to motion models; {name!r} reads its 10 frames as given")
    if fit_data is not None and not entry.needs_fit:  # (QA: ignored, a path never looked at)
        raise ValueRangeError(f"fit_data applies to models fitted on motions (nearest-neighbour); {name!r} is not")
    from posecast.models.base import Forecaster

    if mapping is not None and type(forecaster).on_skeleton is Forecaster.on_skeleton:  # (QA: ignored)
        raise ValueRangeError(
            f"mapping= and up= apply to models on the canonical body; {name!r} reads the motion's own joints as they "
            "are, in its own world"
        )
    skip = detached_start(motion.positions, motion.fps)  # e.g. the CMU BVH release's T-pose: not motion
    if entry.kind == "keypose":
        if frames is not None or seconds is not None:
            raise ValueRangeError(f"model {name!r} forecasts the next key pose: give no horizon")
        given = motion
        if mapping is not None:
            forecaster = forecaster.on_skeleton(motion.skeleton, mapping)
        if skip:  # the same moment of the motion, counted from its new first frame
            if at is not None and at <= skip / motion.fps:
                raise _rest_pose_error(skip, 0, 1, name)
            motion, at = _without_start(motion, skip), None if at is None else at - skip / motion.fps
        offset = skip / given.fps  # times on the given motion's clock, as `at` is
        fc = forecaster.forecast(motion, samples=10 if samples is None else samples, at=at, clock_offset_s=offset)
        meta = {**fc.metadata, "history_starts_at_frame": skip}
        fc = replace(fc, metadata=meta)
        if at is not None and "last_observed_time_s" in meta:  # the true next key pose of the given motion
            from posecast.keyposes.forecaster import search_true_keypose

            # mined as the weights' key poses were: on the canonical body through the same mapping, upright
            truth, search = search_true_keypose(given, fc, mapping)
            if truth is None:  # what was searched, for a note ("no key pose after t = ...")
                meta["true_keypose_search"] = search
            else:
                meta["true_keypose"] = {
                    "frame": truth["frame"],
                    "time_s": truth["time_s"],
                    "seconds_after_last_observed": truth["seconds_after_last_observed"],
                    "mpjpe_m": [float(v) for v in truth["mpjpe_m"]],
                    "mined_on": truth["mined_on"],
                    "scored_on": truth["scored_on"],
                }
                fc = replace(fc, ground_truth=truth["positions"][None], metadata=meta)
        return fc
    if entry.needs_fit:
        if fit_data is None:
            raise ValueRangeError(f"model {name!r} needs training motions: pass fit_data (CLI: --train-data DIR)")
        if isinstance(fit_data, Motion):  # one motion: a list of one (QA: list(Motion) failed with a TypeError)
            fit_data = [fit_data]
        if not isinstance(fit_data, str | Path | list | tuple):  # (QA: fit_data=42 raised Python's own TypeError)
            raise ValueRangeError(
                f"fit_data must be a folder, a Motion or a list of Motions, not {type(fit_data).__name__}"
            )
        motions = fit_motions(fit_data) if isinstance(fit_data, str | Path) else list(fit_data)
        forecaster.fit(motions, fps=motion.fps)
    n = resolve_frames(motion.fps, frames, 1.0 if frames is None and seconds is None else seconds)
    if mapping is not None:
        forecaster = forecaster.on_skeleton(motion.skeleton, mapping)
    history, truth = motion, None
    if at is not None:
        check_at(at, motion.duration, motion.fps)
        history = motion.until(at)
        rest = motion.positions[history.num_frames : history.num_frames + n]
        truth = rest if rest.shape[0] == n else None
    history, repaired = without_glitches(history, skip, forecaster)
    if skip:
        need = max(1, int(getattr(forecaster, "min_history", 1)))
        if history.num_frames - skip < need:
            raise _rest_pose_error(skip, history.num_frames - skip, need, name)
        history = _without_start(history, skip)
    if smooth is not None:  # after the glitches (a lost joint would be smeared) and without a rest pose
        history = replace(history, positions=smoothed(history.positions, history.fps, smooth))
        repaired = {**repaired, "smoothed_s": float(smooth)}
    window = history.positions[-round(GLITCH_CHECK_S * history.fps) - 1 :]  # the newest 2 s, for the notes
    if smooth is None and history.fps >= JITTER_NOTE_MIN_FPS:  # a tracker's jitter, read as motion: say so
        noise = float(np.median(jitter(window)))  # (the CLI suggests --smooth)
        if noise > JITTER_NOTE_M:
            repaired = {**repaired, "history_jitter_m": round(noise, 5)}
    carried = [history.skeleton.joint_names.index(c["joint"]) for c in repaired.get("carried_joints", [])]
    stretched = (
        [] if rigid_off_origin(window, history.skeleton.parents) else stretched_bones(window, history.skeleton, carried)
    )
    if stretched:
        repaired = {**repaired, "stretched_bones": stretched}
    keep, first = None, skip
    if history_s is not None:
        keep = history_window(history_s, history.fps)
        need = max(1, int(getattr(forecaster, "min_history", 1)))
        if keep < need:
            raise ValueRangeError(
                f"history {history_s:g} s keeps {keep} frame{'s' * (keep != 1)} at {history.fps:g} fps; model "
                f"{name!r} needs at least {need} ({(need - 1) / history.fps:.3g} s)"
            )
        first = skip + max(0, history.num_frames - keep)
        repaired = {**repaired, "history_seconds": float(history_s), "start_time": round(first / history.fps, 9)}
    read = getattr(forecaster.on_skeleton(history.skeleton), "history_frames", lambda fps: None)(history.fps)
    held = history.num_frames - skip if keep is None else keep
    if read and held < read:  # the model reads what was kept (or what the file holds), padded: say so
        repaired["history_model_reads_s"] = round((read - 1) / history.fps, 6)
        if keep is None:
            repaired["history_held_s"] = round((held - 1) / history.fps, 6)
    fc = forecast_tail(forecaster, history, n, 1 if samples is None else samples, truth, keep)
    # written with the forecast (JSON, npz): the frame of the source the history starts at, glitches filled in
    return replace(fc, metadata={**fc.metadata, "history_starts_at_frame": first, **repaired})


def check_history(history: Any) -> None:
    """A `ValueRangeError` unless ``history`` is None or a positive, finite number of seconds."""
    if history is not None and (not is_number(history) or not math.isfinite(history) or history <= 0):
        raise ValueRangeError(f"history must be a positive number of seconds, got {history!r}")


def history_window(seconds: float, fps: float) -> int:
    """The frames that ``history=seconds`` keeps at ``fps``: the last observed frame and those up to ``seconds``
    before it, ``round(seconds * fps) + 1`` (a span of ``seconds``, as `Motion.duration` counts: 3 s at 120 fps is
    361 frames, as the renderings' newest 10 s are counted)."""
    return int(round(seconds * fps)) + 1


#: frames kept beyond those a model reads when `forecast_tail` hands it the newest part of a long history
TAIL_MARGIN_FRAMES = 1


def frames_read(forecaster: Any, history: Motion) -> int:
    """The newest frames of ``history`` that ``forecaster`` (bound to its skeleton: a shipped model's variant says)
    reads, at least `GLITCH_CHECK_S`, plus one: what the tracking checks judge and `forecast_tail` hands on."""
    bound = forecaster.on_skeleton(history.skeleton)
    read = getattr(bound, "history_frames", lambda fps: None)(history.fps) or 0
    return max(int(read), round(GLITCH_CHECK_S * history.fps)) + 1


def forecast_tail(
    forecaster: Any, history: Motion, frames: int, samples: int, truth: Any, observe: int | None = None
) -> Forecast:
    """``forecaster.forecast(history, ...)``, handing the model only the newest frames it reads (`frames_read`,
    plus `TAIL_MARGIN_FRAMES`) with the up axis of the whole history judged once
    (`posecast.skeletons.canonical.world_up`, as the bound model would judge it), so that a long take costs little
    more than its last seconds (a 25-minute take had been mapped onto the canonical body four times per call); the
    forecast is the same, and it keeps the whole history. ``observe``: only the newest ``observe`` frames are kept
    as the forecast's history, and the model reads no more than those (the up axis is still judged on the whole
    ``history``)."""
    keep = frames_read(forecaster, history) + TAIL_MARGIN_FRAMES
    kept = history
    if observe is not None:
        keep = min(keep, observe)
        kept = history.frames(max(0, history.num_frames - observe))
    if history.num_frames <= keep:
        return forecaster.forecast(history, frames=frames, samples=samples, ground_truth=truth)
    from posecast.skeletons.canonical import canonical_sample, up_told, world_up

    bound = forecaster.on_skeleton(history.skeleton)
    tail = history.frames(history.num_frames - keep)
    if not hasattr(bound, "reading"):  # no up axis to judge: the model reads the tail only
        fc = forecaster.forecast(tail, frames=frames, samples=samples, ground_truth=truth)
    else:
        axis = bound.reading(history.positions[None], history.fps)[0][0]  # judged over the whole history (the
        # floor, which it also gives, over the frames read only)
        rt = getattr(bound, "retarget", None)  # whether the whole history told it, for the body checks of the tail
        told = rt is None or up_told(rt, canonical_sample(rt, history.positions), axis)
        with world_up(axis, told=told):
            fc = forecaster.forecast(tail, frames=frames, samples=samples, ground_truth=truth)
    return replace(fc, history=kept)


#: metres: a history whose median joint jitter (`posecast.motion.jitter`, last 2 s) is above this is noted
#: (``metadata["history_jitter_m"]``): clean capture stays below it (corpus 2 s windows at 25 fps: 99 % under
#: 4.4 mm, all under 5.8 mm; at 120 fps under 0.7 mm); a tracker with 1 cm of noise gives about 10 mm
JITTER_NOTE_M = 0.006
#: frames per second: below this a motion's own second differences read as jitter (clean Bandai dances at 15 fps
#: exceed 6 mm), so no note is made
JITTER_NOTE_MIN_FPS = 24.0
#: seconds: the widest smoothing window `forecast` takes (wider would smooth the motion itself away)
MAX_SMOOTH_S = 1.0

#: seconds of the newest history checked for tracking glitches when the model does not say how much it reads (the
#: shipped networks read 2 s; the canonical-body models judge the floor over 2 s too)
GLITCH_CHECK_S = 2.0


def without_glitches(history: Motion, skip: int, forecaster: Any) -> tuple[Motion, dict[str, Any]]:
    """``history`` as a model should read it when a tracker lost joints (`posecast.motion.tracking_glitches`; from
    frame ``skip``, after a rest pose) among the frames it reads (the newest ``forecaster.history_frames``, at
    least `GLITCH_CHECK_S`): a joint lost and found again is filled in (`fill_glitches`, ``repaired_glitches`` in
    the metadata: joint, first and last frame); one still lost in the last frame is carried with its body from its
    last tracked frame (`carry_lost`, ``carried_joints``: joint and the frame it was lost at). When nothing is left
    to carry it (the tracker lost the person) it is a `ValueRangeError` naming the frame and the ``--at`` to use.
    Glitches before those frames are not read and stay; a body that jumped whole keeps its bones and is read as
    it is."""
    start = history.num_frames - frames_read(forecaster, history)
    parents = history.skeleton.parents
    scan = skip  # the whole motion: a loss that began long before the frames read is one too (`Bones.measure`
    # spreads its frames over a long take)
    if history.num_frames - scan < 2:  # nothing to judge (a history that is a rest pose and one frame)
        return history, {}
    short = history.num_frames - scan <= MAX_MEASURED_FRAMES  # (a long take: the window test below is cheaper)
    if short and rigid_off_origin(history.positions[scan:], parents):  # motion capture: no joint leaves its bones
        return history, {}
    bones = Bones.measure(history.positions[scan:], parents)
    window = history.positions[max(start, scan) :]
    if not bones.lost(window).any() and not bones.bone_broken(window).any():
        return history, {}  # a glitch that reaches the frames read has lost or broken frames among them
    every = tracking_glitches(history.positions, history.fps, parents, scan, bones=bones)
    glitches = [g for g in every if g.last >= start]
    if not glitches:
        return history, {}
    names = history.skeleton.joint_names
    found = [g for g in glitches if not g.trailing]
    lost = [g for g in glitches if g.trailing]
    fixed = fill_glitches(history.positions, found)
    meta: dict[str, Any] = {}
    if found:
        meta["repaired_glitches"] = [
            {"joint": names[g.joint], "first_frame": g.first, "last_frame": g.last} for g in found
        ]
    if lost:
        never = [g for g in lost if g.first <= scan]
        if never:  # lost from the first frame of the motion: no tracked offset to carry it at
            raise ValueRangeError(
                f"{named_joints(names, [g.joint for g in never])} never tracked: off its bones or at the origin from "
                f"the motion's first frame{'' if scan == 0 else f' after the rest pose ({scan})'} to the last: "
                "fill it in the data"
            )
        carried = carry_lost(fixed, parents, lost, scan, bones.home)
        if carried is None:
            first = min(g.first for g in lost)
            before = math.floor((first - 1) / history.fps * 100) / 100  # printed to 0.01 s: not past it
            what = named_joints(names, [g.joint for g in lost])
            hint = "fill the gap in the data"
            hint = (
                f"forecast from the frames up to {before:.2f} s (CLI and Python: --at / at {before:.2f}), or {hint}"
                if first - 1 > scan
                else hint
            )
            raise ValueRangeError(
                f"{what} lost by the tracker from frame {first} ({first / history.fps:.2f} s) to the last frame "
                f"(off their bones, or at the origin), and nothing left to carry {'them' if len(lost) > 1 else 'it'} "
                f"with: {hint}"
            )
        fixed = carried
        meta["carried_joints"] = [{"joint": names[g.joint], "lost_from_frame": g.first} for g in lost]
    return replace(history, positions=fixed), meta


def _without_start(motion: Motion, skip: int) -> Motion:
    """``motion`` from frame ``skip`` on, saying so in its metadata (``history_starts_at_frame``)."""
    rest = motion.frames(skip)
    return replace(rest, metadata={**rest.metadata, "history_starts_at_frame": skip})


def _rest_pose_error(skip: int, left: int, need: int, name: str) -> ValueRangeError:
    return ValueRangeError(
        f"the motion's first {skip} frame(s) are a rest pose, not motion (posecast.motion.detached_start): that "
        f"leaves {max(left, 0)} observed frame(s) and model {name!r} needs {need}; forecast from a later time "
        "(at / --at)"
    )
