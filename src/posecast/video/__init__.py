"""From video to future 3D motion: decoding, 2D pose backends, virtual-camera training data and the
video forecasters (PHD, PoseMoNet, HMMR). `PoseTrack` is the exchange format between them."""

from posecast.datasets.video import CLIP_SUFFIXES as VIDEO_SUFFIXES  # one list of video suffixes
from posecast.video.track import PoseTrack

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

from posecast.video.extract import extract_image_pose, extract_poses  # noqa: E402

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "PoseTrack", "extract_image_pose", "extract_poses"]
