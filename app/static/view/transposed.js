// The transposed convolution's view: the explorer's View on one of two scenes derived from the
// transposed scene (app/scene.py, build_transposed_scene), switched in the browser:
//
//  - scatter: the steps are the input cells; each stamps value × kernel onto the output, at
//    input·stride + tap·dilation − padding (stamps past the edges are cropped by padding); the
//    output fills in as sums of overlapping stamps;
//  - gather: the same numbers as a plain convolution, stride 1, over the input with
//    stride − 1 zeros inserted between cells and dilation·(k − 1) − padding cells around it,
//    with the kernel flipped; the steps are the output cells.
//
// Both views write each output cell's arithmetic as convcore.transposed_equation does.

import {equationText, fmt, idx} from "./format.js";
import {product, ravel, stampSources, stampTargets, tapPosition, unravel} from "./geometry.js";
import {mountView} from "./component.js";
import {FIELDS} from "./controls.js";
import {View, decode} from "./explorer.js";
import {inkOn, parseColor} from "./contrast.js";
import {RDBU, axisNames, rowsOf, ticks} from "./grid.js";

const OVERLAP_SCALE = [[0, "rgb(255,255,255)"], [1, "rgb(84,39,143)"]];
const INSERTED = "rgba(120, 120, 120, 0.35)";
const STAMP = "#f2a900";

function scatterScene(t) {
  return {...t, padded_shape: t.in_shape, pads: t.in_shape.map(() => [0, 0]),
          never_read: t.in_shape.map(() => []), mode: "zeros"};
}

function gatherScene(t) {
  const shape = t.gather.values.shape.slice(1);
  return {...t, in_shape: shape, padded_shape: shape, pads: shape.map(() => [0, 0]),
          stride: shape.map(() => 1), inputs: t.gather.values, weights: t.gather.weights,
          never_read: shape.map(() => []), mode: "zeros"};
}

export class TransposedView extends View {
  show(payload) {
    super.show(this.takeTransposed(payload));
  }

  // Keep the transposed scene (its arrays decoded) and the mode the payload asks for; the
  // payload to show: the scene the current mode draws (derived()).  The 3-D view borrows it.
  takeTransposed(payload) {
    this.tscene = payload.scene;
    this.viewMode = payload.init && payload.init.mode === "gather" ? "gather" : "scatter";
    this.raw = {inputs: decode(this.tscene.inputs), weights: decode(this.tscene.weights),
                output: decode(this.tscene.output), overlap: decode(this.tscene.overlap),
                bias: decode(this.tscene.bias).data[0]};
    return {...payload, scene: this.derived()};
  }

  controlFields() {
    return FIELDS.transposed;
  }

  // beside the output (a grid) or under it (a strip): how many stamps land on each of its
  // cells; hovering it is hovering the output
  outputSizedSpecs(base) {
    const {size, ...spec} = base;
    const uneven = this.tscene.uneven.some(Boolean);
    return [{...spec, className: "cx-overlap-map",
             label: "stamps per output cell" + (uneven ? " \u2014 uneven: checkerboard" : ""),
             name: `stamps per output cell, ${size}` +
               (uneven ? ", uneven: a checkerboard" : ""),
             props: {kind: "output", j: base.j, spot: base.spot}}];
  }

  outputSizedItems(font) {
    const counts = this.raw.overlap.data;
    const g = this.extraGrids[0];
    const [rows, cols] = [g.rows, g.cols];  // the output's shape as the map is drawn
    return [{key: `${this.sceneId}:overlap`, zmin: 0, zmax: Math.max(1, ...counts),
             row: "stamps", tick: "count",  // a strip's name of its row
             make: () => {
               const z = rowsOf(counts, 0, rows, cols, Number);
               return {z, text: g.cs >= 12 ? z : null, colorscale: OVERLAP_SCALE,
                       values: z, rowNames: axisNames(rows, 0, 1), colNames: axisNames(cols, 0, 1),
                       xticks: ticks(cols, 0, 1, g.cs, font),
                       yticks: ticks(rows, 0, 1, g.cs, font)};
             }}];
  }

