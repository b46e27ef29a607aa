"""The shared video clips (``$POSECAST_DATA/video``, provenance in its ``PROVENANCE.md``): real clips
of people moving, used by the video benchmark (`posecast.evaluation.protocols.video`) and the pose
backend's report (`posecast.evaluation.protocols.video_backend`)."""

from __future__ import annotations

from pathlib import Path

from posecast.datasets.paths import dataset_dir

#: what PoseCast reads as a video clip (PyAV decodes each), everywhere: `posecast.video.VIDEO_SUFFIXES` is this
CLIP_SUFFIXES = (
    ".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".gif", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".3gp", ".flv",
    ".wmv", ".ogv",
)  # fmt: skip


def clips(data_root: Path | None = None) -> list[Path]:
    """The clips of ``data_root/video`` (default ``$POSECAST_DATA/video``, which must exist), sorted; empty
    when a given ``data_root`` has no video folder."""
    root = Path(data_root) / "video" if data_root is not None else dataset_dir("video")
    if root is None or not Path(root).is_dir():
        return []
    return sorted(p for p in Path(root).iterdir() if p.suffix.lower() in CLIP_SUFFIXES)
