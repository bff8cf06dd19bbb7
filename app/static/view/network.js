// The network view: the small CNN convcore trained (app/network/net.py) run in the browser on
// a test image or on a digit drawn on the pad — every layer's maps (all channels), the class
// probabilities, the learned kernels with the nearest classic filter, and from each
// convolution's map a link that opens that layer in the explorer.
//
// The forward pass runs here, so a stroke updates every map in the next frame with no round
// trip; the tests hold its maps and probabilities to the core's (net.forward).  A drawing is
// reported to Streamlit once the user stops (debounced), so the page's text and the URL
// follow it (component.js: the lifecycle every view extends).  Maps are painted pixel by pixel
// on small canvases (no plotly: the forward pass and 48 maps take a few milliseconds).

import {ViewBase, mountView} from "./component.js";
import {fmt} from "./format.js";
import {colorTable} from "./grid.js";

const BITMAP = 32;  // strokes are rasterized into 32×32 cells, counted per 4×4 block (0..16)
const BRUSH = 2.6;  // stroke radius in bitmap cells once the drawing is scaled to fill the box
const LUT = colorTable(256);
const DRAW_DIGITS = "0123456789abcdefg";

// ----------------------------------------------------------------------------- the network

function conv3(x, c, h, w, weight, bias, o) {
  // 3×3 cross-correlation with padding 1: (c, h, w) -> (o, h, w)
  const out = new Float32Array(o * h * w);
  for (let m = 0; m < o; m++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let s = bias[m];
        for (let ch = 0; ch < c; ch++) {
          const wb = (m * c + ch) * 9;
          for (let di = 0; di < 3; di++) {
            const ii = i + di - 1;
            if (ii < 0 || ii >= h) continue;
            const xb = (ch * h + ii) * w;
            for (let dj = 0; dj < 3; dj++) {
              const jj = j + dj - 1;
              if (jj >= 0 && jj < w) s += weight[wb + di * 3 + dj] * x[xb + jj];
            }
          }
        }
        out[(m * h + i) * w + j] = s;
      }
    }
  }
  return out;
}

function reluPool(z, c, h, w) {
  // ReLU then 2×2 max-pool (the same as max-pool then ReLU): (c, h, w) -> (c, h/2, w/2)
  const ho = h / 2;
  const wo = w / 2;
  const out = new Float32Array(c * ho * wo);
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const b = (ch * h + 2 * i) * w + 2 * j;
        out[(ch * ho + i) * wo + j] = Math.max(0, z[b], z[b + 1], z[b + w], z[b + w + 1]);
      }
    }
  }
  return out;
}

// Every activation of the network for one input x (16×16), as net.forward names them.
export function forward(P, x, side) {
  const [c1, c2] = [P["conv1.w"].shape[0], P["conv2.w"].shape[0]];
  const z1 = conv3(x, 1, side, side, P["conv1.w"].data, P["conv1.b"].data, c1);
  const p1 = reluPool(z1, c1, side, side);
  const z2 = conv3(p1, c1, side / 2, side / 2, P["conv2.w"].data, P["conv2.b"].data, c2);
  const p2 = reluPool(z2, c2, side / 2, side / 2);
  const [classes, features] = P["fc.w"].shape;
  const logits = new Float32Array(classes);
  let top = -Infinity;
  for (let k = 0; k < classes; k++) {
    let s = P["fc.b"].data[k];
    for (let f = 0; f < features; f++) s += P["fc.w"].data[k * features + f] * p2[f];
    logits[k] = s;
    top = Math.max(top, s);
  }
  const e = Array.from(logits, (v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return {x, z1, p1, z2, p2, logits, probs: Float32Array.from(e, (v) => v / total)};
}

// 8×8 counts (0..16) -> the network's 16×16 input: U · (raw / 16) · Uᵀ, as data.to_input.
export function toInput(raw, up, levels) {
  const n = up.length;
  const m = up[0].length;
  const tmp = new Float64Array(m * n);  // (raw / levels) · Uᵀ
  for (let a = 0; a < m; a++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let b = 0; b < m; b++) s += (raw[a * m + b] / levels) * up[j][b];
      tmp[a * n + j] = s;
    }
  }
  const x = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let a = 0; a < m; a++) s += up[i][a] * tmp[a * n + j];
      x[i * n + j] = s;
    }
  }
  return x;
}