  layoutKind() {
    return this.viewMode;  // the bar's mode buttons and the panels differ
  }

  viewQuery() {
    return {...super.viewQuery(), tview: this.viewMode};
  }

  derived() {
    return this.viewMode === "gather" ? gatherScene(this.tscene) : scatterScene(this.tscene);
  }

  setMode(mode) {
    if (mode === this.viewMode) return;
    this.stop(false);
    this.viewMode = mode;
    this.useScene(this.derived(), 0);
    this.build();
    this.scheduleReport();
  }

  reportExtra() {
    return {mode: this.viewMode};
  }

  viewState() {
    const {predict, ...rest} = super.viewState();  // eslint-disable-line no-unused-vars
    return rest;
  }

  canPredict() {
    return false;  // predicting is for the explorers (and the shape drill)
  }

  link() {
    const u = new URL(super.link());
    if (this.viewMode === "gather") u.searchParams.set("tview", "gather");
    else u.searchParams.delete("tview");
    return u.toString();
  }

  stepCount() {
    const t = this.tscene;
    return this.viewMode === "gather" ? product(t.out_shape) :
      t.channels.length * product(t.in_shape);
  }

  // ------------------------------------------------------------------ arithmetic

  inputValue(m, i) {
    const t = this.tscene;
    return this.raw.inputs.data[m * product(t.in_shape) + ravel(i, t.in_shape)];
  }

  weightValue(m, tap) {
    const t = this.tscene;
    return this.raw.weights.data[m * product(t.kernel) + ravel(tap, t.kernel)];
  }

  // scatter step -> input map (within the group) and input cell
  cellOf(step) {
    const [m, ...i] = unravel(step, [this.tscene.channels.length, ...this.tscene.in_shape]);
    return {m, i};
  }

  outIndex(o) {
    return [this.tscene.item, this.tscene.omap, ...o];
  }

  // Output cell `q` (raster) as convcore.transposed_equation writes it.
  transposedEquation(q) {
    const t = this.tscene;
    const o = unravel(q, t.out_shape);
    const og = t.out_channels / t.groups;
    const taps = [];
    const sources = stampSources(t, o);
    for (let m = 0; m < t.channels.length; m++) {
      for (const {tap, i} of sources) {
        taps.push({channel: t.channels[m], inputIndex: i, isPad: false,
                   weightIndex: [t.channels[m], t.omap % og, ...tap],
                   x: this.inputValue(m, i), w: this.weightValue(m, tap)});
      }
    }
    return equationText(this.outIndex(o), this.raw.bias, taps, this.raw.output.data[q],
                        t.max_terms);
  }

  // Scatter step: the input cell and every stamp it makes on the shown output map.
  scatterText(step) {
    const t = this.tscene;
    const {m, i} = this.cellOf(step);
    const x = this.inputValue(m, i);
    const parts = [];
    let cropped = 0;
    for (const {tap, o, inside} of stampTargets(t, i)) {
      if (!inside) {
        cropped += 1;
        continue;
      }
      const w = this.weightValue(m, tap);
      parts.push(`out[${idx(this.outIndex(o))}] += ${fmt(x)}\u00b7${fmt(w)} = ${fmt(x * w)}`);
    }
    if (cropped) parts.push(`${cropped} stamp${cropped > 1 ? "s" : ""} cropped by padding`);
    return `x[${idx([t.item, t.channels[m], ...i])}] = ${fmt(x)} stamps: ${parts.join(" \u00b7 ")}`;
  }

