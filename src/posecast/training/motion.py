"""The motion plug-in of the training loop: the position networks (``dct-mlp``, ``dct-mlp-ens``,
``traj-gcn``, ``res-gru``, ``st-transformer``...) behind `posecast.models.neural.NeuralForecaster`.

* Data: `posecast.datasets.training_data.load_training_data` (``cmu-mocap``, ``cmu-mocap+bvh``,
  ``cmu-bvh[:layout]`` or a folder of motion files; validation carved from the end of each training
  sequence), cut into windows by `posecast.datasets.windows.WindowSet`.
* Rounds are epochs: a seeded permutation of the windows per epoch (sharded over torchrun processes),
  batches of ``batch_size`` with random mirror / time-reversal / yaw augmentation.
* Loss (`default_loss`): MPJPE over the predicted frames (rolled out with gradients when
  ``target_frames`` exceeds one network pass), an optional velocity term, per-joint weights, and an
  optional teacher (distillation). A network whose module defines ``training_loss(model, batch,
  history, weights)`` (e.g. the teacher-forced next-frame loss of ``st-transformer``) trains with that.
* Validation: autoregressive MPJPE (mm) on every validation window, mean and last frame; the best epoch
  goes to ``best/``.
* ``init`` fine-tunes from other weights (the network config must match), ``teacher`` distils.

`train(config, out)` runs one config through the loop; ``posecast train --model NAME`` reaches it
through `posecast.training.run`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from posecast.datasets import windows as W
from posecast.datasets.training_data import ReadOptions
from posecast.errors import ValueRangeError
from posecast.models.neural import NeuralConfig, NeuralForecaster
from posecast.training.loop import BodyOptions, LoopConfig, Plugin, TrainingTask, fit, read_config


class TrainConfig(LoopConfig, BodyOptions):
    """A training run of a position network. YAML files map onto it one to one (``--config FILE.yaml``)."""

    RENAMED: ClassVar[dict[str, str]] = {
        "horizon": "`frames_per_pass` (frames per network pass)",
        "target_horizon": "`target_frames` (frames scored per window)",
    }

    model: str = Field(description="registry name the weights are published under")
    net: str = Field(description="network family, e.g. 'dct-mlp'")
    data: str = "cmu-mocap"
    reading: ReadOptions | None = Field(default=None, description="how the files of a data folder are read")
    fps: float | None = None
    history: int = 10
    frames_per_pass: int = Field(default=25, description="frames the network predicts per pass")
    target_frames: int | None = Field(
        default=None, description="frames scored per window (default: frames_per_pass; more are rolled out)"
    )
    joints: list[int] | None = None
    joint_weights: list[float] | None = Field(default=None, description="loss weight per modelled joint")
    canonical: str = "heading"
    params: dict[str, Any] = Field(default_factory=dict)
    keep_bones: bool = Field(
        default=False,
        description="the network's forecasts keep the last observed bone lengths (`NeuralConfig.keep_bones`): in "
        "the weights' config, so inference applies it, and in every rollout during training (a rollout loss, "
        "validation)",
    )
    epochs: int = Field(default=50, ge=1)
    batch_size: int = Field(default=256, ge=1)
    velocity_loss: float = 0.0
    val_fraction: float = 0.1
    stride: int = 1
    val_stride: int = Field(
        default=1,
        ge=1,
        description="frames between validation windows (1: every window; more keeps the validation of a long "
        "autoregressive network on a large corpus affordable)",
    )
    dataset_weights: dict[str, float] | None = Field(
        default=None,
        description="data: corpus only: relative weight of each training data set when drawing windows (every "
        "data set named, e.g. {cmu_bvh: 1, cmu_mocap: 1, bandai_namco: 1}; `posecast.datasets.windows."
        "dataset_shares`); default: every training window once per epoch, so each data set by its length",
    )
    augment_mirror: bool = True
    augment_reverse: bool = False
    augment_yaw: bool = False
    augment_speed: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description="play each training window at a random speed in [1 - a, 1 + a] (linear resampling of a "
        "longer window)",
    )
    augment_scale: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description="scale each training window by a random factor in [1 - a, 1 + a] about its first root "
        "position (bone lengths and step lengths together: a smaller or bigger person)",
    )
    augment_short_history: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="fraction of training windows whose history is cut to a random 10 frames or more and padded "
        "by repeating its first frame, as `NeuralForecaster.predict` pads histories shorter than the network's",
    )
    lifted_history: str | None = Field(
        default=None,
        description="train a forecaster of lifted video estimates (the forecaster of `lift+forecast`): every "
        "window (world, after the other augmentations) is filmed by random virtual cameras with the detector noise "
        "measured on real clips, its observed frames are lifted to 3D by this video model (a shipped name such as "
        "'lifter', or a folder of lifter weights) and smoothed as `lift+forecast` smooths them; the window is then "
        "camera-aligned and pelvis-centred per frame, its history the lifted estimate and its future the true one. "
        "Validation windows too (filmed once, seed fixed). The data's skeleton must be the lifter's",
    )
    lifted_root: bool = Field(
        default=False,
        description="with lifted_history: the windows also carry the pelvis' motion in the camera's view instead of "
        "being pelvis-centred per frame — the history's from the lifter's cameras, the future's from the true cameras, "
        "each relative to the last observed frame (`posecast.video.models.common.camera_offsets`) — so the network "
        "also forecasts where the person goes in the image (`lift+forecast` turns it back into future cameras)",
    )
    standard_bones: bool = Field(
        default=False,
        description="give every training and validation sequence the training sequences' median bone lengths "
        "(directions kept, the root path scaled with the body; `posecast.kinematics.proportions`) and store them in "
        "the weights' config (`NeuralConfig.standard_bones`), so that inference reads every history at that build",
    )
    max_steps_per_epoch: int | None = None
    init: str | None = Field(
        default=None,
        description="start from these weights (fine-tuning): a run directory (its best/ weights), a weights "
        "directory with model.safetensors, or a shipped model 'NAME' / 'NAME/VARIANT'; the network "
        "config must match",
    )
    teacher: str | None = Field(
        default=None,
        description="distil: also fit the forecasts of these weights (a run directory, a weights directory or "
        "a shipped 'NAME' / 'NAME/VARIANT', e.g. an ensemble, with its own mirror averaging); same skeleton, "
        "frame rate, history and frames per pass",
    )
    teacher_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="loss = (1 - w) * loss(truth) + w * loss(teacher's forecast)"
    )
    compile: bool = Field(
        default=False,
        description="train through torch.compile (needs a C compiler; about 1.4x faster steps for dct-mlp on "
        "CPU after a compile of under a minute); evaluation and saved weights use the plain network",
    )


def load_config(path: Path | None, settings: tuple[str, ...] = (), **overrides: Any) -> TrainConfig:
    """A config from a YAML file (optional) with keyword overrides on top (``None`` values ignored)."""
    return read_config(TrainConfig, path, settings=settings, **overrides)


# ---------------------------------------------------------------------------------------- loss
def net_training_loss(net: str) -> Callable[..., Any] | None:
    """The ``training_loss(model, batch, history, weights)`` defined by the module of network family
    ``net`` (see ``NET_MODULES``), or None when it has none."""
    import importlib

    from posecast.models.neural import NET_MODULES

    module = NET_MODULES.get(net)
    return getattr(importlib.import_module(module), "training_loss", None) if module else None


def default_loss(model: NeuralForecaster, batch, config: TrainConfig, teacher: NeuralForecaster | None = None):
    """MPJPE (metres) over the predicted frames (rolled out with gradients when the target is longer
    than one network pass), plus an optional velocity term. A network whose module defines its own
    ``training_loss`` (e.g. teacher-forced next-frame prediction) is trained with that instead.

    With a ``teacher`` (distillation, ``TrainConfig.teacher``) the same loss is also taken against the
    teacher's forecast of the window, and the two are mixed by ``config.teacher_weight``."""
    import torch

    custom = net_training_loss(config.net)
    if custom is not None:
        return custom(model, batch, config.history, joint_weights(config, len(model.joints), batch))
    h = config.history
    f = config.target_frames or config.frames_per_pass
    pred = model.rollout(batch[:, :h], f) if f > config.frames_per_pass else model.step(batch[:, :h])[:, :f]
    joints = model.joints
    w = joint_weights(config, len(joints), pred)

    def loss_to(target):  # target (B, f, J, 3)
        err = ((pred[:, :, joints] - target[:, :, joints]).norm(dim=-1) * w).mean()
        if config.velocity_loss > 0:
            full_p = torch.cat([batch[:, h - 1 : h], pred], 1)
            full_t = torch.cat([batch[:, h - 1 : h], target], 1)
            vp, vt = full_p[:, 1:] - full_p[:, :-1], full_t[:, 1:] - full_t[:, :-1]
            err = err + config.velocity_loss * ((vp[:, :, joints] - vt[:, :, joints]).norm(dim=-1) * w).mean()
        return err

    truth = loss_to(batch[:, h : h + f])
    if teacher is None or config.teacher_weight == 0:
        return truth
    with torch.no_grad():
        guide = teacher.rollout(batch[:, :h], f)
    return (1 - config.teacher_weight) * truth + config.teacher_weight * loss_to(guide)


