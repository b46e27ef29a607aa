"""``posecast models``: every entry of the model registry (`posecast.models.available`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from posecast.cli.common import console


def weights_column(d: dict[str, Any]) -> str:
    """What a model needs before it forecasts: its shipped weight variants (the default one starred),
    or that it needs none, or training motions to fit."""
    if d["variants"]:
        names = [v["name"] + ("*" if v["default"] and len(d["variants"]) > 1 else "") for v in d["variants"]]
        return "weights: " + ", ".join(names)
    if d["needs_fit"]:
        return "needs training motions"
    if d.get("uses"):  # (lift+forecast: the lifter's and dct-mlp's shipped weights, not "no weights needed")
        return "uses " + ", ".join(d["uses"])
    return "no weights shipped" if d["learned"] else "no weights needed"


def models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List every model of the registry: kind, shipped weights, what it does; defaults are marked."""
    from posecast.models import available

    infos = [m.to_dict() for m in available()]
    if as_json:
        console.print_json(json.dumps(infos))
        return
    width = max(len(m["name"]) for m in infos) + 2
    for m in infos:
        default = f" (default for {', '.join(m['default_for'])} inputs)" if m["default"] else ""
        line = f"{m['kind']:10} {weights_column(m):42} {m['summary']}{default}"
        console.print(f"[bold]{m['name']:{width}}[/bold] {escape(line)}", highlight=False)
    console.print("* the default variant of several (learned motion models pick theirs by the history's skeleton)")


def register(app: typer.Typer) -> None:
    """Add ``models`` to ``app``."""
    app.command()(models)
