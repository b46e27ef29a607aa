"""From video to future 3D motion: decoding, 2D pose backends, virtual-camera training data and the
video forecasters (PHD, PoseMoNet, HMMR). `PoseTrack` is the exchange format between them."""

from posecast.datasets.video import CLIP_SUFFIXES as VIDEO_SUFFIXES  # one list of video suffixes
from posecast.video.track import PoseTrack

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".avif", ".heic", ".heif")
"""Images PoseCast decodes: OpenCV's formats, and AVIF / HEIC through Pillow (HEIC with ``pillow-heif`` installed;
without it a HEIC photo is a one-line error saying so, `posecast.video.decode.decode_image`)."""

from posecast.video.extract import extract_image_pose, extract_poses  # noqa: E402

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "PoseTrack", "extract_image_pose", "extract_poses"]
