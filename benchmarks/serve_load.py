"""Load test of `posecast serve`: N concurrent skeleton streams at 30 Hz, and one camera stream.

Usage::

    POSECAST_DATA=../shared/data .venv/bin/python benchmarks/serve_load.py [--sessions 1,16,64,128,256]
        [--seconds 10] [--rate 30] [--model NAME] [--clip PATH] [--video CLIP] [--video-seconds 10]
        [--no-video] [--json PATH] [--quick]

Protocol (printed with the table):

* The server is ``python -m posecast serve`` started by this script as a subprocess on a free loopback port
  (``127.0.0.1`` only) with its defaults (``--threads 1``) and ``--max-sessions`` raised to the largest N
  + 16; it is pinned to ``--server-cpus`` (default core 0) and this client to ``--client-cpus`` (default
  core 1) with ``sched_setaffinity`` where the machine has two cores or more. Before the first round one
  session streams for 2 s (warm-up, not reported). Between rounds the script waits for the server to
  report 0 sessions.
* Skeleton streams: each of the N sessions opens ``WS /v1/stream`` (the clip's own skeleton, inline with its
  bone offsets; ``seconds`` 1.0) and, once all N are open, sends one frame per ``1/rate`` s for ``--seconds``
  s on an absolute schedule; session ``i`` starts ``i/N`` of a frame period after session 0 (staggered over
  one period). Frames are real motion: a CMU BVH clip of a test subject (default ``cmu_bvh/02/02_07.bvh``,
  swordplay, 120 Hz resampled to ``rate``; frame 0, the converter's T-pose, dropped), each session starting
  at its own offset in the clip (the synthetic walk when ``$POSECAST_DATA`` is absent). Frame ``k`` has
  ``t = k/rate``.
* Latency = the client's clock from sending frame ``k`` to receiving the forecast whose ``t`` is ``k``'s. A
  frame coalesced by the server (newest wins) has no reply of its own: it counts in ``skipped``, not in the
  latency. ``compute`` is the server's ``compute_ms`` (frame arrival → forecast ready, queueing included).
  Forecasts/s per session = forecasts received / ``--seconds``. A session is *dropped* when it fails to
  open, is closed by the server before it ends, or receives fewer forecasts than one per second. ``late``
  is how far behind its schedule the client sent frames (p99): large values mean the client could not send
  on time, because its own core is saturated (see client CPU) or because the server does not read its
  socket fast enough (TCP backpressure: then the server's event loop is the bottleneck). After its last
  frame a session waits up to 3 s for the last reply.
* CPU: server process time (``/proc/PID/stat``, and per thread: the event loop is the main thread, the
  rest is almost all the compute thread) over the round's wall time, in % of one core; client
  ``time.process_time`` likewise; RSS = the server's largest ``VmRSS`` sampled every 0.5 s. ``/v1/stats``
  before and after a round gives ticks (network calls), forecasts, their compute seconds and the largest
  batch.
* Video: one session on ``WS /v1/video`` sends the frames of a real clip (``--video``, default
  ``$POSECAST_DATA/video/squats_pexels_tfjs.mp4``) fitted into 640×480 (letterboxed, no distortion) as JPEG
  (quality 90), looping the clip, for ``--video-seconds`` s: (a) *as fast as replies come*: one frame in
  flight, the next sent when the reply arrives (no overlap of the server's pose and forecast stages); (b)
  *paced at ``rate`` fps* (the stages overlap; frames the pipeline cannot take are coalesced). Each mode
  opens its own session and first sends 3 frames not measured (backend start-up). For this part the
  server's threads are moved onto ``--video-server-cpus`` (default: all cores; the client stays pinned).
* Goals (issue 13): 1 session: p50 < 10 ms; 64 sessions: none dropped, every session ≥ 10 forecasts/s and
  p99 ≤ 100 ms (the largest N that holds it is reported); video: ≥ 25 frames/s end to end.

Everything is bounded: ``--time-limit`` (default 900 s) stops the rounds still to run, every connection and
reply has a timeout, and the server subprocess is always stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    import orjson

    loads = orjson.loads
except ImportError:  # pragma: no cover - the serve extra brings orjson
    loads = json.loads

HOST = "127.0.0.1"
DEFAULT_CLIP = "cmu_bvh/02/02_07.bvh"
DEFAULT_VIDEO = "video/squats_pexels_tfjs.mp4"
VIDEO_SIZE = (640, 480)


# ---------------------------------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    """The machine as `posecast bench speed` reports it (`posecast.evaluation.speed.machine_info`), with the
    package version and the date."""
    import posecast
    from posecast.evaluation.speed import machine_info as speed_machine

    m = speed_machine()
    return {
        "cpu": m["cpu"],
        "cores": m["cores"],
        "python": m["python"],
        "torch": m["torch"],
        "posecast": posecast.__version__,
        "platform": m["platform"],
        "load_average_at_start": m["load_average_1_5_15_min"],
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


CLOCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def _thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid``."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLOCK
    return out


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------------------- server
class Server:
    """``python -m posecast serve`` on a free loopback port, pinned to ``cpus``; stopped by `stop`."""

    def __init__(
        self, model: str | None, max_sessions: int, cpus: set[int] | None, extra: list[str] | None = None
    ) -> None:
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="posecast-serve-", suffix=".log", delete=False)
        cmd = [sys.executable, "-m", "posecast", "serve", "--host", HOST, "--port", str(self.port)]
        cmd += ["--max-sessions", str(max_sessions), "--log-level", "warning"]
        if model:
            cmd += ["--model", model]
        cmd += extra or []
        self.cmd = cmd
        env = {k: v for k, v in os.environ.items() if k != "POSECAST_TOKEN"}
        self.proc = subprocess.Popen(
            cmd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        self.pid = self.proc.pid

    def get(self, path: str, timeout: float = 5.0) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def wait_ready(self, timeout: float = 180.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return self.get("/health", timeout=2)
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"the server did not answer /health within {timeout:g} s:\n{self.log_tail()}")

    def wait_idle(self, timeout: float = 15.0) -> int:
        """Wait until the server holds no session; the sessions still held."""
        deadline = time.monotonic() + timeout
        held = -1
        while time.monotonic() < deadline:
            h = self.get("/health")
            held = h["sessions"] + h["video_sessions"]
            if held == 0:
                return 0
            time.sleep(0.2)
        return held

    def set_cpus(self, cpus: set[int]) -> str:
        """Move every thread of the server onto ``cpus`` (threads it starts later inherit them)."""
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                os.sched_setaffinity(int(task.name), cpus)
            except OSError:
                pass
        return f"server on core(s) {sorted(cpus)}"

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


# ---------------------------------------------------------------------------------------------- data
def load_clip(clip: str | None, rate: float) -> tuple[Any, str]:
    """``(motion at rate, description)``: a CMU BVH test clip, or the synthetic walk without data."""
    from posecast.datasets.paths import dataset_dir

    root = dataset_dir("cmu_bvh", required=False)
    path = Path(clip) if clip and Path(clip).is_file() else None
    if path is None and root is not None:
        path = root.parent / (clip or DEFAULT_CLIP)
    if path is not None and path.is_file():
        import posecast

        motion = posecast.load(path)
        motion = motion.frames(1, motion.num_frames)  # frame 0 is the converter's T-pose
        return motion.resample(rate), f"{path.name} ({motion.num_frames} frames, {motion.duration:.1f} s)"
    from posecast.synthetic import synthetic_walk

    return synthetic_walk(seconds=20.0, fps=rate), "synthetic walk (no $POSECAST_DATA)"


def video_frames(clip: Path, limit: int = 300) -> tuple[list[bytes], str]:
    """The clip's frames fitted into 640×480 (letterboxed) as JPEG bytes (quality 90)."""
    import cv2

    from posecast.video.decode import iter_frames

    out = []
    w, h = VIDEO_SIZE
    for _, rgb in iter_frames(clip):
        scale = min(w / rgb.shape[1], h / rgb.shape[0])
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        canvas = np.zeros((h, w, 3), np.uint8)
        x0, y0 = (w - size[0]) // 2, (h - size[1]) // 2
        canvas[y0 : y0 + size[1], x0 : x0 + size[0]] = small
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out.append(jpeg.tobytes())
        if len(out) >= limit:
            break
    kb = statistics.mean(len(j) for j in out) / 1024
    return out, f"{clip.name}, {len(out)} frames fitted into {w}×{h}, JPEG q90 (mean {kb:.0f} KB)"