def joint_weights(config: TrainConfig, count: int, like):
    """``(count,)`` loss weights of the modelled joints, normalised to mean 1 (uniform by default)."""
    import torch

    if config.joint_weights is None:
        return torch.ones(count, dtype=like.dtype, device=like.device)
    if len(config.joint_weights) != count:
        raise ValueRangeError(f"joint_weights has {len(config.joint_weights)} entries for {count} modelled joints")
    w = torch.as_tensor(config.joint_weights, dtype=like.dtype, device=like.device)
    return w * (count / w.sum())


def gather_frames(batch, index):
    """``(B, L', J, 3)`` frames ``index (B, L')`` (per window) of ``(B, L, J, 3)`` torch windows."""
    import torch

    return torch.gather(batch, 1, index[:, :, None, None].expand(-1, -1, *batch.shape[2:]))


def speed_window(span: int, speed: float) -> int:
    """Frames to read for a ``span``-frame training window played up to ``1 + speed`` times faster."""
    return span if speed <= 0 else int(math.ceil((span - 1) * (1 + speed))) + 1


def speed_resample(batch, speed, span: int):
    """``(B, L, J, 3)`` windows played at ``speed (B,)`` times their speed: ``(B, span, J, 3)`` frames at
    times ``k * speed`` (k = 0 .. span - 1, linear interpolation; ``L`` must cover the fastest)."""
    import torch

    t = torch.arange(span, dtype=batch.dtype, device=batch.device)[None] * speed[:, None]  # (B, span)
    t = t.clamp(max=batch.shape[1] - 1)
    lo = t.floor().long()
    hi = (lo + 1).clamp(max=batch.shape[1] - 1)
    w = (t - lo.to(t.dtype))[:, :, None, None]
    return gather_frames(batch, lo) * (1 - w) + gather_frames(batch, hi) * w


