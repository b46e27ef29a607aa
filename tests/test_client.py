"""`posecast.client` against a real `posecast serve` (uvicorn in a thread on a free loopback port): the REST
forecast equals the library's, z-up round trips, stream replies equal the model on the session's history
window, tokens, and errors that carry the server's message."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("websockets")


import posecast  # noqa: E402
from posecast import client as pc  # noqa: E402
from posecast.client import Client, ServiceBusy, ServiceError, ServiceUnavailable  # noqa: E402
from posecast.errors import ValueRangeError  # noqa: E402
from posecast.models import get  # noqa: E402
from posecast.synthetic import synthetic_walk  # noqa: E402

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def url(serving) -> Iterator[str]:
    with serving(warm=False) as u:  # the first forecast loads the model
        yield u


@pytest.fixture(scope="module")
def client(url: str) -> Client:
    return Client(url, timeout=30)


@pytest.fixture(scope="module")
def walk() -> posecast.Motion:
    return synthetic_walk(seconds=3.0, fps=30.0)


def _z_up(p: np.ndarray) -> np.ndarray:
    """PoseCast's y-up (x, y, z) → z-up (x forward, y left, z up): (x, -z, y), by hand."""
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


# ---------------------------------------------------------------------------------------------- REST
def test_health_and_models(client: Client):
    health = client.health()
    assert health["status"] == "ok" and health["version"] == posecast.__version__
    models = {m["name"]: m for m in client.models()}
    default = models[health["model"]]
    assert default["default"] and default["served"]["stream"] and default["served"]["forecast"]
    assert not models["nearest-neighbour"]["served"]["forecast"]  # needs fitting: not served
    assert client.stats()["forecasts"] >= 0


def test_rest_forecast_equals_the_library(client: Client, walk: posecast.Motion):
    result = client.forecast(walk.positions, walk.skeleton, walk.fps, seconds=1.0)
    direct = posecast.forecast(walk, seconds=1.0)  # the same default model, in this process
    assert result.model == direct.model == client.health()["model"]
    assert result.positions.shape == (1, 30, walk.num_joints, 3) and result.best.shape == (30, walk.num_joints, 3)
    assert result.joints == walk.skeleton.joint_names and result.up == "y" and result.probabilities is None
    assert result.fps == 30.0 and result.seconds == pytest.approx(1.0)
    np.testing.assert_allclose(result.positions, direct.samples, atol=1e-4)
    # the forecast moves on: the walk goes forward along +z at 1.3 m/s, so does the predicted pelvis
    advance = result.positions[0, -1, 0, 2] - walk.positions[-1, 0, 2]
    assert 0.5 < advance < 2.0
    assert result.repaired_glitches == () and result.carried_joints == () and result.history_jitter_m is None
    # a hand the tracker put at the origin for the last frames: carried with the body, and said; smooth passes on
    lost = walk.positions.copy()
    lost[-3:, 20] = 0.0
    carried = client.forecast(lost, walk.skeleton, walk.fps, seconds=0.2, smooth=0.2)
    assert carried.carried_joints == ({"joint": walk.skeleton.joint_names[20], "lost_from_frame": len(lost) - 3},)
    direct = posecast.forecast(posecast.Motion(lost, walk.fps, walk.skeleton), seconds=0.2, smooth=0.2)
    np.testing.assert_allclose(carried.positions, direct.samples, atol=1e-4)


def test_rest_forecast_z_up_round_trip(client: Client, walk: posecast.Motion):
    y_up = client.forecast(walk, seconds=0.5)
    z_up = client.forecast(_z_up(walk.positions), walk.skeleton, walk.fps, seconds=0.5, up="z")
    assert z_up.up == "z"
    np.testing.assert_allclose(z_up.positions, _z_up(y_up.positions), atol=1e-4)
    head, foot = walk.skeleton.index("Head"), walk.skeleton.index("LeftFoot")
    assert (z_up.positions[0, :, head, 2] > z_up.positions[0, :, foot, 2] + 1.0).all()  # z is up


