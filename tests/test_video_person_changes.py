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


def _walk_out(junk_centre=(20.0, 160.0), junk_size=30.0, image=(200, 576)) -> PoseTrack:
    """A body of 300 px walking out through the left edge of a 200 x 576 frame at 300 px/s (its box passes the
    edge), then two frames where the backend returns a 30 px 'body' (what MediaPipe does for a person almost out
    of the frame: QA's leave_midclip.mp4)."""
    n = 12
    centres = np.array([[100 - 10 * k, 300] for k in range(n)] + [list(junk_centre)] * 2, dtype=float)
    sizes = np.array([300] * n + [junk_size] * 2, dtype=float)
    body = np.random.default_rng(0).uniform(-0.5, 0.5, (17, 2))  # 17 joints in a unit box, its corners among them
    body[:4] = [[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]
    kp = centres[:, None, :] + body[None] * sizes[:, None, None]
    return PoseTrack(kp, np.ones((n + 2, 17)), np.arange(n + 2) / 30.0, image, "body-17")


def test_a_body_going_out_through_the_edge_is_not_another_person():
    track = _walk_out()
    np.testing.assert_array_equal(track.person_changes(), [12])  # what the growth test alone makes of it
    np.testing.assert_array_equal(track.leaving(), [12, 13])
    kept = track.without_leaving()
    assert len(kept.person_changes()) == 0
    assert kept.detected[:12].all() and not kept.detected[12:].any()
    np.testing.assert_allclose(kept.keypoints[12:], np.repeat(track.keypoints[11:12], 2, axis=0))  # the last good
    np.testing.assert_allclose(kept.keypoints[:12], track.keypoints[:12])  # the past as it was
    assert kept.metadata["left_out_s"] == [round(12 / 30, 4), round(13 / 30, 4)]
    assert len(kept.without_leaving().leaving()) == 0  # once is enough


def test_a_cut_to_a_smaller_person_away_from_the_edge_is_still_a_change():
    track = _walk_out(junk_centre=(100.0, 300.0), junk_size=120.0)  # a smaller body in the middle of the frame
    assert len(track.leaving()) == 0
    np.testing.assert_array_equal(track.without_leaving().person_changes(), [12])


def test_a_body_that_shrinks_slowly_at_the_edge_or_is_cut_by_it_all_along_is_kept():
    n = 60  # walking away from the camera along the edge: 300 -> 100 px in 2 s
    track = _box_track([[40, 300]] * n, np.linspace(300, 100, n))
    track = PoseTrack(track.keypoints, track.visibility, track.times, (400, 576), "k4")
    assert len(track.leaving()) == 0
    first = _walk_out()  # the first detection has nothing to be compared with: kept
    assert len(first.frames(12).leaving()) == 0


def test_tracks_from_the_backend_and_forecasts_leave_the_vanishing_body_out():
    from dataclasses import replace

    from posecast.video.backend import FramePose
    from posecast.video.extract import track_from_poses
    from posecast.video.models.base import VideoForecaster

    track = _walk_out()
    poses = [FramePose(k, v) for k, v in zip(track.keypoints, track.visibility, strict=True)]
    live = track_from_poses(poses + [None], list(track.times) + [14 / 30], track.image_size, "body-17")  # serve's path
    assert live.detected[:12].all() and not live.detected[12:].any() and len(live.person_changes()) == 0

    class Reader:
        name = "reader"
        forecast = VideoForecaster.forecast
        read = None

        def forecast_track(self, read, seconds):
            Reader.read = read
            raise StopIteration  # what it was given is all this test needs

    try:
        Reader().forecast(replace(track, metadata={}))
    except StopIteration:
        pass
    assert Reader.read.detected[:12].all() and not Reader.read.detected[12:].any()
    np.testing.assert_allclose(Reader.read.keypoints[-1], track.keypoints[11])  # read from the last good frame
    np.testing.assert_allclose(Reader.read.keypoints[:12], track.keypoints[:12])  # not a held junk pose


def test_a_person_crouching_at_the_border_is_kept():
    """A person whose feet touch the bottom of the image crouches (the box halves) after 0.2 s without a detection,
    or between two frames of a 5 fps clip: a crouch, not a body leaving the frame (it had been left out for the
    whole crouch, the forecast reading the held standing pose)."""
    body = np.random.default_rng(1).uniform(-0.5, 0.5, (17, 2))
    body[:4] = [[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5]]

    def track(fps: float, gap: int) -> PoseTrack:
        n = 90
        height = np.where(np.arange(n) < 30, 400.0, 200.0)  # stands, then crouches to half its height
        kp = np.empty((n, 17, 2))
        kp[..., 0] = 320 + body[None, :, 0] * 0.4 * height[:, None]
        kp[..., 1] = 478 - (0.5 - body[None, :, 1]) * height[:, None]  # the feet 2 px above the bottom edge
        detected = np.ones(n, bool)
        detected[30 - gap : 30] = False
        return PoseTrack(kp, np.ones((n, 17)), np.arange(n) / fps, (640, 480), "body-17", detected=detected)

    assert len(track(30.0, 6).leaving()) == 0  # 0.2 s without a detection, then the crouch
    assert len(track(5.0, 0).leaving()) == 0  # 5 fps: the squat between two frames


def test_leaving_and_person_changes_on_a_hand_made_track():
    """Both methods measure a body on the joints seen (visibility > 0.5, placed) and the box around them
    (`PoseTrack.seen`, `box_size`, shared); their outputs pinned on eight hand-made frames at 10 fps, 1920 x 1080.
    Joints: the corners of a square of side ``s`` around a centre, the centre, and one more at (0, s / 4)."""
    from posecast.video.track import box_size

    frames = [  # centre, side
        ((500, 500), 200),  # 0: the first detection, kept
        ((520, 500), 200),  # 1: moved 0.1 side; joint 5 guessed at (0, 0) with visibility 0.1
        ((1400, 500), 200),  # 2: 4.4 sides away in 0.1 s: another person (not at the edge: kept)
        ((1890, 500), 50),  # 3: at the right edge (x 1915 >= 1920 - 0.1 * 200), box 200 -> 50 (4x): leaving
        ((1890, 500), 50),  # 4: not detected
        ((1400, 500), 200),  # 5: back, joint 5 not placed (NaN)
        ((110, 500), 200),  # 6: at the left edge (x 10 <= 20), sees 2 joints of the 5 frame 5 saw: leaving
        ((1400, 500), 200),  # 7: back
    ]
    offsets = np.array([[-0.5, -0.5], [0.5, -0.5], [-0.5, 0.5], [0.5, 0.5], [0.0, 0.0], [0.0, 0.25]])
    kp = np.array([np.add(c, offsets * s) for c, s in frames])
    vis = np.ones((8, 6))
    kp[1, 5], vis[1, 5] = (0.0, 0.0), 0.1
    kp[5, 5], vis[5, 5] = np.nan, 0.0
    vis[6, 2:] = 0.2
    detected = np.array([True, True, True, True, False, True, True, True])
    track = PoseTrack(kp, vis, np.arange(8) / 10.0, (1920, 1080), "k6", detected=detected)

    seen = np.ones((8, 6), bool)
    seen[1, 5] = seen[5, 5] = False
    seen[6, 2:] = False
    np.testing.assert_array_equal(track.seen(), seen)
    assert box_size(kp[3, seen[3]]) == 50.0 and box_size(kp[1, seen[1]]) == 200.0 and box_size(kp[0, :0]) == 0.0
    # leaving: 3 (shrank 4x > 3x at the edge), 6 (lost most joints at the edge); 1 is placed at the edge through
    # its unseen joint but neither shrank nor lost joints; 5's reference is 2 (3 was left out), 7's is 5
    np.testing.assert_array_equal(track.leaving(), [3, 6])
    # person changes between consecutive detections on the joints both see: 1 -> 2 jumped 4.4 sides; 2 -> 3
    # jumped and shrank 4x in 0.1 s; 3 -> 5 grew 4x in 0.2 s; 5 -> 6 and 6 -> 7 share 2 joints (say nothing)
    np.testing.assert_array_equal(track.person_changes(), [2, 3, 5])
