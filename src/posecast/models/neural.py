"""Learned forecasters: the wrapper that turns a torch network into a `Forecaster`.

A network sees only tensors: ``net(x (B, T, D)) -> (B, F, D)`` with ``D = 3 * len(joints)`` in a
*canonical frame* (metres): the root of the last observed frame is moved to the origin in the
ground plane (its height is kept) and, with ``canonical="heading"``, the body is turned about the
vertical axis so that the hips' left-right axis points along +x (the subject faces +z). The
wrapper does everything else:

* resamples the history to the network's frame rate and the forecast back;
* takes the last ``history`` frames (repeating the first if there are fewer);
* rolls the network out autoregressively when more than ``frames_per_pass`` frames are asked for,
  re-canonicalising at every step so long rollouts never leave the region it was trained on;
* fills joints the network does not model by following their nearest modelled ancestor rigidly
  (zero-length helper joints coincide with it; joints constant in the body frame stay put).

Weights are weights-store folders (`posecast.models.store`: safetensors + JSON config), shipped under
``posecast/weights/<model>/<variant>/``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from posecast import skeletons
from posecast.errors import ModelError, SkeletonError, problems
from posecast.models import store
from posecast.models.base import Forecaster, check_predict
from posecast.models.tracing import TraceCache
from posecast.motion import resample_positions
from posecast.skeletons.base import Skeleton


class NeuralConfig(BaseModel):
    """Everything needed to rebuild a trained network (stored next to its weights).

    ``frames_per_pass`` was called ``horizon`` in weights written before the rename; such configs still
    load (the old key is accepted on input) and `model_dump` writes the new key.
    """

    model_config = ConfigDict(extra="forbid")

    net: str = Field(description="network family in the NETS registry, e.g. 'dct-mlp'")
    skeleton: str
    fps: float = Field(gt=0)
    history: int = Field(ge=2, description="observed frames the network reads")
    frames_per_pass: int = Field(
        ge=1,
        validation_alias=AliasChoices("frames_per_pass", "horizon"),  # "horizon": configs written before the rename
        description="frames the network predicts per pass",
    )
    joints: list[int] | None = Field(default=None, description="modelled joints (None: all)")
    canonical: Literal["none", "translation", "heading"] = "heading"
    params: dict[str, Any] = Field(default_factory=dict, description="architecture hyper-parameters")
    mirror_average: bool = Field(
        default=False, description="at inference, average the forecast with the mirrored forecast of the mirrored input"
    )
    keep_bones: bool = Field(
        default=False,
        description="every pass's predicted frames get the bone lengths of the window's last frame (bone directions "
        "kept; in a rollout the lengths of the last observed frame throughout)",
    )
    bones_fed_back: bool = Field(
        default=True,
        description="with keep_bones, a rollout's next pass reads the corrected frames; false: it reads the "
        "network's own frames (as in training) and only the returned frames are corrected (the first pass is the "
        "same either way). `NeuralForecaster` rollouts; the ST-Transformer's cached rollout always feeds back.",
    )
    standard_bones: list[float] | None = Field(
        default=None,
        description="bone lengths (one per non-root joint, joint order; metres) every history is given before the "
        "network reads it, directions kept and the root path scaled with the body, and the forecast given the "
        "history's own back (`posecast.kinematics.proportions`): the training data's medians, for weights trained "
        "or fitted on data of that one build (`TrainConfig.standard_bones`); None: histories as they are",
    )


NetFactory = Callable[[NeuralConfig, int], Any]  # (config, num_features D) -> nn.Module
NETS: dict[str, NetFactory] = {}
#: network family -> module that registers it (imported on first use, so torch loads only when needed)
NET_MODULES = {
    "dct-mlp": "posecast.models.dct_mlp",
    "st-transformer": "posecast.models.st_transformer",
    "traj-gcn": "posecast.models.traj_gcn",
    "res-gru": "posecast.models.res_gru",
    "ensemble": "posecast.models.ensemble",
}


def register_net(name: str) -> Callable[[NetFactory], NetFactory]:
    """Decorator registering a network factory ``(config, D) -> nn.Module``."""

    def deco(factory: NetFactory) -> NetFactory:
        NETS[name] = factory
        return factory

    return deco


#: network family -> rollout ``(forecaster, window (B, T, J, 3), frames) -> (B, frames, J, 3) | None`` that replaces
#: `NeuralForecaster`'s pass-per-frame loop (e.g. the ST-Transformer's cached decoding); None: use the loop
ROLLOUTS: dict[str, Callable[..., Any]] = {}


def register_rollout(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a network family's rollout (see `ROLLOUTS`)."""

    def deco(rollout: Callable[..., Any]) -> Callable[..., Any]:
        ROLLOUTS[name] = rollout
        return rollout

    return deco


