// PoseCast's browser page: pick a model, then replay a motion (→ WS /v1/stream) or the camera (→ WS
// /v1/video), and draw what comes back. The wire format is posecast.serve.schema (docs/serve.md).
//
// Counters for people and tests live in the DOM: <output id="replies">, <output id="errors">, ... and the
// canvases' data-drawn (forecasts drawn on them; the overlay's data-forecast-drawn counts the ones with a
// projected forecast, its data-keypoints-box is the box of the last keypoints drawn).

import { View3D } from "./view3d.js";

const $ = (id) => document.getElementById(id);
const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const COLOR = {
  blue: css("--blue"),
  orange: css("--orange"),
  green: css("--green"),
  grey: css("--grey"),
  grid: css("--grid"),
  background: css("--view-bg"),
};

/** Camera frames sent and not answered yet, at most: low latency, and the server still always has work. */
const MAX_IN_FLIGHT = 2;
/** A frame not answered within this many ms no longer counts as in flight (it was lost or refused). */
const IN_FLIGHT_TIMEOUT_MS = 2000;
/** Seconds of observed motion drawn as trails behind the hands, feet and head (replay). */
const PAST_SECONDS = 0.5;
/** JPEG quality of camera frames. */
const JPEG_QUALITY = 0.8;

// ---------------------------------------------------------------- server access (with the page's ?token=)
const TOKEN = new URLSearchParams(location.search).get("token");

function url(path) {
  const u = new URL(path, document.baseURI);
  if (TOKEN) u.searchParams.set("token", TOKEN);
  return u;
}

function wsUrl(path) {
  const u = url(path);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.href;
}

async function fetchJSON(path, init) {
  const response = await fetch(url(path), init);
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: reported below
  }
  if (!response.ok || body === null) {
    throw new Error(body?.error ?? `${path}: HTTP ${response.status} ${response.statusText}`);
  }
  return body;
}

// ---------------------------------------------------------------- status line and counters
function status(text, kind = "info") {
  const el = $("status");
  el.textContent = text;
  el.className = kind;
  if (kind === "error") bump("errors");
}

function bump(id, by = 1) {
  const el = $(id);
  el.textContent = String(Number(el.textContent) + by);
}

function setCount(id, value) {
  $(id).textContent = String(value);
}

/** Latency and rates of one session, shown in #stats. */
class Stats {
  constructor() {
    this.sentAt = new Map(); // t → performance.now() when sent
    this.rtts = []; // [when, ms]
    this.replyTimes = [];
    this.compute = [];
    for (const id of ["replies", "sent", "skipped", "detected", "errors"]) setCount(id, 0);
    for (const id of ["rtt", "compute", "rate"]) setCount(id, "–");
  }

  sent(t) {
    this.sentAt.set(t, performance.now());
    bump("sent");
  }

  /** Frames sent whose reply has not come (the older ones are given up on). */
  inFlight() {
    const old = performance.now() - IN_FLIGHT_TIMEOUT_MS;
    for (const [t, when] of this.sentAt) if (when < old) this.sentAt.delete(t);
    return this.sentAt.size;
  }

  /** A reply for the frame at `t`: it answers that frame and every earlier one (coalesced by the server). */
  replied(msg) {
    const now = performance.now();
    const sent = this.sentAt.get(msg.t);
    for (const t of this.sentAt.keys()) if (t <= msg.t) this.sentAt.delete(t);
    if (msg.type !== "forecast") return;
    if (sent !== undefined) this.rtts.push([now, now - sent]);
    this.replyTimes.push([now]);
    if (Number.isFinite(msg.compute_ms)) this.compute.push([now, msg.compute_ms]);
    bump("replies");
    if (msg.skipped) bump("skipped", msg.skipped);
  }

  /** Refresh #stats: medians over the last second. */
  show() {
    const since = performance.now() - 1000;
    const recent = (list) => {
      while (list.length && list[0][0] < since) list.shift();
      return list;
    };
    const median = (xs) => {
      if (!xs.length) return null;
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.floor(s.length / 2)];
    };
    const rtt = median(recent(this.rtts).map((x) => x[1]));
    const compute = median(recent(this.compute).map((x) => x[1]));
    setCount("rtt", rtt === null ? "–" : `${rtt.toFixed(1)} ms`);
    setCount("compute", compute === null ? "–" : `${compute.toFixed(1)} ms`);
    setCount("rate", String(recent(this.replyTimes).length));
  }
}

