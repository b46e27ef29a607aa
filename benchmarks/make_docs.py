"""Regenerate docs/benchmarks.md from the JSON results in benchmarks/results/.

Usage::

    .venv/bin/python benchmarks/make_docs.py            # rewrite docs/benchmarks.md
    .venv/bin/python benchmarks/make_docs.py --run      # first re-run the benchmarks that produce the JSON

Each JSON in benchmarks/results/ is the ``--json`` output of a ``posecast bench ...`` command (its
name says which); published numbers come from benchmarks/published.py.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import published  # noqa: E402

SIX = ("basketball", "jumping", "running", "soccer", "walking", "washwindow")
FIVE = SIX[:-1]


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _row(values) -> str:
    return " | ".join(f"{v:.2f}" for v in values)


def cmu_section(protocol: str, models: list[str]) -> list[str]:
    out = []
    results = {m: _load(f"cmu-mocap_{protocol}_{m}") for m in models}
    results = {m: r for m, r in results.items() if r}
    if not results:
        return out
    proto = next(iter(results.values()))["protocol"]
    out.append(f"### CMU-Mocap, protocol `{protocol}`\n")
    for key, value in proto.items():
        out.append(f"- {key.replace('_', ' ')}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    out.append("")
    labels = list(published.LABELS)
    for title, actions in (("six test actions present", SIX), ("five actions with training data", FIVE)):
        out.append(f"**Average over the {title}** ({', '.join(actions)}):\n")
        out.append("| method | " + " | ".join(labels) + " |")
        out.append("|---|" + "---|" * len(labels))
        for m, r in results.items():
            avg = [sum(r["actions"][a][label] for a in actions) / len(actions) for label in labels]
            out.append(f"| {m} (ours) | {_row(avg)} |")
        if protocol == "all":
            for method in published.CMU_ALL_WINDOWS:
                avg = published.average(method, actions)
                out.append(f"| {method} (published) | {_row(avg[label] for label in labels)} |")
        out.append("")
    out.append("**Per action**:\n")
    out.append("| action | method | " + " | ".join(labels) + " |")
    out.append("|---|---|" + "---|" * len(labels))
    for a in SIX:
        for m, r in results.items():
            if a in r["actions"]:
                out.append(f"| {a} | {m} | {_row(r['actions'][a][label] for label in labels)} |")
        if protocol == "all":
            for method, table in published.CMU_ALL_WINDOWS.items():
                out.append(f"| {a} | {method} (published) | {_row(table[a])} |")
    out.append("")
    return out


def _protocol_lines(proto: dict) -> list[str]:
    return [
        f"- {k.replace('_', ' ')}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in proto.items()
    ]


def _merge(prefix: str) -> dict:
    """All results files ``<prefix>_*.json`` merged into one ``{"protocol", "models"}`` (later files win)."""
    merged: dict = {"protocol": None, "models": {}}
    for path in sorted(RESULTS.glob(f"{prefix}_*.json")):
        d = json.loads(path.read_text())
        merged["protocol"] = merged["protocol"] or d["protocol"]
        merged["models"].update(d.get("models", {}))
        for key in ("machine",):
            if key in d:
                merged[key] = d[key]
    return merged


def cmu_bvh_section() -> list[str]:
    d = _merge("cmu-bvh")
    if not d["models"]:
        return []
    labels = list(published.LABELS)
    out = ["### CMU BVH in real units (`posecast bench cmu-bvh`)", "", *_protocol_lines(d["protocol"]), ""]
    for key, title in (("average", "global positions"), ("root_relative", "root-relative (pose only)")):
        out += [
            f"**MPJPE, {title}, real mm:**",
            "",
            "| model | " + " | ".join(labels) + " |",
            "|---|" + "---|" * len(labels),
        ]
        out += [f"| {m} | {_row(r[key][label] for label in labels)} |" for m, r in d["models"].items()]
        out.append("")
    return out


def corpus_table(models: dict, kind: str, labels: list[str], this: str | None = None) -> list[str]:
    """Markdown rows of one `posecast bench corpus` table: per model, ``mean [low, high]`` per horizon of
    positions ``kind`` (``root_relative`` or ``global``); ``this`` is marked ``(this)``."""
    out = ["| model | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for m, res in models.items():
        cells = [f"{res[kind][h]['mean']:.1f} [{res[kind][h]['low']:.1f}, {res[kind][h]['high']:.1f}]" for h in labels]
        out.append(f"| {m}{' (this)' if m == this else ''} | " + " | ".join(cells) + " |")
    return out


def corpus_section() -> list[str]:
    """`posecast bench corpus` (``results/corpus.json``): per data set, root-relative and global MPJPE with
    95 % intervals and window counts, and whether the default model meets the goals."""
    d = _load("corpus")
    if d is None:
        return []
    labels = list(published.LABELS)
    out = ["### Every data set on its own skeleton (`posecast bench corpus`)", "", *_protocol_lines(d["protocol"]), ""]
    for dataset, r in d["datasets"].items():
        info = r.get("info", {})
        facts = [
            f"{k.replace('_', ' ')}: {v}"
            for k, v in info.items()
            if k in ("files", "skeleton", "excluded_joints", "root")
        ]
        out += [f"#### {dataset}", "", *(f"- {x}" for x in facts), ""]
        for kind, title in (("root_relative", "root-relative (pose only)"), ("global", "global positions")):
            out += [f"**MPJPE, {title}, real mm** (mean, 95 % interval in brackets):", ""]
            out += corpus_table(r["models"], kind, labels)
            first = next(iter(r["models"].values()))[kind]
            out += ["| windows | " + " | ".join(str(first[h]["windows"]) for h in labels) + " |", ""]
        goals = r.get("goals") or {}
        if goals.get("checks"):
            missed = [
                f"{c['positions'].replace('_', '-')} {c['horizon']} ms ({c['value']:.1f} vs {c['limit']:.1f})"
                for c in goals["checks"]
                if not c["met"]
            ]
            verdict = "all met" if not missed else "missed at " + ", ".join(missed)
            out += [f"Goals for the default model `{goals['model']}`: {verdict}.", ""]
    return out


FILES_INTRO = " ".join(
    [
        "The corpus protocol on motion files of one's own: `posecast bench files PATH... [--name NAME]",
        "[--models ...] [--json PATH] [--max-files N] [--up AXIS] [--mapping FILE] [--units U] [--skeleton S]",
        "[--fps F] [--asf FILE]`. What differs from `bench corpus` (printed with every table): the files",
        "given, or every motion file under the folders given (hidden files and ASF skeletons left out; .txt",
        "and .json files that are not motion skipped), each file once, grouped by skeleton layout, each group",
        "scored on its own joints by the rules above; leading rest-pose frames dropped where",
        "`posecast.motion.detached_start` finds them (a converter's T-pose; not found at low frame rates);",
        "each file turned so that its up axis (given, found, or its group's) points along +y (a rotation:",
        "distances unchanged); tracking losses counted per file and scored as recorded; the JSON adds",
        "`per_file` (every file's mean error per horizon) for every model and `file_facts`. Files that cannot",
        "be read or that hold a saved forecast are named together (exit 2). The run below, on a data set the",
        "corpus benchmark also scores, checks that both give the same numbers.",
    ]
)


def files_section() -> list[str]:
    """`posecast bench files` (``results/files_*.json``, the name after ``_`` a data set of `bench corpus`): the
    protocol, root-relative MPJPE per group, the files with the largest error, and the largest difference from
    ``results/corpus.json``'s numbers for the same data set."""
    from posecast.evaluation.protocols.corpus import worst_files

    paths = sorted(RESULTS.glob("files_*.json"))
    if not paths:
        return []
    labels = list(published.LABELS)
    reference = _load("corpus") or {"datasets": {}}
    out = ["### Your own files (`posecast bench files`)", "", FILES_INTRO, ""]
    for path in paths:
        d = json.loads(path.read_text())
        run = path.stem.split("_", 1)[1]
        out += [f"`{path.name}`:", "", *_protocol_lines(d["protocol"]), ""]
        for group, r in d["datasets"].items():
            info = r["info"]
            facts = {k: info[k] for k in ("files", "skeleton", "recorded_up_axis", "first_frame") if k in info}
            lost = [f["file"] for f in info.get("file_facts", []) if f["tracking_losses"]]
            facts["files with tracking losses"] = ", ".join(lost) or "none"
            out += [f"#### {group}", "", *(f"- {k.replace('_', ' ')}: {v}" for k, v in facts.items()), ""]
            out += ["**MPJPE, root-relative (pose only), real mm** (mean, 95 % interval in brackets):", ""]
            out += corpus_table(r["models"], "root_relative", labels) + [""]
            model, label, worst = worst_files(r)
            if worst:
                shown = ", ".join(f"`{f}` {v:.1f}" for f, v in worst)
                out += [f"Largest root-relative errors of `{model}` at {label} ms (mm): {shown}.", ""]
            ref = reference["datasets"].get(run)
            if ref is not None:
                diffs = [
                    abs(x[kind][h]["mean"] - ref["models"][m][kind][h]["mean"])
                    for m, x in r["models"].items()
                    if m in ref["models"]
                    for kind in ("global", "root_relative")
                    for h in labels
                ]
                common = [m for m in r["models"] if m in ref["models"]]
                out += [
                    f"Against `bench corpus` on `{run}` (`corpus.json`; {', '.join(common)}, global and root-relative, "
                    f"every horizon): largest difference {max(diffs):.4f} mm.",
                    "",
                ]
    return out


