"""Training: one loop (`posecast.training.loop.fit`: optimiser, schedule, checkpoints, resumption, DDP,
the run artifact) and one plug-in per model kind (`.motion`, `.rotation`, `.video`, `.keyposes`,
`.classifier`: data, loss, validation, weights). `run(model, out, config=..., **options)` trains any
learned model of the registry; ``posecast train --model NAME`` calls it. The data come from
`posecast.datasets`."""

from posecast.training.entry import plugin_for, reproduce_command, run
from posecast.training.loop import LoopConfig, TrainingTask, fit, lr_factor
from posecast.training.motion import TrainConfig, load_config, train

__all__ = [
    "LoopConfig",
    "TrainConfig",
    "TrainingTask",
    "fit",
    "load_config",
    "lr_factor",
    "plugin_for",
    "reproduce_command",
    "run",
    "train",
]
