"""Would storing the shipped weights as float16 change any benchmark number?

Usage::

    POSECAST_DATA=... .venv/bin/python benchmarks/weights_precision.py [--models dct-mlp traj-gcn ...]
        [--windows 512] [--keypose-inputs 625] [--long-horizon 0] [--json out.json]
    .venv/bin/python benchmarks/weights_precision.py --convert --models res-gru/cmu-mocap ...

For every shipped weight folder ``src/posecast/weights/<model>/<variant>/`` (or those of ``--models``):

1. the model is loaded as shipped (float32, or float16 once converted) with its own loader;
2. a float16 copy of ``model.safetensors`` (every floating tensor rounded to float16, other tensors,
   tensor names and the safetensors metadata kept) is written to a temporary folder next to a copy of
   ``config.json`` and loaded with the *same* loader. This is the model "rounded to float16 and back"
   and at the same time checks that the loader accepts a float16 file: every parameter and buffer of
   the loaded network must be float32 and equal, bit for bit, to the float16-rounded shipped tensor
   (``load: ok``); anything else is reported;
3. both run on the same fixed inputs (the benchmark's own test windows where the model has a
   benchmark) and the per-joint Euclidean difference of the two predictions is reported, mean and
   max, in real millimetres; for CMU-Mocap models also in the benchmark's "mm"
   (``1000 * metres * 70 / ASF unit in metres``, `cmu_mocap.BENCH_MM_PER_M`), after the benchmark's
   joint handling (`cmu_mocap.apply_protocol_fill`), i.e. exactly the arrays the benchmark averages.

Why the mean decides: ``|MPJPE(a) - MPJPE(b)| <= mean |a - b|`` over the same windows, frames and
joints (triangle inequality). A printed benchmark cell is a mean over the windows of one group
(action, subject, ...) at one horizon frame, so the column ``cell`` reports the largest such mean
difference over every group x frame cell of the protocol (this bound holds for any truth). Where the
truth is at hand, ``ΔMPJPE`` is the actual largest change of a printed cell (group x reported horizon,
and the average row) between the two models on these inputs, in the same unit.

Inputs per model (all deterministic; the seed fixes every random choice):

* CMU-Mocap variants (cmu-mocap-38, 60 Hz): the ``ltd8`` windows (the whole benchmark: 8 per test
  file) and ``--windows`` windows of the ``all`` protocol evenly spread over the test files;
  ``st-transformer-rot`` reads the same windows' rotations (`cmu_mocap.evaluate_rotations`'s
  inputs) and is scored by its FK positions;
* CMU BVH variants (cmu-bvh-31, 25 fps): the windows of `posecast.evaluation.protocols.cmu_bvh`
  (all of them, or ``--windows`` evenly spread); with ``--long-horizon S`` also the long-horizon
  benchmark itself (S-second rollouts from every seed; it reports spectra and speeds, not MPJPE: the
  row gives the largest change of its printed numbers);
* body-17 ``dct-mlp``: the true 3D pasts (50 frames) of the video benchmark's filmed test windows
  (`posecast.evaluation.protocols.video.test_windows`), as ``lifting+dct-mlp`` feeds it (there: estimated pasts);
* video models (phd, posemonet, hmmr): the video benchmark's filmed test windows, 50 observed frames
  of 2D keypoints (+ world landmarks where the model reads them), 25 forecast; past and future 3D;
* ``charpose``: the key-pose benchmark's evaluation inputs (`posecast.evaluation.protocols.keyposes.evaluation_data`);
  deterministic parts compared (heatmap values in [0, 1] and offsets of a teacher-forced pass on the
  true key poses; arg-max hypotheses, ``T = 0``), then seeded sampling at the model's temperature
  (same generator seed for both: share of identical voxel draws, pose difference); the regression
  variant is deterministic (one pose per input);
* ``keypose-classifier``: class probabilities of the key-pose benchmark's true key poses and last
  observed poses (absolute difference, arg-max agreement).

Without ``--convert`` nothing here writes into the package. ``--convert --models NAME/VARIANT ...`` is
the deliberate step after the check: it rewrites those folders' ``model.safetensors`` as float16.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

VIDEO_MODELS = ("phd", "posemonet", "hmmr")


# ------------------------------------------------------------------------------------------- weights
def weights_dir() -> Path:
    import posecast

    return Path(posecast.__file__).resolve().parent / "weights"


def shipped_folders(models: list[str] | None) -> list[Path]:
    root = weights_dir()
    out = sorted(p.parent for p in root.glob("*/*/model.safetensors") if (p.parent / "config.json").is_file())
    if models:
        out = [p for p in out if p.parent.name in models or f"{p.parent.name}/{p.name}" in models]
    return out


def half_copy(src: Path, dst: Path) -> dict[str, Any]:
    """Write ``dst/model.safetensors`` with every floating tensor of ``src`` as float16 (but those named with a
    prefix in `posecast.models.store.FULL_PRECISION`; names, other
    tensors and the safetensors metadata kept) and copy ``config.json``; returns a summary."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    dst.mkdir(parents=True, exist_ok=True)
    with safe_open(str(src / "model.safetensors"), "pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    from posecast.models.store import FULL_PRECISION

    half = {
        k: (v.half() if v.is_floating_point() and not k.startswith(FULL_PRECISION) else v).contiguous()
        for k, v in state.items()
    }
    save_file(half, str(dst / "model.safetensors"), metadata=meta)
    shutil.copyfile(src / "config.json", dst / "config.json")
    overflow = [k for k, v in state.items() if v.is_floating_point() and not bool(half[k].isfinite().all())]
    return {
        "tensors": len(state),
        "floating": sum(v.is_floating_point() for v in state.values()),
        "dtypes": sorted({str(v.dtype).replace("torch.", "") for v in state.values()}),
        "metadata": meta,
        "overflow_to_inf": overflow,
        "bytes_shipped": (src / "model.safetensors").stat().st_size,
        "bytes_float16": (dst / "model.safetensors").stat().st_size,
        "max_abs_weight": max((float(v.abs().max()) for v in state.values() if v.is_floating_point()), default=0.0),
    }


def convert(folder: Path) -> None:
    """Replace ``folder/model.safetensors`` by its float16 copy (`half_copy`; atomic replace)."""
    import os

    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".fp16-") as tmp:
        info = half_copy(folder, Path(tmp))
        if info["overflow_to_inf"]:
            raise SystemExit(f"{folder}: float16 overflow in {info['overflow_to_inf']}; not converted")
        os.replace(Path(tmp) / "model.safetensors", folder / "model.safetensors")
    log(f"{folder.parent.name}/{folder.name}: {info['bytes_shipped']:,} -> {info['bytes_float16']:,} bytes")


