"""The CMU-Mocap motion-prediction benchmark data (``$POSECAST_DATA/cmu_mocap``): its files, split and loaders.

The folder holds exponential-map text files at 120 Hz (``<split>/<action>/<action>_<n>.txt``, one
fixed 38-joint skeleton) listed in ``MANIFEST.csv``; ``PROTOCOL.md`` describes the benchmark. The
loaders here downsample by the benchmark's `STRIDE` (120 Hz → 60 Hz, frames 0, 2, 4, ...) and run the
benchmark's forward kinematics (root rotation and translation dropped: a body frame). The benchmark's
own conventions (its "mm", its "ms" horizon labels, its test windows) live in
`posecast.evaluation.protocols.cmu_mocap`; training reads the training split from here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from posecast.datasets.paths import dataset_dir
from posecast.errors import DataNotFoundError, ValueRangeError
from posecast.io.expmap_txt import (
    CMU_COLUMNS,
    CMU_FPS,
    cmu_benchmark_fk,
    expmap_to_local_rotations,
    read_expmap_array,
)
from posecast.skeletons.cmu import ASF_UNIT_M, CMU_BENCHMARK_OFFSETS_ASF

ACTIONS = (
    "basketball", "basketball_signal", "directing_traffic", "jumping",
    "running", "soccer", "walking", "washwindow",
)  # fmt: skip
STRIDE = 2  # 120 Hz files -> every second line
FPS = CMU_FPS / STRIDE  # 60 Hz after downsampling
SKELETON = "cmu-mocap-38"
SPLITS = ("train", "test")


def benchmark_dir(data_dir: str | Path | None = None) -> Path:
    """The benchmark folder: ``data_dir`` (checked for ``MANIFEST.csv``) or ``$POSECAST_DATA/cmu_mocap``."""
    if data_dir is not None:
        path = Path(data_dir)
        if not (path / "MANIFEST.csv").is_file():
            raise DataNotFoundError("not a CMU-Mocap benchmark folder (no MANIFEST.csv)", path)
        return path
    path = dataset_dir("cmu_mocap")
    assert path is not None
    return path


def manifest(data_dir: str | Path | None = None) -> list[dict[str, str]]:
    """Rows of ``MANIFEST.csv`` for benchmark files that are present on disk."""
    root = benchmark_dir(data_dir)
    with open(root / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r for r in rows if r["in_benchmark"] == "yes" and r["status"] == "present" and (root / r["path"]).is_file()]


def files(split: str, data_dir: str | Path | None = None) -> dict[str, list[Path]]:
    """``{action: [files]}`` of a split (``"train"`` or ``"test"``), only files present."""
    if split not in SPLITS:
        raise ValueRangeError(f"split must be 'train' or 'test', got {split!r}")
    root = benchmark_dir(data_dir)
    out: dict[str, list[Path]] = {}
    for r in manifest(root):
        if r["split"] == split and r["action"] in ACTIONS:
            out.setdefault(r["action"], []).append(root / r["path"])
    return {a: sorted(out[a], key=lambda p: int(p.stem.rsplit("_", 1)[1])) for a in ACTIONS if a in out}


def load_positions(path: Path, scale: float = ASF_UNIT_M) -> np.ndarray:
    """``(N, 38, 3)`` downsampled (60 Hz) positions of one file by the benchmark's FK (body frame), line 0
    (the converter's rest pose) included; bone offsets are the ASF offsets x ``scale`` (default: metres)."""
    values = read_expmap_array(Path(path), CMU_COLUMNS)[::STRIDE]
    return cmu_benchmark_fk(values, CMU_BENCHMARK_OFFSETS_ASF * scale)


def load_rotations(path: Path) -> np.ndarray:
    """``(N, 38, 3, 3)`` local rotations of one file, downsampled to 60 Hz exactly as `load_positions`
    (line 0 included), root rotation set to identity as the benchmark FK ignores it."""
    values = read_expmap_array(Path(path), CMU_COLUMNS)[::STRIDE]
    rot = expmap_to_local_rotations(values[:, 3:].reshape(values.shape[0], -1, 3))
    rot[:, 0] = np.eye(3)
    return rot


def cmu_mocap_sequences(split: str = "train") -> tuple[list[np.ndarray], list[Path], Path]:
    """Benchmark sequences at 60 Hz in metres, body frame, without the synthetic rest pose (line 0):
    ``(sequences, files, folder)``."""
    root = benchmark_dir()
    paths = [p for ps in files(split).values() for p in ps]
    return [load_positions(p)[1:] for p in paths], paths, root


def rotation_sequences(split: str = "train", data_dir: str | Path | None = None) -> tuple[list[np.ndarray], list[Path]]:
    """Benchmark sequences ``[(N_i, 38, 3, 3), ...]`` of a split at 60 Hz without the rest pose (line 0)."""
    paths = [p for ps in files(split, data_dir).values() for p in ps]
    return [load_rotations(p)[1:] for p in paths], paths


def training_sequences(data_dir: str | Path | None = None) -> list[np.ndarray]:
    """Downsampled training sequences ``[(N, 38, 3), ...]`` in metres, line 0 included, all actions pooled
    (as the benchmark's reference code feeds its nearest-neighbour and training loaders)."""
    return [load_positions(p) for paths in files("train", data_dir).values() for p in paths]
