// Keyboard and screen-reader access, one per view (component.js's ViewBase makes it):
//
//  - keys: which key presses belong to the control they come from (a button presses with Space
//    and Enter, a text field types, a range slides: the browser's own behaviour) and which are
//    the view's;
//  - a keyboard cursor over every grid of the view (the stage is one tab stop): the arrow keys
//    move it, G / Shift+G switch grids, Enter does what a click does, Escape clears.  Where the
//    cursor is, the view shows exactly what hovering that cell shows — the same call, the
//    view's hoverAt — tooltip included; the cell is announced with its value and role;
//  - two polite live regions: the step and its equation (at most one announcement every 2 s
//    while playing), and the cursor's cell;
//  - every grid's values as a table, visually hidden (assistive technology reads it; each
//    drawn map is one image named like the table).
//
// A view taking part provides cursorGrids() (grids with rows, cols, cs, ch, dyn, ctx, name,
// values), targetAt(grid, cell), hoverAt(target, point), activate(target), tipText(target) and
// a `stage` element; it calls afterRender() at the end of each redraw.

import {fmt} from "./format.js";

export const KEYS_HELP = "Grids: the arrow keys move a cursor over the cells, G and Shift+G " +
  "switch grids, Enter pins the cell (on an output cell: goes to its step), Escape clears. " +
  "Anywhere in the view: Page Up and Page Down (and the left and right arrows outside the " +
  "grids) step, Home and End go to the first and last step, Space plays or pauses.";
const MAX_TABLE_CELLS = 1024;
const PLAY_ANNOUNCE_MS = 2000;
let ids = 0;

// Does the focused element own this key, so that the browser's behaviour must happen?
export function ownsKey(target, key) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable) return true;
  if (tag === "INPUT") {
    if (target.type === "range") {
      return key.startsWith("Arrow") || ["Home", "End", "PageUp", "PageDown"].includes(key);
    }
    if (target.type === "checkbox" || target.type === "radio") return key === " ";
    return true;  // a text field types
  }
  if (tag === "BUTTON" || tag === "A" || tag === "SUMMARY") return key === " " || key === "Enter";
  return false;
}

function hidden(tag, parent, testId) {
  const e = document.createElement(tag);
  e.className = "cx-sr";
  if (testId) e.setAttribute("data-testid", testId);
  parent.appendChild(e);
  return e;
}

// A grid's kind in words, for announcements.
const KINDS = {input: "input", kernel: "kernel", output: "output", omap: "output map"};

export class Access {
  constructor(view) {
    this.view = view;
    // beside the view's root (which views rebuild): live regions keep their place in the page
    this.aside = document.createElement("div");
    this.aside.className = "cx-a11y";
    view.root.after(this.aside);
    this.help = hidden("div", this.aside);
    this.help.id = `cx-keys-${++ids}`;
    this.help.textContent = KEYS_HELP;
    this.live = hidden("div", this.aside, "cx-live");
    this.live.setAttribute("role", "status");
    this.live.setAttribute("aria-live", "polite");
    this.liveCell = hidden("div", this.aside, "cx-live-cell");
    this.liveCell.setAttribute("aria-live", "polite");
    this.tables = hidden("div", this.aside, "cx-tables");
    this.cursor = null;  // {g: index into cursorGrids(), cell: [row, col]}
    this.stage = null;
    this.announced = 0;
    this.tablesKey = null;
  }

  // ------------------------------------------------------------------ the stage and its keys

  bindStage(stage) {
    if (this.stage === stage) return;
    this.stage = stage;
    stage.tabIndex = 0;
    stage.setAttribute("role", "application");
    stage.setAttribute("aria-roledescription", "grids");
    stage.setAttribute("aria-label", "grids of the view: arrow keys move the cursor");
    stage.setAttribute("aria-describedby", this.help.id);
    stage.setAttribute("data-testid", "cx-grids");
    // a click focuses the stage too (not :focus-visible then): the mouse points, not the
    // cursor, until the first key press
    stage.addEventListener("focus", () => {
      if (!stage.matches(":focus-visible")) return;
      if (!this.cursor) this.cursor = this.start();
      this.point();
    });
    stage.addEventListener("blur", () => {
      if (!this.cursor || !this.view.scene) return;
      this.view.hoverAt(null, null);
    });
  }

  grids() {
    return (this.view.cursorGrids ? this.view.cursorGrids() : []).filter(Boolean);
  }

  start() {
    const at = this.view.cursorStart ? this.view.cursorStart() : null;
    return at || {g: 0, cell: [0, 0]};
  }

