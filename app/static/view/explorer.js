// The explorer view: draws one scene (app/scene.py) with plotly.js heatmaps and steps, hovers
// and plays it in the browser with no round trip to the server.
//
// Plotly draws each map once per scene (heatmap, axes, cell values).  Everything that moves is
// drawn on two canvases laid exactly over each heatmap's plot area: a static one (padding,
// cells no window reads, padding sources) and a dynamic one (window, taps, hover highlights,
// the not-yet-computed cover).  Cell <-> pixel mapping is ours: every heatmap has fixed margins
// and axis ranges, so no plotly internals are read.  The step is reported to Streamlit only
// when the user stops (debounced), so the server-side panels and the URL follow the figure.

import {copyText, mountView} from "./component.js";
import {equationText, fmt, idx} from "./format.js";
import {COLORSCALE, Grid, MARGIN, ticks} from "./grid.js";
import {
  isPadding, kernelOffsets, product, ravel, readers, tapFootprint, unpadded, unravel, windowTaps,
} from "./geometry.js";

const WINDOW = "#111111";
const TAP = "#f2a900";
const LIT = "rgba(242, 169, 0, 0.55)";
const HOVER = "#7b2cbf";
const NEVER_READ = "#6a3d9a";
const PAD_VEIL = "rgba(255, 255, 255, 0.45)";
const COVER = "rgba(245, 245, 245, 0.93)";
const SPEEDS = [1, 2, 4, 8, 15, 30, 60];
const REPORT_DELAY_MS = 400;
const REPORTS = {seq: Date.now()};
const MARGIN_1D = {...MARGIN, l: 58};  // room for row names such as w[3,1]

// ----------------------------------------------------------------------------- data

export function decode(spec) {
  const bin = atob(spec.bdata);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const Type = {float64: Float64Array, int32: Int32Array, int8: Int8Array,
                uint8: Uint8Array}[spec.dtype] || Float32Array;
  return {data: new Type(bytes.buffer), shape: spec.shape};
}

// The scene's arrays with lookups in padded / kernel / output coordinates.
export class Values {
  constructor(scene) {
    this.scene = scene;
    this.f = scene.scale;
    this.inputs = decode(scene.inputs);
    this.weights = decode(scene.weights);
    this.output = decode(scene.output);
    this.bias = decode(scene.bias).data[0];
    this.inSize = product(this.inputs.shape.slice(1));
    this.kSize = product(scene.kernel);
    this.offsets = kernelOffsets(scene);
  }

  // Value of input map m (within the group) at padded position p (exact scenes).
  input(m, p) {
    return this.inputs.data[m * this.inSize + ravel(p, this.inputs.shape.slice(1))];
  }

  // Display cell (subsampled scenes): the value drawn at padded position p.
  inputShown(m, p) {
    const q = p.map((v) => Math.floor(v / this.f));
    const shape = this.inputs.shape.slice(1);
    if (q.some((v, a) => v >= shape[a])) return NaN;
    return this.inputs.data[m * this.inSize + ravel(q, shape)];
  }

  weight(m, t) {
    return this.weights.data[m * this.kSize + ravel(t, this.scene.kernel)];
  }

  out(step) {
    const s = this.scene;
    if (s.exact) return this.output.data[step];
    const o = unravel(step, s.out_shape).map((v) => Math.floor(v / this.f));
    const shape = this.output.shape;
    if (o.some((v, a) => v >= shape[a])) return NaN;
    return this.output.data[ravel(o, shape)];
  }

  // convcore.trace_step's taps of output `step`, in its order (channel, then kernel raster):
  // the first `limit` as objects, the rest as a count and a sequential sum of products.
  taps(step, limit) {
    const s = this.scene;
    const shown = [];
    let restCount = 0;
    let restSum = 0;
    const windows = windowTaps(s, step);
    for (let m = 0; m < s.channels.length; m++) {
      for (let k = 0; k < windows.length; k++) {
        const p = windows[k];
        const x = this.input(m, p);
        const w = this.weight(m, this.offsets[k]);
        if (shown.length < limit) {
          shown.push({channel: s.channels[m], inputIndex: unpadded(s, p),
                      isPad: isPadding(s, p), weightIndex: [s.omap, m, ...this.offsets[k]],
                      x, w});
        } else {
          restCount += 1;
          restSum += x * w;
        }
      }
    }
    return {shown, restCount, restSum};
  }

  outIndex(step) {
    return [this.scene.item, this.scene.omap, ...unravel(step, this.scene.out_shape)];
  }

  equation(step) {
    const s = this.scene;
    const {shown, restCount, restSum} = this.taps(step, s.max_terms);
    const text = equationText(this.outIndex(step), this.bias, shown, this.out(step), s.max_terms);
    if (!restCount) return text;
    // equationText summarizes the taps it is given; it was given only the shown ones.
    const sep = text.lastIndexOf(" = ");
    return `${text.slice(0, sep)} + \u2026 ${restCount} more terms (\u03a3 ${fmt(restSum)})` +
           text.slice(sep);
  }
}

export function rowsOf(arr, offset, rows, cols, map) {
  const z = [];
  for (let r = 0; r < rows; r++) {
    const row = new Array(cols);
    for (let c = 0; c < cols; c++) row[c] = map(arr[offset + r * cols + c]);
    z.push(row);
  }
  return z;
}

function drawable(zmax) {
  return (v) => (Number.isNaN(v) ? null : Number.isFinite(v) ? v : Math.sign(v) * zmax);
}

// ----------------------------------------------------------------------------- the view

