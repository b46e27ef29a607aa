"""Data sets: where they live (`paths`), their files, splits and loaders (`cmu_mocap`, `cmu_bvh`), the
training data assembled from them (`training_data`) and the one windowing implementation (`windows`).

Protocols (`posecast.evaluation.protocols`) and training (`posecast.training`) both read data sets
from here, never from each other.
"""

from posecast.datasets.paths import ENV_VAR, data_root, dataset_dir
from posecast.datasets.windows import WindowSet, mirror, reverse, slice_windows, split_sequences, window_starts, yaw

__all__ = [
    "ENV_VAR",
    "WindowSet",
    "data_root",
    "dataset_dir",
    "mirror",
    "reverse",
    "slice_windows",
    "split_sequences",
    "window_starts",
    "yaw",
]