  stepLabel(step) {
    const t = this.tscene;
    if (this.viewMode === "gather") {
      const o = unravel(step, t.out_shape);
      return `output cell ${step + 1} of ${this.steps} \u00b7 ` +
        `out[${idx(this.outIndex(o))}] = ${fmt(this.raw.output.data[step])}`;
    }
    const {m, i} = this.cellOf(step);
    return `input cell ${step + 1} of ${this.steps} \u00b7 ` +
      `x[${idx([t.item, t.channels[m], ...i])}] = ${fmt(this.inputValue(m, i))}`;
  }

  equationOf(step) {
    return this.viewMode === "gather" ? this.transposedEquation(step) : this.scatterText(step);
  }

  focusStep(shown) {
    return this.viewMode === "gather" ? super.focusStep(shown) : this.step;
  }

  equationFor(shown, focus) {
    if (this.viewMode === "scatter") {
      const hovered = shown && shown.kind === "output";
      this.eq.classList.toggle("cx-eq-hover", hovered);
      return hovered ? this.transposedEquation(shown.step) : this.scatterText(this.step);
    }
    return this.equationOf(focus);
  }

  // ------------------------------------------------------------------ layout

  titles() {
    const t = this.tscene;
    const og = t.out_channels / t.groups;
    return {
      input: this.viewMode === "gather" ?
        `input with zeros inserted and padding (item ${t.item})` : `input (item ${t.item})`,
      kernel: this.viewMode === "gather" ? `kernel, flipped, for output map ${t.omap}` :
        `kernel w[:, ${t.omap % og}] of output map ${t.omap}`,
      output: `output out[${t.item},${t.omap}]`,
    };
  }

  kernelName(m) {
    const t = this.tscene;
    return `w[${t.channels[m]},${t.omap % (t.out_channels / t.groups)}]` +
      (this.viewMode === "gather" ? " flipped" : "");
  }

  buildBar() {
    super.buildBar();
    this.root.querySelector(".cx-bar").prepend(this.modeButtons());
  }

  // the scatter / gather buttons (the 3-D transposed view borrows them)
  modeButtons() {
    const group = document.createElement("span");
    group.className = "cx-modes";
    for (const mode of ["scatter", "gather"]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = mode === "scatter" ? "Scatter (input cells)" : "Gather (output cells)";
      b.title = mode === "scatter" ?
        "each input cell stamps the kernel, times its value, onto the output" :
        "the same numbers as a plain convolution over the zero-inserted input";
      b.setAttribute("data-testid", `cx-mode-${mode}`);
      b.classList.toggle("cx-active", mode === this.viewMode);
      b.setAttribute("aria-pressed", String(mode === this.viewMode));
      b.addEventListener("click", () => this.setMode(mode));
      group.appendChild(b);
    }
    return group;
  }

  buildLine() {
    this.line = null;  // the 1-D line plot belongs to the forward explorer
  }

  notes() {
    super.notes();
    this.note.textContent = [this.modeNote(), this.note.textContent].filter(Boolean).join(" ");
    this.note.style.display = "";
  }

  // what the mode shows, in a sentence (the 3-D transposed view borrows it)
  modeNote() {
    const t = this.tscene;
    return this.viewMode === "gather" ?
      `Gather: ${t.stride.map((s) => s - 1).join("\u00d7")} zero(s) inserted between input ` +
      `cells (grey), ${t.gather.pads.map((p) => p[0]).join("\u00d7")} cell(s) of padding ` +
      "around (negative: cropped), kernel flipped; stride 1. Taps on zeros add nothing." :
      "Scatter: each input cell adds value \u00d7 kernel onto the output at " +
      "input\u00b7stride + tap\u00b7dilation \u2212 padding; hover an output cell for its sum." +
      (t.uneven.some(Boolean) ? " The stamps land unevenly (a checkerboard): the kernel's " +
        "reach is not a multiple of the stride." : "");
  }

