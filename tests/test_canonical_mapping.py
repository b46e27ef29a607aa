"""The canonical body ``smplh-22``: automatic mapping of every naming convention (generated skeletons),
back-mapping onto the source joints, mirror symmetry, explicit mapping files and real data files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from posecast.datasets.paths import dataset_dir
from posecast.errors import SkeletonError
from posecast.skeletons import CANONICAL, INTERPOLATED, REQUIRED, Skeleton, get, load_mapping_file, retarget
from posecast.skeletons.canonical import NAMES, UP_ROTATIONS

# ------------------------------------------------------------------------------ generated skeletons
LR = ({"s": "Left", "c": "L", "l": "l", "u": "L"}, {"s": "Right", "c": "R", "l": "r", "u": "R"})


def build(name: str, rows: list[tuple], sides: tuple[dict, dict] = LR) -> Skeleton:
    """Rows ``(name template, parent template, offset)``; a template with ``{s}``/``{c}``/``{l}``/``{u}``
    makes a left and a right joint (right offset = left one with x negated, or give ``(left, right)``).
    ``sides`` reversed lists the right side first and puts it at +x: the mirror image of the body."""
    names: list[str] = []
    parents: list[int] = []
    offsets: list[tuple[float, float, float]] = []
    pairs: list[tuple[int, int]] = []
    for tpl, parent, off in rows:
        sided = "{" in tpl
        if sided:
            pairs.append((len(names), len(names) + 1) if sides[0] is LR[0] else (len(names) + 1, len(names)))
        for k, m in enumerate(sides if sided else sides[:1]):
            names.append(tpl.format(**m))
            parents.append(-1 if parent is None else names.index(parent.format(**m)))
            if len(off) == 2:
                offsets.append(off[k])
            else:
                offsets.append((off[0] * (-1 if k else 1), off[1], off[2]))
    return Skeleton(name, tuple(names), tuple(parents), np.array(offsets, dtype=float), left_right=tuple(pairs))


Z = (0.0, 0.0, 0.0)
HIP, KNEE, ANKLE, TOE, TOE_END = (
    (0.09, -0.08, 0.0),
    (0.0, -0.42, 0.0),
    (0.0, -0.42, 0.01),
    (0.0, -0.05, 0.13),
    (0, 0, 0.06),
)
COLLAR, SHOULDER, ELBOW, WRIST, FINGER = (
    (0.07, 0.1, -0.01),
    (0.12, 0.04, 0.0),
    (0.26, 0.0, 0.0),
    (0.25, 0.0, 0.0),
    (
        0.08,
        0.0,
        0.02,
    ),
)


def cmu_bvh(sides: tuple[dict, dict] = LR) -> Skeleton:
    return build("gen-cmu-bvh", [
        ("Hips", None, Z), ("{c}HipJoint", "Hips", Z), ("{s}UpLeg", "{c}HipJoint", HIP), ("{s}Leg", "{s}UpLeg", KNEE),
        ("{s}Foot", "{s}Leg", ANKLE), ("{s}ToeBase", "{s}Foot", TOE), ("LowerBack", "Hips", Z),
        ("Spine", "LowerBack", (0, 0.12, 0)), ("Spine1", "Spine", (0, 0.12, 0)), ("Neck", "Spine1", Z),
        ("Neck1", "Neck", (0, 0.09, 0)), ("Head", "Neck1", (0, 0.09, 0)), ("{s}Shoulder", "Spine1", Z),
        ("{s}Arm", "{s}Shoulder", (0.2, 0.05, 0)), ("{s}ForeArm", "{s}Arm", ELBOW), ("{s}Hand", "{s}ForeArm", WRIST),
        ("{s}FingerBase", "{s}Hand", Z), ("{s}HandIndex1", "{s}FingerBase", FINGER), ("{c}Thumb", "{s}Hand", Z),
    ], sides)  # fmt: skip


def asf(sides: tuple[dict, dict] = LR) -> Skeleton:
    u = 0.0564  # CMU ASF units in metres; joints at bone starts, End Sites as <leaf>_end
    rows = [
        ("root", None, Z), ("{l}hipjoint", "root", Z), ("{l}femur", "{l}hipjoint", (1.3, -1.8, 0.8)),
        ("{l}tibia", "{l}femur", (2.5, -6.9, 0)), ("{l}foot", "{l}tibia", (2.5, -7, 0)),
        ("{l}toes", "{l}foot", (0.2, -0.5, 2.3)), ("{l}toes_end", "{l}toes", (0, 0, 1.2)),
        ("lowerback", "root", Z), ("upperback", "lowerback", (0, 2.2, 0)), ("thorax", "upperback", (0, 2.2, 0)),
        ("lowerneck", "thorax", (0, 2.2, 0)), ("upperneck", "lowerneck", (0, 1.6, 0)),
        ("head", "upperneck", (0, 1.6, 0)), ("head_end", "head", (0, 1.6, 0)),
        ("{l}clavicle", "thorax", (0, 2.2, 0)), ("{l}humerus", "{l}clavicle", (3.5, 0.9, 0)),
        ("{l}radius", "{l}humerus", (5, 0, 0)), ("{l}wrist", "{l}radius", (3.4, 0, 0)),
        ("{l}hand", "{l}wrist", (0.7, 0, 0)), ("{l}fingers", "{l}hand", (0.5, 0, 0)),
        ("{l}fingers_end", "{l}fingers", (0.5, 0, 0)), ("{l}thumb", "{l}wrist", (0.5, 0, 0.5)),
        ("{l}thumb_end", "{l}thumb", (0.5, 0, 0.5)),
    ]  # fmt: skip
    return build("gen-asf", [(n, p, tuple(u * v for v in o)) for n, p, o in rows], sides)


def bandai(sides: tuple[dict, dict] = LR) -> Skeleton:
    # the real file's offsets (metres): the rest pose is not a T-pose (bones along local x), so the
    # mapping may only use bone lengths
    return build("gen-bandai", [
        ("joint_Root", None, Z), ("Hips", "joint_Root", (0.008, 0.94, -4.52)), ("Spine", "Hips", (0.157, 0, 0)),
        ("Chest", "Spine", (0.09, -0.004, 0)), ("Neck", "Chest", (0.164, 0, 0)), ("Head", "Neck", (0.065, 0, 0)),
        ("Shoulder_{u}", "Chest", ((0.13, -0.002, 0.05), (0.13, -0.002, -0.05))),
        ("UpperArm_{u}", "Shoulder_{u}", (0.053, 0, 0)), ("LowerArm_{u}", "UpperArm_{u}", (0.243, 0, 0)),
        ("Hand_{u}", "LowerArm_{u}", (0.223, 0, 0)),
        ("UpperLeg_{u}", "Hips", ((-0.022, -0.065, 0), (-0.022, 0.065, 0))),
        ("LowerLeg_{u}", "UpperLeg_{u}", (0.391, 0, 0)), ("Foot_{u}", "LowerLeg_{u}", (0.41, 0, 0)),
        ("Toes_{u}", "Foot_{u}", (0.118, 0, 0)),
    ], sides)  # fmt: skip


def mixamo(sides: tuple[dict, dict] = LR) -> Skeleton:
    rows = [
        ("Hips", None, Z), ("Spine", "Hips", (0, 0.1, 0.01)), ("Spine1", "Spine", (0, 0.12, 0)),
        ("Spine2", "Spine1", (0, 0.13, 0)), ("Neck", "Spine2", (0, 0.15, 0)), ("Head", "Neck", (0, 0.1, 0.02)),
        ("HeadTop_End", "Head", (0, 0.18, 0.02)), ("{s}Shoulder", "Spine2", (0.06, 0.1, 0)),
        ("{s}Arm", "{s}Shoulder", (0.11, 0, 0)), ("{s}ForeArm", "{s}Arm", (0.27, 0, 0)),
        ("{s}Hand", "{s}ForeArm", WRIST), ("{s}HandThumb1", "{s}Hand", (0.03, 0, 0.03)),
        ("{s}HandThumb2", "{s}HandThumb1", (0.03, 0, 0.02)), ("{s}HandIndex1", "{s}Hand", (0.09, 0, 0.02)),
        ("{s}HandIndex2", "{s}HandIndex1", (0.04, 0, 0)), ("{s}HandIndex3", "{s}HandIndex2", (0.03, 0, 0)),
        ("{s}HandIndex4", "{s}HandIndex3", (0.02, 0, 0)), ("{s}UpLeg", "Hips", HIP), ("{s}Leg", "{s}UpLeg", KNEE),
        ("{s}Foot", "{s}Leg", ANKLE), ("{s}ToeBase", "{s}Foot", TOE), ("{s}Toe_End", "{s}ToeBase", TOE_END),
    ]  # fmt: skip
    return build("gen-mixamo", [("mixamorig:" + n, p and "mixamorig:" + p, o) for n, p, o in rows], sides)


def lafan(sides: tuple[dict, dict] = LR) -> Skeleton:
    return build("gen-lafan1", [
        ("Hips", None, Z), ("{s}UpLeg", "Hips", HIP), ("{s}Leg", "{s}UpLeg", KNEE), ("{s}Foot", "{s}Leg", ANKLE),
        ("{s}Toe", "{s}Foot", TOE), ("Spine", "Hips", (0, 0.1, 0)), ("Spine1", "Spine", (0, 0.12, 0)),
        ("Spine2", "Spine1", (0, 0.13, 0)), ("Neck", "Spine2", (0, 0.15, 0)), ("Head", "Neck", (0, 0.1, 0)),
        ("{s}Shoulder", "Spine2", COLLAR), ("{s}Arm", "{s}Shoulder", SHOULDER), ("{s}ForeArm", "{s}Arm", ELBOW),
        ("{s}Hand", "{s}ForeArm", WRIST),
    ], sides)  # fmt: skip


def unreal(ue5: bool = False, sides: tuple[dict, dict] = LR) -> Skeleton:
    spines = [f"spine_0{i}" for i in range(1, 6 if ue5 else 4)]
    rows = [("root", None, Z), ("pelvis", "root", (0, 0.95, 0))]
    for k, sp in enumerate(spines):
        rows.append((sp, spines[k - 1] if k else "pelvis", (0, 0.36 / len(spines), 0)))
    top = spines[-1]
    rows += [("neck_01", top, (0, 0.13, 0))]
    if ue5:
        rows += [("neck_02", "neck_01", (0, 0.05, 0)), ("head", "neck_02", (0, 0.05, 0))]
    else:
        rows += [("head", "neck_01", (0, 0.09, 0))]
    rows += [
        ("clavicle_{l}", top, (0.03, 0.1, 0)), ("upperarm_{l}", "clavicle_{l}", (0.15, 0, 0)),
        ("upperarm_twist_01_{l}", "upperarm_{l}", (0.1, 0, 0)), ("lowerarm_{l}", "upperarm_{l}", (0.29, 0, 0)),
        ("lowerarm_twist_01_{l}", "lowerarm_{l}", (0.15, 0, 0)), ("hand_{l}", "lowerarm_{l}", (0.26, 0, 0)),
        ("index_01_{l}", "hand_{l}", (0.1, 0, 0.02)), ("index_02_{l}", "index_01_{l}", (0.04, 0, 0)),
        ("thumb_01_{l}", "hand_{l}", (0.03, 0, 0.03)),
        ("thigh_{l}", "pelvis", (0.09, -0.05, 0)), ("thigh_twist_01_{l}", "thigh_{l}", (0, -0.2, 0)),
        ("calf_{l}", "thigh_{l}", (0, -0.43, 0)), ("calf_twist_01_{l}", "calf_{l}", (0, -0.2, 0)),
        ("foot_{l}", "calf_{l}", (0, -0.42, 0)), ("ball_{l}", "foot_{l}", TOE),
        ("ik_foot_root", "root", Z), ("ik_foot_{l}", "ik_foot_root", (0.1, 0.1, 0)),
        ("ik_hand_root", "root", Z), ("ik_hand_gun", "ik_hand_root", (0.5, 1.2, 0.3)),
        ("ik_hand_{l}", "ik_hand_gun", (0.1, 0, 0)),
    ]  # fmt: skip
    return build("gen-ue5" if ue5 else "gen-ue4", rows, sides)


def unity(sides: tuple[dict, dict] = LR) -> Skeleton:
    return build("gen-unity", [
        ("Hips", None, Z), ("Spine", "Hips", (0, 0.1, 0)), ("Chest", "Spine", (0, 0.12, 0)),
        ("UpperChest", "Chest", (0, 0.13, 0)), ("Neck", "UpperChest", (0, 0.15, 0)), ("Head", "Neck", (0, 0.1, 0)),
        ("{s}Shoulder", "UpperChest", COLLAR), ("{s}UpperArm", "{s}Shoulder", SHOULDER),
        ("{s}LowerArm", "{s}UpperArm", ELBOW), ("{s}Hand", "{s}LowerArm", WRIST), ("{s}UpperLeg", "Hips", HIP),
        ("{s}LowerLeg", "{s}UpperLeg", KNEE), ("{s}Foot", "{s}LowerLeg", ANKLE), ("{s}Toes", "{s}Foot", TOE),
    ], sides)  # fmt: skip


def blender(sides: tuple[dict, dict] = LR) -> Skeleton:
    rows = [
        ("hips", None, Z), ("spine", "hips", (0, 0.14, 0)), ("chest", "spine", (0, 0.2, 0)),
        ("neck", "chest", (0, 0.15, 0)), ("head", "neck", (0, 0.1, 0)), ("shoulder.{u}", "chest", COLLAR),
        ("upper_arm.{u}", "shoulder.{u}", SHOULDER), ("forearm.{u}", "upper_arm.{u}", ELBOW),
        ("hand.{u}", "forearm.{u}", WRIST), ("thigh.{u}", "hips", HIP), ("shin.{u}", "thigh.{u}", KNEE),
        ("foot.{u}", "shin.{u}", ANKLE), ("toe.{u}", "foot.{u}", TOE),
    ]  # fmt: skip
    return build("gen-blender", [("Armature|" + n, p and "Armature|" + p, o) for n, p, o in rows], sides)


def daz(sides: tuple[dict, dict] = LR) -> Skeleton:  # CMU "daz-friendly" / Poser BVH: lShldr, lThigh...; no toe joint
    return build("gen-daz", [
        ("hip", None, Z), ("abdomen", "hip", (0, 0.1, 0)), ("chest", "abdomen", (0, 0.2, 0)),
        ("neck", "chest", (0, 0.16, 0)), ("head", "neck", (0, 0.1, 0)), ("{s}Eye", "head", (0.03, 0.05, 0.08)),
        ("{l}Collar", "chest", COLLAR), ("{l}Shldr", "{l}Collar", SHOULDER), ("{l}ForeArm", "{l}Shldr", ELBOW),
        ("{l}Hand", "{l}ForeArm", WRIST), ("{l}Buttock", "hip", HIP), ("{l}Thigh", "{l}Buttock", (0, -0.05, 0)),
        ("{l}Shin", "{l}Thigh", KNEE), ("{l}Foot", "{l}Shin", ANKLE),
    ], sides)  # fmt: skip


def biped(sides: tuple[dict, dict] = LR) -> Skeleton:  # 3ds Max Biped: thighs hang from "Bip01 Spine"
    return build("gen-biped", [
        ("Bip01", None, Z), ("Bip01 Pelvis", "Bip01", (0, 0.95, 0)), ("Bip01 Spine", "Bip01 Pelvis", (0, 0.08, 0)),
        ("Bip01 {c} Thigh", "Bip01 Spine", (0.09, -0.16, 0)), ("Bip01 {c} Calf", "Bip01 {c} Thigh", KNEE),
        ("Bip01 {c} Foot", "Bip01 {c} Calf", ANKLE), ("Bip01 {c} Toe0", "Bip01 {c} Foot", TOE),
        ("Bip01 Spine1", "Bip01 Spine", (0, 0.13, 0)), ("Bip01 Spine2", "Bip01 Spine1", (0, 0.13, 0)),
        ("Bip01 Neck", "Bip01 Spine2", (0, 0.14, 0)), ("Bip01 Head", "Bip01 Neck", (0, 0.1, 0)),
        ("Bip01 HeadNub", "Bip01 Head", (0, 0.18, 0)), ("Bip01 {c} Clavicle", "Bip01 Neck", (0.03, -0.02, 0)),
        ("Bip01 {c} UpperArm", "Bip01 {c} Clavicle", (0.15, 0, 0)), ("Bip01 {c} Forearm", "Bip01 {c} UpperArm", ELBOW),
        ("Bip01 {c} Hand", "Bip01 {c} Forearm", WRIST), ("Bip01 {c} Finger0", "Bip01 {c} Hand", FINGER),
    ], sides)  # fmt: skip


def genesis8(twist: str = "Twist", sides: tuple[dict, dict] = LR) -> Skeleton:
    """DAZ Genesis 8: Bend -> Twist -> Bend -> Twist -> Hand *inside* the arm and leg chains (``twist="Roll"``: the
    same rig with HumanIK's word for them); the thighs hang from ``pelvis``, a side branch of ``hip`` beside
    ``abdomenLower``, its point between the hips, 5 cm below ``hip``."""
    return build(f"gen-genesis8-{twist}", [
        ("hip", None, Z), ("pelvis", "hip", (0, -0.05, 0)), ("abdomenLower", "hip", (0, 0.06, 0)),
        ("abdomenUpper", "abdomenLower", (0, 0.08, 0)), ("chestLower", "abdomenUpper", (0, 0.1, 0)),
        ("chestUpper", "chestLower", (0, 0.1, 0)), ("neckLower", "chestUpper", (0, 0.12, 0)),
        ("neckUpper", "neckLower", (0, 0.05, 0)), ("head", "neckUpper", (0, 0.05, 0)),
        ("{l}Collar", "chestUpper", COLLAR), ("{l}ShldrBend", "{l}Collar", SHOULDER),
        (f"{{l}}Shldr{twist}", "{l}ShldrBend", (0.13, 0, 0)), ("{l}ForearmBend", f"{{l}}Shldr{twist}", (0.13, 0, 0)),
        (f"{{l}}Forearm{twist}", "{l}ForearmBend", (0.12, 0, 0)), ("{l}Hand", f"{{l}}Forearm{twist}", (0.13, 0, 0)),
        ("{l}Index1", "{l}Hand", FINGER), ("{l}ThighBend", "pelvis", (0.09, -0.03, 0)),
        (f"{{l}}Thigh{twist}", "{l}ThighBend", (0, -0.2, 0)), ("{l}Shin", f"{{l}}Thigh{twist}", (0, -0.22, 0)),
        ("{l}Foot", "{l}Shin", ANKLE), ("{l}Toe", "{l}Foot", TOE),
    ], sides)  # fmt: skip


def xsens(sides: tuple[dict, dict] = LR) -> Skeleton:  # Xsens MVN segments (MVNX, live stream): vertebrae L5...T8
    return build("gen-xsens", [
        ("Pelvis", None, (0, 0.95, 0)), ("L5", "Pelvis", (0, 0.1, 0)), ("L3", "L5", (0, 0.1, 0)),
        ("T12", "L3", (0, 0.1, 0)), ("T8", "T12", (0, 0.12, 0)), ("Neck", "T8", (0, 0.16, 0)),
        ("Head", "Neck", (0, 0.1, 0)),
        ("{s}Shoulder", "T8", COLLAR), ("{s}UpperArm", "{s}Shoulder", SHOULDER), ("{s}ForeArm", "{s}UpperArm", ELBOW),
        ("{s}Hand", "{s}ForeArm", WRIST), ("{s}UpperLeg", "Pelvis", HIP), ("{s}LowerLeg", "{s}UpperLeg", KNEE),
        ("{s}Foot", "{s}LowerLeg", ANKLE), ("{s}Toe", "{s}Foot", TOE),
    ], sides)  # fmt: skip


def limbs(hip, knee, ankle, foot, shoulder, elbow, wrist, collar=None) -> dict[str, str]:
    """Expected 1:1 limb joints, left names given with 'Left'/'L'/'l' to be swapped for the right side."""
    out = {}
    for key, val in (("hip", hip), ("knee", knee), ("ankle", ankle), ("foot", foot), ("shoulder", shoulder),
                     ("elbow", elbow), ("wrist", wrist), ("collar", collar)):  # fmt: skip
        if val is not None:
            out[f"left_{key}"] = val.format(**LR[0])
            out[f"right_{key}"] = val.format(**LR[1])
    return out


CONVENTIONS = {
    "cmu-bvh": (
        cmu_bvh,
        {"pelvis": "Hips", "spine2": "Spine", "neck": "Neck", "head": "Head",
         **limbs("{s}UpLeg", "{s}Leg", "{s}Foot", "{s}ToeBase", "{s}Arm", "{s}ForeArm", "{s}Hand")},
        {"spine1", "spine3", "left_collar", "right_collar"},
    ),
    "asf": (
        asf,
        {"pelvis": "root", "spine1": "upperback", "spine3": "thorax", "neck": "lowerneck", "head": "head",
         **limbs("{l}femur", "{l}tibia", "{l}foot", "{l}toes", "{l}humerus", "{l}radius", "{l}wrist")},
        {"spine2", "left_collar", "right_collar"},
    ),
    "bandai": (
        bandai,
        {"pelvis": "Hips", "spine2": "Spine", "spine3": "Chest", "neck": "Neck", "head": "Head",
         **limbs("UpperLeg_{u}", "LowerLeg_{u}", "Foot_{u}", "Toes_{u}", "UpperArm_{u}", "LowerArm_{u}", "Hand_{u}",
                 collar="Shoulder_{u}")},
        {"spine1"},
    ),
    "mixamo": (
        mixamo,
        {k: "mixamorig:" + v for k, v in {
            "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
            **limbs("{s}UpLeg", "{s}Leg", "{s}Foot", "{s}ToeBase", "{s}Arm", "{s}ForeArm", "{s}Hand",
                    collar="{s}Shoulder")}.items()},
        set(),
    ),
    "lafan1": (
        lafan,
        {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
         **limbs("{s}UpLeg", "{s}Leg", "{s}Foot", "{s}Toe", "{s}Arm", "{s}ForeArm", "{s}Hand", collar="{s}Shoulder")},
        set(),
    ),
    "unreal": (
        lambda sides=LR: unreal(sides=sides),
        {"pelvis": "pelvis", "spine1": "spine_01", "spine2": "spine_02", "spine3": "spine_03", "neck": "neck_01",
         "head": "head", **limbs("thigh_{l}", "calf_{l}", "foot_{l}", "ball_{l}", "upperarm_{l}", "lowerarm_{l}",
                                 "hand_{l}", collar="clavicle_{l}")},
        set(),
    ),
    "unity": (
        unity,
        {"pelvis": "Hips", "spine1": "Spine", "spine2": "Chest", "spine3": "UpperChest", "neck": "Neck", "head": "Head",
         **limbs("{s}UpperLeg", "{s}LowerLeg", "{s}Foot", "{s}Toes", "{s}UpperArm", "{s}LowerArm", "{s}Hand",
                 collar="{s}Shoulder")},
        set(),
    ),
    "blender": (
        blender,
        {k: "Armature|" + v for k, v in {
            "pelvis": "hips", "spine1": "spine", "spine3": "chest", "neck": "neck", "head": "head",
            **limbs("thigh.{u}", "shin.{u}", "foot.{u}", "toe.{u}", "upper_arm.{u}", "forearm.{u}", "hand.{u}",
                    collar="shoulder.{u}")}.items()},
        {"spine2"},
    ),
    "daz": (
        daz,
        {"pelvis": "hip", "spine1": "abdomen", "spine3": "chest", "neck": "neck", "head": "head",
         **limbs("{l}Thigh", "{l}Shin", "{l}Foot", None, "{l}Shldr", "{l}ForeArm", "{l}Hand", collar="{l}Collar")},
        {"spine2", "left_foot", "right_foot"},
    ),
    "biped": (
        biped,
        {k: "Bip01 " + v for k, v in {
            "pelvis": "Pelvis", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
            "head": "Head", **limbs("{c} Thigh", "{c} Calf", "{c} Foot", "{c} Toe0", "{c} UpperArm", "{c} Forearm",
                                    "{c} Hand", collar="{c} Clavicle")}.items()},
        set(),
    ),
    "genesis8": (
        genesis8,
        {"pelvis": "hip", "spine1": "abdomenUpper", "spine2": "chestLower", "spine3": "chestUpper",
         "neck": "neckLower", "head": "head",
         **limbs("{l}ThighBend", "{l}Shin", "{l}Foot", "{l}Toe", "{l}ShldrBend", "{l}ForearmBend", "{l}Hand",
                 collar="{l}Collar")},
        set(),
    ),
    "genesis8-roll": (
        lambda sides=LR: genesis8("Roll", sides),
        {"pelvis": "hip", "spine1": "abdomenUpper", "spine2": "chestLower", "spine3": "chestUpper",
         "neck": "neckLower", "head": "head",
         **limbs("{l}ThighBend", "{l}Shin", "{l}Foot", "{l}Toe", "{l}ShldrBend", "{l}ForearmBend", "{l}Hand",
                 collar="{l}Collar")},
        set(),
    ),
    "xsens": (
        xsens,
        {"pelvis": "Pelvis", "neck": "Neck", "head": "Head",
         **limbs("{s}UpperLeg", "{s}LowerLeg", "{s}Foot", "{s}Toe", "{s}UpperArm", "{s}ForeArm", "{s}Hand",
                 collar="{s}Shoulder")},
        set(),
    ),
    "smpl-24": (lambda: get("smpl-24"), {n: n for n in NAMES}, set()),
    "smplh-22": (lambda: get("smplh-22"), {n: n for n in NAMES}, set()),
    "h36m-32": (
        lambda: get("h36m-32"),
        {"pelvis": "Hips", "spine2": "Spine1", "neck": "Neck", "head": "Head",
         **limbs("{s}UpLeg", "{s}Leg", "{s}Foot", "{s}ToeBase", "{s}Arm", "{s}ForeArm", "{s}Hand")},
        {"spine1", "spine3", "left_collar", "right_collar"},
    ),
    "cmu-bvh-31": (
        lambda: get("cmu-bvh-31"),
        {"pelvis": "Hips", "spine2": "Spine", "neck": "Neck", "head": "Head",
         **limbs("{s}UpLeg", "{s}Leg", "{s}Foot", "{s}ToeBase", "{s}Arm", "{s}ForeArm", "{s}Hand")},
        {"spine1", "spine3", "left_collar", "right_collar"},
    ),
    "cmu-mocap-38": (
        lambda: get("cmu-mocap-38"),
        {"pelvis": "Hips", "spine2": "Spine", "neck": "Neck", "head": "Head",
         **limbs("{s}UpLeg", "{s}Leg", "{s}Foot", "{s}ToeBase", "{s}Arm", "{s}ForeArm", "{s}Hand")},
        {"spine1", "spine3", "left_collar", "right_collar"},
    ),
}  # fmt: skip


def one_to_one(r) -> dict[str, str]:
    return {c: next(iter(w)) for c, w in r.assignment.items() if len(w) == 1}


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_each_convention_maps_its_joints(convention: str) -> None:
    make, expected, interpolated = CONVENTIONS[convention]
    r = retarget(make())
    got = one_to_one(r)
    assert {c: got.get(c) for c in expected} == expected
    assert set(r.interpolated) == interpolated
    assert set(got) | set(r.interpolated) == set(NAMES)  # everything else is 1:1
    assert r.matrix.shape == (22, r.source.num_joints)
    np.testing.assert_allclose(r.matrix.sum(axis=1), 1.0, atol=1e-12)
    for c, w in r.assignment.items():
        assert sum(w.values()) == pytest.approx(1.0)
        assert all(r.matrix[NAMES.index(c), r.source.index(n)] == v for n, v in w.items())
    assert CANONICAL in r.describe() and "left_collar" in r.describe()


def test_required_and_interpolated_split_the_canonical_body() -> None:
    assert sorted(REQUIRED + INTERPOLATED) == sorted(NAMES)
    assert not set(REQUIRED) & set(INTERPOLATED)


def test_smplh22_is_the_identity_and_smpl24_hands_follow_the_wrists() -> None:
    np.testing.assert_array_equal(retarget("smplh-22").matrix, np.eye(22))
    r = retarget("smpl-24")
    assert r.followers == {"left_hand": "left_wrist", "right_hand": "right_wrist"}


def test_face_points_of_keypoint_layouts_follow_the_head() -> None:
    """COCO and BlazePose hang the shoulders from the face (nose -> eye -> ear -> shoulder): the face points follow
    the head, not a shoulder (a QA found the eyes 62 mm apart in the history and 127 mm in the forecast), so a
    forecast moves the face rigidly: each face point keeps its offset from the head in the head's frame."""
    for name, face in (("coco-17", 5), ("blazepose-33", 11)):
        r = retarget(name)
        assert sum(v == "head" for v in r.followers.values()) == face, name
        assert all(r.followers[n] == "head" for n in r.followers if "eye" in n or "ear" in n or n == "nose")
    r = retarget("coco-17")
    rng = np.random.default_rng(1)
    obs = rng.normal(scale=0.3, size=(17, 3))
    can_obs = r.to_canonical(obs)
    # the canonical forecast: the observed canonical pose turned by 30 degrees about y and moved
    a = np.deg2rad(30.0)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    fc = r.from_canonical((can_obs @ rot.T + [0.5, 0.0, 0.2])[None], obs)[0]  # (17, 3)
    np.testing.assert_allclose(fc, obs @ rot.T + [0.5, 0.0, 0.2], atol=1e-9)  # a rigid motion moves every point
    # the shoulders raised and drawn apart, the head still: the face stays as observed
    moved = can_obs.copy()
    for side, dx in (("left", 0.1), ("right", -0.1)):
        moved[NAMES.index(f"{side}_shoulder")] += [dx, 0.08, 0.0]
    fc = r.from_canonical(moved[None], obs)[0]
    face = [get("coco-17").index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    np.testing.assert_allclose(fc[face], obs[face], atol=1e-9)


def test_mikumikudance_names_map() -> None:
    """MMD rigs name their bones in Japanese (左 left, 右 right, 足 leg, ひざ knee, 足首 ankle, 腕 arm, ひじ elbow,
    手首 wrist, 肩 clavicle, 上半身 upper body, 首 neck, 頭 head), legs under 下半身 and arms under 上半身2, twist bones
    between: they map by name, 肩 as the collar (QA: refused as "no left/right pair" before); a file of them is read in
    MMD's unit (8 cm), not the CMU unit its extent would suggest."""
    jp = ({"s": "左"}, {"s": "右"})
    rig = build(
        "mmd",
        [
            ("センター", None, (0.0, 0.9, 0.0)),
            ("下半身", "センター", (0.0, 0.05, 0.0)),
            ("{s}足", "下半身", HIP),
            ("{s}ひざ", "{s}足", KNEE),
            ("{s}足首", "{s}ひざ", ANKLE),
            ("{s}つま先", "{s}足首", TOE),
            ("上半身", "センター", (0.0, 0.12, 0.0)),
            ("上半身2", "上半身", (0.0, 0.15, 0.0)),
            ("首", "上半身2", (0.0, 0.2, 0.0)),
            ("頭", "首", (0.0, 0.1, 0.0)),
            ("{s}肩", "上半身2", COLLAR),
            ("{s}腕", "{s}肩", SHOULDER),
            ("{s}腕捩", "{s}腕", (0.13, 0.0, 0.0)),
            ("{s}ひじ", "{s}腕捩", (0.13, 0.0, 0.0)),
            ("{s}手首", "{s}ひじ", WRIST),
            ("{s}人指１", "{s}手首", (0.08, 0.0, 0.0)),
        ],
        sides=jp,
    )
    r = retarget(rig)
    one = {c: next(iter(w)) for c, w in r.assignment.items() if len(w) == 1}
    # the legs hang from a side branch (下半身) of the joint the trunk leaves from: the pelvis (as on Genesis 8)
    assert one["pelvis"] == "センター" and one["left_hip"] == "左足" and one["right_knee"] == "右ひざ"
    assert one["left_ankle"] == "左足首" and one["left_foot"] == "左つま先"
    assert one["neck"] == "首" and one["head"] == "頭"
    assert one["left_collar"] == "左肩" and one["left_shoulder"] == "左腕" and one["left_elbow"] == "左ひじ"
    assert one["right_wrist"] == "右手首" and one["spine3"] == "上半身2"
    assert r.followers["左腕捩"] == "left_shoulder" and r.followers["右人指１"] == "right_wrist"
    assert r.followers["下半身"] == "pelvis"


def test_a_mikumikudance_bvh_is_read_in_mmd_units(tmp_path: Path) -> None:
    from posecast.io.bvh import read_bvh

    def joint(name: str, off: tuple, kids: str, depth: int) -> str:
        pad = "  " * depth
        body = kids or f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET 0 -1 0\n{pad}  }}\n"
        return (
            f"{pad}JOINT {name}\n{pad}{{\n{pad}  OFFSET {off[0]} {off[1]} {off[2]}\n"
            f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation\n{body}{pad}}}\n"
        )

    legs = "".join(
        joint(f"{s}足", (x, -1, 0), joint(f"{s}ひざ", (0, -5, 0), joint(f"{s}足首", (0, -5, 0), "", 4), 3), 2)
        for s, x in (("左", 1), ("右", -1))
    )
    arms = "".join(
        joint(f"{s}腕", (x, 0, 0), joint(f"{s}ひじ", (x * 3, 0, 0), joint(f"{s}手首", (x * 3, 0, 0), "", 5), 4), 3)
        for s, x in (("左", 1), ("右", -1))
    )
    upper = joint("上半身", (0, 1, 0), joint("首", (0, 5, 0), joint("頭", (0, 1, 0), "", 3), 2) + arms, 1)
    text = (
        "HIERARCHY\nROOT センター\n{\n  OFFSET 0 11 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation "
        "Xrotation Yrotation\n" + joint("下半身", (0, 0, 0), legs, 1) + upper + "}\nMOTION\nFrames: 1\n"
        "Frame Time: 0.0333333\n" + " ".join(["0"] * (6 + 3 * 16)) + "\n"
    )
    path = tmp_path / "mmd.bvh"
    path.write_text(text, encoding="utf-8")
    m = read_bvh(path)
    assert m.metadata["units"] == "mmd" and m.metadata["metres_per_unit"] == 0.08
    assert m.positions[0, :, 1].max() - m.positions[0, :, 1].min() == pytest.approx(18 * 0.08)


