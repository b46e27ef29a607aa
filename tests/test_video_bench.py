"""`posecast.evaluation.protocols.video` (`posecast bench video`): a tiny run on a few generated windows
has every key; the real-clip part (with ``pipeline_fps``) runs on one clip, and the CLI on a folder with a
clip and a broken file, when ``$POSECAST_DATA/video`` and MediaPipe are present."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from posecast.evaluation.protocols import video as bench
from posecast.models import store
from posecast.skeletons.mapping import to_layout
from posecast.synthetic import synthetic_walk
from posecast.video.models import phd

HZ = [str(h) for h in bench.HORIZONS_MS]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    net = phd.build(phd.PHDConfig(channels=16, hidden=16))
    d = tmp_path_factory.mktemp("phd")
    store.save_folder(d, net.state_dict(), {"config": net.config.model_dump()})
    seq = to_layout(synthetic_walk(seconds=5.0, fps=25.0), "body-17").positions
    return d, [seq]


def _check_cmu(result: dict) -> None:
    cmu = result["cmu"]
    assert "lifting+dct-mlp" not in cmu  # superseded by the lift+forecast model
    for name in ("phd", "landmarks+zero-velocity", "phd+zero-velocity"):
        row = cmu[name]
        assert row["past_mpjpe_mm"] > 0 and row["past_pa_mpjpe_mm"] <= row["past_mpjpe_mm"] + 1e-6
        for key in ("forecast_mpjpe_mm", "forecast_dtw_mpjpe_mm", "forecast_dtw_pa_mpjpe_mm"):
            assert list(row[key]) == HZ and all(np.isfinite(v) for v in row[key].values())


def test_score_windows_hand_computed() -> None:
    truth = np.zeros((1, 75, 17, 3))
    past = truth[:, :50] + np.array([0.01, 0.0, 0.0])  # 10 mm off everywhere
    future = truth[:, 50:] + np.array([0.0, 0.02, 0.0])  # 20 mm off
    s = bench.score_windows(past, future, truth)
    assert s["past_mpjpe_mm"] == pytest.approx(10.0)
    assert s["forecast_mpjpe_mm"] == dict.fromkeys(HZ, pytest.approx(20.0))
    assert s["forecast_dtw_mpjpe_mm"]["1000"] == pytest.approx(20.0)


def test_tiny_bench_without_clips(tiny, tmp_path) -> None:
    weights, seqs = tiny
    out = tmp_path / "video.json"
    r = bench.run_video_bench(
        ["phd"], out, stride=10, max_windows=3, with_clips=False, weights={"phd": weights}, sequences=seqs
    )
    assert out.is_file() and r["protocol"]["windows"] == 3
    _check_cmu(r)
    assert set(r["cmu_2d"]) == {"phd", "phd+anchored", "zero-velocity-2d", "constant-velocity-2d"}
    assert all(0.0 <= v <= 1.0 for row in r["cmu_2d"].values() for v in row.values())
    assert "pipeline_fps" not in r
    md = bench.markdown(r)
    assert "| phd |" in md and "1000 ms" in md


def test_every_model_gets_its_own_past_held_once(tiny) -> None:
    weights, seqs = tiny
    batch = bench.test_windows(stride=10, max_windows=3, sequences=seqs)
    torch.manual_seed(1)
    other = phd.build(phd.PHDConfig(channels=16, hidden=16))
    models = {"a": phd.load(weights), "same-as-a": phd.load(weights), "b": phd.PHD(other)}
    out = bench.bench_cmu(models, batch)
    # one held row per distinct past: "same-as-a" estimates exactly a's past, so it gets none
    assert {k for k in out if k.endswith("+zero-velocity") and k != "landmarks+zero-velocity"} == {
        "a+zero-velocity",
        "b+zero-velocity",
    }
    for name in ("a", "b"):
        past = bench._predict(models[name], batch).past
        held = bench.score_windows(past, np.repeat(past[:, -1:], bench.FUTURE, axis=1), batch.points)
        assert out[f"{name}+zero-velocity"]["forecast_mpjpe_mm"] == pytest.approx(held["forecast_mpjpe_mm"])
        assert out[f"{name}+zero-velocity"]["past_mpjpe_mm"] == pytest.approx(out[name]["past_mpjpe_mm"])


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe (the pose backend) not installed")
def test_tiny_bench_with_a_clip(tiny, video_dir, tmp_path) -> None:
    weights, seqs = tiny
    r = bench.run_video_bench(
        ["phd"],
        tmp_path / "video.json",
        max_windows=2,
        clip_names=["basketball_dribble_mmhuman3d.mp4"],
        with_backend=False,
        data_root=video_dir.parent,
        weights={"phd": weights},
        sequences=seqs,
    )
    _check_cmu(r)
    assert r["pipeline_fps"] > 0 and r["pipeline_fps_model"] == "phd"
    clip = r["video"]["clips"]["basketball_dribble_mmhuman3d.mp4"]["phd"]
    for key in ("future_pck", "zero_velocity_pck", "past_pck"):
        assert 0.0 <= clip[key] <= 1.0
    assert r["video"]["mean"]["phd"]["clips"] == 1
    assert "frames/s" in bench.markdown(r) and "future PCK" in bench.markdown(r)


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe (the pose backend) not installed")
def test_cli_on_a_folder_with_a_clip_and_a_broken_file(video_dir, tmp_path, cli) -> None:
    """``posecast bench video --clips DIR``: the clip is scored (raw and anchored rows, the four keys other tools
    read), the broken file and the missing folder are reported, files without a video suffix ignored."""
    import json

    if not store.variants("phd"):
        pytest.skip("phd has no shipped weights")
    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "squats.mp4").symlink_to(video_dir / "squats_pexels_tfjs.mp4")  # 65 frames at 5 fps: quick
    (folder / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    (folder / "notes.txt").write_text("not a clip")
    import cv2

    cap = cv2.VideoCapture(str(video_dir / "squats_pexels_tfjs.mp4"))
    first = [cap.read()[1] for _ in range(3)]
    cap.release()
    short = cv2.VideoWriter(str(folder / "short.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, first[0].shape[1::-1])
    for frame in first:  # 0.6 s of a person: skipped (under 1 s), and left out of the pipeline's speed
        short.write(frame)
    short.release()
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    args = ["--model", "phd", "--no-cmu", "--clips", str(folder), "--json", str(out), "--markdown", str(md)]
    code, stdout, err = cli("bench", "video", *args)
    assert code == 0, err
    r = json.loads(out.read_text())
    assert r["ignored_files"] == ["notes.txt"] and "cmu" not in r
    assert "cannot read" in r["video"]["clips"]["broken.mp4"]["error"]
    clip = r["video"]["clips"]["squats.mp4"]
    assert clip["seconds"] == pytest.approx(13.0) and clip["scored_frames"] == 5
    assert "skipped" in r["video"]["clips"]["short.mp4"] and r["video"]["frames"] == 65
    for row in ("phd", "phd+anchored", "zero-velocity-2d", "constant-velocity-2d"):
        for key in ("future_pck", "future_pck_10", "zero_velocity_pck", "constant_velocity_pck"):
            assert 0.0 <= clip[row][key] <= 1.0, (row, key)
        assert clip[row]["future_pck"] <= clip[row]["future_pck_10"]
    assert r["video"]["mean"]["phd+anchored"]["clips"] == 1 and r["video"]["goal"]["met"] in (True, False)
    assert "broken.mp4" in stdout and "future PCK@0.1" in md.read_text()
    code, _, err = cli("bench", "video", "--no-cmu", "--clips", str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere" in err
    # a folder where nothing can be scored: the reasons in the JSON, and exit 2 so that a script notices
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    code, _, err = cli("bench", "video", "--model", "phd", "--no-cmu", "--clips", str(empty), "--json", str(out))
    assert code == 2 and "no clip could be scored" in err and len(err.strip().splitlines()) == 1
    assert "error" in json.loads(out.read_text())["video"]["clips"]["broken.mp4"]


def test_clip_folders_skip_hidden_files_and_second_links(tmp_path) -> None:
    """macOS's ``._name`` resource forks and ``.DS_Store`` are not clips; a link to a clip already listed is
    scored once; ``.m4v`` and ``.gif`` are clips like ``.mp4``."""
    from posecast.evaluation.protocols.video import folder_clips

    for name in ("a.mp4", "._a.mp4", ".DS_Store", "b.M4V", "c.gif", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "z_link.mp4").symlink_to(tmp_path / "a.mp4")
    clips, ignored = folder_clips(tmp_path)
    assert [p.name for p in clips] == ["a.mp4", "b.M4V", "c.gif"]
    assert sorted(ignored) == sorted(["._a.mp4", ".DS_Store", "notes.txt", "z_link.mp4 (the same file as a.mp4)"])


def test_subfolders_are_listed_as_ignored_and_every_ignored_entry_is_printed(tmp_path) -> None:
    """Subfolders are not searched, and say so (whatever their name, ``folder_named.mp4/`` too); the markdown the
    command prints has one "Ignored:" line naming every ignored entry."""
    from posecast.evaluation.protocols.video import folder_clips

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inside.mp4").write_bytes(b"x")
    (tmp_path / "folder_named.mp4").mkdir()
    for name in ("a.mp4", "frame.png"):
        (tmp_path / name).write_bytes(b"x")
    clips, ignored = folder_clips(tmp_path)
    assert [p.name for p in clips] == ["a.mp4"]
    assert ignored == ["folder_named.mp4/ (a folder: not searched)", "frame.png", "sub/ (a folder: not searched)"]
    md = bench.markdown({"protocol": {}, "ignored_files": ignored, "clips_skipped": "no clip"})
    assert "Ignored: folder_named.mp4/ (a folder: not searched); frame.png; sub/ (a folder: not searched)." in md


def test_a_single_frame_is_reported_as_an_image_not_a_short_video() -> None:
    """A JPEG named .mp4 or a one-frame GIF decodes to one frame: "a single frame (an image, not a video)", not
    "shorter than 1 s (0.00 s)"; two frames 0.4 s apart are a (short) video."""
    from posecast.video.track import PoseTrack

    kp = np.full((2, 17, 2), 100.0)
    one = PoseTrack(kp[:1], np.ones((1, 17)), np.zeros(1), (640, 480), "body-17")
    assert bench.score_track({}, one)["skipped"] == "a single frame (an image, not a video)"
    two = PoseTrack(kp, np.ones((2, 17)), np.array([0.0, 0.4]), (640, 480), "body-17")
    assert bench.score_track({}, two)["skipped"] == "shorter than 1 s (0.80 s)"


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe (the pose backend) not installed")
def test_the_default_models_include_the_default_video_model_and_it_gives_the_headline_speed(
    video_dir, tmp_path, cli
) -> None:
    """Without ``--model`` every video model runs, the composed ones (no weights of their own) included: the
    default for videos, ``lift+forecast``, has its rows and keys, and the headline pipeline speed is its."""
    import json

    from posecast.models import available, default_model

    folder = tmp_path / "clips"
    folder.mkdir()
    (folder / "squats.mp4").symlink_to(video_dir / "squats_pexels_tfjs.mp4")
    out = tmp_path / "r.json"
    code, _, err = cli("bench", "video", "--no-cmu", "--clips", str(folder), "--json", str(out))
    assert code == 0, err
    r = json.loads(out.read_text())
    default = default_model("video").name
    assert set(r["models"]) == {m.name for m in available("video")} and default in r["models"]
    clip = r["video"]["clips"]["squats.mp4"]
    for row in (default, f"{default}+anchored"):
        for key in ("future_pck", "future_pck_10", "zero_velocity_pck", "constant_velocity_pck"):
            assert 0.0 <= clip[row][key] <= 1.0, (row, key)
    assert r["pipeline_fps_model"] == default
    assert r["pipeline_fps"] == r["video"]["pipeline_fps_by_model"][default] > 0


def test_corpus_test_windows_are_the_hdm05_test_clips_on_body17(posecast_data, tiny, monkeypatch) -> None:
    """HDM05's test clips (actor bd, 120 Hz ASF/AMC) through the canonical body onto body-17 at 25 fps, windows
    of 75 frames; the tiny phd scores them in 3D and 2D and the markdown has a table per data set."""
    batch = bench.corpus_test_windows("hdm05_cuts", stride=25)
    assert batch.points.shape[1:] == (bench.OBSERVE + bench.FUTURE, 17, 3) and len(batch) > 5
    np.testing.assert_allclose(batch.points[:, :, 0], 0.0, atol=1e-9)  # pelvis-centred
    weights, _ = tiny
    monkeypatch.setattr(bench, "CORPUS_TEST_STRIDES", {"hdm05_cuts": 25})
    r = bench.run_video_bench(
        ["phd"], None, with_cmu=False, with_corpus=True, with_clips=False, weights={"phd": weights}
    )
    d = r["corpus"]["hdm05_cuts"]
    assert d["windows"] == len(batch) and d["rows"]["phd"]["past_mpjpe_mm"] > 0
    assert set(d["rows_2d"]) == {"phd", "phd+anchored", "zero-velocity-2d", "constant-velocity-2d"}
    md = bench.markdown(r)
    assert "**Projected corpus test splits**" in md and f"hdm05_cuts ({len(batch)} windows, every 25 frames)" in md
