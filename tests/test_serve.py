"""`posecast serve`: REST and stream answers equal the models called directly, the wire format's rules
(z up, inline skeletons, errors as ``{"error"}`` and 4xx), bounds and faults (the server stays up)."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import posecast  # noqa: E402
from posecast import models, skeletons  # noqa: E402
from posecast.motion import Motion  # noqa: E402
from posecast.serve import Limits, create_app  # noqa: E402
from posecast.serve.engine import Z_UP_TO_Y_UP, Batcher, Models, _Job, open_stream  # noqa: E402
from posecast.synthetic import synthetic_walk  # noqa: E402

SKEL = "cmu-bvh-31"


@pytest.fixture(scope="module")
def walk() -> Motion:
    return synthetic_walk(seconds=4.0, fps=30.0)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(warm=False)) as c:
        yield c


def _request(walk: Motion, **extra) -> dict:
    return {"skeleton": SKEL, "fps": walk.fps, "positions": walk.positions[:60].tolist(), "seconds": 0.5, **extra}


# ------------------------------------------------------------------------------------------- REST
def test_health_models_and_openapi(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["model"] == models.default_model("motion").name
    assert h["limits"]["ws_message_bytes"] == 1 << 20 and h["limits"]["sessions"] == 256
    assert type(h["limits"]["joints"]) is int and type(h["limits"]["fps"]) is float  # counts as JSON integers
    listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert listed["dct-mlp"]["served"] == {"stream": True, "forecast": True, "video": False}
    assert listed["phd"]["served"]["video"] and not listed["nearest-neighbour"]["served"]["forecast"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/v1/models", "/v1/forecast", "/v1/forecast/upload", "/v1/motions"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and page.text.lower().startswith("<!doctype html")


def test_rest_forecast_equals_the_model(client, walk):
    r = client.post("/v1/forecast", json=_request(walk))
    assert r.status_code == 200, r.text
    body = r.json()
    got = np.asarray(body["positions"])
    direct = posecast.forecast(walk.frames(0, 60), seconds=0.5)
    assert got.shape == (1, 15, 31, 3) and body["model"] == direct.model and body["fps"] == 30.0
    np.testing.assert_allclose(got, direct.samples, atol=1e-5)  # replies are rounded to 0.01 mm
    assert body["joints"] == list(skeletons.get(SKEL).joint_names) and body["probabilities"] is None


def test_z_up_round_trip_and_inline_skeleton(client, walk):
    y = np.asarray(client.post("/v1/forecast", json=_request(walk)).json()["positions"])
    z_in = walk.positions[:60] @ Z_UP_TO_Y_UP  # y-up → z-up (x forward, y left, z up)
    rz = client.post("/v1/forecast", json=_request(walk, positions=z_in.tolist(), up="z")).json()
    assert rz["up"] == "z"
    np.testing.assert_allclose(np.asarray(rz["positions"]) @ Z_UP_TO_Y_UP.T, y, atol=2e-5)
    skel = skeletons.get(SKEL)
    inline = {"name": "my-rig", "joints": list(skel.joint_names), "parents": list(skel.parents)}
    inline["offsets"] = skel.offsets.tolist()
    ri = client.post("/v1/forecast", json=_request(walk, skeleton=inline)).json()
    assert ri["skeleton"] == "my-rig"
    np.testing.assert_allclose(np.asarray(ri["positions"]), y, atol=2e-5)


def _shuffled(skel) -> tuple[dict, np.ndarray]:
    """``skel`` as an inline skeleton whose joints are listed in reverse (every parent after its child, the
    root last, as some SDKs list them), and the permutation ``perm`` (given joint i = skeleton joint perm[i])."""
    perm = np.arange(skel.num_joints)[::-1]
    where = np.argsort(perm)
    parents = [-1 if skel.parents[k] < 0 else int(where[skel.parents[k]]) for k in perm]
    inline = {"name": "reversed", "joints": [skel.joint_names[k] for k in perm], "parents": parents}
    inline["offsets"] = skel.offsets[perm].tolist()
    return inline, perm


def test_an_inline_skeleton_in_any_joint_order_round_trips(client, walk):
    y = np.asarray(client.post("/v1/forecast", json=_request(walk)).json()["positions"])
    inline, perm = _shuffled(skeletons.get(SKEL))
    given = walk.positions[:60][:, perm]
    body = client.post("/v1/forecast", json=_request(walk, skeleton=inline, positions=given.tolist())).json()
    assert body["joints"] == inline["joints"]
    np.testing.assert_allclose(np.asarray(body["positions"]), y[..., perm, :], atol=2e-5)  # in the order given
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": inline, "fps": 30, "seconds": 0.5}))
        ready = ws.receive_json()
        assert ready["joints"] == inline["joints"] and ready["parents"] == inline["parents"]
        keep = ready["history_frames"]
        for i in range(keep + 3):
            ws.send_text(json.dumps({"t": i / 30, "positions": walk.positions[i][perm].tolist()}))
        reply = _until_forecast(ws, (keep + 2) / 30)
        bound = models.get(ready["model"]).on_skeleton(skeletons.get(SKEL))
        direct = bound.predict(walk.positions[3 : keep + 3][None], 15, 1, fps=30.0)[0, 0]
        np.testing.assert_allclose(np.asarray(reply["forecast"]), direct[:, perm], atol=1e-5)
    cycle = {"name": "loop", "joints": ["a", "b", "c"], "parents": [-1, 2, 1]}
    r = client.post("/v1/forecast", json=_request(walk, skeleton=cycle, positions=[[[0.0, 0.0, 0.0]] * 3] * 10))
    assert r.status_code == 400 and "not connected to the root" in r.json()["error"]


def test_keypose_model_gives_hypotheses_with_probabilities(client, walk):
    r = client.post("/v1/forecast", json=_request(walk, model="charpose", samples=4)).json()
    p = np.asarray(r["probabilities"])
    assert np.asarray(r["positions"]).shape == (4, 1, 31, 3) and p.shape == (4,)
    assert abs(p.sum() - 1) < 1e-5 and (p >= 0).all()


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"model": "no-such-model"}, 400, "unknown model"),
        ({"model": "phd"}, 400, "video model"),
        ({"model": "nearest-neighbour"}, 400, "training motions"),
        ({"skeleton": "no-such-skeleton"}, 400, "unknown skeleton"),
        ({"positions": [[[0.0, 0.0, 0.0]] * 5]}, 400, "5 joints"),
        ({"positions": [[[0.0, 0.0]] * 31]}, 400, "J×3"),
        ({"fps": 500.0}, 400, "frame-rate bound"),
        ({"fps": -1.0}, 422, "fps"),
        ({"fps": 1e-4}, 400, "frame-rate bound"),  # one frame would span hours: unbounded work
        ({"fps": True}, 422, "fps"),  # JSON true is not a frame rate
        ({"fps": "30"}, 422, "fps"),
        ({"fps": 1.0, "positions": [[[0.0, 0.0, 0.0]] * 31] * 1001}, 400, "history spans 1001 s"),
        ({"samples": 101}, 422, "samples"),
        ({"seconds": 100.0}, 400, "horizon bound"),
        ({"up": "x"}, 422, "up"),
        ({"skeleton": {"joints": ["a", "b"], "parents": [-1, 5]}}, 400, "parent"),
    ],
)
def test_bad_requests_get_4xx_with_an_error_body(client, walk, change, status, words):
    r = client.post("/v1/forecast", json=_request(walk, **change))
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and words in r.json()["error"]


def test_nan_and_garbage_bodies(client, walk):
    body = json.dumps(_request(walk)).replace("[", "[NaN, ", 1)  # malformed nesting with a NaN
    r = client.post("/v1/forecast", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422) and "error" in r.json()
    req = _request(walk)
    req["positions"][3][2][1] = float("nan")
    r = client.post("/v1/forecast", content=json.dumps(req), headers={"content-type": "application/json"})
    assert r.status_code == 400 and "NaN" in r.json()["error"]
    req = _request(walk)
    req["positions"][3][2][1] = 1e300  # finite but no body's: refused naming the frame, not "the forecast has NaN"
    r = client.post("/v1/forecast", content=json.dumps(req), headers={"content-type": "application/json"})
    assert r.status_code == 400 and "more than 100000 m" in r.json()["error"], r.text
    r = client.post("/v1/forecast", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]
    r = client.post("/v1/forecast", content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "the body is empty" in r.json()["error"], r.text  # QA: was "Field required"
    assert client.get("/no/such/route").json() == {"error": "Not Found"}


def test_upload_bounds_and_file_errors(walk, tmp_path):
    from posecast.io import save

    bvh = tmp_path / "walk.bvh"
    save(walk, bvh)
    with TestClient(create_app(warm=False, limits=Limits(rest_body_bytes=200_000))) as c:
        r = c.post("/v1/forecast/upload", files={"file": ("walk.bvh", bvh.read_bytes())}, data={"seconds": "0.5"})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(
            np.asarray(r.json()["positions"]), posecast.forecast(walk, seconds=0.5).samples, atol=1e-4
        )
        # a file recorded z up, declared with up=z: the answer is in the file's own world
        from posecast.motion import Motion
        from posecast.serve.engine import Z_UP_TO_Y_UP

        zup = tmp_path / "walk_zup.npz"
        save(Motion(walk.positions @ Z_UP_TO_Y_UP, walk.fps, walk.skeleton), zup)  # y-up -> z-up
        r = c.post("/v1/forecast/upload", files={"file": ("walk_zup.npz", zup.read_bytes())}, data={"up": "z"})
        assert r.status_code == 200, r.text
        want = posecast.forecast(walk, seconds=1.0).samples @ Z_UP_TO_Y_UP
        np.testing.assert_allclose(np.asarray(r.json()["positions"]), want, atol=1e-4)
        amass = tmp_path / "amass.npz"  # AMASS is read y up already: up=z would turn it twice
        np.savez(amass, poses=np.zeros((30, 156)), trans=np.zeros((30, 3)), mocap_framerate=30.0)
        r = c.post("/v1/forecast/upload", files={"file": ("amass.npz", amass.read_bytes())}, data={"up": "z"})
        assert r.status_code == 400 and "send up=y" in r.json()["error"], r.text
        m = c.post("/v1/motions", files={"file": ("walk.bvh", bvh.read_bytes())}).json()
        assert m["fps"] == pytest.approx(30.0) and np.asarray(m["positions"]).shape == walk.positions.shape
        r = c.post("/v1/motions", files={"file": ("broken.bvh", b"HIERARCHY\nROOT oops {")})
        assert r.status_code == 400 and "broken.bvh" in r.json()["error"] and "/tmp" not in r.json()["error"]
        r = c.post("/v1/forecast/upload", files={"file": ("kick.amc", b":FULLY-SPECIFIED\n1\nroot 0 0 0 0 0 0\n")})
        err = r.json()["error"]  # an AMC without its ASF: the upload's field named, no server path, no CLI flag
        assert r.status_code == 400 and "form field 'asf'" in err and "/tmp" not in err and "--asf" not in err
        big = json.dumps(_request(walk, positions=np.zeros((2000, 31, 3)).tolist()))
        r = c.post("/v1/forecast", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "200000" in r.json()["error"]

        def chunks():  # the same body streamed, without a content-length
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536].encode()

        r = c.post("/v1/forecast", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "200000" in r.json()["error"], r.text
        # upload fields have the JSON bounds; odd file names are answered, not a 500
        r = c.post("/v1/forecast/upload", files={"file": ("walk.bvh", bvh.read_bytes())}, data={"samples": "1000000"})
        assert r.status_code == 400 and "samples" in r.json()["error"]
        for name in ("..", ".", "x" * 300 + ".bvh"):
            r = c.post("/v1/forecast/upload", files={"file": (name, bvh.read_bytes())}, data={"seconds": "0.5"})
            assert r.status_code in (200, 400), (name[:10], r.text)
        assert r.status_code == 200  # the long name kept its suffix
        fast = tmp_path / "fast.bvh"  # captured at 240 Hz, over the server's 120: resampled, not refused
        save(walk.seconds(0, 0.5).resample(240.0), fast)
        r = c.post("/v1/forecast/upload", files={"file": ("fast.bvh", fast.read_bytes())}, data={"seconds": "0.5"})
        assert r.status_code == 200 and r.json()["fps"] == pytest.approx(120.0), r.text
        # a gzip upload may not expand beyond 4 request bodies (here 800 kB): refused while it is read
        import gzip

        bomb = gzip.compress(bvh.read_bytes() + b"0 " * 600_000)
        assert len(bomb) < 200_000
        r = c.post("/v1/motions", files={"file": ("bomb.bvh.gz", bomb)})
        assert r.status_code == 400 and "larger than 800000 bytes" in r.json()["error"]
        assert c.get("/health").json()["status"] == "ok"


def test_token_is_required_everywhere():
    with TestClient(create_app(warm=False, token="s3cret")) as c:
        assert c.get("/health").status_code == 401 and "token" in c.get("/health").json()["error"]
        assert c.get("/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/health?token=s3cret").status_code == 200
        assert c.get("/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        with c.websocket_connect("/v1/stream") as ws:
            ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30}))
            assert "token" in ws.receive_json()["error"]
        with c.websocket_connect("/v1/stream") as ws:
            ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "token": "s3cret"}))
            assert ws.receive_json()["type"] == "ready"
        with c.websocket_connect("/v1/stream?token=s3cret") as ws:
            ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30}))
            assert ws.receive_json()["type"] == "ready"
        with c.websocket_connect("/v1/stream") as ws:  # without a token in the request: one try at the opening
            ws.send_text("{}")
            assert "opening message" in ws.receive_json()["error"]
            with pytest.raises(WebSocketDisconnect):
                ws.receive_json()


def test_clients_without_a_token_take_no_session_slot():
    limits = Limits(sessions=1, idle_seconds=5.0)
    with TestClient(create_app(warm=False, token="s3cret", limits=limits)) as c:
        opening = json.dumps({"skeleton": SKEL, "fps": 30, "model": "zero-velocity"})
        with c.websocket_connect("/v1/stream") as silent, c.websocket_connect("/v1/stream?token=s3cret") as ws:
            ws.send_text(opening)  # the silent, token-less socket does not hold the only slot
            assert ws.receive_json()["type"] == "ready"
            silent.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "token": "s3cret"}))
            assert "1 sessions" in silent.receive_json()["error"]


def test_a_binary_opening_message_is_answered():
    with TestClient(create_app(warm=False)) as c, c.websocket_connect("/v1/stream") as ws:
        ws.send_bytes(b"\x00\x01")
        assert "JSON text, not binary" in ws.receive_json()["error"]
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "model": "zero-velocity"}))
        assert ws.receive_json()["type"] == "ready"


def test_refuses_non_loopback_without_token():
    from posecast.errors import PosecastError
    from posecast.serve.app import is_loopback, run

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    with pytest.raises(PosecastError, match="without --token"):
        run(host="0.0.0.0", port=1)


# ------------------------------------------------------------------------------------------ streams
def _frame(walk: Motion, i: int) -> str:
    return json.dumps({"t": i / walk.fps, "positions": walk.positions[i].tolist()})


def _until_forecast(ws, t: float, limit: int = 200) -> dict:
    for _ in range(limit):
        r = ws.receive_json()
        if r.get("type") == "forecast" and r["t"] >= t - 1e-9:
            return r
    raise AssertionError("no forecast")


def test_stream_forecasts_equal_the_model_on_the_kept_window(client, walk):
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["frames"] == 15 and ready["joints"][0] == "Hips"
        assert ready["parents"] == list(skeletons.get(SKEL).parents)
        bound = models.get(ready["model"]).on_skeleton(skeletons.get(SKEL))
        keep = ready["history_frames"]
        assert keep == bound.history_frames(30.0)
        ws.send_text(_frame(walk, 0))
        assert ws.receive_json() == {"type": "waiting", "t": 0.0, "frames": 1, "needed": bound.min_history}
        n = keep + 10
        for i in range(1, n):
            ws.send_text(_frame(walk, i))
            reply = _until_forecast(ws, i / 30)  # one frame at a time: every frame answered, none skipped
            assert reply["t"] == pytest.approx(i / 30) and reply["skipped"] == 0
        window = walk.positions[max(0, n - keep) : n]
        direct = bound.predict(window[None], 15, 1, fps=30.0)[0, 0]
        np.testing.assert_allclose(np.asarray(reply["forecast"]), direct, atol=1e-5)


def test_a_stream_leaves_out_a_rest_pose_sent_first_as_rest_does(client, walk):
    posed = walk.positions[:40].copy()
    posed[0] = posed[1]
    posed[0, 18:21] += [0.0, 0.8, 0.0]  # frame 0 a rest pose: an arm 0.8 m off, 24 m/s to reach frame 1
    shown = Motion(posed, 30.0, SKEL)
    body = {"skeleton": SKEL, "fps": 30.0, "positions": posed.tolist(), "seconds": 0.5}
    reply = client.post("/v1/forecast", json=body).json()
    assert reply["history_starts_at_frame"] == 1
    rest = np.asarray(reply["positions"])[0]
    without = posecast.forecast(shown.frames(1), seconds=0.5).samples[0]  # the default model, whose window holds all
    np.testing.assert_allclose(rest, without, atol=1e-5)
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        ready = ws.receive_json()
        assert ready["history_frames"] > 40
        for i in range(40):
            ws.send_text(_frame(shown, i))
            reply = ws.receive_json()
        reply = reply if reply.get("type") == "forecast" else _until_forecast(ws, 39 / 30)
        assert reply["t"] == pytest.approx(39 / 30)
        np.testing.assert_allclose(np.asarray(reply["forecast"]), without, atol=1e-5)


def test_a_stream_decides_on_its_first_frames_once(walk):
    from posecast.motion import detached_start
    from posecast.serve.engine import StreamSession

    def session(keep: int) -> StreamSession:
        skel = skeletons.get(SKEL)
        return StreamSession("s", "m", None, skel, 30.0, 0.5, 15, keep, "y", 2)

    # a tracker swapping one joint 0.6 m away every third frame (18 m/s): nothing is a rest pose, nothing is cut
    noisy = walk.positions[:40].copy()
    noisy[4::3, 20] += [0.6, 0.0, 0.0]
    assert detached_start(noisy, 30.0) == 0
    s = session(60)
    for i, frame in enumerate(noisy):
        s.push(i / 30, frame)
        assert s.count == i + 1  # the history grows by one frame with every frame
    np.testing.assert_allclose(s.history(), noisy)
    # a rest pose, a frame, a glitch, then motion: the frames REST leaves out, and no more (keep 2 < 5 too)
    posed = walk.positions[:20].copy()
    posed[0, 18:21] += [0.0, 0.8, 0.0]
    posed[2, 7] += [0.0, 0.0, 0.6]
    skip = detached_start(posed, 30.0)
    assert skip == 3
    for keep in (60, 2):
        s = session(keep)
        for i, frame in enumerate(posed):
            s.push(i / 30, frame)
        assert s.count == 20 - skip
        np.testing.assert_allclose(s.history(), posed[skip:][-keep:])
    s.restart()  # a new timeline decides again
    rest = walk.positions[:3].copy()
    rest[0, 18:21] += [0.0, 0.8, 0.0]
    for i, frame in enumerate(rest):
        s.push(i / 30, frame)
    assert s.count == 2  # the rest pose left out as soon as frame 2 tells
    np.testing.assert_allclose(s.history(), rest[1:])


def test_stream_errors_keep_the_session(client, walk):
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text("{}")  # not an opening message: error, still waiting for one
        assert "skeleton" in ws.receive_json()["error"]
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "model": "zero-velocity", "seconds": 0.2}))
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(_frame(walk, 0))
        assert ws.receive_json()["type"] == "forecast"
        bad = [
            ("garbage", "not JSON"),
            (json.dumps({"t": 1.0}), "a frame is"),
            (json.dumps({"t": 1.0, "positions": [[0, 0, 0]] * 5}), "5 joints"),
            ('{"t": 1.0, "positions": [[NaN, 0, 0]]}', "not JSON"),
            (json.dumps({"t": 1.0, "positions": [[1e400, 0, 0]] * 31}).replace("inf", "1e400"), "JSON"),
            (json.dumps({"t": 1.0, "positions": [[1e300, 0, 0]] * 31}), "more than 100000 m"),  # finite, absurd
            (json.dumps({"t": 0.0, "positions": walk.positions[1].tolist()}), "does not come after"),
            (json.dumps({"t": "soon", "positions": walk.positions[1].tolist()}), "finite number"),
        ]
        for text, words in bad:
            ws.send_text(text)
            err = ws.receive_json()
            assert set(err) == {"error"} and words in err["error"], (text, err)
        ws.send_bytes(b"\x00\x01")
        assert "JSON text" in ws.receive_json()["error"]
        ws.send_text(_frame(walk, 1))
        r = ws.receive_json()
        assert r["type"] == "forecast" and r["t"] == pytest.approx(1 / 30)
        np.testing.assert_allclose(np.asarray(r["forecast"])[-1], walk.positions[1], atol=1e-5)  # zero velocity
        # a wild time does not leave the session stuck: a frame far earlier starts a new timeline
        ws.send_text(json.dumps({"t": 1e30, "positions": walk.positions[2].tolist()}))
        assert ws.receive_json()["type"] == "forecast"
        ws.send_text(json.dumps({"t": 3.0, "positions": walk.positions[3].tolist()}))
        r = ws.receive_json()
        assert r["type"] == "forecast" and r["t"] == pytest.approx(3.0)
        np.testing.assert_allclose(np.asarray(r["forecast"])[-1], walk.positions[3], atol=1e-5)
        ws.send_text(json.dumps({"t": 2.5, "positions": walk.positions[4].tolist()}))  # a little back: refused
        assert "does not come after" in ws.receive_json()["error"]


def test_bounds_sessions_messages_and_idle(walk):
    limits = Limits(sessions=2, ws_message_bytes=5000, idle_seconds=0.5)
    with TestClient(create_app(warm=False, limits=limits)) as c:
        opening = json.dumps({"skeleton": SKEL, "fps": 30, "model": "zero-velocity"})
        with c.websocket_connect("/v1/stream") as a, c.websocket_connect("/v1/stream") as b:
            a.send_text(opening)
            b.send_text(opening)
            assert a.receive_json()["type"] == b.receive_json()["type"] == "ready"
            with c.websocket_connect("/v1/stream") as third:
                assert "2 sessions" in third.receive_json()["error"]
            a.send_text(json.dumps({"t": 0, "positions": [[0.0, 0.0, 0.0]] * 31, "pad": "x" * 6000}))
            assert "5000-byte bound" in a.receive_json()["error"]
            a.send_text(_frame(walk, 0))
            assert a.receive_json()["type"] == "forecast"
            time.sleep(0.8)  # both idle past the bound: told and closed
            assert "no message for 0.5 s" in a.receive_json()["error"]
        assert c.get("/health").json()["sessions"] == 0


def test_micro_batch_across_skeletons_equals_one_by_one(walk):
    """Sessions on different skeletons share one canonical-body network call; each answer equals the
    session's own model call."""
    served = Models()
    lim = Limits()
    smpl = skeletons.get("smplh-22")
    walk_smpl = posecast.forecast(walk.frames(0, 60), model="zero-velocity", seconds=0.1)  # only for shapes
    assert walk_smpl.samples.shape[-2] == 31
    a = open_stream(served, lim, skeletons.get(SKEL), 30.0, 0.5, None, "y", None)
    b = open_stream(served, lim, skeletons.get(SKEL), 30.0, 0.5, None, "y", None)
    rng = np.random.default_rng(0)
    canon = a.forecaster.encode(walk.positions[None, :60])[0]  # the walk on the canonical body
    c = open_stream(served, lim, smpl, 30.0, 0.5, None, "y", None)
    for i in range(60):
        a.push(i / 30, walk.positions[i])
        b.push(i / 30, walk.positions[i] + rng.normal(0, 0.01, walk.positions[i].shape))
        c.push(i / 30, canon[i])
    jobs = [_Job(s, s.history(), s.t_last, time.perf_counter(), 0) for s in (a, b, c)]
    groups = Batcher._predict_group(jobs)
    for job, pred in zip(jobs, groups, strict=True):
        alone = job.session.forecaster.predict(job.history[None], 15, 1, fps=30.0)[0, 0]
        np.testing.assert_allclose(pred, alone, atol=1e-5)


