"""`posecast poses`, video forecasting outputs and the forecast overlay video."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

from posecast.video import PoseTrack
from posecast.video.decode import probe_video, read_video
from posecast.video.models.base import VideoForecaster
from posecast.video.overlay import FORECAST_RGB, OBSERVED_RGB, fit_weak_perspective, project, render_forecast_video


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "posecast", *args], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )


def error_lines(r: subprocess.CompletedProcess | str) -> list[str]:
    # MediaPipe writes its own log lines to stderr; PoseCast's message is the one line starting "error:"
    stderr = r if isinstance(r, str) else r.stderr
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@dataclass
class FakeVideoForecast:
    """The `VideoForecast` contract of the video models, built by hand for the tests."""

    past: np.ndarray
    future: np.ndarray
    fps: float
    times: np.ndarray
    camera: np.ndarray
    skeleton: str = "body-17"
    model: str = "fake-walk"
    metadata: dict = field(default_factory=dict)

    def to_forecast(self):
        from posecast.motion import Forecast, Motion

        history = Motion(self.past, self.fps, self.skeleton)
        return Forecast(self.future[None], self.fps, self.skeleton, history=history, model=self.model)


class FakeForecaster:
    """Lifts the track's world landmarks, fits the camera, and walks the last pose to the image right."""

    name = "fake-walk"
    forecast = VideoForecaster.forecast  # the registry's common call: a track or a clip in, a Forecast out

    def forecast_track(self, track: PoseTrack, seconds: float) -> FakeVideoForecast:
        b = track.to_layout("body-17")
        fps = track.fps
        n = max(1, round(seconds * fps))
        cam = fit_weak_perspective(b.world, b.keypoints, b.visibility)
        step = np.arange(1, n + 1)[:, None, None] * np.array([0.1, 0.0, 0.0])
        return FakeVideoForecast(
            past=b.world,
            future=b.world[-1] + step,
            fps=fps,
            times=np.concatenate([b.times, b.times[-1] + np.arange(1, n + 1) / fps]),
            camera=np.concatenate([cam, np.repeat(cam[-1:], n, axis=0)]),
        )


def write_clip(path: Path, n: int, size: tuple[int, int], fps: float) -> Path:
    """A small generated H.264 clip: frame k is a flat grey of level 20 * k."""
    import imageio_ffmpeg

    w, h = size
    gen = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264", macro_block_size=2,
                                      ffmpeg_log_level="error", output_params=["-crf", "0"])  # fmt: skip
    gen.send(None)
    for k in range(n):
        gen.send(np.full((h, w, 3), 20 * k, np.uint8))
    gen.close()
    return path


# ---------------------------------------------------------------------------------- camera
def test_weak_perspective_fit_recovers_the_camera():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(4, 17, 3))
    cam = np.array([[300.0, 50.0, 400.0], [250.0, -20.0, 380.0], [310.0, 5.0, 0.0], [1.0, 2.0, 3.0]])
    uv = project(pts, cam)
    np.testing.assert_allclose(uv[0, 3], [300 * pts[0, 3, 0] + 50, -300 * pts[0, 3, 1] + 400])
    np.testing.assert_allclose(fit_weak_perspective(pts, uv), cam, atol=1e-9)
    noisy = uv.copy()
    noisy[:, 0] += 500.0  # a wild joint with zero weight changes nothing
    w = np.ones((4, 17))
    w[:, 0] = 0.0
    np.testing.assert_allclose(fit_weak_perspective(pts, noisy, w), cam, atol=1e-9)


