"""One entry point for every file format: ``load(path)`` and ``save(obj, path)``.

Each format module registers a `Format` (name, suffixes, a content sniffer, a reader and an
optional writer). `load` picks the reader by content first and by suffix second; `save` by suffix
(or an explicit ``format=``). Writers go through `atomic_output`, so a failed write never leaves a
half-written file behind.

Gzip: every format is also read from a gzip-compressed file (``clip.bvh.gz``, ``clip.amc.gz``,
``walk.csv.gz``, ``saved.npz.gz`` -- an ``.npz`` is already a zip archive, so compressing it gains
little, but it is accepted like the rest). `load` recognises gzip by its magic bytes (whatever the
suffix), decompresses the file in memory (at most `MAX_GUNZIP_BYTES`), picks the format from the
decompressed content and the inner suffix, and hands the reader a temporary copy named like the inner
file (readers that declare ``gzip_aware`` get the ``.gz`` path itself and read it through
`read_bytes`). Errors name the ``.gz`` file and ``metadata["source"]`` is the ``.gz`` path;
``metadata["compression"]`` is ``"gzip"``. `save` writes ``X.gz`` by the inner suffix, compressed.
"""

from __future__ import annotations

import gzip
import importlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from posecast.errors import FormatError, PosecastError, ValueRangeError

#: Modules that register formats, imported on first use (keeps ``import posecast`` fast).
FORMAT_MODULES = (
    "posecast.io.arrays",
    "posecast.io.bvh",
    "posecast.io.expmap_txt",
    "posecast.io.amass",
    "posecast.io.asf_amc",
)

SNIFF_BYTES = 4096

GZIP_MAGIC = b"\x1f\x8b"
GZIP_SUFFIX = ".gz"
#: Largest decompressed size `load` accepts from a gzip file (bytes): a guard against gzip bombs.
MAX_GUNZIP_BYTES = 2 * 1024**3
_GUNZIP_LIMIT: ContextVar[int | None] = ContextVar("posecast_gunzip_limit", default=None)