def test_a_four_legged_rig_is_said_not_to_be_built_like_a_person() -> None:
    """A quadruped with human joint names maps (hind legs as legs, front legs as arms) and is forecast, but the
    forecast says the rig may not be a human body: its trunk is at about 90 degrees to its legs at rest and in motion.
    A person's rig is never flagged, even one whose rest pose is not upright (Bandai Namco's holds the legs at 90
    degrees) as long as the motion is."""
    import posecast
    from posecast.motion import Motion
    from posecast.skeletons.canonical import not_built_like_a_person

    dog = build(
        "dog",
        [
            ("Hips", None, (0.0, 0.5, 0.0)),
            ("{s}UpLeg", "Hips", (0.1, 0.0, 0.0)),
            ("{s}Leg", "{s}UpLeg", (0.0, -0.22, 0.0)),
            ("{s}Foot", "{s}Leg", (0.0, -0.22, 0.0)),
            ("Spine", "Hips", (0.0, 0.0, 0.3)),
            ("Spine1", "Spine", (0.0, 0.0, 0.3)),
            ("Neck", "Spine1", (0.0, 0.05, 0.1)),
            ("Head", "Neck", (0.0, 0.05, 0.15)),
            ("{s}Shoulder", "Spine1", (0.08, 0.0, 0.0)),
            ("{s}Arm", "{s}Shoulder", (0.02, -0.05, 0.0)),
            ("{s}ForeArm", "{s}Arm", (0.0, -0.2, 0.0)),
            ("{s}Hand", "{s}ForeArm", (0.0, -0.2, 0.0)),
        ],
    )
    rt = retarget(dog)
    assert rt.rest_trunk_to_legs == pytest.approx(90.0, abs=15.0)
    rest = np.repeat(dog.rest_positions()[None], 30, axis=0)
    walk = rest + np.linspace(0.0, 1.0, 30)[:, None, None] * [0.0, 0.0, 1.0]  # trotting forward
    assert not_built_like_a_person(rt, walk) == pytest.approx(rt.rest_trunk_to_legs, abs=1e-6)
    fc = posecast.forecast(Motion(walk, 30.0, dog), model="dct-mlp")
    assert fc.metadata["trunk_to_legs_deg"] == pytest.approx(rt.rest_trunk_to_legs, abs=0.1)
    # the legs in line with the trunk in motion (a person whose rest pose is not upright, as Bandai's): not flagged
    upright = walk.copy()
    for side in ("Left", "Right"):
        hip, knee, ankle = (dog.index(side + n) for n in ("UpLeg", "Leg", "Foot"))
        upright[:, knee] = upright[:, hip] - [0.0, 0.0, 0.22]
        upright[:, ankle] = upright[:, knee] - [0.0, 0.0, 0.22]
    assert not_built_like_a_person(rt, upright) is None
    # a person bowing on such a rig (QA: Bandai Namco's bows, the trunk at 90-100 degrees to the legs, had been called
    # no human body): the hands stay well above the feet
    bowing = walk.copy()
    for side in ("Left", "Right"):
        shoulder, elbow, wrist = (dog.index(side + n) for n in ("Arm", "ForeArm", "Hand"))
        bowing[:, elbow] = bowing[:, shoulder] - [0.0, 0.05, 0.15]
        bowing[:, wrist] = bowing[:, elbow] - [0.0, 0.0, 0.15]
    assert not_built_like_a_person(rt, bowing) is None
    for name in ("cmu-bvh-31", "smpl-24", "h36m-17"):
        assert retarget(name).rest_trunk_to_legs > 170 and not_built_like_a_person(retarget(name), rest[:, :0]) is None
    assert "trunk_to_legs_deg" not in posecast.forecast(synthetic_walk_motion(), model="dct-mlp").metadata


