"""The video plug-in of the training loop: the video models ``phd``, ``posemonet`` and ``hmmr``
(`posecast.video.models`), which read 2D keypoint tracks.

Data (`VideoData`): the CMU BVH motions (``$POSECAST_DATA/cmu_bvh``) at the model's rate, mapped to the
model's layout (``body-17``) with `posecast.skeletons.mapping.to_layout`; the training subjects (01, 05,
06, 07) of the split in ``$POSECAST_DATA/README.md``, with validation carved from the end of each
training sequence (the last `VAL_FRACTION`, as for the motion models); the test subjects (02, 08) are
never read here. (``data:`` may instead name a folder of motion files, split the same way.) Every
training batch films freshly sampled windows with fresh random cameras and detector noise
(`posecast.video.cameras.film`); the validation set is a fixed, seeded set of filmed windows.

Rounds are ``val_every`` optimiser steps of ``steps`` (the schedule's length); after each the model
module's ``evaluate(net, windows)`` runs on the validation windows. The loss is the model module's
``training_loss(net, batch, progress) -> (loss, {part: float})`` (``progress`` in ``[0, 1]``, for
curricula). The last weights are the result (no ``best/``). The config (`VideoTrainConfig`) holds the
loop settings and, under ``network:``, the model's own config (e.g. `~posecast.video.models.phd.PHDConfig`).

`ship_run` copies a run's last weights into the package (float16, `posecast.models.store.save_folder`)
with a model card (`model_card`) whose reproduce line is the ``posecast train`` command of the run.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, model_validator

from posecast import skeletons
from posecast.datasets.training_data import ReadOptions, check_reading
from posecast.errors import ModelError, ValueRangeError
from posecast.training.loop import BodyOptions, LoopConfig, Plugin, TrainingTask, fit, read_config
from posecast.video.cameras import CameraConfig, VirtualBatch, film

LAYOUT = "body-17"
#: validation: the last tenth of every training sequence at least `VAL_MIN_FRAMES` long (its remaining
#: part also that long), as `posecast.datasets.windows.split_sequences` carves it for the motion models
VAL_FRACTION = 0.1
VAL_MIN_FRAMES = 50
#: the model-card line of a network trained on the corpus: which body-17 it saw
CONVENTION_LINE = (
    "- body-17 as the corpus has it (through the canonical body: the neck at its base, the head at the base of the "
    "skull; `posecast.skeletons.mapping.BODY17_TO_CORPUS_CONVENTION`): a pose detector's keypoints are re-expressed "
    "so before the network reads them and its estimates turned back (`VideoForecaster.model_input`, `model_output`)"
)
#: seed of the cameras that film the fixed validation windows
VAL_SEED = 12345


# ------------------------------------------------------------------------------------------ data
def load_sequences(
    subjects: tuple[str, ...], fps: float = 25.0, layout: str = LAYOUT
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """CMU BVH motions of ``subjects`` at ``fps`` on ``layout``: ``(N_i, J, 3)`` world metres, and a
    description (files with sha256)."""
    from posecast.datasets.cmu_bvh import cmu_bvh_motions
    from posecast.datasets.training_data import describe
    from posecast.skeletons.mapping import to_layout

    motions, paths, root = cmu_bvh_motions(subjects, fps)
    seqs = [to_layout(m, layout).positions for m in motions]
    return seqs, describe("cmu-bvh", paths, root, subjects=list(subjects), fps=fps, layout=layout)


def folder_sequences(
    folder: Path, fps: float = 25.0, layout: str = LAYOUT, reading: ReadOptions | None = None
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Every motion file under ``folder`` at ``fps`` on ``layout``, and a description (files with sha256). ``reading``:
    `posecast.datasets.training_data.ReadOptions` for every file; every file is turned upright (`upright`); files of
    rigs without a registered layout, and every file when a joint mapping is given, go through the canonical body
    (`canonical_upright`)."""
    from posecast.datasets.training_data import FolderTakes, describe

    takes = FolderTakes.read(Path(folder), fps, reading)
    own = [takes.reading.turns_only() and skeletons.is_registered(m.skeleton) for m in takes.motions]
    seqs = [m.to_layout(layout).positions for m in takes.placed(canonical=[not k for k in own])]
    return seqs, describe(str(folder), takes.paths, Path(folder), fps=fps, layout=layout, **takes.record())


