// What differs between the ranks' views, in one place.  A scene names its rank's layout
// (`scene.layout`, from the rank table app/shared/ranks.py); the explorer's View and the
// transposed view read that entry here instead of branching on the number of axes:
//
//   strip (1-D)   every map of a panel is one ROW of one grid (a display cell is [map, index]);
//                 the kernel strip slides under the window; a line plot of the signal and the
//                 output sits under the strips.
//   grid (2-D)    every map is a grid of its own (a display cell is [row, col]); a panel's maps
//                 are one plotly figure (grid.js MapPanel), the panels arranged by layout.js.
//   slices (3-D)  a view of its own (volume.js).
//
// Coordinates: `at` is a position in display cells, one number per axis (a scene index divided
// by the display scale; a kernel's tap times its dilation); `row` is the map's row in a strip.
// place(at, row) is where `at` is drawn ([row, col] of the grid); read(cell, g) the inverse:
// {m: the input or kernel map, j: the output map (its row: a strip holds them all), at}.
// Adding a layout is adding an entry with these members.

import {MARGIN, axisNames, drawable, fingerprint, rowsOf, ticks} from "./grid.js";
import {TITLE, layout2d} from "./layout.js";

// ----------------------------------------------------------------------------- strip (1-D)

const STRIP = {
  name: "strip",
  margin: {...MARGIN, l: 58},  // room for row names such as w[3,1]
  mapPanels: false,  // its grids are Grids of their own (View.gridsOf)
  line: true,  // the signal and the output as lines (View.buildLine), the kernel a slider

  // the grid that draws map m of a panel, and how many maps each grid draws
  gridOf: (grids, m) => grids[0],
  mapsPerGrid: (s) => s.shown_maps,
  place: (at, row) => [row, at[0]],
  read: (cell) => ({m: cell[0], j: cell[0], at: [cell[1]]}),
  mapShape: (g) => [g.cols],  // a map's display cells, per axis
  // one scene cell's [height, width] in display cells: a row is a whole map
  cell: (f) => [1, 1 / f],
  mapBox: (g, m) => [m, 0, 1, g.cols],  // [row, col, rows, cols] of map m in its grid

  // reveal / predict: cover the cells after [r, c] (raster order) of the cell's map
  cover(g, [r, c], f, fill) {
    g.rect(g.ctx, r, c + 1 / f, 1, g.cols - c - 1 / f, {fill});
  },

  // the padding veil of row `row`: the padded frame minus the unpadded block
  veil(ctx, g, lo, inn, row) {
    ctx.fillRect(0, row * g.ch, lo[0] * g.cs, g.ch);
    ctx.fillRect((lo[0] + inn[0]) * g.cs, row * g.ch, (g.cols - lo[0] - inn[0]) * g.cs, g.ch);
  },

  // the display positions of the input cells no window reads
  neverRead(s) {
    const lo = s.pads[0][0];
    return s.never_read[0].map((i) => [(i + lo) / s.scale]);
  },

  // The panels: inputs, kernels and outputs as strips one under the other, the partial sums
  // under them; cells as wide as the width allows, strips at least a readable height.
  arrange(view, width) {
    const s = view.scene;
    const f = s.scale;
    const maps = s.shown_maps;
    const outs = view.values.outCount;
    const pl = Math.ceil(s.padded_shape[0] / f);
    const ol = Math.ceil(s.out_shape[0] / f);
    const kd = s.dilation[0] * (s.kernel[0] - 1) + 1;
    const margin = this.margin;
    // (for the longer of input and output: a transposed convolution's output is the longer)
    const cs = Math.max(0.5, Math.min((width - margin.l - margin.r - 8) / Math.max(pl, ol),
                                      72));
    const line = view.presenter ? 170 : 200;
    const psH = view.hasPartials() ? view.partialsBox().h : 0;
    // the partial sums are a row of their own under the output (arrange("stack"))
    const rowsBudget = (view.heightBudget() - line - psH - 3 * (MARGIN.t + MARGIN.b + 24)) /
      (2 * maps + outs);
    const ch = Math.max(view.presenter ? 30 : 22, Math.min(cs, 72, rowsBudget));
    view.cs = cs;
    view.ck = Math.max(cs, view.presenter ? 34 : 22);
    view.arrange("stack");
    const P = view.panels;
    const titles = view.titles();
    P.in.title.textContent = titles.input;
    P.k.title.textContent = `${titles.kernel} \u2014 under the window`;
    P.out.title.textContent = titles.output;
    P.k.el.classList.add("cx-slide");
    for (const name of ["in", "k", "out"]) P[name].body.style.gridTemplateColumns = "";
    const first = s.outputs ? s.outputs_first : s.omap;
    const padded = s.pads[0].some(Boolean) ? ", padded" : "";
    view.inputs = view.gridsOf("inputs", P.in.body, [{
      rows: maps, cols: pl, cs, ch, className: "cx-input", margin,
      name: `input ${maps > 1 ? `${maps} maps` : `x[${s.item},${s.channels[0]}]`}, ${pl} ` +
        `cells${padded}`,
      props: {kind: "input", m: 0, spot: (p, m) => this.place([p[0] / f], m)}}]);
    view.kernels = view.gridsOf("kernels", P.k.body, [{
      rows: maps, cols: kd, cs: view.ck, ch, className: "cx-kernel", margin,
      name: `kernel ${maps > 1 ? `w[${s.omap}], ${maps} rows` : view.kernelName(0)}, ${kd} taps`,
      props: {kind: "kernel", m: 0, spot: (t, m) => this.place([t[0] * s.dilation[0]], m)}}]);
    view.slider = view.kernels[0].el;
    const row = s.omap - first;  // the shown output map's row
    const spot = (q) => this.place([q[0] / f], row);
    view.outputs = view.gridsOf("outputs", P.out.body, [{
      rows: outs, cols: ol, cs, ch, className: "cx-out", margin,
      name: `output ${outs > 1 ? `maps ${first} to ${first + outs - 1}` : `out[${s.item},` +
        `${s.omap}]`}, ${ol} cells`,
      props: {kind: "output", j: row, omap: s.omap, spot}}]);
    view.output = view.outputs[0];
    // the maps of an output's size a view of another kind shows: a strip each, under it
    view.extraGrids = view.gridsOf("extras", P.out.body, view.outputSizedSpecs({
      rows: 1, cols: ol, cs, ch, margin, size: `${ol} cells`, j: 0,
      spot: (q) => this.place([q[0] / f], 0)}));
  },

  drawMaps(view) {
    const s = view.scene;
    const v = view.values;
    const font = view.font;
    const least = view.presenter ? 16 : 9;  // on a projector: legible, or colour and hover
    const labels = (z, cs) => (cs < 12 ? null : z);  // values only where cells hold one
    const lo = s.pads[0][0];
    const zIn = s.zmax.input;
    const first = s.outputs ? s.outputs_first : s.omap;
    view.unlabelled = false;
    const g = view.inputs[0];
    const cols = v.inputs.shape[1];
    const raw = rowsOf(v.inputs.data, 0, s.shown_maps, cols, (x) => x);
    const names = s.channels.slice(0, s.shown_maps).map((c) => `x[${c}]`);
    g.draw(raw.map((r) => r.map(drawable(zIn))), {
      zmax: zIn, text: labels(raw, g.cs), font, least, values: raw, rowNames: names,
      colNames: axisNames(cols, -lo, s.scale),
      xticks: ticks(cols, -lo, s.scale, g.cs, font),
      yticks: [names.map((_, i) => i), names]});
    if (!g.labels) view.unlabelled = true;
    const k = view.kernels[0];
    const z = Array.from({length: s.shown_maps}, () => new Array(k.cols).fill(null));
    for (let m = 0; m < s.shown_maps; m++) {
      for (const t of v.offsets) z[m][t[0] * s.dilation[0]] = v.weight(m, t);
    }
    k.draw(z.map((r) => r.map(drawable(s.zmax.weight))), {
      zmax: s.zmax.weight, text: labels(z, k.cs), font, least, values: z,
      rowNames: names.map((_, m) => view.kernelName(m)),
      xticks: ticks(k.cols, 0, 1, k.cs, font),
      yticks: [names.map((_, i) => i), names.map((_, m) => view.kernelName(m))]});
    const o = view.output;
    const zOut = s.zmax.output;
    const ocols = v.output.shape[0];
    const oraw = rowsOf(v.outputs.data, 0, v.outCount, ocols, (x) => x);
    const onames = oraw.map((_, j) => `out[${first + j}]`);
    o.draw(oraw.map((r) => r.map(drawable(zOut))), {
      zmax: zOut, text: labels(oraw, o.cs), font, least, values: oraw, rowNames: onames,
      colNames: axisNames(ocols, 0, s.scale),
      xticks: ticks(ocols, 0, s.scale, o.cs, font),
      yticks: [onames.map((_, i) => i), onames]});
    if (!o.labels) view.unlabelled = true;
    view.outputSizedItems(font).forEach((item, i) => {  // a named row each, every value written
      const d = item.make();
      view.extraGrids[i].draw(d.z, {...d, zmin: item.zmin, zmax: item.zmax, text: d.z, font,
                                    least, rowNames: [item.row], yticks: [[0], [item.tick]]});
    });
  },
};

