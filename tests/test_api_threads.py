"""PoseCast from several threads and in a user's seeded program: the process-wide warning filters and torch's
global random stream are left as they were, and one thread building a model does not hold up the others."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest
import torch

import posecast
from posecast import api
from posecast.errors import quiet
from posecast.synthetic import synthetic_walk


def test_quiet_blocks_from_many_threads_leave_the_warning_filters_as_they_were():
    """``warnings.catch_warnings`` is not thread-safe before Python 3.14: interleaved blocks had left an 'ignore
    every warning' filter in the process (four threads loading BVH files; threads QA). `quiet` blocks never
    interleave."""
    before = list(warnings.filters)
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(300):
            with quiet():
                time.sleep(0)  # hand the interpreter to another thread inside the block
            with quiet(UserWarning):
                time.sleep(0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="still shown"):
        warnings.warn("still shown", UserWarning, stacklevel=1)


def test_quiet_blocks_never_interleave():
    """What keeps the filters intact: a thread's `quiet` block waits until another thread's has ended (plain
    ``catch_warnings`` blocks interleave, and whichever ends last restores the list it saw on entry, which can hold
    the other's 'ignore')."""
    inside, leave = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with quiet():
            inside.set()
            leave.wait(30)
            order.append("first leaves")

    def second() -> None:
        with quiet(UserWarning):
            order.append("second enters")

    a = threading.Thread(target=first)
    a.start()
    assert inside.wait(10)
    b = threading.Thread(target=second)
    b.start()
    b.join(0.5)
    blocked = b.is_alive()
    leave.set()
    a.join()
    b.join()
    assert blocked and order == ["first leaves", "second enters"]


def test_a_first_forecast_leaves_the_callers_torch_random_stream_where_it_was(monkeypatch):
    """Building a network draws its random initialisation from torch's global stream before the weights replace
    it: a user's seeded stream had moved on at each model's first forecast."""
    monkeypatch.setattr(api, "_BUILT", {})  # the models are built in this test, not taken from earlier ones
    motion = synthetic_walk(seconds=2.5, fps=25.0)

    def draw_after(call) -> float:
        torch.manual_seed(0)
        call()
        return float(torch.rand(1))

    untouched = draw_after(lambda: None)
    from posecast import models

    assert draw_after(lambda: models.get("charpose")) == untouched  # its timing proposals' selector too (review B)
    for name in ("dct-mlp", "st-transformer", "charpose"):
        kw = {"samples": 2} if name == "charpose" else {"seconds": 0.4}
        assert draw_after(lambda n=name, k=kw: posecast.forecast(motion, model=n, **k)) == untouched, name


def test_a_model_being_built_does_not_hold_up_forecasts_with_a_built_one(monkeypatch):
    """The cache's lock had been held through a build: a thread forecasting with a built model waited for
    another thread's first charpose (0.7-0.9 s). Here one model's build is held until a forecast with another,
    built model has finished in a third thread: that forecast finishes (it had waited for the build)."""
    from posecast import models

    monkeypatch.setattr(api, "_BUILT", {})
    motion = synthetic_walk(seconds=2.5, fps=25.0)
    posecast.forecast(motion, model="zero-velocity", seconds=0.2)  # built and kept
    real_get = models.get
    building, release = threading.Event(), threading.Event()

    def held_get(name, *a, **k):
        if name == "constant-velocity":
            building.set()
            release.wait(30)
        return real_get(name, *a, **k)

    monkeypatch.setattr(models, "get", held_get)
    slow = threading.Thread(target=lambda: posecast.forecast(motion, model="constant-velocity", seconds=0.2))
    slow.start()
    done: list = []
    other = threading.Thread(target=lambda: done.append(posecast.forecast(motion, model="zero-velocity", seconds=0.2)))
    try:
        assert building.wait(10)
        other.start()
        other.join(20)  # without the fix it waits for `release`, which comes only after this join
        finished = not other.is_alive()
    finally:
        release.set()
        slow.join()
        if other.ident is not None:
            other.join()
    assert finished, "a forecast with a built model waited for another model's build"
    np.testing.assert_allclose(done[0].samples[0][-1], motion.positions[-1], atol=1e-9)
    assert set(api._BUILT) == {"zero-velocity", "constant-velocity"}