// ---------------------------------------------------------------- skeleton helpers
/** Joints with no children (hands, feet, head), minus any within 10 cm of one already taken in `pose`. */
function endJoints(parents, pose) {
  const hasChild = new Array(parents.length).fill(false);
  for (const p of parents) if (p >= 0) hasChild[p] = true;
  const taken = [];
  for (let j = 0; j < parents.length; j++) {
    if (hasChild[j]) continue;
    const close = pose && taken.some((k) => pose[k] && pose[j] && Math.hypot(...pose[k].map((v, i) => v - pose[j][i])) < 0.1);
    if (!close) taken.push(j);
  }
  return taken;
}

/** [min, max] of each axis over J×3 points (nulls skipped). */
function bounds(points) {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const p of points) {
    if (!p) continue;
    for (let i = 0; i < 3; i++) {
      lo[i] = Math.min(lo[i], p[i]);
      hi[i] = Math.max(hi[i], p[i]);
    }
  }
  return [lo, hi];
}

/** The hypothesis to draw: the forecast F×J×3, or the most probable of S×F×J×3. */
function bestHypothesis(msg) {
  const f = msg.forecast;
  if (!Array.isArray(msg.probabilities)) return f;
  let best = 0;
  msg.probabilities.forEach((p, i) => {
    if (p > msg.probabilities[best]) best = i;
  });
  return f[best];
}

/**
 * Draw a forecast (F×J×3) in the 3D view: a few in-between frames faintly, the paths of the end joints and
 * the last frame in orange. `now` (J×3) is drawn solid blue, `past` (list of J×3) as faint blue trails.
 */
function drawForecast(view, parents, { now, past, forecast, actual, ends }) {
  if (past && past.length > 1) {
    for (const j of ends) view.polyline(past.map((p) => p[j]), { color: COLOR.blue, width: 2, alpha: 0.35 });
  }
  if (forecast) {
    const F = forecast.length;
    const step = Math.max(1, Math.ceil(F / 5));
    for (let f = step - 1; f < F - 1; f += step) {
      view.skeleton(forecast[f], parents, { color: COLOR.orange, width: 1.5, alpha: 0.12 + (0.25 * f) / F });
    }
    const start = now ?? forecast[0];
    for (const j of ends) view.polyline([start[j], ...forecast.map((p) => p[j])], { color: COLOR.orange, width: 1.5, alpha: 0.7 });
  }
  if (actual) view.skeleton(actual, parents, { color: COLOR.grey, width: 2, alpha: 0.9, dash: [5, 4] });
  if (now) {
    view.skeleton(now, parents, { color: COLOR.blue, width: 4 });
    view.joints(now, 2.5, COLOR.blue);
  }
  if (forecast) {
    const last = forecast[forecast.length - 1];
    view.skeleton(last, parents, { color: COLOR.orange, width: 3 });
    view.joints(last, 2, COLOR.orange);
  }
}

