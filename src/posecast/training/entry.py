"""The one entry to training: `run(model, out, config=..., **options)` trains any learned model of the
registry (``posecast train --model NAME`` is a thin layer over it).

The plug-in comes from the model's registry entry (`posecast.models.info`): its kind (``motion``,
``video``, ``keypose``, ``classifier``) and, for motion models, what it reads (``rotations`` →
the rotation plug-in, ``positions`` → the motion plug-in); see `PLUGINS`. Each plug-in module defines
``PLUGIN`` (a `posecast.training.loop.Plugin`: config schema, task, default data).

The config is a YAML file (default: the shipped ``configs/<model>/<data>.yaml``, else the model's only
one) read into the kind's schema, with ``settings`` (``KEY=VALUE``, dotted keys into mappings) and the
options on top. An option applies to a kind when its schema has that field (`plugin_options`); one that
does not is refused with a one-line `ValueRangeError`, as is every bad value, before any data is loaded
or anything is written.
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from posecast.errors import ModelError, ValueRangeError
from posecast.models.learned import CONFIG_DIR
from posecast.training.loop import RUN_OPTIONS, Plugin, fit, read_config, world_size

#: plug-in name -> module defining ``PLUGIN``
PLUGINS = {
    "motion": "posecast.training.motion",
    "rotation": "posecast.training.rotation",
    "video": "posecast.training.video",
    "keypose": "posecast.training.keyposes",
    "classifier": "posecast.training.classifier",
}


def trainable() -> list[str]:
    """Names of the models `run` trains (the learned entries of the registry)."""
    from posecast.models import available

    return [m.name for m in available() if m.learned]


def plugin_for(model: str) -> Plugin:
    """The training plug-in of registry model ``model`` (by its kind and inputs)."""
    from posecast.models import info

    entry = info(model)
    if not entry.learned:
        raise ValueRangeError(f"{model!r} learns nothing (it has no weights); trainable: {', '.join(trainable())}")
    key = "rotation" if entry.kind == "motion" and "rotations" in entry.inputs else entry.kind
    if key not in PLUGINS:
        raise ValueRangeError(f"no training plug-in for {entry.kind} models")  # pragma: no cover
    return importlib.import_module(PLUGINS[key]).PLUGIN


def plugin_options(plugin: Plugin) -> list[str]:
    """The run options of a plug-in, in `RUN_OPTIONS` order."""
    return [o for o in RUN_OPTIONS if o in plugin.options]


#: the run option ``reading`` (`posecast.datasets.training_data.ReadOptions`) is given as these flags
READING_FLAGS = ("--skeleton", "--fps", "--units", "--asf", "--mapping", "--up")


def _flag(option: str) -> str:
    if option == "reading":
        return "/".join(READING_FLAGS)
    return "--" + option.replace("_", "-")


def check_options(model: str, plugin: Plugin, options: dict[str, Any]) -> None:
    """A one-line `ValueRangeError` for the first given option that ``model``'s kind does not take."""
    unknown = sorted(set(options) - set(RUN_OPTIONS))
    if unknown:
        raise TypeError(f"unknown training options: {', '.join(unknown)}")
    bad = [o for o in RUN_OPTIONS if options.get(o) is not None and o not in plugin.options]
    if bad:
        takes = " ".join(_flag(o) for o in plugin_options(plugin))
        given = _flag(bad[0])
        if bad[0] == "reading" and isinstance(options["reading"], dict):  # the reading flags given, by name
            given = " ".join(f"--{k}" for k in options["reading"])
        verb = "do" if " " in given else "does"
        raise ValueRangeError(f"{given} {verb} not apply to {model} ({plugin.kind} training; it takes {takes})")


