"""One entry point for every file format: ``load(path)`` and ``save(obj, path)``.

Each format module registers a `Format` (name, suffixes, a content sniffer, a reader and an
optional writer). `load` picks the reader by content first and by suffix second; `save` by suffix
(or an explicit ``format=``). Writers go through `atomic_output`, so a failed write never leaves a
half-written file behind.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posecast.errors import FormatError, PosecastError

#: Modules that register formats, imported on first use (keeps ``import posecast`` fast).
FORMAT_MODULES = (
    "posecast.io.arrays",
    "posecast.io.bvh",
    "posecast.io.expmap_txt",
    "posecast.io.amass",
)

SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Format:
    """A file format.

    Attributes:
        name: short name (``"bvh"``, ``"cmu-expmap"``...).
        suffixes: lower-case suffixes with the dot (``(".bvh",)``).
        read: ``read(path, **options) -> Motion | Forecast``; raises `FormatError` on bad content.
        write: ``write(obj, path, **options)`` or ``None`` for read-only formats; it must write to
            exactly ``path`` (callers hand it a temporary path and rename afterwards).
        sniff: ``sniff(head: bytes, path) -> bool``, True when the first bytes identify the format;
            ``None`` when only the suffix can tell.
        description: one line for ``posecast info --formats`` and the docs.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[..., Any]
    write: Callable[..., None] | None = None
    sniff: Callable[[bytes, Path], bool] | None = None
    description: str = ""


_FORMATS: dict[str, Format] = {}
_loaded = False


def register_format(fmt: Format) -> Format:
    _FORMATS[fmt.name] = fmt
    return fmt


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        for mod in FORMAT_MODULES:
            importlib.import_module(mod)
        _loaded = True


def formats() -> list[Format]:
    """All registered formats."""
    _ensure_loaded()
    return list(_FORMATS.values())


def get_format(name: str) -> Format:
    _ensure_loaded()
    if name not in _FORMATS:
        raise FormatError(f"unknown format {name!r}; known: {', '.join(sorted(_FORMATS))}")
    return _FORMATS[name]


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-1:]).lower()


def detect_format(path: str | os.PathLike[str]) -> Format:
    """The format of an existing file: by content when a sniffer recognises it, else by suffix."""
    _ensure_loaded()
    p = Path(path)
    if not p.exists():
        raise FormatError("no such file", p)
    if p.is_dir():
        raise FormatError("is a directory, not a motion file", p)
    try:
        with open(p, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror}", p) from None
    if not head:
        raise FormatError("file is empty", p)
    suffix = _suffix(p)
    by_suffix = [f for f in _FORMATS.values() if suffix in f.suffixes]
    # Content wins, preferring formats whose suffix also matches.
    for fmt in sorted(_FORMATS.values(), key=lambda f: f not in by_suffix):
        if fmt.sniff is not None and fmt.sniff(head, p):
            return fmt
    if by_suffix:
        return by_suffix[0]
    known = sorted({s for f in _FORMATS.values() for s in f.suffixes})
    raise FormatError(f"unrecognised file format (suffix {suffix or 'none'!r}; known: {', '.join(known)})", p)


def load(path: str | os.PathLike[str], format: str | None = None, **options: Any) -> Any:
    """Read a motion (or a saved forecast) from any supported file.

    Args:
        path: the file.
        format: force a format by name instead of detecting it.
        **options: passed to the reader (e.g. ``skeleton=``, ``fps=`` for plain arrays).

    Returns:
        a `posecast.Motion` (or `posecast.Forecast` for saved forecasts), positions in metres.

    Raises:
        PosecastError: naming the file and the problem.
    """
    p = Path(path)
    fmt = get_format(format) if format else detect_format(p)
    if format and not p.is_file():
        raise FormatError("no such file", p)
    try:
        return fmt.read(p, **options)
    except PosecastError as exc:
        if exc.path is None:
            raise type(exc)(exc.problem, p) from None
        raise
    except (
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        UnicodeDecodeError,
        EOFError,
        OSError,
        zipfile.BadZipFile,
    ) as exc:
        raise FormatError(f"not a valid {fmt.name} file ({type(exc).__name__}: {exc})", p) from None


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``, on error delete it.

    Use it for every output file so that nothing half-written is ever left behind.
    """
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise FormatError("output directory does not exist", target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix or ".tmp", dir=target.parent or ".")
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)  # mkstemp creates 0600; give the result the usual permissions instead
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def save(obj: Any, path: str | os.PathLike[str], format: str | None = None, **options: Any) -> Path:
    """Write a `Motion` or `Forecast` to ``path`` in the format given by its suffix (or ``format``).

    The write is atomic: on any error no file is left at ``path``.
    """
    _ensure_loaded()
    p = Path(path)
    if format:
        fmt = get_format(format)
    else:
        suffix = _suffix(p)
        candidates = [f for f in _FORMATS.values() if suffix in f.suffixes and f.write is not None]
        if not candidates:
            writable = sorted({s for f in _FORMATS.values() if f.write for s in f.suffixes})
            raise FormatError(f"cannot write {suffix or 'files without a suffix'}; writable: {', '.join(writable)}", p)
        fmt = candidates[0]
    if fmt.write is None:
        raise FormatError(f"format {fmt.name} is read-only", p)
    try:
        with atomic_output(p) as tmp:
            fmt.write(obj, tmp, **options)
    except PosecastError as exc:  # name the target, not the temporary file the writer was given
        raise type(exc)(exc.problem, p) from None
    return p