def long_horizon_section() -> list[str]:
    """`posecast bench long-horizon` (``results/long-horizon_*.json``): one section per file (the name after
    ``_`` says which run), rendered by the protocol module (`posecast.evaluation.protocols.long_horizon.markdown`):
    the protocol, then per data set the reference rows, every model at 1, 2, 5, 10, 20 s and the goals."""
    from posecast.evaluation.protocols.long_horizon import markdown

    out: list[str] = []
    for path in sorted(RESULTS.glob("long-horizon_*.json")):
        d = json.loads(path.read_text())
        if "datasets" in d:
            run = path.stem.split("_", 1)[1]
            out += markdown(d, title=f"### Long horizons (`posecast bench long-horizon`): {run}")
    return out


def speed_section() -> list[str]:
    """One table per ``results/speed_*.json`` (the same model name is a different variant in each: e.g.
    ``dct-mlp`` on CMU-Mocap in one file, its corpus weights on a Bandai skeleton in another)."""
    paths = sorted(RESULTS.glob("speed_*.json"))
    if not paths:
        return []
    first = json.loads(paths[0].read_text())
    out = ["### Speed (`posecast bench speed`)", "", *_protocol_lines(first["protocol"]), ""]
    for path in paths:
        d = json.loads(path.read_text())
        out += [f"`{path.name}`" + (f" (machine: {json.dumps(d['machine'])})" if "machine" in d else ""), ""]
        if "weights" in d["protocol"]:
            out += [f"weights: {d['protocol']['weights']}", ""]
        out += [
            "| model | skeleton | parameters | history | batch-1 latency, 1 thread (ms, median / p90) "
            "| via forecast() (ms) | throughput (forecasts/s, batch) |",
            "|---|---|---|---|---|---|---|",
        ]
        for m, r in d["models"].items():
            out.append(
                f"| {m} | {r.get('skeleton', '')} | {r['parameters']:,} | {r['history_frames']} frames @ {r['fps']:g} "
                f"fps | {r['latency_ms_batch1']:.3f} / {r['latency_ms_batch1_p90']:.3f} | "
                f"{r['forecast_latency_ms_batch1']:.3f} | {r['throughput_forecasts_per_s']:,.0f} "
                f"({r['throughput_batch']}) |"
            )
        out.append("")
    return out


