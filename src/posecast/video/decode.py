"""Read video frames (RGB ``uint8``) with their real presentation timestamps, and single images.

Videos are decoded with PyAV (FFmpeg's libraries, bundled in the ``av`` wheel) as a stream: one
frame at a time, never the whole clip in memory.

Orientation
-----------
Phone videos are usually stored sideways with a display matrix that tells players to turn them; PoseCast
turns every frame the same way (``VideoInfo.rotation``, `upright`), so the person stands as in a player and
``VideoInfo.width`` / ``height`` are the displayed size.

Timestamps
----------
Each frame gets its presentation time in seconds, so variable-frame-rate clips keep their true
gaps. The times come from a cheap first pass over the container's packets (no decoding): the
sorted packet presentation stamps. The decoder returns frames in presentation order, so the k-th
decoded frame is shown at the k-th smallest stamp. This also fixes containers that carry no
presentation stamps of their own (H.264 with B-frames inside AVI, where the per-frame ``pts`` that
FFmpeg guesses come out in decoding order). Measured on the shared clips: for every mp4 the sorted
packet stamps equal the decoded frames' ``pts`` exactly; for the AVI they are 1/30 s apart while the
frames' own ``pts`` jump back and forth. OpenCV's ``CAP_PROP_POS_MSEC`` was tried and rejected: on
the AVI it lags two frames and reads 0 for the last two. A file whose muxer gave several frames the same
stamp (``0, 0, 0.067, 0.067, ...``: broken timestamps) has each run of them spread evenly over the gap to the
next stamp (`spread_duplicates`; ``VideoInfo.shared_stamps`` counts them, and the track says so in a note).

Packets the container marks as discarded (the pre-roll before an edit list's start: what ``ffmpeg -ss X -c
copy`` and phone trims leave in an mp4) are decoded, as later frames need them, but give no frame and no
time: the clip starts where players start it. A packet that fails to decode (a damaged file) is skipped and
decoding goes on with the next (as the ``ffmpeg`` tool does; `iter_frames` gives up only when most packets
fail). So that the frames after it keep their times, a decoded frame takes its own presentation stamp where
the container stores them (equal to the sorted packet stamps on every clip above), and the k-th sorted
stamp only in AVI, where the lost packet's stamp is dropped instead. A decoded frame whose own stamp goes back
before the frame's before it is dropped: a damaged stream decodes such a frame (stamped 0.000 after 1.033 s
in an mp4 with 15 kB zeroed), and taking it for the next frame had moved every later frame one stamp late.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from posecast.errors import FormatError, quiet
from posecast.video.track import frame_rate

T = TypeVar("T")


@dataclass(frozen=True)
class VideoInfo:
    """What a first pass over the container says about a clip: ``(width, height)`` in pixels, frame
    count, presentation times ``(N,)`` in seconds (increasing), codec and container names."""

    path: Path
    width: int
    height: int
    times: np.ndarray
    codec: str
    container: str
    rotation: int = 0  # degrees counter-clockwise the stored frames are turned to be displayed: 0, 90, 180, 270
    declared_frames: int | None = None  # the frame count the container's header states (None: it states none)
    shared_stamps: int = 0  # frames whose stamp the container gave the frame before too (`spread_duplicates`)
    aspect: float = 1.0  # the stored pixels' width over height (anamorphic video: 2 shows each pixel twice as wide)
    declared_end: float | None = None  # seconds: where the header says the video ends (None: it does not say)

    @property
    def num_frames(self) -> int:
        return int(self.times.shape[0])

    @property
    def fps(self) -> float:
        """The frame rate from the timestamps (frames per second, `posecast.video.track.frame_rate`): frames per
        second over the clip when its frame gaps are nearly even, the median gap's rate otherwise (variable frame
        rate)."""
        return frame_rate(self.times)

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if self.num_frames else 0.0


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FormatError("no such file", path)
    if not path.is_file():
        raise FormatError("not a file", path)


def _pyav(path: str | Path) -> Any:
    """The ``av`` module (PyAV), or a `FormatError` naming ``path`` that says to install the video extra (QA: a base
    install without it answered a video input with a ``ModuleNotFoundError`` traceback)."""
    try:
        import av
    except ImportError:
        raise FormatError("reading videos needs PyAV: pip install 'posecast[video]'", Path(path)) from None
    return av


def _open(path: Path):
    av = _pyav(path)
    _check_file(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise FormatError(f"cannot read as a video: {unreadable_why(path, exc)}", path) from None
    if not container.streams.video:
        container.close()
        raise FormatError("holds no video stream", path)
    return container


def unreadable_why(path: Path, exc: BaseException | None = None) -> str:
    """Why FFmpeg could not open ``path``, in words: empty, text, an mp4 without its index (cut off before the
    recording was finished), else FFmpeg's own reason (without its error number and the path again)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as err:
        return f"cannot open it ({err.strerror or err})"
    if size == 0:
        return "the file is empty (0 bytes)"
    if _is_text(head):
        return "the file holds text, not a video"
    if head[4:8] == b"ftyp":
        boxes, cut = _top_boxes(path, size)
        if b"moov" not in boxes:
            return (
                "the file is truncated: the mp4's index (its moov box) is missing, as in a recording cut off "
                "before it was finished"
                if cut
                else "the mp4 has no index (moov box)"
            )
    reason = getattr(exc, "strerror", None) or (str(exc) if exc is not None else "")
    return f"FFmpeg: {reason}" if reason else "FFmpeg cannot open it"


