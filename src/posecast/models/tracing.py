"""Traced, frozen TorchScript copies of inference calls, one per input shape (`TraceCache`).

At batch 1 the Python around each small tensor operation costs as much as the operation itself; a traced
and frozen graph runs the same operations without it (dct-mlp about 3x faster, PHD's self-fed rollout
about 1.5x). TorchScript is deprecated in favour of ``torch.compile``, which needs a C++ toolchain at run
time and compiles for seconds; tracing is instant and exact here, and every copy is checked against the
eager result before it is used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from posecast.errors import quiet


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
        # the server's stream lanes and its REST thread call one model from several threads: the lookup and the
        # tracing of a new shape hold this lock (a lookup that popped a copy had made another thread trace it again)
        self._lock = threading.Lock()
        self._tracing: set[Any] = set()  # keys a thread is tracing now (others run them eagerly meanwhile)

    def __len__(self) -> int:
        return len(self._traced)

    def __contains__(self, key: Any) -> bool:
        return key in self._traced

    def clear(self) -> None:
        with self._lock:
            self._traced.clear()
            self._seen.clear()

    def items(self) -> list[tuple[Any, Any]]:
        """``(key, traced module or the eager one kept)`` pairs, least recently used first."""
        with self._lock:
            return list(self._traced.items())

    def __call__(self, key: Any, build: Callable[[], Any], *inputs: Any, after: int = 1) -> Any:
        """``build()(*inputs)`` (see the class doc); outputs may be a tensor or a tuple of tensors."""
        import torch

        with self._lock:  # decide under the lock; run, and trace, outside it
            fast = self._traced.pop(key, None)
            if fast is not None:
                self._traced[key] = fast  # most recently used last
                trace = False
            elif key in self._tracing or len(self._traced) + len(self._tracing) >= self.size:
                trace = False  # being traced by another thread, or full: this shape stays eager (class doc)
            elif after > 1 and self._seen.get(key, 0) + 1 < after:  # one-off shapes are not worth a trace
                if len(self._seen) >= 256:
                    self._seen.clear()
                self._seen[key] = self._seen.get(key, 0) + 1
                trace = False
            else:
                self._seen.pop(key, None)
                self._tracing.add(key)
                trace = True
        if fast is not None:
            return fast(*inputs)
        module = build()
        if not trace:
            return module(*inputs)
        try:
            eager = module(*inputs)
            try:
                with quiet(torch.jit.TracerWarning, DeprecationWarning):  # shape-specialisation: the cache is per shape
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
            with self._lock:
                self._traced[key] = traced if ok else module
            return eager
        finally:
            with self._lock:
                self._tracing.discard(key)