# ---------------------------------------------------------------------------------- overlay
def test_overlay_frames_size_freeze_and_colours(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", n=8, size=(160, 120), fps=10.0)  # frame k: grey level 20 k
    rng = np.random.default_rng(1)
    pose = rng.uniform(-0.3, 0.3, size=(17, 3))
    pose[:, 1] = np.clip(pose[:, 1], -0.3, 0.1)  # keep the figure below the text label
    n_past, n_fut = 6, 6
    past = np.repeat(pose[None], n_past, axis=0)
    future = pose[None] + np.arange(1, n_fut + 1)[:, None, None] * np.array([0.05, 0.0, 0.0])
    camera = np.tile([100.0, 60.0, 60.0], (n_past + n_fut, 1))
    times = np.arange(n_past + n_fut) / 10.0  # the forecast runs to 1.1 s, the clip ends at 0.7 s
    fc = FakeVideoForecast(past, future, 10.0, times, camera)
    track = PoseTrack(project(past, camera[:n_past]), np.ones((n_past, 17)), times[:n_past], (160, 120), "body-17")
    out = render_forecast_video(tmp_path / "o.mp4", clip, track, fc, height=120)
    info = probe_video(out)
    assert info.num_frames == n_past + n_fut and (info.width, info.height) == (160 + 120, 120)
    np.testing.assert_allclose(info.times, times, atol=1e-6)
    _, frames = read_video(out)

    def around(img: np.ndarray, uv: np.ndarray) -> np.ndarray:
        u, v = int(round(uv[0])), int(round(uv[1]))
        return img[v - 1 : v + 2, u - 1 : u + 2].reshape(-1, 3).mean(axis=0)

    k = n_past + 2  # a forecast frame: the red forecast sits where the camera projects it
    for j in (0, 5, 13):
        uv = project(future[2], camera[k])[j]
        np.testing.assert_allclose(around(frames[k], uv), FORECAST_RGB, atol=40)
    np.testing.assert_allclose(around(frames[3], track.keypoints[3, 0]), OBSERVED_RGB, atol=40)
    # background: frame 3 shows clip frame 3; after the clip ends the last frame (level 140) stays
    assert abs(float(frames[3][115, 2].mean()) - 60) < 8
    assert abs(float(frames[-1][115, 2].mean()) - 140) < 8
    # the 3D panel is drawn (light background, not the clip)
    assert frames[0][:, 160:].mean() > 200
    # a frame where the backend saw no person: the track holds keypoints there, the picture shows none
    undetected = np.ones(n_past, bool)
    undetected[3] = False
    lost = PoseTrack(track.keypoints, track.visibility, track.times, (160, 120), "body-17", detected=undetected)
    _, frames = read_video(render_forecast_video(tmp_path / "o2.mp4", clip, lost, fc, height=120, panel=False))
    assert abs(float(around(frames[3], track.keypoints[3, 0]).mean()) - 60) < 12  # the clip's grey, no skeleton
    np.testing.assert_allclose(around(frames[2], track.keypoints[2, 0]), OBSERVED_RGB, atol=40)


# -------------------------------------------------------------------------------------- CLI
def test_poses_cli_writes_loadable_track(video_dir, tmp_path):
    pytest.importorskip("mediapipe")
    npz, js = tmp_path / "p.npz", tmp_path / "p.json"
    r = run("poses", str(video_dir / "squats_pexels_tfjs.mp4"), "--at", "1.0", "--out", str(npz), "--out", str(js))
    assert r.returncode == 0, r.stderr
    track = PoseTrack.load(npz)
    assert track.num_frames == 6 and track.skeleton == "blazepose-33" and track.world.shape == (6, 33, 3)
    np.testing.assert_allclose(track.times, np.arange(6) * 0.2, atol=1e-9)
    d = json.loads(js.read_text())
    assert d["kind"] == "posecast.PoseTrack" and len(d["keypoints"]) == 6 and len(d["joint_names"]) == 33
    np.testing.assert_allclose(d["keypoints"], track.keypoints, atol=1e-5)


def test_poses_cli_bad_inputs_one_line_exit_2(tmp_path):
    pytest.importorskip("mediapipe")
    import cv2

    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 255, np.uint8))
    out = tmp_path / "x.npz"
    for bad, why in ((tmp_path / "missing.mp4", "no such file"), (text, "cannot read"), (blank, "no person")):
        r = run("poses", str(bad), "--out", str(out))
        assert r.returncode == 2, r.stderr
        lines = error_lines(r)
        assert len(lines) == 1 and bad.name in lines[0] and why in lines[0], r.stderr
        assert r.stderr.strip() == lines[0]  # MediaPipe's native log lines are kept out (posecast.cli.app)
        assert not out.exists() and not list(tmp_path.glob(".x.npz*"))
    r = run("poses", str(text), "--out", str(tmp_path / "x.txt"))
    assert r.returncode == 2 and len(error_lines(r)) == 1


