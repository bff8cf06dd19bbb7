// One heatmap drawn by plotly.js with canvases laid exactly over its plot area, shared by the
// explorer, transposed and receptive-field views.  Every heatmap has fixed margins and axis
// ranges, so cell <-> pixel mapping is ours and no plotly internals are read.
//
// Three canvases lie over the plot area, in this order: a static one (padding veils), a dynamic
// one (window, taps, hover tints) and the cells' numbers on top: each number is written in black
// or white, whichever contrasts more with what is under it — the heatmap's colour with the tints
// of both canvases over it (read back from them after every redraw) — so every number keeps
// >= 4.5:1 (contrast.js); a cell whose tint covers it (predict, reveal) shows no number.
// For assistive technology a map is one named image (its canvases and plotly's drawing hidden);
// its values are a table (a11y.js).

import {inkOn, over, parseColor} from "./contrast.js";
import {fmt} from "./format.js";

export const RDBU = ["rgb(103,0,31)", "rgb(178,24,43)", "rgb(214,96,77)", "rgb(244,165,130)",
              "rgb(253,219,199)", "rgb(247,247,247)", "rgb(209,229,240)", "rgb(146,197,222)",
              "rgb(67,147,195)", "rgb(33,102,172)", "rgb(5,48,97)"];
export const COLORSCALE = RDBU.map((c, i) => [i / (RDBU.length - 1), c]);
export const MARGIN = {l: 34, r: 6, t: 4, b: 22};

export function ticks(n, first, scale, cs, font) {
  // Label display cells at a round step of scene indices (1, 2, 5, 10, 20, 25, 50, ...) with
  // room for the label text.
  const least = Math.max(1, (font * 2.6) / Math.max(cs, 0.01)) * scale;
  const nice = [1, 2, 5, 10, 20, 25, 50];
  let step = 1;
  for (let p = 1; ; p *= 100) {
    const found = nice.map((v) => v * p).find((v) => v >= least);
    if (found) {
      step = found;
      break;
    }
  }
  const vals = [];
  const text = [];
  for (let i = 0; i < n; i++) {
    const index = first + i * scale;
    if (index % step === 0) {
      vals.push(i);
      text.push(fmt(index));
    }
  }
  return [vals, text];
}

// The names of a grid's n rows (or columns) in scene coordinates, for its values table: display
// cell i is index first + i * scale.
export function axisNames(n, first, scale) {
  return Array.from({length: n}, (_, i) => fmt(first + i * scale));
}

// Rows x cols values of `arr` from `offset`, each through `map`, as rows (a heatmap's z).
export function rowsOf(arr, offset, rows, cols, map) {
  const z = [];
  for (let r = 0; r < rows; r++) {
    const row = new Array(cols);
    for (let c = 0; c < cols; c++) row[c] = map(arr[offset + r * cols + c]);
    z.push(row);
  }
  return z;
}

// A value as a heatmap draws it: NaN (no value) blank, an infinity at the scale's end.
export function drawable(zmax) {
  return (v) => (Number.isNaN(v) ? null : Number.isFinite(v) ? v : Math.sign(v) * zmax);
}

// Cell labels are drawn in this family (digits about 0.56 em wide), measured, not guessed; when
// they do not fit at a legible size, in a condensed family (digits about 0.46 em) where the
// machine has one (measuring tells: a missing face measures as the fallback).
export const LABEL_FONT = 'Arial, "Liberation Sans", "Helvetica Neue", Helvetica, sans-serif';
export const LABEL_FONT_NARROW = '"Liberation Sans Narrow", "Arial Narrow", ' +
  '"Helvetica Neue Condensed", "DejaVu Sans Condensed", sans-serif';
let measurer = null;

export function textWidth(text, size, family = LABEL_FONT) {
  if (!measurer) measurer = document.createElement("canvas").getContext("2d");
  measurer.font = `${size}px ${family}`;
  return measurer.measureText(text).width;
}

