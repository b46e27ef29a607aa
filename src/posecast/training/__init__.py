"""Training: the loop (resumable, deterministic, torchrun-ready) and run artifacts; the data comes from
`posecast.datasets.training_data`."""

from posecast.training.loop import TrainConfig, load_config, train

__all__ = ["TrainConfig", "load_config", "train"]
