"""Which files of one's own are files of the training corpus (`posecast.datasets.corpus`), by content.

The benches on files of one's own (``posecast bench files``, ``bench long-horizon --files``) score whatever they are
given; a corpus file among them is motion the learned models and the nearest-neighbour baseline were fitted on (its
training split) or chosen on (its validation split), so its numbers are memorised, not forecast. `find` names such
files by the SHA-256 of their content against the hashes the data sets' own indexes list (``cmu_bvh/INDEX.csv``,
``bandai_namco/MANIFEST.csv``, ``cmu_mocap/MANIFEST.csv``: of the file's bytes, of the decompressed BVH for
Bandai's ``.bvh.gz``), so a renamed or recompressed copy is found and a file that only shares a name is not. The data
sets are never hashed (their indexes hold the hashes), and a file of one's own is hashed only when an index lists a
file of its size (a gzip file: always, decompressed as it is read anyway).

This module is not part of the corpus's cache key (`posecast.datasets.corpus.CODE`): it reads the splits, it does
not make them.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Sequence
from pathlib import Path

from posecast.datasets import splits
from posecast.datasets.corpus import CORPUS_SPLITS, DATASETS
from posecast.datasets.paths import dataset_dir
from posecast.errors import PosecastError

#: per corpus data set: its index file and the column that names the file (relative to the data set's folder)
INDEXES = {
    "cmu_bvh": ("INDEX.csv", "file"),
    "bandai_namco": ("MANIFEST.csv", "file"),
    "cmu_mocap": ("MANIFEST.csv", "path"),
}


def index() -> dict[str, tuple[str, str, int]]:
    """Every file of the corpus's splits (`CORPUS_SPLITS` of `DATASETS`, and their test splits: a score on one is on
    held-out data, which a user should see too) that its data set's index lists with a hash: ``{sha256: (split,
    "dataset/file", content bytes or -1)}``. Data sets not under ``POSECAST_DATA`` (or without an index) are left
    out; no ``POSECAST_DATA``: empty."""
    out: dict[str, tuple[str, str, int]] = {}
    for dataset in DATASETS:
        root = dataset_dir(dataset, required=False)
        table, column = INDEXES[dataset]
        if root is None or not (root / table).is_file():
            continue
        try:
            split_of = {p.resolve(): s for s in (*CORPUS_SPLITS, "test") for p in splits.files(dataset, s)}
        except PosecastError:  # a data set folder without its files: nothing of it to match
            continue
        with open(root / table, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                split = split_of.get((root / row.get(column, "")).resolve())
                digest = (row.get("sha256") or "").strip().lower()
                if split and digest:
                    size = (row.get("bytes") or "").strip()
                    out[digest] = (split, f"{dataset}/{row[column]}", int(size) if size.isdigit() else -1)
    return out


def content_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's content, decompressed when it is gzip (as the indexes hash Bandai's files); None when
    it cannot be read."""
    from posecast.datasets.training_data import stream_sha256
    from posecast.io.registry import is_gzip

    try:
        with gzip.open(path, "rb") if is_gzip(path) else open(path, "rb") as fh:
            return stream_sha256(fh)
    except (OSError, EOFError, zlib.error):
        return None


def find(paths: Sequence[Path], known: dict[str, tuple[str, str, int]] | None = None) -> dict[Path, tuple[str, str]]:
    """The files of ``paths`` whose content is a corpus file: ``{path: (split, "dataset/file")}`` (``known``:
    `index`, read when not given). A plain file is hashed only when some corpus file has its size."""
    from posecast.io.registry import is_gzip

    known = index() if known is None else known
    if not known:
        return {}
    sizes = {size for _, _, size in known.values()}
    out: dict[Path, tuple[str, str]] = {}
    for p in paths:
        p = Path(p)
        try:
            if not is_gzip(p) and -1 not in sizes and p.stat().st_size not in sizes:
                continue
        except OSError:
            continue
        digest = content_sha256(p)
        if digest in known:
            split, source, _ = known[digest]
            out[p] = (split, source)
    return out
