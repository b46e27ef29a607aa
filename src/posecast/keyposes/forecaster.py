"""``charpose`` behind the registry's common call: a motion in, K key-pose hypotheses out.

`KeyPoseForecaster.forecast(history, samples=K)` observes the last ``O`` frames of ``history`` (at the
network's rate), samples and refines K hypotheses of the next characteristic pose and returns them as
a `posecast.motion.Forecast` of one frame per hypothesis on the history's own skeleton, ordered by
probability (most probable first), with ``probabilities (K,)`` filled. A key pose has no time stamp
of its own: the frame stands one frame after the last observed one.

Which skeletons
---------------
* A network trained on the canonical body ``smplh-22`` (the training corpus, variant ``corpus``) works
  on any skeleton `posecast.skeletons.canonical.retarget` maps (CMU BVH, Bandai BVH, HDM05 ASF/AMC,
  SMPL, H3.6M, ...; an explicit ``mapping`` overrides what is found, `on_skeleton`): the observed
  window is mapped onto the canonical body, the hypotheses are drawn there and mapped back onto every
  joint of the user's skeleton with `Retarget.from_canonical` (1:1 joints take their canonical
  position, the others follow their anchors rigidly from the last observed frame, world roots such as
  Bandai's ``joint_Root`` stay where they were observed).
* A network trained on its own skeleton (the shipped ``cmu-bvh`` variant) takes histories on that
  layout only.

Timing proposals
----------------
Weights that carry them (the shipped ``corpus`` variant; `posecast.keyposes.proposals`) also roll the
default forecaster out 2 s from the last 2 s of the history (a shorter history is padded with its first
frame) and merge the rolled-out frames with the heatmap draws: the K hypotheses are picked among both to
cover where and *when* the action peaks; ``metadata["from_rollout"]`` ``(K,)`` says which hypotheses
are rollout frames (None without proposals). A hypothesis' probability is the belief near it
(`posecast.keyposes.proposals.hypothesis_belief`).

Placement and metadata
----------------------
The network predicts poses relative to its root (the canonical pelvis, or the own skeleton's joint 0),
in the heading of the input. Hypotheses are placed at the *anchor*: that root in the last observed
frame (``metadata["anchor"]``, ``(3,)`` metres), then each moved along the up axis so that it stands on the
observed floor (`grounded_poses`; ``metadata["grounded_m"]`` ``(K,)``, ``floor_m``, ``up_vector``).
``metadata["root_relative"]`` ``(K, J, 3)`` is the hypotheses on the **user's skeleton** minus the anchor,
before that move (what a root-aligned error compares); ``metadata["root_weights"]`` ``(J,)`` says how
the anchor is made from the user's joints (``anchor = root_weights @ last_observed_frame``; one-hot
for a network on its own skeleton), so a true key pose is made root-relative the same way
(``pose - root_weights @ pose``). Through the canonical body the metadata also holds
``canonical_body``, ``mapping`` (canonical joint -> ``{user joint: weight}``), ``static_joints``
(user joints that stay where observed) and ``canonical_hypotheses`` ``(K, 22, 3)`` (world, before the
mapping back).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posecast import skeletons
from posecast.errors import SkeletonError, ValueRangeError
from posecast.motion import Forecast, Motion, check_at, is_number
from posecast.skeletons.base import Skeleton
from posecast.skeletons.canonical import UP_ROTATIONS, body_checks, floor_offsets, history_travel, up_axes

DEFAULT_SAMPLES = 10
CANONICAL = "smplh-22"
#: bound copies kept per forecaster (skeletons with their mappings), like `posecast.models.canonical`
_MAX_BOUND = 64
#: frames: a frame this little after ``at`` (float rounding of ``at * fps``) counts as at it
AT_TOLERANCE = 1e-6


class KeyPoseForecaster:
    """A trained `~posecast.keyposes.model.CharPoseNet` with the `Forecaster`-style ``forecast`` call.

    Attributes:
        net: the network.
        skeleton: the skeleton histories are taken on (the network's own unless bound by `on_skeleton`).
        retarget: the `posecast.skeletons.canonical.Retarget` of ``skeleton`` when the network works on
            the canonical body and ``skeleton`` is another layout (or a mapping was given), else None.
    """

    def __init__(
        self,
        net: Any,
        name: str = "charpose",
        weights: Path | None = None,
        skeleton: Skeleton | str | None = None,
        mapping: Any = None,
        proposals: Any = None,
    ) -> None:
        self.net = net
        self.proposals = proposals
        self.name = name
        self.weights = weights
        self.fps = float(net.config.fps)
        self.observed = int(net.config.observed)
        self.min_history = self.observed
        self.canonical = net.skeleton.same_layout(skeletons.get(CANONICAL))
        self.skeleton = net.skeleton if skeleton is None else skeletons.get(skeleton)
        self.mapping = mapping
        self.retarget = None
        if self.canonical and not (mapping is None and self.skeleton.same_layout(net.skeleton)):
            from posecast.skeletons.canonical import retarget

            self.retarget = retarget(self.skeleton, mapping)
        elif not self.skeleton.same_layout(net.skeleton):
            raise self._mismatch(self.skeleton)
        self._bound: dict[Any, KeyPoseForecaster] = {}

    def _mismatch(self, skel: Skeleton) -> SkeletonError:
        net = self.net.skeleton
        return SkeletonError(
            f"motion on skeleton {skel.name!r} ({skel.num_joints} joints), model {self.name!r} on {net.name!r} "
            f"({net.num_joints} joints); weights trained on the canonical body {CANONICAL} (charpose/corpus) "
            "work on any skeleton"
        )

    def on_skeleton(self, skeleton: Skeleton | str, mapping: Any = None) -> KeyPoseForecaster:
        """This model for histories on ``skeleton`` (cached per joint names, parents, rest offsets and mapping).

        A canonical-body network returns a copy bound to ``skeleton`` that maps histories onto
        ``smplh-22`` and the hypotheses back (``mapping``: explicit entries, as in
        `posecast.skeletons.canonical.retarget`). A network on its own skeleton returns itself for that
        layout (``mapping`` does not apply to it) and raises `SkeletonError` for any other.
        """
        skel = skeletons.get(skeleton)
        if not self.canonical:
            if not skel.same_layout(self.net.skeleton):
                raise self._mismatch(skel)
            return self
        if mapping is None and skel.same_rig(self.skeleton):
            return self  # already bound (perhaps with an explicit mapping): keep it
        offsets = None if skel.offsets is None else skel.offsets.tobytes()
        key = (skel.joint_names, skel.parents, offsets, repr(mapping))
        bound = self._bound.get(key)  # one lookup: another thread may clear the dict between two
        if bound is None:
            bound = KeyPoseForecaster(self.net, self.name, self.weights, skel, mapping, self.proposals)
            if len(self._bound) >= _MAX_BOUND:
                self._bound.clear()
            self._bound[key] = bound
        return bound

    def without_proposals(self) -> KeyPoseForecaster:
        """A copy of this model that returns the heatmap draws alone (the paper's design), no timing proposals."""
        return KeyPoseForecaster(self.net, self.name, self.weights, self.skeleton, self.mapping, proposals=None)

    def observed_window(
        self, motion: Motion, at: float | None = None, offset: float = 0.0
    ) -> tuple[np.ndarray, int, Motion, Motion]:
        """``(window (O, J, 3) float32, index of its last frame at the network's rate, the newest part of the motion at
        that rate, the motion up to time at)``: the ``O`` frames ending at the last frame at or before time ``at``
        (default: the end of ``motion``; later frames are never observed), on the motion's own joints (a motion with
        rotations resampled rigidly, `Motion.resample_rigid`, from its last frame back). Only the newest seconds are
        resampled (what the window, the proposals' history and the floor read), so that a long take costs what its
        end costs. ``offset``: the time of ``motion``'s first frame on the caller's clock (messages)."""
        if at is not None:
            check_at(at, motion.duration, motion.fps, start_ok=True)
            # the frames up to the last one at or before ``at``: none after it is observed (the nearest frame, as
            # `Motion.until` takes, had let the model see 6.7 ms past --at 0.36 at 30 fps)
            motion = motion.frames(0, min(motion.num_frames, math.floor(at * motion.fps + AT_TOLERANCE) + 1))
        floor = round(FLOOR_SECONDS * self.fps)
        read = max(self.observed, self.proposals.history if self.proposals is not None else 0, floor)
        source = math.ceil(read / self.fps * motion.fps) + 2  # source frames that cover them (and the resampling)
        tail = motion.frames(motion.num_frames - source) if motion.num_frames > source else motion
        clip = tail.resample_rigid(self.fps, anchor="end")  # ends on the last observed frame
        last = clip.num_frames - 1
        if last + 1 < self.observed:
            span = (self.observed - 1) / self.fps  # seconds the window spans
            need = math.ceil(span * motion.fps - 1e-9) / motion.fps + offset  # the first source frame that far in
            need = math.ceil(need * 100 - 1e-6) / 100  # printed to 0.01 s: not before it
            frames = f"{motion.num_frames} frame{'s' * (motion.num_frames != 1)}"
            if at is None:
                raise ValueRangeError(
                    f"the motion is {motion.duration:.2f} s long ({frames} at {motion.fps:g} fps); model "
                    f"{self.name!r} observes {self.observed} frames at {self.fps:g} fps: give at least {span:.2f} s"
                )
            raise ValueRangeError(
                f"--at {at + offset:g} s leaves {last + 1} frames at {self.fps:g} fps before the forecast; the model "
                f"observes {self.observed} (use --at {need:.2f} or later)"
            )
        return clip.positions[last - self.observed + 1 : last + 1].astype(np.float32), last, clip, motion

    def hypotheses(
        self, window: np.ndarray, samples: int, seed: int = 0, history: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, bool, np.ndarray | None]:
        """``(poses (K, J, 3) root-relative, probabilities (K,), refined, from_rollout (K,) bool or None)`` for
        one ``(O, J, 3)`` window on the network's skeleton, most probable first. With timing proposals
        (`posecast.keyposes.proposals`) and the ``(T, J, 3)`` world ``history`` ending with the window, the
        draws are merged with the frames the trajectory forecaster rolls out (``from_rollout`` says which)."""
        import torch

        from posecast.keyposes.sampling import predict_keyposes

        gen = torch.Generator().manual_seed(seed)
        obs = torch.as_tensor(window)[None]
        with torch.no_grad():
            hyp = predict_keyposes(self.net, obs, samples=samples, generator=gen)
        if self.proposals is not None and history is not None:
            poses, prob_t, source = self.proposals.hypotheses(
                torch.as_tensor(history)[None], obs, hyp.poses, self.net.skeleton, self.fps, self.net
            )
            return poses[0].double().numpy(), prob_t[0].double().numpy(), bool(hyp.refined), source[0].numpy()
        rel = hyp.poses[0].double().numpy()
        prob = hyp.probabilities[0].double().numpy()
        order = np.argsort(-prob, kind="stable")
        return rel[order], prob[order], bool(hyp.refined), None

    def forecast(
        self,
        history: Motion,
        frames: int | None = None,
        seconds: float | None = None,
        samples: int = DEFAULT_SAMPLES,
        at: float | None = None,
        seed: int = 0,
        clock_offset_s: float = 0.0,
    ) -> Forecast:
        """K hypotheses of the next key pose after ``history`` (or after time ``at`` in it), on the history's
        skeleton (module docstring); ``frames`` and ``seconds`` do not apply (a key pose comes when the
        action gets there) and are refused. ``clock_offset_s``: the time of ``history``'s first frame on the clock
        the caller counts in (a take whose rest pose was cut off: `posecast.api`), for ``last_observed_time_s`` and
        the messages.

        Raises:
            ValueRangeError: a history that is not a `Motion`, a horizon, a bad ``samples`` (a positive whole number,
                not True), ``at`` or ``seed``, too few observed frames before ``at``.
            SkeletonError: a skeleton the network cannot take (own-skeleton network) or cannot map.
        """
        if not isinstance(history, Motion):  # the same checks as every other model's forecast (`Forecaster`)
            raise ValueRangeError(
                f"{type(self).__name__}.forecast takes a Motion, not a {type(history).__name__}: wrap positions as "
                "posecast.Motion(positions, fps, skeleton), or call posecast.forecast(...) with a file"
            )
        if frames is not None or seconds is not None:
            raise ValueRangeError(f"model {self.name!r} forecasts the next key pose, not a number of frames or seconds")
        if isinstance(samples, bool | np.bool_) or not isinstance(samples, int | np.integer) or samples < 1:
            raise ValueRangeError(f"samples must be a positive integer, got {samples!r}")
        for name, value in (("at", at), ("clock_offset_s", clock_offset_s)):
            if value is not None and not (is_number(value) and math.isfinite(value)):
                raise ValueRangeError(f"{name} must be a number of seconds, got {value!r}")
        if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer):
            raise ValueRangeError(f"seed must be a whole number, got {seed!r}")
        return self.on_skeleton(history.skeleton)._forecast(
            history, int(samples), None if at is None else float(at), int(seed), float(clock_offset_s)
        )

    def _forecast(self, history: Motion, samples: int, at: float | None, seed: int, offset: float = 0.0) -> Forecast:
        window, last, clip, upto = self.observed_window(history, at, offset)
        observed = clip.frames(last - self.observed + 1, last + 1)  # on the user's skeleton, rotations kept
        user = observed.positions  # (O, J, 3) float64
        rt = self.retarget
        net_window = window if rt is None else rt.to_canonical(window)  # (O, Jn, 3) float32
        up = np.eye(3, dtype=np.float32)  # the history's world -> y up (canonical-body networks)
        axis = "+y"
        if self.canonical:  # found on everything observed up to the window's end, as the motion models do
            seen = upto.positions
            axis = up_axes((seen if rt is None else rt.to_canonical(seen))[None], None if rt is None else rt.up)[0]
            up = UP_ROTATIONS[axis].astype(np.float32)
        history_net = None
        if self.proposals is not None:
            past = clip.positions[max(0, last - self.proposals.history + 1) : last + 1].astype(np.float32)
            history_net = (past if rt is None else rt.to_canonical(past)) @ up.T  # (T, Jn, 3) world, y up
            if self.canonical:  # a floor far from y = 0 moved where the proposals' forecaster was trained to see it
                history_net[..., 1] -= floor_offsets(history_net[None])[0]
        rel, prob, refined, from_rollout = self.hypotheses(net_window @ up.T, samples, seed, history_net)
        rel = rel @ up.astype(np.float64)  # (K, Jn, 3) back in the history's world (y = R x => x = R^T y)
        extra: dict[str, Any] = {"up_axis": axis} if self.canonical else {}  # found, also when y: renderers trust it
        if rt is None:
            anchor = net_window[-1, 0].astype(np.float64)
            world = rel + anchor
            weights = np.zeros(user.shape[1])
            weights[0] = 1.0
        else:
            anchor = rt.matrix[0] @ user[-1]  # the canonical pelvis of the last observed frame, in float64
            world_net = rel + anchor
            last_frame = np.broadcast_to(user[-1], (samples,) + user.shape[1:])
            travel = np.broadcast_to(history_travel(user), (samples, user.shape[1]))
            up_world = np.broadcast_to(UP_ROTATIONS[axis][1], (samples, 3))  # the history's up axis, its world
            world = rt.from_canonical(world_net[:, None], last_frame, travel, up_world)[:, 0]  # (K, J, 3)
            weights = rt.matrix[0].copy()
            extra |= body_checks(rt, user, axis if self.canonical else None)  # as `posecast forecast` says them
            extra |= {
                "canonical_body": CANONICAL,
                "mapping": rt.assignment,
                "static_joints": list(rt.static),
                "canonical_hypotheses": world_net,
            }
        # every body bone at its observed length (those that held it over the observed frames), on the user's rig as
        # on the network's own body: joints placed from several canonical ones (collars, spine and neck of other rigs)
        # would otherwise stretch with a draw's proportions (the benchmark scores the network's draws as they are:
        # `posecast.evaluation.protocols`)
        world = _rig_bones(world, user, history.skeleton, rt)
        up_vec = UP_ROTATIONS[axis][1].astype(np.float64)  # the history's up axis, in its world
        root_rel = world - anchor
        # the floor over up to 2 s observed (the network's 10 frames can all be in the air), body joints only:
        # a world root at the origin (Bandai's joint_Root) is neither the floor nor moved
        fixed = [] if rt is None else [history.skeleton.index(n) for n in rt.static]
        body = [j for j in range(user.shape[1]) if j not in fixed]
        seen = clip.positions[max(0, last + 1 - round(FLOOR_SECONDS * self.fps)) : last + 1][:, body]
        floor = observed_floor(seen.astype(np.float64), up_vec)
        world, grounded = grounded_poses(world, floor, up_vec, fixed)
        return Forecast(
            samples=world[:, None],
            fps=self.fps,
            skeleton=history.skeleton,
            probabilities=prob,
            history=observed,
            model=self.name,
            metadata={
                "source": history.metadata.get("source"),
                "kind": "key pose",
                "network_skeleton": self.net.skeleton.name,
                "root_relative": root_rel,
                "anchor": anchor,
                # each hypothesis stands on the observed floor: moved along the up axis by this much (K,) from
                # the anchor (the observed root, mid-jump or lying as it may be); the floor's height along it
                "grounded_m": grounded,
                "floor_m": floor,
                "up_vector": up_vec,
                "root_weights": weights,
                # the window ends at the motion's last frame (resampled from its end) or at --at's frame
                "last_observed_time_s": offset + upto.duration,
                "refined": refined,
                "temperature": self.net.config.temperature,
                # which hypotheses are frames of the trajectory forecaster's rollout (None: heatmap draws only)
                "from_rollout": None if from_rollout is None else [bool(x) for x in from_rollout],
                # the criterion of the key poses the weights were trained on (for the true next key pose)
                "mining": self.mining(),
                "weights": None if self.weights is None else str(self.weights),
                **extra,
            },
        )

    def mining(self) -> dict[str, float]:
        """`mine_keyposes` options of the key poses these weights were trained on: weights on the canonical
        body learnt the corpus key poses (`posecast.keyposes.dataset.CORPUS_MINING`), the others the
        default criterion."""
        from posecast.keyposes.dataset import CORPUS_MINING

        return dict(CORPUS_MINING) if self.canonical else {}

    def __repr__(self) -> str:
        bound = "" if self.retarget is None else f", skeleton={self.skeleton.name!r} via {CANONICAL}"
        return f"{type(self).__name__}(name={self.name!r}{bound})"


#: seconds observed before the last frame over which a key-pose forecast's floor is found (`observed_floor`)
FLOOR_SECONDS = 2.0


def observed_floor(observed: np.ndarray, up: np.ndarray) -> float:
    """The floor's height along ``up (3,)`` under ``observed (O, J, 3)`` frames (`posecast.skeletons.canonical.
    floor_heights`: the 10th percentile of each frame's lowest joint)."""
    from posecast.skeletons.canonical import floor_heights

    return float(floor_heights(observed[None], up=up)[0])


def grounded_poses(
    poses: np.ndarray, floor: float, up: np.ndarray, fixed: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """``(K, J, 3)`` key poses each moved along ``up`` so that its lowest joint is at ``floor``, and the ``(K,)``
    moves; joints ``fixed`` (world roots such as Bandai's ``joint_Root``) neither count nor move. A characteristic
    pose stands on the floor the person stands on: placed at the last observed root alone, a crouch forecast from
    mid-jump floated half a metre up and a lying pose forecast from someone lying down sank into the floor."""
    body = [j for j in range(poses.shape[-2]) if j not in set(fixed)]
    moves = floor - (poses[:, body] @ up).min(axis=-1)  # (K,)
    out = poses.copy()
    out[:, body] += moves[:, None, None] * up
    return out, moves


def truth_as_shown(
    root_relative: Any, anchor: Any, floor: float | None, up: Any, fixed: Sequence[int] = ()
) -> np.ndarray:
    """``(J, 3)`` the true next key pose where it is drawn beside the hypotheses: its ``root_relative`` positions at
    the hypotheses' ``anchor`` and, when the observed ``floor`` is known, standing on it along ``up`` as they do
    (`grounded_poses`; ``fixed`` world roots stay put)."""
    shown = np.asarray(root_relative, dtype=np.float64) + np.asarray(anchor, dtype=np.float64)
    if floor is None or up is None:
        return shown
    return grounded_poses(shown[None], float(floor), np.asarray(up, dtype=np.float64), fixed)[0][0]


def shown_truth(forecast: Forecast) -> np.ndarray | None:
    """``(J, 3)`` the true next key pose of a key-pose forecast read back from a file (`posecast.io.arrays
    .keypose_forecast`), placed where it was drawn beside the hypotheses (`truth_as_shown`); None without one."""
    meta = forecast.metadata
    if meta.get("true_keypose_root_relative") is None or meta.get("anchor") is None:
        return None
    names = forecast.skeleton.joint_names
    fixed = [names.index(n) for n in meta.get("static_joints") or () if n in names]
    return truth_as_shown(
        meta["true_keypose_root_relative"], meta["anchor"], meta.get("floor_m"), meta.get("up_vector"), fixed
    )


def _rig_bones(poses: np.ndarray, observed: np.ndarray, skeleton: Skeleton, rt: Any) -> np.ndarray:
    """``(K, J, 3)`` hypotheses on a user's rig with every body bone (`Retarget.body_bones`; every bone on the
    network's own rig, ``rt`` None) that kept its length over the ``observed (O, J, 3)`` frames at its length in the
    last of them, directions and roots kept (`posecast.kinematics.proportions.keep_rigid_bones`: bones that stretched,
    a tracker's, keep the hypotheses' own); on a keypoint layout without rest offsets (COCO, BlazePose) every edge at
    its last observed length, as before rigs were told apart."""
    from posecast.kinematics.proportions import keep_rigid_bones

    if skeleton.offsets is None:  # a keypoint layout: no rig to tell bones by, every edge at its last length
        return keep_rigid_bones(np.asarray(poses)[None], np.asarray(observed)[None, -1:], skeleton.parents)[0]
    bones = None if rt is None else rt.body_bones()
    return keep_rigid_bones(np.asarray(poses)[None], np.asarray(observed)[None], skeleton.parents, bones)[0]


def hypotheses_motion(forecast: Forecast) -> Motion:
    """A key-pose forecast as one motion with joint rotations on the history's own skeleton, for BVH: the
    ``O`` observed frames followed by the ``K`` hypotheses, one frame each, most probable first (each
    hypothesis' rotations from `Forecast.to_motion`: bone directions from the hypothesis, bone lengths
    from the skeleton, twists carried on from the last observed frame). ``metadata["observed_frames"]``
    and ``["hypotheses"]`` say where the hypotheses start and how many there are; ``["probabilities"]``
    lists theirs.

    Raises:
        SkeletonError: the history's skeleton has no rest offsets (no hierarchy to write).
    """
    from dataclasses import replace

    parts = [
        replace(forecast, samples=forecast.samples[k : k + 1, :1], probabilities=None).to_motion(0)
        for k in range(forecast.num_samples)
    ]
    t = parts[0].num_frames - 1
    rotations = np.concatenate([parts[0].rotations] + [m.rotations[t:] for m in parts[1:]])
    positions = np.concatenate([parts[0].positions] + [m.positions[t:] for m in parts[1:]])
    meta = {k: v for k, v in parts[0].metadata.items() if k not in ("forecast_sample", "forecast_frames")}
    probs = None if forecast.probabilities is None else [float(p) for p in forecast.probabilities]
    return Motion(
        positions=positions,
        fps=parts[0].fps,
        skeleton=parts[0].skeleton,
        rotations=rotations,
        root_translation=positions[:, 0],
        metadata={**meta, "observed_frames": t, "hypotheses": forecast.num_samples, "probabilities": probs},
    )


def build(
    name: str = "charpose", variant: str | None = None, pretrained: bool = True, weights: Path | None = None, **_: Any
) -> KeyPoseForecaster:
    """Registry builder of ``charpose``: weights folder ``weights``, else the shipped ``variant`` (default:
    `posecast.models.store.default_variant`); ``pretrained=False``: an untrained network (the default config on
    the canonical body, wrists sampled first), which works on any mapped skeleton."""
    from posecast.keyposes.model import CharPoseConfig, CharPoseNet, load_charpose
    from posecast.models import store

    if weights is None and not pretrained:
        config = CharPoseConfig(skeleton=CANONICAL, lead_joints=["right_wrist", "left_wrist"])
        return KeyPoseForecaster(CharPoseNet(config).eval(), name)
    from posecast.keyposes.proposals import proposals_of

    folder = Path(weights) if weights is not None else store.shipped(name, variant)
    net = load_charpose(folder)
    return KeyPoseForecaster(net, name, folder, proposals=proposals_of(folder, net.skeleton.num_joints))


# ------------------------------------------------------------------ the true key pose, when known
def root_weights(fc: Any) -> np.ndarray:
    """``(J,)`` how the anchor (the root the hypotheses are placed at) is made from the joints."""
    w = fc.metadata.get("root_weights")
    if w is None:
        w = np.zeros(fc.skeleton.num_joints)
        w[0] = 1.0
    return np.asarray(w, dtype=np.float64)


def scored_joints(fc: Any) -> np.ndarray:
    """Joints the MPJPE averages over: all but the static ones (a world root that stays where observed)."""
    static = set(fc.metadata.get("static_joints") or ())
    return np.array([j for j, n in enumerate(fc.skeleton.joint_names) if n not in static], dtype=np.int64)


def stored_true_keypose(fc: Any) -> dict[str, Any] | None:
    """`true_next_keypose`'s result as ``posecast.forecast(..., at=...)`` stored it in ``fc`` (``metadata
    ["true_keypose"]`` and ``ground_truth``), without mining the motion again; None when it holds none."""
    stored = fc.metadata.get("true_keypose")
    if stored is None or fc.ground_truth is None:
        return None
    pose = np.asarray(fc.ground_truth[0], dtype=np.float64)
    return {
        **{k: stored[k] for k in ("frame", "time_s", "seconds_after_last_observed")},
        "positions": pose,
        "root_relative": pose - root_weights(fc) @ pose,
        "mpjpe_m": np.asarray(stored["mpjpe_m"], dtype=np.float64),
        **{k: stored[k] for k in ("mined_on", "scored_on") if k in stored},
    }


def true_next_keypose(motion: Any, fc: Any, mapping: Any = None) -> dict[str, Any] | None:
    """The first key pose of the whole ``motion`` after the last observed frame of ``fc``, with each hypothesis'
    MPJPE to it; None when the motion has none after it (`search_true_keypose` also says what was searched).
    """
    return search_true_keypose(motion, fc, mapping)[0]


def search_true_keypose(motion: Any, fc: Any, mapping: Any = None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``(true next key pose or None, search)``: `true_next_keypose`, and what was searched (``after_s``: the last
    observed time, ``mined_on``, ``criterion``: for a note when nothing follows).

    Mined as the key poses the model was trained on: with the weights' criterion (``fc.metadata["mining"]``), and,
    for weights on the canonical body, on the canonical body turned upright (`posecast.keyposes.mining.mine_motion`,
    ``mapping`` as the forecast's: its ``up:`` included), the leading frames the forecast left out
    (``history_starts_at_frame``) left out too; so every rig of the same motion has the same true key pose (the
    rig's own leaf joints, fingertips and twist bones among them, had decided it, and a z-up world had been mined
    lying down). Scored root-relative, both made relative to their root the same way (``root_weights``): on the 22
    joints of the canonical body through the rig's mapping for weights on it (``scored_on``: a fixed joint set, not
    the rig's 40 finger joints), else on the motion's own joints but static ones."""
    from posecast.keyposes.mining import criterion_text, mine_motion

    meta = fc.metadata
    t_last = meta["last_observed_time_s"]
    mining = meta.get("mining") or {}
    canonical = meta.get("network_skeleton") == CANONICAL
    mined = mine_motion(
        motion, mapping=mapping, skip_frames=int(meta.get("history_starts_at_frame") or 0), canonical=canonical,
        **mining,
    )  # fmt: skip
    last_frame = round(t_last * motion.fps)  # the last observed frame of the motion (a frame of it)
    after = [k for k in mined.keyposes if k.frame > last_frame]
    search = {"after_s": float(t_last), "mined_on": mined.description(), "criterion": criterion_text(mining)}
    if not after:
        return None, search
    k = after[0]
    pose = motion.positions[k.frame].astype(np.float64)
    true_rel = pose - root_weights(fc) @ pose
    rel = np.asarray(meta["root_relative"], dtype=np.float64)
    if mined.canonical and motion.skeleton.name != CANONICAL:
        from posecast.skeletons.canonical import retarget

        matrix = retarget(motion.skeleton, mapping).matrix  # (22, J): both through the same mapping
        hyp = np.einsum("cj,kjd->kcd", matrix, rel)
        truth = matrix @ true_rel
        scored_on = f"the {len(matrix)} joints of the canonical body {CANONICAL}, relative to its pelvis"
    else:
        scored = scored_joints(fc)
        hyp, truth = rel[:, scored], true_rel[scored]
        scored_on = f"{len(scored)} joints of {motion.skeleton.name}, relative to its root"
    found = {
        "frame": int(k.frame),
        "time_s": float(k.time),
        "seconds_after_last_observed": float(k.time - t_last),
        "positions": pose,
        "root_relative": true_rel,
        "mpjpe_m": np.linalg.norm(hyp - truth, axis=-1).mean(-1),
        "mined_on": mined.description(),
        "scored_on": scored_on,
    }
    return found, search
