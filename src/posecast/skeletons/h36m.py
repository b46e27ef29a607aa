"""Human3.6M skeletons: the 32-joint exp-map tree and the 17-joint subset of the lifting papers.

``h36m-32``
    The kinematic tree of the Human3.6M exponential-map release used for motion prediction since
    Jain et al. (S-RNN, 2016) and Martinez et al. (2017), and by LTD, HisRepItself, siMLPe, PGBIG...
    Joint order, parents and rest offsets are those of ``_some_variables()`` in
    ``una-dinosauria/human-motion-prediction/src/forward_kinematics.py`` (identical in
    ``wei-mao-2019/LearnTrajDep/utils/forward_kinematics.py``), offsets converted from millimetres to
    metres. Joint names follow the Human3.6M metadata (the ``Site`` end points are named
    ``<parent>_Site`` here so that names are unique).

    The rest pose is *not* anatomical: every bone of the spine, neck and both arms points along +y,
    so the zero pose is a vertical pole with both arms raised and the two shoulders at the same
    point. The legs point down (-y), the toes forward (+z), the right hip at -x and the left hip at
    +x. That is PoseCast's convention (y up, subject facing +z, left side at +x, right-handed).

    The published offsets are symmetric to 0.01 mm except the two wrist end points:
    ``L_Wrist_End`` is 100.0 mm from the left hand, ``R_Wrist_End`` 137.5 mm from the right hand.

``h36m-17``
    The 17 joints of the 3D lifting literature (Martinez et al. 2017 "simple baseline",
    VideoPose3D...) in their standard order, a `Skeleton.subset` of ``h36m-32`` with the indices
    `H36M17_FROM_32`, renamed to the lifting papers' names (``Hip, RHip, ... RWrist``).

The 99-column exp-map text format (read by ``posecast.io.expmap_txt``)
-------------------------------------------------------------------------
One frame per line (50 Hz; benchmarks keep every second line, 25 Hz), comma-separated, 99 values::

    columns 0-2       root position, millimetres
    columns 3+3j..5+3j  exp-map of joint j = 0..31 in the joint order below (joint 0 = root, 3-5)

Joints without degrees of freedom (the ``Site`` end points, thumbs' parents...) always hold zeros.

Forward kinematics of the reference code (LTD's numpy ``fkl``; row vectors, ``E(r)`` = Rodrigues'
matrix of the exp-map ``r``, i.e. the usual column-vector rotation by ``|r|`` about ``r/|r|``)::

    G_0 = E(r_0)                      p_0 = offset_0 + columns 0-2          (root applied)
    G_j = E(r_j) @ G_parent(j)        p_j = offset_j @ G_parent(j) + p_parent(j)

In PoseCast's column-vector convention (``posecast.kinematics.forward_kinematics``) this is the same
computation with local rotations ``L_j = E(r_j)^T = E(-r_j)`` and root translation = columns 0-2:
`expmap_to_pose` does exactly that (a test checks it against a literal row-vector implementation).
Differences between the reference codebases:

* Martinez et al. ``fkl`` (the original) adds, through its ``rotInd`` table, each joint's own exp-map
  values (radians) to its offset (millimetres) - a leftover of the MATLAB Euler-angle original that
  moves points by at most a few millimetres - never reads columns 0-2, and finally swaps y and z
  for display (a reflection). LTD's ``fkl`` drops both quirks and uses columns 0-2 as the root
  position; LTD's batched ``fkl_torch`` (its training and evaluation code) ignores the root rotation
  and translation altogether, like the CMU benchmark in ``shared/data/cmu_mocap/PROTOCOL.md`` §4.
* What columns 0-5 hold: the S-RNN preprocessing that wrote the public files
  (``asheshjain399/RNNexp``, ``dataParser/Utils/changeCoordinateSpace.m``) stores the root motion as
  per-frame *increments* - columns 0-2 the root displacement since the previous frame expressed in
  the previous root frame, columns 3-5 the exp-map of the rotation since the previous frame - and
  Martinez et al.'s ``revert_coordinate_space`` integrates them back for display. In PoseCast's
  convention the integration reads ``G_t = G_{t-1} @ E(r_t)^T``, ``T_t = T_{t-1} + G_{t-1} @ d_t``
  (`integrate_root_increments`). The 3D benchmarks (LTD, HisRepItself, siMLPe, PGBIG) set columns
  0-5 to zero before FK, so benchmark positions live in a body-fixed frame whose origin is the hip
  centre. This description comes from reading the public code; no H3.6M file was available here.

Joints the literature ignores
-----------------------------
With the root zeroed, joints 0 (Hips), 1 (RightUpLeg), 6 (LeftUpLeg) and 11 (Spine, 0.1 mm above
the root) never move, and 16, 20, 23, 24, 28, 31 coincide with 13, 19, 22, 13, 27, 30 (zero-length
bones or identical offsets). LTD and its successors therefore predict the other 22 joints
(`H36M32_USED_22`, 66 values) and, before computing MPJPE over all 32 joints, copy the duplicates
(`H36M32_DUPLICATES`). Exp-map (angle-space) models instead drop the dimensions whose training-set
standard deviation is below 1e-4 (data-dependent; 54 of the 99 remain in Martinez et al.).
"""

from __future__ import annotations

import numpy as np

from posecast.skeletons.base import Skeleton, register

H36M_UNIT_M = 0.001
"""Metres per unit of the exp-map files' offsets and root positions (millimetres)."""

