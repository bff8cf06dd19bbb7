// The receptive-field view: every level of a stack (the input, then each layer's output, in
// that order) as a plotly.js heatmap; hovering a cell lights, on every level below it, the
// cells that reach it with their path counts (the effective receptive field), and on every
// level above it the cells it reaches — computed here from the scene's geometry (stack.js),
// with no round trip to the server.  Clicking an output cell of the last layer pins it; the
// pinned cell is reported to Streamlit (debounced) so the URL follows.
//
// Like the explorer: plotly draws each level once per scene, the heat is drawn on a canvas laid
// exactly over the plot area, and cell <-> pixel mapping is ours (fixed margins and ranges).

import {ViewBase, mountView} from "./component.js";
import {inkOn, parseColor} from "./contrast.js";
import {fmt, idx} from "./format.js";
import {unravel} from "./geometry.js";
import {Grid} from "./grid.js";
import {fieldOf, levelCounts, reachOf} from "./stack.js";

const RF_MARGIN = {l: 34, r: 6, t: 4, b: 22};
const RF_MARGIN_1D = {...RF_MARGIN, l: 78};  // room for "layer 8" and "k31 d64" beside a strip
const RF_BASE = [[0, "rgb(246,246,246)"], [1, "rgb(246,246,246)"]];
const RF_HEAT = ["#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
                 "#bd0026", "#800026"];
const RF_HOVER = "#7b2cbf";
const RF_RANGE = "#111111";
const RF_MIN_LEVEL_PX = 96;  // a level of few cells is drawn at least this wide: hoverable

// What differs between the ranks' layouts of levels (the scene's `layout`, from the rank table
// app/shared/ranks.py): how the levels are built, the names beside a level's rows and how a
// span of cells is written.
const RF_LAYOUTS = {
  strip: {  // 1-D: every level a strip, one under the other, named beside it
    build: (view, width) => view.buildStrips(width),
    rowNames: (view, g) => [[0], [view.stripName(g.level)]],
    where: (spans) => `${spans[0]}`,
  },
  grid: {  // 2-D: every level a grid, left to right, wrapping
    build: (view, width) => view.buildGrids(width),
    rowNames: () => null,
    where: (spans) => `rows ${spans[0]} \u00d7 cols ${spans[1]}`,
  },
};

function heatColor(ratio) {
  const i = Math.min(RF_HEAT.length - 1, Math.max(0, Math.round(ratio * (RF_HEAT.length - 1))));
  return RF_HEAT[i];
}

function levelName(l) {
  return l === 0 ? "input" : `layer ${l}`;
}

function roundTicks(n, cs, font) {
  const least = Math.max(1, (font * 2.6) / Math.max(cs, 0.01));
  const nice = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500];
  const step = nice.find((v) => v >= least) || 1000;
  const vals = [];
  for (let i = 0; i < n; i += step) vals.push(i);
  return [vals, vals.map((v) => fmt(v))];
}

// One level's heatmap: a grid (grid.js) that knows its level and draws a blank base, the
// heat going on its dynamic canvas.
class LevelGrid extends Grid {
  constructor(parent, {level, rows, cols, cs, ch, label, name, margin}) {
    super(parent, {rows, cols, cs, ch, label, name, margin, className: "cx-rf-level",
                   indentLabel: true});
    this.level = level;
    this.el.setAttribute("data-level", String(level));
  }

  draw(font, yNames) {
    const gap = this.cs >= 6 ? 1 : 0;
    const z = Array.from({length: this.rows}, () => new Array(this.cols).fill(0));
    return super.draw(z, {
      zmin: 0, zmax: 1, colorscale: RF_BASE, font, xgap: gap,
      ygap: this.ch >= 6 && !yNames ? gap : 0,
      xticks: roundTicks(this.cols, this.cs, font),
      yticks: yNames || roundTicks(this.rows, this.ch, font),
    });
  }
}

class ReceptiveView extends ViewBase {
  constructor(root) {
    super(root);
    this.hover = null;
  }

