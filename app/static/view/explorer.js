// The explorer view: draws one scene (app/scene.py) with plotly.js heatmaps and steps, hovers
// and plays it in the browser with no round trip to the server; its own layer controls ask the
// scene API for the next scene and redraw in place (component.js: the lifecycle).
//
// Plotly draws each map once per scene (heatmap, axes, cell values), in place when the view
// already has that map (Plotly.react).  Everything that moves is drawn on two canvases laid
// exactly over each heatmap's plot area: a static one (padding, cells no window reads, padding
// sources) and a dynamic one (window, taps, hover highlights, the not-yet-computed cover).
// Cell <-> pixel mapping is ours: every heatmap has fixed margins and axis ranges, so no plotly
// internals are read.  Steps are reported to Streamlit only when the user stops (debounced), so
// the server-side panels and the URL follow the figure.

import {ViewBase, mountView} from "./component.js";
import {FIELDS, LayerControls} from "./controls.js";
import {equationText, fmt, idx} from "./format.js";
import {Grid, MapPanel} from "./grid.js";
import {
  isPadding, kernelOffsets, product, ravel, readers, tapFootprint, tapPosition, unpadded, unravel,
  windowTaps,
} from "./geometry.js";
import {TITLE} from "./layout.js";
import {layoutOf} from "./ranks.js";
import {Recorder} from "./record.js";

const WINDOW = "#111111";
const TAP = "#f2a900";
const LIT = "rgba(242, 169, 0, 0.55)";
const HOVER = "#7b2cbf";
const NEVER_READ = "#6a3d9a";
const PAD_VEIL = "rgba(255, 255, 255, 0.45)";
const COVER = "rgba(245, 245, 245, 0.93)";
// Play speeds, steps per second: app/shared/settings.py SPEEDS (tests/test_app_settings.py
// holds the two equal); every view's speed menu offers these.
export const SPEEDS = [1, 2, 4, 8, 15, 30, 60];
const MAX_TERMS_SHOWN = 8;  // partial sums listed one per input map, then summarized

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
    if (scene.outputs) {  // explorer scenes: every shown output map, the shown one among them
      this.outputs = decode(scene.outputs);
      const [n, ...shape] = this.outputs.shape;
      const size = product(shape);
      const j = scene.omap - scene.outputs_first;
      this.output = {data: this.outputs.data.subarray(j * size, (j + 1) * size), shape};
      this.outCount = n;
    } else {
      this.output = decode(scene.output);
      this.outputs = {data: this.output.data, shape: [1, ...this.output.shape]};
      this.outCount = 1;
    }
    this.partials = scene.partials ? decode(scene.partials) : null;
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

  // Output map j of the shown ones (display cell q, raster).
  outOf(j, q) {
    const size = product(this.outputs.shape.slice(1));
    return this.outputs.data[j * size + q];
  }

  // What input map m of the group adds to output `step` (the core's partial sum): None in the
  // scene with one input map, whose only term is the output less the bias.
  partial(m, step) {
    if (this.partials) return this.partials.data[m * product(this.scene.out_shape) + step];
    return this.scene.channels.length === 1 ? this.out(step) - this.bias : NaN;
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


function element(tag, className, parent, testId) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (testId) e.setAttribute("data-testid", testId);
  if (parent) parent.appendChild(e);
  return e;
}

// ----------------------------------------------------------------------------- the view

export class View extends ViewBase {
  constructor(root) {
    super(root);
    this.step = 0;
    this.playing = false;
    this.hover = null;
    this.pinned = null;
    this.grids2 = {inputs: [], kernels: [], outputs: [], extras: []};
    this.recorder = new Recorder(this);
  }

  // ------------------------------------------------------------------ lifecycle hooks

  show(payload) {
    const init = payload.init || {};
    this.stop(false);
    this.useScene(payload.scene, init.step | 0);
    this.speed = SPEEDS.includes(init.speed) ? init.speed : 2;
    this.reveal = !!init.reveal;
    this.predict = !!init.predict;
    this.answers = new Map();  // predict mode: step -> {guess, right}
    this.presenter = !!payload.presenter;
    this.build();
  }

  // Take `scene` (not drawn yet: build() draws it) at `step`, clamped to its steps, with
  // nothing hovered or pinned.
  useScene(scene, step) {
    this.scene = scene;
    this.rank = layoutOf(scene);  // what differs between a strip and a grid (ranks.js)
    this.values = new Values(scene);
    this.steps = this.stepCount();
    this.step = Math.min(Math.max(0, step), this.steps - 1);
    this.hover = null;
    this.pinned = null;
  }

  refresh(payload, previous) {
    if (!!payload.presenter !== this.presenter) {
      this.presenter = !!payload.presenter;
      this.build();
    } else {
      this.controlsShow();
    }
  }

  relayout() {
    this.build();
  }

