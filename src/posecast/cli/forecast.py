"""``posecast forecast FILE``: `posecast.forecast` plus the writers.

The model (``--model``, default: the registry's default for the kind of input) decides the outputs by
its registry kind:

* ``motion`` models: the `Forecast` as .npz / .json, or rendered as .mp4 / .gif / .html; for inputs with
  a hierarchy (a skeleton with rest offsets: BVH, ASF/AMC), .bvh = the observed motion followed by
  the forecast's first hypothesis (sample 0) on the input's own skeleton (`Forecast.to_motion`: joint
  rotations recovered from the forecast positions, bone lengths and joint names of the input);
* ``video`` models (a video or image in): .mp4 = the clip with the observed and forecast skeleton drawn
  on it plus a 3D view (from ``metadata["track"]`` and ``metadata["video"]``); .npz / .json / .html /
  .gif = the camera-aligned 3D forecast;
* ``keypose`` models: K hypotheses of the next key pose with probabilities, as a table and .json /
  .npz documents (``probabilities (K,)`` next to the hypotheses), drawn side by side, most probable
  first and labelled with their probabilities, next to the observed window (.html / .mp4 / .gif /
  .png, `posecast.keyposes.render.render_keypose_forecast`), and for inputs with a hierarchy as .bvh
  on the input's own skeleton (the observed window, then one frame per hypothesis, most probable first:
  `posecast.keyposes.forecaster.hypotheses_motion`). Networks on the canonical body forecast on any
  skeleton it maps (``--mapping`` as for motion models). With ``--at`` the true next key pose (the
  first key pose mined from the whole motion after the last observed frame) is scored against them.

Outputs are checked before any work and written atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from posecast.cli.common import (
    MOTION_OUTPUTS,
    RENDER_OUTPUTS,
    AsfOpt,
    FpsOpt,
    MappingOpt,
    SkeletonOpt,
    UnitsOpt,
    UpOpt,
    WeightsOpt,
    check_media,
    check_outputs,
    console,
    load_motion,
    naming,
    print_track_notes,
    write,
)
from posecast.errors import ValueRangeError
from posecast.io.registry import format_suffix

#: registry kind -> (outputs it can write, whether at least one --out is required)
OUTPUTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "motion": (MOTION_OUTPUTS + (".bvh",) + RENDER_OUTPUTS, True),
    "video": ((".mp4", ".npz", ".json", ".html", ".gif"), True),
    "keypose": ((".json", ".npz", ".bvh", ".html", ".mp4", ".gif", ".png"), False),
}
#: registry kind -> the outputs that may also be written gzip-compressed (``f.bvh.gz``): those `posecast.io.save`
#: writes, which compresses by the inner suffix (the key-pose documents and the renderings are written otherwise)
COMPRESSIBLE: dict[str, tuple[str, ...]] = {
    "motion": MOTION_OUTPUTS + (".bvh",),
    "video": (".npz", ".json"),
    "keypose": (".bvh",),
}


def forecast(
    file: Annotated[Path, typer.Argument(help="The observed motion (or a video or image of a person).")],
    model: Annotated[
        str | None,
        typer.Option(
            help="Model name (see `posecast models`); default: the registry's default model for the kind of input "
            "(motion, video or image), marked in `posecast models`."
        ),
    ] = None,
    seconds: Annotated[float | None, typer.Option("--horizon", help="Seconds to forecast (default 1).")] = None,
    frames: Annotated[
        int | None, typer.Option(help="Frames to forecast (instead of --horizon; video models: at their rate).")
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option(
            help="Hypotheses to draw (default: 1; key-pose models: 10; at most 1000), for models whose samples differ "
            "(charpose, nearest-neighbour: `posecast models --json`, distinct_samples)."
        ),
    ] = None,
    at: Annotated[
        float | None,
        typer.Option(
            help="Forecast from this time (s); later frames become ground truth (key-pose models observe up to the "
            "last frame at or before it)."
        ),
    ] = None,
    out: Annotated[
        list[Path] | None,
        typer.Option(
            help="Output (repeatable): .npz .json .mp4 .gif .html, and .bvh for inputs with a skeleton (observed + "
            "forecast sample 0 on the input's own skeleton); .npz.gz .json.gz .bvh.gz write them gzip-compressed; "
            "video models: .mp4 (the clip with the skeletons drawn) .npz .json .html .gif (.npz.gz .json.gz); "
            "key-pose models: .json .npz .html .mp4 .gif .png (the hypotheses side by side; .png only for them) and "
            ".bvh (observed, then one frame per hypothesis, at the network's frame rate; .bvh.gz)."
        ),
    ] = None,
    train_data: Annotated[Path | None, typer.Option(help="Training motions for models that need them.")] = None,
    weights: WeightsOpt = None,
    skeleton: SkeletonOpt = None,
    fps: FpsOpt = None,
    asf: AsfOpt = None,
    units: UnitsOpt = None,
    mapping: MappingOpt = None,
    up: UpOpt = None,
    smooth: Annotated[
        float | None,
        typer.Option(
            help="Seconds (up to 1): smooth a tracker's jitter out of the history before the model reads it (e.g. "
            "0.2; a quadratic Savitzky-Golay fit). Clean motion capture needs none."
        ),
    ] = None,
    history: Annotated[
        float | None,
        typer.Option(
            "--history",
            help="Seconds: observe only the last SECONDS of the motion before the forecast point (before --at, else "
            "the end), so the forecast's history and every output (.npz .json .bvh, renders) hold only those; a "
            "model that reads more pads them as it does a short file. Motion files and motion models only.",
        ),
    ] = None,
) -> None:
    """Forecast the future of a motion (or of the person in a video or image) and write it."""
    import posecast
    from posecast.api import check_history, check_samples, input_kind, resolve_model
    from posecast.models import info

    outs = out or []
    kind = input_kind(file)
    check_history(history)
    if history is not None and kind != "motion":
        raise ValueRangeError(
            f"--history applies to motion files, not to a {kind} (the video models read their own past)"
        )
    name = resolve_model(kind, model)
    entry = info(name)
    if history is not None and entry.kind != "motion":
        raise ValueRangeError(f"--history applies to motion models; {name!r} reads its own 10-frame window")
    allowed, required = OUTPUTS[entry.kind]
    check_outputs(outs, allowed, required=required, inputs=(file,), compressible=COMPRESSIBLE[entry.kind])
    check_horizon(seconds, frames, samples)
    check_samples(entry, samples)  # before any work
    if kind != "motion":
        if up is not None:
            raise ValueRangeError("--up applies to motion files, not to videos or images (the image's own up is used)")
        if units is not None:
            raise ValueRangeError("--units applies to motion files, not to videos or images")
        if smooth is not None:
            raise ValueRangeError("--smooth applies to motion files (the video models smooth their own keypoints)")
        ignored = {"--fps": fps, "--skeleton": skeleton, "--asf": asf, "--mapping": mapping, "--train-data": train_data}
        given = [k for k, v in ignored.items() if v is not None]
        if given:  # (QA: --fps, --mapping and --train-data were taken for a video and not used)
            verb = "apply" if len(given) > 1 else "applies"
            raise ValueRangeError(f"{', '.join(given)} {verb} to motion files, not to videos or images")
        check_media(file, at)
        with naming(file):
            fc = posecast.forecast(
                file, model=name, seconds=seconds, frames=frames, samples=samples, at=at, weights=weights
            )
        write_video_forecast(fc, file, outs, seconds)
        return
    joint_map = None
    if mapping is not None:
        from posecast.skeletons.canonical import load_mapping_file

        joint_map = load_mapping_file(mapping)
    motion = load_motion(file, skeleton, fps, asf, units)
    check_bvh_outputs(outs, motion, file)
    from posecast.skeletons.canonical import mapping_file_named

    # "needs at least 2 observed frames", "cannot be mapped": about this input; a mapping entry: about the mapping
    with naming(file), mapping_file_named(mapping):
        fc = posecast.forecast(
            motion,
            model=name,
            seconds=seconds,
            frames=frames,
            samples=samples,
            at=at,
            weights=weights,
            fit_data=train_data,
            mapping=joint_map,
            up=up,
            smooth=smooth,
            history=history,
        )
    if (note := body_note(fc.metadata)) is not None:
        console.print(f"note: {file.name}: {note}", highlight=False)
    if entry.kind == "keypose":
        write_keypose_forecast(fc, file, motion, at, outs)
        return
    for note in tracking_notes(fc.metadata):
        console.print(f"note: {file.name}: {note}", highlight=False)
    if (note := horizon_note(seconds, fc.num_frames, fc.fps)) is not None:
        console.print(f"note: {note}", highlight=False)
    if (note := history_note(history, fc)) is not None:
        console.print(f"note: {file.name}: {note}", highlight=False)
    as_bvh = fc.to_motion(sample=0) if any(format_suffix(o) == ".bvh" for o in outs) else None
    for o in outs:
        if as_bvh is not None and format_suffix(o) == ".bvh":
            from posecast.io.bvh import recording_end_sites

            with recording_end_sites() as written:  # the End Sites the writer made (no second forward kinematics)
                write(as_bvh, o, up=up)
            console.print(f"wrote {o}", highlight=False)
            for note in (departure_note(as_bvh.metadata), end_sites_note(written[-1] if written else ())):
                if note:
                    console.print(f"note: {o.name}: {note}", highlight=False)
        else:
            write(fc, o, up=up)
            console.print(f"wrote {o}", highlight=False)


def history_note(history: float | None, fc: Any) -> str | None:
    """One line when ``--history SECONDS`` kept less than the model reads (``metadata["history_model_reads_s"]``: it
    reads what was kept, as it does a short file), or when the motion before the forecast point held less."""
    reads = fc.metadata.get("history_model_reads_s")
    held = fc.metadata.get("history_held_s")
    if history is None and reads is not None and held is not None and fc.history is not None:  # a short file
        frames = round(held * fc.history.fps) + 1
        return (
            f"the motion before the forecast point holds {frames} frame{'s' * (frames != 1)} ({held:.3g} s), less than "
            f"the {reads:.3g} s {fc.model} reads: it reads them after copies of the first frame, as it was trained "
            "for short histories, so a history this short reads as a person who stood still until then"
        )
    if history is None or fc.history is None:
        return None
    if fc.history.duration < history - 0.5 / fc.history.fps:
        return f"--history {history:g} s: the motion before the forecast point holds only {fc.history.duration:.3g} s"
    if reads is not None:
        return (
            f"--history {history:g} s is less than the {reads:.3g} s {fc.model} reads: it reads the {history:g} s "
            "kept, as it does a short file"
        )
    return None


def end_sites_note(ends: Sequence[str]) -> str | None:
    """One line naming the input's ``*_end`` joints (an ASF/AMC bone's end) that a BVH holds as End Sites, which a
    plain load of it leaves out (``ends``: as `posecast.io.bvh.written_as_end_sites` names them, or as
    `posecast.io.bvh.recording_end_sites` records them while writing)."""
    if not ends:
        return None
    return (
        f"{_first_few(list(ends))} ({len(ends)} bone ends) are End Sites, as BVH writes the ends of bones: "
        "posecast.load(..., end_sites=True) reads them back as joints"
    )


#: `horizon_note`: a horizon the frames change by more than this share of it gets a note
HORIZON_NOTE_SHARE = 0.1


def horizon_note(seconds: float | None, frames: int, fps: float) -> str | None:
    """One line when ``--horizon SECONDS`` became a number of frames (`posecast.models.base.resolve_frames`: the
    nearest, Python's ``round``, so a tie goes to the even number; at least one) whose duration is noticeably not
    what was asked: more than half a frame off (a horizon under half a frame, raised to one) or more than
    `HORIZON_NOTE_SHARE` of it (a few frames at a low rate: 0.1 s at 25 fps, 2.5 frames, is 2 frames, 0.08 s). A
    second at any rate, or 0.5 s at 25 fps (12.5 frames: 12, 0.48 s), gets none."""
    if seconds is None:
        return None
    got = frames / fps
    off = abs(got - seconds)
    if off <= 0.5 / fps + 1e-9 and off <= HORIZON_NOTE_SHARE * seconds:
        return None
    return (
        f"--horizon {seconds:g} s rounded to {frames} frame{'s' * (frames != 1)} = {got:.4g} s at {fps:g} fps "
        "(forecasts come in whole frames)"
    )


def departure_note(meta: dict[str, Any]) -> str | None:
    """One line when a BVH written from a forecast (`Forecast.to_motion`'s ``departure_m`` on the forecast frames,
    ``departure_observed_m`` on the observed ones) puts joints further from the positions than
    `posecast.motion.BVH_DEPARTURE_NOTE_M`: where and by how much, and the cause only where one is measured (a joint
    whose distance from its parent varies in the observed frames, which a BVH bone of one length cannot follow; the
    forecast changing bone lengths by more than that, while the BVH keeps the rig's)."""
    from posecast.motion import BVH_DEPARTURE_NOTE_M

    worst = meta.get("departure_m")
    observed = meta.get("departure_observed_m") or 0.0
    if worst is None or max(worst, observed) <= BVH_DEPARTURE_NOTE_M:
        return None
    where = [
        f"up to {100 * worst:.0f} cm (mean {100 * meta['departure_mean_m']:.1f} cm) from the forecast's positions in "
        "the forecast frames"
    ]
    if observed > BVH_DEPARTURE_NOTE_M:
        mean = 100 * meta.get("departure_observed_mean_m", 0.0)
        where.append(f"up to {100 * observed:.0f} cm (mean {mean:.1f} cm) from the input's in the observed frames")
    causes = []
    if observed > BVH_DEPARTURE_NOTE_M and meta.get("observed_bone_range_joint"):
        causes.append(
            f"the distance from {meta['observed_bone_range_parent']} to {meta['observed_bone_range_joint']} varies "
            f"by {100 * meta['observed_bone_range_m']:.0f} cm in the observed frames, and a BVH joint keeps one "
            "offset from its parent"
        )
    if (meta.get("bone_change_m") or 0.0) > BVH_DEPARTURE_NOTE_M:
        causes.append(
            f"the forecast changes bone lengths by up to {100 * meta['bone_change_m']:.0f} cm "
            f"({meta['bone_change_joint']}), and a BVH keeps the rig's"
        )
    because = "".join(f"; {c}" for c in causes)
    return f"the BVH's joints are {' and '.join(where)}{because}; .npz / .json hold the model's positions"


def body_note(meta: dict[str, Any]) -> str | None:
    """One line when the input's rig is not built like a person (``metadata["trunk_to_legs_deg"]``: a four-legged
    rig, mapped onto the canonical body as if it were one), its left and right look swapped
    (``metadata["toes_forward_cos"]``), swapped in the legs or the arms only (``["hips_shoulders_cos"]``) or from a
    limb joint down (``["crossed_at"]``), it lies while the up axis was not told (``["trunk_up_cos"]``), or it is of
    no person's size (``["body_length_m"]``)."""
    notes = []
    if meta.get("trunk_to_legs_deg") is not None:
        notes.append(
            f"the body holds its trunk at {meta['trunk_to_legs_deg']:g} degrees to its legs, at rest and in motion (a "
            "person standing or walking: about 180): it may not be a human body, and the models forecast people"
        )
    if meta.get("toes_forward_cos") is not None:
        notes.append(
            "the toes point backwards from the way the body faces by its left and right (median cosine "
            f"{meta['toes_forward_cos']:g}; a person: about 1): are left and right swapped in the rig's joint names or "
            "in the mapping? The forecast reads them as given (metadata 'mapping' shows the pairing)"
        )
    if meta.get("hips_shoulders_cos") is not None:
        notes.append(
            f"the hips and the shoulders face opposite ways (median cosine {meta['hips_shoulders_cos']:g}; a person: "
            f"about 1): are left and right swapped in the {meta.get('swapped_limbs', 'legs or arms')} only, in the "
            "rig's joint names or in the mapping? The forecast reads them as given (metadata 'mapping' shows the "
            "pairing)"
        )
    if meta.get("crossed_at"):
        notes.append(
            f"the bones into the {' and '.join(meta['crossed_at'])} change length over the history while the bones "
            "to the other side's hold theirs: are left and right swapped from there down, in the rig's joint names or "
            "in the mapping? The forecast reads them as given (metadata 'mapping' shows the pairing)"
        )
    if meta.get("trunk_up_cos") is not None:
        notes.append(
            f"the body lies along the floor through the history as read (trunk to up: mean cosine "
            f"{meta['trunk_up_cos']:g}), and which way is up could not be told from the motion (a body bending, "
            f"turning over or jumping): taken as {meta.get('up_axis', '+y')}. If the person stands along another axis "
            "in the file, give it (--up, or up: in a mapping)"
        )
    if meta.get("body_length_m") is not None:
        notes.append(
            f"the body measures {meta['body_length_m']:g} m from ankle to head (a person: about 1.5): if it is a "
            "person written in other units, give them (--units), else the models forecast it as a person of that size"
        )
    return "; ".join(notes) or None


def tracking_notes(meta: dict[str, Any]) -> list[str]:
    """What a forecast's metadata says about the tracking of its history (guide, "Imperfect tracking"), one line
    each: jitter, stretched bones, joints carried, glitches filled in."""
    notes = []
    if meta.get("history_jitter_m"):
        notes.append(
            f"the history jitters by about {1000 * meta['history_jitter_m']:.0f} mm (a tracker's noise?), which the "
            "model reads as motion: --smooth 0.2 smooths it out first"
        )
    notes += [
        f"the bone into {b['joint']} is {100 * b['length_m']:.0f} cm in the last frame, {100 * b['usual_m']:.0f} cm "
        "before (a joint the tracker froze?): the forecast keeps it so"
        for b in (meta.get("stretched_bones") or [])[:4]
    ]
    carried = [f"{c['joint']} (from frame {c['lost_from_frame']})" for c in meta.get("carried_joints") or []]
    if carried:
        notes.append(f"lost by the tracker at the end, carried with the body from their last tracked frame: "
                     f"{_first_few(carried)}")  # fmt: skip
    filled = [f"{g['joint']} frames {g['first_frame']}-{g['last_frame']}" for g in meta.get("repaired_glitches") or []]
    if filled:
        notes.append(f"{len(filled)} tracking glitch(es) filled in among the frames the model reads (a joint the "
                     f"tracker lost, off its bones, and found again): {_first_few(filled)}")  # fmt: skip
    return notes


def _first_few(items: list[str], most: int = 4) -> str:
    """``items`` for a note: the first ``most`` joined, then ``...`` when there are more."""
    return ", ".join(items[:most]) + (" ..." if len(items) > most else "")


def check_bvh_outputs(outs: list[Path], motion: Any, file: Path) -> None:
    """A one-line error, before the forecast, for a .bvh output of an input without a hierarchy or with a joint name
    a BVH file cannot hold (`posecast.io.bvh.bvh_name_problem`: the writer would refuse it after the forecast, with
    the outputs before it written)."""
    from posecast.io.bvh import bvh_name_problem

    for o in outs:
        if format_suffix(o) != ".bvh":
            continue
        if motion.skeleton.offsets is None:
            raise ValueRangeError(
                f"cannot write BVH: the input {file.name} has no hierarchy (skeleton {motion.skeleton.name!r} has "
                "no rest offsets); .bvh needs an input with a skeleton (BVH, ASF/AMC), or use .npz / .json",
                o,
            )
        problem = next((q for q in map(bvh_name_problem, motion.skeleton.joint_names) if q is not None), None)
        if problem is not None:
            raise ValueRangeError(f"cannot write BVH: {problem} (in {file.name}); use .npz / .json", o)


def check_horizon(seconds: float | None, frames: int | None, samples: int | None) -> None:
    """One-line errors for impossible --horizon SECONDS / --frames / --samples, before any work."""
    if seconds is not None and frames is not None:
        raise ValueRangeError("give exactly one of --horizon and --frames, not both")
    if seconds is not None and not (np.isfinite(seconds) and seconds > 0):
        raise ValueRangeError(f"impossible horizon {seconds!r} s (must be a positive number of seconds)")
    if frames is not None and frames < 1:
        raise ValueRangeError(f"impossible horizon {frames!r} frames (must be at least 1)")
    from posecast.api import MAX_SAMPLES

    if samples is not None and not 1 <= samples <= MAX_SAMPLES:
        raise ValueRangeError(f"--samples must be 1 to {MAX_SAMPLES}, got {samples}")


# ------------------------------------------------------------------------------------- video
#: seconds: a clip whose first (last) detection is this long after its start (before its end) gets a note (the
#: person entered late, or left)
UNSEEN_TAIL_S = 0.25


def at_hint(seconds: float) -> float:
    """An ``--at`` that keeps the frame at ``seconds`` (from the first frame): rounded up to 0.01 s, at least 0.01."""
    return max(math.ceil(round(seconds * 100, 6)) / 100, 0.01)


SPARSE_GAP_S = 0.25
"""`coverage_notes` says a clip was seen sparsely when two sightings of the person lie more than this apart (a clip of
4 fps or less, or a stretch without a detection) ..."""
SPARSE_SHARE = 0.8
"""... or when fewer than this share of the frames between the first and the last sighting show the person."""


def coverage_notes(coverage: dict[str, Any], name: str, end_s: float, hallucinated_s: float | None = None) -> list[str]:
    """Notes on a clip whose person appears late, is seen sparsely, or is gone before its end (``end_s``: its last
    frame, seconds from the first): what the written history and the forecast are made of there, and the ``--at``
    that forecasts from the last sighting. ``hallucinated_s``: a model (hmmr) that read the first detection as a
    single frame and made up that many seconds of past before it, where the history written starts."""
    notes = []
    head, tail = coverage["undetected_head_s"], coverage["undetected_tail_s"]
    if head >= UNSEEN_TAIL_S:
        first = coverage["first_detection_s"]
        if hallucinated_s is None:
            read = "the model reads the clip from there, and the history written starts there (start_time)"
        else:  # hmmr on a person seen in the last frame only
            read = (
                f"the model reads that frame alone and hallucinates {hallucinated_s:.2f} s of past before it, where "
                "the history written starts (start_time; history_detected: its last frame only)"
            )
        notes.append(f"no person in the first {head:.2f} s of {name} (first seen at {first:.2f} s): {read}")
    t = np.asarray(coverage["frame_times_s"], dtype=np.float64)
    seen = t[np.asarray(coverage["frame_detected"], dtype=bool)]
    if len(seen) > 1:  # between the first and the last sighting: holes, or frames far apart
        inside = (t >= seen[0]) & (t <= seen[-1])
        share, gap = len(seen) / int(inside.sum()), float(np.diff(seen).max())
        if gap > SPARSE_GAP_S or share < SPARSE_SHARE:
            notes.append(
                f"the person was seen in {share:.0%} of the frames of {name} between the first and the last sighting, "
                f"at most {gap:.2f} s apart: the model reads keypoints bridged over those gaps, not observed motion"
            )
    if tail >= UNSEEN_TAIL_S:
        last = coverage["last_detection_s"]
        notes.append(
            f"no person was detected in the last {tail:.2f} s of {name} (last seen at {last:.2f} s): the forecast "
            f"starts at the clip's end ({end_s:.2f} s), after that last pose held for {tail:.2f} s; to forecast "
            f"from the last sighting use --at {at_hint(last):.2f}"
        )
    return notes


def write_video_forecast(fc: Any, file: Path, outs: list[Path], seconds: float | None = None) -> None:
    """The overlay video from ``metadata["track"]`` / ``["video"]`` (.mp4) and the 3D forecast (others), with
    `PoseTrack.coverage` in the metadata as ``detection`` (``seconds``: the ``--horizon`` asked, for `horizon_note`)."""
    track, video = fc.metadata["track"], fc.metadata["video"]
    console.print(
        f"{file.name}: observed {track.num_frames} frame{'s' * (track.num_frames != 1)} ({track.duration:.2f} s), "
        f"forecast {fc.num_frames} frames ({fc.horizon:.2f} s) with {fc.model}",
        highlight=False,
    )
    if (note := horizon_note(seconds, fc.num_frames, fc.fps)) is not None:
        console.print(f"note: {note}", highlight=False)
    coverage = track.coverage()
    for note in coverage_notes(coverage, file.name, track.duration, video.metadata.get("hallucinated_s")):
        console.print(f"note: {note}", highlight=False)
    from posecast.video import VIDEO_SUFFIXES
    from posecast.video.models.base import SHORT_PAST_S

    observed = fc.metadata.get("observed_s")
    if track.num_frames == 1 and file.suffix.lower() in VIDEO_SUFFIXES:
        console.print(f"note: {file.name} holds a single frame: forecast as an image", highlight=False)
    elif track.num_frames > 1 and observed is not None and observed < SHORT_PAST_S:
        console.print(
            f"note: {file.name}: the person was observed for {observed:.2f} s only; the video models learned from "
            "1-2 s of past, so this forecast rests on little of the person's motion",
            highlight=False,
        )
    print_track_notes(track, file)
    for o in outs:
        if format_suffix(o) == ".mp4":
            from posecast.video.overlay import render_forecast_video

            render_forecast_video(o, file, track, video)
        else:
            write(fc, o)  # (the track as its coverage, `posecast.io.registry.file_ready`)
        console.print(f"wrote {o}", highlight=False)


# ----------------------------------------------------------------------------------- key pose
def keypose_document(fc: Any, file: Path, at: float | None, truth: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON document of a key-pose forecast: hypotheses on the input's skeleton in world coordinates
    (placed at the anchor: the network's root in the last observed frame, then moved along the up axis to stand
    on the observed floor, ``grounded_m``) and ``root_relative`` (minus the anchor, before that move; the
    predicted root -- drawn from its heatmap like every joint -- lies near, not exactly at, the origin),
    ``probabilities`` (K,), skeleton, the observed window, the mapping onto the
    canonical body when the network works there, and the true key pose when known."""
    from posecast.keyposes.forecaster import root_weights  # (key-pose code pulls in scipy.signal: not at startup)

    window = fc.history.positions
    world = fc.samples[:, 0]
    meta = fc.metadata
    rel = np.asarray(meta["root_relative"], dtype=np.float64)
    skel = fc.skeleton
    mapped = meta.get("canonical_body") is not None
    return {
        "file": str(file),
        "model": fc.model,
        "weights": meta.get("weights"),
        "skeleton": skel.name,
        "joint_names": list(skel.joint_names),
        "parents": list(skel.parents),
        "left_right": [list(pair) for pair in skel.left_right],
        "network_skeleton": meta.get("network_skeleton"),
        "canonical_body": meta.get("canonical_body"),
        "mapping": meta.get("mapping") if mapped else None,
        "static_joints": list(meta.get("static_joints") or []),
        "fps": fc.fps,
        "observed_frames": fc.history.num_frames,
        "last_observed_time_s": meta["last_observed_time_s"],
        "at_s": at,
        "refined": bool(meta.get("refined")),
        "temperature": meta.get("temperature"),
        "anchor": np.round(np.asarray(meta.get("anchor", window[-1, 0]), dtype=np.float64), 6).tolist(),
        "root_weights": np.round(root_weights(fc), 6).tolist(),
        "root_relative_to": "anchor: the network's root (the canonical pelvis through the canonical body) in the "
        "last observed frame, = root_weights @ observed[-1]; positions = root_relative + anchor + grounded_m x "
        "up_vector (each hypothesis moved along the up axis to stand on the observed floor)",
        "grounded_m": [round(float(g), 6) for g in np.atleast_1d(meta.get("grounded_m", np.zeros(len(fc.samples))))],
        "floor_m": None if meta.get("floor_m") is None else round(float(meta["floor_m"]), 6),
        "up_vector": None if meta.get("up_vector") is None else np.asarray(meta["up_vector"], dtype=float).tolist(),
        "probabilities": [float(p) for p in fc.probabilities],
        "observed": np.round(window, 6).tolist(),
        "hypotheses": [
            {
                "probability": float(p),
                # a frame of the trajectory forecaster's rollout (timing proposals) or a heatmap draw
                "source": None
                if meta.get("from_rollout") is None
                else ("rollout" if meta["from_rollout"][i] else "heatmap"),
                "positions": np.round(w, 6).tolist(),
                "root_relative": np.round(r, 6).tolist(),
                **({"mpjpe_m": float(truth["mpjpe_m"][i])} if truth else {}),
            }
            for i, (p, w, r) in enumerate(zip(fc.probabilities, world, rel, strict=True))
        ],
        # with --at and no key pose after it: what was searched (mined on, criterion), said rather than left out
        "true_keypose_search": meta.get("true_keypose_search") if truth is None else None,
        "true_keypose": None
        if truth is None
        else {
            "frame": truth["frame"],
            "time_s": truth["time_s"],
            "seconds_after_last_observed": truth["seconds_after_last_observed"],
            "positions": np.round(truth["positions"], 6).tolist(),
            "root_relative": np.round(truth["root_relative"], 6).tolist(),
            "best_of_k_mpjpe_m": float(truth["mpjpe_m"].min()),
            "mined_on": truth.get("mined_on"),
            "mpjpe_scored_on": truth.get("scored_on"),
        },
    }


def write_keypose_forecast(fc: Any, file: Path, motion: Any, at: float | None, outs: list[Path]) -> dict[str, Any]:
    """Print the hypotheses table and write ``outs``: .json (`keypose_document`), .npz (its arrays), .bvh
    (observed window + one frame per hypothesis) and pictures (.html / .mp4 / .gif / .png: the
    hypotheses side by side next to the observed window). Returns the JSON document."""
    from rich.table import Table

    from posecast.keyposes.forecaster import stored_true_keypose

    truth = stored_true_keypose(fc) if at is not None else None  # found by posecast.forecast (ground_truth, scores)
    doc = keypose_document(fc, file, at, truth)
    k = fc.num_samples
    t_last = doc["last_observed_time_s"]
    via = f", via {doc['canonical_body']}" if doc["canonical_body"] else ""
    what = "key-pose hypothesis" if k == 1 else "key-pose hypotheses"
    console.print(
        f"{file.name}: {k} {what} after t = {t_last:.2f} s ({fc.model} on {fc.skeleton.name}{via})",
        highlight=False,
    )
    table = Table()
    sourced = any(h["source"] is not None for h in doc["hypotheses"])
    for col in ("#", "probability", *(["from"] if sourced else []), *(["MPJPE to true key pose (m)"] if truth else [])):
        table.add_column(col, justify="right")
    for i, h in enumerate(doc["hypotheses"][:TABLE_ROWS]):
        table.add_row(
            str(i + 1),
            probability_cell(h["probability"]),
            *([h["source"] or "-"] if sourced else []),
            *([f"{h['mpjpe_m']:.3f}"] if truth else []),
        )
    console.print(table)
    if k > TABLE_ROWS:  # K = 1000 had printed a 1000-row table of 0.001s and 0.000s
        rest = [h["probability"] for h in doc["hypotheses"][TABLE_ROWS:]]
        lo, hi = probability_cell(min(rest)), probability_cell(max(rest))
        console.print(
            f"... and {k - TABLE_ROWS} more, probabilities {hi} to {lo} (every hypothesis is in the .json / .npz)",
            highlight=False,
        )
    if truth is not None:
        best = int(np.argmin(truth["mpjpe_m"]))
        console.print(
            f"true next key pose: frame {truth['frame']} (t = {truth['time_s']:.2f} s); best of {k}: "
            f"{doc['true_keypose']['best_of_k_mpjpe_m']:.3f} m" + (f" (#{best + 1})" if k > 1 else ""),
            highlight=False,
        )
        if truth.get("mined_on"):
            console.print(
                f"  mined on {truth['mined_on']}; MPJPE over {truth['scored_on']}", highlight=False, soft_wrap=True
            )
    elif at is not None and doc.get("true_keypose_search"):  # asked for a truth and the file has none after --at
        console.print(
            f"note: {file.name}: {no_truth_text(doc['true_keypose_search'])}", highlight=False, soft_wrap=True
        )
    for out in outs:
        write_keypose_output(doc, fc, truth, out)
        console.print(f"wrote {out}", highlight=False)
    return doc


#: hypotheses the printed table lists (the most probable; the .json / .npz hold them all)
TABLE_ROWS = 20


def probability_cell(p: float) -> str:
    """A probability for the table: 3 decimals, or 2 significant digits below 0.001 (0.00042, not 0.000)."""
    return f"{p:.3f}" if p >= 0.001 or p == 0 else f"{p:.2g}"


def no_truth_text(search: dict[str, Any]) -> str:
    """``no key pose after t = 2.00 s in this file (mined on ...; criterion: ...): nothing to score against``."""
    return (
        f"no key pose after t = {search['after_s']:.2f} s in this file (mined on {search['mined_on']}; criterion: "
        f"{search['criterion']}): the hypotheses have no true key pose to be scored against"
    )


def write_keypose_output(doc: dict[str, Any], fc: Any, truth: dict[str, Any] | None, out: Path) -> None:
    from posecast.io import atomic_output

    suffix = format_suffix(out)  # (.bvh.gz: saved compressed; the others are refused compressed by check_outputs)
    if suffix == ".json":
        with atomic_output(out) as tmp:
            tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return
    if suffix == ".npz":
        arrays = {
            "observed": fc.history.positions.astype(np.float64),
            "hypotheses": fc.samples[:, 0],
            "hypotheses_root_relative": np.asarray(fc.metadata["root_relative"], dtype=np.float64),
            "probabilities": np.asarray(fc.probabilities, dtype=np.float64),
            "anchor": np.asarray(doc["anchor"], dtype=np.float64),
            "grounded_m": np.asarray(doc["grounded_m"], dtype=np.float64),
            "floor_m": np.array(np.nan if doc["floor_m"] is None else doc["floor_m"], dtype=np.float64),
            "up_vector": np.asarray(doc["up_vector"] or [np.nan] * 3, dtype=np.float64),
            "root_weights": np.asarray(doc["root_weights"], dtype=np.float64),
            "joint_names": np.array(doc["joint_names"], dtype=str),
            "parents": np.array(doc["parents"], dtype=np.int64),
            "left_right": np.array(doc["left_right"], dtype=np.int64).reshape(-1, 2),
            "static_joints": np.array(doc["static_joints"], dtype=str),
            "sources": np.array([h["source"] or "" for h in doc["hypotheses"]], dtype=str),
            "skeleton": np.array(doc["skeleton"], dtype=str),
            "source_file": np.array(doc["file"], dtype=str),
            "fps": np.array(doc["fps"], dtype=np.float64),
            "last_observed_time_s": np.array(doc["last_observed_time_s"], dtype=np.float64),
        }
        if fc.metadata.get("canonical_hypotheses") is not None:
            arrays["canonical_hypotheses"] = np.asarray(fc.metadata["canonical_hypotheses"], dtype=np.float64)
            arrays["canonical_body"] = np.array(doc["canonical_body"], dtype=str)
        if truth is not None:
            arrays["true_keypose"] = truth["positions"]
            arrays["true_keypose_root_relative"] = truth["root_relative"]
            arrays["true_keypose_time_s"] = np.array(truth["time_s"], dtype=np.float64)
            arrays["true_keypose_mpjpe_m"] = np.asarray(truth["mpjpe_m"], dtype=np.float64)
        with atomic_output(out) as tmp:
            with tmp.open("wb") as fh:
                np.savez(fh, **arrays)
        return
    if suffix == ".bvh":
        from posecast.io import save
        from posecast.keyposes.forecaster import hypotheses_motion

        save(hypotheses_motion(fc), out)
        return
    from posecast.keyposes.render import render_keypose_forecast

    shown = None
    if truth is not None:  # on the observed floor, as the hypotheses
        from posecast.keyposes.forecaster import truth_as_shown

        fixed = [doc["joint_names"].index(n) for n in doc.get("static_joints") or []]  # a world root stays put
        shown = truth_as_shown(truth["root_relative"], doc["anchor"], doc["floor_m"], doc["up_vector"], fixed)
    search = doc.get("true_keypose_search") if doc.get("at_s") is not None else None
    render_keypose_forecast(
        fc,
        out,
        truth=shown,
        truth_time_s=None if truth is None else truth["time_s"],
        errors=None if truth is None else truth["mpjpe_m"],
        note=None
        if truth is not None or not search
        else f"no key pose after t = {search['after_s']:.2f} s in the file",
    )


def register(app: typer.Typer) -> None:
    """Add ``forecast`` to ``app``."""
    app.command()(forecast)