def _is_text(head: bytes) -> bool:
    """Whether a file's first bytes are text (UTF-8 without control bytes other than tab and line breaks)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # not a character cut by the end of the bytes read
            return False
        text = head[: err.start].decode("utf-8")
    return bool(text) and all(c.isprintable() or c in "\t\r\n" for c in text)


def _top_boxes(path: Path, size: int) -> tuple[list[bytes], bool]:
    """The types of an ISO media file's top-level boxes, and whether the last one runs past the end of the file."""
    types: list[bytes] = []
    pos = 0
    with open(path, "rb") as fh:
        while pos + 8 <= size and len(types) < 10_000:
            fh.seek(pos)
            head = fh.read(16)
            length = int.from_bytes(head[:4], "big")
            if length == 1 and len(head) >= 16:
                length = int.from_bytes(head[8:16], "big")
            elif length == 0:  # runs to the end of the file
                length = size - pos
            if length < 8:
                return types, True
            types.append(head[4:8])
            if pos + length > size:
                return types, True
            pos += length
    return types, pos < size


def single_frame(path: str | Path) -> bool:
    """Whether the video ``path`` holds exactly one frame (from its first packets, no decoding; False when it cannot
    be opened: reading it says why)."""
    av = _pyav(path)

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError):
        return False
    try:
        if not container.streams.video:
            return False
        count = 0
        for packet in container.demux(container.streams.video[0]):
            if packet.size > 0 and not packet.is_discard:
                count += 1
                if count > 1:
                    return False
        return count == 1
    except av.error.FFmpegError:
        return False
    finally:
        container.close()


def probe_video(path: str | Path) -> VideoInfo:
    """Size, frame count and the presentation time of every frame, from the packets (fast: no decoding)."""
    av = _pyav(path)

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stamps = []
        discarded = 0
        try:
            for packet in container.demux(stream):
                if packet.size > 0 and not packet.is_discard:  # discarded: pre-roll before an edit list's start
                    stamps.append(packet.pts)
                elif packet.size > 0:
                    discarded += 1
        except av.error.FFmpegError as exc:
            raise FormatError(f"corrupt video ({exc})", path) from exc
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        codec = stream.codec_context.name
        base = stream.time_base
        rate = float(stream.average_rate) if stream.average_rate else 30.0
        declared = int(stream.frames) - discarded if stream.frames else None  # (the header counts the pre-roll)
        fmt = container.format.name
        aspect = _pixel_aspect(stream)
        end = None  # where the video ends by the header: its stream's, else the container's when nothing else plays
        if stream.duration and base is not None:
            end = float(((stream.start_time or 0) + stream.duration) * base)
        elif container.duration and not container.streams.audio:  # (AV_TIME_BASE: microseconds)
            end = float((container.start_time or 0) + container.duration) / 1e6
    finally:
        container.close()
    if not stamps:
        raise FormatError("the video has no frames", path)
    if any(s is None for s in stamps) or base is None:  # no stamps in the container: assume a constant rate
        times = np.arange(len(stamps), dtype=np.float64) / rate
    else:
        times = np.sort(np.asarray([float(s * base) for s in stamps], dtype=np.float64))
    times, shared = spread_duplicates(times)
    if width <= 0 or height <= 0:
        raise FormatError(f"impossible frame size {width}x{height}", path)
    width = max(2, round(width * aspect))  # as displayed (QA: a 2:1 anamorphic clip was read squeezed, its people
    rotation = _display_rotation(path)  # half as wide in 3D); the frames are scaled so as they are decoded
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        times=times,
        codec=codec,
        container=fmt,
        rotation=rotation,
        declared_frames=declared,
        shared_stamps=shared,
        aspect=aspect,
        declared_end=end,
    )


