"""A track that moves to another person (or shot) is noticed: `PoseTrack.person_changes`, `since_last_change`."""

from __future__ import annotations

import numpy as np

from posecast.video.track import PoseTrack


def _box_track(centres, sizes, fps=30.0, detected=None) -> PoseTrack:
    """A 4-keypoint 'body' per frame: the corners of a square of side ``sizes[t]`` around ``centres[t]``."""
    c = np.asarray(centres, dtype=float)
    s = np.asarray(sizes, dtype=float)[:, None]
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]])
    kp = c[:, None, :] + corners[None] * s[:, :, None]
    n = len(c)
    det = np.ones(n, bool) if detected is None else np.asarray(detected)
    return PoseTrack(kp, np.ones((n, 4)), np.arange(n) / fps, (1920, 1080), "k4", detected=det)


def test_a_running_person_is_one_person():
    n = 60  # 3 body sizes a second (a sprint) at 30 fps: 0.1 body size a frame
    track = _box_track([[100 + 30 * k, 500] for k in range(n)], [300] * n)
    assert len(track.person_changes()) == 0 and track.since_last_change() is track


def test_a_jump_to_another_person_is_found_and_the_forecast_reads_after_it():
    centres = [[400, 500]] * 45 + [[1600, 500]] * 15  # a large person, then a small one far away
    sizes = [900] * 45 + [300] * 15
    track = _box_track(centres, sizes)
    np.testing.assert_array_equal(track.person_changes(), [45])
    after = track.since_last_change()
    assert not after.detected[:45].any() and after.detected[45:].all()
    np.testing.assert_allclose(after.keypoints[:45], np.repeat(track.keypoints[45:46], 45, axis=0))  # held back


def test_growth_within_a_fifth_of_a_second_is_a_cut_but_slow_growth_is_not():
    cut = _box_track([[500, 500]] * 20, [200] * 10 + [400] * 10)  # the camera cut to a closer shot
    np.testing.assert_array_equal(cut.person_changes(), [10])
    walk_up = _box_track([[500, 500]] * 60, np.linspace(200, 600, 60))  # walking towards the camera
    assert len(walk_up.person_changes()) == 0


def test_a_long_gap_allows_a_longer_move():
    det = np.array([True] * 10 + [False] * 30 + [True] * 10)  # lost for a second, found 2 body sizes away
    centres = [[500, 500]] * 10 + [[1100, 500]] * 40
    track = _box_track(centres, [300] * 50, detected=det)
    assert len(track.person_changes()) == 0  # 2 sizes in 1.03 s: within 0.5 + 3 per second
    near = _box_track([[500, 500]] * 10 + [[1100, 500]] * 10, [300] * 20)  # the same move in one frame
    np.testing.assert_array_equal(near.person_changes(), [10])


def test_legs_hidden_for_a_few_frames_are_not_another_person():
    n = 30
    upper = np.array([[-40, -200], [40, -200], [-40, 0], [40, 0]], dtype=float)  # shoulders, hips
    lower = np.array([[-40, 150], [40, 150], [-40, 300], [40, 300]], dtype=float)  # knees, ankles
    kp = np.repeat(np.concatenate([upper, lower])[None], n, axis=0) + [[[600.0, 500.0]]]
    vis = np.ones((n, 8))
    vis[10:16, 4:] = 0.05  # the legs hidden behind a table for 0.2 s: the backend guesses them badly
    kp[10:16, 4:] = kp[10:16, 2:4].repeat(2, axis=1) + 5.0
    track = PoseTrack(kp, vis, np.arange(n) / 30.0, (1920, 1080), "k8")
    assert len(track.person_changes()) == 0
    shown = PoseTrack(kp, np.ones((n, 8)), np.arange(n) / 30.0, (1920, 1080), "k8")  # the same, taken as seen
    assert len(shown.person_changes()) > 0  # what the visibility-blind measure reported
