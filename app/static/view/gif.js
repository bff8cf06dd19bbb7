// An animated GIF (GIF89a) from RGBA frames: each frame's colours reduced to at most 256 (the
// most frequent 15-bit colours, every pixel to its nearest), then LZW-coded.  After the first
// frame only the rectangle that changed is stored ("do not dispose": the rest stays), so a
// sliding window costs little more than the cells it moves over.

function quantize(rgba, count) {
  // histogram of 5-bit-per-channel colours
  const hist = new Uint32Array(32768);
  for (let i = 0; i < count; i++) {
    const o = i * 4;
    hist[((rgba[o] >> 3) << 10) | ((rgba[o + 1] >> 3) << 5) | (rgba[o + 2] >> 3)] += 1;
  }
  const used = [];
  for (let c = 0; c < 32768; c++) if (hist[c]) used.push(c);
  used.sort((a, b) => hist[b] - hist[a]);
  const keep = used.slice(0, 256);
  const palette = new Uint8Array(256 * 3);
  keep.forEach((c, i) => {
    palette[i * 3] = ((c >> 10) & 31) * 255 / 31;
    palette[i * 3 + 1] = ((c >> 5) & 31) * 255 / 31;
    palette[i * 3 + 2] = (c & 31) * 255 / 31;
  });
  const lookup = new Int16Array(32768).fill(-1);
  keep.forEach((c, i) => { lookup[c] = i; });
  const nearest = (c) => {
    const r = (c >> 10) & 31;
    const g = (c >> 5) & 31;
    const b = c & 31;
    let best = 0;
    let dist = Infinity;
    for (let i = 0; i < keep.length; i++) {
      const k = keep[i];
      const dr = ((k >> 10) & 31) - r;
      const dg = ((k >> 5) & 31) - g;
      const db = (k & 31) - b;
      const d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
      if (d < dist) {
        dist = d;
        best = i;
      }
    }
    lookup[c] = best;
    return best;
  };
  const indices = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * 4;
    const c = ((rgba[o] >> 3) << 10) | ((rgba[o + 1] >> 3) << 5) | (rgba[o + 2] >> 3);
    const j = lookup[c];
    indices[i] = j >= 0 ? j : nearest(c);
  }
  return {palette, indices};
}

// GIF's LZW: 8-bit pixels, codes from 9 to 12 bits, a clear code when the table is full.
function lzw(indices, out) {
  const clear = 256;
  const end = 257;
  let size = 9;
  let next = 258;
  let table = new Map();
  let bits = 0;
  let acc = 0;
  const bytes = [];
  const emit = (code) => {
    acc |= code << bits;
    bits += size;
    while (bits >= 8) {
      bytes.push(acc & 255);
      acc >>>= 8;
      bits -= 8;
    }
  };
  emit(clear);
  let prefix = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const k = indices[i];
    const key = prefix * 256 + k;
    const found = table.get(key);
    if (found !== undefined) {
      prefix = found;
      continue;
    }
    emit(prefix);
    if (next === 4096) {
      emit(clear);
      table = new Map();
      size = 9;
      next = 258;
    } else {
      table.set(key, next);
      if (next === 1 << size) size += 1;
      next += 1;
    }
    prefix = k;
  }
  emit(prefix);
  emit(end);
  if (bits > 0) bytes.push(acc & 255);
  out.push(8);  // the minimum code size
  for (let i = 0; i < bytes.length; i += 255) {
    const block = bytes.slice(i, i + 255);
    out.push(block.length, ...block);
  }
  out.push(0);
}

function word(out, v) {
  out.push(v & 255, (v >> 8) & 255);
}

// The rectangle where two RGBA frames differ ([x, y, w, h]), or null when they do not.
function changed(a, b, width, height) {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  const a32 = new Uint32Array(a.buffer, a.byteOffset, width * height);
  const b32 = new Uint32Array(b.buffer, b.byteOffset, width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (a32[row + x] !== b32[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

// An animated GIF written frame by frame: only the previous frame is held (not every frame),
// so a recording's memory is its output.  `delay`: hundredths of a second per frame.
export class GifWriter {
  constructor(width, height, delay) {
    this.width = width;
    this.height = height;
    this.delay = delay;
    this.previous = null;
    this.frames = 0;
    const out = [];
    for (const c of "GIF89a") out.push(c.charCodeAt(0));
    word(out, width);
    word(out, height);
    out.push(0, 0, 0);  // no global colour table
    out.push(0x21, 0xff, 11, ..."NETSCAPE2.0".split("").map((c) => c.charCodeAt(0)),
             3, 1, 0, 0, 0);  // loop forever
    this.parts = [new Uint8Array(out)];
  }

  // one RGBA frame (a Uint8ClampedArray of width x height; copied where it must be kept)
  add(rgba) {
    const {width, height} = this;
    let rect = [0, 0, width, height];
    if (this.previous) rect = changed(this.previous, rgba, width, height) || [0, 0, 1, 1];
    this.previous = rgba.slice();
    const [x, y, w, h] = rect;
    const part = new Uint8ClampedArray(w * h * 4);
    for (let r = 0; r < h; r++) {
      part.set(rgba.subarray(((y + r) * width + x) * 4, ((y + r) * width + x + w) * 4), r * w * 4);
    }
    const {palette, indices} = quantize(part, w * h);
    const out = [];
    out.push(0x21, 0xf9, 4, 0x04);  // graphic control: do not dispose
    word(out, this.delay);
    out.push(0, 0);
    out.push(0x2c);
    word(out, x);
    word(out, y);
    word(out, w);
    word(out, h);
    out.push(0x87);  // a local colour table of 256 entries
    for (let i = 0; i < palette.length; i++) out.push(palette[i]);
    lzw(indices, out);
    this.parts.push(new Uint8Array(out));
    this.frames += 1;
  }

  // the file's bytes
  finish() {
    this.parts.push(new Uint8Array([0x3b]));
    const bytes = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) {
      bytes.set(p, at);
      at += p.length;
    }
    this.previous = null;
    return bytes;
  }
}

// frames: RGBA Uint8ClampedArrays of width x height; delay: hundredths of a second per frame.
export function encodeGif(frames, width, height, delay) {
  const gif = new GifWriter(width, height, delay);
  for (const rgba of frames) gif.add(rgba);
  return gif.finish();
}
