"""One error family for everything that can go wrong with user input, and `quiet` for the warnings PoseCast
expects and leaves out.

Every error names the file (when there is one) and the problem, so that the CLI can print a single
line and exit with code 2.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike

_QUIET = threading.RLock()


@contextmanager
def quiet(*categories: type[Warning], wait: bool = True) -> Iterator[None]:
    """Leave out warnings of ``categories`` (every warning when none is given) inside the block.

    ``warnings.catch_warnings`` saves the process-wide filter list on entry and puts it back on exit, which is not
    thread-safe (Python 3.14's free-threaded build aside): two threads' blocks interleaved leave one block's "ignore"
    in place for the whole process (four threads loading BVH files had silenced every later warning of the user's;
    found by a threads QA). Every such block of PoseCast's takes this one lock, so they never interleave with each
    other (a user's own ``catch_warnings`` blocks in other threads are not ordered by it, and while a block runs other
    threads' warnings of those categories are left out too). ``wait=False``, for cheap blocks on paths that run per
    frame or per file: when another thread holds the lock (a model being traced holds it for up to a few seconds), the
    block runs at once without leaving anything out, so a rare warning may show instead of the thread stalling."""
    if not _QUIET.acquire(blocking=wait):
        yield
        return
    try:
        with warnings.catch_warnings():
            if not categories:
                warnings.simplefilter("ignore")
            for category in categories:
                warnings.simplefilter("ignore", category)
            yield
    finally:
        _QUIET.release()


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


class NeedsReadingOptions(FormatError):
    """A file that reads only with an option it does not carry: the skeleton and rate of plain numbers, a BVH's real
    frame rate, an AMC clip's ASF (its message names the option: ``fps= (CLI: --fps)``). Training on a folder adds
    that the reading options apply to every file of it (`posecast.datasets.training_data.folder_motions`)."""


class UnitsNeeded(ValueRangeError, NeedsReadingOptions):
    """Positions whose size says they are not metres (`posecast.io.reading.check_body_size`): the file's unit is
    needed (``units=``, CLI ``--units``), or the one given is not the file's."""


class DataNotFoundError(PosecastError):
    """A data set is not where ``POSECAST_DATA`` says it should be."""


#: items a message names one by one (`listed`); the rest are counted
LISTED = 5


def listed(items: list[str], sep: str = "; ", most: int = LISTED, rest: str = "") -> str:
    """``items`` for a message: the first ``most`` joined by ``sep``, then how many more there are (and ``rest``,
    where the whole list is, when some were left out: ``"all of them in the JSON: skipped_files"``)."""
    where = f" ({rest})" if rest else ""
    more = f"{sep}and {len(items) - most} more{where}" if len(items) > most else ""
    return sep.join(items[:most]) + more


def problems(exc: BaseException, most: int = 3) -> str:
    """One line for a validation error: pydantic's (anything with ``errors()``) as ``"N problems: field: message;
    ..."`` (the first ``most``; no input dumps, no links: the whole dump had been printed, 40 lines for a wrong
    weights folder), any other exception as its text on one line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = [f"{'.'.join(str(p) for p in e.get('loc', ())) or 'config'}: {e.get('msg', '')}" for e in errors()]
        except Exception:  # noqa: BLE001 (not pydantic's shape after all: its text)
            items = []
        if items:
            head = f"{len(items)} problem{'s' if len(items) != 1 else ''}: " if len(items) > 1 else ""
            return head + listed(items, most=most)
    return " ".join(str(exc).split())
