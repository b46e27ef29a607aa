"""The one model registry: every model PoseCast has, whatever its kind, by name.

An entry (`ModelInfo`) says what a model is without building it: its kind (``motion`` forecasters
of 3D joint positions, ``video`` forecasters that read 2D keypoints from a clip or an image,
``keypose`` forecasters of the next characteristic pose, the ``classifier`` behind the key-pose
quality score), what it reads (``positions``, ``rotations``, ``keypoints-2d``, ``image``), what it
gives (``trajectory``, ``hypotheses``, ``key-pose``, ``action-class``), whether it must be fitted on
training motions first (`needs_fit`), whether it learns (`learned`), whether it draws its samples at random
(`stochastic`) and whether ``samples=K`` gives K different forecasts at all (`distinct_samples`), the input kinds it
is the default model for, and its shipped weight variants (read from the weights store, `posecast.models.store`).

`get(name, variant=None, pretrained=True, **options)` builds any of them. Entries of the upper layers
(video, key poses) name their builder as ``"module:function"`` and are imported only when asked for,
so this module never imports upward.

Every forecaster answers ``forecast(source, frames=None, seconds=None, samples=1)`` with a
`posecast.motion.Forecast`: key-pose and multi-hypothesis models fill ``probabilities``; video models
put the 2D track and the camera-aligned estimate in ``metadata``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posecast.errors import ModelError, ValueRangeError
from posecast.models import store

KINDS = ("motion", "video", "keypose", "classifier")
INPUT_KINDS = ("motion", "video", "image")


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model without building it.

    ``build`` is a callable or a ``"module:function"`` path; it is called as
    ``build(name=..., variant=..., pretrained=..., weights=..., **options)`` for learned models and
    ``build(**options)`` for the others.
    """

    name: str
    kind: str
    summary: str
    build: Callable[..., Any] | str
    inputs: tuple[str, ...] = ("positions",)
    outputs: tuple[str, ...] = ("trajectory",)
    needs_fit: bool = False
    learned: bool = True
    default_for: tuple[str, ...] = ()
    #: draws its samples at random (another seed, other samples): charpose's hypotheses
    stochastic: bool = False
    #: ``samples=K`` gives K different forecasts (drawn, or ranked: the nearest-neighbour baseline's K nearest
    #: windows); False: every sample is the same forecast (None: as ``stochastic``)
    distinct_samples: bool | None = None
    #: shipped weights of other models it combines (``"NAME/VARIANT"``), for a model with none of its own
    uses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"model kind must be one of {KINDS}, got {self.kind!r}")
        bad = set(self.default_for) - set(INPUT_KINDS)
        if bad:
            raise ValueError(f"default_for takes {INPUT_KINDS}, got {sorted(bad)}")

    @property
    def gives_distinct_samples(self) -> bool:
        """Whether ``samples=K`` gives K different forecasts (`distinct_samples`, else `stochastic`)."""
        return self.stochastic if self.distinct_samples is None else self.distinct_samples

    def variants(self) -> list[dict[str, Any]]:
        """The shipped weight variants (``name``, ``skeleton``, ``fps``, ``default``, ``card``)."""
        return store.describe(self.name) if self.learned else []

    def builder(self) -> Callable[..., Any]:
        if callable(self.build):
            return self.build
        module, _, attr = self.build.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            raise ModelError(f"model {self.name!r} cannot be imported ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        """The fixed-key description ``posecast models --json`` prints."""
        return {
            "name": self.name,
            "kind": self.kind,
            "summary": self.summary,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "needs_fit": self.needs_fit,
            "learned": self.learned,
            "stochastic": self.stochastic,
            "distinct_samples": self.gives_distinct_samples,
            "variants": self.variants(),
            "default_for": list(self.default_for),
            "default": bool(self.default_for),
            "uses": list(self.uses),
        }


_MODELS: dict[str, ModelInfo] = {}


def register_model(info: ModelInfo) -> ModelInfo:
    """Add (or replace) an entry; at most one model is the default for each input kind."""
    for kind in info.default_for:
        other = default_model(kind)
        if other is not None and other.name != info.name:
            raise ValueError(f"{other.name!r} is already the default model for {kind} inputs")
    _MODELS[info.name] = info
    return info


def available(kind: str | None = None) -> list[ModelInfo]:
    """Every registered model (of ``kind``, one of `KINDS`; another kind is a `ValueRangeError`), in registration
    order."""
    if kind is not None and kind not in KINDS:
        raise ValueRangeError(f"unknown model kind {kind!r}; the kinds are {', '.join(KINDS)}")
    return [m for m in _MODELS.values() if kind is None or m.kind == kind]


def info(name: str) -> ModelInfo:
    """The entry of ``name``; a `ModelError` listing the known names when there is none (with the nearest name when
    one is close: ``DCT-MLP``, ``dct_mlp``, ``charpos``)."""
    if name not in _MODELS:
        import difflib

        key = str(name).strip().lower().replace("_", "-")
        close = [key] if key in _MODELS else difflib.get_close_matches(key, list(_MODELS), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}? available: " if close else "; available: "
        raise ModelError(f"unknown model {name!r}{hint}{', '.join(_MODELS)}")
    return _MODELS[name]


def default_model(input_kind: str) -> ModelInfo | None:
    """The model used for ``input_kind`` (``motion``, ``video`` or ``image``) when none is named."""
    return next((m for m in _MODELS.values() if input_kind in m.default_for), None)


def check_weights_fit(name: str, folder: Path) -> None:
    """Refuse a weights folder whose network family is not the one model ``name`` ships (QA: ``--model dct-mlp
    --weights RUN`` of an st-transformer run forecast with the st-transformer under the dct-mlp label, and
    benchmark rows were labelled so). Folders or models that do not say their network pass."""
    got = store.network_of(folder)
    shipped = {store.network_of(store.shipped(name, v)) for v in store.variants(name)} - {None}
    if got is None or not shipped or got in shipped:
        return
    trained = store.read_config(folder).get("name")
    use = trained if isinstance(trained, str) and trained in _MODELS else got
    raise ModelError(
        f"these are {got} weights{f' (published as {trained})' if trained and trained != got else ''}, not weights of "
        f"{name} (network {', '.join(sorted(shipped))}): load them with model {use!r} (CLI: --model {use})",
        folder,
    )


def _builder_options(build: Callable[..., Any]) -> set[str] | None:
    """The keyword options a model builder takes beyond the registry's own (name, variant, pretrained, weights); None
    when it cannot be told."""
    import inspect

    try:
        params = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):
        return None
    own = {"name", "variant", "pretrained", "weights"}
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in own}


def get(
    name: str,
    variant: str | None = None,
    pretrained: bool = True,
    weights: str | Path | None = None,
    **options: Any,
) -> Any:
    """Build model ``name``.

    Args:
        variant: a shipped weight variant (default: learned motion models pick by the history's
            skeleton; other kinds take `store.default_variant`).
        pretrained: load shipped weights (False: an untrained network from the default config).
        weights: a training run directory, a weights folder or a shipped ``NAME[/VARIANT]`` to load
            instead of the shipped weights.
        options: passed to the model's builder (e.g. baseline settings).
    """
    entry = info(name)
    build = entry.builder()
    if not isinstance(pretrained, bool):  # (QA: pretrained="no" was taken as true)
        raise ModelError(f"pretrained must be True or False, got {pretrained!r}")
    known = _builder_options(build)
    unknown = sorted(set(options) - known) if known is not None else []
    if unknown:  # (QA: unknown options were passed on and ignored, or ended in the builder's TypeError)
        takes = f"; it takes {', '.join(sorted(known))}" if known else "; it takes none"
        raise ModelError(f"model {name!r} has no option {', '.join(map(repr, unknown))}{takes}")
    if not entry.learned:
        if variant is not None or weights is not None:
            what = "a baseline" if entry.kind != "video" else f"built from shipped models: {entry.summary}"
            raise ModelError(f"model {name!r} takes no weights of its own ({what})")
        return build(**options)
    folder = store.resolve(weights) if weights is not None else None
    if folder is not None:
        check_weights_fit(name, folder)
    with store.keeps_rng():  # networks are built with random weights, then loaded: the caller's stream stays put
        return build(name=name, variant=variant, pretrained=pretrained, weights=folder, **options)
