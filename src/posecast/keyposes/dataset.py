"""Training and evaluation pairs for characteristic-pose forecasting: observed frames -> next key pose.

Following Diller et al. (CVPR 2022, Sec. 6), an input is ``observed`` consecutive frames (10 at
25 fps in the paper) and the target is the next characteristic pose; every pose is hip-centred
(root-relative: each frame minus its own root joint; no rotation), as in their loaders.

Which windows (all frame numbers at the output rate ``fps``; ``k`` a key frame, ``p`` the key frame
before it, ``O = observed``):

* A window ``[s, s + O)`` belongs to key ``k`` when its last frame lies in ``[p, k)``: the next key
  pose strictly after the observation is ``k``. So ``s`` runs from ``s_min = max(0, p - O + 1)``
  (``0`` for the first key: the start of the clip) to ``s_max = k - O`` (the last observed frame is
  the frame right before the key pose). Keys with ``k < O`` have no window.
* ``starts="random"`` (training): ``starts_per_key`` starts drawn uniformly from
  ``[s_min, s_max]`` with ``numpy.random.default_rng(seed)``; the paper draws a fresh one every
  epoch and repeats each sequence 25 times per epoch, which ``starts_per_key=25`` imitates.
* ``starts="evaluation"``: the paper's five fixed test inputs "evenly distributed between the
  beginning of the sequence and N frames before the characteristic pose". Its code (the
  ``input_start`` modes ``contact``, ``onethird``, ``middle``, ``twothirds``, ``charpose``) puts them
  at ``s_min + (0, n // 3, n // 2, 2 * (n // 3), n)`` with ``n = s_max - s_min``; so do we, and the
  reported error is the mean over the five.

Key poses are mined from each motion at its own frame rate (`posecast.keyposes.mine_keyposes`,
options in ``mining``) or given (e.g. from annotations), and mapped to the nearest output frame.

`cmu_bvh_pairs` builds the pairs of the CMU BVH subject split (train 01, 05, 06, 07; test 02, 08:
`posecast.datasets.cmu_bvh.TRAIN_SUBJECTS` / ``TEST_SUBJECTS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posecast.datasets.windows import slice_windows
from posecast.errors import SkeletonError, ValueRangeError
from posecast.keyposes.mining import KeyPose, mine_keyposes
from posecast.motion import Motion, check_fps
from posecast.skeletons.base import Skeleton

EVALUATION_STARTS = ("start", "one-third", "middle", "two-thirds", "latest")
"""Names of the paper's five evaluation inputs, in the order `evaluation_starts` returns them."""

Starts = Literal["random", "evaluation"]