# ------------------------------------------------------------------------------- a real server: faults
@pytest.fixture(scope="module")
def live(serving):
    """``host:port`` of a live server (conftest's `serving`)."""
    with serving(warm=False) as url:
        yield url.removeprefix("http://")


def test_faults_leave_the_server_up(live, walk):
    from urllib.request import urlopen

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    opening = json.dumps({"skeleton": SKEL, "fps": 30, "model": "zero-velocity"})
    # a 100 MB message: the connection is closed (1009, too big), nothing else happens
    with connect(f"ws://{live}/v1/stream", max_size=None) as ws:
        ws.send(opening)
        ws.recv()
        with pytest.raises(ConnectionClosed) as closed:
            ws.send("x" * (100 << 20))
            ws.recv(timeout=10)
        assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
    # a client that disconnects in the middle of a frame (half a WebSocket frame, then the socket closes)
    host, port = live.split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(
            b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        assert b"101" in raw.recv(4096).split(b"\r\n")[0]
        raw.sendall(b"\x81\xfe\x10\x00\x00\x00\x00\x00" + b"{" * 100)  # a 4096-byte text frame, cut short
    # 1,000 sessions opened and dropped (half of them mid-stream)
    for i in range(1000):
        with connect(f"ws://{live}/v1/stream") as ws:
            if i % 2:
                ws.send(opening)
                ws.recv()
                ws.send(_frame(walk, 0))
    time.sleep(0.3)
    health = json.loads(urlopen(f"http://{live}/health", timeout=10).read())
    assert health["status"] == "ok" and health["sessions"] == 0
    with connect(f"ws://{live}/v1/stream") as ws:  # a later session works
        ws.send(opening)
        assert json.loads(ws.recv())["type"] == "ready"
        ws.send(_frame(walk, 3))
        r = json.loads(ws.recv(timeout=10))
        np.testing.assert_allclose(np.asarray(r["forecast"])[0], walk.positions[3], atol=1e-5)


# ------------------------------------------------------------------------------------------- video
def _jpeg_frames(clip, count: int, size=(640, 480)) -> list[tuple[float, bytes]]:
    """The first ``count`` frames of ``clip`` as ``(t, JPEG bytes)`` at ``size``."""
    import cv2

    from posecast.video.decode import iter_frames

    out = []
    for t, rgb in iter_frames(clip):
        ok, jpg = cv2.imencode(".jpg", cv2.resize(rgb[..., ::-1], size), [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append((t, jpg.tobytes()))
        if len(out) == count:
            return out
    return out


def test_video_frames_give_keypoints_and_forecasts(client, video_dir):
    import struct

    pytest.importorskip("mediapipe", reason="the video extra is not installed")
    frames = _jpeg_frames(video_dir / "squats_pexels_tfjs.mp4", 12)
    with client.websocket_connect("/v1/video") as ws:
        # QA: a refused opening closed the socket here (1008) while /v1/stream lets the client try again; now both do
        ws.send_text(json.dumps({"seconds": 0.4, "model": "dct-mlp"}))
        assert "not a video model" in ws.receive_json()["error"]
        ws.send_text(json.dumps({"seconds": 0.4}))
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["skeleton"] == "body-17" and len(ready["parents"]) == 17
        ws.send_text("not a frame")
        assert "binary" in ws.receive_json()["error"]
        ws.send_bytes(b"\x00" * 5)
        assert "8-byte" in ws.receive_json()["error"]
        ws.send_bytes(struct.pack("<d", 0.0) + b"not an image")
        assert "cannot read as an image" in ws.receive_json()["error"]
        replies = []
        for t, jpg in frames:  # one frame in flight, as a camera client does
            ws.send_bytes(struct.pack("<d", t) + jpg)
            replies.append(ws.receive_json())
        ws.send_bytes(struct.pack("<d", frames[0][0]) + frames[0][1])  # time going back
        assert "does not come after" in ws.receive_json()["error"]
    last = replies[-1]
    assert all(r["type"] == "forecast" for r in replies) and last["detected"]
    assert last["t"] == pytest.approx(frames[-1][0]) and last["skipped"] == 0
    kp = np.asarray(last["keypoints"], dtype=float)
    assert kp.shape == (33, 2) and np.nanmin(kp) >= 0 and np.nanmax(kp[:, 0]) <= 640  # pixels of the 640×480 frame
    fut, pix = np.asarray(last["forecast"]), np.asarray(last["forecast_pixels"])
    assert fut.shape == (10, 17, 3) and pix.shape == (10, 17, 2)  # 0.4 s at the model's 25 fps
    # the projected forecast starts near the person: within a quarter of the image of the detected hips
    hips = kp[[23, 24]].mean(axis=0)
    assert np.linalg.norm(pix[0, 0] - hips) < 160


def test_serving_without_mirror_averaging_runs_the_network_once(walk):
    """``--no-mirror-average``: the forecast is the network's on the window alone (not averaged with its
    mirror image), and differs from the default by the averaging."""
    from posecast.serve.engine import _no_mirror_average

    plain = models.get("dct-mlp")
    _no_mirror_average(plain)
    assert not any(plain.variant(v).config.mirror_average for v in plain.variants)
    with TestClient(create_app(warm=False, mirror_average=False)) as c:
        assert c.get("/health").json()["mirror_average"] is False
        got = np.asarray(c.post("/v1/forecast", json=_request(walk)).json()["positions"])
    np.testing.assert_allclose(
        got, posecast.api.forecast_motion(plain, walk.frames(0, 60), seconds=0.5).samples, atol=1e-5
    )
    averaged = posecast.forecast(walk.frames(0, 60), seconds=0.5).samples
    assert np.abs(got - averaged).max() > 1e-4


def test_dropped_frames_are_filled_on_the_frame_grid(walk):
    """A stream that loses frames keeps its history on the fps grid: the missing frames are interpolated,
    so the model sees the full stream's history with those frames replaced by the interpolation."""
    served, lim = Models(), Limits()
    full = open_stream(served, lim, skeletons.get(SKEL), 30.0, 0.5, None, "y", None)
    lossy = open_stream(served, lim, skeletons.get(SKEL), 30.0, 0.5, None, "y", None)
    expected = walk.positions[:70].copy()
    for i in range(70):
        full.push(i / 30, expected[i])
        if i not in (40, 41, 55):  # packets lost
            lossy.push(i / 30 + 0.004 * (-1) ** i, walk.positions[i])  # with a few ms of jitter
    expected[40] = walk.positions[39] + (walk.positions[42] - walk.positions[39]) / 3
    expected[41] = walk.positions[39] + (walk.positions[42] - walk.positions[39]) * 2 / 3
    expected[55] = (walk.positions[54] + walk.positions[56]) / 2
    assert lossy.count == full.count == 70
    np.testing.assert_allclose(lossy.history(), expected[70 - lossy.keep :], atol=1e-12)
    assert lossy.unanswered == 67  # frames received, not filled


def test_a_video_session_frees_its_pose_graph_even_when_the_app_marked_it_closed_first():
    """The app sets ``closed`` to stop the session's loops, then calls ``close``: the MediaPipe graph (threads,
    about 100 MB) must still be freed, once."""
    from posecast.serve.video import VideoSession

    class Pose:
        closes = 0

        def close(self) -> None:
            Pose.closes += 1

    session = VideoSession("s", "lift+forecast", None, Pose(), "blazepose-33", 1.0, "y")
    session.closed = True
    session.close()
    session.close()
    assert Pose.closes == 1 and session.released


# ------------------------------------------------------------------- QA of the twenty-second session
def test_a_refused_frame_leaves_the_history_as_it_was(client, walk):
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        keep = ws.receive_json()["history_frames"]
        for i in range(keep + 2):
            ws.send_text(json.dumps({"t": 10 + i / 30, "positions": walk.positions[i].tolist()}))
        _until_forecast(ws, 10 + (keep + 1) / 30)
        ws.send_text(json.dumps({"t": 0, "positions": "garbage"}))  # far back (a new timeline) and refused
        assert "error" in ws.receive_json()
        ws.send_text(json.dumps({"t": 10 + (keep + 2) / 30, "positions": walk.positions[keep + 2].tolist()}))
        assert ws.receive_json()["type"] == "forecast"  # not "waiting": the history was kept


def test_frames_faster_than_the_declared_rate_are_warned_about(client, walk):
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        keep = ws.receive_json()["history_frames"]
        for i in range(keep + 5):  # 60 Hz frames on a stream opened at 30 fps
            ws.send_text(json.dumps({"t": i / 60, "positions": walk.positions[i].tolist()}))
        first = ws.receive_json()
        last = first if first.get("t") == (keep + 4) / 60 else _until_forecast(ws, (keep + 4) / 60)
        assert "warning" not in first  # too few gaps to tell at first
        assert "fps 60" in last["warning"] and "16.7 ms" in last["warning"], last.get("warning")
    with client.websocket_connect("/v1/stream") as ws:  # QA: frames 1 ms apart were told "open ... with fps 1000"
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        keep = ws.receive_json()["history_frames"]
        for i in range(keep + 5):
            ws.send_text(json.dumps({"t": i / 1000, "positions": walk.positions[i].tolist()}))
        warning = _until_forecast(ws, (keep + 4) / 1000)["warning"]
        assert "open the stream with fps" not in warning and "at most 120 frames/s" in warning, warning
    with client.websocket_connect("/v1/stream") as ws:  # the declared rate: no warning
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        keep = ws.receive_json()["history_frames"]
        for i in range(keep + 5):
            ws.send_text(json.dumps({"t": i / 30, "positions": walk.positions[i].tolist()}))
        assert "warning" not in _until_forecast(ws, (keep + 4) / 30)


def test_a_jump_of_over_a_second_says_why_the_history_started_over(client, walk):
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        ws.receive_json()
        ws.send_text(json.dumps({"t": 0.0, "positions": walk.positions[0].tolist()}))
        assert "note" not in ws.receive_json()
        ws.send_text(json.dumps({"t": 33.3, "positions": walk.positions[1].tolist()}))  # milliseconds sent as t
        reply = ws.receive_json()
        assert reply["type"] == "waiting" and reply["frames"] == 1
        assert "started over" in reply["note"] and "seconds" in reply["note"]


@pytest.mark.parametrize(
    ("positions", "status", "words"),
    [
        ("strings", 422, "number"),
        ("booleans", 422, "number"),
        ("millimetres", 400, "millimetres"),
        ("centimetres", 400, "centimetres"),
        ("one point", 400, "one point"),
    ],
)
def test_positions_that_are_not_metres_or_numbers_are_refused(client, walk, positions, status, words):
    pos = walk.positions[:60]
    value = {
        "strings": [[[str(v) for v in joint] for joint in frame] for frame in pos.tolist()],
        "booleans": [[[True, False, True]] * 31] * 60,
        "millimetres": (pos * 1000).tolist(),
        "centimetres": (pos * 100).tolist(),
        "one point": np.zeros_like(pos).tolist(),
    }[positions]
    r = client.post("/v1/forecast", json=_request(walk, positions=value))
    assert r.status_code == status, r.text
    assert words in r.json()["error"].lower(), r.json()
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        ws.receive_json()
        ws.send_text(json.dumps({"t": 0.0, "positions": value[0]}))
        assert "error" in ws.receive_json()


def test_bad_offsets_samples_on_deterministic_models_and_unshipped_models(client, walk):
    skel = skeletons.get(SKEL)
    inline = {"name": "rig", "joints": list(skel.joint_names), "parents": list(skel.parents)}
    body = json.dumps(_request(walk, skeleton=inline)).replace('"parents"', '"offsets": ' + json.dumps(
        [["NaN", 0, 0]] * 31).replace('"NaN"', "NaN") + ', "parents"')  # fmt: skip
    r = client.post("/v1/forecast", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "offsets" in r.json()["error"] and "NaN" in r.json()["error"], r.text
    r = client.post("/v1/forecast", json=_request(walk, samples=5))
    assert r.status_code == 400 and "deterministic" in r.json()["error"]
    assert client.post("/v1/forecast", json=_request(walk, samples=1)).status_code == 200
    listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    unshipped = [n for n, m in listed.items() if m["learned"] and not m["variants"]]
    for name in unshipped:
        assert listed[name]["served"] == {"stream": False, "forecast": False, "video": False}
    with pytest.raises(posecast.errors.PosecastError, match="no shipped weights"):
        if unshipped:
            Models(unshipped[0])
        else:
            raise posecast.errors.PosecastError("no shipped weights (every learned model has weights)")


def test_uploads_take_a_skeleton_for_plain_numbers_and_refuse_a_bad_fps(client, walk, tmp_path):
    npy = tmp_path / "walk.npy"
    np.save(npy, walk.positions[:60])
    r = client.post("/v1/forecast/upload", files={"file": ("walk.npy", npy.read_bytes())},
                    data={"skeleton": SKEL, "fps": "30", "seconds": "0.5"})  # fmt: skip
    assert r.status_code == 200, r.text
    direct = posecast.forecast(walk.frames(0, 60), seconds=0.5)
    np.testing.assert_allclose(np.asarray(r.json()["positions"]), direct.samples, atol=1e-5)
    r = client.post("/v1/forecast/upload", files={"file": ("walk.npy", npy.read_bytes())},
                    data={"skeleton": SKEL, "fps": "-5"})  # fmt: skip
    assert r.status_code == 400 and "fps" in r.json()["error"]
    # QA: without them, the reader's hint named command-line flags; an upload is told the form fields to send
    r = client.post("/v1/forecast/upload", files={"file": ("walk.npy", npy.read_bytes())})
    assert r.status_code == 400 and "(form fields 'skeleton' and 'fps')" in r.json()["error"]
    assert "CLI" not in r.json()["error"]


def test_rest_forecasts_do_not_run_on_the_streams_thread(walk, monkeypatch):
    import threading

    from posecast.serve import engine

    seen = []
    real = engine.forecast_once

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "forecast_once", spy)
    with TestClient(create_app(warm=False)) as c:
        assert c.post("/v1/forecast", json=_request(walk)).status_code == 200
    assert seen and seen[0].startswith("posecast-rest")


def test_a_port_in_use_is_refused_before_serving():
    from posecast.errors import PosecastError
    from posecast.serve.app import check_port

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PosecastError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_port("127.0.0.1", port)
    check_port("127.0.0.1", port)  # free again


def test_frames_larger_than_the_bound_are_refused_before_decoding():
    import cv2

    from posecast.errors import FormatError
    from posecast.video.decode import decode_image, image_size

    ok, png = cv2.imencode(".png", np.zeros((300, 400, 3), np.uint8))
    assert ok and image_size(png.tobytes()) == (400, 300)
    assert decode_image(png.tobytes()).shape == (300, 400, 3)
    with pytest.raises(FormatError, match="400 x 300 pixels"):
        decode_image(png.tobytes(), "frame", max_pixels=100_000)
    assert image_size(b"not an image") is None


def test_all_zero_offsets_count_as_none(client, walk):
    skel = skeletons.get(SKEL)
    inline = {"name": "rig", "joints": list(skel.joint_names), "parents": list(skel.parents)}
    plain = client.post("/v1/forecast", json=_request(walk, skeleton=inline))
    zero = client.post("/v1/forecast", json=_request(walk, skeleton={**inline, "offsets": [[0.0, 0.0, 0.0]] * 31}))
    assert plain.status_code == zero.status_code == 200, zero.text
    np.testing.assert_allclose(zero.json()["positions"], plain.json()["positions"], atol=1e-9)


def test_a_far_back_frame_the_rate_limit_drops_leaves_the_history(walk, monkeypatch):
    from posecast.serve import engine

    real = engine.StreamSession.admit

    def admit(self, limits):
        return "more than 120 frames/s: frames dropped" if self.t_last > 10 and self._dropping else real(self, limits)

    monkeypatch.setattr(engine.StreamSession, "admit", admit)
    monkeypatch.setattr(engine.StreamSession, "_dropping", False, raising=False)
    with TestClient(create_app(warm=False)) as c, c.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        keep = ws.receive_json()["history_frames"]
        for i in range(keep + 2):
            ws.send_text(json.dumps({"t": 10 + i / 30, "positions": walk.positions[i].tolist()}))
        _until_forecast(ws, 10 + (keep + 1) / 30)
        monkeypatch.setattr(engine.StreamSession, "_dropping", True, raising=False)
        ws.send_text(json.dumps({"t": 0.0, "positions": walk.positions[0].tolist()}))  # far back, then dropped
        assert "dropped" in ws.receive_json()["error"]
        monkeypatch.setattr(engine.StreamSession, "_dropping", False, raising=False)
        ws.send_text(json.dumps({"t": 10 + (keep + 2) / 30, "positions": walk.positions[keep + 2].tolist()}))
        assert ws.receive_json()["type"] == "forecast"  # the history was kept


def test_video_frames_whose_size_the_header_does_not_give_are_refused():
    import cv2

    from posecast.errors import FormatError
    from posecast.video.decode import decode_image

    ok, hdr = cv2.imencode(".hdr", np.zeros((40, 80, 3), np.float32))
    assert ok
    assert decode_image(hdr.tobytes()).shape == (40, 80, 3)  # a file: read as OpenCV reads it
    with pytest.raises(FormatError, match="JPEG or PNG"):
        decode_image(hdr.tobytes(), "frame", known_size=True)  # a camera frame: its size must be known first


def test_a_stream_frame_with_a_boolean_among_numbers_is_refused(client, walk):
    frame = walk.positions[0].tolist()
    frame[3][1] = True  # numpy alone would read it as 1.0
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        ws.receive_json()
        ws.send_text(json.dumps({"t": 0.0, "positions": frame}))
        assert "booleans" in ws.receive_json()["error"]


def test_one_stray_joint_metres_away_is_carried_not_taken_for_centimetres(client, walk):
    """A depth sensor's outlier 50 m away in the last frames: the body is person-sized (the farthest tenth of the
    joints left out of the span), so the frame is taken and the joint carried with the body, with a note."""
    pos = walk.positions[:40].copy()
    hand = skeletons.get(SKEL).index("LeftHand")
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        ws.receive_json()
        for i, frame in enumerate(pos):
            if i >= 36:
                frame = frame.copy()
                frame[hand] += [50.0, 0.0, 0.0]
            ws.send_text(json.dumps({"t": i / 30, "positions": frame.tolist()}))
            reply = ws.receive_json()
            assert "error" not in reply, reply
        assert "LeftHand" in reply["note"] and reply["type"] == "forecast"


def test_a_long_horizon_stream_does_not_hold_up_the_others(walk, monkeypatch):
    """Streams asking for long horizons (or huge rigs) are forecast on a lane of their own: while such a
    stream's forecast is held up for seconds, a 0.5 s stream beside it is still answered at once (with one
    lane, each of its replies waited for the long one)."""
    import threading

    from posecast.serve import engine

    assert not engine.is_heavy(engine.StreamSession("a", "m", None, skeletons.get(SKEL), 30.0, 1.0, 30, 60, "y", 1))
    assert engine.is_heavy(engine.StreamSession("b", "m", None, skeletons.get(SKEL), 120.0, 30.0, 3600, 60, "y", 1))
    assert engine.is_heavy(engine.StreamSession("c", "m", None, skeletons.get(SKEL), 120.0, 2.0, 400, 60, "y", 1))
    release = threading.Event()
    threads: dict[bool, set[str]] = {False: set(), True: set()}
    real = Batcher._predict_group

    def slow_heavy(jobs):
        heavy = jobs[0].session.heavy
        threads[heavy].add(threading.current_thread().name)
        if heavy:
            release.wait(timeout=10)
        return real(jobs)

    monkeypatch.setattr(Batcher, "_predict_group", staticmethod(slow_heavy))
    with TestClient(create_app(warm=False)) as c:
        with c.websocket_connect("/v1/stream") as long, c.websocket_connect("/v1/stream") as short:
            long.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 5}))
            short.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
            assert long.receive_json()["type"] == short.receive_json()["type"] == "ready"
            for i in range(40):
                long.send_text(_frame(walk, i))
            time.sleep(0.2)  # the long stream's forecast is now waiting on its lane
            t0 = time.perf_counter()
            for i in range(40):
                short.send_text(_frame(walk, i))
                _until_forecast(short, i / 30) if i >= 30 else None
            took = time.perf_counter() - t0
            release.set()
            reply = _until_forecast(long, 39 / 30)
            assert np.asarray(reply["forecast"]).shape == (150, 31, 3)
            stats = c.get("/v1/stats").json()
    assert took < 5.0  # the long lane was held for 10 s
    assert threads[False] == {"posecast-compute_0"} and threads[True] == {"posecast-heavy_0"}
    assert stats["heavy_forecasts"] >= 1 and stats["forecasts"] > stats["heavy_forecasts"]