def module_of(model: Any):
    """The torch module behind a loaded model (forecasters keep it in ``.net``)."""
    from torch import nn

    return model if isinstance(model, nn.Module) else model.net


def check_loaded(shipped: Any, halved: Any, file_keys: list[str]) -> str:
    """``"ok"`` when every floating parameter / buffer of ``halved`` is float32 and equals the shipped
    tensor rounded to float16 and back (tensors not in the file: equal to the shipped ones); else what
    differs."""
    import torch

    def tensors(model: Any) -> dict[str, Any]:
        m = module_of(model)
        return {**dict(m.named_parameters()), **dict(m.named_buffers())}

    a, b = tensors(shipped), tensors(halved)
    problems = [f"{k}: missing" for k in a if k not in b]
    from posecast.models.store import FULL_PRECISION

    for k, vb in b.items():
        if not vb.is_floating_point() or k.startswith(FULL_PRECISION):  # kept as stored
            continue
        if vb.dtype != torch.float32:
            problems.append(f"{k}: {vb.dtype}")
            continue
        want = a[k].detach().half().float() if k in file_keys else a[k].detach()
        if not torch.equal(vb.detach(), want):
            problems.append(f"{k}: values differ from the float16-rounded tensor")
    if not problems:
        return "ok"
    return "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")