// Cell labels: each value as convcore writes it, at the largest size (at most `font`, at least
// `least`) at which most of them fit their cells; the few longer ones are shortened (the
// tooltip and the equation keep every digit).  Returns {size, family, text}, or null when no
// legible size fits (the map is then drawn in colour, its values on hover).
export function cellLabels(values, cs, ch, font, least = 9) {
  const full = values.map((row) => row.map((v) => (v === null ? "" : fmt(v))));
  const texts = full.flat().filter(Boolean);
  if (!texts.length) return null;
  const room = cs - 3;
  for (const family of [LABEL_FONT, LABEL_FONT_NARROW]) {
    const widths = texts.map((x) => textWidth(x, 10, family) / 10).sort((a, b) => a - b);
    // size for the typical label (80th percentile), shortening the rest rather than
    // shrinking below five characters' width
    const typical = Math.min(widths[Math.floor(widths.length * 0.8)],
                             textWidth("0.000", 10, family) / 10);
    const size = Math.floor(Math.min(font, ch / 1.5, room / typical));
    if (size < least) continue;
    const fits = (x) => textWidth(x, size, family) <= room;
    const short = (v, text) => {
      if (fits(text)) return text;
      for (let p = 3; p >= 1; p--) {
        const x = fmt(Number(v.toPrecision(p)));
        if (fits(x)) return x;
      }
      const e = v.toExponential(0).replaceAll("-", "\u2212");
      return fits(e) ? e : "\u2026";
    };
    return {size, family, text: values.map((row, r) => row.map((v, c) => (v === null ? "" :
      short(v, full[r][c]))))};
  }
  return null;
}

// The canvases of a map's box (static, dynamic, numbers), hidden from assistive technology: the
// box is one image named by the map (role img), its values are in a table (a11y.js).
function makeCanvases(g) {
  g.box.setAttribute("role", "img");
  g.stat = document.createElement("canvas");
  g.dyn = document.createElement("canvas");
  g.lab = document.createElement("canvas");
  g.lab.className = "cx-ink";
  for (const c of [g.stat, g.dyn, g.lab]) c.setAttribute("aria-hidden", "true");
  // the numbers' ink is chosen from what these two hold under each cell: read back often
  g.sctx = g.stat.getContext("2d", {willReadFrequently: true});
  g.ctx = g.dyn.getContext("2d", {willReadFrequently: true});
  g.lctx = g.lab.getContext("2d");
}

// A map's box: its size (margins around rows x cols cells) and its canvases exactly over
// the plot area, at the device's pixel ratio (a canvas keeps its bitmap when unchanged).
function sizeBox(g) {
  const w = g.cols * g.cs;
  const h = g.rows * g.ch;
  g.width = g.margin.l + w + g.margin.r;
  g.height = g.margin.t + h + g.margin.b;
  g.box.style.width = `${g.width}px`;
  g.box.style.height = `${g.height}px`;
  const dpr = window.devicePixelRatio || 1;
  for (const c of [g.stat, g.dyn, g.lab]) {
    const pw = Math.max(1, Math.round(w * dpr));
    const ph = Math.max(1, Math.round(h * dpr));
    if (c.width !== pw || c.height !== ph) {
      c.width = pw;
      c.height = ph;
    }
    c.style.width = `${w}px`;
    c.style.height = `${h}px`;
    c.style.left = `${g.margin.l}px`;
    c.style.top = `${g.margin.t}px`;
    c.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
  }
}

