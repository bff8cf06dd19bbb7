// Moving pictures of the view, drawn by the view itself: Play, frame by frame, composed from
// what the page shows — plotly's heatmaps as images (once per scene), the view's own canvases
// (window, taps, cover: per step), its titles, partial sums and equation as text — onto one
// canvas of the view's size.  That canvas becomes an animated GIF (gif.js) or a WebM video of
// Play at its speed (the browser's MediaRecorder on canvas.captureStream()).  One renderer.

import {encodeGif} from "./gif.js";

export const MAX_GIF_FRAMES = 200;  // longer outputs: evenly spaced steps, the last included
const TITLE_H = 30;

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

  // The area recorded: the view's stage and its equation, under a title line.
  area() {
    const v = this.view;
    const a = v.stage.getBoundingClientRect();
    const b = v.eq.getBoundingClientRect();
    const left = Math.min(a.left, b.left);
    const top = a.top;
    const width = Math.ceil(Math.max(a.right, b.right) - left);
    const height = Math.ceil(b.bottom - top) + TITLE_H;
    return {left, top, width, height};
  }

  title(step) {
    const s = this.view.scene;
    const v = this.view.values;
    const per = (xs) => xs.join("\u00d7");
    const pads = (s.pads || []).map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}:${hi}`));
    return `conv${s.ndim}d \u00b7 kernel ${per(s.kernel)} \u00b7 stride ${per(s.stride)} \u00b7 ` +
      (s.pads ? `padding ${pads.join(",")} ${s.mode} \u00b7 ` : "") +
      `dilation ${per(s.dilation)} \u2014 step ${step + 1} of ${this.view.steps}: ` +
      `out[${v.outIndex(step).join(",")}] = ${v.out(step)}`;
  }

  // Plotly's drawing of every plot on the page area, as images (made once per drawn scene).
  async snapshot() {
    const v = this.view;
    const plots = [...v.root.querySelectorAll(".cx-plot, .cx-line .cx-box > div:first-child")];
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
    const at = (el) => {
      const r = el.getBoundingClientRect();
      return {x: r.left - area.left, y: r.top - area.top + TITLE_H, w: r.width, h: r.height};
    };
    for (const [plot, {image}] of this.images) {
      if (!plot.isConnected || plot.offsetParent === null) continue;
      const p = at(plot);
      ctx.drawImage(image, p.x, p.y, p.w, p.h);
    }
    for (const canvas of v.root.querySelectorAll(".cx-stage canvas")) {
      if (canvas.offsetParent === null) continue;
      const p = at(canvas);
      ctx.drawImage(canvas, p.x, p.y, p.w, p.h);
    }
    const texts = v.root.querySelectorAll(
      ".cx-stage .cx-title, .cx-stage .cx-label, .cx-term-name, .cx-term-value");
    for (const el of texts) {
      if (el.offsetParent === null || !el.textContent) continue;
      const style = getComputedStyle(el);
      const p = at(el);
      ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      ctx.fillStyle = style.color;
      ctx.textBaseline = "middle";
      ctx.textAlign = el.classList.contains("cx-term-value") ? "right" : "left";
      const x = el.classList.contains("cx-term-value") ? p.x + p.w : p.x;
      ctx.fillText(el.textContent, x, p.y + p.h / 2);
    }
    ctx.textAlign = "left";
    this.drawEquation(ctx, at(v.eq));
  }

  // The equation box: its background and its text, wrapped at its width as the page wraps it.
  drawEquation(ctx, p) {
    const el = this.view.eq;
    const style = getComputedStyle(el);
    ctx.fillStyle = "rgba(128,128,128,0.08)";
    ctx.fillRect(p.x, p.y, p.w, p.h);
    ctx.fillStyle = style.color;
    ctx.font = `${style.fontSize} ${style.fontFamily}`;
    ctx.textBaseline = "top";
    const size = parseFloat(style.fontSize);
    const pad = parseFloat(style.paddingLeft) || 8;
    const room = p.w - 2 * pad;
    let line = "";
    let y = p.y + (parseFloat(style.paddingTop) || 6);
    for (const word of el.textContent.split(" ")) {
      const next = line ? `${line} ${word}` : word;
      if (ctx.measureText(next).width > room && line) {
        ctx.fillText(line, p.x + pad, y);
        y += size * 1.35;
        line = word;
      } else {
        line = next;
      }
    }
    if (line) ctx.fillText(line, p.x + pad, y);
  }

  async prepare() {
    const v = this.view;
    v.stop(false);
    v.hover = null;
    v.pinned = null;
    this.startStep = v.step;
    await this.snapshot();
    const area = this.area();
    const canvas = document.createElement("canvas");
    canvas.width = area.width;
    canvas.height = area.height;
    return {area, canvas, ctx: canvas.getContext("2d", {willReadFrequently: true})};
  }

  name(ext) {
    const s = this.view.scene;
    return `conv${s.ndim}d_stride${s.stride.join("x")}_window.${ext}`;
  }

  // Play as an animated GIF: every step (at most MAX_GIF_FRAMES), at the view's speed.
  async gif() {
    if (this.busy) return null;
    this.busy = true;
    const v = this.view;
    try {
      const {area, canvas, ctx} = await this.prepare();
      const frames = [];
      for (const step of recordedSteps(v.steps)) {
        v.go(step, {force: true, fromPlay: true});
        this.compose(ctx, area, step);
        frames.push(ctx.getImageData(0, 0, area.width, area.height).data);
      }
      const delay = Math.max(2, Math.round(100 / v.speed));
      const bytes = encodeGif(frames, area.width, area.height, delay);
      v.go(this.startStep, {force: true, fromPlay: true});
      this.last = {kind: "gif", width: area.width, height: area.height, frames: frames.length,
                   bytes: bytes.length};
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
      const {area, canvas, ctx} = await this.prepare();
      const stream = canvas.captureStream(0);
      const track = stream.getVideoTracks()[0];
      const chunks = [];
      const recorder = new MediaRecorder(stream, {mimeType: type, videoBitsPerSecond: 4e6});
      recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
      const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
      recorder.start(250);
      const steps = recordedSteps(v.steps, 1200);
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
                   bytes: blob.size, type};
      this.blob = blob;
      download(blob, this.name("webm"));
      return this.last;
    } finally {
      this.busy = false;
    }
  }
}
