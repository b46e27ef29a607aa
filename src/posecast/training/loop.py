"""The one training loop of PoseCast: plain PyTorch, deterministic with a seed, resumable, data-parallel
under torchrun. Every learned model kind plugs into it as a `TrainingTask` (its network, data, loss,
validation and weights format: `posecast.training.motion`, ``.rotation``, ``.video``, ``.keyposes``,
``.classifier``); `fit` owns everything else:

* the optimiser (AdamW on the trainable parameters) and the learning-rate schedule (`lr_factor`: a
  linear warm-up, then a cosine decay to a floor or a constant rate), gradient clipping;
* optional ``torch.compile`` (the loss calls the compiled module; validation and saved weights use the
  plain network) and DDP under ``torchrun --nproc_per_node N`` (gloo on CPU, nccl on GPU; each process
  trains on its shard of every round, rank 0 validates and writes the files);
* the rounds: a task trains in rounds of ``round_steps`` optimiser steps (an epoch, or ``val_every``
  steps of an endlessly sampled data set), each followed by a validation and a checkpoint;
* the run directory, whose files make every number traceable::

      run.json          config, data description (files with sha256), code version, machine, timings
      metrics.jsonl     one record per round: train loss (+ the loss's logged parts), lr, validation, seconds
      last/             the weights of the latest round (a weights folder, `posecast.models.store`)
      best/             the weights of the round with the best validation score (kinds that pick one)
      rounds/NNN/       with ``keep_rounds``: the weights of every round (to choose one afterwards on another
                        validation, e.g. 20-s rollouts)
      train_state.pt    optimiser, schedule, step, RNG and data-order states (``torch.load(weights_only=True)``)

* resumption (``resume=True``): a run continues from ``train_state.pt`` + ``last/`` exactly as if it had
  not stopped (the round's data order is replayed from the state saved at the round's start);
* stopping early: ``max_minutes`` (a wall-time cap) or ``stop_step`` (stop after that optimiser step
  while keeping the schedule of the full run: the load-independent form of a wall-time cap); the run
  saves, validates and can be resumed from there;
* progress callbacks ``progress(round, rounds, record)`` after every round.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from posecast.errors import ValueRangeError

_C = TypeVar("_C", bound=BaseModel)

STATE_FILE = "train_state.pt"
METRICS_FILE = "metrics.jsonl"
RUN_FILE = "run.json"


class BodyOptions(BaseModel):
    """Training options for other bodies and postures than the data's (`posecast.datasets.windows.BodyAugment`),
    shared by the motion and the video training configs."""

    augment_bones: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description="another person's proportions: every bone of a training window scaled by a random factor in "
        "[1 - a, 1 + a] (a bone and its left/right twin alike; posecast.datasets.windows.BodyAugment)",
    )
    augment_tilt: float = Field(
        default=0.0,
        ge=0.0,
        le=180.0,
        description="degrees: tilt a training window off the vertical by up to this much about a random horizontal "
        "axis (leaning, bending, lying), for the fraction augment_tilt_probability of the windows",
    )
    augment_tilt_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    augment_tilt_ramp: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="fraction of the tilted windows that go down to (or up from) their tilt within the window "
        "instead of keeping it (lying down, getting up; posecast.datasets.windows.tilt_ramps)",
    )

    def body_augment(self, skeleton: Any, scale: float = 0.0) -> Any:
        """The `BodyAugment` of windows on ``skeleton`` these options ask for (``scale``: also a whole-body factor
        in ``1 +- scale``), or None where they ask for none."""
        if not (self.augment_bones or scale or (self.augment_tilt and self.augment_tilt_probability)):
            return None
        from posecast.datasets.windows import BodyAugment

        return BodyAugment(
            skeleton,
            self.augment_bones,
            scale,
            self.augment_tilt,
            self.augment_tilt_probability,
            self.augment_tilt_ramp,
        )


class LoopConfig(BaseModel):
    """The fields of every training config that the loop itself reads (each kind's schema extends it
    and may change the defaults). A schema's `RENAMED` maps keys of older configs to a note on what they
    are called now; a config that still uses one is refused with that note (`renamed_keys`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # "lr: .nan" is not a number, not "< 0"
    #: old key -> "what it is now" (e.g. ``"horizon": "`frames_per_pass` (frames per network pass)"``)
    RENAMED: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_renamed(cls, data: Any) -> Any:
        message = renamed_keys(cls, data)
        if message:
            raise ValueError(message)
        return data

    batch_size: int = Field(default=64, ge=1)
    lr: float = Field(default=1e-3, ge=0.0, description="peak learning rate (AdamW; 0 leaves the weights as they are)")
    weight_decay: float = Field(default=1e-4, ge=0.0)
    warmup_steps: int = Field(default=100, ge=0)
    seed: int = 0
    threads: int | None = None
    max_minutes: float | None = Field(
        default=None, description="stop (validate and save) after this much wall time; 0 or none: no cap"
    )
    stop_step: int | None = Field(
        default=None,
        ge=1,
        description="stop (validate and save) after this optimiser step, keeping the learning-rate schedule of "
        "the full run (the load-independent form of a wall-time cap); resumable",
    )
    lr_by_time: bool = Field(
        default=False,
        description="with max_minutes: the cosine decay also follows the wall time (whichever of steps and time "
        "is further along), so a run of unknown speed (a GPU) still ends its decay when the time is up; the "
        "schedule then depends on the machine's speed",
    )
    keep_rounds: bool = Field(
        default=False,
        description="also keep every round's weights in rounds/NNN/ (to choose a round on another validation)",
    )
    device: str = Field(
        default="cpu",
        pattern=r"^(cpu|cuda|auto)$",
        description="where a single-process run trains: cpu, cuda (refused when no GPU is visible) or auto (cuda "
        "when visible); torchrun runs take one GPU per process when CUDA is visible, else the CPU",
    )


def renamed_keys(schema: type[BaseModel], data: Any) -> str | None:
    """``"`horizon` is now `frames_per_pass` (frames per network pass)"`` for every key of mapping ``data``
    that ``schema`` lists in its ``RENAMED`` (joined by ``"; "``), or None when it uses none."""
    renamed: dict[str, str] = getattr(schema, "RENAMED", {})
    if not isinstance(data, dict):
        return None
    notes = [f"`{key}` is now {renamed[key]}" for key in renamed if key in data]
    return "; ".join(notes) or None


def read_config(
    schema: type[_C],
    path: Path | None,
    what: str = "training config",
    /,
    settings: Sequence[str] = (),
    **overrides: Any,
) -> _C:
    """A pydantic ``schema`` from a YAML file (optional) with ``settings`` (``"key=JSON"``, dotted keys
    reach into mappings: ``"network.hidden=64"``) and keyword overrides on top (``None`` values ignored);
    any problem is one `ValueRangeError` line (``"invalid <what>: ..."``) naming the file."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, ValueError, yaml.YAMLError) as exc:  # (ValueError: not UTF-8 text, QA: a PNG)
            raise ValueRangeError(f"cannot read config: {' '.join(str(exc).split())}", path) from None
        if not isinstance(data, dict):
            raise ValueRangeError("a training config is a mapping of fields", path)
        _files_beside(data, Path(path).parent)
    for setting in settings:
        apply_setting(data, setting)
    for k, v in overrides.items():  # a mapping given on top of one in the file adds to it (`reading`: --units cm)
        if v is not None:
            data[k] = {**data[k], **v} if isinstance(v, dict) and isinstance(data.get(k), dict) else v
    message = renamed_keys(schema, data)
    if message:  # the note alone, without pydantic's dump of the whole input
        raise ValueRangeError(f"invalid {what}: {message}", path)
    try:
        return schema(**data)
    except ValidationError as exc:  # one line per problem, joined; the file named only where a value came from it
        given = {k for k, v in overrides.items() if v is not None}
        given |= {setting.partition("=")[0].strip().split(".")[0] for setting in settings}
        problems, from_file = [], False
        for error in exc.errors():
            loc = error.get("loc") or ()
            field = ".".join(str(part) for part in loc)
            on_line = bool(loc) and loc[0] in given
            from_file |= not on_line
            value = f" = {error['input']!r}" if loc and error.get("type") != "missing" else ""
            where = " (given on the command line)" if on_line else ""
            problems.append(f"{field}{value}{where}: {error['msg']}" if field else str(error["msg"]))
        raise ValueRangeError(f"invalid {what}: " + "; ".join(problems), path if from_file else None) from None
    except Exception as exc:  # anything else a validator raised: one line
        raise ValueRangeError(f"invalid {what}: {exc}".replace("\n", "; "), path) from None


def _files_beside(data: dict[str, Any], folder: Path) -> None:
    """A config's ``reading: {asf: ..., mapping: ...}`` files named relative to the config's own folder, where they
    are there and not found from the working directory (a config kept beside its ASF and mapping works from any
    working directory); paths found from the working directory stay as given, as on the command line (and as runs
    started before recorded them: a resume compares the reading options as recorded)."""
    reading = data.get("reading")
    if not isinstance(reading, dict):
        return
    for key in ("asf", "mapping"):
        value = reading.get(key)
        if isinstance(value, str) and value and not Path(value).exists() and (folder / value).is_file():
            reading[key] = str((folder / value).resolve())


def apply_setting(data: dict[str, Any], setting: str) -> None:
    """Set ``data[key]`` from ``"key=VALUE"`` (VALUE read as YAML: numbers, lists, ``null``, text);
    a dotted key sets a field of a nested mapping (``"params.blocks=2"``)."""
    key, sep, raw = setting.partition("=")
    if not sep or not key.strip():
        raise ValueRangeError(f"--set takes KEY=VALUE, got {setting!r}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ValueRangeError(f"--set {key}: cannot read value {raw!r}") from None
    *parents, last = key.strip().split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueRangeError(f"--set {key}: {part!r} is not a mapping")
        node = child
    node[last] = value


# ------------------------------------------------------------------------------------ schedule
def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear learning-rate warm-up: ``(step + 1) / warmup_steps`` during the first ``warmup_steps``
    steps (0-based ``step``), 1 afterwards (and always 1 when ``warmup_steps`` is 0)."""
    return (step + 1) / warmup_steps if step < warmup_steps else 1.0


def lr_factor(
    step: int,
    warmup_steps: int,
    total_steps: int,
    decay: str = "cosine",
    floor: float = 0.01,
    time_fraction: float | None = None,
) -> float:
    """The learning-rate multiplier of 0-based optimiser step ``step``: the linear warm-up of
    `warmup_factor`, then ``"cosine"``: half a cosine from 1 down to ``floor`` at ``total_steps`` (held
    there after), or ``"constant"``: 1. ``time_fraction`` (the share of a wall-time budget used,
    ``LoopConfig.lr_by_time``): the cosine runs over whichever of steps and time is further along."""
    if step < warmup_steps:
        return warmup_factor(step, warmup_steps)
    if decay == "constant":
        return 1.0
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    if time_fraction is not None:
        t = max(t, time_fraction)
    return 0.5 * (1 + math.cos(math.pi * min(t, 1.0))) * (1 - floor) + floor


# ----------------------------------------------------------------------------------- run facts
def git_commit() -> str | None:
    """The repository commit the code runs from, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine(processes: int = 1, device: Any = None) -> dict[str, Any]:
    """Platform, CPU count, torch version and threads, processes, and the GPU's name when ``device`` is
    a CUDA device: the run artifact's ``machine``."""
    import torch

    gpu = torch.cuda.get_device_name(device) if device is not None and device.type == "cuda" else None
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "processes": processes,
    }