# ---------------------------------------------------------------------------------------------- streams
@dataclass
class SessionResult:
    index: int
    sent: int = 0
    forecasts: int = 0
    waiting: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    skipped: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds
    compute_ms: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)  # seconds behind schedule per send
    open_error: str | None = None
    closed_early: str | None = None


class StreamSession:
    def __init__(self, index: int, url: str, opening: str, messages: list[str], offset: int, rate: float) -> None:
        self.result = SessionResult(index)
        self.url, self.opening, self.messages, self.offset, self.rate = url, opening, messages, offset, rate
        self.ws: Any = None
        self.sent_at: list[float] = []
        self.last_k = -1
        self.done = asyncio.Event()
        self.closing = False

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        try:
            self.ws = await connect(self.url, compression=None, max_size=1 << 26, open_timeout=30)
            await self.ws.send(self.opening)
            ready = loads(await asyncio.wait_for(self.ws.recv(), 60))
            if "error" in ready:
                self.result.open_error = ready["error"]
        except Exception as exc:  # noqa: BLE001 - any failure to open is reported, not raised
            self.result.open_error = f"{type(exc).__name__}: {exc}"

    async def receive(self) -> None:
        from websockets.exceptions import ConnectionClosed

        r = self.result
        try:
            async for raw in self.ws:
                now = time.perf_counter()
                msg = loads(raw)
                if "error" in msg:
                    r.errors += 1
                    if len(r.error_samples) < 3:
                        r.error_samples.append(str(msg["error"]))
                    continue
                if msg.get("type") == "waiting":
                    r.waiting += 1
                    continue
                k = round(msg["t"] * self.rate)
                r.forecasts += 1
                r.skipped += int(msg.get("skipped", 0))
                r.compute_ms.append(float(msg.get("compute_ms", math.nan)))
                if 0 <= k < len(self.sent_at):
                    r.latencies.append(now - self.sent_at[k])
                if k == self.last_k:
                    self.done.set()
        except ConnectionClosed as exc:
            if not self.closing:
                r.closed_early = f"closed by the server: {exc}"
        if not self.closing and r.closed_early is None:
            r.closed_early = "closed by the server"
        self.done.set()

    async def run(self, start: float, frames: int) -> None:
        r = self.result
        period = 1.0 / self.rate
        self.last_k = frames - 1
        receiver = asyncio.create_task(self.receive())
        try:
            for k in range(frames):
                target = start + k * period
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                now = time.perf_counter()
                r.late.append(max(0.0, now - target))
                positions = self.messages[(self.offset + k) % len(self.messages)]
                text = '{"t":' + repr(k / self.rate) + ',"positions":' + positions + "}"
                self.sent_at.append(now)
                await self.ws.send(text)
                r.sent += 1
                if r.closed_early:
                    break
            try:
                await asyncio.wait_for(self.done.wait(), 3.0)
            except TimeoutError:
                pass
        except Exception as exc:  # noqa: BLE001 - a failed send ends this session, reported as dropped
            r.closed_early = r.closed_early or f"{type(exc).__name__}: {exc}"
        finally:
            self.closing = True
            try:
                await asyncio.wait_for(self.ws.close(), 5)
            except Exception:  # noqa: BLE001
                pass
            receiver.cancel()
            try:
                await receiver
            except BaseException:  # noqa: BLE001
                pass


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