# ------------------------------------------------------------------------------------------- numbers
def joint_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-joint Euclidean distance of ``(..., J, 3)`` arrays."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)


def cell_bound(d: np.ndarray, groups: np.ndarray | None) -> float:
    """Largest mean difference of one printed cell: ``d`` is ``(W, F, J)``; a cell = the windows of a
    group (or all) at one frame, averaged over windows and joints."""
    labels = np.zeros(len(d), int) if groups is None else groups
    worst = 0.0
    for g in np.unique(labels):
        per_frame = d[labels == g].mean(axis=(0, 2))
        worst = max(worst, float(per_frame.max()))
    if groups is not None:  # pooled averages (cmu_bvh "average"): the mean over all windows
        worst = max(worst, float(d.mean(axis=(0, 2)).max()))
    return worst


def mpjpe_delta(
    pa: np.ndarray, pb: np.ndarray, truth: np.ndarray, frames: list[int], groups: list[np.ndarray], pooled: bool
) -> float:
    """The largest change of a printed MPJPE cell: ``pa``, ``pb``, ``truth`` are ``(W, F, J, 3)``; a cell is
    the mean error of the windows of one group (boolean masks ``groups``) at one of ``frames``; with
    ``pooled`` also the mean over all windows, else also the unweighted mean over the groups (CMU-Mocap's
    average over actions)."""
    ea = joint_diff(pa, truth).mean(-1)[:, frames]  # (W, len(frames))
    eb = joint_diff(pb, truth).mean(-1)[:, frames]
    cells_a = [ea[g].mean(0) for g in groups if g.any()]
    cells_b = [eb[g].mean(0) for g in groups if g.any()]
    if pooled:
        cells_a.append(ea.mean(0))
        cells_b.append(eb.mean(0))
    else:
        cells_a.append(np.mean(cells_a, axis=0))
        cells_b.append(np.mean(cells_b, axis=0))
    return float(np.abs(np.array(cells_a) - np.array(cells_b)).max())


def row(
    label: str, d: np.ndarray, scale: float, unit: str, groups: np.ndarray | None = None, n: int | None = None, **extra
) -> dict:
    """One result row: mean / max of the differences ``d * scale`` (and `cell_bound` for ``(W, F, J)``)."""
    d = np.asarray(d) * scale
    out = {"input": label, "n": int(d.shape[0] if n is None else n), "unit": unit, "mean": float(d.mean()),
           "max": float(d.max())}  # fmt: skip
    if d.ndim == 3:
        out["cell"] = cell_bound(d, groups)
    return {**out, **extra}


