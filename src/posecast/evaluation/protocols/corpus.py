"""The cross-data-set benchmark: forecasting on the test part of every motion data set, each on its own skeleton.

Protocol (every number below is a module constant and is printed with every table):

* test data: the test split of every data set (`posecast.datasets.splits.files` with ``"test"``;
  ``$POSECAST_DATA/README.md``): ``cmu_bvh`` subjects 02 and 08, ``bandai_namco`` the test styles
  (dataset-2 ``feminine``, dataset-1 ``giant`` and ``sad``), ``hdm05_cuts`` actor ``bd`` (ASF/AMC);
* frame 0 is dropped where it is the converter's synthetic rest pose (``cmu_bvh``); Bandai Namco's and
  HDM05's frame 0 is real motion (their PROVENANCE.md) and is kept (`DROP_FIRST_FRAME`);
* every file resampled linearly to `FPS` = 25 fps (`Motion.resample`; Bandai is 30 fps, CMU and HDM05
  120 Hz);
* positions in metres on each data set's **own** skeleton (all its joints; a model that works on a
  canonical body maps in and out itself: ``model.on_skeleton(skeleton)``), errors in real millimetres;
* windows, decided per file: `LONG` = 50 observed + 25 predicted frames (2 s + 1 s), a start every 10
  frames from the first frame; a file too short for one long window gives `SHORT` windows = 25 + 10
  frames (1 s + 0.4 s), a start every 5 frames; a file shorter than a short window gives none (listed).
  Horizons up to 0.4 s average long and short windows, later horizons long windows only; the window
  count of every horizon is reported;
* MPJPE (at-horizon) at predicted frames 2, 4, 8, 10, 14, 25 = 80 / 160 / 320 / 400 / 560 / 1000 ms of
  real time, **global** (world frame as stored) and **root-relative** (the data set's root joint of
  every frame, predicted and true, moved to the origin);
* joints left out (`static_joints`): a joint whose vector from its parent (for the top joint: its
  position) is constant — peak-to-peak below `STATIC_TOLERANCE_M` on every axis — over every frame of
  the data set's test files (Bandai's ``joint_Root`` at the origin; zero-length helpers such as CMU's
  ``LHipJoint``); the list of every data set is printed. The other joints count equally, the root
  included (its root-relative error is zero by construction, as in the ``cmu-bvh`` protocol);
* the root (`root_joint`) is the first joint in hierarchy order that is not left out: ``Hips`` in CMU
  and Bandai Namco (under Bandai's floor-level ``joint_Root``), ``root`` in HDM05 — the pelvis;
* per data set: the mean over all its windows, and a bootstrap 95 % interval that resamples **files**
  (windows of one file are correlated), `BOOTSTRAP_RESAMPLES` resamples with seed `BOOTSTRAP_SEED`, the
  same resamples for every model and horizon of a data set (percentile interval of the window-weighted
  mean of the resampled files);
* models: default `default_model_names` (the registry's default motion model, zero-velocity,
  constant-velocity, nearest-neighbour); the nearest-neighbour baseline comes from the canonical
  training corpus (`nearest_neighbour_baseline`);
* goals (`check_goals`), checked per data set for the default model: root-relative below the better of
  zero- and constant-velocity at 80 and 160 ms and at least 25 % below it from 320 ms to 1 s; global
  below both at every horizon.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast.datasets import splits
from posecast.datasets.cmu_bvh import TEST_SUBJECTS
from posecast.datasets.windows import WindowSet, window_starts
from posecast.errors import DataNotFoundError, PosecastError, SkeletonError, ValueRangeError, listed
from posecast.evaluation.metrics import mpjpe
from posecast.evaluation.protocols.cmu_bvh import TestSequence, predict_batches
from posecast.models.base import Forecaster
from posecast.skeletons.base import Skeleton
from posecast.skeletons.canonical import world_up

DATASETS = ("cmu_bvh", "bandai_namco", "hdm05_cuts")
FPS = 25.0
MM_PER_M = 1000.0
#: frame 0 is a synthetic rest pose (CMU BVH converter) and is dropped; real motion elsewhere
#: (`posecast.datasets.splits.REST_POSE_FIRST_FRAME`, applied by `posecast.datasets.splits.load_motion`)
DROP_FIRST_FRAME = {d: splits.REST_POSE_FIRST_FRAME[d] for d in ("cmu_bvh", "bandai_namco", "hdm05_cuts")}
#: a joint whose offset from its parent varies less than this (metres, peak-to-peak per axis) is left out
STATIC_TOLERANCE_M = 1e-5
#: predicted frame (1-based, at `FPS`) of each horizon label (ms)
HORIZONS = {"80": 2, "160": 4, "320": 8, "400": 10, "560": 14, "1000": 25}
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
#: goals for the default model against min(zero-velocity, constant-velocity), root-relative: strictly
#: below at these horizons ...
GOAL_BELOW = ("80", "160")
#: ... and at most this fraction of it at the others; global: below both baselines everywhere
GOAL_FRACTION = 0.75
BASELINES = ("zero-velocity", "constant-velocity")
BATCH_SIZE = 256
CHUNK = 2048  # windows sliced at once (memory: 2048 x 75 x J x 3 float64)


@dataclass(frozen=True)
class WindowSpec:
    """A window: ``observed`` frames given to the model, ``predicted`` frames scored, a start every ``stride``."""

    name: str
    observed: int
    predicted: int
    stride: int

    @property
    def span(self) -> int:
        return self.observed + self.predicted

    def describe(self) -> str:
        return (
            f"{self.observed} observed + {self.predicted} predicted frames ({self.observed / FPS:g} s + "
            f"{self.predicted / FPS:g} s), a start every {self.stride} frames"
        )


LONG = WindowSpec("long", 50, 25, 10)
SHORT = WindowSpec("short", 25, 10, 5)
WINDOWS = (LONG, SHORT)
#: the nearest-neighbour baseline matches the last second (so it serves short windows too) and indexes
#: continuations of the long windows' length
NN_OPTIONS = {"window": SHORT.observed, "frames": LONG.predicted}


def nearest_neighbour_source() -> str:
    """Where this protocol's nearest-neighbour baseline comes from (a protocol line)."""
    opts = f"matching the last {NN_OPTIONS['window']} frames, continuations of {NN_OPTIONS['frames']} frames"
    return f"fitted on the training split of the corpus (canonical body) at {FPS:g} fps, {opts}"