  show(payload) {
    this.scene = payload.scene;
    this.rank = RF_LAYOUTS[this.scene.layout];
    this.top = this.scene.shapes.length - 1;
    const out = this.scene.shapes[this.top];
    const cell = payload.init && payload.init.cell;
    const ok = Array.isArray(cell) && cell.length === out.length &&
      cell.every((v, a) => Number.isInteger(v) && v >= 0 && v < out[a]);
    this.pinned = ok ? cell.slice() : out.map((n) => Math.floor((n - 1) / 2));
    this.hover = null;
    this.presenter = !!payload.presenter;
    this.build();
  }

  refresh(payload) {
    if (!!payload.presenter !== this.presenter) {
      this.presenter = !!payload.presenter;
      this.build();
    }
  }

  relayout() {
    this.build();
  }

  reportName() {
    return "cell";
  }

  viewState() {
    return {cell: this.pinned.slice()};
  }

  // ------------------------------------------------------------------ layout

  heightBudget() {
    const top = this.root.getBoundingClientRect().top + window.scrollY;
    // room for the bar and the caption, whose length we know (hover may make it longer)
    const width = Math.max(280, this.root.clientWidth || 800);
    const {level, index} = this.shown();
    const chars = this.describe(fieldOf(this.scene, level, index)).length + 30;
    const lines = Math.ceil((chars * 0.62 * this.infoFont) / (width - 40));
    const reserve = 60 + lines * this.infoFont * 1.45 + 30;
    const h = (window.innerHeight || 800) - Math.max(0, Math.min(top, 260)) - reserve;
    return this.presenter ? Math.max(200, h) : Math.max(260, Math.min(h, 720));
  }

  build() {
    if (!this.scene) return;
    const s = this.scene;
    const root = this.root;
    root.classList.toggle("cx-presenter", this.presenter);
    root.replaceChildren();
    this.font = this.presenter ? 20 : 13;
    this.infoFont = this.presenter ? 22 : 15;
    this.buildBar();
    this.stage = document.createElement("div");
    this.stage.className = `cx-rf-stage cx-nd${s.ndim}`;
    root.appendChild(this.stage);
    this.info = document.createElement("div");
    this.info.className = "cx-eq cx-rf-info";
    this.info.setAttribute("data-testid", "cx-rf-info");
    this.info.style.fontSize = `${this.infoFont}px`;
    this.tip = document.createElement("div");
    this.tip.className = "cx-tip";
    const width = Math.max(280, root.clientWidth || 800);
    this.grids = [];
    this.rank.build(this, width);
    root.append(this.info, this.tip);
    for (const g of this.grids) g.draw(this.font, this.rank.rowNames(this, g));
    this.bindHover();
    this.render();
  }

  buildBar() {
    const bar = document.createElement("div");
    bar.className = "cx-bar";
    const hint = document.createElement("span");
    hint.className = "cx-info";
    hint.textContent = "hover any cell \u00b7 click an output cell to pin it \u00b7 arrows move it";
    const copy = document.createElement("button");
    copy.type = "button";
    copy.textContent = "Copy link";
    copy.setAttribute("data-testid", "cx-copy");
    copy.addEventListener("click", () => this.copyLink());
    this.copied = document.createElement("span");
    this.copied.className = "cx-copied";
    bar.append(hint, copy, this.copied);
    this.root.appendChild(bar);
  }

  buildStrips(width) {
    const s = this.scene;
    const longest = Math.max(...s.shapes.map((sh) => sh[0]));
    const m = RF_MARGIN_1D;
    const cs = Math.max(0.5, Math.min((width - m.l - m.r - 8) / longest, 72));
    const levels = s.shapes.length;
    const rowRoom = (this.heightBudget() - levels * (m.t + m.b + 6)) / levels;
    const ch = Math.max(this.presenter ? 30 : 22, Math.min(Math.max(cs, 22), 56, rowRoom));
    this.cs = cs;
    s.shapes.forEach((shape, l) => {
      const g = new LevelGrid(this.stage, {level: l, rows: 1, cols: shape[0], cs, ch,
                                           label: null, margin: m,
                                           name: `${this.levelLabel(l)}, ${shape[0]} cells`});
      g.spot = (p) => [0, p[0]];
      g.index = (cell) => [cell[1]];
      this.grids.push(g);
    });
  }

