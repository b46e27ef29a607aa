"""One error family for everything that can go wrong with user input.

Every error names the file (when there is one) and the problem, so that the CLI can print a single
line and exit with code 2.
"""

from __future__ import annotations

from os import PathLike


class PosecastError(Exception):
    """Base class of every error PoseCast raises on purpose.

    ``str(err)`` is a complete, single-line message: ``"<path>: <problem>"`` when a path is known.
    """

    def __init__(self, message: str, path: str | PathLike[str] | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class FormatError(PosecastError):
    """A file is truncated, corrupt, of an unknown format or has values that make no sense."""


class SkeletonError(PosecastError):
    """An unknown skeleton name, or arrays that do not match the skeleton."""


class ValueRangeError(PosecastError):
    """An impossible argument: a negative horizon, zero fps, an empty motion and the like."""


class ModelError(PosecastError):
    """An unknown model name, or a checkpoint that does not match its model."""


class DataNotFoundError(PosecastError):
    """A data set is not where ``POSECAST_DATA`` says it should be."""


#: items a message names one by one (`listed`); the rest are counted
LISTED = 5


def listed(items: list[str], sep: str = "; ", most: int = LISTED) -> str:
    """``items`` for a message: the first ``most`` joined by ``sep``, then how many more there are."""
    more = f"{sep}and {len(items) - most} more" if len(items) > most else ""
    return sep.join(items[:most]) + more

