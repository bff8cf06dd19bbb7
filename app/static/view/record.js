// Moving pictures of the view, drawn by the view itself: Play, frame by frame, composed from
// what the page shows — plotly's figures as images (once per scene), the view's own canvases
// (window, taps, cover, slices: per step), its titles and captions and the equation as text —
// onto one canvas of the drawing's size.  That canvas becomes an animated GIF (gif.js) or a
// WebM video of Play at its speed (the browser's MediaRecorder on canvas.captureStream()).
// One renderer for every view that has these (the explorer's and the 3-D view):
//   view.eq                    the equation (drawn, wrapped to the area's width)
//   view.recordParts()         {bounds, plots, boxes, canvases, texts: [{el, align}]}: the
//                              elements whose extent (with the equation's height) is the
//                              area, and what is drawn in it (boxes: their CSS background
//                              and border, e.g. a lit slice's frame)
//   view.recordWindowParts()   (optional) the same for the window's parts only, laid out for
//                              the recording: {…, place: Map(element -> {x, y, w, h}), size}:
//                              recorded where the whole drawing is beyond a frame's budget
//   view.scene, values, steps, speed, presenter, go(step, {force, fromPlay}), stop(false)
//   view.copied                where a refusal or a shortened recording is said

import {fmt, idx} from "./format.js";
import {GifWriter} from "./gif.js";

export const MAX_GIF_FRAMES = 200;  // longer outputs: evenly spaced steps, the last included
// Budgets, checked before the first frame is drawn: a frame's pixels (a canvas and a video
// encoder's limits; beyond, refused), a GIF's frames × pixels (what composing, diffing and
// quantizing cost) and a video's length (it records in real time); beyond those, fewer
// steps, evenly spaced, and said.
export const MAX_FRAME_PIXELS = 4_000_000;
export const MAX_FRAME_SIDE = 8192;
export const MAX_GIF_WORK = 100_000_000;
export const MAX_VIDEO_SECONDS = 120;  // a video is recorded in real time: at most 2 minutes
const TITLE_H = 30;
const MIN_WINDOW_WIDTH = 480;  // a window-only frame is at least this wide: the equation's room

const fitsFrame = (area) => area.width * area.height <= MAX_FRAME_PIXELS &&
  Math.max(area.width, area.height) <= MAX_FRAME_SIDE;