def test_forecast_media_writes_overlay_and_forecast(video_dir, tmp_path, monkeypatch, cli):
    pytest.importorskip("mediapipe")
    import posecast
    import posecast.models

    real_get = posecast.models.get
    default_video = posecast.models.default_model("video").name  # lift+forecast
    monkeypatch.setattr(
        posecast.models,
        "get",
        lambda name, **kw: FakeForecaster() if name == default_video else real_get(name, **kw),
    )
    mp4, npz = tmp_path / "f.mp4", tmp_path / "f.npz"
    clip = video_dir / "squats_pexels_tfjs.mp4"
    # the registry's default for videos (here the fake above)
    code, out, err = cli("forecast", str(clip), "--horizon", "1", "--at", "1.0", "--out", str(mp4), "--out", str(npz))
    assert code == 0, err
    assert "observed 6 frames" in out and "forecast 5 frames" in out
    fc = posecast.load(npz)
    assert isinstance(fc, posecast.Forecast) and fc.num_frames == 5 and fc.history.num_frames == 6
    assert "track" not in fc.metadata and "video" not in fc.metadata
    info = probe_video(mp4)
    assert info.num_frames == 11 and info.height == 720 and info.width - 720 in (404, 406)  # 720 x 1280 clip
    for args, message in (
        (["--at", "99", "--out", str(tmp_path / "g.npz")], "outside the clip"),
        (["--out", str(tmp_path / "g.xyz")], "cannot write .xyz"),
        (["--model", "charpose", "--out", str(tmp_path / "g.npz")], "cannot forecast from a video"),
        (["--samples", "3", "--out", str(tmp_path / "g.npz")], "one forecast"),
    ):
        code, _, err = cli("forecast", str(clip), *args)
        assert code == 2 and message in err and len(error_lines(err)) == 1, (args, err)
    assert not (tmp_path / "g.npz").exists()


def test_detection_coverage_tells_how_long_before_the_end_the_person_was_last_seen():
    from posecast.cli.forecast import UNSEEN_TAIL_S
    from posecast.video.track import PoseTrack

    times = 10.0 + np.arange(30) / 30.0  # 1 s of clip; the backend lost the person after frame 19
    detected = np.arange(30) < 20
    track = PoseTrack(np.zeros((30, 17, 2)), np.ones((30, 17)), times, (640, 480), "body-17", detected=detected)
    c = track.coverage()
    assert c["detected_fraction"] == pytest.approx(20 / 30, abs=1e-4)
    assert c["last_detection_s"] == pytest.approx(19 / 30, abs=1e-4)
    assert c["undetected_tail_s"] == pytest.approx(10 / 30, abs=1e-4) and c["undetected_tail_s"] >= UNSEEN_TAIL_S
    full = PoseTrack(np.zeros((30, 17, 2)), np.ones((30, 17)), times, (640, 480), "body-17")
    assert full.coverage()["undetected_tail_s"] == 0.0


def test_a_video_forecast_saved_from_python_keeps_its_tracks_coverage_not_printouts(tmp_path: Path):
    """QA: ``posecast.save`` of a video model's forecast wrote ``metadata["track"]`` / ``["video"]`` (objects for
    overlays) as numpy printouts cut short with ``...``; a file now holds what the CLI writes: the track's coverage
    as ``detection``, the rest of the metadata as it was."""
    import posecast
    from posecast.synthetic import synthetic_walk

    fc = posecast.forecast(synthetic_walk(seconds=2.0, fps=25.0), model="zero-velocity", seconds=0.2)
    times = np.arange(40) / 25.0
    track = PoseTrack(np.zeros((40, 17, 2)), np.ones((40, 17)), times, (640, 480), "body-17",
                      detected=np.arange(40) >= 5)  # fmt: skip
    video_fc = replace(fc, metadata={**fc.metadata, "track": track, "video": object(), "observed_s": 1.36})
    for suffix in (".npz", ".json"):
        back = posecast.load(posecast.save(video_fc, tmp_path / f"f{suffix}"))
        assert "track" not in back.metadata and "video" not in back.metadata
        assert back.metadata["detection"] == track.coverage() and back.metadata["observed_s"] == 1.36
        assert back.metadata["detection"]["first_detection_s"] == pytest.approx(0.2)
    assert set(video_fc.metadata) >= {"track", "video"}  # the object in hand keeps them (overlays need them)