def protocol_description(datasets: Sequence[str] | None = None) -> dict[str, Any]:
    """The protocol as data, printed with every table and stored in every JSON: of the data sets ``datasets`` (of
    `DATASETS`, in the order given; default all of them), which its ``datasets``, ``files`` and ``first_frame``
    name (a bench of some of them had described all three)."""
    names = list(DATASETS) if datasets is None else list(datasets)
    test_files = {
        "cmu_bvh": f"cmu_bvh subjects {', '.join(TEST_SUBJECTS)}",
        "bandai_namco": "bandai_namco "
        + "; ".join(f"dataset-{k} {', '.join(v)}" for k, v in splits.BANDAI_TEST_STYLES.items()),
        "hdm05_cuts": f"hdm05_cuts actor {', '.join(splits.HDM05_ACTORS)}",
    }
    known = [d for d in names if d in DROP_FIRST_FRAME]
    return {
        "benchmark": "corpus",
        "datasets": names,
        "files": "the test split of each data set (posecast.datasets.splits): "
        + "; ".join(test_files[d] for d in known if d in test_files),
        "first_frame": "dropped where it is a synthetic rest pose: "
        + ", ".join(f"{d} {'dropped' if DROP_FIRST_FRAME[d] else 'kept (real motion)'}" for d in known),
        "frame_rate": f"every file resampled linearly to {FPS:g} fps",
        "skeleton": "each data set's own skeleton and joints (models map to their own body and back themselves)",
        "windows": f"per file: {LONG.describe()}; a file too short for one gives {SHORT.describe()}; "
        "shorter files give none",
        "horizon_labels_ms": list(HORIZONS),
        "horizon_frames": list(HORIZONS.values()),
        "horizon_windows": f"horizons up to {SHORT.predicted / FPS * 1000:g} ms: long and short windows; "
        "later ones: long windows only (so an error curve can drop where the short windows stop counting)",
        "joints": "every joint except those whose offset from the parent (the top joint: its position) is "
        f"constant within {STATIC_TOLERANCE_M * MM_PER_M:g} mm per axis over the data set's test frames; "
        "equal weights, the root included",
        "positions": "global (world frame as stored); root_relative: the root joint of every frame at the origin; "
        "root = the first joint in hierarchy order that is not left out",
        "units": "real millimetres",
        "average": "mean over the data set's windows of each horizon",
        "interval": f"{CONFIDENCE:.0%} percentile bootstrap over files (windows of one file are correlated), "
        f"{BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}, the same resamples for every model and horizon",
        "nearest_neighbour": nearest_neighbour_source(),
        "goals": f"default model, root-relative: below min({', '.join(BASELINES)}) at "
        f"{', '.join(GOAL_BELOW)} ms and at most {GOAL_FRACTION:g} x it at the other horizons; global: below both "
        "at every horizon",
    }


def files_protocol_description(
    test_sets: Sequence[TestSet], given: Sequence[str | Path], models: Sequence[str] | None = None
) -> dict[str, Any]:
    """`protocol_description` for files of your own (`load_files`): the same windows, horizons, joints,
    units, interval and goals; the files, their first frames and up axes as they were found (``models``: the models
    run, when known: the nearest-neighbour baseline is described only when it is one of them)."""
    d = protocol_description()
    if models is not None and "nearest-neighbour" not in models:
        del d["nearest_neighbour"]
    files = sum(len(t.sequences) for t in test_sets)
    d.update(
        benchmark="files",
        datasets=[t.name for t in test_sets],
        files=f"{files} motion files from {', '.join(str(g) for g in given)}, grouped by skeleton layout "
        "(joint names and hierarchy)"
        + (
            "; folders searched at every depth (hidden files and ASF skeletons left out; other files, and .txt and "
            ".json files that are not motion, skipped and named)"
            if any(Path(g).is_dir() for g in given)
            else ""
        ),
        first_frame="leading rest-pose frames (frames no body moves out of, such as a converter's T-pose) "
        "dropped where found (posecast.motion.detached_start; per file in the JSON)",
        skeleton="each group's own skeleton and joints (models map to their own body and back themselves)",
        up="each file turned so that the axis pointing up as it was recorded points along +y (a rotation): the axis "
        "given, else the one the file stands along, else the one most of its group's files stand along; per group: "
        + "; ".join(f"{t.name} {t.recorded_up}" for t in test_sets),
        tracking="joints a tracker lost are scored as recorded (counted per file in the JSON: tracking_losses)",
    )
    d["positions"] = d["positions"].replace("world frame as stored", "each file's world frame, turned y up")
    if any(t.mapping for t in test_sets):
        d["mapping"] = "an explicit joint mapping onto the canonical body (--mapping), the rest found automatically"
    return d


# ------------------------------------------------------------------------------------------ data
@dataclass
class TestSet:
    """One data set's test part, loaded.

    Attributes:
        name: data set (`DATASETS`).
        skeleton: the skeleton of its files (all share one layout).
        sequences: one `TestSequence` per file: ``(T, J, 3)`` global positions in metres at `FPS`
            (the rest-pose frame dropped where `DROP_FIRST_FRAME` says so), ``groups = (name,)``.
        source_fps: the files' own frame rates.
        note: how the files were chosen when not the whole split (``max_files``).
        recorded_up: the signed axis that pointed up in the files' world as recorded (the data sets: ``"+y"``;
            files of your own: per axis, how many files); ``sequences`` are turned so that it points along +y
            (`load_files`), as every protocol scores them.
        first_frame: how leading frames were treated, when not by `DROP_FIRST_FRAME` (files of your own).
        file_facts: files of your own (`load_files`): one dict per file (name, source fps, frames, rest-pose
            frames dropped, up axis, tracking losses); when given, the results also hold per-file means.
        mapping: an explicit joint mapping onto the canonical body for the models (`bind`), without an ``up:``
            entry (files of your own are turned y up when loaded); ``mapping_note``: whether it was applied.
        skipped: files of your own found in a folder and skipped (not motion; `load_files`), with the reason.
    """

    name: str
    skeleton: Skeleton
    sequences: list[TestSequence]
    source_fps: tuple[float, ...] = ()
    note: str = ""
    recorded_up: str = "+y"
    first_frame: str = ""
    file_facts: list[dict[str, Any]] = field(default_factory=list)
    mapping: dict[str, Any] | None = None
    mapping_note: str = ""
    skipped: list[str] = field(default_factory=list)
    static: list[int] = field(init=False)
    root: int = field(init=False)

    def __post_init__(self) -> None:
        if not self.sequences:
            raise DataNotFoundError(f"no test files for data set {self.name!r}")
        j = self.skeleton.num_joints
        for s in self.sequences:
            if s.positions.ndim != 3 or s.positions.shape[1:] != (j, 3):
                raise SkeletonError(
                    f"{self.name}: positions of shape {s.positions.shape} do not fit skeleton "
                    f"{self.skeleton.name!r} ({j} joints)",
                    s.name,
                )
        self.static = static_joints(self.skeleton, [s.positions for s in self.sequences])
        self.root = root_joint(self.skeleton, self.static)


def check_datasets(names: str | Sequence[str] | None) -> list[str]:
    """The data sets to run: ``None`` (all of `DATASETS`), a comma-separated string or a list; unknown names
    raise `ValueRangeError`."""
    if names is None:
        return list(DATASETS)
    items = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    items = list(dict.fromkeys(n for n in items if n))
    bad = [n for n in items if n not in DATASETS]
    if bad or not items:
        raise ValueRangeError(f"unknown data set(s) {', '.join(bad) or '(none)'}; choose from {', '.join(DATASETS)}")
    return items


