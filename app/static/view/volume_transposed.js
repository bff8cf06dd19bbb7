// The transposed page's 3-D view (the rank table's layout "slices"): the 3-D view's depth
// slices and overview (volume.js) on the transposed scene (app/shared/scene.py,
// build_transposed_scene), in the two modes of the 2-D transposed view (transposed.js):
//
//  - scatter: the steps are the input cells of the output map's group; each stamps value ×
//    kernel onto the output's slices at input·stride + tap·dilation − padding (stamps past the
//    edges are cropped, and said so); reveal paints the partial sums of the stamps so far;
//  - gather: the same numbers as a plain stride-1 convolution over the zero-inserted, padded
//    input with the flipped kernel: the 3-D view's own window over that derived scene, the
//    inserted zeros (grey) and the padding (white) tinted.
//
// Beside the output, "stamps per output cell" (convcore.overlap_counts) as slices.  The
// arithmetic — the equation as convcore.transposed_equation writes it, a scatter step's
// stamps, the tooltips, the mode, the link — is the 2-D transposed view's, borrowed by
// prototype as volume.js borrows the explorer's.

import {ravel, stampSources, stampTargets, unravel} from "./geometry.js";
import {mountView} from "./component.js";
import {TransposedView} from "./transposed.js";
import {SliceStack, VolumeView, colour} from "./volume.js";

const TV_STAMP = "#f2a900";
const TV_HOVER = "#7b2cbf";
const TV_INSERTED = "rgba(120, 120, 120, 0.45)";
const TV_PADDING = "rgba(255, 255, 255, 0.6)";
const TV_UNTOUCHED = "rgba(245, 245, 245, 0.95)";

export class TransposedVolumeView extends VolumeView {
  show(payload) {
    super.show(this.takeTransposed(payload));
  }

  viewQuery() {
    return {step: this.step + 1, speed: this.speed, reveal: this.reveal ? 1 : 0,
            tview: this.viewMode};
  }

  viewState() {
    return {step: this.step, speed: this.speed, reveal: this.reveal, mode: this.viewMode};
  }

  // ------------------------------------------------------------------ building

  build() {
    this.building = true;  // the stacks below first: one render at the end
    try {
      super.build();
    } finally {
      this.building = false;
    }
    const t = this.tscene;
    const root = this.root;
    root.dataset.mode = this.viewMode;
    const uneven = t.uneven.some(Boolean);
    const stacks = this.output.wrap.parentNode;
    this.overlap = new SliceStack(stacks, "overlap",
      "stamps per output cell" + (uneven ? " \u2014 uneven: a checkerboard" : ""));
    const counts = this.raw.overlap.data;
    const shape = t.out_shape;
    const least = this.presenter ? 16 : 9;
    this.overlap.build(shape, this.output.cs, (d, r, c) => counts[ravel([d, r, c], shape)],
      Math.max(1, ...counts), (d) => `d=${d}`,
      {name: (d) => `stamps per output cell, depth ${d}, ${shape[1]} by ${shape[2]}` +
                    (uneven ? ", uneven: a checkerboard" : ""),
       rows: this.output.slices[0].rowNames, cols: this.output.slices[0].colNames, least});
    if (this.viewMode === "gather") this.tintGather();
    this.retitle();
    this.note = document.createElement("p");
    this.note.className = "cx-note";
    this.note.setAttribute("data-testid", "cx-note");
    this.note.textContent = this.modeNote();
    this.eq.before(this.note);
    this.render();
  }

  // the mode buttons (transposed.js modeButtons) before the 3-D view's bar
  buildBar() {
    super.buildBar();
    this.root.querySelector(".cx-vol-bar").prepend(this.modeButtons());
  }

  // the stacks' titles and names say what they show in this mode
  retitle() {
    const t = this.tscene;
    const c = t.channels[this.m];
    const og = t.out_channels / t.groups;
    const axes = (t.axes || ["D", "H", "W"])[0];
    if (this.viewMode === "gather") {
      this.input.title.textContent = `input x[${t.item},${c}] with zeros inserted and ` +
        `padding (gather form, ${axes} slices)`;
      this.kernel.title.textContent = `kernel w[${c},${t.omap % og}] flipped`;
      const [, H, W] = this.input.shape;
      for (const s of this.input.slices) {
        s.name = `input x[${t.item},${c}], zeros inserted and padded, depth ${s.d}, ` +
          `${H} by ${W}`;
        s.cell.setAttribute("aria-label", s.name);
      }
    } else {
      this.input.title.textContent = `input x[${t.item},${c}] (${axes} slices)`;
      this.kernel.title.textContent = `kernel w[${c},${t.omap % og}] of output map ${t.omap}`;
    }
  }