def build_net(config: NeuralConfig):
    if config.net not in NETS and config.net in NET_MODULES:
        import importlib

        importlib.import_module(NET_MODULES[config.net])
    if config.net not in NETS:
        raise ModelError(f"unknown network {config.net!r}; known: {', '.join(sorted(NETS))}")
    skel = skeletons.get(config.skeleton)
    joints = config.joints if config.joints is not None else list(range(skel.num_joints))
    return NETS[config.net](config, 3 * len(joints))


# ------------------------------------------------------------------------------- canonical frame
_HIP_PAIRS: dict[int, tuple[Skeleton, tuple[int, int]]] = {}


def hip_pair(skeleton: Skeleton) -> tuple[int, int]:
    """The left/right pair that defines the body's heading: the mirrored pair closest to the root
    (in tree depth) whose joints are apart in the rest pose (or named like hips, for keypoint
    layouts without offsets). Memoised per skeleton object (it runs on every forecast pass)."""
    hit = _HIP_PAIRS.get(id(skeleton))
    if hit is not None and hit[0] is skeleton:
        return hit[1]
    pair = _hip_pair(skeleton)
    _HIP_PAIRS[id(skeleton)] = (skeleton, pair)
    return pair


def _hip_pair(skeleton: Skeleton) -> tuple[int, int]:
    if not skeleton.left_right:
        raise SkeletonError(f"skeleton {skeleton.name!r} has no left/right pairs to define a heading")
    depth = [0] * skeleton.num_joints
    for j in range(1, skeleton.num_joints):
        depth[j] = depth[skeleton.parents[j]] + 1
    candidates = list(skeleton.left_right)
    if skeleton.offsets is not None:
        rest = skeleton.rest_positions()
        candidates = [(a, b) for a, b in candidates if np.linalg.norm(rest[a] - rest[b]) > 0.02] or candidates
    else:
        named = [(a, b) for a, b in candidates if "hip" in skeleton.joint_names[a].lower()]
        candidates = named or candidates
    return min(candidates, key=lambda p: (depth[p[0]] + depth[p[1]], p))


def canonical_frame(window, skeleton: Skeleton, mode: str):
    """Origin ``(B, 1, 1, 3)`` and rotation ``(B, 3, 3)`` of the canonical frame of ``(B, T, J, 3)``
    torch windows, from their last frame: ``canonical = (x - origin) @ rot.T``."""
    import torch

    last = window[:, -1]
    origin = torch.zeros_like(last[:, :1])
    if mode != "none":
        origin[..., 0] = last[:, :1, 0]
        origin[..., 2] = last[:, :1, 2]
    rot = torch.eye(3, dtype=window.dtype, device=window.device).expand(window.shape[0], 3, 3).clone()
    if mode == "heading":
        left, right = hip_pair(skeleton)
        lat = last[:, left] - last[:, right]
        theta = torch.atan2(lat[:, 2], lat[:, 0])
        c, s = torch.cos(theta), torch.sin(theta)
        rot[:, 0, 0], rot[:, 0, 2], rot[:, 2, 0], rot[:, 2, 2] = c, s, -s, c
    return origin[:, None], rot


def to_canonical(x, origin, rot):
    """``(B, T, J, 3)`` → canonical coordinates."""
    return (x - origin) @ rot.transpose(-1, -2)[:, None]


def from_canonical(y, origin, rot):
    """Inverse of `to_canonical`."""
    return y @ rot[:, None] + origin