def test_what_a_file_holds_decides_motion_video_or_image_before_its_suffix(tmp_path: Path):
    from posecast.api import input_kind, sniff_kind

    cases = {
        "bvh_named.mp4": (b"HIERARCHY\nROOT Hips\n{\n", "motion"),
        "gz_named.avi": (b"\x1f\x8b\x08\x00" + bytes(12), "motion"),
        "zip_named.png": (b"PK\x03\x04" + bytes(12), "motion"),
        "mp4_named.bvh": (bytes(4) + b"ftypisom" + bytes(4), "video"),
        "avi_named.txt": (b"RIFF\x00\x00\x00\x00AVI LIST", "video"),
        "mkv_named.npz": (b"\x1a\x45\xdf\xa3" + bytes(12), "video"),
        "png_named.bvh": (b"\x89PNG\r\n\x1a\n" + bytes(8), "image"),
        "jpeg_named.mov": (b"\xff\xd8\xff\xe0" + bytes(12), "image"),
    }
    for name, (head, kind) in cases.items():
        path = tmp_path / name
        path.write_bytes(head)
        assert sniff_kind(path) == kind, name
        assert input_kind(path) == kind, name
    unknown = tmp_path / "notes.mp4"
    unknown.write_bytes(b"just some text")
    assert sniff_kind(unknown) is None and input_kind(unknown) == "video"  # then the suffix decides
    assert sniff_kind(tmp_path / "missing.bvh") is None and input_kind(tmp_path / "missing.png") == "image"


def test_a_video_named_like_a_motion_file_and_units_on_an_array_file_are_one_line_errors(tmp_path: Path):
    clip = tmp_path / "clip.bvh"
    clip.write_bytes(bytes(3) + b"\x18ftypisom" + bytes(64))  # an mp4's first box, named .bvh
    r = run("forecast", str(clip), "--out", str(tmp_path / "x.json"))
    assert r.returncode == 2 and error_lines(r) and "holds a video but is named .bvh" in error_lines(r)[0], r.stderr
    r = run("info", str(clip))  # not a motion: says what to run on it instead
    assert r.returncode == 2 and "a video, not a motion file; `posecast poses`" in r.stderr, r.stderr
    h36m = tmp_path / "S1_walking.txt"  # Human3.6M exp-map text: its unit is the format's own
    h36m.write_text("\n".join(",".join(["0.0"] * 99) for _ in range(60)) + "\n")
    out = tmp_path / "f.npz"
    r = run("forecast", str(h36m), "--units", "cm", "--out", str(out))
    assert r.returncode == 2 and "units apply to BVH, AMC and plain-number" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_overlay_label_rows_do_not_overlap_on_a_portrait_clip():
    """A long label shrunk to fit a narrow frame keeps its row (the anchored forecast's caption had been drawn over
    'clip ended: last frame' on portrait clips)."""
    from posecast.video.overlay import _label

    def rows_drawn(text: str, row: int) -> np.ndarray:
        img = np.full((1280, 720, 3), 128, dtype=np.uint8)
        _label(img, text, (255, 0, 0), row=row)
        return np.flatnonzero((img != 128).any(axis=(1, 2)))

    first = rows_drawn("clip ended: last frame", 1)
    second = rows_drawn("last keypoints seen, moved as the 3D forecast moves", 2)
    zeroth = rows_drawn("forecast (lift+forecast)  +0.84 s", 0)
    assert zeroth.max() < first.min() and first.max() < second.min()
    # ... and where it would shrink below LABEL_MIN_SHRINK, its short form is drawn at the row's full size (QA: about
    # 6-pixel letters on a portrait clip): as tall as a short label of the row above
    img = np.full((1280, 720, 3), 128, dtype=np.uint8)
    _label(img, "last keypoints seen, moved as the 3D forecast moves", (255, 0, 0), row=2, short="keypoints moved")
    tall = np.flatnonzero((img != 128).any(axis=(1, 2)))
    assert tall.size >= first.size and tall.size > 1.3 * second.size