def synthetic_walk_motion():
    from posecast.synthetic import synthetic_walk

    return synthetic_walk(seconds=1.0, fps=30.0)


def test_a_world_root_at_the_pelvis_follows_it() -> None:
    s = build("biped-zero", [(n, p, Z if n == "Bip01 Pelvis" else o) for n, p, o in _rows(biped())])
    r = retarget(s)
    assert r.static == () and r.followers["Bip01"] == "pelvis"


def _rows(s: Skeleton) -> list[tuple]:
    """Rows for `build` that rebuild ``s`` (no side templates)."""
    rows = zip(s.joint_names, s.parents, s.offsets, strict=True)
    return [(n, None if p < 0 else s.joint_names[p], tuple(o)) for n, p, o in rows]


def test_a_reference_root_just_under_the_hips_is_a_part_of_the_body() -> None:
    """Mixamo under a ``Reference`` root 9.4 cm below the hips (a COM or reference bone that carries the motion):
    not a world root. It follows the pelvis rigidly, so a forecast lifted 4 cm (a key pose stood on the floor) and
    turned keeps the Reference -> Hips bone at 9.4 cm; it had stayed where observed and the bone had stretched."""
    rows = [("Reference", None, Z)] + [(n, p or "Reference", (0, 0.094, 0) if p is None else o)
                                       for n, p, o in _rows(mixamo())]  # fmt: skip
    r = retarget(build("mixamo-reference", rows))
    assert r.static == () and r.followers["Reference"] == "pelvis"
    obs = posed(r.source, np.random.default_rng(7))
    ref, hips = r.source.index("Reference"), r.source.index("mixamorig:Hips")
    gap = np.linalg.norm(obs[ref] - obs[hips])
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about y
    can = r.to_canonical(obs)
    moved = (can - can[0]) @ turn.T + can[0] + [0.0, 0.04, 0.0]
    back = r.from_canonical(moved[None], obs, travel=np.zeros(r.source.num_joints))[0]
    assert np.linalg.norm(back[ref] - back[hips]) == pytest.approx(gap, abs=1e-9)
    np.testing.assert_allclose(back[ref], (obs[ref] - can[0]) @ turn.T + can[0] + [0.0, 0.04, 0.0], atol=1e-9)
    # a root 0.95 m under the pelvis at rest (Unreal's, on the floor) is still a world root
    assert retarget(unreal()).static == ("root",)


