"""Video in: decoding with real timestamps, the MediaPipe backend against Google's reference, gap bridging."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from posecast.errors import FormatError, ValueRangeError
from posecast.evaluation.protocols.video_backend import bone_length_cv
from posecast.video import PoseTrack, extract_poses
from posecast.video.backend import MP_TO_POSECAST, FramePose, PoseBackend, SessionStats
from posecast.video.decode import iter_frames, probe_video, read_image
from posecast.video.track import bridge_missing


def write_clip(path: Path, n: int = 10, size: tuple[int, int] = (64, 48), fps: float = 10.0) -> Path:
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


# ------------------------------------------------------------------------------------- decode
def test_decode_vfr_hug_clip_has_real_uneven_timestamps(video_dir):
    info = probe_video(video_dir / "two_person_hug_mmaction2.mp4")
    assert info.num_frames == 72 and (info.width, info.height) == (1920, 1080)
    gaps = np.diff(info.times)
    assert (gaps > 0).all()
    assert gaps.min() == pytest.approx(1 / 30, abs=1e-3) and gaps.max() == pytest.approx(0.2, abs=1e-3)
    assert info.times[-1] == pytest.approx(2.5333, abs=1e-3)  # 70 x 1/30 s + one 0.2 s gap
    got = list(iter_frames(info.path, max_time=0.1, info=info))  # streaming, stops early
    assert [t for t, _ in got] == pytest.approx(info.times[:4].tolist())
    assert got[0][1].shape == (1080, 1920, 3) and got[0][1].dtype == np.uint8


def test_decode_squats_5fps_and_avi_with_b_frames(video_dir):
    info = probe_video(video_dir / "squats_pexels_tfjs.mp4")
    assert info.num_frames == 65 and (info.width, info.height) == (720, 1280)
    np.testing.assert_allclose(info.times, np.arange(65) * 0.2, atol=1e-9)
    # H.264 with B-frames in AVI: FFmpeg's per-frame pts come in decoding order; ours are sorted
    avi = probe_video(video_dir / "drink_water_ntu_mmaction2.avi")
    assert avi.num_frames == 103 and avi.container == "avi"
    np.testing.assert_allclose(np.diff(avi.times), 1 / 30, atol=1e-9)


def test_decode_generated_clip_pixels_and_times(tmp_path):
    clip = write_clip(tmp_path / "grey.mp4", n=6, fps=10.0)
    frames = list(iter_frames(clip))
    assert [round(t, 6) for t, _ in frames] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    levels = [float(rgb.mean()) for _, rgb in frames]
    np.testing.assert_allclose(levels, [0, 20, 40, 60, 80, 100], atol=2.0)  # presentation order, RGB
    assert frames[0][1].shape == (48, 64, 3)


def _marked_clip(path: Path, n: int = 4) -> Path:
    """A 64 x 48 clip, grey with a white block in the top-left corner and a dark one at the bottom-right."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.write_frames(str(path), (64, 48), fps=10.0, codec="libx264", macro_block_size=2,
                                      ffmpeg_log_level="error", output_params=["-crf", "0"])  # fmt: skip
    gen.send(None)
    frame = np.full((48, 64, 3), 128, np.uint8)
    frame[:12, :16], frame[-12:, -16:] = 255, 0
    for _ in range(n):
        gen.send(frame)
    gen.close()
    return path


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_phone_clips_with_a_display_rotation_are_decoded_upright_as_ffmpeg_shows_them(tmp_path, degrees):
    import subprocess

    import imageio_ffmpeg

    stored = _marked_clip(tmp_path / "stored.mp4")
    phone = tmp_path / "phone.mp4"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    cmd = [ffmpeg, "-loglevel", "error", "-y", "-display_rotation:v:0", str(degrees), "-i", str(stored)]
    subprocess.run([*cmd, "-c", "copy", str(phone)], check=True)
    info = probe_video(phone)
    assert info.rotation == degrees % 360
    assert (info.width, info.height) == ((48, 64) if degrees % 180 else (64, 48))  # the displayed size
    frames = list(iter_frames(phone, info=info))
    assert len(frames) == 4 and frames[0][1].shape == (info.height, info.width, 3)
    # the reference: FFmpeg's own decoder, which turns frames by the display matrix as players do
    reader = imageio_ffmpeg.read_frames(str(phone))
    meta = next(reader)
    shown = np.frombuffer(next(reader), np.uint8).reshape(meta["size"][1], meta["size"][0], 3)
    assert shown.shape == frames[0][1].shape
    assert np.abs(shown.astype(int) - frames[0][1].astype(int)).mean() < 3.0
    assert not np.array_equal(frames[0][1], np.ascontiguousarray(frames[0][1][::-1, ::-1]))  # not symmetric
    plain = probe_video(stored)
    assert plain.rotation == 0 and (plain.width, plain.height) == (64, 48)


