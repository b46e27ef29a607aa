"""File formats behind one entry point: ``load(path)`` and ``save(obj, path)``."""

from posecast.io.registry import Format, atomic_output, detect_format, formats, get_format, load, register_format, save

__all__ = ["Format", "atomic_output", "detect_format", "formats", "get_format", "load", "register_format", "save"]