def pick_files(files: Sequence[Path], max_files: int | None) -> list[Path]:
    """``files``, or ``max_files`` of them evenly spread over the sorted list (quick runs)."""
    files = list(files)
    if max_files is None or max_files >= len(files):
        return files
    if max_files < 1:
        raise ValueRangeError(f"max_files must be positive, got {max_files}")
    index = np.unique(np.linspace(0, len(files) - 1, max_files).round().astype(int))
    return [files[i] for i in index]


def load_test_set(
    dataset: str,
    files: Sequence[str | Path] | None = None,
    max_files: int | None = None,
    fps: float = FPS,
    progress: Callable[[str, int, int], None] | None = None,
) -> TestSet:
    """Load a data set's test files (default: `posecast.datasets.splits.files` ``(dataset, "test")``) once.

    Each file goes through `posecast.io.load`, loses frame 0 where `DROP_FIRST_FRAME` says so and is
    resampled to ``fps``. All files must share one skeleton layout (joint names and parents). Sequence
    names are paths relative to the data set's folder. With ``files``, ``dataset`` may be any name (a
    data set of your own; its frame 0 is kept).
    ``progress``: optional ``(description, files done, files total)``.
    """
    from posecast.datasets.paths import dataset_dir

    if files is None:
        check_datasets([dataset])
    paths = [Path(p) for p in (files if files is not None else splits.files(dataset, "test"))]
    chosen = pick_files(paths, max_files)
    if not chosen:
        raise DataNotFoundError(f"no test files for data set {dataset!r}")
    root = dataset_dir(dataset, required=False) if dataset in DATASETS else None
    skeleton, sequences, rates = None, [], []
    for i, p in enumerate(chosen):
        motion = splits.load_motion(dataset, p)
        rates.append(float(motion.fps))
        motion = motion.resample(fps)
        if skeleton is None:
            skeleton = motion.skeleton
        elif not motion.skeleton.same_layout(skeleton):
            raise SkeletonError(
                f"{dataset}: the file's skeleton {motion.skeleton.name!r} differs from {skeleton.name!r} "
                "(joint names or hierarchy)",
                p,
            )
        name = p.relative_to(root).as_posix() if root is not None and p.is_relative_to(root) else p.name
        sequences.append(TestSequence(name, np.asarray(motion.positions, dtype=np.float64), (dataset,)))
        if progress:
            progress(f"loading {dataset}", i + 1, len(chosen))
    assert skeleton is not None
    note = "" if len(chosen) == len(paths) else f"{len(chosen)} of {len(paths)} files, evenly spread (quick run)"
    return TestSet(dataset, skeleton, sequences, tuple(sorted(set(rates))), note)


#: suffixes that other files share with motion formats (notes, settings, earlier results): found in a folder and
#: unreadable as motion, they are skipped and listed instead of refused (`load_files`)


def gather_files(paths: Sequence[str | Path]) -> list[Path]:
    """The motion files of ``paths``: a file as it is, a folder by every motion file under it
    (`posecast.io.registry.motion_files`); in the order given, each file once (a file reached twice, through two
    paths or links, is the same file). A path that does not exist, a folder without motion files, or an ASF
    skeleton given as a file is a `DataNotFoundError`."""
    from posecast.io.registry import format_suffix, motion_files

    out: dict[Path, Path] = {}  # resolved -> as given
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = motion_files(p)
            if not found:
                raise DataNotFoundError("no motion files in this folder (or below it)", p)
        elif p.is_file():
            if format_suffix(p) == ".asf":
                raise DataNotFoundError("an ASF file is a skeleton, not a motion: give its AMC clips", p)
            found = [p]
        else:
            raise DataNotFoundError("no such file or folder", p)
        for f in found:
            out.setdefault(f.resolve(), f)
    if not out:
        raise DataNotFoundError("give at least one motion file or folder")
    return list(out.values())


def other_files(paths: Sequence[str | Path]) -> list[str]:
    """The files under the folders of ``paths`` that are not motion files (`posecast.io.registry.motion_files`), each
    ``"name (why it is skipped)"``, named relative to its folder: images, videos and other files; hidden files and
    ASF skeletons (an AMC clip's, read with it) are left out as `motion_files` leaves them out."""
    from posecast.io.registry import format_suffix, motion_files
    from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

    out: list[str] = []
    for given in paths:
        folder = Path(given)
        if not folder.is_dir():
            continue
        motion = set(motion_files(folder))
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder)
            if p in motion or not p.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            suffix = format_suffix(p)
            if suffix == ".asf":
                continue
            if suffix in VIDEO_SUFFIXES:
                why = "a video, not motion: `posecast bench video --clips` scores videos"
            elif suffix in IMAGE_SUFFIXES:
                why = "an image, not motion"
            else:
                why = f"not a motion format ({suffix or 'no suffix'}; `posecast formats` lists them)"
            out.append(f"{rel.as_posix()} ({why})")
    return out


class UnreadableFiles(DataNotFoundError):
    """`load_files`: files that cannot be scored. ``head`` says how many; ``items`` names every one with its problem
    (``"file: problem"``), ``files`` the same as ``{file: problem}``; ``skipped``: the files skipped (not motion,
    `TestSet.skipped`). The message names the first `posecast.errors.LISTED` of them."""

    def __init__(self, head: str, items: list[str], files: dict[str, str], skipped: list[str]) -> None:
        super().__init__(f"{head}: {listed(items)}")
        self.head, self.items, self.files, self.skipped = head, items, files, skipped


def file_names(paths: Sequence[Path]) -> list[str]:
    """Short unique names for ``paths`` (distinct files): relative to their common folder, links not followed (the
    file name for one file)."""
    import os

    absolute = [Path(os.path.abspath(p)) for p in paths]
    if len(absolute) == 1:
        return [absolute[0].name]
    common = Path(os.path.commonpath([str(p.parent) for p in absolute]))
    return [p.relative_to(common).as_posix() for p in absolute]


def _unique(names: Sequence[str]) -> list[str]:
    """``names`` with repeats made unique by ``-2``, ``-3``, ... (two rigs that share a name stay two groups)."""
    out: list[str] = []
    for n in names:
        k, name = 1, n
        while name in out:
            k += 1
            name = f"{n}-{k}"
        out.append(name)
    return out


def _read_motion(path: Path) -> Any:
    """`load_files`' default reader: `posecast.io.load`, a saved forecast refused."""
    from posecast.io import load
    from posecast.motion import Forecast

    motion = load(path)
    if isinstance(motion, Forecast):
        raise PosecastError("a saved forecast, not a recorded motion", path)
    return motion


