"""Windows for training and augmentation."""

from posecast.datasets.windows import WindowSet, mirror, reverse, split_sequences, yaw

__all__ = ["WindowSet", "mirror", "reverse", "split_sequences", "yaw"]
