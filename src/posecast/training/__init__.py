"""Training: data sources, the loop (resumable, deterministic, torchrun-ready) and run artifacts."""

from posecast.training.loop import TrainConfig, load_config, train

__all__ = ["TrainConfig", "load_config", "train"]