@dataclass
class VideoData:
    """3D training and validation sequences ``(N_i, J, 3)`` on ``body-17`` at ``fps``."""

    train: list[np.ndarray]
    val: list[np.ndarray]
    fps: float
    skeleton: str = LAYOUT
    description: dict[str, Any] = field(default_factory=dict)
    #: the data set of each training sequence (corpus data only; `sample`'s ``dataset_weights`` need it)
    train_datasets: list[str] = field(default_factory=list)
    #: `_starts` (key: length) and `window_probabilities` (key: length and weights), computed once each
    _probabilities: dict[Any, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def load(
        cls, fps: float = 25.0, layout: str = LAYOUT, source: str = "cmu-bvh", reading: ReadOptions | None = None
    ) -> VideoData:
        """The CMU BVH training subjects (or the motions of folder ``source``, each read with ``reading``,
        `posecast.datasets.training_data.ReadOptions`), validation carved from
        the end of each sequence (`VAL_FRACTION`); or, for ``source="corpus"`` (``corpus:-PREFIX,...``
        leaves files out), the training corpus's train split with its own validation split (CMU BVH
        validation files, Bandai Namco validation styles), mapped from the canonical body to ``layout``."""
        from posecast.datasets.cmu_bvh import TRAIN_SUBJECTS
        from posecast.datasets.windows import split_sequences

        check_reading(source, reading)
        if source == "corpus" or source.startswith("corpus:"):
            return cls._corpus(fps, layout, source)
        if source == "cmu-bvh":
            sequences, desc = load_sequences(TRAIN_SUBJECTS, fps, layout)
        elif Path(source).is_dir():
            sequences, desc = folder_sequences(Path(source), fps, layout, reading)
        else:
            raise ValueRangeError(f"video training data is cmu-bvh, corpus or a folder of motion files, not {source!r}")
        train, val = split_sequences(sequences, VAL_FRACTION, VAL_MIN_FRAMES)
        dval = {
            "source": desc["source"],
            "validation": f"the last {VAL_FRACTION:g} of every training sequence of at least "
            f"{VAL_MIN_FRAMES / VAL_FRACTION:g} frames ({len(val)} parts, {sum(len(v) for v in val)} frames)",
        }
        return cls(train, val, fps, layout, {"train": desc, "val": dval})

    @classmethod
    def _corpus(cls, fps: float, layout: str, source: str) -> VideoData:
        from posecast.datasets.training_data import corpus_training_data

        spec = source.partition(":")[2]
        data = corpus_training_data(f"corpus:{layout}" + (f",{spec}" if spec else ""), fps, VAL_MIN_FRAMES)
        desc = {"train": data.description, "val": data.description["validation"]}
        return cls(data.train, data.val, data.fps, layout, desc, list(data.train_datasets))

    def _starts(self, length: int) -> np.ndarray:
        """``(len(train),)`` window starts of ``length`` frames in each training sequence (0 when shorter);
        computed once per ``length``."""
        if length not in self._probabilities:
            self._probabilities[length] = np.array([max(len(s) - length + 1, 0) for s in self.train], dtype=np.float64)
        return self._probabilities[length]

    def window_probabilities(self, length: int, dataset_weights: dict[str, float] | None = None) -> np.ndarray:
        """Probability ``(len(train),)`` that a training window of ``length`` frames comes from each training
        sequence: every window start equally likely (None), or with ``dataset_weights`` (data set →
        relative weight, every training data set named) the data set drawn by its weight, then a window
        start within it, every start equally likely. Sequences shorter than ``length`` get 0. Computed once
        per ``(length, dataset_weights)`` (`sample` asks every step)."""
        key = (length, tuple(sorted((dataset_weights or {}).items())))
        if key not in self._probabilities:
            self._probabilities[key] = self._window_probabilities(length, dataset_weights)
        return self._probabilities[key]

    def _window_probabilities(self, length: int, dataset_weights: dict[str, float] | None) -> np.ndarray:
        from posecast.datasets.windows import dataset_shares

        what = f"the {length} frames a window needs"
        return dataset_shares(self._starts(length), self.train_datasets, dataset_weights, what)

    def sample(
        self,
        batch_size: int,
        length: int,
        rng: np.random.Generator,
        camera: CameraConfig | None = None,
        dataset_weights: dict[str, float] | None = None,
        body: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    ) -> VirtualBatch:
        """``batch_size`` random training windows of ``length`` frames, filmed by random cameras; windows
        drawn by `window_probabilities`, changed by ``body(windows (B, L, J, 3), rng)`` before filming (other
        bodies: `posecast.datasets.windows.BodyAugment`)."""
        seqs = self.train
        which = rng.choice(len(seqs), size=batch_size, p=self.window_probabilities(length, dataset_weights))
        starts = (rng.random(batch_size) * self._starts(length)[which]).astype(np.int64)
        windows = np.stack([seqs[i][s : s + length] for i, s in zip(which, starts, strict=True)])
        if body is not None:
            windows = body(windows, rng)
        return film(windows, self.skeleton, self.fps, rng, camera)

    def validation(
        self, length: int, stride: int = 10, seed: int = 0, camera: CameraConfig | None = None
    ) -> VirtualBatch:
        """A fixed set of filmed validation windows (every ``stride`` frames, cameras from ``seed``)."""
        from posecast.datasets.windows import slice_windows, window_starts

        parts = [slice_windows(seq, window_starts(len(seq), length, stride), length) for seq in self.val]
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ValueRangeError(
                f"no validation sequence has {length} frames ({length / self.fps:g} s): the held-out end of every "
                f"file is shorter (for a folder of motions, a tenth of each file: files of about "
                f"{10 * length / self.fps:.0f} s or more)"
            )
        windows = np.concatenate(parts)
        batch = film(windows, self.skeleton, self.fps, np.random.default_rng(seed), camera)
        batch.metadata.update({"stride": stride, "seed": seed, "windows": len(windows)})
        return batch


# ---------------------------------------------------------------------------------------- config
def network_schema(model: str) -> type[BaseModel]:
    """The config class of video model ``model``'s network (the type of its ``build(config)`` argument)."""
    from posecast.video.models import module

    hints = typing.get_type_hints(module(model).build)
    for arg in typing.get_args(hints["config"]) or (hints["config"],):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    raise ModelError(f"video model {model!r} has no network config class")  # pragma: no cover


class VideoTrainConfig(LoopConfig, BodyOptions):
    """A training run of a video model; ``configs/<model>/*.yaml`` map onto it (the network's own
    config under ``network:``)."""

    model: str = Field(default="", description="registry name of the video model (phd, posemonet, hmmr)")
    data: str = Field(
        default="cmu-bvh",
        description="cmu-bvh (the training subjects), corpus (its train split; validation on its validation "
        "split) or a folder of motions",
    )
    reading: ReadOptions | None = Field(default=None, description="how the files of a data folder are read")
    noise: typing.Literal["guess", "measured"] = Field(
        default="guess",
        description="detector noise of the virtual cameras: the first guess (CameraConfig defaults) or the "
        "ranges measured on real clips (CameraConfig.measured, posecast bench detector-noise)",
    )
    network: dict[str, Any] = Field(default_factory=dict, description="the model's network config")
    dataset_weights: dict[str, float] | None = Field(
        default=None,
        description="data: corpus only: relative weight of each training data set when drawing windows (every "
        "data set named, e.g. {cmu_bvh: 1, cmu_mocap: 1, bandai_namco: 1}); default: every window start of "
        "the corpus equally likely (so each data set by its length)",
    )
    augment_scale: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description="a smaller or bigger person: every bone of a training window also scaled by one factor in "
        "[1 - a, 1 + a] (with augment_bones, BodyOptions)",
    )
    steps: int = Field(default=3000, ge=1, description="optimiser steps (the length of the schedule)")
    batch_size: int = Field(default=64, ge=1)
    length: int = Field(default=50, ge=2, description="frames per training window")
    threads: int | None = 1
    val_every: int = Field(default=250, ge=1, description="steps per round (a validation after each)")
    val_stride: int = Field(default=10, ge=1, description="frames between validation windows")
    init: str | None = Field(
        default=None,
        description="start from these weights (a run directory, a weights folder or shipped NAME[/VARIANT]); "
        "the network config must match",
    )

    @model_validator(mode="after")
    def _network(self) -> VideoTrainConfig:
        if self.model:  # the network config, checked and completed with its defaults
            schema = network_schema(self.model)
            try:
                self.network = schema(**self.network).model_dump()
            except Exception as exc:
                raise ValueError(f"network: invalid {self.model} config: {exc}") from None
        return self