def test_unreal_helpers_and_ue5_spine() -> None:
    r = retarget(unreal())
    assert r.followers["upperarm_twist_01_l"] == "left_shoulder"
    assert r.followers["lowerarm_twist_01_r"] == "right_elbow"
    assert r.followers["ik_hand_l"] == "pelvis" and r.static == ("root",)
    r5 = retarget(unreal(ue5=True))
    got = one_to_one(r5)
    spine = [got["spine1"], got["spine2"], got["spine3"]]
    # five equal spine bones at fractions 0.2..1.0 of pelvis -> neck_01: nearest to SMPL's 0.24, 0.50, 0.60
    assert spine == ["spine_01", "spine_02", "spine_03"] or spine == sorted(spine)
    assert got["neck"] == "neck_01" and got["head"] == "head"


def test_interpolated_spine_weights_follow_smpl_fractions() -> None:
    # Bandai: Hips -> Spine 0.157 -> Chest 0.09 -> Neck 0.164. SMPL's spine1 sits at 0.2405 of
    # pelvis -> neck (0.411 m here, so 0.0988 m up), on the Hips -> Spine bone: weight 0.0988 / 0.157 on Spine.
    w = retarget(bandai()).assignment["spine1"]
    up = 0.24047207 * (0.157 + np.hypot(0.09, 0.004) + 0.164)
    assert w == pytest.approx({"Hips": 1 - up / 0.157, "Spine": up / 0.157}, abs=1e-6)
    # CMU: collars half-way between the interpolated spine3 and the shoulders
    r = retarget(cmu_bvh())
    rest = r.source.rest_positions()
    can = r.to_canonical(rest)
    frac = np.linalg.norm(can[13] - can[9]) / (np.linalg.norm(can[13] - can[9]) + np.linalg.norm(can[16] - can[13]))
    assert frac == pytest.approx(0.5212733631355595, abs=1e-9)


# ------------------------------------------------------------------------------------ back-mapping
def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def posed(skel: Skeleton, rng: np.random.Generator) -> np.ndarray:
    """The rest pose with every joint moved a little (an arbitrary, non-rigid observed frame)."""
    return skel.rest_positions() + 0.03 * rng.standard_normal((skel.num_joints, 3))


def test_a_still_root_bone_the_pelvis_walked_away_from_stays_and_a_moving_one_follows() -> None:
    """A root bone at the pelvis' rest point (Unreal's ``root`` with a zero offset): when the pelvis translates
    under it and it stays at the origin it stays there in the forecast (turning it with the pelvis would
    swing it by metres); when it moves with the body (root motion) it follows the pelvis rigidly."""
    from posecast.skeletons.canonical import DETACHED_M, STILL_M, history_travel

    rows = [(n, p, Z if n == "pelvis" else o) for n, p, o in _rows(unreal())]
    r = retarget(build("ue-root-at-pelvis", rows))
    root, pelvis = r.source.index("root"), r.source.index("pelvis")
    assert r.static == () and r.followers["root"] == "pelvis"
    pose = posed(r.source, np.random.default_rng(5))  # not the rest pose: its straight arms have no frame
    walk = np.stack([pose + [0.0, 0.0, 0.1 * t] for t in range(10)])  # (10, J, 3): 0.9 m along z
    walk[:, :, 1] += 0.95  # the pelvis 0.95 m above the root bone's rest point
    still = walk.copy()
    still[:, root] = 0.0  # the root bone at the origin in every frame
    moving = walk.copy()
    moving[:, root] = walk[:, pelvis] - [0.0, 0.95, 0.0]  # root motion: on the floor under the pelvis
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about y
    for history, stays in ((still, True), (moving, False)):
        obs = history[-1]
        centre = obs[pelvis]
        forecast = (r.to_canonical(obs) - centre) @ turn.T + centre + [0.0, 0.0, 0.5]  # turn and step on
        travel = history_travel(history)
        assert (travel[root] < STILL_M) == stays and np.linalg.norm(obs[root] - obs[pelvis]) > DETACHED_M
        back = r.from_canonical(forecast[None], obs, travel)[0]
        rigid = (obs - centre) @ turn.T + centre + [0.0, 0.0, 0.5]
        np.testing.assert_allclose(back[root], obs[root] if stays else rigid[root], atol=1e-9)
        keep = [j for j in range(r.source.num_joints) if j != root and r.source.joint_names[j] not in r.static]
        np.testing.assert_allclose(back[keep], rigid[keep], atol=1e-6)
        # without the history (travel None) the root bone follows, as before
        np.testing.assert_allclose(r.from_canonical(forecast[None], obs)[0, root], rigid[root], atol=1e-9)
    # the body leaning 30 degrees forward about its pelvis: a root bone carrying root motion keeps to the floor
    # under the pelvis (turned rigidly it would swing 0.95 sin 30 = 0.48 m forward and 0.13 m up); also in a
    # z-up world
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    lean = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])  # about x
    obs = moving[-1]
    forecast = (r.to_canonical(obs) - obs[pelvis]) @ lean.T + obs[pelvis]
    back = r.from_canonical(forecast[None], obs, history_travel(moving))[0]
    np.testing.assert_allclose(back[root], obs[root], atol=1e-9)  # the pelvis did not move: nor does the root
    to_z = UP_ROTATIONS["+z"].T  # y-up world -> z-up world (column vectors)
    back_z = r.from_canonical(forecast[None] @ to_z.T, obs @ to_z.T, history_travel(moving), up=[0.0, 0.0, 1.0])
    np.testing.assert_allclose(back_z[0, root], obs[root] @ to_z.T, atol=1e-9)


