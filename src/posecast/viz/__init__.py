"""Pictures of motions and forecasts: ``render(obj, "out.mp4" | "out.gif" | "out.html")``.

* `render`: one entry point, output chosen by suffix (H.264 mp4, GIF, self-contained plotly html).
* `render_html`: the interactive viewer alone (time slider, play/pause, hover with joint names).
* `posecast.viz.scene`: shared colours, bones, bounds and timeline.

Importing this package loads matplotlib; ``import posecast`` does not.
"""

from posecast.viz.html import render_html
from posecast.viz.render import render, render_video
from posecast.viz.scene import Scene, build_scene

__all__ = ["Scene", "build_scene", "render", "render_html", "render_video"]