def test_frames_larger_than_max_side_are_scaled_down_and_their_keypoints_back(tmp_path):
    from posecast.video.backend import FramePose
    from posecast.video.extract import _full_size

    clip = _marked_clip(tmp_path / "marked.mp4")
    small = [rgb for _, rgb in iter_frames(clip, max_side=32)]
    assert small[0].shape == (24, 32, 3)  # 64 x 48 -> 32 x 24, aspect kept
    assert small[0][:4, :6].mean() > 200 and small[0][-4:, -6:].mean() < 60  # the blocks where they were
    assert next(iter_frames(clip, max_side=64))[1].shape == (48, 64, 3)  # not larger: unchanged
    pose = FramePose(keypoints=np.array([[10.0, 5.0]]), visibility=np.ones(1))
    np.testing.assert_allclose(_full_size(pose, 2.0).keypoints, [[20.0, 10.0]])
    assert _full_size(None, 2.0) is None and _full_size(pose, 1.0) is pose


def _grey_clip(path: Path, n: int, fps: float = 10.0) -> Path:
    """``n`` lossless frames of grey level 10 * k, one keyframe, no B-frames (each packet one frame)."""
    import imageio_ffmpeg

    params = ["-crf", "0", "-g", str(n), "-bf", "0"]
    gen = imageio_ffmpeg.write_frames(str(path), (64, 48), fps=fps, codec="libx264", macro_block_size=2,
                                      ffmpeg_log_level="error", output_params=params)  # fmt: skip
    gen.send(None)
    for k in range(n):
        gen.send(np.full((48, 64, 3), 10 * k, np.uint8))
    gen.close()
    return path


def test_a_clip_cut_without_reencoding_starts_where_players_start_it(tmp_path):
    """``ffmpeg -ss 0.75 -c copy`` keeps the packets from the keyframe on and an edit list that starts the clip
    at frame 8 (0.8 s): the pre-roll packets are decoded but give no frame and no time, so the clip has 12
    frames at 0.0-1.1 s, the first one frame 8's grey (80)."""
    import subprocess

    import imageio_ffmpeg

    src = _grey_clip(tmp_path / "src.mp4", 20)
    cut = tmp_path / "cut.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-ss", "0.75", "-i", str(src), "-c",
                    "copy", str(cut)], check=True)  # fmt: skip
    info = probe_video(cut)
    frames = list(iter_frames(cut, info=info))
    assert info.num_frames == len(frames) == 12
    np.testing.assert_allclose([t for t, _ in frames], np.arange(12) / 10, atol=1e-9)
    assert abs(int(frames[0][1][0, 0, 0]) - 80) <= 2 and abs(int(frames[-1][1][0, 0, 0]) - 190) <= 2


