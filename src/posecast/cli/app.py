"""The ``posecast`` command line: builds the Typer app from the command modules and runs it.

Command modules (one per command group; each adds its commands through ``register(app)``):

* `posecast.cli.files`: ``info``, ``formats``, ``render``
* `posecast.cli.models_cmd`: ``models``
* `posecast.cli.forecast`: ``forecast``
* `posecast.cli.train`: ``train``
* `posecast.cli.corpus`: ``corpus build | info``
* `posecast.cli.demo`: ``demo``
* `posecast.cli.keyposes`: ``keyposes``
* `posecast.cli.video`: ``poses``
* `posecast.cli.serve`: ``serve``
* `posecast.cli.bench`: ``bench cmu-mocap | cmu-bvh | long-horizon | speed | video | video-backend | keyposes``

They share `posecast.cli.common` and never import this module or each other. Every `PosecastError`
becomes one line on stderr and exit code 2; output files are written atomically, so a failed command
leaves nothing half-written.
"""

from __future__ import annotations

import sys

import typer

from posecast.cli import bench, corpus, demo, files, forecast, keyposes, models_cmd, serve, train, video
from posecast.cli.common import err_console
from posecast.errors import PosecastError

COMMAND_MODULES = (files, models_cmd, forecast, train, corpus, demo, keyposes, video, serve, bench)

app = typer.Typer(
    name="posecast",
    help="Forecast human motion in 3D: read motions, forecast, render, benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Console entry point: PoseCast errors become one line on stderr and exit code 2."""
    try:
        app()
    except PosecastError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
