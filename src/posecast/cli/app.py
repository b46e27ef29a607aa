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

import os
import sys
from collections.abc import Callable

import typer
from pydantic import ValidationError

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


def _print_version(value: bool) -> None:
    if value:
        from posecast import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """Forecast human motion in 3D: read motions, forecast, render, benchmark."""


#: commands that may run MediaPipe, whose native code (TFLite, absl logging; partly from its own graph
#: threads, after the calls return) writes INFO / warning lines straight to file descriptor 2
QUIET_COMMANDS = ("forecast", "poses", "bench video", "bench detector-noise")


def quiet_command(args: list[str]) -> bool:
    """Whether the command line ``args`` (without the program) runs one of `QUIET_COMMANDS`."""
    words = [a for a in args[:2] if not a.startswith("-")]
    return any(" ".join(words[: len(c.split())]) == c for c in QUIET_COMMANDS)


def quiet_native_logs() -> Callable[[], None]:
    """Keep native libraries' log lines out of the CLI's stderr (one line per error is the promise): file
    descriptor 2 goes to os.devnull and Python's ``sys.stderr`` (errors, warnings, tracebacks, progress)
    writes to a copy of the real one. ``POSECAST_NATIVE_LOGS=1`` keeps them; ``posecast serve`` never
    does this (its threads log). Returns the function that puts both back."""
    sys.stderr.flush()
    original, saved = sys.stderr, os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="backslashreplace")

    def restore() -> None:
        sys.stderr.flush()
        sys.stderr.close()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr = original

    return restore


def is_out_of_memory(exc: BaseException) -> bool:
    """A `RuntimeError` that says memory ran out (torch: "DefaultCPUAllocator: can't allocate memory", CUDA's
    ``OutOfMemoryError``)."""
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or "can't allocate memory" in text or "out of memory" in text


def out_of_memory() -> None:
    """The one-line error for an input too large for this machine's memory; exit code 2."""
    err_console.print(
        "error: out of memory: the input is too large for this machine; give a shorter part of it (a take of "
        "millions of frames, or thousands of joints, holds several times its file size in memory)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    sys.exit(2)


def main() -> None:
    """Console entry point: PoseCast errors become one line on stderr and exit code 2."""
    restore = None
    if (
        os.environ.get("POSECAST_NATIVE_LOGS", "") in ("", "0")
        and quiet_command(sys.argv[1:])
        and sys.stderr is sys.__stderr__  # not under a capture (pytest's capsys, a caller's redirect)
    ):
        restore = quiet_native_logs()
    try:
        code = app(standalone_mode=False)  # usage errors come here too: one line, as every other error
        sys.exit(code if isinstance(code, int) else 0)  # as standalone mode ends
    except typer.Abort:
        err_console.print("interrupted")
        sys.exit(130)
    except typer.TyperException as exc:  # a mistyped option or command, a bad option value (click's errors)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:  # a bare `posecast` / `posecast bench`
            print(ctx.get_help())
            sys.exit(getattr(exc, "exit_code", 2))
        where = f" (try '{ctx.command_path} --help')" if ctx is not None else ""
        message = " ".join(exc.format_message().split()) if hasattr(exc, "format_message") else str(exc)
        err_console.print(f"error: {message}{where}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 2))
    except PosecastError as exc:
        err_console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except ValidationError as exc:  # settings checked by a schema past the command's own checks (QA: `train --set
        problems = "; ".join(  # history=0` ended in pydantic's traceback): one line per problem, joined
            f"{'.'.join(str(p) for p in e.get('loc') or ()) or 'value'} = {e.get('input')!r}: {e.get('msg')}"
            for e in exc.errors()
        )
        err_console.print(f"error: invalid settings: {problems}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except MemoryError:  # an input far larger than this machine holds (millions of frames): one line, no traceback
        out_of_memory()
    except RuntimeError as exc:  # torch's allocators fail with RuntimeErrors (CPU and CUDA)
        if not is_out_of_memory(exc):
            raise
        out_of_memory()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    finally:
        if restore is not None:
            restore()


if __name__ == "__main__":
    main()
