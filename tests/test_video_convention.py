"""The body-17 the corpus-trained video models read (`posecast.skeletons.mapping.corpus_convention`) and where it is
used: detector tracks are re-expressed before ``predict`` (`VideoForecaster.model_input`), anchoring stays on the
keypoints as given, and the projected CMU test windows go through the canonical body like the corpus's other test
splits (`posecast.evaluation.protocols.video.cmu_test_sequences`)."""

from __future__ import annotations

import numpy as np
import pytest

import posecast
from posecast.skeletons.mapping import BODY17_NAMES, corpus_convention, documented_convention
from posecast.video.models.base import (
    CORPUS_CONVENTION,
    DOCUMENTED_CONVENTION,
    VideoForecaster,
    VideoPrediction,
    trained_convention,
)
from posecast.video.track import PoseTrack

J = {name: i for i, name in enumerate(BODY17_NAMES)}


def _pose() -> np.ndarray:
    """A body-17 pose (metres) with the trunk points placed by hand; the other joints at arbitrary places."""
    p = np.random.default_rng(0).normal(size=(17, 3))
    p[J["thorax"]] = (0.0, 1.40, 0.0)
    p[J["neck"]] = (0.0, 1.52, 0.02)
    p[J["head"]] = (0.0, 1.64, 0.0)
    p[J["left_shoulder"]] = (0.18, 1.42, 0.0)
    p[J["right_shoulder"]] = (-0.18, 1.42, 0.0)
    return p


def test_corpus_convention_by_hand() -> None:
    p = _pose()
    out = corpus_convention(p)
    np.testing.assert_allclose(out[J["neck"]], (0.0, 1.40, 0.0))  # the documented thorax: the neck's base
    np.testing.assert_allclose(out[J["head"]], (0.0, 1.58, 0.01))  # half-way between documented neck and head
    # thorax 0.90 thorax - 0.41 neck + 0.10 head + 0.205 (left + right shoulder)
    y = 0.90 * 1.40 - 0.41 * 1.52 + 0.10 * 1.64 + 0.41 * 1.42
    np.testing.assert_allclose(out[J["thorax"]], (0.0, y, -0.41 * 0.02), atol=1e-12)
    assert y == pytest.approx(1.383)  # 1.7 cm below the documented thorax
    keep = [i for i in range(17) if i not in (J["thorax"], J["neck"], J["head"])]
    np.testing.assert_array_equal(out[keep], p[keep])
    # affine: moving the body moves the result
    np.testing.assert_allclose(corpus_convention(p + (1.0, -2.0, 3.0)), out + (1.0, -2.0, 3.0))


def test_documented_convention_by_hand() -> None:
    c = _pose()  # read as the corpus's body-17: neck (0, 1.52, 0.02), head (0, 1.64, 0)
    out = documented_convention(c)
    np.testing.assert_allclose(out[J["thorax"]], c[J["neck"]])
    np.testing.assert_allclose(out[J["neck"]], (0.0, 0.25 * 1.52 + 0.75 * 1.64, 0.005))
    np.testing.assert_allclose(out[J["head"]], (0.0, -0.25 * 1.52 + 1.25 * 1.64, -0.005))
    keep = [i for i in range(17) if i not in (J["thorax"], J["neck"], J["head"])]
    np.testing.assert_array_equal(out[keep], c[keep])


def test_a_missing_joint_spoils_only_what_is_made_from_it_and_visibility_is_the_least() -> None:
    kp = _pose()[..., :2][None]  # (1, 17, 2) pixels or metres alike
    kp[0, J["head"]] = np.nan
    vis = np.linspace(0.1, 0.9, 17)[None]
    out, v = corpus_convention(kp, vis)
    assert np.isnan(out[0, J["head"]]).all() and np.isnan(out[0, J["thorax"]]).all()
    assert np.isfinite(out[0, J["neck"]]).all()  # the neck is the documented thorax alone
    assert v[0, J["neck"]] == pytest.approx(vis[0, J["thorax"]])
    assert v[0, J["head"]] == pytest.approx(min(vis[0, J["neck"]], vis[0, J["head"]]))
    sources = [J[n] for n in ("thorax", "neck", "head", "left_shoulder", "right_shoulder")]
    assert v[0, J["thorax"]] == pytest.approx(vis[0, sources].min())
    with pytest.raises(posecast.errors.SkeletonError, match="does not fit"):
        corpus_convention(np.zeros((3, 16, 2)))


