"""What the command modules share: consoles, option types, output checks and writers, model loading.

Every command module (`posecast.cli.files`, `...forecast`, `...bench` ...) imports this module and
library code only, never `posecast.cli.app` nor another command module; `posecast.cli.app` builds the
Typer app from them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from posecast.errors import ModelError, PosecastError, ValueRangeError

#: columns for output that is not a terminal (a log file, ``| tail``): rich's 80 would cut wide tables into
#: ellipses; ``COLUMNS`` still wins
PIPED_WIDTH = 200


def _width(stream: Any) -> int | None:
    isatty = getattr(stream, "isatty", None)
    return None if os.environ.get("COLUMNS") or (isatty is not None and isatty()) else PIPED_WIDTH


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))

MOTION_OUTPUTS = (".npz", ".json")
RENDER_OUTPUTS = (".mp4", ".gif", ".html")

# ------------------------------------------------------------------------------- option types
SkeletonOpt = Annotated[
    str | None,
    typer.Option(
        help="Skeleton name for files that hold only numbers (.npy, or a .csv without a '# skeleton=' line, or a "
        "hand-written .json); PoseCast's own .npz/.json keep theirs."
    ),
]
FpsOpt = Annotated[
    float | None,
    typer.Option(
        help="Frame rate for files that hold only numbers (.npy, a .csv without '# fps=' or times, a hand-written "
        ".json; PoseCast's own .npz/.json keep theirs); for a BVH "
        "instead of its Frame Time (an exporter's wrong one), for an AMC clip instead of its header or name."
    ),
]
AsfOpt = Annotated[
    Path | None,
    typer.Option(
        "--asf",
        help="The ASF skeleton of an AMC clip (default: the .asf next to the clip, or in a sibling asf/ folder, "
        "named by the clip's actor prefix).",
    ),
]
UnitsOpt = Annotated[
    str | None,
    typer.Option(
        help="Length unit of a BVH, AMC or plain-number (.npy, .csv) file: m, cm, mm, inch, cmu, or metres per "
        "unit (default: BVH guessed from the rest pose's size, which reads a body 45-95 units tall as inches; AMC "
        "from its ASF; .npy/.csv metres, refused when the body spans over 10 m or under 0.2 m)."
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option(
        help="YAML/JSON joint mapping onto the canonical body (smplh-22), {canonical joint: your joint | "
        "{your joint: weight}}, for skeletons the automatic mapping gets wrong or cannot map; joints left "
        "out are mapped automatically."
    ),
]
UpOpt = Annotated[
    str | None,
    typer.Option(
        help="Which axis points up in the input's world: x, y, z, or -x, -y, -z (default: found from the "
        "motion, PoseCast's own is y; models on the canonical body and key-pose mining turn other worlds upright, "
        "and forecasts back)."
    ),
]
WeightsOpt = Annotated[
    str | None,
    typer.Option(
        help="Weights instead of the shipped ones: a training run directory (its best/ or last/ folder), a weights "
        "folder, or shipped NAME or NAME/VARIANT."
    ),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")]
ModelListOpt = Annotated[list[str] | None, typer.Option("--model", help="Model name (repeatable).")]
ModelsOpt = Annotated[str | None, typer.Option("--models", help="Several models, comma-separated, side by side.")]


# ------------------------------------------------------------------------------------ outputs
def check_outputs(
    outs: list[Path],
    allowed: tuple[str, ...],
    required: bool = True,
    inputs: tuple[Path, ...] = (),
    compressible: tuple[str, ...] = (),
) -> None:
    """Fail before any work when an output cannot be written (suffix, missing directory, a directory), would overwrite
    one of the ``inputs`` or another output, or, when ``required``, when there is none. ``compressible``: the
    suffixes of ``allowed`` that may also be written gzip-compressed (``f.bvh.gz``: those `posecast.io.save`
    writes), judged by their inner suffix (`posecast.io.registry.format_suffix`)."""
    from posecast.io.registry import format_suffix, inner_name

    if not outs and required:
        raise ValueRangeError("give at least one --out PATH")
    seen: dict[Path, Path] = {}
    for out in outs:
        where = out.resolve()
        for src in inputs:
            if where == src.resolve() or (out.exists() and src.exists() and os.path.samefile(out, src)):
                raise ValueRangeError(f"{out}: this output is the input file; give another --out path")
        if where in seen:
            raise ValueRangeError(f"{out}: given twice as --out (as {seen[where]} before)")
        seen[where] = out
        suffix = format_suffix(out)
        compressed = inner_name(out) != out.name
        if compressed and suffix in allowed and suffix not in compressible:
            also = f" ({', '.join(s + '.gz' for s in compressible)} can be)" if compressible else ""
            raise ValueRangeError(f"{out}: cannot write {suffix} gzip-compressed{also}; use {', '.join(allowed)}")
        if suffix not in allowed:
            shown = suffix + ".gz" if compressed and suffix else suffix
            raise ValueRangeError(f"{out}: cannot write {shown or 'a file without suffix'}; use {', '.join(allowed)}")
        if not out.parent.exists():
            raise ValueRangeError(f"{out}: output directory {out.parent} does not exist")
        if out.is_dir():
            raise ValueRangeError(f"{out}: is a directory; give a file path")
        check_writable(out)


def check_out_dir(folder: Path) -> None:
    """A one-line error, before any work, when ``folder`` (a run or output directory, created if missing) is an
    existing file, cannot be created or written in, or lies inside the shared data (``POSECAST_DATA``), which no
    command writes to."""
    from posecast.datasets import data_root

    if folder.exists() and not folder.is_dir():
        raise ValueRangeError(f"{folder}: is a file; give a directory")
    root = data_root(required=False)
    if root is not None and folder.resolve().is_relative_to(Path(root).resolve()):
        raise ValueRangeError(f"{folder}: inside the shared data ({root}); write somewhere else")
    parent = folder
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueRangeError(f"{folder}: {parent} is a file, so the directory cannot be made")
    try:
        check_writable(parent / "probe")
    except ValueRangeError:
        raise ValueRangeError(f"{folder}: cannot be made or written in ({parent} is not writable)") from None


def check_writable(out: Path) -> None:
    """A one-line error, before any work, when no file can be created in ``out``'s directory (read-only, a
    pseudo file system): a probe file is created there and removed."""
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".posecast-probe-"):
            pass
    except OSError as exc:
        raise ValueRangeError(f"{out}: cannot write in {out.parent} ({exc.strerror or exc})") from None


@contextmanager
def naming(file: Path) -> Iterator[None]:
    """Errors raised inside the block that name no file are about ``file``: they get its name."""
    try:
        yield
    except PosecastError as exc:
        if exc.path is not None:
            raise
        raise type(exc)(exc.problem, file) from None


def check_output_dirs(*paths: Path | None, inputs: tuple[Path, ...] | list[Path] = ()) -> None:
    """Fail before any work when the directory of an optional output (``--json``, ``--markdown``) is missing, the
    path is a directory, one of the ``inputs`` (QA: ``bench files s.bvh --json s.bvh`` wrote the result over the
    motion file) or another of these outputs (``--json x.md --markdown x.md`` kept only the second)."""
    seen: dict[Path, Path] = {}
    for p in paths:
        if p is None:
            continue
        if not p.parent.exists():
            raise ValueRangeError(f"{p}: output directory does not exist")
        if p.is_dir():
            raise ValueRangeError(f"{p}: is a directory; give a file path")
        where = p.resolve()
        for src in inputs:
            if where == Path(src).resolve() or (p.exists() and Path(src).exists() and os.path.samefile(p, src)):
                raise ValueRangeError(f"{p}: this output is an input file; give another path")
        if where in seen:
            raise ValueRangeError(f"{p}: given as two outputs (as {seen[where]} before)")
        seen[where] = p
        check_writable(p)


def write(obj: Any, out: Path, **render_options: Any) -> None:
    """Write a motion or forecast: rendered for .mp4 / .gif / .html, saved otherwise (atomically)."""
    from posecast.io import save

    if out.suffix.lower() in RENDER_OUTPUTS + (".png",):  # (.png: key-pose forecasts only, `posecast render`)
        from posecast.motion import Forecast
        from posecast.viz import render

        if isinstance(obj, Forecast) and obj.metadata.get("kind") == "keyposes":  # a saved key-pose forecast
            from posecast.keyposes.forecaster import shown_truth
            from posecast.keyposes.render import render_keypose_forecast

            meta = obj.metadata
            if render_options.get("up") is not None:
                from posecast.viz.scene import given_up_axis

                obj = dataclasses.replace(obj, metadata={**meta, "up_axis": given_up_axis(render_options["up"])})
            render_keypose_forecast(
                obj,
                out,
                truth=shown_truth(obj),
                truth_time_s=meta.get("true_keypose_time_s"),
                errors=meta.get("true_keypose_errors_m"),
            )
            return
        render(obj, out, **render_options)
        gif_note(obj, out)
    else:
        save(obj, out)


def gif_note(obj: Any, out: Path) -> None:
    """A note when a GIF or an HTML page shows a motion or forecast at a lower frame rate than usual because it holds
    at most `posecast.viz.render.GIF_MAX_FRAMES` / `posecast.viz.html.DEFAULT_MAX_FRAMES` frames (QA: the HTML cap
    applied without a word)."""
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".html"):
        return
    from posecast.viz import scene as sc
    from posecast.viz.html import DEFAULT_MAX_FRAMES
    from posecast.viz.render import DEFAULT_FPS, GIF_MAX_FRAMES

    most, what = (GIF_MAX_FRAMES, "a GIF holds") if suffix == ".gif" else (DEFAULT_MAX_FRAMES, "an HTML page shows")
    shown = sc.build_scene(obj, None, None, 1)
    if len(sc.output_frames(shown, DEFAULT_FPS[suffix])[0]) > most:
        console.print(
            f"note: {what} at most {most} frames: these {shown.duration:.0f} s play at "
            f"{(most - 1) / shown.duration:.2g} frames/s; .mp4 shows every frame",
            highlight=False,
        )


def write_text(text: str, out: Path) -> None:
    """Write ``text`` to ``out`` atomically and say so."""
    from posecast.io import atomic_output

    with atomic_output(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}", highlight=False)


def with_weights(
    result: dict[str, Any], weights: str | Path | None, models: Any = (), learned: Any = ()
) -> dict[str, Any]:
    """A bench result that says which weights were run, so that a file made with a training run is not taken for
    one of the shipped weights and a result stays traceable after weights are shipped again: ``weights`` (what
    ``--weights`` named) with ``weights_sha256`` (`posecast.models.store.fingerprint`: the first 16 hex digits of
    the SHA-256 of its ``model.safetensors``), and
    ``shipped_weights`` — ``{model: {variant: fingerprint}}`` for each of ``models`` (registry names) that ran on
    its shipped weights (every shipped variant is listed: models pick theirs by the data's skeleton), and
    ``code_version`` (the git commit, None outside a checkout). ``learned``: the one model ``--weights`` went to."""
    from posecast.errors import PosecastError
    from posecast.models import store
    from posecast.training.loop import git_commit

    out = dict(result)
    if weights is not None:
        out["weights"] = str(weights)
        try:
            out["weights_sha256"] = store.fingerprint(store.resolve(weights))
        except (PosecastError, OSError):
            pass  # the load already succeeded, so this is a folder we cannot hash (e.g. gone since)
    shipped = {n: store.shipped_fingerprints(n) for n in dict.fromkeys(models) if n not in set(learned)}
    shipped = {n: f for n, f in shipped.items() if f}
    if shipped:
        out["shipped_weights"] = shipped
    out.setdefault("code_version", git_commit())
    return out


def run_models(entries: dict[str, Any], weights: str | Path | None) -> tuple[list[str], list[str]]:
    """``(registry names run, the one --weights went to)`` for `with_weights`, from `bench_models`' entries."""
    names = [e.name for e in entries.values()]
    return names, [e.name for e in entries.values() if weights is not None and e.learned]


def write_json(d: Any, json_path: Path | None) -> None:
    """Write ``d`` as indented JSON to ``json_path`` (atomically) when one is given."""
    if json_path is not None:
        write_text(json.dumps(d, indent=1), json_path)


def check_seed(seed: int, option: str = "--seed") -> None:
    """A one-line error for a seed numpy cannot take (QA: ``--seed -1`` ended in a traceback)."""
    if not 0 <= seed < 2**32:
        raise ValueRangeError(f"{option} must be from 0 to {2**32 - 1}, got {seed}")


# ------------------------------------------------------------------------------------- inputs
def load_motion(path: Path, skeleton: str | None, fps: float | None, asf: Path | None = None, units: str | None = None):
    """A motion file (a forecast file is a one-line error; so is a video or an image: QA, `posecast keyposes CLIP.mp4`
    answered "unrecognised file format"); see `posecast.api.load_motion`."""
    from posecast.api import load_motion as api_load_motion
    from posecast.api import sniff_kind

    kind = sniff_kind(path) if Path(path).is_file() else None
    if kind in ("video", "image"):
        from posecast.errors import FormatError

        raise FormatError(
            f"holds {'a video' if kind == 'video' else 'an image'}: this command reads motion files (`posecast "
            "formats` lists them); `posecast forecast` and `posecast poses` read videos and images",
            path,
        )

    return api_load_motion(path, skeleton, fps, asf=asf, units=parse_units(units))


def parse_units(units: str | None) -> str | float | None:
    """``--units``: a unit name as it is, a number as metres per unit."""
    if units is None:
        return None
    try:
        return float(units)
    except ValueError:
        return units.strip()


def media_kind(file: Path) -> str:
    """``"video"`` or ``"image"`` by suffix; another suffix or a missing file is a one-line error."""
    from posecast.errors import FormatError
    from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    suffix = file.suffix.lower()
    if file.is_dir():
        from posecast.api import folder_error

        raise folder_error(file)
    if suffix not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        from posecast.api import sniff_kind

        kind = sniff_kind(file)
        if kind in ("video", "image"):
            raise FormatError(
                f"holds {'a video' if kind == 'video' else 'an image'} but is named {suffix or 'without a suffix'}: "
                f"{kind}s are decoded by their suffix, rename it ({', '.join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)})",
                file,
            )
        raise FormatError(
            f"not a video or image suffix {suffix or '(none)'}; use {', '.join(VIDEO_SUFFIXES + IMAGE_SUFFIXES)}", file
        )
    if not file.is_file():
        raise FormatError("no such file", file)
    return "image" if suffix in IMAGE_SUFFIXES else "video"


# -------------------------------------------------------------------------------------- models
def model_entry(name: str, weights: str | Path | None = None, kinds: tuple[str, ...] | None = None):
    """The registry entry (`posecast.models.ModelInfo`) behind ``name``.

    ``name`` is a registry name, or -- with ``weights`` -- a label of your choosing for those weights,
    whose entry is the one their ``config.json`` names (its ``name``, else its network family).
    ``kinds``: the model kinds the command takes (others are a one-line error).
    """
    from posecast.models import available, info, store

    known = {m.name for m in available()}
    if name not in known and weights is None and kinds is not None:  # list only the models this command takes
        takes = sorted(m.name for m in available() if m.kind in kinds)
        raise ModelError(f"unknown model {name!r}; {' or '.join(kinds)} models: {', '.join(takes)}")
    if name in known or weights is None:
        entry = info(name)  # an unknown name without weights: "unknown model ..." with the list
    else:
        folder = store.resolve(weights)
        meta = store.read_config(folder)
        cfg = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        found = next((n for n in (meta.get("name"), cfg.get("net")) if isinstance(n, str) and n in known), None)
        if found is None:
            raise ModelError(
                f"unknown model {name!r}, and the weights name no registered model; available: {', '.join(known)}",
                folder,
            )
        entry = info(found)
    if kinds is not None and entry.kind not in kinds:
        raise ModelError(f"model {name!r} is a {entry.kind} model; this command takes {' or '.join(kinds)} models")
    return entry


def load_model(name: str, weights: str | Path | None = None, kinds: tuple[str, ...] | None = None):
    """``(registry entry, model)``: ``name`` built through `posecast.models.get`, with ``weights`` (a run
    directory, a weights folder or shipped ``NAME[/VARIANT]``) instead of its shipped weights when given."""
    from posecast.models import get

    entry = model_entry(name, weights, kinds)
    return entry, get(entry.name, weights=weights)


def bench_models(
    model: list[str] | None,
    models: str | None,
    weights: str | None,
    json_path: Path | None,
    kinds: tuple[str, ...] = ("motion",),
    inputs: tuple[Path, ...] | list[Path] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({name: model}, {name: registry entry})`` for the bench commands that compare several models.

    Names come from ``--model`` (repeatable) and ``--models a,b,c`` (default: zero-velocity);
    ``--weights`` goes to the one name that is not a baseline (a registry name, or a label of your
    choosing for those weights).
    """
    from posecast.models import available, get, info

    names = list(dict.fromkeys([*(model or []), *(n.strip() for n in (models or "").split(",") if n.strip())]))
    if not names and (models is not None or model):  # QA: --models "" ran the default model without a word
        raise ValueRangeError(f"--models {models!r} names no model")
    names = names or ["zero-velocity"]
    check_output_dirs(json_path, inputs=inputs)
    known = {m.name: m for m in available()}
    learned = [n for n in names if n not in known or known[n].learned]
    if weights is not None and len(learned) != 1:
        raise ValueRangeError(
            f"--weights goes with exactly one learned model, got {len(learned)} ({', '.join(learned) or 'none'})"
        )
    for n in names:
        if n not in known and weights is None:
            info(n)  # "unknown model ..." with the list
    entries = {n: model_entry(n, weights if n in learned else None, kinds) for n in names}  # all checked first
    forecasters = {n: get(entries[n].name, weights=weights if n in learned else None) for n in names}
    return forecasters, entries


def check_media(file: Path, at: float | None) -> None:
    """A video or image that exists; ``--at`` inside the clip (and not on an image) -- before the slow work."""
    if media_kind(file) == "image":
        if at is not None:
            raise ValueRangeError("--at applies to videos, not to an image", file)
        return
    if at is not None:
        from posecast.video.decode import probe_video

        duration = probe_video(file).duration
        # the time of its last frame from its first, not the clip's length (which adds the last frame's own time)
        if not 0 < at:  # (0 s is the first frame: inside the clip, but no past to read)
            raise ValueRangeError(
                f"--at {at:g} s: give a time after the first frame (0 s), at most the last frame's ({duration:.2f} s)",
                file,
            )
        if at > duration:
            raise ValueRangeError(
                f"--at {at:g} s is outside the clip (first frame at 0 s, last frame at {duration:.2f} s)", file
            )


LOWER_BODY_NOTE = 0.5
"""`print_track_notes` says the lower body is a guess when it is out of view in more than this share of the frames with
a person (`posecast.video.track.PoseTrack.lower_body_out`)."""


SIDEWAYS_NOTE = 0.8
"""`print_track_notes` asks whether a clip was filmed turned when the trunk lies sideways (`PoseTrack.sideways`) in
more than this share of the frames with a person."""


def print_track_notes(track: Any, file: Path) -> None:
    """What a user should know about an extracted track: a file that decoded short, a body going out of the frame, a
    lower body out of view, a body lying sideways in the image, the person changing."""
    for key in ("note", "timestamps_note"):
        if track.metadata.get(key):
            console.print(f"note: {file.name}: {track.metadata[key]}", highlight=False)
    left = track.metadata.get("left_out_s")
    if left:
        console.print(
            f"note: {file.name}: the person goes out through the edge of the frame at {left[0]:.2f} s: "
            f"{len(left)} detection{'s' * (len(left) != 1)} of a body mostly out of the frame left out (counted as "
            "not detected, not as another person)",
            highlight=False,
        )
    out = track.lower_body_out()
    if out > LOWER_BODY_NOTE:
        console.print(
            f"note: {file.name}: the hips, knees and ankles are mostly out of the frame or unseen in {out:.0%} of the "
            "frames with a person: the lower body's 3D pose and its forecast are guesses",
            highlight=False,
        )
    sideways, upside_down = track.sideways(), track.upside_down()
    if upside_down > SIDEWAYS_NOTE:  # (QA: an upside-down clip was told its trunk "lies sideways")
        console.print(
            f"note: {file.name}: the person is upside down in the image in {upside_down:.0%} of the frames with a "
            "person: a clip filmed or stored turned 180 degrees (turn it upright first; a rotation tag in the file is "
            "honoured), or a handstand",
            highlight=False,
        )
    elif sideways > SIDEWAYS_NOTE:
        console.print(
            f"note: {file.name}: the person's trunk lies sideways in the image in {sideways:.0%} of the frames "
            "with a person: lying down, or a clip filmed turned — if so, turn it upright first (a rotation tag in the "
            "file is honoured)",
            highlight=False,
        )
    changes = track.metadata.get("person_changes_s")
    if changes:
        at = ", ".join(f"{c:.2f}" for c in changes)
        console.print(
            f"note: the person tracked in {file.name} changes at {at} s (another person, or a cut): a forecast "
            "reads the frames after the last change",
            highlight=False,
        )
