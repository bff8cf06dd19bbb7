// The layer's controls inside the view: kernel size, stride, dilation, padding (per axis, per
// side, valid, same, TensorFlow/JAX SAME) and its mode, groups, maps, bias, batch item and
// output map.  A change becomes a change to the page's URL query (the scene API's input, the
// same text app/url.py reads); values and bounds come from the payload (app/layer.py's
// `limits`), so a slider never offers what the page would clamp.  What a kernel source brings
// (a preset's size; the trained network's layer: its size, output maps, groups and learned
// bias) is shown fixed, and said.

const PAD_FORMS = [["valid", "valid"], ["axis", "per axis"], ["side", "per side"],
                   ["same", "same"], ["tfsame", "SAME (TF/JAX)"]];
const MODES = ["zeros", "reflect", "replicate", "circular"];

// Per-axis values as the URL writes them: "2" when all axes agree, else "2,1".
export function axesText(values) {
  return values.every((v) => v === values[0]) ? String(values[0]) : values.join(",");
}

// The `pad` parameter for a padding form and its (low, high) pairs.
export function padText(form, pairs) {
  if (form === "same" || form === "tfsame") return form;
  if (form === "valid") return "0";
  if (form === "side") return pairs.map(([lo, hi]) => `${lo}:${hi}`).join(",");
  return axesText(pairs.map((p) => p[0]));
}

// The controls of a page: "explorer" or "transposed".
export const FIELDS = {
  explorer: ["size", "stride", "dilation", "pad", "mode", "groups", "inmaps", "outmaps",
             "bias", "item", "omap"],
  transposed: ["size", "stride", "dilation", "tpad", "opad", "groups", "inmaps", "outmaps",
               "bias", "item", "omap"],
};
const LABELS = {size: "kernel", stride: "stride", dilation: "dilation", tpad: "padding",
                opad: "output padding", inmaps: "C_in", outmaps: "C_out", item: "item",
                omap: "output map", groups: "groups", mode: "mode", bias: "bias"};

export class LayerControls {
  // `onChange(changes)`: query parameter -> text (null: drop it).
  constructor(parent, fields, onChange) {
    this.fields = fields;
    this.onChange = onChange;
    this.el = document.createElement("div");
    this.el.className = "cx-controls";
    this.el.setAttribute("data-testid", "cx-controls");
    parent.appendChild(this.el);
    this.message = document.createElement("div");
    this.message.className = "cx-ctl-message";
    this.message.setAttribute("data-testid", "cx-ctl-message");
    this.shape = null;
    this.active = null;  // the control being dragged: answers do not move it under the hand
    this.activeAt = 0;
  }

  // Show `layer` (the payload's control values) within `limits`; rebuilt only when which
  // controls exist changes, else the values and bounds are set in place.
  set(layer, limits) {
    this.layer = layer;
    this.limits = limits;
    const shape = JSON.stringify([layer.ndim, this.padForm(), layer.data, layer.kernel,
                                  layer.batch > 1, layer.bias !== null, layer.outmaps > 1]);
    if (shape !== this.shape) {
      this.shape = shape;
      this.build();
    }
    for (const c of this.sliders) c.setFrom(layer, limits, this.isActive(c.input));
    for (const s of this.selects) s.setFrom(layer, limits);
  }

  isActive(input) {
    return input === this.active && performance.now() - this.activeAt < 600;
  }

  say(text) {
    this.message.textContent = text || "";
    this.message.style.display = text ? "" : "none";
  }

  build() {
    const layer = this.layer;
    const nd = layer.ndim;
    this.el.replaceChildren();
    this.sliders = [];
    this.selects = [];
    for (const name of this.fields) {
      if (name === "inmaps" && layer.data) continue;
      if (name === "item" && layer.batch < 2) continue;
      if (name === "omap" && layer.outmaps < 2) continue;
      const group = document.createElement("span");
      group.className = `cx-ctl cx-ctl-${name}`;
      const title = document.createElement("span");
      title.className = "cx-ctl-name";
      title.textContent = LABELS[name] || name;
      group.appendChild(title);
      if (name === "pad") {
        title.textContent = "padding";
        this.buildPad(group, nd);
      } else if (name === "mode") {
        this.select(group, "mode", MODES.map((m) => [m, m]), (l) => l.mode,
                    (v) => ({mode: v}));
      } else if (name === "groups") {
        this.select(group, "groups", null, (l) => String(l.groups), (v) => ({groups: v}));
      } else if (name === "bias") {
        this.buildBias(group);
      } else if (["size", "stride", "dilation", "opad", "tpad"].includes(name)) {
        const field = name === "tpad" ? "pad" : name;
        for (let a = 0; a < nd; a++) {
          this.slider(group, `${name}-${a}`, nd > 1 ? layer.axes[a] : "",
                      (l) => (field === "pad" ? l.pad[a][0] : l[field][a]),
                      (lim) => lim[field] && lim[field][a],
                      (v) => {
                        const values = field === "pad" ? this.layer.pad.map((p) => p[0]) :
                          this.layer[field].slice();
                        values[a] = v;
                        return {[field]: axesText(values)};
                      }, name === "size" && ["preset", "network"].includes(layer.kernel));
        }
      } else {  // one number: inmaps, outmaps, item, omap
        this.slider(group, name, "", (l) => l[name], (lim) => lim[name] && lim[name][0],
                    (v) => ({[name]: String(v)}));
      }
      this.el.appendChild(group);
    }
    if (layer.kernel === "network") {
      const note = document.createElement("span");
      note.className = "cx-ctl-fixed";
      note.setAttribute("data-testid", "cx-ctl-fixed");
      note.textContent = `kernel ${layer.size.join("\u00d7")}, C_out ${layer.outmaps}, ` +
        `groups 1 and bias: set by the network's layer ${layer.network}`;
      this.el.appendChild(note);
    }
    this.el.appendChild(this.message);
  }