SHORTEST_HISTORY = 10
"""Fewest observed frames a window keeps under ``augment_short_history``."""


def pad_short_histories(batch, history: int, fraction: float, rng: np.random.RandomState):
    """``(B, L, J, 3)`` windows where a ``fraction`` of them have their first ``history`` frames cut to the
    last ``n`` (``SHORTEST_HISTORY <= n < history``) and padded in front with copies of the first kept frame."""
    import torch

    b = batch.shape[0]
    if history <= SHORTEST_HISTORY:
        return batch
    keep = rng.randint(SHORTEST_HISTORY, history, b)
    keep[rng.rand(b) >= fraction] = history
    first = torch.as_tensor(history - keep, device=batch.device)  # (B,) first kept frame
    t = torch.arange(batch.shape[1], device=batch.device)[None]
    return gather_frames(batch, torch.maximum(t, first[:, None]))  # (B, L): frame index per window


def evaluate_windows(
    model: NeuralForecaster, ws: W.WindowSet, history: int, frames: int, batch_size: int = 1024
) -> np.ndarray:
    """``(frames,)`` mean per-joint error (metres) of autoregressive forecasts on every window of ``ws``."""
    import torch

    total, count = np.zeros(frames), 0
    device = next(iter(model.net.parameters())).device
    with torch.no_grad():
        for i in range(0, len(ws), batch_size):
            b = torch.as_tensor(ws.batch(np.arange(i, min(i + batch_size, len(ws)))), device=device)
            pred = model.rollout(b[:, :history], frames)
            err = (pred - b[:, history : history + frames])[:, :, model.joints].norm(dim=-1).mean(-1)
            total += err.sum(0).double().cpu().numpy()
            count += b.shape[0]
    return total / max(count, 1)


# ------------------------------------------------------------------------------ init, teacher
def weights_path(init: str, what: str = "init") -> Path:
    """The weights folder named by ``TrainConfig.init`` / ``teacher``: a run directory (its best/), a
    weights folder, or shipped weights ``NAME`` / ``NAME/VARIANT`` (`posecast.models.store.resolve`)."""
    from posecast.errors import ModelError
    from posecast.models import store

    try:
        return store.resolve(init)
    except ModelError:
        raise ValueRangeError(f"{what}: {init!r} is neither a run or weights directory nor shipped weights") from None