@lru_cache(maxsize=32)
def _anchors(parents: tuple[int, ...], modelled: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Unmodelled joints and, for each, its nearest modelled ancestor (the joint itself if none)."""
    keep = set(modelled)
    joints, anchors = [], []
    for j in range(len(parents)):
        if j in keep:
            continue
        a = parents[j]
        while a != -1 and a not in keep:
            a = parents[a]
        joints.append(j)
        anchors.append(j if a == -1 else a)
    return joints, anchors


def follow_parents(pred, last_obs, modelled: list[int], skeleton: Skeleton):
    """Fill joints that are not modelled: each follows its nearest modelled ancestor rigidly
    (translation only), keeping its offset from that ancestor in the last observed frame; a joint
    with no modelled ancestor (e.g. the root in a body frame) stays where it was.

    Args:
        pred: ``(B, F, J, 3)`` with the modelled joints filled in.
        last_obs: ``(B, J, 3)`` last observed frame.
    """
    joints, anchors = _anchors(tuple(skeleton.parents), tuple(modelled))
    if not joints:
        return pred
    out = pred.clone()
    moving = [a not in joints for a in anchors]  # anchors that are modelled move with the prediction
    base = out[:, :, anchors] * pred.new_tensor(moving)[:, None]
    out[:, :, joints] = base + (
        last_obs[:, None, joints] - last_obs[:, None, anchors] * pred.new_tensor(moving)[:, None]
    )
    return out


# ---------------------------------------------------------------------------------- forecaster
def _rollout_module(forecaster: NeuralForecaster, frames: int):
    """An ``nn.Module`` whose forward is ``forecaster._rollout(window, frames)``, with the network as
    a registered sub-module so that tracing and freezing see its parameters."""
    from torch import nn

    class Rollout(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = forecaster.net

        def forward(self, window):
            return forecaster._rollout(window, frames)

    return Rollout().eval()


class NeuralForecaster(Forecaster):
    """A trained network behind the `Forecaster` interface."""

    def __init__(self, config: NeuralConfig, net: Any = None, name: str | None = None) -> None:
        import torch

        self.config = config
        self.name = name or config.net
        self.skeleton = skeletons.get(config.skeleton)
        self.joints = config.joints if config.joints is not None else list(range(self.skeleton.num_joints))
        self.net = net if net is not None else build_net(config)
        self.net.eval()
        self.min_history = 2
        self._torch = torch
        self._traces = TraceCache()  # traced copies per (what, input shape..., settings, weights version)
        self._params: list[Any] | None = None
        self._canonical: Any = None  # CanonicalForecaster around this network (canonical-body weights)

    def on_skeleton(self, skeleton: Skeleton | str, mapping: Any = None) -> Forecaster:
        """Itself for histories on its own layout; a network trained on the canonical body runs on every
        skeleton, its own included, through `posecast.models.canonical.CanonicalForecaster` (which also turns
        histories recorded with another up axis upright and back)."""
        from posecast.models.canonical import CANONICAL, CanonicalForecaster

        skel = skeletons.get(skeleton)
        if mapping is None and skel.same_layout(self.skeleton) and self.config.skeleton != CANONICAL:
            return self
        if self.config.skeleton == CANONICAL:  # bound even to its own layout: histories in a z-up world are turned
            if self._canonical is None:
                self._canonical = CanonicalForecaster(self)
            return self._canonical.on_skeleton(skel, mapping)
        raise SkeletonError(
            f"model {self.name!r} was trained on skeleton {self.skeleton.name!r}; the history is on {skel.name!r}"
        )

    def history_frames(self, fps: float) -> int:
        """The network's window (``history`` frames at its own rate) at ``fps``, plus one to interpolate from."""
        return int(math.ceil(self.config.history * fps / self.config.fps)) + 1

    # ------------------------------------------------------------------------------ one pass
    def step(self, window):
        """One network pass on world-frame torch windows ``(B, history, J, 3)`` → ``(B, frames_per_pass, J, 3)``.

        With ``mirror_average`` (inference only) the pass also runs on the left/right mirror image of
        the window and the mirrored-back result is averaged in: a test-time augmentation that makes
        the forecast exactly mirror-symmetric.
        """
        return self._bones(self._pass(window), window[:, -1:])

    def _pass(self, window):
        """`step` without ``keep_bones``: the network's own frames (mirror-averaged at inference if configured)."""
        if self.config.mirror_average and not self.net.training:
            from posecast.datasets.windows import mirror

            # one pass on the window and its mirror image stacked along the batch: half the calls
            b = window.shape[0]
            both = self._step(self._torch.cat([window, mirror(window, self.skeleton)], dim=0))
            return 0.5 * (both[:b] + mirror(both[b:], self.skeleton))
        return self._step(window)

    def _bones(self, y, reference):
        """``y (B, F, J, 3)`` with the bone lengths of ``reference (B, 1, J, 3)`` when ``keep_bones`` is on."""
        if not self.config.keep_bones:
            return y
        from posecast.kinematics.fk import keep_bone_lengths

        return keep_bone_lengths(y, reference, self.skeleton)

    def _weights_version(self) -> int:
        """Sum of the parameters' version counters: in-place updates (an optimiser step,
        ``load_state_dict``) bump it, so traced copies holding old weights are never reused."""
        if self._params is None:
            self._params = list(self.net.parameters())
        return sum(p._version for p in self._params)

    def _traced_call(self, key: tuple[Any, ...], build: Callable[[], Any], *inputs, after: int = 1):
        """``build()(*inputs)``, from the ``after``-th call with the same ``key`` on through a traced and frozen
        TorchScript copy (`posecast.models.tracing.TraceCache`: the same operations without Python's
        per-operation overhead, checked against the eager result once)."""
        return self._traces(key, build, *inputs, after=after)

    def _inference(self, batch: int) -> bool:
        """Whether a call with this batch size takes the traced path: inference (eval mode, no
        autograd, not itself being traced) on at most `TRACE_MAX_BATCH` windows."""
        torch = self._torch
        return batch <= self.TRACE_MAX_BATCH and not (
            self.net.training or torch.is_grad_enabled() or torch.jit.is_tracing()
        )

    def _run_net(self, x):
        """The network on ``(B, T, D)``; at inference (eval mode, no autograd) through a traced copy per
        input shape (see `_traced_call`; the deep, narrow dct-mlp is about 3x faster at batch 1)."""
        if not self._inference(x.shape[0]):
            return self.net(x)
        return self._traced_call(("net", *x.shape, self._weights_version()), lambda: self.net, x)

    def _step(self, window):
        origin, rot = canonical_frame(window, self.skeleton, self.config.canonical)
        x = to_canonical(window, origin, rot)[:, :, self.joints]
        b, t = x.shape[:2]
        y = self._run_net(x.reshape(b, t, -1)).reshape(b, -1, len(self.joints), 3)
        full = x.new_zeros(b, y.shape[1], self.skeleton.num_joints, 3)
        full[:, :, self.joints] = y
        last = to_canonical(window[:, -1:], origin, rot)[:, 0]
        full = follow_parents(full, last, self.joints, self.skeleton)
        return from_canonical(full, origin, rot)

    #: rollouts of at most this many passes are traced whole (longer ones would build huge graphs)
    TRACE_MAX_PASSES = 8
    #: only batches up to this size are traced: there the Python around each operation costs as much
    #: as the operation, while a trace keeps memory of the order of its example's activations for the
    #: life of the process (about 15 MB at batch 2, gigabytes at batch 2000)
    TRACE_MAX_BATCH = 16

    def rollout(self, window, frames: int):
        """Autoregressive prediction of ``frames`` frames from torch windows ``(B, history, J, 3)``.

        At inference a rollout asked for a second time with the same shapes (every pass with its
        canonical frames, joint filling and mirror averaging) runs as one traced graph (see
        `_traced_call`): at batch 1 the Python around the network costs as much as the network."""
        if not self._inference(window.shape[0]) or -(-frames // self.config.frames_per_pass) > self.TRACE_MAX_PASSES:
            return self._rollout(window, frames)
        # the settings a trace bakes in are part of the key, so changing them is never ignored
        # (a network's own rollout schedule too: the ST-Transformer's cache refresh and short read-out, `ROLLOUTS`)
        schedule = (  # ... and the projection's start and blend (params.project_after, project_ramp)
            getattr(self.net, "refresh", 1),
            getattr(self.net, "short_frames", 0),
            getattr(self.net, "project_from", None),
            getattr(self.net, "project_ramp", 0),
            getattr(self.net, "pose_prior", None) is not None,
        )
        settings = (
            self.config.mirror_average,
            self.config.keep_bones,
            self.config.bones_fed_back,
            self.config.canonical,
            tuple(self.joints),
            schedule,
        )
        key = ("rollout", *window.shape, frames, settings, self._weights_version())
        # traced from the second call on: one-off shapes (a benchmark batch) are not worth a trace
        return self._traced_call(key, lambda: _rollout_module(self, frames), window, after=2)

    def _rollout(self, window, frames: int):
        torch = self._torch
        custom = ROLLOUTS.get(self.config.net)
        fast = custom(self, window, frames) if custom is not None else None
        if fast is not None:
            return fast
        chunks, total = [], 0
        reference = window[:, -1:]  # the last observed frame: its bone lengths throughout (keep_bones)
        while total < frames:
            raw = self._pass(window)
            y = self._bones(raw, reference)
            chunks.append(y)
            total += y.shape[1]
            fed = y if self.config.bones_fed_back else raw
            window = torch.cat([window, fed], dim=1)[:, -self.config.history :]
        return torch.cat(chunks, dim=1)[:, :frames]

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        h = check_predict(history, frames, samples, fps)
        if h.shape[2] != self.skeleton.num_joints:
            raise SkeletonError(
                f"model {self.name!r} was trained on skeleton {self.skeleton.name!r} ({self.skeleton.num_joints} "
                f"joints); the history has {h.shape[2]} joints"
            )
        if self.config.standard_bones is not None:  # one build of body for the network, the history's own after
            from posecast.kinematics.proportions import from_standard, to_standard

            h = h[:, -self.history_frames(fps or self.config.fps) :]  # the frames the network reads are measured
            standard, build = to_standard(h, np.asarray(self.config.standard_bones), self.skeleton.parents)
            return from_standard(self._predict(standard, frames, samples, fps), build, self.skeleton.parents)
        return self._predict(h, frames, samples, fps)

    def _predict(self, h: np.ndarray, frames: int, samples: int, fps: float | None) -> np.ndarray:
        """`predict` on checked histories of the network's own build."""
        torch = self._torch
        fps = fps or self.config.fps
        h = resample_positions(h, fps, self.config.fps, axis=1, anchor="end")  # ends at the last observed frame
        need = self.config.history
        if h.shape[1] < need:
            h = np.concatenate([np.repeat(h[:, :1], need - h.shape[1], axis=1), h], axis=1)
        h = h[:, -need:]
        # frames at the model rate that cover the requested frames (plus one to interpolate the end when it
        # falls between model frames: a 1 s forecast at 30 fps needs 25 frames at 25 fps, one network pass)
        span = frames * self.config.fps / fps
        n_model = int(np.ceil(span - 1e-9)) + (0 if abs(span - round(span)) < 1e-9 else 1)
        # the network runs in float32: a body 10 km from the origin would keep only millimetres of its pose (a
        # forecast 8 mm off, measured). The canonical frames are placed at the last frame's root on the ground
        # plane, so the same shift, taken out in float64 first and put back after, changes nothing else
        shift = np.zeros((h.shape[0], 1, 1, 3))
        if self.config.canonical != "none":
            shift[..., [0, 2]] = h[:, -1:, :1, [0, 2]]
        with torch.no_grad():
            pred = self.rollout(torch.as_tensor(h - shift, dtype=torch.float32), n_model).double().numpy() + shift
        if abs(fps - self.config.fps) > 1e-9:
            joined = np.concatenate([h[:, -1:], pred], axis=1)  # resample from the last observed frame
            pred = resample_positions(joined, self.config.fps, fps, axis=1)[:, 1:]
        pred = pred[:, :frames]
        return np.repeat(pred[:, None], samples, axis=1)

    # ---------------------------------------------------------------------------- weights
    def save(self, directory: Path, metadata: dict[str, Any] | None = None, half: bool = False) -> None:
        """Write the network into weights folder ``directory`` (`posecast.models.store.save_folder`)."""
        cfg = {"name": self.name, "config": self.config.model_dump(), **(metadata or {})}
        store.save_folder(directory, self.net.state_dict(), cfg, half=half, tensor_metadata={"net": self.config.net})

    @classmethod
    @store.keeps_rng()
    def load(cls, directory: Path) -> NeuralForecaster:
        """Rebuild a forecaster from a weights folder written by `save` (no pickles involved)."""
        state, meta = store.load_folder(directory)
        try:
            config = NeuralConfig(**meta["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"invalid model config: {problems(exc)}", Path(directory) / store.CONFIG_FILE) from None
        model = cls(config, name=meta.get("name"))
        store.load_state(model.net, state, Path(directory))
        model.net.eval()
        return model


class PretrainedModel(Forecaster):
    """All shipped weight sets of one model, picked by the history's skeleton.

    ``posecast.models.get("dct-mlp")`` returns one of these: a history on a layout that a variant was
    trained on runs that variant (a CMU-Mocap benchmark history, ``cmu-mocap-38``, body frame, 60 Hz:
    the ``cmu-mocap`` weights); any other skeleton runs the canonical-body variant (``smplh-22``, the
    corpus weights) through `posecast.models.canonical.CanonicalForecaster`, which maps the history onto
    the canonical body and the forecast back (`on_skeleton`). Plain arrays passed to `predict` are
    matched by their joint count only; bind to a skeleton with `on_skeleton` first.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.variants = store.variants(name)
        if not self.variants:
            raise ModelError(f"model {name!r} has no shipped weights; train it with `posecast train --model {name}`")
        metas = {v: store.read_config(store.shipped(name, v)) for v in self.variants}
        self._configs = {v: m["config"] for v, m in metas.items()}
        #: variants picked by the history's skeleton (``"route": false`` in config.json: loadable by name only)
        self._routed = [v for v, m in metas.items() if m.get("route", True)]
        from posecast.models.canonical import CANONICAL

        #: the variant trained on the canonical body (serves every other skeleton), if any
        self._canonical_variant = next((v for v, c in self._configs.items() if c["skeleton"] == CANONICAL), None)
        self._loaded: dict[str, NeuralForecaster] = {}
        self._wrapped: dict[str, Forecaster] = {}
        self.min_history = 2

    def variant(self, name: str) -> NeuralForecaster:
        if name not in self._loaded:
            self._loaded[name] = NeuralForecaster.load(store.shipped(self.name, name))
        return self._loaded[name]

    def _pick(self, skeleton: Skeleton | None, joints: int) -> Forecaster:
        """The variant for ``skeleton``: one trained on that very layout, else the canonical-body variant
        (``smplh-22``) through `posecast.models.canonical.CanonicalForecaster`. Without a skeleton (plain
        arrays), a variant with ``joints`` joints, used as it is: arrays are taken as y up with the floor at
        y = 0 (bind a skeleton, `on_skeleton`, for the up axis and the floor to be found and handled)."""
        for v in self._routed:
            skel = skeletons.get(self._configs[v]["skeleton"])
            if skeleton is not None and skel.same_layout(skeleton):
                return self.variant(v).on_skeleton(skeleton)  # canonical-body weights: bound, see on_skeleton
            if skeleton is None and skel.num_joints == joints:
                return self.variant(v)
        if skeleton is not None and self._canonical_variant is not None:
            return self._canonical_model(self._canonical_variant).on_skeleton(skeleton)
        have = ", ".join(f"{v} ({c['skeleton']})" for v, c in self._configs.items())
        got = skeleton.name if skeleton is not None else f"{joints} joints"
        hint = (
            ""
            if skeleton is not None
            else (
                " (predict knows only the joint count: bind the model to the history's skeleton first, "
                "model.on_skeleton(skeleton).predict(...), or call model.forecast(motion))"
            )
        )
        raise SkeletonError(f"model {self.name!r} has no weights for skeleton {got}; shipped: {have}{hint}")

    def canonical(self, skeleton: Skeleton | str) -> Forecaster:
        """The canonical-body variant (the corpus weights) on ``skeleton`` through the canonical body, even
        where a variant was trained on that very layout (`posecast.video.models.lift_forecast`'s
        ``route="canonical"`` feeds it ``body-17`` estimates this way)."""
        if self._canonical_variant is None:
            raise ModelError(f"model {self.name!r} has no variant on the canonical body")
        return self._canonical_model(self._canonical_variant).on_skeleton(skeleton)

    def _canonical_model(self, variant: str):
        from posecast.models.canonical import CanonicalForecaster

        key = f"canonical:{variant}"
        if key not in self._wrapped:
            self._wrapped[key] = CanonicalForecaster(self.variant(variant))
        return self._wrapped[key]

    def on_skeleton(self, skeleton: Skeleton | str, mapping: Any = None) -> Forecaster:
        skel = skeletons.get(skeleton)
        if mapping is not None and self._canonical_variant is not None:
            return self._canonical_model(self._canonical_variant).on_skeleton(skel, mapping)
        return self._pick(skel, skel.num_joints)

    def predict(self, history: np.ndarray, frames: int, samples: int = 1, fps: float | None = None) -> np.ndarray:
        return self._pick(None, np.asarray(history).shape[2]).predict(history, frames, samples, fps)


def load_pretrained(name: str, variant: str | None = None) -> Forecaster:
    """The shipped weights of ``name``: one ``variant`` (like ``"cmu-mocap"``), or all of them behind a
    `PretrainedModel` that picks by skeleton."""
    if variant is None:
        return PretrainedModel(name)
    return NeuralForecaster.load(store.shipped(name, variant))