// ----------------------------------------------------------------------------- grid (2-D)

const GRID = {
  name: "grid",
  margin: MARGIN,
  mapPanels: true,  // one plotly figure per panel for all its maps (grid.js MapPanel)
  line: false,

  gridOf: (grids, m) => grids[m],
  mapsPerGrid: () => 1,
  place: (at) => at,
  read: (cell, g) => ({m: g.m, j: g.j, at: cell}),
  mapShape: (g) => [g.rows, g.cols],
  cell: (f) => [1 / f, 1 / f],
  mapBox: (g) => [0, 0, g.rows, g.cols],

  cover(g, [r, c], f, fill) {
    g.rect(g.ctx, r, c + 1 / f, 1 / f, g.cols - c - 1 / f, {fill});  // the rest of the row
    g.rect(g.ctx, r + 1 / f, 0, g.rows - r - 1 / f, g.cols, {fill});  // the rows below
  },

  veil(ctx, g, lo, inn) {
    const [H, W] = [g.rows, g.cols];
    ctx.fillRect(0, 0, W * g.cs, lo[0] * g.cs);
    ctx.fillRect(0, (lo[0] + inn[0]) * g.cs, W * g.cs, (H - lo[0] - inn[0]) * g.cs);
    ctx.fillRect(0, lo[0] * g.cs, lo[1] * g.cs, inn[0] * g.cs);
    ctx.fillRect((lo[1] + inn[1]) * g.cs, lo[0] * g.cs, (W - lo[1] - inn[1]) * g.cs,
                 inn[0] * g.cs);
    ctx.strokeStyle = "rgba(0,0,0,0.55)";
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 1;
    ctx.strokeRect(lo[1] * g.cs + 0.5, lo[0] * g.cs + 0.5, inn[1] * g.cs - 1, inn[0] * g.cs - 1);
    ctx.setLineDash([]);
  },

  // every cell of a never-read row or column (none where cells are too small to mark)
  neverRead(s, g) {
    const f = s.scale;
    const lo = s.pads.map((p) => p[0]);
    const [rows, cols] = s.never_read.map((a) => new Set(a));
    const found = [];
    if (g.cs < 3) return found;
    for (let i = 0; i < s.in_shape[0]; i += f) {
      for (let j = 0; j < s.in_shape[1]; j += f) {
        if (rows.has(i) || cols.has(j)) found.push([(i + lo[0]) / f, (j + lo[1]) / f]);
      }
    }
    return found;
  },

  // The panels arranged by layout.js for the largest cells that fit the width and the height.
  arrange(view, width) {
    const s = view.scene;
    const f = s.scale;
    const maps = s.shown_maps;
    const outs = view.values.outCount;
    const [ph, pw] = s.padded_shape.map((n) => Math.ceil(n / f));
    const [oh, ow] = s.out_shape.map((n) => Math.ceil(n / f));
    const kd = s.kernel.map((k, a) => s.dilation[a] * (k - 1) + 1);
    const ps = view.hasPartials() ? view.partialsBox() : {w: 0, h: 0};
    // planned for the output at stride 1, so that changing the stride leaves every cell where
    // it is (the outputs shrink in place; the input is not redrawn)
    const [rh, rw] = s.outputs ? s.padded_shape.map((n, a) => Math.ceil((n - kd[a] + 1) / f)) :
      [oh, ow];
    const plan = layout2d({
      width: width - 4, height: view.heightBudget(), maps, inRows: ph, inCols: pw,
      outs: outs + view.outputSizedPanels(),
      outRows: Math.max(oh, rh), outCols: Math.max(ow, rw), kRows: kd[0], kCols: kd[1],
      psWidth: ps.w, psHeight: ps.h,
      minK: view.presenter ? 34 : 22, maxCell: 72, margin: MARGIN, narrow: view.narrow,
      title: view.presenter ? 0 : TITLE,  // presenter: the maps' own labels say what they are
    });
    view.plan = plan;
    view.cs = Math.max(0.5, plan.c);
    view.ck = plan.ck;
    view.arrange(plan.kind);
    const titles = view.titles();
    const P = view.panels;
    P.in.title.textContent = titles.input;
    P.k.title.textContent = titles.kernel;
    P.out.title.textContent = titles.output;
    const cs = view.cs;
    const padded = s.pads.some(([a, b]) => a || b) ? ", padded" : "";
    const size = (r, c) => `${r} by ${c}${f > 1 ? ` (every ${f}th cell)` : ""}`;
    view.inputs = view.sets.in.layout(Array.from({length: maps}, (_, m) => ({
      rows: ph, cols: pw, cs, label: `x[${s.item},${s.channels[m]}]`, className: "cx-input",
      name: `input x[${s.item},${s.channels[m]}], ${size(ph, pw)}${padded}`,
      props: {kind: "input", m, spot: (p) => this.place(p.map((v) => v / f))}})), plan.inPer);
    view.kernels = view.sets.k.layout(Array.from({length: maps}, (_, m) => ({
      rows: kd[0], cols: kd[1], cs: view.ck, label: view.kernelName(m), className: "cx-kernel",
      name: `kernel ${view.kernelName(m)}, ${kd[0]} by ${kd[1]}` +
        (s.dilation.some((d) => d > 1) ? ", dilated" : ""),
      props: {kind: "kernel", m, spot: (t) => this.place(t.map((v, a) => v * s.dilation[a]))}})),
                                      plan.inPer);
    // the shown output map among the others (a scene without `outputs` has only it), and
    // the maps of an output's size a view of another kind shows beside them
    const first = s.outputs ? s.outputs_first : s.omap;
    const spot = (q) => this.place(q.map((v) => v / f));
    const specs = Array.from({length: outs}, (_, j) => ({
      rows: oh, cols: ow, cs, className: "cx-out",
      name: `output out[${s.item},${first + j}]${first + j === s.omap ? " (shown)" : ""}, ` +
        size(oh, ow),
      label: `out[${s.item},${first + j}]` + (outs > 1 && first + j === s.omap ? " \u25c0 shown" :
        ""),
      props: {kind: first + j === s.omap ? "output" : "omap", j, omap: first + j, spot}}));
    const extra = view.outputSizedSpecs({rows: oh, cols: ow, cs, size: `${oh} by ${ow}`, spot});
    const placed = view.sets.out.layout([...specs, ...extra], plan.outPer);
    view.outputs = placed.slice(0, outs);
    view.extraGrids = placed.slice(outs);
    for (const g of view.outputs) {
      g.el.classList.toggle("cx-current", outs > 1 && g.kind === "output");
    }
    view.output = view.outputs.find((g) => g.kind === "output");
  },

  // One plotly figure per panel, redrawn only when what it shows changed (fingerprints).
  drawMaps(view) {
    const s = view.scene;
    const v = view.values;
    const font = view.font;
    const least = view.presenter ? 16 : 9;  // on a projector: legible, or colour and hover
    const lab = (g) => g.cs >= 12;  // values only where cells can hold one (65k labels cost)
    const lo = s.pads.map((p) => p[0]);
    const zIn = s.zmax.input;
    const zOut = s.zmax.output;
    const [rows, cols] = v.inputs.shape.slice(1);
    view.sets.in.draw(view.inputs.map((g, m) => ({
      key: fingerprint(v.inputs.data, m * v.inSize, v.inSize), zmax: zIn,
      make: () => {
        const raw = rowsOf(v.inputs.data, m * v.inSize, rows, cols, (x) => x);
        return {z: raw.map((r) => r.map(drawable(zIn))), text: lab(g) ? raw : null,
                values: raw, rowNames: axisNames(rows, -lo[0], s.scale),
                colNames: axisNames(cols, -lo[1], s.scale),
                xticks: ticks(cols, -lo[1], s.scale, g.cs, font),
                yticks: ticks(rows, -lo[0], s.scale, g.cs, font)};
      }})), {font, least});
    const kd = [view.kernels[0].rows, view.kernels[0].cols];
    view.sets.k.draw(view.kernels.map((g, m) => ({
      key: `${fingerprint(v.weights.data, m * v.kSize, v.kSize)}${s.dilation}`,
      zmax: s.zmax.weight,
      make: () => {
        const z = Array.from({length: kd[0]}, () => new Array(kd[1]).fill(null));
        for (const t of v.offsets) {
          z[t[0] * s.dilation[0]][t[1] * s.dilation[1]] = v.weight(m, t);
        }
        return {z: z.map((r) => r.map(drawable(s.zmax.weight))), text: lab(g) ? z : null,
                values: z, xticks: ticks(kd[1], 0, 1, g.cs, font),
                yticks: ticks(kd[0], 0, 1, g.cs, font)};
      }})), {font, least});
    const [orows, ocols] = v.output.shape;
    const osize = orows * ocols;
    view.sets.out.draw([...view.outputs.map((g, j) => ({
      key: fingerprint(v.outputs.data, j * osize, osize), zmax: zOut,
      make: () => {
        const raw = rowsOf(v.outputs.data, j * osize, orows, ocols, (x) => x);
        return {z: raw.map((r) => r.map(drawable(zOut))), text: lab(g) ? raw : null,
                values: raw, rowNames: axisNames(orows, 0, s.scale),
                colNames: axisNames(ocols, 0, s.scale),
                xticks: ticks(ocols, 0, s.scale, g.cs, font),
                yticks: ticks(orows, 0, s.scale, g.cs, font)};
      }})), ...view.outputSizedItems(font)], {font, least});
    view.unlabelled = [...view.inputs, ...view.outputs].some((g) => !g.labels);
  },
};

export const LAYOUTS = {strip: STRIP, grid: GRID};

// The entry of a scene's layout (an error naming the layouts there are otherwise).
export function layoutOf(scene) {
  const entry = LAYOUTS[scene.layout];
  if (!entry) {
    throw new Error(`scene layout must be one of ${Object.keys(LAYOUTS).join(", ")}, ` +
                    `got ${JSON.stringify(scene.layout)}`);
  }
  return entry;
}