  drawStatic() {
    super.drawStatic();
    if (this.viewMode !== "gather") return;
    const kinds = this.tscene.gather.kind;
    const [h, w] = this.rank.cell(1);
    for (const g of this.inputs) {
      const ctx = g.sctx;
      const shape = this.scene.padded_shape;
      for (let r = 0; r < this.rank.mapsPerGrid(this.scene); r++) {
        for (let p = 0; p < product(shape); p++) {
          const c = unravel(p, shape);
          const kind = Math.max(...c.map((v, a) => kinds[a][v]));
          if (!kind) continue;
          const [y, x] = g.spot(c, r);
          ctx.fillStyle = kind === 2 ? "rgba(255,255,255,0.55)" : INSERTED;
          ctx.fillRect(x * g.cs, y * g.ch, w * g.cs, h * g.ch);
        }
      }
    }
  }

  // ------------------------------------------------------------------ drawing a step

  // the grids that draw input map m and its kernel (none: a map not drawn)
  inputGrid(m) {
    return m < this.scene.shown_maps ? this.rank.gridOf(this.inputs, m) : null;
  }

  kernelGrid(m) {
    return m < this.scene.shown_maps ? this.rank.gridOf(this.kernels, m) : null;
  }

  drawStep(focus) {
    if (this.viewMode === "gather") {
      super.drawStep(focus);
      return;
    }
    const t = this.tscene;
    const {m, i} = this.cellOf(this.step);
    const g = this.inputGrid(m);
    if (g) {
      const [r, c] = g.spot(i, m);
      g.rect(g.ctx, r, c, 1, 1, {fill: "rgba(242,169,0,0.25)", stroke: "#111", width: 3});
    }
    const k = this.kernelGrid(m);
    if (k) {
      for (const tap of this.values.offsets) {
        const [r, c] = k.spot(tap, m);
        k.rect(k.ctx, r, c, 1, 1, {stroke: STAMP, width: 2.5});
      }
    }
    if (this.reveal) this.drawPartialSums();
    const stamps = [];
    for (const {tap, o, inside} of stampTargets(t, i)) {
      stamps.push([o, this.inputValue(m, i) * this.weightValue(m, tap), !inside]);
      if (!inside) continue;
      for (const grid of [this.output, ...this.extraGrids]) {
        const [r, c] = grid.spot(o);
        grid.rect(grid.ctx, r, c, 1, 1, {fill: "rgba(242,169,0,0.22)", stroke: STAMP,
                                         width: 2.5});
      }
    }
    this.root.dataset.stamps = JSON.stringify(stamps);
    this.root.dataset.taps = "";
  }

  // The output's sums of the stamps made up to this step, bias included, per raveled output
  // cell, and which cells a stamp has reached (the 3-D view borrows it).
  partialSums() {
    const t = this.tscene;
    const n = product(t.out_shape);
    const sums = new Float64Array(n).fill(this.raw.bias);
    const touched = new Uint8Array(n);
    for (let step = 0; step <= this.step; step++) {
      const {m, i} = this.cellOf(step);
      const x = this.inputValue(m, i);
      for (const {tap, o, inside} of stampTargets(t, i)) {
        if (!inside) continue;
        const q = ravel(o, t.out_shape);
        sums[q] += x * this.weightValue(m, tap);
        touched[q] = 1;
      }
    }
    return {sums, touched, n};
  }

  // Reveal: each output cell shows the sum of the stamps made so far (none yet: covered).
  drawPartialSums() {
    const t = this.tscene;
    const {sums, touched, n} = this.partialSums();
    const g = this.output;
    const zmax = t.zmax.output;
    this.sumLabels = [];  // [text, font size, width] of each sum written (read by the tests)
    for (let q = 0; q < n; q++) {
      const [r, c] = g.spot(unravel(q, t.out_shape));
      const fill = touched[q] ? colorOf(sums[q], zmax) : "rgba(245,245,245,0.95)";
      g.rect(g.ctx, r, c, 1, 1, {fill});
      if (touched[q] && g.cs >= 26) {
        // the sum inside its cell (2 px each side): a smaller font where it is wider, none
        // under 9 px (the cell's colour and the tooltip still say it)
        const text = fmt(Number(sums[q].toPrecision(3)));
        let size = Math.min(this.font, Math.floor(g.ch / 2.2));
        g.ctx.font = `${size}px sans-serif`;
        const wide = g.ctx.measureText(text).width;
        if (wide > g.cs - 4) size = Math.floor((size * (g.cs - 4)) / wide);
        if (size < 9) continue;
        g.ctx.font = `${size}px sans-serif`;
        this.sumLabels.push([text, size, g.ctx.measureText(text).width]);
        g.ctx.fillStyle = inkOn(parseColor(fill));
        g.ctx.textAlign = "center";
        g.ctx.textBaseline = "middle";
        g.ctx.fillText(text, (c + 0.5) * g.cs, (r + 0.5) * g.ch);
      }
    }
    this.root.dataset.partial = JSON.stringify(Array.from(sums));
  }