def test_real_bvh_file_upload_and_inline_skeleton(client: Client, cmu_bvh_dir):
    path = cmu_bvh_dir / "02" / "02_01.bvh"  # a walk of a test subject, 120 Hz
    local = posecast.load(path)
    motion = client.motion(path)  # read by the server
    assert motion.fps == local.fps and motion.skeleton.joint_names == local.skeleton.joint_names
    np.testing.assert_allclose(motion.positions, local.positions, atol=1e-4)
    direct = posecast.forecast(local, seconds=0.25)
    uploaded = client.forecast_file(path, seconds=0.25)
    assert uploaded.positions.shape == (1, 30, local.num_joints, 3)
    np.testing.assert_allclose(uploaded.positions, direct.samples, atol=1e-4)
    # the file's skeleton is no registered one: the client sends it inline (joints, parents, offsets)
    assert isinstance(pc.skeleton_spec(local.skeleton), dict)
    inline = client.forecast(local, seconds=0.25)
    np.testing.assert_allclose(inline.positions, direct.samples, atol=1e-4)


def test_rest_errors_carry_the_server_message(client: Client, walk: posecast.Motion):
    with pytest.raises(ServiceError) as err:
        client.forecast(walk.positions[:, :5], walk.skeleton, walk.fps)
    assert err.value.status == 400 and err.value.error == f"positions has 5 joints, the skeleton {walk.num_joints}"
    with pytest.raises(ServiceError, match="no-such-model") as err:
        client.forecast(walk, model="no-such-model")
    assert 400 <= err.value.status < 500
    with pytest.raises(ServiceError, match="unknown skeleton 'no-such-skeleton'") as err:
        client.forecast(walk.positions, "no-such-skeleton", 30.0)
    assert err.value.status == 400
    with pytest.raises(ServiceError, match=r"fps") as err:
        client.forecast(walk.positions, walk.skeleton, 1000.0)
    assert err.value.status == 400
    with pytest.raises(ServiceError) as err:
        client.forecast(walk, seconds=-1.0)
    assert err.value.status == 422 and "seconds" in err.value.error