class _Still(VideoForecaster):
    """A video model that estimates every frame as the origin (the pipeline around ``predict`` is what is tested)."""

    name = "still"

    def predict(self, keypoints, visibility, frames, world=None):
        from posecast.video.models.base import VideoPrediction

        b, t = keypoints.shape[:2]
        camera = np.tile([100.0, 50.0, 50.0], (b, t + frames, 1))
        return VideoPrediction(np.zeros((b, t, 17, 3)), np.zeros((b, frames, 17, 3)), camera)


def _gappy_track() -> PoseTrack:
    """4 s at 30 fps, the person seen from 1.0 s to 2.0 s only (nobody before, gone after)."""
    times = np.arange(120) / 30.0
    detected = (times >= 1.0 - 1e-9) & (times <= 2.0 + 1e-9)
    kp = np.random.default_rng(0).uniform(100, 300, (120, 17, 2))
    return PoseTrack(kp, np.ones((120, 17)), times, (640, 480), "body-17", detected=detected).bridged()


def test_a_late_entry_and_an_early_exit_get_notes_and_the_outputs_mark_the_frames_seen(tmp_path, capsys):
    import posecast
    from posecast.cli.forecast import write_video_forecast

    fc = _Still().forecast(_gappy_track(), seconds=0.4)
    npz, js = tmp_path / "f.npz", tmp_path / "f.json"
    write_video_forecast(fc, Path("gappy.mp4"), [npz, js])
    out = capsys.readouterr().out
    assert "note: no person in the first 1.00 s of gappy.mp4 (first seen at 1.00 s)" in out, out
    assert "the model reads the clip from there, and the history written starts there" in out, out
    assert "no person was detected in the last 1.97 s of gappy.mp4 (last seen at 2.00 s)" in out
    assert "the forecast starts at the clip's end (3.97 s)" in out and "use --at 2.00" in out, out
    for saved in (posecast.load(npz), posecast.load(js)):
        det = saved.metadata["detection"]
        np.testing.assert_allclose(det["frame_times_s"], np.arange(120) / 30.0, atol=1e-6)
        assert det["frame_detected"] == [bool(1.0 - 1e-9 <= t <= 2.0 + 1e-9) for t in np.arange(120) / 30.0]
        hist = np.asarray(saved.metadata["history_detected"])  # per written history frame (25 fps)
        # the history starts at the first detection (1.0 s; the frames before it are not the model's either)
        assert hist.shape == (saved.history.num_frames,) and 24 <= hist.sum() <= 26 and hist[:24].all()
        assert not hist[-40:].any() and 1.0 - 1e-6 <= saved.metadata["start_time"] < 1.0 + 1 / 25


class _Recorder(_Still):
    """`_Still` keeping the keypoints it was handed."""

    def predict(self, keypoints, visibility, frames, world=None):
        self.read = keypoints.copy()
        return super().predict(keypoints, visibility, frames, world)


def _walker(first_seen: int, frames: int = 60) -> PoseTrack:
    """2 s at 30 fps of one body moving 3 px a frame to the right, detected from frame ``first_seen`` on (the frames
    before it bridged, as a track is extracted: they hold the first detection)."""
    body = np.random.default_rng(2).uniform(-100, 100, (17, 2)) + [320.0, 240.0]
    kp = body + np.arange(frames)[:, None, None] * [3.0, 0.0]
    detected = np.arange(frames) >= first_seen
    return PoseTrack(kp, np.ones((frames, 17)), np.arange(frames) / 30.0, (640, 480), "body-17", detected=detected)


