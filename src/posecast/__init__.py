"""PoseCast: forecast human motion in 3D.

Public API::

    import posecast
    motion = posecast.load("walk.bvh")            # any supported format -> Motion (metres, seconds)
    fc = posecast.forecast(motion, seconds=1.0)    # the default model -> Forecast (samples x frames x joints x 3)
    model = posecast.models.get("dct-mlp")         # or any model of the registry, by name
    fc = model.forecast(motion, seconds=1.0)
    posecast.save(fc, "future.npz")
"""

from posecast import models, skeletons
from posecast.api import forecast
from posecast.errors import PosecastError
from posecast.io import load, save
from posecast.motion import Forecast, Motion
from posecast.skeletons import Skeleton

__version__ = "0.1.0"


def __getattr__(name: str):
    """``posecast.viz`` (renderings: matplotlib, plotly) and ``posecast.video`` load on first use, not at import."""
    if name in ("viz", "video"):
        import importlib

        return importlib.import_module(f"posecast.{name}")
    raise AttributeError(f"module 'posecast' has no attribute {name!r}")


__all__ = [
    "Forecast",
    "Motion",
    "PosecastError",
    "Skeleton",
    "__version__",
    "forecast",
    "load",
    "models",
    "save",
    "skeletons",
]
