// The receptive field of one cell of a stack of convolutions, and its path counts, derived in
// the browser from the stack scene's geometry (app/scene.py, build_stack_scene) with the
// explorer's window rule (geometry.js) applied layer after layer — and the other way round, the
// cells of the levels above that one cell reaches.  Separable: each axis is worked out alone,
// a 2-D count is the product of its two axes' counts.
// tests/browser holds fieldOf and reachOf to convcore.cell_receptive_field.

import {isPadding, tapPosition, unpadded, windowTaps} from "./geometry.js";

// Axis `a` of layer `l` (0-based) as a 1-D window geometry (the fields windowTaps reads).
export function axisGeometry(scene, l, a) {
  const L = scene.layers[l];
  return {kernel: [L.kernel[a]], stride: [L.stride[a]], dilation: [L.dilation[a]],
          pads: [L.pads[a]], in_shape: [scene.shapes[l][a]],
          out_shape: [scene.shapes[l + 1][a]]};
}

// Along axis `a`: for cell `o` of level `level` (0 = the input, l = layer l's output), per
// level 0..level the number of paths from each cell to it (Float64Array), and the index range
// [first, last] its window spans there (padding included: first may be < 0).
export function axisField(scene, level, o, a) {
  const counts = new Array(level + 1);
  const ranges = new Array(level + 1);
  counts[level] = new Float64Array(scene.shapes[level][a]);
  counts[level][o] = 1;
  ranges[level] = [o, o];
  for (let l = level - 1; l >= 0; l--) {
    const g = axisGeometry(scene, l, a);
    const above = counts[l + 1];
    const here = new Float64Array(scene.shapes[l][a]);
    for (let q = 0; q < above.length; q++) {
      if (above[q] === 0) continue;
      for (const p of windowTaps(g, q)) {
        if (!isPadding(g, p)) here[unpadded(g, p)[0]] += above[q];
      }
    }
    counts[l] = here;
    // the range may run past this level's cells (into padding): the rule itself, not taps
    const [first, last] = ranges[l + 1];
    const pad = g.pads[0][0];
    ranges[l] = [tapPosition(first, 0, g.stride[0], g.dilation[0]) - pad,
                 tapPosition(last, g.kernel[0] - 1, g.stride[0], g.dilation[0]) - pad];
  }
  return {counts, ranges};
}

// The field of cell `index` (one index per axis) of level `level`: per axis the answer of
// axisField, the input range (first, last per axis) and the input's path counts, raster order.
export function fieldOf(scene, level, index) {
  const axes = index.map((o, a) => axisField(scene, level, o, a));
  return {
    level,
    index,
    axes,
    first: axes.map((x) => x.ranges[0][0]),
    last: axes.map((x) => x.ranges[0][1]),
    input: levelCounts(axes, 0),
  };
}

// Along axis `a`: from cell `i` of level `level` up to the output, per level level..top the
// number of paths from it to each cell (Float64Array; levels below `level` are left empty),
// and the index range [first, last] of the cells it reaches there ([-1, -1]: none).
export function axisReach(scene, level, i, a) {
  const top = scene.shapes.length - 1;
  const counts = new Array(top + 1);
  const ranges = new Array(top + 1);
  counts[level] = new Float64Array(scene.shapes[level][a]);
  counts[level][i] = 1;
  ranges[level] = [i, i];
  for (let l = level; l < top; l++) {
    const g = axisGeometry(scene, l, a);
    const below = counts[l];
    const here = new Float64Array(scene.shapes[l + 1][a]);
    let first = -1;
    let last = -1;
    for (let q = 0; q < here.length; q++) {
      for (const p of windowTaps(g, q)) {
        if (!isPadding(g, p)) here[q] += below[unpadded(g, p)[0]];
      }
      if (here[q] > 0) {
        if (first < 0) first = q;
        last = q;
      }
    }
    counts[l + 1] = here;
    ranges[l + 1] = [first, last];
  }
  return {counts, ranges};
}

// The reach of cell `index` of level `level`: per axis the answer of axisReach, and the
// output's path counts, raster order (an input cell lights the outputs it feeds).
export function reachOf(scene, level, index) {
  const axes = index.map((i, a) => axisReach(scene, level, i, a));
  const top = scene.shapes.length - 1;
  return {level, index, axes, output: levelCounts(axes, top)};
}

// Path counts of every cell of level `l`, raster order (the outer product of the axes).
export function levelCounts(axes, l) {
  let out = Float64Array.from(axes[0].counts[l]);
  for (const x of axes.slice(1)) {
    const c = x.counts[l];
    const next = new Float64Array(out.length * c.length);
    for (let i = 0; i < out.length; i++) {
      if (out[i] === 0) continue;
      for (let j = 0; j < c.length; j++) next[i * c.length + j] = out[i] * c[j];
    }
    out = next;
  }
  return out;
}
