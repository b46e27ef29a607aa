"""The classifier plug-in of the training loop: ``keypose-classifier``
(`posecast.keyposes.classifier.PoseClassifier`, the pose classifier behind the key-pose quality score).

* Data (`labelled_poses`): every frame at ``fps`` of the clips of the CMU BVH training subjects (01, 05,
  06, 07) whose ``INDEX.csv`` description has a coarse class (`posecast.keyposes.classifier.coarse_label`);
  ``data:`` may name another folder with the same layout (``INDEX.csv`` + ``<subject>/*.bvh``).
* Rounds are epochs: a seeded permutation of the poses, half of every batch mirrored left/right.
* Loss: class-balanced cross-entropy (weights: inverse class frequencies).
* Schedule: no warm-up by default, cosine decay to 0 over the run; no gradient clipping.
* No validation during training; after the last epoch the accuracy on the training poses and on the
  labelled clips of the test subjects (02, 08) is recorded in ``last/config.json`` and ``run.json``
  (the classifier is a measuring instrument for the key-pose benchmark, not a forecaster; its card
  reports both). The last weights are the result (no ``best/``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from posecast.errors import ValueRangeError
from posecast.keyposes.classifier import CLASSES, PoseClassifier, index_labels, save_classifier
from posecast.skeletons.base import Skeleton
from posecast.training.loop import LoopConfig, Plugin, TrainingTask, fit, read_config


class ClassifierTrainConfig(LoopConfig):
    """A training run of the pose classifier; ``configs/keypose-classifier/*.yaml`` map onto it."""

    model: str = "keypose-classifier"
    data: str = Field(default="cmu-bvh", description="cmu-bvh, or a folder with its layout (INDEX.csv + subjects)")
    fps: float = Field(default=25.0, gt=0, description="frame rate the clips are sampled at")
    hidden: int = Field(default=128, ge=1)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    epochs: int = Field(default=15, ge=1)
    batch_size: int = 256
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
        self.data_dir = None if config.data == "cmu-bvh" else Path(config.data)
        if self.given is None:
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
        counts = torch.bincount(self.y, minlength=len(net.classes)).float()
        self.weight = torch.where(
            counts > 0, counts.sum() / (len(net.classes) * counts.clamp_min(1)), torch.zeros_like(counts)
        )
        self.network = net
        self.gen = torch.Generator().manual_seed(config.seed)
        steps = max(1, math.ceil(len(self.x) / config.batch_size))
        if config.max_steps_per_epoch:
            steps = min(steps, config.max_steps_per_epoch)
        self.round_steps, self.total_steps = steps, steps * config.epochs

    def describe(self) -> dict[str, Any]:
        counts = np.bincount(self.y.numpy(), minlength=len(self.classes))
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
            xb = self.x[idx]
            if config.augment_mirror:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip[:, None, None], mirror(xb, self.network.skeleton), xb)
            yield xb, self.y[idx]

    def loss(self, batch: Any, progress: float) -> tuple[Any, dict[str, float]]:
        import torch

        xb, yb = batch
        return torch.nn.functional.cross_entropy(self.module(xb), yb, weight=self.weight), {}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        save_classifier(self.network, directory, {"epoch": record["epoch"], "run": "run.json"})

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