  // Gather: the inserted zeros (grey) and the padding (white) tinted once, on the slices'
  // colours (each slice's offscreen canvas: one pixel per cell).
  tintGather() {
    const kinds = this.tscene.gather.kind;
    for (const s of this.input.slices) {
      const ctx = s.base.getContext("2d");
      for (let r = 0; r < s.rows; r++) {
        for (let c = 0; c < s.cols; c++) {
          const kind = Math.max(kinds[0][s.d], kinds[1][r], kinds[2][c]);
          if (!kind) continue;
          ctx.fillStyle = kind === 2 ? TV_PADDING : TV_INSERTED;
          ctx.fillRect(c, r, 1, 1);
        }
      }
    }
  }

  // ------------------------------------------------------------------ pointing

  hitTest(e) {
    const h = super.hitTest(e);
    if (h) return h;
    const q = this.overlap && this.overlap.cellAt(e);
    return q ? this.targetAt(this.overlap.slices[q[0]], q.slice(1)) : null;
  }

  // a cell of the stamp counts points at its output cell
  targetAt(g, cell) {
    return super.targetAt(g.kind === "overlap" ? {...g, kind: "output"} : g, cell);
  }

  cursorGrids() {
    return [...super.cursorGrids(), ...(this.overlap ? this.overlap.slices : [])];
  }

  cursorStart() {
    if (this.viewMode === "gather") return super.cursorStart();
    const {m, i} = this.cellOf(this.step);
    if (m !== this.m) return {g: 0, cell: [0, 0]};
    return {g: this.output.slices.length + i[0], cell: [i[1], i[2]]};
  }

  coveredOut(d, r, c) {
    // scatter under reveal: the output's cells show the partial sums (colour), not the totals
    if (this.viewMode === "scatter") return this.reveal;
    return super.coveredOut(d, r, c);
  }

  hidden(step) {
    return this.viewMode === "scatter" ? false : super.hidden(step);
  }

  // scatter: the overview's box is the current input cell (a 1×1×1 window over the input)
  boxTrace(step) {
    if (this.viewMode === "gather") return super.boxTrace(step);
    const scene = this.scene;
    const {i} = this.cellOf(step);
    const one = scene.in_shape.map(() => 1);
    this.scene = {...scene, out_shape: scene.in_shape, kernel: one, stride: one, dilation: one};
    try {
      return super.boxTrace(ravel(i, scene.in_shape));
    } finally {
      this.scene = scene;
    }
  }

  // ------------------------------------------------------------------ drawing a step

  render() {
    if (this.building || !this.overlap) return;
    if (this.viewMode === "gather") {
      this.overlap.clear();
      super.render();
      const o = unravel(this.focusStep(), this.tscene.out_shape);
      this.overlap.rect(o[0], o[1], o[2], 1, 1, {stroke: "#111111", width: 3});
      return;
    }
    this.renderScatter();
  }

  renderScatter() {
    const t0 = performance.now();
    const t = this.tscene;
    const {m, i} = this.cellOf(this.step);
    if (m !== this.m && m < t.shown_maps) {  // the step's input map is drawn
      this.m = m;
      this.build();
      return;
    }
    this.scrub.value = String(this.step);
    this.prevBtn.disabled = this.step <= 0;
    this.nextBtn.disabled = this.step >= this.steps - 1;
    this.playBtn.textContent = this.playing ? "\u275a\u275a Pause" : "\u25b6 Play";
    this.info.textContent = this.stepLabel(this.step);
    for (const stack of [this.input, this.kernel, this.output, this.overlap]) stack.clear();
    const lit = (stack, d) => stack.slices[d] && stack.slices[d].cell.classList.add("cx-vol-lit");
    if (m === this.m) {
      this.input.rect(i[0], i[1], i[2], 1, 1, {fill: "rgba(242,169,0,0.25)", stroke: "#111111",
                                               width: 3});
      lit(this.input, i[0]);
    }
    for (const tap of this.values.offsets) {
      this.kernel.rect(tap[0], tap[1], tap[2], 1, 1, {stroke: TV_STAMP, width: 2.5});
    }
    if (this.reveal) this.drawPartialSums();
    else this.root.dataset.partial = "";
    const x = this.inputValue(m, i);
    const stamps = [];
    for (const {tap, o, inside} of stampTargets(t, i)) {
      stamps.push([o, x * this.weightValue(m, tap), !inside]);
      if (!inside) continue;
      for (const stack of [this.output, this.overlap]) {
        stack.rect(o[0], o[1], o[2], 1, 1, {fill: "rgba(242,169,0,0.22)", stroke: TV_STAMP,
                                            width: 2.5});
        lit(stack, o[0]);
      }
    }
    this.root.dataset.stamps = JSON.stringify(stamps);
    this.root.dataset.taps = "";
    this.drawScatterHover(this.pinned || this.hover);
    const h = this.pinned || this.hover;
    const hovered = h && h.kind === "output";
    this.eq.textContent = hovered ? this.transposedEquation(h.step) : this.scatterText(this.step);
    this.eq.classList.toggle("cx-eq-hover", !!hovered);
    this.root.dataset.step = String(this.step);
    this.queueOverview(this.step);
    this.a11y.step(`input cell ${this.step + 1} of ${this.steps}: ${this.scatterText(this.step)}`,
                   this.playing);
    this.a11y.afterRender();
    this.lastRenderMs = performance.now() - t0;
    this.afterRender();
  }

