"""Action labels of the motion files under ``POSECAST_DATA`` (one label per file), for per-class reports and
the key-pose quality classifier.

* ``bandai_namco``: the ``content`` column of ``MANIFEST.csv`` (``bow``, ``raise-up-left-hand``,
  ``wave-both-hands``, ``walk``...), as the data set names it.
* ``cmu_bvh``: the activity group of the clip's ``INDEX.csv`` description (`CMU_GROUPS`: the first rule
  that matches the lower-cased description; e.g. ``"slow walk/stride"`` -> ``walk``,
  ``"playground - climb, hang"`` -> ``playground``); ``other`` when none matches.
* ``cmu_mocap``: the benchmark's action folder (``cmu_mocap/train/basketball_signal/...`` ->
  ``basketball_signal``).
* ``hdm05_cuts``: the motion class of the file name, its first lower-case word
  (``HDM_bd_kickLFront1Reps_001_120.amc`` -> ``kick``, ``HDM_bd_lieDownFloor_001_120.amc`` -> ``lie``).

Labels are plain strings; `action_label` takes the file as the corpus table stores it (relative to
``POSECAST_DATA``, e.g. ``bandai_namco/dataset-1/dataset-1_bow_active_001.bvh.gz``) or as a path.
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

from posecast.datasets.paths import data_root, dataset_dir
from posecast.errors import DataNotFoundError, ValueRangeError

CMU_GROUPS: tuple[tuple[str, str], ...] = (
    ("basketball", r"basketball"),
    ("dance", r"\bdance\b|ballet"),
    ("playground", r"playground|climb|hang\b|swing"),
    ("punch/strike", r"punch|strike|box"),
    ("swordplay", r"sword"),
    ("jump", r"\bjump|hop\b"),
    ("run", r"\brun\b|\bjog"),
    ("walk", r"\bwalk|stride"),
    ("bend", r"\bbend|scoop|pick up"),
    ("wash", r"\bwash"),
)
"""``(group, regular expression)`` tried in order on a CMU description."""
OTHER = "other"


def cmu_group(description: str) -> str:
    """The activity group of a CMU clip description (`CMU_GROUPS`), `OTHER` when no rule matches."""
    text = description.lower()
    for name, pattern in CMU_GROUPS:
        if re.search(pattern, text):
            return name
    return OTHER


def hdm05_class(file_name: str) -> str:
    """The motion class of an HDM05 cut file name: the first lower-case word after ``HDM_<actor>_``."""
    m = re.match(r"HDM_[a-z]+_([a-z]+)", Path(file_name).name)
    if m is None:
        raise ValueRangeError(f"not an HDM05 cut file name: {Path(file_name).name!r}")
    return m.group(1)


@functools.lru_cache(maxsize=4)
def _bandai_contents(root: str) -> dict[str, str]:
    with (Path(root) / "MANIFEST.csv").open(newline="", encoding="utf-8") as fh:
        return {r["file"]: r["content"] for r in csv.DictReader(fh) if r.get("dataset") in ("1", "2")}


@functools.lru_cache(maxsize=4)
def _cmu_descriptions(root: str) -> dict[str, str]:
    with (Path(root) / "INDEX.csv").open(newline="", encoding="utf-8") as fh:
        return {r["file"]: r["description"] for r in csv.DictReader(fh)}


def _relative(dataset: str, file: str | Path) -> str:
    """``file`` relative to the data set's folder (POSIX)."""
    p = Path(file)
    folder = dataset_dir(dataset)
    assert folder is not None
    if p.is_absolute():
        try:
            return p.resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            raise ValueRangeError(f"{p} is not inside the {dataset} folder {folder}") from None
    parts = p.as_posix().split("/")
    return "/".join(parts[1:]) if parts[0] == dataset else p.as_posix()


def action_label(dataset: str, file: str | Path) -> str:
    """The action label of one file of ``dataset`` (module docstring).

    Raises:
        DataNotFoundError: ``POSECAST_DATA`` is not set or lacks the data set's index.
        ValueRangeError: an unknown data set, or a file the index does not list.
    """
    if dataset == "hdm05_cuts":
        return hdm05_class(Path(file).name)
    if dataset not in ("bandai_namco", "cmu_bvh", "cmu_mocap"):
        raise ValueRangeError(f"no action labels for data set {dataset!r}")
    if data_root(required=True) is None:  # pragma: no cover - data_root raises first
        raise DataNotFoundError("POSECAST_DATA is not set")
    rel = _relative(dataset, file)
    if dataset == "cmu_mocap":
        parts = rel.split("/")
        if len(parts) < 3:
            raise ValueRangeError(f"cmu_mocap file {rel!r} is not <split>/<action>/<file>")
        return parts[1]
    folder = str(dataset_dir(dataset))
    table = _bandai_contents(folder) if dataset == "bandai_namco" else _cmu_descriptions(folder)
    if rel not in table:
        raise ValueRangeError(f"{dataset}: {rel!r} is not listed in its index")
    return table[rel] if dataset == "bandai_namco" else cmu_group(table[rel])