def test_the_models_read_a_clip_from_its_first_detection():
    """Nobody in a clip's first 0.8 s: a video model is handed the frames from the first detection on, not the
    first pose seen held before it (a person standing still to the model), and the forecast's past, times and
    per-frame ``detected`` start there. The same for the frames before a change of person."""
    model = _Recorder()
    track = _walker(24).bridged()  # first seen at 0.8 s
    fc = model.forecast(track, seconds=0.4)
    video = fc.metadata["video"]
    t = len(video.past)
    assert model.read.shape[1] == t == 30  # 1.2 s at 25 fps, the last frame at 1.967 s: 0.807 s .. 1.967 s
    assert 0.8 - 1e-9 <= video.times[0] < 0.8 + 1 / 25
    np.testing.assert_allclose(np.diff(model.read[0, :, 0, 0]), 3.0 * 30 / 25)  # moving in every frame read
    assert video.metadata["detected"].all() and fc.metadata["history_detected"] == [True] * t
    assert fc.metadata["start_time"] == pytest.approx(video.times[0]) and fc.history.num_frames == t
    assert fc.metadata["observed_s"] == pytest.approx(59 / 30 - 0.8, abs=1e-4)
    # a track seen from its first frame is read whole
    whole = model.forecast(_walker(0), seconds=0.4).metadata["video"]
    assert whole.times[0] < 1 / 25 and len(whole.past) == 50
    # another person from 1.0 s on (far away, half the size): the frames before it are not read either
    other = _walker(0)
    kp = other.keypoints.copy()
    kp[30:] = (kp[30:] - kp[30:].mean(axis=1, keepdims=True)) * 0.5 + kp[30:].mean(axis=1, keepdims=True) + [200, 0]
    changed = PoseTrack(kp, other.visibility, other.times, other.image_size, "body-17")
    np.testing.assert_array_equal(changed.person_changes(), [30])
    video = model.forecast(changed, seconds=0.4).metadata["video"]
    assert 1.0 - 1e-9 <= video.times[0] < 1.0 + 1 / 25 and model.read.shape[1] == len(video.past) == 25


def test_the_at_hint_keeps_the_last_detected_frame():
    from posecast.cli.forecast import at_hint

    assert at_hint(1.9333) == 1.94 and at_hint(2.0) == 2.0 and at_hint(0.0) == 0.01


def test_a_one_frame_video_is_an_image_and_a_short_past_gets_a_note(tmp_path, capsys):
    from posecast.api import input_kind, resolve_model
    from posecast.cli.forecast import write_video_forecast

    one = write_clip(tmp_path / "one.mp4", 1, (64, 48), 10.0)
    two = write_clip(tmp_path / "two.mp4", 2, (64, 48), 10.0)
    assert input_kind(one) == "image" and input_kind(two) == "video"
    assert resolve_model("image", None) == "hmmr"  # the image default, as for the same frame as a .jpg
    times = np.arange(4) / 30.0  # 0.1 s observed (QA: --at 0.1)
    short = PoseTrack(np.random.default_rng(1).uniform(100, 300, (4, 17, 2)), np.ones((4, 17)), times, (640, 480),
                      "body-17")  # fmt: skip
    fc = _Still().forecast(short, seconds=0.2)
    assert fc.metadata["observed_s"] == pytest.approx(0.1, abs=1e-4)
    write_video_forecast(fc, Path("short.mp4"), [tmp_path / "s.npz"])
    assert "the person was observed for 0.10 s only" in capsys.readouterr().out
    fc = _Still().forecast(_gappy_track(), seconds=0.2)  # seen for 1 s: no such note
    write_video_forecast(fc, Path("gappy.mp4"), [tmp_path / "g.npz"])
    assert "observed for" not in capsys.readouterr().out


def test_forecast_times_count_from_the_clips_first_frame_and_keep_the_container_offset(tmp_path):
    import posecast
    from posecast.cli.forecast import write_video_forecast

    track = _gappy_track()
    ts = PoseTrack(track.keypoints, track.visibility, track.times + 1.4667, track.image_size, track.skeleton,
                   detected=track.detected)  # fmt: skip  # an MPEG-TS clock starts at 1.4667 s
    fc = _Still().forecast(ts, seconds=0.2)
    assert fc.metadata["clip_start_s"] == pytest.approx(1.4667)
    expected = track.times[-1] - 74 / 25.0  # the 25 fps history from the first detection (1.0 s) ends at the last frame
    assert fc.metadata["start_time"] == pytest.approx(expected, abs=1e-6)  # had been 1.4667 + that
    write_video_forecast(fc, Path("dance.ts"), [tmp_path / "f.json"])
    saved = posecast.load(tmp_path / "f.json").metadata
    assert saved["start_time"] == pytest.approx(expected, abs=1e-6)
    assert saved["detection"]["last_detection_s"] == pytest.approx(2.0, abs=1e-4)  # the same clock