# ------------------------------------------------------------------------------------------- inputs
class Inputs:
    """Benchmark inputs, loaded once, on demand."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._cache: dict[str, Any] = {}

    def get(self, key: str, build: Callable[[], Any]) -> Any:
        if key not in self._cache:
            t0 = time.perf_counter()
            self._cache[key] = build()
            log(f"  inputs {key}: {time.perf_counter() - t0:.1f} s")
        return self._cache[key]

    # CMU-Mocap: windows (W, 35, 38, 3) in benchmark units, action label per window, rotations
    def cmu_mocap(self, protocol: str) -> dict[str, np.ndarray]:
        def build():
            from posecast.datasets.cmu_mocap import load_rotations
            from posecast.evaluation.protocols import cmu_mocap as C

            span = C.INPUT_N + C.OUTPUT_N
            wins, rots, acts = [], [], []
            test = C.files("test")
            lengths = {p: C.load_positions(p, "bench").shape[0] for ps in test.values() for p in ps}
            total = sum(len(C.window_starts(n, protocol)) for n in lengths.values())
            keep = None  # "all": --windows windows evenly spread over the pooled windows (all if fewer)
            if protocol == "all" and total > self.args.windows:
                keep = set(np.linspace(0, total - 1, self.args.windows).round().astype(int).tolist())
            seen = 0
            for ai, (_, paths) in enumerate(test.items()):
                for path in paths:
                    pos = C.load_positions(path, "bench")
                    starts = every = C.window_starts(pos.shape[0], protocol)
                    if keep is not None:
                        starts = np.array([s for i, s in enumerate(every, seen) if i in keep], dtype=int)
                    seen += len(every)
                    if not len(starts):
                        continue
                    idx = starts[:, None] + np.arange(span)[None]
                    wins.append(pos[idx])
                    rots.append(load_rotations(path)[idx[:, : C.INPUT_N]])
                    acts += [ai] * len(starts)
            return {"windows": np.concatenate(wins), "rotations": np.concatenate(rots), "groups": np.array(acts)}

        return self.get(f"cmu-mocap {protocol}", build)

    def cmu_bvh(self) -> dict[str, np.ndarray]:
        def build():
            from posecast.evaluation.protocols import cmu_bvh as B

            seqs = B.load_sequences()
            windows, where = B.make_windows(seqs)
            groups_of = {s.name: s.groups for s in seqs}
            keep = np.arange(len(windows))
            if len(keep) > self.args.windows:
                keep = keep[np.linspace(0, len(keep) - 1, self.args.windows).round().astype(int)]
            # cells: every (subject, activity) group the protocol prints
            names = sorted({g for s in seqs for g in s.groups})
            member = np.array([[g in groups_of[where[i][0]] for g in names] for i in keep])
            return {"windows": windows[keep], "member": member, "group_names": names}

        return self.get("cmu-bvh", build)

    def video(self):
        def build():
            from posecast.evaluation.protocols.video import test_windows

            return test_windows(stride=10, seed=0, max_windows=self.args.windows)

        return self.get("video", build)

    def keyposes(self):
        def build():
            from posecast.evaluation.protocols.keyposes import evaluation_data

            data = evaluation_data()
            n = len(data)
            keep = np.arange(n)
            if n > self.args.keypose_inputs:
                keep = keep[np.linspace(0, n - 1, self.args.keypose_inputs).round().astype(int)]
            return {
                "observed": data.pairs.observed[keep].astype(np.float32),
                "target": data.pairs.target[keep].astype(np.float32),
            }

        return self.get("keyposes", build)


# ------------------------------------------------------------------------------------------- checks
def bvh_cells(inp: dict, d: np.ndarray) -> float:
    """`cell_bound` over the cmu_bvh groups (a window may be in several: subject and activity)."""
    worst = float(d.mean(axis=(0, 2)).max())
    for gi in range(inp["member"].shape[1]):
        sel = inp["member"][:, gi]
        if sel.any():
            worst = max(worst, float(d[sel].mean(axis=(0, 2)).max()))
    return worst


def cmu_mocap_row(label: str, pa: np.ndarray, pb: np.ndarray, truth: np.ndarray, groups: np.ndarray) -> dict:
    """``pa``, ``pb``: ``(W, 25, 38, 3)`` predictions in metres; ``truth`` in benchmark units. Real mm on
    the predictions as made (all 38 joints); benchmark "mm" after the benchmark's joint handling."""
    from posecast.evaluation.protocols import cmu_mocap as C

    fa = C.apply_protocol_fill(pa * C.BENCH_MM_PER_M, truth)
    fb = C.apply_protocol_fill(pb * C.BENCH_MM_PER_M, truth)
    filled = joint_diff(fa, fb)
    r = row(label, joint_diff(pa, pb), 1000.0, "mm", groups)
    r["bench_mean"], r["bench_max"] = float(filled.mean()), float(filled.max())
    r["bench_cell"] = cell_bound(filled, groups)
    masks = [groups == g for g in np.unique(groups)]
    r["bench_delta_mpjpe"] = mpjpe_delta(fa, fb, truth, list(C.REPORT_FRAMES.values()), masks, pooled=False)
    return r


