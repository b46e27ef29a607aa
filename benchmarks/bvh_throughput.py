"""BVH and ASF/AMC reading throughput: parse + forward kinematics, frames per second, PoseCast against pybvh.

Usage::

    POSECAST_DATA=../shared/data .venv/bin/python benchmarks/bvh_throughput.py [--json PATH] [--runs 3]
        [--no-pybvh] [--only bvh|amc]

Protocol (printed with the table):

* Files: every ``*.bvh`` under ``$POSECAST_DATA/cmu_bvh`` (the 2010 cgspeed CMU release, 120 Hz,
  31 joints + 7 End Sites, 96 channels per frame), read from the page cache (one untimed warm-up
  read of each file first).
* One run = read every file once, in sorted order, single process, single thread. A run's
  throughput = all frames / the sum of the per-file wall times. Reported: the best of ``--runs``
  runs (wall clock), the same with process CPU time (``time.process_time``, less sensitive to
  other processes on a shared machine), and the median over files of each file's frames / its
  best wall time.
* PoseCast: ``posecast.io.bvh.read_bvh(path)`` builds the full `Motion`: positions ``(T, 31, 3)`` in
  metres, local rotations ``(T, 31, 3, 3)``, root translation, skeleton; the ``end_sites=True``
  row also returns the 7 End Sites (38 joints).
* pybvh (the oracle of the tests): ``pybvh.read_bvh_file(path, world_up="+y")`` (an explicit up
  axis skips its up-axis detection, its fastest path) then ``.node_positions()``, the world
  positions of all 38 nodes; pybvh offers no cheaper global-position call.
* ASF/AMC: every ``*.amc`` under ``$POSECAST_DATA/hdm05_cuts`` (HDM05 actor bd: 62 clips, 13,266
  frames at 120 Hz, 30 bone lines and 62 values per frame, 38 joints incl. 7 end joints), same
  protocol. ``read_amc(path, asf=...)`` builds the full `Motion` (positions, local rotations
  ``C M C^-1``, root translation; the parsed ASF is cached, as it is for every clip of an actor);
  ``posecast.load(path)`` adds format detection and finding the ASF in ``../asf/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import posecast
from posecast.datasets.paths import dataset_dir
from posecast.io.asf_amc import read_amc
from posecast.io.bvh import read_bvh


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _frames_posecast(path: Path) -> int:
    return read_bvh(path).num_frames


def _frames_posecast_end_sites(path: Path) -> int:
    return read_bvh(path, end_sites=True).num_frames


def _frames_pybvh(path: Path) -> int:
    import pybvh

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bvh = pybvh.read_bvh_file(path, world_up="+y")
        return int(bvh.node_positions().shape[0])


def _amc_reader(asf: Path) -> Callable[[Path], int]:
    def frames(path: Path) -> int:
        return read_amc(path, asf=asf).num_frames

    return frames


def _frames_load(path: Path) -> int:
    return posecast.load(path).num_frames


def measure(reader: Callable[[Path], int], files: list[Path], runs: int) -> dict[str, float | int]:
    """Best-of-``runs`` throughput of ``reader`` over ``files`` and the per-file median."""
    frames = [reader(f) for f in files]  # warm-up (page cache, imports, caches)
    best_per_file = [float("inf")] * len(files)
    run_totals, cpu_totals = [], []
    for _ in range(runs):
        total = 0.0
        c0 = time.process_time()
        for i, f in enumerate(files):
            t0 = time.perf_counter()
            reader(f)
            dt = time.perf_counter() - t0
            total += dt
            best_per_file[i] = min(best_per_file[i], dt)
        cpu_totals.append(time.process_time() - c0)
        run_totals.append(total)
    n = sum(frames)
    best = min(run_totals)
    return {
        "files": len(files),
        "frames": n,
        "best_run_s": best,
        "frames_per_s": n / best,
        "cpu_frames_per_s": n / min(cpu_totals),
        "all_runs_frames_per_s": [n / t for t in run_totals],
        "median_file_frames_per_s": statistics.median(fr / t for fr, t in zip(frames, best_per_file, strict=True)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--runs", type=int, default=3, help="runs per reader (best is reported)")
    parser.add_argument("--no-pybvh", action="store_true", help="skip the pybvh comparison")
    parser.add_argument("--only", choices=("bvh", "amc"), help="measure one format only")
    args = parser.parse_args(argv)

    suites: list[tuple[str, list[Path], dict[str, Callable[[Path], int]]]] = []
    if args.only != "amc":
        folder = dataset_dir("cmu_bvh")
        assert folder is not None
        files = sorted(folder.rglob("*.bvh"))
        if not files:
            print(f"no .bvh files under {folder}", file=sys.stderr)
            return 2
        readers: dict[str, Callable[[Path], int]] = {
            "posecast read_bvh (31 joints)": _frames_posecast,
            "posecast read_bvh end_sites=True (38)": _frames_posecast_end_sites,
        }
        if not args.no_pybvh:
            readers["pybvh 0.9.0 read + node_positions (38)"] = _frames_pybvh
        suites.append(("cmu_bvh", files, readers))
    if args.only != "bvh":
        hdm = dataset_dir("hdm05_cuts")
        assert hdm is not None
        clips = sorted(hdm.rglob("*.amc"))
        asfs = sorted(hdm.rglob("*.asf"))
        if not clips or len(asfs) != 1:
            print(f"expected .amc clips and one .asf under {hdm}", file=sys.stderr)
            return 2
        amc_readers = {
            "posecast read_amc asf=... (38 joints)": _amc_reader(asfs[0]),
            "posecast.load (finds the ASF) (38)": _frames_load,
        }
        suites.append(("hdm05_cuts", clips, amc_readers))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    results: dict[str, dict[str, Any]] = {}
    for data, files, readers in suites:
        for name, fn in readers.items():
            results[name] = {"data": data, **measure(fn, files, args.runs)}
    machine = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_average_at_start": load,
    }
    listed = " and ".join(f"all {len(files)} files of $POSECAST_DATA/{data}" for data, files, _ in suites)
    protocol = (
        f"{listed} read in order, single thread, warm page cache; "
        f"throughput = frames / summed per-file wall time, best of {args.runs} runs; "
        "median = over files of frames / best time of the file"
    )
    print(
        f"BVH and ASF/AMC parse + FK throughput on {machine['cpu']}, {machine['cores']} cores, "
        f"python {machine['python']}, numpy {machine['numpy']}" + (f", load average {load[0]:.2f}" if load else "")
    )
    print(f"protocol: {protocol}")
    header = (
        f"{'reader':<42} {'data':<10} {'files':>5} {'frames':>8} {'best run s':>10} {'frames/s':>10} "
        f"{'CPU frames/s':>12} {'median/file':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(
            f"{name:<42} {r['data']:<10} {r['files']:>5} {r['frames']:>8} {r['best_run_s']:>10.3f} "
            f"{r['frames_per_s']:>10,.0f} {r['cpu_frames_per_s']:>12,.0f} {r['median_file_frames_per_s']:>11,.0f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "protocol": protocol, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