def _pixel_aspect(stream: Any) -> float:
    """The sample aspect ratio of a video stream (pixel width over height), 1 when unset or implausible."""
    for owner in (stream, stream.codec_context):
        sar = getattr(owner, "sample_aspect_ratio", None)
        try:
            value = float(sar) if sar else 0.0
        except (TypeError, ValueError, ZeroDivisionError):
            value = 0.0
        if 0.2 <= value <= 5.0 and abs(value - 1.0) > 1e-3:
            return value
    return 1.0


def spread_duplicates(times: np.ndarray) -> tuple[np.ndarray, int]:
    """Sorted presentation stamps ``times`` (s) made strictly increasing, and how many frames shared a stamp with
    the frame before: each run of ``k`` equal stamps is spread evenly over the gap to the next stamp (the last
    run over the clip's median gap), so that a file whose muxer wrote every stamp twice (``0, 0, 0.067, 0.067,
    ...``) plays at its real rate instead of two frames a microsecond apart."""
    times = np.asarray(times, dtype=np.float64)
    same = np.flatnonzero(np.diff(times) <= 1e-9) + 1  # frames stamped as the one before
    if not len(same):
        return times, 0
    distinct = np.unique(times)
    gaps = np.diff(distinct)
    step = float(np.median(gaps)) if len(gaps) else 1.0 / 30.0
    out = times.copy()
    i = 0
    while i < len(times):
        j = i
        while j + 1 < len(times) and times[j + 1] - times[i] <= 1e-9:
            j += 1
        if j > i:  # frames i..j share a stamp
            after = times[j + 1] if j + 1 < len(times) else times[i] + step
            out[i : j + 1] = times[i] + (after - times[i]) * np.arange(j - i + 1) / (j - i + 1)
        i = j + 1
    return out, int(len(same))


def _quarter_turns(degrees: float | None) -> int:
    """A display rotation in degrees (counter-clockwise, any sign) as 0, 90, 180 or 270."""
    return int(round((degrees or 0.0) / 90.0)) % 4 * 90


