// The 3-D explorer's view (the rank table's layout "slices", app/shared/ranks.py): one scene
// (app/shared/scene.py, ndim 3) drawn as depth slices — small multiples of the padded input,
// the kernel and the output — plus a rotatable plotly.js 3-D overview of the input's voxels
// with the window's box.  Stepping, hovering and Play run in the browser with no round trip
// (component.js: the lifecycle every view extends).
//
// Slices are painted on canvases: each slice's colours once per scene (an offscreen canvas,
// padding veiled in it), then per step the window's taps, the lit planes and the hover marks
// on top — redrawing only the slices the last step drew on (a 64³ volume has 130 slices).  Tap positions
// come from geometry.js (windowTaps / readers: the affine rule tests hold to convcore); the
// equation from Values (explorer.js), written as convcore.equation writes it.

import {ViewBase, mountView} from "./component.js";
import {LayerControls} from "./controls.js";
import {SPEEDS, Values, View} from "./explorer.js";
import {Recorder} from "./record.js";
import {inkOn} from "./contrast.js";
import {fmt, idx} from "./format.js";
import {RDBU, axisNames, cellLabels} from "./grid.js";
import {
  isPadding, product, ravel, readers, tapPosition, unravel, windowTaps,
} from "./geometry.js";

const VOL_TAP = "#f2a900";
const VOL_WINDOW = "#111111";
const VOL_HOVER = "#7b2cbf";
const VOL_COVER = "rgba(245, 245, 245, 0.93)";
const VOL_PAD_VEIL = 0.5;  // padding: its colour this far towards white
// Voxels drawn in the 3-D overview (every n-th per axis beyond; the slices show all of them):
// a WebGL scene's redraw grows with its markers, and without a GPU (Chromium's software GL)
// 4,096 of them turned at 6-11 fps where 512 turned at 18-23 (benchmarks/bench_volume.py).
const MAX_OVERVIEW_POINTS = 1000;
// The overview follows the window once the user pauses (OVERVIEW_QUIET_MS without a change),
// and at least every OVERVIEW_MAX_MS while steps keep coming (Play, a dragged scrubber): its
// redraw costs far more than the slices', so stepping and hovering never wait for it.
const OVERVIEW_QUIET_MS = 150;
const OVERVIEW_MAX_MS = 500;
const VOL_STYLE = `
.cx-vol-bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.cx-vol-bar input[type=range] { flex: 1 1 160px; }
.cx-vol-main { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.cx-vol-stacks { flex: 1 1 420px; min-width: 0; }
.cx-vol-stack { margin-bottom: 8px; }
.cx-vol-stack h4 { margin: 2px 0; font-size: 13px; font-weight: 600; }
.cx-vol-slices { display: flex; flex-wrap: wrap; gap: 6px; }
.cx-vol-slice { display: flex; flex-direction: column; align-items: center; font-size: 11px;
  border: 2px solid transparent; border-radius: 3px; padding: 1px; }
.cx-vol-slice.cx-vol-lit { border-color: ${VOL_TAP}; background: rgba(242, 169, 0, 0.10); }
.cx-vol-slice.cx-vol-hov { border-color: ${VOL_HOVER}; }
.cx-vol-slice canvas { image-rendering: pixelated; cursor: crosshair; }
.cx-vol-overview { flex: 0 1 420px; min-width: 280px; }
.cx-vol-overview-note { font-size: 12px; margin: 2px 0 0; }
@media (max-width: 480px) { .cx-vol-overview { min-width: 0; flex-basis: 100%; } }
`;
// The slices' cell numbers: at most this size (px), at least VOL_LEAST (a projector: 16)
const VOL_FONT = 12;

function volElement(tag, className, parent, testId) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (testId) e.setAttribute("data-testid", testId);
  if (parent) parent.appendChild(e);
  return e;
}

const VOL_STOPS = RDBU.map((c) => c.match(/\d+/g).map(Number));