def test_corpus_convention_is_the_canonical_route_on_cmu_bvh(posecast_data) -> None:
    """A CMU BVH file maps onto body-17 both ways: the direct table (documented) re-expressed equals the canonical
    route (the corpus's) at the neck and head exactly, and at the thorax within the fit's 1-2 cm."""
    from posecast.datasets import splits
    from posecast.evaluation.protocols.video import corpus_body17

    motion = splits.load_motion("cmu_bvh", splits.files("cmu_bvh", "validation")[0]).resample(25.0)
    documented = motion.to_layout("body-17").positions
    corpus = corpus_body17(motion.positions, motion.skeleton)
    mapped = corpus_convention(documented)
    for joint in ("neck", "head"):
        np.testing.assert_allclose(mapped[:, J[joint]], corpus[:, J[joint]], atol=1e-6)
    off = np.linalg.norm(mapped[:, J["thorax"]] - corpus[:, J["thorax"]], axis=-1)
    assert off.mean() < 0.02
    before = np.linalg.norm(documented[:, J["neck"]] - corpus[:, J["neck"]], axis=-1).mean()
    assert before > 0.10  # what the models saw differs by more than 10 cm at the neck
    back = documented_convention(corpus)  # and the way back: exact at the thorax, about 6 mm at neck and head
    np.testing.assert_allclose(back[:, J["thorax"]], documented[:, J["thorax"]], atol=1e-6)
    for joint in ("neck", "head"):
        assert np.linalg.norm(back[:, J[joint]] - documented[:, J[joint]], axis=-1).mean() < 0.015


class Recorder(VideoForecaster):
    """Records what ``predict`` reads; estimates `_pose` in every frame."""

    name = "recorder"
    fps = 25.0
    uses_world = True

    def __init__(self, convention: str) -> None:
        self.convention = convention
        self.seen: np.ndarray | None = None
        self.seen_visibility: np.ndarray | None = None
        self.seen_world: np.ndarray | None = None

    @property
    def keypoint_convention(self) -> str:
        return self.convention

    def predict(self, keypoints, visibility, frames, world=None) -> VideoPrediction:
        self.seen, self.seen_visibility, self.seen_world = keypoints.copy(), visibility.copy(), world
        b, t, j, _ = keypoints.shape
        past, future = np.tile(_pose(), (b, t, 1, 1)), np.tile(_pose(), (b, frames, 1, 1))
        return VideoPrediction(past, future, np.tile([1.0, 0, 0], (b, t + frames, 1)))


def _track(frames: int = 25) -> PoseTrack:
    """A still body-17 track (resampling at 25 fps keeps it) with world landmarks and a visibility per joint."""
    kp = np.repeat(_pose()[None, :, :2] * 100.0, frames, axis=0)
    vis = np.repeat(np.linspace(0.3, 1.0, 17)[None], frames, axis=0)
    world = np.repeat(_pose()[None], frames, axis=0)
    return PoseTrack(kp, vis, np.arange(frames) / 25.0, (640, 480), "body-17", world=world)