// A short fingerprint of numbers (FNV-1a over their float32 bits): what a map shows.
export function fingerprint(values, offset = 0, count = values.length - offset) {
  const bits = new Uint32Array(Float32Array.from(values.subarray(offset, offset + count)).buffer);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) {
    h ^= bits[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${count}:${h.toString(16)}`;
}

// A map's accessible name (its box is an image): "input x[0,0], 5 by 5, padded".
function nameBox(g, name) {
  g.name = name;
  g.box.setAttribute("aria-label", name);
}

const PARSED = new WeakMap();  // colour scale -> [[t, [r, g, b, a]], ...]

// What a map's cells hold, for the numbers' ink and the values table: the colour of each cell
// as plotly draws it (white where there is no value), the values and the rows' and columns'
// names (a11y.js).
function setCells(g, {z, zmin, zmax, colorscale, values, rowNames, colNames}) {
  g.values = values || null;
  g.rowNames = rowNames || null;
  g.colNames = colNames || null;
  if (!g.labels) {
    g.base = null;
    g.refreshInk();  // clears the numbers a denser map no longer writes
    return;
  }
  if (!PARSED.has(colorscale)) {
    PARSED.set(colorscale, colorscale.map(([t, c]) => [t, parseColor(c)]));
  }
  const scale = PARSED.get(colorscale);
  const base = new Uint8ClampedArray(g.rows * g.cols * 3).fill(255);
  const span = zmax - zmin || 1;
  for (let r = 0; r < g.rows; r++) {
    for (let c = 0; c < g.cols; c++) {
      const v = z[r] ? z[r][c] : null;
      if (v === null || v === undefined || Number.isNaN(v)) continue;
      const x = Math.min(1, Math.max(0, (v - zmin) / span));
      let j = 0;
      while (j < scale.length - 2 && scale[j + 1][0] < x) j++;
      const [t0, a] = scale[j];
      const [t1, b] = scale[j + 1] || scale[j];
      const f = t1 > t0 ? (x - t0) / (t1 - t0) : 0;
      for (let q = 0; q < 3; q++) base[(r * g.cols + c) * 3 + q] = a[q] + (b[q] - a[q]) * f;
    }
  }
  g.base = base;
  // written now, on the heatmap's colours; the view writes them again over its tints after
  // each redraw (a11y.js: afterRender), so a view that never calls it still shows them
  g.refreshInk();
}

export class Grid {
  constructor(parent, opts) {
    this.el = document.createElement("div");
    this.el.className = `cx-map ${opts.className || ""}`;
    this.title = document.createElement("div");
    this.title.className = "cx-label";
    this.box = document.createElement("div");
    this.box.className = "cx-box";
    this.plot = document.createElement("div");
    this.plot.className = "cx-plot";
    this.plot.setAttribute("aria-hidden", "true");
    makeCanvases(this);
    this.box.append(this.plot, this.stat, this.dyn, this.lab);
    this.el.append(this.title, this.box);
    parent.appendChild(this.el);
    this.resize(opts);
  }

  resize({rows, cols, cs, ch, label, name, margin = MARGIN, indentLabel = false}) {
    this.margin = margin;
    this.rows = rows;
    this.cols = cols;
    this.cs = cs;  // cell width
    this.ch = ch || cs;  // cell height (1-D strips are wider than a cell is tall)
    this.title.textContent = label || "";
    this.title.style.display = label ? "" : "none";
    this.title.style.marginLeft = indentLabel ? `${margin.l}px` : "";
    nameBox(this, name || label || "");
    sizeBox(this);
    return this;
  }

  // Draw the heatmap; `key` names what is drawn (data and options): a grid already showing
  // that key is left as it is (a layer change often leaves the input or the kernel unchanged).
  draw(z, {zmax, zmin = -zmax, colorscale = COLORSCALE, text, font, xticks, yticks,
            xgap = 0, ygap = 0, labels = undefined, key = null, least = 9, values, rowNames,
            colNames}) {
    const drawn = key === null ? null :
      this.signature(`${key}|${zmin}|${zmax}|${font}|${least}`);
    if (drawn !== null && drawn === this.drawnKey) return null;
    this.drawnKey = drawn;
    const trace = {
      type: "heatmap", z, zmin, zmax, colorscale, showscale: false,
      hoverinfo: "skip", x0: 0, dx: 1, y0: 0, dy: 1, xgap, ygap,
    };
    this.labels = labels !== undefined ? labels :
      (text ? cellLabels(text, this.cs, this.ch, font, least) : null);
    setCells(this, {z, zmin, zmax, colorscale, values: values || text, rowNames, colNames});
    const axis = (n, ticks, reversed) => ({
      range: reversed ? [n - 0.5, -0.5] : [-0.5, n - 0.5], fixedrange: true, showgrid: false,
      zeroline: false, automargin: false, tickmode: "array", tickvals: ticks[0],
      ticktext: ticks[1], tickfont: {size: Math.max(10, Math.round(font * 0.75))},
      ticklen: 3, showline: false,
    });
    const layout = {
      width: this.width, height: this.height, margin: {...this.margin, pad: 0},
      xaxis: axis(this.cols, xticks, false), yaxis: axis(this.rows, yticks, true),
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", showlegend: false,
    };
    this.plot.__drawn = (this.plot.__drawn || 0) + 1;  // the recorder's cue to take it again
    return window.Plotly.react(this.plot, [trace], layout,
                               {staticPlot: true, displayModeBar: false, responsive: false});
  }

  signature(key) {
    return JSON.stringify([key, this.rows, this.cols, this.cs, this.ch, this.margin]);
  }

  // Would `draw` with this key (and zmax, font) leave the plot as it is?
  unchanged(key, zmax, font, least = 9, zmin = -zmax) {
    return this.drawnKey === this.signature(`${key}|${zmin}|${zmax}|${font}|${least}`);
  }

  remove() {
    if (window.Plotly) window.Plotly.purge(this.plot);
    this.el.remove();
  }

  // Pixel rectangle of display cells [r, r + h) x [c, c + w).
  rect(ctx, r, c, h, w, style) {
    const x = c * this.cs;
    const y = r * this.ch;
    const pw = Math.max(w * this.cs, 2);
    const ph = Math.max(h * this.ch, 2);
    if (style.fill) {
      ctx.fillStyle = style.fill;
      ctx.fillRect(x, y, pw, ph);
    }
    if (style.stroke) {
      const lw = style.width || 2;
      ctx.lineWidth = lw;
      ctx.strokeStyle = style.stroke;
      ctx.setLineDash(style.dash || []);
      ctx.strokeRect(x + lw / 2, y + lw / 2, Math.max(pw - lw, 1), Math.max(ph - lw, 1));
      ctx.setLineDash([]);
    }
  }

  // Write the cells' numbers on the top canvas, each in the ink that contrasts more with what
  // is under it now (the heatmap's colour under both canvases' tints, read at the cell's
  // centre); only cells whose ink changed since the last call are written again.  Called by
  // the view after every redraw of the dynamic canvas.
  refreshInk() {
    const L = this.labels;
    const ctx = this.lctx;
    const dpr = window.devicePixelRatio || 1;
    const size = `${this.lab.width}x${this.lab.height}:${this.cs}:${this.ch}`;
    if (L !== this.inkFor || size !== this.inkSize) {
      ctx.clearRect(0, 0, this.lab.width, this.lab.height);
      this.inkFor = L;
      this.inkSize = size;
      this.inked = L ? new Int8Array(this.rows * this.cols).fill(-1) : null;
    }
    if (!L || !this.base) return;
    const W = this.dyn.width;
    ctx.font = `${L.size}px ${L.family}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let r = 0; r < this.rows; r++) {
      const y = Math.min(this.dyn.height - 1, Math.floor((r + 0.5) * this.ch * dpr));
      const st = this.sctx.getImageData(0, y, W, 1).data;
      const dy = this.ctx.getImageData(0, y, W, 1).data;
      for (let c = 0; c < this.cols; c++) {
        const text = L.text[r] && L.text[r][c];
        const i = r * this.cols + c;
        if (!text) continue;
        const x = Math.min(W - 1, Math.floor((c + 0.5) * this.cs * dpr)) * 4;
        let state = 2;  // covered: no number
        if (dy[x + 3] < 217) {
          let rgb = [this.base[i * 3], this.base[i * 3 + 1], this.base[i * 3 + 2]];
          rgb = over(rgb, [st[x], st[x + 1], st[x + 2], st[x + 3] / 255]);
          rgb = over(rgb, [dy[x], dy[x + 1], dy[x + 2], dy[x + 3] / 255]);
          state = inkOn(rgb) === "#000" ? 0 : 1;
        }
        if (state === this.inked[i]) continue;
        this.inked[i] = state;
        ctx.clearRect(c * this.cs, r * this.ch, this.cs, this.ch);
        if (state === 2) continue;
        ctx.fillStyle = state ? "#fff" : "#000";
        ctx.fillText(text, (c + 0.5) * this.cs, (r + 0.5) * this.ch);
      }
    }
  }

  cellAt(event) {
    const box = this.dyn.getBoundingClientRect();
    const c = Math.floor((event.clientX - box.left) / this.cs);
    const r = Math.floor((event.clientY - box.top) / this.ch);
    if (r < 0 || c < 0 || r >= this.rows || c >= this.cols) return null;
    return [r, c];
  }

  clear() {
    this.ctx.clearRect(0, 0, this.dyn.width, this.dyn.height);
  }
}