def evaluation_starts(s_min: int, s_max: int) -> np.ndarray:
    """``(5,)`` window starts of the paper's evaluation inputs between ``s_min`` and ``s_max`` (inclusive)."""
    if s_max < s_min:
        raise ValueRangeError(f"empty start range [{s_min}, {s_max}]")
    n = s_max - s_min
    return s_min + np.array([0, n // 3, n // 2, 2 * (n // 3), n], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class KeyPosePairs:
    """Observed windows and the key pose that follows each.

    Attributes:
        observed: ``(N, O, J, 3)`` float32 root-relative positions (metres) of the observed frames.
        target: ``(N, J, 3)`` float32 root-relative positions of the next key pose.
        motion_index: ``(N,)`` which input motion each pair comes from.
        start_frame: ``(N,)`` first observed frame (at ``fps``).
        key_frame: ``(N,)`` frame of the target key pose (at ``fps``).
        time_to_key: ``(N,)`` seconds from the last observed frame to the key pose (``>= 1 / fps``).
        start_kind: ``(N,)`` ``"random"`` or one of `EVALUATION_STARTS`.
        files: source of each input motion (``metadata["source"]``, else ``"motion <i>"``).
        key_frames: for each input motion, its key frames at ``fps`` (``(K_i,)``, increasing).
        skeleton: joint layout.
        fps: frame rate of the windows.
        datasets: for each input motion, its data set (empty when unknown).
        labels: for each input motion, its action label (`posecast.datasets.actions`; empty when unknown).
    """

    observed: np.ndarray
    target: np.ndarray
    motion_index: np.ndarray
    start_frame: np.ndarray
    key_frame: np.ndarray
    time_to_key: np.ndarray
    start_kind: np.ndarray
    files: tuple[str, ...]
    key_frames: tuple[np.ndarray, ...]
    skeleton: Skeleton
    fps: float
    datasets: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.observed.shape[0])

    def pair_values(self, per_motion: Sequence[str]) -> np.ndarray:
        """``(N,)`` the per-motion ``per_motion`` (e.g. ``datasets`` or ``labels``) of every pair."""
        if len(per_motion) != len(self.files):
            raise ValueRangeError(f"{len(per_motion)} values for {len(self.files)} motions")
        return np.asarray(per_motion, dtype=str)[self.motion_index] if len(self) else np.zeros(0, str)

    def subset(self, idx: np.ndarray) -> KeyPosePairs:
        """The pairs at ``idx`` (the per-motion fields kept whole)."""
        from dataclasses import replace

        return replace(
            self,
            observed=self.observed[idx],
            target=self.target[idx],
            motion_index=self.motion_index[idx],
            start_frame=self.start_frame[idx],
            key_frame=self.key_frame[idx],
            time_to_key=self.time_to_key[idx],
            start_kind=self.start_kind[idx],
        )

    def metadata(self, i: int) -> dict[str, Any]:
        """Facts about pair ``i``: file, key frame, start frame, time to the key pose, start kind."""
        m = int(self.motion_index[i])
        return {
            "file": self.files[m],
            "dataset": self.datasets[m] if self.datasets else None,
            "label": self.labels[m] if self.labels else None,
            "key_frame": int(self.key_frame[i]),
            "start_frame": int(self.start_frame[i]),
            "time_to_key_s": float(self.time_to_key[i]),
            "start_kind": str(self.start_kind[i]),
        }


def spread_pick(items: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` of ``items``, evenly spread over them (first and last included)."""
    if len(items) <= n:
        return items
    return items[np.linspace(0, len(items) - 1, n).round().astype(int)]


def pair_history(pairs: KeyPosePairs, motions: Sequence[Motion], history: int) -> np.ndarray:
    """``(N, history, J, 3)`` float32 world positions of the ``history`` frames (at ``pairs.fps``) ending at
    each pair's last observed frame, the motion's first frame repeated before its start; ``motions`` are
    the motions the pairs were built from (``pairs.motion_index`` indexes them)."""
    o = pairs.observed.shape[1]
    out = np.zeros((len(pairs), history, pairs.skeleton.num_joints, 3), np.float32)
    resampled: dict[int, np.ndarray] = {}
    for n in range(len(pairs)):
        m = int(pairs.motion_index[n])
        if m not in resampled:
            resampled[m] = motions[m].resample(pairs.fps).positions.astype(np.float32)
        last = int(pairs.start_frame[n]) + o - 1
        idx = np.clip(np.arange(last - history + 1, last + 1), 0, None)
        out[n] = resampled[m][idx]
    return out


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueRangeError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def _key_frames(keys: Sequence[KeyPose], fps: float, num_frames: int) -> np.ndarray:
    frames = np.array([int(round(k.time * fps)) for k in keys], dtype=np.int64)
    return np.unique(frames[(frames >= 0) & (frames < num_frames)])


def build_pairs(
    motions: Sequence[Motion],
    *,
    fps: float = 25.0,
    observed: int = 10,
    starts_per_key: int = 1,
    seed: int = 0,
    starts: Starts = "random",
    keyposes: Sequence[Sequence[KeyPose]] | None = None,
    mining: Mapping[str, Any] | None = None,
) -> KeyPosePairs:
    """Pairs (observed window -> next key pose) from any motions (rules in the module docstring).

    Args:
        motions: motions on one skeleton layout, any frame rates (rest frames already dropped).
        fps: rate of the windows; each motion is resampled to it (linear interpolation).
        observed: frames per observed window.
        starts_per_key: random windows per key pose (``starts="random"`` only).
        seed: seed of the random starts.
        starts: ``"random"`` (training) or ``"evaluation"`` (the paper's five fixed inputs per key).
        keyposes: per motion, its key poses (their ``time`` is used); default: mined.
        mining: options for `mine_keyposes` when mining.

    Returns:
        the pairs, ordered by motion, key pose, then start.

    Raises:
        ValueRangeError: bad counts, rates or ``starts``; ``keyposes`` not one list per motion.
        SkeletonError: motions on different skeletons.
    """
    fps = check_fps(fps)
    observed = _check_count("observed", observed)
    starts_per_key = _check_count("starts_per_key", starts_per_key)
    if starts not in ("random", "evaluation"):
        raise ValueRangeError(f"starts must be 'random' or 'evaluation', not {starts!r}")
    motions = list(motions)
    if not motions:
        raise ValueRangeError("no motions to build pairs from")
    skel = motions[0].skeleton
    for m in motions[1:]:
        if not m.skeleton.same_layout(skel):
            raise SkeletonError(f"motions on different skeletons: {skel.name!r} and {m.skeleton.name!r}")
    if keyposes is not None and len(keyposes) != len(motions):
        raise ValueRangeError(f"keyposes has {len(keyposes)} entries for {len(motions)} motions")
    rng = np.random.default_rng(seed)
    windows: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    rows: list[tuple[int, int, int, str]] = []  # (motion, start, key, kind)
    files: list[str] = []
    all_keys: list[np.ndarray] = []
    for i, motion in enumerate(motions):
        files.append(str(motion.metadata.get("source") or f"motion {i}"))
        keys = mine_keyposes(motion, **dict(mining or {})) if keyposes is None else keyposes[i]
        resampled = motion.resample(fps)
        rel = resampled.positions - resampled.positions[:, :1]
        frames = _key_frames(keys, fps, resampled.num_frames)
        all_keys.append(frames)
        prev: int | None = None
        for k in frames.tolist():
            s_min = 0 if prev is None else max(0, prev - observed + 1)
            s_max = k - observed
            prev = k
            if s_max < s_min:
                continue
            if starts == "random":
                chosen = rng.integers(s_min, s_max + 1, size=starts_per_key)
                kinds = ["random"] * starts_per_key
            else:
                chosen = evaluation_starts(s_min, s_max)
                kinds = list(EVALUATION_STARTS)
            for s, kind in zip(chosen.tolist(), kinds, strict=True):
                rows.append((i, s, k, kind))
            windows.append(slice_windows(rel, chosen, observed))
            targets.append(np.repeat(rel[k][None], chosen.shape[0], axis=0))
    j = skel.num_joints
    if rows:
        obs = np.concatenate(windows).astype(np.float32)
        tgt = np.concatenate(targets).astype(np.float32)
    else:
        obs, tgt = np.zeros((0, observed, j, 3), np.float32), np.zeros((0, j, 3), np.float32)
    table = np.array([r[:3] for r in rows], dtype=np.int64).reshape(-1, 3)
    last = table[:, 1] + observed - 1
    return KeyPosePairs(
        observed=obs,
        target=tgt,
        motion_index=table[:, 0],
        start_frame=table[:, 1],
        key_frame=table[:, 2],
        time_to_key=(table[:, 2] - last) / fps,
        start_kind=np.array([r[3] for r in rows], dtype=str),
        files=tuple(files),
        key_frames=tuple(all_keys),
        skeleton=skel,
        fps=fps,
    )


def cmu_bvh_motions_native(subjects: Sequence[str]) -> tuple[list[Motion], list[Path]]:
    """The CMU BVH files of ``subjects`` at their own 120 Hz, the synthetic T-pose (frame 0) dropped
    (`posecast.datasets.cmu_bvh.cmu_bvh_motions`)."""
    from posecast.datasets.cmu_bvh import cmu_bvh_motions

    motions, paths, _ = cmu_bvh_motions(subjects)
    return motions, paths


def cmu_bvh_pairs(
    split: Literal["train", "test"] = "train",
    *,
    subjects: Sequence[str] | None = None,
    fps: float = 25.0,
    observed: int = 10,
    starts_per_key: int = 1,
    seed: int = 0,
    starts: Starts | None = None,
    mining: Mapping[str, Any] | None = None,
) -> KeyPosePairs:
    """Pairs from the CMU BVH subject split (``$POSECAST_DATA/cmu_bvh``), key poses mined at 120 Hz.

    Args:
        split: ``"train"`` (subjects 01, 05, 06, 07) or ``"test"`` (02, 08).
        subjects: a subset of the split's subjects (default: all of them); subjects of the other
            split are refused, so test data never leaks into training.
        starts: default ``"random"`` for train, ``"evaluation"`` (the paper's five inputs) for test.
        fps, observed, starts_per_key, seed, mining: as in `build_pairs`.

    Raises:
        DataNotFoundError: ``POSECAST_DATA`` is not set or holds no ``cmu_bvh`` folder.
        ValueRangeError: an unknown split or a subject outside it.
    """
    from posecast.datasets.cmu_bvh import TEST_SUBJECTS, TRAIN_SUBJECTS

    split_subjects = {"train": TRAIN_SUBJECTS, "test": TEST_SUBJECTS}
    if split not in split_subjects:
        raise ValueRangeError(f"split must be 'train' or 'test', not {split!r}")
    allowed = split_subjects[split]
    chosen = tuple(allowed if subjects is None else subjects)
    outside = [s for s in chosen if s not in allowed]
    if outside or not chosen:
        raise ValueRangeError(
            f"subjects {', '.join(outside) or '(none)'} are not in the {split} split ({', '.join(allowed)})"
        )
    motions, _ = cmu_bvh_motions_native(chosen)
    return build_pairs(
        motions,
        fps=fps,
        observed=observed,
        starts_per_key=starts_per_key,
        seed=seed,
        starts=starts or ("random" if split == "train" else "evaluation"),
        mining=mining,
    )


CORPUS_SKELETON = "smplh-22"
"""The body of the corpus key-pose pairs."""
CORPUS_TEST_SETS = ("cmu_bvh", "bandai_namco", "hdm05_cuts")
"""Data sets with a test part (the key-pose test set)."""
CORPUS_MINING = {"reference_s": 1.5, "prominence": 0.03}
"""`mine_keyposes` options of the corpus pairs. Chosen on the Bandai *validation* styles: with the defaults
(tuned on long CMU clips: reference 0.75 s, prominence 5 cm) the short Bandai clips, which start and end
at rest, lose their one action -- 0.0-0.4 key poses per raise-up clip (the hand rising and staying up is
followed by the moving reference), 0.5 per bow; with a 1.5 s reference and 3 cm prominence each raise-up
clip has 1.1-1.25 (the raised hands), a bow 1.5, a wave 4-6 (the swings), while walks and runs keep the
same strides (1.7 and 2.3 per second either way)."""


def canonical_motions(
    split: str, datasets: Sequence[str] | None = None, fps: float = 25.0, max_files: int | None = None
) -> list[Motion]:
    """The motions of ``split`` on the canonical body (``smplh-22``) at ``fps``, each with ``metadata``
    ``source`` (file relative to ``POSECAST_DATA``), ``dataset`` and ``label`` (`posecast.datasets.actions`).

    ``train`` and ``validation`` come from the training corpus (`posecast.datasets.corpus`, its 25 fps
    sequences; ``fps`` must be 25); ``test`` loads the test files of ``datasets`` (default
    `CORPUS_TEST_SETS`) with `posecast.datasets.splits.load_motion`, resamples them to ``fps`` and maps
    them onto the canonical body with `posecast.skeletons.canonical.retarget` (its automatic mapping).
    ``max_files``: at most this many files per data set, evenly spread (a quick run).
    """
    from posecast import skeletons
    from posecast.datasets import actions, corpus, splits
    from posecast.datasets.paths import data_root

    canonical = skeletons.get(CORPUS_SKELETON)
    out: list[Motion] = []

    def spread(items: list[Any]) -> list[Any]:
        if max_files is None or len(items) <= max_files:
            return items
        return [items[int(i)] for i in np.linspace(0, len(items) - 1, max_files).round().astype(int)]

    if split in corpus.CORPUS_SPLITS:
        if abs(fps - corpus.FPS) > 1e-9:
            raise ValueRangeError(f"the corpus is at {corpus.FPS:g} fps; pairs from it need fps {corpus.FPS:g}")
        c = corpus.load()
        for name in datasets or corpus.DATASETS:
            for i in spread(c.select(split, [name])):
                row = c.table[i]
                meta = {"source": row["file"], "dataset": name, "label": actions.action_label(name, row["file"])}
                out.append(Motion(c.positions(i).astype(np.float64), corpus.FPS, canonical, metadata=meta))
        return out
    if split != "test":
        raise ValueRangeError(f"split must be train, validation or test, not {split!r}")
    from posecast.skeletons.canonical import retarget

    root = data_root()
    assert root is not None
    for name in datasets or CORPUS_TEST_SETS:
        mapping = None
        for path in spread(splits.files(name, "test")):
            motion = splits.load_motion(name, path).resample(fps)
            if mapping is None or not motion.skeleton.same_layout(mapping[0]):
                mapping = (motion.skeleton, retarget(motion.skeleton))
            rel = Path(path).resolve().relative_to(root.resolve()).as_posix()
            meta = {"source": rel, "dataset": name, "label": actions.action_label(name, path)}
            out.append(Motion(mapping[1].to_canonical(motion.positions), fps, canonical, metadata=meta))
    return out


def corpus_pairs(
    split: str,
    *,
    datasets: Sequence[str] | None = None,
    fps: float = 25.0,
    observed: int = 10,
    starts_per_key: int = 1,
    seed: int = 0,
    starts: Starts | None = None,
    mining: Mapping[str, Any] | None = None,
    max_files: int | None = None,
) -> KeyPosePairs:
    """Key-pose pairs of the corpus on the canonical body (`canonical_motions`), key poses mined on it at
    ``fps`` (options ``mining``, default `CORPUS_MINING`); ``starts`` default ``"random"`` for train/validation,
    ``"evaluation"`` for test. The pairs carry each motion's data set and action label."""
    motions = canonical_motions(split, datasets, fps, max_files)
    if not motions:
        raise ValueRangeError(f"no {split} motions in {', '.join(datasets or ()) or 'the corpus'}")
    pairs = build_pairs(
        motions,
        fps=fps,
        observed=observed,
        starts_per_key=starts_per_key,
        seed=seed,
        starts=starts or ("evaluation" if split == "test" else "random"),
        mining=CORPUS_MINING if mining is None else mining,
    )
    from dataclasses import replace

    return replace(
        pairs,
        datasets=tuple(str(m.metadata["dataset"]) for m in motions),
        labels=tuple(str(m.metadata["label"]) for m in motions),
    )
