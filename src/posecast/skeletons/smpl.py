"""SMPL body skeletons: ``smpl-24`` (SMPL) and ``smplh-22`` (the body of SMPL+H, as used by AMASS).

Joint names and parents are those of the SMPL model (Loper et al. 2015): 24 joints, pelvis first;
SMPL+H (Romero et al. 2017) keeps the first 22 and replaces SMPL's two hand joints (22, 23) by 15
MANO joints per hand, which PoseCast does not model. Rest frame: y up, the body faces +z, the left
side is at +x - PoseCast's convention, and the native frame of the SMPL model (before AMASS's
z-up world, see ``posecast.io.amass``).

Rest offsets (mean shape, zero pose)
------------------------------------
The official model files (the template ``v_template`` and ``J_regressor`` that define the rest
joints) cannot be downloaded here. The table `SMPL_MEAN_OFFSETS_M` is the one published in the rest
offsets of EDGE (Tseng et al., CVPR 2023, ``vis.py``) and reused by several dance/motion
codebases; it agrees to within 0.3 mm (x mirrored: the Unity rig is left-handed) with the joint
offsets of the SMPL Unity rig ``m_avg`` (the male mean-shape model, as reproduced in public code)
for the 22 joints that rig has (to 0.0001 mm for 15 of its 21 bones, 0.3 mm at worst: the left foot),
so it is the SMPL 1.0 **male** template at zero shape rather than the gender-neutral one. The
numbers carry 8 decimals (0.01 micrometre); their accuracy is that of the two sources' agreement.

``smplh-22`` uses the first 22 rows of the same table. The SMPL+H body templates (male, female,
neutral) differ from SMPL's male template by amounts that could not be measured here (no model
file); treat joint positions as approximate at the centimetre level. The offsets also ignore the
subject's shape (``betas``): AMASS motions come out on one mean-shape body, good for forecasting
and visualisation, not for anthropometry.

The template is a scanned body and slightly asymmetric: left/right twins in the rest pose mirror
each other to within 15 mm (largest: the hands).
"""

from __future__ import annotations

import numpy as np

from posecast.skeletons.base import Skeleton, pairs_by_prefix, register

SMPL_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

#: Rest offsets (metres, each joint relative to its parent) of the SMPL male mean-shape template.
SMPL_MEAN_OFFSETS_M = np.array([
    [0.0, 0.0, 0.0],
    [0.05858135, -0.08228004, -0.01766408],
    [-0.06030973, -0.09051332, -0.01354254],
    [0.00443945, 0.12440352, -0.03838522],
    [0.04345142, -0.38646945, 0.008037],
    [-0.04325663, -0.38368791, -0.00484304],
    [0.00448844, 0.1379564, 0.02682033],
    [-0.01479032, -0.42687458, -0.037428],
    [0.01905555, -0.4200455, -0.03456167],
    [-0.00226458, 0.05603239, 0.00285505],
    [0.04105436, -0.06028581, 0.12204243],
    [-0.03483987, -0.06210566, 0.13032329],
    [-0.0133902, 0.21163553, -0.03346758],
    [0.07170245, 0.11399969, -0.01889817],
    [-0.08295366, 0.11247234, -0.02370739],
    [0.01011321, 0.08893734, 0.05040987],
    [0.12292141, 0.04520509, -0.019046],
    [-0.11322832, 0.04685326, -0.00847207],
    [0.2553319, -0.01564902, -0.02294649],
    [-0.26012748, -0.01436928, -0.03126873],
    [0.26570925, 0.01269811, -0.00737473],
    [-0.26910836, 0.00679372, -0.00602676],
    [0.08669055, -0.01063603, -0.01559429],
    [-0.0887537, -0.00865157, -0.01010708],
])  # fmt: skip

SMPLH_BODY_JOINTS = 22
"""Body joints of SMPL+H (and of SMPL-X): the first 22 SMPL joints; ``poses[:, :66]`` in AMASS."""


def _end_effectors(names: tuple[str, ...]) -> tuple[int, ...]:
    hands = ("left_hand", "right_hand") if "left_hand" in names else ("left_wrist", "right_wrist")
    return tuple(names.index(n) for n in ("head", *hands, "left_foot", "right_foot"))


@register("smpl-24", "smpl")
def smpl_24() -> Skeleton:
    return Skeleton(
        name="smpl-24",
        joint_names=SMPL_NAMES,
        parents=SMPL_PARENTS,
        offsets=SMPL_MEAN_OFFSETS_M,
        left_right=pairs_by_prefix(SMPL_NAMES, "left_", "right_"),
        end_effectors=_end_effectors(SMPL_NAMES),
        description="SMPL body model (Loper et al. 2015), 24 joints; rest offsets of the male mean-shape template "
        "as published in EDGE's vis.py (agrees with the SMPL Unity m_avg rig to 0.3 mm), metres, y up",
    )


@register("smplh-22", "smplh", "amass")
def smplh_22() -> Skeleton:
    names = SMPL_NAMES[:SMPLH_BODY_JOINTS]
    return Skeleton(
        name="smplh-22",
        joint_names=names,
        parents=SMPL_PARENTS[:SMPLH_BODY_JOINTS],
        offsets=SMPL_MEAN_OFFSETS_M[:SMPLH_BODY_JOINTS],
        left_right=pairs_by_prefix(names, "left_", "right_"),
        end_effectors=_end_effectors(names),
        description="SMPL+H body (Romero et al. 2017; AMASS), the first 22 SMPL joints without hand roots; "
        "rest offsets = SMPL male mean-shape template (betas ignored), metres, y up",
    )