def test_bones_beside_the_body_stay_where_they_were_observed_when_still() -> None:
    """QA (an Unreal rig): the ``ik_*`` bones hang from the world root beside the body (no body joint above or below
    them); still in the history, they were carried rigidly with the pelvis (``ik_hand_gun`` at 19.9 m/s, the world
    root's rotation solved up to 179 degrees to reach them). Still, they stay where observed; moving, they follow."""
    from posecast.skeletons.canonical import history_travel

    r = retarget(unreal())
    names = r.source.joint_names
    loose = {names[r.plan.fol_src[i]] for i in r.plan.fol_loose}
    assert loose == {"ik_foot_root", "ik_foot_l", "ik_foot_r", "ik_hand_root", "ik_hand_gun", "ik_hand_l", "ik_hand_r"}
    ik = [names.index(n) for n in sorted(loose)]
    pose = posed(r.source, np.random.default_rng(3))
    walk = np.stack([pose + [0.0, 0.0, 0.1 * t] for t in range(10)])  # (10, J, 3): the body walks 0.9 m along z
    still = walk.copy()
    still[:, ik] = pose[ik]  # the IK bones where they were
    obs = still[-1]
    step = r.to_canonical(obs) + [0.0, 0.0, 0.5]  # the forecast: half a metre on
    back = r.from_canonical(step[None], obs, history_travel(still))[0]
    np.testing.assert_allclose(back[ik], obs[ik], atol=1e-12)
    body = [j for j in range(len(names)) if j not in ik and names[j] not in r.static]
    np.testing.assert_allclose(back[body], obs[body] + [0.0, 0.0, 0.5], atol=1e-6)
    back = r.from_canonical(step[None], walk[-1], history_travel(walk))[0]  # they walked along: they follow
    np.testing.assert_allclose(back[ik], walk[-1, ik] + [0.0, 0.0, 0.5], atol=1e-6)
    assert retarget(cmu_bvh()).plan.fol_loose.size == 0 and retarget(bandai()).plan.fol_loose.size == 0


def test_a_world_root_that_carried_root_motion_follows_the_pelvis_along_the_floor() -> None:
    """Unreal's ``root`` on the floor (a world root, `static`): still, it stays where it was observed; carrying
    root motion, it follows the pelvis along the floor, its horizontal offset turned with the hips' heading."""
    from posecast.skeletons.canonical import STILL_M, history_travel

    r = retarget(unreal())
    root, pelvis = r.source.index("root"), r.source.index("pelvis")
    assert "root" in r.static
    pose = posed(r.source, np.random.default_rng(11))
    walk = np.stack([pose + [0.0, 0.0, 0.1 * t] for t in range(10)])
    walk[:, root] = walk[:, pelvis] * [1.0, 0.0, 1.0] + [0.2, 0.0, 0.0]  # on the floor, 0.2 m beside the pelvis
    obs = walk[-1]
    centre = obs[pelvis]
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about y
    can_obs = r.to_canonical(obs)
    hips = can_obs[NAMES.index("left_hip")] - can_obs[NAMES.index("right_hip")]
    axis = hips * [1.0, 0.0, 1.0] / np.linalg.norm(hips * [1.0, 0.0, 1.0])  # the hips' line across the floor
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    angle = np.radians(30.0)  # leaning 30 degrees forward about that line (Rodrigues)
    lean = np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross
    step = np.array([0.0, 0.0, 0.5])
    forecast = (r.to_canonical(obs) - centre) @ (lean @ turn).T + centre + step
    back = r.from_canonical(forecast[None], obs, history_travel(walk))[0]
    pelvis_next = forecast[0]  # the canonical pelvis (index 0) where the forecast put it
    want = np.array([pelvis_next[0], obs[root, 1], pelvis_next[2]]) + turn @ [0.2, 0.0, 0.0]
    np.testing.assert_allclose(back[root], want, atol=1e-9)  # the heading turn ignores the lean
    still = walk.copy()
    still[:, root] = obs[root]  # the same root left where it was through the history: it stays
    np.testing.assert_allclose(r.from_canonical(forecast[None], obs, history_travel(still))[0, root], obs[root])
    # ... also seen through a tracker's jitter (1 cm per coordinate and frame: the largest distance from the last
    # noisy frame, 3.5 cm here, had read as travel beyond the 2 cm then allowed and sent the root off with the pelvis)
    rng = np.random.default_rng(3)
    jitter = np.repeat(still, 6, axis=0) + rng.normal(0.0, 0.01, (60,) + still.shape[1:])
    jitter[:, pelvis] = np.repeat(walk[:, pelvis], 6, axis=0)
    travel = history_travel(jitter)
    assert np.linalg.norm(jitter[:, root] - jitter[-1, root], axis=-1).max() > 0.02
    assert travel[root] < STILL_M
    np.testing.assert_allclose(r.from_canonical(forecast[None], jitter[-1], travel)[0, root], jitter[-1, root])
    # travel counts the frames read (window), not a move long before them
    moved_then_still = np.concatenate([walk, np.repeat(still[-1:], 30, axis=0)])
    assert history_travel(moved_then_still)[root] > 0.05 > history_travel(moved_then_still, window=30)[root]


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_rigid_motion_of_the_forecast_moves_every_source_joint_rigidly(convention: str) -> None:
    """... except a world root above the pelvis (Bandai's joint_Root, Unreal's root), which stays put."""
    rng = np.random.default_rng(7)
    r = retarget(CONVENTIONS[convention][0]())
    obs = posed(r.source, rng)
    can_obs = r.to_canonical(obs)
    rots = np.stack([random_rotation(rng) for _ in range(5)])
    shifts = rng.standard_normal((5, 3))
    forecast = can_obs @ np.swapaxes(rots, 1, 2) + shifts[:, None, :]
    back = r.from_canonical(forecast, obs)
    expected = obs @ np.swapaxes(rots, 1, 2) + shifts[:, None, :]
    static = [r.source.index(n) for n in r.static]
    expected[:, static] = obs[static]
    np.testing.assert_allclose(back, expected, atol=1e-6)
    assert bool(static) == (convention in ("bandai", "unreal", "biped"))


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_observed_pose_maps_to_canonical_and_back_exactly(convention: str) -> None:
    rng = np.random.default_rng(3)
    r = retarget(CONVENTIONS[convention][0]())
    for obs in (r.source.rest_positions(), posed(r.source, rng)):
        back = r.from_canonical(r.to_canonical(obs)[None], obs)
        np.testing.assert_allclose(back[0], obs, atol=1e-12)


def test_one_to_one_joints_take_the_forecast_and_helpers_stay_on_their_anchor() -> None:
    rng = np.random.default_rng(1)
    r = retarget(cmu_bvh())
    obs = r.source.rest_positions()
    forecast = r.to_canonical(obs)[None] + 0.05 * rng.standard_normal((3, 22, 3))
    back = r.from_canonical(forecast, obs)
    for c, src in one_to_one(r).items():
        np.testing.assert_array_equal(back[:, r.source.index(src)], forecast[:, NAMES.index(c)])
    # zero-length helpers coincide with their anchor in every forecast frame
    for helper, anchor in (("LHipJoint", "Hips"), ("LowerBack", "Hips"), ("LeftShoulder", "Neck"), ("Spine1", "Neck")):
        np.testing.assert_allclose(back[:, r.source.index(helper)], back[:, r.source.index(anchor)], atol=1e-12)


def test_batches_and_dtypes() -> None:
    rng = np.random.default_rng(2)
    r = retarget(mixamo())
    j = r.source.num_joints
    hist = rng.standard_normal((4, 50, j, 3))
    can = r.to_canonical(hist)
    assert can.shape == (4, 50, 22, 3) and can.dtype == np.float64
    np.testing.assert_allclose(can[2, 7], r.matrix @ hist[2, 7], atol=1e-12)
    fut = rng.standard_normal((4, 25, 22, 3))
    back = r.from_canonical(fut, hist[:, -1])
    assert back.shape == (4, 25, j, 3)
    np.testing.assert_allclose(back[1], r.from_canonical(fut[1], hist[1, -1]), atol=1e-12)
    b32 = r.from_canonical(fut.astype(np.float32), hist[:, -1].astype(np.float32))
    assert r.to_canonical(hist.astype(np.float32)).dtype == np.float32 and b32.dtype == np.float32
    np.testing.assert_allclose(b32, back, atol=1e-4)
    with pytest.raises(SkeletonError, match="gen-mixamo"):
        r.to_canonical(rng.standard_normal((5, j + 1, 3)))
    with pytest.raises(SkeletonError, match="leading dims"):
        r.from_canonical(fut, hist[:2, -1])


def test_cached_per_layout_offsets_and_mapping() -> None:
    s = cmu_bvh()
    r = retarget(s)
    assert retarget(s) is r
    same = Skeleton("other-name", s.joint_names, s.parents, s.offsets)
    r2 = retarget(same)
    assert r2.source is same and r2.matrix is r.matrix
    longer = s.with_offsets(s.offsets * 1.1)
    assert retarget(longer) is not r
    assert retarget(s, {"left_collar": "LeftShoulder"}) is not r


# ---------------------------------------------------------------------------------------- mirroring
GENERATED = ["cmu-bvh", "asf", "bandai", "mixamo", "lafan1", "unreal", "unity", "blender", "daz", "biped"]


@pytest.mark.parametrize("convention", [*GENERATED, "h36m-32", "smpl-24"])
def test_mirror_symmetry(convention: str) -> None:
    s = CONVENTIONS[convention][0]()
    assert s.left_right, "the test needs left/right pairs"
    r = retarget(s)
    perm, cperm = s.mirror_permutation, get(CANONICAL).mirror_permutation
    flip = np.array([-1.0, 1.0, 1.0])
    rng = np.random.default_rng(5)
    obs = posed(s, rng)
    # mirroring the source pose mirrors the canonical pose: left rows are the mirrored right rows
    np.testing.assert_allclose(r.to_canonical((obs * flip)[perm]), (r.to_canonical(obs) * flip)[cperm], atol=1e-12)
    for c in NAMES:
        twin = NAMES[cperm[NAMES.index(c)]]
        mirrored_row = {s.joint_names[perm[s.index(n)]]: w for n, w in r.assignment[c].items()}
        assert r.assignment[twin] == pytest.approx(mirrored_row)
    # and the back-mapping commutes with mirroring
    fut = r.to_canonical(obs)[None] + 0.02 * rng.standard_normal((2, 22, 3))
    back = r.from_canonical((fut * flip)[:, cperm], (obs * flip)[perm])
    np.testing.assert_allclose(back, (r.from_canonical(fut, obs) * flip)[:, perm], atol=1e-9)