  // The padding form shown: "valid" for no padding per axis, unless "per axis" was picked.
  padForm() {
    const l = this.layer;
    const none = l.pad_form === "axis" && l.pad.every(([lo, hi]) => lo === 0 && hi === 0);
    return none && this.picked !== "axis" ? "valid" : l.pad_form;
  }

  buildPad(group, nd) {
    this.select(group, "pad_form", PAD_FORMS, () => this.padForm(), (v) => {
      this.picked = v;
      const pairs = this.layer.pad;
      return {pad: padText(v, v === "axis" ? pairs.map(([lo]) => [lo, lo]) : pairs)};
    });
    const f = this.padForm();
    if (f !== "axis" && f !== "side") return;
    const sides = f === "side" ? [0, 1] : [0];
    for (let a = 0; a < nd; a++) {
      for (const side of sides) {
        const name = f === "side" ? `${["lo", "hi"][side]} ${this.layer.axes[a]}` :
          (nd > 1 ? this.layer.axes[a] : "");
        this.slider(group, `pad-${a}${f === "side" ? `-${side}` : ""}`, name,
                    (l) => l.pad[a][side], (lim) => lim.pad && lim.pad[a], (v) => {
                      const pairs = this.layer.pad.map((p) => p.slice());
                      pairs[a][side] = v;
                      if (f === "axis") pairs[a][1] = v;
                      return {pad: padText(f, pairs)};
                    });
      }
    }
  }

  buildBias(group) {
    if (this.layer.kernel === "network") {  // the layer's learned bias: nothing to set
      const learned = document.createElement("span");
      learned.className = "cx-ctl-learned";
      learned.setAttribute("data-testid", "cx-ctl-bias-learned");
      learned.textContent = "learned";
      learned.title = "the network's layer brings its learned bias";
      group.appendChild(learned);
      return;
    }
    const box = document.createElement("input");
    box.type = "checkbox";
    box.setAttribute("data-testid", "cx-ctl-bias-on");
    box.setAttribute("aria-label", "bias");
    const text = document.createElement("input");
    text.type = "text";
    text.size = 8;
    text.setAttribute("data-testid", "cx-ctl-bias");
    text.setAttribute("aria-label", "bias values, one per output map");
    box.addEventListener("change", () => {
      this.onChange({bias: box.checked ? (text.value.trim() || "0") : null});
    });
    text.addEventListener("change", () => {
      if (box.checked) this.onChange({bias: text.value.trim() || "0"});
    });
    group.append(box, text);
    this.selects.push({setFrom: (l) => {
      box.checked = l.bias !== null;
      text.disabled = l.bias === null;
      if (document.activeElement !== text) text.value = l.bias === null ? "0" : l.bias;
    }});
  }

  select(group, id, options, value, change) {
    const sel = document.createElement("select");
    sel.setAttribute("data-testid", `cx-ctl-${id}`);
    sel.setAttribute("aria-label", id.replace("_", " "));
    sel.addEventListener("change", () => this.onChange(change(sel.value)));
    group.appendChild(sel);
    this.selects.push({setFrom: (l, lim) => {
      const opts = options || (lim.groups || []).map((g) => [String(g), String(g)]);
      const key = JSON.stringify(opts);
      if (sel.dataset.options !== key) {
        sel.replaceChildren(...opts.map(([v, text]) => {
          const o = document.createElement("option");
          o.value = v;
          o.textContent = text;
          return o;
        }));
        sel.dataset.options = key;
      }
      sel.value = value(l);
    }});
  }

  slider(group, id, axis, value, bounds, change, fixed = false) {
    const wrap = document.createElement("label");
    wrap.className = "cx-ctl-slider";
    if (axis) {
      const a = document.createElement("span");
      a.className = "cx-ctl-axis";
      a.textContent = axis;
      wrap.appendChild(a);
    }
    const input = document.createElement("input");
    input.type = "range";
    input.step = "1";
    input.setAttribute("data-testid", `cx-ctl-${id}`);
    input.setAttribute("aria-label", axis ? `${id.split("-")[0]}, ${axis} axis` : id);
    const out = document.createElement("output");
    wrap.append(input, out);
    group.appendChild(wrap);
    let last = null;
    input.addEventListener("input", () => {
      out.textContent = input.value;
      this.active = input;
      this.activeAt = performance.now();
      const v = Number(input.value);
      if (v === last) return;
      last = v;
      this.onChange(change(v));
    });
    this.sliders.push({input, setFrom: (l, lim, active) => {
      const [lo, hi] = bounds(lim) || [0, 0];
      input.min = String(lo);
      input.max = String(Math.max(lo, hi));
      input.disabled = fixed || hi <= lo;
      last = value(l);
      if (!active) {
        input.value = String(last);
        out.textContent = String(last);
      }
    }});
  }
}