// ----------------------------------------------------------------------------- drawing

// Strokes (points in [0, 1]² of the pad) -> 8×8 counts, as the digits were made: the drawing
// is scaled to fill the box's height (or width), centred, rasterized into 32×32 cells with a
// round brush, and each 4×4 block counts its inked cells.
export function rasterize(strokes, side) {
  const points = strokes.flat();
  const raw = new Uint8Array(side * side);
  if (!points.length) return raw;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = (BITMAP - 2 * BRUSH) / Math.max(x1 - x0, y1 - y0, 0.2);
  const at = (p) => [(p[0] - (x0 + x1) / 2) * scale + BITMAP / 2,
                     (p[1] - (y0 + y1) / 2) * scale + BITMAP / 2];
  const ink = new Uint8Array(BITMAP * BITMAP);
  for (const stroke of strokes) {
    const pts = stroke.map(at);
    for (let s = 0; s < pts.length; s++) {
      const [ax, ay] = pts[s];
      const [bx, by] = pts[Math.min(s + 1, pts.length - 1)];
      const dx = bx - ax;
      const dy = by - ay;
      const len2 = dx * dx + dy * dy;
      const r0 = Math.max(0, Math.floor(Math.min(ay, by) - BRUSH));
      const r1 = Math.min(BITMAP - 1, Math.ceil(Math.max(ay, by) + BRUSH));
      const c0 = Math.max(0, Math.floor(Math.min(ax, bx) - BRUSH));
      const c1 = Math.min(BITMAP - 1, Math.ceil(Math.max(ax, bx) + BRUSH));
      for (let r = r0; r <= r1; r++) {
        for (let c = c0; c <= c1; c++) {
          const px = c + 0.5 - ax;
          const py = r + 0.5 - ay;
          const t = len2 ? Math.max(0, Math.min(1, (px * dx + py * dy) / len2)) : 0;
          const ex = px - t * dx;
          const ey = py - t * dy;
          if (ex * ex + ey * ey <= BRUSH * BRUSH) ink[r * BITMAP + c] = 1;
        }
      }
    }
  }
  const block = BITMAP / side;
  for (let r = 0; r < BITMAP; r++) {
    for (let c = 0; c < BITMAP; c++) {
      raw[Math.floor(r / block) * side + Math.floor(c / block)] += ink[r * BITMAP + c];
    }
  }
  return raw;
}

export function encodeDrawing(raw) {
  return Array.from(raw, (v) => DRAW_DIGITS[v]).join("");
}

function decodeDrawing(text, n) {
  if (typeof text !== "string" || text.length !== n) return null;
  const raw = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = DRAW_DIGITS.indexOf(text[i]);
    if (v < 0) return null;
    raw[i] = v;
  }
  return raw;
}

// ----------------------------------------------------------------------------- painting

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// One map: a canvas of one pixel per cell, scaled up by CSS (pixelated).
function mapCanvas(rows, cols, cell, title) {
  const c = el("canvas", "cx-net-map");
  c.width = cols;
  c.height = rows;
  c.style.width = `${cols * cell}px`;
  c.style.height = `${rows * cell}px`;
  c.setAttribute("role", "img");  // a screen reader hears its name
  if (title) {
    c.title = title;
    c.setAttribute("aria-label", title);
  }
  return c;
}

