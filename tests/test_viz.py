"""Rendering: mp4 / gif / html outputs are complete and valid, and show what they claim to show.

Fixtures are generated in code: the CMU benchmark skeleton's rest pose (a T-pose, arms spread, so
every colour covers enough pixels), turning slowly and walking forward. One test renders a real CMU
BVH file when ``POSECAST_DATA`` is set.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy.spatial.transform import Rotation

import posecast
from posecast import Forecast, Motion, skeletons
from posecast.errors import FormatError, PosecastError, SkeletonError, ValueRangeError
from posecast.skeletons.base import Skeleton
from posecast.viz import render, render_html
from posecast.viz import scene as sc
from posecast.viz.render import _Animator

FPS = 25.0
HISTORY = 25  # 1 s observed
FUTURE = 15  # 0.6 s forecast
SKELETON = "cmu-mocap-38"


def _clip(frames: int, fps: float = FPS, speed: float = 0.8, turn: float = 0.4, start: int = 0) -> np.ndarray:
    """``(frames, J, 3)``: the rest pose standing on y = 0, turning ``turn`` rad/s and moving along +z."""
    skel = skeletons.get(SKELETON)
    rest = skel.rest_positions()
    rest = rest - [0.0, rest[:, 1].min(), 0.0]
    t = (np.arange(frames) + start) / fps
    rot = Rotation.from_euler("y", (turn * t)[:, None]).as_matrix()  # (T, 3, 3)
    pos = np.einsum("tij,jk->tik", rot, rest.T).transpose(0, 2, 1)
    pos[..., 2] += speed * t[:, None]
    pos[..., 1] += 0.03 * np.sin(2 * math.pi * t)[:, None]
    return pos


@pytest.fixture(scope="module")
def forecast() -> Forecast:
    history = Motion(_clip(HISTORY), FPS, SKELETON, metadata={"source": "/data/synthetic_turn.bvh"})
    truth = _clip(FUTURE, start=HISTORY)
    # three hypotheses drifting sideways by different amounts
    drift = np.linspace(0.0, 1.0, FUTURE)[None, :, None, None] * np.array([[0.0], [0.15], [-0.15]])[..., None, None]
    samples = truth[None] + drift * np.array([1.0, 0.0, 0.0])
    return Forecast(
        samples=samples, fps=FPS, skeleton=SKELETON, probabilities=[0.5, 0.3, 0.2], history=history,
        ground_truth=truth, model="test-model",
    )  # fmt: skip


# ------------------------------------------------------------------------------ pixel helpers
def _rgb(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = frame.astype(np.int32)
    return f[..., 0], f[..., 1], f[..., 2]


def _red(frame: np.ndarray) -> int:
    r, g, b = _rgb(frame)
    return int(((r > 170) & (r - g > 70) & (r - b > 70)).sum())


def _blue(frame: np.ndarray) -> int:
    r, g, b = _rgb(frame)
    return int(((b - r > 50) & (b - g > 25)).sum())


def _green(frame: np.ndarray) -> int:
    r, g, b = _rgb(frame)
    return int(((g - r > 50) & (g - b > 30)).sum())


def _not_blank(frame: np.ndarray) -> None:
    grey = frame.astype(np.float64).mean(axis=-1)
    assert grey.std() > 5.0, "frame is blank"
    assert (grey < 200).mean() > 0.002, "frame has almost no drawn pixels"


def _read_mp4(path: Path) -> tuple[dict, list[np.ndarray]]:
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(h, w, 3) for buf in gen]
    return meta, frames


# ------------------------------------------------------------------------------------ mp4
def test_mp4_is_h264_with_every_frame_and_the_right_colours(forecast: Forecast, tmp_path: Path) -> None:
    out = render(forecast, tmp_path / "fc.mp4", size=(480, 360))
    assert out == tmp_path / "fc.mp4" and out.stat().st_size > 1000
    # 25 observed + 15 forecast frames at 25 fps (the default 30 fps is capped at the data rate)
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n == HISTORY + FUTURE
    assert secs == pytest.approx((HISTORY + FUTURE) / FPS, abs=0.05)
    meta, frames = _read_mp4(out)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p")
    assert meta["size"] == (480, 360) and meta["fps"] == pytest.approx(FPS)
    assert len(frames) == n
    observed, future = frames[HISTORY // 2], frames[HISTORY + FUTURE - 1]
    _not_blank(observed)
    _not_blank(future)
    # the header (title, legend) is identical in both frames, so differences come from the plot:
    # observed frames draw the body in blue, forecast frames the samples in red and the truth in green
    # (sample 0 equals the truth: the dashed truth is drawn on top of the samples)
    assert _blue(observed) - _blue(future) > 150
    assert _red(future) - _red(observed) > 150
    assert _green(future) - _green(observed) > 80
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_motion_alone_renders_at_the_requested_rate(forecast: Forecast, tmp_path: Path) -> None:
    # 120 Hz data shown at 30 fps: every 4th frame, real-time playback
    motion = Motion(_clip(121, fps=120.0), 120.0, SKELETON)
    out = render(motion, tmp_path / "m.mp4", size=(320, 240))
    n, _ = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n == 31  # frames 0, 4, ..., 120
    meta, frames = _read_mp4(out)
    assert meta["fps"] == pytest.approx(30.0)
    _not_blank(frames[0])
    assert _red(frames[-1]) == 0 and _green(frames[-1]) == 0  # nothing but the observed motion


def test_max_frames_lowers_the_rate_but_keeps_real_time(tmp_path: Path) -> None:
    motion = Motion(_clip(200, fps=50.0), 50.0, SKELETON)  # 3.98 s
    out = render(motion, tmp_path / "m.mp4", size=(256, 192), max_frames=20)
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert n == 20
    assert secs == pytest.approx(20 * 3.98 / 19, abs=0.06)  # rate (20 - 1) / 3.98 s


# ------------------------------------------------------------------------------------ gif
def test_gif_has_the_expected_frames(forecast: Forecast, tmp_path: Path) -> None:
    # 12.5 fps = every 2nd of the 40 timeline frames (0, 2, ..., 38) plus the last one (39),
    # so the final predicted pose is always shown
    out = render(forecast, tmp_path / "fc.gif", fps=12.5, size=(320, 240))
    with Image.open(out) as im:
        assert im.format == "GIF"
        assert im.size == (320, 240)
        assert im.n_frames == 21
        assert im.info["duration"] == 80  # ms per frame at 12.5 fps
        im.seek(im.n_frames - 1)
        last = np.asarray(im.convert("RGB"))
    _not_blank(last)
    assert _red(last) > 30


# ----------------------------------------------------------------------------------- html
def _plotly_parts(html: str) -> tuple[list, dict, list]:
    """The (data, layout, frames) a plotly html page passes to Plotly.newPlot / addFrames."""
    dec = json.JSONDecoder()
    i = html.index("[", html.rindex("Plotly.newPlot("))
    data, end = dec.raw_decode(html, i)
    layout, _ = dec.raw_decode(html, html.index("{", end))
    frames, _ = dec.raw_decode(html, html.index("[", html.rindex("Plotly.addFrames(")))
    return data, layout, frames


def test_html_is_self_contained_with_slider_and_named_traces(forecast: Forecast, tmp_path: Path) -> None:
    out = render(forecast, tmp_path / "fc.html")
    html = out.read_text(encoding="utf-8")
    assert "plotly.js v" in html and len(html) > 3_000_000  # the bundle is embedded
    assert '<script src="http' not in html  # nothing is fetched: works offline
    data, layout, frames = _plotly_parts(html)
    names = {t["name"] for t in data}
    assert {"observed (light = left)", "ground truth", "last observed pose"} <= names
    assert {"sample 0 (p=0.50)", "sample 1 (p=0.30)", "sample 2 (p=0.20)"} <= names
    steps = layout["sliders"][0]["steps"]
    assert len(steps) == len(frames) == HISTORY + FUTURE
    assert steps[HISTORY]["label"] == "t = 1.00 s forecast +0.04 s"
    assert [b["label"] for b in layout["updatemenus"][0]["buttons"]] == ["▶ play", "❚❚ pause"]
    scene = layout["scene"]
    assert scene["camera"]["up"] == {"x": 0, "y": 1, "z": 0}  # y is vertical
    ratio = scene["aspectratio"]
    spans = [scene[a]["range"][1] - scene[a]["range"][0] for a in ("xaxis", "yaxis", "zaxis")]
    assert np.allclose([ratio["x"], ratio["y"], ratio["z"]], np.array(spans) / max(spans))  # equal scale
    # hover labels name the joints, and observed frames hide the forecast (an empty trace)
    observed = next(t for t in data if t["name"].startswith("observed"))
    assert "LeftHand" in observed["text"] or "RightHand" in observed["text"]
    first = frames[0]["data"]
    hidden = [d for d in first if d["x"] == [None]]
    assert len(hidden) == 5  # last pose, truth, 3 samples


def test_html_subsamples_long_clips(tmp_path: Path) -> None:
    motion = Motion(_clip(1201, fps=120.0), 120.0, SKELETON)  # 10 s at 120 Hz
    html = render(motion, tmp_path / "m.html", max_frames=50, title="a/b/walk <1>.bvh").read_text(encoding="utf-8")
    _, layout, frames = _plotly_parts(html)
    assert len(frames) == len(layout["sliders"][0]["steps"]) == 50
    assert "<head><title>walk &lt;1&gt;.bvh · PoseCast</title>" in html  # the browser tab names the clip


def test_html_follows_a_body_that_walks_away_and_keeps_one_box_otherwise(tmp_path: Path) -> None:
    from posecast.synthetic import synthetic_walk

    walk = synthetic_walk(seconds=10.0, fps=25.0, speed=1.3)  # 13 m along +z
    _, layout, frames = _plotly_parts(render(walk, tmp_path / "walk.html").read_text(encoding="utf-8"))
    z = [f["layout"]["scene"]["zaxis"]["range"] for f in frames]
    widths = np.diff(np.asarray(z), axis=1)[:, 0]
    np.testing.assert_allclose(widths, widths[0], atol=1e-9)  # one box size, moving with the walker
    assert widths[0] < 6.0  # not the 13 m the whole walk spans
    root_z = walk.positions[:, 0, 2]
    assert z[0][0] < root_z[0] < z[0][1] and z[-1][0] < root_z[-1] < z[-1][1]  # the body inside at both ends
    assert layout["scene"]["zaxis"]["range"] == z[0]  # the page opens on the first frame's box
    standing = Motion(np.repeat(walk.positions[:1], 50, axis=0), 25.0, walk.skeleton)
    _, _, frames = _plotly_parts(render(standing, tmp_path / "still.html").read_text(encoding="utf-8"))
    assert all("layout" not in f for f in frames)  # one fixed box


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def test_html_renders_in_headless_chromium(forecast: Forecast, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium) so the page cannot be screenshot")
    page = render(forecast, tmp_path / "fc.html")
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                f"--screenshot={shot}", "--window-size=1200,900", page.resolve().as_uri(),
            ],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.shape == (900, 1200, 3)
    _not_blank(pixels)
    # plotly drew the figure: the observed body (dark or light blue) is on screen
    assert _blue(pixels) > 200


def test_forecast_without_history_and_motion_with_its_true_future(forecast: Forecast, tmp_path: Path) -> None:
    alone = Forecast(samples=forecast.samples, fps=FPS, skeleton=SKELETON, model="m")  # no history, no truth
    with Image.open(render(alone, tmp_path / "alone.gif", size=(256, 192), fps=FPS)) as im:
        assert im.n_frames == FUTURE
    data, layout, frames = _plotly_parts(render(alone, tmp_path / "alone.html").read_text(encoding="utf-8"))
    assert [t["name"] for t in data] == ["sample 0", "sample 1", "sample 2"] and len(frames) == FUTURE
    # a motion and its true continuation (no forecast): observed frames, then the truth
    scene = sc.build_scene(forecast.history, ground_truth=Motion(forecast.ground_truth, FPS, SKELETON))
    assert scene.num_frames == HISTORY + FUTURE and scene.samples is None
    assert "horizon 0.60 s" in sc.title_text(scene) and "model" not in sc.title_text(scene)
    out = render(forecast.history, tmp_path / "truth.mp4", ground_truth=forecast.ground_truth, size=(256, 192))
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == HISTORY + FUTURE


# --------------------------------------------------------------------------------- errors
def test_bad_arguments_raise_posecast_errors(forecast: Forecast, tmp_path: Path) -> None:
    history = forecast.history
    with pytest.raises(FormatError, match=r"\.avi"):
        render(forecast, tmp_path / "out.avi")
    with pytest.raises(FormatError, match="does not exist"):
        render(forecast, tmp_path / "missing" / "out.mp4")
    with pytest.raises(ValueRangeError, match="Motion or a Forecast"):
        render(history.positions, tmp_path / "out.mp4")  # type: ignore[arg-type]
    with pytest.raises(ValueRangeError, match="not both"):
        render(forecast, tmp_path / "out.mp4", forecast=forecast)
    other = Motion(np.zeros((5, 31, 3)) + np.arange(31)[None, :, None] * 0.01, FPS, "cmu-bvh-31")
    with pytest.raises(SkeletonError, match="cmu-bvh-31"):
        render(other, tmp_path / "out.mp4", forecast=forecast)
    with pytest.raises(ValueRangeError, match="no frames"):
        render(history, tmp_path / "out.gif", ground_truth=np.zeros((0, 38, 3)))
    with pytest.raises(SkeletonError, match="frames"):
        render(forecast, tmp_path / "out.html", ground_truth=np.zeros((FUTURE + 1, 38, 3)))
    with pytest.raises(ValueRangeError, match="even"):
        render(history, tmp_path / "out.mp4", size=(321, 240))
    with pytest.raises(ValueRangeError, match="frame rate"):
        render(history, tmp_path / "out.gif", fps=0)
    with pytest.raises(ValueRangeError, match="max_frames"):
        render(history, tmp_path / "out.html", max_frames=0)
    with pytest.raises(ValueRangeError, match="camera"):
        render(history, tmp_path / "out.mp4", camera="orbit")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # nothing written, not even temporary files
    for exc in (FormatError, SkeletonError, ValueRangeError):
        assert issubclass(exc, PosecastError)


def test_a_failure_mid_render_leaves_no_file(forecast: Forecast, tmp_path: Path, monkeypatch) -> None:
    original = _Animator.update

    def update(self, frame: int) -> None:
        if frame == 10:
            raise RuntimeError("disk on fire")
        original(self, frame)

    monkeypatch.setattr(_Animator, "update", update)
    for suffix in (".mp4", ".gif"):
        with pytest.raises(RuntimeError, match="disk on fire"):
            render(forecast, tmp_path / f"fc{suffix}", size=(256, 192))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(_Animator, "update", original)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(tmp_path / "no-ffmpeg"))
    with pytest.raises(FormatError, match="could not write the mp4"):
        render(forecast, tmp_path / "fc.mp4", size=(256, 192))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ scene parts
def _toy() -> Skeleton:
    #      0 root
    #     / \
    #    1   4          1 sits on 0 (zero-length bone), 2 hangs from 1, 3 from 2, 5 from 4
    #    |   |
    #    2   5
    #    |
    #    3
    return Skeleton("toy", ("root", "hip", "knee", "foot", "chest", "head"), (-1, 0, 1, 2, 0, 4))


TOY_POSE = np.array([[0, 1, 0], [0, 1, 0], [0, 0.5, 0], [0, 0, 0], [0, 1.4, 0], [0, 1.7, 0]], dtype=float)


def test_chains_skip_zero_length_bones() -> None:
    skel = _toy()
    drawn = sc.drawn_parents(skel.parents, TOY_POSE[None])
    assert drawn.tolist() == [-1, -2, 0, 2, 0, 4]  # hip skipped, knee hangs from the root
    chains = sc.bone_chains(skel.parents, TOY_POSE[None])
    assert chains == [[0, 2, 3], [0, 4, 5]]
    assert sc.polyline_index(chains).tolist() == [0, 2, 3, -1, 0, 4, 5]
    pts = sc.gather(TOY_POSE, sc.polyline_index(chains))
    assert np.isnan(pts[3]).all() and np.array_equal(pts[[0, 1, 2]], TOY_POSE[[0, 2, 3]])


@st.composite
def _trees(draw: st.DrawFn) -> tuple[list[int], np.ndarray]:
    n = draw(st.integers(1, 30))
    parents = [-1] + [draw(st.integers(0, i - 1)) for i in range(1, n)]
    zero = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    offsets = np.array([[0.0, 0.0, 0.0] if z else [0.1, 0.2, 0.05 * (i % 3)] for i, z in enumerate(zero)])
    pos = np.zeros((n, 3))
    for j in range(1, n):
        pos[j] = pos[parents[j]] + offsets[j]
    return parents, pos


@settings(max_examples=150, deadline=None)
@given(_trees())
def test_every_drawn_bone_appears_exactly_once(tree: tuple[list[int], np.ndarray]) -> None:
    parents, pos = tree
    drawn = sc.drawn_parents(parents, pos[None])
    index = sc.polyline_index(sc.bone_chains(parents, pos[None]))
    pairs = [(int(a), int(b)) for a, b in zip(index[:-1], index[1:], strict=True) if a >= 0 and b >= 0]
    expected = sorted((int(p), j) for j, p in enumerate(drawn) if p >= 0)
    assert sorted(pairs) == expected
    assert len(set(pairs)) == len(pairs)
    for j, p in enumerate(drawn):  # a skipped joint is where its drawn ancestor is
        if p == -2:
            anc = parents[j]
            while anc > 0 and drawn[anc] == -2:
                anc = parents[anc]
            assert np.allclose(pos[j], pos[anc], atol=1e-3)


def test_cmu_skeleton_draws_every_nonzero_bone() -> None:
    skel = skeletons.get(SKELETON)
    rest = skel.rest_positions()[None]
    zero = np.linalg.norm(skel.offsets[1:], axis=1) < sc.ZERO_BONE_M
    chains = sc.bone_chains(skel.parents, rest)
    assert sum(len(c) - 1 for c in chains) == int((~zero).sum())  # one segment per real bone
    skipped = [skel.joint_names[j] for j in np.flatnonzero(sc.drawn_parents(skel.parents, rest) == -2)]
    assert skipped == [
        "LHipJoint", "RHipJoint", "LowerBack", "Neck", "LeftShoulder", "LeftFingerBase", "LThumb",
        "RightShoulder", "RightFingerBase", "RThumb",
    ]  # fmt: skip


def test_plot_axes_keep_handedness_and_put_y_up() -> None:
    perm = sc.to_mpl(np.eye(3))  # rows: where data x, y, z go
    assert np.linalg.det(perm) == pytest.approx(1.0)  # a rotation, never a mirror
    assert perm[1].tolist() == [0.0, 0.0, 1.0]  # data y -> matplotlib's vertical axis


def test_facing_direction_of_the_rest_pose_is_plus_z() -> None:
    motion = Motion(_clip(3, turn=0.0), FPS, SKELETON)
    scene = sc.build_scene(motion)
    # CMU: left = +x, toes +z (the benchmark's rest pose is not exactly symmetric: 0.3 degrees off)
    assert np.allclose(sc.facing_direction(scene), [0.0, 1.0], atol=0.01)
    # turned by +90 degrees about y, +z goes to +x
    turned = Motion(_clip(3, turn=0.0) @ Rotation.from_euler("y", 90, degrees=True).as_matrix().T, FPS, SKELETON)
    assert np.allclose(sc.facing_direction(sc.build_scene(turned)), [1.0, 0.0], atol=0.01)


def test_sample_styles_follow_probabilities(forecast: Forecast) -> None:
    styles = sc.sample_styles(sc.build_scene(forecast))
    alphas = [a for _, a in styles]
    assert alphas[0] == pytest.approx(0.95) and alphas[0] > alphas[1] > alphas[2]
    assert alphas[2] == pytest.approx(0.2 + 0.75 * 0.2 / 0.5)
    assert styles[0][0] == sc.SAMPLE_COLORS[0] and styles[2][0] == sc.SAMPLE_COLORS[1]


def test_max_samples_keeps_the_most_probable(forecast: Forecast) -> None:
    scene = sc.build_scene(forecast, max_samples=2)
    assert scene.num_samples == 2 and scene.total_samples == 3
    assert scene.probabilities.tolist() == pytest.approx([0.5, 0.3])
    assert "2 samples of 3" in sc.title_text(scene)


def test_output_frames_pick_by_time() -> None:
    motion = Motion(_clip(121, fps=120.0), 120.0, SKELETON)
    scene = sc.build_scene(motion)
    idx, fps = sc.output_frames(scene, 30.0)
    assert fps == 30.0 and idx.tolist() == list(range(0, 121, 4))
    idx, fps = sc.output_frames(scene, 30.0, max_frames=11)
    assert fps == pytest.approx(10.0) and idx.tolist() == list(range(0, 121, 12))
    idx, fps = sc.output_frames(scene, 500.0)  # never faster than the data
    assert fps == 120.0 and idx.tolist() == list(range(121))


def test_bounds_contain_everything_and_follow_a_long_walk(forecast: Forecast) -> None:
    scene = sc.build_scene(forecast)
    b = sc.scene_bounds(scene, "auto")
    assert b.centres is None  # 1.6 s at 0.8 m/s: one fixed box
    pts = scene.all_points()
    assert (pts >= b.lo).all() and (pts <= b.hi).all()
    assert b.floor == pytest.approx(min(scene.history[..., 1].min(), scene.ground_truth[..., 1].min()))
    # 20 s walking 1.5 m/s: the camera follows, smoothly, and never loses the body
    walk = Motion(_clip(500, speed=1.5, turn=0.0), FPS, SKELETON)
    wscene = sc.build_scene(walk)
    wb = sc.scene_bounds(wscene, "auto")
    assert wb.centres is not None
    for f in range(wscene.num_frames):
        lo, hi = wb.limits(f)
        p = wscene.frame_points(f)
        assert (p >= lo - 1e-9).all() and (p <= hi + 1e-9).all()
    step = np.abs(np.diff(wb.centres, axis=0)).max()
    assert step < 1.5 / FPS * 1.01  # no faster than the body itself
    assert wb.size[0] == wb.size[2] and wb.size[0] < 4.0
    assert sc.scene_bounds(wscene, "fixed").centres is None


def test_a_forecast_that_walks_away_is_followed_and_the_last_observed_pose_left_behind() -> None:
    """2 s observed, then a 20 s forecast walking 1.5 m/s: the faint last observed pose stays at the start, so
    a box holding it and the walker would be 30 m wide and the body a speck; the camera follows the walker,
    the ghost is shown while it is in the box and hidden once the walker has left it behind."""
    clip = _clip(550, speed=1.5, turn=0.0)
    history = Motion(clip[:50], FPS, SKELETON)
    fc = Forecast(samples=clip[None, 50:], fps=FPS, skeleton=SKELETON, history=history, model="walker")
    scene = sc.build_scene(fc)
    b = sc.scene_bounds(scene, "auto")
    assert b.centres is not None and b.size[0] < 4.0
    for f in range(scene.num_frames):
        lo, hi = b.limits(f)
        p = scene.frame_points(f, last_observed=False)
        assert (p >= lo - 1e-9).all() and (p <= hi + 1e-9).all()
    ghost = scene.history[-1]
    assert b.contains(scene.num_history, ghost) and not b.contains(scene.num_frames - 1, ghost)


def test_a_short_forecast_keeps_the_last_observed_pose_in_the_following_box() -> None:
    """4 s observed walking 1.5 m/s, then 1 s of forecast: the camera follows, and its box also holds the last
    observed pose (within `GHOST_FOLLOW_RATIO` of the body's own box), so it stays drawn beside the forecast."""
    clip = _clip(125, speed=1.5, turn=0.0)
    history = Motion(clip[:100], FPS, SKELETON)
    fc = Forecast(samples=clip[None, 100:], fps=FPS, skeleton=SKELETON, history=history, model="walker")
    scene = sc.build_scene(fc)
    b = sc.scene_bounds(scene, "auto")
    assert b.centres is not None
    assert all(b.contains(f, scene.history[-1]) for f in range(scene.num_history, scene.num_frames))


def test_a_world_root_left_out_of_the_drawing_does_not_size_the_view_or_hide_the_last_pose() -> None:
    """A rig with a world root at the floor origin (Bandai's ``joint_Root``) while the body walks 4-9 m away: the
    root is no joint a bone is drawn to, so the view box ignores it and the last observed pose (its drawn joints)
    stays in the box of a 1 s forecast."""
    from posecast import skeletons
    from posecast.skeletons.base import Skeleton
    from posecast.synthetic import synthetic_walk

    base = skeletons.get("cmu-bvh-31")
    names = ("joint_Root", *base.joint_names)
    parents = (-1, 0, *(q + 1 for q in base.parents[1:]))
    offsets = np.vstack([np.zeros((1, 3)), base.offsets])
    rooted = Skeleton("rooted", names, parents, offsets, tuple((a + 1, b + 1) for a, b in base.left_right))
    walk = synthetic_walk(seconds=5.0, fps=FPS, speed=1.0).positions + np.array([0.0, 0.0, 4.0])
    pos = np.concatenate([np.zeros((len(walk), 1, 3)), walk], axis=1)
    history = Motion(pos[:100], FPS, rooted)
    fc = Forecast(samples=pos[None, 100:], fps=FPS, skeleton=rooted, history=history, model="walker")
    scene = sc.build_scene(fc)
    drawn = sc.drawn_joints(scene)
    assert 0 not in drawn and len(drawn) > 20
    b = sc.scene_bounds(scene, "auto")
    assert not b.contains(scene.num_history, scene.history[-1])  # the root at the origin lies outside the box
    assert all(b.contains(f, scene.history[-1][drawn]) for f in range(scene.num_history, scene.num_frames))


# ------------------------------------------------------------------------------ real data
def test_real_cmu_bvh_renders(cmu_bvh_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("posecast.io.bvh", reason="the BVH reader is not in this tree")
    import posecast
    from posecast.models import baselines

    motion = posecast.load(cmu_bvh_dir / "02" / "02_01.bvh")[1:].resample(25.0)  # frame 0 is a T-pose
    history, future = motion[:25], motion[25:40]
    fc = baselines.ZeroVelocity().forecast(history, frames=15, ground_truth=future.positions)
    out = render(fc, tmp_path / "real.mp4", size=(480, 360))
    meta, frames = _read_mp4(out)
    assert len(frames) == 40
    _not_blank(frames[10])
    assert _blue(frames[10]) > 100 and _red(frames[-1]) > 100 and _green(frames[-1]) > 50
    page = render_html(fc, tmp_path / "real.html")
    assert "02_01.bvh" in page.read_text(encoding="utf-8")[-400_000:]


def test_a_translating_root_bone_is_not_drawn() -> None:
    """Bandai-style skeletons: a floor-level root joint under a hips joint that walks away. The root-hips
    "bone" changes length (a translation), so it is not drawn; the hips start their own tree."""
    parents = [-1, 0, 1, 1]  # root, hips, left leg, right leg
    frames = np.zeros((3, 4, 3))
    for t in range(3):
        hips = np.array([0.0, 0.9, 0.5 * t])
        frames[t] = [[0, 0, 0], hips, hips + [0.1, -0.8, 0], hips + [-0.1, -0.8, 0]]
    drawn = sc.drawn_parents(parents, frames)
    assert drawn.tolist() == [-1, -1, 1, 1]
    chains = sc.bone_chains(parents, frames)
    assert sorted(map(tuple, chains)) == [(1, 2), (1, 3)]
    # standing still on it: the root is still a world root on the floor, not a bone (a "third leg" to the floor)
    assert sc.drawn_parents(parents, frames[:1]).tolist() == [-1, -1, 1, 1]
    # a pelvis is a top joint too, but above the feet: its bones are drawn, also when an estimate stretches them
    body = np.array([[0, 0.9, 0], [0.1, 0.9, 0], [0.1, 0.1, 0], [0, 1.4, 0]])  # pelvis, hip, ankle, neck
    stretched = np.stack([body, body + [[0, 0, 0], [0.15, 0, 0], [0.15, 0, 0], [0, 0.1, 0]]])
    assert sc.drawn_parents([-1, 0, 1, 0], stretched).tolist() == [-1, 0, 1, 0]
    # ... and deeper bones of any length change are bones (a BVH with position channels on every joint)
    far = stretched.copy()
    far[1, 2] += [0, -0.5, 0]
    assert sc.drawn_parents([-1, 0, 1, 0], far).tolist() == [-1, 0, 1, 0]


def test_a_forecast_from_a_long_take_draws_its_newest_ten_seconds_on_the_takes_clock() -> None:
    from posecast.synthetic import synthetic_walk

    take = synthetic_walk(seconds=30.0, fps=25.0)  # 751 frames
    fc = posecast.forecast(take, model="constant-velocity", seconds=0.4)
    scene = sc.build_scene(fc)
    assert scene.num_history == 251 and scene.history_start_s == pytest.approx(20.0)
    np.testing.assert_allclose(scene.history, take.positions[500:])
    assert scene.frame_label(0) == "t = 20.00 s  observed" and scene.frame_label(251) == "t = 30.04 s  forecast +0.04 s"
    assert "observed 30.00 s (the last 10.00 s shown)" in sc.title_text(scene)
    whole = sc.build_scene(fc, max_history_s=None)
    assert whole.num_history == 751 and "observed 30.00 s ·" in sc.title_text(whole) + " ·"
    assert sc.build_scene(take).num_history == 751  # a motion alone is drawn whole


def test_a_gif_of_a_long_motion_is_capped_and_the_cli_says_so(tmp_path, monkeypatch, capsys):
    """GIFs hold every frame in memory until written: a long motion plays at a lower frame rate, in real time."""
    import importlib

    from PIL import Image

    from posecast.cli.common import gif_note
    from posecast.synthetic import synthetic_walk

    render_module = importlib.import_module("posecast.viz.render")  # the module (posecast.viz.render is its function)
    monkeypatch.setattr(render_module, "GIF_MAX_FRAMES", 12)
    walk = synthetic_walk(seconds=3.0, fps=30.0)  # 60 frames at the GIF's 20 fps
    out = render_module.render(walk, tmp_path / "w.gif", size=(160, 120))
    with Image.open(out) as gif:
        assert gif.n_frames == 12
    gif_note(walk, out)
    assert "a GIF holds at most 12 frames: these 3 s play at 3.7 frames/s" in capsys.readouterr().out
    # QA: an HTML page is capped too (300 frames), and had said nothing
    monkeypatch.setattr(importlib.import_module("posecast.viz.html"), "DEFAULT_MAX_FRAMES", 30)
    page = render_module.render(walk, tmp_path / "w.html")
    capped = page.read_text().count('"name":"')  # plotly frames are named (so are a few traces)
    assert render_module.render(walk, tmp_path / "all.html", max_frames=1000).read_text().count('"name":"') >= (
        capped + 75 - 30
    )  # all 75 frames at 25 fps without the cap
    gif_note(walk, page)
    assert "an HTML page shows at most 30 frames: these 3 s play at 9.7 frames/s" in capsys.readouterr().out
    gif_note(synthetic_walk(seconds=1.0, fps=30.0), page)  # 25 frames: under the cap, no note
    assert capsys.readouterr().out == ""


def test_a_video_forecast_from_a_late_detection_draws_on_the_clips_clock() -> None:
    """QA (unseen clips): a video model reads a clip from its first detection; the HTML's clock had started at 0 there
    (its slider ended 2.5 s before the clip did) while the mp4 counted from the clip's first frame. ``start_time``
    (seconds from the clip's first frame, `VideoForecast.to_forecast`) now sets it, as for ``history=``."""
    from posecast.motion import Forecast
    from posecast.synthetic import synthetic_walk

    past = synthetic_walk(seconds=2.0, fps=25.0)
    future = past.positions[-10:][None]
    meta = {"start_time": 1.5, "clip_start_s": 0.0}
    scene = sc.build_scene(Forecast(future, 25.0, past.skeleton, history=past, model="x", metadata=meta))
    assert scene.history_start_s == pytest.approx(1.5)
    assert scene.frame_label(0).split() == ["t", "=", "1.50", "s", "observed"]
    plain = sc.build_scene(Forecast(future, 25.0, past.skeleton, history=past, model="x"))
    assert plain.history_start_s == 0.0  # a motion forecast without those keys: its history's own clock