@pytest.mark.parametrize("convention", GENERATED)
def test_mirrored_skeleton_maps_the_same_joints(convention: str) -> None:
    """Right side listed first and at +x (the mirror image of the body): the same names map."""
    make = CONVENTIONS[convention][0]
    r, m = retarget(make()), retarget(make(sides=LR[::-1]))
    assert m.source.joint_names != r.source.joint_names
    assert one_to_one(m) == one_to_one(r) and m.interpolated == r.interpolated
    for c in NAMES:
        assert m.assignment[c] == pytest.approx(r.assignment[c])


def test_twist_joints_inside_a_limb_stay_on_the_bone_they_lie_on() -> None:
    """Genesis 8's lShldrTwist lies half-way along the upper arm, lForearmTwist along the forearm: they follow the
    shoulder and the elbow (the joint above them), so an elbow bent by 90 degrees in the forecast leaves each on its
    own bone, at its own distance from the joint above (had one followed the joint below it, the upper-arm twist
    would have swung round with the forearm)."""
    r = retarget(genesis8())
    assert r.followers["lShldrTwist"] == "left_shoulder" and r.followers["lForearmTwist"] == "left_elbow"
    assert r.followers["lThighTwist"] == "left_hip" and r.followers["pelvis"] == "pelvis"
    obs = r.source.rest_positions()
    can = r.to_canonical(obs)
    bent = can.copy()  # the left forearm turned 90 degrees about the elbow, from along +x to along -z
    elbow, wrist = NAMES.index("left_elbow"), NAMES.index("left_wrist")
    bent[wrist] = bent[elbow] + [0.0, 0.0, -np.linalg.norm(can[wrist] - can[elbow])]
    back = r.from_canonical(bent[None], obs)[0]
    j = r.source.index
    np.testing.assert_allclose(back[j("lShldrTwist")], 0.5 * (back[j("lShldrBend")] + back[j("lForearmBend")]))
    np.testing.assert_allclose(back[j("lForearmTwist")], back[j("lForearmBend")] + [0.0, 0.0, -0.12], atol=1e-12)


# ----------------------------------------------------------------------------------------- errors
def test_unmappable_skeleton_names_what_is_missing_and_what_was_found() -> None:
    s = build("armless", [
        ("Hips", None, Z), ("{s}UpLeg", "Hips", HIP), ("{s}Leg", "{s}UpLeg", KNEE), ("{s}Foot", "{s}Leg", ANKLE),
        ("Spine", "Hips", (0, 0.3, 0)), ("Head", "Spine", (0, 0.3, 0)),
    ])  # fmt: skip
    with pytest.raises(SkeletonError) as err:
        retarget(s)
    msg = str(err.value)
    assert "'armless'" in msg and "left_shoulder" in msg and "right_wrist" in msg
    assert "left_knee <- LeftLeg" in msg and "pelvis <- Hips" in msg and "mapping file" in msg
    assert "left_knee," not in msg.split("found")[0]  # found joints are not listed as missing
    with pytest.raises(SkeletonError, match="unknown skeleton"):
        retarget("no-such-skeleton")
    # nothing found by topology: the joints that look like body parts by name are named, not "found nothing"
    torso = build("torso", [("pelvis", None, Z), ("spine", "pelvis", (0, 0.3, 0)), ("neck", "spine", (0, 0.3, 0)),
                            ("head", "neck", (0, 0.1, 0)), ("{l}Hand", "neck", (0.3, 0, 0))])  # fmt: skip
    with pytest.raises(SkeletonError) as err:
        retarget(torso)
    msg = str(err.value)
    assert "found nothing: no left/right pair of leg and arm chains of 3 joints or more" in msg
    assert "named like body parts (pelvis, spine, neck, head, lHand, and 1 more)" in msg


def test_keypoint_layouts_map_through_their_body17_table_and_others_fail_cleanly() -> None:
    r = retarget("coco-17")  # no spine to place automatically: through its declared body-17 table
    assert r.assignment["pelvis"] == {"left_hip": 0.5, "right_hip": 0.5}
    fake = Skeleton("coco-17", ("a", "b"), (-1, 0), np.zeros((2, 3)))  # only the name of a registered layout
    with pytest.raises(SkeletonError, match="coco-17"):
        retarget(fake)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_mapping_file_completes_a_skeleton(tmp_path: Path) -> None:
    s = build("odd", [("Root", None, Z), ("A_{u}", "Root", HIP), ("B_{u}", "A_{u}", KNEE), ("C_{u}", "B_{u}", ANKLE),
                      ("Torso", "Root", (0, 0.4, 0)), ("D_{u}", "Torso", SHOULDER), ("E_{u}", "D_{u}", ELBOW),
                      ("F_{u}", "E_{u}", WRIST), ("Top", "Torso", (0, 0.2, 0))])  # fmt: skip
    text = "\n".join(
        ["pelvis: Root", "head: Top"]
        + [f"{side}_{j}: {n}_{u}" for side, u in (("left", "L"), ("right", "R"))
           for j, n in (("hip", "A"), ("knee", "B"), ("ankle", "C"), ("shoulder", "D"), ("elbow", "E"), ("wrist", "F"))]
        + ["left_foot: {C_L: 1.0}", "right_foot: {C_R: 2.0, B_R: 0.0}"]
    )  # fmt: skip
    path = write(tmp_path, "odd.yaml", text)
    table = load_mapping_file(path)
    assert table["right_foot"] == {"C_R": 1.0, "B_R": 0.0}
    r = retarget(s, path)
    assert one_to_one(r)["left_elbow"] == "E_L" and "spine2" in r.interpolated and "left_collar" in r.interpolated
    # the rig's joint between the pelvis and the head the mapping names is a spine joint, the rest is interpolated
    assert one_to_one(r)["spine3"] == "Torso"
    assert set(r.interpolated) == {"spine1", "spine2", "neck", "left_collar", "right_collar"}
    np.testing.assert_allclose(r.matrix.sum(1), 1.0)
    jpath = write(tmp_path, "odd.json", json.dumps({k: v for k, v in table.items()}))
    assert retarget(s, jpath).assignment == r.assignment
    assert retarget(s, dict(table)).assignment == r.assignment


