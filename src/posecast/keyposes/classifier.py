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
  a label; the classes are balanced by weighting the loss with inverse class frequencies. Training is
  the training loop's classifier plug-in (`posecast.training.classifier`,
  ``posecast train --model keypose-classifier``).

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