export class View {
  constructor(root) {
    this.root = root;
    root.__cx = this;
    this.step = 0;
    this.playing = false;
    this.hover = null;
    this.pinned = null;
    this.reported = {};
    this.report = () => {};
    root.addEventListener("keydown", (e) => this.onKey(e));
    this.onDocKey = (e) => {
      if (document.activeElement === document.body && document.body.contains(this.root)) {
        this.onKey(e);
      }
    };
    document.addEventListener("keydown", this.onDocKey);
    this.onResize = () => {
      if (!document.body.contains(this.root)) {  // the page dropped this view
        window.removeEventListener("resize", this.onResize);
        document.removeEventListener("keydown", this.onDocKey);
        return;
      }
      clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => this.build(), 150);
    };
    window.addEventListener("resize", this.onResize);
  }

  load(payload) {
    const init = payload.init;
    const same = this.payload && this.payload.scene_id === payload.scene_id &&
      JSON.stringify(this.payload.init) === JSON.stringify(init);
    this.payload = payload;
    this.scene = payload.scene;
    this.values = new Values(this.scene);
    this.steps = this.stepCount();
    if (!same) {
      this.stop(false);
      this.step = Math.min(Math.max(0, init.step | 0), this.steps - 1);
      this.speed = SPEEDS.includes(init.speed) ? init.speed : 2;
      this.reveal = !!init.reveal;
      this.predict = !!init.predict;
      this.answers = new Map();  // predict mode: step -> {guess, right}
      this.hover = null;
      this.pinned = null;
      this.reported = {step: this.step, speed: this.speed, reveal: this.reveal,
                       predict: this.predict, ...this.reportExtra()};
    }
    this.presenter = !!payload.presenter;
    this.build();
    this.loads = (this.loads || 0) + 1;  // read by benchmarks/bench_browser.py
    this.loadedAt = performance.now();
  }

  // Hooks a view of another kind (transposed.js) overrides.
  stepCount() {
    return product(this.scene.out_shape);
  }

  stepLabel(step) {
    const value = this.hidden(step) ? "?" : fmt(this.values.out(step));
    return `step ${step + 1} of ${this.steps} \u00b7 ` +
      `out[${idx(this.values.outIndex(step))}] = ${value}`;
  }

  drawStep(focus) {
    this.drawWindow(this.step, focus === this.step ? "solid" : "faint");
    this.drawOutput(unravel(this.step, this.scene.out_shape));
  }

  extraPanels() {}

  titles() {
    const s = this.scene;
    return {input: `input, padded (item ${s.item})`, kernel: `kernel w[${s.omap}]`,
            output: `output out[${s.item},${s.omap}]`};
  }

  kernelName(m) {
    return `w[${this.scene.omap},${m}]`;
  }

  reportExtra() {
    return {};
  }

  // the step whose window and equation are shown: a hovered output cell, else the current one
  focusStep(shown) {
    return shown && shown.kind === "output" ? shown.step : this.step;
  }

  equationFor(shown, focus) {
    if (this.hidden(focus)) {
      return `out[${idx(this.values.outIndex(focus))}] = ?  \u2014 predict it: multiply each ` +
        "input under the window by its weight, add them and the bias, and type the result.";
    }
    return this.equationOf(focus);
  }

  // ------------------------------------------------------------------ layout

  build() {
    if (!this.scene) return;
    const s = this.scene;
    const root = this.root;
    root.classList.toggle("cx-presenter", this.presenter);
    root.replaceChildren();
    this.font = this.presenter ? 20 : 13;
    this.buildBar();
    this.stage = document.createElement("div");
    this.stage.className = `cx-stage cx-nd${s.ndim}`;
    root.appendChild(this.stage);
    this.eqChars = this.scene.exact ? this.values.equation(this.step).length : 120;
    this.eqFont = this.presenter ? (this.eqChars > 160 ? 18 : 22) : 15;
    this.eq = document.createElement("div");
    this.eq.className = "cx-eq";
    this.eq.style.fontSize = `${this.eqFont}px`;
    this.eq.setAttribute("data-testid", "cx-equation");
    this.tip = document.createElement("div");
    this.tip.className = "cx-tip";
    this.note = document.createElement("div");
    this.note.className = "cx-note";
    const width = Math.max(280, root.clientWidth || 800);
    this.narrow = width < 700;
    if (s.ndim === 1) this.build1d(width);
    else this.build2d(width);
    this.extraGrids = [];
    this.extraPanels(width);
    root.append(this.eq, this.note, this.tip);
    this.notes();
    this.drawStatic();
    this.bindHover();
    this.render();
  }

  heightBudget() {
    const top = this.root.getBoundingClientRect().top + window.scrollY;
    // room for the bar, the notes and the equation, whose length we know
    const width = Math.max(280, this.root.clientWidth || 800);
    const chars = this.eqChars;
    const lines = Math.ceil((chars * 0.62 * this.eqFont) / (width - 40));
    const reserve = 90 + lines * this.eqFont * 1.5 + 40;
    const h = (window.innerHeight || 800) - Math.max(0, Math.min(top, 260)) - reserve;
    return this.presenter ? Math.max(200, h) : Math.max(260, Math.min(h, 720));
  }

  buildBar() {
    const bar = document.createElement("div");
    bar.className = "cx-bar";
    const button = (text, title, fn, id) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.title = title;
      b.setAttribute("data-testid", id);
      b.addEventListener("click", (e) => {
        e.preventDefault();
        fn();
        this.root.focus({preventScroll: true});
      });
      bar.appendChild(b);
      return b;
    };
    this.prevBtn = button("\u25c0 Prev", "previous step (\u2190)", () => this.go(this.step - 1),
                          "cx-prev");
    this.playBtn = button("\u25b6 Play", "play / pause (space)", () => this.togglePlay(),
                          "cx-play");
    this.nextBtn = button("Next \u25b6", "next step (\u2192)", () => this.go(this.step + 1),
                          "cx-next");
    this.scrub = document.createElement("input");
    this.scrub.type = "range";
    this.scrub.className = "cx-scrub";
    this.scrub.min = "0";
    this.scrub.max = String(this.steps - 1);
    this.scrub.step = "1";
    this.scrub.disabled = this.steps < 2;
    this.scrub.setAttribute("aria-label", "step (output cell, raster order)");
    this.scrub.setAttribute("data-testid", "cx-scrub");
    this.scrub.addEventListener("input", () => this.go(Number(this.scrub.value)));
    bar.appendChild(this.scrub);
    this.info = document.createElement("span");
    this.info.className = "cx-info";
    this.info.setAttribute("data-testid", "cx-step");
    bar.appendChild(this.info);
    const speed = document.createElement("select");
    speed.className = "cx-speed";
    speed.title = "Play speed, steps per second";
    speed.setAttribute("data-testid", "cx-speed");
    for (const v of SPEEDS) {
      const o = document.createElement("option");
      o.value = String(v);
      o.textContent = `${v} steps/s`;
      speed.appendChild(o);
    }
    speed.value = String(this.speed);
    speed.addEventListener("change", () => {
      this.speed = Number(speed.value);
      if (this.playing) this.play();
      this.scheduleReport();
    });
    bar.appendChild(speed);
    const reveal = document.createElement("label");
    reveal.className = "cx-toggle";
    reveal.title = "hide output cells until the window reaches them";
    this.revealBox = document.createElement("input");
    this.revealBox.type = "checkbox";
    this.revealBox.checked = this.reveal;
    this.revealBox.setAttribute("data-testid", "cx-reveal");
    this.revealBox.addEventListener("change", () => {
      this.reveal = this.revealBox.checked;
      this.render();
      this.scheduleReport();
    });
    reveal.append(this.revealBox, document.createTextNode(" reveal as it slides"));
    bar.appendChild(reveal);
    if (this.canPredict()) this.buildPredict(bar);
    button("Copy link", "copy a link to this view", () => this.copyLink(),
           "cx-copy");
    this.copied = document.createElement("span");
    this.copied.className = "cx-copied";
    this.copied.setAttribute("data-testid", "cx-copied");
    bar.appendChild(this.copied);
    this.root.appendChild(bar);
  }

  build2d(width) {
    const s = this.scene;
    const f = s.scale;
    const maps = s.shown_maps;
    const mcols = Math.ceil(Math.sqrt(maps));
    const mrows = Math.ceil(maps / mcols);
    const [ph, pw] = s.padded_shape.map((n) => Math.ceil(n / f));
    const [oh, ow] = s.out_shape.map((n) => Math.ceil(n / f));
    const kd = s.kernel.map((k, a) => s.dilation[a] * (k - 1) + 1);
    // Cell sizes from the room there is: input and output share one cell size (so the
    // stride shows as a smaller output), kernels get their own (readable even beside a
    // 256x256 image).  Per plot: margins; between maps and panels: the CSS gaps.
    const plot = MARGIN.l + MARGIN.r;
    const gap = 10;
    const hb = this.heightBudget();
    const rowExtra = MARGIN.t + MARGIN.b + 22;  // map label and tick labels
    const minK = this.presenter ? 34 : 22;
    const kFit = (room) => Math.max(4, Math.min(64, room / kd[1], (hb - 24) / (mrows * kd[0])));
    let cs;
    if (this.narrow) {  // one panel per row
      cs = Math.min((width - mcols * (plot + gap)) / (mcols * pw), (width - plot) / ow, 72);
      this.ck = Math.min(Math.max(cs, minK), kFit((width - mcols * (plot + gap)) / mcols));
    } else {
      const hIn = (hb - 24 - mrows * rowExtra) / (mrows * ph);
      const hOut = (hb - 24 - rowExtra) / oh;
      const widthFor = (ck) => (width - 2 * mcols * (plot + gap) - plot - 2 * 20 - 8 -
                                mcols * kd[1] * ck) / (mcols * pw + ow);
      let ck = Math.min(minK, kFit(width * 0.25 / mcols));
      cs = Math.min(widthFor(ck), hIn, hOut, 72);
      const better = Math.min(Math.max(cs, minK), kFit(width * 0.25 / mcols));
      if (better > ck) {
        ck = better;
        cs = Math.min(widthFor(ck), hIn, hOut, 72);
      }
      this.ck = ck;
    }
    cs = Math.max(0.5, cs);
    this.cs = cs;
    const panel = (title, cls) => {
      const p = document.createElement("div");
      p.className = `cx-panel ${cls}`;
      const t = document.createElement("div");
      t.className = "cx-title";
      t.textContent = title;
      const body = document.createElement("div");
      body.className = "cx-maps";
      p.append(t, body);
      this.stage.appendChild(p);
      return body;
    };
    const titles = this.titles();
    const inBody = panel(titles.input, "cx-inputs");
    inBody.style.gridTemplateColumns = `repeat(${mcols}, auto)`;
    const kBody = panel(titles.kernel, "cx-kernels");
    kBody.style.gridTemplateColumns = `repeat(${mcols}, auto)`;
    const oBody = panel(titles.output, "cx-output");
    this.inputs = [];
    this.kernels = [];
    for (let m = 0; m < maps; m++) {
      const g = new Grid(inBody, {rows: ph, cols: pw, cs, label: `x[${s.item},${s.channels[m]}]`,
                                  className: "cx-input"});
      g.kind = "input";
      g.m = m;
      g.spot = (p) => [p[0] / f, p[1] / f];
      this.inputs.push(g);
      const k = new Grid(kBody, {rows: kd[0], cols: kd[1], cs: this.ck,
                                 label: this.kernelName(m), className: "cx-kernel"});
      k.kind = "kernel";
      k.m = m;
      k.spot = (t) => [t[0] * s.dilation[0], t[1] * s.dilation[1]];
      this.kernels.push(k);
    }
    const o = new Grid(oBody, {rows: oh, cols: ow, cs, label: `out[${s.item},${s.omap}]`,
                               className: "cx-out"});
    o.kind = "output";
    o.spot = (q) => [q[0] / f, q[1] / f];
    this.output = o;
    this.drawHeatmaps();
  }

  build1d(width) {
    const s = this.scene;
    const f = s.scale;
    const maps = s.shown_maps;
    const pl = Math.ceil(s.padded_shape[0] / f);
    const ol = Math.ceil(s.out_shape[0] / f);
    const kd = s.dilation[0] * (s.kernel[0] - 1) + 1;
    // cells as wide as the width allows (for the longer of input and output: a transposed
    // convolution's output is the longer); strips at least a readable height
    const cs = Math.max(0.5, Math.min((width - MARGIN_1D.l - MARGIN_1D.r - 8) / Math.max(pl, ol),
                                      72));
    const line = this.presenter ? 170 : 200;
    const rowsBudget = (this.heightBudget() - line - 3 * (MARGIN.t + MARGIN.b + 24)) /
      (2 * maps + 1);
    const ch = Math.max(this.presenter ? 30 : 22, Math.min(cs, 72, rowsBudget));
    this.cs = cs;
    this.ck = Math.max(cs, this.presenter ? 34 : 22);
    const block = (title, cls) => {
      const p = document.createElement("div");
      p.className = `cx-panel ${cls}`;
      const t = document.createElement("div");
      t.className = "cx-title";
      t.textContent = title;
      p.appendChild(t);
      this.stage.appendChild(p);
      return p;
    };
    const titles = this.titles();
    const inP = block(titles.input, "cx-inputs");
    const g = new Grid(inP, {rows: maps, cols: pl, cs, ch, className: "cx-input",
                             margin: MARGIN_1D});
    g.kind = "input";
    g.spot = (p, m) => [m, p[0] / f];
    this.inputs = [g];
    const kP = block(`${titles.kernel} \u2014 under the window`, "cx-kernels cx-slide");
    const k = new Grid(kP, {rows: maps, cols: kd, cs: this.ck, ch, className: "cx-kernel",
                            margin: MARGIN_1D});
    k.kind = "kernel";
    k.spot = (t, m) => [m, t[0] * s.dilation[0]];
    this.kernels = [k];
    this.slider = k.el;
    const oP = block(titles.output, "cx-output");
    const o = new Grid(oP, {rows: 1, cols: ol, cs, ch, className: "cx-out",
                            margin: MARGIN_1D});
    o.kind = "output";
    o.spot = (q) => [0, q[0] / f];
    this.output = o;
    this.drawHeatmaps();
    this.buildLine(width);
  }

  drawHeatmaps() {
    const s = this.scene;
    const v = this.values;
    const font = this.font;
    const zIn = s.zmax.input;
    const shapeIn = v.inputs.shape.slice(1);
    const lo = s.pads.map((p) => p[0]);
    // values for cell labels, only where cells can hold one (65k labels cost frames)
    const labels = (z, cs) => (cs < 12 ? null : z);
    if (s.ndim === 2) {
      const [rows, cols] = shapeIn;
      this.inputs.forEach((g, m) => {
        const raw = rowsOf(v.inputs.data, m * v.inSize, rows, cols, (x) => x);
        g.draw(raw.map((r) => r.map(drawable(zIn))), {
          zmax: zIn, text: labels(raw, g.cs), font,
          xticks: ticks(cols, -lo[1], s.scale, g.cs, font),
          yticks: ticks(rows, -lo[0], s.scale, g.cs, font)});
      });
      const kd = [this.kernels[0].rows, this.kernels[0].cols];
      this.kernels.forEach((g, m) => {
        const z = Array.from({length: kd[0]}, () => new Array(kd[1]).fill(null));
        for (const t of v.offsets) z[t[0] * s.dilation[0]][t[1] * s.dilation[1]] = v.weight(m, t);
        const text = labels(z, g.cs);
        g.draw(z.map((r) => r.map(drawable(s.zmax.weight))), {
          zmax: s.zmax.weight, text, font,
          xticks: ticks(kd[1], 0, 1, g.cs, font), yticks: ticks(kd[0], 0, 1, g.cs, font)});
      });
      const [orows, ocols] = v.output.shape;
      const raw = rowsOf(v.output.data, 0, orows, ocols, (x) => x);
      this.output.draw(raw.map((r) => r.map(drawable(s.zmax.output))), {
        zmax: s.zmax.output, text: labels(raw, this.output.cs), font,
        xticks: ticks(ocols, 0, s.scale, this.output.cs, font),
        yticks: ticks(orows, 0, s.scale, this.output.cs, font)});
    } else {
      const g = this.inputs[0];
      const cols = shapeIn[0];
      const raw = rowsOf(v.inputs.data, 0, s.shown_maps, cols, (x) => x);
      const names = s.channels.slice(0, s.shown_maps).map((c) => `x[${c}]`);
      g.draw(raw.map((r) => r.map(drawable(zIn))), {
        zmax: zIn, text: labels(raw, g.cs), font,
        xticks: ticks(cols, -lo[0], s.scale, g.cs, font),
        yticks: [names.map((_, i) => i), names]});
      const k = this.kernels[0];
      const z = Array.from({length: s.shown_maps}, () => new Array(k.cols).fill(null));
      for (let m = 0; m < s.shown_maps; m++) {
        for (const t of v.offsets) z[m][t[0] * s.dilation[0]] = v.weight(m, t);
      }
      const text = labels(z, k.cs);
      k.draw(z.map((r) => r.map(drawable(s.zmax.weight))), {
        zmax: s.zmax.weight, text, font,
        xticks: ticks(k.cols, 0, 1, k.cs, font),
        yticks: [names.map((_, i) => i), names.map((_, m) => this.kernelName(m))]});
      const ocols = v.output.shape[0];
      const oraw = [Array.from(v.output.data)];
      this.output.draw(oraw.map((r) => r.map(drawable(s.zmax.output))), {
        zmax: s.zmax.output, text: labels(oraw, this.output.cs), font,
        xticks: ticks(ocols, 0, s.scale, this.output.cs, font),
        yticks: [[0], [`out[${s.omap}]`]]});
    }
  }

  // 1-D: the signal and the output as lines; each output sits at its window's centre, in
  // input coordinates, so the line shows where each value comes from.
  buildLine(width) {
    const s = this.scene;
    const v = this.values;
    const lo = s.pads[0][0];
    const f = s.scale;
    const n = s.in_shape[0];
    const xs = [];
    const ys = [];
    for (let i = 0; i < n; i += f) {
      xs.push(i);
      ys.push(v.inputShown(0, [i + lo]));
    }
    const half = (s.dilation[0] * (s.kernel[0] - 1)) / 2;
    const ox = [];
    const oy = [];
    for (let q = 0; q < s.out_shape[0]; q += f) {
      ox.push(q * s.stride[0] + half - lo);
      oy.push(v.out(q));
    }
    const finite = [...ys, ...oy].filter(Number.isFinite);
    const ymin = Math.min(0, ...finite);
    const ymax = Math.max(0, ...finite);
    const padY = (ymax - ymin) * 0.08 || 1;
    this.lineRange = {x: [-lo - 0.5, n + s.pads[0][1] - 0.5], y: [ymin - padY, ymax + padY]};
    const wrap = document.createElement("div");
    wrap.className = "cx-panel cx-line";
    const box = document.createElement("div");
    box.className = "cx-box";
    const plot = document.createElement("div");
    const dyn = document.createElement("canvas");
    box.append(plot, dyn);
    wrap.appendChild(box);
    this.stage.appendChild(wrap);
    const w = Math.max(260, Math.min(width - 8, MARGIN_1D.l + s.padded_shape[0] / f * this.cs +
                                     MARGIN_1D.r + 40));
    const h = this.presenter ? 170 : 200;
    const font = Math.max(11, Math.round(this.font * 0.75));
    // the legend sits above the plot area, where it cannot cover the lines
    const m = {l: 48, r: 8, t: 8 + Math.round(font * 1.8), b: 26};
    this.line = {box, dyn, w, h, m, ctx: dyn.getContext("2d")};
    box.style.width = `${w}px`;
    box.style.height = `${h}px`;
    const dpr = window.devicePixelRatio || 1;
    dyn.width = Math.round((w - m.l - m.r) * dpr);
    dyn.height = Math.round((h - m.t - m.b) * dpr);
    dyn.style.width = `${w - m.l - m.r}px`;
    dyn.style.height = `${h - m.t - m.b}px`;
    dyn.style.left = `${m.l}px`;
    dyn.style.top = `${m.t}px`;
    dyn.style.pointerEvents = "none";
    this.line.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    window.Plotly.react(plot, [
      {type: "scatter", mode: "lines", x: xs, y: ys, name: `x[${s.channels[0]}]`,
       line: {color: "#555", width: 1.5}},
      {type: "scatter", mode: "lines+markers", x: ox, y: oy, name: `out[${s.omap}]`,
       line: {color: "#2166ac", width: 2}, marker: {size: 4}},
    ], {
      width: w, height: h, margin: {...m, pad: 0}, showlegend: true,
      legend: {orientation: "h", x: 1, xanchor: "right", y: 1, yanchor: "bottom",
               font: {size: font}},
      xaxis: {range: this.lineRange.x, fixedrange: true, automargin: false, zeroline: false,
              tickfont: {size: font}},
      yaxis: {range: this.lineRange.y, fixedrange: true, automargin: false,
              tickfont: {size: font}},
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
    }, {staticPlot: true, displayModeBar: false});
  }

  notes() {
    const s = this.scene;
    const items = [];
    if (s.shown_maps < s.channels.length) {
      items.push(`Drawing ${s.shown_maps} of the ${s.channels.length} input maps of this ` +
                 "output map's group; the equation sums all of them.");
    }
    if (!s.exact) {
      items.push(`Large maps are drawn at 1/${s.scale} resolution (every ${s.scale}th cell); ` +
                 "the window and every step are exact, and the exact arithmetic of the step " +
                 "is in the Arithmetic tab once you stop.");
    }
    this.note.textContent = items.join(" ");
    this.note.style.display = items.length ? "" : "none";
  }

  // ------------------------------------------------------------------ static layer

  drawStatic() {
    const s = this.scene;
    const f = s.scale;
    for (const g of this.inputs) {
      const ctx = g.sctx;
      ctx.clearRect(0, 0, g.stat.width, g.stat.height);
      const rowsOfGrid = s.ndim === 1 ? s.shown_maps : 1;
      for (let r = 0; r < rowsOfGrid; r++) {
        // padding veil: the padded frame minus the unpadded block, per axis
        const lo = s.pads.map((p) => p[0] / f);
        const inn = s.in_shape.map((n) => n / f);
        if (s.ndim === 2) {
          const [H, W] = [g.rows, g.cols];
          ctx.fillStyle = PAD_VEIL;
          ctx.fillRect(0, 0, W * g.cs, lo[0] * g.cs);
          ctx.fillRect(0, (lo[0] + inn[0]) * g.cs, W * g.cs, (H - lo[0] - inn[0]) * g.cs);
          ctx.fillRect(0, lo[0] * g.cs, lo[1] * g.cs, inn[0] * g.cs);
          ctx.fillRect((lo[1] + inn[1]) * g.cs, lo[0] * g.cs, (W - lo[1] - inn[1]) * g.cs,
                       inn[0] * g.cs);
          ctx.strokeStyle = "rgba(0,0,0,0.55)";
          ctx.setLineDash([4, 3]);
          ctx.lineWidth = 1;
          ctx.strokeRect(lo[1] * g.cs + 0.5, lo[0] * g.cs + 0.5, inn[1] * g.cs - 1,
                         inn[0] * g.cs - 1);
          ctx.setLineDash([]);
        } else {
          ctx.fillStyle = PAD_VEIL;
          ctx.fillRect(0, r * g.ch, lo[0] * g.cs, g.ch);
          ctx.fillRect((lo[0] + inn[0]) * g.cs, r * g.ch, (g.cols - lo[0] - inn[0]) * g.cs,
                       g.ch);
        }
      }
      this.drawNeverRead(g);
      this.drawSources(g);
    }
    for (const k of this.kernels) {
      const ctx = k.sctx;
      ctx.clearRect(0, 0, k.stat.width, k.stat.height);
      if (s.dilation.every((d) => d === 1)) continue;
      ctx.fillStyle = "rgba(0,0,0,0.25)";
      const rows = s.ndim === 1 ? s.shown_maps : 1;
      for (let r = 0; r < k.rows; r++) {
        for (let c = 0; c < k.cols; c++) {
          const gap = s.ndim === 2 ? r % s.dilation[0] || c % s.dilation[1] : c % s.dilation[0];
          if (gap && (s.ndim === 2 || r < rows)) {
            ctx.beginPath();
            ctx.arc((c + 0.5) * k.cs, (r + 0.5) * k.ch, Math.max(1.5, k.cs * 0.06), 0, 7);
            ctx.fill();
          }
        }
      }
    }
  }

  drawNeverRead(g) {
    const s = this.scene;
    const f = s.scale;
    if (!s.never_read.some((a) => a.length)) return;
    const ctx = g.sctx;
    const size = Math.max(4, Math.min(g.cs * 0.28, g.ch * 0.28, 14));
    const mark = (r, c) => {
      const x = (c + 1) * g.cs - size - 2;
      const y = r * g.ch + 2;
      ctx.strokeStyle = NEVER_READ;
      ctx.lineWidth = Math.max(1.2, size / 5);
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + size, y + size);
      ctx.moveTo(x + size, y);
      ctx.lineTo(x, y + size);
      ctx.stroke();
    };
    const lo = s.pads.map((p) => p[0]);
    if (s.ndim === 1) {
      for (let r = 0; r < s.shown_maps; r++) {
        for (const i of s.never_read[0]) mark(r, (i + lo[0]) / f);
      }
      return;
    }
    const [rowsNR, colsNR] = s.never_read;
    const setR = new Set(rowsNR);
    const setC = new Set(colsNR);
    if (g.cs < 3) return;
    for (let i = 0; i < s.in_shape[0]; i += f) {
      for (let j = 0; j < s.in_shape[1]; j += f) {
        if (setR.has(i) || setC.has(j)) mark((i + lo[0]) / f, (j + lo[1]) / f);
      }
    }
  }

  drawSources(g) {
    const s = this.scene;
    if (s.mode === "zeros" || s.scale !== 1) return;
    const size = Math.round(Math.max(this.presenter ? 12 : 10, g.cs * 0.2));
    if (g.cs < size * 3.2) return;
    const ctx = g.sctx;
    ctx.fillStyle = "rgba(0,0,0,0.75)";
    ctx.font = `${size}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    const rows = s.ndim === 2 ? g.rows : s.shown_maps;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        const p = s.ndim === 2 ? [r, c] : [c];
        if (!isPadding(s, p)) continue;
        const src = p.map((pa, a) => s.source[a][pa]);
        ctx.fillText(`\u2190${idx(src)}`, (c + 0.5) * g.cs, (r + 1) * g.ch - 1);
      }
    }
  }

  // ------------------------------------------------------------------ the moving layer

  go(step, opts = {}) {
    const next = Math.min(Math.max(0, step), this.steps - 1);
    if (this.playing && !opts.fromPlay) this.stop(false);
    if (next === this.step && !opts.force) return;
    this.step = next;
    if (this.guess) this.guess.value = "";
    this.render();
    if (!opts.fromPlay) this.scheduleReport();
  }

  // every grid the pointer can point at, output first (hit tests try them in this order)
  grids() {
    return [this.output, ...this.inputs, ...this.kernels, ...(this.extraGrids || [])];
  }

  render() {
    const t0 = performance.now();
    this.scrub.value = String(this.step);
    this.prevBtn.disabled = this.step <= 0;
    this.nextBtn.disabled = this.step >= this.steps - 1;
    this.playBtn.textContent = this.playing ? "\u275a\u275a Pause" : "\u25b6 Play";
    this.info.textContent = this.stepLabel(this.step);
    for (const g of this.grids()) g.clear();
    const shown = this.pinned || this.hover;
    if (!shown) {
      this.root.dataset.hover = "";
      this.root.dataset.lit = "";
      this.root.dataset.cell = "";
    }
    const focus = this.focusStep(shown);
    this.drawStep(focus);
    if (shown) this.drawHover(shown);
    this.eq.textContent = this.equationFor(shown, focus);
    this.eq.classList.toggle("cx-eq-hover", focus !== this.step);
    if (this.slider) this.placeSlider();
    if (this.line) {
      this.line.box.parentElement.style.display = this.predict ? "none" : "";  // it tells
      this.drawLine();
    }
    this.root.dataset.step = String(this.step);
    this.predictState();
    this.lastRenderMs = performance.now() - t0;
  }

  equationOf(step) {
    if (!this.scene.exact) {
      return `out[${idx(this.values.outIndex(step))}] \u2248 ${fmt(this.values.out(step))} ` +
        "(drawn at display resolution: the exact equation is in the Arithmetic tab)";
    }
    return this.values.equation(step);
  }

  drawWindow(step, style) {
    const s = this.scene;
    const taps = windowTaps(s, step);
    const lo = taps[0];
    const hi = taps[taps.length - 1];
    const solid = style === "solid";
    this.root.dataset.taps = JSON.stringify(taps);
    for (const g of this.inputs) {
      const rows = s.ndim === 1 ? s.shown_maps : 1;
      for (let m = 0; m < rows; m++) {
        const a = g.spot(lo, m);
        const b = g.spot(hi, m);
        for (const p of taps) {
          const [r, c] = g.spot(p, m);
          g.rect(g.ctx, r, c, s.ndim === 1 ? 1 : 1 / s.scale, 1 / s.scale,
                 {fill: solid ? "rgba(242,169,0,0.16)" : null, stroke: TAP,
                  width: solid ? 2.5 : 1.5});
        }
        g.rect(g.ctx, a[0], a[1], b[0] - a[0] + (s.ndim === 1 ? 1 : 1 / s.scale),
               b[1] - a[1] + 1 / s.scale,
               {stroke: WINDOW, width: solid ? 3 : 1.5, dash: solid ? [] : [5, 4]});
      }
    }
  }

  drawOutput(o) {
    const s = this.scene;
    const g = this.output;
    const f = s.scale;
    const one = s.ndim === 1 ? 1 : 1 / f;
    if (this.reveal || this.predict) {
      // cover every cell after the current one (raster order); opaque when predicting
      const fill = this.predict ? "rgb(243,243,243)" : COVER;
      if (s.ndim === 2) {
        const [r, c] = [o[0] / f, o[1] / f];
        g.rect(g.ctx, r, c + 1 / f, 1 / f, g.cols - c - 1 / f, {fill});
        g.rect(g.ctx, r + 1 / f, 0, g.rows - r - 1 / f, g.cols, {fill});
      } else {
        const c = o[0] / f;
        g.rect(g.ctx, 0, c + 1 / f, 1, g.cols - c - 1 / f, {fill});
      }
    }
    const [r, c] = g.spot(o);
    if (this.hidden(this.step)) {  // predict: the current cell too, with a question mark
      g.rect(g.ctx, r, c, one, 1 / f, {fill: "rgb(255,244,214)"});
      if (g.cs >= 14) {
        g.ctx.fillStyle = "#7a5b00";
        g.ctx.font = `bold ${Math.floor(Math.min(g.cs, g.ch) * 0.55)}px sans-serif`;
        g.ctx.textAlign = "center";
        g.ctx.textBaseline = "middle";
        g.ctx.fillText("?", (c + one / 2) * g.cs, (r + one / 2) * g.ch);
      }
    }
    g.rect(g.ctx, r, c, one, 1 / f, {stroke: WINDOW, width: 3});
  }

  // ------------------------------------------------------------------ predict, then reveal

  canPredict() {
    return this.scene.exact;
  }

  // Predict mode hides the current output cell and every later one until answered.
  hidden(step) {
    return !!this.predict && step >= this.step && !this.answers.has(step);
  }

  buildPredict(bar) {
    const toggle = document.createElement("label");
    toggle.className = "cx-toggle";
    toggle.title = "hide each output cell until you have predicted it";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = this.predict;
    box.setAttribute("data-testid", "cx-predict");
    toggle.append(box, document.createTextNode(" predict"));
    bar.appendChild(toggle);
    const ask = document.createElement("span");
    ask.className = "cx-ask";
    this.guess = document.createElement("input");
    this.guess.type = "text";
    this.guess.inputMode = "decimal";
    this.guess.size = 8;
    this.guess.placeholder = "your answer";
    this.guess.setAttribute("aria-label", "your prediction of the current output cell");
    this.guess.setAttribute("data-testid", "cx-guess");
    const check = document.createElement("button");
    check.type = "button";
    check.textContent = "Check";
    check.setAttribute("data-testid", "cx-check");
    this.verdict = document.createElement("span");
    this.verdict.className = "cx-verdict";
    this.verdict.setAttribute("data-testid", "cx-verdict");
    ask.append(this.guess, check, this.verdict);
    bar.appendChild(ask);
    const show = () => {
      ask.style.display = this.predict ? "" : "none";
    };
    show();
    box.addEventListener("change", () => {
      this.predict = box.checked;
      show();
      this.render();
      this.scheduleReport();
    });
    check.addEventListener("click", () => this.check());
    this.guess.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        this.check();
      }
    });
  }

  // Compare the typed guess with the core's value: right when it rounds to the same number.
  check() {
    const text = this.guess.value.trim().replaceAll("\u2212", "-").replace(",", ".");
    const guess = Number(text);
    if (!text || Number.isNaN(guess)) {
      this.verdict.textContent = "type a number";
      return;
    }
    const value = this.values.out(this.step);
    const right = fmt(guess) === fmt(value) ||
      Math.abs(guess - value) <= Math.max(1e-6, 1e-3 * Math.abs(value));
    this.answers.set(this.step, {guess, right});
    this.render();
  }

  predictState() {
    if (!this.predict || !this.guess) return;
    const a = this.answers.get(this.step);
    const right = [...this.answers.values()].filter((x) => x.right).length;
    const score = `${right} of ${this.answers.size} right`;
    if (!a) {
      this.verdict.textContent = this.answers.size ? score : "";
      this.root.dataset.predict = "hidden";
    } else {
      this.verdict.textContent = (a.right ? `\u2713 right (${fmt(a.guess)})` :
        `\u2717 ${fmt(a.guess)} \u2014 it is ${fmt(this.values.out(this.step))}`) +
        ` \u00b7 ${score}`;
      this.verdict.classList.toggle("cx-right", a.right);
      this.root.dataset.predict = a.right ? "right" : "wrong";
    }
    this.root.dataset.score = `${right}/${this.answers.size}`;
  }

  placeSlider() {
    const s = this.scene;
    const g = this.inputs[0];
    const start = unravel(this.step, s.out_shape)[0] * s.stride[0];
    const span = s.dilation[0] * (s.kernel[0] - 1) + 1;
    const k = this.kernels[0];
    const centre = g.margin.l + ((start + span / 2) / s.scale) * g.cs;
    const maxLeft = Math.max(0, this.stage.clientWidth - k.width);
    const left = Math.min(Math.max(0, centre - k.margin.l - (k.cols * k.cs) / 2), maxLeft);
    this.slider.style.transform = `translateX(${left}px)`;
  }

  drawLine() {
    const s = this.scene;
    const L = this.line;
    const ctx = L.ctx;
    const pw = L.w - L.m.l - L.m.r;
    const ph = L.h - L.m.t - L.m.b;
    ctx.clearRect(0, 0, pw, ph);
    const [x0, x1] = this.lineRange.x;
    const X = (x) => ((x - x0) / (x1 - x0)) * pw;
    const [y0, y1] = this.lineRange.y;
    const Y = (y) => ph - ((y - y0) / (y1 - y0)) * ph;
    const lo = s.pads[0][0];
    const q = unravel(this.step, s.out_shape)[0];
    const a = q * s.stride[0] - lo;
    const b = a + s.dilation[0] * (s.kernel[0] - 1);
    ctx.fillStyle = "rgba(242,169,0,0.22)";
    ctx.fillRect(X(a - 0.5), 0, Math.max(2, X(b + 0.5) - X(a - 0.5)), ph);
    const v = this.values.out(this.step);
    if (Number.isFinite(v)) {
      const half = (s.dilation[0] * (s.kernel[0] - 1)) / 2;
      ctx.fillStyle = WINDOW;
      ctx.beginPath();
      ctx.arc(X(a + half), Y(v), this.presenter ? 6 : 4.5, 0, 7);
      ctx.fill();
    }
  }

  // ------------------------------------------------------------------ hover and pin

  drawHover(h) {
    const s = this.scene;
    const f = s.scale;
    const one = s.ndim === 1 ? 1 : 1 / f;
    let lit = [];
    let cell = null;  // the input cell a hovered kernel tap multiplies at this step
    if (h.kind === "output") {
      if (h.step !== this.step) this.drawWindow(h.step, "solid");
      const [r, c] = this.output.spot(unravel(h.step, s.out_shape));
      this.output.rect(this.output.ctx, r, c, one, 1 / f, {stroke: HOVER, width: 3});
      lit = [h.step];
    } else if (h.kind === "input") {
      const g = this.inputs[s.ndim === 1 ? 0 : h.m];
      const [r, c] = g.spot(h.p, h.m);
      g.rect(g.ctx, r, c, one, 1 / f, {stroke: HOVER, width: 3});
      if (isPadding(s, h.p) && s.mode !== "zeros") {
        const src = h.p.map((pa, a) => s.source[a][pa] + s.pads[a][0]);
        const [sr, sc] = g.spot(src, h.m);
        g.rect(g.ctx, sr, sc, one, 1 / f, {stroke: HOVER, width: 2, dash: [4, 3]});
      }
      const found = readers(s, h.p);
      lit = found.map((x) => x.step);
      for (const x of found) {
        const [orow, ocol] = this.output.spot(unravel(x.step, s.out_shape));
        this.output.rect(this.output.ctx, orow, ocol, one, 1 / f, {fill: LIT, stroke: TAP,
                                                                   width: 1.5});
      }
      const k = this.kernels[s.ndim === 1 ? 0 : Math.min(h.m, this.kernels.length - 1)];
      for (const x of found) {
        if (x.step !== this.step) continue;
        const [kr, kc] = k.spot(x.tap, h.m);
        k.rect(k.ctx, kr, kc, 1, 1, {stroke: HOVER, width: 3});
      }
    } else if (h.kind === "kernel") {
      const k = this.kernels[s.ndim === 1 ? 0 : h.m];
      const [kr, kc] = k.spot(h.t, h.m);
      k.rect(k.ctx, kr, kc, 1, 1, {stroke: HOVER, width: 3});
      const g = this.inputs[s.ndim === 1 ? 0 : h.m];
      if (g) {
        const axes = tapFootprint(s, h.t);
        const count = axes.reduce((a, l) => a * l.length, 1);
        if (count <= 20000) {
          const each = (fn, prefix = [], a = 0) => {
            if (a === axes.length) return fn(prefix);
            for (const v of axes[a]) each(fn, [...prefix, v], a + 1);
          };
          g.ctx.fillStyle = "rgba(123,44,191,0.35)";
          each((p) => {
            const [r, c] = g.spot(p, h.m);
            const size = Math.max(2, g.cs * 0.3);
            g.ctx.fillRect((c + 0.5 / f) * g.cs - size / 2, (r + one / 2) * g.ch - size / 2,
                           size, size);
          });
        }
        const o = unravel(this.step, s.out_shape);
        const p = o.map((oa, a) => oa * s.stride[a] + h.t[a] * s.dilation[a]);
        const [r, c] = g.spot(p, h.m);
        g.rect(g.ctx, r, c, one, 1 / f, {stroke: HOVER, width: 3});
        cell = p;
      }
    }
    this.root.dataset.hover = h.kind;
    this.root.dataset.lit = lit.join(",");
    this.root.dataset.cell = JSON.stringify(cell);
  }

  hitTest(event) {
    for (const g of this.grids()) {
      if (!g.dyn.contains(event.target) && event.target !== g.dyn) continue;
      const cell = g.cellAt(event);
      if (!cell) return null;
      const s = this.scene;
      const f = g.kind === "kernel" ? 1 : s.scale;
      if (g.kind === "output") {
        const q = s.ndim === 2 ? [cell[0] * f, cell[1] * f] : [cell[1] * f];
        if (q.some((v, a) => v >= s.out_shape[a])) return null;
        return {kind: "output", step: ravel(q, s.out_shape)};
      }
      if (g.kind === "input") {
        const m = s.ndim === 1 ? cell[0] : g.m;
        const p = s.ndim === 2 ? [cell[0] * f, cell[1] * f] : [cell[1] * f];
        if (p.some((v, a) => v >= s.padded_shape[a])) return null;
        return {kind: "input", m, p};
      }
      const m = s.ndim === 1 ? cell[0] : g.m;
      const pos = s.ndim === 2 ? cell : [cell[1]];
      if (pos.some((v, a) => v % s.dilation[a])) return null;
      return {kind: "kernel", m, t: pos.map((v, a) => v / s.dilation[a])};
    }
    return null;
  }

  tipText(h) {
    const s = this.scene;
    const v = this.values;
    if (h.kind === "output") {
      const value = this.hidden(h.step) ? "? (predict it first)" : fmt(v.out(h.step));
      return `out[${idx(v.outIndex(h.step))}] = ${value} \u2014 click to go there`;
    }
    if (h.kind === "input") {
      const c = s.channels[h.m];
      const u = unpadded(s, h.p);
      const value = s.exact ? v.input(h.m, h.p) : v.inputShown(h.m, h.p);
      const n = readers(s, h.p).length;
      let where = `x[${s.item},${c},${idx(u)}] = ${fmt(value)}`;
      if (isPadding(s, h.p)) {
        where = s.mode === "zeros" ? `padding (zeros) at ${idx(u)} = 0` :
          `padding (${s.mode}) at ${idx(u)} \u2190 x[${s.item},${c},` +
          `${idx(h.p.map((pa, a) => s.source[a][pa]))}] = ${fmt(value)}`;
      }
      return `${where} \u00b7 read by ${n} window${n === 1 ? "" : "s"}`;
    }
    const w = v.weight(h.m, h.t);
    const o = unravel(this.step, s.out_shape);
    const p = o.map((oa, a) => oa * s.stride[a] + h.t[a] * s.dilation[a]);
    const x = s.exact ? v.input(h.m, p) : v.inputShown(h.m, p);
    return `w[${s.omap},${h.m},${idx(h.t)}] = ${fmt(w)} \u00b7 this step: ` +
      `${fmt(x)}\u00b7${fmt(w)} = ${fmt(x * w)}`;
  }

  bindHover() {
    const move = (e) => {
      const h = this.hitTest(e);
      const same = JSON.stringify(h) === JSON.stringify(this.hover);
      if (!same) {
        this.hover = h;
        if (!this.pinned) this.render();
      }
      if (h && !this.pinned) {
        this.tip.textContent = this.tipText(h);
        this.tip.style.display = "block";
        const box = this.root.getBoundingClientRect();
        const x = e.clientX - box.left + 14;
        const maxX = box.width - this.tip.offsetWidth - 4;
        this.tip.style.left = `${Math.max(0, Math.min(x, maxX))}px`;
        this.tip.style.top = `${e.clientY - box.top + 16}px`;
      } else if (!this.pinned) {
        this.tip.style.display = "none";
      }
    };
    const leave = () => {
      this.hover = null;
      this.tip.style.display = "none";
      if (!this.pinned) this.render();
    };
    const click = (e) => {
      const h = this.hitTest(e);
      if (!h) return;
      if (h.kind === "output") {
        this.pinned = null;
        this.go(h.step, {force: true});
        return;
      }
      const same = this.pinned && JSON.stringify(this.pinned) === JSON.stringify(h);
      this.pinned = same ? null : h;
      this.root.dataset.pinned = this.pinned ? h.kind : "";
      this.render();
    };
    for (const g of this.grids()) {
      g.dyn.addEventListener("mousemove", move);
      g.dyn.addEventListener("mouseleave", leave);
      g.dyn.addEventListener("click", click);
    }
  }

  // ------------------------------------------------------------------ play, keys, report

  togglePlay() {
    if (this.playing) this.stop(true);
    else this.play();
  }

  play() {
    if (this.step >= this.steps - 1) this.step = 0;
    this.playing = true;
    const start = this.step;
    const t0 = performance.now();
    this.frames = 0;
    this.playStart = t0;
    const tick = (now) => {
      if (!this.playing) return;
      const target = Math.min(this.steps - 1, start + Math.floor(((now - t0) * this.speed) / 1000));
      if (target !== this.step) {
        this.go(target, {fromPlay: true});
        this.frames += 1;
      }
      if (target >= this.steps - 1) {
        this.stop(true);
        return;
      }
      this.raf = requestAnimationFrame(tick);
    };
    this.render();
    this.raf = requestAnimationFrame(tick);
  }

  stop(report) {
    if (!this.playing) return;
    this.playing = false;
    cancelAnimationFrame(this.raf);
    if (this.playBtn) this.render();
    if (report) this.scheduleReport();
  }

  onKey(e) {
    const target = e.target;
    if (target && target.tagName === "INPUT" && target.type !== "range") return;
    if (target && (target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    const keys = {
      ArrowLeft: () => this.go(this.step - 1), ArrowRight: () => this.go(this.step + 1),
      Home: () => this.go(0), End: () => this.go(this.steps - 1),
      " ": () => this.togglePlay(),
      Escape: () => { this.pinned = null; this.root.dataset.pinned = ""; this.render(); },
    };
    if (target === this.scrub && e.key.startsWith("Arrow")) return;  // the range moves itself
    const fn = keys[e.key];
    if (!fn) return;
    e.preventDefault();
    fn();
  }

  scheduleReport() {
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => {
      if (this.playing) return;
      const now = {step: this.step, speed: this.speed, reveal: this.reveal,
                   predict: this.predict, ...this.reportExtra()};
      if (JSON.stringify(now) === JSON.stringify(this.reported)) return;
      this.reported = now;
      // One state value per report, tagged with its scene and a sequence number, so the
      // page can tell a fresh report from one left over from an earlier scene.
      REPORTS.seq += 1;
      this.report("view", {scene: this.payload.scene_id, seq: REPORTS.seq, ...now});
    }, REPORT_DELAY_MS);
  }

  link() {
    const u = new URL(window.location.href);
    const set = (name, value, dflt) => {
      if (value === dflt) u.searchParams.delete(name);
      else u.searchParams.set(name, String(value));
    };
    set("step", this.step + 1, 1);  // counted from 1, as the page shows it (app/url.py)
    set("speed", this.speed, 2);
    set("reveal", this.reveal ? 1 : 0, 0);
    set("predict", this.predict ? 1 : 0, 0);
    return u.toString();
  }

  copyLink() {
    const url = this.link();
    copyText(url).then((ok) => {
      this.copied.textContent = ok ? "link copied" : url;
      this.root.dataset.link = url;
      clearTimeout(this.copiedTimer);
      if (ok) this.copiedTimer = setTimeout(() => { this.copied.textContent = ""; }, 2500);
    });
  }
}

export function mount(component) {
  return mountView(View, component);
}