def test_explicit_entries_override_and_the_rest_is_automatic() -> None:
    auto = retarget(cmu_bvh())
    r = retarget(cmu_bvh(), {"left_collar": "LeftShoulder", "right_collar": {"RightShoulder": 1}, "head": "Head"})
    assert one_to_one(r)["left_collar"] == "LeftShoulder" and one_to_one(r)["left_wrist"] == "LeftHand"
    assert "left_collar" not in r.interpolated and "spine1" in r.interpolated
    assert r.assignment["spine1"] == auto.assignment["spine1"]  # the detected Spine is still used
    # moving the neck drops the detected spine fractions: the spine slots are chosen again among the rig's joints
    # between the pelvis and Neck1 (`_chain_between`; a slot with no joint near its place is interpolated)
    r = retarget(cmu_bvh(), {"neck": "Neck1"})
    assert one_to_one(r)["neck"] == "Neck1"
    picked = [one_to_one(r)[s] for s in ("spine1", "spine2", "spine3") if s not in r.interpolated]
    chain = ("LowerBack", "Spine", "Spine1", "Neck")
    assert len(picked) >= 2 and all(j in chain for j in picked) and picked == sorted(picked, key=chain.index)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("unknown_canonical.yaml", "pelvis: Hips\nleft_toe: LeftToeBase\n", "unknown canonical joint 'left_toe'"),
        ("nan.yaml", "pelvis: {Hips: .nan}\n", "finite"),
        ("nan.json", '{"pelvis": {"Hips": NaN}}', "finite"),
        ("negative.yaml", "pelvis: {Hips: -1.0, Spine: 0.5}\n", "sum to -0.5"),
        ("zero.json", '{"pelvis": {"Hips": 0}}', "sum to 0"),
        ("dup.yaml", "pelvis: Hips\nhead: Head\npelvis: Spine\n", "duplicate entry 'pelvis' \\(line 3\\)"),
        ("dup.json", '{"pelvis": "Hips", "pelvis": "Spine"}', "duplicate entry 'pelvis'"),
        ("list.yaml", "- pelvis\n- Hips\n", "non-empty table"),
        ("badvalue.yaml", "pelvis: [Hips]\n", "pelvis: give a source joint"),
        ("bad.json", '{"pelvis": ', "not valid JSON"),
        ("bad.yaml", "pelvis: {Hips: 1\n", "not valid YAML"),
        ("string_weight.yaml", "pelvis: {Hips: one}\n", "is not 'source joint: number'"),
        # QA: one rig joint at both hips was taken without a word (both hips at one point)
        ("twice.yaml", "left_hip: LeftUpLeg\nright_hip: LeftUpLeg\n", "left_hip and right_hip both <- LeftUpLeg"),
        ("typo.yaml", "left_hip: LeftUpLge\n", "LeftUpLge: did you mean LeftUpLeg\\?"),
        ("case.yaml", "left_hip: leftupleg\n", "leftupleg: did you mean LeftUpLeg\\?"),
    ],
)
def test_bad_mapping_files_name_the_file_and_the_problem(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(SkeletonError, match=match) as err:
        retarget(cmu_bvh(), path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_mapping_file_with_unknown_source_joints(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "pelvis: Pelvis\nleft_wrist: {LeftHand: 0.5, LeftPalm: 0.5}\n")
    with pytest.raises(SkeletonError, match="does not have: LeftPalm, Pelvis") as err:
        retarget(cmu_bvh(), path)
    assert str(path) in str(err.value) and "gen-cmu-bvh" in str(err.value)
    with pytest.raises(SkeletonError, match="cannot read mapping file"):
        retarget(cmu_bvh(), tmp_path / "missing.yaml")


# -------------------------------------------------------------------------------------- real data
def _real(name: str) -> Path:
    path = dataset_dir(name, required=False)
    if path is None:
        pytest.skip(f"real data {name!r} not available: set POSECAST_DATA to the shared data root")
    return path


def _roundtrip_error(motion, r) -> float:
    """Mean distance (m) of the source joints when every frame is mapped to canonical and back with
    the first frame as the observed one: 0 for 1:1 joints, the rigid-following error otherwise."""
    pos = motion.positions
    back = r.from_canonical(r.to_canonical(pos), pos[0])
    return float(np.linalg.norm(back - pos, axis=-1).mean())


def test_real_bandai_file(tmp_path: Path) -> None:
    from posecast.io.bvh import read_bvh

    src = _real("bandai_namco") / "dataset-1" / "dataset-1_bow_active_001.bvh.gz"
    out = tmp_path / "bow.bvh"
    out.write_bytes(gzip.decompress(src.read_bytes()))
    motion = read_bvh(out)
    r = retarget(motion.skeleton)
    got = one_to_one(r)
    assert got["left_collar"] == "Shoulder_L" and got["right_shoulder"] == "UpperArm_R"
    assert got["left_foot"] == "Toes_L" and got["spine3"] == "Chest" and r.interpolated == ("spine1",)
    assert r.followers == {} and r.static == ("joint_Root",)
    can = r.to_canonical(motion.positions)
    # the canonical body stands upright: head above the pelvis above the feet, in every frame
    assert (can[:, NAMES.index("head"), 1] > can[:, 0, 1]).all() and (can[:, 0, 1] > can[:, 10, 1]).all()
    assert _roundtrip_error(motion, r) == 0.0  # every joint is 1:1 but joint_Root, which stays at the origin


def test_real_cmu_bvh_file() -> None:
    from posecast.io.bvh import read_bvh

    motion = read_bvh(_real("cmu_bvh") / "02" / "02_01.bvh", end_sites=True)
    r = retarget(motion.skeleton)
    assert one_to_one(r)["left_wrist"] == "LeftHand" and one_to_one(r)["neck"] == "Neck"
    assert r.followers["Head_end"] == "head" and r.followers["LeftToeBase_end"] == "left_foot"
    assert _roundtrip_error(motion, r) < 0.02


def test_any_rig_reaches_the_registered_layouts_through_the_canonical_body(tmp_path: Path) -> None:
    import re

    import posecast
    from posecast.skeletons import to_layout
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=1.0, fps=30.0)  # on cmu-bvh-31, which has its own table onto body-17
    posecast.save(walk, tmp_path / "walk.bvh")
    text = (tmp_path / "walk.bvh").read_text()
    rig = tmp_path / "rig.bvh"
    rig.write_text(re.sub(r"^(\s*(?:ROOT|JOINT)\s+)(\S+)", r"\1mixamorig:\2", text, flags=re.MULTILINE))
    motion = posecast.load(rig)  # the same motion on a rig no table knows
    assert motion.skeleton.joint_names[0] == "mixamorig:Hips"
    via_canonical = to_layout(motion, "body-17").positions
    via_table = to_layout(walk, "body-17").positions
    limbs = [2, 3, 5, 6, 12, 13, 15, 16]  # knees, ankles, elbows, wrists: the same joints in both routes
    np.testing.assert_allclose(via_canonical[:, limbs], via_table[:, limbs], atol=1e-6)
    assert to_layout(motion, "h36m-17").positions.shape == (motion.num_frames, 17, 3)
    with pytest.raises(SkeletonError, match=r"from 'bvh-rig' to 'coco-17': it maps onto the canonical body"):
        to_layout(motion, "coco-17")


def test_a_registered_layout_with_a_body17_table_reaches_the_canonical_body_too():
    """``cmu-bvh-31`` has a table onto ``body-17``, which cannot provide ``smplh-22``; ``to_layout("smplh-22")``
    then takes the automatic mapping (it was refused)."""
    from posecast.motion import Motion

    skel = get("cmu-bvh-31")
    rest = skel.rest_positions()[None].repeat(3, axis=0)
    moved = Motion(rest, 30.0, skel).to_layout(CANONICAL)
    assert moved.skeleton.name == CANONICAL and "automatic" in moved.metadata["layout_mapping"]["route"]
    np.testing.assert_allclose(moved.positions, retarget(skel).to_canonical(rest), atol=1e-12)


def test_legs_on_a_branch_of_a_floor_root_keep_their_hips_as_pelvis():
    """The pelvis moves up to the trunk's first joint when the legs hang off a side branch of it (DAZ Genesis 8: hip
    -> pelvis -> thighs), but not onto a floor-level root that carries both the hips and the spine (it had been put
    0.95 m below the body, on the floor)."""
    rows = []
    for n, p, o in _rows(mixamo()):
        parent = p if p else "root"
        if p is None:
            o = (0, 0.95, 0)
        if n == "mixamorig:Spine":
            parent, o = "root", (0, 1.05, 0)
        rows.append((n, parent, o))
    rt = retarget(build("floorroot", [("root", None, (0, 0, 0)), *rows]))
    assert rt.assignment["pelvis"] == {"mixamorig:Hips": 1.0}


def test_a_rig_whose_left_and_right_are_swapped_is_said_so() -> None:
    """QA: a rig named the wrong way round (every Left joint on the body's right) was forecast without a word, 7-17 cm
    off the rightly named one. Its toes point backwards from the way its hips and shoulders say it faces: a note
    (``toes_forward_cos``; key-pose forecasts record it through the same `body_checks`); the rightly named rig, a rig
    without toes of its own and the three labs' takes (median cosine 0.84-1.00, measured) are not flagged."""
    import dataclasses

    import posecast
    from posecast.motion import Motion
    from posecast.skeletons.canonical import sides_swapped, toes_forward
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=3.0, fps=25.0)
    names = walk.skeleton.joint_names

    def swap(n: str) -> str:
        for a, b in (("Left", "Right"), ("LHip", "RHip"), ("LThumb", "RThumb")):
            if a in n:
                return n.replace(a, b)
            if b in n:
                return n.replace(b, a)
        return n

    mirrored = dataclasses.replace(walk.skeleton, name="mirrored-names", joint_names=tuple(swap(n) for n in names))
    rt_ok, rt_bad = retarget(walk.skeleton), retarget(mirrored)
    assert sides_swapped(rt_ok, walk.positions) is None
    assert toes_forward(rt_ok.to_canonical(walk.positions)) > 0.8
    cos = sides_swapped(rt_bad, walk.positions)
    assert cos is not None and cos < -0.8
    fc = posecast.forecast(Motion(walk.positions, walk.fps, mirrored), model="dct-mlp", seconds=0.4)
    assert fc.metadata["toes_forward_cos"] == pytest.approx(cos, abs=0.01)
    assert "toes_forward_cos" not in posecast.forecast(walk, model="dct-mlp", seconds=0.4).metadata
    from posecast.cli.forecast import body_note

    assert "are left and right swapped" in body_note(fc.metadata)
    # made-up feet (no toe joints) tell nothing: not checked
    keep = [i for i, n in enumerate(names) if "ToeBase" not in n]
    parents = tuple(keep.index(walk.skeleton.parents[i]) if walk.skeleton.parents[i] >= 0 else -1 for i in keep)
    no_toes = posecast.Skeleton("no-toes", tuple(swap(names[i]) for i in keep), parents)
    assert sides_swapped(retarget(no_toes), walk.positions[:, keep]) is None


def test_a_body_of_no_person_size_is_said_so() -> None:
    """QA: a rig written in centimetres and read as metres scaled by 0.01 (a body 0.24 m tall) forecast without a
    word. Its legs and trunk measure outside `PERSON_SIZE_M`: a note (``body_length_m``)."""
    import posecast
    from posecast.cli.forecast import body_note
    from posecast.motion import Motion
    from posecast.skeletons.canonical import PERSON_SIZE_M, leg_and_trunk_length
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=3.0, fps=25.0)
    size = leg_and_trunk_length(retarget(walk.skeleton).to_canonical(walk.positions))
    assert PERSON_SIZE_M[0] < size < PERSON_SIZE_M[1]
    assert "body_length_m" not in posecast.forecast(walk, model="dct-mlp", seconds=0.4).metadata
    small = Motion(0.01 * walk.positions, walk.fps, walk.skeleton.with_offsets(0.01 * walk.skeleton.offsets))
    fc = posecast.forecast(small, model="dct-mlp", seconds=0.4)
    assert fc.metadata["body_length_m"] == pytest.approx(0.01 * size, rel=1e-3)
    assert "give them (--units)" in body_note(fc.metadata)


def test_a_mapping_entry_the_rig_lacks_names_the_mapping_file(tmp_path: Path, cli) -> None:
    """QA: ``left_hip: LeftUpLge`` in map.yaml was reported against the motion file, by the CLI and the API."""
    import posecast
    from posecast.skeletons.canonical import MappingError
    from posecast.synthetic import synthetic_walk

    walk = posecast.save(synthetic_walk(seconds=2.0, fps=25.0), tmp_path / "walk.npz")
    table = write(tmp_path, "map.yaml", "left_hip: LeftUpLge\n")
    with pytest.raises(MappingError, match=r"map\.yaml: .*LeftUpLge: did you mean LeftUpLeg\?"):
        posecast.forecast(walk, mapping=str(table))
    with pytest.raises(MappingError, match=r"map\.yaml: "):
        posecast.forecast(walk, mapping=table, up="y")
    code, _, err = cli("forecast", str(walk), "--mapping", str(table), "--out", str(tmp_path / "f.npz"))
    assert code == 2 and f"{table}: the joint mapping" in err and "did you mean LeftUpLeg?" in err
    assert not (tmp_path / "f.npz").exists()