// ---------------------------------------------------------------------------- a panel of maps

export const MAP_LABEL = 18;  // a map's label line (layout.js counts it)
export const MAP_GAP = 10;  // between maps of a panel (layout.js counts it)

// One map of a MapPanel: its label, and the two canvases over its plot area; cells are
// addressed as on a Grid (rect, cellAt, clear, spot set by the view).
class PanelMap {
  constructor(panel) {
    this.panel = panel;
    this.el = document.createElement("div");
    this.el.className = "cx-map";
    this.el.style.position = "absolute";
    this.title = document.createElement("div");
    this.title.className = "cx-label";
    this.box = document.createElement("div");
    this.box.className = "cx-box";
    makeCanvases(this);
    this.box.append(this.stat, this.dyn, this.lab);
    this.el.append(this.title, this.box);
    panel.layer.appendChild(this.el);
  }

  place(x, y, {rows, cols, cs, ch, label, name, margin = MARGIN, className = ""}) {
    this.x = x;
    this.y = y;
    this.rows = rows;
    this.cols = cols;
    this.cs = cs;
    this.ch = ch || cs;
    this.margin = margin;
    this.el.className = `cx-map ${className}`;
    this.title.textContent = label || "";
    this.title.title = label || "";  // a label longer than its map is cut: the whole on hover
    nameBox(this, name || label || "");
    sizeBox(this);
    this.el.style.left = `${x}px`;
    this.el.style.top = `${y}px`;
    this.el.style.width = `${this.width}px`;
  }