def test_forecast_track_feeds_a_corpus_model_the_corpus_convention_and_anchors_on_the_given_keypoints() -> None:
    track = _track()
    corpus_model, plain = Recorder(CORPUS_CONVENTION), Recorder(DOCUMENTED_CONVENTION)
    fc = corpus_model.forecast_track(track, 0.4)
    kp, vis = corpus_convention(track.keypoints[-1], track.visibility[-1])
    np.testing.assert_allclose(corpus_model.seen[0, -1], kp)
    np.testing.assert_allclose(corpus_model.seen_visibility[0, -1], vis)  # the least of each joint's sources
    assert vis[J["neck"]] == track.visibility[-1, J["thorax"]] != track.visibility[-1, J["neck"]]
    np.testing.assert_allclose(corpus_model.seen_world[0, -1], corpus_convention(track.world[-1]))
    np.testing.assert_allclose(fc.anchor, track.keypoints[-1])  # anchored at what the detector gave
    np.testing.assert_allclose(fc.past[-1], documented_convention(_pose()))  # estimates back as documented
    np.testing.assert_allclose(fc.future[-1], documented_convention(_pose()))
    fc = plain.forecast_track(track, 0.4)
    np.testing.assert_allclose(plain.seen[0, -1], track.keypoints[-1])
    np.testing.assert_allclose(plain.seen_world[0, -1], track.world[-1])
    np.testing.assert_allclose(fc.past[-1], _pose())


def test_hmmr_on_one_image_reads_and_returns_the_same_conventions() -> None:
    """The single-frame path (an image) converts as `forecast_track` does: its past is the network's estimate
    from the re-expressed keypoints, turned back."""
    model = posecast.models.get("hmmr")
    track = _track(1)
    fc = model.forecast_track(track, 0.2)
    kp, vis = corpus_convention(track.keypoints, track.visibility)
    pred = model.single(kp[None], vis[None], 5)
    np.testing.assert_allclose(fc.past, documented_convention(pred.past[0]), atol=1e-9)
    np.testing.assert_allclose(fc.future, documented_convention(pred.future[0]), atol=1e-9)
    raw = model.single(track.keypoints[None], track.visibility[None], 5)  # unconverted keypoints: another pose
    assert np.abs(documented_convention(raw.past[0]) - fc.past).max() > 1e-3


def test_checkpoints_of_a_training_run_say_which_body17_they_saw(tmp_path) -> None:
    from posecast.models import store
    from posecast.video.models import lifter
    from posecast.video.models.base import data_convention

    assert data_convention("corpus") == data_convention("corpus:-cmu_mocap") == CORPUS_CONVENTION
    assert data_convention("cmu-bvh") == data_convention("runs/my-motions") == DOCUMENTED_CONVENTION
    net = lifter.LifterNet(lifter.LifterConfig(channels=8, hidden=8))
    for convention in (CORPUS_CONVENTION, DOCUMENTED_CONVENTION):
        folder = tmp_path / convention
        store.save_folder(
            folder, net.state_dict(), {"config": net.config.model_dump(), "keypoint_convention": convention}
        )
        assert lifter.load(folder).keypoint_convention == convention
    # the key wins over the training data (a shipped folder has both)
    meta = {"keypoint_convention": DOCUMENTED_CONVENTION, "training": {"train_config": {"data": "corpus"}}}
    assert trained_convention(meta) == DOCUMENTED_CONVENTION


def test_shipped_video_models_read_the_corpus_convention() -> None:
    for name in ("lifter", "phd", "hmmr", "posemonet", "lift+forecast", "lift+forecast+path"):
        assert posecast.models.get(name).keypoint_convention == CORPUS_CONVENTION, name
    assert trained_convention({"training": {"train_config": {"data": "corpus:-cmu_mocap"}}}) == CORPUS_CONVENTION
    assert trained_convention({"training": {"train_config": {"data": "cmu-bvh"}}}) == DOCUMENTED_CONVENTION
    assert trained_convention({}) == DOCUMENTED_CONVENTION


def test_cmu_test_windows_go_through_the_canonical_body(posecast_data) -> None:
    from posecast.evaluation.protocols.video import cmu_test_sequences

    seqs = cmu_test_sequences(("08",))
    gap = np.concatenate([np.linalg.norm(s[:, J["neck"]] - s[:, J["thorax"]], axis=-1) for s in seqs])
    assert gap.mean() < 0.04  # the corpus's neck sits at its base (the direct table: about 13 cm above)
