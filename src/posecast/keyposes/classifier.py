"""A small skeleton action classifier for the inception-style quality score of key-pose forecasts.

Generative pose models are scored by an Inception Score computed with a classifier of the data
(as in the motion-forecasting literature: an action classifier instead of an image network). Here:

* **Labels.** The descriptions of ``$POSECAST_DATA/cmu_bvh/INDEX.csv`` map onto a few coarse classes
  (`coarse_label`, rules in `CLASS_RULES`, first match wins): ``locomotion`` (walk, run, jog,
  stride), ``playground`` (climb, hang, swing, playground jumps), ``dance`` and ``basketball``;
  clips that match none (punches, swordplay, washing...) are left out.
* **Input.** One pose ``(J, 3)``, root-relative and turned into its own heading frame
  (`posecast.keyposes.model.canonicalise` on a one-frame window), flattened: a key pose is a single
  pose, so the classifier sees single poses.
* **Network.** An MLP ``J*3 -> hidden -> hidden -> classes`` (GELU, dropout), cross-entropy.
* **Training data.** Every frame at 25 fps of the training subjects' clips (01, 05, 06, 07) that have
  a label; the classes are balanced by weighting the loss with inverse class frequencies.

Inception-style score of a set of poses ``x``: ``IS = exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)``
the mean of ``p(y|x)`` over the set: high when each pose is confidently one class and the set
covers several classes (`inception_score`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from posecast import skeletons
from posecast.errors import ModelError, ValueRangeError
from posecast.skeletons.base import Skeleton

CLASSES = ("locomotion", "playground", "dance", "basketball")
"""The coarse classes, in output order."""

CLASS_RULES: tuple[tuple[str, str], ...] = (
    ("basketball", r"basketball"),
    ("dance", r"\bdance\b"),
    ("playground", r"playground|climb|hang|swing"),
    ("locomotion", r"\bwalk|\brun\b|\bjog|stride"),
)
"""``(class, regular expression)`` tried in order on the lower-cased description."""

NAME = "keypose-classifier"
"""The shipped classifier."""


def coarse_label(description: str) -> str | None:
    """The coarse class of a CMU clip description (`CLASS_RULES`), or None when no rule matches."""
    text = description.lower()
    for name, pattern in CLASS_RULES:
        if re.search(pattern, text):
            return name
    return None


def index_labels(index_csv: Path) -> dict[str, str | None]:
    """``{"01/01_01.bvh": class or None}`` for every row of the CMU BVH ``INDEX.csv``."""
    import csv

    try:
        with Path(index_csv).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        return {r["file"]: coarse_label(r["description"]) for r in rows}
    except (OSError, KeyError, csv.Error) as exc:
        raise ValueRangeError(f"cannot read the clip index: {exc}", index_csv) from None


def pose_features(poses: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """``(N, J, 3)`` poses (any root and heading) → ``(N, J*3)`` root-relative heading-frame features."""
    from posecast.keyposes.model import canonicalise

    obs, _, _ = canonicalise(poses[:, None], skeleton, "heading")
    return obs[:, 0].reshape(poses.shape[0], -1)


class PoseClassifier(nn.Module):
    """MLP over one canonical pose (module docstring)."""

    def __init__(self, skeleton: Skeleton, classes: Sequence[str] = CLASSES, hidden: int = 128, dropout: float = 0.1):
        super().__init__()
        self.skeleton = skeleton
        self.classes = tuple(classes)
        self.hidden = hidden
        self.dropout = dropout
        d = 3 * skeleton.num_joints
        self.mlp = nn.Sequential(
            nn.Linear(d, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, len(self.classes)),
        )

    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        """``(N, J, 3)`` poses → ``(N, classes)`` logits."""
        return self.mlp(pose_features(poses, self.skeleton))

    def probabilities(self, poses: torch.Tensor, batch: int = 4096) -> torch.Tensor:
        """``(N, J, 3)`` → ``(N, classes)`` class probabilities (eval mode, no gradients)."""
        self.eval()
        with torch.no_grad():
            parts = [torch.softmax(self(poses[i : i + batch].float()), -1) for i in range(0, len(poses), batch)]
        return torch.cat(parts) if parts else poses.new_zeros(0, len(self.classes))


def inception_score(probabilities: torch.Tensor | np.ndarray) -> float:
    """``exp(mean_i KL(p_i || mean p))`` of ``(N, C)`` class probabilities (1 = no information; at most C)."""
    p = torch.as_tensor(probabilities, dtype=torch.float64).clamp_min(1e-12)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueRangeError(f"probabilities must be (N, C) with N > 0, got {tuple(p.shape)}")
    marginal = p.mean(0, keepdim=True)
    kl = (p * (p.log() - marginal.log())).sum(-1)
    return float(torch.exp(kl.mean()))


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
) -> PoseClassifier:
    """Train a `PoseClassifier` on ``(N, J, 3)`` poses with ``(N,)`` integer labels (class-balanced loss;
    half of every batch mirrored left/right when ``mirror``)."""
    from posecast.datasets.windows import mirror as mirror_poses

    if poses.ndim != 3 or len(poses) != len(labels) or len(poses) == 0:
        raise ValueRangeError(f"poses (N, J, 3) and labels (N,) do not match: {poses.shape}, {np.shape(labels)}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = PoseClassifier(skeleton, classes, hidden)
    x = torch.as_tensor(poses, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    counts = torch.bincount(y, minlength=len(net.classes)).float()
    weight = torch.where(counts > 0, counts.sum() / (len(net.classes) * counts.clamp_min(1)), torch.zeros_like(counts))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = max(1, int(np.ceil(len(x) / batch_size)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen)
        for s in range(steps):
            idx = perm[s * batch_size : (s + 1) * batch_size]
            xb = x[idx]
            if mirror:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip[:, None, None], mirror_poses(xb, skeleton), xb)
            loss = nn.functional.cross_entropy(net(xb), y[idx], weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


def save_classifier(net: PoseClassifier, directory: Path, metadata: dict[str, Any] | None = None) -> None:
    """Write the classifier into weights folder ``directory`` (`posecast.models.store.save_folder`)."""
    from posecast.models import store

    cfg = {
        "net": "keypose-classifier",
        "skeleton": net.skeleton.name,
        "classes": list(net.classes),
        "hidden": net.hidden,
        "dropout": net.dropout,
        "class_rules": [list(r) for r in CLASS_RULES],
        **(metadata or {}),
    }
    store.save_folder(directory, net.state_dict(), cfg)


def load_classifier(directory: Path | None = None) -> PoseClassifier:
    """The classifier in weights folder ``directory`` (default: the shipped one), eval mode."""
    from posecast.models import store

    directory = Path(directory) if directory is not None else store.shipped(NAME)
    state, cfg = store.load_folder(directory)
    try:
        net = PoseClassifier(skeletons.get(cfg["skeleton"]), cfg["classes"], int(cfg["hidden"]), float(cfg["dropout"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"invalid keypose classifier: {exc}".replace("\n", "; "), directory) from None
    store.load_state(net, state, directory)
    return net.eval()


def build(
    name: str = NAME, variant: str | None = None, pretrained: bool = True, weights: Path | None = None, **_: Any
) -> PoseClassifier:
    """Registry builder: the classifier in ``weights``, else the shipped ``variant``."""
    from posecast.models import store

    if weights is None and not pretrained:
        raise ModelError(f"{name}: an untrained classifier is made by `posecast train --model {name}`")
    return load_classifier(Path(weights) if weights is not None else store.shipped(name, variant))


def cmu_bvh_labelled_poses(subjects: Sequence[str], fps: float = 25.0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every frame (at ``fps``) of the labelled clips of ``subjects``: ``(poses (N, J, 3), labels (N,), files)``."""
    from posecast.datasets.paths import dataset_dir
    from posecast.io import load

    root = dataset_dir("cmu_bvh")
    assert root is not None
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
        raise ValueRangeError(f"no labelled clips for subjects {', '.join(subjects)}")
    return np.concatenate(poses), np.concatenate(ys), files