def load_files(
    paths: Sequence[str | Path],
    name: str = "files",
    max_files: int | None = None,
    up: str | None = None,
    fps: float = FPS,
    read: Callable[[Path], Any] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    mapping: Mapping[str, Any] | None = None,
) -> list[TestSet]:
    """Motion files of your own as test sets of this protocol, one per skeleton layout among them.

    Each file (`gather_files`; ``max_files`` of them evenly spread, `pick_files`) is read by ``read`` (default
    `posecast.io.load`; the CLI reads as ``posecast forecast`` does, with its ``--units``, ``--skeleton``,
    ``--fps``, ``--asf``), loses its leading rest-pose frames where it has them (`posecast.motion.detached_start`:
    frames no body moves out of, such as a converter's T-pose) and is resampled to ``fps``. Files that share a
    skeleton layout (joint names and hierarchy) form one test set, named ``name`` (``name:SKELETON`` when there are
    several; made unique). Each file is turned so that its up axis points along +y (a rotation, which leaves every
    distance as recorded): ``up`` (`parse_up`), else the axis the file stands along
    (`posecast.skeletons.canonical.motion_up_axis`), else (not found) the axis most of its group's files stand
    along, else +y. ``mapping``: an explicit joint mapping onto the canonical body
    (`posecast.skeletons.canonical.load_mapping_file`), applied to the groups whose rig it fits (to find the up axis,
    and given to the models); its ``up:`` entry stands for ``up``. Tracking losses
    (`posecast.motion.tracking_glitches`) are counted per file and scored as recorded.

    Files that cannot be read, or that hold a saved forecast, are all named in one `UnreadableFiles` error (a
    `DataNotFoundError`), except ``.txt`` / ``.json`` files found in a folder (`LOOSE_SUFFIXES`: notes, settings,
    earlier results), which are skipped and listed in the first test set's ``skipped``, as are the folders' other
    files that are not motion (`other_files`: images, videos, ...). A mapping that fits no group, or an ``up`` that
    contradicts the mapping's ``up:``, is a `SkeletonError`. With ``POSECAST_DATA`` set, a file whose content is a
    file of the training corpus (`posecast.datasets.corpus_members`) has ``corpus_split`` and ``corpus_file`` in its
    facts (`corpus_notes`).
    """
    from collections import Counter

    from posecast.datasets import corpus_members
    from posecast.datasets.paths import data_root
    from posecast.io.registry import LOOSE_SUFFIXES, format_suffix
    from posecast.motion import detached_start, tracking_glitches
    from posecast.skeletons.canonical import UP_KEY, UP_ROTATIONS, motion_up_axis, parse_up, retarget

    read = read or _read_motion
    mapping = dict(mapping) if mapping is not None else None
    if mapping is not None and UP_KEY in mapping:
        mapped_up = parse_up(mapping.pop(UP_KEY))
        if up is not None and parse_up(up) != mapped_up:
            raise SkeletonError(f"the up axis given ({parse_up(up)}) contradicts the mapping's up: {mapped_up}")
        up = mapped_up
    given_up = parse_up(up) if up is not None else None
    explicit = {Path(p).resolve() for p in paths if Path(p).is_file()}
    every = gather_files(paths)
    if max_files is not None:  # N motion files: notes and settings (`LOOSE_SUFFIXES`) only where too few are left
        strong = [p for p in every if format_suffix(p) not in LOOSE_SUFFIXES or p.resolve() in explicit]
        picked = set(pick_files(strong, max_files)) if strong else set()
        kept = set(strong)
        loose = [p for p in every if p not in kept]
        if len(strong) < max_files and loose:  # (QA: a notes.txt had taken one of the N places)
            picked |= set(pick_files(loose, max_files - len(strong)))
        chosen = [p for p in every if p in picked]
    else:
        chosen = every
    names = file_names(chosen)
    members = corpus_members.find(chosen) if data_root(required=False) is not None else {}
    loaded, bad, skipped = [], {}, []
    for i, (p, short) in enumerate(zip(chosen, names, strict=True)):
        try:
            motion = read(p)
        except PosecastError as exc:
            if format_suffix(p) in LOOSE_SUFFIXES and p.resolve() not in explicit:
                skipped.append(f"{short} ({exc.problem})")
            else:
                bad[str(p)] = exc.problem if exc.path in (None, str(p)) else str(exc)
            continue
        rest = detached_start(np.asarray(motion.positions, dtype=np.float64), motion.fps)
        if rest and rest < motion.num_frames:
            motion = motion.frames(rest)
        losses = tracking_glitches(motion.positions, motion.fps, motion.skeleton.parents)
        facts = {
            "file": short,
            "source_fps": float(motion.fps),
            "rest_pose_frames_dropped": int(rest),
            "tracking_losses": len(losses),
        }
        if p in members:  # a file of the training corpus (`corpus_notes`)
            facts["corpus_split"], facts["corpus_file"] = members[p]
        loaded.append((motion, facts))
        if progress:
            progress(f"loading {name}", i + 1, len(chosen))
    skipped += other_files(paths)
    if bad:
        items = [f"{f}: {why}" for f, why in bad.items()]
        raise UnreadableFiles(
            f"{len(bad)} of {len(chosen)} files cannot be scored (fix or leave them out)", items, bad, skipped
        )
    if not loaded:
        raise UnreadableFiles("no motion among the files", skipped, {}, skipped)
    groups: list[list[tuple[Any, dict[str, Any]]]] = []
    for motion, facts in loaded:
        for g in groups:
            if g[0][0].skeleton.same_layout(motion.skeleton):
                g.append((motion, facts))
                break
        else:
            groups.append([(motion, facts)])
    fitted, misfits = [], []
    for g in groups:
        if mapping is None:
            fitted.append(None)
            continue
        try:
            retarget(g[0][0].skeleton, mapping)
            fitted.append(mapping)
        except SkeletonError as exc:
            fitted.append(None)
            misfits.append(str(exc))
    if mapping is not None and all(m is None for m in fitted):
        raise SkeletonError(f"the mapping fits none of the files' rigs: {misfits[0]}")
    note = "" if len(chosen) == len(every) else f"{len(chosen)} of {len(every)} files, evenly spread (quick run)"
    set_names = _unique([name if len(groups) == 1 else f"{name}:{g[0][0].skeleton.name}" for g in groups])
    sets = []
    for k, (g, gmap, set_name) in enumerate(zip(groups, fitted, set_names, strict=True)):
        skeleton = g[0][0].skeleton
        found = [given_up or motion_up_axis(m.positions, skeleton, gmap) for m, _ in g]
        fallback = Counter(a for a in found if a).most_common(1)[0][0] if any(found) else "+y"
        seqs, facts_list = [], []
        for (motion, facts), axis in zip(g, found, strict=True):
            turned = axis or fallback
            facts.update(up_axis=axis or f"not found ({turned} used)", turned_from=turned)
            positions = np.asarray(motion.resample(fps).positions, dtype=np.float64) @ UP_ROTATIONS[turned].T
            facts["frames"] = int(positions.shape[0])
            seqs.append(TestSequence(facts["file"], positions, (set_name,)))
            facts_list.append(facts)
        axes = Counter(f["turned_from"] for f in facts_list)
        recorded = ", ".join(a if len(axes) == 1 else f"{a} ({n} files)" for a, n in axes.most_common())
        rates = tuple(sorted({f["source_fps"] for f in facts_list}))
        first = "leading rest-pose frames dropped where found (posecast.motion.detached_start): " + (
            ", ".join(
                f"{f['file']} {f['rest_pose_frames_dropped']}" for f in facts_list if f["rest_pose_frames_dropped"]
            )
            or "none found"
        )
        mapping_note = "" if mapping is None else ("applied" if gmap is not None else "does not fit this rig")
        try:
            ts = TestSet(set_name, skeleton, seqs, rates, note, recorded, first, facts_list, gmap, mapping_note)
        except SkeletonError as exc:  # nothing moves: no joint to score
            shown = listed([f["file"] for f in facts_list], ", ")
            raise DataNotFoundError(f"{exc} ({shown}): nothing in them moves, leave them out") from None
        if k == 0:
            ts.skipped = skipped
        sets.append(ts)
    return sets