def test_a_mapping_of_the_required_joints_uses_the_rigs_spine_and_toes() -> None:
    """QA: a rig of joints j0, j1, ... mapped by its 14 required joints drew the spine on the straight pelvis -> head
    line and made the feet up below the ankles, though the rig has spine and toe joints (43 mm off the auto-mapped
    twin at 1 s). The rig's joint between the named pelvis and head nearest SMPL's neck place is its neck, those below
    it its spine, the one joint below a named ankle its foot: the canonical body comes closer to the auto-mapped
    twin's (whose names say which joint is the neck)."""
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    sk = walk.skeleton
    anon = Skeleton("anon", tuple(f"j{i}" for i in range(sk.num_joints)), sk.parents, offsets=sk.offsets)
    auto = retarget(sk)
    required = ("pelvis", "head", *(f"{s}_{j}" for s in ("left", "right") for j in
                                    ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")))  # fmt: skip
    table = {c: f"j{sk.index(one_to_one(auto)[c])}" for c in required}
    r = retarget(anon, table)
    for side in ("left", "right"):
        assert one_to_one(r)[f"{side}_foot"] == f"j{sk.index(one_to_one(auto)[f'{side}_foot'])}"
    assert one_to_one(r)["neck"] in ("j14", "j15") and "neck" not in r.interpolated  # Neck or Neck1, not made up
    gap = np.linalg.norm(r.to_canonical(walk.positions) - auto.to_canonical(walk.positions), axis=-1)
    # metres; with the straight spine and made-up feet: 0.030 mean, 0.146 at worst (measured)
    assert gap.mean() < 0.02 and gap.max() < 0.11


def test_body_bones_are_the_rigs_bones_from_the_pelvis_down():
    """`Retarget.body_bones`: every bone of a rig whose parent is the pelvis or below it; not the bone from a
    floor-level world root to the hips (Bandai's ``joint_Root -> Hips`` is where the body stands, not a bone); none of
    a keypoint layout without rest offsets (COCO hangs the shoulders from the ears)."""
    rows = [("root", None, (0, 0, 0))] + [
        (n, p if p else "root", (0, 0.95, 0) if p is None else o) for n, p, o in _rows(mixamo())
    ]
    skel = build("floorroot", rows)
    bones = retarget(skel).body_bones()
    children = [j for j, p in enumerate(skel.parents) if p >= 0]
    named = {skel.joint_names[j]: bool(b) for j, b in zip(children, bones, strict=True)}
    assert named.pop("mixamorig:Hips") is False
    assert all(named.values()) and len(named) == skel.num_joints - 2
    assert retarget(get("cmu-bvh-31")).body_bones().all()
    assert not retarget(get("coco-17")).body_bones().any()


@pytest.mark.parametrize(
    ("part", "words"),
    [("legs", ("UpLeg", "Leg", "Foot", "ToeBase", "HipJoint")), ("arms", ("Shoulder", "Arm", "ForeArm", "Hand"))],
)
def test_a_rig_with_the_legs_or_the_arms_swapped_is_said_so(part: str, words: tuple[str, ...]) -> None:
    """QA: a mapping that swapped left and right in the legs only forecast without a word (bones changing by 41 cm);
    the toes check cannot see it (hips and shoulders disagree on the facing). The hips and the shoulders face opposite
    ways (``hips_shoulders_cos``, 0.90-1.00 on 63 takes of the three labs) and the toes say which part is swapped."""
    import dataclasses

    import posecast
    from posecast.cli.forecast import body_note
    from posecast.motion import Motion
    from posecast.skeletons.canonical import body_checks
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=3.0, fps=25.0)

    def swap(n: str) -> str:
        side, other = ("Left", "Right") if n.startswith("Left") else ("Right", "Left")
        if n.startswith(side) and n[len(side) :] in words:
            return other + n[len(side) :]
        if n in ("LHipJoint", "RHipJoint") and "HipJoint" in words:
            return {"LHipJoint": "RHipJoint", "RHipJoint": "LHipJoint"}[n]
        return n

    names = tuple(swap(n) for n in walk.skeleton.joint_names)
    assert names != walk.skeleton.joint_names
    partly = dataclasses.replace(walk.skeleton, name=f"{part}-swapped", joint_names=names)
    assert body_checks(retarget(walk.skeleton), walk.positions) == {}
    checks = body_checks(retarget(partly), walk.positions)
    assert checks["hips_shoulders_cos"] < -0.8 and checks["swapped_limbs"] == part
    assert "toes_forward_cos" not in checks
    assert body_checks(retarget(partly), walk.positions[-2:])["swapped_limbs"] == part  # the shortest history too
    fc = posecast.forecast(Motion(walk.positions, walk.fps, partly), model="dct-mlp", seconds=0.4)
    assert fc.metadata["swapped_limbs"] == part
    assert f"swapped in the {part} only" in body_note(fc.metadata)


def test_body_bones_of_a_pelvis_mapped_from_several_joints_hang_from_their_common_ancestor():
    """Review: ``pelvis: {LeftUpLeg: 0.5, RightUpLeg: 0.5}`` had made the left leg alone the body (the heavier,
    first source's subtree), so the spine's and the shoulders' bones were not kept. The body hangs from the sources'
    nearest common ancestor (``Hips``)."""
    walk_skel = get("cmu-bvh-31")
    split = retarget(walk_skel, {"pelvis": {"LeftUpLeg": 0.5, "RightUpLeg": 0.5}}).body_bones()
    np.testing.assert_array_equal(split, retarget(walk_skel).body_bones())
    assert split.all()


def test_a_person_lying_on_their_side_is_not_read_as_swapped():
    """Review: a person fallen onto their side, hips and shoulders a few degrees apart in twist, read as 'legs
    swapped' (their left-right lines stand near vertical, and the little left on the floor points anywhere). Frames
    whose lines are not level are not judged (`LEVEL_SHARE`); upright frames still are."""
    from scipy.spatial.transform import Rotation

    from posecast.skeletons.canonical import body_checks
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=30.0)
    s = walk.skeleton
    upper = {s.index("Spine")}
    for j, q in enumerate(s.parents):
        if q in upper:
            upper.add(j)
    frame = walk.positions[0] - walk.positions[0, s.index("Hips")]
    axis = np.array([0.0, 1.0, 0.0])
    twist = {k: Rotation.from_rotvec(np.radians(a) * axis).as_matrix() for k, a in ((1, 5), (0, -5))}
    lying = np.stack([twist[int(j in upper)] @ frame[j] for j in range(s.num_joints)])
    lying = lying @ Rotation.from_rotvec(np.radians(90) * np.array([0.0, 0.0, 1.0])).as_matrix().T
    lying[:, 1] -= lying[:, 1].min() - 0.05
    fall = np.concatenate([walk.positions[:20], np.repeat(lying[None], 60, axis=0) + walk.positions[19, 0] * [1, 0, 1]])
    assert "hips_shoulders_cos" not in body_checks(retarget(s, {"up": "+y"}), fall)
    assert "hips_shoulders_cos" not in body_checks(retarget(s), fall)


def _walk_turned(degrees: float, axis: tuple[float, float, float], seconds: float = 2.0) -> tuple[Skeleton, np.ndarray]:
    """The synthetic walk's skeleton and its first frame turned by ``degrees`` about ``axis`` through the hips,
    repeated for ``seconds`` at 25 fps, standing on the floor."""
    from scipy.spatial.transform import Rotation

    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    s = walk.skeleton
    frame = walk.positions[0] - walk.positions[0, s.index("Hips")]
    frame = frame @ Rotation.from_rotvec(np.radians(degrees) * np.array(axis)).as_matrix().T
    frame[:, 1] -= frame[:, 1].min() - 0.05
    return s, np.repeat(frame[None], int(25 * seconds), axis=0)


def test_a_person_lying_on_their_front_is_not_read_as_swapped():
    """QA: a person lying face down for the whole history read as 'left and right swapped' (toes cosine -0.84 to
    -0.97): lying prone, the feet point their toes back along the legs. Toes are read only while the trunk stands
    (`STANDING_TRUNK_COS`); a rig whose sides are swapped is still said so when it stands."""
    from posecast.skeletons.canonical import body_checks

    s, prone = _walk_turned(90.0, (1.0, 0.0, 0.0))  # pitched forward onto the front
    for side in ("Left", "Right"):  # the toes pointed back along the shins, as lying people hold them
        knee, ankle, toe = (s.index(side + n) for n in ("Leg", "Foot", "ToeBase"))
        shin = prone[:, ankle] - prone[:, knee]
        prone[:, toe] = prone[:, ankle] + 0.12 * shin / np.linalg.norm(shin, axis=-1, keepdims=True)
    assert prone[0, s.index("Head"), 1] < 0.5 and prone[0, s.index("Head"), 2] > 0.3  # lying, head forward
    table = {"up": "+y"}
    assert body_checks(retarget(s, table), prone) == {}
    swapped = {**table, **{f"{a}_{j}": f"{b}{n}" for a, b in (("left", "Right"), ("right", "Left"))
                           for j, n in (("hip", "UpLeg"), ("knee", "Leg"), ("ankle", "Foot"), ("foot", "ToeBase"),
                                        ("shoulder", "Arm"), ("elbow", "ForeArm"), ("wrist", "Hand"))}}  # fmt: skip
    _, standing = _walk_turned(0.0, (1.0, 0.0, 0.0))
    assert body_checks(retarget(s, swapped), standing)["toes_forward_cos"] < -0.8


def test_a_foot_kicked_up_behind_is_not_read_as_swapped():
    """QA: a child's dash (Bandai Namco) kicks each heel up behind, its toes pointing back, in half the frames: read as
    swapped (-0.46). Only the foot stood on is read (`PLANTED_M`), and not while its toes point down (`FLAT_TOE_SHARE`:
    a hop in mid-air)."""
    from posecast.skeletons.canonical import body_checks, toes_forward
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=2.0, fps=25.0)
    s, pos = walk.skeleton, walk.positions.copy()
    for t in range(len(pos)):  # every frame one foot is up behind, its toes back; every third frame in flight, the
        kick, other = ("Left", "Right") if t % 2 else ("Right", "Left")  # other foot's toes pointing down and back
        knee, ankle, toe = (s.index(kick + n) for n in ("Leg", "Foot", "ToeBase"))
        pos[t, ankle] = pos[t, knee] + [0.0, 0.1, -0.4]  # the shin folded up behind the thigh
        pos[t, toe] = pos[t, ankle] + [0.0, 0.02, -0.15]
        if t % 3 == 0:
            pos[t, s.index(other + "ToeBase")] = pos[t, s.index(other + "Foot")] + [0.0, -0.12, -0.03]
    rt = retarget(s, {"up": "+y"})
    assert toes_forward(rt.to_canonical(pos)) > 0.8
    assert body_checks(rt, pos) == {}


def test_a_rig_swapped_from_a_limb_joint_down_is_said_so(cli, tmp_path: Path) -> None:
    """Left open by the facing checks (they read whole legs or arms): a mapping that swaps left and right from a limb
    joint down — the feet only, the ankles down, the wrists — crosses a bone: as mapped it changes length over the
    history while the bone to the other side's joint holds (``crossed_at``; `crossed_limbs`). On 16 CMU BVH takes x 3
    history lengths such swaps were caught in 42-47 of 48 histories (feet, ankles, knees, wrists, elbows, knees down);
    on 1600 lab histories with up to 4 cm of noise, none rightly mapped was."""
    import posecast
    from posecast.cli.forecast import body_note
    from posecast.motion import Motion
    from posecast.skeletons.canonical import body_checks, crossed_limbs
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=3.0, fps=25.0)
    feet = {"left_foot": "RightToeBase", "right_foot": "LeftToeBase"}
    ankles_down = {**feet, "left_ankle": "RightFoot", "right_ankle": "LeftFoot"}
    assert body_checks(retarget(walk.skeleton, feet), walk.positions)["crossed_at"] == ["foot"]
    assert crossed_limbs(retarget(walk.skeleton, ankles_down), retarget(walk.skeleton, ankles_down).to_canonical(
        walk.positions)) == ["ankle"]  # fmt: skip
    rng = np.random.default_rng(0)
    for noise in (0.0, 0.01, 0.04):  # metres: a tracker's
        assert body_checks(retarget(walk.skeleton), walk.positions + rng.normal(0.0, noise, walk.positions.shape)) == {}
    still = np.repeat(walk.positions[:1], 50, axis=0)  # the limbs not moving: nothing to tell by
    assert "crossed_at" not in body_checks(retarget(walk.skeleton, feet), still)
    fc = posecast.forecast(Motion(walk.positions, walk.fps, walk.skeleton), model="dct-mlp", seconds=0.4, mapping=feet)
    assert fc.metadata["crossed_at"] == ["foot"]
    assert "the bones into the foot change length" in body_note(fc.metadata)


def test_a_body_read_lying_because_its_up_was_not_told_is_said_so() -> None:
    """QA: z-up files of a jump (CMU 02_04: the pelvis travelling up and down along the trunk vetoes the trunk's axis,
    `TRAVEL_VETO_M`) and of a dance with a cartwheel (the trunk's mean direction too short to decide) were read y up
    and forecast as bodies lying on the floor, without a word. When the up axis was not told and the body lies in
    the world as read, a note says so (``trunk_up_cos``); a body standing in its world, or given its up, gets none."""
    import posecast
    from posecast.cli.forecast import body_note
    from posecast.motion import Motion
    from posecast.skeletons.canonical import UP_ROTATIONS
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=3.0, fps=25.0)
    t = np.arange(walk.num_frames) / walk.fps
    jumping = walk.positions - walk.positions[:, :1] * [1.0, 0.0, 1.0]  # in place ...
    jumping = jumping + (0.3 * np.abs(np.sin(np.pi * 2.0 * t)))[:, None, None] * [0.0, 1.0, 0.0]  # ... hopping
    z_up = jumping @ UP_ROTATIONS["+z"]  # y-up -> z-up (the inverse of the rotation that turns +z to +y)
    fc = posecast.forecast(Motion(z_up, walk.fps, walk.skeleton), model="dct-mlp", seconds=0.4)
    assert fc.metadata["up_axis"] == "+y" and fc.metadata["trunk_up_cos"] < 0.2
    assert "which way is up could not be told" in body_note(fc.metadata)
    told = posecast.forecast(Motion(z_up, walk.fps, walk.skeleton), model="dct-mlp", seconds=0.4, up="z")
    assert told.metadata["up_axis"] == "+z" and "trunk_up_cos" not in told.metadata
    standing = posecast.forecast(Motion(jumping, walk.fps, walk.skeleton), model="dct-mlp", seconds=0.4)
    assert "trunk_up_cos" not in standing.metadata