def test_a_damaged_packet_is_skipped_and_decoding_goes_on(tmp_path):
    """Frame 15 of 30 overwritten with garbage: that frame (and its time) is skipped, the other 29 decode with
    their own times (the decoder used to stop at the first error and drop the rest of the clip)."""
    import av

    clip = _grey_clip(tmp_path / "clip.mp4", 30)
    with av.open(str(clip)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size > 0]
    data = bytearray(clip.read_bytes())
    pos, size = packets[15]
    data[pos : pos + size] = bytes([0x00, 0x00, 0x01, 0xFF] * (size // 4) + [0] * (size % 4))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    times = [t for t, _ in iter_frames(bad)]
    np.testing.assert_allclose(times, [k / 10 for k in range(30) if k != 15], atol=1e-9)


def test_decode_errors_name_the_file(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")
    with pytest.raises(FormatError, match="notes.mp4"):
        list(iter_frames(fake))
    with pytest.raises(FormatError, match="cannot read as an image"):
        read_image(fake.rename(tmp_path / "notes.png"))


# ------------------------------------------------------------------------------------ bridging
def test_bridge_missing_interpolates_over_real_time():
    times = np.array([0.0, 0.1, 0.3, 0.6, 0.7])
    values = np.array([[0.0, 10.0], [99, 99], [99, 99], [6.0, 4.0], [99, 99]])
    det = np.array([True, False, False, True, False])
    out = bridge_missing(values, times, det)
    np.testing.assert_allclose(out[1], [1.0, 9.0])  # 1/6 of the way in time, not 1/3 by index
    np.testing.assert_allclose(out[2], [3.0, 7.0])
    np.testing.assert_allclose(out[4], [6.0, 4.0])  # held after the last detection
    np.testing.assert_array_equal(out[det], values[det])
    with pytest.raises(ValueRangeError):
        bridge_missing(values, times, np.zeros(5, bool))


def test_a_track_cut_at_a_time_knows_nothing_of_later_detections():
    """The real-clip bench observes ``track.until(half)`` of a track bridged over the whole clip: frames missed
    just before the cut must not be filled towards the first detection after it."""
    from posecast.video.track import PoseTrack

    times = np.arange(8) / 10.0
    kp = np.stack([np.arange(8.0), np.zeros(8)], axis=-1)[:, None]  # (8, 1, 2): x = frame index
    det = np.array([True, True, False, False, True, True, True, True])
    raw = kp.copy()
    raw[~det] = 99.0  # what a backend returned there does not matter
    whole = PoseTrack(bridge_missing(raw, times, det), np.ones((8, 1)), times, (10, 10), "x", detected=det)
    np.testing.assert_allclose(whole.keypoints[2:4, 0, 0], [2.0, 3.0])  # over the clip: towards frame 4
    cut = whole.until(0.35)  # frames 0-3: the missed frames 2 and 3 hold the last detection before the cut
    np.testing.assert_allclose(cut.keypoints[:, 0, 0], [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(cut.detected, det[:4])
    assert whole.until(0.75).keypoints[3, 0, 0] == pytest.approx(3.0)  # seen from after frame 4: interpolated


@dataclass
class _ScriptedSession:
    """Returns a known pose for frame k (joint j at (k + j, 2k) px), None where ``missing``."""

    missing: set[int]
    stats: SessionStats = field(default_factory=SessionStats)

    def process(self, rgb):
        k = self.stats.frames
        self.stats.frames += 1
        if k in self.missing:
            return None
        j = np.arange(33, dtype=float)
        kp = np.stack([k + j, np.full(33, 2.0 * k)], axis=1)
        return FramePose(kp, np.full(33, 0.9), np.tile([0.0, 0.1 * k, 0.0], (33, 1)))

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


@dataclass(frozen=True)
class _ScriptedBackend:
    missing: frozenset[int]
    name: str = "scripted"
    skeleton: str = "blazepose-33"

    def session(self, static: bool = False):
        return _ScriptedSession(set(self.missing))


def test_extract_masks_and_bridges_missed_frames(tmp_path):
    clip = write_clip(tmp_path / "c.mp4", n=8, fps=10.0)
    backend = _ScriptedBackend(frozenset({0, 3, 4, 7}))
    assert isinstance(backend, PoseBackend)
    track = extract_poses(clip, backend=backend)
    assert isinstance(track, PoseTrack) and track.skeleton == "blazepose-33" and track.image_size == (64, 48)
    np.testing.assert_array_equal(track.detected, [False, True, True, False, False, True, True, False])
    np.testing.assert_allclose(track.keypoints[:, 0], [[1, 2], [1, 2], [2, 4], [3, 6], [4, 8], [5, 10], [6, 12],
                                                       [6, 12]])  # fmt: skip
    np.testing.assert_allclose(track.world[:, 5, 1], [0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6])
    assert track.metadata["frames_detected"] == 4
    b17 = track.to_layout("body-17")
    assert b17.keypoints.shape == (8, 17, 2)


def test_extract_without_any_person_names_the_file(tmp_path):
    clip = write_clip(tmp_path / "empty.mp4", n=3)
    with pytest.raises(ValueRangeError, match=r"empty\.mp4.*no person"):
        extract_poses(clip, backend=_ScriptedBackend(frozenset(range(3))))


def test_bone_length_cv_hand_computed():
    world = np.zeros((2, 33, 3))
    world[:, 25, 1] = [-0.4, -0.6]  # left thigh lengths 0.4, 0.6: cv = 0.1 / 0.5
    world[:, 26, 1] = -0.5
    world[:, 27, 1] = world[:, 25, 1] - 0.4
    world[:, 28, 1] = -0.9
    world[:, 13, 1] = world[:, 14, 1] = -0.3
    cv = bone_length_cv(world)
    assert cv["thigh"] == pytest.approx(0.1)  # mean of 0.2 and 0
    assert cv["shin"] == pytest.approx(0.0) and cv["upper_arm"] == pytest.approx(0.0)
    assert cv["mean"] == pytest.approx(0.2 / 6) and cv["thigh_length_m"] == pytest.approx(0.5)


# ------------------------------------------------------------------------------- MediaPipe, real
def test_mediapipe_on_squats_agrees_with_google_reference(video_dir):
    pytest.importorskip("mediapipe")
    track = extract_poses(video_dir / "squats_pexels_tfjs.mp4", max_time=3.0)  # 16 frames at 5 fps
    n = track.num_frames
    assert n == 16 and track.detected.all() and track.image_size == (720, 1280)
    np.testing.assert_allclose(track.times, np.arange(n) * 0.2, atol=1e-9)
    ref_2d = np.asarray(json.loads((video_dir / "squats_pexels_tfjs.blazepose_full_ref_2d.json").read_text()))[:n]
    ref_w = np.asarray(json.loads((video_dir / "squats_pexels_tfjs.blazepose_full_ref_world.json").read_text()))[:n]
    e2 = np.linalg.norm(track.keypoints - ref_2d[..., :2], axis=-1)
    ew = np.linalg.norm(track.world - ref_w @ MP_TO_POSECAST.T, axis=-1)
    assert e2.mean() < 10.0 and ew.mean() < 0.08  # measured: about 5-7 px and 5 cm (reference: smoothing on)
    # PoseCast's frame: y up, a subject facing the camera (+z) has her left side at +x, nose in front
    w = track.world
    assert (w[:, 0, 1] > w[:, 27, 1] + 1.0).all()  # head above ankles by > 1 m
    assert (w[:, 11, 0] > w[:, 12, 0]).all() and (w[:, 23, 0] > w[:, 24, 0]).all()
    assert (w[:, 0, 2] > w[:, 23:25, 2].mean(axis=1)).all()
    assert (track.keypoints[:, 11, 0] > track.keypoints[:, 12, 0]).all()  # her left is on the image right
    np.testing.assert_allclose(w[:, 23:25].mean(axis=1), 0.0, atol=0.01)  # hip-centred


def test_prefetch_keeps_order_reraises_and_stops_early():
    from posecast.video.decode import prefetch

    def items():
        yield from range(5)
        raise ValueError("broken frame 5")

    seen = []
    with pytest.raises(ValueError, match="broken frame 5"):
        for x in prefetch(items(), depth=2):
            seen.append(x)
    assert seen == [0, 1, 2, 3, 4]

    closed = []

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.append(True)

    g = prefetch(endless(), depth=3)
    assert [next(g) for _ in range(4)] == [0, 1, 2, 3]
    g.close()  # the producer thread stops and closes its generator (its file)
    assert closed == [True]


def _ffmpeg(*args: str) -> None:
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", *args], check=True, timeout=60)


def test_anamorphic_video_is_read_at_its_display_shape(tmp_path):
    """QA: a clip whose pixels are shown twice as wide (sample aspect ratio 2:1) was read as stored, the person
    squeezed sideways (shoulders 0.24 of the torso instead of 0.59 in 3D, 181 mm off). Frames are scaled to the display
    shape as they are decoded, and the track's image size is the displayed one."""
    src = write_clip(tmp_path / "src.mp4", n=6, size=(64, 48))
    sar = tmp_path / "sar.mp4"
    _ffmpeg("-i", str(src), "-vf", "scale=32:48,setsar=2", "-c:v", "libx264", "-pix_fmt", "yuv444p", str(sar))
    info = probe_video(sar)
    assert info.aspect == pytest.approx(2.0) and (info.width, info.height) == (64, 48)
    frames = [rgb for _, rgb in iter_frames(sar, info=info)]
    assert len(frames) == 6 and all(f.shape == (48, 64, 3) for f in frames)
    assert probe_video(src).aspect == 1.0


def test_a_cut_matroska_file_is_said_truncated(tmp_path):
    """QA: Matroska and WebM headers list no frame count, so a file cut in half was read partly without a word (an mp4
    got the note from its frame count). Its header's duration tells instead (`truncation_note`)."""
    import imageio_ffmpeg

    from posecast.video.extract import truncation_note

    src = tmp_path / "src.mp4"  # noise: every frame's packet is about as large, so half the bytes is half the clip
    gen = imageio_ffmpeg.write_frames(str(src), (64, 48), fps=10.0, codec="libx264", macro_block_size=2,
                                      ffmpeg_log_level="error", output_params=["-crf", "0"])  # fmt: skip
    gen.send(None)
    rng = np.random.default_rng(0)
    for _ in range(40):
        gen.send(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    gen.close()
    whole = tmp_path / "whole.mkv"
    _ffmpeg("-i", str(src), "-c:v", "copy", str(whole))
    info = probe_video(whole)
    assert info.declared_frames is None and info.declared_end == pytest.approx(4.0, abs=0.15)
    assert truncation_note(info, info.num_frames, info.times) is None
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    short = probe_video(cut)
    assert short.num_frames < 30 and short.declared_end == pytest.approx(info.declared_end)
    note = truncation_note(short, short.num_frames, short.times)
    assert note is not None and f"of the {info.declared_end:.2f} s its header states" in note
