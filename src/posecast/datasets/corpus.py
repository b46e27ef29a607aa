"""The training corpus: every motion data set under ``POSECAST_DATA`` with a hierarchy, on the canonical
body (``smplh-22``), in metres, at 25 fps, in one compact file.

What goes in (`posecast.datasets.splits` has the fixed splits of ``$POSECAST_DATA/README.md``):

* ``cmu_bvh``: training subjects 01, 05, 06, 07 (train and validation files); frame 0 of every file
  (the converter's synthetic rest pose) dropped;
* ``bandai_namco``: the training and validation styles;
* ``cmu_mocap``: the benchmark's training files that are not ``cmu_bvh`` files (``splits.
  benchmark_extra_files``), with their global root motion (``global_motion=True``), line 0 (rest pose)
  dropped; all of them in the training split.

Test parts never enter (HDM05 is a test set only). Each file is resampled linearly to `FPS`, mapped
onto the canonical body with `posecast.skeletons.canonical.retarget` (its own automatic mapping), and
stored as float16 positions relative to the canonical pelvis (``(N, 22, 3)``, rounding error under
0.25 mm for a body within 2 m of its pelvis) plus the float32 pelvis path (``(N, 3)``). Every
sequence keeps its data set, split and source file, so a run can leave sources out (a CMU-Mocap
benchmark model never sees ``cmu_bvh`` subject 06). Augmentation (mirror, yaw, speed, scale) is applied
on the fly by the trainers, not stored.

The file is cached at ``<cache>/corpus/corpus-<key>.npz`` (`cache_dir`; a plain ``.npz`` of arrays plus a
JSON table, read with ``allow_pickle=False``); the key hashes the data manifests and the source of the
code that makes the corpus, so changed data or code rebuilds it. ``posecast corpus build|info``.

Machines without the data (a rented GPU): `posecast.datasets.corpus_pack` packs the file losslessly for
the trip (``posecast corpus pack|unpack``), and ``POSECAST_CORPUS_FILE`` makes `load` read a corpus file
as it is, without ``POSECAST_DATA`` or the key check.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecast.datasets import splits
from posecast.datasets.paths import data_root
from posecast.errors import DataNotFoundError, FormatError, PosecastError, ValueRangeError
from posecast.io.registry import atomic_output

FPS = 25.0
SKELETON = "smplh-22"
DATASETS = ("cmu_bvh", "bandai_namco", "cmu_mocap")
CORPUS_SPLITS = ("train", "validation")
MIN_FRAMES = 10
CACHE_ENV = "POSECAST_CACHE"
#: a corpus file to use as it is (no data folder, no key check): `load`
FILE_ENV = "POSECAST_CORPUS_FILE"
#: data files whose contents define the corpus (their hashes are part of the cache key)
MANIFESTS = ("cmu_bvh/INDEX.csv", "bandai_namco/MANIFEST.csv", "cmu_mocap/MANIFEST.csv")
#: modules whose source defines the corpus (relative to the package)
CODE = (
    "datasets/corpus.py",
    "datasets/splits.py",
    "skeletons/canonical.py",
    "skeletons/smpl.py",
    "io/bvh.py",
    "io/decimals.py",  # the BVH reader's value parser
    "io/expmap_txt.py",
    "io/registry.py",
    "motion.py",
)
PACKAGE = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Where cached artifacts live: ``$POSECAST_CACHE``, else ``.cache/`` of the repository checkout the
    package runs from (git-ignored), else ``~/.cache/posecast``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    repo = PACKAGE.parent.parent
    if (repo / "pyproject.toml").is_file() and (repo / "src" / "posecast").is_dir():
        return repo / ".cache"
    return Path.home() / ".cache" / "posecast"


def corpus_key() -> str:
    """16 hex digits of SHA-256 over the data manifests and the corpus code."""
    root = data_root()
    assert root is not None
    h = hashlib.sha256()
    for rel in MANIFESTS:
        path = root / rel
        if not path.is_file():
            raise DataNotFoundError(f"corpus manifest {rel} missing", root)
        h.update(rel.encode() + b"\0" + path.read_bytes())
    for rel in CODE:
        path = PACKAGE / rel
        h.update(rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b""))
    return h.hexdigest()[:16]


def corpus_path(key: str | None = None) -> Path:
    """The cache file of the corpus with ``key`` (default: the current one)."""
    return cache_dir() / "corpus" / f"corpus-{key or corpus_key()}.npz"


# ------------------------------------------------------------------------------------- the data
@dataclass
class Corpus:
    """The corpus in memory.

    Attributes:
        rel: ``(N, 22, 3)`` float16 canonical positions relative to the pelvis (metres).
        root: ``(N, 3)`` float32 pelvis path (metres, y up).
        offsets: ``(S + 1,)`` int64 first row of each sequence (and the total).
        table: one dict per sequence: ``dataset``, ``split``, ``file`` (relative to ``POSECAST_DATA``),
            ``frames``, ``source_fps``.
        key: the cache key it was built with.
    """

    rel: np.ndarray
    root: np.ndarray
    offsets: np.ndarray
    table: list[dict[str, Any]]
    key: str = ""

    @property
    def fps(self) -> float:
        return FPS

    def select(
        self,
        split: str | None = None,
        datasets: Sequence[str] | None = None,
        exclude: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[int]:
        """Indices of the sequences of ``split`` (any) from ``datasets`` (all), minus those ``exclude`` rejects."""
        return [
            i
            for i, row in enumerate(self.table)
            if (split is None or row["split"] == split)
            and (datasets is None or row["dataset"] in datasets)
            and not (exclude is not None and exclude(row))
        ]

    def positions(self, index: int) -> np.ndarray:
        """``(T, 22, 3)`` float32 global positions of sequence ``index``."""
        a, b = self.offsets[index], self.offsets[index + 1]
        return self.rel[a:b].astype(np.float32) + self.root[a:b, None]

    def sequences(self, indices: Iterable[int]) -> list[np.ndarray]:
        return [self.positions(i) for i in indices]

    def minutes(self) -> dict[str, dict[str, float]]:
        """``{data set: {split: minutes}}``."""
        out: dict[str, dict[str, float]] = {}
        for row in self.table:
            d = out.setdefault(row["dataset"], {})
            d[row["split"]] = d.get(row["split"], 0.0) + row["frames"] / FPS / 60.0
        return out

    def describe(self) -> dict[str, Any]:
        """What is in it (for ``posecast corpus info`` and model cards)."""
        counts: dict[str, dict[str, int]] = {}
        for row in self.table:
            counts.setdefault(row["dataset"], {}).setdefault(row["split"], 0)
            counts[row["dataset"]][row["split"]] += 1
        return {
            "key": self.key,
            "skeleton": SKELETON,
            "fps": FPS,
            "frames": int(self.offsets[-1]),
            "sequences": len(self.table),
            "minutes": {d: {s: round(m, 2) for s, m in v.items()} for d, v in self.minutes().items()},
            "files": counts,
        }


# ---------------------------------------------------------------------------------------- build
def _jobs() -> list[tuple[str, str, str]]:
    """``(data set, split, path)`` of every corpus file."""
    jobs = []
    for dataset in DATASETS:
        for split in CORPUS_SPLITS:
            jobs += [(dataset, split, str(p)) for p in splits.files(dataset, split)]
    return jobs


def load_source(dataset: str, path: str | Path) -> tuple[np.ndarray, float]:
    """One corpus file on the canonical body at `FPS`: ``((T, 22, 3) float64 global positions, source fps)``."""
    from posecast.skeletons.canonical import retarget

    motion = splits.load_motion(dataset, path)
    source_fps = motion.fps
    motion = motion.resample(FPS)
    try:
        canon = retarget(motion.skeleton).to_canonical(motion.positions)
    except PosecastError as exc:  # name the file
        raise FormatError(f"cannot map onto {SKELETON}: {exc}", Path(path)) from None
    return canon, source_fps


def _work(job: tuple[str, str, str]) -> tuple[str, str, str, np.ndarray, np.ndarray, float]:
    dataset, split, path = job
    canon, source_fps = load_source(dataset, path)
    root = canon[:, 0].astype(np.float32)
    rel = (canon - canon[:, :1]).astype(np.float16)
    return dataset, split, path, rel, root, source_fps


def build(force: bool = False, workers: int | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Build the corpus file (unless the current one exists and not ``force``) and return its path.

    ``workers`` processes load files in parallel (default: the CPU count, at most 8)."""
    key = corpus_key()
    out = corpus_path(key)
    if out.is_file() and not force:
        return out
    root_dir = data_root()
    assert root_dir is not None
    jobs = _jobs()
    workers = workers or min(os.cpu_count() or 1, 8)
    start = time.perf_counter()
    results = []
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn" if os.name == "nt" else "fork").Pool(workers) as pool:
            for i, r in enumerate(pool.imap(_work, jobs, chunksize=8)):
                results.append(r)
                if progress:
                    progress(i + 1, len(jobs))
    else:
        for i, job in enumerate(jobs):
            results.append(_work(job))
            if progress:
                progress(i + 1, len(jobs))
    results = [r for r in results if r[3].shape[0] >= MIN_FRAMES]
    rel = np.concatenate([r[3] for r in results])
    root = np.concatenate([r[4] for r in results])
    offsets = np.concatenate([[0], np.cumsum([r[3].shape[0] for r in results])]).astype(np.int64)
    table = [
        {
            "dataset": d,
            "split": s,
            "file": Path(p).resolve().relative_to(root_dir.resolve()).as_posix(),
            "frames": int(r.shape[0]),
            "source_fps": float(f),
        }
        for d, s, p, r, _, f in results
    ]
    meta = {"key": key, "skeleton": SKELETON, "fps": FPS, "build_seconds": round(time.perf_counter() - start, 1)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(out) as tmp, open(tmp, "wb") as fh:  # a temporary file of its own: two builds may race
        np.savez(
            fh,
            rel=rel,
            root=root,
            offsets=offsets,
            table=np.frombuffer(json.dumps(table).encode(), dtype=np.uint8),
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
    for old in out.parent.glob("corpus-*.npz"):  # keep only the current corpus
        if old != out:
            old.unlink(missing_ok=True)
    return out


def read(path: str | Path) -> Corpus:
    """A corpus file written by `build`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            table = json.loads(z["table"].tobytes().decode())
            meta = json.loads(z["meta"].tobytes().decode())
            return Corpus(z["rel"], z["root"], z["offsets"], table, meta.get("key", ""))
    except (OSError, KeyError, ValueError) as exc:
        raise FormatError(f"not a PoseCast corpus file: {exc}", path) from None


def load(build_if_missing: bool = True) -> Corpus:
    """The current corpus (built first when missing and ``build_if_missing``); the file named by
    ``POSECAST_CORPUS_FILE`` instead when that is set."""
    override = os.environ.get(FILE_ENV)
    if override:
        if not Path(override).is_file():
            raise DataNotFoundError(f"{FILE_ENV} names no file", override)
        return read(override)
    path = corpus_path()
    if not path.is_file():
        if not build_if_missing:
            raise DataNotFoundError("the training corpus is not built; run `posecast corpus build`", path)
        path = build()
    return read(path)


def training_sequences(
    split: str = "train", datasets: Sequence[str] | None = None, exclude_files: Sequence[str] = ()
) -> tuple[list[np.ndarray], list[dict[str, Any]], Corpus]:
    """Global canonical sequences of ``split``; ``exclude_files`` are prefixes of ``file`` to leave out
    (e.g. ``"cmu_bvh/06/"``). Returns ``(sequences, their table rows, corpus)``."""
    if split not in CORPUS_SPLITS:
        raise ValueRangeError(f"the corpus holds the splits {', '.join(CORPUS_SPLITS)}, not {split!r}")
    corpus = load()
    idx = corpus.select(split, datasets, lambda row: any(row["file"].startswith(x) for x in exclude_files))
    return corpus.sequences(idx), [corpus.table[i] for i in idx], corpus