// The steps a recording shows: all of them up to `cap`, else `cap` evenly spaced.
export function recordedSteps(steps, cap = MAX_GIF_FRAMES) {
  if (steps <= cap) return Array.from({length: steps}, (_, i) => i);
  return Array.from({length: cap}, (_, i) => Math.round((i * (steps - 1)) / (cap - 1)));
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

export class Recorder {
  constructor(view) {
    this.view = view;
    this.images = new Map();  // plot element -> {key, image}
    this.last = null;  // what the last recording made (read by the tests)
  }

  // The area recorded: the view's stage and its equation, under a title line.  Where that is
  // beyond a frame's budget and the view lays out its window's parts, those only, and `whole`
  // (the whole drawing's area) says so: the frames then draw the window's parts.
  area() {
    const v = this.view;
    const boxes = v.recordParts().bounds.map((el) => el.getBoundingClientRect());
    const b = v.eq.getBoundingClientRect();
    const left = Math.min(...boxes.map((a) => a.left));
    const top = Math.min(b.top, ...boxes.map((a) => a.top));
    const width = Math.ceil(Math.max(...boxes.map((a) => a.right)) - left);
    const height = Math.ceil(Math.max(b.bottom, ...boxes.map((a) => a.bottom)) - top) + TITLE_H;
    const whole = {left, top, width, height};
    if (fitsFrame(whole) || typeof v.recordWindowParts !== "function") return whole;
    const {size} = v.recordWindowParts();
    const frameWidth = Math.max(MIN_WINDOW_WIDTH, size.width);
    return {left: 0, top: 0, width: frameWidth,
            height: size.height + this.equationHeight(frameWidth) + TITLE_H, whole};
  }

  // The equation's height wrapped at `width` in the page's font (a window-only frame is not as
  // wide as the page's box), with a line to spare: other steps' numbers are longer or shorter.
  equationHeight(width) {
    const style = getComputedStyle(this.view.eq);
    const size = parseFloat(style.fontSize);
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = `${size}px ${style.fontFamily}`;
    const room = width - 2 * (parseFloat(style.paddingLeft) || 8);
    const lines = this.equationLines(ctx, room).length + 1;
    return Math.ceil(2 * (parseFloat(style.paddingTop) || 6) + lines * size * 1.35);
  }

  // The equation's text in lines of at most `room` px in ctx's font, broken between words.
  equationLines(ctx, room) {
    const lines = [];
    let line = "";
    for (const word of this.view.eq.textContent.split(" ")) {
      const next = line ? `${line} ${word}` : word;
      if (ctx.measureText(next).width > room && line) {
        lines.push(line);
        line = word;
      } else {
        line = next;
      }
    }
    if (line) lines.push(line);
    return lines;
  }

  // The budgets for a recording of `area` ("gif" or "video"): {steps} to record, and `note`
  // when fewer than every step; {error} (naming the rule and the value) when refused.
  plan(kind, area) {
    const px = area.width * area.height;
    const n = (x) => x.toLocaleString("en-US");
    const name = kind === "gif" ? "GIF" : "Video";
    if (!fitsFrame(area)) {
      return {error: `${name}: the view's drawing is ` +
        `${area.width}\u00d7${area.height} px = ${n(px)} px; a frame may have at most ` +
        `${n(MAX_FRAME_PIXELS)} px and ${n(MAX_FRAME_SIDE)} px a side. Use a smaller input ` +
        "(fewer slices or cells) or a narrower window."};
    }
    const steps = this.view.steps;
    // GIF: MAX_GIF_FRAMES, and MAX_GIF_WORK frames × pixels; video (recorded in real time at
    // the view's speed): MAX_VIDEO_SECONDS
    const [cap, rule] = kind === "gif" ?
      (MAX_GIF_WORK / px < MAX_GIF_FRAMES ?
        [Math.floor(MAX_GIF_WORK / px), `${n(MAX_GIF_WORK)} frames \u00d7 pixels: ${n(px)} px ` +
                                        "a frame"] :
        [MAX_GIF_FRAMES, `${MAX_GIF_FRAMES} frames`]) :
      [Math.floor(MAX_VIDEO_SECONDS * this.view.speed),
       `${MAX_VIDEO_SECONDS} s at ${this.view.speed} steps/s`];
    const chosen = recordedSteps(steps, Math.max(2, cap));
    const notes = [];
    if (area.whole) {
      notes.push(`${name}: the window's slices only (the whole drawing is ` +
                 `${area.whole.width}\u00d7${area.whole.height} px, beyond a frame's ` +
                 `${n(MAX_FRAME_PIXELS)} px or ${n(MAX_FRAME_SIDE)} px a side)`);
    }
    if (chosen.length < steps) {
      notes.push(`${notes.length ? "" : `${name}: `}${n(chosen.length)} of ${n(steps)} steps, ` +
                 `evenly spaced (at most ${rule})`);
    }
    return {steps: chosen, note: notes.join("; ")};
  }

  say(text) {
    if (this.view.copied) this.view.copied.textContent = text;
  }

  title(step) {
    const s = this.view.scene;
    const v = this.view.values;
    const per = (xs) => xs.join("\u00d7");
    const pads = (s.pads || []).map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}:${hi}`));
    return `conv${s.ndim}d \u00b7 kernel ${per(s.kernel)} \u00b7 stride ${per(s.stride)} \u00b7 ` +
      (s.pads ? `padding ${pads.join(",")} ${s.mode} \u00b7 ` : "") +
      `dilation ${per(s.dilation)} \u2014 step ${step + 1} of ${this.view.steps}: ` +
      `out[${idx(v.outIndex(step))}] = ${fmt(v.out(step))}`;
  }

  // Plotly's drawing of every plot on the page area, as images (made once per drawn scene).
  async snapshot() {
    const v = this.view;
    const plots = v.recordParts().plots;
    const found = new Map();
    for (const plot of plots) {
      if (!plot._fullLayout) continue;
      const have = this.images.get(plot);
      const stamp = JSON.stringify([plot._fullLayout.width, plot._fullLayout.height,
                                    plot.__drawn, v.sceneId]);
      if (have && have.stamp === stamp) {
        found.set(plot, have);
        continue;
      }
      const url = await window.Plotly.toImage(plot, {format: "png", width:
        plot._fullLayout.width, height: plot._fullLayout.height, scale: 1});
      const image = new Image();
      image.src = url;
      await image.decode();
      found.set(plot, {stamp, image});
    }
    this.images = found;
  }

  // One frame: the view as it is drawn now, onto `ctx` (the area's size).
  compose(ctx, area, step) {
    const v = this.view;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, area.width, area.height);
    ctx.fillStyle = "#111";
    ctx.font = `600 ${v.presenter ? 18 : 15}px sans-serif`;
    ctx.textBaseline = "middle";
    ctx.fillText(this.title(step), 4, TITLE_H / 2, area.width - 8);
    // where an element is drawn: as the page lays it out, or where the window's layout puts it
    // (an element it leaves out: not drawn)
    const parts = area.whole ? v.recordWindowParts() : v.recordParts();
    const at = (el) => {
      if (parts.place) {
        const p = parts.place.get(el);
        return p && {x: p.x, y: p.y + TITLE_H, w: p.w, h: p.h};
      }
      const r = el.getBoundingClientRect();
      return {x: r.left - area.left, y: r.top - area.top + TITLE_H, w: r.width, h: r.height};
    };
    for (const [plot, {image}] of this.images) {
      const p = plot.isConnected && plot.offsetParent !== null && at(plot);
      if (p) ctx.drawImage(image, p.x, p.y, p.w, p.h);
    }
    for (const el of parts.boxes || []) {
      const p = el.offsetParent !== null && at(el);
      if (!p) continue;
      const style = getComputedStyle(el);
      ctx.fillStyle = style.backgroundColor;
      ctx.fillRect(p.x, p.y, p.w, p.h);
      const bw = parseFloat(style.borderTopWidth) || 0;
      if (bw > 0) {
        ctx.strokeStyle = style.borderTopColor;
        ctx.lineWidth = bw;
        ctx.strokeRect(p.x + bw / 2, p.y + bw / 2, p.w - bw, p.h - bw);
      }
    }
    for (const canvas of parts.canvases) {
      const p = canvas.offsetParent !== null && at(canvas);
      if (!p) continue;
      // on whole pixels, and unsmoothed at its own size: cells stay crisp
      ctx.imageSmoothingEnabled = canvas.width !== Math.round(p.w);
      ctx.drawImage(canvas, Math.round(p.x), Math.round(p.y), Math.round(p.w), Math.round(p.h));
    }
    ctx.imageSmoothingEnabled = true;
    for (const {el, align} of parts.texts) {
      const p = el.offsetParent !== null && el.textContent && at(el);
      if (!p) continue;
      const style = getComputedStyle(el);
      ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      ctx.fillStyle = style.color;
      ctx.textBaseline = "middle";
      ctx.textAlign = align === "right" ? "right" : "left";
      ctx.fillText(el.textContent, align === "right" ? p.x + p.w : p.x, p.y + p.h / 2);
    }
    ctx.textAlign = "left";
    const eq = parts.place ?
      {x: 0, y: parts.size.height + TITLE_H, w: area.width,
       h: area.height - parts.size.height - TITLE_H} : at(v.eq);
    this.drawEquation(ctx, {...eq, w: Math.min(eq.w, area.width - eq.x)});
  }

  // The equation box: its background and its text, wrapped at its width as the page wraps it
  // (in a smaller font where the area is narrower than the page's box and the lines would
  // not fit its height otherwise).
  drawEquation(ctx, p) {
    const el = this.view.eq;
    const style = getComputedStyle(el);
    ctx.fillStyle = "rgba(128,128,128,0.08)";
    ctx.fillRect(p.x, p.y, p.w, p.h);
    ctx.fillStyle = style.color;
    ctx.textBaseline = "top";
    const pad = parseFloat(style.paddingLeft) || 8;
    const top = parseFloat(style.paddingTop) || 6;
    const room = p.w - 2 * pad;
    let size = parseFloat(style.fontSize);
    let lines;
    for (;;) {
      ctx.font = `${size}px ${style.fontFamily}`;
      lines = this.equationLines(ctx, room);
      if (size <= 9 || top + lines.length * size * 1.35 <= p.h) break;
      size -= 1;
    }
    lines.forEach((line, i) => ctx.fillText(line, p.x + pad, p.y + top + i * size * 1.35));
  }

  // Stop Play, clear hover and pin, check the budgets (null and said when refused), take
  // plotly's images; the frame canvas of the area and the steps to record.
  async prepare(kind) {
    const v = this.view;
    v.stop(false);
    v.hover = null;
    v.pinned = null;
    this.startStep = v.step;
    const area = this.area();
    const plan = this.plan(kind, area);
    if (plan.error) {
      this.last = {kind, error: plan.error, width: area.width, height: area.height};
      this.say(plan.error);
      return null;
    }
    this.say(plan.note);
    await this.snapshot();
    const canvas = document.createElement("canvas");
    canvas.width = area.width;
    canvas.height = area.height;
    return {area, canvas, ctx: canvas.getContext("2d", {willReadFrequently: true}),
            steps: plan.steps, note: plan.note};
  }

  name(ext) {
    const s = this.view.scene;
    return `conv${s.ndim}d_stride${s.stride.join("x")}_window.${ext}`;
  }

  // Play as an animated GIF: every step (within MAX_GIF_FRAMES and MAX_GIF_WORK), at the
  // view's speed, each frame encoded as it is drawn.
  async gif() {
    if (this.busy) return null;
    this.busy = true;
    const v = this.view;
    try {
      const ready = await this.prepare("gif");
      if (!ready) return this.last;
      const {area, ctx, steps, note} = ready;
      const gif = new GifWriter(area.width, area.height, Math.max(2, Math.round(100 / v.speed)));
      for (const step of steps) {
        v.go(step, {force: true, fromPlay: true});
        this.compose(ctx, area, step);
        gif.add(ctx.getImageData(0, 0, area.width, area.height).data);
      }
      const bytes = gif.finish();
      v.go(this.startStep, {force: true, fromPlay: true});
      this.last = {kind: "gif", width: area.width, height: area.height, frames: gif.frames,
                   bytes: bytes.length, note};
      download(new Blob([bytes], {type: "image/gif"}), this.name("gif"));
      return this.last;
    } finally {
      this.busy = false;
    }
  }

  // Play as a WebM video, in real time at the view's speed (a frame per step).
  async video() {
    if (this.busy) return null;
    const type = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"]
      .find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));
    if (!type) {
      this.last = {kind: "video", error: "this browser cannot record video (MediaRecorder)"};
      return this.last;
    }
    this.busy = true;
    const v = this.view;
    try {
      const ready = await this.prepare("video");
      if (!ready) return this.last;
      const {area, canvas, ctx, steps, note} = ready;
      const stream = canvas.captureStream(0);
      const track = stream.getVideoTracks()[0];
      const chunks = [];
      const recorder = new MediaRecorder(stream, {mimeType: type, videoBitsPerSecond: 4e6});
      recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
      const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
      recorder.start(250);
      const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
      for (const step of steps) {
        v.go(step, {force: true, fromPlay: true});
        this.compose(ctx, area, step);
        track.requestFrame();
        await wait(1000 / v.speed);
      }
      // the last step stays a moment (and the encoder gets its last frames out)
      for (let i = 0; i < 4; i++) {
        track.requestFrame();
        await wait(150);
      }
      recorder.stop();
      await stopped;
      v.go(this.startStep, {force: true, fromPlay: true});
      const blob = new Blob(chunks, {type: "video/webm"});
      this.last = {kind: "video", width: area.width, height: area.height, frames: steps.length,
                   bytes: blob.size, type, note};
      this.blob = blob;
      download(blob, this.name("webm"));
      return this.last;
    } finally {
      this.busy = false;
    }
  }
}