  remove() {
    this.el.remove();
  }
}
PanelMap.prototype.rect = Grid.prototype.rect;
PanelMap.prototype.cellAt = Grid.prototype.cellAt;
PanelMap.prototype.clear = Grid.prototype.clear;
PanelMap.prototype.refreshInk = Grid.prototype.refreshInk;

// Several maps side by side (`per` to a row) drawn by ONE plotly figure — one subplot per map
// (its own axes, placed in pixels) — so a change redraws a panel with one Plotly.react, and a
// panel whose maps did not change is not redrawn at all.
export class MapPanel {
  constructor(parent) {
    this.el = document.createElement("div");
    this.el.className = "cx-maps cx-mapset";
    this.el.style.position = "relative";
    this.plot = document.createElement("div");
    this.plot.className = "cx-plot";
    this.plot.setAttribute("aria-hidden", "true");  // each map's box is its named image
    this.plot.style.position = "absolute";
    this.plot.style.left = "0";
    this.plot.style.top = "0";
    this.layer = document.createElement("div");
    this.el.append(this.plot, this.layer);
    parent.appendChild(this.el);
    this.maps = [];
    this.drawnKey = null;
  }

  // Place maps of `specs` (Grid's options, plus `props` copied onto each map), `per` a row.
  layout(specs, per) {
    while (this.maps.length > specs.length) this.maps.pop().remove();
    while (this.maps.length < specs.length) this.maps.push(new PanelMap(this));
    let x = 0;
    let y = 0;
    let lineH = 0;
    let width = 0;
    specs.forEach((spec, i) => {
      if (i && i % per === 0) {
        x = 0;
        y += lineH + MAP_GAP;
        lineH = 0;
      }
      const map = this.maps[i];
      map.place(x, y, spec);
      Object.assign(map, spec.props);
      x += map.width + MAP_GAP;
      width = Math.max(width, x - MAP_GAP);
      lineH = Math.max(lineH, MAP_LABEL + map.height);
    });
    this.width = width;
    this.height = y + lineH;
    this.el.style.width = `${this.width}px`;
    this.el.style.height = `${this.height}px`;
    return this.maps;
  }