  buildGrids(width) {
    const s = this.scene;
    const m = RF_MARGIN;
    const gap = 24;  // to the next level (the row's CSS gap, 1.25rem, and a little)
    const rowExtra = m.t + m.b + 24;  // label and tick labels
    // a level is as wide as its plot or its label (over the plot area), whichever is wider
    const measure = document.createElement("canvas").getContext("2d");
    measure.font = `${parseFloat(getComputedStyle(this.root).fontSize) * 0.8}px sans-serif`;
    const labelWidth = s.shapes.map((_, l) => measure.measureText(this.levelLabel(l)).width * 1.1);
    const hb = this.heightBudget();
    const narrow = width < 700;
    // Every level in order (input, layer 1, …, output), left to right, wrapping: one cell size
    // for all (a strided stack shrinks before the eye), the largest whose rows fit the width
    // and, but on a phone, the height; a level of few cells keeps RF_MIN_LEVEL_PX.
    const size = (l, cs) => Math.min(72, Math.max(cs, RF_MIN_LEVEL_PX / Math.max(...s.shapes[l])));
    const fits = (cs) => {
      let rowW = 0;
      let rowH = 0;
      let total = 0;
      for (let l = 0; l < s.shapes.length; l++) {
        const [h, w] = s.shapes[l];
        const lw = Math.max(m.l + w * size(l, cs) + m.r, m.l + labelWidth[l]) + gap;
        if (lw > width) return false;
        if (rowW + lw > width) {
          total += rowH;
          rowW = 0;
          rowH = 0;
        }
        rowW += lw;
        rowH = Math.max(rowH, h * size(l, cs) + rowExtra);
      }
      return narrow || total + rowH <= hb;
    };
    let lo = 1;
    let hi = 72;
    if (fits(hi)) lo = hi;
    for (let i = 0; i < 30 && hi - lo > 0.05; i++) {
      const mid = (lo + hi) / 2;
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
    this.cs = lo;
    const row = document.createElement("div");
    row.className = "cx-rf-row";
    this.stage.appendChild(row);
    s.shapes.forEach(([h, w], l) => {
      const g = new LevelGrid(row, {level: l, rows: h, cols: w, cs: size(l, lo),
                                    label: this.levelLabel(l), margin: m,
                                    name: `${this.levelLabel(l)}, ${h} by ${w}`});
      g.spot = (p) => p;
      g.index = (cell) => cell;
      this.grids[l] = g;
    });
  }

  // A 1-D strip's name beside it: the level and its layer's settings, on two lines.
  stripName(l) {
    if (l === 0) return `input<br>L=${this.scene.shapes[0][0]}`;
    const L = this.scene.layers[l - 1];
    const parts = [`k${L.kernel[0]}`];
    if (L.stride[0] !== 1) parts.push(`s${L.stride[0]}`);
    if (L.dilation[0] !== 1) parts.push(`d${L.dilation[0]}`);
    if (L.pads[0][0] !== 0) parts.push(`p${L.pads[0][0]}`);
    return `layer ${l}<br>${parts.join(" ")}`;
  }

  levelLabel(l) {
    const shape = this.scene.shapes[l].join("\u00d7");
    if (l === 0) return `input (${shape})`;
    const L = this.scene.layers[l - 1];
    const one = (v) => (new Set(v).size === 1 ? String(v[0]) : v.join(","));
    let text = `layer ${l}: k${one(L.kernel)}`;
    if (L.stride.some((v) => v !== 1)) text += ` s${one(L.stride)}`;
    if (L.dilation.some((v) => v !== 1)) text += ` d${one(L.dilation)}`;
    const pads = L.pads.map((p) => p[0]);
    if (pads.some((v) => v !== 0)) text += ` p${one(pads)}`;
    return `${text} \u2192 ${shape}${l === this.top ? " (output)" : ""}`;
  }

  // ------------------------------------------------------------------ drawing

  shown() {
    return this.hover || {level: this.top, index: this.pinned};
  }

  render() {
    const t0 = performance.now();
    const {level, index} = this.shown();
    const field = fieldOf(this.scene, level, index);
    const reach = level < this.top ? reachOf(this.scene, level, index) : null;
    this.field = field;
    this.reach = reach;
    for (const g of this.grids) {
      g.clear();
      if (g.level <= level) this.drawHeat(g, field.axes, g.level < level);
      else this.drawHeat(g, reach.axes, true);
    }
    const g = this.grids[level];
    const [r, c] = g.spot(index);
    g.rect(g.ctx, r, c, 1, 1, {stroke: RF_HOVER, width: 3});
    if (level === this.top || this.hover === null) {
      const [pr, pc] = this.grids[this.top].spot(this.pinned);
      const top = this.grids[this.top];
      top.rect(top.ctx, pr, pc, 1, 1, {stroke: RF_HOVER, width: 2, dash: [4, 3]});
    }
    this.info.textContent = this.describe(field, reach);
    const d = this.root.dataset;
    d.level = String(level);
    d.cell = JSON.stringify(index);
    d.first = JSON.stringify(field.first);
    d.last = JSON.stringify(field.last);
    d.pinned = JSON.stringify(this.pinned);
    d.hover = this.hover ? "1" : "";
    if (!this.hover) this.a11y.step(this.info.textContent, false);  // the pinned cell's field
    this.a11y.afterRender();
    this.lastRenderMs = performance.now() - t0;
  }

  // Path counts on level g (a field's below the shown cell, a reach's above it) and, when
  // `outline`, the range they span.
  drawHeat(g, axes, outline) {
    const s = this.scene;
    const counts = levelCounts(axes, g.level);
    let top = 0;
    for (const v of counts) if (v > top) top = v;
    const shape = s.shapes[g.level];
    const label = g.cs >= 16 && g.ch >= 14;
    const ctx = g.ctx;
    const size = Math.min(this.font, g.ch / 1.8, g.cs / 2.2);
    if (label) {
      ctx.font = `${Math.round(size)}px sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
    }
    for (let i = 0; i < counts.length; i++) {
      const v = counts[i];
      if (v === 0) continue;
      const [r, c] = g.spot(unravel(i, shape));
      const ratio = top > 1 ? Math.log(v) / Math.log(top) : 1;
      const fill = heatColor(0.15 + 0.85 * ratio);
      g.rect(g.ctx, r, c, 1, 1, {fill});
      if (label) {
        const text = fmt(v);
        if (text.length * size * 0.6 <= g.cs - 2) {
          ctx.fillStyle = inkOn(parseColor(fill));
          ctx.fillText(text, (c + 0.5) * g.cs, (r + 0.5) * g.ch);
        }
      }
    }
    // the range the window spans on this level, clipped to the level (dashed where the range
    // runs on into padding); a reach's range is the cells reached (none: no outline)
    const ranges = axes.map((x) => x.ranges[g.level]);
    if (!outline || top === 0) return;
    const lo = ranges.map(([a], k) => Math.max(0, Math.min(a, shape[k] - 1)));
    const hi = ranges.map(([, b], k) => Math.max(0, Math.min(b, shape[k] - 1)));
    const cut = ranges.some(([a, b], k) => a < 0 || b >= shape[k]);
    const [r0, c0] = g.spot(lo);
    const [r1, c1] = g.spot(hi);
    g.rect(g.ctx, r0, c0, r1 - r0 + 1, c1 - c0 + 1,
           {stroke: RF_RANGE, width: 2, dash: cut ? [6, 4] : []});
  }

  describe(field, reach = null) {
    const s = this.scene;
    const shape = s.shapes[0];
    const reaches = reach ? this.describeReach(reach) : "";
    if (field.level === 0) {
      return `input cell (${idx(field.index)}) ${reaches || "reaches no output cell"}.`;
    }
    const span = field.first.map((a, k) => `${fmt(a)}\u2013${fmt(field.last[k])}`);
    const sizes = field.first.map((a, k) => field.last[k] - a + 1);
    let reached = 0;
    let total = 0;
    let most = 0;
    let at = 0;
    field.input.forEach((v, i) => {
      if (v > 0) reached += 1;
      total += v;
      if (v > most) {
        most = v;
        at = i;
      }
    });
    const where = `input ${this.rank.where(span)}`;
    const outside = field.first.some((a, k) => a < 0 || field.last[k] >= shape[k]);
    let text = `${levelName(field.level)} cell (${idx(field.index)}) sees ${where} ` +
      `(${sizes.join(" \u00d7 ")} cells${outside ? ", part of it padding" : ""})`;
    const L = s.layers[field.level - 1];
    const one = (v) => (new Set(v).size === 1 ? fmt(v[0]) : `(${v.map(fmt).join(", ")})`);
    text += ` \u2014 size ${one(L.size)}, jump ${one(L.jump)}, start ${one(L.start)}. ` +
      `${fmt(reached)} input cell${reached === 1 ? "" : "s"} reach it through ` +
      `${fmt(total)} path${total === 1 ? "" : "s"}`;
    if (reached) text += ` (most: ${fmt(most)} through (${idx(unravel(at, shape))}))`;
    return reaches ? `${text}; it ${reaches}.` : `${text}.`;
  }

  // "reaches 9 output cells (rows 2–4 × cols 2–4) through 27 paths"
  describeReach(reach) {
    let cells = 0;
    let paths = 0;
    for (const v of reach.output) {
      if (v > 0) cells += 1;
      paths += v;
    }
    if (!cells) return "";
    const spans = reach.axes.map((x) => x.ranges[this.top]).map(([a, b]) =>
      (a === b ? fmt(a) : `${fmt(a)}\u2013${fmt(b)}`));
    const where = this.rank.where(spans);
    return `reaches ${fmt(cells)} output cell${cells === 1 ? "" : "s"} (${where}) through ` +
      `${fmt(paths)} path${paths === 1 ? "" : "s"}`;
  }

  // ------------------------------------------------------------------ hover, pin, keys

  hitTest(event) {
    for (const g of this.grids) {
      if (event.target !== g.dyn) continue;
      const cell = g.cellAt(event);
      return cell ? this.targetAt(g, cell) : null;
    }
    return null;
  }

  // the keyboard cursor (a11y.js) points as the mouse does
  targetAt(g, cell) {
    return {level: g.level, index: g.index(cell)};
  }

  cursorGrids() {
    return this.grids;
  }

  cursorStart() {
    return {g: this.top, cell: this.grids[this.top].spot(this.pinned)};
  }

  tipText(h) {
    const n = this.field.input.reduce((a, v) => a + (v > 0), 0);
    const out = this.reach ? this.reach.output.reduce((a, v) => a + (v > 0), 0) : 0;
    return `${levelName(h.level)} (${idx(h.index)}): ` + (h.level === 0 ?
      `reaches ${out} output cell${out === 1 ? "" : "s"}` :
      `${n} input cell${n === 1 ? "" : "s"} reach it`) +
      (h.level === this.top ? " \u2014 click to pin" : "");
  }

  // The mouse and the keyboard cursor: show the field of `h` and its tooltip at `at`.
  hoverAt(h, at) {
    if (JSON.stringify(h) !== JSON.stringify(this.hover)) {
      this.hover = h;
      this.tipDismissed = false;
      this.render();
    }
    if (h && !this.tipDismissed) {
      this.showTip(this.tipText(h), at);
    } else {
      this.tip.style.display = "none";
    }
  }

  activate(h) {
    if (h.level === this.top) this.pin(h.index);
  }

  bindHover() {
    const move = (e) => this.hoverAt(this.hitTest(e), {x: e.clientX, y: e.clientY});
    const leave = () => this.hoverAt(null, null);
    const click = (e) => {
      const h = this.hitTest(e);
      if (h) this.activate(h);
    };
    for (const g of this.grids) {
      g.dyn.addEventListener("mousemove", move);
      g.dyn.addEventListener("mouseleave", leave);
      g.dyn.addEventListener("click", click);
    }
  }

  pin(index) {
    const out = this.scene.shapes[this.top];
    this.pinned = index.map((v, a) => Math.min(Math.max(0, v), out[a] - 1));
    this.render();
    this.scheduleReport();
  }

  onKey(e) {
    if (!this.scene) return;
    if (e.key === "Escape") {  // dismiss the tooltip where the pointer still is
      this.tipDismissed = true;
      this.tip.style.display = "none";
      return;
    }
    const out = this.scene.shapes[this.top];
    const moves = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0]};
    const m = moves[e.key];
    if (!m || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const step = out.length === 1 ? [m[1] || m[0]] : m;
    this.pin(this.pinned.map((v, a) => v + step[a]));
  }

  link() {
    const u = new URL(window.location.href);
    u.searchParams.set("cell", this.pinned.join(","));
    return u.toString();
  }

}

export function mount(component) {
  return mountView(ReceptiveView, component, {rootClass: "cx-root cx-rf-root",
                                              testId: "cx-rf-root",
                                              label: "receptive field view"});
}
