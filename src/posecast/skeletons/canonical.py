"""The canonical body ``smplh-22`` and the automatic mapping of any skeleton onto it and back.

Learned forecasters work on one body layout, SMPL+H's 22 body joints (`CANONICAL`, registered in
``posecast.skeletons.smpl``). `retarget` finds, for a user's skeleton, how each canonical joint is
made from the user's joints - a `Retarget` holding a ``(22, J)`` affine matrix - and maps forecasts
back onto the user's own joints. Everything is positions (metres); rotations are never needed.

What a skeleton must provide
----------------------------
`REQUIRED` (14): pelvis, hips, knees, ankles, shoulders, elbows, wrists, head.
`INTERPOLATED` (8), made from the others when the skeleton lacks them:

* ``spine1..3``: the trunk joints strictly between the pelvis and the neck. Exactly three: one each;
  more: the three whose arc-length fractions along pelvis -> neck are closest to SMPL's
  (`SPINE_FRACTIONS`); fewer (Bandai: ``Spine``, ``Chest``; CMU BVH: ``Spine``): each is given the
  nearest free fraction (order kept) and the missing ones are interpolated along the polyline
  pelvis -> spine joints -> neck at SMPL's fractions (fixed weights from the rest bone lengths).
* ``neck``: the neck base (CMU ``Neck``, ASF ``lowerneck``, Unreal ``neck_01``); when missing, the
  point of the spine top -> head segment at SMPL's fraction (`NECK_FRACTION`).
* ``left/right_collar``: the clavicle joint - the arm chain joint before the shoulder - when it lies
  off the trunk (Bandai ``Shoulder_L``, Unreal ``clavicle_l``, Mixamo ``LeftShoulder``). A clavicle
  joint sitting on the trunk (CMU BVH ``LeftShoulder`` and H3.6M ``LeftShoulder`` at the neck, ASF
  ``lclavicle``) or none at all: the point of spine3 -> shoulder at SMPL's fraction (`COLLAR_FRACTION`).
* ``left/right_foot`` (the toe base): the joint after the ankle; rigs without one (H3.6M's 17 joints,
  CMU's "daz-friendly" BVH without End Sites) get a point below the ankle on the knee -> ankle line
  (`FOOT_DROP`): the forecast's foot is then never used on the source skeleton, and the input stays
  on the layout the models know.

How joints are found
--------------------
Names: namespaces and rig prefixes are dropped (``mixamorig:``, ``Armature|``, ``Bip01 ``,
``Character1_``, ``DEF-``); names split into words at separators and camel case; a side is a word
``left``/``l``/``right``/``r`` (``LeftArm``, ``L_Hip``, ``thigh_l``, ``UpperArm.L``, ``LHipJoint``,
``lShldr``) or a lower-case ``l``/``r`` glued to a body word (``lfemur``, ``rhumerus``). Joints below
a sided joint inherit its side. Twist/roll/IK/helper bones (``upperarm_twist_01_l``, ``ik_foot_l``) are ignored;
one inside a limb chain (DAZ Genesis 8's ``lShldrBend -> lShldrTwist -> lForearmBend``, HumanIK's ``...Roll``) is
passed through: its children stay in the chain, it is never a hip, knee, shoulder or elbow, and it follows the joint
above it (the bone it lies on).

Topology: a *limb pair* is a left and a right child of one unsided joint (matched by their side-free names).
The legs are the pair with leg words (leg, thigh, femur, foot, toe, ...), the arms the pair with arm words;
without such words, the legs are the pair nearest the root and the arms the other one. The **pelvis** is the
joint where the legs branch (so Bandai's ``joint_Root`` and Unreal's ``root`` above it are not; when the legs
hang from a side branch of the joint the trunk leaves from, as Genesis 8's ``hip -> pelvis -> lThighBend``
beside ``hip -> abdomenLower``, it is that joint), the trunk runs from it to the joint where the arms branch,
and on to the head through that joint's unsided child. Each limb's chain follows the child with the longest
reach; joints at the rest position of the joint before them or of a trunk joint (zero-length bones: CMU
``LHipJoint``, ASF ``lhipjoint``, End Sites) are dropped. On the remaining chain the ankle/wrist is the first
joint named foot/ankle or hand/wrist (else the end of the two longest consecutive bones), the two joints
before it are hip, knee / shoulder, elbow, the joint after the ankle is the foot, and a joint before the
shoulder is the clavicle. So ``Shoulder_L`` (Bandai: a clavicle) and H3.6M's ``LShoulder`` (a shoulder) are
told apart by chain position, not by name. The head is the first ``head`` on the neck chain that is not an end
site (``HeadTop_End``, ``Head_end``); the neck the lowest joint named ``neck`` on the trunk (else the first
joint above the arm branch).

Back to the user's skeleton (`Retarget.from_canonical`)
-------------------------------------------------------
A source joint that is the only source of a canonical joint takes its forecast position. Unmapped
joints above the pelvis and more than `DETACHED_M` from it at rest (Bandai's ``joint_Root``, Unreal's ``root``:
a world root, not a body part; Bandai's sits at the origin in every frame, metres from the actor, and turning it
with the pelvis would swing it by metres) stay where they were in the last observed frame; so does one above
the pelvis and near it at rest (a root bone at the origin, the pelvis translating under it) that did not move
while the pelvis was more than `DETACHED_M` from it (a root bone that moves with the body, root motion,
follows it). One near the pelvis at rest and in the observed frame (a Reference or COM bone a few centimetres
above or below the hips, moving with them) is a part of the body and follows it as below. Every other one
(fingers, toe and head ends, zero-length helpers, twist bones, unused spine joints) follows its
*anchor* - the 1:1 joint at the same rest point, else the nearest along the tree; for face points (nose, eyes,
ears, mouth: `_FACE_WORDS`) the head - rigidly: its
offset from the anchor in the last observed frame is turned by the rotation of the anchor's frame
between that frame and each forecast frame. The frame's first axis points to the canonical joint
distal to the anchor (its parent for the head, wrists and feet), the second is the 1/hops²-weighted
sum of the other canonical joints within 3 hops, made perpendicular. A rigid motion of the whole
forecast therefore moves every source joint (but a world root) by exactly that motion.

Explicit mappings (``{canonical joint: source joint | {source joint: weight}}``, a dict or a YAML /
JSON file, `load_mapping_file`) override what is found; entries left out are filled automatically.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import PosecastError, SkeletonError, listed
from posecast.skeletons.base import Skeleton, get
from posecast.skeletons.smpl import SMPL_MEAN_OFFSETS_M, SMPL_NAMES, SMPL_PARENTS, SMPLH_BODY_JOINTS

CANONICAL = "smplh-22"
NAMES: tuple[str, ...] = SMPL_NAMES[:SMPLH_BODY_JOINTS]
PARENTS: tuple[int, ...] = SMPL_PARENTS[:SMPLH_BODY_JOINTS]
_SIDES = ("left", "right")
_LIMB = ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")
REQUIRED: tuple[str, ...] = ("pelvis", *(f"{s}_{j}" for j in _LIMB for s in _SIDES), "head")
INTERPOLATED: tuple[str, ...] = (
    "spine1", "spine2", "spine3", "neck", "left_collar", "right_collar", "left_foot", "right_foot",
)  # fmt: skip
_IDX = {n: i for i, n in enumerate(NAMES)}


def _smpl_constants() -> tuple[np.ndarray, float, float, float, float]:
    off = SMPL_MEAN_OFFSETS_M[:SMPLH_BODY_JOINTS]
    bone = dict(zip(NAMES, np.linalg.norm(off, axis=1), strict=True))
    trunk = np.cumsum([bone[n] for n in ("spine1", "spine2", "spine3", "neck", "head")])
    collar = np.mean([bone[f"{s}_collar"] / (bone[f"{s}_collar"] + bone[f"{s}_shoulder"]) for s in _SIDES])
    foot = np.mean([-off[_IDX[f"{s}_foot"], 1] / bone[f"{s}_ankle"] for s in _SIDES])
    neck = bone["neck"] / (bone["neck"] + bone["head"])
    return trunk[:3] / trunk[3], float(collar), float(neck), float(foot), float(trunk[3] / trunk[4])


SPINE_FRACTIONS, COLLAR_FRACTION, NECK_FRACTION, FOOT_DROP, _NECK_SHARE = _smpl_constants()
"""SMPL's spine1-3 at arc fractions (0.24, 0.50, 0.60) of pelvis -> neck; each collar at 0.52 of
spine3 -> shoulder (mean of both sides, so the mapping stays mirror-symmetric); the neck at 0.68 of
spine3 -> head; the foot 0.14 shin lengths below the ankle (its drop in SMPL's rest pose); the neck
at 0.84 of pelvis -> head."""

# Frames for following: the canonical joint each anchor's first axis points to.
_DISTAL = {"pelvis": "spine1", "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head"}
for _s in _SIDES:
    for _a, _b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"), ("collar", "shoulder")):
        _DISTAL[f"{_s}_{_a}"] = f"{_s}_{_b}"
    _DISTAL[f"{_s}_shoulder"], _DISTAL[f"{_s}_elbow"] = f"{_s}_elbow", f"{_s}_wrist"

# ------------------------------------------------------------------------------------------ names
_PREFIX = re.compile(r"^(?:bip\d*|biped\d*|character\d*|mixamorig\d*|armature|def|org|rig|skel)[ _.\-]+", re.I)
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_BODY = ("femur", "tibia", "foot", "toe", "hip", "clav", "humerus", "radius", "wrist", "hand", "finger",
         "thumb", "shoulder", "shldr", "arm", "leg", "knee", "ankle", "elbow", "collar", "thigh", "shin",
         "upleg", "uparm", "forearm", "eye", "index", "pinky", "ring", "middle", "calf", "ball")  # fmt: skip
_LEG_WORDS = ("leg", "thigh", "femur", "knee", "calf", "shin", "tibia", "foot", "ankle", "toe", "hip", "ball")
_ARM_WORDS = ("arm", "shoulder", "shldr", "clav", "collar", "elbow", "hand", "wrist", "humerus", "radius", "finger")
_TRUNK_WORDS = ("pelvis", "hips", "spine", "abdomen", "chest", "neck", "head")
_END = {"end", "site", "nub", "top", "tip", "endsite"}
_HELPER = ("twist", "roll", "corrective", "helper", "ctrl", "socket", "weapon", "attach")


#: MikuMikuDance's Japanese bone names, as words the mapping knows (`_clean`; longest first, so 足首 is an ankle
#: before 足 is a leg and 手首 a wrist before 首 is a neck). 肩 is MMD's clavicle, 腕 the upper arm
_MMD_WORDS = {
    "上半身2": "chest", "上半身": "spine", "下半身": "lower body", "センター": "center", "グルーブ": "groove",
    "腰": "waist", "手首": "wrist", "足首": "ankle", "首": "neck", "頭": "head", "両目": "eyes", "目": "eye",
    "肩": "clavicle", "腕捩": "arm twist", "手捩": "hand twist", "捩": "twist", "腕": "arm", "ひじ": "elbow",
    "肘": "elbow", "ひざ": "knee", "膝": "knee", "つま先": "toe", "足": "leg", "親指": "thumb", "人指": "index",
    "中指": "middle", "薬指": "ring", "小指": "pinky", "ＩＫ": "ik", "ダミー": "dummy", "先": "end", "左": "left",
    "右": "right",
}  # fmt: skip
_MMD_ORDER = sorted(_MMD_WORDS, key=len, reverse=True)
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def _clean(name: str) -> str:
    if not name.isascii():  # MikuMikuDance's names, as words
        for jp in _MMD_ORDER:
            name = name.replace(jp, f" {_MMD_WORDS[jp]} ")
        name = "_".join(name.translate(_FULL_WIDTH).split())
    name = re.split(r"[:|]", name)[-1]
    while (stripped := _PREFIX.sub("", name)) != name and stripped:
        name = stripped
    return name


_VERTEBRA = re.compile(r"^j?(?:[CTLS]\d{1,2})+(?:head)?$", re.I)
"""Vertebra labels, one word each: Xsens MVN's segments ``L5``, ``L3``, ``T12``, ``T8`` and joints ``jL5S1``,
``jT9T8``, ``jC1Head`` (``L5`` is the fifth lumbar vertebra, not a left-side joint number 5)."""


def _words(name: str) -> list[str]:
    """Lower-case words of a cleaned name; a glued side letter (``lfemur``) becomes its own word."""
    if _VERTEBRA.match(_clean(name)):
        return [_clean(name).lower()]
    out = []
    for w in _WORDS.findall(_clean(name)):
        lw = w.lower()
        side = next((p for p in ("left", "right", "l", "r") if lw.startswith(p) and lw[len(p) :].startswith(_BODY)), "")
        out += [side, lw[len(side) :]] if side else [lw]
    return out


def _side(words: list[str]) -> str | None:
    left = any(w in ("l", "left") for w in words)
    right = any(w in ("r", "right") for w in words)
    return "left" if left and not right else "right" if right and not left else None


def _key(words: list[str]) -> str:
    return " ".join(w for w in words if w not in ("l", "left", "r", "right"))


def _has(name: str, words: tuple[str, ...]) -> int:
    low = _clean(name).lower()
    return sum(w in low for w in words)


# --------------------------------------------------------------------------------------- analysis
class _Tree:
    """Name and rest-geometry facts about a skeleton used by the detection."""

    def __init__(self, skel: Skeleton) -> None:
        self.skel, n = skel, skel.num_joints
        self.parents = skel.parents
        self.words = [_words(x) for x in skel.joint_names]
        self.end = [bool(_END & set(w)) for w in self.words]
        self.helper = [any(h in "".join(w) for h in _HELPER) or "ik" in w for w in self.words]
        own = [_side(w) for w in self.words]
        self.side = list(own)
        for j in range(1, n):  # inherit down the tree
            if self.side[j] is None:
                self.side[j] = self.side[self.parents[j]]
        self.own_side = own
        if skel.offsets is not None:
            self.length = np.linalg.norm(skel.offsets, axis=1)
            self.length[0] = 0.0
            self.rest = skel.rest_positions()
            nonzero = self.length[self.length > 0]
            self.eps = max(1e-9, 0.02 * float(np.median(nonzero))) if nonzero.size else 1e-9
        else:  # keypoint layouts: every bone counts as one unit, nothing coincides
            self.length = np.ones(n)
            self.length[0] = 0.0
            self.rest = np.zeros((n, 3)) + np.arange(n)[:, None] * 1e3
            self.eps = 1e-9
        self.depth = np.zeros(n, dtype=int)
        self.cum = np.zeros(n)
        for j in range(1, n):
            self.depth[j] = self.depth[self.parents[j]] + 1
            self.cum[j] = self.cum[self.parents[j]] + self.length[j]
        # a helper with a body joint below it sits inside a chain (DAZ Genesis 8's lShldrTwist between lShldrBend
        # and lForearmBend): it is passed through (kept as a child, left out of the chains); helper leaves and
        # helper-only branches (twist leaves, IK targets) are ignored
        body_below = [False] * n
        for j in range(n - 1, 0, -1):
            if not self.helper[j] or body_below[j]:
                body_below[self.parents[j]] = True
        self.inline = [self.helper[j] and body_below[j] for j in range(n)]
        self.children: list[list[int]] = [[] for _ in range(n)]
        for j in range(1, n):
            if not self.helper[j] or self.inline[j]:
                self.children[self.parents[j]].append(j)
        self.up = [[j] for j in range(n)]
        for j in range(1, n):
            self.up[j] += self.up[self.parents[j]]
        self.upset = [set(u) for u in self.up]
        self.near = np.linalg.norm(self.rest[:, None] - self.rest[None], axis=-1) < self.eps
        self.reach = np.zeros(n)  # longest arc below each joint (plus a hair per hop)
        for j in range(n - 1, -1, -1):
            self.reach[j] = max((self.length[c] + 1e-6 + self.reach[c] for c in self.children[j]), default=0.0)

    def same_point(self, a: int, b: int) -> bool:
        return bool(self.near[a, b])

    def path_to_root(self, j: int) -> list[int]:
        return self.up[j]

    def lca(self, a: int, b: int) -> int:
        return next(x for x in self.up[a] if x in self.upset[b])

    def path(self, a: int, b: int) -> list[int]:
        """Joints from ``a`` to ``b`` along the tree, both included."""
        c = self.lca(a, b)
        return self.up[a][: self.up[a].index(c) + 1] + self.up[b][: self.up[b].index(c)][::-1]

    def arc(self, a: int, b: int) -> float:
        return float(self.cum[a] + self.cum[b] - 2 * self.cum[self.lca(a, b)])

    def hops(self, a: int, b: int) -> int:
        return int(self.depth[a] + self.depth[b] - 2 * self.depth[self.lca(a, b)])

    def main_path(self, start: int) -> list[int]:
        out = [start]
        while self.children[out[-1]]:
            out.append(max(self.children[out[-1]], key=lambda c: self.length[c] + 1e-6 + self.reach[c]))
        return out


def _limb_pairs(t: _Tree) -> list[tuple[int, int, int]]:
    """``(branch joint, left child, right child)`` for every unsided joint with a matched sided pair."""
    out = []
    for u in range(t.skel.num_joints):
        if t.side[u] is not None:
            continue
        lefts = [c for c in t.children[u] if t.own_side[c] == "left"]
        rights = [c for c in t.children[u] if t.own_side[c] == "right"]
        for c in lefts:
            twins = [r for r in rights if _key(t.words[r]) == _key(t.words[c])]
            if not twins and len(lefts) == len(rights) == 1:
                twins = rights
            if twins:
                out.append((u, c, twins[0]))
    return out


def _chain(t: _Tree, start: int, trunk: set[int]) -> list[int]:
    """The main path from ``start`` without joints at the rest point of the joint before or of the trunk, and
    without helpers inside it (a twist joint between hip and knee is passed through, not a knee)."""
    out: list[int] = []
    for j in t.main_path(start):
        if t.helper[j]:
            continue
        if out and t.same_point(j, out[-1]):
            continue
        if not out and any(t.same_point(j, k) for k in trunk):
            continue
        out.append(j)
    return out


def _pick_end(t: _Tree, chain: list[int], words: tuple[str, ...], max_start: int | None) -> int | None:
    """Index in ``chain`` of the ankle/wrist: first joint named after ``words``, else the end of the
    two longest consecutive bones (their start at most ``max_start``)."""
    for i, j in enumerate(chain):
        if i >= 2 and not t.end[j] and _has(t.skel.joint_names[j], words):
            return i
    if len(chain) < 3:
        return None
    starts = range(0, (len(chain) - 2) if max_start is None else min(len(chain) - 2, max_start + 1))
    best = max(starts, key=lambda s: t.arc(chain[s], chain[s + 1]) + t.arc(chain[s + 1], chain[s + 2]))
    return best + 2


def _detect(t: _Tree) -> dict[str, Any]:
    """Canonical joint -> source joint index for what the names and topology give (may be partial),
    plus the trunk candidates for spine1-3 with their arc fractions."""
    found: dict[str, int] = {}
    unsided = {j for j in range(t.skel.num_joints) if t.side[j] is None}
    pairs = [p for p in _limb_pairs(t) if min(len(_chain(t, p[1], unsided)), len(_chain(t, p[2], unsided))) >= 3]

    def score(p: tuple[int, int, int], good: tuple[str, ...], bad: tuple[str, ...]) -> int:
        names = [t.skel.joint_names[j] for c in p[1:] for j in _chain(t, c, unsided)]
        return sum(_has(n, good) - _has(n, bad) for n in names)

    legs = max(pairs, key=lambda p: (score(p, _LEG_WORDS, _ARM_WORDS), -t.depth[p[0]]), default=None)
    rest = [p for p in pairs if p is not legs and (legs is None or p[0] not in _chain(t, legs[1], unsided))]
    arms = max(rest, key=lambda p: (score(p, _ARM_WORDS, _LEG_WORDS), t.reach[p[1]]), default=None)
    if legs is not None:  # the branch joint, or a joint named pelvis/hips just above it (3ds Max Biped)
        base = legs[0]
        up = int(t.parents[base])
        if (
            arms is not None
            and up >= 0
            and t.lca(base, arms[0]) == up
            and np.linalg.norm(t.rest[up] - t.rest[base]) <= DETACHED_M  # not a floor root carrying hips and spine
        ):
            base = up  # legs on a side branch of the trunk's first joint (DAZ Genesis 8: hip -> pelvis)
        named = [j for j in t.path_to_root(base)[:3] if {"pelvis", "hips"} & set(t.words[j])]
        found["pelvis"] = named[0] if named else base
        for side, start in zip(_SIDES, legs[1:], strict=True):
            chain = _chain(t, start, unsided)
            a = _pick_end(t, chain, ("foot", "ankle"), None)
            if a is not None:
                for k, joint in enumerate(("hip", "knee", "ankle", "foot")[: 3 + (a + 1 < len(chain))]):
                    found[f"{side}_{joint}"] = chain[a - 2 + k]
    if arms is not None:
        for side, start in zip(_SIDES, arms[1:], strict=True):
            chain = _chain(t, start, unsided)
            w = _pick_end(t, chain, ("hand", "wrist"), 1)
            if w is not None:
                for k, joint in enumerate(("collar", "shoulder", "elbow", "wrist")[3 - min(w, 3) :]):
                    found[f"{side}_{joint}"] = chain[w - min(w, 3) + k]
    # trunk: pelvis -> arm branch -> its unsided child's main path (neck, head)
    heads = [j for j in unsided if "head" in _clean(t.skel.joint_names[j]).lower() and not t.end[j]]
    top = arms[0] if arms is not None else (t.parents[min(heads)] if heads else -1)
    spine: list[tuple[int, float]] = []
    if "pelvis" not in found or top < 0:
        return {"found": found, "spine": spine}
    trunk = t.path(found["pelvis"], top)
    ups = [c for c in t.children[top] if t.side[c] is None and c not in trunk]
    if ups:
        trunk += t.main_path(max(ups, key=lambda c: (any(c in t.path_to_root(h) for h in heads), t.reach[c])))
    top_i = trunk.index(top)
    head_at = next((i for i, j in enumerate(trunk) if j in heads), None)
    if head_at is None:
        ends = [i for i, j in enumerate(trunk) if i > top_i and not t.end[j]]
        head_at = ends[-1] if ends else None
    if head_at is None or head_at == 0:
        return {"found": found, "spine": spine}
    found["head"] = trunk[head_at]
    necks = [i for i in range(1, head_at) if "neck" in _clean(t.skel.joint_names[trunk[i]]).lower()]
    neck_at = necks[0] if necks else (top_i + 1 if top_i + 1 < head_at else None)
    end = trunk[neck_at if neck_at is not None else head_at]
    if neck_at is not None:
        found["neck"] = end
    kept: list[int] = []
    for j in trunk[1 : neck_at if neck_at is not None else head_at]:
        if t.helper[j] or t.same_point(j, found["pelvis"]) or t.same_point(j, end):
            continue
        if kept and t.same_point(j, kept[-1]):
            continue
        kept.append(j)
    total = t.arc(found["pelvis"], end)
    spine = [(j, t.arc(found["pelvis"], j) / total) for j in kept] if total > 0 else []
    return {"found": found, "spine": spine}


# ------------------------------------------------------------------------------------ composition
Row = dict[int, float]


def _mix(a: Row, b: Row, s: float) -> Row:
    out: Row = {}
    for row, w in ((a, 1.0 - s), (b, s)):
        for j, v in row.items():
            out[j] = out.get(j, 0.0) + w * v
    return {j: v for j, v in out.items() if abs(v) > 1e-12}


def _dist(t: _Tree, a: Row, b: Row) -> float:
    if len(a) == 1 and len(b) == 1:
        return t.arc(next(iter(a)), next(iter(b)))
    pa = sum(w * t.rest[j] for j, w in a.items())
    pb = sum(w * t.rest[j] for j, w in b.items())
    return float(np.linalg.norm(pa - pb))


def _along(t: _Tree, nodes: list[Row], target: float) -> Row:
    """The point at arc fraction ``target`` of the polyline through ``nodes``."""
    cum = np.concatenate([[0.0], np.cumsum([_dist(t, a, b) for a, b in zip(nodes, nodes[1:], strict=False)])])
    if cum[-1] <= 0:
        return _mix(nodes[0], nodes[-1], target)
    x = float(np.clip(target, 0.0, 1.0)) * cum[-1]
    k = int(np.clip(np.searchsorted(cum, x, side="right") - 1, 0, len(nodes) - 2))
    seg = cum[k + 1] - cum[k]
    return _mix(nodes[k], nodes[k + 1], (x - cum[k]) / seg if seg > 0 else 0.0)


def _assign_spine(cands: list[tuple[int, float]], targets: list[float]) -> dict[int, int]:
    """Slot (0-2) -> candidate index: order kept, sum of |fraction - target fraction| minimal."""
    k = len(cands)
    if k == 0:
        return {}
    if k <= 3:
        options = [dict(zip(slots, range(k), strict=True)) for slots in itertools.combinations(range(3), k)]
    else:
        options = [dict(zip(range(3), chosen, strict=True)) for chosen in itertools.combinations(range(k), 3)]
    return min(options, key=lambda o: sum(abs(cands[c][1] - targets[s]) for s, c in o.items()))


def _chain_between(t: _Tree, low: Row, high: Row) -> list[tuple[int, float]]:
    """The rig's joints strictly between the single joints ``low`` and ``high`` (``high`` below ``low`` in the tree)
    with their arc fractions, as `_detect` lists the spine (helpers and joints at either end's point left out);
    empty otherwise. Why: a mapping that names only the pelvis and the head of a rig the names do not explain (joints
    j0, j1, ...) drew the spine on the straight line between them though the rig has joints there (QA: 43 mm off
    the auto-mapped twin at 1 s; 7 mm with them)."""
    if len(low) != 1 or len(high) != 1:
        return []
    a, b = next(iter(low)), next(iter(high))
    if a == b or a not in t.upset[b]:
        return []
    path = t.up[b][1 : t.up[b].index(a)][::-1]  # below a, above b, top-down
    kept: list[int] = []
    for j in path:
        if t.helper[j] or t.same_point(j, a) or t.same_point(j, b) or (kept and t.same_point(j, kept[-1])):
            continue
        kept.append(j)
    total = t.arc(a, b)
    return [(j, t.arc(a, j) / total) for j in kept] if total > 0 else []


def _only_child(t: _Tree, row: Row) -> int | None:
    """The one body joint below a single-joint ``row`` (not a helper, not at its point): the toe of an ankle the
    mapping names (QA: feet were made up below such ankles though the rig had toes). None when there is not exactly
    one."""
    if len(row) != 1:
        return None
    kids = [c for c in t.children[next(iter(row))] if not t.helper[c] and not t.same_point(c, next(iter(row)))]
    return kids[0] if len(kids) == 1 else None


def _compose(t: _Tree, det: dict[str, Any], explicit: dict[str, Row]) -> tuple[dict[str, Row], set[str]]:
    """Rows of every canonical joint that can be made, and the names of those interpolated."""
    rows: dict[str, Row] = {c: {j: 1.0} for c, j in det["found"].items()}
    rows.update(explicit)
    made: set[str] = set()
    if "pelvis" in rows and "head" in rows and "neck" not in rows and "pelvis" in explicit and "head" in explicit:
        # a mapping that names the pelvis and the head but no neck, of a rig whose names gave none: the rig's joint
        # between them nearest SMPL's neck place is its neck (then its spine joints are looked for below it)
        between = _chain_between(t, rows["pelvis"], rows["head"])
        if between:
            j, f = min(between, key=lambda c: abs(c[1] - _NECK_SHARE))
            if abs(f - _NECK_SHARE) < 0.1:
                rows["neck"] = {j: 1.0}
    if "pelvis" in rows and "head" in rows:
        has_neck = "neck" in rows
        end = rows["neck"] if has_neck else rows["head"]
        # SMPL's fractions of pelvis -> neck, or of pelvis -> head when the polyline ends at the head
        targets = [float(f) * (1.0 if has_neck else _NECK_SHARE) for f in SPINE_FRACTIONS]
        slots = ("spine1", "spine2", "spine3")
        moved = [c for c in ("pelvis", "neck" if has_neck else "head") if rows[c] != {det["found"].get(c): 1.0}]
        if moved or any(s in explicit for s in slots):  # the detected spine joints are not to be trusted
            given = {i: explicit[s] for i, s in enumerate(slots) if s in explicit}
            if not given:  # the rig's own joints between the pelvis and the neck (or head) the mapping names, if any
                between = _chain_between(t, rows["pelvis"], end)
                given = {s: {between[c][0]: 1.0} for s, c in _assign_spine(between, targets).items()}
        else:
            given = {s: {det["spine"][c][0]: 1.0} for s, c in _assign_spine(det["spine"], targets).items()}
        order = sorted(given)
        nodes = [rows["pelvis"], *[given[i] for i in order], end]
        total = _dist(t, rows["pelvis"], end)
        node_f = [_dist(t, rows["pelvis"], given[i]) / total if total > 0 else 0.0 for i in order]
        for i, slot in enumerate(slots):
            if i in given:
                rows[slot] = given[i]
                continue
            lo = max([f for g, f in zip(order, node_f, strict=True) if g < i], default=0.0)
            hi = min([f for g, f in zip(order, node_f, strict=True) if g > i], default=1.0)
            rows[slot] = _along(t, nodes, min(max(targets[i], lo), hi))
            made.add(slot)
        if not has_neck:
            rows["neck"] = _along(t, [rows["spine3"], rows["head"]], NECK_FRACTION)
            made.add("neck")
    for side in _SIDES:
        foot, ankle, knee = f"{side}_foot", f"{side}_ankle", f"{side}_knee"
        toe = _only_child(t, explicit[ankle]) if foot not in rows and ankle in explicit else None
        if toe is not None:  # an ankle the mapping names, with one joint of the rig below it: the rig's own foot
            rows[foot] = {toe: 1.0}
        if foot not in rows and ankle in rows and knee in rows:
            rows[foot] = _mix(rows[knee], rows[ankle], 1.0 + FOOT_DROP)
            made.add(foot)
        collar = f"{side}_collar"
        if collar not in rows and "spine3" in rows and f"{side}_shoulder" in rows:
            rows[collar] = _along(t, [rows["spine3"], rows[f"{side}_shoulder"]], COLLAR_FRACTION)
            made.add(collar)
    return rows, made


# ------------------------------------------------------------------------------------ following
def _ancestors(j: int) -> list[int]:
    return [j, *_ancestors(PARENTS[j])] if j >= 0 else []


_HOPS = np.array([[min(ua.index(x) + ub.index(x) for x in ua if x in ub) for ub in map(_ancestors, range(len(NAMES)))]
                  for ua in map(_ancestors, range(len(NAMES)))])  # fmt: skip
"""``(22, 22)`` tree distances between canonical joints."""


@dataclass(frozen=True)
class _Plan:
    """Index arrays precomputed for `Retarget` (K anchors, N following source joints)."""

    m64: np.ndarray  # (22, J) float64
    k64: np.ndarray  # (3J, 66) = kron(matrix.T, I3): flat (..., 3J) positions -> flat canonical (..., 66)
    k32: np.ndarray  # the same in float32
    world: np.ndarray  # (W,) unmapped joints above the pelvis (Bandai's joint_Root, Unreal's root)
    fol_src: np.ndarray  # (N,) every other source joint that is not the only source of a canonical joint
    fol_can: np.ndarray  # (N,) its anchor (canonical index)
    fol_k: np.ndarray  # (N,) its anchor's index among the K anchors
    fol_above: np.ndarray  # (A,) positions in fol_src of the followers above the pelvis (near it at rest)
    fol_loose: np.ndarray  # (L,) positions in fol_src of followers on no body joint's branch (Unreal's ik_* bones)
    axes: np.ndarray  # (66, 6K) flat canonical -> (2, 3, K): per anchor the first-axis vector, and the
    #                   weighted sum of the other neighbours' vectors (1/hops**2 within 3 hops)
    axes32: np.ndarray
    gather: np.ndarray  # (J,) index of each source joint in [canonical (22), followers (N), world (W)]


def _frames(flat: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Anchor frames ``(..., 3, 3, K)`` (axis ``e1, e2, e3``, then x/y/z) from flat canonical positions
    ``(..., 66)``: ``e1`` along the first-axis vector, ``e2`` the other neighbours' sum made perpendicular.
    Components come first and anchors last so that every operation runs on whole rows of K values."""
    v = (flat @ axes).reshape(flat.shape[:-1] + (2, 3, -1))
    d1, s = v[..., 0, :, :], v[..., 1, :, :]
    out = np.empty(d1.shape[:-2] + (3,) + d1.shape[-2:], dtype=v.dtype)
    e1, e2, e3 = out[..., 0, :, :], out[..., 1, :, :], out[..., 2, :, :]
    np.divide(d1, np.sqrt((d1 * d1).sum(-2, keepdims=True)) + 1e-30, out=e1)
    s = s - (s * e1).sum(-2, keepdims=True) * e1
    norm = np.sqrt((s * s).sum(-2, keepdims=True))
    if norm.min() <= 1e-9:  # all neighbours on the first axis: any perpendicular, the axis still follows
        alt = np.zeros_like(s)
        alt[..., 0, :], alt[..., 1, :] = np.abs(e1[..., 0, :]) < 0.9, np.abs(e1[..., 0, :]) >= 0.9
        alt -= (alt * e1).sum(-2, keepdims=True) * e1
        ok = norm > 1e-9
        s, norm = np.where(ok, s, alt), np.where(ok, norm, np.sqrt((alt * alt).sum(-2, keepdims=True)))
    np.divide(s, norm, out=e2)
    np.multiply(e1[..., _ROLL1, :], e2[..., _ROLL2, :], out=e3)
    e3 -= e1[..., _ROLL2, :] * e2[..., _ROLL1, :]
    return out


_ROLL1, _ROLL2 = np.array([1, 2, 0]), np.array([2, 0, 1])

#: metres: a joint above the pelvis further than this from it at rest is a world root (`Retarget.static`); one
#: nearer (at the pelvis' rest point, or a Reference bone just under the hips) but this far from it in the last
#: observed frame does not move with the body (`Retarget.from_canonical` keeps it where it was observed)
DETACHED_M = 0.25
#: metres: ... and moved less than this over the observed history (`history_travel`: a tracker's jitter of 1 cm
#: stays below it; a world root carrying root motion travels with the body, metres)
STILL_M = 0.05


#: frames whose median is where a joint is "now" for `history_travel` (one noisy frame would be)
TRAVEL_NOW_FRAMES = 5
#: percentile of the distances from there over the frames read: how far a joint travelled (the largest would be
#: a tracker's noise: a world root jittering by 5 mm was taken for one that moves and sent 1.3 m off)
TRAVEL_PERCENTILE = 90.0


def history_travel(history: np.ndarray, window: int | None = None) -> np.ndarray:
    """``(..., T, J, 3)`` observed positions → ``(..., J)``: how far each joint travelled over the newest ``window``
    frames (None: all), the ``travel`` of `Retarget.from_canonical` (metres): the `TRAVEL_PERCENTILE` th percentile
    over those frames of its distance from where it is now (its median over the last `TRAVEL_NOW_FRAMES` frames),
    so that tracker jitter does not read as travel, nor a move long before the frames a model reads."""
    h = np.asarray(history, dtype=np.float64)
    if window is not None:
        h = h[..., -max(1, int(window)) :, :, :]
    now = np.median(h[..., -TRAVEL_NOW_FRAMES:, :, :], axis=-3)
    return np.percentile(np.linalg.norm(h - now[..., None, :, :], axis=-1), TRAVEL_PERCENTILE, axis=-2)


def _along_floor(can: np.ndarray, obs_c: np.ndarray, joints: np.ndarray, up: Any = None) -> np.ndarray:
    """Source joints that keep to the floor under a moving body (root bones carrying root motion).

    Args:
        can: ``(..., F, 22, 3)`` canonical forecast; obs_c: ``(..., 22, 3)`` the last observed frame on the canonical
            body; joints: ``(..., A, 3)`` the joints' observed positions; up: ``(..., 3)`` unit up vectors
            (None: +y).

    Returns:
        ``(..., F, A, 3)``: each joint at its observed height, its horizontal offset from the pelvis turned about
        ``up`` as the hips' heading turns and carried with the pelvis' horizontal motion.
    """
    u = np.broadcast_to(
        np.array([0.0, 1.0, 0.0]) if up is None else np.asarray(up, dtype=np.float64), obs_c.shape[:-2] + (3,)
    )
    pel, lh, rh = _IDX["pelvis"], _IDX["left_hip"], _IDX["right_hip"]

    def flat(v: np.ndarray, uu: np.ndarray) -> np.ndarray:  # the component of v across the up axis
        return v - (v * uu).sum(-1, keepdims=True) * uu

    uf = u[..., None, :]  # (..., 1, 3) against frames
    a = flat(obs_c[..., lh, :] - obs_c[..., rh, :], u)[..., None, :]  # (..., 1, 3) observed heading
    b = flat(can[..., lh, :] - can[..., rh, :], uf)  # (..., F, 3)
    angle = np.arctan2((uf * np.cross(a, b)).sum(-1), (a * b).sum(-1))[..., None, None]  # (..., F, 1, 1)
    ua = u[..., None, None, :]  # (..., 1, 1, 3)
    offset = flat(joints - obs_c[..., None, pel, :], u[..., None, :])[..., None, :, :]  # (..., 1, A, 3) horizontal
    turned = offset * np.cos(angle) + np.cross(ua, offset) * np.sin(angle)  # Rodrigues; offset is across u
    height = (joints * u[..., None, :]).sum(-1)[..., None, :, None] * ua  # (..., 1, A, 3)
    base = flat(can[..., pel, :], uf)[..., None, :]  # (..., F, 1, 3) the pelvis across the up axis
    return base + height + turned


#: words of face points (`_plan`): a follower so named that is not on a 1:1 joint's point follows the head, whatever
#: the tree says — keypoint layouts hang the shoulders from the face (COCO, BlazePose: nose -> eye -> ear ->
#: shoulder), where the nearest 1:1 joint along the tree of the nose, the eyes and the ears is a shoulder
_FACE_WORDS = ("nose", "eye", "ear", "mouth", "lip", "jaw", "chin", "cheek", "brow", "tongue", "teeth", "face")


def _plan(t: _Tree, matrix: np.ndarray) -> tuple[_Plan, dict[str, str], tuple[str, ...]]:
    j_src = matrix.shape[1]
    direct: dict[int, int] = {}
    for c in range(len(NAMES)):
        nz = np.flatnonzero(matrix[c])
        if len(nz) == 1 and abs(matrix[c, nz[0]] - 1.0) < 1e-9 and nz[0] not in direct:
            direct[int(nz[0])] = c
    pelvis = next((j for j, c in direct.items() if c == 0), None)
    # unmapped joints above the pelvis and far from it at rest are world roots (Bandai's joint_Root, Unreal's root
    # on the floor); one near it at rest (within DETACHED_M: a Reference or COM bone beside the hips) is a part
    # of the body that follows the pelvis, unless the observed frame finds it left behind (`Retarget.from_canonical`)
    world = (
        []
        if pelvis is None
        else [
            j
            for j in t.up[pelvis][1:]
            if j not in direct and float(np.linalg.norm(t.rest[j] - t.rest[pelvis])) > DETACHED_M
        ]
    )
    followers: dict[int, int] = {}
    for j in range(j_src):
        if j in direct or j in world:
            continue
        if direct:
            same = [d for d in direct if t.same_point(j, d)]
            above = [d for d in t.up[j][1:] if d in direct][:1] if t.inline[j] else []
            # a twist joint inside a limb lies on the bone from the joint above it: it turns with that bone (the
            # joint below it, nearer perhaps, would swing it with the next bone when the elbow or knee bends)
            best = min(same or above or list(direct), key=lambda d: (t.arc(j, d), t.hops(j, d)))
            followers[j] = direct[best]
            if not same and any(w in _FACE_WORDS for w in t.words[j]):  # a face point: the head (_FACE_WORDS)
                followers[j] = _IDX["head"]
        else:  # nothing is 1:1: the canonical joint whose rest point is nearest
            rest = matrix @ t.rest
            followers[j] = int(np.argmin(np.linalg.norm(rest - t.rest[j], axis=1)))
    anchors = sorted(set(followers.values()))
    n, k = len(NAMES), len(anchors)
    lin = np.zeros((2, k, n))  # per anchor: first-axis vector, weighted sum of the other neighbours
    for i, a in enumerate(anchors):
        name = NAMES[a]
        first = _IDX[_DISTAL[name]] if name in _DISTAL else PARENTS[a]
        lin[0, i, first] += 1.0
        lin[0, i, a] -= 1.0
        for nb in range(n):
            if 1 <= _HOPS[a, nb] <= 3 and nb != first:
                lin[1, i, nb] += 1.0 / _HOPS[a, nb] ** 2
                lin[1, i, a] -= 1.0 / _HOPS[a, nb] ** 2
    k_of = {a: i for i, a in enumerate(anchors)}
    fol = sorted(followers)
    kron = np.kron(matrix.T, np.eye(3))
    axes = np.einsum("tkj,cd->jctdk", lin, np.eye(3)).reshape(3 * n, 6 * k)
    gather = np.zeros(j_src, dtype=np.int64)
    for j, c in direct.items():
        gather[j] = c
    for i, j in enumerate([*fol, *world]):
        gather[j] = n + i
    plan = _Plan(
        m64=matrix,
        k64=kron,
        k32=kron.astype(np.float32),
        world=np.array(world, dtype=np.int64),
        fol_src=np.array(fol, dtype=np.int64),
        fol_can=np.array([followers[j] for j in fol], dtype=np.int64),
        fol_k=np.array([k_of[followers[j]] for j in fol], dtype=np.int64),
        fol_above=np.array(
            [i for i, j in enumerate(fol) if pelvis is not None and j in t.up[pelvis][1:]], dtype=np.int64
        ),
        fol_loose=np.array(_loose(t, fol, direct, pelvis), dtype=np.int64),
        axes=axes,
        axes32=axes.astype(np.float32),
        gather=gather,
    )
    frozen = (plan.m64, plan.k64, plan.k32, plan.world, plan.fol_above, plan.fol_loose, plan.axes, plan.axes32)
    for arr in (*frozen, plan.gather):
        arr.setflags(write=False)
    names = t.skel.joint_names
    return plan, {names[j]: NAMES[c] for j, c in sorted(followers.items())}, tuple(names[j] for j in world)


def _loose(t: _Tree, fol: list[int], direct: dict[int, int], pelvis: int | None) -> list[int]:
    """Positions in ``fol`` of the followers on no body joint's branch: neither below a joint that maps 1:1 nor above
    one — bones hung from a world root beside the body, such as Unreal's ``ik_foot_root`` -> ``ik_foot_l`` and
    ``ik_hand_root`` -> ``ik_hand_gun``. They follow their anchor only where the observed history moved them
    (`Retarget.from_canonical`): QA, still IK bones of an Unreal rig swung with the pelvis in forecasts (one at
    19.9 m/s), and the world root turned up to 179 degrees to reach them."""
    if pelvis is None:
        return []
    above_body = {a for d in direct for a in t.up[d]}  # a 1:1 joint and every joint above it
    return [i for i, j in enumerate(fol) if j not in above_body and not any(a in direct for a in t.up[j])]


# --------------------------------------------------------------------------------------- retarget
class MappingError(SkeletonError):
    """An entry of an explicit joint mapping that the rig cannot take (a joint it lacks, one joint on both sides):
    about the mapping file, which `mapping_file_named` names, not about the motion."""


@contextlib.contextmanager
def mapping_file_named(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """A `MappingError` raised inside the block names ``path``, the mapping file its entries came from (QA: a typo in
    the mapping was reported against the motion file); other errors pass unchanged."""
    try:
        yield
    except MappingError as exc:
        if path is None:
            raise
        raise MappingError(exc.problem, path) from None


@dataclass(frozen=True, eq=False)
class Retarget:
    """How a skeleton maps onto the canonical body ``smplh-22`` and back (see the module docstring).

    Attributes:
        source: the user's skeleton (``J`` joints).
        matrix: ``(22, J)`` affine weights, each row summing to 1: ``canonical = matrix @ source``.
        assignment: canonical joint -> ``{source joint: weight}`` (the rows of ``matrix``).
        interpolated: canonical joints made by interpolation (`INTERPOLATED` ones the skeleton lacks).
        followers: source joint -> the canonical joint it follows rigidly in `from_canonical` (every
            source joint that is not the only source of a canonical joint, except ``static`` ones).
        static: unmapped joints above the pelvis, more than `DETACHED_M` from it at rest (a world root: Bandai's
            ``joint_Root``, Unreal's ``root``); `from_canonical` leaves them where they were in the last observed
            frame.
        up: the up axis of the data's world given in the mapping (``up: z``; a key of `UP_ROTATIONS`), or
            None: `up_axes` finds it from each history.
    """

    source: Skeleton
    matrix: np.ndarray
    assignment: dict[str, dict[str, float]]
    interpolated: tuple[str, ...]
    followers: dict[str, str]
    static: tuple[str, ...]
    plan: _Plan = field(repr=False)
    up: str | None = None
    #: degrees between the trunk (pelvis -> head) and the legs (hips -> ankles) in the rig's rest pose (None without
    #: rest offsets): about 180 for a person in any rest pose, about 90 for a four-legged rig (`trunk_to_legs`)
    rest_trunk_to_legs: float | None = None

    def to_canonical(self, positions: Any) -> np.ndarray:
        """Positions ``(..., J, 3)`` on the source skeleton -> ``(..., 22, 3)`` on the canonical body
        (float32 stays float32, anything else becomes float64)."""
        arr = np.asarray(positions)
        if arr.ndim < 2 or arr.shape[-2:] != (self.matrix.shape[1], 3):
            raise SkeletonError(
                f"positions of shape {arr.shape} do not fit (..., {self.matrix.shape[1]}, 3) "
                f"for skeleton {self.source.name!r}"
            )
        k = self.plan.k32 if arr.dtype == np.float32 else self.plan.k64
        return (arr.reshape(arr.shape[:-2] + (-1,)) @ k).reshape(arr.shape[:-2] + (len(NAMES), 3))

    def from_canonical(self, canonical: Any, observed: Any, travel: Any = None, up: Any = None) -> np.ndarray:
        """A canonical forecast back on the source skeleton.

        Args:
            canonical: ``(..., F, 22, 3)`` forecast positions on the canonical body (metres).
            observed: ``(..., J, 3)`` the last observed frame on the source skeleton (same leading dims).
            travel: optional ``(..., J)``: how far each joint moved over the observed history (metres,
                `history_travel`); a joint above the pelvis near it at rest that stayed within `STILL_M`
                while the pelvis was more than `DETACHED_M` from it is a world root and stays put; one that
                moved with the body at that distance (a root bone under the pelvis carrying root motion), and
                a world root (`static`: Unreal's ``root`` on the floor) that moved `STILL_M` or more, follow
                the pelvis along the floor: at their observed height, their horizontal offset from the pelvis
                turned with the hips' heading (`_along_floor`). Without ``travel`` world roots stay put. A
                bone beside the body (`_loose`: Unreal's ``ik_*`` bones) that stayed within `STILL_M` stays put.
            up: optional ``(..., 3)`` unit vector of the world's up axis (default +y), for that floor.

        Returns:
            ``(..., F, J, 3)``: 1:1-mapped joints at their canonical joint, every other joint moved rigidly
            with its anchor's frame from the observed frame (float32 when both inputs are float32).
        """
        can, obs = np.asarray(canonical), np.asarray(observed)
        j = self.matrix.shape[1]
        if (
            can.ndim < 3
            or can.shape[-2:] != (len(NAMES), 3)
            or obs.shape[-2:] != (j, 3)
            or (can.shape[:-3] != obs.shape[:-2])
        ):
            raise SkeletonError(
                f"from_canonical needs a forecast (..., F, {len(NAMES)}, 3) and the last observed frame "
                f"(..., {j}, 3) of skeleton {self.source.name!r} with the same leading dims; got {can.shape} "
                f"and {obs.shape}"
            )
        p = self.plan
        if can.dtype != np.float32 or obs.dtype != np.float32:
            can, obs = can.astype(np.float64, copy=False), obs.astype(np.float64, copy=False)
        parts = [can]
        if p.world.size:  # world roots (`static`) stay where they were observed, unless they carried root motion
            world = np.broadcast_to(obs[..., None, p.world, :], can.shape[:-2] + (p.world.size, 3))
            carried = None if travel is None else np.asarray(travel)[..., p.world] >= STILL_M  # (..., W)
            if carried is not None and carried.any():
                floor = _along_floor(can, self.to_canonical(obs), obs[..., p.world, :], up)
                world = np.where(carried[..., None, :, None], floor.astype(world.dtype, copy=False), world)
            parts.append(world)
        if not p.fol_src.size:
            return (np.concatenate(parts, axis=-2) if len(parts) > 1 else can)[..., p.gather, :]
        obs_c = self.to_canonical(obs)
        flat = np.concatenate([obs_c.reshape(obs_c.shape[:-2] + (1, -1)), can.reshape(can.shape[:-2] + (-1,))], -2)
        frames = _frames(flat, p.axes32 if flat.dtype == np.float32 else p.axes)[..., p.fol_k]  # (..., F+1, 3, 3, N)
        off = np.swapaxes(obs[..., p.fol_src, :] - obs_c[..., p.fol_can, :], -1, -2)  # (..., 3, N)
        local = np.einsum("...ecn,...cn->...en", frames[..., 0, :, :, :], off)  # offsets in the observed frames
        moved = np.einsum("...fecn,...en->...fcn", frames[..., 1:, :, :, :], local)  # (..., F, 3, N)
        fol = np.swapaxes(moved, -1, -2) + can[..., p.fol_can, :]  # (..., F, N, 3)
        if p.fol_above.size and travel is not None:  # a still joint above the pelvis, near it at rest, that
            # the pelvis has left (a root bone at the origin, the pelvis translating under it): a world root
            src = p.fol_src[p.fol_above]
            gap = np.linalg.norm(off[..., :, p.fol_above], axis=-2)  # (..., A)
            detached = gap > DETACHED_M
            still = detached & (np.asarray(travel)[..., src] < STILL_M)
            moving = detached & ~still
            above = fol[..., p.fol_above, :]
            if moving.any():  # a root bone on the floor that carries the body's motion: along the floor
                floor = _along_floor(can, obs_c, obs[..., src, :], up)
                above = np.where(moving[..., None, :, None], floor.astype(above.dtype, copy=False), above)
            fol[..., p.fol_above, :] = np.where(still[..., None, :, None], obs[..., None, src, :], above)
        if p.fol_loose.size and travel is not None:  # bones beside the body (`_loose`): where observed, if still
            src = p.fol_src[p.fol_loose]
            still = np.asarray(travel)[..., src] < STILL_M  # (..., L)
            fol[..., p.fol_loose, :] = np.where(
                still[..., None, :, None], obs[..., None, src, :], fol[..., p.fol_loose, :]
            )
        parts.insert(1, fol)
        return np.concatenate(parts, axis=-2)[..., p.gather, :]

    def body_bones(self) -> np.ndarray:
        """``(B,)`` bool, one per non-root source joint in joint order (the bones
        `posecast.kinematics.proportions.bone_lengths` lists): whether the bone from its parent is a bone of the body,
        i.e. the rig has rest offsets (a kinematic rig, not a keypoint layout whose tree may hang shoulders from the
        face) and the parent is the source joint the pelvis is mapped to or hangs below it (not a world root above the
        pelvis, Bandai's ``joint_Root``, nor a bone beside the body, Unreal's ``ik_*``); a pelvis mapped from several
        joints (``{LeftUpLeg: 0.5, RightUpLeg: 0.5}``) hangs from their nearest common ancestor. `CanonicalForecaster`
        keeps such bones at their observed lengths where they kept them over the history."""
        parents = [int(q) for q in self.source.parents]
        bones = np.zeros(sum(q >= 0 for q in parents), dtype=bool)
        names = self.source.joint_names
        sources = [names.index(n) for n, w in self.assignment["pelvis"].items() if w > 0 and n in names]
        if self.source.offsets is None or not sources:
            return bones

        def up(j: int) -> list[int]:  # j and its ancestors, nearest first
            path = [j]
            while parents[path[-1]] >= 0:
                path.append(parents[path[-1]])
            return path

        common = set(up(sources[0])).intersection(*(up(j) for j in sources[1:]))
        top = next(j for j in up(sources[0]) if j in common)  # the nearest common ancestor (one root: always one)
        inside = {top}
        for j, q in enumerate(parents):  # parents come before their children
            if q in inside:
                inside.add(j)
        children = [j for j, q in enumerate(parents) if q >= 0]
        bones[:] = [parents[j] in inside for j in children]
        return bones

    def describe(self) -> str:
        """A table ``canonical joint <- source joints`` and the joints that follow rigidly."""
        lines = [f"{CANONICAL} <- {self.source.name} ({self.source.num_joints} joints)"]
        for c in NAMES:
            terms = " + ".join(n if abs(w - 1.0) < 1e-9 else f"{w:.3f} {n}" for n, w in self.assignment[c].items())
            lines.append(f"  {c:<15} <- {terms}{'   (interpolated)' if c in self.interpolated else ''}")
        if self.followers:
            lines.append("follow rigidly: " + ", ".join(f"{s} -> {c}" for s, c in self.followers.items()))
        if self.static:
            lines.append("stay where observed (above the pelvis): " + ", ".join(self.static))
        return "\n".join(lines)


_CACHE: OrderedDict[tuple[Any, ...], Retarget] = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


def retarget(skeleton: Skeleton | str, mapping: Mapping[str, Any] | str | os.PathLike[str] | None = None) -> Retarget:
    """The mapping of ``skeleton`` onto the canonical body ``smplh-22``.

    Args:
        skeleton: a `Skeleton` (e.g. ``motion.skeleton``) or a registered name.
        mapping: optional explicit entries ``{canonical joint: source joint | {source joint: weight}}``,
            as a dict or a YAML/JSON file (`load_mapping_file`); entries left out are found
            automatically. Weights of an entry are normalised to sum to 1.

    Returns:
        a `Retarget` (cached per joint names, parents, rest offsets and mapping).

    Raises:
        SkeletonError: the skeleton lacks `REQUIRED` joints (the message lists what is missing and what
            was found), or the mapping names unknown joints / has bad weights (naming the file).
    """
    skel = get(skeleton)
    where: str | None = None
    if mapping is None:
        explicit, mkey = {}, None
    elif isinstance(mapping, str | os.PathLike):
        path = Path(mapping)
        try:
            st = path.stat()
        except OSError as exc:
            raise SkeletonError(f"cannot read mapping file: {exc.strerror or exc}", path) from None
        where, mkey = str(path), ("file", str(path.resolve()), st.st_mtime_ns, st.st_size)
        explicit = load_mapping_file(path)
    else:
        explicit = _validate_table(mapping, None)
        mkey = tuple(sorted((c, w if isinstance(w, str) else tuple(sorted(w.items()))) for c, w in explicit.items()))
    off = None if skel.offsets is None else skel.offsets.tobytes()
    key = (skel.joint_names, skel.parents, off, mkey)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            if hit.source is not skel:  # same layout, another Skeleton object (name): share the arrays
                hit = _CACHE[key] = Retarget(**{**hit.__dict__, "source": skel})
            return hit
    explicit = dict(explicit)
    up = explicit.pop(UP_KEY, None)
    try:
        result = _build(skel, explicit, where, up)
    except SkeletonError:
        table = _via_body17(skel) if not explicit else None  # no joint entries given (an ``up:`` alone counts not)
        if table is None:
            raise
        result = _build(skel, table, where, up)  # a keypoint layout (COCO, BlazePose) through its body-17 table
    with _LOCK:
        _CACHE[key] = result
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


#: registered layouts the automatic mapping cannot place (keypoint layouts without a spine) -> a function giving
#: their explicit entries onto the canonical body; filled by `posecast.skeletons.mapping` (`register_fallback`)
_FALLBACKS: dict[str, Callable[[], dict[str, dict[str, float]]]] = {}


def register_fallback(name: str, entries: Callable[[], dict[str, dict[str, float]]]) -> None:
    """Map the registered layout ``name`` with ``entries()`` (explicit `retarget` entries) when the automatic
    mapping refuses it."""
    _FALLBACKS[name] = entries


def _via_body17(skel: Skeleton) -> dict[str, dict[str, float]] | None:
    """The registered fallback entries of ``skel``'s layout (`register_fallback`), or None: another skeleton, or
    one that only shares a registered layout's name."""
    entries = _FALLBACKS.get(skel.name)
    try:
        if entries is None or not skel.same_layout(get(skel.name)):
            return None
    except PosecastError:
        return None
    return entries()


def _build(skel: Skeleton, explicit: dict[str, dict[str, float]], where: str | None, up: str | None) -> Retarget:
    t = _Tree(skel)
    unknown = sorted({n for w in explicit.values() for n in w if n not in skel._index})
    if unknown:
        import difflib

        lower = {n.lower(): n for n in skel.joint_names}
        guesses = [  # (QA: a typo or another case was only "not found" among 31 names)
            f"{n}: did you mean {g[0]}?"
            for n in unknown
            if (g := [lower[x] for x in difflib.get_close_matches(n.lower(), list(lower), n=1, cutoff=0.75)])
        ]
        hint = f" ({'; '.join(guesses)})" if guesses else ""
        raise MappingError(
            f"the joint mapping (--mapping / mapping=) for skeleton {skel.name!r} names joints it does not have: "
            f"{', '.join(unknown)}{hint} (its joints: {', '.join(skel.joint_names)})",
            where,
        )
    # one rig joint as the whole of a left joint and of its right counterpart: both sides at one point (QA: taken
    # without a word). (A foot at its ankle's joint, for a rig without toes, is fine.)
    twice = [
        f"{c} and right{c[4:]} both <- {next(iter(w))}"
        for c, w in explicit.items()
        if c.startswith("left_") and len(w) == 1 and explicit.get("right" + c[4:]) == w
    ]
    if twice:
        raise MappingError(
            f"the joint mapping (--mapping / mapping=) puts one rig joint on both sides ({'; '.join(twice)}): a left "
            "joint and its right counterpart need joints of their own",
            where,
        )
    rows_explicit = {c: {skel.index(n): float(v) for n, v in w.items()} for c, w in explicit.items()}
    det = _detect(t)
    rows, made = _compose(t, det, rows_explicit)
    missing = [c for c in NAMES if c not in rows]
    if missing:
        found = ", ".join(
            [f"{c} <- {skel.joint_names[j]}" for c, j in det["found"].items() if c not in rows_explicit]
            + [f"{c} <- {' + '.join(skel.joint_names[j] for j in w)} (mapping)" for c, w in rows_explicit.items()]
        )
        if not found:  # say what the names offered: the topology found no legs and arms among them
            named = [n for n in skel.joint_names if _has(n, _TRUNK_WORDS + _LEG_WORDS + _ARM_WORDS)]
            found = "nothing: no left/right pair of leg and arm chains of 3 joints or more" + (
                f" among the joints named like body parts ({listed(named, ', ')})" if named else ""
            )
        joints = list(skel.joint_names)
        needed = [c for c in missing if c not in INTERPOLATED]
        made = [c for c in missing if c in INTERPOLATED]
        raise SkeletonError(
            f"skeleton {skel.name!r} cannot be mapped onto the canonical body {CANONICAL}: missing "
            f"{', '.join(needed)}"
            + (f" (and {', '.join(made)}, made from the others when not named)" if made else "")
            + f"; found {found}. Name the missing joints in a mapping file (YAML/JSON, one line per canonical joint: "
            "'canonical joint: rig joint', e.g. 'pelvis: Hips', 'left_hip: LeftUpLeg'; a spine, neck or toe joint of "
            f"the rig named too makes a better forecast), --mapping; the rig's joints: {listed(joints, ', ', most=40)}",
            where,
        )
    matrix = np.zeros((len(NAMES), skel.num_joints))
    for c, row in rows.items():
        for j, w in row.items():
            matrix[_IDX[c], j] += w
    plan, followers, static = _plan(t, matrix)
    assignment = {
        c: {skel.joint_names[j]: float(matrix[_IDX[c], j]) for j in np.flatnonzero(matrix[_IDX[c]])} for c in NAMES
    }
    trunk = trunk_to_legs(matrix @ t.rest) if skel.offsets is not None else None
    interpolated = tuple(c for c in NAMES if c in made)
    return Retarget(skel, plan.m64, assignment, interpolated, followers, static, plan, up, trunk)


#: a rig whose rest pose holds its trunk at less than this many degrees to its legs is not built like a person
#: (`Retarget.rest_trunk_to_legs`; a four-legged rig: about 90)
UPRIGHT_REST_DEG = 135.0


#: ... and whose hands stand on the floor with its feet: the wrists, along the legs, less than this share of the legs'
#: length above the ankles (median frame; a person bowing at 90 degrees holds them at 0.4-0.5: QA, Bandai Namco's
#: bows, whose rig's rest pose holds the legs at 90 degrees, had been called no human body)
HANDS_AT_FEET_SHARE = 0.25


def not_built_like_a_person(rt: Retarget | None, history: np.ndarray) -> float | None:
    """Degrees between trunk and legs (`trunk_to_legs`) when both ``rt``'s rest pose and the median frame of ``history
    (T, J, 3)`` hold them at less than `UPRIGHT_REST_DEG` and the hands stand at the feet (`HANDS_AT_FEET_SHARE`) —
    a four-legged rig, say (a person's rest pose may be anything: Bandai Namco's holds the legs at 90 degrees; a
    person bowing holds the trunk at 90 degrees to the legs too, the hands well above the feet) —, else None (also
    without rest offsets)."""
    if rt is None or rt.rest_trunk_to_legs is None or rt.rest_trunk_to_legs >= UPRIGHT_REST_DEG:
        return None  # (before any mapping: a person's rig says so by its rest pose)
    return _not_built_like_a_person(rt, canonical_sample(rt, history))


def canonical_sample(rt: Retarget, history: np.ndarray) -> np.ndarray:
    """Up to about 50 evenly spread frames of ``history (T, J, 3)`` on the canonical body: what the body checks read."""
    h = np.asarray(history, dtype=np.float64)
    return rt.to_canonical(h[:: max(1, len(h) // 50)])


def _not_built_like_a_person(rt: Retarget, sample: np.ndarray) -> float | None:
    rest = rt.rest_trunk_to_legs
    if rest is None or rest >= UPRIGHT_REST_DEG or not len(sample):
        return None
    seen = float(np.median(trunk_to_legs(sample)))
    return seen if seen < UPRIGHT_REST_DEG and hands_above_feet(sample) < HANDS_AT_FEET_SHARE else None


def hands_above_feet(canonical: np.ndarray) -> float:
    """Median, over the frames of ``(T, 22, 3)`` canonical poses, of the higher wrist's height above the mean of the
    ankles along the legs (from the ankles' mean to the hips' mean), as a share of that length: about 0 for four legs
    on the floor, 0.4-0.5 for a person bowing at 90 degrees with the arms hanging, about 1 standing."""
    c = np.asarray(canonical, dtype=np.float64)
    ankles = (c[:, _IDX["left_ankle"]] + c[:, _IDX["right_ankle"]]) / 2
    legs = (c[:, _IDX["left_hip"]] + c[:, _IDX["right_hip"]]) / 2 - ankles  # (T, 3) ankles -> hips
    length = np.maximum(np.linalg.norm(legs, axis=-1), 1e-9)
    up = legs / length[:, None]
    high = np.max([((c[:, _IDX[f"{s}_wrist"]] - ankles) * up).sum(axis=-1) for s in _SIDES], axis=0)
    return float(np.median(high / length))


#: a frame's toes say which way the body faces only while its trunk stands: pelvis -> neck at least this much up
#: (cosine; 60 degrees). Lying on the front, the feet point their toes back along the legs (QA: -0.84 to -0.97, read
#: as swapped)
STANDING_TRUNK_COS = 0.5
#: metres: a foot's toes are read only while its ankle is within this of the lower ankle, the foot the body stands
#: on (a foot kicked up behind points its toes back: a Bandai child's dash, half its frames so, read as swapped, -0.46)
PLANTED_M = 0.1
#: ... and while its ankle -> toe line lies along the floor: its length there at least this share of the whole (toes
#: pointed down in a hop say nothing of the facing)
FLAT_TOE_SHARE = 0.5


def _trunk_standing(c: np.ndarray) -> np.ndarray:
    """``(T,)`` whether each of ``(T, 22, 3)`` upright canonical poses holds its trunk within 60 degrees of up
    (`STANDING_TRUNK_COS`)."""
    trunk = c[:, _IDX["neck"]] - c[:, _IDX["pelvis"]]
    return trunk[:, 1] >= STANDING_TRUNK_COS * np.linalg.norm(trunk, axis=-1)


def _read_toes(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each foot's ankle -> toe line of ``(T, 22, 3)`` upright canonical poses flattened onto the floor, ``(T, 2,
    3)`` (left, right), and ``(T, 2)`` whether it is read: the trunk stands (`STANDING_TRUNK_COS`), the foot is the
    one stood on (`PLANTED_M`) and its toe line lies along the floor (`FLAT_TOE_SHARE`)."""
    toe = np.stack([c[:, _IDX[f"{s}_foot"]] - c[:, _IDX[f"{s}_ankle"]] for s in _SIDES], axis=1)
    ankle_y = np.stack([c[:, _IDX[f"{s}_ankle"], 1] for s in _SIDES], axis=1)
    flat = toe.copy()
    flat[..., 1] = 0.0
    flat_len = np.linalg.norm(flat, axis=-1)
    read = (
        _trunk_standing(c)[:, None]
        & (ankle_y <= ankle_y.min(axis=1, keepdims=True) + PLANTED_M)
        & (flat_len >= FLAT_TOE_SHARE * np.linalg.norm(toe, axis=-1))
        & (flat_len > 1e-9)
    )
    return flat, read


def toes_forward(canonical_upright: np.ndarray) -> float:
    """Median cosine, over the frames and feet of ``(T, 22, 3)`` canonical poses standing along +y, between a foot's
    ankle -> toe direction and the way the body faces as its left and right say (left minus right of hips and
    shoulders, crossed with up), both flattened onto the floor. About +1 for a person: on the three labs' takes
    0.84-1.00, squatting and dancing included; about -1 when left and right are swapped. Judged on the feet stood on
    while the trunk stands (`_read_toes`); 1 when fewer than a quarter of the frames give one (lying down, on the
    front too; a hop in mid-air)."""
    c = np.asarray(canonical_upright, dtype=np.float64)
    flat, read = _read_toes(c)
    side = sum(c[:, _IDX[f"left_{j}"]] - c[:, _IDX[f"right_{j}"]] for j in ("hip", "shoulder"))
    facing = np.cross(side, [0.0, 1.0, 0.0])[:, None].repeat(2, axis=1)  # (T, 2, 3)
    norm = np.linalg.norm(flat, axis=-1) * np.linalg.norm(facing, axis=-1)
    read &= norm > 1e-9
    if read.sum() < max(1, len(c) // 4):
        return 1.0
    return float(np.median((flat[read] * facing[read]).sum(axis=-1) / norm[read]))


#: a frame tells which way a body faces by its left and right only where the line between them lies mostly
#: horizontal: its length on the floor at least this share of its length (a person lying on their side: about 0)
LEVEL_SHARE = 0.5


def _flat_facing(c: np.ndarray, joint: str) -> np.ndarray:
    """``(T, 3)`` unit directions on the floor that ``(T, 22, 3)`` upright canonical poses face by their left and
    right ``joint`` (``hip`` or ``shoulder``): left minus right crossed with up; zero in frames where that line is
    not level enough to say (`LEVEL_SHARE`: lying on one side, a few degrees of twist had read as facing backwards)."""
    side = c[:, _IDX[f"left_{joint}"]] - c[:, _IDX[f"right_{joint}"]]
    facing = np.cross(side, [0.0, 1.0, 0.0])
    facing[:, 1] = 0.0
    norm = np.linalg.norm(facing, axis=-1, keepdims=True)
    level = norm > LEVEL_SHARE * np.maximum(np.linalg.norm(side, axis=-1, keepdims=True), 1e-9)
    return np.where(level & (norm > 1e-9), facing / np.maximum(norm, 1e-9), 0.0)


def hips_and_shoulders_facing(canonical_upright: np.ndarray) -> float:
    """Median cosine, over the frames of ``(T, 22, 3)`` canonical poses standing along +y, between the way the hips
    face and the way the shoulders face (each by its left and right, flattened onto the floor). About +1 for a person
    (0.90-1.00 on 63 takes of the three labs, dances, kicks and turns included: a trunk rarely twists 90 degrees);
    about -1 when the legs' left and right are swapped and the arms' are not, or the other way round. Judged on the
    frames in which both lines lie level (`LEVEL_SHARE`); 1 when under a quarter of the frames do (lying down)."""
    c = np.asarray(canonical_upright, dtype=np.float64)
    hips, shoulders = _flat_facing(c, "hip"), _flat_facing(c, "shoulder")
    judged = (np.abs(hips).sum(axis=-1) > 0) & (np.abs(shoulders).sum(axis=-1) > 0)  # both lines level
    if judged.sum() < max(1, len(c) // 4):  # lying down most of the time: nothing to say (2 frames: one will do)
        return 1.0
    return float(np.median((hips[judged] * shoulders[judged]).sum(axis=-1)))


def _limbs_swapped(rt: Retarget, upright: np.ndarray, decided: bool) -> dict[str, Any]:
    """``hips_shoulders_cos`` (`hips_and_shoulders_facing`) of the ``upright`` sample (`_upright`) when the hips and the
    shoulders face opposite ways, with ``swapped_limbs``: ``legs`` when the rig's own toes point the way the shoulders
    face, ``arms`` when they point the way the hips face, ``legs or arms`` without toes of its own or a trusted up
    axis; {} for a person."""
    if not len(upright):
        return {}
    cos = hips_and_shoulders_facing(upright)
    if cos >= 0.0:
        return {}
    which = "legs or arms"
    if decided and _own_feet(rt):  # the toes tell which part only in an upright world they stand in
        flat, read = _read_toes(upright)  # (lying on the front, the toes point back along the legs: not read)
        shoulders = _flat_facing(upright, "shoulder")[:, None].repeat(2, axis=1)
        read &= np.abs(shoulders).sum(axis=-1) > 0
        if read.sum() >= max(1, len(upright) // 4):
            which = "legs" if float(np.median((flat[read] * shoulders[read]).sum(axis=-1))) > 0 else "arms"
    return {"hips_shoulders_cos": round(cos, 2), "swapped_limbs": which}


#: the limb bones whose left and right `crossed_limbs` compares: (parent, child) canonical joints of each side
_LIMB_BONES = (("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"), ("shoulder", "elbow"), ("elbow", "wrist"))
#: metres: a limb bone is judged when its length, as mapped, varies by at least this much over the history (standard
#: deviation; a bone of the rig's own holds its length, so only a crossed one moves)
CROSSED_SPREAD_M = 0.005
#: ... and the crossed pairing (left parent to right child and right parent to left child) varies by at most this
#: share of that: the rig's true bones
CROSSED_SHARE = 0.25


def _own_joint(rt: Retarget, name: str) -> str | None:
    """The rig's joint a canonical joint is, when it is one joint of the rig's own (weight 1, not made up)."""
    row = rt.assignment.get(name, {})
    if name in rt.interpolated or len(row) != 1 or abs(next(iter(row.values())) - 1.0) > 1e-9:
        return None
    return next(iter(row))


def crossed_limbs(rt: Retarget, canonical: np.ndarray) -> list[str]:
    """The canonical limb joints (``foot``, ``knee``, ...) at which ``rt``'s left and right cross: the bone from a
    joint's parent on one side to it, as mapped, changes length over ``canonical (T, 22, 3)`` (`CROSSED_SPREAD_M`)
    while the bone to the other side's joint holds its length (`CROSSED_SHARE`), on both sides — a mapping or rig
    names that swap left and right from that joint down (the feet only, say: QA, not caught by the facing checks,
    which read whole legs or arms). Joints the mapping makes up or blends are not judged, nor a history in which
    the limbs do not move."""
    c = np.asarray(canonical, dtype=np.float64)
    out = []
    if len(c) < 3:
        return out
    for parent, child in _LIMB_BONES:
        names = [f"{s}_{j}" for j in (parent, child) for s in _SIDES]  # left_p, right_p, left_c, right_c
        if any(_own_joint(rt, n) is None for n in names):
            continue
        lp, rp, lc, rc = (c[:, _IDX[n]] for n in names)

        def spread(a: np.ndarray, b: np.ndarray) -> float:
            return float(np.std(np.linalg.norm(a - b, axis=-1)))

        own = min(spread(lp, lc), spread(rp, rc))
        crossed = max(spread(lp, rc), spread(rp, lc))
        if own >= CROSSED_SPREAD_M and crossed <= CROSSED_SHARE * own:
            out.append(child)
    return out


def sides_swapped(rt: Retarget | None, history: np.ndarray) -> float | None:
    """`toes_forward` of ``history (T, J, 3)`` on the canonical body when it is below `TOES_BACKWARD_COS` — the rig's
    left and right are swapped, in its joint names or in an explicit mapping (QA: such a rig was forecast without a
    word, 7-17 cm off), or its toes point backwards —, else None (also for a rig without feet of its own, made-up feet
    tell nothing, and a history whose up axis cannot be trusted: `_upright`)."""
    if rt is None:
        return None
    sample = canonical_sample(rt, history)
    return _sides_swapped(rt, *_upright(rt, sample)) if len(sample) else None


#: `toes_forward` below this says the sides are swapped (swapped rigs: mostly about -1, -0.08 to -0.48 in some short
#: histories of pirouettes and jogs; correctly named people turning on pointed feet had given -0.01 to -0.07, QA)
TOES_BACKWARD_COS = -0.2


def _own_feet(rt: Retarget) -> bool:
    """Whether both canonical feet are joints of the rig's own (each one source joint, not the ankle's): made-up feet
    (COCO's, extended from the knee through the ankle; h36m's) tell nothing of where the toes point."""
    for s in _SIDES:
        foot, ankle = rt.assignment.get(f"{s}_foot", {}), rt.assignment.get(f"{s}_ankle", {})
        if f"{s}_foot" in rt.interpolated or len(foot) != 1 or abs(next(iter(foot.values())) - 1.0) > 1e-9:
            return False
        if set(foot) & set(ankle):
            return False
    return True


#: a history whose up axis is not found is trusted to stand along +y when its trunk's mean unit direction has at
#: least this much +y (`_upright`)
UPWARD_TRUNK = 0.5


def _upright(rt: Retarget, sample: np.ndarray) -> tuple[np.ndarray, bool]:
    """``sample`` turned upright by its up axis (`up_axes`), and whether that axis can be trusted: given by the mapping
    or a `world_up` block, or the trunk stands along it (`trunk_axis`), or — taken as +y for want of one, a body
    bending through the history — the trunk still points upwards on the whole (its mean unit direction at least
    `UPWARD_TRUNK` up: a y-up person picking something up, not a z-up or upside-down world read as y up)."""
    axis = up_axes(sample[None], rt.up)[0]
    upright = sample @ up_rotations([axis])[0].T
    if rt.up is not None or _WORLD_UP.get() is not None or trunk_axis(sample[None])[0] is not None:
        return upright, True
    trunk = upright[:, _NECK] - upright[:, _PELVIS]
    unit = trunk / np.maximum(np.linalg.norm(trunk, axis=-1, keepdims=True), 1e-12)
    return upright, bool(unit.mean(axis=0)[1] >= UPWARD_TRUNK)


def _sides_swapped(rt: Retarget, upright: np.ndarray, decided: bool) -> float | None:
    if not len(upright) or not _own_feet(rt):
        return None
    if not decided:  # a body bent or turning over through the history, up taken as +y: its toes say nothing
        return None
    cos = toes_forward(upright)
    return cos if cos < TOES_BACKWARD_COS else None


#: metres: a body whose legs and trunk (`leg_and_trunk_length`) measure outside this range is said to be of an
#: unusual size (the three labs' adults: 1.33-1.51 m; a toddler about half that)
PERSON_SIZE_M = (0.5, 2.6)


def leg_and_trunk_length(canonical: np.ndarray) -> float:
    """Metres: the median, over frames of ``(T, 22, 3)`` canonical poses, of ankle -> knee -> hip -> pelvis -> head
    (the mean of both legs): about 1.5 m for an adult, whatever the pose."""
    c = np.asarray(canonical, dtype=np.float64)

    def bone(a: str, b: str) -> np.ndarray:
        return np.linalg.norm(c[:, _IDX[a]] - c[:, _IDX[b]], axis=-1)

    legs = sum(bone(f"{s}_ankle", f"{s}_knee") + bone(f"{s}_knee", f"{s}_hip") for s in _SIDES) / 2
    return float(
        np.median(legs + bone("left_hip", "pelvis") / 2 + bone("right_hip", "pelvis") / 2 + bone("pelvis", "head"))
    )


#: a history whose trunk (pelvis -> neck, unit) points up by less than this on average, in its world as read, lies
LYING_TRUNK_COS = 0.5


def lying_with_up_untold(rt: Retarget, sample: np.ndarray, up: str) -> float | None:
    """The mean cosine between the trunk of ``sample (T, 22, 3)`` (canonical body, its own world) and the ``up`` axis
    it was read with, when that is below `LYING_TRUNK_COS` (the body lies through the history) and the axis was not
    told by anything — no mapping's ``up:``, no `world_up`, and the trunk did not stand along it (`trunk_axis`
    undecided: a body bending or turning over; or its travel along the trunk vetoed it: a jump), so `up_axes` took
    +y —, else None. QA: z-up files of a jump (CMU 02_04) and of a dance with a cartwheel (05_06) were forecast as
    bodies lying on the floor without a word. Measured on the corpus training and validation files (2 s windows every
    0.4 s; `runs/s34/up_note.py`): it speaks for 483 of the 556 z-up copies whose up is missed (10 of 11 whole files)
    and for 60 of 25,555 y-up windows (0.2 %: people lying or bent over; no whole file)."""
    if not len(sample) or up_told(rt, sample, up):
        return None
    upright = sample @ up_rotations([up])[0].T
    trunk = upright[:, _NECK] - upright[:, _PELVIS]
    cos = float((trunk[:, 1] / np.maximum(np.linalg.norm(trunk, axis=-1), 1e-12)).mean())
    return cos if cos < LYING_TRUNK_COS else None


def body_checks(rt: Retarget | None, history: np.ndarray, up: str | None = None) -> dict[str, Any]:
    """What a forecast's metadata says about a rig that does not read as a person (`posecast forecast` prints a note
    for each): ``trunk_to_legs_deg`` (`not_built_like_a_person`), ``toes_forward_cos`` (`sides_swapped`),
    ``hips_shoulders_cos`` with ``swapped_limbs`` (`_limbs_swapped`: the left and right of the legs or of the arms
    alone swapped, in a mapping: QA, bones changing by 41 cm without a word), ``crossed_at`` (`crossed_limbs`: left
    and right swapped from a limb joint down, the feet only, say), ``body_length_m``
    (`leg_and_trunk_length` outside `PERSON_SIZE_M`: a person written in other units — centimetres read as metres
    scaled by 0.01 made a 0.24 m body that forecast without a word, QA — or not a person), and with ``up`` (the axis
    the model read the history with) ``trunk_up_cos`` (`lying_with_up_untold`: lying, the up axis not told)."""
    out: dict[str, Any] = {}
    if rt is None or not np.asarray(history).size:
        return out
    sample = canonical_sample(rt, history)  # (mapped once for the three checks)
    if (angle := _not_built_like_a_person(rt, sample)) is not None:
        out["trunk_to_legs_deg"] = round(angle, 1)
    upright, decided = _upright(rt, sample) if len(sample) else (sample, False)  # turned once for both checks
    limbs = _limbs_swapped(rt, upright, decided)  # the legs' or the arms' sides alone swapped: the toes read both
    if not limbs and (cos := _sides_swapped(rt, upright, decided)) is not None:
        out["toes_forward_cos"] = round(cos, 2)
    out |= limbs
    if crossed := crossed_limbs(rt, sample):
        out["crossed_at"] = crossed
    size = leg_and_trunk_length(sample)
    if not PERSON_SIZE_M[0] <= size <= PERSON_SIZE_M[1]:
        out["body_length_m"] = round(size, 3)
    if up is not None and (cos := lying_with_up_untold(rt, sample, up)) is not None:
        out["trunk_up_cos"] = round(cos, 2)
    return out


def trunk_to_legs(canonical: np.ndarray) -> Any:
    """Degrees between pelvis -> head and the mean of hip -> ankle of ``(..., 22, 3)`` canonical poses: ``(...)``
    (a float for one pose; 180 where a vector has no length)."""
    c = np.asarray(canonical, dtype=np.float64)
    trunk = c[..., _IDX["head"], :] - c[..., _IDX["pelvis"], :]
    legs = sum(c[..., _IDX[f"{s}_ankle"], :] - c[..., _IDX[f"{s}_hip"], :] for s in _SIDES)
    norm = np.linalg.norm(trunk, axis=-1) * np.linalg.norm(legs, axis=-1)
    cos = np.clip((trunk * legs).sum(axis=-1) / np.maximum(norm, 1e-12), -1.0, 1.0)
    angle = np.where(norm < 1e-12, 180.0, np.degrees(np.arccos(cos)))
    return float(angle) if angle.ndim == 0 else angle


# ------------------------------------------------------------------------------------------- up
def _rx(deg: float) -> np.ndarray:
    c, s = round(np.cos(np.radians(deg))), round(np.sin(np.radians(deg)))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rz(deg: float) -> np.ndarray:
    c, s = round(np.cos(np.radians(deg))), round(np.sin(np.radians(deg)))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


UP_ROTATIONS: dict[str, np.ndarray] = {
    "+y": np.eye(3),
    "-y": _rx(180.0),
    "+z": _rx(-90.0),  # (x, y, z) -> (x, z, -y): AMASS's and ROS's z-up worlds (`posecast.io.amass`)
    "-z": _rx(90.0),
    "+x": _rz(90.0),
    "-x": _rz(-90.0),
}
"""Signed axis the body stands along -> the proper rotation ``R`` (``y = R @ x``) that turns it to +y,
PoseCast's up; a rotation about one axis, never a mirror, so left stays left."""
for _r in UP_ROTATIONS.values():
    _r.setflags(write=False)

UP_TOLERANCE_DEG = 30.0
"""The mean trunk direction must lie within this angle of an axis to count as standing along it."""
UP_CONSISTENCY = 0.8
"""... and the length of the mean of the per-frame unit trunk directions must reach this (1: the same
direction in every frame; a body turning over in the window falls below it)."""

_PELVIS, _NECK = _IDX["pelvis"], _IDX["neck"]


def trunk_axis(canonical: Any) -> list[str | None]:
    """The signed axis each history's trunk (pelvis -> neck) stands along, or None where undecided.

    Args:
        canonical: ``(..., T, 22, 3)`` positions on the canonical body (a rest pose: ``T = 1``).

    Returns:
        one entry per leading index (flattened, C order): ``"+y"``, ``"-z"``, ... when the mean of the
        frames' unit trunk directions is at least `UP_CONSISTENCY` long and within `UP_TOLERANCE_DEG` of
        that axis, else None.
    """
    arr = np.asarray(canonical, dtype=np.float64)
    trunk = arr[..., _NECK, :] - arr[..., _PELVIS, :]  # (..., T, 3)
    unit = trunk / np.maximum(np.linalg.norm(trunk, axis=-1, keepdims=True), 1e-12)
    mean = unit.mean(axis=-2).reshape(-1, 3)  # (N, 3)
    length = np.linalg.norm(mean, axis=-1)
    axis = np.abs(mean).argmax(axis=-1)
    cos = np.abs(mean[np.arange(len(mean)), axis]) / np.maximum(length, 1e-12)
    ok = (length >= UP_CONSISTENCY) & (cos >= np.cos(np.radians(UP_TOLERANCE_DEG)))
    sign = np.sign(mean[np.arange(len(mean)), axis])
    return [f"{'+' if g > 0 else '-'}{'xyz'[a]}" if k else None for a, g, k in zip(axis, sign, ok, strict=True)]


TRAVEL_VETO_M = 0.15
"""A history whose pelvis travels more than this (metres, summed over frames) along the axis its trunk
stands along, and more along it than across it, is not turned: the body lies along its path (crawling,
a climb along bars), it does not stand on it."""

UP_KEY = "up"
"""The mapping entry that names the data's up axis (``up: z``) instead of finding it (`up_axes`)."""


_WORLD_UP: contextvars.ContextVar[str | None] = contextvars.ContextVar("posecast_world_up", default=None)
_WORLD_UP_TOLD: contextvars.ContextVar[bool] = contextvars.ContextVar("posecast_world_up_told", default=True)


@contextlib.contextmanager
def world_up(axis: str, told: bool = True) -> Iterator[None]:
    """Histories bound models see inside this block are in a world with ``axis`` up (`parse_up`: ``"y"``,
    ``"-z"``, ...; a mapping's own ``up:`` entry still wins). Also a decorator. Benchmark protocols state
    their data sets' world (y up) with it, so that their windows - 2 s of a person lying on the floor among
    them - are scored as recorded rather than through `up_axes`' guess. ``told=False``: the axis was judged from
    the motion, not given (`posecast.api.forecast_tail` judges a long take's once for its tail), and the body
    checks may still say that it was not told (`up_told`)."""
    token = _WORLD_UP.set(parse_up(axis))
    told_token = _WORLD_UP_TOLD.set(bool(told))
    try:
        yield
    finally:
        _WORLD_UP_TOLD.reset(told_token)
        _WORLD_UP.reset(token)


def up_told(rt: Retarget, canonical: np.ndarray, up: str) -> bool:
    """Whether the ``up`` axis a history ``canonical (T, 22, 3)`` (canonical body, its own world) is read with was
    told rather than taken for want of one: a mapping's ``up:``, a `world_up` block given as told, or the trunk
    standing along it (`trunk_axis`)."""
    if rt.up is not None or (_WORLD_UP.get() is not None and _WORLD_UP_TOLD.get()):
        return True
    return bool(len(canonical)) and trunk_axis(np.asarray(canonical)[None])[0] == up


def up_axes(canonical: Any, explicit: str | None = None) -> list[str]:
    """Which way is up in each history's world.

    ``explicit`` (`Retarget.up`, from a mapping's ``up:`` entry) when given; else the axis of an enclosing
    `world_up` block; else the axis the trunk stands along through the history (`trunk_axis`), unless the
    pelvis travels mostly along that axis (`TRAVEL_VETO_M`); else ``"+y"``, PoseCast's up. Rest poses are not
    used: real rigs have rest poses that do not stand in their world (Bandai Namco's lies along x). Measured
    on the corpus training and validation splits (y up; 20,470 windows of 2 s every 0.4 s, and the same
    windows turned z up at random headings): 3 windows (0.015 %, a child climbing in a playground, CMU 01)
    are taken for another axis, 97.1 % of the z-up ones are found; the rest stays y (a body bent or turning
    over for the whole history). A person lying down through the whole history on a still floor is taken as
    standing in a world with that axis up; name ``up`` then.

    Args:
        canonical: ``(B, T, 22, 3)`` histories on the canonical body, in the source's world.
        explicit: a key of `UP_ROTATIONS`, or None.

    Returns:
        ``B`` signed axes, keys of `UP_ROTATIONS`.
    """
    arr = np.asarray(canonical, dtype=np.float64)
    explicit = explicit or _WORLD_UP.get()
    if explicit is not None:
        return [explicit] * arr.shape[0]
    out = []
    for history, axis in zip(arr, trunk_axis(arr), strict=True):
        if axis is None or axis == "+y":
            out.append("+y")
            continue
        a = UP_ROTATIONS[axis][1]  # the unit vector of ``axis`` (the row R maps onto +y)
        step = np.diff(history[:, _PELVIS], axis=0)  # (T - 1, 3)
        proj = step @ a
        along, across = np.abs(proj).sum(), np.linalg.norm(step - proj[:, None] * a, axis=-1).sum()
        travels = along > TRAVEL_VETO_M and along > across
        out.append("+y" if travels else axis)
    return out


def motion_up_axis(positions: Any, skeleton: Skeleton | str, mapping: Any = None) -> str | None:
    """The up axis of one motion ``(T, J, 3)`` on ``skeleton`` (`up_axes` over all of it; a ``mapping``'s ``up:``
    entry wins), or None when the skeleton does not map onto the canonical body (with ``mapping``, `retarget`'s)."""
    try:
        rt = retarget(skeleton, mapping)
    except SkeletonError:
        return None
    return up_axes(rt.to_canonical(np.asarray(positions, dtype=np.float64))[None], rt.up)[0]


def up_rotations(axes: list[str]) -> np.ndarray:
    """``(B, 3, 3)`` rotations turning each history's up axis (`up_axes`) to +y."""
    return np.stack([UP_ROTATIONS[a] for a in axes]) if axes else np.zeros((0, 3, 3))


# ------------------------------------------------------------------------------------------ floor
FLOOR_REF_M = 0.04
"""Height (metres) of the lowest canonical joint over a 2 s window of the training corpus, median (Bandai Namco
0.042, CMU BVH 0.057, the CMU-Mocap files 0.033: the toe bases of a person standing on a floor at y = 0)."""
FLOOR_LOW_M = (-0.20, -0.10)
"""Floor of a history (`floor_offsets`; metres, y up): at or below the first value the history is moved so that
it sits at `FLOOR_REF_M`; above the second it is left as it is; linear in between, so that a forecast never jumps
with a millimetre of height. The training corpus never goes below -0.08 (calibration); a history far below the
floor is in another world (camera-space trackers put the origin at the camera, about 1 m up; an in-place export
at the hips)."""
FLOOR_PERCENTILE = 10.0
"""The floor of a history: this percentile over its frames of each frame's lowest canonical joint (a person in
flight, or a few glitch frames, do not set it)."""
FLOOR_HIGH_M = (1.10, 1.20)
"""The same above: left as it is up to the first value (the corpus reaches 1.06 in 2 s windows: a child climbing
in a playground, CMU 01), moved entirely from the second on."""


def floor_heights(upright: Any, window: int | None = None, up: Any = None) -> np.ndarray:
    """``(B,)`` floor height of each history ``(B, T, J, 3)`` (y up, or along the unit vector ``up``): the
    `FLOOR_PERCENTILE` th percentile over its last ``window`` frames (None: all) of each frame's lowest joint."""
    arr = np.asarray(upright, dtype=np.float64)
    if window is not None:
        arr = arr[..., -max(1, int(window)) :, :, :]
    heights = arr[..., 1] if up is None else arr @ np.asarray(up, dtype=np.float64)
    return np.percentile(heights.min(axis=-1), FLOOR_PERCENTILE, axis=-1)


def floor_offsets(
    upright: Any,
    window: int | None = None,
    low: tuple[float, float] = FLOOR_LOW_M,
    high: tuple[float, float] = FLOOR_HIGH_M,
    ref: float = FLOOR_REF_M,
) -> np.ndarray:
    """How far to lower each history's world so that its floor sits where the training corpus has it.

    The learned models read absolute heights (they were trained with the floor at y = 0): with ``g`` the floor
    height of a history — the `FLOOR_PERCENTILE` th percentile over its last ``window`` frames of each frame's
    lowest canonical joint, so that a capture glitch of a few frames does not move it — the history is moved by
    ``w * (g - ref)``, ``w`` 1 at or beyond the outer values of ``low`` and ``high``, 0 between their inner
    values, linear in between.

    Args:
        upright: ``(B, T, 22, 3)`` histories on the canonical body, y up (after `up_axes`).
        window: the frames the model reads (the last ones; None: all): a motion's earlier frames do not count.

    Returns:
        ``(B,)`` metres to subtract from every y of the history (and add back to the forecast's).
    """
    g = floor_heights(upright, window)
    below = np.clip((low[1] - g) / (low[1] - low[0]), 0.0, 1.0)
    above = np.clip((g - high[0]) / (high[1] - high[0]), 0.0, 1.0)
    return np.maximum(below, above) * (g - ref)


# ---------------------------------------------------------------------------------- mapping files
def mapping_with_up(mapping: Mapping[str, Any] | str | os.PathLike[str] | None, up: str) -> dict[str, Any]:
    """An explicit mapping (a dict, a YAML/JSON file or None) with its ``up:`` entry set to ``up`` (`parse_up`)."""
    if mapping is None:
        table: dict[str, Any] = {}
    elif isinstance(mapping, str | os.PathLike):
        table = load_mapping_file(mapping)
    else:
        table = dict(mapping)
    table[UP_KEY] = parse_up(up)
    return table


def parse_up(value: Any, where: str | None = None) -> str:
    """``"z"``, ``"+Z"``, ``"-y"``, ``"z-up"`` ... -> a key of `UP_ROTATIONS`; `SkeletonError` naming ``where``
    otherwise."""
    text = value.strip().lower() if isinstance(value, str) else ""
    text = text.removesuffix("-up").removesuffix(" up").strip()
    axis = text if text[:1] in "+-" else f"+{text}"
    if axis not in UP_ROTATIONS:
        raise SkeletonError(f"up axis {value!r}: give x, y or z, with a minus sign if it points down (-z)", where)
    return axis


def validate_mapping_table(data: Any, where: str | None = None) -> dict[str, Any]:
    """A joint mapping given as a table (parsed JSON / YAML, e.g. a service's form field) checked as a mapping file's
    is (`load_mapping_file`); a `SkeletonError` naming ``where`` otherwise."""
    return _validate_table(data, where)


def _validate_table(data: Any, where: str | None) -> dict[str, Any]:
    if not isinstance(data, Mapping) or not data:
        raise SkeletonError("a joint mapping must be a non-empty table {canonical joint: source joint}", where)
    out: dict[str, Any] = {}
    for c, entry in data.items():
        if c == UP_KEY:
            out[UP_KEY] = parse_up(entry, where)
            continue
        if c not in _IDX:
            raise SkeletonError(f"unknown canonical joint {c!r}; the {CANONICAL} joints are {', '.join(NAMES)}", where)
        if isinstance(entry, str):
            entry = {entry: 1.0}
        if not isinstance(entry, Mapping) or not entry:
            raise SkeletonError(f"{c}: give a source joint name or a table {{source joint: weight}}", where)
        weights: dict[str, float] = {}
        for n, w in entry.items():
            if not isinstance(n, str) or isinstance(w, bool) or not isinstance(w, int | float):
                raise SkeletonError(f"{c}: entry {n!r}: {w!r} is not 'source joint: number'", where)
            if not np.isfinite(w):
                raise SkeletonError(f"{c}: weight of {n!r} is {w} (must be a finite number)", where)
            weights[n] = float(w)
        total = sum(weights.values())
        if not total > 1e-9:
            raise SkeletonError(f"{c}: weights sum to {total:g} (must be positive; they are scaled to sum to 1)", where)
        out[c] = {n: w / total for n, w in weights.items()}
    return out


def _no_duplicates_json(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise SkeletonError(f"duplicate entry {k!r}")
        seen[k] = v
    return seen


def _yaml_load(text: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
        keys = set()
        for knode, _ in node.value:
            k = loader.construct_object(knode, deep=deep)
            if k in keys:
                raise SkeletonError(f"duplicate entry {k!r} (line {knode.start_mark.line + 1})")
            keys.add(k)
        return loader.construct_mapping(node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise SkeletonError(f"not valid YAML: {' '.join(str(exc).split())}") from None


def load_mapping_file(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """Read and check an explicit joint mapping (YAML, or JSON by the ``.json`` suffix).

    The file holds ``{canonical joint: source joint | {source joint: weight}}`` for any subset of the
    ``smplh-22`` joints, e.g. ``left_collar: {Spine2: 0.5, LeftArm: 0.5}``. Weights are scaled to sum
    to 1 (negative ones allowed as long as the sum is positive).

    Returns:
        ``{canonical joint: {source joint: weight}}``.

    Raises:
        SkeletonError: naming the file: unreadable, not YAML/JSON, duplicate entries, unknown canonical
            joints, non-finite weights or weights that do not sum to a positive number. Source joint
            names are checked against the skeleton by `retarget`.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkeletonError(f"cannot read mapping file: {getattr(exc, 'strerror', None) or exc}", p) from None
    try:
        if p.suffix.lower() == ".json":
            try:
                data = json.loads(text, object_pairs_hook=_no_duplicates_json)
            except json.JSONDecodeError as exc:
                raise SkeletonError(f"not valid JSON: {exc}") from None
        else:
            data = _yaml_load(text)
        return _validate_table(data, None)
    except SkeletonError as exc:
        raise SkeletonError(exc.problem, p) from None