def config_files(model: str) -> list[Path]:
    """The shipped training configs of ``model`` (``configs/<model>/*.yaml``)."""
    folder = CONFIG_DIR / model
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def shipped_config(model: str, config: str | Path) -> Path:
    """The config file ``config`` names: itself when it exists; else a shipped config of ``model`` named by its name
    (``corpus-stage2``; ``./corpus-stage2.yaml`` first when it exists) or by its relative path in a source checkout
    (``src/posecast/configs/<model>/<name>.yaml``, as run records and model cards write it), from the installed
    package, so the commands they record work from any folder and from a wheel. Any other missing path is refused
    (a user's own copy missing from the folder must not be replaced by the shipped file)."""
    if not str(config).strip():
        raise ValueRangeError("--config names no file")
    path = Path(config)
    if path.is_file():
        return path
    parts = path.parts
    bare = len(parts) == 1 and path.suffix in ("", ".yaml", ".yml")
    if bare and path.suffix == "" and path.with_suffix(".yaml").is_file():
        return path.with_suffix(".yaml")
    name = path.name if path.suffix else f"{path.name}.yaml"
    in_checkout = not path.is_absolute() and len(parts) == 5 and parts[:4] == ("src", "posecast", "configs", model)
    candidate = CONFIG_DIR / model / name
    if (bare or in_checkout) and candidate.is_file():
        return candidate
    have = ", ".join(sorted(p.stem for p in config_files(model))) or "none"
    raise ValueRangeError(f"no such file, and {model} ships no config of that name (shipped: {have})", config)


def default_config(model: str, plugin: Plugin, data: str | None = None) -> Path:
    """The shipped config a run of ``model`` starts from: ``configs/<model>/<data>.yaml`` (``data``
    default: the kind's, e.g. ``cmu-mocap``; a folder of motions or ``cmu-bvh:LAYOUT``: the ``cmu-bvh``
    config, else the default one; ``corpus:LAYOUT`` (and exclusions): ``corpus-LAYOUT``, else ``corpus``); a
    model whose configs are not named by data: its only config."""
    keys = [plugin.default_data if data is None else data]
    if data is not None and (Path(data).is_dir() or data.startswith("cmu-bvh:")):
        keys += ["cmu-bvh", plugin.default_data]  # a folder of motions, a layout of the raw CMU BVH data
    elif data is not None and data.startswith("corpus:"):  # corpus:LAYOUT[,-PREFIX...]: corpus-LAYOUT.yaml
        from posecast.datasets.training_data import corpus_source

        layout = corpus_source(data)[0]
        keys += ([f"corpus-{layout}"] if layout else []) + ["corpus"]
    for key in keys:
        path = CONFIG_DIR / model / f"{key}.yaml"
        if path.is_file():
            return path
    key = keys[0]
    found = config_files(model)
    if not (CONFIG_DIR / model / f"{plugin.default_data}.yaml").is_file() and len(found) == 1:
        return found[0]  # a model with one config whatever its name (e.g. a single cmu-bvh-virtual.yaml)
    if data is not None and Path(data).is_file():
        raise ValueRangeError(f"{data}: --data takes a folder of motion files (or a data set name), not one file")
    if data is not None and ("/" in data or "\\" in data or not data.replace("-", "").replace("+", "").isalnum()):
        raise ValueRangeError(f"{data}: no such folder of motion files (nor a data set name)")
    have = ", ".join(p.stem for p in found) or "none"
    raise ModelError(
        f"no default training config for {model!r} on {key!r}; have: {have} (give --config FILE; a folder of "
        "motion files must exist)"
    )


def load(
    model: str, plugin: Plugin, path: Path | None, settings: Sequence[str] = (), options: dict[str, Any] | None = None
) -> BaseModel:
    """The validated config of a run: the YAML at ``path``, ``settings`` and ``options`` on top; a
    config that names another model than ``model`` is refused."""
    fields = plugin.schema.model_fields
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if "model" in fields:
        import yaml

        named = None
        if path is not None:
            try:
                doc = yaml.safe_load(Path(path).read_text()) or {}
            except (OSError, ValueError, yaml.YAMLError) as exc:  # (ValueError: not UTF-8 text, QA: a PNG)
                raise ValueRangeError(f"cannot read config: {' '.join(str(exc).split())}", path) from None
            named = doc.get("model") if isinstance(doc, dict) else None
        if named is not None and named != model:
            raise ValueRangeError(f"this config trains {named!r}, not {model!r}", path)
        given["model"] = model
    return read_config(plugin.schema, path, f"{plugin.kind} training config", settings=settings, **given)


