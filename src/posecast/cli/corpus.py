"""``posecast corpus build | info | pack | unpack``: the training corpus (`posecast.datasets.corpus`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from posecast.cli.common import JsonOpt, check_output_dirs, console, write_json
from posecast.errors import DataNotFoundError, ValueRangeError

corpus_app = typer.Typer(
    help="The training corpus: every data set under POSECAST_DATA with a hierarchy, on the canonical body "
    "(smplh-22), 25 fps, metres, with the fixed splits of the data README.",
    no_args_is_help=True,
)


def _show(info: dict, path: str) -> None:
    table = Table(title=f"training corpus {info['key']} ({info['skeleton']}, {info['fps']:g} fps)")
    for col in ("data set", "split", "files", "minutes"):
        table.add_column(col, justify="left" if col in ("data set", "split") else "right")
    total = 0.0
    for dataset, by_split in info["minutes"].items():
        for split, minutes in sorted(by_split.items(), key=lambda kv: ("train", "validation").index(kv[0])):
            table.add_row(dataset, split, str(info["files"][dataset][split]), f"{minutes:.1f}")
            total += minutes
    table.add_row("all", "", str(info["sequences"]), f"{total:.1f}")
    console.print(table)
    console.print(f"{info['frames']:,} frames in {path}", highlight=False)


@corpus_app.command("build")
def build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when the current corpus exists.")] = False,
    workers: Annotated[int | None, typer.Option(help="Processes loading files (default: CPU count).")] = None,
    json_path: JsonOpt = None,
) -> None:
    """Build (or find) the corpus file for the current data and code, and show what is in it."""
    import time

    from rich.progress import Progress

    from posecast.datasets import corpus

    check_output_dirs(json_path)
    if workers is not None and workers < 1:  # (QA: 0 and -1 were taken and a build ran)
        raise ValueRangeError(f"--workers must be positive, got {workers}")
    start = time.perf_counter()
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:  # (see bench)
        task = bar.add_task("loading motion files", total=None)
        path = corpus.build(force=force, workers=workers, progress=lambda i, n: bar.update(task, completed=i, total=n))
    info = corpus.read(path).describe()
    _show(info, str(path))
    console.print(f"ready in {time.perf_counter() - start:.1f} s", highlight=False)
    write_json({**info, "path": str(path)}, json_path)


@corpus_app.command("info")
def info(json_path: JsonOpt = None) -> None:
    """What the current corpus holds, per data set and split, in minutes (it must be built)."""
    from posecast.datasets import corpus

    check_output_dirs(json_path)
    c = corpus.load(build_if_missing=False)
    d = c.describe()
    _show(d, str(corpus.corpus_path(c.key)))
    write_json({**d, "path": str(corpus.corpus_path(c.key))}, json_path)


@corpus_app.command("pack")
def pack(
    out: Annotated[Path, typer.Argument(help="File to write (lossless, about 45 % of the corpus file).")],
) -> None:
    """Pack the current corpus (it must be built) into one compressed file for a machine without the data;
    there `posecast corpus unpack` restores it and POSECAST_CORPUS_FILE points training at it."""
    from posecast.datasets import corpus, corpus_pack

    c = corpus.load(build_if_missing=False)
    src = corpus.corpus_path(c.key)
    if os.environ.get(corpus.FILE_ENV):
        src = Path(os.environ[corpus.FILE_ENV])
    corpus_pack.pack(src, out)
    console.print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB from {src.stat().st_size / 1e6:.1f} MB)", highlight=False
    )


@corpus_app.command("unpack")
def unpack(
    packed: Annotated[Path, typer.Argument(help="A file written by `posecast corpus pack`.")],
    out: Annotated[Path, typer.Argument(help="The corpus file to write (.npz).")],
) -> None:
    """Restore a packed corpus bit for bit; set POSECAST_CORPUS_FILE to it to train on it without the data."""
    from posecast.datasets import corpus, corpus_pack

    if packed.is_dir():
        raise ValueRangeError("is a directory; give the packed file", packed)
    if not packed.is_file():
        raise DataNotFoundError("no such file", packed)
    corpus_pack.unpack(packed, out)
    console.print(f"wrote {out}; use it with {corpus.FILE_ENV}={out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``corpus build | info | pack | unpack`` to ``app``."""
    app.add_typer(corpus_app, name="corpus")
