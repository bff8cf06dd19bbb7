// Where the 2-D explorer's panels go: the input maps of the group, their kernels, the output
// maps and the partial sums, arranged to give the cells the largest size that fits the width
// and the height there is (a projector's 1280x720 included).  Pure arithmetic, no DOM.
//
// Candidates: one row (inputs | kernels | outputs | partial sums), or two rows (inputs and
// kernels over outputs and partial sums; or inputs over kernels, outputs and partial sums),
// each with every number of map columns.  Input and output cells share one size (so a stride
// shows as a smaller output); kernels get theirs (readable even beside a 256x256 image).

import {MAP_GAP, MAP_LABEL} from "./grid.js";

export const PANEL_GAP = 20;  // between panels in a row
export const ROW_GAP = 10;  // between rows of panels
export const TITLE = 20;  // a panel's title line

// A panel of `n` maps of rows x cols cells of size `c`, `per` maps to a row, under a title
// line of `title` pixels.
export function mapsBox(n, per, rows, cols, c, margin, title = TITLE) {
  const lines = Math.ceil(n / per);
  const w = per * (margin.l + cols * c + margin.r) + (per - 1) * MAP_GAP;
  const h = title + lines * (MAP_LABEL + margin.t + rows * c + margin.b) + (lines - 1) * MAP_GAP;
  return {w, h};
}

function arrangementBox(kind, b) {
  const row = (...xs) => ({w: xs.reduce((a, x) => a + x.w, 0) + (xs.length - 1) * PANEL_GAP,
                          h: Math.max(...xs.map((x) => x.h))});
  const stack = (...xs) => ({w: Math.max(...xs.map((x) => x.w)),
                            h: xs.reduce((a, x) => a + x.h, 0) + (xs.length - 1) * ROW_GAP});
  if (kind === "row") return row(b.in, b.k, b.out, b.ps);
  if (kind === "in-k/out-ps") return stack(row(b.in, b.k), row(b.out, b.ps));
  if (kind === "in/k-out-ps") return stack(b.in, row(b.k, b.out, b.ps));
  return stack(b.in, b.k, b.out, b.ps);  // "stack": one column (phones)
}

// spec: {width, height, maps, inRows, inCols, outs, outRows, outCols, kRows, kCols,
//        psWidth, psHeight, minK, maxCell, margin, narrow, title (px of a panel's title)}
// Returns {kind, inPer, outPer, c, ck, w, h}: the arrangement, maps per row, cell sizes.
export function layout2d(spec) {
  const kinds = spec.narrow ? ["stack"] : ["row", "in-k/out-ps", "in/k-out-ps"];
  const m = spec.margin;
  const title = spec.title === undefined ? TITLE : spec.title;
  const ps = {w: spec.psWidth, h: spec.psHeight};
  // kernels: at least minK per cell (their values stay legible) unless even that does not fit
  const kMax = Math.max(2, Math.min(64, (spec.width * 0.4) / Math.max(1, spec.kCols),
                                    (spec.height * 0.8) / Math.max(1, spec.kRows)));
  const ckOf = (c) => Math.min(kMax, Math.max(c, spec.minK), 64);
  let best = null;
  for (const kind of kinds) {
    for (let inPer = 1; inPer <= spec.maps; inPer++) {
      if (inPer > 1 && Math.ceil(spec.maps / inPer) === Math.ceil(spec.maps / (inPer - 1))) {
        continue;  // the same number of lines as one column fewer: only wider
      }
      for (let outPer = 1; outPer <= spec.outs; outPer++) {
        if (outPer > 1 && Math.ceil(spec.outs / outPer) ===
            Math.ceil(spec.outs / (outPer - 1))) continue;
        const boxAt = (c) => {
          const ck = ckOf(c);
          return arrangementBox(kind, {
            in: mapsBox(spec.maps, inPer, spec.inRows, spec.inCols, c, m, title),
            k: mapsBox(spec.maps, inPer, spec.kRows, spec.kCols, ck, m, title),
            out: mapsBox(spec.outs, outPer, spec.outRows, spec.outCols, c, m, title),
            ps,
          });
        };
        const fits = (c) => {
          const b = boxAt(c);
          return b.w <= spec.width && (spec.narrow || b.h <= spec.height);
        };
        let lo = 0.25;
        let hi = spec.maxCell;
        if (!fits(lo)) continue;
        if (fits(hi)) lo = hi;
        for (let i = 0; i < 30 && hi - lo > 0.05; i++) {
          const mid = (lo + hi) / 2;
          if (fits(mid)) lo = mid;
          else hi = mid;
        }
        const c = Math.floor(lo * 4) / 4;
        const b = boxAt(c);
        const better = !best || c > best.c + 0.01 ||
          (Math.abs(c - best.c) <= 0.01 && b.w * b.h < best.w * best.h);
        if (better) best = {kind, inPer, outPer, c, ck: ckOf(c), w: b.w, h: b.h};
      }
    }
  }
  if (!best) {  // nothing fits even at a quarter pixel: one column, as small as it gets
    best = {kind: "stack", inPer: 1, outPer: 1, c: 0.5, ck: ckOf(0.5), w: 0, h: 0};
  }
  return best;
}