def static_joints(
    skeleton: Skeleton, sequences: Sequence[np.ndarray], tolerance: float = STATIC_TOLERANCE_M
) -> list[int]:
    """Joints that never move relative to their parent over all ``sequences`` (``(T_i, J, 3)`` metres).

    A joint is static when its vector from its parent -- for a joint without parent, its position --
    varies by less than ``tolerance`` metres peak-to-peak on every axis over every frame of every sequence
    (a floor-level helper root, a zero-length helper bone). Returns sorted joint indices.
    """
    parents = np.asarray(skeleton.parents)
    lo = np.full((skeleton.num_joints, 3), np.inf)
    hi = np.full((skeleton.num_joints, 3), -np.inf)
    for pos in sequences:
        if pos.shape[0] == 0:
            continue
        rel = pos - np.where(parents[:, None] >= 0, pos[:, np.maximum(parents, 0)], 0.0)
        lo = np.minimum(lo, rel.min(axis=0))
        hi = np.maximum(hi, rel.max(axis=0))
    return [int(j) for j in np.flatnonzero(((hi - lo) < tolerance).all(axis=1))]


def root_joint(skeleton: Skeleton, static: Sequence[int]) -> int:
    """The root of the root-relative positions: the first joint in hierarchy order that is not ``static``."""
    left = [j for j in range(skeleton.num_joints) if j not in set(static)]
    if not left:
        raise SkeletonError(f"every joint of skeleton {skeleton.name!r} is static over the test data")
    return left[0]


def window_plan(num_frames: int) -> tuple[WindowSpec | None, np.ndarray]:
    """The windows of a ``num_frames``-frame file: `LONG` windows when one fits, else `SHORT` windows, else
    ``(None, empty)``; returns the spec and the start frames."""
    for spec in WINDOWS:
        starts = window_starts(num_frames, spec.span, spec.stride)
        if len(starts):
            return spec, starts
    return None, np.zeros(0, dtype=np.int64)


def make_windows(test_set: TestSet) -> dict[str, tuple[WindowSet, np.ndarray]]:
    """Per window kind (``"long"``, ``"short"``; absent kinds left out): a `WindowSet` over the data set's
    files (float64) and, per window, the index of its file in ``test_set.sequences``."""
    data = np.concatenate([s.positions for s in test_set.sequences])
    offsets = np.cumsum([0] + [s.positions.shape[0] for s in test_set.sequences])
    starts: dict[str, list[np.ndarray]] = {w.name: [] for w in WINDOWS}
    owner: dict[str, list[np.ndarray]] = {w.name: [] for w in WINDOWS}
    for i, s in enumerate(test_set.sequences):
        spec, st = window_plan(s.positions.shape[0])
        if spec is not None:
            starts[spec.name].append(offsets[i] + st)
            owner[spec.name].append(np.full(len(st), i))
    out = {}
    for spec in WINDOWS:
        if starts[spec.name]:
            ws = WindowSet(data, np.concatenate(starts[spec.name]), spec.span, test_set.skeleton, FPS)
            out[spec.name] = (ws, np.concatenate(owner[spec.name]))
    return out


# ---------------------------------------------------------------------------------------- models
def default_model_names() -> list[str]:
    """The registry's default motion model, zero-velocity, constant-velocity, nearest-neighbour (no repeats)."""
    from posecast.models import default_model

    default = default_model("motion")
    names = ([default.name] if default is not None else []) + [*BASELINES, "nearest-neighbour"]
    return list(dict.fromkeys(names))


def nearest_neighbour_baseline(residual: bool = True) -> Forecaster:
    """This protocol's nearest-neighbour baseline (`nearest_neighbour_source`):
    `posecast.models.baselines.corpus_nearest_neighbour` with `NN_OPTIONS`."""
    from posecast.models.baselines import corpus_nearest_neighbour

    return corpus_nearest_neighbour(**NN_OPTIONS, residual=residual)


def prepare_models(
    models: Mapping[str, Forecaster], nearest_neighbour: Callable[..., Forecaster] | None = None
) -> dict[str, Forecaster]:
    """Replace an unfitted nearest-neighbour model by this protocol's (``nearest_neighbour(residual=...)``,
    default `nearest_neighbour_baseline`); other models are returned as they are."""
    from posecast.models.baselines import NearestNeighbour

    make = nearest_neighbour or nearest_neighbour_baseline
    return {
        name: make(residual=m.residual) if isinstance(m, NearestNeighbour) and m.num_windows == 0 else m
        for name, m in models.items()
    }


def bind(model: Forecaster, skeleton: Skeleton, mapping: Mapping[str, Any] | None = None) -> Forecaster:
    """``model.on_skeleton(skeleton, mapping)``. A model that keeps a
    ``skeleton`` of another layout (fitted on one skeleton) raises `SkeletonError`."""
    bound = model.on_skeleton(skeleton) if mapping is None else model.on_skeleton(skeleton, mapping=mapping)
    own = getattr(bound, "skeleton", None)
    if isinstance(own, Skeleton) and not own.same_layout(skeleton):
        raise SkeletonError(f"works on skeleton {own.name!r} only, not on {skeleton.name!r}")
    return bound