  placeSlider() {
    if (this.viewMode === "gather") {
      super.placeSlider();
      return;
    }
    const t = this.tscene;
    const {i} = this.cellOf(this.step);
    const o = this.output;
    const k = this.kernels[0];
    const start = tapPosition(i[0], 0, t.stride[0], t.dilation[0]) - t.padding[0];
    const span = t.dilation[0] * (t.kernel[0] - 1) + 1;
    const centre = o.margin.l + (start + span / 2) * o.cs;
    const maxLeft = Math.max(0, this.stage.clientWidth - k.width);
    const left = Math.min(Math.max(0, centre - k.margin.l - (k.cols * k.cs) / 2), maxLeft);
    this.slider.style.transform = `translateX(${left}px)`;
  }

  drawHover(h) {
    if (this.viewMode === "gather") {
      super.drawHover(h);
      return;
    }
    const t = this.tscene;
    let lit = [];
    if (h.kind === "output") {  // which input cells stamp onto it, with which taps
      const o = unravel(h.step, t.out_shape);
      for (const grid of [this.output, ...this.extraGrids]) {
        const [r, c] = grid.spot(o);
        grid.rect(grid.ctx, r, c, 1, 1, {stroke: "#7b2cbf", width: 3});
      }
      const sources = stampSources(t, o);
      for (let m = 0; m < t.channels.length; m++) {
        const g = this.inputGrid(m);
        const k = this.kernelGrid(m);
        for (const {tap, i} of sources) {
          if (g) {
            const [r, c] = g.spot(i, m);
            g.rect(g.ctx, r, c, 1, 1, {fill: "rgba(123,44,191,0.25)", stroke: "#7b2cbf",
                                       width: 2.5});
          }
          if (k && m === 0) {
            const [r, c] = k.spot(tap, m);
            k.rect(k.ctx, r, c, 1, 1, {stroke: "#7b2cbf", width: 2.5});
          }
        }
      }
      lit = sources.map((x) => x.i);
    } else if (h.kind === "input") {  // its stamps
      const g = this.inputGrid(h.m);
      if (g) {
        const [r, c] = g.spot(h.p, h.m);
        g.rect(g.ctx, r, c, 1, 1, {stroke: "#7b2cbf", width: 3});
      }
      for (const {o, inside} of stampTargets(t, h.p)) {
        if (!inside) continue;
        lit.push(o);
        const [r, c] = this.output.spot(o);
        this.output.rect(this.output.ctx, r, c, 1, 1, {fill: "rgba(123,44,191,0.3)",
                                                       stroke: "#7b2cbf", width: 2});
      }
    } else if (h.kind === "kernel") {  // where this tap of the current cell lands
      const {i} = this.cellOf(this.step);
      const k = this.kernelGrid(h.m);
      if (k) {
        const [r, c] = k.spot(h.t, h.m);
        k.rect(k.ctx, r, c, 1, 1, {stroke: "#7b2cbf", width: 3});
      }
      const target = stampTargets(t, i).find((x) => x.tap.every((v, a) => v === h.t[a]));
      if (target && target.inside) {
        lit = [target.o];
        const [r, c] = this.output.spot(target.o);
        this.output.rect(this.output.ctx, r, c, 1, 1, {stroke: "#7b2cbf", width: 3});
      }
    }
    this.root.dataset.hover = h.kind;
    this.root.dataset.lit = JSON.stringify(lit);
  }

