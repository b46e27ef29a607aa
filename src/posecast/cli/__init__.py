"""The ``posecast`` command line (typer + rich)."""