def run_benchmarks(models: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    exe = str(Path(sys.executable).parent / "posecast")
    for protocol in ("ltd8", "all"):
        for m in models:
            out = RESULTS / f"cmu-mocap_{protocol}_{m}.json"
            subprocess.run(
                [exe, "bench", "cmu-mocap", "--model", m, "--protocol", protocol, "--json", str(out)], check=True
            )


FRAGMENTS = {
    "keyposes.md": "## Characteristic poses (`posecast bench keyposes`)",
    "keyposes-cmu-bvh.md": "### Characteristic poses, the earlier CMU BVH protocol (`--protocol cmu-bvh`)",
    "video.md": "## Video models (`posecast bench video`)",
    "video_backend.md": "### Video pose backend (`posecast bench video-backend`)",
    "detector_noise.md": "### Detector noise of the pose backend (`posecast bench detector-noise`)",
    "video_posemonet.md": "### `posemonet` model card numbers",
    "video_hmmr.md": "### `hmmr` model card numbers",
    "extra.md": "## Notes",
}
"""Markdown fragments under benchmarks/results/ appended, in this order, when present; a fragment
that does not start with its own heading gets the one given here."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="re-run the benchmarks first")
    parser.add_argument("--models", nargs="*", default=None, help="default: every model with a results file")
    args = parser.parse_args()
    if args.run:
        run_benchmarks(args.models or ["zero-velocity", "constant-velocity", "nearest-neighbour"])
    if args.models is None:
        order = ["zero-velocity", "constant-velocity", "nearest-neighbour"]
        found = sorted({p.stem.split("_", 2)[2] for p in RESULTS.glob("cmu-mocap_*_*.json")})
        args.models = [m for m in order if m in found] + [m for m in found if m not in order]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/make_docs.py` from the JSON files in `benchmarks/results/` (each written by",
        "the `posecast bench ... --json` command its name gives). Every table states its protocol. Published",
        "numbers are quoted from the sources listed in `benchmarks/published.py`.",
        "",
        "Note: 2 of the 8 CMU-Mocap test files (basketball_signal, directing_traffic) are missing in our data,",
        "so averages are over the 6 actions present and are not comparable with published 8-action averages;",
        "published methods are re-averaged over the same actions. washwindow has no training files here, so",
        "for learned models it is zero-shot; the five-action averages leave it out.",
        "",
    ]
    for protocol in ("all", "ltd8"):
        lines += cmu_section(protocol, args.models)
    lines += corpus_section() + files_section() + cmu_bvh_section() + long_horizon_section() + speed_section()
    # sections written as markdown by their own benchmark commands (tables with their protocols)
    for name in FRAGMENTS:
        fragment = RESULTS / name
        if fragment.is_file():
            text = fragment.read_text()
            lines += ([] if text.lstrip().startswith("#") else [FRAGMENTS[name], ""]) + [text]
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {ROOT / 'docs' / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
