"""Forecasting models behind one interface, by name: ``posecast.models.get("zero-velocity")``."""

from posecast.models import baselines  # noqa: F401  (registers the baselines)
from posecast.models.base import Forecaster, ModelInfo, available, get, register_model, resolve_frames
from posecast.models.learned import register_learned

register_learned()

__all__ = ["Forecaster", "ModelInfo", "available", "get", "register_model", "resolve_frames"]