// RdBu as the 2-D heatmaps draw it: low values red, zero white, high values blue.
export function colour(v, zmax) {
  if (Number.isNaN(v)) return [255, 255, 255];
  const t = Math.min(1, Math.max(0, (Math.max(-zmax, Math.min(zmax, v)) / zmax + 1) / 2));
  const x = t * (VOL_STOPS.length - 1);
  const i = Math.min(VOL_STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return VOL_STOPS[i].map((a, k) => Math.round(a + (VOL_STOPS[i + 1][k] - a) * f));
}

// One volume as depth slices: `shape` [D, H, W] display cells, `value(d, r, c)`.  Each slice
// is a grid of the keyboard cursor (a11y.js): named ("input x[0,0] depth 2, 8 by 8"), one
// image for assistive technology, its values a hidden table, its numbers written per cell in
// the ink that contrasts more with what is drawn under each (contrast.js).
export class SliceStack {
  constructor(parent, kind, title) {
    this.kind = kind;
    this.wrap = volElement("div", "cx-vol-stack", parent, `cx-vol-${kind}`);
    this.title = volElement("h4", "", this.wrap);
    this.title.textContent = title;
    this.box = volElement("div", "cx-vol-slices", this.wrap);
    this.slices = [];
  }

  // `label(d)`: a slice's caption; `names`: {name(d), rows, cols} (the grid's accessible name
  // and its rows' and columns' names); `covered(d, r, c)`: a cell whose number is hidden;
  // `veiled(d, r, c)`: a cell drawn VOL_PAD_VEIL towards white (padding)
  build(shape, cs, value, zmax, label, {name, rows, cols, covered = () => false, font = VOL_FONT,
                                        least = 9, veiled = null}) {
    this.shape = shape;
    this.cs = cs;
    this.covered = covered;
    const [D, H, W] = shape;
    this.box.textContent = "";
    this.slices = [];
    const values = Array.from({length: D}, (_, d) => Array.from({length: H}, (_, r) =>
      Array.from({length: W}, (_, c) => value(d, r, c))));
    const labels = cs >= 12 ? cellLabels(values.flat(1), cs, cs, font, least) : null;
    // at the device's pixel ratio: the numbers' glyphs keep their full ink (and contrast)
    const dpr = window.devicePixelRatio || 1;
    for (let d = 0; d < D; d++) {
      const cell = volElement("div", "cx-vol-slice", this.box);
      const canvas = volElement("canvas", "", cell);
      canvas.width = Math.round(W * cs * dpr);
      canvas.height = Math.round(H * cs * dpr);
      canvas.style.width = `${W * cs}px`;
      canvas.style.height = `${H * cs}px`;
      canvas.dataset.d = String(d);
      canvas.setAttribute("aria-hidden", "true");
      const caption = volElement("span", "", cell);
      caption.textContent = label(d);
      caption.setAttribute("aria-hidden", "true");
      const gridName = name(d);
      cell.setAttribute("role", "img");
      cell.setAttribute("aria-label", gridName);
      const base = document.createElement("canvas");
      base.width = W;
      base.height = H;
      const bctx = base.getContext("2d");
      const img = bctx.createImageData(W, H);
      for (let r = 0; r < H; r++) {
        for (let c = 0; c < W; c++) {
          let [R, G, B] = colour(values[d][r][c], zmax);
          if (veiled && veiled(d, r, c)) {
            [R, G, B] = [R, G, B].map((x) => Math.round(x + (255 - x) * VOL_PAD_VEIL));
          }
          const o = 4 * (r * W + c);
          img.data[o] = R;
          img.data[o + 1] = G;
          img.data[o + 2] = B;
          img.data[o + 3] = 255;
        }
      }
      bctx.putImageData(img, 0, 0);
      const ctx = canvas.getContext("2d", {willReadFrequently: true});
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.imageSmoothingEnabled = false;
      const slice = {
        cell, canvas, ctx, base, kind: this.kind, d, rows: H, cols: W, cs, ch: cs, dyn: canvas,
        dirty: true, fresh: false,
        box: cell, name: gridName, values: values[d], rowNames: rows, colNames: cols,
        labels: labels && {...labels, text: labels.text.slice(d * H, (d + 1) * H)},
      };
      slice.refreshInk = () => this.ink(slice);
      this.slices.push(slice);
    }
  }

  // Write slice `s`'s numbers, each in black or white, whichever contrasts more with the
  // colour drawn at its cell's centre now (the cell's colour under the window's tints); a
  // covered cell (reveal, predict) shows none.  The slice is redrawn from its colours before
  // every render, so the numbers are written afresh after it.
  ink(s) {
    const L = s.labels;
    if (!L || !s.fresh) return;  // a slice not redrawn keeps the numbers it has
    const {ctx, cs} = s;
    const W = s.canvas.width;
    const dpr = W / (s.cols * cs);
    const px = ctx.getImageData(0, 0, W, s.canvas.height).data;
    ctx.font = `${L.size}px ${L.family}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let r = 0; r < s.rows; r++) {
      for (let c = 0; c < s.cols; c++) {
        const text = L.text[r][c];
        if (!text || this.covered(s.d, r, c)) continue;
        const o = 4 * (Math.floor((r + 0.5) * cs * dpr) * W + Math.floor((c + 0.5) * cs * dpr));
        ctx.fillStyle = inkOn([px[o], px[o + 1], px[o + 2]]);
        ctx.fillText(text, (c + 0.5) * cs, (r + 0.5) * cs);
      }
    }
  }

  // Each slice back to its colours — those drawn on since (rect, or `dirty` set by the view)
  // only; `fresh`: redrawn now (its numbers are written again).
  clear() {
    for (const s of this.slices) {
      s.fresh = s.dirty;
      if (s.dirty) s.ctx.drawImage(s.base, 0, 0, s.cols * s.cs, s.rows * s.cs);
      s.dirty = false;
      s.cell.classList.remove("cx-vol-lit", "cx-vol-hov");
    }
  }

  rect(d, r, c, h, w, {stroke = null, fill = null, width = 2} = {}) {
    const s = this.slices[d];
    if (!s) return;
    s.dirty = true;
    const cs = this.cs;
    if (fill) {
      s.ctx.fillStyle = fill;
      s.ctx.fillRect(c * cs, r * cs, w * cs, h * cs);
    }
    if (stroke) {
      s.ctx.strokeStyle = stroke;
      s.ctx.lineWidth = width;
      s.ctx.strokeRect(c * cs + width / 2, r * cs + width / 2, w * cs - width, h * cs - width);
    }
  }

  // [d, r, c] of the display cell under the pointer, or null
  cellAt(event) {
    const canvas = event.target;
    if (!canvas || canvas.tagName !== "CANVAS" || !this.box.contains(canvas)) return null;
    const b = canvas.getBoundingClientRect();
    const r = Math.floor(((event.clientY - b.top) / b.height) * this.shape[1]);
    const c = Math.floor(((event.clientX - b.left) / b.width) * this.shape[2]);
    if (r < 0 || c < 0 || r >= this.shape[1] || c >= this.shape[2]) return null;
    return [Number(canvas.dataset.d), r, c];
  }

  // page coordinates of the centre of display cell [d, r, c] (tests, benchmarks)
  centre(q) {
    const s = this.slices[q[0]];
    s.canvas.scrollIntoView({block: "center"});
    const b = s.canvas.getBoundingClientRect();
    return [b.left + (q[2] + 0.5) * (b.width / this.shape[2]),
            b.top + (q[1] + 0.5) * (b.height / this.shape[1])];
  }
}

export class VolumeView extends ViewBase {
  constructor(root) {
    super(root);
    this.step = 0;
    this.playing = false;
    this.hover = null;
    this.m = 0;
    this.recorder = new Recorder(this);
    if (!document.getElementById("cx-vol-style")) {
      const style = volElement("style", "", document.head);
      style.id = "cx-vol-style";
      style.textContent = VOL_STYLE;
    }
  }

  // ------------------------------------------------------------------ lifecycle hooks

  show(payload) {
    const init = payload.init || {};
    this.stop(false);
    this.useScene(payload.scene, init.step | 0);
    this.speed = SPEEDS.includes(init.speed) ? init.speed : 2;
    this.reveal = !!init.reveal;
    this.predict = !!init.predict && this.scene.exact;
    this.answers = new Map();  // predict mode: step -> {guess, right}
    this.m = Math.min(this.m, this.scene.shown_maps - 1);
    this.presenter = !!payload.presenter;
    this.build();
  }

  // Take `scene` (not drawn yet: build() draws it) at `step`, clamped to its steps, with
  // nothing hovered or pinned (as the explorer's View.useScene, without its strip/grid table).
  useScene(scene, step) {
    this.scene = scene;
    this.values = new Values(scene);
    this.steps = this.stepCount();
    this.step = Math.min(Math.max(0, step), this.steps - 1);
    this.hover = null;
    this.pinned = null;
  }

  refresh(payload) {
    if (!!payload.presenter !== this.presenter) {
      this.presenter = !!payload.presenter;
      this.build();
    } else {
      this.controlsShow();
    }
  }

  controlsShow() {
    if (!this.controls || !this.payload || !this.payload.layer) return;
    this.controls.set(this.payload.layer, this.payload.limits || {});
    this.controls.say((this.payload.notices || []).join(" "));
  }

  relayout() {
    if (this.scene) this.build();
  }

  viewQuery() {
    return {step: this.step + 1, speed: this.speed, reveal: this.reveal ? 1 : 0,
            predict: this.predict ? 1 : 0};
  }

  viewState() {
    return {step: this.step, speed: this.speed, reveal: this.reveal, predict: this.predict};
  }

  // ------------------------------------------------------------------ building

  cellSize(shape) {
    // slices side by side: the largest cell (at most 22 px) at which the stacks fit the width
    const width = Math.max(320, (this.root.clientWidth || 900) - 460);
    const perRow = Math.max(1, Math.min(shape[0], 8));
    // (a slice stays at least ~96 px wide: more slices then wrap onto more rows)
    const room = Math.max(96, (width - perRow * 10) / perRow);
    return Math.max(3, Math.min(22, Math.floor(room / Math.max(shape[1], shape[2]))));
  }

  build() {
    const s = this.scene;
    const v = this.values;
    const root = this.root;
    root.textContent = "";
    root.classList.toggle("cx-presenter", this.presenter);
    root.dataset.layout = "slices";
    this.buildBar();
    this.controls = null;
    if (this.live && this.payload && this.payload.page) {  // the layer, by the scene API
      this.controls = new LayerControls(root, this.controlFields(), (changes) => this.request(changes));
      this.controls.el.after(this.controls.message);
      this.controlsShow();
    }
    this.eq = volElement("div", "cx-eq", root, "cx-eq");
    const main = volElement("div", "cx-vol-main", root);
    const stacks = volElement("div", "cx-vol-stacks", main);
    const f = s.scale;
    const inShape = v.inputs.shape.slice(1);
    const lo = s.pads.map((p) => p[0]);
    const inCs = this.cellSize(inShape);
    this.input = new SliceStack(stacks, "input",
      `input x[${s.item},${s.channels[this.m]}] (padded, depth ${s.axes ? s.axes[0] : "D"} ` +
      `slices${f > 1 ? `, every ${f}th voxel` : ""})`);
    const size = product(inShape);
    const offset = this.m * size;
    const least = this.presenter ? 16 : 9;  // on a projector: legible, or colour and the cursor
    const by = (sh) => `${sh[1]} by ${sh[2]}${f > 1 ? `, every ${f}th cell` : ""}`;
    const depth = (d) => d * f - lo[0];
    // padding per axis (a voxel is padding where any of its axes is): isPadding's rule, once
    const veil = inShape.map((n, a) => Array.from({length: n}, (_, i) => {
      const p = [...lo];
      p[a] = i * f;
      return isPadding(s, p);
    }));
    this.input.build(inShape, inCs, (d, r, c) => v.inputs.data[offset + ravel([d, r, c], inShape)],
      s.zmax.input, (d) => {
        const u = depth(d);
        return u < 0 || u >= s.in_shape[0] ? `pad ${u}` : `d=${u}`;
      }, {name: (d) => `input x[${s.item},${s.channels[this.m]}] depth ${depth(d)}` +
            `${depth(d) < 0 || depth(d) >= s.in_shape[0] ? " (padding)" : ""}, ${by(inShape)}, padded`,
          rows: axisNames(inShape[1], -lo[1], f), cols: axisNames(inShape[2], -lo[2], f), least,
          veiled: (d, r, c) => veil[0][d] || veil[1][r] || veil[2][c]});
    this.kernel = new SliceStack(stacks, "kernel", `kernel w[${s.omap},${this.m}]`);
    const kSize = product(s.kernel);
    this.kernel.build(s.kernel, Math.max(14, Math.min(22, inCs)),
      (d, r, c) => v.weights.data[this.m * kSize + ravel([d, r, c], s.kernel)], s.zmax.weight,
      (d) => `k=${d}`, {name: (d) => `kernel w[${s.omap},${this.m}] depth ${d}, ` +
                                     `${s.kernel[1]} by ${s.kernel[2]}`,
                        rows: axisNames(s.kernel[1], 0, 1), cols: axisNames(s.kernel[2], 0, 1), least});
    const outShape = v.output.shape;
    this.output = new SliceStack(stacks, "output", `output out[${s.item},${s.omap}]`);
    this.output.build(outShape, this.cellSize(outShape),
      (d, r, c) => v.output.data[ravel([d, r, c], outShape)], s.zmax.output,
      (d) => `d=${d * f}`, {name: (d) => `output out[${s.item},${s.omap}] depth ${d * f}, ` +
                                         by(outShape),
                            rows: axisNames(outShape[1], 0, f), cols: axisNames(outShape[2], 0, f),
                            covered: (d, r, c) => this.coveredOut(d, r, c), least});
    const side = volElement("div", "cx-vol-overview", main);
    this.overview = volElement("div", "cx-plot", side, "cx-vol-overview");
    // pointer-only (drag to rotate): one named image for assistive technology, no tab stop;
    // the slices beside it carry every value, and the keyboard cursor reads them
    this.overview.setAttribute("role", "img");
    this.overview.setAttribute("aria-label", `3-D overview of input x[${s.item},` +
      `${s.channels[this.m]}]: its voxels as points, the window as a box`);
    const note = volElement("p", "cx-vol-overview-note", side);
    note.textContent = "3-D overview: drag to rotate (a mouse or touch). The depth slices show " +
      "every value it shows; the keyboard cursor reads them.";
    this.tip = volElement("div", "cx-tip", root);
    this.tip.style.display = "none";
    this.tip.style.position = "absolute";
    this.stage = stacks;
    this.bindStage(stacks);
    this.drawOverview();
    this.render();
  }

  buildBar() {
    const bar = volElement("div", "cx-vol-bar cx-bar", this.root);
    const button = (text, fn, label) => {
      const b = volElement("button", "cx-btn", bar);
      b.type = "button";
      b.textContent = text;
      if (label) b.setAttribute("aria-label", label);
      b.addEventListener("click", fn);
      return b;
    };
    this.prevBtn = button("\u25c0", () => this.go(this.step - 1), "previous step");
    this.playBtn = button("\u25b6 Play", () => this.togglePlay());
    this.nextBtn = button("\u25b6", () => this.go(this.step + 1), "next step");
    this.scrub = volElement("input", "cx-scrub", bar);
    this.scrub.type = "range";
    this.scrub.min = "0";
    this.scrub.max = String(this.steps - 1);
    this.scrub.setAttribute("aria-label", "step");
    this.scrub.addEventListener("input", () => this.go(Number(this.scrub.value)));
    this.info = volElement("span", "cx-info", bar, "cx-info");
    const speed = this.speedSel = volElement("select", "", bar);
    speed.setAttribute("aria-label", "Play speed, steps per second");
    for (const n of SPEEDS) {
      const o = volElement("option", "", speed);
      o.value = String(n);
      o.textContent = `${n}/s`;
    }
    speed.addEventListener("change", () => {
      this.speed = Number(speed.value);
      this.scheduleReport();
    });
    const revealLabel = volElement("label", "", bar);
    const reveal = this.revealBox = volElement("input", "", revealLabel);
    reveal.type = "checkbox";
    revealLabel.append(" reveal");
    reveal.addEventListener("change", () => {
      this.reveal = reveal.checked;
      this.render();
      this.scheduleReport();
    });
    if (this.scene.shown_maps > 1) {
      const maps = volElement("select", "", bar);
      maps.setAttribute("aria-label", "input map shown");
      for (let m = 0; m < this.scene.shown_maps; m++) {
        const o = volElement("option", "", maps);
        o.value = String(m);
        o.textContent = `input map ${this.scene.channels[m]}`;
      }
      maps.value = String(this.m);
      maps.addEventListener("change", () => {
        this.m = Number(maps.value);
        this.build();
      });
    }
    this.predictBox = null;
    if (this.canPredict()) this.buildPredict(bar);
    this.syncBar();  // the speed, reveal and predict shown (the explorer's; a class sets them)
    button("Copy link", () => this.copyLink());
    const gif = button("GIF", () => this.recorder.gif());
    gif.title = "record Play as an animated GIF, drawn as the slices draw it";
    gif.dataset.testid = "cx-gif";
    const video = button("Video", () => this.recorder.video());
    video.title = "record Play as a WebM video";
    video.dataset.testid = "cx-video";
    this.copied = volElement("span", "cx-copied", bar);
  }

  // What a recording draws (record.js): the depth slices as they are drawn at each step
  // (the lit input planes and their frames, the kernel, the output), their titles and captions, under the
  // equation; the overview (WebGL, redrawn lazily) is not recorded: the slices show it all.
  recordParts() {
    return {
      bounds: [this.stage],
      plots: [],
      boxes: [...this.stage.querySelectorAll(".cx-vol-lit, .cx-vol-hov")],
      canvases: [...this.stage.querySelectorAll(".cx-vol-slice canvas")],
      texts: [...this.stage.querySelectorAll(".cx-vol-stack h4, .cx-vol-slice span")]
        .map((el) => ({el, align: "left"})),
    };
  }

  // A volume whose whole drawing is beyond a frame's budget (64³: its slices lay out as a
  // 508×14,867 px column) is recorded by its window's slices only: per stack, the lit ones
  // (every slice of a stack with none lit: the kernel), in a row under the stack's title, each
  // drawn as the page draws it (record.js).
  recordWindowParts() {
    const GAP = 6;
    const place = new Map();
    const parts = {bounds: [], plots: [], boxes: [], canvases: [], texts: [], place};
    const put = (el, origin, x, y) => {
      const r = el.getBoundingClientRect();
      place.set(el, {x: x + r.left - origin.left, y: y + r.top - origin.top, w: r.width,
                     h: r.height});
    };
    let width = 0;
    let y = 0;
    for (const stack of this.stage.querySelectorAll(".cx-vol-stack")) {
      if (stack.offsetParent === null) continue;
      const title = stack.querySelector("h4");
      const titleBox = title.getBoundingClientRect();
      put(title, titleBox, 0, y);
      parts.texts.push({el: title, align: "left"});
      const words = document.createRange();
      words.selectNodeContents(title);
      width = Math.max(width, Math.ceil(words.getBoundingClientRect().width));
      y += Math.ceil(titleBox.height) + 2;
      const slices = [...stack.querySelectorAll(".cx-vol-slice")];
      const lit = slices.filter((el) => el.classList.contains("cx-vol-lit"));
      let x = 0;
      let row = 0;
      for (const cell of lit.length ? lit : slices) {
        const box = cell.getBoundingClientRect();
        const canvas = cell.querySelector("canvas");
        const caption = cell.querySelector("span");
        [cell, canvas, caption].forEach((el) => put(el, box, x, y));
        if (lit.length) parts.boxes.push(cell);
        parts.canvases.push(canvas);
        parts.texts.push({el: caption, align: "left"});
        x += Math.ceil(box.width) + GAP;
        row = Math.max(row, Math.ceil(box.height));
      }
      width = Math.max(width, x - GAP);
      y += row + 8;
    }
    return {...parts, size: {width, height: y}};
  }

  // ------------------------------------------------------------------ the 3-D overview

  // Voxels of the shown input map (unpadded), every n-th per axis beyond the point budget;
  // plotly's axes: x = W, y = D (into the screen), z = H (up).
  overviewPoints() {
    const s = this.scene;
    const f = s.scale;
    const shape = this.values.inputs.shape.slice(1);
    const lo = s.pads.map((p) => p[0]);
    const step = Math.max(1, Math.ceil(Math.cbrt(product(s.in_shape) / MAX_OVERVIEW_POINTS)));
    const size = product(shape);
    const pts = {x: [], y: [], z: [], v: [], p: []};
    for (let d = 0; d < s.in_shape[0]; d += step) {
      for (let r = 0; r < s.in_shape[1]; r += step) {
        for (let c = 0; c < s.in_shape[2]; c += step) {
          const p = [d + lo[0], r + lo[1], c + lo[2]];
          const q = p.map((x) => Math.floor(x / f));
          if (q.some((x, a) => x >= shape[a])) continue;
          pts.x.push(c);
          pts.y.push(d);
          pts.z.push(s.in_shape[1] - 1 - r);
          pts.v.push(this.values.inputs.data[this.m * size + ravel(q, shape)]);
          pts.p.push(p);
        }
      }
    }
    return pts;
  }

  boxTrace(step) {
    const s = this.scene;
    const taps = windowTaps(s, step);
    const lo = s.pads.map((p) => p[0]);
    const a = taps[0].map((x, i) => x - lo[i] - 0.5);
    const b = taps[taps.length - 1].map((x, i) => x - lo[i] + 0.5);
    const H = s.in_shape[1] - 1;
    const corner = (d, r, c) => [c, d, H - r];
    const edges = [];
    for (const [d0, d1] of [[a[0], b[0]]]) {
      for (const r of [a[1], b[1]]) for (const c of [a[2], b[2]]) edges.push([corner(d0, r, c), corner(d1, r, c)]);
    }
    for (const d of [a[0], b[0]]) {
      for (const c of [a[2], b[2]]) edges.push([corner(d, a[1], c), corner(d, b[1], c)]);
      for (const r of [a[1], b[1]]) edges.push([corner(d, r, a[2]), corner(d, r, b[2])]);
    }
    const line = {x: [], y: [], z: []};
    for (const [u, w] of edges) {
      line.x.push(u[0], w[0], null);
      line.y.push(u[1], w[1], null);
      line.z.push(u[2], w[2], null);
    }
    const tapPts = {x: [], y: [], z: []};
    for (const p of taps) {
      const u = p.map((x, i) => x - lo[i]);
      if (u.some((x, i) => x < 0 || x >= s.in_shape[i])) continue;  // padding
      tapPts.x.push(u[2]);
      tapPts.y.push(u[0]);
      tapPts.z.push(H - u[1]);
    }
    return {line, tapPts};
  }

  drawOverview() {
    if (!window.Plotly) return;
    const s = this.scene;
    const pts = this.overviewPoints();
    this.points = pts;
    const {line, tapPts} = this.boxTrace(this.step);
    const zmax = s.zmax.input;
    const marker = Math.max(2, Math.min(9, Math.round(140 / Math.max(...s.in_shape))));
    const data = [
      {type: "scatter3d", mode: "markers", x: pts.x, y: pts.y, z: pts.z, name: "input voxels",
       marker: {size: marker, color: pts.v, colorscale: RDBU.map((c, i) => [i / (RDBU.length - 1), c]),
                cmin: -zmax, cmax: zmax, opacity: 0.55},
       hoverinfo: "none"},
      {type: "scatter3d", mode: "lines", ...line, name: "window", hoverinfo: "skip",
       line: {color: VOL_WINDOW, width: 5}},
      {type: "scatter3d", mode: "markers", ...tapPts, name: "taps", hoverinfo: "skip",
       marker: {size: marker + 2, color: VOL_TAP, opacity: 1}},
    ];
    const layout = {
      margin: {l: 0, r: 0, t: 0, b: 0}, height: 380, showlegend: false,
      scene: {xaxis: {title: {text: "W"}}, yaxis: {title: {text: "D"}},
              zaxis: {title: {text: "H"}}, aspectmode: "data",
              camera: {eye: {x: 1.6, y: -1.6, z: 1.0}}},
      uirevision: "keep",
    };
    window.Plotly.react(this.overview, data, layout,
                        {displayModeBar: false, responsive: true});
    this.overview.on("plotly_hover", (e) => {
      const pt = e.points && e.points.find((q) => q.curveNumber === 0);
      if (!pt) return;
      const box = this.overview.getBoundingClientRect();
      const at = e.event ? {x: e.event.clientX, y: e.event.clientY} : {x: box.left, y: box.top};
      this.hoverAt({kind: "input", m: this.m, p: this.points.p[pt.pointNumber]}, at);
    });
    this.overview.on("plotly_unhover", () => this.hoverAt(null, null));
    this.overviewStep = this.step;
    this.root.dataset.overviewStep = String(this.step);
  }

  queueOverview(step) {
    this.overviewWant = step;
    clearTimeout(this.overviewTimer);
    if (this.overviewStep === step) {
      this.overviewSince = null;
      return;
    }
    const now = performance.now();
    if (this.overviewSince == null) this.overviewSince = now;
    const due = Math.min(OVERVIEW_QUIET_MS, Math.max(0, this.overviewSince + OVERVIEW_MAX_MS - now));
    this.overviewTimer = setTimeout(() => {
      this.overviewSince = null;
      this.updateOverview(this.overviewWant);
    }, due);
  }

  updateOverview(step) {
    if (!window.Plotly || !this.overview || this.overviewStep === step) return;
    this.overviewStep = step;
    this.root.dataset.overviewStep = String(step);
    const {line, tapPts} = this.boxTrace(step);
    window.Plotly.restyle(this.overview, {x: [line.x, tapPts.x], y: [line.y, tapPts.y],
                                          z: [line.z, tapPts.z]}, [1, 2]);
  }

  // ------------------------------------------------------------------ the moving layer

  // the step whose window is drawn: a pinned or hovered output cell's, else the current one
  focusStep() {
    const h = this.pinned || this.hover;
    return h && h.kind === "output" ? h.step : this.step;
  }

  // Is output display cell [d, r, c] covered (not computed yet under reveal, or to predict)?
  coveredOut(d, r, c) {
    if (!this.reveal && !this.predict) return false;
    const o = [d, r, c].map((x) => x * this.scene.scale);
    return this.hidden(ravel(o, this.scene.out_shape));
  }

  // Reveal hides what the window has not reached; predict also the current cell, until the
  // student's guess for it is checked.
  hidden(step) {
    if (this.predict && step >= this.step && !this.answers.has(step)) return true;
    return this.reveal && step > this.step;
  }

  render() {
    const t0 = performance.now();
    const s = this.scene;
    const v = this.values;
    const f = s.scale;
    this.scrub.value = String(this.step);
    this.prevBtn.disabled = this.step <= 0;
    this.nextBtn.disabled = this.step >= this.steps - 1;
    this.playBtn.textContent = this.playing ? "\u275a\u275a Pause" : "\u25b6 Play";
    const value = this.hidden(this.step) ? "?" : fmt(v.out(this.step));
    this.info.textContent = `step ${this.step + 1} of ${this.steps} \u00b7 ` +
      `out[${idx(v.outIndex(this.step))}] = ${value}`;
    if (this.cursorSlice) this.cursorSlice.dirty = true;  // the keyboard cursor's ring
    this.input.clear();
    this.kernel.clear();
    this.output.clear();
    const focus = this.focusStep();
    // the window: its taps on every plane it reaches (those planes lit)
    const taps = windowTaps(s, focus);
    const solid = focus === this.step;
    const planes = new Set();
    for (const p of taps) {
      const q = p.map((x) => Math.floor(x / f));
      planes.add(q[0]);
      this.input.rect(q[0], q[1], q[2], 1, 1, {stroke: VOL_TAP, fill: solid ? "rgba(242,169,0,0.25)" : null,
                                               width: solid ? 2.5 : 1.5});
    }
    const a = taps[0].map((x) => Math.floor(x / f));
    const b = taps[taps.length - 1].map((x) => Math.floor(x / f));
    for (const d of planes) {
      this.input.slices[d] && this.input.slices[d].cell.classList.add("cx-vol-lit");
      this.input.rect(d, a[1], a[2], b[1] - a[1] + 1, b[2] - a[2] + 1,
                      {stroke: VOL_WINDOW, width: solid ? 2 : 1});
    }
    this.root.dataset.taps = JSON.stringify(taps);
    this.root.dataset.planes = JSON.stringify([...planes].sort((x, y) => x - y));
    // the output: cells not computed yet (reveal), the current cell, the focused one
    const out = unravel(this.step, s.out_shape);
    const outShape = this.output.shape;
    if ((this.reveal || this.predict) && f === 1) {
      this.coverHidden();
    } else if (this.reveal || this.predict) {
      for (let k = this.step; k < this.steps; k++) {
        if (!this.hidden(k)) continue;
        const o = unravel(k, s.out_shape).map((x) => Math.floor(x / f));
        if (o.every((x, i) => x < outShape[i])) this.output.rect(o[0], o[1], o[2], 1, 1, {fill: VOL_COVER});
      }
    }
    const oq = out.map((x) => Math.floor(x / f));
    this.output.rect(oq[0], oq[1], oq[2], 1, 1, {stroke: VOL_WINDOW, width: 3});
    this.output.slices[oq[0]] && this.output.slices[oq[0]].cell.classList.add("cx-vol-lit");
    // hover (or the pinned cell)
    const h = this.pinned || this.hover;
    this.root.dataset.hover = h ? h.kind : "";
    this.root.dataset.lit = "";
    this.root.dataset.cell = "";
    if (h && h.kind === "output") {
      const q = unravel(h.step, s.out_shape).map((x) => Math.floor(x / f));
      this.output.rect(q[0], q[1], q[2], 1, 1, {stroke: VOL_HOVER, width: 3});
    } else if (h && h.kind === "input") {
      const q = h.p.map((x) => Math.floor(x / f));
      this.input.rect(q[0], q[1], q[2], 1, 1, {stroke: VOL_HOVER, width: 3});
      this.input.slices[q[0]] && this.input.slices[q[0]].cell.classList.add("cx-vol-hov");
      const lit = readers(s, h.p).map((r) => r.step);
      this.root.dataset.lit = lit.join(",");
      for (const k of lit) {
        const o = unravel(k, s.out_shape).map((x) => Math.floor(x / f));
        this.output.rect(o[0], o[1], o[2], 1, 1, {stroke: VOL_HOVER, width: 2.5});
        this.output.slices[o[0]] && this.output.slices[o[0]].cell.classList.add("cx-vol-hov");
      }
    } else if (h && h.kind === "kernel") {
      const p = h.t.map((t, i) => tapPosition(out[i], t, s.stride[i], s.dilation[i]));
      const q = p.map((x) => Math.floor(x / f));
      this.kernel.rect(h.t[0], h.t[1], h.t[2], 1, 1, {stroke: VOL_HOVER, width: 3});
      this.input.rect(q[0], q[1], q[2], 1, 1, {stroke: VOL_HOVER, width: 3});
      this.root.dataset.cell = JSON.stringify(p);
    }
    // the kernel's current tap positions are all of it: outline the kernel
    this.eq.textContent = this.hidden(focus) ?
      `out[${idx(v.outIndex(focus))}] = ?  \u2014 predict it: multiply each input under the ` +
      "window by its weight, add them and the bias, and type the result." : this.equationOf(focus);
    this.eq.classList.toggle("cx-eq-hover", focus !== this.step);
    this.root.dataset.step = String(this.step);
    this.predictState();
    this.queueOverview(focus);
    this.a11y.step(`step ${this.step + 1} of ${this.steps}: ` + (this.hidden(this.step) ?
      `out[${idx(v.outIndex(this.step))}] = ?` : this.equationOf(this.step)), this.playing);
    this.a11y.afterRender();
    const cur = this.a11y.cursor;
    this.cursorSlice = cur ? this.cursorGrids()[cur.g] : null;
    this.lastRenderMs = performance.now() - t0;
    this.afterRender();
  }

  // The output cells not to be seen yet (exact scenes: hidden() is "from a step on, but for the
  // answered ones"), covered as runs of whole slices, rows and cells in raster order.
  coverHidden() {
    const s = this.scene;
    const [D, H, W] = s.out_shape;
    const first = this.hidden(this.step) ? this.step : this.step + 1;
    // predict alone: a later step already answered (the student went back) shows
    const shown = this.reveal ? [] :
      [...this.answers.keys()].filter((k) => k >= first).sort((a, b) => a - b);
    const cover = (a, b) => {
      while (a < b) {
        const [d, r, c] = unravel(a, s.out_shape);
        if (r === 0 && c === 0 && b - a >= H * W) {
          this.output.rect(d, 0, 0, H, W, {fill: VOL_COVER});
          a += H * W;
        } else if (c === 0 && b - a >= W) {
          const n = Math.min(H - r, Math.floor((b - a) / W));
          this.output.rect(d, r, 0, n, W, {fill: VOL_COVER});
          a += n * W;
        } else {
          const n = Math.min(W - c, b - a);
          this.output.rect(d, r, c, 1, n, {fill: VOL_COVER});
          a += n;
        }
      }
    };
    let from = first;
    for (const k of [...shown, this.steps]) {
      cover(from, k);
      from = k + 1;
    }
  }

  hitTest(e) {
    for (const stack of [this.output, this.input, this.kernel]) {
      const q = stack.cellAt(e);
      if (q) return this.targetAt(stack.slices[q[0]], q.slice(1));
    }
    return null;
  }

  // ------------------------------------------------------------------ the keyboard cursor

  // Every slice is a grid of the cursor: the output's first (where it starts), then the
  // input's and the kernel's; G / Shift+G go from slice to slice.
  cursorGrids() {
    return [...this.output.slices, ...this.input.slices, ...this.kernel.slices];
  }

  // where the cursor starts: the current step's output cell
  cursorStart() {
    const q = unravel(this.step, this.scene.out_shape).map((x) => Math.floor(x / this.scene.scale));
    return {g: q[0], cell: [q[1], q[2]]};
  }

  // What pointing at cell [r, c] of slice `g` points at (the mouse and the keyboard cursor
  // alike): {kind: "output", step}, {kind: "input", m, p} or {kind: "kernel", m, t}; null
  // beyond the volume.
  targetAt(g, cell) {
    const s = this.scene;
    const q = [g.d, ...cell];
    if (g.kind === "kernel") return {kind: "kernel", m: this.m, t: q};
    const at = q.map((x) => x * s.scale);
    if (g.kind === "output") {
      if (at.some((x, i) => x >= s.out_shape[i])) return null;
      return {kind: "output", step: ravel(at, s.out_shape)};
    }
    if (at.some((x, i) => x >= s.padded_shape[i])) return null;
    return {kind: "input", m: this.m, p: at};
  }

  // the mouse: the same calls as the keyboard cursor's (hoverAt, activate)
  bindStage(stage) {
    stage.addEventListener("mousemove", (e) => this.hoverAt(this.hitTest(e), {x: e.clientX,
                                                                             y: e.clientY}));
    stage.addEventListener("mouseleave", () => this.hoverAt(null, null));
    stage.addEventListener("click", (e) => {
      const h = this.hitTest(e);
      if (h) this.activate(h);
    });
  }

  // ------------------------------------------------------------------ play, keys, links

}

// What the 3-D view does as the explorer's does, borrowed rather than copied: stepping, Play,
// keys, the link, predict mode, refusals of its layer controls, the equation, and what the
// mouse and the keyboard cursor do with a cell (hoverAt: hover and tooltip; activate: an
// output cell goes to its step, another is pinned; tipText: what the tooltip says), and the
// hooks a view of another kind overrides (stepCount, controlFields, canPredict:
// volume_transposed.js).
for (const name of ["go", "togglePlay", "play", "stop", "onKey", "link", "buildPredict", "check",
                    "predictState", "requestFailed", "equationOf", "hoverAt", "activate",
                    "togglePin", "tipText", "stepCount", "controlFields", "canPredict",
                    "syncBar"]) {
  VolumeView.prototype[name] = View.prototype[name];
}

export function mountVolume(component) {
  return mountView(VolumeView, component);
}