def test_a_stream_checks_the_body_size_when_it_may_have_changed_not_on_every_frame(client, walk, monkeypatch):
    """Every frame of a stream had its body size checked on the event loop (a third of its time at 32 sessions):
    now the first frames, every `BONES_EVERY_S` and every frame in which a joint jumped. A frame sent in
    centimetres mid-stream moves every joint far: it is still refused, naming the units."""
    from posecast.serve import engine

    calls = []
    real = engine.check_body_span
    monkeypatch.setattr(engine, "check_body_span", lambda *a, **k: calls.append(1) or real(*a, **k))
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"skeleton": SKEL, "fps": 30, "seconds": 0.5}))
        ws.receive_json()
        for i in range(60):  # 2 s of a walk
            ws.send_text(_frame(walk, i))
            assert "error" not in ws.receive_json()
        assert 5 <= len(calls) <= 5 + 2 * 4 + 2  # the first frames, then about twice a second
        ws.send_text(json.dumps({"t": 60 / 30, "positions": (walk.positions[60] * 100).tolist()}))
        reply = ws.receive_json()
        assert "centimetres" in reply["error"], reply
        ws.send_text(_frame(walk, 61))  # the stream goes on
        assert "error" not in ws.receive_json()
        # three frames dropped, then one collapsed to a point: a wide allowance, but every bone broken (review)
        collapsed = np.repeat(np.median(walk.positions[65], axis=0)[None], walk.positions.shape[1], axis=0)
        ws.send_text(json.dumps({"t": 65 / 30, "positions": collapsed.tolist()}))
        reply = ws.receive_json()
        assert "one point" in reply["error"], reply