def test_unreachable_server_raises_service_unavailable():
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = Client(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(ServiceUnavailable, match="cannot reach"):
        dead.health()
    with pytest.raises(ServiceUnavailable):
        dead.stream("cmu-bvh-31", fps=30)
    assert issubclass(ServiceUnavailable, ConnectionError) and issubclass(ServiceError, posecast.PosecastError)


# ---------------------------------------------------------------------------------------------- streams
@functools.cache
def _model(name: str):
    return get(name)


def _direct(model: str, skeleton, window: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """The model on one history window ``(T, J, 3)``: ``(F, J, 3)``."""
    return _model(model).on_skeleton(skeleton).predict(window[None], frames, 1, fps=fps)[0, 0]


def test_stream_replies_equal_the_model_on_the_history_window(client: Client, walk: posecast.Motion):
    with client.stream(walk.skeleton, fps=walk.fps, seconds=1.0) as stream:
        info = stream.info
        keep, frames, model = info["history_frames"], info["frames"], info["model"]
        assert frames == 30 and info["joints"] == list(walk.skeleton.joint_names)
        n = keep + 10  # past the window: the session keeps only the newest `keep` frames
        assert n <= walk.num_frames
        replies = []
        for i in range(n):
            t = i / walk.fps
            stream.send(t, walk.positions[i])
            reply = stream.recv(timeout=10)  # one frame in flight: every frame gets its own reply
            assert reply.t == t
            replies.append(reply)
    waiting = [r for r in replies if r.waiting]
    assert waiting and all(r.forecast is None and r.frames < r.needed for r in waiting)
    forecasts = [(i, r) for i, r in enumerate(replies) if not r.waiting]
    assert len(waiting) + len(forecasts) == n and forecasts[0][0] == waiting[-1].needed - 1
    assert all(r.skipped == 0 for _, r in forecasts[1:])
    for _, r in forecasts:
        assert r.forecast.shape == (frames, walk.num_joints, 3) and r.model == model and r.compute_ms > 0
    for i in (forecasts[0][0], keep - 1, keep, n - 1):
        window = walk.positions[max(0, i + 1 - keep) : i + 1]
        expected = _direct(model, walk.skeleton, window, frames, walk.fps)
        np.testing.assert_allclose(replies[i].forecast, expected, atol=1e-4)


def test_stream_coalesces_and_answers_the_newest_frame(client: Client, walk: posecast.Motion):
    """Frames sent faster than they are read: replies come for increasing frames, the last for the last frame."""
    z = _z_up(walk.positions)
    with client.stream("cmu-bvh-31", fps=walk.fps, seconds=0.5, up="z") as stream:
        keep, frames, model = stream.info["history_frames"], stream.info["frames"], stream.info["model"]
        n = 40
        for i in range(n):
            stream.send(i / walk.fps, z[i])
        last_t = (n - 1) / walk.fps
        replies = []
        while not replies or replies[-1].t != last_t:
            replies.append(stream.recv(timeout=10))
        assert stream.latest() is None  # nothing newer is coming
        assert stream.last is replies[-1]
    times = [r.t for r in replies]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert sum(r.skipped + 1 for r in replies) <= n
    window = walk.positions[n - keep : n] if n >= keep else walk.positions[:n]
    expected = _z_up(_direct(model, walk.skeleton, window, frames, walk.fps))
    np.testing.assert_allclose(replies[-1].forecast, expected, atol=1e-4)


def test_stream_errors_raise_and_the_session_goes_on(client: Client, walk: posecast.Motion):
    with client.stream(walk.skeleton, fps=walk.fps) as stream:
        stream.send(1.0, walk.positions[0])
        stream.recv(timeout=10)
        stream.send(0.5, walk.positions[1])  # time going backwards
        with pytest.raises(ServiceError, match="does not come after") as err:
            stream.recv(timeout=10)
        assert err.value.status is None
        stream.send(2.0 / walk.fps + 1.0, walk.positions[1])
        assert stream.recv(timeout=10).t == pytest.approx(1.0 + 2.0 / walk.fps)
        with pytest.raises(posecast.PosecastError, match="31×3"):
            stream.send(3.0, walk.positions[0, :5])  # refused before it leaves
    with pytest.raises(ServiceError, match="no-such-model"):
        client.stream(walk.skeleton, fps=walk.fps, model="no-such-model")


def test_latest_never_waits_and_raises_errors_once(client: Client, walk: posecast.Motion):
    with client.stream(walk.skeleton, fps=walk.fps) as stream:
        t0 = time.perf_counter()
        assert stream.latest() is None and time.perf_counter() - t0 < 0.05
        for i in range(5):
            stream.send(i / walk.fps, walk.positions[i])
        stream.send(0.0, walk.positions[0])  # an error after the frames
        errors, newest = [], None
        deadline = time.monotonic() + 10
        while (newest is None or newest.t != 4 / walk.fps) and time.monotonic() < deadline:
            try:
                newest = stream.latest() or newest
            except ServiceError as exc:
                errors.append(exc.error)
            time.sleep(0.01)
        assert len(errors) == 1 and "does not come after" in errors[0]
        assert newest is stream.last and newest.kind == "forecast" and newest.t == 4 / walk.fps
        assert stream.latest() is None


def test_the_docstring_robot_loop_runs(url: str):
    block = re.search(r"never block::\n\n((?:    .*\n|\n)+)", pc.__doc__).group(1)
    code = "\n".join(line[4:] for line in block.splitlines())
    assert len([line for line in code.splitlines() if line.strip() and not line.startswith(("import", "from"))]) <= 10
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("http://127.0.0.1:8000", url), "robot-loop", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines and all(re.fullmatch(r"t=\d+\.\d\d s: 30 future frames", line) for line in lines)


# ---------------------------------------------------------------------------------------------- tokens
def test_token_is_required_and_accepted(walk: posecast.Motion, serving):
    with serving(token=TOKEN, warm=False) as u:
        with pytest.raises(ServiceError, match="token") as err:
            Client(u).health()
        assert err.value.status == 401
        with pytest.raises(ServiceError) as err:
            Client(u, token="wrong").forecast(walk, seconds=0.2)
        assert err.value.status == 401
        with pytest.raises(ServiceError, match="token"):
            Client(u).stream(walk.skeleton, fps=walk.fps)
        good = Client(u, token=TOKEN, timeout=30)
        assert good.health()["status"] == "ok"
        assert good.forecast(walk, seconds=0.2).positions.shape == (1, 6, walk.num_joints, 3)
        with good.stream(walk.skeleton, fps=walk.fps, seconds=0.2) as stream:
            for i in range(3):
                stream.send(i / walk.fps, walk.positions[i])
                reply = stream.recv(timeout=10)
            assert reply.forecast.shape == (6, walk.num_joints, 3)


def test_a_body_over_the_upload_bound_raises_the_servers_413_not_unreachable(walk: posecast.Motion, serving):
    """QA: a request over ``--max-upload`` was reported as "cannot reach the server" (the server answers 413 at once
    and closes the connection while the client still sends); now the 413 with both sizes, and the server serves on."""
    from posecast.serve.engine import Limits

    bound = 200_000
    with serving(limits=Limits(rest_body_bytes=bound), warm=False) as u:
        c = Client(u, timeout=30)
        long = np.tile(walk.positions, (40, 1, 1))  # 3,600 frames: about 2 MB of JSON
        for _ in range(2):
            with pytest.raises(ServiceError) as err:
                c.forecast(long, walk.skeleton, walk.fps, seconds=0.2)
            assert err.value.status == 413 and f"bound of {bound} bytes" in err.value.error, err.value
        assert c.forecast(walk, seconds=0.2).positions.shape == (1, 6, walk.num_joints, 3)


# ---------------------------------------------------------------------------------------------- video
def test_video_stream_of_a_real_clip(client: Client, video_dir):
    pytest.importorskip("mediapipe")
    from posecast.video.decode import iter_frames

    images = []
    for t, rgb in iter_frames(video_dir / "squats_pexels_tfjs.mp4"):
        images.append((t, pc.encode_jpeg(rgb[::2, ::2].copy())))  # 360×640 JPEG
        if len(images) == 3:
            break
    with client.video(seconds=1.0) as video:
        fps, joints = video.info["fps"], len(video.info["joints"])
        for t, jpeg in images:
            video.send(t, jpeg)
            reply = video.recv(timeout=60)
            assert reply.t == t and reply.detected
            assert reply.keypoints.shape[1] == 2 and reply.visibility.shape == (reply.keypoints.shape[0],)
            assert reply.forecast.shape == (round(fps), joints, 3)
            assert reply.forecast_pixels.shape == (round(fps), joints, 2)
            # the woman fills the middle of the portrait frame: her keypoints lie inside the image
            seen = reply.keypoints[reply.visibility > 0.5]
            assert len(seen) and (seen[:, 0] > 0).all() and (seen[:, 0] < 360).all()
        video.send(images[-1][0], images[-1][1])  # the same time again: an error, the session goes on
        with pytest.raises(ServiceError, match="does not come after"):
            video.recv(timeout=60)


def test_a_server_with_a_self_signed_certificate_is_reached_with_cafile(serving, tmp_path, walk):
    """`posecast serve --ssl-certfile` with a self-signed certificate (a camera on another machine): the client
    trusts it with ``cafile`` over REST and streams, and without it says what to do."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to test with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with serving(warm=False, tls=(str(cert), str(key))) as url:
        assert url.startswith("https://")
        with pytest.raises(ServiceUnavailable, match=r"cafile='cert.pem'"):
            Client(url, timeout=30).health()
        trusted = Client(url, timeout=30, cafile=cert)
        assert trusted.health()["status"] == "ok"
        with trusted.stream(walk.skeleton, fps=walk.fps, seconds=0.4) as stream:
            replies = []
            for i in range(3):
                stream.send(i / walk.fps, walk.positions[i])
                replies.append(stream.recv(timeout=30))
            assert replies[-1].forecast is not None and replies[-1].forecast.shape == (12, walk.num_joints, 3)
    with pytest.raises(ValueRangeError, match="no such certificate file"):
        Client("https://127.0.0.1:1", cafile=tmp_path / "missing.pem")
    with pytest.raises(ValueRangeError, match="cafile applies to https:// servers"):
        Client("http://127.0.0.1:1", cafile=cert)


def _raw_stream_socket(url: str, rcvbuf: int) -> socket.socket:
    """A client socket on ``/v1/stream`` after the WebSocket handshake, with a tiny receive buffer (reads nothing)."""
    import base64
    import os

    host, port = url.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        f"GET /v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0]
    return s


def _masked(text: str) -> bytes:
    """A masked client text frame."""
    import os
    import struct

    payload, mask = text.encode(), os.urandom(4)
    n = len(payload)
    head = struct.pack("!BB", 0x81, 0x80 | n) if n < 126 else (
        struct.pack("!BBH", 0x81, 0x80 | 126, n) if n < 65536 else struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    )  # fmt: skip
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def test_a_client_that_stops_reading_gives_its_session_slot_back_after_idle(serving):
    """A client that never reads its (large) replies and then goes silent, socket open: the server's close would wait
    for it to read; bounded, the session's slot is free again shortly after the idle time (it had been held for as
    long as the client stayed connected, while /health said 0 sessions)."""
    from posecast.serve.engine import Limits

    walk = synthetic_walk(seconds=2.0, fps=120.0)
    with serving(warm=False, limits=Limits(sessions=1, idle_seconds=1.0)) as url:
        stuck = _raw_stream_socket(url, 4096)
        try:
            stuck.sendall(_masked(json.dumps({"skeleton": "cmu-bvh-31", "fps": 120, "seconds": 30.0})))
            for i in range(240):  # replies of 3600 frames each pile up in the server's send buffer
                stuck.sendall(_masked(json.dumps({"t": i / 120, "positions": walk.positions[i].tolist()})))
                time.sleep(1 / 120)
            deadline = time.monotonic() + 20.0
            while True:  # idle after 1 s, the close given up 2 s later: a new session opens
                try:
                    with Client(url, timeout=5).stream(walk.skeleton, fps=30.0, seconds=0.4):
                        break
                except ServiceBusy as exc:  # the full server's 1013, told apart from other refusals
                    assert "sessions already" in str(exc) and isinstance(exc, ServiceError)
                    assert time.monotonic() < deadline, "the stuck client's slot was never given back"
                    time.sleep(0.5)
        finally:
            stuck.close()


def test_a_full_server_refuses_a_new_stream_as_busy(serving):
    """QA: the server's "try again later" (close code 1013 at --max-sessions) reached the client as a plain
    `ServiceError`, like any refused opening. It is `ServiceBusy` (a `ServiceError`); other refusals are not."""
    from posecast.serve.engine import Limits

    walk = synthetic_walk(seconds=1.0, fps=30.0)
    with serving(warm=False, limits=Limits(sessions=1)) as url:
        client = Client(url, timeout=10)
        with client.stream(walk.skeleton, fps=30.0, seconds=0.4):
            with pytest.raises(ServiceBusy, match="sessions already"):
                with client.stream(walk.skeleton, fps=30.0, seconds=0.4):
                    pass
        start = time.monotonic()
        with pytest.raises(ServiceError) as refused:  # a bad opening: an error, not "busy", and at once
            with client.stream(walk.skeleton, fps=30.0, seconds=-1.0):
                pass
        assert not isinstance(refused.value, ServiceBusy)
        assert time.monotonic() - start < 0.8  # (a review: a wait for a close code had made it take 1 s)
        with client.stream(walk.skeleton, fps=30.0, seconds=0.4) as stream:  # the slot is free again
            assert stream.info["type"] == "ready"


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``sock`` (reads EOF or a reset), sending ``trickle`` one byte every 0.1 s
    meanwhile; fails after ``seconds``."""
    sock.settimeout(0.1)
    start = time.monotonic()
    for i in range(int(seconds / 0.1)):
        try:
            if trickle:
                sock.sendall(trickle[i % len(trickle) : i % len(trickle) + 1])
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    raise AssertionError(f"the connection was still open after {seconds} s")


def test_half_sent_requests_are_closed_and_the_server_goes_on(serving, monkeypatch, walk):
    """Left open by the soak test: uvicorn held a connection whose request headers never finished (or whose body
    never came) for as long as the client kept it open, before any token check; a client trickling a byte now and
    then also cancels its keep-alive timer. The head must arrive within `HEAD_SECONDS` of the connection (or of the
    previous response), the body within ``Limits.request_seconds`` of the head (`posecast.serve.deadlines`); a request
    that has arrived and a WebSocket session are not timed."""
    from posecast.serve import deadlines
    from posecast.serve.engine import Limits

    monkeypatch.setattr(deadlines, "HEAD_SECONDS", 0.6)
    with serving(warm=False, token=TOKEN, limits=Limits(request_seconds=1.0)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as head:  # the headers trickled, never finished
            head.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            assert 0.4 < _closed_within(head, 5.0, trickle=b"X-Slow: y") < 3.0
        with socket.create_connection(("127.0.0.1", port)) as body:  # 10 of 1000 bytes of a body
            body.sendall(
                b"POST /v1/forecast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + TOKEN.encode() + b'\r\nContent-Length: 1000\r\n\r\n{"skeleton"'
            )
            assert 0.8 < _closed_within(body, 6.0) < 4.0
        with socket.create_connection(("127.0.0.1", port)) as idle:  # a kept-alive connection, then a trickled head
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
            idle.settimeout(5.0)
            assert idle.recv(4096).startswith(b"HTTP/1.1 200")
            assert _closed_within(idle, 5.0, trickle=b"G") < 3.0
        client = Client(url, token=TOKEN, timeout=30)
        assert client.health()["status"] == "ok"  # the server goes on
        with client.stream(walk.skeleton, fps=walk.fps, seconds=0.4) as stream:  # a session outlives both deadlines
            for i in range(60):
                stream.send(i / walk.fps, walk.positions[i])
                assert stream.recv(timeout=10).t == pytest.approx(i / walk.fps)
                time.sleep(0.03)
        result = client.forecast(walk.positions, walk.skeleton, walk.fps, seconds=0.4)  # a whole request: answered
        assert result.positions.shape[2] == walk.num_joints