def test_a_narrow_clip_is_shown_between_bars_so_that_its_labels_stay_readable(tmp_path):
    """A 200 x 576 crop (QA's leave_slow.mp4) was 250 pixels wide in a 720-pixel-high overlay, its longest label
    about 6 pixels high; it is now centred in a video side `MIN_VIDEO_WIDTH` of the height wide, the skeleton on
    it where the clip's keypoints are."""
    from posecast.video.overlay import MIN_VIDEO_WIDTH

    clip = write_clip(tmp_path / "narrow.mp4", n=4, size=(100, 288), fps=10.0)  # frame k: grey level 20 k
    rng = np.random.default_rng(2)
    pose = rng.uniform(-0.2, 0.2, size=(17, 3))
    past, future = np.repeat(pose[None], 4, axis=0), np.repeat(pose[None], 2, axis=0)
    camera = np.tile([150.0, 50.0, 200.0], (6, 1))
    times = np.arange(6) / 10.0
    fc = FakeVideoForecast(past, future, 10.0, times, camera)
    track = PoseTrack(project(past, camera[:4]), np.ones((4, 17)), times[:4], (100, 288), "body-17")
    out = render_forecast_video(tmp_path / "o.mp4", clip, track, fc, height=720, panel=False)
    info = probe_video(out)
    assert info.width == round(MIN_VIDEO_WIDTH * 720) and info.height == 720  # was 250
    _, frames = read_video(out)
    left = (396 - 250) // 2
    assert frames[3][700, 5].max() < 12 and frames[3][700, left + 125].mean() > 40  # bars, then the clip
    u, v = track.keypoints[3, 0] * 2.5 + (left, 0)  # the observed keypoint, moved with the clip
    u, v = int(round(u)), int(round(v))
    np.testing.assert_allclose(frames[3][v - 1 : v + 2, u - 1 : u + 2].reshape(-1, 3).mean(0), OBSERVED_RGB, atol=40)


def test_samples_on_a_video_model_are_refused_before_any_work(tmp_path, monkeypatch, cli):
    """QA: ``--samples 3`` with a video model was refused only after the poses were extracted (about 10 s); now, as
    for the motion models, before the model is built or the clip read."""
    import posecast
    import posecast.api

    def no_work(*_, **__):
        raise AssertionError("work was done before --samples was refused")

    monkeypatch.setattr(posecast.api, "built_model", no_work)
    monkeypatch.setattr(posecast.models, "get", no_work)
    clip = write_clip(tmp_path / "c.mp4", 12, (64, 48), 10.0)
    code, _, err = cli("forecast", str(clip), "--samples", "3", "--out", str(tmp_path / "f.npz"))
    assert code == 2 and error_lines(err) == ["error: video model 'lift+forecast' gives one forecast, not 3 samples"], (
        err
    )
    for model in ("phd", "hmmr"):
        with pytest.raises(posecast.errors.ValueRangeError, match=f"video model '{model}' gives one forecast, not 2"):
            posecast.forecast(clip, model=model, samples=2, at=0.5)
    assert not (tmp_path / "f.npz").exists()


def test_at_outside_a_clip_names_its_last_frames_time(tmp_path, cli):
    """24 frames at 10 fps: the last frame is at 2.3 s (the clip lasts 2.4 s), which the message says as such."""
    clip = write_clip(tmp_path / "c.mp4", 24, (64, 48), 10.0)
    code, _, err = cli("forecast", str(clip), "--at", "5", "--out", str(tmp_path / "f.npz"))
    assert code == 2 and error_lines(err) == [
        f"error: {clip}: --at 5 s is outside the clip (first frame at 0 s, last frame at 2.30 s)"
    ], err
    for at in ("0", "-1"):  # 0 s is the first frame: not "outside the clip" (review), but nothing to read before it
        code, _, err = cli("forecast", str(clip), "--at", at, "--out", str(tmp_path / "f.npz"))
        assert code == 2 and error_lines(err) == [
            f"error: {clip}: --at {at} s: give a time after the first frame (0 s), at most the last frame's (2.30 s)"
        ], err


