"""Skeleton definitions as data, a registry by name, and mappings between layouts.

``posecast.skeletons.get("cmu-mocap-38")`` returns a `Skeleton`; ``names()`` lists them all.
"""

from posecast.skeletons import cmu  # noqa: F401  (registers the CMU skeletons)
from posecast.skeletons.base import Skeleton, get, names, register

__all__ = ["Skeleton", "get", "names", "register"]