# ------------------------------------------------------------------------------------ evaluation
def window_errors(
    model: Forecaster,
    windows: WindowSet,
    spec: WindowSpec,
    keep: np.ndarray,
    root: int,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Global and root-relative MPJPE ``(W, spec.predicted)`` in mm of every window of ``windows``.

    ``keep``: ``(J,)`` boolean mask of the scored joints; ``root``: the joint moved to the origin for the
    root-relative error. The model gets the ``spec.observed`` frames (`predict_batches`, at `FPS`).
    """
    n = len(windows)
    glob, rel = np.empty((n, spec.predicted)), np.empty((n, spec.predicted))
    for a in range(0, n, CHUNK):
        b = min(a + CHUNK, n)
        win = windows.batch(np.arange(a, b))
        tick = (lambda done, _total, a=a: progress(a + done, n)) if progress else None
        pred = predict_batches(model, win[:, : spec.observed], spec.predicted, batch_size, tick, fps=FPS)
        truth = win[:, spec.observed :]
        glob[a:b] = mpjpe(pred, truth, weights=keep) * MM_PER_M
        rel[a:b] = mpjpe(pred - pred[..., root : root + 1, :], truth - truth[..., root : root + 1, :], weights=keep)
        rel[a:b] *= MM_PER_M
    return glob, rel


def file_sums(
    errors: Mapping[str, np.ndarray], owners: Mapping[str, np.ndarray], num_files: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per file and horizon: the sum of the window errors and the window count, ``(num_files, len(HORIZONS))``
    each, from per-kind errors ``(W_kind, predicted_kind)`` and window owners ``(W_kind,)``. A horizon beyond a
    kind's predicted frames takes no windows of that kind."""
    sums = np.zeros((num_files, len(HORIZONS)))
    counts = np.zeros((num_files, len(HORIZONS)))
    for kind, err in errors.items():
        for k, frame in enumerate(HORIZONS.values()):
            if frame <= err.shape[1]:
                sums[:, k] += np.bincount(owners[kind], weights=err[:, frame - 1], minlength=num_files)
                counts[:, k] += np.bincount(owners[kind], minlength=num_files)
    return sums, counts


def horizon_windows(counts_by_kind: Mapping[str, int]) -> dict[str, int]:
    """Windows behind each horizon label from the window count of each kind (``{"long": n, "short": m}``):
    a horizon counts the windows of every kind that predicts that far."""
    predicted = {w.name: w.predicted for w in WINDOWS}
    return {
        label: int(sum(n for kind, n in counts_by_kind.items() if predicted[kind] >= frame))
        for label, frame in HORIZONS.items()
    }


def bootstrap_weights(num_files: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """``(resamples, num_files)``: how often each file is drawn in each resample (``num_files`` draws with
    replacement; one generator seeded with ``seed``)."""
    if resamples < 1 or num_files < 1:
        raise ValueRangeError(f"need at least one resample and one file, got {resamples} and {num_files}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, num_files, size=(resamples, num_files))
    flat = (draws + num_files * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * num_files).reshape(resamples, num_files).astype(np.float64)


def bootstrap_ci(
    sums: np.ndarray, counts: np.ndarray, weights: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and percentile interval of a window mean, resampling files.

    Args:
        sums, counts: ``(F, K)`` per file: summed window errors and window counts of ``K`` statistics.
        weights: ``(R, F)`` draws per resample (`bootstrap_weights`).
        confidence: the interval's coverage.

    Returns:
        ``(mean, low, high)``, each ``(K,)``: the mean over all windows, and the percentiles of the resampled
        means ``sum(w * sums) / sum(w * counts)`` (resamples without a window are ignored; NaN where no file
        has a window).
    """
    total = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, sums.sum(axis=0) / np.maximum(total, 1), np.nan)
        stats = (weights @ sums) / (weights @ counts)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.full(mean.shape, np.nan), np.full(mean.shape, np.nan)
    ok = total > 0
    if ok.any():
        low[ok], high[ok] = np.nanpercentile(stats[:, ok], [tail, 100 - tail], axis=0)
    return mean, low, high


def _cells(mean: np.ndarray, low: np.ndarray, high: np.ndarray, windows: np.ndarray) -> dict[str, dict[str, Any]]:
    return {
        label: {"mean": float(mean[k]), "low": float(low[k]), "high": float(high[k]), "windows": int(windows[k])}
        for k, label in enumerate(HORIZONS)
    }


@world_up("+y")  # the data sets are recorded y up (files of your own are turned so): score the windows as they are
def evaluate_test_set(
    models: Mapping[str, Forecaster],
    test_set: TestSet,
    batch_size: int = BATCH_SIZE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol on one data set for several models (the same windows and resamples for each).

    Each model is bound to the data set's skeleton once (`bind`) and told that the world is y up (so that
    windows of a person lying on the floor are scored as recorded). A model that cannot work on it (a
    `PosecastError` while binding or predicting) is listed under ``unavailable`` with the reason.

    Returns:
        ``{"info": {files, skeleton, joints, excluded_joints, root, windows, ...}, "models": {name:
        {"global": {label: {mean, low, high, windows}}, "root_relative": {...}}}, "unavailable": {name:
        reason}}``; errors in real millimetres. With ``test_set.file_facts`` (files of your own), ``info`` also
        holds ``recorded_up_axis`` and ``file_facts``, and every model ``per_file``: ``{file: {"global": {label: mean},
        "root_relative": {...}}}`` (None where the file has no window of that horizon).
    """
    sets = make_windows(test_set)
    num_files = len(test_set.sequences)
    owners = {k: o for k, (_, o) in sets.items()}
    keep = np.ones(test_set.skeleton.num_joints, dtype=bool)
    keep[test_set.static] = False
    names = test_set.skeleton.joint_names
    with_windows = sorted({int(i) for o in owners.values() for i in np.unique(o)})
    counts_by_kind = {spec.name: (len(sets[spec.name][0]) if spec.name in sets else 0) for spec in WINDOWS}
    info: dict[str, Any] = {
        "files": num_files,
        "files_without_windows": [s.name for i, s in enumerate(test_set.sequences) if i not in set(with_windows)],
        "source_fps": list(test_set.source_fps),
        "first_frame": test_set.first_frame
        or ("dropped (synthetic rest pose)" if DROP_FIRST_FRAME.get(test_set.name, False) else "kept (real motion)"),
        "skeleton": test_set.skeleton.name,
        "joints": int(keep.sum()),
        "joints_in_skeleton": test_set.skeleton.num_joints,
        "excluded_joints": [names[j] for j in test_set.static],
        "root": names[test_set.root],
        "windows_by_kind": counts_by_kind,
        "files_by_kind": {k: len(np.unique(o)) for k, o in owners.items()},
    }
    info["windows"] = horizon_windows(counts_by_kind)
    if test_set.note:
        info["note"] = test_set.note
    if test_set.file_facts:
        info["recorded_up_axis"] = test_set.recorded_up
        info["file_facts"] = test_set.file_facts
        if test_set.mapping_note:
            info["mapping"] = test_set.mapping_note
        if test_set.skipped:
            info["skipped_files"] = test_set.skipped
    out: dict[str, Any] = {"info": info, "models": {}, "unavailable": {}}
    if not sets:
        out["unavailable"] = {name: "no file has the frames of a window" for name in models}
        return out
    total = sum(len(ws) for ws, _ in sets.values())
    sel = np.asarray(with_windows)
    weights = bootstrap_weights(len(sel), resamples, seed)
    for name, model in models.items():
        try:
            bound = bind(model, test_set.skeleton, test_set.mapping)
            glob, rel, done = {}, {}, 0
            for spec in WINDOWS:
                if spec.name not in sets:
                    continue
                ws, _ = sets[spec.name]
                tick = None
                if progress:
                    tick = lambda d, _t, base=done, n=name: progress(f"{test_set.name} · {n}", base + d, total)  # noqa: E731
                glob[spec.name], rel[spec.name] = window_errors(bound, ws, spec, keep, test_set.root, batch_size, tick)
                done += len(ws)
        except PosecastError as exc:
            out["unavailable"][name] = str(exc)
            continue
        entry: dict[str, Any] = {}
        per_file: dict[str, dict[str, Any]] = {s.name: {} for s in test_set.sequences}
        for key, errors in (("global", glob), ("root_relative", rel)):
            sums, counts = file_sums(errors, owners, num_files)
            mean, low, high = bootstrap_ci(sums[sel], counts[sel], weights)
            entry[key] = _cells(mean, low, high, counts.sum(axis=0))
            for i, s in enumerate(test_set.sequences):  # per file: files of your own only (below)
                per_file[s.name][key] = {
                    label: float(sums[i, k] / counts[i, k]) if counts[i, k] else None
                    for k, label in enumerate(HORIZONS)
                }
        if test_set.file_facts:
            entry["per_file"] = per_file
        out["models"][name] = entry
    return out


def check_goals(dataset_result: Mapping[str, Any], model: str | None) -> dict[str, Any]:
    """Whether ``model`` meets the goals (`GOAL_BELOW`, `GOAL_FRACTION`, module docstring) on one data set.

    Returns ``{"model", "met": True/False/None, "checks": [{positions, horizon, value, limit, met}],
    "reason"}``; ``met`` is None (with a ``reason``) when the model or a baseline was not run there.
    """
    models = dataset_result["models"]
    unavailable = dataset_result.get("unavailable", {})
    missing = [m for m in (model, *BASELINES) if m is None or m not in models]
    if missing:
        why = ", ".join(
            "no default model" if m is None else f"{m} not available here" if m in unavailable else f"{m} not run"
            for m in missing
        )
        return {"model": model, "met": None, "checks": [], "reason": why}
    assert model is not None
    checks = []
    for key in ("root_relative", "global"):
        for label in HORIZONS:
            values = [models[b][key][label]["mean"] for b in BASELINES]
            if key == "global":
                limit, rule = min(values), "below both baselines"
            elif label in GOAL_BELOW:
                limit, rule = min(values), "below the better baseline"
            else:
                limit, rule = GOAL_FRACTION * min(values), f"at most {GOAL_FRACTION:g} x the better baseline"
            value = models[model][key][label]["mean"]
            if not (math.isfinite(value) and math.isfinite(limit)):  # no window reaches this horizon here
                continue
            ok = bool(value < limit) if label in GOAL_BELOW or key == "global" else bool(value <= limit)
            checks.append({"positions": key, "horizon": label, "value": value, "limit": limit, "rule": rule, "met": ok})
    skipped = [c for c in HORIZONS if not any(k["horizon"] == c for k in checks)]
    reason = f"no windows at {', '.join(skipped)} ms" if skipped else ""
    if not checks:
        return {"model": model, "met": None, "checks": [], "reason": reason or "nothing to check"}
    return {"model": model, "met": all(c["met"] for c in checks), "checks": checks, "reason": reason}


def goal_line(dataset: str, goals: Mapping[str, Any]) -> str:
    """One summary line of `check_goals`."""
    if goals["met"] is None:
        return f"{dataset}: goals not checked ({goals['reason']})"
    note = f"; {goals['reason']}" if goals.get("reason") else ""
    if goals["met"]:
        every = "the horizons with windows" if note else "every horizon"
        return f"{dataset}: goals met by {goals['model']} (root-relative and global, {every}{note})"
    missed = [
        f"{'rr' if c['positions'] == 'root_relative' else 'global'} {c['horizon']} ms {c['value']:.1f} "
        f"(goal {'<' if c['rule'].startswith('below') else '<='} {c['limit']:.1f})"
        for c in goals["checks"]
        if not c["met"]
    ]
    return f"{dataset}: goals missed by {goals['model']}: {'; '.join(missed)}{note}"


#: what it means for the numbers of a file of one's own that it is a file of the corpus's split (`corpus_notes`)
CORPUS_SPLIT_NOTES = {
    "train": (
        "training",
        "PoseCast's shipped models were trained on it (nearest-neighbour replays it)",
        "not held out",
    ),
    "validation": ("validation", "PoseCast's shipped models were chosen (not trained) on it", "not fully held out"),
    "test": ("test", "no shipped model was trained or chosen on it", "held out"),
}


def corpus_notes(test_sets: Sequence[TestSet]) -> dict[str, Any]:
    """The files of your own (`load_files`) that are files of the training corpus, per split: ``{split: {"note":
    "N files are in the training split of the corpus: ...", "files": {file: corpus file}}}`` (`CORPUS_SPLIT_NOTES`);
    empty when there are none (always for the data sets' test splits, and without ``POSECAST_DATA``)."""
    out: dict[str, Any] = {}
    for split, (called, what, verdict) in CORPUS_SPLIT_NOTES.items():
        files = {f["file"]: f["corpus_file"] for t in test_sets for f in t.file_facts if f.get("corpus_split") == split}
        if files:
            one = len(files) == 1
            note = (
                f"{len(files)} file{'' if one else 's'} {'is' if one else 'are'} in the {called} split of the corpus: "
                f"{what}; the numbers on {'it' if one else 'them'} are {verdict}"
            )
            out[split] = {"note": note, "files": files}
    return out


def corpus_note_lines(notes: Mapping[str, Any], key: str = "in_corpus") -> list[str]:
    """`corpus_notes` as printed lines (the files named, the rest counted with where the JSON holds them)."""
    return [
        f"note: {n['note']}: "
        + listed([f"{f} ({src})" for f, src in n["files"].items()], ", ", rest=f"all in the JSON: {key}.{split}")
        for split, n in notes.items()
    ]


def nothing_scored(result: Mapping[str, Any]) -> str | None:
    """Why no model has a number on any data set of ``result`` (`evaluate`); None when something was scored."""
    if any(d["models"] for d in result["datasets"].values()):
        return None
    why = []
    for name, d in result["datasets"].items():
        info = d["info"]
        if not sum(info["windows_by_kind"].values()):
            frames = {f["file"]: f["frames"] for f in info.get("file_facts", [])}
            short = [
                f"{f} {frames[f]} frame{'s' if frames[f] != 1 else ''}" if f in frames else f  # at FPS, as said
                for f in info["files_without_windows"]
            ]
            why.append(
                f"{name}: no file has the {SHORT.span} frames ({SHORT.span / FPS:g} s at {FPS:g} fps) of a window "
                f"({listed(short, ', ')})"
            )
        else:
            why.append(f"{name}: " + "; ".join(f"{m} {r}" for m, r in d["unavailable"].items()))
    return "; ".join(why)


def evaluate(
    models: Mapping[str, Forecaster],
    test_sets: Sequence[TestSet] | None = None,
    goal_model: str | None = None,
    batch_size: int = BATCH_SIZE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    progress: Callable[[str, int, int], None] | None = None,
    protocol: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the protocol on several data sets.

    Args:
        models: ``{name: forecaster}``; a nearest-neighbour model must be fitted already (`prepare_models`).
        test_sets: loaded data sets (default: `load_test_set` of every data set in `DATASETS`).
        goal_model: the model the goals are checked for (default: the registry's default motion model).
        batch_size: windows per ``predict`` call.
        resamples, seed: the bootstrap.
        progress: optional ``(description, done, total)``.
        protocol: the protocol description to print and store (default `protocol_description`; files of your
            own: `files_protocol_description`).

    Returns:
        ``{"protocol": {...}, "datasets": {name: {"info", "models", "unavailable", "goals"}}}`` (see
        `evaluate_test_set` and `check_goals`), and ``in_corpus`` (`corpus_notes`) when files of your own are files
        of the training corpus.
    """
    if goal_model is None:
        from posecast.models import default_model

        default = default_model("motion")
        goal_model = default.name if default is not None else None
    if test_sets is None:
        test_sets = [load_test_set(d, progress=progress) for d in DATASETS]
    if protocol is None:  # the data sets run (a bench of some of them had described all three)
        protocol = protocol_description([ts.name for ts in test_sets])
    protocol = dict(protocol)
    protocol["goal_model"] = goal_model
    protocol["bootstrap"] = {"resamples": resamples, "seed": seed}
    result: dict[str, Any] = {"protocol": protocol, "datasets": {}}
    for ts in test_sets:
        r = evaluate_test_set(models, ts, batch_size, resamples, seed, progress)
        r["goals"] = check_goals(r, goal_model)
        result["datasets"][ts.name] = r
    notes = corpus_notes(test_sets)
    if notes:
        result["in_corpus"] = notes
    return result


def print_result(result: Mapping[str, Any], console: Any = None) -> None:
    """Print the protocol, then per data set its facts, the global and root-relative tables (mean and 95 %
    interval per model and horizon), the window counts and the goal line."""
    from rich.console import Console

    from posecast.evaluation.report import horizon_table, protocol_lines

    console = console or Console()
    models = list(dict.fromkeys(m for d in result["datasets"].values() for m in (*d["models"], *d["unavailable"])))
    console.print(f"[bold]{', '.join(models)}[/bold] on {result['protocol']['benchmark']}")
    for line in protocol_lines({k: v for k, v in result["protocol"].items() if not isinstance(v, dict)}):
        console.print(f"  {line}", highlight=False)

    def cell(v: Mapping[str, float]) -> str:
        if not np.isfinite(v["mean"]):
            return "-"
        if v["low"] == v["high"]:  # the files resampled are one file (QA: "82-82" read as an interval)
            return f"{v['mean']:.1f}\n1 file"
        return f"{v['mean']:.1f}\n{v['low']:.0f}-{v['high']:.0f}"

    for name, d in result["datasets"].items():
        info = d["info"]
        console.print(f"\n[bold]{name}[/bold]", highlight=False)
        facts = {
            "files": f"{info['files']}" + (f" ({info['note']})" if info.get("note") else ""),
            "files without windows": info["files_without_windows"] or "none",
            "first frame": info["first_frame"],
            "source fps": info["source_fps"],
            "skeleton": f"{info['skeleton']}: {info['joints']} of {info['joints_in_skeleton']} joints scored",
            "excluded joints": info["excluded_joints"] or "none",
            "root": info["root"],
            "windows by kind": ", ".join(
                f"{k} {n} ({info['files_by_kind'].get(k, 0)} files)" for k, n in info["windows_by_kind"].items()
            ),
        }
        if info.get("file_facts"):  # files of your own
            lost = [f"{f['file']} ({f['tracking_losses']})" for f in info["file_facts"] if f["tracking_losses"]]
            facts["up axis as recorded"] = info["recorded_up_axis"] + (
                "" if info["recorded_up_axis"] == "+y" else " (each file turned to +y)"
            )
            facts["files with tracking losses (scored as recorded)"] = listed(lost, ", ") or "none"
            if info.get("mapping"):
                facts["mapping"] = info["mapping"]
            if info.get("skipped_files"):
                rest = f"all in the JSON: datasets.{name}.info.skipped_files"
                facts["skipped (not motion)"] = listed(info["skipped_files"], rest=rest)
        for line in protocol_lines(facts):
            console.print(f"  {line}", highlight=False)
        for title, key in (("MPJPE, global", "global"), ("MPJPE, root-relative (pose only)", "root_relative")):
            rows = {m: r[key] for m, r in d["models"].items()}
            if rows:
                console.print(
                    horizon_table(
                        f"{name} · {title}: mean, 95 % interval below",
                        rows,
                        unit=" ms",
                        first_column="mm at",
                        cell=cell,
                    )
                )
        console.print("windows: " + ", ".join(f"{h} ms {n}" for h, n in info["windows"].items()), highlight=False)
        for line in worst_file_lines(d):
            console.print(line, highlight=False)
        for m, why in d["unavailable"].items():
            console.print(f"[yellow]{m} not available on {name}: {why}[/yellow]", highlight=False)
        console.print(goal_line(name, d["goals"]), highlight=False)
    for line in corpus_note_lines(result.get("in_corpus", {})):
        console.print(f"\n{line}", style="yellow", highlight=False, markup=False)


#: files listed by `worst_files`
WORST_SHOWN = 5


def worst_files(
    dataset_result: Mapping[str, Any], shown: int = WORST_SHOWN
) -> tuple[str, str, list[tuple[str, float]]]:
    """The files of your own with the largest root-relative error of the first model that has per-file results,
    at the longest horizon every file with windows reaches (400 ms when some file has short windows only, else
    1000 ms): ``(model, horizon label, [(file, mm), ...])``, largest first, at most ``shown``; ``("", "", [])`` for
    the data sets (no per-file results) and single files."""
    models = dataset_result["models"]
    first = next((m for m, r in models.items() if "per_file" in r), None)
    if first is None or len(models[first]["per_file"]) < 2:
        return "", "", []
    rows = [r["root_relative"] for r in models[first]["per_file"].values()]
    reached = [
        lab for lab in HORIZONS if all(r[lab] is not None for r in rows if any(v is not None for v in r.values()))
    ]
    if not reached:
        return "", "", []
    label = reached[-1]
    cells = [(f, r["root_relative"][label]) for f, r in models[first]["per_file"].items()]
    ranked = sorted(((f, v) for f, v in cells if v is not None), key=lambda x: -x[1])
    return first, label, ranked[:shown]


def worst_file_lines(dataset_result: Mapping[str, Any]) -> list[str]:
    """`worst_files` as printed lines."""
    model, label, rows = worst_files(dataset_result)
    if not rows:
        return []
    return [f"largest root-relative errors of {model} at {label} ms (mm):"] + [f"  {f}: {v:.1f}" for f, v in rows]