// ---------------------------------------------------------------- sessions
/** Common to both modes: the socket, the status line, the render loop. */
class Session {
  constructor(path, opening, view) {
    this.view = view;
    this.stats = new Stats();
    this.stopped = false;
    this.ready = null;
    this.dirty = true;
    this.drawnForecast = null; // the reply last drawn in 3D
    this.ws = new WebSocket(wsUrl(path));
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => this.ws.send(JSON.stringify(opening));
    this.ws.onmessage = (e) => this.#message(e.data);
    this.ws.onerror = () => {
      if (!this.stopped) status(`could not talk to the server at ${wsUrl(path)}`, "error");
    };
    this.ws.onclose = (e) => {
      if (this.stopped) return;
      status(`the server closed the session (code ${e.code}${e.reason ? `: ${e.reason}` : ""})`, "error");
      stopSession(false);
    };
    this.statsTimer = setInterval(() => this.stats.show(), 250);
    this.frame = requestAnimationFrame(() => this.#render());
    view.onchange = () => {
      this.dirty = true;
    };
  }

  #message(data) {
    if (this.stopped) return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      status("the server sent something that is not JSON", "error");
      return;
    }
    if (msg.error !== undefined) {
      status(`server: ${msg.error}`, "error");
      if (!this.ready) stopSession(false); // the session did not open: let the user change something and retry
      return;
    }
    if (msg.type === "ready") {
      this.ready = msg;
      this.onReady(msg);
    } else {
      this.stats.replied(msg);
      this.onReply(msg);
    }
    this.dirty = true;
  }

  #render() {
    if (this.stopped) return;
    if (this.dirty) {
      this.dirty = false;
      this.draw();
    }
    this.frame = requestAnimationFrame(() => this.#render());
  }

  /** Count a forecast drawn on `canvas` once (data-`key`). */
  counted(canvas, msg, key = "drawn") {
    const mark = `_${key}`;
    if (msg && canvas[mark] !== msg) {
      canvas[mark] = msg;
      canvas.dataset[key] = String(Number(canvas.dataset[key] ?? 0) + 1);
    }
  }

  stop() {
    this.stopped = true;
    clearInterval(this.statsTimer);
    cancelAnimationFrame(this.frame);
    this.view.onchange = null;
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }
}