def train_cmu_bvh_classifier(out: Path, epochs: int = 15, seed: int = 0) -> PoseClassifier:
    """Train the shipped classifier (module docstring) on the CMU BVH training subjects and save it to
    ``out`` with its training facts (accuracy on the labelled test-subject clips, file hashes)."""
    import hashlib
    import time

    from posecast.datasets.cmu_bvh import TEST_SUBJECTS as CMU_BVH_TEST_SUBJECTS
    from posecast.datasets.cmu_bvh import TRAIN_SUBJECTS as CMU_BVH_TRAIN_SUBJECTS
    from posecast.datasets.paths import dataset_dir

    t0 = time.time()
    x, y, files = cmu_bvh_labelled_poses(CMU_BVH_TRAIN_SUBJECTS)
    skel = skeletons.get("cmu-bvh-31")
    net = train_classifier(x, y, skel, epochs=epochs, seed=seed)
    seconds = time.time() - t0
    xt, yt, test_files = cmu_bvh_labelled_poses(CMU_BVH_TEST_SUBJECTS)
    acc_test = float((net.probabilities(torch.as_tensor(xt)).argmax(-1).numpy() == yt).mean())
    acc_train = float((net.probabilities(torch.as_tensor(x)).argmax(-1).numpy() == y).mean())
    root = dataset_dir("cmu_bvh")
    assert root is not None
    counts = np.bincount(y, minlength=len(CLASSES))
    test_counts = np.bincount(yt, minlength=len(CLASSES))
    save_classifier(
        net,
        out,
        {
            "training": {
                "subjects": list(CMU_BVH_TRAIN_SUBJECTS),
                "fps": 25,
                "poses": int(len(x)),
                "class_counts": {c: int(n) for c, n in zip(CLASSES, counts, strict=True)},
                "epochs": epochs,
                "seconds": round(seconds, 1),
                "train_accuracy": acc_train,
                "test_accuracy": acc_test,
                "test_files": test_files,
                "test_class_counts": {c: int(n) for c, n in zip(CLASSES, test_counts, strict=True)},
                "files_sha256": {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in files},
            }
        },
    )
    return net