async def run_round(
    url: str, n: int, opening: str, messages: list[str], rate: float, seconds: float, server_pid: int
) -> dict[str, Any]:
    """N sessions for ``seconds``: the round's summary."""
    ws_url = url.replace("http://", "ws://") + "/v1/stream"
    frames = int(round(seconds * rate))
    span = max(1, len(messages) - frames)
    sessions = [StreamSession(i, ws_url, opening, messages, (i * 97) % span, rate) for i in range(n)]
    t_open = time.perf_counter()
    await asyncio.gather(*(s.open() for s in sessions))
    open_s = time.perf_counter() - t_open
    live = [s for s in sessions if s.result.open_error is None]
    rss = [_rss_mb(server_pid)]

    async def sample() -> None:
        while True:
            await asyncio.sleep(0.5)
            rss.append(_rss_mb(server_pid))

    sampler = asyncio.create_task(sample())
    cpu0, threads0, client0, wall0 = (
        _proc_cpu(server_pid),
        _thread_cpu(server_pid),
        time.process_time(),
        time.perf_counter(),
    )
    start = time.perf_counter() + 0.2
    await asyncio.gather(*(s.run(start + s.result.index / (n * rate), frames) for s in live))
    wall = time.perf_counter() - wall0
    cpu1, threads1, client1 = _proc_cpu(server_pid), _thread_cpu(server_pid), time.process_time()
    sampler.cancel()
    results = [s.result for s in sessions]
    per_thread = {tid: threads1.get(tid, 0.0) - threads0.get(tid, 0.0) for tid in threads1}
    loop_cpu = per_thread.get(server_pid, 0.0)
    lat = [x * 1e3 for r in results for x in r.latencies]
    comp = [x for r in results for x in r.compute_ms if not math.isnan(x)]
    late = [x * 1e3 for r in results for x in r.late]
    fps = [r.forecasts / seconds for r in results]
    dropped = [
        r.index
        for r in results
        if r.open_error is not None or r.closed_early is not None or r.forecasts < seconds  # < 1 forecast/s
    ]
    sent = sum(r.sent for r in results)
    return {
        "sessions": n,
        "seconds": seconds,
        "rate": rate,
        "open_seconds": round(open_s, 3),
        "wall_seconds": round(wall, 3),
        "frames_sent": sent,
        "forecasts": sum(r.forecasts for r in results),
        "waiting_replies": sum(r.waiting for r in results),
        "skipped_frames": sum(r.skipped for r in results),
        "frames_without_reply": sent - sum(r.forecasts + r.waiting for r in results),
        "forecasts_per_s_per_session": {
            "min": min(fps) if fps else 0.0,
            "median": statistics.median(fps) if fps else 0.0,
            "max": max(fps) if fps else 0.0,
        },
        "latency_ms": {q: _pct(lat, p) for q, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        "server_compute_ms": {q: _pct(comp, p) for q, p in (("p50", 50), ("p99", 99))},
        "client_late_ms": {"p99": _pct(late, 99), "max": _pct(late, 100)},
        "dropped": len(dropped),
        "dropped_sessions": [
            {"index": r.index, "open_error": r.open_error, "closed": r.closed_early, "forecasts": r.forecasts}
            for r in results
            if r.index in dropped
        ][:10],
        "error_replies": sum(r.errors for r in results),
        "error_samples": sorted({e for r in results for e in r.error_samples})[:5],
        "server_cpu_percent": 100 * (cpu1 - cpu0) / wall,
        "server_event_loop_cpu_percent": 100 * loop_cpu / wall,
        "server_other_threads_cpu_percent": 100 * (sum(per_thread.values()) - loop_cpu) / wall,
        "server_rss_mb": max(rss),
        "client_cpu_percent": 100 * (client1 - client0) / wall,
        "per_session_forecasts_per_s": [round(x, 2) for x in fps],
    }


def goal_multi(r: dict[str, Any]) -> bool:
    return r["dropped"] == 0 and r["forecasts_per_s_per_session"]["min"] >= 10 and r["latency_ms"]["p99"] <= 100


# ---------------------------------------------------------------------------------------------- video
async def run_video(
    url: str, jpegs: list[bytes], seconds: float, rate: float, paced: bool, server_pid: int
) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from posecast.serve.video import HEADER

    ws_url = url.replace("http://", "ws://") + "/v1/video"
    out: dict[str, Any] = {"mode": f"paced at {rate:g} fps" if paced else "one frame in flight"}
    async with connect(ws_url, compression=None, max_size=1 << 26, open_timeout=30) as ws:
        await ws.send(json.dumps({"seconds": 1.0}))
        ready = loads(await asyncio.wait_for(ws.recv(), 120))
        if "error" in ready:
            return {**out, "error": ready["error"]}
        out["model"] = ready["model"]
        k = 0

        def frame(i: int) -> bytes:
            return HEADER.pack(i / rate) + jpegs[i % len(jpegs)]

        for _ in range(3):  # start-up, not measured
            await ws.send(frame(k))
            await asyncio.wait_for(ws.recv(), 120)
            k += 1
        lat: list[float] = []
        comp: list[float] = []
        detected = skipped = errors = replies = 0
        sent_at: dict[int, float] = {}
        cpu0, threads0, client0 = _proc_cpu(server_pid), _thread_cpu(server_pid), time.process_time()
        t0 = time.perf_counter()
        end = t0 + seconds

        def take(raw: Any, now: float) -> int:
            nonlocal detected, skipped, errors, replies
            msg = loads(raw)
            if "error" in msg:
                errors += 1
                return -1
            i = round(msg["t"] * rate)
            replies += 1
            detected += bool(msg.get("detected"))
            skipped += int(msg.get("skipped", 0))
            comp.append(float(msg["compute_ms"]))
            if i in sent_at:
                lat.append((now - sent_at.pop(i)) * 1e3)
            return i

        if not paced:
            while time.perf_counter() < end:
                sent_at[k] = time.perf_counter()
                await ws.send(frame(k))
                take(await asyncio.wait_for(ws.recv(), 30), time.perf_counter())
                sent_at.clear()
                k += 1
            sent = k - 3
            wall = time.perf_counter() - t0
        else:
            first = k

            async def sender() -> None:
                nonlocal k
                i = 0
                while True:
                    target = t0 + i / rate
                    if target >= end:
                        return
                    await asyncio.sleep(max(0.0, target - time.perf_counter()))
                    sent_at[k] = time.perf_counter()
                    await ws.send(frame(k))
                    k += 1
                    i += 1

            task = asyncio.create_task(sender())
            last = -1
            while not (task.done() and last == k - 1):
                try:
                    raw = await asyncio.wait_for(ws.recv(), 3.0)
                except TimeoutError:
                    break
                last = max(last, take(raw, time.perf_counter()))
            await task
            sent = k - first
            wall = time.perf_counter() - t0
        cpu1, threads1, client1 = _proc_cpu(server_pid), _thread_cpu(server_pid), time.process_time()
    out.update(
        frames_sent=sent,
        replies=replies,
        replies_per_s=replies / wall,
        detected_fraction=detected / max(1, replies),
        skipped_frames=skipped,
        error_replies=errors,
        latency_ms={q: _pct(lat, p) for q, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        server_compute_ms={q: _pct(comp, p) for q, p in (("p50", 50), ("p99", 99))},
        wall_seconds=wall,
        server_cpu_percent=100 * (cpu1 - cpu0) / wall,
        server_busiest_threads_cpu_percent=sorted(
            (round(100 * (threads1[t] - threads0.get(t, 0.0)) / wall, 1) for t in threads1), reverse=True
        )[:4],
        client_cpu_percent=100 * (client1 - client0) / wall,
    )
    return out


# ---------------------------------------------------------------------------------------------- report
def _f(x: float, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"## posecast serve load test — {m['date']}\n")
    print(
        f"Machine: {m['cpu']}, {m['cores']} cores, python {m['python']}, torch {m['torch']}, posecast "
        f"{m['posecast']}; load average at start {', '.join(f'{x:.2f}' for x in m['load_average_at_start'] or [])}"
    )
    print(f"Pinning: {report['pinning']}")
    print(f"Protocol: {report['protocol']}\n")
    print(
        "| sessions | forecasts/s per session (min / median) | latency ms p50 / p90 / p99 / max | "
        "server compute ms p50 / p99 | skipped frames | dropped | error replies | server CPU % (loop + compute) | "
        "server RSS MB | client CPU % | client late ms p99 | batch mean / max | goal |"
    )
    print("|" + "---|" * 13)
    for r in report["rounds"]:
        if "not_run" in r:
            print(f"| {r['sessions']} | not run: {r['not_run']} |" + " |" * 11)
            continue
        fps, lat, comp = r["forecasts_per_s_per_session"], r["latency_ms"], r["server_compute_ms"]
        st = r.get("server_stats", {})
        batch = f"{_f(st.get('mean_batch', math.nan))} / {st.get('largest_batch', '–')}"
        skipped_pct = 100 * r["skipped_frames"] / max(1, r["frames_sent"])
        goal = []
        if r["sessions"] == 1:
            goal.append(f"p50<10ms: {'yes' if lat['p50'] < 10 else 'NO'}")
        goal.append(f"64-criteria: {'yes' if goal_multi(r) else 'NO'}")
        print(
            f"| {r['sessions']} | {_f(fps['min'])} / {_f(fps['median'])} | {_f(lat['p50'])} / {_f(lat['p90'])} / "
            f"{_f(lat['p99'])} / {_f(lat['max'])} | {_f(comp['p50'])} / {_f(comp['p99'])} | "
            f"{r['skipped_frames']} ({skipped_pct:.0f} %) | {r['dropped']} | {r['error_replies']} | "
            f"{_f(r['server_cpu_percent'], 0)} ({_f(r['server_event_loop_cpu_percent'], 0)} + "
            f"{_f(r['server_other_threads_cpu_percent'], 0)}) | {_f(r['server_rss_mb'], 0)} | "
            f"{_f(r['client_cpu_percent'], 0)} | {_f(r['client_late_ms']['p99'])} | {batch} | {'; '.join(goal)} |"
        )
    print()
    for r in report["rounds"]:
        st = r.get("server_stats")
        if st:
            print(
                f"- {r['sessions']} sessions: {st['ticks']} network calls for {st['forecasts']} forecasts "
                f"({_f(st['mean_batch'])} per call), {_f(st['compute_ms_per_tick'], 2)} ms per call, "
                f"{_f(st['compute_ms_per_forecast'], 3)} ms per forecast; compute thread busy "
                f"{_f(st['compute_busy_percent'], 0)} % of the round"
                + (f"; errors: {r['error_samples']}" if r.get("error_samples") else "")
                + (f"; dropped: {r['dropped_sessions'][:3]}" if r.get("dropped_sessions") else "")
            )
    print()
    g = report["goals"]
    print(
        f"Goals: 1 session p50 < 10 ms: {g['single_p50_under_10ms']}; 64 sessions (none dropped, ≥ 10 forecasts/s "
        f"each, p99 ≤ 100 ms): {g['sessions_64']}; largest N that holds the 64-session criteria: "
        f"{g['largest_n_holding']}; video ≥ 25 frames/s: {g['video_25fps']}"
    )
    if report.get("video"):
        print()
        print(f"Video: {report['video_clip']}; {report['video_pinning']}, the client stays where it was")
        print(
            "| mode | frames sent | replies/s | latency ms p50 / p90 / p99 | server ms p50 / p99 | skipped | detected "
            "| server CPU % (busiest threads) | client CPU % |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for v in report["video"]:
            if "error" in v:
                print(f"| {v['mode']} | error: {v['error']} |" + " |" * 7)
                continue
            lat, comp = v["latency_ms"], v["server_compute_ms"]
            print(
                f"| {v['mode']} | {v['frames_sent']} | {_f(v['replies_per_s'])} | {_f(lat['p50'])} / {_f(lat['p90'])}"
                f" / {_f(lat['p99'])} | {_f(comp['p50'])} / {_f(comp['p99'])} | {v['skipped_frames']} | "
                f"{100 * v['detected_fraction']:.0f} % | {_f(v['server_cpu_percent'], 0)} "
                f"({', '.join(f'{x:.0f}' for x in v['server_busiest_threads_cpu_percent'])}) | "
                f"{_f(v['client_cpu_percent'], 0)} |"
            )


def _stats_delta(before: dict[str, Any], after: dict[str, Any], wall: float) -> dict[str, Any]:
    ticks = after["ticks"] - before["ticks"]
    forecasts = after["forecasts"] - before["forecasts"]
    compute = after["compute_seconds"] - before["compute_seconds"]
    return {
        "ticks": ticks,
        "forecasts": forecasts,
        "compute_seconds": compute,
        "largest_batch": after["largest_batch"],
        "mean_batch": forecasts / ticks if ticks else math.nan,
        "compute_ms_per_tick": 1e3 * compute / ticks if ticks else math.nan,
        "compute_ms_per_forecast": 1e3 * compute / forecasts if forecasts else math.nan,
        "compute_busy_percent": 100 * compute / wall,
    }


# ---------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="1,16,64,128,256", help="comma-separated session counts N")
    parser.add_argument("--seconds", type=float, default=10.0, help="streaming time per round, seconds")
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second per session")
    parser.add_argument("--model", help="model of the sessions (default: the server's default)")
    parser.add_argument(
        "--server-args", default="", help="more `posecast serve` options, e.g. '--no-mirror-average --threads 2'"
    )
    parser.add_argument("--clip", help=f"motion clip, a path or relative to $POSECAST_DATA (default {DEFAULT_CLIP})")
    parser.add_argument("--video", help=f"video clip, a path or relative to $POSECAST_DATA (default {DEFAULT_VIDEO})")
    parser.add_argument("--video-seconds", type=float, help="seconds per video mode (default: --seconds)")
    parser.add_argument("--no-video", action="store_true", help="skip the video endpoint")
    parser.add_argument("--server-cpus", default="0", help="cores for the server (comma-separated)")
    parser.add_argument("--client-cpus", default="1", help="cores for this client (comma-separated)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client to cores")
    parser.add_argument(
        "--video-server-cpus", default="all", help="cores for the server during the video part ('all' or a list)"
    )
    parser.add_argument("--time-limit", type=float, default=900.0, help="skip rounds that would start after this")
    parser.add_argument("--json", type=Path, help="also write everything to this JSON file")
    parser.add_argument("--quick", action="store_true", help="smoke check: N = 1,8 for 3 s, video 3 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.seconds = "1,8", 3.0
    counts = [int(x) for x in args.sessions.split(",") if x.strip()]
    if not counts or min(counts) < 1 or max(counts) > 1024:
        parser.error("--sessions must be counts between 1 and 1024")
    if not 0 < args.seconds <= 300 or not 0 < args.rate <= 120:
        parser.error("--seconds must be in (0, 300] and --rate in (0, 120]")
    video_seconds = min(args.video_seconds or args.seconds, 300.0)
    began = time.monotonic()

    machine = machine_info()
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpus = {int(c) for c in args.server_cpus.split(",")} & set(available)
    client_cpus = {int(c) for c in args.client_cpus.split(",")} & set(available)
    pin = not args.no_pin and len(available) >= 2 and server_cpus and client_cpus and not (server_cpus & client_cpus)
    if pin:
        pinning = (
            f"server on core(s) {sorted(server_cpus)}, client on core(s) {sorted(client_cpus)} of {len(available)} "
            f"({machine['cores']} on the machine; the client shares the machine with the server)"
        )
    else:
        pinning = f"not pinned: server and client share {len(available)} core(s)"
    print(f"machine: {machine['cpu']}, {machine['cores']} cores; {pinning}", file=sys.stderr)

    from posecast.client import skeleton_spec

    motion, clip_text = load_clip(args.clip, args.rate)
    messages = [json.dumps(np.round(p, 5).tolist(), separators=(",", ":")) for p in motion.positions]
    opening_dict: dict[str, Any] = {"skeleton": skeleton_spec(motion.skeleton), "fps": args.rate, "seconds": 1.0}
    if args.model:
        opening_dict["model"] = args.model
    opening = json.dumps(opening_dict)

    server = Server(args.model, max(counts) + 16, server_cpus if pin else None, shlex.split(args.server_args))
    rounds: list[dict[str, Any]] = []
    video: list[dict[str, Any]] = []
    video_clip = None
    video_pinning = None
    try:
        health = server.wait_ready()
        if pin:
            os.sched_setaffinity(0, client_cpus)
        model = args.model or health["model"]
        print(f"server {server.url} pid {server.pid}, model {model}; warm-up...", file=sys.stderr)
        asyncio.run(run_round(server.url, 1, opening, messages, args.rate, 2.0, server.pid))
        server.wait_idle()
        for n in counts:
            if time.monotonic() - began + args.seconds + 30 > args.time_limit:
                rounds.append({"sessions": n, "not_run": f"--time-limit {args.time_limit:g} s"})
                continue
            print(f"{n} sessions for {args.seconds:g} s...", file=sys.stderr)
            before = server.get("/v1/stats")
            r = asyncio.run(run_round(server.url, n, opening, messages, args.rate, args.seconds, server.pid))
            after = server.get("/v1/stats")
            r["server_stats"] = _stats_delta(before, after, r["wall_seconds"])
            r["sessions_left_after_2s"] = server.wait_idle(timeout=2.0)
            rounds.append(r)
            held = server.wait_idle()
            if held:
                print(f"warning: the server still holds {held} sessions", file=sys.stderr)
        if not args.no_video and time.monotonic() - began + 2 * video_seconds + 60 <= args.time_limit:
            from posecast.datasets.paths import dataset_dir

            root = dataset_dir("video", required=False)
            path = Path(args.video) if args.video and Path(args.video).is_file() else None
            if path is None and root is not None:
                path = root.parent / (args.video or DEFAULT_VIDEO)
            if path is not None and path.is_file():
                jpegs, video_clip = video_frames(path)
                if pin and args.video_server_cpus == "all":  # the camera pipeline's two stages run in parallel
                    video_pinning = server.set_cpus(set(available))
                elif pin:
                    video_pinning = server.set_cpus(
                        {int(c) for c in args.video_server_cpus.split(",")} & set(available)
                    )
                else:
                    video_pinning = "not pinned"
                for paced in (False, True):
                    print(
                        f"video ({'paced' if paced else 'one in flight'}) for {video_seconds:g} s...", file=sys.stderr
                    )
                    v = asyncio.run(run_video(server.url, jpegs, video_seconds, args.rate, paced, server.pid))
                    video.append(v)
                    server.wait_idle()
            else:
                print("no video clip ($POSECAST_DATA/video): video skipped", file=sys.stderr)
        if server.proc.poll() is not None:
            print(f"the server died:\n{server.log_tail()}", file=sys.stderr)
    finally:
        server_log = server.log_tail(50)
        server.stop()

    single = [r for r in rounds if r.get("sessions") == 1 and "latency_ms" in r]
    r64 = [r for r in rounds if r.get("sessions") == 64 and "latency_ms" in r]
    holding = [r["sessions"] for r in rounds if "latency_ms" in r and goal_multi(r)]
    goals = {
        "single_p50_under_10ms": (single[0]["latency_ms"]["p50"] < 10) if single else "not measured",
        "sessions_64": goal_multi(r64[0]) if r64 else "not measured",
        "largest_n_holding": max(holding) if holding else None,
        "video_25fps": (max(v.get("replies_per_s", 0.0) for v in video) >= 25 if video else "not measured"),
    }
    protocol = (
        f"{clip_text} streamed at {args.rate:g} Hz by each session for {args.seconds:g} s (staggered over one frame "
        f"period, inline skeleton, 1 s forecasts, model {model}); latency = frame sent → its forecast received "
        f"(loopback, client clock); video {video_seconds:g} s per mode; server: "
        f"`posecast serve {' '.join(server.cmd[4:])}`; see benchmarks/serve_load.py"
    )
    report = {
        "machine": machine,
        "pinning": pinning,
        "protocol": protocol,
        "server_command": server.cmd,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rounds": rounds,
        "video": video,
        "video_clip": video_clip,
        "video_pinning": video_pinning,
        "goals": goals,
        "server_log_tail": server_log,
        "elapsed_seconds": round(time.monotonic() - began, 1),
    }
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
