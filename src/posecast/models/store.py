"""The weights store: every shipped or trained set of weights, one folder each.

A weights folder holds ``model.safetensors`` (the network's tensors), ``config.json`` (everything
needed to rebuild the network, under ``"config"``, plus training facts) and, for shipped weights,
``MODEL_CARD.md``. Shipped folders live in ``posecast/weights/<model>/<variant>/``.

* `variants(name)` lists the shipped variants of a model; `default_variant(name)` applies the one
  default rule: the only variant, else the one whose ``config.json`` says ``"default": true``, else the
  first by name.
* `resolve(spec)` turns what a user may type into a folder: a shipped ``NAME`` or ``NAME/VARIANT``, a
  training run directory (its ``best/``, else ``last/``) or a weights folder.
* `save_folder` writes a folder's files (each complete or not at all);
  `load_folder` reads one back (no pickles: safetensors + JSON). Tensors may be stored as float16
  (`save_folder(..., half=True)`, what the shipped weights use to keep the package small);
  `load_folder` always returns float32 tensors.
* `fingerprint` names a folder's tensors by their SHA-256 (bench results record the weights they ran).
* `current_keys` renames the keys of a ``"config"`` written before a field was renamed (the config
  classes accept the old keys through their fields' ``validation_alias``; raw dicts need this).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from posecast.errors import ModelError

#: the shipped weights: ``WEIGHTS_DIR/<model>/<variant>/``
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS_FILE = "model.safetensors"
#: tensors `save_folder` never halves: a pose prior's Cholesky factors (``params.project_prior``) in float16
#: would move its likelihoods by whole nats
FULL_PRECISION = ("pose_prior.",)
CONFIG_FILE = "config.json"
CARD_FILE = "MODEL_CARD.md"


_RNG = threading.RLock()


@contextmanager
def keeps_rng() -> Iterator[None]:
    """Build and load networks inside: their random initialisation, which the loaded weights overwrite, leaves the
    caller's global torch random stream where it was (a user's seeded stream had moved on at each model's first
    forecast; threads QA). Also a decorator. The stream is process-wide: blocks of PoseCast's take one lock (two
    builds at once had left it moved), and a number another thread draws from it while a model is built is drawn
    again after the build (seed per thread with a ``torch.Generator`` when threads draw while models are built)."""
    import torch

    with _RNG, torch.random.fork_rng(devices=[]):
        yield


def is_folder(path: Path) -> bool:
    """True when ``path`` holds ``model.safetensors`` and ``config.json``."""
    return (Path(path) / WEIGHTS_FILE).is_file() and (Path(path) / CONFIG_FILE).is_file()


def variants(name: str) -> list[str]:
    """Names of the shipped weight folders of model ``name`` (sorted)."""
    root = WEIGHTS_DIR / name
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if is_folder(p))


def default_variant(name: str) -> str | None:
    """The variant used when none is named: the only one, else the one marked ``"default": true`` in its
    ``config.json``, else the first by name; None when nothing is shipped."""
    found = variants(name)
    if len(found) <= 1:
        return found[0] if found else None
    marked = [v for v in found if read_config(WEIGHTS_DIR / name / v).get("default") is True]
    return marked[0] if marked else found[0]


def shipped(name: str, variant: str | None = None) -> Path:
    """The shipped folder of ``name`` (``variant`` or the default one); a `ModelError` when missing."""
    found = variants(name)
    if not found:
        raise ModelError(f"model {name!r} has no shipped weights; train it with `posecast train --model {name}`")
    variant = variant or default_variant(name)
    if variant not in found:
        raise ModelError(f"model {name!r} has no weights {variant!r}; shipped: {', '.join(found)}")
    return WEIGHTS_DIR / name / str(variant)


def resolve(spec: str | Path) -> Path:
    """A weights folder from a run directory (its ``best/``, else ``last/``), a weights folder, or a
    shipped ``NAME`` / ``NAME/VARIANT``."""
    if isinstance(spec, bool) or not isinstance(spec, str | os.PathLike):  # (QA: weights=42, pathlib's TypeError)
        raise ModelError(
            f"weights must be a folder path or a shipped NAME[/VARIANT], not {type(spec).__name__} {spec!r}"
        )
    if not str(spec).strip():  # (QA: "" was read as the working directory)
        raise ModelError("no weights named (an empty name)")
    path = Path(spec)
    if path.is_dir():
        for sub in ("best", "last"):
            if is_folder(path / sub):
                return path / sub
        if is_folder(path):
            return path
        raise ModelError("no weights here (neither model.safetensors + config.json nor a run's best/ or last/)", path)
    if path.is_file() and path.name == WEIGHTS_FILE and is_folder(path.parent):
        return path.parent
    if path.is_file():  # (QA: ../in.bvh was read as the shipped model "..")
        raise ModelError(f"is a file, not a weights folder ({WEIGHTS_FILE} + config.json) or a run directory", path)
    name, _, variant = str(spec).partition("/")
    if name and name not in (".", "..") and "/" not in variant and (WEIGHTS_DIR / name).is_dir():
        return shipped(name, variant or None)
    raise ModelError(f"no weights {str(spec)!r}: not a run directory, a weights folder or a shipped NAME[/VARIANT]")


def fingerprint(directory: Path) -> str:
    """The first 16 hex digits of the SHA-256 of a weights folder's ``model.safetensors``: which tensors a result
    was made with (a re-shipped variant keeps its name but not its fingerprint)."""
    digest = hashlib.sha256()
    with open(Path(directory) / WEIGHTS_FILE, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def shipped_fingerprints(name: str) -> dict[str, str]:
    """``{variant: fingerprint}`` of every shipped weights folder of model ``name`` (empty when none)."""
    return {v: fingerprint(WEIGHTS_DIR / name / v) for v in variants(name)}


def read_config(directory: Path) -> dict[str, Any]:
    """The ``config.json`` of a weights folder."""
    path = Path(directory) / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read the weights config: {exc}", path) from None
    if not isinstance(data, dict):
        raise ModelError("the weights config is not a JSON object", path)
    return data


def network_of(directory: Path) -> str | None:
    """The network family of a weights folder (``net`` of its config: top level for key-pose networks, inside
    ``config`` for motion networks); None when its config does not say (video models) or cannot be read."""
    try:
        data = read_config(directory)
    except ModelError:
        return None
    inner = data.get("config")
    net = data.get("net") or (inner.get("net") if isinstance(inner, dict) else None)
    return str(net) if isinstance(net, str) else None


def current_keys(schema: Any, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a raw ``"config"`` mapping of ``config.json``) with the old keys that pydantic ``schema``
    still accepts (the ``AliasChoices`` of a field's ``validation_alias``, e.g. ``horizon`` for
    ``NeuralConfig.frames_per_pass``) renamed to the field names; key order and values are kept."""
    from pydantic import AliasChoices

    names: dict[str, str] = {}
    for name, field in schema.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            names.update({c: name for c in field.validation_alias.choices if isinstance(c, str) and c != name})
    return {(names[k] if k in names and names[k] not in config else k): v for k, v in config.items()}