  // Draw every map: `items[i]` = {z, zmax, zmin, colorscale, text, xticks, yticks, key};
  // `font`, `least` as for Grid.draw.  Skipped when nothing drawn would change.
  draw(items, {font, least = 9}) {
    const key = JSON.stringify([items.map((it) => [it.key, it.zmin, it.zmax]), font, least,
                                this.maps.map((m) => [m.x, m.y, m.rows, m.cols, m.cs, m.ch])]);
    if (key === this.drawnKey) return null;
    this.drawnKey = key;
    items = items.map((it) => (it.make ? {...it, ...it.make()} : it));
    const W = Math.max(1, this.width);
    const H = Math.max(1, this.height);
    const traces = [];
    const layout = {width: W, height: H, margin: {l: 0, r: 0, t: 0, b: 0, pad: 0},
                    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
                    showlegend: false};
    items.forEach((it, i) => {
      const m = this.maps[i];
      const n = i ? String(i + 1) : "";
      const x0 = m.x + m.margin.l;
      const y0 = m.y + MAP_LABEL + m.margin.t;
      const x1 = x0 + m.cols * m.cs;
      const y1 = y0 + m.rows * m.ch;
      const zmin = it.zmin === undefined ? -it.zmax : it.zmin;
      const trace = {type: "heatmap", z: it.z, zmin, zmax: it.zmax,
                     colorscale: it.colorscale || COLORSCALE, showscale: false,
                     hoverinfo: "skip", x0: 0, dx: 1, y0: 0, dy: 1, xaxis: `x${n}`,
                     yaxis: `y${n}`};
      m.labels = it.text ? cellLabels(it.text, m.cs, m.ch, font, least) : null;
      setCells(m, {z: it.z, zmin, zmax: it.zmax, colorscale: trace.colorscale,
                   values: it.values || it.text, rowNames: it.rowNames, colNames: it.colNames});
      traces.push(trace);
      const axis = (count, ticks, reversed, domain, anchor) => ({
        domain, anchor, range: reversed ? [count - 0.5, -0.5] : [-0.5, count - 0.5],
        fixedrange: true, showgrid: false, zeroline: false, automargin: false,
        tickmode: "array", tickvals: ticks[0], ticktext: ticks[1], showline: false,
        tickfont: {size: Math.max(10, Math.round(font * 0.75))}, ticklen: 3,
      });
      layout[`xaxis${n}`] = axis(m.cols, it.xticks, false, [x0 / W, Math.min(1, x1 / W)],
                                 `y${n}`);
      layout[`yaxis${n}`] = axis(m.rows, it.yticks, true,
                                 [Math.max(0, 1 - y1 / H), 1 - y0 / H], `x${n}`);
    });
    this.plot.__drawn = (this.plot.__drawn || 0) + 1;  // the recorder's cue to take it again
    return window.Plotly.react(this.plot, traces, layout,
                               {staticPlot: true, displayModeBar: false, responsive: false});
  }

  remove() {
    if (window.Plotly) window.Plotly.purge(this.plot);
    this.el.remove();
  }
}


// The diverging scale as a lookup table: `n` RGB triplets from the most negative (index 0)
// through white (the middle) to the most positive, for views that paint pixels themselves.
export function colorTable(n = 256) {
  const stops = RDBU.map((c) => c.slice(4, -1).split(",").map(Number));
  const table = new Uint8ClampedArray(n * 3);
  for (let i = 0; i < n; i++) {
    const x = (i / (n - 1)) * (stops.length - 1);
    const j = Math.min(stops.length - 2, Math.floor(x));
    for (let q = 0; q < 3; q++) {
      table[i * 3 + q] = Math.round(stops[j][q] + (stops[j + 1][q] - stops[j][q]) * (x - j));
    }
  }
  return table;
}