def load_config(path: Path | None, settings: tuple[str, ...] = (), **overrides: Any) -> VideoTrainConfig:
    """A config from a YAML file (optional) with keyword overrides on top (``None`` values ignored)."""
    return read_config(VideoTrainConfig, path, "video training config", settings=settings, **overrides)


# -------------------------------------------------------------------------------------- the task
class VideoTask(TrainingTask):
    """`TrainingTask` of a video model (module docstring). ``data``, ``camera`` and ``evaluate`` replace
    the default data, cameras and validation function (library use, tests)."""

    kind = "video"
    round_name = "step"
    score_key = None
    distributed = False

    def __init__(
        self,
        config: VideoTrainConfig,
        data: VideoData | None = None,
        camera: CameraConfig | None = None,
        evaluate: Callable[[Any, VirtualBatch], dict[str, float]] | None = None,
    ) -> None:
        if not config.model:
            raise ValueRangeError("video training config: no model named")
        self.config, self.name = config, config.model
        if camera is None and config.noise == "measured":
            camera = CameraConfig.measured()
        self.data, self.camera, self.evaluate = data, camera, evaluate

    def prepare(self, dist: Any) -> None:
        import torch

        from posecast.models import store
        from posecast.video.models import module

        config = self.config
        self.module_ = module(config.model)
        self.ncfg = network_schema(config.model)(**config.network)
        init_state = None
        if config.init:  # checked before any data is read
            try:
                folder = store.resolve(config.init)
            except ModelError:
                raise ValueRangeError(
                    f"init: {config.init!r} is neither a run or weights directory nor shipped weights"
                ) from None
            init_state, meta = store.load_folder(folder)
            theirs = meta.get("config") if isinstance(meta.get("config"), dict) else {}
            theirs = store.current_keys(type(self.ncfg), theirs)  # weights written before a field's rename
            mine = json.loads(json.dumps(self.ncfg.model_dump()))  # tuples as the lists the JSON holds
            diff = sorted(k for k in mine if k in theirs and theirs[k] != mine[k]) + sorted(set(theirs) - set(mine))
            if diff:
                raise ValueRangeError(f"init weights do not fit the network (differs in {', '.join(diff)})", folder)
        self.network = self.module_.build(self.ncfg)
        if init_state is not None:
            store.load_state(self.network, init_state, folder, f"the {config.model}")
        # the training draws start from the seed itself, as if the network had been built beforehand
        torch.manual_seed(config.seed)
        if self.data is None:
            self.data = VideoData.load(
                fps=self.ncfg.fps, layout=self.ncfg.skeleton, source=config.data, reading=config.reading
            )  # type: ignore[attr-defined]
        self.rng = np.random.default_rng(config.seed)
        self.body = config.body_augment(skeletons.get(self.data.skeleton), config.augment_scale)
        self.evaluate = self.evaluate or self.module_.evaluate
        self.val = self.data.validation(config.length, config.val_stride, seed=VAL_SEED, camera=self.camera)
        # checked before the first step; the share of the windows each data set gets goes in the run record
        p = self.data.window_probabilities(config.length, config.dataset_weights)
        self.dataset_share = {
            d: round(float(p[[n == d for n in self.data.train_datasets]].sum()), 4)
            for d in sorted(set(self.data.train_datasets))
        }
        self.total_steps, self.round_steps = config.steps, config.val_every

    def describe(self) -> dict[str, Any]:
        return {
            "model_config": self.ncfg.model_dump(),
            "data": self.data.description if self.data is not None else {},
            "validation_windows": len(self.val),
            "dataset_weights": self.config.dataset_weights,
            "window_share_per_dataset": getattr(self, "dataset_share", {}),
            "init": self.config.init,
        }

    def batches(self, round_index: int) -> Iterator[VirtualBatch]:
        config = self.config
        first = round_index * config.val_every
        for _ in range(first, min(first + config.val_every, config.steps)):
            yield self.data.sample(  # type: ignore[union-attr]
                config.batch_size, config.length, self.rng, self.camera, config.dataset_weights, self.body
            )

    def loss(self, batch: VirtualBatch, progress: float) -> tuple[Any, dict[str, float]]:
        return self.module_.training_loss(self.module, batch, progress)

    def validate(self) -> dict[str, float]:
        return self.evaluate(self.network, self.val)  # type: ignore[misc]

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        from posecast.models import store
        from posecast.video.models.base import data_convention

        meta = {
            "net": self.config.model,  # the network family (`posecast.models.store.network_of`: --weights checks)
            "config": self.ncfg.model_dump(),
            "run": "run.json",
            "steps": record["step"],
            "keypoint_convention": data_convention(self.config.data),  # type: ignore[attr-defined]
        }
        store.save_folder(directory, self.network.state_dict(), meta)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.rng.bit_generator.state = json.loads(state["rng"])