@contextmanager
def gunzip_limit(limit: int) -> Iterator[None]:
    """Inside the block (this thread or task), gzip content decompresses to at most ``limit`` bytes instead of
    `MAX_GUNZIP_BYTES` (a server's uploads: a small compressed file must not expand to gigabytes)."""
    token = _GUNZIP_LIMIT.set(int(limit))
    try:
        yield
    finally:
        _GUNZIP_LIMIT.reset(token)


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
        gzip_aware: the reader reads ``X.gz`` itself (through `read_bytes`); `load` then passes the
            compressed file's own path instead of a decompressed temporary copy (readers that look
            for companion files next to the input need the real location).
        writes: ``writes(obj) -> bool`` for formats that share a suffix with another writable one: whether
            this writer holds ``obj`` (`save` by suffix picks the first that does: ``.txt`` is the CMU or the
            Human3.6M exp-map layout by the motion's skeleton); ``None``: any object the writer takes.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[..., Any]
    write: Callable[..., None] | None = None
    sniff: Callable[[bytes, Path], bool] | None = None
    description: str = ""
    gzip_aware: bool = False
    writes: Callable[[Any], bool] | None = None


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


def inner_name(path: str | os.PathLike[str]) -> str:
    """The file name without a trailing ``.gz`` (``"clip.bvh.gz"`` → ``"clip.bvh"``)."""
    name = Path(path).name
    return name[: -len(GZIP_SUFFIX)] if name.lower().endswith(GZIP_SUFFIX) and len(name) > 3 else name


def format_suffix(path: str | os.PathLike[str]) -> str:
    """The lower-case suffix that names the format, looking through ``.gz``: ``"x.BVH.gz"`` → ``".bvh"``.

    Use it to pick motion files out of a folder: ``format_suffix(p) in {s for f in formats() for s in
    f.suffixes}`` also keeps the compressed ones.
    """
    return _suffix(Path(inner_name(path)))


LOOSE_SUFFIXES = (".txt", ".json")
"""Suffixes of motion formats that folders of takes also hold as other things (notes, settings, earlier results, a
run's config.json): such a file found in a folder that does not read as motion is skipped and named, not an error
(`posecast bench files`, `posecast train --data FOLDER`); given by name, it is an error."""


def motion_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every file under ``folder`` (all depths, sorted) that a motion format reads by its suffix, compressed ones
    included, except ASF skeletons (an AMC clip's skeleton, not a motion) and hidden files or folders (names
    starting with ``.``: macOS' ``._clip.bvh`` resource forks, ``.git``)."""
    root = Path(folder)
    _ensure_loaded()
    suffixes = {s for f in _FORMATS.values() for s in f.suffixes} - {".asf"}
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and format_suffix(p) in suffixes
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the gzip magic bytes (whatever its suffix)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC
    except OSError:
        return False


def _gunzip(data: bytes, path: Path, limit: int | None = None) -> bytes:
    """The decompressed content of gzip ``data`` read from ``path`` (every member); FormatError naming
    ``path`` when it is corrupt, truncated or larger than ``limit`` (default `MAX_GUNZIP_BYTES`)."""
    limit = MAX_GUNZIP_BYTES if limit is None else limit
    out: list[bytes] = []
    size = 0
    try:
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer, one member
            while True:
                chunk = d.decompress(data, max(1, limit + 1 - size))
                out.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise FormatError(f"gzip content is larger than {limit} bytes (the decompression bound)", path)
                data = d.unconsumed_tail
                if d.eof or not data:
                    break
            if not d.eof:
                raise FormatError(
                    "corrupt gzip file: it ends before the end of the compressed stream (truncated?)", path
                )
            data = d.unused_data.lstrip(b"\0")  # members follow each other; trailing zero padding is allowed
            if data and data[:2] != GZIP_MAGIC:
                raise FormatError("corrupt gzip file: unexpected bytes after the compressed stream", path)
    except zlib.error as exc:
        raise FormatError(f"corrupt gzip file ({exc})", path) from None
    return b"".join(out)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a file, decompressed when it is gzip-compressed (by its magic bytes).

    Readers that declare ``gzip_aware`` read their input through this. Raises `FormatError` naming
    ``path`` when the file cannot be read or the gzip stream is corrupt.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read: {exc.strerror or exc}", p) from None
    return _gunzip(data, p, _GUNZIP_LIMIT.get()) if data[:2] == GZIP_MAGIC else data


def _check_readable(p: Path) -> bytes:
    """The first bytes of ``p`` (FormatError: missing, a directory, unreadable, empty)."""
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
    return head


@contextmanager
def _decompressed(p: Path) -> Iterator[Path]:
    """A temporary copy of gzip file ``p``, decompressed, named like the inner file; removed afterwards."""
    data = read_bytes(p)
    if not data:
        raise FormatError("file is empty (after gzip decompression)", p)
    with tempfile.TemporaryDirectory(prefix="posecast-gz-") as tmp:
        inner = Path(tmp) / inner_name(p)
        inner.write_bytes(data)
        del data
        yield inner


def as_path(path: Any, what: str = "path") -> Path:
    """``path`` as a `Path`, or a `ValueRangeError` naming what was given instead (QA: ``load(42)`` raised
    pathlib's TypeError)."""
    if isinstance(path, bool) or not isinstance(path, str | os.PathLike):
        raise ValueRangeError(f"{what} must be a file path (str or os.PathLike), not {type(path).__name__} {path!r}")
    return Path(path)


def detect_format(path: str | os.PathLike[str]) -> Format:
    """The format of an existing file: by content when a sniffer recognises it, else by suffix.

    A gzip-compressed file gets the format of its decompressed content and inner suffix.
    """
    _ensure_loaded()
    p = as_path(path)
    head = _check_readable(p)
    if head[:2] == GZIP_MAGIC:
        with _decompressed(p) as inner:
            return _detect_inner(inner, p)
    return _detect(p, head)


def _detect_inner(inner: Path, p: Path) -> Format:
    """The format of the decompressed copy ``inner`` of gzip file ``p``; errors name ``p``."""
    try:
        return _detect(inner, _check_readable(inner))
    except PosecastError as exc:
        raise type(exc)(exc.problem.replace(str(inner), str(p)), p) from None


def _detect(p: Path, head: bytes) -> Format:
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
        path: the file; gzip-compressed files (``clip.bvh.gz``) are read by their inner format (see
            the module notes).
        format: force a format by name instead of detecting it.
        **options: passed to the reader (e.g. ``skeleton=``, ``fps=`` for plain arrays, ``asf=`` for
            ASF/AMC); ``fps=`` is a number (Python's or numpy's, handed on as a float).

    Returns:
        a `posecast.Motion` (or `posecast.Forecast` for saved forecasts), positions in metres.

    Raises:
        PosecastError: naming the file and the problem (the ``.gz`` file for compressed input; a
            corrupt or truncated gzip stream is a `FormatError`).
    """
    p = as_path(path)
    if options.get("fps") is not None:  # a numpy number as a float (a JSON reader takes Python's int and float only)
        from posecast.motion import is_number

        try:
            if not is_number(options["fps"]):
                raise ValueError
            options = {**options, "fps": float(options["fps"])}
        except (ValueError, OverflowError):  # (an int of 400 digits is a number, but no float)
            raise ValueRangeError(f"fps= must be a number, got {str(options['fps'])[:40]!r}", p) from None
    if format:
        fmt = get_format(format)
        if not p.is_file():
            raise FormatError("no such file", p)
        head = _check_readable(p)
    else:
        _ensure_loaded()
        head = _check_readable(p)
        fmt = None
    if head[:2] != GZIP_MAGIC:
        return _read(fmt or _detect(p, head), p, p, options)
    with _decompressed(p) as inner:
        fmt = fmt or _detect_inner(inner, p)
        obj = _read(fmt, p if fmt.gzip_aware else inner, p, options)
    meta = getattr(obj, "metadata", None)
    if isinstance(meta, dict):
        if meta.get("source") in (None, str(inner)):
            meta["source"] = str(p)
        meta["compression"] = "gzip"
    return obj


def refuse_options(options: dict[str, Any], what: str, path: Path, skeleton_why: str) -> None:
    """A `ValueRangeError` naming ``path`` for reading options a reader does not take: ``skeleton=`` (``skeleton_why``
    says why: the file names its own joints) and any other (QA: the exp-map and AMASS readers ignored them)."""
    if "skeleton" in options:
        raise ValueRangeError(f"skeleton= does not apply to {what}: {skeleton_why}", path)
    if options:
        raise ValueRangeError(f"unknown option(s) for reading {what}: {', '.join(sorted(options))}", path)


def _read(fmt: Format, given: Path, p: Path, options: dict[str, Any]) -> Any:
    """``fmt.read(given)``, every error re-raised naming ``p`` (the file the user named)."""

    def named(problem: str) -> str:
        return problem.replace(str(given), str(p)) if given != p else problem

    try:
        return fmt.read(given, **options)
    except PosecastError as exc:
        if exc.path is None or exc.path == str(given):
            raise type(exc)(named(exc.problem), p) from None
        raise
    except (
        ValueError,
        IndexError,
        KeyError,
        TypeError,
        UnicodeDecodeError,
        EOFError,
        OSError,
        OverflowError,
        zipfile.BadZipFile,
        zlib.error,  # a corrupt member of a .npz
    ) as exc:
        raise FormatError(f"not a valid {fmt.name} file ({type(exc).__name__}: {named(str(exc))})", p) from None
    except RecursionError:  # JSON nested thousands deep (in a .json, or a .npz's skeleton / metadata string)
        raise FormatError(f"not a valid {fmt.name} file: nested too deeply", p) from None
    except MemoryError:  # a small file whose header declares a huge array
        size = p.stat().st_size if p.is_file() else 0
        raise FormatError(f"declares more data than fits in memory (the file has {size:,} bytes)", p) from None


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``, on error delete it.

    Use it for every output file so that nothing half-written is ever left behind.
    """
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise FormatError("output directory does not exist", target.parent)
    if target.is_dir():
        raise FormatError("is a directory; give a file path", target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix or ".tmp", dir=target.parent or ".")
    except OSError as exc:
        raise FormatError(f"cannot write in {target.parent} ({exc.strerror or exc})", target) from None
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


def file_ready(obj: Any) -> Any:
    """``obj`` as a file holds it: a video model's forecast carries its 2D track and its `VideoForecast` in
    ``metadata["track"]`` / ``["video"]`` (objects for overlays, not data for a file: written, they became numpy
    printouts cut short with ``...``); a file gets the track's coverage (``metadata["detection"]``,
    `posecast.video.track.PoseTrack.coverage`: when the person was seen) instead, as the CLI has always written."""
    track = obj.metadata.get("track")
    if not callable(getattr(track, "coverage", None)):  # (duck-typed: io does not import the video stack)
        return obj
    meta = {k: v for k, v in obj.metadata.items() if k not in ("track", "video")}
    return replace(obj, metadata={**meta, "detection": track.coverage()})


def _writer_options(write: Any) -> set[str] | None:
    """The keyword options a writer takes after the object and the path (a ``**_`` swallows, it takes nothing); None
    when it takes any (``**options``) or its signature cannot be read."""
    import inspect

    try:
        params = list(inspect.signature(write).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(q.kind is q.VAR_KEYWORD and q.name != "_" for q in params):
        return None
    return {q.name for q in params[2:] if q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)}


def save(obj: Any, path: str | os.PathLike[str], format: str | None = None, **options: Any) -> Path:
    """Write a `Motion` or `Forecast` to ``path`` in the format given by its suffix (or ``format``).

    The write is atomic: on any error no file is left at ``path``.
    """
    _ensure_loaded()
    p = as_path(path)
    from posecast.motion import Forecast, Motion

    if not isinstance(obj, Motion | Forecast):
        raise FormatError(
            f"save writes a Motion or a Forecast, not a {type(obj).__name__} (wrap positions as "
            "posecast.Motion(positions, fps, skeleton))",
            p,
        )
    obj = file_ready(obj)
    compress = p.name.lower().endswith(GZIP_SUFFIX) and len(p.name) > 3
    if format:
        fmt = get_format(format)
    else:
        suffix = format_suffix(p)
        candidates = [f for f in _FORMATS.values() if suffix in f.suffixes and f.write is not None]
        if not candidates:
            writable = sorted({s for f in _FORMATS.values() if f.write for s in f.suffixes})
            raise FormatError(f"cannot write {suffix or 'files without a suffix'}; writable: {', '.join(writable)}", p)
        # several writers for one suffix: the first that holds this object (its own error explains otherwise)
        fmt = next((f for f in candidates if f.writes is None or f.writes(obj)), candidates[0])
    if fmt.write is None:
        raise FormatError(f"format {fmt.name} is read-only", p)
    takes = _writer_options(fmt.write)
    if takes is not None and set(options) - takes:  # (QA: unknown options were taken and ignored; `load` refuses them)
        unknown = ", ".join(sorted(set(options) - takes))
        raise ValueRangeError(f"unknown option(s) for writing {fmt.name}: {unknown} (it takes: "
                              f"{', '.join(sorted(takes)) or 'none'})", p)  # fmt: skip
    try:
        with atomic_output(p) as tmp:
            if compress:  # write the inner file, then gzip it into the temporary output
                with tempfile.TemporaryDirectory(prefix="posecast-gz-") as d:
                    inner = Path(d) / inner_name(p)
                    fmt.write(obj, inner, **options)
                    with open(inner, "rb") as src, open(tmp, "wb") as raw:
                        with gzip.GzipFile(filename=inner.name, mode="wb", fileobj=raw, mtime=0) as gz:
                            while chunk := src.read(1 << 20):
                                gz.write(chunk)
            else:
                fmt.write(obj, tmp, **options)
    except PosecastError as exc:  # name the target, not the temporary file the writer was given
        raise type(exc)(exc.problem, p) from None
    return p