def load_teacher(teacher: str, ncfg: NeuralConfig) -> NeuralForecaster:
    """The forecaster named by ``TrainConfig.teacher`` (eval mode, frozen), checked against ``ncfg``."""
    path = weights_path(teacher, "teacher")
    model = NeuralForecaster.load(path)
    keys = ("skeleton", "fps", "history", "frames_per_pass")
    diff = [f"{k} {getattr(model.config, k)!r} vs {getattr(ncfg, k)!r}" for k in keys
            if getattr(model.config, k) != getattr(ncfg, k)]  # fmt: skip
    if diff:
        raise ValueRangeError(f"teacher does not fit the network ({', '.join(diff)})", path)
    model.net.eval().requires_grad_(False)
    return model


#: network ``params`` that only shape training (regularisation and loss terms), not the network a set of
#: weights belongs to: a run may start from weights trained with other values of these
TRAINING_ONLY_PARAMS = frozenset(
    {
        "dropout",
        "input_noise",
        "rollout_frames",
        "rollout_weight",
        "clean_base",
        "prior_weight",
        "prior_frames",
        "prior_warmup",
        "prior_speed",
        "prior_quantile",
        "prior_balance",
        "short_ridge",
        "short_still",
    }
)


#: network ``params`` that add a part to the network (``{param: state-dict prefix of the part}``): a run may
#: switch one on over weights trained without it; the added part starts from its own initialisation
ADDED_PARTS = {
    "linear_base": "base.",
    "project_prior": "pose_prior.",
    "project_normalise": "pose_prior.bone_lengths",
}

#: network ``params`` of parts fitted on the frozen network after its training (``{param: state-dict prefix}``: the
#: ST-Transformer's short-term read-out, `posecast.training.readout`): a run never starts them from init weights —
#: it drops them (the network they were fitted on is about to change) or, with ``params.short_ridge`` at learning
#: rate 0, fits them again (`check_config`)
REFITTED_PARTS = {"short_frames": "short_head.", "short_context": "short_head."}

#: inference-time ``params`` of the ST-Transformer's projection (`posecast.models.st_transformer.attach_projection`):
#: they change no trained part, so init weights are compared without them
PROJECTION_PARAMS = frozenset(
    {"project_prior", "project_components", "project_after", "project_normalise", "project_ramp"}
)


