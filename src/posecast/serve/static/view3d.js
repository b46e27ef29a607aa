// The page's 3D view: a canvas 2D context, a perspective projection written out by hand, drag to orbit.
//
// Why not WebGL, three.js or plotly.js: the page draws a few dozen line segments (one or two skeletons,
// faint in-between frames, a few trails and a ground grid) 30 times a second. A 2D canvas does that in well
// under a millisecond, with no library, and the page must load no script from the network. plotly.js (it
// ships inside the Python plotly package) is 4.5 MB and far too slow to restyle at this rate.
//
// Coordinates are metres, y up (PoseCast's frame). The camera orbits a target point: `azimuth` turns it
// about the vertical axis (0 = standing on +z looking towards -z, which is the image view of the camera
// mode: x right, y up), `elevation` lifts it above the ground plane.

const NEAR = 0.05; // metres: the near clipping plane
const MIN_DISTANCE = 0.5;
const MAX_DISTANCE = 60;

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

export class View3D {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{azimuth?: number, elevation?: number, fovDegrees?: number}} options angles in radians
   */
  constructor(canvas, { azimuth = 0.8, elevation = 0.3, fovDegrees = 40 } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.home = { azimuth, elevation };
    this.azimuth = azimuth;
    this.elevation = elevation;
    this.fov = (fovDegrees * Math.PI) / 180;
    this.target = [0, 1, 0];
    this.size = 2; // metres the camera distance is fitted to
    this.distance = this.#fitDistance(this.size);
    /** called after the user moved the camera (drag, wheel) or reset it (double click: `reset` is true) */
    this.onchange = null;
    this.#listen();
    this.resize();
  }

  /** The home view (radians), used now and by a double click. */
  setHome(azimuth, elevation) {
    this.home = { azimuth, elevation };
    this.azimuth = azimuth;
    this.elevation = elevation;
  }

  /** Distance at which something `size` metres tall fills about two thirds of the view's height. */
  #fitDistance(size) {
    return clamp(size / (1.3 * Math.tan(this.fov / 2)), MIN_DISTANCE, MAX_DISTANCE);
  }

  /** Fit the camera distance to a subject of `size` metres (its largest extent). */
  fit(size) {
    this.size = Math.max(0.2, size);
    this.distance = this.#fitDistance(this.size);
  }

  /** Match the canvas's pixels to its size on the screen (device pixels). */
  resize() {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    const w = Math.round(this.width * dpr);
    const h = Math.round(this.height * dpr);
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.dpr = dpr;
  }

  #listen() {
    const c = this.canvas;
    let last = null;
    c.addEventListener("pointerdown", (e) => {
      last = [e.clientX, e.clientY];
      c.setPointerCapture(e.pointerId);
      c.classList.add("dragging");
    });
    c.addEventListener("pointermove", (e) => {
      if (last === null) return;
      const [dx, dy] = [e.clientX - last[0], e.clientY - last[1]];
      last = [e.clientX, e.clientY];
      this.azimuth -= dx * 0.008;
      this.elevation = clamp(this.elevation + dy * 0.008, -0.15, 1.5);
      this.onchange?.(false);
    });
    const end = (e) => {
      last = null;
      c.classList.remove("dragging");
      if (c.hasPointerCapture(e.pointerId)) c.releasePointerCapture(e.pointerId);
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        this.distance = clamp(this.distance * Math.exp(e.deltaY * 0.001), MIN_DISTANCE, MAX_DISTANCE);
        this.onchange?.(false);
      },
      { passive: false },
    );
    c.addEventListener("dblclick", () => {
      this.azimuth = this.home.azimuth;
      this.elevation = this.home.elevation;
      this.distance = this.#fitDistance(this.size);
      this.onchange?.(true);
    });
  }

  /** Start a frame: clear, and compute the camera's basis (eye, right, up, forward). */
  begin(background) {
    this.resize();
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, this.width, this.height);
    const [ce, se] = [Math.cos(this.elevation), Math.sin(this.elevation)];
    const [ca, sa] = [Math.cos(this.azimuth), Math.sin(this.azimuth)];
    const t = this.target;
    const d = this.distance;
    this.eye = [t[0] + d * ce * sa, t[1] + d * se, t[2] + d * ce * ca];
    this.forward = [-ce * sa, -se, -ce * ca]; // eye → target
    this.right = [ca, 0, -sa]; // forward × y, normalised
    this.up = [-sa * se, ce, -ca * se]; // right × forward
    this.focal = this.height / 2 / Math.tan(this.fov / 2);
  }

  /** Camera coordinates [x right, y up, z depth] of a world point. */
  #camera(p) {
    const d = [p[0] - this.eye[0], p[1] - this.eye[1], p[2] - this.eye[2]];
    const dot = (a) => a[0] * d[0] + a[1] * d[1] + a[2] * d[2];
    return [dot(this.right), dot(this.up), dot(this.forward)];
  }

  #screen(c) {
    return [this.width / 2 + (this.focal * c[0]) / c[2], this.height / 2 - (this.focal * c[1]) / c[2]];
  }

  /** Screen point [x, y] (CSS pixels) of a world point, or null behind the camera. */
  project(p) {
    const c = this.#camera(p);
    return c[2] < NEAR ? null : this.#screen(c);
  }

  /** Add the segment a-b (world points) to the current path, clipped at the near plane. */
  #segment(a, b) {
    let ca = this.#camera(a);
    let cb = this.#camera(b);
    if (ca[2] < NEAR && cb[2] < NEAR) return;
    if (ca[2] < NEAR || cb[2] < NEAR) {
      const s = (NEAR - ca[2]) / (cb[2] - ca[2]);
      const m = [ca[0] + s * (cb[0] - ca[0]), ca[1] + s * (cb[1] - ca[1]), NEAR];
      if (ca[2] < NEAR) ca = m;
      else cb = m;
    }
    const [pa, pb] = [this.#screen(ca), this.#screen(cb)];
    this.ctx.moveTo(pa[0], pa[1]);
    this.ctx.lineTo(pb[0], pb[1]);
  }

  #stroke(style) {
    const ctx = this.ctx;
    ctx.globalAlpha = style.alpha ?? 1;
    ctx.strokeStyle = style.color;
    ctx.lineWidth = style.width ?? 2;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.setLineDash(style.dash ?? []);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
  }

  /** A square grid on the plane y = `y`, `spacing` metres, `half` metres each side of the target. */
  grid(y, { spacing = 0.5, half = 4, color = "#c9d1db" } = {}) {
    const x0 = Math.round(this.target[0] / spacing) * spacing;
    const z0 = Math.round(this.target[2] / spacing) * spacing;
    const n = Math.round(half / spacing);
    this.ctx.beginPath();
    for (let i = -n; i <= n; i++) {
      this.#segment([x0 + i * spacing, y, z0 - half], [x0 + i * spacing, y, z0 + half]);
      this.#segment([x0 - half, y, z0 + i * spacing], [x0 + half, y, z0 + i * spacing]);
    }
    this.#stroke({ color, width: 1 });
  }

  /** A skeleton: `points` J×3 joined to their `parents` (−1 for the root). */
  skeleton(points, parents, style) {
    this.ctx.beginPath();
    for (let j = 0; j < parents.length; j++) {
      const p = parents[j];
      if (p >= 0 && points[j] && points[p]) this.#segment(points[j], points[p]);
    }
    this.#stroke(style);
  }

  /** Dots at `points` (J×3), `radius` CSS pixels. */
  joints(points, radius, color, alpha = 1) {
    const ctx = this.ctx;
    ctx.globalAlpha = alpha;
    ctx.fillStyle = color;
    ctx.beginPath();
    for (const p of points) {
      const s = p && this.project(p);
      if (!s) continue;
      ctx.moveTo(s[0] + radius, s[1]);
      ctx.arc(s[0], s[1], radius, 0, 2 * Math.PI);
    }
    ctx.fill();
    ctx.globalAlpha = 1;
  }

  /** A polyline through world points. */
  polyline(points, style) {
    this.ctx.beginPath();
    for (let i = 1; i < points.length; i++) this.#segment(points[i - 1], points[i]);
    this.#stroke(style);
  }

  /** A line of text at the top left (CSS pixels from the corner), for a heads-up note. */
  note(text, x, y, color = "#5f6b7a") {
    const ctx = this.ctx;
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = color;
    ctx.fillText(text, x, y);
  }
}