def train(
    config: VideoTrainConfig,
    out: Path,
    resume: bool = True,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    **task_options: Any,
) -> dict[str, Any]:
    """Train ``config`` into the run directory ``out`` through the loop; returns the run facts
    (``task_options``: `VideoTask`'s ``data``, ``camera``, ``evaluate``)."""
    return fit(VideoTask(config, **task_options), Path(out), resume=resume, progress=progress)


PLUGIN = Plugin("video", VideoTrainConfig, VideoTask, default_data="cmu-bvh")


# --------------------------------------------------------------------------------- shipping
def run_config(run: dict[str, Any], name: str) -> dict[str, Any]:
    """The `VideoTrainConfig` fields of a run's ``run.json`` (also of runs made by the former
    ``python -m posecast.video.train``, whose network config was ``model_config`` beside the config)."""
    cfg = dict(run.get("config", {}))
    if "network" not in cfg:
        cfg["network"] = run.get("model_config", {})
    if run.get("init") and not cfg.get("init"):
        cfg["init"] = str(run["init"])
    cfg["model"] = name
    return cfg


def model_card(name: str, run: dict[str, Any], curve: list[dict[str, Any]], extra: str = "") -> str:
    """A ``MODEL_CARD.md``: network, data with sha256, config, training time, the reproduce command,
    the per-step validation curve, then ``extra`` (benchmark tables with their protocol)."""
    from posecast.training.entry import reproduce_command

    lines = [f"# Model card: `{name}` (video)", ""]
    m = run.get("machine", {})
    lines.append(
        f"- {run.get('parameters', 0):,} trainable parameters; trained in {run.get('training_seconds', 0) / 60:.1f}"
        f" minutes ({run.get('steps', '?')} steps) on this machine ({m.get('threads', '?')} torch thread(s),"
        f" {m.get('cpus', '?')} CPUs, torch {m.get('torch', '?')}); code version {run.get('code_version')}"
    )
    cfg = run_config(run, name)
    corpus = str(cfg.get("data", "cmu-bvh")).startswith("corpus")
    noise = (
        "the detector noise measured on real clips (`posecast bench detector-noise`, `CameraConfig.measured`)"
        if cfg.get("noise") == "measured"
        else "simulated detector noise (the `CameraConfig` defaults, a guess)"
    )
    if corpus:
        lines.append(
            "- training data: the training corpus's train split (CMU BVH training subjects, Bandai Namco training "
            f"styles, the CMU-Mocap benchmark's extra files) mapped to body-17, filmed by random virtual cameras with "
            f"{noise}; validation: the corpus validation split (CMU BVH validation files, Bandai Namco validation "
            "styles), fixed seeded cameras; no test split (CMU BVH 02/08, Bandai test styles, HDM05) is read"
        )
        lines.append(CONVENTION_LINE)
        if cfg.get("dataset_weights"):
            share = ", ".join(f"{d} {100 * v:.0f} %" for d, v in run.get("window_share_per_dataset", {}).items())
            lines.append(
                f"- training windows drawn per data set (`dataset_weights` {json.dumps(cfg['dataset_weights'])}: the "
                f"data set by its weight, then a window start within it): {share} of the windows"
            )
    else:
        lines.append(
            f"- training data: CMU BVH training subjects on body-17 filmed by random virtual cameras with {noise} "
            "(`posecast.video.cameras`); validation: the last tenth of every long training sequence, fixed seeded "
            "cameras (the test subjects 02, 08 are not used in training or validation)"
        )
    if run.get("steps") is not None and cfg.get("steps") and run["steps"] < cfg["steps"]:
        why = (
            f"by `stop_step` {cfg['stop_step']}"
            if cfg.get("stop_step") == run["steps"]
            else f"by the wall-time cap ({cfg.get('max_minutes')} min)"
        )
        timed = cfg.get("lr_by_time") and cfg.get("stop_step") != run["steps"]
        schedule = (
            "the cosine learning-rate decay followed the wall time (`lr_by_time`) and ran to its end"
            if timed
            else "the learning-rate schedule is the one of the full run"
        )
        lines.append(f"- stopped at step {run['steps']} of {cfg['steps']} {why}; {schedule}")
    lines.append(f"- reproduce: `{reproduce_command(name, cfg)}`")
    lines += ["", "## Model config", "", "```json", json.dumps(cfg.get("network", {}), indent=1), "```", ""]
    shown = {k: v for k, v in cfg.items() if k != "network"}
    lines += ["## Training config", "", "```json", json.dumps(shown, indent=1), "```", ""]
    for part in ("train", "val"):
        desc = run.get("data", {}).get(part, {})
        if desc:
            lines += [f"## {part} data (sha256)", ""]
            if isinstance(desc, dict):
                lines += [f"- `{k}` `{v}`" for k, v in desc.get("files", {}).items()]
            if isinstance(desc, dict) and "corpus" in desc:
                c = desc["corpus"]
                lines.append(
                    f"- corpus `{c.get('key')}` ({c.get('skeleton')}, {c.get('fps')} fps; `posecast corpus info`): "
                    f"{desc.get('train_files')} training files, {desc.get('validation_files')} validation files; "
                    f"minutes per data set and split {json.dumps(c.get('minutes'))}"
                )
            elif isinstance(desc, str):
                lines.append(f"- {desc}")
            lines.append("")
    if curve:
        keys = [k for k in curve[-1] if k not in ("step",)]
        lines += [
            "## Validation curve",
            "",
            "Training columns are means over the last logging interval (losses in metres / normalised image units,"
            " `*_mm` in mm); `val_*` are on the fixed validation windows"
            + (" (the corpus validation split):" if corpus else " (ends of the training sequences):")
            + " `val_past_mm` = MPJPE of the estimated frames, `val_future_mm` = MPJPE of the self-fed forecast"
            " after the first 25 frames (pelvis-centred, real mm).",
            "",
            "| step | " + " | ".join(keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for row in curve:
            lines.append(
                f"| {row['step']} | "
                + " | ".join(f"{row[k]:.4g}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys)
                + " |"
            )
        lines.append("")
    if extra:
        lines += [extra, ""]
    return "\n".join(lines)


def read_curve(run_dir: Path) -> list[dict[str, Any]]:
    """The records of a run's ``metrics.jsonl``."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []


def ship_run(run_dir: Path, name: str, variant: str, extra: str = "") -> Path:
    """Write ``run_dir/last`` into ``posecast/weights/<name>/<variant>/`` through
    `posecast.models.store.save_folder` (float16 tensors, training facts added to ``config.json``) with
    its ``MODEL_CARD.md`` from ``run.json`` and ``metrics.jsonl`` (``extra``: benchmark tables)."""
    from posecast.models import store
    from posecast.training.loop import shipped_data_record

    run_dir = Path(run_dir)
    run = json.loads((run_dir / "run.json").read_text())
    state, meta = store.load_folder(run_dir / "last")
    meta["training"] = {
        "steps": run.get("steps"),
        "seconds": run.get("training_seconds"),
        "parameters": run.get("parameters"),
        "code_version": run.get("code_version"),
        "train_config": run_config(run, name),
        "data": shipped_data_record(run),
    }
    meta.pop("run", None)  # (run.json is not shipped: its data record is, above)
    card = model_card(name, run, read_curve(run_dir), extra)
    return store.save_folder(store.WEIGHTS_DIR / name / variant, state, meta, card=card, half=True)
