"""CMU motion-capture skeletons.

* ``cmu-mocap-38``: the skeleton of the CMU-Mocap motion-prediction benchmark (Li et al. 2018; LTD,
  MSR-GCN, PGBIG): the cgspeed MotionBuilder-friendly BVH hierarchy in depth-first order with the
  seven BVH End Sites as extra joints, and the one fixed set of bone offsets all those papers use.
* ``cmu-bvh-31``: the same hierarchy without end sites, as the 2010 cgspeed BVH release stores it.
  Its rest offsets are those of subject 01 (every BVH file carries the actor's own offsets).

Lengths are stored in metres. The raw values are CMU ASF length units; one unit is 1/0.45 inch.
"""

from __future__ import annotations

import numpy as np

from posecast.skeletons.base import Skeleton, register

ASF_UNIT_M = 0.0254 / 0.45
"""Metres per CMU ASF length unit (the unit of CMU BVH files and of the benchmark text files)."""

CMU38_NAMES = (
    "Hips", "LHipJoint", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToeBase_end",
    "RHipJoint", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "RightToeBase_end",
    "LowerBack", "Spine", "Spine1", "Neck", "Neck1", "Head", "Head_end",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftFingerBase", "LeftHandIndex1",
    "LeftHandIndex1_end", "LThumb", "LThumb_end",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightFingerBase", "RightHandIndex1",
    "RightHandIndex1_end", "RThumb", "RThumb_end",
)  # fmt: skip
CMU38_PARENTS = (
    -1, 0, 1, 2, 3, 4, 5, 0, 7, 8, 9, 10, 11, 0, 13, 14, 15, 16, 17, 18,
    15, 20, 21, 22, 23, 24, 25, 23, 27, 15, 29, 30, 31, 32, 33, 34, 32, 36,
)  # fmt: skip
CMU38_END_SITES = (6, 12, 19, 26, 28, 35, 37)

#: Offsets of the benchmark skeleton in raw ASF units (the reference code multiplies them by 70).
CMU_BENCHMARK_OFFSETS_ASF = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [1.65674, -1.80282, 0.62477],
        [2.5972, -7.13576, 0.0],
        [2.49236, -6.8477, 0.0],
        [0.19704, -0.54136, 2.14581],
        [0.0, 0.0, 1.11249],
        [0.0, 0.0, 0.0],
        [-1.6107, -1.80282, 0.62476],
        [-2.59502, -7.12977, 0.0],
        [-2.4678, -6.78024, 0.0],
        [-0.23024, -0.63258, 2.13368],
        [0.0, 0.0, 1.11569],
        [0.0, 0.0, 0.0],
        [0.01961, 2.0545, -0.14112],
        [0.01021, 2.06436, -0.05921],
        [0.0, 0.0, 0.0],
        [0.00713, 1.56711, 0.14968],
        [0.03429, 1.56041, -0.10006],
        [0.01305, 1.6256, -0.05265],
        [0.0, 0.0, 0.0],
        [3.54205, 0.90436, -0.17364],
        [4.86513, 0.0, 0.0],
        [3.35554, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.66117, 0.0, 0.0],
        [0.53306, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.5412, 0.0, 0.5412],
        [0.0, 0.0, 0.0],
        [-3.49802, 0.75994, -0.32616],
        [-5.02649, 0.0, 0.0],
        [-3.36431, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [-0.73041, 0.0, 0.0],
        [-0.58887, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [-0.59786, 0.0, 0.59786],
    ]
)

#: Subject 01's offsets from ``01_01.bvh`` (ASF units), in the 38-joint order.
_SUBJECT01_OFFSETS_ASF = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [1.36306, -1.79463, 0.83929],
        [2.44811, -6.72613, 0.0],
        [2.5622, -7.03959, 0.0],
        [0.15764, -0.43311, 2.32255],
        [0.0, 0.0, 1.18966],
        [0.0, 0.0, 0.0],
        [-1.30552, -1.79463, 0.83929],
        [-2.54253, -6.98555, 0.0],
        [-2.56826, -7.05623, 0.0],
        [-0.16473, -0.45259, 2.36315],
        [0.0, 0.0, 1.21082],
        [0.0, 0.0, 0.0],
        [0.02827, 2.03559, -0.19338],
        [0.05672, 2.04885, -0.04275],
        [0.0, 0.0, 0.0],
        [-0.05417, 1.74624, 0.17202],
        [0.10407, 1.76136, -0.12397],
        [0.0372, 1.77044, -0.06241],
        [0.0, 0.0, 0.0],
        [3.36241, 1.20089, -0.31121],
        [4.983, 0.0, 0.0],
        [3.48356, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.71526, 0.0, 0.0],
        [0.57666, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [0.58547, 0.0, 0.58547],
        [0.0, 0.0, 0.0],
        [-3.1366, 1.37405, -0.40465],
        [-5.2419, 0.0, 0.0],
        [-3.44417, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [-0.62253, 0.0, 0.0],
        [-0.5019, 0.0, 0.0],
        [0.0, 0.0, 0.0],
        [-0.50956, 0.0, 0.50956],
    ]
)


def cmu_left_right(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Mirror pairs of CMU names: ``Left*``/``Right*`` and ``L*``/``R*`` (LHipJoint, LThumb...)."""
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for i, n in enumerate(names):
        if n.startswith("Left"):
            twin = "Right" + n[4:]
        elif n.startswith("L") and len(n) > 1 and n[1].isupper():
            twin = "R" + n[1:]
        else:
            continue
        if twin in index:
            pairs.append((i, index[twin]))
    return tuple(pairs)


def _end_effectors(names: tuple[str, ...]) -> tuple[int, ...]:
    wanted = ("Head", "LeftHand", "RightHand", "LeftToeBase", "RightToeBase")
    return tuple(names.index(n) for n in wanted)


@register("cmu-mocap-38", "cmu38")
def cmu_mocap_38() -> Skeleton:
    return Skeleton(
        name="cmu-mocap-38",
        joint_names=CMU38_NAMES,
        parents=CMU38_PARENTS,
        offsets=CMU_BENCHMARK_OFFSETS_ASF * ASF_UNIT_M,
        left_right=cmu_left_right(CMU38_NAMES),
        end_effectors=_end_effectors(CMU38_NAMES),
        description="CMU-Mocap benchmark skeleton (Li et al. 2018 data; LTD/MSR-GCN/PGBIG FK), 38 joints "
        "incl. 7 end sites, the benchmark's fixed bone offsets converted to metres",
    )


@register("cmu-bvh-31", "cmu31")
def cmu_bvh_31() -> Skeleton:
    keep = [i for i in range(len(CMU38_NAMES)) if i not in CMU38_END_SITES]
    full = Skeleton(
        name="cmu-bvh-38-with-end-sites",
        joint_names=CMU38_NAMES,
        parents=CMU38_PARENTS,
        offsets=_SUBJECT01_OFFSETS_ASF * ASF_UNIT_M,
        left_right=cmu_left_right(CMU38_NAMES),
        end_effectors=_end_effectors(CMU38_NAMES),
    )
    sub = full.subset(keep, name="cmu-bvh-31")
    return Skeleton(
        name="cmu-bvh-31",
        joint_names=sub.joint_names,
        parents=sub.parents,
        offsets=sub.offsets,
        left_right=sub.left_right,
        end_effectors=sub.end_effectors,
        description="CMU BVH (2010 cgspeed MotionBuilder-friendly release), 31 joints, subject 01 offsets",
    )
