"""Benchmark tables, always printed together with the protocol that produced them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table


def protocol_lines(protocol: Mapping[str, Any]) -> list[str]:
    """``key: value`` lines describing a protocol."""
    return [
        f"{k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in protocol.items()
    ]


def horizon_table(
    title: str,
    rows: Mapping[str, Mapping[str, float]],
    average: Mapping[str, float] | None = None,
    unit: str = "",
    first_column: str = "action",
    cell: Callable[[Any], str] | None = None,
) -> Table:
    """A rich table: one row per entry of ``rows`` (``{row: {horizon label: value}}``); ``cell`` formats a
    value (default: two decimals)."""
    cell = cell or "{:.2f}".format
    labels = list(next(iter(rows.values())).keys()) if rows else list(average or {})
    table = Table(title=title, title_justify="left")
    table.add_column(first_column)
    for label in labels:
        table.add_column(f"{label}{unit}", justify="right")
    for name, values in rows.items():
        table.add_row(name, *(cell(values[label]) for label in labels))
    if average is not None:
        table.add_section()
        table.add_row("average", *(cell(average[label]) for label in labels), style="bold")
    return table


def print_benchmark(result: Mapping[str, Any], console: Console | None = None, unit: str = "") -> None:
    """Print a result dict with ``protocol``, ``actions`` and ``average`` keys."""
    console = console or Console()
    console.print(f"[bold]{result.get('model', '')}[/bold] on {result['protocol'].get('benchmark', '')}")
    for line in protocol_lines(result["protocol"]):
        console.print(f"  {line}", highlight=False)
    console.print(horizon_table("", result["actions"], result["average"], unit=unit))