function paint(canvas, values, offset, zmax) {
  const ctx = canvas.getContext("2d");
  const n = canvas.width * canvas.height;
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let q = 0; q < n; q++) {
    const t = Math.min(1, Math.max(0, (values[offset + q] / zmax + 1) / 2));
    const k = Math.round(t * 255) * 3;
    img.data[q * 4] = LUT[k];
    img.data[q * 4 + 1] = LUT[k + 1];
    img.data[q * 4 + 2] = LUT[k + 2];
    img.data[q * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// Maps per row and cell size for `count` maps of `cells`² cells in `width` pixels: all in one
// row when the cells stay at least `least` pixels, else in 2, 4, ... rows.
function fitMaps(count, cells, width, least, most) {
  const gap = 8;
  let perRow = count;
  for (;;) {
    const cell = Math.floor((width - (perRow - 1) * gap) / (perRow * cells));
    if (cell >= least || perRow === 1) return {perRow, cell: Math.max(2, Math.min(most, cell))};
    perRow = Math.ceil(perRow / 2);
  }
}

function absMax(a, from = 0, to = a.length) {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(a[i]));
  return m > 0 ? m : 1;
}

// ----------------------------------------------------------------------------- the view

class NetworkView extends ViewBase {
  constructor(root) {
    super(root);
    this.timings = [];  // per update: {compute, frame} ms from the pointer event
  }

  // A new network or test image: its weights, the digit (or the link's drawing), every map.
  show(payload) {
    const s = payload.scene;
    this.scene = s;
    this.P = {};
    for (const [name, spec] of Object.entries(s.params)) {
      this.P[name] = {shape: spec.shape, data: Float32Array.from(spec.data)};
    }
    this.presenter = !!payload.presenter;
    const n = s.raw_side * s.raw_side;
    const drawn = decodeDrawing(payload.init && payload.init.draw, n);
    this.strokes = [];
    this.mode = drawn ? "link" : "test";
    this.raw = drawn || Uint8Array.from(s.digit.raw);
    this.build();
    this.update();
  }

  // The same scene again: drawn afresh only when where it starts or presenter mode changed.
  refresh(payload, previous) {
    if (JSON.stringify(payload.init) !== JSON.stringify(previous.init) ||
        !!payload.presenter !== !!previous.presenter) {
      this.show(payload);
    }
  }

  relayout() {
    if (this.scene && Math.abs((this.root.clientWidth || 0) - this.builtWidth) > 24) {
      this.build();
      this.update();
    }
  }

  viewState() {
    return {draw: this.code};
  }

  // ------------------------------------------------------------------ layout

  build() {
    const s = this.scene;
    const root = this.root;
    root.replaceChildren();
    root.classList.toggle("cx-presenter", this.presenter);
    const width = root.clientWidth || 800;
    this.builtWidth = width;
    const wide = width >= 700;
    const big = this.presenter ? 1.2 : 1;
    const [c1, c2] = [this.P["conv1.w"].shape[0], this.P["conv2.w"].shape[0]];
    const side = s.side;

    const bar = el("div", "cx-bar");
    this.clearButton = el("button", "", "Clear");
    this.clearButton.title = "Clear the pad (then draw a digit)";
    this.clearButton.addEventListener("click", () => this.clear());
    this.testButton = el("button", "", `Test image ${s.digit.image}`);
    this.testButton.title = "Show the test image chosen on the page again";
    this.testButton.addEventListener("click", () => this.backToTest());
    this.status = el("span", "cx-info");
    this.status.setAttribute("data-testid", "cx-net-status");
    this.status.setAttribute("role", "status");  // the prediction is announced as it changes
    bar.append(this.clearButton, this.testButton, this.status);

    const stage = el("div", "cx-net-stage");
    const left = el("div", "cx-net-left");
    const padSize = wide ? 168 : 150;
    this.pad = el("canvas", "cx-net-pad");
    this.pad.setAttribute("data-testid", "cx-net-pad");
    this.pad.width = padSize;
    this.pad.height = padSize;
    this.pad.style.width = `${padSize}px`;
    this.pad.style.height = `${padSize}px`;
    this.pad.title = "Draw a digit here (mouse, pen or finger)";
    this.pad.setAttribute("role", "img");
    this.pad.setAttribute("aria-label", "drawing pad: draw a digit with a mouse, pen or " +
                          "finger; the status line says what the network predicts");
    this.bindPad();
    const padBox = el("div", "cx-panel");
    padBox.append(el("div", "cx-title", "Draw a digit"), this.pad);
    const inCell = Math.round(6 * big);
    this.inputMap = mapCanvas(side, side, inCell, "what the network sees: 16×16, values 0–1");
    const inBox = el("div", "cx-panel");
    inBox.append(el("div", "cx-title", `Input ${side}×${side}`), this.inputMap);
    const top = el("div", "cx-net-inputs");
    top.append(padBox, inBox);
    this.probs = el("div", "cx-net-probs");
    this.probs.setAttribute("data-testid", "cx-net-probs");
    this.bars = [];
    for (let k = 0; k < this.P["fc.b"].shape[0]; k++) {
      const row = el("div", "cx-net-prob");
      const track = el("span", "cx-net-track");
      const fill = el("span", "cx-net-fill");
      track.appendChild(fill);
      const value = el("span", "cx-net-pct");
      row.append(el("span", "cx-net-class", String(k)), track, value);
      this.probs.appendChild(row);
      this.bars.push({row, fill, value});
    }
    const probBox = el("div", "cx-panel");
    probBox.append(el("div", "cx-title", "Linear 256 → 10, softmax"), this.probs);
    left.append(top, probBox);

    // the layers get the rest of the width: each convolution's maps in as few rows as keep
    // its cells readable, the pooled maps below them on the same grid
    const leftWidth = padSize + side * inCell + 16;
    const room = Math.max(240, wide ? width - leftWidth - 28 : width) - 4;
    const layers = el("div", "cx-net-layers");
    const fit1 = fitMaps(c1, side, room, 3, Math.round(7 * big));
    const fit2 = fitMaps(c2, side / 2, room, 4, Math.round(10 * big));
    this.rows = {
      z1: this.mapRow(layers, "z1", c1, side, fit1, "conv1",
                      `conv1: 1 → ${c1} maps, 3×3, before ReLU — click a map to open this ` +
                      "layer in the explorer"),
      p1: this.mapRow(layers, "p1", c1, side / 2, {...fit1, cell: fit1.cell * 2}, null,
                      `ReLU, 2×2 max-pool: ${c1} maps ${side / 2}×${side / 2}`),
      z2: this.mapRow(layers, "z2", c2, side / 2, fit2, "conv2",
                      `conv2: ${c1} → ${c2} maps, 3×3, before ReLU — click to open`),
      p2: this.mapRow(layers, "p2", c2, side / 4, {...fit2, cell: fit2.cell * 2}, null,
                      `ReLU, 2×2 max-pool: ${c2} maps ${side / 4}×${side / 4} = ` +
                      `${this.P["fc.w"].shape[1]} features`),
    };
    layers.appendChild(this.conv2Kernels(c1, c2));
    stage.classList.toggle("cx-net-wide", wide);
    stage.append(left, layers);
    const note = el("div", "cx-note",
                    "Colours: red negative, white 0, blue positive; each row has its own " +
                    "scale (its largest magnitude). Under each conv1 kernel: the nearest " +
                    "classic filter (cosine similarity).");
    root.append(bar, stage, note);
  }

  mapRow(parent, name, count, size, fit, conv, title) {
    const box = el("div", "cx-net-row");
    box.setAttribute("data-row", name);
    box.appendChild(el("div", "cx-title", title));
    const maps = el("div", "cx-net-maps");
    maps.style.gridTemplateColumns = `repeat(${fit.perRow}, ${size * fit.cell}px)`;
    const canvases = [];
    const links = [];
    for (let m = 0; m < count; m++) {
      const fig = el("div", "cx-net-fig");
      if (conv === "conv1") {
        fig.appendChild(this.kernelFigure("conv1", m, 0, Math.max(5, Math.round(fit.cell * 1.6))));
      }
      const canvas = mapCanvas(size, size, fit.cell, `${name}[${m}]`);
      if (conv) {
        const a = el("a", "cx-net-link");
        a.setAttribute("data-map", String(m));
        a.appendChild(canvas);
        fig.appendChild(a);
        links.push(a);
      } else {
        fig.appendChild(canvas);
      }
      fig.appendChild(el("div", "cx-net-idx", String(m)));
      maps.appendChild(fig);
      canvases.push(canvas);
    }
    box.appendChild(maps);
    parent.appendChild(box);
    return {canvases, links, conv, size};
  }

  kernelFigure(conv, o, i, cell) {
    const w = this.P[`${conv}.w`];
    const [, cin] = w.shape;
    const canvas = mapCanvas(3, 3, cell);
    canvas.classList.add("cx-net-kmap");
    const off = (o * cin + i) * 9;
    paint(canvas, w.data, off, absMax(w.data));
    const [name, score] = this.scene.filters[conv][o][i];
    canvas.title = `${conv} kernel [${o},${i}] ≈ ${name} (cosine ${fmt(score)})`;
    canvas.setAttribute("aria-label", canvas.title);
    const box = el("div", "cx-net-kernel");
    box.appendChild(canvas);
    if (conv === "conv1") {
      const label = el("div", "cx-net-kname", `≈ ${name}`);
      label.title = canvas.title;
      box.appendChild(label);
    }
    return box;
  }

  conv2Kernels(c1, c2) {
    const details = el("details", "cx-net-kernels");
    details.appendChild(el("summary", "",
                           `conv2's ${c1 * c2} learned kernels (row: output map, column: ` +
                           "input map; hover for the nearest classic filter)"));
    const grid = el("div", "cx-net-kgrid");
    grid.style.gridTemplateColumns = `repeat(${c1 + 1}, max-content)`;
    for (let o = 0; o < c2; o++) {
      grid.appendChild(el("div", "cx-net-idx", String(o)));
      for (let i = 0; i < c1; i++) grid.appendChild(this.kernelFigure("conv2", o, i, 6));
    }
    details.appendChild(grid);
    return details;
  }

  // ------------------------------------------------------------------ drawing

  bindPad() {
    const pad = this.pad;
    let drawing = false;
    const point = (e) => {
      const b = pad.getBoundingClientRect();
      return [(e.clientX - b.left) / b.width, (e.clientY - b.top) / b.height];
    };
    pad.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      pad.setPointerCapture(e.pointerId);
      drawing = true;
      clearTimeout(this.reportTimer);  // still drawing: report once the user stops
      if (this.mode !== "draw") {
        this.mode = "draw";
        this.strokes = [];
      }
      this.strokes.push([point(e)]);
      this.redraw(e.timeStamp);
    });
    pad.addEventListener("pointermove", (e) => {
      if (!drawing) return;
      const stroke = this.strokes[this.strokes.length - 1];
      const p = point(e);
      const last = stroke[stroke.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) < 0.004) return;
      stroke.push(p);
      this.redraw(e.timeStamp);
    });
    const end = () => {
      if (!drawing) return;
      drawing = false;
      this.scheduleReport();
    };
    pad.addEventListener("pointerup", end);
    pad.addEventListener("pointercancel", end);
  }

  // Redraw for a pointer event at `eventTime`: Chromium already hands pointer moves over once
  // per frame, and the work takes a few milliseconds, so it is done at once; the next animation
  // frame is when the new maps are on screen.
  redraw(eventTime) {
    this.raw = rasterize(this.strokes, this.scene.raw_side);
    this.update();
    const t1 = performance.now();
    requestAnimationFrame(() => {
      this.timings.push({compute: t1 - eventTime, frame: performance.now() - eventTime});
      if (this.timings.length > 2000) this.timings.shift();
    });
  }

  clear() {
    this.mode = "draw";
    this.strokes = [];
    this.raw = new Uint8Array(this.scene.raw_side * this.scene.raw_side);
    this.update();
    this.scheduleReport();
  }

  backToTest() {
    this.mode = "test";
    this.strokes = [];
    this.raw = Uint8Array.from(this.scene.digit.raw);
    this.update();
    this.scheduleReport();
  }

  get code() {
    return this.mode === "test" ? "" : encodeDrawing(this.raw);
  }

  // ------------------------------------------------------------------ update

  update() {
    const s = this.scene;
    const x = toInput(this.raw, s.up, s.levels);
    const acts = forward(this.P, x, s.side);
    this.acts = acts;
    this.paintPad();
    paint(this.inputMap, x, 0, 1);
    for (const [name, row] of Object.entries(this.rows)) {
      const a = acts[name];
      const per = row.size * row.size;
      const zmax = absMax(a);
      row.canvases.forEach((c, m) => paint(c, a, m * per, zmax));
      if (row.conv) this.setLinks(row);
    }
    let best = 0;
    acts.probs.forEach((p, k) => {
      if (p > acts.probs[best]) best = k;
    });
    this.bars.forEach((b, k) => {
      const p = acts.probs[k];
      b.fill.style.width = `${(100 * p).toFixed(1)}%`;
      b.value.textContent = `${(100 * p).toFixed(1)} %`;
      b.row.classList.toggle("cx-net-best", k === best);
    });
    this.predicted = best;
    const what = this.mode === "test"
      ? `test image ${s.digit.image} (label ${s.digit.label})`
      : this.mode === "link" ? "the drawn digit from the link" : "your drawing";
    this.status.textContent = `${what} → predicted ${best} ` +
      `(${(100 * acts.probs[best]).toFixed(1)} %)`;
    this.root.dataset.predicted = String(best);
    this.root.dataset.code = this.code;
    this.testButton.disabled = this.mode === "test";
  }

  setLinks(row) {
    const base = this.scene.links[row.conv];
    if (!base) return;
    row.links.forEach((a, m) => {
      const url = new URL(base, document.baseURI);
      url.searchParams.set("omap", String(m));
      if (this.mode !== "test") {
        url.searchParams.delete("image");
        url.searchParams.set("draw", this.code);
      }
      a.href = url.href;
      a.title = `open ${row.conv}'s map ${m} in the explorer: the real input and kernels`;
      a.setAttribute("aria-label", a.title);
    });
  }

  paintPad() {
    const ctx = this.pad.getContext("2d");
    const size = this.pad.width;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    if (this.mode === "draw") {
      ctx.strokeStyle = "#111";
      ctx.fillStyle = "#111";
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.lineWidth = size * 0.07;
      for (const stroke of this.strokes) {
        ctx.beginPath();
        stroke.forEach(([x, y], i) => (i ? ctx.lineTo(x * size, y * size)
                                        : ctx.moveTo(x * size, y * size)));
        if (stroke.length === 1) ctx.arc(stroke[0][0] * size, stroke[0][1] * size,
                                         size * 0.035, 0, 2 * Math.PI);
        ctx.stroke();
      }
      if (!this.strokes.length) {
        ctx.fillStyle = "rgba(49, 51, 63, 0.5)";
        ctx.font = `${Math.round(size / 12)}px sans-serif`;
        ctx.textAlign = "center";
        ctx.fillText("draw a digit here", size / 2, size / 2);
      }
      return;
    }
    // a test image (or a drawing from a link): its 8×8 counts as grey blocks
    const n = this.scene.raw_side;
    const cell = size / n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const v = 255 - Math.round((this.raw[i * n + j] / this.scene.levels) * 238);
        ctx.fillStyle = `rgb(${v},${v},${v})`;
        ctx.fillRect(j * cell, i * cell, cell + 0.5, cell + 0.5);
      }
    }
  }
}

export function mountNetwork(component) {
  return mountView(NetworkView, component, {rootClass: "cx-root cx-net",
                                            testId: "cx-net-root", label: "network view"});
}
