// Where windows sit, derived from the scene's geometry (the rule is affine):
//   padded position of tap t of output cell o, per axis = o * stride + t * dilation.
// tests/browser holds these functions to convcore.window_map and convcore.coverage.

export function unravel(i, shape) {
  const out = new Array(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    out[a] = i % shape[a];
    i = Math.floor(i / shape[a]);
  }
  return out;
}

export function ravel(coords, shape) {
  let i = 0;
  for (let a = 0; a < shape.length; a++) i = i * shape[a] + coords[a];
  return i;
}

export function product(n) {
  return n.reduce((a, b) => a * b, 1);
}

// The rule along one axis: padded position of tap t of output o.  Any o, also one past the
// output (where a stack's receptive field runs on into padding; stack.js).
export function tapPosition(o, t, stride, dilation) {
  return o * stride + t * dilation;
}

// Kernel positions in raster order (the order of convcore's taps).
export function kernelOffsets(scene) {
  const k = scene.kernel;
  return Array.from({length: product(k)}, (_, i) => unravel(i, k));
}

// Padded coordinates of every tap of the window of output raster index `step`.
export function windowTaps(scene, step) {
  const o = unravel(step, scene.out_shape);
  return kernelOffsets(scene).map(
    (t) => t.map((ti, a) => tapPosition(o[a], ti, scene.stride[a], scene.dilation[a])));
}

// Per axis, the output positions whose window reads padded position p[a], with the tap.
function readersPerAxis(scene, p) {
  return p.map((pa, a) => {
    const found = [];
    const s = scene.stride[a];
    const d = scene.dilation[a];
    for (let t = 0; t < scene.kernel[a]; t++) {
      const r = pa - t * d;
      if (r >= 0 && r % s === 0 && r / s < scene.out_shape[a]) found.push([r / s, t]);
    }
    return found;
  });
}

// Output raster indices (and the kernel tap each reads it with) of every window that reads
// padded cell p: the cross product of the per-axis answers.
export function readers(scene, p) {
  let combos = [[[], []]];
  for (const axis of readersPerAxis(scene, p)) {
    const next = [];
    for (const [o, t] of combos) for (const [oa, ta] of axis) next.push([[...o, oa], [...t, ta]]);
    combos = next;
  }
  return combos.map(([o, t]) => ({step: ravel(o, scene.out_shape), tap: t}));
}

// Per axis, the padded positions kernel tap `tap` meets over all steps (its footprint is the
// cross product of these lists).
export function tapFootprint(scene, tap) {
  return tap.map((t, a) => Array.from({length: scene.out_shape[a]},
                                      (_, o) => tapPosition(o, t, scene.stride[a], scene.dilation[a])));
}

export function isPadding(scene, p) {
  return p.some((pa, a) => pa < scene.pads[a][0] || pa >= scene.pads[a][0] + scene.in_shape[a]);
}

export function unpadded(scene, p) {
  return p.map((pa, a) => pa - scene.pads[a][0]);
}

// ---- transposed convolution (scene: in_shape, out_shape, kernel, stride, dilation, padding)
// Input cell i stamps tap t onto output position i·stride + t·dilation − padding, per axis.

// Where every tap of input cell `i` lands: [{tap, o, inside}] in kernel raster order.
export function stampTargets(scene, i) {
  return kernelOffsets(scene).map((tap) => {
    const o = tap.map((t, a) => tapPosition(i[a], t, scene.stride[a], scene.dilation[a]) -
                                 scene.padding[a]);
    return {tap, o, inside: o.every((v, a) => v >= 0 && v < scene.out_shape[a])};
  });
}

// The (tap, input cell) pairs whose stamp lands on output position o, ordered by input cell
// (the order of convcore.trace_transposed).
export function stampSources(scene, o) {
  const perAxis = o.map((oa, a) => {
    const pairs = [];
    for (let t = scene.kernel[a] - 1; t >= 0; t--) {  // increasing input index
      const f = oa + scene.padding[a] - t * scene.dilation[a];
      if (f >= 0 && f % scene.stride[a] === 0 && f / scene.stride[a] < scene.in_shape[a]) {
        pairs.push([t, f / scene.stride[a]]);
      }
    }
    return pairs;
  });
  let combos = [{tap: [], i: []}];
  for (const axis of perAxis) {
    const next = [];
    for (const c of combos) {
      for (const [t, i] of axis) next.push({tap: [...c.tap, t], i: [...c.i, i]});
    }
    combos = next;
  }
  return combos;
}
