"""The classifier plug-in of the training loop: ``keypose-classifier``
(`posecast.keyposes.classifier.PoseClassifier`, the pose classifier behind the key-pose quality score).

* Data, ``data: cmu-bvh`` (`labelled_poses`): every frame at ``fps`` of the clips of the CMU BVH training
  subjects (01, 05, 06, 07) whose ``INDEX.csv`` description has a coarse class
  (`posecast.keyposes.classifier.coarse_label`); ``data:`` may name another folder with the same layout
  (``INDEX.csv`` + ``<subject>/*.bvh``).
* Data, ``data: corpus`` (`corpus_keyposes`): the key poses of the corpus's *train* split on the canonical
  body (``smplh-22``, 25 fps), mined as the corpus key-pose pairs mine them
  (`posecast.keyposes.dataset.CORPUS_MINING`), each with the ``neighbours`` frames either side (default
  2: +-80 ms). Key poses, not every frame: the classifier judges forecast key poses, and the frames
  between them (the rest poses that open and close every Bandai clip, mid-strides) look alike across
  actions; the neighbours make five times the examples and tolerate a forecast slightly off the
  extreme. Classes: the action labels (`posecast.keyposes.classifier.choose_classes`, ``min_motions``,
  ``min_keyposes``). Validation: the true key poses (no neighbours) of the corpus's *validation* split,
  every epoch (accuracy, balanced accuracy); test data is never read.
* Rounds are epochs: a seeded permutation of the poses, half of every batch mirrored left/right; a
  mirrored pose takes its class's mirror class (`posecast.keyposes.classifier.mirror_indices`:
  ``wave-left-hand`` <-> ``wave-right-hand``...), a sided class without a twin is never mirrored.
* Loss: class-balanced cross-entropy (weights: inverse class frequencies; with mirroring the frequency of a
  sided class is the mean of its and its twin's, what the mirrored batches see).
* Schedule: no warm-up by default, cosine decay to 0 over the run; no gradient clipping.
* After the last epoch the accuracy on the training poses and (``cmu-bvh``) on the labelled clips of the
  test subjects (02, 08) or (``corpus``) on the validation key poses, with the inception-style score of
  the true validation key poses, is recorded in ``last/config.json`` and ``run.json`` (the classifier is
  a measuring instrument for the key-pose benchmark, not a forecaster; its card reports them). The last
  weights are the result (no ``best/``: validation picks nothing).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from posecast.errors import ValueRangeError
from posecast.keyposes.classifier import (
    CLASS_RULES,
    CLASSES,
    LABEL_ALIASES,
    PoseClassifier,
    choose_classes,
    corpus_class,
    inception_score,
    index_labels,
    mirror_indices,
    save_classifier,
)
from posecast.motion import Motion
from posecast.skeletons.base import Skeleton
from posecast.training.loop import LoopConfig, Plugin, TrainingTask, fit, read_config

CORPUS = "corpus"
"""The ``data:`` value that trains on the corpus action labels."""


class ClassifierTrainConfig(LoopConfig):
    """A training run of the pose classifier; ``configs/keypose-classifier/*.yaml`` map onto it."""

    model: str = "keypose-classifier"
    data: str = Field(
        default="cmu-bvh",
        description="cmu-bvh, a folder with its layout (INDEX.csv + subjects), or corpus (its action labels)",
    )
    fps: float = Field(default=25.0, gt=0, description="frame rate the clips are sampled at (corpus: 25)")
    neighbours: int = Field(default=2, ge=0, description="corpus: frames either side of each key pose also used")
    min_motions: int = Field(default=3, ge=1, description="corpus: a class needs key poses in this many files")
    min_keyposes: int = Field(default=20, ge=1, description="corpus: ... and this many training key poses")
    hidden: int = Field(default=128, ge=1)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    epochs: int = Field(default=15, ge=1)
    batch_size: int = Field(default=256, ge=1)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 0
    augment_mirror: bool = True
    max_steps_per_epoch: int | None = Field(default=None, ge=1)


def load_config(path: Path | None, settings: tuple[str, ...] = (), **overrides: Any) -> ClassifierTrainConfig:
    """A config from a YAML file (optional) with keyword overrides on top (``None`` values ignored)."""
    return read_config(ClassifierTrainConfig, path, "classifier training config", settings=settings, **overrides)


def labelled_poses(
    subjects: Sequence[str], fps: float = 25.0, data_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray, list[str], Path]:
    """Every frame (at ``fps``) of the labelled clips of ``subjects``: ``(poses (N, J, 3), labels (N,),
    files, folder)``; the folder is ``data_dir`` or ``$POSECAST_DATA/cmu_bvh``."""
    from posecast.datasets.cmu_bvh import bvh_dir
    from posecast.io import load

    root = bvh_dir(data_dir)
    labels = index_labels(root / "INDEX.csv")
    poses, ys, files = [], [], []
    for rel, name in sorted(labels.items()):
        if name is None or rel.split("/")[0] not in subjects:
            continue
        motion = load(root / rel)[1:].resample(fps)
        poses.append(motion.positions.astype(np.float32))
        ys.append(np.full(motion.num_frames, CLASSES.index(name), dtype=np.int64))
        files.append(rel)
    if not poses:
        raise ValueRangeError(f"no labelled clips for subjects {', '.join(subjects)}", root)
    return np.concatenate(poses), np.concatenate(ys), files, root


@dataclass(frozen=True, eq=False)
class LabelledPoses:
    """Labelled poses around the key poses of labelled motions.

    Attributes:
        poses: ``(N, J, 3)`` float32 positions (metres, as in the motions: not root-relative).
        labels: ``(N,)`` class name of each pose (`posecast.keyposes.classifier.corpus_class` of its
            motion's ``metadata["label"]``).
        motion: ``(N,)`` index of the motion each pose comes from.
        offset: ``(N,)`` frames from the nearest key frame (0: the key pose itself).
        files: per motion, ``metadata["source"]`` (else ``"motion <i>"``).
        datasets: per motion, ``metadata["dataset"]`` (else ``""``).
        skeleton: joint layout.
        fps: frame rate of the frames counted in ``offset``.
    """

    poses: np.ndarray
    labels: np.ndarray
    motion: np.ndarray
    offset: np.ndarray
    files: tuple[str, ...]
    datasets: tuple[str, ...]
    skeleton: Skeleton
    fps: float

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def keys(self) -> np.ndarray:
        """``(N,)`` bool: the key poses themselves (``offset == 0``)."""
        return self.offset == 0


def labelled_keyposes(
    motions: Sequence[Motion],
    neighbours: int = 2,
    mining: Mapping[str, Any] | None = None,
    keyposes: Sequence[Sequence[Any]] | None = None,
) -> LabelledPoses:
    """The key poses of ``motions`` and the ``neighbours`` frames either side of each, labelled with the
    motion's action label.

    Key poses are found as the key-pose pairs find them (`posecast.keyposes.dataset.build_pairs` at the
    first motion's rate, `posecast.keyposes.mine_keyposes` options ``mining``); a frame near two key poses
    is taken once (its ``offset`` counts from the nearer one); frames outside the motion are skipped.

    Args:
        motions: motions on one skeleton, each with ``metadata["label"]``; any frame rates (resampled to
            the first one's).
        neighbours: frames taken either side of every key frame.
        mining: options for `mine_keyposes`.
        keyposes: per motion, its key poses (`posecast.keyposes.KeyPose`, their ``time`` is used) instead
            of mining them.

    Raises:
        ValueRangeError: no motions, a negative ``neighbours``, a motion without a label.
        SkeletonError: motions on different skeletons.
    """
    from posecast.keyposes.dataset import build_pairs

    motions = list(motions)
    if isinstance(neighbours, bool) or not isinstance(neighbours, int | np.integer) or neighbours < 0:
        raise ValueRangeError(f"neighbours must be a whole number >= 0, got {neighbours!r}")
    if not motions:
        raise ValueRangeError("no motions to take key poses from")
    for i, m in enumerate(motions):
        if not m.metadata.get("label"):
            raise ValueRangeError(f"motion {m.metadata.get('source') or i} has no action label (metadata 'label')")
    fps = float(motions[0].fps)
    pairs = build_pairs(motions, fps=fps, observed=1, mining=mining, keyposes=keyposes)
    span = np.arange(-int(neighbours), int(neighbours) + 1)
    poses, labels, index, offsets = [], [], [], []
    for i, (m, keys) in enumerate(zip(motions, pairs.key_frames, strict=True)):
        if len(keys) == 0:
            continue
        positions = (m if abs(m.fps - fps) < 1e-9 else m.resample(fps)).positions
        frames = np.unique((keys[:, None] + span[None]).ravel())
        frames = frames[(frames >= 0) & (frames < len(positions))]
        nearest = keys[np.abs(frames[:, None] - keys[None]).argmin(1)]
        poses.append(positions[frames].astype(np.float32))
        labels += [corpus_class(str(m.metadata["label"]))] * len(frames)
        index.append(np.full(len(frames), i, np.int64))
        offsets.append(frames - nearest)
    j = motions[0].skeleton.num_joints
    return LabelledPoses(
        poses=np.concatenate(poses) if poses else np.zeros((0, j, 3), np.float32),
        labels=np.asarray(labels, dtype=str),
        motion=np.concatenate(index) if index else np.zeros(0, np.int64),
        offset=np.concatenate(offsets).astype(np.int64) if offsets else np.zeros(0, np.int64),
        files=tuple(str(m.metadata.get("source") or f"motion {i}") for i, m in enumerate(motions)),
        datasets=tuple(str(m.metadata.get("dataset") or "") for m in motions),
        skeleton=motions[0].skeleton,
        fps=fps,
    )


def corpus_keyposes(
    split: str, neighbours: int = 2, datasets: Sequence[str] | None = None, max_files: int | None = None
) -> LabelledPoses:
    """`labelled_keyposes` of the corpus's ``split`` (``train`` or ``validation``: the classifier never
    reads test data) on the canonical body at 25 fps (`posecast.keyposes.dataset.canonical_motions`,
    mining `posecast.keyposes.dataset.CORPUS_MINING`); ``datasets`` / ``max_files`` as there.

    Raises:
        ValueRangeError: another split; DataNotFoundError: no data / corpus.
    """
    from posecast.datasets.corpus import CORPUS_SPLITS, FPS
    from posecast.keyposes.dataset import CORPUS_MINING, canonical_motions

    if split not in CORPUS_SPLITS:
        raise ValueRangeError(
            f"the corpus classifier reads the corpus splits {', '.join(CORPUS_SPLITS)}, not {split!r} "
            "(test data is never used for it)"
        )
    motions = canonical_motions(split, datasets, FPS, max_files)
    if not motions:
        raise ValueRangeError(f"no {split} motions in {', '.join(datasets or ()) or 'the corpus'}")
    return labelled_keyposes(motions, neighbours, CORPUS_MINING)


def accuracy_facts(probabilities: Any, labels: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy of ``(N, C)`` class probabilities against ``(N,)`` class indices: ``accuracy``,
    ``balanced_accuracy`` (mean per-class recall over the classes present), ``per_class`` recall and
    ``counts`` of the classes present."""
    pred = np.asarray(probabilities).argmax(-1)
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueRangeError("no labelled poses to measure the accuracy on")
    present = [int(c) for c in np.unique(labels)]
    recall = {classes[c]: float((pred[labels == c] == c).mean()) for c in present}
    return {
        "accuracy": float((pred == labels).mean()),
        "balanced_accuracy": float(np.mean(list(recall.values()))),
        "per_class": recall,
        "counts": {classes[c]: int((labels == c).sum()) for c in present},
    }


class ClassifierTask(TrainingTask):
    """`TrainingTask` of the pose classifier (module docstring). ``poses`` / ``labels`` / ``skeleton``:
    training arrays instead of the config's data (then nothing is measured on test clips)."""

    kind = "classifier"
    round_name = "epoch"
    lr_floor = 0.0
    clip_grad = None
    score_key = None
    distributed = False

    def __init__(
        self,
        config: ClassifierTrainConfig,
        poses: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        skeleton: Skeleton | None = None,
        classes: Sequence[str] = CLASSES,
    ) -> None:
        self.config, self.name = config, config.model
        self.given = None if poses is None else (poses, labels, skeleton)
        self.classes = tuple(classes)

    def prepare(self, dist: Any) -> None:
        import torch

        from posecast import skeletons
        from posecast.datasets.cmu_bvh import TRAIN_SUBJECTS

        config = self.config
        self.corpus = self.given is None and config.data == CORPUS
        self.data_dir = None if config.data in ("cmu-bvh", CORPUS) else Path(config.data)
        self.val: tuple[Any, np.ndarray, LabelledPoses] | None = None
        self.label_facts: dict[str, Any] = {}
        if self.corpus:
            from posecast.datasets.corpus import FPS

            if abs(config.fps - FPS) > 1e-9:
                raise ValueRangeError(
                    f"the corpus is at {FPS:g} fps; data: corpus needs fps {FPS:g}, not {config.fps:g}"
                )
            poses, labels, skel = self._corpus_data()
            self.files, self.root = [], None
        elif self.given is None:
            poses, labels, self.files, self.root = labelled_poses(TRAIN_SUBJECTS, config.fps, self.data_dir)
            skel = skeletons.get("cmu-bvh-31")
        else:
            poses, labels, skel = self.given
            self.files, self.root = [], None
        if poses.ndim != 3 or len(poses) != len(labels) or len(poses) == 0:
            raise ValueRangeError(f"poses (N, J, 3) and labels (N,) do not match: {poses.shape}, {np.shape(labels)}")
        net = PoseClassifier(skel, self.classes, config.hidden, config.dropout)
        self.x = torch.as_tensor(poses, dtype=torch.float32)
        self.y = torch.as_tensor(labels, dtype=torch.long)
        self.mirror_class = torch.as_tensor(mirror_indices(self.classes), dtype=torch.long)
        counts = torch.bincount(self.y, minlength=len(net.classes)).float()
        if config.augment_mirror:  # a sided class is seen as often as it and its twin together, halved
            twin = torch.where(self.mirror_class >= 0, self.mirror_class, torch.arange(len(counts)))
            counts = (counts + counts[twin]) / 2
        self.weight = torch.where(
            counts > 0, counts.sum() / (len(net.classes) * counts.clamp_min(1)), torch.zeros_like(counts)
        )
        self.network = net
        self.gen = torch.Generator().manual_seed(config.seed)
        steps = max(1, math.ceil(len(self.x) / config.batch_size))
        if config.max_steps_per_epoch:
            steps = min(steps, config.max_steps_per_epoch)
        self.round_steps, self.total_steps = steps, steps * config.epochs

    def _corpus_data(self) -> tuple[np.ndarray, np.ndarray, Skeleton]:
        """Training poses and class indices of the corpus, the classes, the validation key poses."""
        import torch

        from posecast.datasets.corpus import corpus_key
        from posecast.keyposes.dataset import CORPUS_MINING

        config = self.config
        train = corpus_keyposes("train", config.neighbours)
        keys = train.keys
        classes, dropped = choose_classes(
            train.labels[keys], train.motion[keys], config.min_motions, config.min_keyposes
        )
        self.classes = classes
        keep = np.isin(train.labels, classes)
        index = {c: i for i, c in enumerate(classes)}
        val = corpus_keyposes("validation", 0)
        known = np.isin(val.labels, classes)
        y_val = np.array([index[c] for c in val.labels[known]], dtype=np.int64)
        self.val = (torch.as_tensor(val.poses[known]), y_val, val)
        self.train_data = train
        mirror = {
            c: classes[m] for c, m in zip(classes, mirror_indices(classes), strict=True) if m >= 0 and classes[m] != c
        }
        self.label_facts = {
            "labels": {
                "source": "corpus action labels (posecast.datasets.actions.action_label) of the train split",
                "datasets": sorted({d for d in train.datasets if d}),
                "not_trained_on": "hdm05_cuts (a test-only data set: its classes are not among the outputs)",
                "aliases": dict(LABEL_ALIASES),
                "min_motions": config.min_motions,
                "min_keyposes": config.min_keyposes,
                "dropped": dropped,
                "mirror": mirror,
            },
            "data": {
                "source": CORPUS,
                "corpus_key": corpus_key(),
                "skeleton": train.skeleton.name,
                "fps": train.fps,
                "mining": dict(CORPUS_MINING),
                "neighbours": config.neighbours,
            },
        }
        return train.poses[keep], np.array([index[c] for c in train.labels[keep]], dtype=np.int64), train.skeleton

    def describe(self) -> dict[str, Any]:
        counts = np.bincount(self.y.numpy(), minlength=len(self.classes))
        if self.corpus:
            train = self.train_data
            keys = train.keys & np.isin(train.labels, self.classes)
            files: dict[str, int] = {}
            for m in np.unique(train.motion[keys]).tolist():
                files[train.datasets[m]] = files.get(train.datasets[m], 0) + 1
            return {
                "data": {
                    **self.label_facts["data"],
                    "poses": int(len(self.x)),
                    "keyposes": int(keys.sum()),
                    "files_per_dataset": files,
                    "class_counts": {c: int(n) for c, n in zip(self.classes, counts, strict=True)},
                    "validation_keyposes": int(len(self.val[1])) if self.val is not None else 0,
                    "files": [train.files[m] for m in np.unique(train.motion[keys]).tolist()],
                },
                **{k: v for k, v in self.label_facts.items() if k != "data"},
            }
        return {
            "data": {
                "source": self.config.data if self.given is None else "given poses",
                "poses": int(len(self.x)),
                "class_counts": {c: int(n) for c, n in zip(self.classes, counts, strict=True)},
                "files": {f: _sha256(self.root / f) for f in self.files} if self.root is not None else {},
            }
        }

    def batches(self, round_index: int) -> Iterator[Any]:
        import torch

        from posecast.datasets.windows import mirror

        config, gen = self.config, self.gen
        perm = torch.randperm(len(self.x), generator=gen)
        for s in range(self.round_steps):
            idx = perm[s * config.batch_size : (s + 1) * config.batch_size]
            xb, yb = self.x[idx], self.y[idx]
            if config.augment_mirror:
                twin = self.mirror_class[yb]
                flip = (torch.rand(len(idx), generator=gen) < 0.5) & (twin >= 0)
                xb = torch.where(flip[:, None, None], mirror(xb, self.network.skeleton), xb)
                yb = torch.where(flip, twin, yb)
            yield xb, yb

    def loss(self, batch: Any, progress: float) -> tuple[Any, dict[str, float]]:
        import torch

        xb, yb = batch
        return torch.nn.functional.cross_entropy(self.module(xb), yb, weight=self.weight), {}

    def validate(self) -> dict[str, float]:
        """``data: corpus``: accuracy and balanced accuracy on the validation key poses (else nothing)."""
        if self.val is None:
            return {}
        facts = accuracy_facts(self.network.probabilities(self.val[0]).numpy(), self.val[1], self.classes)
        return {"val_accuracy": facts["accuracy"], "val_balanced_accuracy": facts["balanced_accuracy"]}

    def _saved_facts(self) -> dict[str, Any]:
        return {"data": CORPUS, "labels": self.label_facts["labels"]} if self.corpus else {}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        meta = {"epoch": record["epoch"], "run": "run.json", **self._saved_facts()}
        save_classifier(self.network, directory, meta, class_rules=None if self.corpus else CLASS_RULES)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self.gen.set_state(state["generator"])

    def finish(self, out: Path) -> dict[str, Any] | None:
        """Accuracy on the training poses and on the labelled clips of the test subjects, written into
        ``last/config.json`` as the classifier's ``training`` facts."""
        import torch

        from posecast.datasets.cmu_bvh import TEST_SUBJECTS, TRAIN_SUBJECTS

        net, config = self.network, self.config
        acc_train = float((net.probabilities(self.x).argmax(-1) == self.y).float().mean())
        facts: dict[str, Any] = {"epochs": config.epochs, "poses": int(len(self.x)), "train_accuracy": acc_train}
        if self.corpus:
            assert self.val is not None
            described = self.describe()["data"]
            val_x, val_y, val = self.val
            measured = accuracy_facts(net.probabilities(val_x).numpy(), val_y, self.classes)
            every_key = net.probabilities(torch.as_tensor(val.poses))
            facts.update(
                {
                    **self.label_facts["data"],
                    "keyposes": described["keyposes"],
                    "files_per_dataset": described["files_per_dataset"],
                    "class_counts": described["class_counts"],
                    "val_accuracy": measured["accuracy"],
                    "val_balanced_accuracy": measured["balanced_accuracy"],
                    "validation": {
                        "keyposes": int(len(val)),
                        "keyposes_of_other_labels": int(len(val) - len(val_y)),
                        "files": len(val.files),
                        "class_counts": measured["counts"],
                        "per_class_accuracy": measured["per_class"],
                        "inception_score_true_keyposes": inception_score(every_key),
                    },
                }
            )
            save_classifier(
                net, out / "last", {"run": "run.json", **self._saved_facts(), "training": facts}, class_rules=None
            )
            return {"accuracy": {k: v for k, v in facts.items() if k.endswith("accuracy")}}
        if self.given is None:
            xt, yt, test_files, _ = labelled_poses(TEST_SUBJECTS, config.fps, self.data_dir)
            test_counts = np.bincount(yt, minlength=len(self.classes))
            facts.update(
                {
                    "subjects": list(TRAIN_SUBJECTS),
                    "fps": config.fps,
                    "class_counts": self.describe()["data"]["class_counts"],
                    "test_accuracy": float((net.probabilities(torch.as_tensor(xt)).argmax(-1).numpy() == yt).mean()),
                    "test_files": test_files,
                    "test_class_counts": {c: int(n) for c, n in zip(self.classes, test_counts, strict=True)},
                    "files_sha256": self.describe()["data"]["files"],
                }
            )
        save_classifier(net, out / "last", {"run": "run.json", "training": facts})
        return {"accuracy": {k: v for k, v in facts.items() if k.endswith("accuracy")}}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train_classifier(
    poses: np.ndarray,
    labels: np.ndarray,
    skeleton: Skeleton,
    *,
    classes: Sequence[str] = CLASSES,
    hidden: int = 128,
    epochs: int = 20,
    batch_size: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
    mirror: bool = True,
    out: Path | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> PoseClassifier:
    """Train a `PoseClassifier` on ``(N, J, 3)`` poses with ``(N,)`` integer labels through the loop
    (class-balanced loss; half of every batch mirrored left/right when ``mirror``); ``out``: an optional
    run directory (default: nothing written)."""
    config = ClassifierTrainConfig(
        hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, augment_mirror=mirror
    )
    task = ClassifierTask(config, poses, labels, skeleton, classes)
    fit(task, out, resume=False, progress=progress)
    return task.network.eval()


PLUGIN = Plugin("classifier", ClassifierTrainConfig, ClassifierTask, default_data="cmu-bvh")