def test_an_upload_takes_a_joint_mapping_form_field(client, walk, tmp_path):
    """QA: the upload had no mapping (a ``mapping`` field was ignored without a word). It now takes one as JSON or
    YAML text, checked as a mapping file is: the same forecast as ``posecast.forecast(..., mapping=...)``."""
    path = posecast.save(walk.frames(0, 60), tmp_path / "walk.npz")
    table = {"head": "Neck1"}  # another head joint than the automatic mapping's, to see it used
    direct = posecast.forecast(walk.frames(0, 60), seconds=0.5, mapping=table)
    assert not np.allclose(direct.samples, posecast.forecast(walk.frames(0, 60), seconds=0.5).samples, atol=1e-4)
    for text in (json.dumps(table), "head: Neck1\n"):
        r = client.post("/v1/forecast/upload", files={"file": ("walk.npz", path.read_bytes())},
                        data={"seconds": "0.5", "mapping": text})  # fmt: skip
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(np.asarray(r.json()["positions"]), direct.samples, atol=1e-5)
    for text, says in (
        ("head: [Neck1", "form field mapping: not valid JSON or YAML"),
        ("left_toe: LeftToeBase", "unknown canonical joint 'left_toe'"),
        ("head: Nek1", "Nek1: did you mean Neck1?"),
        ("up: z", "give the file's up axis as the form field up"),
        ("a: &x [1, 2]\nb: [*x, *x]\n", "anchors and aliases are not taken"),
        ("head: Neck1\n" + "#" * 70000, "over 65536 bytes"),
    ):
        r = client.post("/v1/forecast/upload", files={"file": ("walk.npz", path.read_bytes())},
                        data={"seconds": "0.5", "mapping": text})  # fmt: skip
        assert r.status_code == 400 and says in r.json()["error"], (text, r.text)


