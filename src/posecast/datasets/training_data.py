"""Training data by name: the CMU-Mocap benchmark training files (``cmu-mocap``, optionally with CMU BVH
subjects replayed on the benchmark skeleton: ``cmu-mocap+bvh``), the raw CMU BVH training subjects
(``cmu-bvh[:layout]``), or any folder of motion files. Validation is carved from the end of each
training sequence (`posecast.datasets.windows.split_sequences`); test data is never touched here.

The data sets themselves (files, splits, loaders) are `posecast.datasets.cmu_mocap` and
`posecast.datasets.cmu_bvh`; `describe` records the files and their hashes for the run artifact.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from posecast.datasets.cmu_bvh import CMU_MOCAP_EXTRA_SUBJECTS, TRAIN_SUBJECTS, cmu_bvh_as_benchmark, cmu_bvh_motions
from posecast.datasets.cmu_mocap import cmu_mocap_sequences
from posecast.datasets.windows import split_sequences
from posecast.errors import DataNotFoundError, SkeletonError, ValueRangeError, listed
from posecast.motion import GLITCH_SPEED, step_speeds
from posecast.skeletons.base import Skeleton


@dataclass
class TrainingData:
    """Sequences ``(N_i, J, 3)`` in metres at ``fps`` on ``skeleton``, split into train / validation."""

    skeleton: Skeleton
    fps: float
    train: list[np.ndarray]
    val: list[np.ndarray]
    description: dict[str, Any] = field(default_factory=dict)
    #: the data set of each training sequence (the corpus's ``dataset`` column; empty for other sources)
    train_datasets: list[str] = field(default_factory=list)


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return stream_sha256(fh)


def stream_sha256(fh: Any) -> str:
    """Hex SHA-256 of what a binary file object reads to its end, 1 MB at a time (a gzip reader: the content)."""
    h = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def describe(source: str, paths: list[Path], root: Path | None, **extra: Any) -> dict[str, Any]:
    """A data description for a run artifact: ``{"source", "files": {path relative to root: sha256}, **extra}``."""
    rel = [str(p.relative_to(root)) if root else str(p) for p in paths]
    return {"source": source, "files": dict(zip(rel, (sha256(p) for p in paths), strict=True)), **extra}


class ReadOptions(BaseModel):
    """How every file of a training folder is read: the reading options of ``posecast forecast`` (``posecast train
    --skeleton --fps --units --asf --mapping --up``; a config's ``reading:`` mapping), for takes that need them — plain
    numbers (.npy, a .csv without a header), a BVH with a wrong Frame Time, BVH or numbers in centimetres, AMC clips
    whose ASF lies elsewhere, a rig the automatic mapping gets wrong, a world whose up axis the trunk does not show.
    The same options apply to every file of the folder (`posecast.io.reading.load_motion`). ``mapping`` puts every
    file on the canonical body (`canonical_upright`), as files of other rigs are; ``up`` turns every file upright by
    that axis (else each file's own, `upright`)."""

    model_config = ConfigDict(extra="forbid")

    skeleton: str | None = Field(default=None, description="skeleton name of files that hold only numbers")
    fps: float | None = Field(
        default=None, gt=0, description="frame rate of files that hold only numbers, or instead of a BVH's Frame Time"
    )
    units: str | float | None = Field(default=None, description="length unit (m, cm, mm, inch, cmu or metres per unit)")
    asf: str | None = Field(default=None, description="the ASF skeleton of AMC clips")
    mapping: str | dict[str, Any] | None = Field(
        default=None, description="joint mapping onto the canonical body: a YAML/JSON file or a table"
    )
    up: str | None = Field(default=None, description="the axis that points up in the files' world (x, y, z, -z...)")
    #: `joint_mapping`'s table, read once (a run checks, records and uses it; the file had been read three times)
    _table: tuple[Any, dict[str, Any] | None] | None = PrivateAttr(default=None)

    def given(self) -> dict[str, Any]:
        """The options set (not None)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}

    def record(self) -> dict[str, Any]:
        """`given` for a run's record, with what the files named hold: the mapping's table (``mapping_table``) and
        the ASF's SHA-256 (``asf_sha256``), so that a resume sees a changed mapping or skeleton file."""
        out = self.given()
        if self.mapping is not None:
            out["mapping_table"] = self.joint_mapping()
        if self.asf is not None and Path(self.asf).is_file():
            out["asf_sha256"] = sha256(Path(self.asf))
        return out

    def check(self) -> None:
        """Refuse what no file can be read with, once for the folder (not once per file): an unknown skeleton or
        unit, a missing ASF, a bad mapping file or up axis."""
        from posecast import skeletons
        from posecast.io.bvh import metres_per_unit

        if self.skeleton is not None:
            skeletons.get(self.skeleton)
        if self.units is not None and not (isinstance(self.units, str) and self.units.strip().lower() == "auto"):
            metres_per_unit(self.units)
        if self.asf is not None and not Path(self.asf).is_file():
            raise DataNotFoundError("no such ASF file (given as --asf / reading.asf)", Path(self.asf))
        self.joint_mapping()

    def turns_only(self) -> bool:
        """True without a joint mapping: files of a registered layout keep it, turned upright (`upright`, by ``up``
        when given); a joint mapping puts every file on the canonical body (`canonical_upright`)."""
        return self.mapping is None

    def joint_mapping(self) -> dict[str, Any] | None:
        """The explicit mapping with ``up`` in it (`posecast.skeletons.canonical.mapping_with_up`), None without
        either; a bad mapping file or up axis is a `SkeletonError` naming it."""
        from posecast.skeletons.canonical import load_mapping_file, mapping_with_up

        key = (self.mapping if isinstance(self.mapping, str) else repr(self.mapping), self.up)
        if self._table is None or self._table[0] != key:  # (read again only when the options were changed)
            if self.up is not None:
                table = mapping_with_up(self.mapping, self.up)
            elif isinstance(self.mapping, str):
                table = dict(load_mapping_file(self.mapping))
            else:
                table = None if self.mapping is None else dict(self.mapping)
            self._table = (key, table)
        return copy.deepcopy(self._table[1])


#: training data named by a word (`load_training_data`; the video and key-pose plug-ins take some of them), not a folder
NAMED_SOURCES = ("cmu-mocap", "cmu-mocap+bvh", "cmu-bvh", "corpus")


def check_reading(source: str, reading: ReadOptions | None) -> None:
    """A `ValueRangeError` when reading options are given for a named data set (`NAMED_SOURCES`, ``cmu-bvh:LAYOUT``,
    ``corpus:...``: read by their own loaders, even where a folder of that name exists), not a folder of motion
    files."""
    if reading is None or not reading.given():
        return
    if source.partition(":")[0] in NAMED_SOURCES:  # (no folder at all: the loader's own "no such folder" error)
        flags = ", ".join(f"--{k}" for k in reading.given())
        raise ValueRangeError(f"reading options ({flags}) apply to a folder of motion files, not to {source!r}")


def folder_motions(
    folder: Path, fps: float | None, reading: ReadOptions | None = None
) -> tuple[list, list[Path], list[str]]:
    """Every motion file under ``folder`` (any format `posecast.io` reads, each read with ``reading``'s options as
    `posecast.io.reading.load_motion` reads it for a forecast), resampled to ``fps`` (default: the first file's rate):
    ``(motions, files, skipped)``. Files that cannot be read are all named in one error (each with its problem), so
    that a folder of takes is fixed in one go; ``.txt`` / ``.json`` files that do not read as motion
    (`posecast.io.registry.LOOSE_SUFFIXES`: notes, settings, a run's config.json) are skipped instead and named in
    ``skipped`` (``"file (problem)"``), as `posecast bench files` treats them (QA: a notes.txt stopped training on a
    folder that the benchmark read)."""
    from posecast.errors import NeedsReadingOptions, PosecastError
    from posecast.io.reading import load_motion
    from posecast.io.registry import LOOSE_SUFFIXES, format_suffix, motion_files

    reading = reading or ReadOptions()
    reading.check()  # an unknown skeleton or unit, a missing ASF, a bad mapping: one error, before any file is read
    paths = motion_files(folder)
    if not paths:
        raise DataNotFoundError("no motion files found", folder)
    options = {k: v for k, v in reading.given().items() if k in ("skeleton", "fps", "units", "asf")}
    motions, read, bad, skipped, needs_options = [], [], [], [], False
    for p in paths:
        try:
            motions.append(load_motion(p, **options))
            read.append(p)
        except PosecastError as exc:
            if format_suffix(p) in LOOSE_SUFFIXES and not isinstance(exc, ValueRangeError):
                skipped.append(f"{p.relative_to(folder).as_posix()} ({exc.problem})")
            else:
                bad.append(str(exc))
                needs_options |= isinstance(exc, NeedsReadingOptions)
    if bad:
        why = f"{len(bad)} of {len(paths)} motion files cannot be read (fix or move them): {listed(bad)}"
        if reading.given() or needs_options:  # reading options: for every file of the folder
            why += (
                "; the reading options (--skeleton, --fps, --units, --asf, --mapping, --up) apply to every file of the "
                "folder: put files that need other options in a folder of their own, or save them as .npz first, e.g. "
                "posecast.save(posecast.load(FILE, skeleton=..., fps=...), 'take.npz')"
            )
        raise DataNotFoundError(why, folder)
    if not motions:
        raise DataNotFoundError(f"no motion files found ({len(skipped)} .txt / .json files are not motion)", folder)
    fps = fps or motions[0].fps
    return [m.resample(fps) for m in motions], read, skipped


@dataclass
class FolderTakes:
    """The motion files of a training folder as `folder_motions` reads them (``motions`` as read, at the training
    rate; ``paths``; ``skipped`` loose files) with the ``reading`` options they were read with, and the ways the
    training plug-ins place them (`placed`): the motion networks (`load_training_data`), the video networks
    (`posecast.training.video.folder_sequences`) and the key-pose networks (`posecast.training.keyposes`) read a folder
    the same way and differ only in which takes go onto the canonical body."""

    folder: Path
    motions: list[Any]
    paths: list[Path]
    skipped: list[str]
    reading: ReadOptions

    @classmethod
    def read(cls, folder: Path, fps: float | None, reading: ReadOptions | None = None) -> FolderTakes:
        """`folder_motions` of ``folder`` at ``fps`` (default: the first file's rate) with ``reading``'s options."""
        reading = reading or ReadOptions()
        motions, paths, skipped = folder_motions(Path(folder), fps, reading)
        return cls(Path(folder), motions, paths, skipped, reading)

    @property
    def mapping(self) -> dict[str, Any] | None:
        """The explicit joint mapping (with ``up``), `ReadOptions.joint_mapping`."""
        return self.reading.joint_mapping()

    def one_registered_layout(self) -> bool:
        """True when no joint mapping is given and every take is on the first take's layout, a registered one: the
        folder can train on that layout (each take turned upright) instead of on the canonical body."""
        from posecast import skeletons

        first = self.motions[0].skeleton
        return (
            self.reading.turns_only()
            and skeletons.is_registered(first)
            and all(m.skeleton.same_layout(first) for m in self.motions)
        )

    def placed(self, canonical: bool | list[bool]) -> list[Any]:
        """Every take as a `posecast.motion.Motion` standing along +y: on the canonical body where ``canonical`` (one
        flag for all or one per take; `canonical_upright`), else on its own layout (`upright`)."""
        from posecast.motion import Motion
        from posecast.skeletons.canonical import CANONICAL

        flags = canonical if isinstance(canonical, list) else [canonical] * len(self.motions)
        mapping = self.mapping
        return [
            Motion(canonical_upright(m, p, mapping), m.fps, CANONICAL, metadata=m.metadata)
            if to_canonical
            else m.with_positions(upright(m, p, mapping))
            for m, p, to_canonical in zip(self.motions, self.paths, flags, strict=True)
        ]

    def record(self) -> dict[str, Any]:
        """What a run records of the folder's reading: ``reading`` (`ReadOptions.record`) when options were given,
        ``skipped`` when files were."""
        out: dict[str, Any] = {"reading": self.reading.record()} if self.reading.given() else {}
        return {**out, "skipped": self.skipped} if self.skipped else out


#: frames left out on each side of a glitch (linear resampling to 25 fps spreads one over its neighbours)
GLITCH_MARGIN = 2


def glitch_frames(
    sequence: np.ndarray, fps: float, limit: float = GLITCH_SPEED, margin: int = GLITCH_MARGIN
) -> np.ndarray:
    """``(T,)`` True for the frames of ``(T, J, 3)`` positions (metres, ``fps``) that `cut_glitches` cuts out: both
    frames of every step in which some joint moves faster than ``limit`` m/s, and ``margin`` frames on each side."""
    bad = np.zeros(sequence.shape[0], dtype=bool)
    if sequence.shape[0] < 2:
        return bad
    for t in np.flatnonzero(step_speeds(sequence, fps) > limit):  # the step from frame t to t + 1
        bad[max(0, t - margin) : t + 2 + margin] = True
    return bad


def cut_glitches(
    sequence: np.ndarray, fps: float, limit: float = GLITCH_SPEED, margin: int = GLITCH_MARGIN
) -> list[np.ndarray]:
    """``(T, J, 3)`` positions in metres at ``fps`` → the pieces between its capture glitches: every step in
    which some joint moves faster than ``limit`` m/s is cut out (both its frames) with ``margin`` frames on
    each side (the pieces are views, in order; empty pieces dropped). Why: a few corpus files carry frames no body can
    make (CMU-Mocap ``directing_traffic_1``: 24 steps at 12.8-37 m/s between 7 and 23 s, such as the whole body
    turning at 20-70 m/s for 0.1 s at the source's 120 fps; CMU BVH ``07_12``: 65 m/s; 8 of the 57 CMU-Mocap
    training files, 1.1 % of their frames, and 3 CMU BVH files). Rare as they are, they dominate any
    least-squares fit: in the CMU-Mocap windows the next frame's motion continued the last one's by a factor of 0.50,
    0.93 once they were cut (as in CMU BVH, 0.93; Bandai 0.97)."""
    if not sequence.shape[0]:
        return []
    bad = glitch_frames(sequence, fps, limit, margin)
    if not bad.any():
        return [sequence]
    edges = np.flatnonzero(np.diff(np.concatenate([[True], bad, [True]]).astype(np.int8)))
    return [sequence[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]


def corpus_source(source: str) -> tuple[str | None, list[str]]:
    """``"corpus[:LAYOUT][,-PREFIX...]"`` → ``(LAYOUT or None, [PREFIX, ...])``; anything else after the colon
    than one known skeleton name and ``-PREFIX`` exclusions is a `ValueRangeError`."""
    from posecast import skeletons

    items = [x.strip() for x in source.partition(":")[2].split(",") if x.strip()]
    layouts = [x for x in items if not x.startswith("-")]
    if len(layouts) > 1 or any(x not in skeletons.names() for x in layouts):
        raise ValueRangeError(
            f"corpus source {source!r}: write corpus[:LAYOUT][,-PREFIX...] (exclusions as -PREFIX; LAYOUT one of "
            f"the skeletons: {', '.join(skeletons.names())})"
        )
    return (layouts[0] if layouts else None), [x[1:] for x in items if x.startswith("-")]


def corpus_training_data(source: str, fps: float | None, min_frames: int) -> TrainingData:
    """The training corpus (`posecast.datasets.corpus`): its train split for training, its validation split
    (CMU BVH validation files, Bandai validation styles) for validation, on the canonical body or mapped to
    another layout. ``"corpus:-A,-B"`` leaves out the files whose path (relative to ``POSECAST_DATA``) starts
    with ``A`` or ``B`` (e.g. ``corpus:-cmu_bvh/06/``); ``"corpus:LAYOUT"`` maps every sequence to the skeleton
    layout ``LAYOUT`` with `posecast.skeletons.mapping.to_layout` (e.g. ``corpus:body-17``, what 2D detectors
    see); both combine (``corpus:body-17,-cmu_mocap/``). Training and validation sequences are cut at capture
    glitches (`cut_glitches`; since 2026-12-06 — weights trained before saw them, their model cards say so)."""
    from posecast import skeletons
    from posecast.datasets import corpus
    from posecast.skeletons.mapping import to_layout

    if fps not in (None, corpus.FPS):
        raise ValueRangeError(f"the corpus is at {corpus.FPS:g} fps")
    layout, exclude = corpus_source(source)
    layout = layout or corpus.SKELETON
    train, rows, c = corpus.training_sequences("train", exclude_files=exclude)
    val, val_rows, _ = corpus.training_sequences("validation", exclude_files=exclude)
    frames = sum(s.shape[0] for s in train)
    pieces = [(p, str(row["dataset"])) for s, row in zip(train, rows, strict=True) for p in cut_glitches(s, corpus.FPS)]
    glitch_frames = frames - sum(p.shape[0] for p, _ in pieces)
    pieces = [(p, name) for p, name in pieces if p.shape[0] >= min_frames]
    train, names = [p for p, _ in pieces], [name for _, name in pieces]
    val = [p for s in val for p in cut_glitches(s, corpus.FPS) if p.shape[0] >= min_frames]
    if layout != corpus.SKELETON:
        train = [to_layout(s, layout, source=corpus.SKELETON).astype(np.float32) for s in train]
        val = [to_layout(s, layout, source=corpus.SKELETON).astype(np.float32) for s in val]
    desc = {
        "source": source,
        "corpus": c.describe(),
        "excluded": exclude,
        "layout": layout,
        "train_files": len(rows),
        "validation_files": len(val_rows),
        "validation": "the corpus validation split (cmu_bvh validation files, Bandai validation styles)",
        "glitches_cut": f"steps with a joint faster than {GLITCH_SPEED:g} m/s, {GLITCH_MARGIN} frames on each side "
        f"({glitch_frames} training frames; `cut_glitches`)",
        "fps": corpus.FPS,
        "frame": "global",
    }
    return TrainingData(skeletons.get(layout), corpus.FPS, train, val, desc, names)


def load_training_data(
    source: str,
    fps: float | None = None,
    val_fraction: float = 0.1,
    min_frames: int = 35,
    reading: ReadOptions | None = None,
) -> TrainingData:
    """Training data by name: ``"cmu-mocap"``, ``"cmu-mocap+bvh"``, ``"cmu-bvh"`` or a folder of motion files (each
    read with ``reading``'s options, `ReadOptions`; refused for the named data sets, which read their own files).

    ``"cmu-mocap+bvh"``: the benchmark training files plus `cmu_bvh_as_benchmark` (CMU BVH subjects
    `CMU_MOCAP_EXTRA_SUBJECTS` replayed on the benchmark skeleton), all of the extra files in the
    training part; validation is carved from the benchmark files only, so it is the same as with
    ``"cmu-mocap"``.
    """
    from posecast import skeletons

    check_reading(source, reading)
    if source in ("cmu-mocap", "cmu-mocap+bvh"):
        if fps not in (None, 60.0):
            raise ValueRangeError("cmu-mocap training data is at 60 Hz (the benchmark's rate)")
        seqs, paths, root = cmu_mocap_sequences("train")
        train, val = split_sequences(seqs, val_fraction, min_frames)
        desc = describe("cmu-mocap", paths, root, frame="body (benchmark FK)", fps=60.0)
        if source == "cmu-mocap+bvh":
            extra, extra_paths, extra_root = cmu_bvh_as_benchmark()
            train += [s for s in extra if s.shape[0] >= min_frames]
            more = describe("cmu-bvh", extra_paths, extra_root)
            desc = {
                **desc,
                "source": source,
                "files": {**desc["files"], **{f"cmu_bvh/{k}": v for k, v in more["files"].items()}},
                "extra_subjects": list(CMU_MOCAP_EXTRA_SUBJECTS),
                "validation": "carved from the benchmark files only",
            }
        return TrainingData(skeletons.get("cmu-mocap-38"), 60.0, train, val, desc)
    if source.split(":")[0] == "cmu-bvh":  # "cmu-bvh" or "cmu-bvh:<layout>" (e.g. cmu-bvh:body-17)
        layout = source.partition(":")[2] or "cmu-bvh-31"
        fps = fps or 25.0
        motions, paths, root = cmu_bvh_motions(TRAIN_SUBJECTS, fps)
        seqs = [m.positions if layout == "cmu-bvh-31" else m.to_layout(layout).positions for m in motions]
        train, val = split_sequences(seqs, val_fraction, min_frames)
        desc = describe(source, paths, root, subjects=list(TRAIN_SUBJECTS), fps=fps, frame="global")
        return TrainingData(skeletons.get(layout), fps, train, val, desc)
    if source.split(":")[0] == "corpus":
        return corpus_training_data(source, fps, min_frames)
    folder = Path(source)
    if not folder.is_dir():
        raise DataNotFoundError(f"unknown data source {source!r}: use cmu-mocap, cmu-bvh or a folder of motions")
    takes = FolderTakes.read(folder, fps, reading)
    own = takes.one_registered_layout()  # trained on that layout, each take upright (its up found, or --up); else the
    placed = takes.placed(canonical=not own)  # users' own rigs (several, or a joint mapping given): the canonical body
    seqs, skel = [m.positions for m in placed], placed[0].skeleton
    desc = describe(str(folder), takes.paths, folder, fps=takes.motions[0].fps)
    if not own:
        desc["mapped_to"] = skel.name
    desc.update(takes.record())
    # each file's frames at the training rate (a plug-in names the files too short for its window)
    desc["frames"] = {str(p.relative_to(folder)): int(m.num_frames) for p, m in zip(takes.paths, placed, strict=True)}
    train, val = split_sequences(seqs, val_fraction, min_frames)
    return TrainingData(skel, takes.motions[0].fps, train, val, desc)


def canonical_upright(motion: Any, path: Path, mapping: dict[str, Any] | None = None) -> np.ndarray:
    """``(T, 22, 3)``: a motion on any mappable rig on the canonical body (`posecast.skeletons.canonical`; with the
    explicit entries of ``mapping``, `ReadOptions.joint_mapping`), its world turned so that the trunk stands along +y
    (a z-up file trains like a y-up one; the mapping's ``up`` when it has one); a rig that cannot be mapped is a
    `SkeletonError` naming ``path``."""
    can, turn = _up_turn(motion, path, mapping)
    return can @ turn.T


def upright(motion: Any, path: Path, mapping: dict[str, Any] | None = None) -> np.ndarray:
    """``(T, J, 3)``: a motion's positions on its own layout, its world turned as `canonical_upright` turns it (the
    mapping's ``up`` when it has one, else the axis the trunk stands along). Why: a folder of one registered layout
    trains on that layout, and a z-up take of it had been trained lying down (QA: a z-up cmu-bvh-31 folder trained
    with y spanning 1.3 m, down to -3.3 m). A layout that cannot be mapped keeps its world unless ``up`` is given."""
    from posecast.skeletons.canonical import UP_KEY, up_rotations

    try:
        turn = _up_turn(motion, path, mapping)[1]
    except SkeletonError:
        if not mapping or UP_KEY not in mapping:
            return np.asarray(motion.positions)
        turn = up_rotations([mapping[UP_KEY]])[0]
    return np.asarray(motion.positions) @ turn.T.astype(np.asarray(motion.positions).dtype)


def _up_turn(motion: Any, path: Path, mapping: dict[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    """``(canonical (T, 22, 3), rotation (3, 3))``: the motion on the canonical body and the turn that stands its trunk
    along +y (`posecast.skeletons.canonical.up_axes` over the whole take, or the mapping's up)."""
    from posecast.skeletons.canonical import retarget, up_axes, up_rotations

    try:
        rt = retarget(motion.skeleton, mapping)
    except SkeletonError as exc:
        raise SkeletonError(exc.problem, path) from None
    can = rt.to_canonical(np.asarray(motion.positions, dtype=np.float64))
    return can, up_rotations(up_axes(can[None], rt.up))[0]
