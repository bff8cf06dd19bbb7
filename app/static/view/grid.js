// One heatmap drawn by plotly.js with canvases laid exactly over its plot area, shared by the
// explorer, transposed and receptive-field views.  Every heatmap has fixed margins and axis
// ranges, so cell <-> pixel mapping is ours and no plotly internals are read.

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

// Cell labels: each value as convcore writes it, at the largest size (at most `font`) at which
// most of them fit their cells; the few longer ones are shortened (the tooltip and the
// equation keep every digit).
function cellLabels(values, cs, ch, font) {
  const full = values.map((row) => row.map((v) => (v === null ? "" : fmt(v))));
  const lengths = full.flat().map((t) => t.length).sort((a, b) => a - b);
  // size for the typical label, but shorten rather than shrink below five characters
  const typical = Math.min(5, Math.max(1, lengths[Math.floor(lengths.length * 0.8)] || 1));
  const size = Math.floor(Math.min(font, ch / 1.8, (cs - 4) / (0.6 * typical)));
  if (size < 9) return null;
  const room = Math.floor((cs - 4) / (0.6 * size));
  const short = (v, text) => {
    if (text.length <= room) return text;
    for (let p = 3; p >= 1; p--) {
      const t = fmt(Number(v.toPrecision(p)));
      if (t.length <= room) return t;
    }
    const e = v.toExponential(0).replaceAll("-", "\u2212");
    return e.length <= room ? e : "\u2026";
  };
  return {size, text: values.map((row, r) => row.map((v, c) => (v === null ? "" :
    short(v, full[r][c]))))};
}

// One heatmap with its two canvases: a static one (redrawn per scene) and a dynamic one
// (redrawn per step or hover).  Cells are addressed in display units (row, col).
export class Grid {
  constructor(parent, {rows, cols, cs, ch, label, className, margin = MARGIN,
                       indentLabel = false}) {
    this.margin = margin;
    this.rows = rows;
    this.cols = cols;
    this.cs = cs;  // cell width
    this.ch = ch || cs;  // cell height (1-D strips are wider than a cell is tall)
    this.el = document.createElement("div");
    this.el.className = `cx-map ${className || ""}`;
    if (label) {
      const title = document.createElement("div");
      title.className = "cx-label";
      if (indentLabel) title.style.marginLeft = `${margin.l}px`;  // over the plot area
      title.textContent = label;
      this.el.appendChild(title);
    }
    this.box = document.createElement("div");
    this.box.className = "cx-box";
    this.plot = document.createElement("div");
    this.plot.className = "cx-plot";
    this.stat = document.createElement("canvas");
    this.dyn = document.createElement("canvas");
    this.box.append(this.plot, this.stat, this.dyn);
    this.el.appendChild(this.box);
    parent.appendChild(this.el);
    const w = cols * cs;
    const h = rows * this.ch;
    this.width = margin.l + w + margin.r;
    this.height = margin.t + h + margin.b;
    this.box.style.width = `${this.width}px`;
    this.box.style.height = `${this.height}px`;
    for (const c of [this.stat, this.dyn]) {
      const dpr = window.devicePixelRatio || 1;
      c.width = Math.max(1, Math.round(w * dpr));
      c.height = Math.max(1, Math.round(h * dpr));
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
      c.style.left = `${margin.l}px`;
      c.style.top = `${margin.t}px`;
      c.getContext("2d").setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    this.sctx = this.stat.getContext("2d");
    this.ctx = this.dyn.getContext("2d");
  }

  draw(z, {zmax, zmin = -zmax, colorscale = COLORSCALE, text, font, xticks, yticks,
            xgap = 0, ygap = 0}) {
    const trace = {
      type: "heatmap", z, zmin, zmax, colorscale, showscale: false,
      hoverinfo: "skip", x0: 0, dx: 1, y0: 0, dy: 1, xgap, ygap,
    };
    const labels = text ? cellLabels(text, this.cs, this.ch, font) : null;
    if (labels) {
      trace.text = labels.text;
      trace.texttemplate = "%{text}";
      trace.textfont = {size: labels.size};
    }
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
    return window.Plotly.react(this.plot, [trace], layout,
                               {staticPlot: true, displayModeBar: false, responsive: false});
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