def compare_neural(a, b, inputs: Inputs, args) -> list[dict]:
    from posecast.evaluation.protocols import cmu_mocap as C

    skel = a.config.skeleton
    rows = []
    if skel == "cmu-mocap-38":
        for protocol in ("ltd8", "all"):
            inp = inputs.cmu_mocap(protocol)
            w = inp["windows"]
            hist = w[:, : C.INPUT_N] / C.BENCH_MM_PER_M
            truth = w[:, C.INPUT_N :]
            pa = predict_batched(lambda h: a.predict(h, C.OUTPUT_N, 1, fps=C.FPS)[:, 0], hist)
            pb = predict_batched(lambda h: b.predict(h, C.OUTPUT_N, 1, fps=C.FPS)[:, 0], hist)
            label = "ltd8 windows (whole benchmark)" if protocol == "ltd8" else "'all' protocol windows (sample)"
            rows.append(cmu_mocap_row(label, pa, pb, truth, inp["groups"]))
    elif skel == "cmu-bvh-31":
        from posecast.evaluation.protocols import cmu_bvh as B

        inp = inputs.cmu_bvh()
        hist = inp["windows"][:, : B.INPUT_N]
        pa = predict_batched(lambda h: a.predict(h, B.OUTPUT_N, 1, fps=B.FPS)[:, 0], hist)
        pb = predict_batched(lambda h: b.predict(h, B.OUTPUT_N, 1, fps=B.FPS)[:, 0], hist)
        d = joint_diff(pa, pb) * 1000
        rr = joint_diff(pa - pa[..., :1, :], pb - pb[..., :1, :]) * 1000
        r = row("cmu_bvh test windows", d, 1.0, "mm")
        r["cell"] = max(bvh_cells(inp, d), bvh_cells(inp, rr))  # global and root-relative tables
        truth = inp["windows"][:, B.INPUT_N :]
        frames = list(B.REPORT_FRAMES.values())
        masks = [inp["member"][:, i] for i in range(inp["member"].shape[1])]
        r["delta_mpjpe"] = 1000 * max(
            mpjpe_delta(pa, pb, truth, frames, masks, pooled=True),
            mpjpe_delta(pa - pa[..., :1, :], pb - pb[..., :1, :], truth - truth[..., :1, :], frames, masks, True),
        )
        rows.append(r)
        if args.long_horizon > 0:
            rows.append(long_horizon_row(a, b, args.long_horizon))
    elif skel == "body-17":
        from posecast.evaluation.protocols.video import FUTURE, OBSERVE, horizon_frames

        batch = inputs.video()
        past = batch.points[:, :OBSERVE]
        pa = predict_batched(lambda h: a.predict(h, FUTURE, 1, fps=25.0)[:, 0], past)
        pb = predict_batched(lambda h: b.predict(h, FUTURE, 1, fps=25.0)[:, 0], past)
        pa, pb = pa - pa[:, :, :1], pb - pb[:, :, :1]  # pelvis-centred, as the video benchmark
        r = row("video bench windows, true 3D past", joint_diff(pa, pb), 1000.0, "mm")
        frames = [f - 1 for f in horizon_frames().values()]
        whole = [np.ones(len(pa), bool)]
        r["delta_mpjpe"] = 1000 * mpjpe_delta(pa, pb, batch.points[:, OBSERVE:], frames, whole, pooled=False)
        rows.append(r)
    else:
        rows.append({"input": f"no benchmark inputs for skeleton {skel}"})
    return rows