def test_the_overlay_of_a_late_entry_shows_the_whole_clip_on_the_clips_clock(tmp_path, monkeypatch):
    """Review: the model reads a late-entry clip from its first detection (1.0 s here), but the overlay shows the clip
    from its first frame, the frames before the detection marked "no person detected", and its labels count from
    the clip's first frame, as the notes, start_time and --at do (it had started at 1.0 s, labelled 0.00 s there)."""
    import posecast.video.overlay as overlay

    labels: list[str] = []
    drawn = overlay._label
    monkeypatch.setattr(overlay, "_label", lambda img, text, *a, **k: (labels.append(text), drawn(img, text, *a, **k)))
    clip = write_clip(tmp_path / "c.mp4", 120, (64, 48), 30.0)  # 4 s, the last frame at 3.967 s
    fc = _Still().forecast(_gappy_track(), seconds=0.4)
    video = fc.metadata["video"]
    assert 1.0 <= video.times[0] < 1.0 + 1 / 25  # the model still reads from the first detection
    out = render_forecast_video(tmp_path / "o.mp4", clip, fc.metadata["track"], video, height=64, panel=False)
    info = probe_video(out)
    n_pre = 25  # 25 fps frames before the first one read, back to the clip's first frame (0.0067 s .. 0.9667 s)
    assert info.num_frames == n_pre + len(video.times)  # 110 (had been 85, from 1.0 s)
    observed = [s for s in labels if s.startswith("observed")]
    assert len(observed) == n_pre + len(video.past)
    assert observed[0] == "observed  0.01 s: no person detected"  # (had been "observed  0.00 s" at 1.0067 s)
    labels.clear()  # a grid that starts on the first frame, give or take rounding, reads 0.00 s there (not -0.00)
    shifted = replace(video, times=video.times - (video.times[0] - 1.0) - 1e-12)
    render_forecast_video(tmp_path / "o2.mp4", clip, fc.metadata["track"], shifted, height=64, panel=False)
    assert labels[0] == "observed  0.00 s: no person detected"
    labels.clear()  # a grid 0.4 frame off the clip's: its first frame added after the clip's first (review B: -0.01 s)
    shifted = replace(video, times=video.times - (video.times[0] - 1.0) - 0.4 / 25)
    render_forecast_video(tmp_path / "o3.mp4", clip, fc.metadata["track"], shifted, height=64, panel=False)
    assert labels[0] == "observed  0.02 s: no person detected"  # 0.984 - 24 / 25 (had been -0.02 s, 25 frames back)
    assert all(s.endswith("no person detected") for s in observed[:n_pre])
    assert observed[n_pre] == "observed  1.01 s"  # the first frame read, at the first detection
    assert observed[-1] == "observed  3.97 s: no person detected"  # the last frame, as --at counts (3.967 s)
    assert [s for s in labels if s.startswith("forecast")][0] == "forecast (still)  +0.04 s"


def test_a_sparsely_seen_person_is_noted():
    """QA (unseen clips): a 2 fps clip, a second without frames and a person detected in every other frame were
    forecast without a word; `coverage_notes` now says when sightings lie more than `SPARSE_GAP_S` apart or fewer
    than `SPARSE_SHARE` of the frames between the first and last sighting show the person."""
    from posecast.cli.forecast import coverage_notes

    def cov(times, detected):
        return {
            "undetected_head_s": 0.0,
            "undetected_tail_s": 0.0,
            "first_detection_s": 0.0,
            "last_detection_s": 0.0,
            "frame_times_s": list(times),
            "frame_detected": list(detected),
        }

    t25 = np.arange(100) / 25.0
    assert coverage_notes(cov(t25, [True] * 100), "c.mp4", 3.96) == []  # 25 fps, seen throughout
    assert coverage_notes(cov(np.arange(20) / 5.0, [True] * 20), "c.mp4", 3.8) == []  # 5 fps: 0.2 s apart, fine
    two_fps = coverage_notes(cov(np.arange(8) / 2.0, [True] * 8), "c.mp4", 3.5)
    assert len(two_fps) == 1 and "100% of the frames of c.mp4" in two_fps[0] and "at most 0.50 s apart" in two_fps[0]
    flicker = coverage_notes(cov(t25, [i % 2 == 0 for i in range(100)]), "c.mp4", 3.96)
    assert len(flicker) == 1 and "51% of the frames" in flicker[0]  # 50 of the 99 frames from first to last sighting
    hole = np.r_[t25[:40], t25[66:] + 0.0]  # 1.04 s without frames
    assert "at most 1.08 s apart" in coverage_notes(cov(hole, [True] * len(hole)), "c.mp4", 3.96)[0]