class _Dist:
    """Process-group bookkeeping for torchrun (a single process when WORLD_SIZE is unset)."""

    def __init__(self, device: str = "cpu") -> None:
        import torch
        import torch.distributed as dist

        self.world = world_size()
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        self.device = torch.device("cpu")
        if not self.enabled and device != "cpu":
            if torch.cuda.is_available():
                self.device = torch.device("cuda")
                torch.backends.cuda.matmul.allow_tf32 = True  # float32 products on tensor cores
                torch.backends.cudnn.allow_tf32 = True
            elif device == "cuda":
                raise ValueRangeError("device cuda: no GPU is visible to torch (use device cpu or auto)")
        if self.enabled and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            single_node = os.environ.get("LOCAL_WORLD_SIZE", str(self.world)) == str(self.world)
            if backend == "gloo" and single_node and "GLOO_SOCKET_IFNAME" not in os.environ:
                # all replicas on this machine: talk over loopback rather than whatever the host name
                # resolves to (sandboxes and containers often resolve it to an unreachable address)
                if os.path.exists("/sys/class/net/lo"):
                    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
            if backend == "nccl":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                torch.cuda.set_device(self.device)
            dist.init_process_group(backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def mean(self, value: float) -> float:
        if not self.enabled:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            # every replica reaches this point before any tears its sockets down: a rank that exits
            # while a peer still reads from it makes gloo abort the peer
            dist.barrier()
            dist.destroy_process_group()
            if self.main:  # and the first rank does not exit while a peer is still inside destroy_process_group
                # (a fresh-clone CI run saw rank 1 abort there, "terminate called without an active exception")
                import time

                time.sleep(CLOSE_GRACE_S)


#: seconds the first rank waits after tearing the process group down (`_Dist.close`)
CLOSE_GRACE_S = 0.5


def world_size() -> int:
    """Processes of this training (``WORLD_SIZE`` set by torchrun; 1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


# ---------------------------------------------------------------------------------- the protocol
class TrainingTask:
    """What a model kind plugs into `fit`. Subclasses set the class attributes and implement the methods
    marked *required*; the others have defaults.

    Attributes:
        config: the run's config; the loop reads its `LoopConfig` fields (lr, seed, stop_step...) and an
            optional ``compile`` flag.
        name: the model's registry name.
        kind: the plug-in (``motion``, ``rotation``, ``video``, ``keypose``, ``classifier``).
        network: the ``nn.Module`` whose parameters are trained (set by `prepare`).
        total_steps: optimiser steps of the whole run (the schedule's length; set by `prepare`).
        round_steps: optimiser steps per round (set by `prepare`); a validation and a checkpoint follow
            every round, and each record's ``train_loss`` is the mean of the last ``round_steps`` steps.
        round_name: ``"epoch"`` (records count rounds) or ``"step"`` (records carry the optimiser step).
        decay, lr_floor: the schedule after the warm-up (`lr_factor`).
        clip_grad: gradient-norm clip (None: no clipping).
        score_key: the validation metric to minimise (``train_loss`` when a record lacks it); the round
            with the lowest one is saved to ``best/``. None: no ``best/`` (the last weights are the result).
        distributed: whether the task shards its rounds over torchrun processes.
    """

    config: Any
    name: str = ""
    kind: str = ""
    network: Any = None
    total_steps: int = 0
    round_steps: int = 1
    round_name: str = "epoch"
    decay: str = "cosine"
    lr_floor: float = 0.01
    clip_grad: float | None = 1.0
    score_key: str | None = None
    distributed: bool = False

    def prepare(self, dist: _Dist) -> None:
        """*Required.* Load the data, build ``network`` (seeded: the loop has called
        ``torch.manual_seed(config.seed)``), set ``total_steps`` and ``round_steps``. Refuse bad settings
        before loading anything."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Facts for ``run.json`` (network config, data description with sha256, window counts...)."""
        return {}

    def use(self, module: Any) -> None:
        """The module `loss` must call: ``network`` itself, or its DDP / compiled wrapper."""
        self.module = module

    def batches(self, round_index: int) -> Iterable[Any]:
        """*Required.* The training batches of a round (data order and augmentation), drawn lazily: the
        loop replays the first ones to resume in the middle of a round."""
        raise NotImplementedError

    def loss(self, batch: Any, progress: float) -> tuple[Any, dict[str, float]]:
        """*Required.* ``(loss tensor, {logged part: float})`` of a batch; ``progress`` in ``[0, 1]`` is the
        fraction of the run done (for curricula)."""
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        """Validation metrics (called on rank 0 in eval mode without gradients); ``score_key`` among them."""
        return {}

    def save(self, directory: Path, record: dict[str, Any]) -> None:
        """*Required.* Write ``network`` as a weights folder (`posecast.models.store.save_folder`) that
        `posecast.models.get(name, weights=directory)` loads; ``record``: the round's metrics."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The task's own random state (e.g. the data sampler's), saved at the start of every round."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` (on resumption)."""

    def finish(self, out: Path) -> dict[str, Any] | None:
        """Called on rank 0 after the last round: extra facts for ``run.json`` (may rewrite ``last/``)."""
        return None


@dataclass(frozen=True)
class Plugin:
    """A model kind's entry into `posecast.training.run`: its config schema, the task it builds, the
    data its default config is named after, and whether it trains under torchrun."""

    kind: str
    schema: type[BaseModel]
    make_task: Callable[[Any], TrainingTask]
    default_data: str
    distributed: bool = False

    @property
    def options(self) -> frozenset[str]:
        """The run options (`RUN_OPTIONS`) this kind takes: those that are fields of its schema."""
        return frozenset(o for o in RUN_OPTIONS if o in self.schema.model_fields)


#: the options of `posecast.training.run` / ``posecast train`` that set a config field (a kind takes an
#: option when its config schema has that field)
RUN_OPTIONS = (
    "data",
    "reading",
    "epochs",
    "steps",
    "seed",
    "init",
    "teacher",
    "threads",
    "max_steps_per_epoch",
    "batch_size",
    "lr",
    "length",
    "val_every",
    "stop_step",
    "max_minutes",
)


# ------------------------------------------------------------------------------------------ fit
def fit(
    task: TrainingTask,
    out: Path | None,
    resume: bool = True,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """Train ``task`` into run directory ``out`` (module docstring) and return the run facts (also in
    ``run.json``). ``out=None`` trains in memory (no files, no resumption). ``command``: the command line
    that reproduces the run, recorded in ``run.json``."""
    import torch

    cfg = task.config
    if world_size() > 1 and not task.distributed:
        raise ValueRangeError(f"{task.name}: {task.kind} training runs in one process (no torchrun)")
    dist = _Dist(getattr(cfg, "device", "cpu"))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    task.prepare(dist)
    net = task.network
    net.to(dist.device).train()
    module = net
    if dist.enabled:
        module = torch.nn.parallel.DistributedDataParallel(net)
    if getattr(cfg, "compile", False):
        # the loss calls the compiled module; parameters are shared with `net`, which is what gets
        # validated and saved (a compiled module's state dict has prefixed keys)
        module = torch.compile(module)
    task.use(module)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    total, per_round = int(task.total_steps), max(1, int(task.round_steps))
    rounds = math.ceil(total / per_round)

    budget = 60.0 * cfg.max_minutes if getattr(cfg, "lr_by_time", False) and cfg.max_minutes else None
    clock = {"start": time.time()}

    def schedule(step: int) -> float:
        used = None if budget is None else (time.time() - clock["start"]) / budget
        return lr_factor(step, cfg.warmup_steps, total, task.decay, task.lr_floor, time_fraction=used)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)

    start_round, skip, step, best, elapsed, records = 0, 0, 0, math.inf, 0.0, 0
    validated = False  # whether any round had validation windows (else best/ is chosen on the training loss)
    recent: deque[tuple[float, dict[str, float]]] = deque(maxlen=per_round)
    resumed_at = None
    if out is not None:
        out = Path(out)
        state_path = out / STATE_FILE
        if resume and state_path.is_file() and (out / "last" / "model.safetensors").is_file():
            from posecast.models import store

            mismatch = resume_mismatch(out / RUN_FILE, task.describe())
            if mismatch:
                raise ValueRangeError(
                    f"cannot resume the run here: {mismatch}; give the run's own settings and data, or start afresh "
                    "with --no-resume (or another --out)",
                    out,
                )
            state = torch.load(state_path, weights_only=True)
            weights, _ = store.load_folder(out / "last")
            store.load_state(net, weights, out / "last", "this run's")
            try:
                opt.load_state_dict(state["optimizer"])
                sched.load_state_dict(state["scheduler"])
            except (KeyError, ValueError) as exc:
                raise ValueRangeError(f"cannot resume this run ({exc}); start afresh with --no-resume", out) from None
            start_round = int(state.get("round", state.get("epoch", 0)))
            skip = int(state.get("skip", 0))
            step = int(state.get("step", sched.last_epoch))
            best, elapsed = float(state["best"]), float(state["elapsed"])
            validated = bool(state.get("validated", True))
            records = int(state.get("records", start_round))
            recent.extend((float(loss), dict(logs)) for loss, logs in state.get("recent", []))
            torch.set_rng_state(state["torch_rng"])
            task.load_state_dict(state.get("task", {}))
            resumed_at = step
        if dist.main:
            out.mkdir(parents=True, exist_ok=True)
            kept = ""  # a resumed run keeps the records up to its checkpoint, a new one starts empty
            if resumed_at is not None and (out / METRICS_FILE).is_file():
                kept = "".join((out / METRICS_FILE).read_text().splitlines(keepends=True)[:records])
            _write(out / METRICS_FILE, kept)

    run_info: dict[str, Any] = {
        "model": task.name,
        "kind": task.kind,
        "config": cfg.model_dump(),
        **task.describe(),
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "code_version": git_commit(),
        "machine": machine(dist.world, dist.device),
        "command": command,
        "schedule": {"total_steps": total, "round_steps": per_round, "rounds": rounds, "decay": task.decay},
    }
    if resumed_at is not None:
        run_info["resumed_at_step"] = resumed_at
    if out is not None and dist.main:
        _write(out / RUN_FILE, json.dumps(run_info, indent=1))

    max_minutes = getattr(cfg, "max_minutes", None)
    deadline = time.time() + 60.0 * max_minutes if max_minutes else None
    clock["start"] = time.time()
    stop_step = getattr(cfg, "stop_step", None)
    stopped = "stop_step" if stop_step is not None and step >= stop_step else None
    for r in range(start_round, rounds):
        if stopped:
            break
        t0 = time.time()
        round_state = task.state_dict()  # the data order of this round, for resuming inside it
        net.train()
        batches = iter(task.batches(r))
        if skip:
            batches = itertools.islice(batches, skip, None)  # replays the data draws of the steps done
        done, skip = skip, 0
        for batch in batches:
            loss, logs = task.loss(batch, step / max(1, total - 1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if task.clip_grad:
                torch.nn.utils.clip_grad_norm_(params, task.clip_grad)
            opt.step()
            sched.step()
            step += 1
            done += 1
            recent.append((float(loss.detach()), {k: float(v) for k, v in logs.items()}))
            if stop_step is not None and step >= stop_step:
                stopped = "stop_step"
            elif deadline is not None and dist.mean(float(time.time() > deadline)) > 0:
                stopped = "max_minutes"  # (under torchrun: as soon as any replica is past the deadline)
            if stopped:
                break
        complete = stopped is None or done >= per_round or step >= total
        net.eval()
        record: dict[str, Any] = {task.round_name: r + 1 if task.round_name == "epoch" else step}
        record["train_loss"] = dist.mean(float(np.mean([x for x, _ in recent])) if recent else math.nan)
        for key in recent[-1][1] if recent else {}:
            record[key] = float(np.mean([logs[key] for _, logs in recent if key in logs]))
        record["lr"] = opt.param_groups[0]["lr"]
        if dist.main:
            with torch.no_grad():
                record.update(task.validate())
        elapsed += time.time() - t0
        record["seconds"] = round(elapsed, 1)
        if stopped and not complete:
            record["stopped"] = stopped
        if dist.main and out is not None:
            task.save(out / "last", record)
            if cfg.keep_rounds:
                task.save(out / "rounds" / f"{r + 1:03d}", record)
            if task.score_key is not None:
                validated = validated or task.score_key in record
                score = record.get(task.score_key, record["train_loss"])
                if score < best:
                    best = score
                    task.save(out / "best", record)
            with open(out / METRICS_FILE, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            records += 1
            torch.save(
                {
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "round": r + 1 if complete else r,
                    "skip": 0 if complete else done,
                    "step": step,
                    "best": best,
                    "validated": validated,
                    "elapsed": elapsed,
                    "records": records,
                    "recent": [[x, logs] for x, logs in recent],
                    "torch_rng": torch.get_rng_state(),
                    "task": task.state_dict() if complete else round_state,
                },
                out / STATE_FILE,
            )
        if progress:
            progress(r + 1, rounds, record)
        dist.barrier()
    if dist.enabled:  # record that every replica ended with the same parameters
        import torch.distributed as tdist

        flat = torch.cat([p.detach().reshape(-1).double() for p in net.parameters()])
        mine = torch.tensor([float(flat.sum()), float((flat * flat).sum())], dtype=torch.float64, device=dist.device)
        gathered = [torch.zeros_like(mine) for _ in range(dist.world)]
        tdist.all_gather(gathered, mine)
        run_info["replica_checksums"] = [g.tolist() for g in gathered]
    net.eval()
    run_info.update({"steps": step, "training_seconds": round(elapsed, 1), "stopped": stopped})
    if task.score_key is not None:  # without validation windows the best round was chosen on the training loss
        run_info["best_val"] = best if validated else None
        run_info["best_chosen_on"] = task.score_key if validated else "train_loss (no validation windows)"
    if dist.main and out is not None:
        run_info.update(task.finish(out) or {})
        _write(out / RUN_FILE, json.dumps(run_info, indent=1))
    dist.close()
    return run_info


def resume_mismatch(run_file: Path, now: dict[str, Any]) -> str | None:
    """Why a run directory's checkpoint cannot be resumed with the run described by ``now`` (``task.describe()``):
    another network (its settings, the first few that differ) or other data (source or files) than the run in
    ``run_file`` (``run.json``) was started with; None when they agree or the run file says nothing (QA: resuming
    on other data went on silently and rewrote run.json; another rig failed with kilobytes of tensor sizes)."""
    try:
        before = json.loads(Path(run_file).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(before, dict):
        return None
    old_net, new_net = before.get("network"), json.loads(json.dumps(now.get("network"), default=str))
    if isinstance(old_net, dict) and isinstance(new_net, dict) and old_net != new_net:
        keys = [k for k in sorted(set(old_net) | set(new_net)) if old_net.get(k) != new_net.get(k)]
        shown = ", ".join(f"{k}: {old_net.get(k)!r} -> {new_net.get(k)!r}" for k in keys[:3])
        return f"it trains another network ({shown}{', ...' if len(keys) > 3 else ''})"
    old_data, new_data = before.get("data"), json.loads(json.dumps(now.get("data"), default=str))
    if isinstance(old_data, dict) and isinstance(new_data, dict):
        # video runs describe their data as {"train": {...}, "val": {...}}: their training data's description
        if isinstance(old_data.get("train"), dict) and isinstance(new_data.get("train"), dict):
            old_data, new_data = old_data["train"], new_data["train"]
        for key in ("source", "files"):
            if key == "source" and _same_folder(old_data.get(key), new_data.get(key)):
                continue  # a folder named relative then, absolute now (`posecast train` records it absolute)
            if key in old_data and key in new_data and old_data[key] != new_data[key]:
                what = "data source" if key == "source" else "data files (or their contents)"
                sources = f"{old_data.get('source')!r} then, {new_data.get('source')!r} now"
                return f"it was started on other {what} ({sources})"
        old_read, new_read = old_data.get("reading") or {}, new_data.get("reading") or {}
        if old_read != new_read:  # the same files read otherwise (another rate, unit, mapping): other data (QA)
            keys = [k for k in sorted(set(old_read) | set(new_read)) if old_read.get(k) != new_read.get(k)]
            shown = [f"{k}: {old_read.get(k)!r} -> {new_read.get(k)!r}" for k in keys if k != "mapping_table"]
            return f"its files were read with other reading options ({', '.join(shown) or 'the mapping file changed'})"
    return None


def shipped_data_record(run: dict[str, Any]) -> dict[str, Any]:
    """What shipped weights record of the data a run trained on (``config.json``'s ``training.data``): the run's
    ``data`` record — source, files with their SHA-256 or the corpus key and counts, validation, reading options —
    without the per-file frame counts. Why: the run's ``run.json`` is not shipped, and a model card's data claims
    had no machine record to be checked against (QA of the cards)."""
    data = dict(run.get("data") or {})
    data.pop("frames", None)
    return data


def _same_folder(a: Any, b: Any) -> bool:
    """Whether two data sources name one existing folder (``takes`` and ``/home/me/takes``)."""
    if not (isinstance(a, str) and isinstance(b, str)) or a == b:
        return False
    return Path(a).is_dir() and Path(b).is_dir() and Path(a).resolve() == Path(b).resolve()


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (never a half-written file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