/** Replay: send a motion's frames at its frame rate, in real time, looped; draw it and its forecasts. */
class ReplaySession extends Session {
  constructor(motion, model, seconds, view, maxFps) {
    const stride = Math.max(1, Math.ceil(motion.fps / maxFps));
    const fps = motion.fps / stride;
    super("v1/stream", { skeleton: motion.skeleton, fps, seconds, ...(model ? { model } : {}) }, view);
    this.motion = motion;
    this.stride = stride;
    this.fps = fps;
    this.T = Math.floor(motion.positions.length / stride); // frames per loop
    this.k = 0; // frames sent
    this.forecast = null;
    const first = this.#raw(0);
    const lastA = this.#raw(this.T - 1);
    const lastB = this.#raw(Math.max(0, this.T - 2));
    // a loop continues where the previous one ended (horizontally), so a walk walks on instead of jumping back
    this.loopShift = [0, 2].map((i) => lastA[0][i] - first[0][i] + (lastA[0][i] - lastB[0][i]));
    let floor = Infinity;
    for (let k = 0; k < this.T; k++) floor = Math.min(floor, bounds(this.#raw(k))[0][1]);
    this.floor = floor;
    this.ends = endJoints(motion.skeleton.parents, first);
    const [lo, hi] = bounds(first);
    view.fit(Math.max(hi[1] - floor, hi[0] - lo[0], hi[2] - lo[2], 0.5) * 1.3);
    view.target = [first[0][0], (floor + hi[1]) / 2, first[0][2]];
    this.center = null; // where the camera looks, horizontally: between the person now and the forecast's end
    this.maxFps = maxFps;
  }

  #raw(k) {
    return this.motion.positions[k * this.stride];
  }

  /** Frame `k` of the endless replay (J×3 metres). */
  frameAt(k) {
    const loop = Math.floor(k / this.T);
    const pose = this.#raw(k - loop * this.T);
    if (loop === 0) return pose;
    const [dx, dz] = [this.loopShift[0] * loop, this.loopShift[1] * loop];
    return pose.map((p) => [p[0] + dx, p[1], p[2] + dz]);
  }

  onReady(msg) {
    const loops = this.T / this.fps;
    this.running = (
      `Streaming ${this.motion.source} (${msg.joints.length} joints, ${loops.toFixed(1)} s looped, ` +
        `${this.fps.toFixed(0)} frames/s) to ${msg.model}: each reply forecasts ${msg.seconds} s (${msg.frames} frames).`
    );
    status(this.running, "ok");
    this.waiting = false;
    this.t0 = performance.now();
    this.timer = setInterval(() => this.#tick(), Math.max(4, 500 / this.fps));
  }

  #tick() {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    let due = Math.floor(((performance.now() - this.t0) / 1000) * this.fps) + 1;
    if (due - this.k > this.fps) this.k = due - 1; // over a second behind (a hidden tab): jump
    while (this.k < due) {
      const k = this.k++;
      const t = k / this.fps;
      const positions = this.frameAt(k).map((p) => p.map((v) => Math.round(v * 1e5) / 1e5));
      this.ws.send(JSON.stringify({ t, positions }));
      this.stats.sent(t);
      this.dirty = true;
    }
  }

  onReply(msg) {
    if (msg.type === "waiting") {
      status(`Collecting history: ${msg.frames} of the ${msg.needed} frames the model needs…`);
      this.waiting = true;
    } else if (msg.type === "forecast") {
      if (this.waiting) status(this.running, "ok");
      this.waiting = false;
      this.forecast = { msg, positions: bestHypothesis(msg), k: Math.round(msg.t * this.fps) };
    }
  }

  draw() {
    const view = this.view;
    const k = Math.max(0, this.k - 1);
    const now = this.frameAt(k);
    const fc = this.forecast;
    const end = fc ? fc.positions[fc.positions.length - 1][0] : now[0];
    const aim = [(now[0][0] + end[0]) / 2, (now[0][2] + end[2]) / 2];
    const jump = this.center && Math.hypot(aim[0] - this.center[0], aim[1] - this.center[1]) > 3;
    // follow smoothly (forecasts jitter), but jump when the motion does (a loop of a file that is not cyclic)
    this.center = !this.center || jump ? aim : this.center.map((c, i) => c + 0.15 * (aim[i] - c));
    view.target = [this.center[0], view.target[1], this.center[1]];
    view.begin(COLOR.background);
    view.grid(this.floor, { color: COLOR.grid });
    const n = Math.round(PAST_SECONDS * this.fps);
    const past = [];
    for (let i = Math.max(0, k - n); i <= k; i++) past.push(this.frameAt(i));
    const actual = fc && $("show-actual").checked ? this.frameAt(fc.k + fc.positions.length) : null;
    drawForecast(view, this.motion.skeleton.parents, {
      now,
      past,
      forecast: fc?.positions,
      actual,
      ends: this.ends,
    });
    view.note(`t = ${(k / this.fps).toFixed(2)} s`, 10, 18);
    if (fc) {
      view.note(`forecast from t = ${fc.msg.t.toFixed(2)} s, ${this.ready?.seconds ?? ""} s ahead`, 10, 34);
      this.counted(view.canvas, fc.msg);
    }
  }

  stop() {
    clearInterval(this.timer);
    super.stop();
  }
}

/** Camera: JPEG frames to /v1/video, at most MAX_IN_FLIGHT unanswered; draw keypoints and forecasts. */
class CameraSession extends Session {
  constructor(stream, video, model, seconds, view) {
    super("v1/video", { seconds, ...(model ? { model } : {}) }, view);
    this.stream = stream;
    this.video = video;
    this.capture = document.createElement("canvas");
    this.images = new Map(); // t → ImageBitmap of frames in flight
    this.reply = null; // the newest forecast reply and its image
    this.image = null;
    this.encoding = false;
    this.floor = null;
    this.fitted = false;
    view.setHome(...HOME.camera); // from the camera's side, turned a little: the image shows the front already
  }

  onReady(msg) {
    status(
      `Camera ${this.video.videoWidth}×${this.video.videoHeight} → ${msg.model}: each reply forecasts ` +
        `${msg.seconds} s of the ${msg.skeleton} body. Step back so that your whole body is in the picture.`,
      "ok",
    );
    this.t0 = performance.now();
    // look for a free slot 60 times a second; a reply also sends the next frame at once (onReply)
    this.timer = setInterval(() => this.#grab(), 1000 / 60);
  }

  /** Send the camera's current frame if fewer than MAX_IN_FLIGHT frames await their reply. */
  async #grab() {
    if (this.stopped || this.encoding || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.stats.inFlight() >= MAX_IN_FLIGHT) return;
    this.encoding = true;
    try {
      await this.#send();
    } catch (exc) {
      status(`camera frame: ${exc.message ?? exc}`, "error");
    } finally {
      this.encoding = false;
    }
  }