def run(
    model: str,
    out: str | Path | None = None,
    config: str | Path | None = None,
    *,
    resume: bool = True,
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
    settings: Sequence[str] = (),
    **options: Any,
) -> Path:
    """Train registry model ``model`` into run directory ``out`` (default ``runs/<model>``) and return it.

    Args:
        config: a YAML training config (default: the shipped one, `default_config`).
        resume: continue the run in ``out`` from its checkpoint, if it has one.
        progress: ``(round, rounds, record)`` after every round.
        settings: ``"KEY=VALUE"`` config overrides (dotted keys reach into mappings: ``network.hidden=64``).
        options: `~posecast.training.loop.RUN_OPTIONS` (``epochs``, ``steps``, ``data``, ``init``,
            ``stop_step``...; None: not given), each a config field of the kinds that take it.

    Raises:
        ValueRangeError: an option the model's kind does not take, a bad config, or bad data; always
            before any data is read or anything written.
    """
    plugin = plugin_for(model)
    check_options(model, plugin, options)
    if world_size() > 1 and not plugin.distributed:
        raise ValueRangeError(f"{model}: {plugin.kind} training runs in one process (no torchrun)")
    path = shipped_config(model, config) if config is not None else default_config(model, plugin, options.get("data"))
    cfg = load(model, plugin, path, settings, options)
    out = Path(out) if out is not None else Path("runs") / model
    fit(plugin.make_task(cfg), out, resume=resume, progress=progress, command=reproduce_command(model, cfg))
    return out


# ------------------------------------------------------------------------------------ reproduce
def _show(value: Any) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value)
    return shlex.quote(text)


def reproduce_command(model: str, config: BaseModel | dict[str, Any]) -> str:
    """The ``posecast train`` command that trains ``config``: the closest shipped config file of
    ``model`` plus the options and ``--set`` settings that differ from it (``--out RUN`` to fill in)."""
    plugin = plugin_for(model)
    fields = plugin.schema.model_fields
    target = config.model_dump() if isinstance(config, BaseModel) else dict(config)
    if "model" in fields:
        target["model"] = model
    target = plugin.schema(**target).model_dump()  # completed with the defaults

    def differences(base: dict[str, Any]) -> list[str]:
        args = []
        for key in fields:
            mine, theirs = target.get(key), base.get(key)
            if mine == theirs:
                continue
            if key == "reading" and isinstance(mine, dict):  # its own flags (a mapping given as a table: --set)
                for k, v in mine.items():
                    if v is not None and (not isinstance(theirs, dict) or theirs.get(k) != v):
                        args.append(f"--set reading.{k}={_show(v)}" if isinstance(v, dict) else f"--{k} {_show(v)}")
            elif key in plugin.options and mine is not None:
                args.append(f"{_flag(key)} {_show(mine)}")
            elif isinstance(mine, dict) and isinstance(theirs, dict) and set(theirs) <= set(mine):
                args += [f"--set {key}.{k}={_show(v)}" for k, v in mine.items() if theirs.get(k) != v]
            else:
                args.append(f"--set {key}={_show(mine)}")
        return args

    best: tuple[int, str, list[str]] | None = None
    for path in config_files(model):
        try:
            base = load(model, plugin, path).model_dump()
        except (ValueRangeError, ModelError):
            continue
        args = differences(base)
        if best is None or len(args) < best[0]:
            best = (len(args), f"src/posecast/configs/{model}/{path.name}", args)
    if best is None:  # no shipped config: the differences from the schema's defaults, where it has them all
        try:
            base = plugin.schema(**({"model": model} if "model" in fields else {})).model_dump()
        except ValidationError:  # required fields: the run's own config file holds every setting
            return " ".join(["posecast train --model", model, "--config CONFIG --out RUN"])
        return " ".join(["posecast train --model", model, "--out RUN", *differences(base)])
    return " ".join(["posecast train --model", model, "--config", best[1], "--out RUN", *best[2]])