H36M32_NAMES = (
    "Hips",
    "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "RightToeBase_Site",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToeBase_Site",
    "Spine", "Spine1", "Neck", "Head", "Head_Site",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandThumb", "LeftHandThumb_Site",
    "L_Wrist_End", "L_Wrist_End_Site",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightHandThumb", "RightHandThumb_Site",
    "R_Wrist_End", "R_Wrist_End_Site",
)  # fmt: skip

H36M32_PARENTS = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14,
    12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30,
)  # fmt: skip

#: Rest offsets in millimetres (each joint relative to its parent), from the reference FK code.
H36M32_OFFSETS_MM = np.array([
    [0.0, 0.0, 0.0],
    [-132.948591, 0.0, 0.0], [0.0, -442.894612, 0.0], [0.0, -454.206447, 0.0],
    [0.0, 0.0, 162.767078], [0.0, 0.0, 74.999437],
    [132.948826, 0.0, 0.0], [0.0, -442.894413, 0.0], [0.0, -454.206590, 0.0],
    [0.0, 0.0, 162.767426], [0.0, 0.0, 74.999948],
    [0.0, 0.1, 0.0], [0.0, 233.383263, 0.0], [0.0, 257.077681, 0.0], [0.0, 121.134938, 0.0],
    [0.0, 115.002227, 0.0],
    [0.0, 257.077681, 0.0], [0.0, 151.034226, 0.0], [0.0, 278.882773, 0.0], [0.0, 251.733451, 0.0],
    [0.0, 0.0, 0.0], [0.0, 0.0, 99.999627], [0.0, 100.000188, 0.0], [0.0, 0.0, 0.0],
    [0.0, 257.077681, 0.0], [0.0, 151.031437, 0.0], [0.0, 278.892924, 0.0], [0.0, 251.728680, 0.0],
    [0.0, 0.0, 0.0], [0.0, 0.0, 99.999888], [0.0, 137.499922, 0.0], [0.0, 0.0, 0.0],
])  # fmt: skip

H36M32_LEFT_RIGHT = (
    (6, 1), (7, 2), (8, 3), (9, 4), (10, 5),
    (16, 24), (17, 25), (18, 26), (19, 27), (20, 28), (21, 29), (22, 30), (23, 31),
)  # fmt: skip
"""``(left, right)`` pairs of ``h36m-32``."""

H36M32_STATIC_JOINTS = (0, 1, 6, 11)
"""Joints that never move once the root rotation and translation are zeroed (benchmark practice)."""

H36M32_DUPLICATES = {16: 13, 20: 19, 23: 22, 24: 13, 28: 27, 31: 30}
"""``{joint: joint it always coincides with}``: copied before computing the 32-joint MPJPE."""

H36M32_USED_22 = tuple(j for j in range(32) if j not in H36M32_STATIC_JOINTS and j not in H36M32_DUPLICATES)
"""The 22 joints predicted by the 3D H3.6M benchmarks (LTD, HisRepItself, siMLPe, PGBIG...)."""

H36M17_FROM_32 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices into ``h36m-32`` of the 17 joints of the lifting papers, in their standard order."""

H36M17_NAMES = (
    "Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Neck/Nose", "Head",
    "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
)  # fmt: skip
"""Names of the 17 joints as in Martinez et al.'s 3d-pose-baseline (``RFoot`` is the ankle)."""

EXPMAP_COLUMNS = 3 + 3 * len(H36M32_NAMES)
"""99: root position, then one exp-map per joint."""


@register("h36m-32", "h36m32")
def h36m_32() -> Skeleton:
    return Skeleton(
        name="h36m-32",
        joint_names=H36M32_NAMES,
        parents=H36M32_PARENTS,
        offsets=H36M32_OFFSETS_MM * H36M_UNIT_M,
        left_right=H36M32_LEFT_RIGHT,
        end_effectors=(14, 19, 27, 9, 4),
        description="Human3.6M exp-map skeleton (S-RNN / Martinez et al. 2017 release; LTD, HisRepItself, "
        "siMLPe FK), 32 joints incl. 7 end sites; rest offsets of the reference forward_kinematics.py in metres "
        "(rest pose: spine, neck and both arms along +y)",
    )


@register("h36m-17", "h36m17")
def h36m_17() -> Skeleton:
    sub = h36m_32().subset(list(H36M17_FROM_32), name="h36m-17")
    # The subset hangs the shoulders from the spine (their 32-joint parents are zero-length stubs on
    # Spine1); the lifting papers draw them from the thorax, which sits at the same point as those
    # stubs - rewire, as VideoPose3D does, and recompute the two offsets from the rest pose.
    parents = list(sub.parents)
    thorax = H36M17_NAMES.index("Thorax")
    for shoulder in (H36M17_NAMES.index("LShoulder"), H36M17_NAMES.index("RShoulder")):
        parents[shoulder] = thorax
    rest = sub.rest_positions()
    offsets = np.zeros_like(rest)
    offsets[1:] = rest[1:] - rest[parents[1:]]
    return Skeleton(
        name="h36m-17",
        joint_names=H36M17_NAMES,
        parents=tuple(parents),
        offsets=offsets,
        left_right=sub.left_right,
        end_effectors=tuple(H36M17_NAMES.index(n) for n in ("Head", "LWrist", "RWrist", "LFoot", "RFoot")),
        description="Human3.6M 17-joint layout of the 3D lifting papers (subset of h36m-32 at indices "
        f"{list(H36M17_FROM_32)}); offsets are h36m-32 rest-pose differences",
    )
