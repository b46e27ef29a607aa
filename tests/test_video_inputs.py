"""Video and image inputs unlike the shared clips (QA of the twenty-second session): folders, --at, small
images, truncated files, Matroska's millisecond clock, more container and image suffixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from posecast.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from posecast.video.decode import VideoInfo


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "posecast", *args], capture_output=True, text=True, env=dict(os.environ), timeout=120
    )


def errors(r: subprocess.CompletedProcess) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("error:")]


def test_frame_rate_of_a_millisecond_clock():
    times = np.round(np.arange(90) / 30.0, 3)  # Matroska: 0, 0.033, 0.067, 0.1, ... (gaps of 33 / 34 ms)
    info = VideoInfo(Path("x.mkv"), 64, 64, times, "h264", "matroska")
    assert info.fps == pytest.approx(30.0, abs=0.01)
    vfr = VideoInfo(Path("x.mp4"), 64, 64, np.array([0.0, 0.033, 0.066, 0.166, 0.199, 0.232]), "h264", "mp4")
    assert vfr.fps == pytest.approx(1 / 0.033, rel=1e-6)  # uneven gaps: the median gap's rate


def test_suffixes_that_decode_are_taken():
    assert {".mpg", ".ts", ".3gp", ".mts"} <= set(VIDEO_SUFFIXES)
    assert {".tif", ".tiff"} <= set(IMAGE_SUFFIXES)


def test_poses_refuses_a_folder_and_an_at_outside_the_clip(tmp_path):
    from test_video_backend import write_clip

    out = str(tmp_path / "o.npz")
    r = run("poses", str(tmp_path), "--out", out)
    assert r.returncode == 2 and "is a folder" in errors(r)[0], r.stderr
    clip = write_clip(tmp_path / "c.mp4", n=10, fps=10.0)
    r = run("poses", str(clip), "--at", "100", "--out", out)
    assert r.returncode == 2 and "outside the clip" in errors(r)[0], r.stderr
    img = tmp_path / "i.png"
    import cv2

    cv2.imwrite(str(img), np.zeros((100, 100, 3), np.uint8))
    r = run("poses", str(img), "--at", "1", "--out", out)
    assert r.returncode == 2 and "--at applies to videos" in errors(r)[0], r.stderr


def test_too_small_images_are_refused(tmp_path):
    pytest.importorskip("mediapipe")
    import cv2

    img = tmp_path / "tiny.png"
    cv2.imwrite(str(img), np.full((48, 48, 3), 128, np.uint8))
    r = run("poses", str(img), "--out", str(tmp_path / "o.npz"))
    assert r.returncode == 2 and "too small" in errors(r)[0] and "64 pixels" in errors(r)[0], r.stderr


def test_a_truncated_clip_gets_a_note(tmp_path, monkeypatch):
    from posecast.video.extract import extract_poses
    from test_video_backend import _ScriptedBackend, write_clip

    clip = write_clip(tmp_path / "c.mp4", n=30, fps=10.0)
    info_frames = 30
    from posecast.video import decode

    real = decode.probe_video

    def declared_more(path):  # the header of a file cut short still lists every frame
        return __import__("dataclasses").replace(real(path), declared_frames=3 * info_frames)

    import posecast.video.extract as ex

    monkeypatch.setattr(ex, "probe_video", declared_more)
    track = extract_poses(clip, backend=_ScriptedBackend(frozenset()))
    monkeypatch.setattr(ex, "probe_video", real)
    assert "decoded 30 of the 90 frames" in track.metadata["note"]
    assert "note" not in extract_poses(clip, backend=_ScriptedBackend(frozenset())).metadata


def test_a_trimmed_clip_with_pre_roll_is_not_called_truncated(tmp_path):
    import imageio_ffmpeg

    from posecast.video.decode import probe_video
    from posecast.video.extract import extract_poses
    from test_video_backend import _ScriptedBackend

    clip = tmp_path / "c.mp4"  # keyframes every 2 s, so that a cut at 1.3 s keeps 1.3 s of pre-roll
    gen = imageio_ffmpeg.write_frames(str(clip), (64, 48), fps=10.0, codec="libx264", macro_block_size=2,
                                      ffmpeg_log_level="error", output_params=["-g", "20"])  # fmt: skip
    gen.send(None)
    for k in range(40):
        gen.send(np.full((48, 64, 3), 5 * k, np.uint8))
    gen.close()
    trim = tmp_path / "trim.mp4"  # what `ffmpeg -ss 1.3 -c copy` leaves: an edit list over pre-roll packets
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-ss", "1.3", "-i", str(clip), "-c", "copy",
                    str(trim)], check=True)  # fmt: skip
    info = probe_video(trim)
    assert info.declared_frames == info.num_frames == 27  # the header says 40, 13 of them pre-roll
    assert "note" not in extract_poses(trim, backend=_ScriptedBackend(frozenset())).metadata


def test_shared_timestamps_are_spread_and_the_frame_rate_stays_finite(tmp_path):
    import warnings

    import imageio_ffmpeg

    from posecast.video.decode import iter_frames, probe_video, spread_duplicates
    from posecast.video.extract import extract_poses
    from posecast.video.track import frame_rate
    from test_video_backend import _ScriptedBackend, write_clip

    times, shared = spread_duplicates(np.array([0.0, 0.0, 0.2, 0.2, 0.4, 0.4]))
    np.testing.assert_allclose(times, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert shared == 3
    assert frame_rate(np.array([0.0, 0.2, 0.200001, 0.4, 0.400001])) == pytest.approx(5.0, rel=1e-4)  # not 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero
        assert VideoInfo(Path("x.mkv"), 64, 64, np.zeros(3), "h264", "matroska").fps == 30.0

    clip = write_clip(tmp_path / "c.mp4", n=12, fps=10.0)
    dup = tmp_path / "dup.mkv"  # every second frame stamped as the one before (QA's dup_ts.mkv)
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(clip), "-vf",
                    "setpts='floor(N/2)*2/10/TB'", "-fps_mode", "passthrough", "-c:v", "libx264", "-bf", "0",
                    str(dup)], check=True)  # fmt: skip
    info = probe_video(dup)
    assert info.num_frames == 12 and info.shared_stamps == 6
    np.testing.assert_allclose(info.times, np.arange(12) / 10.0, atol=1e-3)
    assert info.fps == pytest.approx(10.0, rel=1e-3)
    got = [t for t, _ in iter_frames(dup, info=info)]
    np.testing.assert_allclose(got, info.times)
    track = extract_poses(dup, backend=_ScriptedBackend(frozenset()))
    assert track.fps == pytest.approx(10.0, rel=1e-3)
    assert "6 frames share a timestamp with the frame before" in track.metadata["timestamps_note"]


def test_a_frame_whose_own_stamp_goes_back_is_dropped_not_relabelled(monkeypatch):
    """A damaged stream can decode a garbage frame stamped 0.000 after the frame at 1.033 s (QA: an mp4 with 15 kB
    zeroed); taking it for the next frame had moved every later frame one stamp late."""
    from fractions import Fraction
    from types import SimpleNamespace

    from posecast.video import decode

    def frame(k):
        return SimpleNamespace(pts=k, width=4, height=4, rotation=0,
                               to_ndarray=lambda **_: np.full((4, 4, 3), k, np.uint8))  # fmt: skip

    decoded = [[frame(0)], [frame(1)], [frame(2), frame(0)], [frame(3)], [frame(4)], [frame(5)], [frame(6)]]
    packets = [SimpleNamespace(pts=k, is_discard=False, decode=lambda fs=fs: fs) for k, fs in enumerate(decoded)]
    stream = SimpleNamespace(time_base=Fraction(1, 30), thread_type=None)
    container = SimpleNamespace(streams=SimpleNamespace(video=[stream]), demux=lambda s: iter(packets),
                                close=lambda: None)  # fmt: skip
    monkeypatch.setattr(decode, "_open", lambda path: container)
    info = VideoInfo(Path("damaged.mp4"), 4, 4, np.arange(7) / 30.0, "h264", "mov,mp4,m4a,3gp,3g2,mj2")
    got = list(decode.iter_frames("damaged.mp4", info=info))
    np.testing.assert_allclose([t for t, _ in got], np.arange(7) / 30.0)
    assert [int(rgb[0, 0, 0]) for _, rgb in got] == list(range(7))  # each frame with its own time


def test_avif_photos_are_decoded_and_heic_without_its_plugin_says_what_to_do(tmp_path):
    from PIL import Image, features

    from posecast.cli.common import media_kind
    from posecast.errors import FormatError
    from posecast.video.decode import decode_image, read_image

    if not features.check("avif"):
        pytest.skip("this Pillow has no AVIF codec")
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[:, :48] = (200, 30, 30)
    photo = tmp_path / "photo.avif"
    Image.fromarray(rgb).save(photo, quality=95)
    assert media_kind(photo) == "image"  # had been: 'holds an image but is named .avif ... rename it'
    got = read_image(photo)
    assert got.shape == (64, 96, 3) and abs(int(got[32, 10, 0]) - 200) < 20 and got[32, 80].max() < 20
    renamed = tmp_path / "photo.jpg"  # an AVIF named .jpg: OpenCV cannot, Pillow can
    renamed.write_bytes(photo.read_bytes())
    assert read_image(renamed).shape == (64, 96, 3)
    heic = bytes([0, 0, 0, 24]) + b"ftypheic" + bytes(4) + b"mif1heic" + bytes(40)
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        with pytest.raises(FormatError, match="HEIC / HEIF photo: reading it needs the pillow-heif package"):
            decode_image(heic, "IMG_0001.HEIC")
    with pytest.raises(FormatError, match="cannot read as an image"):
        decode_image(b"not an image at all", "x.png")


def test_a_folder_of_frames_is_one_line_that_says_how_to_make_a_video_of_it(tmp_path):
    import cv2

    from posecast.api import input_kind
    from posecast.errors import FormatError

    seq = tmp_path / "seq"
    seq.mkdir()
    for k in range(1, 4):
        cv2.imwrite(str(seq / f"frame_{k:03d}.jpg"), np.zeros((80, 80, 3), np.uint8))
    with pytest.raises(FormatError, match="is a folder of 3 images") as exc:
        input_kind(seq)
    assert f"-start_number 1 -i {seq}/frame_%03d.jpg" in str(exc.value)
    out = tmp_path / "f.npz"
    for extra in ([], ["--model", "lift+forecast"]):  # had been: 'not a motion file' / 'a video model ... motion'
        r = run("forecast", str(seq), *extra, "--out", str(out))
        assert r.returncode == 2 and len(errors(r)) == 1 and "is a folder of 3 images" in errors(r)[0], r.stderr
        assert "motion" not in errors(r)[0] and "Traceback" not in r.stderr and not out.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="is a folder: give one motion, video or image file"):
        input_kind(tmp_path / "empty")


def test_unreadable_videos_say_what_is_wrong_without_ffmpegs_error_number(tmp_path):
    from posecast.errors import FormatError
    from posecast.video.decode import probe_video
    from test_video_backend import write_clip

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "text_renamed.mp4"
    text.write_text("this is not a video\n" * 10)
    whole = write_clip(tmp_path / "whole.mp4", n=20)  # ffmpeg writes the index (moov) after the frames
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(bytes(range(256)) * 8)
    for path, why in (
        (empty, "cannot read as a video: the file is empty (0 bytes)"),
        (text, "cannot read as a video: the file holds text, not a video"),
        (cut, "cannot read as a video: the file is truncated: the mp4's index (its moov box) is missing"),
        (noise, "cannot read as a video: FFmpeg: Invalid data found when processing input"),
    ):
        with pytest.raises(FormatError) as exc:
            probe_video(path)
        message = str(exc.value)
        assert why in message and message.count(path.name) == 1 and "Errno" not in message, message


def test_without_the_video_extra_a_clip_says_what_to_install(tmp_path, monkeypatch, cli):
    """QA (the wheel installed without ``[video]``): a clip answered with a ``ModuleNotFoundError: av`` traceback
    (exit 1) from the one-frame probe; now the same one-line error as a missing MediaPipe, exit 2."""
    import posecast
    from posecast.errors import FormatError
    from test_video_backend import write_clip

    clip = write_clip(tmp_path / "c.mp4", n=10, fps=10.0)
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError, as in a base install
    with pytest.raises(FormatError, match=r"c\.mp4: reading videos needs PyAV: pip install 'posecast\[video\]'"):
        posecast.forecast(clip)
    code, _, err = cli("forecast", str(clip), "--out", str(tmp_path / "f.npz"))
    assert code == 2 and "pip install 'posecast[video]'" in err and "Traceback" not in err
    assert not (tmp_path / "f.npz").exists()
