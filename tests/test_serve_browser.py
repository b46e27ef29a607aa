"""The browser page of `posecast serve` in a real headless Chromium (Playwright driving Debian's ``chromium``).

Replay mode streams the built-in example motion over ``/v1/stream``; camera mode feeds a real clip from
``$POSECAST_DATA/video`` through Chromium's fake camera (``--use-file-for-fake-video-capture``) over
``/v1/video``; a third test uploads an AMC clip with its ASF through the page's file pickers. Each asserts
that forecasts arrive and are drawn (the page's counters and the canvases' pixels), that no error shows, and
saves a screenshot (also to ``runs/serve_page_*.png`` when ``POSECAST_SCREENSHOTS`` is set, for a person to
look at). The server runs with a token, which the page takes from its own URL (``/?token=``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium; playwright cannot download here)"
)

ROOT = Path(__file__).resolve().parents[1]
#: the camera clip: one woman doing squats, whole body in view, Pexels licence (see video/PROVENANCE.md)
CLIP = "squats_pexels_tfjs.mp4"
VIEWPORT = {"width": 1280, "height": 900}
TOKEN = "browser-test-token"
#: running as root (CI containers) Chromium needs --no-sandbox
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]

# counters the page keeps in the DOM
COUNTS_JS = """() => {
  const n = (id) => Number(document.getElementById(id).textContent);
  const d = (id) => document.getElementById(id).dataset;
  return {
    replies: n("replies"), errors: n("errors"), detected: n("detected"), sent: n("sent"),
    view: Number(d("view3d").drawn), overlay: Number(d("overlay").drawn),
    overlayForecast: Number(d("overlay").forecastDrawn),
    box: d("overlay").keypointsBox ?? null,
    status: document.getElementById("status").className, text: document.getElementById("status").textContent,
    rtt: document.getElementById("rtt").textContent, rate: document.getElementById("rate").textContent,
  };
}"""

# pixels of a canvas within `tol` of an sRGB colour (a CSS variable of the page)
PIXELS_JS = """([id, variable, tol]) => {
  const c = document.getElementById(id);
  const hex = getComputedStyle(document.documentElement).getPropertyValue(variable).trim();
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if ([0, 1, 2].every((k) => Math.abs(data[i + k] - want[k]) <= tol)) n++;
  }
  return n;
}"""


@pytest.fixture(scope="module")
def server_url(serving) -> Iterator[str]:
    """A live server with a token (conftest's `serving`): its root URL, ``.../``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `posecast serve` does: the cores are shared with the browser
    try:
        with serving(token=TOKEN) as url:
            yield url + "/"
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        yield p


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    """The page (opened with the server's token) once it has loaded the models; the list collects its script
    errors."""
    context = browser.new_context(viewport=VIEWPORT, permissions=["camera"])
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(f"{url}?token={TOKEN}")
    page.wait_for_selector("body[data-loaded]", timeout=15_000)
    return page, problems


def _screenshot(page: Any, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("POSECAST_SCREENSHOTS"):
        runs = ROOT / "runs"
        runs.mkdir(exist_ok=True)
        shutil.copy(path, runs / path.name)


def _wait(page: Any, condition: str, timeout_ms: int) -> dict[str, Any]:
    """Wait until the counters satisfy ``condition`` (JS over ``c``); the counters, or a failure showing them."""
    try:
        page.wait_for_function(
            f"() => {{ const c = ({COUNTS_JS})(); return c.status === 'error' || ({condition}); }}", timeout=timeout_ms
        )
    except sync_api.TimeoutError:
        pytest.fail(f"timed out waiting for {condition}: {page.evaluate(COUNTS_JS)}")
    return page.evaluate(COUNTS_JS)


def _drawn(page: Any, canvas: str, variable: str, tol: int, least: int, timeout_ms: int = 5_000) -> None:
    """Wait until ``canvas`` shows more than ``least`` pixels of colour ``variable`` (a live page redraws every frame:
    one look can fall on a frame where the forecast covers the observed pose); a failure names the last count."""
    try:
        page.wait_for_function(
            f"(args) => ({PIXELS_JS})(args) > {least}", arg=[canvas, variable, tol], timeout=timeout_ms
        )
    except sync_api.TimeoutError:
        seen = page.evaluate(PIXELS_JS, [canvas, variable, tol])
        pytest.fail(f"{canvas}: {seen} pixels of {variable}, want more than {least}")


def test_replay_page_draws_forecasts(playwright: Any, server_url: str, tmp_path: Path) -> None:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page, problems = _open(browser, server_url)
        # the model menu lists the stream models, with the server's default chosen
        request = urllib.request.Request(server_url + "v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            listing = json.load(response)
        assert page.input_value("#model") == listing["default"]
        options = page.eval_on_selector_all("#model option", "os => os.map((o) => o.value)")
        assert options == [m["name"] for m in listing["models"] if m["served"]["stream"]]

        page.check('input[name="source"][value="example"]')
        page.click("#start")
        c = _wait(page, "c.replies >= 10 && c.view >= 10", 20_000)
        assert c["status"] == "ok", c["text"]
        assert c["errors"] == 0 and not problems, (c, problems)
        assert c["sent"] >= c["replies"] >= 10
        assert c["rtt"].endswith(" ms") and float(c["rtt"].split()[0]) > 0
        # drawn: the observed skeleton (blue) and the forecast (orange) are on the 3D view
        assert page.evaluate(PIXELS_JS, ["view3d", "--blue", 8]) > 200
        assert page.evaluate(PIXELS_JS, ["view3d", "--orange", 8]) > 200
        assert "synthetic walk" in c["text"] and listing["default"] in c["text"]
        _screenshot(page, tmp_path / "serve_page_replay.png")

        page.click("#stop")
        assert page.is_enabled("#start") and page.text_content("#status") == "Stopped."
    finally:
        browser.close()


def test_replay_page_uploads_a_motion_file(playwright: Any, server_url: str, tmp_path: Path) -> None:
    """A file that is no motion: the server's error in the status line. Then an AMC clip and its ASF through
    the file pickers (POST /v1/motions), replayed at its 120 frames/s."""
    from posecast.datasets.paths import dataset_dir

    hdm05 = dataset_dir("hdm05_cuts", required=False)
    if hdm05 is None:
        pytest.skip("real data 'hdm05_cuts' not available: set POSECAST_DATA to the shared data root")
    amc = hdm05 / "bd" / "HDM_bd_squat1Reps_001_120.amc"
    asf = hdm05 / "asf" / "HDM_bd.asf"
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page, problems = _open(browser, server_url)
        bogus = tmp_path / "notes.bvh"
        bogus.write_text("these are notes, not a motion\n")
        page.set_input_files("#motion-file", str(bogus))
        page.click("#start")
        page.wait_for_selector("#status.error", timeout=10_000)
        text = page.text_content("#status")
        assert "notes.bvh" in text and page.is_enabled("#start"), text
        assert page.text_content("#errors") == "1"
        problems.clear()  # the browser logs the 400 answer as a console error

        page.set_input_files("#motion-file", str(amc))
        page.set_input_files("#asf-file", str(asf))
        assert page.is_checked('input[name="source"][value="file"]')  # choosing a file selects it
        page.check("#show-actual")
        page.click("#start")
        c = _wait(page, "c.replies >= 10 && c.view >= 10", 20_000)
        assert c["status"] == "ok", c["text"]
        assert c["errors"] == 0 and not problems, (c, problems)
        assert c["errors"] == 0, "a new session starts with clean counters"
        assert amc.name in c["text"] and "120 frames/s" in c["text"], c["text"]
        assert page.evaluate(PIXELS_JS, ["view3d", "--blue", 8]) > 200
        assert page.evaluate(PIXELS_JS, ["view3d", "--orange", 8]) > 200
        assert page.evaluate(PIXELS_JS, ["view3d", "--grey", 8]) > 50  # the actual future, dashed
        _screenshot(page, tmp_path / "serve_page_upload.png")
    finally:
        browser.close()


def _camera_clip(video_dir: Path, out: Path) -> Path:
    """The clip as Chromium's fake camera reads it: 640×480 (letterboxed), 15 frames/s, 3 s, yuv420p y4m."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg is needed to convert the clip")
    src = video_dir / CLIP
    if not src.is_file():
        pytest.skip(f"{src} is missing")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(src), "-t", "3"]
    cmd += ["-vf", "fps=15,scale=-2:480,pad=640:480:(ow-iw)/2:0", "-pix_fmt", "yuv420p", str(out)]
    subprocess.run(cmd, check=True, timeout=60)
    assert out.read_bytes()[:9] == b"YUV4MPEG2"
    return out


def test_camera_page_draws_keypoints_and_forecasts(
    playwright: Any, server_url: str, video_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("mediapipe", reason="the video extra (mediapipe) is not installed")
    clip = _camera_clip(video_dir, tmp_path / "camera.y4m")
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    try:
        page, problems = _open(browser, server_url)
        page.check('input[name="mode"][value="camera"]')
        assert page.is_visible("#overlay")
        page.click("#start")
        c = _wait(page, "c.detected >= 5 && c.overlay >= 5 && c.overlayForecast >= 5 && c.view >= 5", 40_000)
        assert c["status"] == "ok", c["text"]
        assert c["errors"] == 0 and not problems, (c, problems)
        assert "phd" in c["text"] or page.input_value("#model") in c["text"]
        # the keypoints lie on the person: inside the clip's picture (letterboxed to x 185..455), and tall
        x0, y0, x1, y1 = (float(v) for v in c["box"].split())
        assert 185 <= x0 < x1 <= 455, c["box"]
        assert y1 - y0 > 200, c["box"]  # her whole body, in a 480-pixel-high frame
        # drawn: green keypoints and the orange forecast on the image, the forecast in the 3D view
        _drawn(page, "overlay", "--green", 30, 100)
        _drawn(page, "overlay", "--orange", 30, 100)
        _drawn(page, "view3d", "--orange", 8, 200)
        _drawn(page, "view3d", "--blue", 8, 100)
        _screenshot(page, tmp_path / "serve_page_camera.png")
    finally:
        browser.close()