  // Scatter hover: an output voxel lights the input voxels and taps that stamp it; an input
  // voxel its stamps; a tap where it lands from the current cell.
  drawScatterHover(h) {
    const t = this.tscene;
    let lit = [];
    const mark = {stroke: TV_HOVER, width: 3};
    const hov = (stack, d) => stack.slices[d] && stack.slices[d].cell.classList.add("cx-vol-hov");
    if (h && h.kind === "output") {
      const o = unravel(h.step, t.out_shape);
      for (const stack of [this.output, this.overlap]) stack.rect(o[0], o[1], o[2], 1, 1, mark);
      const sources = stampSources(t, o);
      for (const {tap, i} of sources) {
        this.input.rect(i[0], i[1], i[2], 1, 1, {fill: "rgba(123,44,191,0.25)", stroke: TV_HOVER,
                                                 width: 2.5});
        hov(this.input, i[0]);
        this.kernel.rect(tap[0], tap[1], tap[2], 1, 1, {stroke: TV_HOVER, width: 2.5});
      }
      lit = sources.map((x) => x.i);
    } else if (h && h.kind === "input") {
      this.input.rect(h.p[0], h.p[1], h.p[2], 1, 1, mark);
      hov(this.input, h.p[0]);
      for (const {o, inside} of stampTargets(t, h.p)) {
        if (!inside) continue;
        lit.push(o);
        this.output.rect(o[0], o[1], o[2], 1, 1, {fill: "rgba(123,44,191,0.3)", stroke: TV_HOVER,
                                                  width: 2});
        hov(this.output, o[0]);
      }
    } else if (h && h.kind === "kernel") {
      const {i} = this.cellOf(this.step);
      this.kernel.rect(h.t[0], h.t[1], h.t[2], 1, 1, mark);
      const target = stampTargets(t, i).find((x) => x.tap.every((v, a) => v === h.t[a]));
      if (target && target.inside) {
        lit = [target.o];
        this.output.rect(target.o[0], target.o[1], target.o[2], 1, 1, mark);
        hov(this.output, target.o[0]);
      }
    }
    this.root.dataset.hover = h ? h.kind : "";
    this.root.dataset.lit = h ? JSON.stringify(lit) : "";
  }

  // Reveal: each output voxel shows (by its colour) the sum of the stamps made so far, bias
  // included; one no stamp has reached yet is covered.
  drawPartialSums() {
    const t = this.tscene;
    const shape = t.out_shape;
    const {sums, touched, n} = this.partialSums();
    for (let q = 0; q < n; q++) {
      const o = unravel(q, shape);
      const fill = touched[q] ? `rgb(${colour(sums[q], t.zmax.output).join(",")})` : TV_UNTOUCHED;
      this.output.rect(o[0], o[1], o[2], 1, 1, {fill});
    }
    this.root.dataset.partial = JSON.stringify(Array.from(sums));
  }
}

// The 2-D transposed view's arithmetic, mode and link, borrowed: they read only the transposed
// scene (this.tscene, this.raw) and the mode, which this view keeps as that one does.
for (const name of ["takeTransposed", "partialSums", "derived", "setMode", "controlFields", "canPredict", "stepCount",
                    "modeButtons", "modeNote", "inputValue", "weightValue", "cellOf",
                    "outIndex", "transposedEquation", "scatterText", "stepLabel", "equationOf",
                    "tipText", "onGridClick", "link", "reportExtra"]) {
  TransposedVolumeView.prototype[name] = TransposedView.prototype[name];
}

export function mountTransposedVolume(component) {
  return mountView(TransposedVolumeView, component,
                   {label: "3-D transposed convolution view"});
}
