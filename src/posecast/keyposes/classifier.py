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

Two shipped variants (``posecast.models.get("keypose-classifier", variant=...)``, `load_classifier`):

* ``cmu-bvh`` (the default): the four coarse classes above, on the CMU BVH skeleton (``cmu-bvh-31``).
* ``corpus``: the action labels of the training corpus on the canonical body (``smplh-22``), for the
  key-pose benchmark of the corpus. Its classes are data-driven and stored in its ``config.json``:

  - **labels**: `posecast.datasets.actions.action_label` of every training file of the corpus -- the
    Bandai Namco contents (``bow``, ``raise-up-left-hand``, ``walk-turn-right``...), the CMU BVH activity
    groups (``basketball``, ``dance``, ``playground``, ``walk``) and the CMU-Mocap benchmark's action
    folders (``basketball_signal``, ``jumping``...); labels that name the same action in two data sets are
    merged (`LABEL_ALIASES`: ``walking_extra`` -> ``walk``, ``running`` -> ``run``, ``dance-short`` ->
    ``dance``; `corpus_class`).
  - **few examples**: a label becomes a class only with key poses in at least ``min_motions`` training
    files and at least ``min_keyposes`` training key poses (`choose_classes`; the shipped run: 3 and
    20); a label learned from one or two takes would learn the take, not the action. Left/right twins
    (`mirror_class`) are kept or dropped together. The dropped labels and why are in the config.
  - **HDM05 is a test-only data set** and never trained on, so its classes (``kick``, ``squat``,
    ``lie``...) are not among the outputs; neither is any label of the test parts of the other sets that
    their training parts lack.
  - **mirroring** swaps the left/right classes (``raise-up-left-hand`` <-> ``raise-up-right-hand``,
    ``wave-left-hand`` <-> ``wave-right-hand``, ``walk-left`` <-> ``walk-right``, ``walk-turn-left``
    <-> ``walk-turn-right``; `mirror_indices`), the others keep their class.
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

CORPUS_VARIANT = "corpus"
"""The shipped variant whose classes are the corpus's action labels (module docstring)."""

LABEL_ALIASES: dict[str, str] = {"walking_extra": "walk", "running": "run", "dance-short": "dance"}
"""Corpus action labels merged into another data set's label for the same action (CMU-Mocap's
``walking_extra`` / ``running`` folders, Bandai's one ``dance-short`` take)."""

_SIDE = re.compile(r"(?<![a-z])(left|right)(?![a-z])")


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


def corpus_class(label: str) -> str:
    """The class name of a corpus action label: the label itself, or the label it is merged into
    (`LABEL_ALIASES`)."""
    return LABEL_ALIASES.get(label, label)


def mirror_class(name: str) -> str:
    """The class of the left/right mirror image of a pose of class ``name``: every word ``left`` and
    ``right`` (between non-letters: ``-``, ``_``, digits, the ends) swapped (``"walk-turn-left"`` ->
    ``"walk-turn-right"``; ``"bow"`` and ``"leftover"`` stay)."""
    return _SIDE.sub(lambda m: "right" if m.group(1) == "left" else "left", name)


def mirror_indices(classes: Sequence[str]) -> tuple[int, ...]:
    """For each class, the index of its mirror class (`mirror_class`): itself for a class without a
    side, its twin's index for a sided class, ``-1`` for a sided class whose twin is not a class (such a
    pose is never mirrored in training)."""
    index = {c: i for i, c in enumerate(classes)}
    return tuple(index.get(mirror_class(c), -1) for c in classes)


def choose_classes(
    labels: Sequence[str], motions: Sequence[int] | np.ndarray, min_motions: int = 3, min_keyposes: int = 20
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The classes of a classifier trained on labelled key poses, and the labels left out.

    Args:
        labels: ``(N,)`` the class name (`corpus_class`) of every training key pose.
        motions: ``(N,)`` the motion (file) each key pose comes from.
        min_motions: a class needs key poses in at least this many motions ...
        min_keyposes: ... and at least this many key poses.

    Returns:
        ``(classes sorted by name, {dropped label: reason})``; a sided label (`mirror_class`) is dropped
        with its twin when the twin is dropped, so mirroring never turns a pose into a dropped class.

    Raises:
        ValueRangeError: ``labels`` and ``motions`` of different lengths, or no label qualifies.
    """
    labels = [str(x) for x in labels]
    motions = np.asarray(motions)
    if motions.shape != (len(labels),):
        raise ValueRangeError(f"{len(labels)} labels but motions of shape {motions.shape}")
    poses: dict[str, int] = {}
    files: dict[str, set[int]] = {}
    for label, m in zip(labels, motions.tolist(), strict=True):
        poses[label] = poses.get(label, 0) + 1
        files.setdefault(label, set()).add(int(m))
    dropped = {
        c: f"{poses[c]} key poses in {len(files[c])} files"
        for c in sorted(poses)
        if len(files[c]) < min_motions or poses[c] < min_keyposes
    }
    for c in sorted(poses):
        twin = mirror_class(c)
        if c not in dropped and twin != c and twin in dropped:
            dropped[c] = f"its mirror twin {twin!r} is dropped"
    classes = tuple(c for c in sorted(poses) if c not in dropped)
    if not classes:
        raise ValueRangeError(f"no label has key poses in {min_motions} files and {min_keyposes} key poses")
    return classes, dropped


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


def save_classifier(
    net: PoseClassifier,
    directory: Path,
    metadata: dict[str, Any] | None = None,
    class_rules: Sequence[tuple[str, str]] | None = CLASS_RULES,
    half: bool = False,
) -> None:
    """Write the classifier into weights folder ``directory`` (`posecast.models.store.save_folder`;
    ``half``: float16 tensors, as shipped). ``class_rules``: the description rules its classes come from
    (None: classes from data labels, described in ``metadata``)."""
    from posecast.models import store

    cfg: dict[str, Any] = {
        "net": "keypose-classifier",
        "skeleton": net.skeleton.name,
        "classes": list(net.classes),
        "hidden": net.hidden,
        "dropout": net.dropout,
    }
    if class_rules is not None:
        cfg["class_rules"] = [list(r) for r in class_rules]
    cfg.update(metadata or {})
    store.save_folder(directory, net.state_dict(), cfg, half=half)


def load_classifier(directory: Path | None = None, variant: str | None = None) -> PoseClassifier:
    """The classifier in weights folder ``directory`` (default: the shipped ``variant``, default variant
    ``cmu-bvh``; ``"corpus"``: the corpus action labels on ``smplh-22``), eval mode."""
    from posecast.models import store

    directory = Path(directory) if directory is not None else store.shipped(NAME, variant)
    state, cfg = store.load_folder(directory)
    try:
        with store.keeps_rng():
            net = PoseClassifier(
                skeletons.get(cfg["skeleton"]), cfg["classes"], int(cfg["hidden"]), float(cfg["dropout"])
            )
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
