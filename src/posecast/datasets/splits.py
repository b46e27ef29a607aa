"""The fixed train / validation / test splits of the motion data sets under ``POSECAST_DATA``.

One place for the splits of ``$POSECAST_DATA/README.md`` that the training corpus
(`posecast.datasets.corpus`) and the cross-data-set benchmark (`posecast.evaluation.protocols.corpus`)
both read:

* ``cmu_bvh``: **train** subjects 01, 05, 06, 07 except the validation files; **validation** every 6th
  file of the training subjects (`CMU_BVH_VALIDATION_EVERY`, counting from the 3rd); **test** subjects 02, 08.
* ``bandai_namco`` (split by style): **test** dataset-2 ``feminine``, dataset-1 ``giant`` and ``sad``;
  **validation** dataset-2 ``exhausted``, dataset-1 ``proud`` and ``tired``; **train** every other file.
* ``hdm05_cuts``: **test** only (actor ``bd``: a lab and an actor never trained on).
* ``cmu_mocap``: **train** only, the benchmark training files whose raw source is not a ``cmu_bvh`` file
  (`benchmark_extra_files`); the benchmark's own test split belongs to its own protocol.

The ``cmu_mocap`` benchmark training files that *are* ``cmu_bvh`` files (``INDEX.csv``, ``also_in``) are
left out: those from the BVH training subjects are already in the corpus as BVH, those from the BVH
test subjects (``02_01``, ``08_*``) must never enter training for a model reported on them.
"""

from __future__ import annotations

import csv
from pathlib import Path

from posecast.datasets.cmu_bvh import TEST_SUBJECTS, TRAIN_SUBJECTS, bvh_files
from posecast.datasets.paths import dataset_dir
from posecast.errors import DataNotFoundError, ValueRangeError

SPLITS = ("train", "validation", "test")
DATASETS = ("cmu_bvh", "bandai_namco", "hdm05_cuts", "cmu_mocap")

#: every n-th file (sorted by name, counting from the 3rd) of the CMU BVH training subjects validates
CMU_BVH_VALIDATION_EVERY = 6
BANDAI_TEST_STYLES = {"2": ("feminine",), "1": ("giant", "sad")}
BANDAI_VALIDATION_STYLES = {"2": ("exhausted",), "1": ("proud", "tired")}
HDM05_ACTORS = ("bd",)
#: data sets whose frame 0 is a synthetic rest pose written by the converter (dropped by `load_motion`);
#: Bandai Namco and HDM05 start with real motion (their PROVENANCE.md)
REST_POSE_FIRST_FRAME = {"cmu_bvh": True, "cmu_mocap": True, "bandai_namco": False, "hdm05_cuts": False}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueRangeError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def cmu_bvh_files(split: str) -> list[Path]:
    """Sorted ``cmu_bvh`` files of ``split``."""
    _check_split(split)
    if split == "test":
        return bvh_files(TEST_SUBJECTS)[0]
    train = bvh_files(TRAIN_SUBJECTS)[0]
    val = set(train[2::CMU_BVH_VALIDATION_EVERY])
    return [p for p in train if (p in val) == (split == "validation")]


def bandai_manifest() -> list[dict[str, str]]:
    """Rows of ``bandai_namco/MANIFEST.csv`` that are motion files (``dataset`` 1 or 2)."""
    root = dataset_dir("bandai_namco")
    assert root is not None
    path = root / "MANIFEST.csv"
    if not path.is_file():
        raise DataNotFoundError("no MANIFEST.csv in the Bandai Namco folder", root)
    with open(path, newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["dataset"] in ("1", "2") and r["file"].endswith(".bvh.gz")]


def bandai_split(dataset: str, style: str) -> str:
    """The split of a Bandai Namco file from its data set (``"1"``/``"2"``) and style."""
    if style in BANDAI_TEST_STYLES.get(dataset, ()):
        return "test"
    if style in BANDAI_VALIDATION_STYLES.get(dataset, ()):
        return "validation"
    return "train"


def bandai_files(split: str) -> list[Path]:
    """Sorted ``bandai_namco`` ``.bvh.gz`` files of ``split`` (by style, see the module table)."""
    _check_split(split)
    root = dataset_dir("bandai_namco")
    assert root is not None
    return sorted(root / r["file"] for r in bandai_manifest() if bandai_split(r["dataset"], r["style"]) == split)


def hdm05_asf(actor: str = "bd") -> Path:
    """The calibrated skeleton file of an HDM05 actor."""
    root = dataset_dir("hdm05_cuts")
    assert root is not None
    return root / "asf" / f"HDM_{actor}.asf"


def hdm05_files(split: str) -> list[Path]:
    """Sorted HDM05 ``.amc`` clips of ``split`` (all of them are test data)."""
    _check_split(split)
    if split != "test":
        return []
    root = dataset_dir("hdm05_cuts")
    assert root is not None
    return sorted(p for a in HDM05_ACTORS for p in (root / a).glob("*.amc"))


def benchmark_extra_files() -> list[Path]:
    """CMU-Mocap benchmark training files that are not ``cmu_bvh`` files (module docstring)."""
    root = dataset_dir("cmu_mocap")
    assert root is not None
    with open(root / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    index_root = dataset_dir("cmu_bvh")
    assert index_root is not None
    with open(index_root / "INDEX.csv", newline="", encoding="utf-8") as fh:
        bvh_sources = {r["file"].split("/")[-1].removesuffix(".bvh") for r in csv.DictReader(fh)}
    return sorted(
        root / r["path"]
        for r in rows
        if r["split"] == "train" and r["status"] == "present" and r["cmu_source_trial"] not in bvh_sources
    )


def files(dataset: str, split: str) -> list[Path]:
    """Sorted files of ``dataset`` (`DATASETS`) in ``split`` (`SPLITS`)."""
    _check_split(split)
    if dataset == "cmu_bvh":
        return cmu_bvh_files(split)
    if dataset == "bandai_namco":
        return bandai_files(split)
    if dataset == "hdm05_cuts":
        return hdm05_files(split)
    if dataset == "cmu_mocap":
        return benchmark_extra_files() if split == "train" else []
    raise ValueRangeError(f"unknown data set {dataset!r}; known: {', '.join(DATASETS)}")


def load_motion(dataset: str, path: str | Path):
    """One file of ``dataset`` as a `Motion` ready for use: its synthetic rest-pose frame dropped
    (`REST_POSE_FIRST_FRAME`) and, for the ``cmu_mocap`` exp-map files, with their global root motion
    (``global_motion=True``); any other ``dataset`` name is loaded as it is."""
    from posecast.io import load

    motion = load(path, global_motion=True) if dataset == "cmu_mocap" else load(path)
    return motion.frames(1) if REST_POSE_FIRST_FRAME.get(dataset, False) else motion
