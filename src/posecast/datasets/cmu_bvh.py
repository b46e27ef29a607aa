"""The raw CMU BVH data (``$POSECAST_DATA/cmu_bvh``): its subject split, files, index and loaders.

The folder holds the cgspeed BVH conversion of the CMU motion-capture database at 120 Hz
(``<subject>/<subject>_<clip>.bvh``, skeleton ``cmu-bvh-31``; frame 0 of every file is the
converter's synthetic rest pose) and ``INDEX.csv`` (one row per file: subject, description, and
``also_in``: the CMU-Mocap benchmark file made from it, if any). The subject split is fixed
(``$POSECAST_DATA/README.md``): training subjects `TRAIN_SUBJECTS`, test subjects `TEST_SUBJECTS`;
`CMU_MOCAP_EXTRA_SUBJECTS` may add training data to a model reported on the CMU-Mocap benchmark.

Protocols (`posecast.evaluation.protocols.cmu_bvh`, ``long_horizon``, ``video``, ``keyposes``) and
training (`posecast.datasets.training_data`, the video and key-pose trainers) read the split and the
files from here.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from posecast.datasets.paths import dataset_dir
from posecast.errors import DataNotFoundError, SkeletonError, ValueRangeError

#: The subject split for work on the raw CMU BVH data (``$POSECAST_DATA/README.md``).
TRAIN_SUBJECTS = ("01", "05", "06", "07")
TEST_SUBJECTS = ("02", "08")
#: BVH subjects that may add training data to a model reported on the CMU-Mocap benchmark
#: (``cmu-mocap+bvh``): the BVH training subjects without 06, whose ``06_07.bvh`` is the source of the
#: benchmark's basketball test file (``$POSECAST_DATA/README.md``).
CMU_MOCAP_EXTRA_SUBJECTS = tuple(s for s in TRAIN_SUBJECTS if s != "06")
SKELETON = "cmu-bvh-31"
SOURCE_FPS = 120.0


def bvh_dir(data_dir: str | Path | None = None) -> Path:
    """The raw CMU BVH folder: ``data_dir`` (checked for ``INDEX.csv``) or ``$POSECAST_DATA/cmu_bvh``."""
    if data_dir is None:
        path = dataset_dir("cmu_bvh")
        assert path is not None
        return path
    path = Path(data_dir)
    if not (path / "INDEX.csv").is_file():
        raise DataNotFoundError(
            "not a CMU BVH folder: it needs an INDEX.csv (columns subject, trial, file, description; one row per "
            "<subject>/<subject>_<trial>.bvh, the description giving the action) as $POSECAST_DATA/cmu_bvh has",
            path,
        )
    return path


def read_index(data_dir: str | Path | None = None) -> dict[str, dict[str, str]]:
    """Rows of ``INDEX.csv`` by file (``"02/02_05.bvh"``)."""
    root = bvh_dir(data_dir)
    path = root / "INDEX.csv"
    if not path.is_file():
        raise DataNotFoundError("no INDEX.csv in the CMU BVH folder", root)
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


def bvh_files(subjects: Sequence[str], data_dir: str | Path | None = None) -> tuple[list[Path], Path]:
    """Sorted BVH files of CMU ``subjects`` and the folder (``data_dir`` or ``$POSECAST_DATA/cmu_bvh``)."""
    root = bvh_dir(data_dir)
    paths = sorted(p for s in subjects for p in (root / s).glob("*.bvh"))
    if not paths:
        raise DataNotFoundError(f"no BVH files for subjects {', '.join(subjects)}", root)
    return paths, root


def cmu_bvh_motions(
    subjects: Sequence[str], fps: float | None = None, data_dir: str | Path | None = None
) -> tuple[list, list[Path], Path]:
    """`Motion` of every BVH file of ``subjects``, rest-pose frame 0 dropped, resampled linearly to
    ``fps`` (``None``: the files' own 120 Hz): ``(motions, files, folder)``."""
    from posecast.io import load

    paths, root = bvh_files(subjects, data_dir)
    motions = [load(p).frames(1) for p in paths]
    if fps is not None:
        motions = [m.resample(fps) for m in motions]
    return motions, paths, root


def bvh_as_benchmark(path: Path) -> np.ndarray:
    """One cgspeed CMU BVH file as CMU-Mocap benchmark data: ``(N, 38, 3)`` metres at 60 Hz, body frame.

    The benchmark files are the cgspeed BVH rotations stored as exponential maps on one fixed skeleton
    (``06/06_02.bvh`` replayed this way equals ``train/basketball/basketball_1.txt`` to 1e-9 m; tested).
    So the file's local rotations (End Sites included: the ``cmu-mocap-38`` layout) go through forward
    kinematics on the benchmark's bone offsets with the root rotation and translation dropped, as the
    benchmark's FK does; 120 Hz → 60 Hz by the benchmark's stride 2 (frames 0, 2, 4, ...); frame 0
    (the converter's rest pose) dropped, as `posecast.datasets.cmu_mocap.cmu_mocap_sequences` drops line 0.
    """
    from posecast.datasets.cmu_mocap import STRIDE
    from posecast.io.bvh import read_bvh
    from posecast.kinematics.fk import forward_kinematics
    from posecast.skeletons.base import get as get_skeleton
    from posecast.skeletons.cmu import ASF_UNIT_M, CMU_BENCHMARK_OFFSETS_ASF

    skel = get_skeleton("cmu-mocap-38")
    motion = read_bvh(path, end_sites=True)
    if motion.rotations is None or not motion.skeleton.same_layout(skel):
        raise SkeletonError("not a cgspeed CMU BVH file (expected the cmu-mocap-38 hierarchy)", path)
    rot = motion.rotations[::STRIDE].copy()
    rot[:, 0] = np.eye(3)
    pos = forward_kinematics(rot, CMU_BENCHMARK_OFFSETS_ASF * ASF_UNIT_M, skel.parents, None)[0]
    return pos[1:].astype(np.float32)


def cmu_bvh_as_benchmark(
    subjects: tuple[str, ...] = CMU_MOCAP_EXTRA_SUBJECTS,
) -> tuple[list[np.ndarray], list[Path], Path]:
    """Every BVH file of ``subjects`` through `bvh_as_benchmark`, except the files that already are
    benchmark files (``INDEX.csv`` column ``also_in``). Only `CMU_MOCAP_EXTRA_SUBJECTS` are accepted:
    subject 06 holds the source of a benchmark test file, 02 and 08 are the BVH test subjects."""
    bad = sorted(set(subjects) - set(CMU_MOCAP_EXTRA_SUBJECTS))
    if bad:
        raise ValueRangeError(
            f"CMU BVH subjects {', '.join(bad)} hold test data; benchmark training may add only "
            f"{', '.join(CMU_MOCAP_EXTRA_SUBJECTS)}"
        )
    paths, root = bvh_files(subjects)
    index = read_index(root)
    paths = [p for p in paths if not index.get(p.relative_to(root).as_posix(), {}).get("also_in")]
    return [bvh_as_benchmark(p) for p in paths], paths, root