  async #send() {
    const v = this.video;
    const [w, h] = [v.videoWidth, v.videoHeight];
    if (!w || !h) return;
    const t = (performance.now() - this.t0) / 1000;
    const c = this.capture;
    if (c.width !== w || c.height !== h) [c.width, c.height] = [w, h];
    c.getContext("2d").drawImage(v, 0, 0, w, h);
    const [bitmap, blob] = await Promise.all([
      createImageBitmap(c),
      new Promise((resolve) => c.toBlob(resolve, "image/jpeg", JPEG_QUALITY)),
    ]);
    if (!blob) throw new Error("the browser could not encode a JPEG");
    const jpeg = new Uint8Array(await blob.arrayBuffer());
    const message = new Uint8Array(8 + jpeg.length);
    new DataView(message.buffer).setFloat64(0, t, true); // 8-byte little-endian float64 seconds, then JPEG
    message.set(jpeg, 8);
    if (this.stopped || this.ws.readyState !== WebSocket.OPEN) {
      bitmap.close();
      return;
    }
    this.ws.send(message.buffer);
    this.images.set(t, bitmap);
    this.stats.sent(t);
  }

  onReply(msg) {
    if (msg.type !== "forecast") return;
    const image = this.images.get(msg.t);
    for (const [t, bitmap] of this.images) {
      if (t <= msg.t) {
        this.images.delete(t);
        if (bitmap !== image) bitmap.close();
      }
    }
    if (image) {
      this.image?.close();
      this.image = image;
    }
    this.reply = msg;
    if (msg.detected) bump("detected");
    this.#grab(); // a reply frees a slot: send the next frame now
  }

  draw() {
    this.#drawOverlay();
    this.#draw3d();
  }