def test_a_rest_job_whose_client_left_is_skipped_not_run():
    """Soak QA: abandoned REST requests stayed queued on the one REST thread and ran anyway, so a client that timed
    out and retried waited behind its own abandoned work (49 ms -> 20.7 s). `run_rest` skips a job whose client has
    gone before its turn; one whose client stays runs and answers."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from posecast.serve.app import run_rest

    class Client:
        def __init__(self, gone: bool) -> None:
            self.gone = gone

        async def is_disconnected(self) -> bool:
            return self.gone

    ran: list[str] = []
    release = threading.Event()

    async def scenario() -> tuple:
        pool = ThreadPoolExecutor(max_workers=1)
        blocker = asyncio.get_running_loop().run_in_executor(pool, release.wait)  # the thread is busy
        left = asyncio.create_task(run_rest(pool, Client(gone=True), lambda: ran.append("left") or "left"))
        stays = asyncio.create_task(run_rest(pool, Client(gone=False), lambda: ran.append("stays") or "stays"))
        first = await left  # gives up while queued
        release.set()
        second = await stays
        await blocker
        pool.shutdown()
        return first, second

    first, second = asyncio.run(scenario())
    assert first.status_code == 499 and second == "stays" and ran == ["stays"]


def test_the_page_opened_with_the_token_sets_its_cookie_and_failures_answer_500(walk, monkeypatch):
    """The HTTP middleware is a plain ASGI wrapper now (Starlette's BaseHTTPMiddleware hid a client's disconnect
    from `run_rest`): the page opened with ?token= still gets the cookie its scripts use, other paths do not, and an
    unexpected failure still answers 500 {"error"} while the server goes on."""
    from posecast.serve import engine

    with TestClient(create_app(warm=False, token="s3cret")) as c:
        page = c.get("/?token=s3cret")
        assert page.status_code == 200 and "posecast_token=s3cret" in page.headers.get("set-cookie", "").replace(
            '"', ""
        )
        assert "set-cookie" not in c.get("/health?token=s3cret").headers
        assert c.get("/health").status_code == 200  # the client keeps the page's cookie

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "forecast_once", broken)
    with TestClient(create_app(warm=False), raise_server_exceptions=False) as c:
        r = c.post("/v1/forecast", json=_request(walk))
        assert r.status_code == 500 and r.json() == {"error": "internal error: RuntimeError"}
        assert c.get("/health").status_code == 200