def initial_weights(
    init: str, ncfg: NeuralConfig, source: NeuralForecaster | None = None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The state dict named by ``TrainConfig.init``, checked against the network config ``ncfg`` (network
    ``params`` compared without `TRAINING_ONLY_PARAMS`), and the state-dict prefixes of the parts ``ncfg``
    adds to it (`ADDED_PARTS` switched on in ``ncfg`` but not in the init weights; `REFITTED_PARTS` are left out
    of the state and count as added where ``ncfg`` has them). ``source``: those weights, when already loaded."""
    path = weights_path(init)
    source = source if source is not None else NeuralForecaster.load(path)
    added = tuple(prefix for k, prefix in ADDED_PARTS.items() if ncfg.params.get(k) and not source.config.params.get(k))
    refitted = tuple(sorted(set(REFITTED_PARTS.values())))
    added += tuple(p for k, p in REFITTED_PARTS.items() if ncfg.params.get(k) and p not in added)
    skip = TRAINING_ONLY_PARAMS | PROJECTION_PARAMS | set(REFITTED_PARTS)
    skip |= {k for k, prefix in ADDED_PARTS.items() if prefix in added}

    def fields(config: NeuralConfig) -> dict[str, Any]:
        params = {k: v for k, v in config.params.items() if k not in skip}
        keys = ("net", "skeleton", "history", "frames_per_pass", "joints")
        return {**{k: getattr(config, k) for k in keys}, "params": params}

    mine, theirs = fields(ncfg), fields(source.config)
    diff = [f"{k} {theirs[k]!r} vs {mine[k]!r}" for k in mine if theirs[k] != mine[k]]
    if diff:
        raise ValueRangeError(f"init weights do not fit the network ({', '.join(diff)})", path)
    state = {k: v for k, v in source.net.state_dict().items() if not k.startswith(refitted)}
    return state, added


def inherited_settings(config: TrainConfig, source: NeuralConfig) -> dict[str, Any]:
    """The inference settings a run fine-tuning ``config.init`` takes from those weights (their config ``source``):
    ``mirror_average`` (no
    training setting), and ``keep_bones`` with ``bones_fed_back`` unless the config sets ``keep_bones`` itself
    (QA: a fine-tune of the default model's weights forecast without their mirror averaging and kept bones, which
    were chosen on validation for them, without a word). Only the values that differ from the defaults."""
    keys = ["mirror_average"] + ([] if "keep_bones" in config.model_fields_set else ["keep_bones", "bones_fed_back"])
    defaults = NeuralConfig.model_fields
    return {k: getattr(source, k) for k in keys if getattr(source, k) != defaults[k].default}


def load_initial(net: Any, init: str, ncfg: NeuralConfig, source: NeuralForecaster | None = None) -> None:
    """Load ``TrainConfig.init`` into ``net`` (`initial_weights`; ``source``: those weights, already loaded); only the
    added parts may be missing."""
    state, added = initial_weights(init, ncfg, source)
    missing, unexpected = net.load_state_dict(state, strict=not added)
    wrong = [k for k in missing if not k.startswith(added)] + list(unexpected)
    if wrong:
        raise ValueRangeError(f"init weights do not fit the network (parameters {', '.join(wrong)})", init)


PRIOR_STRIDE = 5
"""Every 5th frame of the training sequences (0.2 s at 25 fps) goes into the pose prior's fit."""


PRIOR_QUANTILE = 0.99
"""The pose prior's threshold: poses less likely than this share of the training poses are penalised."""


def fit_pose_prior(
    sequences: list[np.ndarray],
    skeleton: Any,
    stride: int = PRIOR_STRIDE,
    components: int = 32,
    quantile: float = PRIOR_QUANTILE,
    datasets: list[str] | None = None,
    normalise: bool = False,
) -> Any:
    """The Gaussian-mixture pose prior (`posecast.models.pose_prior.PosePrior`) of every ``stride``-th frame
    of the ``(T, J, 3)`` training ``sequences`` on ``skeleton`` (features relative to its root, heading from
    its hip pair, as the network's canonical frame), ``components`` Gaussians, threshold at ``quantile``.

    ``datasets`` (one name per sequence, e.g. `TrainingData.train_datasets`): every data set weighs the same
    in the fit and the quantile (``params.prior_balance``), however many poses it has; None: every pose
    the same. ``normalise`` (``params.project_normalise``): every pose first gets the median bone lengths of
    the picked poses, which the prior keeps (``PosePrior(parents=...)``: it then judges poses, not bodies)."""
    import torch

    from posecast.models.neural import hip_pair
    from posecast.models.pose_prior import PosePrior, pose_features

    root = int(np.flatnonzero(np.asarray(skeleton.parents) < 0)[0])
    joints = (root, *hip_pair(skeleton))
    picked = [np.asarray(q)[::stride] for q in sequences]
    poses = torch.as_tensor(np.concatenate(picked), dtype=torch.float64)
    lengths = None
    if normalise:
        from posecast.kinematics.fk import bone_lengths, set_bone_lengths

        lengths = bone_lengths(poses, skeleton).median(0).values
        poses = set_bone_lengths(poses, lengths, skeleton)
    weights = None
    if datasets is not None:
        if len(datasets) != len(sequences):
            raise ValueRangeError(f"{len(datasets)} data-set names for {len(sequences)} sequences")
        names = np.repeat(np.asarray(datasets), [len(p) for p in picked])
        counts = {name: int((names == name).sum()) for name in set(datasets)}
        weights = torch.as_tensor([1.0 / counts[name] for name in names], dtype=torch.float64)
    prior = PosePrior.fit(
        pose_features(poses, *joints),
        joints=joints,
        components=components,
        quantile=quantile,
        sample_weights=weights,
        parents=None if lengths is None else skeleton.parents,
    )
    if lengths is not None:
        prior.bone_lengths.copy_(lengths)
    return prior


def check_config(config: TrainConfig) -> None:
    """Refusals that need no data (a teacher for a network that trains with a loss of its own)."""
    if config.teacher and net_training_loss(config.net) is not None:
        raise ValueRangeError(f"teacher: {config.net} trains with a loss of its own, which takes no teacher")
    if config.lifted_root and not config.lifted_history:
        raise ValueRangeError("lifted_root: the pelvis' motion in the camera's view needs lifted_history (a lifter)")
    frames, ridge = config.params.get("short_frames"), config.params.get("short_ridge")
    if (frames or ridge is not None) and (not frames or ridge is None or config.lr != 0):
        raise ValueRangeError(
            "params.short_frames / short_ridge: the short-term read-out is fitted by ridge regression on a trained, "
            "frozen network: set both, with lr: 0, in a run of its own after the network's training "
            "(configs/st-transformer/corpus-short.yaml)"
        )


def standard_build(data: Any) -> list[float]:
    """`TrainConfig.standard_bones`: ``data``'s training and validation sequences, in place, at the training
    sequences' median bone lengths (`posecast.kinematics.proportions`); returns those lengths."""
    from posecast.kinematics.proportions import standard_lengths, to_standard

    parents = data.skeleton.parents
    lengths = standard_lengths(data.train, parents)
    for seqs in (data.train, data.val):
        seqs[:] = [to_standard(s[None], lengths, parents)[0][0].astype(np.float32) for s in seqs]
    data.description["standard_bones"] = "every sequence at the training sequences' median bone lengths"
    return [round(float(x), 6) for x in lengths]


# ------------------------------------------------------------------------------------- the task
class LiftedHistory:
    """`TrainConfig.lifted_history`: world windows ``(B, L, J, 3)`` → the same windows as a video path sees them,
    camera-aligned and pelvis-centred per frame (metres), the first ``history`` frames replaced by the lifter's
    smoothed estimate from filmed keypoints (`posecast.video.cameras.film` with `CameraConfig.measured`), the
    rest the true future. ``lifter``: a shipped video model name or a weights folder. With ``root``
    (`TrainConfig.lifted_root`) every frame is moved by the pelvis' offset from the last observed frame in the
    camera's view (`posecast.video.models.common.camera_offsets`): the history's from the lifter's cameras, the
    future's from the true ones."""

    #: seed of the cameras that film the validation windows (fixed, so every epoch sees the same ones)
    VAL_SEED = 12345

    def __init__(self, lifter: str, skeleton: Any, fps: float, root: bool = False) -> None:
        from posecast import skeletons
        from posecast.models import get
        from posecast.video.cameras import CameraConfig
        from posecast.video.models import VideoForecaster, module

        model = module("lifter").load(Path(lifter)) if Path(lifter).is_dir() else get(lifter)
        if not isinstance(model, VideoForecaster):
            raise ValueRangeError(f"lifted_history: {lifter!r} is not a video model")
        if not skeleton.same_layout(skeletons.get(model.skeleton)) or float(model.fps) != float(fps):
            raise ValueRangeError(
                f"lifted_history: the lifter works on {model.skeleton} at {model.fps:g} fps, the data is "
                f"{skeleton.name} at {fps:g} fps"
            )
        self.model, self.skeleton, self.fps, self.root = model, skeleton, fps, root
        self.camera = CameraConfig.measured()

    def __call__(self, windows: np.ndarray, history: int, rng: np.random.Generator, chunk: int = 512) -> np.ndarray:
        from posecast.video.cameras import film
        from posecast.video.models.common import camera_offsets
        from posecast.video.models.lift_forecast import smooth_past

        out = np.empty(windows.shape, dtype=np.float32)
        for i in range(0, len(windows), chunk):
            b = film(windows[i : i + chunk], self.skeleton, self.fps, rng, self.camera)
            lifted = self.model.predict(b.keypoints[:, :history], b.visibility[:, :history], 1)
            past, future = lifted.past, b.points[:, history:]
            if self.root:
                est = lifted.camera[:, :history]
                past = past + camera_offsets(est, est[:, -1])[:, :, None]
                future = future + camera_offsets(b.camera[:, history:], b.camera[:, history - 1])[:, :, None]
            out[i : i + chunk, :history] = smooth_past(past)
            out[i : i + chunk, history:] = future
        return out

    def window_set(self, windows: W.WindowSet, history: int) -> W.WindowSet:
        """Every window of ``windows`` lifted once (cameras from `VAL_SEED`), as a `WindowSet`."""
        lifted = self(windows.batch(np.arange(len(windows))), history, np.random.default_rng(self.VAL_SEED))
        return W.WindowSet.from_sequences(list(lifted), windows.length, windows.skeleton, windows.fps, windows.length)


class MotionTask(TrainingTask):
    """`TrainingTask` of a position network (module docstring)."""

    kind = "motion"
    round_name = "epoch"
    score_key = "val_mpjpe_mm"
    distributed = True

    def __init__(self, config: TrainConfig, loss_fn: Callable[..., Any] | None = None) -> None:
        self.config = config
        self.name = config.model
        self.loss_fn = loss_fn

    def prepare(self, dist: Any) -> None:
        from posecast.datasets.training_data import load_training_data

        config = self.config
        check_config(config)  # before loading any data
        self.dist = dist
        data = load_training_data(
            config.data,
            config.fps,
            config.val_fraction,
            min_frames=config.history + max(config.frames_per_pass, config.target_frames or 0),
            reading=config.reading,
        )
        standard = standard_build(data) if config.standard_bones else None
        self.frames = config.target_frames or config.frames_per_pass
        span = config.history + max(config.frames_per_pass, self.frames)
        self.span = span
        # speed augmentation reads a longer window and resamples it (`speed_resample`)
        stored = speed_window(span, config.augment_speed)
        frames = data.description.get("frames")
        if isinstance(frames, dict):  # a folder of files: those too short for one window (QA: dropped without a word)
            short = sorted(name for name, n in frames.items() if n < stored)
            if short:
                data.description["too_short"] = {"frames_needed": stored, "seconds": stored / data.fps, "files": short}
        self.train_ws = W.WindowSet.from_sequences(data.train, stored, data.skeleton, data.fps, config.stride)
        self.window_p = None  # per-window probability with dataset_weights (else a permutation per epoch)
        if config.dataset_weights:
            owner = self.train_ws.sequence
            counts = np.bincount(owner, minlength=len(data.train))
            shares = W.dataset_shares(counts, data.train_datasets, config.dataset_weights, f"{stored} frames")
            self.window_p = shares[owner] / counts[owner]
        self.val_ws = (
            W.WindowSet.from_sequences(
                data.val, config.history + self.frames, data.skeleton, data.fps, config.val_stride
            )
            if data.val
            else None
        )
        self.ncfg = NeuralConfig(
            net=config.net,
            skeleton=data.skeleton.name,
            fps=data.fps,
            history=config.history,
            frames_per_pass=config.frames_per_pass,
            joints=config.joints,
            canonical=config.canonical,  # type: ignore[arg-type]
            params=config.params,
            keep_bones=config.keep_bones,
            standard_bones=standard,
        )
        if not data.skeleton.same_layout(NeuralForecaster(self.ncfg).skeleton):
            raise ValueRangeError("training data skeleton differs from its registered layout")
        init = NeuralForecaster.load(weights_path(config.init)) if config.init else None  # read once
        self.inherited = inherited_settings(config, init.config) if init is not None else {}
        self.ncfg = self.ncfg.model_copy(update=self.inherited)
        self.model = NeuralForecaster(self.ncfg, name=config.model)
        if init is not None:
            load_initial(self.model.net, config.init, self.ncfg, init)
        if float(config.params.get("prior_weight", 0.0)) > 0:
            self.model.pose_prior = fit_pose_prior(
                data.train,
                data.skeleton,
                quantile=float(config.params.get("prior_quantile", PRIOR_QUANTILE)),
                datasets=data.train_datasets if config.params.get("prior_balance") else None,
            ).to(dist.device)
        if config.params.get("project_prior") is not None:  # the rollout's projection prior, fitted once
            fitted = fit_pose_prior(
                data.train,
                data.skeleton,
                components=int(config.params.get("project_components", 32)),
                quantile=float(config.params["project_prior"]),
                datasets=data.train_datasets if config.params.get("prior_balance") else None,
                normalise=bool(config.params.get("project_normalise", False)),
            )
            self.model.net.pose_prior.load_state_dict(fitted.state_dict())
        self.short_fit: dict[str, float | int] | None = None
        if config.params.get("short_ridge") is not None:  # the short-term read-out, fitted once (lr 0)
            from posecast.training.readout import fit_short_head

            self.short_fit = fit_short_head(
                self.model,
                data.train,
                float(config.params["short_ridge"]),
                stride=config.stride,
                mirror=config.augment_mirror,
                still=float(config.params.get("short_still", 0.0)),
            )
        self.teacher = load_teacher(config.teacher, self.ncfg) if config.teacher else None
        if self.teacher is not None:
            self.teacher.net.to(dist.device)
        self.network = self.model.net
        self.data = data
        self.lifted = (
            LiftedHistory(config.lifted_history, data.skeleton, data.fps, config.lifted_root)
            if config.lifted_history
            else None
        )
        self.body = config.body_augment(data.skeleton)
        if self.lifted is not None and self.val_ws is not None:
            self.val_ws = self.lifted.window_set(self.val_ws, config.history)
        steps = math.ceil(len(self.train_ws) / (config.batch_size * dist.world))
        if config.max_steps_per_epoch:
            steps = min(steps, config.max_steps_per_epoch)
        self.round_steps, self.total_steps = steps, steps * config.epochs

    def describe(self) -> dict[str, Any]:
        out = {
            "network": self.ncfg.model_dump(),
            "data": self.data.description,
            "windows": {"train": len(self.train_ws), "val": len(self.val_ws) if self.val_ws else 0},
        }
        if self.inherited:
            out["inherited_from_init"] = self.inherited
        if self.short_fit is not None:
            out["short_head_fit"] = self.short_fit
        if self.window_p is not None:  # the share of the drawn windows each data set gets
            names = np.asarray(self.data.train_datasets)[self.train_ws.sequence]
            out["dataset_shares"] = {d: round(float(self.window_p[names == d].sum()), 4) for d in sorted(set(names))}
        return out

    def use(self, module: Any) -> None:
        self.model.net = module  # the wrapper calls the DDP / compiled module; `network` stays the plain one

    def batches(self, round_index: int) -> Iterator[Any]:
        import torch

        config, dist, skel = self.config, self.dist, self.data.skeleton
        rng = np.random.RandomState(config.seed * 1000 + round_index)
        film_rng = np.random.default_rng([config.seed, round_index, 1])  # virtual cameras of lifted histories
        body_rng = np.random.default_rng([config.seed, round_index, 2])  # other bodies (augment_bones, _tilt)
        if self.window_p is None:
            perm = rng.permutation(len(self.train_ws))[dist.rank :: dist.world]
        else:  # drawn by data set (dataset_weights), as many windows as an epoch of steps takes
            size = self.round_steps * config.batch_size * dist.world
            perm = rng.choice(len(self.train_ws), size=size, p=self.window_p)[dist.rank :: dist.world]
        for step in range(self.round_steps):
            idx = perm[step * config.batch_size : (step + 1) * config.batch_size]
            if len(idx) == 0:
                return
            batch = torch.as_tensor(self.train_ws.batch(idx), device=dist.device)
            if config.augment_speed > 0:
                speed = rng.uniform(1 - config.augment_speed, 1 + config.augment_speed, len(idx))
                batch = speed_resample(batch, torch.as_tensor(speed, dtype=batch.dtype, device=dist.device), self.span)
            if config.augment_scale > 0:
                scale = rng.uniform(1 - config.augment_scale, 1 + config.augment_scale, len(idx))
                scale_t = torch.as_tensor(scale, dtype=batch.dtype, device=dist.device)[:, None, None, None]
                centre = batch[:, :1, :1]
                batch = centre + (batch - centre) * scale_t
            if config.augment_short_history > 0:
                batch = pad_short_histories(batch, config.history, config.augment_short_history, rng)
            if config.augment_mirror:
                flip = torch.as_tensor(rng.rand(len(idx)) < 0.5, device=dist.device)
                batch = torch.where(flip[:, None, None, None], W.mirror(batch, skel), batch)
            if config.augment_reverse:
                rev = torch.as_tensor(rng.rand(len(idx)) < 0.5, device=dist.device)
                batch = torch.where(rev[:, None, None, None], W.reverse(batch), batch)
            if config.augment_yaw:
                ang = torch.as_tensor(rng.uniform(-math.pi, math.pi, len(idx)), dtype=batch.dtype, device=dist.device)
                batch = W.yaw(batch, ang)
            if self.body is not None:
                batch = torch.as_tensor(self.body(batch.cpu().numpy(), body_rng), dtype=batch.dtype, device=dist.device)
            if self.lifted is not None:
                batch = torch.as_tensor(
                    self.lifted(batch.cpu().numpy(), config.history, film_rng), dtype=batch.dtype, device=dist.device
                )
            yield batch

    def loss(self, batch: Any, progress: float) -> tuple[Any, dict[str, float]]:
        if self.loss_fn is not None:
            return self.loss_fn(self.model, batch, self.config), {}
        return default_loss(self.model, batch, self.config, self.teacher), {}

    def plain(self) -> NeuralForecaster:
        """A forecaster around the plain (unwrapped) network, for validation and saving."""
        return NeuralForecaster(self.ncfg, net=self.network, name=self.config.model)

    def validate(self) -> dict[str, float]:
        if self.val_ws is None:
            return {}
        curve = evaluate_windows(self.plain(), self.val_ws, self.config.history, self.frames) * 1000.0
        return {"val_mpjpe_mm": float(curve.mean()), "val_mpjpe_mm_last": float(curve[-1])}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        extra = {"lifted_root": True} if self.config.lifted_root else {}
        self.plain().save(directory, {"epoch": record["epoch"], "run": "run.json", **extra})


def train(
    config: TrainConfig,
    out: Path,
    resume: bool = True,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    loss_fn: Callable[..., Any] | None = None,
) -> Path:
    """Train ``config`` into the run directory ``out`` through the loop and return ``out``; ``loss_fn``
    ``(model, batch, config) -> loss`` replaces `default_loss`."""
    fit(MotionTask(config, loss_fn), Path(out), resume=resume, progress=progress)
    return Path(out)


PLUGIN = Plugin("motion", TrainConfig, MotionTask, default_data="cmu-mocap", distributed=True)
