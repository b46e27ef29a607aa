"""Training data sources: the CMU-Mocap benchmark training files, the raw CMU BVH training
subjects, or any folder of motion files. Validation is carved from the end of each training
sequence; test data is never touched here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast.data import dataset_dir
from posecast.datasets.windows import split_sequences
from posecast.errors import DataNotFoundError, SkeletonError, ValueRangeError
from posecast.skeletons.base import Skeleton

#: The subject split for work on the raw CMU BVH data (``$POSECAST_DATA/README.md``).
CMU_BVH_TRAIN_SUBJECTS = ("01", "05", "06", "07")
CMU_BVH_TEST_SUBJECTS = ("02", "08")
#: BVH subjects that may add training data to a model reported on the CMU-Mocap benchmark
#: (``cmu-mocap+bvh``): the BVH training subjects without 06, whose ``06_07.bvh`` is the source of the
#: benchmark's basketball test file (``$POSECAST_DATA/README.md``).
CMU_MOCAP_EXTRA_SUBJECTS = tuple(s for s in CMU_BVH_TRAIN_SUBJECTS if s != "06")


@dataclass
class TrainingData:
    """Sequences ``(N_i, J, 3)`` in metres at ``fps`` on ``skeleton``, split into train / validation."""

    skeleton: Skeleton
    fps: float
    train: list[np.ndarray]
    val: list[np.ndarray]
    description: dict[str, Any] = field(default_factory=dict)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _describe(source: str, paths: list[Path], root: Path | None, **extra: Any) -> dict[str, Any]:
    rel = [str(p.relative_to(root)) if root else str(p) for p in paths]
    return {"source": source, "files": dict(zip(rel, (sha256(p) for p in paths), strict=True)), **extra}


def cmu_mocap_sequences(split: str = "train") -> tuple[list[np.ndarray], list[Path], Path]:
    """Benchmark sequences at 60 Hz in metres, body frame, without the synthetic rest pose (line 0)."""
    from posecast.evaluation.protocols import cmu_mocap

    root = cmu_mocap.benchmark_dir()
    paths = [p for ps in cmu_mocap.files(split).values() for p in ps]
    return [cmu_mocap.load_positions(p, "m")[1:] for p in paths], paths, root


def _bvh_files(subjects: tuple[str, ...]) -> tuple[list[Path], Path]:
    """Sorted BVH files of CMU subjects under ``$POSECAST_DATA/cmu_bvh``, and that folder."""
    root = dataset_dir("cmu_bvh")
    assert root is not None
    paths = sorted(p for s in subjects for p in (root / s).glob("*.bvh"))
    if not paths:
        raise DataNotFoundError(f"no BVH files for subjects {', '.join(subjects)}", root)
    return paths, root


def cmu_bvh_motions(subjects: tuple[str, ...], fps: float) -> tuple[list, list[Path], Path]:
    """Motions of the given CMU BVH subjects, resampled to ``fps``, rest-pose frame 0 dropped."""
    from posecast.io import load

    paths, root = _bvh_files(subjects)
    motions = [load(p).frames(1).resample(fps) for p in paths]
    return motions, paths, root


def bvh_as_benchmark(path: Path) -> np.ndarray:
    """One cgspeed CMU BVH file as CMU-Mocap benchmark data: ``(N, 38, 3)`` metres at 60 Hz, body frame.

    The benchmark files are the cgspeed BVH rotations stored as exponential maps on one fixed skeleton
    (``06/06_02.bvh`` replayed this way equals ``train/basketball/basketball_1.txt`` to 1e-9 m; tested).
    So the file's local rotations (End Sites included: the ``cmu-mocap-38`` layout) go through forward
    kinematics on the benchmark's bone offsets with the root rotation and translation dropped, as the
    benchmark's FK does; 120 Hz → 60 Hz by the benchmark's stride 2 (frames 0, 2, 4, ...); frame 0
    (the converter's rest pose) dropped, as `cmu_mocap_sequences` drops line 0.
    """
    from posecast.evaluation.protocols.cmu_mocap import STRIDE
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
    from posecast.evaluation.protocols.cmu_bvh import read_index

    bad = sorted(set(subjects) - set(CMU_MOCAP_EXTRA_SUBJECTS))
    if bad:
        raise ValueRangeError(
            f"CMU BVH subjects {', '.join(bad)} hold test data; benchmark training may add only "
            f"{', '.join(CMU_MOCAP_EXTRA_SUBJECTS)}"
        )
    paths, root = _bvh_files(subjects)
    index = read_index(root)
    paths = [p for p in paths if not index.get(p.relative_to(root).as_posix(), {}).get("also_in")]
    return [bvh_as_benchmark(p) for p in paths], paths, root


def folder_motions(folder: Path, fps: float | None) -> tuple[list, list[Path]]:
    from posecast.io import formats, load

    suffixes = {s for f in formats() for s in f.suffixes}
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not paths:
        raise DataNotFoundError("no motion files found", folder)
    motions = [load(p) for p in paths]
    fps = fps or motions[0].fps
    return [m.resample(fps) for m in motions], paths


def load_training_data(
    source: str, fps: float | None = None, val_fraction: float = 0.1, min_frames: int = 35
) -> TrainingData:
    """Training data by name: ``"cmu-mocap"``, ``"cmu-mocap+bvh"``, ``"cmu-bvh"`` or a folder of motion files.

    ``"cmu-mocap+bvh"``: the benchmark training files plus `cmu_bvh_as_benchmark` (CMU BVH subjects
    `CMU_MOCAP_EXTRA_SUBJECTS` replayed on the benchmark skeleton), all of the extra files in the
    training part; validation is carved from the benchmark files only, so it is the same as with
    ``"cmu-mocap"``.
    """
    from posecast import skeletons

    if source in ("cmu-mocap", "cmu-mocap+bvh"):
        if fps not in (None, 60.0):
            raise ValueRangeError("cmu-mocap training data is at 60 Hz (the benchmark's rate)")
        seqs, paths, root = cmu_mocap_sequences("train")
        train, val = split_sequences(seqs, val_fraction, min_frames)
        desc = _describe("cmu-mocap", paths, root, frame="body (benchmark FK)", fps=60.0)
        if source == "cmu-mocap+bvh":
            extra, extra_paths, extra_root = cmu_bvh_as_benchmark()
            train += [s for s in extra if s.shape[0] >= min_frames]
            more = _describe("cmu-bvh", extra_paths, extra_root)
            desc = {
                **desc,
                "source": source,
                "files": {**desc["files"], **{f"cmu_bvh/{k}": v for k, v in more["files"].items()}},
                "extra_subjects": list(CMU_MOCAP_EXTRA_SUBJECTS),
                "validation": "carved from the benchmark files only",
            }
        return TrainingData(skeletons.get("cmu-mocap-38"), 60.0, train, val, desc)
    if source.split(":")[0] == "cmu-bvh":  # "cmu-bvh" or "cmu-bvh:<layout>" (e.g. cmu-bvh:body-17)
        from posecast.skeletons.mapping import to_layout

        layout = source.partition(":")[2] or "cmu-bvh-31"
        fps = fps or 25.0
        motions, paths, root = cmu_bvh_motions(CMU_BVH_TRAIN_SUBJECTS, fps)
        seqs = [m.positions if layout == "cmu-bvh-31" else to_layout(m, layout).positions for m in motions]
        train, val = split_sequences(seqs, val_fraction, min_frames)
        desc = _describe(source, paths, root, subjects=list(CMU_BVH_TRAIN_SUBJECTS), fps=fps, frame="global")
        return TrainingData(skeletons.get(layout), fps, train, val, desc)
    folder = Path(source)
    if not folder.is_dir():
        raise DataNotFoundError(f"unknown data source {source!r}: use cmu-mocap, cmu-bvh or a folder of motions")
    motions, paths = folder_motions(folder, fps)
    skel = motions[0].skeleton
    for m, p in zip(motions, paths, strict=True):
        if not m.skeleton.same_layout(skel):
            raise SkeletonError(f"mixes skeletons {skel.name!r} and {m.skeleton.name!r}", p)
    train, val = split_sequences([m.positions for m in motions], val_fraction, min_frames)
    return TrainingData(skel, motions[0].fps, train, val, _describe(str(folder), paths, folder, fps=motions[0].fps))
