"""``charpose`` behind the registry's common call: a motion in, K key-pose hypotheses out.

`KeyPoseForecaster.forecast(history, samples=K)` observes the last ``O`` frames of ``history`` (at the
network's rate), samples and refines K hypotheses of the next characteristic pose and returns them as
a `posecast.motion.Forecast` of one frame per hypothesis, ordered by probability, placed at the last
observed root (the network predicts hip-relative poses), with ``probabilities`` filled and the
hip-relative poses in ``metadata["root_relative"]``. A key pose has no time stamp of its own: the
frame stands one frame after the last observed one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecast.errors import SkeletonError, ValueRangeError
from posecast.motion import Forecast, Motion

DEFAULT_SAMPLES = 10


class KeyPoseForecaster:
    """A trained `~posecast.keyposes.model.CharPoseNet` with the `Forecaster`-style ``forecast`` call."""

    deterministic = False

    def __init__(self, net: Any, name: str = "charpose", weights: Path | None = None) -> None:
        self.net = net
        self.name = name
        self.weights = weights
        self.skeleton = net.skeleton
        self.fps = float(net.config.fps)
        self.observed = int(net.config.observed)
        self.min_history = self.observed

    def observed_window(self, motion: Motion, at: float | None = None) -> tuple[np.ndarray, int, Motion]:
        """``(window (O, J, 3), index of its last frame at the network's rate, the motion at that rate)``:
        the ``O`` frames ending at time ``at`` (the nearest frame; default: the end of ``motion``)."""
        clip = motion.resample(self.fps)
        if at is not None and not 0 <= at <= motion.duration:
            raise ValueRangeError(f"--at {at} s is outside the motion (0 to {motion.duration:.2f} s)")
        last = clip.num_frames - 1 if at is None else int(round(at * self.fps))
        if last + 1 < self.observed:
            need = (self.observed - 1) / self.fps
            where = "the motion" if at is None else f"--at {at} s"
            raise ValueRangeError(
                f"{where} leaves {last + 1} frames at {self.fps:g} fps before the forecast; the model observes "
                f"{self.observed} (use --at {need:.2f} or later)"
            )
        return clip.positions[last - self.observed + 1 : last + 1].astype(np.float32), last, clip

    def hypotheses(self, window: np.ndarray, samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(poses (K, J, 3) hip-relative, probabilities (K,), refined)`` for one ``(O, J, 3)`` window,
        most probable first."""
        import torch

        from posecast.keyposes.sampling import predict_keyposes

        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            hyp = predict_keyposes(self.net, torch.as_tensor(window)[None], samples=samples, generator=gen)
        rel = hyp.poses[0].double().numpy()
        prob = hyp.probabilities[0].double().numpy()
        order = np.argsort(-prob, kind="stable")
        return rel[order], prob[order], bool(hyp.refined)

    def forecast(
        self,
        history: Motion,
        frames: int | None = None,
        seconds: float | None = None,
        samples: int = DEFAULT_SAMPLES,
        at: float | None = None,
        seed: int = 0,
    ) -> Forecast:
        """K hypotheses of the next key pose after ``history`` (or after time ``at`` in it); ``frames``
        and ``seconds`` do not apply (a key pose comes when the action gets there) and are refused."""
        if frames is not None or seconds is not None:
            raise ValueRangeError(f"model {self.name!r} forecasts the next key pose, not a number of frames or seconds")
        if not isinstance(samples, int | np.integer) or samples < 1:
            raise ValueRangeError(f"samples must be a positive integer, got {samples!r}")
        if not history.skeleton.same_layout(self.skeleton):
            raise SkeletonError(
                f"motion on skeleton {history.skeleton.name!r} ({history.num_joints} joints), model {self.name!r} "
                f"on {self.skeleton.name!r} ({self.skeleton.num_joints} joints)"
            )
        window, last, clip = self.observed_window(history, at)
        rel, prob, refined = self.hypotheses(window, int(samples), seed)
        world = rel + window[-1, 0].astype(np.float64)
        observed = Motion(window.astype(np.float64), self.fps, history.skeleton, metadata={})
        return Forecast(
            samples=world[:, None],
            fps=self.fps,
            skeleton=history.skeleton,
            probabilities=prob,
            history=observed,
            model=self.name,
            metadata={
                "source": history.metadata.get("source"),
                "kind": "key pose",
                "root_relative": rel,
                "last_observed_time_s": last / self.fps,
                "refined": refined,
                "temperature": self.net.config.temperature,
                "weights": None if self.weights is None else str(self.weights),
            },
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def build(
    name: str = "charpose", variant: str | None = None, pretrained: bool = True, weights: Path | None = None, **_: Any
) -> KeyPoseForecaster:
    """Registry builder of ``charpose``: weights folder ``weights``, else the shipped ``variant`` (default:
    `posecast.models.store.default_variant`); ``pretrained=False``: an untrained network (default config)."""
    from posecast.keyposes.model import CharPoseConfig, CharPoseNet, load_charpose
    from posecast.models import store

    if weights is None and not pretrained:
        return KeyPoseForecaster(CharPoseNet(CharPoseConfig()).eval(), name)
    folder = Path(weights) if weights is not None else store.shipped(name, variant)
    return KeyPoseForecaster(load_charpose(folder), name, folder)
