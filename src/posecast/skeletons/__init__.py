"""Skeleton definitions as data, a registry by name, and mappings between layouts.

``posecast.skeletons.get("cmu-mocap-38")`` returns a `Skeleton`; ``names()`` lists them all.
``to_layout(positions, "body-17", source=...)`` maps any supported layout onto the common 17-joint body
layout (and between layouts through it); see `posecast.skeletons.mapping`. A `posecast.motion.Motion`
maps itself: ``motion.to_layout("body-17")`` (``to_layout(motion, ...)`` calls it).
``retarget(skeleton)`` maps ANY skeleton (BVH, ASF, Mixamo, SMPL...) onto the canonical body
``smplh-22`` and back; see `posecast.skeletons.canonical` (``up_axes``: recordings with another up axis
than y). ``in_any_order(name, joints, parents)`` takes joints listed in any order (Kinect v2's SDK order)
and returns the skeleton with parents first and the permutation.
"""

from posecast.skeletons import cmu, h36m, keypoints, smpl  # noqa: F401  (register the skeletons)
from posecast.skeletons.base import Skeleton, get, in_any_order, is_registered, names, register
from posecast.skeletons.canonical import (
    CANONICAL,
    INTERPOLATED,
    REQUIRED,
    Retarget,
    load_mapping_file,
    retarget,
    up_axes,
    world_up,
)
from posecast.skeletons.mapping import (
    BODY17,
    can_map,
    layouts,
    map_positions,
    mapping_matrix,
    mapping_table,
    register_mapping,
    to_layout,
)

__all__ = [
    "BODY17",
    "CANONICAL",
    "INTERPOLATED",
    "REQUIRED",
    "Retarget",
    "Skeleton",
    "can_map",
    "get",
    "in_any_order",
    "is_registered",
    "layouts",
    "load_mapping_file",
    "map_positions",
    "mapping_matrix",
    "mapping_table",
    "names",
    "register",
    "register_mapping",
    "retarget",
    "to_layout",
    "up_axes",
    "world_up",
]
