"""The key-pose plug-in of the training loop: ``charpose`` (`posecast.keyposes.model.CharPoseNet`) on
(observed window -> next key pose) pairs.

* Data: ``data: corpus``: pairs on the canonical body from the training corpus
  (`posecast.keyposes.dataset.corpus_pairs`: the train split, ``starts_per_key`` random windows per key
  pose; validation: the corpus's validation split, one random window per key pose);
  ``data: cmu-bvh``: pairs from `posecast.keyposes.dataset.cmu_bvh_pairs` (key poses mined from the CMU BVH
  training subjects, the paper's 25 repetitions per epoch), or from the motions of a folder
  (``data: FOLDER``, `posecast.keyposes.dataset.build_pairs`), both split by motion into training and
  validation (`split_by_motion`); or given arrays (`train_charpose`).
* Rounds are epochs: a seeded permutation of the pairs, an optional left/right mirror of half of every
  batch and, with ``query_joints``, a random subset of the joints scored per step.
* Loss: `posecast.keyposes.model.charpose_loss` (teacher forcing: the conditioning joints' true
  positions are the tokens); logged parts ``train_heatmap``, ``train_offset`` / ``train_regression``,
  ``train_total``.
* Schedule: the paper's (AdamW lr 1e-3, weight decay 1e-3, a linear warm-up over ``warmup_steps``, then
  a constant rate); no gradient clipping.
* Validation: loss and MPJPE (m, root-relative) of the arg-max pose (T = 0, one hypothesis, no
  refinement); the epoch with the lowest validation loss goes to ``best/``.
* ``init``: start from other charpose weights (same network except the inference-only settings).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from posecast.datasets.training_data import ReadOptions, check_reading
from posecast.errors import ModelError, SkeletonError, ValueRangeError
from posecast.keyposes.dataset import KeyPosePairs
from posecast.keyposes.model import CharPoseConfig
from posecast.keyposes.proposals import ProposalSettings
from posecast.training.loop import LoopConfig, Plugin, TrainingTask, fit, read_config

#: network settings that only matter at inference (an ``init`` may differ in them)
INFERENCE_ONLY = ("temperature", "samples", "refine", "refinement")


class CharPoseTrainConfig(LoopConfig):
    """A training run; ``configs/charpose/*.yaml`` map onto it one to one."""

    name: str = Field(default="charpose", description="name the weights are published under")
    data: str = Field(
        default="cmu-bvh",
        description="corpus (the training corpus on the canonical body, its validation split validates), "
        "cmu-bvh (the training subjects) or a folder of motions",
    )
    reading: ReadOptions | None = Field(default=None, description="how the files of a data folder are read")
    network: CharPoseConfig
    subjects: list[str] | None = Field(default=None, description="training subjects (default: the whole split)")
    starts_per_key: int = Field(default=25, ge=1, description="random observed windows per key pose")
    val_fraction: float = Field(default=0.1, ge=0, lt=1, description="fraction of motions held out")
    epochs: int = Field(
        default=50,
        ge=0,
        description="0: no network training (needs init): the init weights are validated and written as the run's, "
        "with new timing proposals when proposals is set",
    )
    batch_size: int = Field(default=100, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-3, ge=0)
    warmup_steps: int = Field(default=1000, ge=0)
    query_joints: int | None = Field(
        default=None, ge=1, description="joints scored per step, drawn at random (default: all)"
    )
    augment_mirror: bool = True
    max_steps_per_epoch: int | None = Field(default=None, ge=1)
    init: str | None = Field(
        default=None,
        description="start from these charpose weights (a run directory, a weights folder or shipped "
        "NAME[/VARIANT]); the network config must match except temperature/samples/refine/refinement",
    )
    proposals: ProposalSettings | None = Field(
        default=None,
        description="timing proposals (posecast.keyposes.proposals): a frame selector over the default "
        "forecaster's rollout, trained on corpus training pairs after the network and stored with its weights",
    )

    @model_validator(mode="after")
    def _init_only(self) -> CharPoseTrainConfig:
        if self.epochs == 0 and not self.init:
            raise ValueError("epochs 0 trains no network: give init (the weights to validate and write)")
        return self


def load_train_config(
    path: Path | None = None, settings: tuple[str, ...] = (), **overrides: Any
) -> CharPoseTrainConfig:
    """A config from a YAML file with top-level keyword overrides (``None`` values ignored)."""
    return read_config(CharPoseTrainConfig, path, "charpose training config", settings=settings, **overrides)


def split_by_motion(pairs: KeyPosePairs, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` of the pairs, whole motions held out (``ceil(fraction * motions)``, at
    least one motion stays for training)."""
    motions = np.unique(pairs.motion_index)
    n_val = min(int(math.ceil(val_fraction * len(motions))), len(motions) - 1) if val_fraction > 0 else 0
    held = np.random.default_rng(seed).permutation(motions)[:n_val]
    is_val = np.isin(pairs.motion_index, held)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _arrays(pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray]):
    import torch

    obs, tgt = (pairs.observed, pairs.target) if isinstance(pairs, KeyPosePairs) else pairs
    return torch.as_tensor(np.asarray(obs), dtype=torch.float32), torch.as_tensor(np.asarray(tgt), dtype=torch.float32)


def evaluate(net: Any, observed: Any, target: Any, batch_size: int = 256) -> dict[str, float]:
    """Validation loss and MPJPE (m, root-relative) of the arg-max pose (T = 0, no refinement)."""
    import torch

    from posecast.keyposes.model import canonicalise, charpose_loss
    from posecast.keyposes.sampling import sample_hypotheses

    net.eval()
    loss_sum, err_sum, n = 0.0, 0.0, 0
    with torch.no_grad():
        for i in range(0, len(observed), batch_size):
            o, t = observed[i : i + batch_size], target[i : i + batch_size]
            _, parts = charpose_loss(net, o, t)
            hyp = sample_hypotheses(net, o, samples=1, temperature=0.0, keep_levels=False)
            _, tgt_c, _ = canonicalise(o, net.skeleton, net.config.canonical, t)
            assert tgt_c is not None
            err = (hyp.canonical[:, 0] - tgt_c).norm(dim=-1).mean(-1)
            loss_sum += parts["total"] * len(o)
            err_sum += float(err.sum())
            n += len(o)
    return {"val_loss": loss_sum / max(n, 1), "val_mpjpe_m": err_sum / max(n, 1)}


def init_folder(init: str | Path) -> Path:
    """The weights folder named by ``init`` (`posecast.models.store.resolve`)."""
    from posecast.models import store

    try:
        return store.resolve(init)
    except ModelError:
        raise ModelError(f"init: {str(init)!r} is neither a run or weights directory nor shipped weights") from None


def load_init(net: Any, directory: Path) -> None:
    """Copy the parameters of the weights in ``directory`` into ``net`` (same architecture required)."""
    from posecast.keyposes.model import load_charpose

    start = load_charpose(directory)
    mine = net.config.model_dump(exclude=set(INFERENCE_ONLY))
    theirs = start.config.model_dump(exclude=set(INFERENCE_ONLY))
    diff = sorted(k for k in mine if mine[k] != theirs.get(k))
    if diff or start.skeleton.name != net.skeleton.name:
        raise ModelError(f"init weights do not fit the training config (differs in {diff or ['skeleton']})", directory)
    net.load_state_dict(start.state_dict())


def _hashes(files: tuple[str, ...]) -> dict[str, str]:
    """``{file: sha256}`` of the motion files the pairs come from (those that are files)."""
    from posecast.datasets.training_data import sha256

    return {f: sha256(Path(f)) for f in files if Path(f).is_file()}


def _corpus_key() -> str:
    from posecast.datasets import corpus

    return corpus.load().key


class CharPoseTask(TrainingTask):
    """`TrainingTask` of the characteristic-pose network (module docstring). ``train_pairs`` /
    ``val_pairs``: pairs or ``(observed (N, O, J, 3), target (N, J, 3))`` arrays instead of the
    config's data (no validation unless ``val_pairs`` is given)."""

    kind = "keypose"
    round_name = "epoch"
    decay = "constant"
    clip_grad = None
    score_key = "val_loss"
    distributed = False

    def __init__(
        self,
        config: CharPoseTrainConfig,
        train_pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray] | None = None,
        val_pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.config, self.name = config, config.name
        self.train_pairs, self.val_pairs = train_pairs, val_pairs

    def _pairs(self) -> KeyPosePairs:
        from posecast.keyposes.dataset import build_pairs, cmu_bvh_pairs, corpus_pairs

        config, net_cfg = self.config, self.config.network
        check_reading(config.data, config.reading)
        if config.data == "corpus":
            if config.subjects is not None:
                raise ValueRangeError("subjects: only for the cmu-bvh data")
            return corpus_pairs(
                "train",
                fps=net_cfg.fps,
                observed=net_cfg.observed,
                starts_per_key=config.starts_per_key,
                seed=config.seed,
            )
        if config.data == "cmu-bvh":
            return cmu_bvh_pairs(
                "train",
                subjects=config.subjects,
                fps=net_cfg.fps,
                observed=net_cfg.observed,
                starts_per_key=config.starts_per_key,
                seed=config.seed,
            )
        if not Path(config.data).is_dir():
            raise ValueRangeError(
                f"charpose training data is corpus, cmu-bvh or a folder of motions, not {config.data!r}"
            )
        if config.subjects is not None:
            raise ValueRangeError("subjects: only for the cmu-bvh data")
        from posecast.datasets.training_data import FolderTakes
        from posecast.skeletons.canonical import CANONICAL

        reading = config.reading or ReadOptions()
        if net_cfg.skeleton != CANONICAL and not reading.turns_only():
            raise ValueRangeError(
                f"a joint mapping (--mapping) maps files onto the canonical body; this config's network is on "
                f"{net_cfg.skeleton!r}: train with a corpus config (--config src/posecast/configs/charpose/corpus.yaml)"
            )
        takes = FolderTakes.read(Path(config.data), None, reading)  # (loose non-motion files skipped)
        self.folder_facts = takes.record()
        paths = takes.paths
        other_rigs = any(m.skeleton.name != CANONICAL for m in takes.motions)
        # users' own rigs (or several, or a mapping given): every file on the canonical body, upright, as the corpus;
        # else the network's own layout, each file turned upright (its up found, or --up)
        motions = takes.placed(canonical=net_cfg.skeleton == CANONICAL and (not reading.turns_only() or other_rigs))
        if any(m.skeleton.name != net_cfg.skeleton for m in motions):
            first = next(p for m, p in zip(motions, paths, strict=True) if m.skeleton.name != net_cfg.skeleton)
            raise SkeletonError(
                f"not on the network's {net_cfg.skeleton!r}: a folder of other rigs trains with a corpus config, "
                "which maps them onto the canonical body (--config src/posecast/configs/charpose/corpus.yaml)",
                first,
            )
        self.folder_motions = [m.resample(net_cfg.fps) for m in motions]  # (the timing proposals: training files)
        from posecast.keyposes.dataset import CORPUS_MINING

        mining = dict(CORPUS_MINING) if net_cfg.skeleton == CANONICAL else {}  # the criterion of the config's data
        return build_pairs(
            motions,
            fps=net_cfg.fps,
            observed=net_cfg.observed,
            starts_per_key=config.starts_per_key,
            seed=config.seed,
            mining=mining,
        )

    def prepare(self, dist: Any) -> None:
        import torch

        from posecast.keyposes.model import CharPoseNet

        config, net_cfg = self.config, self.config.network
        folder = init_folder(config.init) if config.init else None  # refused before any data is read
        if config.proposals is not None:  # the proposals' forecaster must work on the network's body
            from posecast import skeletons
            from posecast.keyposes.proposals import FrameSelector, TimingProposals

            TimingProposals(config.proposals, FrameSelector(1)).check_body(skeletons.get(net_cfg.skeleton))
        self.description: dict[str, Any]
        if self.train_pairs is None:
            pairs = self._pairs()
            if pairs.skeleton.name != net_cfg.skeleton:
                hint = (
                    "; a folder of another rig trains with a corpus config, which maps it onto the canonical body "
                    "(--config src/posecast/configs/charpose/corpus.yaml)"
                    if Path(str(config.data)).is_dir()
                    else ""
                )
                raise SkeletonError(
                    f"data skeleton {pairs.skeleton.name!r} differs from the network's {net_cfg.skeleton!r}{hint}"
                )
            if config.data == "corpus":
                from posecast.keyposes.dataset import corpus_pairs

                val_pairs = corpus_pairs("validation", fps=net_cfg.fps, observed=net_cfg.observed)
                self.train_obs, self.train_tgt = _arrays(pairs)
                self.val = _arrays(val_pairs) if len(val_pairs) else None
                self.description = {
                    "source": "corpus (posecast.keyposes.dataset.corpus_pairs; mining CORPUS_MINING)",
                    "motions": len(pairs.files),
                    "key_poses": int(sum(len(k) for k in pairs.key_frames)),
                    "val_source": "the corpus validation split, one random window per key pose",
                    "val_motions": len(val_pairs.files),
                    "corpus": _corpus_key(),
                }
            else:
                tr, va = split_by_motion(pairs, config.val_fraction, config.seed)
                if not len(tr):
                    raise ValueRangeError(
                        f"no key pose in the training files of {config.data} (a key pose is the moment of most "
                        "articulation before returning; `posecast keyposes FILE --preset corpus` shows what is found)"
                    )
                if getattr(self, "folder_motions", None) is not None:  # the proposals: training files only
                    held = {int(i) for i in pairs.motion_index[va]}
                    self.folder_motions = [m for i, m in enumerate(self.folder_motions) if i not in held]
                obs_all, tgt_all = _arrays(pairs)
                self.train_obs, self.train_tgt = obs_all[tr], tgt_all[tr]
                self.val = (obs_all[va], tgt_all[va]) if len(va) else None
                self.description = {
                    "source": config.data,
                    "motions": len(pairs.files),
                    "val_files": sorted({pairs.files[int(i)] for i in pairs.motion_index[va]}),
                    "files": _hashes(pairs.files),
                    **getattr(self, "folder_facts", {}),  # a folder's skipped files and reading options
                }
        else:
            for given in (self.train_pairs, self.val_pairs):
                if isinstance(given, KeyPosePairs) and given.skeleton.name != net_cfg.skeleton:
                    raise SkeletonError(
                        f"pairs on skeleton {given.skeleton.name!r}, the network on {net_cfg.skeleton!r}"
                    )
            self.train_obs, self.train_tgt = _arrays(self.train_pairs)
            self.val = _arrays(self.val_pairs) if self.val_pairs is not None else None
            self.description = {"source": "given pairs"}
        self.description.update(
            {"train_pairs": len(self.train_obs), "val_pairs": 0 if self.val is None else len(self.val[0])}
        )
        net = CharPoseNet(net_cfg)
        if folder is not None:
            load_init(net, folder)
            self.description["init"] = str(config.init)
        j = net.skeleton.num_joints
        obs, tgt = self.train_obs, self.train_tgt
        if obs.ndim != 4 or obs.shape[1:] != (net_cfg.observed, j, 3) or tgt.shape[1:] != (j, 3):
            raise ValueRangeError(
                f"pairs of shapes {tuple(obs.shape)} -> {tuple(tgt.shape)} do not fit the network "
                f"((N, {net_cfg.observed}, {j}, 3) -> (N, {j}, 3))"
            )
        self.network, self.joints = net, j
        self.gen = torch.Generator().manual_seed(config.seed)
        steps = math.ceil(len(obs) / config.batch_size)
        if config.max_steps_per_epoch:
            steps = min(steps, config.max_steps_per_epoch)
        self.round_steps, self.total_steps = steps, steps * config.epochs

    def describe(self) -> dict[str, Any]:
        return {"data": self.description}

    def batches(self, round_index: int) -> Iterator[Any]:
        import torch

        from posecast.datasets.windows import mirror

        config, gen, skel = self.config, self.gen, self.network.skeleton
        perm = torch.randperm(len(self.train_obs), generator=gen)
        for s in range(self.round_steps):
            idx = perm[s * config.batch_size : (s + 1) * config.batch_size]
            obs, tgt = self.train_obs[idx], self.train_tgt[idx]
            if config.augment_mirror:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                obs = torch.where(flip[:, None, None, None], mirror(obs, skel), obs)
                tgt = torch.where(flip[:, None, None], mirror(tgt, skel), tgt)
            queries = None
            if config.query_joints is not None and config.query_joints < self.joints:
                queries = torch.randperm(self.joints, generator=gen)[: config.query_joints].sort().values
            yield obs, tgt, queries

    def loss(self, batch: Any, progress: float) -> tuple[Any, dict[str, float]]:
        from posecast.keyposes.model import charpose_loss

        loss, parts = charpose_loss(self.network, *batch)
        return loss, {f"train_{k}": v for k, v in parts.items()}

    def validate(self) -> dict[str, float]:
        return evaluate(self.network, *self.val) if self.val is not None else {}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        from posecast.keyposes.model import save_charpose

        save_charpose(self.network, directory, self.config.name, {"epoch": record["epoch"], "metrics": record})

    def finish(self, out: Path) -> dict[str, Any] | None:
        """``epochs: 0``: validate the init network and write it as ``last/`` and ``best/``; ``proposals``: train
        the frame selector (`posecast.keyposes.proposals.fit_proposals`, corpus training pairs) and store it
        in both."""
        facts: dict[str, Any] = {}
        if self.config.epochs == 0:
            record = {"epoch": 0, **self.validate()}
            for sub in ("last", "best"):
                self.save(out / sub, record)
            facts.update({"init_only": True, "best_val": record.get("val_loss")})
        if self.config.proposals is not None:
            from posecast.keyposes.proposals import attach, fit_proposals

            net_cfg = self.config.network
            own = getattr(self, "folder_motions", None)  # a training folder of one's own: its motions, not the corpus
            pairs = histories = None
            if own is not None:
                from posecast.keyposes.proposals import FrameSelector, TimingProposals, training_pairs

                length = TimingProposals(self.config.proposals, FrameSelector(1)).history
                pairs, histories = training_pairs(self.config.proposals, net_cfg.fps, net_cfg.observed, length, own)
            proposals = fit_proposals(
                self.config.proposals, self.network.skeleton, net_cfg.fps, net_cfg.observed, pairs, histories
            )
            for sub in ("last", "best"):
                if (out / sub / "model.safetensors").is_file():
                    attach(out / sub, proposals)
            facts["proposals"] = proposals.training
        return facts or None

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "generator" in state:
            self.gen.set_state(state["generator"])


def train_charpose(
    config: CharPoseTrainConfig,
    out: Path,
    train_pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray] | None = None,
    val_pairs: KeyPosePairs | tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    resume: bool = True,
) -> Path:
    """Train ``config`` into the run directory ``out`` (``last/``, ``best/``, ``run.json``,
    ``metrics.jsonl``) through the loop and return ``out``.

    Raises:
        SkeletonError: the pairs' skeleton is not the network's.
        ValueRangeError: pairs whose window length differs from the network's.
        ModelError: ``config.init`` is not charpose weights or does not fit ``config.network``.
    """
    fit(CharPoseTask(config, train_pairs, val_pairs), Path(out), resume=resume, progress=progress)
    return Path(out)


PLUGIN = Plugin("keypose", CharPoseTrainConfig, CharPoseTask, default_data="cmu-bvh")