def _display_rotation(path: Path) -> int:
    """The display rotation of the first decoded frame (its display matrix; 0 when it has none or the
    frame does not decode: `iter_frames` reports that)."""
    av = _pyav(path)

    container = _open(path)
    try:
        frame = next(container.decode(container.streams.video[0]), None)
        return 0 if frame is None else _quarter_turns(getattr(frame, "rotation", 0))
    except av.error.FFmpegError:
        return 0
    finally:
        container.close()


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """A stored frame ``(H, W, 3)`` turned ``rotation`` degrees counter-clockwise, as players display it."""
    k = rotation // 90 % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def iter_frames(
    path: str | Path, max_time: float | None = None, info: VideoInfo | None = None, max_side: int | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, rgb)`` for each frame in presentation order: ``rgb`` is ``(H, W, 3)`` ``uint8``.

    ``max_time`` stops after the frames with ``time <= times[0] + max_time`` (seconds from the
    first frame). ``max_side``: frames with a longer side are scaled down to it while they are converted to
    RGB (FFmpeg's scaler, aspect kept; a 4K phone clip costs a quarter of the pixels at 1920). Raises
    `FormatError` when the file is missing, not a video, or yields no frame.
    """
    av = _pyav(path)

    path = Path(path)
    info = info or probe_video(path)
    container = _open(path)
    times = np.asarray(info.times, dtype=np.float64)  # the presentation times to hand out, in order
    # a decoded frame's own time where the container stores presentation stamps (not AVI: there FFmpeg's
    # guesses come in decoding order, see the module docstring): after a damaged packet the frames that follow
    # keep their times even though the decoder (threaded) reports the damage a few frames late
    trust_own = "avi" not in info.container.split(",")
    n = 0  # frames yielded
    k = 0  # the next stamp of ``times`` to hand out
    failed, first_error = 0, None
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = stream.time_base
        last = None  # the time handed out last
        last_own = None  # the frame's own stamp behind it
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets, None)
            except av.error.FFmpegError as exc:  # the container itself is cut or damaged: keep what decoded
                first_error = first_error or exc
                break
            if packet is None:
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:  # a damaged packet: skip it and its time, go on
                failed += 1
                first_error = first_error or exc
                if not trust_own and packet.pts is not None and base is not None and not packet.is_discard:
                    lost = np.flatnonzero(np.abs(times[k:] - float(packet.pts * base)) < 1e-9)
                    if lost.size:  # its stamp is not handed out
                        times = np.delete(times, k + lost[0])
                if failed > max(8, info.num_frames // 2):
                    break
                continue
            for frame in frames:
                own = float(frame.pts * base) if trust_own and frame.pts is not None and base is not None else None
                if own is not None and last_own is not None and own < last_own - 1e-9:
                    continue  # its own stamp goes back: garbage a damaged stream decoded to, not the next frame
                if own is not None and (last_own is None or own > last_own + 1e-9) and (last is None or own > last):
                    t = own
                    k = int(np.searchsorted(times, own + 1e-9))  # stamps up to it are used (or lost)
                elif k < len(times):  # no stamp of its own, or the one before's (shared: spread in ``times``)
                    t = float(times[k])
                    k += 1
                else:  # more frames than packets (should not happen): continue at the median rate
                    t = float(info.times[-1] + (n - len(times) + 1) / info.fps)
                if last is not None and t <= last:
                    t = last + 1e-6
                if max_time is not None and t > info.times[0] + max_time + 1e-9:
                    return
                last = t
                last_own = own if own is not None else last_own
                n += 1
                yield t, upright(_rgb(frame, max_side, info.aspect), info.rotation)
    finally:
        container.close()
    if n == 0:
        why = f" ({first_error})" if first_error is not None else ""
        raise FormatError(f"the video has no decodable frames{why}", path)


def _rgb(frame: Any, max_side: int | None, aspect: float = 1.0) -> np.ndarray:
    """A decoded frame as RGB ``uint8`` at its display shape (its width times the pixels' ``aspect``), scaled down to
    ``max_side`` when its longer side is above it."""
    w, h = max(2, round(frame.width * aspect)), frame.height
    if (max_side is None or max(w, h) <= max_side) and w == frame.width:
        return frame.to_ndarray(format="rgb24")
    k = 1.0 if max_side is None or max(w, h) <= max_side else max_side / max(w, h)
    return frame.to_ndarray(format="rgb24", width=max(2, round(w * k)), height=max(2, round(h * k)))


def prefetch(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """Run ``items`` in a background thread, ``depth`` items ahead, and yield them in order.

    Decoding (PyAV/FFmpeg) and pose inference (MediaPipe) both release the GIL, so with a decoding
    thread the two overlap on two cores instead of taking turns. Exceptions raised by ``items``
    are re-raised here, at the point where the failing item would have been yielded; closing this
    generator early stops the thread after at most ``depth`` more items.
    """
    import queue
    import threading

    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                if stop.is_set():
                    break
                q.put(("item", item))
        except BaseException as exc:  # noqa: BLE001 - handed over to the consumer
            q.put(("error", exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator stopped early: release its file now
                close()
        q.put(("end", None))

    worker = threading.Thread(target=run, name="posecast-decode", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()


def read_video(path: str | Path, max_time: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All frames at once: ``(times (N,), frames (N, H, W, 3) uint8)``. For short clips and tests."""
    times, frames = [], []
    for t, rgb in iter_frames(path, max_time=max_time):
        times.append(t)
        frames.append(rgb)
    return np.asarray(times), np.stack(frames)


def read_image(path: str | Path) -> np.ndarray:
    """One image as RGB ``(H, W, 3)`` ``uint8`` (EXIF orientation applied; alpha dropped)."""

    path = Path(path)
    _check_file(path)
    return decode_image(np.fromfile(path, dtype=np.uint8), path)


MAX_IMAGE_PIXELS = 100_000_000
"""Images larger than this (pixels) are refused before they are decoded: a 420 KB PNG can hold 12,000 x 12,000
black pixels, 430 MB once decoded (a 100-megapixel photo is 300 MB)."""


def image_size(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """``(width, height)`` from an image's header, without decoding it (Pillow reads the header only); None when
    Pillow does not know the format (OpenCV may still)."""
    import io

    from PIL import Image, UnidentifiedImageError

    raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    with quiet(Image.DecompressionBombWarning, wait=False):
        try:
            with Image.open(io.BytesIO(raw)) as im:
                return int(im.size[0]), int(im.size[1])
        except Image.DecompressionBombError:  # over twice Pillow's own bound (179 megapixels): larger than ours
            return 1 << 16, 1 << 16
        except (UnidentifiedImageError, OSError, ValueError):
            return None


def decode_image(
    data: bytes | np.ndarray,
    source: str | Path = "image",
    max_pixels: int = MAX_IMAGE_PIXELS,
    known_size: bool = False,
) -> np.ndarray:
    """The bytes of one JPEG/PNG (any format OpenCV reads, and AVIF / HEIC through Pillow: `pillow_image`) as RGB
    ``(H, W, 3)`` ``uint8``; a `FormatError` naming ``source`` when they are not an image, or when its header says
    it has more than ``max_pixels`` (``known_size``: also when Pillow cannot read its size from the header, as
    for Radiance HDR, whose size OpenCV would only learn by decoding it)."""
    import cv2

    _heif_opener()
    size = image_size(data)
    if size is None and known_size:
        raise FormatError("cannot read as an image whose size its header gives (send JPEG or PNG)", source)
    if size is not None and size[0] * size[1] > max_pixels:
        raise FormatError(
            f"an image of {size[0]} x {size[1]} pixels; at most {max_pixels / 1e6:g} megapixels are read", source
        )
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, bytes | bytearray | memoryview) else data
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if bgr is None or bgr.size == 0:
        rgb = pillow_image(buf.tobytes(), source) if buf.size else None  # AVIF, HEIC: not OpenCV's
        if rgb is None:
            raise FormatError("cannot read as an image", source)
        return rgb
    return np.ascontiguousarray(bgr[..., ::-1])


#: the brands of an ISO (HEIF) image file's ``ftyp`` box that mean HEIC / HEIF (an iPhone's photos)
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


def _heif_opener() -> bool:
    """Register ``pillow-heif``'s HEIC opener with Pillow when it is installed (once); whether it is."""
    try:
        import pillow_heif
    except ImportError:
        return False
    if not getattr(pillow_heif, "_posecast_registered", False):
        pillow_heif.register_heif_opener()
        pillow_heif._posecast_registered = True
    return True


def pillow_image(raw: bytes, source: str | Path = "image") -> np.ndarray | None:
    """An image OpenCV does not read (AVIF, and HEIC with ``pillow-heif``) decoded by Pillow as RGB ``(H, W, 3)``
    ``uint8``, turned upright by its EXIF orientation; None when Pillow cannot read it either. A HEIC / HEIF photo
    without ``pillow-heif`` is a `FormatError` naming ``source`` that says so."""
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as im:
            return np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(im).convert("RGB"), dtype=np.uint8))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        if raw[4:8] == b"ftyp" and raw[8:12] in HEIF_BRANDS and not _heif_opener():
            raise FormatError(
                "a HEIC / HEIF photo: reading it needs the pillow-heif package (pip install pillow-heif); or "
                "convert it to JPEG or PNG",
                source,
            ) from None
        return None
