"""The `Skeleton` type and the registry of named skeleton definitions.

A skeleton is data: joint names, a parent per joint (a tree in topological order, root first),
optional rest offsets in metres (each joint relative to its parent, in the parent's rest frame,
y up), left/right pairs and end effectors. FK, mirroring, rendering and metrics all read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posecast.errors import SkeletonError


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A kinematic tree declared as data.

    Attributes:
        name: registry name, e.g. ``"cmu-mocap-38"``.
        joint_names: ``J`` unique names.
        parents: ``J`` parent indices, ``-1`` for the root (index 0); every parent precedes its child.
        offsets: ``(J, 3)`` rest offsets in metres relative to the parent (root row: zeros), or
            ``None`` for keypoint layouts without a kinematic model (COCO, BlazePose).
        left_right: ``(left, right)`` index pairs of mirrored joints.
        end_effectors: indices of end effectors (hands, feet, head).
        description: where the definition comes from.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray | None = None
    left_right: tuple[tuple[int, int], ...] = ()
    end_effectors: tuple[int, ...] = ()
    description: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        shape = f"skeleton {self.name!r}: joint_names must be a list of names and parents a list of joint indices"
        if not isinstance(self.name, str) or not self.name:
            raise SkeletonError(f"a skeleton's name must be a non-empty string, got {self.name!r}")
        if isinstance(self.joint_names, str):  # (QA: "ab" was taken as the joints 'a' and 'b')
            raise SkeletonError(shape)
        try:  # whole numbers only (QA: a parent 0.5 was taken as 0); names as written, numbers of names refused
            if any(not isinstance(n, str) for n in self.joint_names):
                raise TypeError
            names = tuple(self.joint_names)
            if any(isinstance(p, bool) or float(p) != int(p) for p in self.parents):
                raise ValueError
            parents = tuple(int(p) for p in self.parents)
        except (TypeError, ValueError, OverflowError):
            raise SkeletonError(shape) from None
        object.__setattr__(self, "joint_names", names)
        object.__setattr__(self, "parents", parents)
        j = len(names)
        if j == 0:
            raise SkeletonError(f"skeleton {self.name!r} has no joints")
        if len(parents) != j:
            raise SkeletonError(f"skeleton {self.name!r}: {j} names but {len(parents)} parents")
        if len(set(names)) != j:
            raise SkeletonError(f"skeleton {self.name!r} has duplicate joint names")
        if not parents_first(parents):
            raise SkeletonError(
                f"skeleton {self.name!r}: joint 0 must be the root and every parent must come before its child"
            )
        if self.offsets is not None:
            try:
                off = np.asarray(self.offsets, dtype=np.float64)
            except (TypeError, ValueError):
                raise SkeletonError(f"skeleton {self.name!r}: offsets must be {j}×3 numbers") from None
            if off.size != 3 * j:
                raise SkeletonError(f"skeleton {self.name!r}: offsets must be {j}×3 numbers, got shape {off.shape}")
            if not np.isfinite(off).all():
                raise SkeletonError(f"skeleton {self.name!r}: offsets hold NaN or infinite values")
            off = off.reshape(j, 3).copy()
            off.setflags(write=False)
            object.__setattr__(self, "offsets", off)
        try:
            pairs = tuple((int(a), int(b)) for a, b in self.left_right)
        except (TypeError, ValueError):
            raise SkeletonError(f"skeleton {self.name!r}: left_right must be pairs of joint indices") from None
        for a, b in pairs:
            if not (0 <= a < j and 0 <= b < j) or a == b:
                raise SkeletonError(f"skeleton {self.name!r}: bad left/right pair ({a}, {b})")
        object.__setattr__(self, "left_right", pairs)
        try:
            ends = tuple(int(e) for e in self.end_effectors)
        except (TypeError, ValueError):
            raise SkeletonError(f"skeleton {self.name!r}: end_effectors must be joint indices") from None
        if any(not 0 <= e < j for e in ends):  # (QA: an index past the joints was taken)
            raise SkeletonError(f"skeleton {self.name!r}: end_effectors {ends} outside joints 0..{j - 1}")
        object.__setattr__(self, "end_effectors", ends)
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    # ----------------------------------------------------------------------------------- queries
    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def parent_array(self) -> np.ndarray:
        """``(J,)`` int parent indices, ``-1`` for the root."""
        return np.asarray(self.parents, dtype=np.int64)

    @property
    def bones(self) -> np.ndarray:
        """``(J-1, 2)`` ``(parent, child)`` index pairs, one per non-root joint."""
        child = np.arange(1, self.num_joints)
        return np.stack([self.parent_array[1:], child], axis=1)

    @property
    def has_offsets(self) -> bool:
        return self.offsets is not None

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise SkeletonError(f"skeleton {self.name!r} has no joint {name!r}") from None

    def indices(self, names: Iterable[str]) -> list[int]:
        if isinstance(names, str):  # (QA: "Hips" was read letter by letter: "has no joint 'H'")
            raise SkeletonError(
                f"skeleton {self.name!r}: indices takes a list of joint names, not the string {names!r}"
            )
        return [self.index(n) for n in names]

    def children(self, joint: int) -> list[int]:
        if isinstance(joint, bool) or not isinstance(joint, int | np.integer) or not 0 <= joint < self.num_joints:
            raise SkeletonError(f"skeleton {self.name!r} has no joint {joint!r} (indices 0..{self.num_joints - 1})")
        return [i for i, p in enumerate(self.parents) if p == joint]

    @property
    def leaves(self) -> tuple[int, ...]:
        """Indices of the joints without a child (in index order)."""
        has_child = {p for p in self.parents if p >= 0}
        return tuple(j for j in range(self.num_joints) if j not in has_child)

    @property
    def mirror_permutation(self) -> np.ndarray:
        """``(J,)`` permutation that swaps every left joint with its right twin."""
        perm = np.arange(self.num_joints)
        for a, b in self.left_right:
            perm[a], perm[b] = b, a
        return perm

    def rest_positions(self) -> np.ndarray:
        """``(J, 3)`` joint positions in the rest pose, root at the origin (metres)."""
        if self.offsets is None:
            raise SkeletonError(f"skeleton {self.name!r} has no rest offsets")
        pos = np.zeros((self.num_joints, 3))
        for j in range(1, self.num_joints):
            pos[j] = pos[self.parents[j]] + self.offsets[j]
        return pos

    def bone_lengths(self) -> np.ndarray:
        """``(J-1,)`` rest bone lengths in metres (one per non-root joint)."""
        if self.offsets is None:
            raise SkeletonError(f"skeleton {self.name!r} has no rest offsets")
        return np.linalg.norm(self.offsets[1:], axis=-1)

    # ------------------------------------------------------------------------------ derivations
    def with_offsets(self, offsets: np.ndarray, name: str | None = None) -> Skeleton:
        """The same tree with other rest offsets ``(J, 3)`` (metres), e.g. a subject's own."""
        return Skeleton(
            name=name or self.name,
            joint_names=self.joint_names,
            parents=self.parents,
            offsets=np.asarray(offsets, dtype=np.float64),
            left_right=self.left_right,
            end_effectors=self.end_effectors,
            description=self.description,
        )

    def subset(self, joints: Sequence[int | str], name: str | None = None) -> Skeleton:
        """A skeleton on the kept joints (order preserved), re-parented to the nearest kept ancestor.

        Offsets of the subset are rest-pose differences, exact for positions in the rest pose.
        The root must be kept.
        """
        keep = sorted({j if isinstance(j, int) else self.index(j) for j in joints})
        outside = [j for j in keep if not 0 <= j < self.num_joints]
        if outside:  # (QA: said "must keep the root joint")
            raise SkeletonError(f"subset of {self.name!r}: no joint {outside[0]} (indices 0..{self.num_joints - 1})")
        if not keep or keep[0] != 0:
            raise SkeletonError(f"subset of {self.name!r} must keep the root joint")
        new_index = {old: new for new, old in enumerate(keep)}
        parents = []
        for old in keep:
            p = self.parents[old]
            while p != -1 and p not in new_index:
                p = self.parents[p]
            parents.append(-1 if p == -1 else new_index[p])
        offsets = None
        if self.offsets is not None:
            rest = self.rest_positions()[keep]
            offsets = np.zeros_like(rest)
            for i, p in enumerate(parents):
                if p >= 0:
                    offsets[i] = rest[i] - rest[p]
        pairs = tuple((new_index[a], new_index[b]) for a, b in self.left_right if a in new_index and b in new_index)
        return Skeleton(
            name=name or f"{self.name}-subset{len(keep)}",
            joint_names=tuple(self.joint_names[i] for i in keep),
            parents=tuple(parents),
            offsets=offsets,
            left_right=pairs,
            end_effectors=tuple(new_index[e] for e in self.end_effectors if e in new_index),
            description=f"subset of {self.name}",
        )

    # ---------------------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "joint_names": list(self.joint_names),
            "parents": list(self.parents),
            "offsets": None if self.offsets is None else self.offsets.tolist(),
            "left_right": [list(p) for p in self.left_right],
            "end_effectors": list(self.end_effectors),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Skeleton:
        if not isinstance(data, dict) or not {"name", "joint_names", "parents"} <= set(data):
            raise SkeletonError(  # (QA: "invalid skeleton description: 'name'")
                "a skeleton description is a mapping with 'name', 'joint_names' and 'parents' (and optionally "
                f"'offsets', 'left_right', 'end_effectors', 'description'), got {str(data)[:80]}"
            )
        try:
            return cls(
                name=str(data["name"]),
                joint_names=tuple(data["joint_names"]),
                parents=tuple(data["parents"]),
                offsets=None if data.get("offsets") is None else np.asarray(data["offsets"], float),
                left_right=tuple(tuple(p) for p in data.get("left_right", ())),
                end_effectors=tuple(data.get("end_effectors", ())),
                description=str(data.get("description", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SkeletonError(f"invalid skeleton description: {exc}") from None

    def same_layout(self, other: Skeleton) -> bool:
        """True when both have the same joint names and parents (offsets may differ)."""
        if not isinstance(other, Skeleton):  # (QA: an AttributeError for a name or a number)
            raise SkeletonError(f"compares with a Skeleton, not {type(other).__name__} {other!r}")
        return self.joint_names == other.joint_names and self.parents == other.parents

    def same_rig(self, other: Skeleton) -> bool:
        """Same joints, parents and rest offsets (a retargeting made for one holds for the other)."""
        if not self.same_layout(other) or (self.offsets is None) != (other.offsets is None):
            return False
        return self.offsets is None or bool(np.array_equal(self.offsets, other.offsets))

    def __repr__(self) -> str:
        return f"Skeleton({self.name!r}, {self.num_joints} joints)"


def pairs_by_prefix(names: Sequence[str], left: str, right: str) -> tuple[tuple[int, int], ...]:
    """Left/right pairs of ``names`` whose names differ only by ``left`` → ``right`` (first occurrence)."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for i, n in enumerate(names):
        if left in n:
            twin = n.replace(left, right, 1)
            if twin in index:
                out.append((i, index[twin]))
    return tuple(out)


def parents_first(parents: Sequence[int]) -> bool:
    """True when joint 0 is the root (parent -1) and every other joint comes after its parent."""
    return parents[0] == -1 and all(0 <= p < i for i, p in enumerate(parents[1:], 1))


def in_any_order(
    name: str, joint_names: Sequence[str], parents: Sequence[int], offsets: Any = None
) -> tuple[Skeleton, np.ndarray | None]:
    """A skeleton given with its joints in any order (Kinect v2's SDK lists ``Neck`` before its parent
    ``SpineShoulder``; OpenNI starts at the head) as a `Skeleton`, whose joints must come after their parents.

    Returns:
        ``(skeleton, order)``: ``order (J,)`` lists, for each joint of ``skeleton``, its index in the given
        order (positions ``(..., J, 3)`` in the given order go in as ``positions[..., order, :]`` and come back
        as ``positions[..., np.argsort(order), :]``), or None when the given order already works (the
        skeleton is then exactly the one given). The order is depth-first from the root, children in their
        given order.

    Raises:
        SkeletonError: not exactly one root (parent -1), a parent index out of range, or joints that do not
            hang from the root (a cycle), named.
    """
    names, par = tuple(joint_names), [int(p) for p in parents]
    j = len(names)
    if len(par) != j:
        raise SkeletonError(f"skeleton {name!r}: {j} names but {len(par)} parents")
    if par and parents_first(par):
        return Skeleton(name=name, joint_names=names, parents=tuple(par), offsets=offsets), None
    bad = [names[i] for i, p in enumerate(par) if not -1 <= p < j or p == i]
    if bad:
        raise SkeletonError(
            f"skeleton {name!r}: joints with a parent index out of range or themselves: {', '.join(bad)}"
        )
    roots = [i for i, p in enumerate(par) if p == -1]
    if len(roots) != 1:
        found = ", ".join(names[i] for i in roots) or "none"
        raise SkeletonError(f"skeleton {name!r} needs exactly one root (parent -1); found {found}")
    children: list[list[int]] = [[] for _ in range(j)]
    for i, p in enumerate(par):
        if p >= 0:
            children[p].append(i)
    order: list[int] = []
    stack = [roots[0]]
    while stack:
        k = stack.pop()
        order.append(k)
        stack.extend(reversed(children[k]))
    if len(order) != j:
        loose = sorted(set(range(j)) - set(order))
        raise SkeletonError(
            f"skeleton {name!r}: joints not connected to the root {names[roots[0]]!r} (a cycle among their "
            f"parents): {', '.join(names[i] for i in loose)}"
        )
    idx = np.array(order, dtype=np.int64)
    where = np.argsort(idx)  # given index -> new index
    off = None if offsets is None else np.asarray(offsets, dtype=np.float64).reshape(j, 3)[idx]
    skel = Skeleton(
        name=name,
        joint_names=tuple(names[i] for i in order),
        parents=tuple(-1 if par[i] < 0 else int(where[par[i]]) for i in order),
        offsets=off,
    )
    return skel, idx


# ------------------------------------------------------------------------------------- registry
_FACTORIES: dict[str, Callable[[], Skeleton]] = {}
_CACHE: dict[str, Skeleton] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, *aliases: str) -> Callable[[Callable[[], Skeleton]], Callable[[], Skeleton]]:
    """Decorator registering a zero-argument skeleton factory under ``name`` (and aliases)."""

    def deco(factory: Callable[[], Skeleton]) -> Callable[[], Skeleton]:
        _FACTORIES[name] = factory
        for alias in aliases:
            _ALIASES[alias] = name
        return factory

    return deco


def get(name: str | Skeleton) -> Skeleton:
    """The registered skeleton called ``name`` (a `Skeleton` is returned unchanged)."""
    if isinstance(name, Skeleton):
        return name
    if not isinstance(name, str):  # (QA: a list raised "unhashable type")
        raise SkeletonError(f"a skeleton is a registered name or a Skeleton, not {type(name).__name__} {name!r}")
    key = _ALIASES.get(name, name)
    if key not in _FACTORIES:
        import difflib

        names = sorted([*_FACTORIES, *_ALIASES])
        low = str(name).strip().lower().replace("_", "-")
        close = [low] if low in names else difflib.get_close_matches(low, names, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}? known: " if close else "; known: "
        raise SkeletonError(f"unknown skeleton {name!r}{hint}{', '.join(sorted(_FACTORIES))}")
    if key not in _CACHE:
        _CACHE[key] = _FACTORIES[key]()
    return _CACHE[key]


def is_registered(skel: Skeleton) -> bool:
    """Whether ``skel`` has the layout of the registered skeleton of its name (a file's own rig has not)."""
    key = _ALIASES.get(skel.name, skel.name)
    return key in _FACTORIES and get(key).same_layout(skel)


def names() -> list[str]:
    """Names of all registered skeletons."""
    return sorted(_FACTORIES)