def describe(name: str) -> list[dict[str, Any]]:
    """The shipped variants of ``name`` as ``{"name", "skeleton", "fps", "default", "card"}`` dicts."""
    default = default_variant(name)
    out = []
    for v in variants(name):
        meta = read_config(WEIGHTS_DIR / name / v)
        cfg = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        skeleton = cfg.get("skeleton", meta.get("skeleton"))
        out.append(
            {
                "name": v,
                "skeleton": skeleton if isinstance(skeleton, str) else None,
                "fps": cfg.get("fps", meta.get("fps")),
                "default": v == default,
                "card": f"weights/{name}/{v}/{CARD_FILE}",
            }
        )
    return out


def save_folder(
    directory: Path,
    state: dict[str, Any],
    config: dict[str, Any],
    card: str | None = None,
    half: bool = False,
    tensor_metadata: dict[str, str] | None = None,
) -> Path:
    """Write ``state`` (name → tensor) as ``model.safetensors``, ``config`` as ``config.json`` and
    ``card`` as ``MODEL_CARD.md`` into ``directory`` (other files there are left alone). Every file is
    first written in full under a temporary name, then all are renamed into place, so an interrupted
    write never leaves a truncated file. ``half``: store floating tensors as float16 (half the size;
    `load_folder` returns float32), except those named with a prefix in `FULL_PRECISION`."""
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, v in state.items():
        t = v.detach().cpu().contiguous()
        if half and t.is_floating_point() and not k.startswith(FULL_PRECISION):
            t = t.to(torch.float16)
        tensors[k] = t
    tmp = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory))
    try:
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata=tensor_metadata)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=1))
        names = [WEIGHTS_FILE, CONFIG_FILE]
        if card is not None:
            (tmp / CARD_FILE).write_text(card)
            names.append(CARD_FILE)
        for name in names:
            os.replace(tmp / name, directory / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def load_folder(directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(state, config.json)`` of a weights folder; floating tensors as float32."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    if not is_folder(directory):
        raise ModelError("no config.json / model.safetensors here", directory)
    meta = read_config(directory)
    try:
        state = load_file(str(directory / WEIGHTS_FILE))
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"cannot read the weights: {exc}", directory / WEIGHTS_FILE) from None
    state = {k: v.float() if v.is_floating_point() and v.dtype != torch.float32 else v for k, v in state.items()}
    return state, meta


def load_state(module: Any, state: dict[str, Any], where: Path, what: str = "the") -> None:
    """``module.load_state_dict(state)`` with a mismatch reported as one `ModelError` naming ``where``
    (and the model ``what``)."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        msg = f"weights do not match {what} model config: {exc}"
        raise ModelError(msg.replace("\n", " "), where) from None