  // what a scene API request carries besides the layer: where the view is
  viewQuery() {
    // the URL counts steps from 1, as the view shows them (app/url.py)
    return {step: this.step + 1, speed: this.speed, reveal: this.reveal ? 1 : 0,
            predict: this.predict ? 1 : 0};
  }

  viewState() {
    return {step: this.step, speed: this.speed, reveal: this.reveal, predict: this.predict,
            ...this.reportExtra()};
  }

  requestFailed(status, error) {
    if (this.controls) {
      this.controls.say(`${error.parameter ? error.parameter + ": " : ""}${error.message}` +
                        (status === 0 || status === 429 || status === 422 ?
                          " \u2014 asking the page instead" : ""));
    }
  }

  // Hooks a view of another kind (transposed.js) overrides.
  stepCount() {
    return product(this.scene.out_shape);
  }

  controlFields() {
    return FIELDS.explorer;
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

  titles() {
    const s = this.scene;
    return {input: `input, padded (item ${s.item})`, kernel: `kernel w[${s.omap}]`,
            output: `output maps of item ${s.item} (shown: ${s.omap})`};
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

  // Maps of an output map's size shown with the outputs (transposed: the stamp counts):
  // outputSizedSpecs(base) gives their grids' specs from `base` (the layout's rows, cols, cs,
  // spot and `size` in words), outputSizedItems(font) what they draw ({key, zmin, zmax, row
  // and tick: a strip's name of its row, make: () => the heatmap}; see ranks.js).
  outputSizedPanels() {
    return this.outputSizedSpecs({}).length;
  }

  outputSizedSpecs(base) {  // eslint-disable-line no-unused-vars
    return [];
  }

  outputSizedItems() {
    return [];
  }

  hasPartials() {
    return !!this.scene.outputs;
  }

  // ------------------------------------------------------------------ layout

  build() {
    if (!this.scene) return;
    const t0 = performance.now();
    const s = this.scene;
    const root = this.root;
    root.classList.toggle("cx-presenter", this.presenter);
    this.font = this.presenter ? 20 : 13;
    const key = JSON.stringify([s.ndim, this.presenter, s.mode === "transposed",
                                this.layoutKind ? this.layoutKind() : ""]);
    if (key !== this.skeletonKey) {
      this.skeletonKey = key;
      this.buildSkeleton();
    }
    this.syncBar();
    this.controlsShow();
    this.eqChars = this.scene.exact ? this.values.equation(this.step).length : 120;
    this.eqFont = this.presenter ? (this.eqChars > 300 ? 15 : this.eqChars > 160 ? 17 : 22) : 15;
    this.eq.style.fontSize = `${this.eqFont}px`;
    const width = Math.max(280, this.stage.clientWidth || root.clientWidth || 800);
    this.narrow = width < 700;
    this.extraGrids = [];
    this.rank.arrange(this, width);
    this.rank.drawMaps(this);
    if (this.rank.line) this.buildLine(width);
    this.notes();
    this.drawStatic();
    this.render();
    this.buildMs = performance.now() - t0;
  }

  // The parts that stay across scenes: the bar, the controls, the stage and its panels, the
  // equation, the notes and the tooltip.
  buildSkeleton() {
    const root = this.root;
    for (const g of this.allGrids()) g.remove();
    for (const set of Object.values(this.sets || {})) set.remove();
    this.sets = null;
    this.grids2 = {inputs: [], kernels: [], outputs: [], extras: []};
    this.inputs = [];
    this.kernels = [];
    this.outputs = [];
    this.output = null;
    this.line = null;
    root.replaceChildren();
    this.buildBar();
    this.controls = null;
    if (this.live && this.payload && this.payload.page && this.controlFields()) {
      this.controls = new LayerControls(root, this.controlFields(),
                                        (changes) => this.request(changes));
      this.controls.el.after(this.controls.message);
    }
    this.stage = element("div", `cx-stage cx-nd${this.scene.ndim}`, root);
    this.eq = element("div", "cx-eq", null, "cx-equation");
    this.note = element("div", "cx-note");
    this.tip = element("div", "cx-tip");
    this.panels = {};
    const panel = (name, cls) => {
      const p = element("div", `cx-panel ${cls}`);
      const t = element("div", "cx-title", p);
      const body = element("div", "cx-maps", p);
      this.panels[name] = {el: p, title: t, body};
      return p;
    };
    panel("in", "cx-inputs");
    panel("k", "cx-kernels");
    panel("out", "cx-output");
    panel("ps", "cx-partials");
    if (this.rank.mapPanels) {  // one plotly figure per panel, for all its maps
      this.sets = {};
      for (const name of ["in", "k", "out"]) {
        const body = this.panels[name].body;
        this.sets[name] = new MapPanel(body.parentElement);
        body.remove();
        this.panels[name].body = this.sets[name].el;
      }
    }
    this.panels.ps.body.className = "cx-terms";
    this.panels.ps.body.setAttribute("data-testid", "cx-partials");
    root.append(this.eq, this.note, this.tip);
    this.bindStage();
  }

  // The layer's controls: open by default, folded in presenter mode (the figure needs the
  // height); a click on "Layer" toggles them and the figure takes the room there is.
  toggleControls() {
    this.controlsOpen = !this.controlsOpenNow();
    this.build();
  }

  controlsOpenNow() {
    return this.controlsOpen === undefined ? !this.presenter : this.controlsOpen;
  }

  controlsShow() {
    if (!this.controls || !this.payload || !this.payload.layer) return;
    const open = this.controlsOpenNow();
    this.controls.el.style.display = open ? "" : "none";
    this.root.dataset.controls = open ? "open" : "folded";
    if (this.layerBtn) this.layerBtn.textContent = open ? "Layer \u25b4" : "Layer \u25be";
    this.controls.set(this.payload.layer, this.payload.limits || {});
    const notices = this.payload.notices || [];
    this.controls.say(notices.join(" "));
  }

  heightBudget() {
    const top = this.stage.getBoundingClientRect().top + window.scrollY;
    // room for the notes and the equation, whose length we know
    const width = Math.max(280, this.stage.clientWidth || 800);
    const lines = Math.ceil((this.eqChars * 0.62 * this.eqFont) / (width - 40));
    const reserve = lines * this.eqFont * 1.45 + 16 + 12 + (this.presenter ? 24 : 40);
    const h = (window.innerHeight || 800) - Math.max(0, Math.min(top, 320)) - reserve;
    return this.presenter ? Math.max(200, h) : Math.max(260, Math.min(h, 720));
  }

  // Grids of a panel, kept across scenes: resized and redrawn in place, created or removed
  // only when the number of maps changes.
  gridsOf(name, parent, specs) {
    const have = this.grids2[name];
    while (have.length > specs.length) have.pop().remove();
    specs.forEach((spec, i) => {
      if (have[i]) {
        have[i].resize(spec);
        if (have[i].el.parentElement !== parent) parent.appendChild(have[i].el);
      } else {
        have.push(new Grid(parent, spec));
      }
      Object.assign(have[i], spec.props);
    });
    return have.slice();
  }

  partialsBox() {
    const lines = Math.min(this.scene.channels.length, MAX_TERMS_SHOWN) + 2 +
      (this.scene.channels.length > MAX_TERMS_SHOWN ? 1 : 0);
    const lineH = this.presenter ? 27 : 21;
    return {w: this.presenter ? 300 : 250, h: TITLE + lines * lineH + 8};
  }

  // The panels into rows for an arrangement of layout.js.
  arrange(kind) {
    const P = this.panels;
    const rows = {
      "row": [["in", "k", "out", "ps"]],
      "in-k/out-ps": [["in", "k"], ["out", "ps"]],
      "in/k-out-ps": [["in"], ["k", "out", "ps"]],
      "stack": [["in"], ["k"], ["out"], ["ps"]],
    }[kind];
    const have = [...this.stage.querySelectorAll(":scope > .cx-row")];
    while (have.length < rows.length) have.push(element("div", "cx-row", this.stage));
    while (have.length > rows.length) have.pop().remove();
    rows.forEach((names, i) => {
      for (const n of names) {
        if (n === "ps" && !this.hasPartials()) {
          P.ps.el.remove();
          continue;
        }
        if (P[n].el.parentElement !== have[i] || have[i].lastElementChild !== P[n].el) {
          have[i].appendChild(P[n].el);
        }
      }
    });
    this.stage.dataset.layout = kind;
  }

  allGrids() {
    return Object.values(this.grids2).flat();
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
      ox.push(tapPosition(q, 0, s.stride[0], s.dilation[0]) + half - lo);
      oy.push(v.out(q));
    }
    const finite = [...ys, ...oy].filter(Number.isFinite);
    const ymin = Math.min(0, ...finite);
    const ymax = Math.max(0, ...finite);
    const padY = (ymax - ymin) * 0.08 || 1;
    this.lineRange = {x: [-lo - 0.5, n + s.pads[0][1] - 0.5], y: [ymin - padY, ymax + padY]};
    if (!this.line) {
      const wrap = element("div", "cx-panel cx-line");
      const box = element("div", "cx-box", wrap);
      const plot = element("div", "", box);
      const dyn = element("canvas", "", box);
      box.setAttribute("role", "img");
      plot.setAttribute("aria-hidden", "true");
      dyn.setAttribute("aria-hidden", "true");
      this.line = {wrap, box, plot, dyn, ctx: dyn.getContext("2d")};
    }
    const row = element("div", "cx-row", this.stage);
    row.appendChild(this.line.wrap);
    const margin = this.rank.margin;
    const w = Math.max(260, Math.min(width - 8, margin.l + s.padded_shape[0] / f * this.cs +
                                     margin.r + 40));
    const h = this.presenter ? 170 : 200;
    const font = Math.max(11, Math.round(this.font * 0.75));
    // the legend sits above the plot area, where it cannot cover the lines
    const m = {l: 48, r: 8, t: 8 + Math.round(font * 1.8), b: 26};
    const L = Object.assign(this.line, {w, h, m});
    L.box.setAttribute("aria-label", `line plot of the input x[${s.channels[0]}] and the ` +
                       `output out[${s.omap}], each output at its window's centre`);
    L.box.style.width = `${w}px`;
    L.box.style.height = `${h}px`;
    const dpr = window.devicePixelRatio || 1;
    L.dyn.width = Math.round((w - m.l - m.r) * dpr);
    L.dyn.height = Math.round((h - m.t - m.b) * dpr);
    L.dyn.style.width = `${w - m.l - m.r}px`;
    L.dyn.style.height = `${h - m.t - m.b}px`;
    L.dyn.style.left = `${m.l}px`;
    L.dyn.style.top = `${m.t}px`;
    L.dyn.style.pointerEvents = "none";
    L.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    L.plot.__drawn = (L.plot.__drawn || 0) + 1;
    window.Plotly.react(L.plot, [
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
    if (s.outputs && this.values.outCount < s.out_channels) {
      const first = s.outputs_first;
      items.push(`Drawing output maps ${first}\u2013${first + this.values.outCount - 1} of ` +
                 `${s.out_channels}.`);
    }
    if (!s.exact) {
      items.push(`Large maps are drawn at 1/${s.scale} resolution (every ${s.scale}th cell); ` +
                 "the window and every step are exact, and the exact arithmetic of the step " +
                 "is in the Arithmetic tab once you stop.");
    } else if (this.unlabelled) {
      items.push(`Some maps' cells are too small here for their values at a legible size` +
                 `${this.presenter ? " (16 px)" : ""}: colour shows them; hover a cell for its ` +
                 "value.");
    }
    this.note.textContent = items.join(" ");
    this.note.style.display = items.length ? "" : "none";
    this.root.dataset.unlabelled = this.unlabelled ? "1" : "";
  }

  // ------------------------------------------------------------------ the bar

  buildBar() {
    const bar = element("div", "cx-bar", this.root);
    const button = (text, title, fn, id) => {
      const b = element("button", "", bar, id);
      b.type = "button";
      b.textContent = text;
      b.title = title;
      b.addEventListener("click", (e) => {  // the focus stays on the button, as on any
        e.preventDefault();
        fn();
      });
      return b;
    };
    this.prevBtn = button("\u25c0 Prev", "previous step (\u2190)", () => this.go(this.step - 1),
                          "cx-prev");
    this.playBtn = button("\u25b6 Play", "play / pause (space)", () => this.togglePlay(),
                          "cx-play");
    this.nextBtn = button("Next \u25b6", "next step (\u2192)", () => this.go(this.step + 1),
                          "cx-next");
    this.scrub = element("input", "cx-scrub", bar, "cx-scrub");
    this.scrub.type = "range";
    this.scrub.min = "0";
    this.scrub.step = "1";
    this.scrub.setAttribute("aria-label", "step (output cell, raster order)");
    this.scrub.addEventListener("input", () => this.go(Number(this.scrub.value)));
    this.info = element("span", "cx-info", bar, "cx-step");
    this.speedSel = element("select", "cx-speed", bar, "cx-speed");
    this.speedSel.title = "Play speed, steps per second";
    this.speedSel.setAttribute("aria-label", "Play speed");
    for (const v of SPEEDS) {
      const o = element("option", "", this.speedSel);
      o.value = String(v);
      o.textContent = `${v} steps/s`;
    }
    this.speedSel.addEventListener("change", () => {
      this.speed = Number(this.speedSel.value);
      if (this.playing) this.play();
      this.scheduleReport();
    });
    const reveal = element("label", "cx-toggle", bar);
    reveal.title = "hide output cells until the window reaches them";
    this.revealBox = element("input", "", null, "cx-reveal");
    this.revealBox.type = "checkbox";
    this.revealBox.addEventListener("change", () => {
      this.reveal = this.revealBox.checked;
      this.render();
      this.scheduleReport();
    });
    reveal.append(this.revealBox, document.createTextNode(" reveal as it slides"));
    this.guess = null;
    if (this.canPredict()) this.buildPredict(bar);
    if (this.live && this.payload && this.payload.page && this.controlFields()) {
      this.layerBtn = button("Layer \u25be", "show or hide the layer's controls",
                             () => this.toggleControls(), "cx-layer");
    }
    button("Copy link", "copy a link to this view", () => this.copyLink(), "cx-copy");
    if (this.recorder) {
      button("GIF", "record Play as an animated GIF, drawn as the view draws it",
             () => this.recorder.gif(), "cx-gif");
      button("Video", "record Play as a WebM video", () => this.recorder.video(), "cx-video");
    }
    this.copied = element("span", "cx-copied", bar, "cx-copied");
    this.bar = bar;
  }

  syncBar() {
    this.scrub.max = String(this.steps - 1);
    this.scrub.disabled = this.steps < 2;
    this.speedSel.value = String(this.speed);
    this.revealBox.checked = this.reveal;
    if (this.predictBox) {
      this.predictBox.checked = this.predict;
      this.askBox.style.display = this.predict ? "" : "none";
    }
  }

  // What a recording draws (record.js): plotly's figures, the stage's canvases, its titles,
  // labels and partial sums (their values right-aligned).
  recordParts() {
    const root = this.root;
    return {
      bounds: [this.stage, this.eq],
      plots: [...root.querySelectorAll(".cx-plot, .cx-line .cx-box > div:first-child")],
      canvases: [...root.querySelectorAll(".cx-stage canvas")],
      texts: [...root.querySelectorAll(
        ".cx-stage .cx-title, .cx-stage .cx-label, .cx-term-name, .cx-term-value")]
        .map((el) => ({el, align: el.classList.contains("cx-term-value") ? "right" : "left"})),
    };
  }

  // ------------------------------------------------------------------ static layer

  drawStatic() {
    const s = this.scene;
    const f = s.scale;
    const L = this.rank;
    for (const g of this.inputs) {
      const ctx = g.sctx;
      ctx.clearRect(0, 0, g.stat.width, g.stat.height);
      // padding veil: the padded frame minus the unpadded block, per axis
      const lo = s.pads.map((p) => p[0] / f);
      const inn = s.in_shape.map((n) => n / f);
      ctx.fillStyle = PAD_VEIL;
      for (let row = 0; row < L.mapsPerGrid(s); row++) L.veil(ctx, g, lo, inn, row);
      this.drawNeverRead(g);
      this.drawSources(g);
    }
    for (const k of this.kernels) {
      const ctx = k.sctx;
      ctx.clearRect(0, 0, k.stat.width, k.stat.height);
      if (s.dilation.every((d) => d === 1)) continue;
      ctx.fillStyle = "rgba(0,0,0,0.25)";
      for (let r = 0; r < k.rows; r++) {
        for (let c = 0; c < k.cols; c++) {  // a dot where no tap is: between dilated taps
          if (L.read([r, c], k).at.some((v, a) => v % s.dilation[a])) {
            ctx.beginPath();
            ctx.arc((c + 0.5) * k.cs, (r + 0.5) * k.ch, Math.max(1.5, k.cs * 0.06), 0, 7);
            ctx.fill();
          }
        }
      }
    }
    for (const o of this.outputs) o.sctx.clearRect(0, 0, o.stat.width, o.stat.height);
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
    const L = this.rank;
    const cells = L.neverRead(s, g);
    for (let row = 0; row < L.mapsPerGrid(s); row++) {
      for (const at of cells) mark(...L.place(at, row));
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
    for (let r = 0; r < g.rows; r++) {
      for (let c = 0; c < g.cols; c++) {
        const p = this.rank.read([r, c], g).at;  // display cells are cells here (scale 1)
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

  // every grid the pointer can point at, the shown output first (hit tests try this order)
  grids() {
    const outs = this.outputs.filter((g) => g !== this.output);
    return [this.output, ...outs, ...this.inputs, ...this.kernels, ...(this.extraGrids || [])];
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
    this.drawPartials(focus, shown);
    if (this.slider) this.placeSlider();
    if (this.line) {
      this.line.wrap.style.display = this.predict ? "none" : "";  // it tells
      this.drawLine();
    }
    this.root.dataset.step = String(this.step);
    this.predictState();
    this.a11y.step(`${this.stepLabel(this.step).split(" \u00b7 ")[0]}: ` +
                   this.equationFor(null, this.step), this.playing);
    this.a11y.afterRender();
    this.lastRenderMs = performance.now() - t0;
    this.afterRender();
  }

  // Beside the output: what each input map adds to the focused step (the core's partial sums),
  // the bias and the total; hovering a term lights its map and kernel.
  drawPartials(step, shown) {
    if (!this.hasPartials()) return;
    const s = this.scene;
    const v = this.values;
    const body = this.panels.ps.body;
    const P = this.panels.ps;
    P.title.textContent = `out[${idx(v.outIndex(step))}] per input map`;
    const hidden = this.hidden(step);
    const rows = [];
    const n = s.channels.length;
    const lit = shown && (shown.kind === "input" || shown.kind === "kernel" ||
                          shown.kind === "term") ? shown.m : -1;
    let rest = 0;
    for (let m = 0; m < n; m++) {
      const value = v.partial(m, step);
      if (m < MAX_TERMS_SHOWN) {
        rows.push({m, name: `x[${s.item},${s.channels[m]}] \u22c6 w[${s.omap},${m}]`,
                   value: hidden ? "?" : fmt(value)});
      } else {
        rest += value;
      }
    }
    if (n > MAX_TERMS_SHOWN) {
      rows.push({name: `\u2026 ${n - MAX_TERMS_SHOWN} more maps`, value: hidden ? "?" : fmt(rest)});
    }
    rows.push({name: `bias b[${s.omap}]`, value: fmt(v.bias), cls: "cx-term-bias"});
    rows.push({name: "total = out", value: hidden ? "?" : fmt(v.out(step)), cls: "cx-term-total"});
    const have = body.children;
    while (have.length > rows.length) have[have.length - 1].remove();
    rows.forEach((r, i) => {
      let el = have[i];
      if (!el) {
        el = element("div", "cx-term", body);
        element("span", "cx-term-name", el);
        element("span", "cx-term-value", el);
      }
      el.className = `cx-term ${r.cls || ""} ${r.m === lit ? "cx-term-lit" : ""}`;
      el.dataset.m = r.m === undefined ? "" : String(r.m);
      el.firstChild.textContent = r.name;
      el.lastChild.textContent = r.value;
    });
    this.root.dataset.partials = JSON.stringify(
      hidden ? null : Array.from({length: n}, (_, m) => v.partial(m, step)));
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
    const [h, w] = this.rank.cell(s.scale);
    for (const g of this.inputs) {
      for (let m = 0; m < this.rank.mapsPerGrid(s); m++) {
        const a = g.spot(lo, m);
        const b = g.spot(hi, m);
        for (const p of taps) {
          const [r, c] = g.spot(p, m);
          g.rect(g.ctx, r, c, h, w, {fill: solid ? "rgba(242,169,0,0.16)" : null, stroke: TAP,
                                     width: solid ? 2.5 : 1.5});
        }
        g.rect(g.ctx, a[0], a[1], b[0] - a[0] + h, b[1] - a[1] + w,
               {stroke: WINDOW, width: solid ? 3 : 1.5, dash: solid ? [] : [5, 4]});
      }
    }
  }

  drawOutput(o) {
    const s = this.scene;
    const g = this.output;
    const f = s.scale;
    const [h, w] = this.rank.cell(f);
    const [r, c] = g.spot(o);
    if (this.reveal || this.predict) {
      // cover every cell after the current one (raster order); opaque when predicting
      this.rank.cover(g, [r, c], f, this.predict ? "rgb(243,243,243)" : COVER);
    }
    if (this.hidden(this.step)) {  // predict: the current cell too, with a question mark
      g.rect(g.ctx, r, c, h, w, {fill: "rgb(255,244,214)"});
      if (g.cs >= 14) {
        g.ctx.fillStyle = "#7a5b00";
        g.ctx.font = `bold ${Math.floor(Math.min(g.cs, g.ch) * 0.55)}px sans-serif`;
        g.ctx.textAlign = "center";
        g.ctx.textBaseline = "middle";
        g.ctx.fillText("?", (c + w / 2) * g.cs, (r + h / 2) * g.ch);
      }
    }
    g.rect(g.ctx, r, c, h, w, {stroke: WINDOW, width: 3});
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
    const toggle = element("label", "cx-toggle", bar);
    toggle.title = "hide each output cell until you have predicted it";
    const box = element("input", "", null, "cx-predict");
    box.type = "checkbox";
    toggle.append(box, document.createTextNode(" predict"));
    const ask = element("span", "cx-ask", bar);
    this.guess = element("input", "", ask, "cx-guess");
    this.guess.type = "text";
    this.guess.inputMode = "decimal";
    this.guess.size = 8;
    this.guess.placeholder = "your answer";
    this.guess.setAttribute("aria-label", "your prediction of the current output cell");
    const check = element("button", "", ask, "cx-check");
    check.type = "button";
    check.textContent = "Check";
    this.verdict = element("span", "cx-verdict", ask, "cx-verdict");
    this.predictBox = box;
    this.askBox = ask;
    box.addEventListener("change", () => {
      this.predict = box.checked;
      ask.style.display = this.predict ? "" : "none";
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
    const start = tapPosition(unravel(this.step, s.out_shape)[0], 0, s.stride[0], s.dilation[0]);
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
    const a = tapPosition(q, 0, s.stride[0], s.dilation[0]) - lo;
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
    const L = this.rank;
    const [one, w] = L.cell(s.scale);  // a cell's height and width in display cells
    let lit = [];
    let cell = null;  // the input cell a hovered kernel tap multiplies at this step
    if (h.kind === "output") {
      if (h.step !== this.step) this.drawWindow(h.step, "solid");
      const [r, c] = this.output.spot(unravel(h.step, s.out_shape));
      this.output.rect(this.output.ctx, r, c, one, w, {stroke: HOVER, width: 3});
      lit = [h.step];
    } else if (h.kind === "omap") {
      const g = this.outputs.find((x) => x.omap === h.omap);
      if (g) g.rect(g.ctx, h.cell[0], h.cell[1], one, w, {stroke: HOVER, width: 3});
    } else if (h.kind === "term") {  // a partial sum: its map's window, its kernel
      this.frameMap(h.m);
    } else if (h.kind === "input") {
      const g = L.gridOf(this.inputs, h.m);
      const [r, c] = g.spot(h.p, h.m);
      g.rect(g.ctx, r, c, one, w, {stroke: HOVER, width: 3});
      if (isPadding(s, h.p) && s.mode !== "zeros") {
        const src = h.p.map((pa, a) => s.source[a][pa] + s.pads[a][0]);
        const [sr, sc] = g.spot(src, h.m);
        g.rect(g.ctx, sr, sc, one, w, {stroke: HOVER, width: 2, dash: [4, 3]});
      }
      const found = readers(s, h.p);
      lit = found.map((x) => x.step);
      for (const x of found) {
        const [orow, ocol] = this.output.spot(unravel(x.step, s.out_shape));
        this.output.rect(this.output.ctx, orow, ocol, one, w, {fill: LIT, stroke: TAP,
                                                                   width: 1.5});
      }
      const k = L.gridOf(this.kernels, h.m);
      for (const x of found) {
        if (x.step !== this.step) continue;
        const [kr, kc] = k.spot(x.tap, h.m);
        k.rect(k.ctx, kr, kc, 1, 1, {stroke: HOVER, width: 3});
      }
    } else if (h.kind === "kernel") {
      const k = L.gridOf(this.kernels, h.m);
      const [kr, kc] = k.spot(h.t, h.m);
      k.rect(k.ctx, kr, kc, 1, 1, {stroke: HOVER, width: 3});
      const g = L.gridOf(this.inputs, h.m);
      if (g) {
        const axes = tapFootprint(s, h.t);
        const count = axes.reduce((a, l) => a * l.length, 1);
        if (count <= 20000) {
          const each = (fn, prefix = [], a = 0) => {
            if (a === axes.length) return fn(prefix);
            for (const v of axes[a]) each(fn, [...prefix, v], a + 1);
          };
          g.ctx.fillStyle = "rgba(123,44,191,0.35)";
          each((p) => {  // in the cell's corner: its number stays on one colour
            const [r, c] = g.spot(p, h.m);
            const size = Math.max(2, Math.min(g.cs, g.ch) * 0.22);
            g.ctx.fillRect(c * g.cs + 2, (r + one) * g.ch - size - 2, size, size);
          });
        }
        const o = unravel(this.step, s.out_shape);
        const p = o.map((oa, a) => tapPosition(oa, h.t[a], s.stride[a], s.dilation[a]));
        const [r, c] = g.spot(p, h.m);
        g.rect(g.ctx, r, c, one, w, {stroke: HOVER, width: 3});
        cell = p;
      }
    }
    this.root.dataset.hover = h.kind;
    this.root.dataset.lit = lit.join(",");
    this.root.dataset.cell = JSON.stringify(cell);
  }

  // A partial sum hovered: a frame around its input map and its kernel.
  frameMap(m) {
    for (const grids of [this.inputs, this.kernels]) {
      const g = this.rank.gridOf(grids, m);
      if (!g) continue;
      const [r, c, rows, cols] = this.rank.mapBox(g, m);
      g.rect(g.ctx, r, c, rows, cols, {stroke: HOVER, width: 4});
    }
  }

  hitTest(event) {
    for (const g of this.grids()) {
      if (!g || (!g.dyn.contains(event.target) && event.target !== g.dyn)) continue;
      const cell = g.cellAt(event);
      return cell ? this.targetAt(g, cell) : null;
    }
    return null;
  }

  // What pointing at display cell `cell` of grid `g` points at (the mouse and the keyboard
  // cursor alike): {kind: "output", step}, {kind: "input", m, p}, {kind: "kernel", m, t},
  // {kind: "omap", omap, cell, at (its index), q (its display cell, raster)}, or null.
  targetAt(g, cell) {
    const s = this.scene;
    const f = g.kind === "kernel" ? 1 : s.scale;
    // the map (m: input or kernel, j: output) and the position the cell is: a strip's row
    // is a map, a grid is one map
    const {m, j, at} = this.rank.read(cell, g);
    if (g.kind === "omap" || (g.kind === "output" && j !== g.j)) {  // another output map
      return {kind: "omap", omap: g.omap + j - g.j, cell, at: at.map((v) => v * f),
              q: ravel(at, this.rank.mapShape(g))};
    }
    if (g.kind === "output") {
      const q = at.map((v) => v * f);
      if (q.some((v, a) => v >= s.out_shape[a])) return null;
      return {kind: "output", step: ravel(q, s.out_shape)};
    }
    if (g.kind === "input") {
      const p = at.map((v) => v * f);
      if (p.some((v, a) => v >= s.padded_shape[a])) return null;
      return {kind: "input", m, p};
    }
    if (at.some((v, a) => v % s.dilation[a])) return null;
    return {kind: "kernel", m, t: at.map((v, a) => v / s.dilation[a])};
  }

  // ------------------------------------------------------------------ the keyboard cursor

  cursorGrids() {
    return this.grids();
  }

  // where the cursor starts: the shown output map, at the current step's cell
  cursorStart() {
    const o = this.output.spot(unravel(this.step, this.scene.out_shape));
    return {g: 0, cell: o.map(Math.floor)};
  }

  tipText(h) {
    const s = this.scene;
    const v = this.values;
    if (h.kind === "output") {
      const value = this.hidden(h.step) ? "? (predict it first)" : fmt(v.out(h.step));
      const n = s.channels.length * product(s.kernel);
      return `out[${idx(v.outIndex(h.step))}] = ${value} \u00b7 reads ${n} input` +
        `${n === 1 ? "" : "s"} \u2014 click to go there`;
    }
    if (h.kind === "omap") {
      const j = h.omap - (s.outputs_first || 0);
      return `out[${s.item},${h.omap},${idx(h.at)}] = ${fmt(v.outOf(j, h.q))}` +
        (this.controls ? " \u2014 click to show this output map" : "");
    }
    if (h.kind === "term") {
      return `what x[${s.item},${s.channels[h.m]}] and its kernel w[${s.omap},${h.m}] add ` +
        "to this output cell";
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
    const p = o.map((oa, a) => tapPosition(oa, h.t[a], s.stride[a], s.dilation[a]));
    const x = s.exact ? v.input(h.m, p) : v.inputShown(h.m, p);
    return `w[${s.omap},${h.m},${idx(h.t)}] = ${fmt(w)} \u00b7 this step: ` +
      `${fmt(x)}\u00b7${fmt(w)} = ${fmt(x * w)}`;
  }

  // Point at `h` (null: nothing) from client position `at`: the mouse and the keyboard cursor
  // both come here, so the cursor shows exactly what hover shows.  The tooltip follows, unless
  // Escape dismissed it for this target (WCAG 1.4.13).
  hoverAt(h, at) {
    if (!this.scene) return;
    const key = JSON.stringify(h);
    if (key !== JSON.stringify(this.hover)) {
      this.hover = h;
      this.tipDismissed = false;
      if (!this.pinned) this.render();
    }
    if (h && !this.pinned && !this.tipDismissed) {
      this.showTip(this.tipText(h), at);
    } else if (!this.pinned || this.tipDismissed) {
      this.tip.style.display = "none";
    }
  }

  // One set of listeners on the stage (grids come and go with scenes; the stage stays).
  bindStage() {
    const target = (e) => {
      const term = e.target.closest && e.target.closest(".cx-term");
      if (term && term.dataset.m !== "") return {kind: "term", m: Number(term.dataset.m)};
      return this.hitTest(e);
    };
    this.stage.addEventListener("mousemove", (e) => {
      this.hoverAt(target(e), {x: e.clientX, y: e.clientY});
    });
    this.stage.addEventListener("mouseleave", () => this.hoverAt(null, null));
    this.stage.addEventListener("click", (e) => {
      const h = this.hitTest(e);
      if (h) this.activate(h);
    });
  }

  // What a click (or Enter on the cursor) does: an output cell goes to its step, another
  // output map is shown, anything else is pinned (again: unpinned).
  activate(h) {
    if (this.onGridClick && this.onGridClick(h)) return;  // a view's own meaning first
    if (h.kind === "output") {
      this.pinned = null;
      this.go(h.step, {force: true});
      return;
    }
    if (h.kind === "omap") {
      if (this.controls) this.request({omap: h.omap});
      return;
    }
    this.togglePin(h);
  }

  // Pin `h` (what the pointer or cursor is on); pinned already: unpin it.
  togglePin(h) {
    const same = this.pinned && JSON.stringify(this.pinned) === JSON.stringify(h);
    this.pinned = same ? null : h;
    this.root.dataset.pinned = this.pinned ? h.kind : "";
    this.render();
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

  // The view's keys (component.js hands over those no control or the cursor owns).
  onKey(e) {
    if (!this.scene || e.altKey || e.ctrlKey || e.metaKey) return;
    const keys = {
      ArrowLeft: () => this.go(this.step - 1), ArrowRight: () => this.go(this.step + 1),
      PageUp: () => this.go(this.step - 1), PageDown: () => this.go(this.step + 1),
      Home: () => this.go(0), End: () => this.go(this.steps - 1),
      " ": () => this.togglePlay(),
      Escape: () => {  // unpin, and dismiss the tooltip where the pointer still is
        this.pinned = null;
        this.root.dataset.pinned = "";
        this.tipDismissed = true;
        this.tip.style.display = "none";
        this.a11y.clear();
        this.render();
      },
    };
    const fn = keys[e.key];
    if (!fn) return;
    e.preventDefault();
    fn();
  }

  link() {
    const u = new URL(window.location.href);
    if (this.payload && this.payload.query) {  // the layer shown, which the URL may not hold yet
      u.search = new URLSearchParams(this.payload.query).toString();
      if (this.payload.presenter) u.searchParams.set("presenter", "1");
    }
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
}

export function mount(component) {
  return mountView(View, component);
}