  #drawOverlay() {
    const canvas = $("overlay");
    const msg = this.reply;
    if (!this.image || !msg) return;
    const ctx = canvas.getContext("2d");
    if (canvas.width !== this.image.width || canvas.height !== this.image.height) {
      [canvas.width, canvas.height] = [this.image.width, this.image.height];
    }
    ctx.drawImage(this.image, 0, 0);
    const scale = canvas.width / 640;
    const ok = (p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]);
    const lines = (points, parents, color, width, alpha = 1) => {
      ctx.beginPath();
      parents.forEach((p, j) => {
        if (p >= 0 && ok(points[j]) && ok(points[p])) {
          ctx.moveTo(points[j][0], points[j][1]);
          ctx.lineTo(points[p][0], points[p][1]);
        }
      });
      ctx.globalAlpha = alpha;
      ctx.strokeStyle = color;
      ctx.lineWidth = width * scale;
      ctx.lineCap = "round";
      ctx.stroke();
      ctx.globalAlpha = 1;
    };
    const dots = (points, color, radius, visibility) => {
      ctx.fillStyle = color;
      points.forEach((p, j) => {
        if (!ok(p)) return;
        ctx.globalAlpha = visibility && visibility[j] < 0.5 ? 0.35 : 1;
        ctx.beginPath();
        ctx.arc(p[0], p[1], radius * scale, 0, 2 * Math.PI);
        ctx.fill();
      });
      ctx.globalAlpha = 1;
    };
    if (msg.forecast_pixels && this.ready) {
      const fp = msg.forecast_pixels;
      const parents = this.ready.parents;
      for (const j of endJoints(parents, null)) {
        ctx.beginPath();
        fp.forEach((frame, f) => (f ? ctx.lineTo(...frame[j]) : ctx.moveTo(...frame[j])));
        ctx.globalAlpha = 0.8;
        ctx.strokeStyle = COLOR.orange;
        ctx.lineWidth = 1.5 * scale;
        ctx.stroke();
        ctx.globalAlpha = 1;
      }
      lines(fp[fp.length - 1], parents, COLOR.orange, 3.5);
      dots(fp[fp.length - 1], COLOR.orange, 3);
      this.counted(canvas, msg, "forecastDrawn");
    }
    if (msg.detected && msg.keypoints) {
      const parents = this.ready?.keypoint_parents;
      if (Array.isArray(parents) && parents.length === msg.keypoints.length) {
        lines(msg.keypoints, parents, COLOR.green, 2.5, 0.9);
        const names = this.ready.keypoint_joints ?? [];
        // the keypoint layout is a tree: close the torso for the eye (shoulders, hips)
        const pair = (a, b) => [names.indexOf(a), names.indexOf(b)];
        const extra = [pair("left_shoulder", "right_shoulder"), pair("left_hip", "right_hip")].filter(([a, b]) => a >= 0 && b >= 0);
        const pts = extra.flatMap(([a, b]) => [msg.keypoints[a], msg.keypoints[b]]);
        lines(pts, pts.map((_, i) => (i % 2 ? i - 1 : -1)), COLOR.green, 2.5, 0.9);
      }
      dots(msg.keypoints, COLOR.green, 3, msg.visibility);
      // the keypoints' box in image pixels, "x0 y0 x1 y1" (for tests and the curious)
      const seen = msg.keypoints.filter(ok);
      const xs = seen.map((p) => p[0]);
      const ys = seen.map((p) => p[1]);
      canvas.dataset.keypointsBox = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]
        .map((v) => v.toFixed(0))
        .join(" ");
      this.counted(canvas, msg);
    } else {
      ctx.font = `${Math.round(20 * scale)}px system-ui, sans-serif`;
      ctx.fillStyle = "#fff";
      ctx.fillText("no person found in this frame", 14 * scale, 30 * scale);
    }
  }

  #draw3d() {
    const view = this.view;
    const msg = this.reply;
    const forecast = msg?.forecast ?? null;
    if (forecast && !this.fitted) {
      const [lo, hi] = bounds(forecast[0]);
      view.fit(Math.max(hi[1] - lo[1], 1.0) * 1.15);
      this.fitted = true;
    }
    if (forecast) {
      const [lo, hi] = bounds(forecast[0]);
      this.floor = this.floor === null ? lo[1] : 0.9 * this.floor + 0.1 * lo[1]; // smoothed: no jittering ground
      view.target = [0, (this.floor + hi[1]) / 2, 0];
    }
    view.begin(COLOR.background);
    view.grid(this.floor ?? -1, { color: COLOR.grid });
    if (!forecast) {
      view.note(msg ? "no person yet: step into the picture" : "waiting for the first reply…", 10, 18);
      return;
    }
    drawForecast(view, this.ready.parents, {
      now: forecast[0],
      forecast,
      ends: endJoints(this.ready.parents, forecast[0]),
    });
    view.note(`forecast ${this.ready.seconds} s ahead (camera-aligned, pelvis-centred)`, 10, 18);
    this.counted(view.canvas, msg);
  }

  stop() {
    clearInterval(this.timer);
    super.stop();
    for (const track of this.stream.getTracks()) track.stop();
    this.video.srcObject = null;
    for (const bitmap of this.images.values()) bitmap.close();
    this.images.clear();
  }
}

// ---------------------------------------------------------------- the page
/** The 3D view's starting angles (azimuth, elevation; radians) per mode. */
const HOME = { replay: [1.0, 0.22], camera: [0.5, 0.15] };
let models = [];
let limits = { fps: 120 };
let session = null;
let view = null;
const mode = () => document.querySelector('input[name="mode"]:checked').value;
const source = () => document.querySelector('input[name="source"]:checked').value;

function fillModels() {
  const kind = mode() === "camera" ? "video" : "stream";
  const select = $("model");
  const keep = select.dataset[kind];
  select.replaceChildren();
  const usable = models.filter((m) => m.served?.[kind]);
  for (const m of usable) {
    const isDefault = kind === "stream" ? m.default : (m.default_for ?? []).includes("video");
    const option = new Option(m.name + (isDefault ? " (default)" : ""), m.name, false, keep ? keep === m.name : isDefault);
    option.title = m.summary ?? "";
    select.append(option);
  }
  if (!usable.length) select.append(new Option(`no ${kind} model on this server`, ""));
  showSummary();
}

function showSummary() {
  const m = models.find((x) => x.name === $("model").value);
  $("model-summary").textContent = m?.summary ?? "";
}

function setMode() {
  stopSession(true);
  document.body.dataset.mode = mode();
  fillModels();
  view.setHome(...HOME[mode()]);
  drawIdle();
  status(mode() === "camera" ? "Press Start and allow the camera." : "Pick a motion and press Start.");
}

