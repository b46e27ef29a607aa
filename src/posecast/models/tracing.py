"""Traced, frozen TorchScript copies of inference calls, one per input shape (`TraceCache`).

At batch 1 the Python around each small tensor operation costs as much as the operation itself; a traced
and frozen graph runs the same operations without it (dct-mlp about 3x faster, PHD's self-fed rollout
about 1.5x). TorchScript is deprecated in favour of ``torch.compile``, which needs a C++ toolchain at run
time and compiles for seconds; tracing is instant and exact here, and every copy is checked against the
eager result before it is used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


class TraceCache:
    """``cache(key, build, example)`` is ``build()(example)``; from the ``after``-th call with the same
    ``key`` on, a traced, frozen copy of ``build()`` answers instead. The copy is checked once against the
    eager result (max abs difference ``atol``) and the eager module is kept when it differs or cannot be
    traced. The key must capture everything the trace bakes in (input shapes, settings, weights version).
    At most ``size`` copies are ever made: further shapes run eagerly. (They had replaced the least recently
    used copy, but TorchScript does not give a dropped copy's memory back: a model asked for 25 horizons in
    turn grew by about 220 MB per round, measured; now it stops at ``size`` copies. A server warms its few
    batch shapes first.)"""

    def __init__(self, size: int = 16, atol: float = 1e-5) -> None:
        self.size, self.atol = size, atol
        self._traced: dict[Any, Any] = {}
        self._seen: dict[Any, int] = {}

    def __len__(self) -> int:
        return len(self._traced)

    def __contains__(self, key: Any) -> bool:
        return key in self._traced

    def clear(self) -> None:
        self._traced.clear()
        self._seen.clear()

    def items(self) -> list[tuple[Any, Any]]:
        """``(key, traced module or the eager one kept)`` pairs, least recently used first."""
        return list(self._traced.items())

    def __call__(self, key: Any, build: Callable[[], Any], *inputs: Any, after: int = 1) -> Any:
        """``build()(*inputs)`` (see the class doc); outputs may be a tensor or a tuple of tensors."""
        import torch

        fast = self._traced.pop(key, None)
        if fast is not None:
            self._traced[key] = fast  # most recently used last
            return fast(*inputs)
        module = build()
        if after > 1:
            seen = self._seen.get(key, 0) + 1
            if seen < after:  # one-off shapes (a benchmark batch) are not worth a trace
                if len(self._seen) >= 256:
                    self._seen.clear()
                self._seen[key] = seen
                return module(*inputs)
            self._seen.pop(key, None)
        eager = module(*inputs)
        if len(self._traced) >= self.size:  # full: this shape stays eager (see the class doc)
            return eager
        try:
            with warnings.catch_warnings():  # shape-specialisation warnings: the cache is per shape
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                traced = torch.jit.freeze(torch.jit.trace(module, inputs, check_trace=False).eval())
            again = traced(*inputs)
            pairs = zip(
                again if isinstance(again, tuple) else (again,),
                eager if isinstance(eager, tuple) else (eager,),
                strict=True,
            )
            ok = all(torch.allclose(t, e, atol=self.atol, rtol=0) for t, e in pairs)
        except Exception:  # noqa: BLE001 - any tracing failure means: stay eager
            ok = False
        self._traced[key] = traced if ok else module
        return eager