  // The cursor's keys, when the stage has the focus; true when the key was the cursor's.
  key(e) {
    if (!this.stage || e.target !== this.stage || e.altKey || e.ctrlKey || e.metaKey) {
      return false;
    }
    const moves = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0]};
    const grids = this.grids();
    if (!grids.length) return false;
    if (!this.cursor) this.cursor = this.start();
    const cur = this.cursor;
    if (moves[e.key]) {
      const g = grids[Math.min(cur.g, grids.length - 1)];
      const [dr, dc] = moves[e.key];
      cur.cell = [Math.min(Math.max(0, cur.cell[0] + dr), g.rows - 1),
                  Math.min(Math.max(0, cur.cell[1] + dc), g.cols - 1)];
    } else if (e.key === "g" || e.key === "G") {
      const n = grids.length;
      cur.g = (cur.g + (e.shiftKey ? n - 1 : 1)) % n;
      const g = grids[cur.g];
      cur.cell = [Math.min(cur.cell[0], g.rows - 1), Math.min(cur.cell[1], g.cols - 1)];
      cur.named = false;
    } else if (e.key === "Enter") {
      const h = this.target();
      e.preventDefault();
      if (h) this.view.activate(h);
      this.point();
      return true;
    } else if (e.key === "Escape") {
      this.view.hoverAt(null, null);
      return false;  // the view clears its pin too
    } else {
      return false;
    }
    e.preventDefault();
    this.point();
    return true;
  }

  target() {
    const grids = this.grids();
    const cur = this.cursor;
    if (!cur || !grids.length) return null;
    cur.g = Math.min(cur.g, grids.length - 1);
    const g = grids[cur.g];
    cur.cell = [Math.min(cur.cell[0], g.rows - 1), Math.min(cur.cell[1], g.cols - 1)];
    return this.view.targetAt(g, cur.cell);
  }

  // Show what hovering the cursor's cell shows (the view's own hover call, its tooltip beside
  // the cell) and announce the cell.
  point() {
    const grids = this.grids();
    const cur = this.cursor;
    if (!cur || !grids.length) return;
    const h = this.target();
    const g = grids[cur.g];
    const b = g.dyn.getBoundingClientRect();
    this.view.hoverAt(h, {x: b.left + (cur.cell[1] + 1) * g.cs - 10,
                          y: b.top + (cur.cell[0] + 1) * g.ch - 12});
    const kind = KINDS[g.kind] || "";
    const what = h ? this.view.tipText(h).replace(/ \u2014 click.*$/, "")
      .replaceAll(" \u00b7 ", ", ") : "no cell here";
    const where = cur.named ? "" : `${g.name || kind}. `;
    cur.named = true;
    this.liveCell.textContent = `${where}${kind ? kind + " " : ""}${what}`;
    this.root().dataset.cursor = JSON.stringify([cur.g, ...cur.cell]);
  }

  root() {
    return this.view.root;
  }

  // Escape: the pin and the tooltip go; the cursor stays where it is (the next key moves it
  // from there, naming its grid again)
  clear() {
    if (this.cursor) this.cursor.named = false;
  }

  // ------------------------------------------------------------------ after each redraw

  afterRender() {
    const grids = this.grids();
    if (this.view.stage) this.bindStage(this.view.stage);
    const cur = this.cursor;
    if (cur && this.stage && document.activeElement === this.stage && grids[cur.g]) {
      const g = grids[cur.g];
      const [r, c] = cur.cell;
      const ctx = g.ctx;
      // a ring of black and white: >= 3:1 against any colour beside it
      ctx.lineWidth = 3;
      ctx.strokeStyle = "#000";
      ctx.strokeRect(c * g.cs + 1.5, r * g.ch + 1.5, g.cs - 3, g.ch - 3);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#fff";
      ctx.strokeRect(c * g.cs + 3.75, r * g.ch + 3.75, Math.max(1, g.cs - 7.5),
                     Math.max(1, g.ch - 7.5));
    }
    for (const g of grids) if (g.refreshInk) g.refreshInk();
    this.scheduleTables(grids);
  }

  // ------------------------------------------------------------------ announcements

  // The step and its equation; while playing, at most one every PLAY_ANNOUNCE_MS (the last
  // one once Play stops is said at once).
  step(text, playing) {
    clearTimeout(this.stepTimer);
    const now = performance.now();
    const wait = playing ? this.announced + PLAY_ANNOUNCE_MS - now : 0;
    const say = () => {
      this.announced = performance.now();
      if (this.live.textContent !== text) this.live.textContent = text;
    };
    if (wait <= 0) say();
    else this.stepTimer = setTimeout(say, wait);
  }

  // ------------------------------------------------------------------ values as tables

  scheduleTables(grids) {
    const key = grids.map((g) => g.values);
    const same = this.tablesKey && key.length === this.tablesKey.length &&
      key.every((v, i) => v === this.tablesKey[i]) &&
      grids.every((g, i) => g.name === this.tableNames[i]);
    if (same) return;
    this.tablesKey = key;
    this.tableNames = grids.map((g) => g.name);
    clearTimeout(this.tablesTimer);
    // after the drawing: dragging a layer control does not wait for the tables
    this.tablesTimer = setTimeout(() => this.buildTables(grids), 120);
  }

  buildTables(grids) {
    const tables = [];
    for (const g of grids) {
      if (!g.values || !g.name) continue;
      const table = document.createElement("table");
      const caption = document.createElement("caption");
      caption.textContent = g.name;
      table.appendChild(caption);
      const rows = g.values.length;
      const cols = rows ? g.values[0].length : 0;
      if (rows * cols > MAX_TABLE_CELLS) {
        caption.textContent += ` \u2014 ${fmt(rows * cols)} cells, too many to list: move ` +
          "the cursor over the grid to read them";
        tables.push(table);
        continue;
      }
      const head = table.createTHead().insertRow();
      head.appendChild(document.createElement("td"));
      for (let c = 0; c < cols; c++) {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = g.colNames ? g.colNames[c] : `column ${c}`;
        head.appendChild(th);
      }
      const body = table.createTBody();
      for (let r = 0; r < rows; r++) {
        const tr = body.insertRow();
        const th = document.createElement("th");
        th.scope = "row";
        th.textContent = g.rowNames ? g.rowNames[r] : `row ${r}`;
        tr.appendChild(th);
        for (let c = 0; c < cols; c++) {
          const v = g.values[r][c];
          tr.insertCell().textContent = v === null || v === undefined ? "" : fmt(v);
        }
      }
      tables.push(table);
    }
    this.tables.replaceChildren(...tables);
  }
}