async function loadMotion() {
  if (source() === "example") return fetchJSON("v1/motions/example");
  const file = $("motion-file").files[0];
  if (!file) throw new Error("choose a motion file first (or the built-in example)");
  const form = new FormData();
  form.append("file", file, file.name);
  const asf = $("asf-file").files[0];
  if (asf) form.append("asf", asf, asf.name);
  return fetchJSON("v1/motions", { method: "POST", body: form });
}

async function startSession() {
  stopSession(true);
  const model = $("model").value || null;
  const seconds = Number($("seconds").value) || 1;
  $("start").disabled = true;
  $("stop").disabled = false;
  document.body.dataset.state = "starting";
  for (const c of [$("overlay"), $("view3d")]) {
    c.dataset.drawn = "0";
    if (c.dataset.forecastDrawn) c.dataset.forecastDrawn = "0";
  }
  try {
    if (mode() === "replay") {
      status(source() === "example" ? "Loading the example motion…" : "Reading the motion file on the server…");
      const motion = await loadMotion();
      if (document.body.dataset.state !== "starting") return; // stopped meanwhile
      session = new ReplaySession(motion, model, seconds, view, limits.fps);
    } else {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw new Error(
          "this browser gives no camera to this page: it needs https (posecast serve --ssl-certfile/--ssl-keyfile) or localhost",
        );
      }
      status("Asking for the camera…");
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
      const video = $("camera");
      video.srcObject = stream;
      await video.play();
      if (document.body.dataset.state !== "starting") {
        for (const track of stream.getTracks()) track.stop();
        return;
      }
      status("Opening a camera session (the pose backend takes a moment to load)…");
      session = new CameraSession(stream, video, model, seconds, view);
    }
    document.body.dataset.state = "running";
  } catch (exc) {
    status(exc.message ?? String(exc), "error");
    stopSession(false);
  }
}

function stopSession(quiet) {
  if (session) {
    session.stop();
    session = null;
  }
  document.body.dataset.state = "idle";
  $("start").disabled = false;
  $("stop").disabled = true;
  if (!quiet && $("status").className !== "error") status("Stopped.");
}

/** The 3D view before any session: the ground and a hint. */
function drawIdle() {
  view.target = [0, 0.9, 0];
  view.fit(2);
  view.begin(COLOR.background);
  view.grid(0, { color: COLOR.grid });
  view.note(mode() === "camera" ? "Press Start to forecast from your camera." : "Press Start to replay a motion.", 10, 18);
}

async function main() {
  view = new View3D($("view3d"), { azimuth: HOME.replay[0], elevation: HOME.replay[1] });
  drawIdle();
  new ResizeObserver(() => {
    if (session) session.dirty = true;
    else drawIdle(); // resizing clears the canvas
  }).observe($("view3d"));
  for (const r of document.querySelectorAll('input[name="mode"]')) r.addEventListener("change", setMode);
  $("model").addEventListener("change", () => {
    $("model").dataset[mode() === "camera" ? "video" : "stream"] = $("model").value;
    showSummary();
  });
  $("motion-file").addEventListener("change", () => {
    document.querySelector('input[name="source"][value="file"]').checked = true;
  });
  $("controls").addEventListener("submit", (e) => {
    e.preventDefault();
    startSession();
  });
  $("stop").addEventListener("click", () => stopSession(false));
  $("show-actual").addEventListener("change", () => {
    if (session) session.dirty = true;
  });
  $("start").disabled = true;
  try {
    const [listing, health] = await Promise.all([fetchJSON("v1/models"), fetchJSON("health")]);
    models = listing.models;
    limits = { ...limits, ...(health.limits ?? {}) };
    const video = models.some((m) => m.served?.video);
    document.querySelector('input[name="mode"][value="camera"]').disabled = !video;
    document.body.dataset.mode = mode();
    fillModels();
    $("start").disabled = false;
    status(`Connected to PoseCast ${health.version}. Pick a motion and press Start.`);
  } catch (exc) {
    status(`cannot reach the server: ${exc.message ?? exc}`, "error");
  }
  document.body.dataset.loaded = "true";
}

main();