def long_horizon_row(a, b, seconds: int) -> dict:
    """The long-horizon benchmark (`long_horizon.evaluate`, every seed) of both models: the largest change
    of its printed numbers (entropy and KLD at 3 decimals, speed ratio at 2) and how many printed cells
    differ."""
    from posecast.evaluation.protocols import corpus as C
    from posecast.evaluation.protocols import long_horizon as L

    res = L.evaluate({"a": a, "b": b}, seconds=seconds, test_sets=[C.load_test_set("cmu_bvh")])["datasets"]["cmu_bvh"]
    ra, rb = res["models"]["a"]["per_second"], res["models"]["b"]["per_second"]
    out: dict[str, Any] = {"input": f"long-horizon benchmark, cmu_bvh, {seconds} s", "n": res["info"]["seeds"]}
    changed = 0
    for key, digits in (("entropy", 3), ("kld", 3), ("speed_ratio", 2)):
        out[f"{key}_max_delta"] = max(abs(x[key] - y[key]) for x, y in zip(ra, rb, strict=True))
        changed += sum(f"{x[key]:.{digits}f}" != f"{y[key]:.{digits}f}" for x, y in zip(ra, rb, strict=True))
    out["printed_cells_changed"] = f"{changed} of {3 * len(ra)}"
    return out


