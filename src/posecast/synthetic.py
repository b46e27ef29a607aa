"""A procedurally generated walk, so that demos and tests work without any data.

It is labelled synthetic everywhere it appears (``metadata["synthetic"] = True``). The gait is a
textbook sinusoidal walk cycle on the CMU BVH skeleton: hips, knees and ankles flex in antiphase
between the legs, arms swing against the legs, the pelvis bobs twice per cycle and the body moves
forward along +z at a constant speed.
"""

from __future__ import annotations

import numpy as np

from posecast import skeletons
from posecast.errors import ValueRangeError
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.rotations import euler_to_matrix
from posecast.motion import Motion


def synthetic_walk(
    seconds: float = 6.0,
    fps: float = 30.0,
    speed: float = 1.3,
    cadence: float = 0.9,
    skeleton: str = "cmu-bvh-31",
) -> Motion:
    """A walk of ``seconds`` at ``fps`` on the CMU BVH skeleton.

    Args:
        seconds: duration.
        fps: frame rate.
        speed: forward speed in m/s (along +z).
        cadence: gait cycles (two steps) per second.
        skeleton: a skeleton with CMU joint names (``cmu-bvh-31``).
    """
    if seconds <= 0 or fps <= 0:
        raise ValueRangeError("seconds and fps must be positive")
    skel = skeletons.get(skeleton)
    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    phase = 2 * np.pi * cadence * t
    euler = np.zeros((n, skel.num_joints, 3))  # intrinsic XYZ angles in radians, per joint

    def set_x(name: str, angle: np.ndarray) -> None:
        if name in skel.joint_names:
            euler[:, skel.index(name), 0] = angle

    assert skel.offsets is not None
    for side, shift in (("Left", 0.0), ("Right", np.pi)):
        p = phase + shift
        if f"{side}UpLeg" in skel.joint_names and f"{side}Leg" in skel.joint_names:
            # CMU rest poses splay the legs outward: turn each thigh so that the leg hangs vertically
            knee = skel.offsets[skel.index(f"{side}Leg")]
            euler[:, skel.index(f"{side}UpLeg"), 2] = -np.arctan2(knee[0], -knee[1])
        set_x(f"{side}UpLeg", -0.45 * np.sin(p))  # hip flexion: leg swings forward (toward +z)
        set_x(f"{side}Leg", 0.55 * np.clip(np.sin(p - 1.2), 0, None) + 0.05)  # knee flexes in swing
        set_x(f"{side}Foot", -0.15 * np.sin(p + 0.5))
        set_x(f"{side}ToeBase", 0.2 * np.clip(-np.sin(p), 0, None))
    for side, shift in (("Left", np.pi), ("Right", 0.0)):
        p = phase + shift
        arm = skel.index(f"{side}Arm") if f"{side}Arm" in skel.joint_names else None
        if arm is not None:  # arms hang down (the rest pose holds them out sideways) and swing
            euler[:, arm, 2] = -1.4 if side == "Left" else 1.4
            euler[:, arm, 0] = -0.35 * np.sin(p)
        fore = f"{side}ForeArm"
        if fore in skel.joint_names:  # elbow flexion bends the forearm forward (about the local y axis)
            sign = -1.0 if side == "Left" else 1.0
            euler[:, skel.index(fore), 1] = sign * (0.3 + 0.25 * np.clip(np.sin(p), 0, None))
    euler[:, 0, 1] = 0.08 * np.sin(phase)  # pelvis yaw
    rot = euler_to_matrix(euler.reshape(-1, 3), "XYZ").reshape(n, skel.num_joints, 3, 3)
    bob = 0.02 * np.cos(2 * phase)
    root = np.stack([np.zeros(n), bob, speed * t], axis=1)
    pos, _ = forward_kinematics(rot, skel.offsets, skel.parents, root)
    lift = -np.percentile(pos[..., 1].min(axis=1), 5)  # stand on the ground plane y = 0
    root[:, 1] += lift
    pos[..., 1] += lift
    return Motion(
        positions=pos,
        fps=fps,
        skeleton=skel,
        rotations=rot,
        root_translation=root,
        metadata={"source": "synthetic walk (procedurally generated, not motion capture)", "synthetic": True},
    )