  tipText(h) {
    const t = this.tscene;
    if (this.viewMode === "gather" && h.kind === "input") {
      const kinds = t.gather.kind;
      const kind = Math.max(...h.p.map((v, a) => kinds[a][v]));
      if (kind === 1) return "a zero the stride inserts between input cells";
      if (kind === 2) return "padding: a zero around the zero-inserted input";
      const i = h.p.map((v, a) => t.gather.source[a][v]);
      return `x[${idx([t.item, t.channels[h.m], ...i])}] = ${fmt(this.inputValue(h.m, i))}`;
    }
    if (this.viewMode === "gather" && h.kind === "kernel") {
      const orig = h.t.map((v, a) => t.kernel[a] - 1 - v);
      return `flipped kernel: this is w[${idx([t.channels[h.m], t.omap % (t.out_channels /
        t.groups), ...orig])}] = ${fmt(this.weightValue(h.m, orig))}`;
    }
    if (this.viewMode === "gather") return super.tipText(h);
    if (h.kind === "output") {
      const o = unravel(h.step, t.out_shape);
      const n = this.raw.overlap.data[h.step];
      return `out[${idx(this.outIndex(o))}] = ${fmt(this.raw.output.data[h.step])} \u00b7 ` +
        `${n} stamp${n === 1 ? "" : "s"} per input map land here`;
    }
    if (h.kind === "input") {
      const kept = stampTargets(t, h.p).filter((x) => x.inside).length;
      return `x[${idx([t.item, t.channels[h.m], ...h.p])}] = ${fmt(this.inputValue(h.m, h.p))}` +
        ` \u00b7 stamps ${kept} output cell${kept === 1 ? "" : "s"} \u2014 click to step here`;
    }
    const {m, i} = this.cellOf(this.step);
    const w = this.weightValue(h.m, h.t);
    const x = this.inputValue(m, i);
    return `w[${idx([t.channels[h.m], t.omap % (t.out_channels / t.groups), ...h.t])}] = ` +
      `${fmt(w)} \u00b7 this step: ${fmt(x)}\u00b7${fmt(w)} = ${fmt(x * w)}`;
  }

  // Scatter: a click (or Enter) on an output cell pins it, its sources lit (its index is no
  // step of the scatter view, which steps over the input); on an input cell steps there.
  // Elsewhere, and in gather, the explorer's behaviour.
  onGridClick(h) {
    if (this.viewMode !== "scatter") return false;
    if (h.kind === "output") {
      this.togglePin(h);
      return true;
    }
    if (h.kind !== "input") return false;
    this.pinned = null;
    this.go(ravel([h.m, ...h.p], [this.tscene.channels.length, ...this.tscene.in_shape]),
            {force: true});
    return true;
  }
}

// A value's colour on the app's diverging scale, centred on zero.
const STOPS = RDBU.map((c) => c.slice(4, -1).split(",").map(Number));

function colorOf(v, zmax) {
  const stops = STOPS;
  if (Number.isNaN(v)) return "rgba(0,0,0,0)";
  if (!Number.isFinite(v)) return v > 0 ? RDBU[RDBU.length - 1] : RDBU[0];
  const x = Math.min(1, Math.max(0, (v / zmax + 1) / 2)) * (stops.length - 1);
  const j = Math.min(stops.length - 2, Math.floor(x));
  const f = x - j;
  const mix = stops[j].map((a, q) => Math.round(a + (stops[j + 1][q] - a) * f));
  return `rgb(${mix.join(",")})`;
}

export function mountTransposed(component) {
  return mountView(TransposedView, component, {label: "transposed convolution view"});
}