def predict_batched(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Batches above the traced-path limit (16) run eagerly in both models: like with like."""
    return np.concatenate([np.asarray(fn(x[i : i + batch])) for i in range(0, len(x), batch)])


def compare_rotation(a, b, inputs: Inputs, args) -> list[dict]:
    from posecast.evaluation.protocols import cmu_mocap as C

    rows = []
    for protocol in ("ltd8", "all"):
        inp = inputs.cmu_mocap(protocol)
        truth = inp["windows"][:, C.INPUT_N :]
        rot = inp["rotations"]
        pa = a.body_positions(predict_batched(lambda r: a.predict_rotations(r, C.OUTPUT_N), rot))
        pb = b.body_positions(predict_batched(lambda r: b.predict_rotations(r, C.OUTPUT_N), rot))
        label = (
            "ltd8 windows, rotations (whole benchmark)" if protocol == "ltd8" else "'all' windows, rotations (sample)"
        )
        rows.append(cmu_mocap_row(label, pa, pb, truth, inp["groups"]))
    return rows


def compare_charpose(a, b, inputs: Inputs, args) -> list[dict]:
    import torch

    from posecast.keyposes.model import canonicalise, heatmap_levels
    from posecast.keyposes.sampling import sample_hypotheses

    inp = inputs.keyposes()
    obs = torch.as_tensor(inp["observed"])
    tgt = torch.as_tensor(inp["target"])
    rows = []
    if a.regressor is not None:
        ha = sample_hypotheses(a, obs, samples=1)
        hb = sample_hypotheses(b, obs, samples=1)
        rows.append(row("key-pose eval inputs, regression pose", joint_diff(ha.poses, hb.poses), 1000.0, "mm"))
        return rows
    obs_c, tgt_c, _ = canonicalise(obs, a.skeleton, a.config.canonical, tgt)
    lv_d, off_d = [], []
    with torch.no_grad():
        for i in range(0, len(obs), 64):
            la, oa = a(obs_c[i : i + 64], tgt_c[i : i + 64])
            lb, ob = b(obs_c[i : i + 64], tgt_c[i : i + 64])
            lv_d.append((heatmap_levels(la) - heatmap_levels(lb)).abs().flatten().numpy())
            if oa is not None:
                off_d.append(joint_diff(oa.numpy(), ob.numpy()).flatten())
    lv = np.concatenate(lv_d)
    rows.append({"input": "teacher-forced heatmap values [0,1]", "n": len(obs), "unit": "abs",
                 "mean": float(lv.mean()), "max": float(lv.max())})  # fmt: skip
    if off_d:
        rows.append(row("teacher-forced voxel offsets", np.concatenate(off_d), 1000.0, "mm", n=len(obs)))
    ha = sample_hypotheses(a, obs, samples=1, temperature=0.0, keep_levels=False)
    hb = sample_hypotheses(b, obs, samples=1, temperature=0.0, keep_levels=False)
    same = float((ha.voxels == hb.voxels).float().mean())
    rows.append(row("arg-max hypothesis (T=0)", joint_diff(ha.poses, hb.poses), 1000.0, "mm", same_voxels=same))
    k = args.charpose_samples
    ga, gb = torch.Generator().manual_seed(args.seed), torch.Generator().manual_seed(args.seed)
    sa = sample_hypotheses(a, obs, samples=k, generator=ga, keep_levels=False)
    sb = sample_hypotheses(b, obs, samples=k, generator=gb, keep_levels=False)
    same = float((sa.voxels == sb.voxels).float().mean())
    d = joint_diff(sa.poses, sb.poses)
    rows.append(row(f"seeded sampling K={k} at T={a.config.temperature:g}", d, 1000.0, "mm", same_voxels=same,
                    hypotheses_identical_voxels=float((sa.voxels == sb.voxels).all(-1).float().mean()),
                    probability_max_abs=float((sa.probabilities - sb.probabilities).abs().max())))  # fmt: skip
    return rows


def compare_classifier(a, b, inputs: Inputs, args) -> list[dict]:
    import torch

    inp = inputs.keyposes()
    poses = torch.as_tensor(np.concatenate([inp["target"], inp["observed"][:, -1]]))
    pa, pb = a.probabilities(poses), b.probabilities(poses)
    d = (pa - pb).abs()
    agree = float((pa.argmax(-1) == pb.argmax(-1)).float().mean())
    return [{"input": "key poses + last observed poses (key-pose bench)", "n": len(poses), "unit": "probability",
             "mean": float(d.mean()), "max": float(d.max()), "argmax_agreement": agree}]  # fmt: skip


def compare_video(a, b, inputs: Inputs, args) -> list[dict]:
    from posecast.evaluation.protocols.video import FUTURE, OBSERVE, horizon_frames

    batch = inputs.video()
    out = []
    for m in (a, b):
        world = batch.world[:, :OBSERVE] if getattr(m, "uses_world", False) else None
        out.append(m.predict(batch.keypoints[:, :OBSERVE], batch.visibility[:, :OBSERVE], FUTURE, world=world))
    whole = [np.ones(len(batch), bool)]
    truth = batch.points
    past = row("video bench windows: estimated past (50 frames)", joint_diff(out[0].past, out[1].past), 1000.0, "mm")
    past["delta_mpjpe"] = 1000 * mpjpe_delta(
        out[0].past, out[1].past, truth[:, :OBSERVE], list(range(OBSERVE)), whole, pooled=False
    )
    fut = row("video bench windows: forecast (25 frames)", joint_diff(out[0].future, out[1].future), 1000.0, "mm")
    frames = [f - 1 for f in horizon_frames().values()]
    fut["delta_mpjpe"] = 1000 * mpjpe_delta(out[0].future, out[1].future, truth[:, OBSERVE:], frames, whole, False)
    return [past, fut]


# ------------------------------------------------------------------------------------------- loaders
def loader_for(model: str) -> tuple[Callable[[Path], Any], Callable]:
    if model in VIDEO_MODELS:
        import importlib

        return importlib.import_module(f"posecast.video.models.{model}").load, compare_video
    if model == "charpose":
        from posecast.keyposes.model import load_charpose

        return load_charpose, compare_charpose
    if model == "keypose-classifier":
        from posecast.keyposes.classifier import load_classifier

        return load_classifier, compare_classifier
    if model == "st-transformer-rot":
        from posecast.models.st_transformer import STTransformerRot

        return STTransformerRot.load, compare_rotation
    from posecast.models.neural import NeuralForecaster

    return NeuralForecaster.load, compare_neural


def check_folder(folder: Path, inputs: Inputs, args, tmp: Path) -> dict[str, Any]:
    import torch

    name = f"{folder.parent.name}/{folder.name}"
    t0 = time.perf_counter()
    half_dir = tmp / folder.parent.name / folder.name
    info = half_copy(folder, half_dir)
    load, compare = loader_for(folder.parent.name)
    a = load(folder)
    try:
        b = load(half_dir)
        load_status = check_loaded(a, b, list(_file_keys(folder)))
    except Exception as exc:  # noqa: BLE001 - a loader that rejects float16 is the finding
        return {"folder": name, "file": info, "load": f"FAILED: {type(exc).__name__}: {exc}", "rows": []}
    torch.manual_seed(args.seed)
    rows = compare(a, b, inputs, args)
    return {
        "folder": name,
        "file": info,
        "load": load_status,
        "rows": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _file_keys(folder: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        return list(f.keys())


# ------------------------------------------------------------------------------------------- report
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}" if abs(x) >= 10**-digits or x == 0 else f"{x:.1e}"
    return str(x)


def markdown(results: list[dict]) -> str:
    lines = [
        "| weights | load fp16 file | input | n | mean | max | cell | ΔMPJPE | bench-mm mean | bench-mm max "
        "| bench-mm cell | bench-mm ΔMPJPE | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        if not res["rows"]:
            lines.append(f"| {res['folder']} | {res['load']} |" + " |" * 11)
        for i, r in enumerate(res["rows"]):
            notes = ", ".join(
                f"{k} {fmt(v)}" for k, v in r.items()
                if k not in {"input", "n", "unit", "mean", "max", "cell", "delta_mpjpe", "bench_mean", "bench_max",
                             "bench_cell", "bench_delta_mpjpe"}
            )  # fmt: skip
            unit = r.get("unit", "")
            lines.append(
                f"| {res['folder'] if i == 0 else ''} | {res['load'] if i == 0 else ''} | {r['input']} | "
                f"{r.get('n', '')} | {fmt(r.get('mean'))} {unit} | {fmt(r.get('max'))} | {fmt(r.get('cell'))} | "
                f"{fmt(r.get('delta_mpjpe'))} | {fmt(r.get('bench_mean'))} | {fmt(r.get('bench_max'))} | "
                f"{fmt(r.get('bench_cell'))} | {fmt(r.get('bench_delta_mpjpe'))} | {notes} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", nargs="*", help="model names or NAME/VARIANT (default: every shipped weight folder)")
    p.add_argument("--windows", type=int, default=512, help="at most this many windows per window set (sampled evenly)")
    p.add_argument("--keypose-inputs", type=int, default=625, help="at most this many key-pose evaluation inputs")
    p.add_argument("--charpose-samples", type=int, default=10, help="hypotheses per input in the seeded sampling")
    p.add_argument(
        "--long-horizon", type=int, default=0, help="also run the long-horizon benchmark (this many seconds) on cmu-bvh"
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--convert",
        action="store_true",
        help="instead of checking: rewrite model.safetensors of the folders named by --models as float16 in place "
        "(tensor names, non-floating tensors and the safetensors metadata kept; config.json untouched)",
    )
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    folders = shipped_folders(args.models)
    if not folders:
        p.error("no shipped weight folder matches")
    if args.convert:
        if not args.models:
            p.error("--convert needs --models (the folders that passed the check)")
        for folder in folders:
            convert(folder)
        return 0
    inputs = Inputs(args)
    results = []
    with tempfile.TemporaryDirectory(prefix="weights_fp16_") as tmp:
        for folder in folders:
            log(f"{folder.parent.name}/{folder.name} ...")
            res = check_folder(folder, inputs, args, Path(tmp))
            log(f"  {res.get('seconds', '?')} s, load: {res['load']}")
            results.append(res)
    print(markdown(results))
    sizes = [(r["file"]["bytes_shipped"], r["file"]["bytes_float16"]) for r in results]
    f32, f16 = sum(s[0] for s in sizes) / 1e6, sum(s[1] for s in sizes) / 1e6
    print(f"\nweights checked: {f32:.2f} MB as shipped, {f16:.2f} MB as float16")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
