"""What the Export tab hands out: arrays (CSV, ``.npy``), the explorer as one offline HTML file
(the same view as the page, with its scene inside), and the sliding window as an animated GIF.
Pure functions of the scene and the model's arrays; no Streamlit."""

from __future__ import annotations

import io

import numpy as np

import convcore as cc
from app import scene as scenes
from app import view

MAX_GIF_FRAMES = 120


def csv_text(a: np.ndarray) -> str:
    buf = io.StringIO()
    np.savetxt(buf, np.atleast_2d(a), delimiter=",", fmt="%.9g")
    return buf.getvalue()


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _inline(text: str) -> str:
    """Text safe inside a <script> or <style> element."""
    return text.replace("</", "<\\/")


def html_bytes(payload_text: str, title: str) -> bytes:
    """The explorer as one HTML file: plotly.js, the view's code and the scene inside, so it
    steps, hovers and plays offline exactly as the page does (the copy-link button copies the
    file's own address)."""
    plotly_js = view.plotly_file().read_text(encoding="utf-8")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
{_inline(view.css())}</style>
<script>{_inline(plotly_js)}</script>
</head><body>
<h2>{title}</h2>
<div id="explorer"></div>
<script type="module">
{_inline(view.bundle())}
mount({{data: {_inline(payload_text)}, parentElement: document.getElementById("explorer"),
        setStateValue: null}});
</script>
</body></html>
"""
    return page.encode("utf-8")


# ------------------------------------------------------------------------------ GIF

def _lut() -> np.ndarray:
    from plotly.colors import colorbrewer, sample_colorscale

    stops = [[i / (len(colorbrewer.RdBu) - 1), c] for i, c in enumerate(colorbrewer.RdBu)]
    cols = sample_colorscale(stops, list(np.linspace(0, 1, 256)))
    return np.array([[int(float(v)) for v in c[4:-1].split(",")] for c in cols], np.uint8)


def _colorize(z: np.ndarray, zmax: float, lut: np.ndarray) -> np.ndarray:
    t = np.clip((np.nan_to_num(z, posinf=zmax, neginf=-zmax) / zmax + 1) / 2, 0, 1)
    return lut[(t * 255).round().astype(np.int64)]


def gif_frames(steps: int, cap: int = MAX_GIF_FRAMES) -> np.ndarray:
    """The steps a GIF shows: every step up to ``cap``, else ``cap`` evenly spread ones."""
    if steps <= cap:
        return np.arange(steps)
    return np.unique(np.linspace(0, steps - 1, cap).round().astype(np.int64))


def sliding_window_gif(scene: dict, frame_ms: int = 500, max_side: int = 720) -> bytes:
    """An animated GIF of the window sliding over the first input map of the scene and the
    output filling in, with cell values (when they fit), labels and each step's result.

    Window positions come from :func:`convcore.window_map` (the core), values from the scene.
    """
    from PIL import Image, ImageDraw, ImageFont

    nd = scene["ndim"]
    f = scene["scale"]
    inputs = scenes.read_typed_array(scene["inputs"])[0]
    out = scenes.read_typed_array(scene["output"])
    padded = inputs if nd == 2 else inputs[None]
    outd = out if nd == 2 else out[None]
    cells_w = padded.shape[1] + outd.shape[1] + 2
    cell = int(max(3, min(48, max_side // max(cells_w, 1), 360 // max(padded.shape[0], 1))))
    font_px = max(10, min(cell // 3 + 2, 18))
    try:
        font = ImageFont.load_default(size=font_px)
        label_font = ImageFont.load_default(size=14)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        font = label_font = ImageFont.load_default()
    lut = _lut()
    zin, zout = scene["zmax"]["input"], scene["zmax"]["output"]
    img_in = Image.fromarray(_colorize(padded, zin, lut)).resize(
        (padded.shape[1] * cell, padded.shape[0] * cell), Image.NEAREST)
    img_out = Image.fromarray(_colorize(outd, zout, lut)).resize(
        (outd.shape[1] * cell, outd.shape[0] * cell), Image.NEAREST)
    top, gap = 24, 2 * cell
    bottom = 26
    width = img_in.width + gap + img_out.width
    height = top + max(img_in.height, img_out.height) + bottom
    lo = [p[0] for p in scene["pads"]]
    in_shape = scene["in_shape"]
    show_values = cell >= font_px * 2.4

    def values(draw, arr, x0):
        if not show_values:
            return
        for (r, c), v in np.ndenumerate(arr):
            draw.text((x0 + (c + 0.5) * cell, top + (r + 0.5) * cell), cc.format_number(v),
                      fill=(20, 20, 20), font=font, anchor="mm")

    base = Image.new("RGB", (width, height), "white")
    base.paste(img_in, (0, top))
    base.paste(img_out, (img_in.width + gap, top))
    draw = ImageDraw.Draw(base)
    # padding veil
    veil = Image.new("RGBA", base.size, (0, 0, 0, 0))
    vd = ImageDraw.Draw(veil)
    rows = range(padded.shape[0])
    for r in rows:
        for c in range(padded.shape[1]):
            p = (r * f, c * f) if nd == 2 else (c * f,)
            if any(pa < lo[a] or pa >= lo[a] + in_shape[a] for a, pa in enumerate(p)):
                vd.rectangle([c * cell, top + r * cell, (c + 1) * cell - 1,
                              top + (r + 1) * cell - 1], fill=(255, 255, 255, 115))
    base = Image.alpha_composite(base.convert("RGBA"), veil).convert("RGB")
    draw = ImageDraw.Draw(base)
    values(draw, padded, 0)
    values(draw, outd, img_in.width + gap)
    draw.text((0, 4), f"input x[{scene['item']},{scene['channels'][0]}] (padded)",
              fill=(60, 60, 60), font=label_font)
    draw.text((img_in.width + gap, 4), f"output out[{scene['item']},{scene['omap']}]",
              fill=(60, 60, 60), font=label_font)
    steps = int(np.prod(scene["out_shape"]))
    chosen = gif_frames(steps)
    wmap = cc.window_map(tuple(in_shape), tuple(scene["kernel"]), tuple(scene["stride"]),
                         tuple(tuple(p) for p in scene["pads"]), tuple(scene["dilation"]),
                         steps=chosen)
    frames = []
    ox = img_in.width + gap
    thick = max(2, cell // 8)
    flat_out = out.reshape(-1) if f == 1 else None
    for step, taps, oc in zip(chosen, wmap.coords, wmap.out_coords):
        frame = base.copy()
        d = ImageDraw.Draw(frame)
        t2 = taps if nd == 2 else np.column_stack([np.zeros(len(taps)), taps[:, 0]])
        pos = t2 / f
        (r0, c0), (r1, c1) = pos.min(axis=0), pos.max(axis=0)
        for r, c in pos:
            d.rectangle([c * cell, top + r * cell, (c + 1) * cell - 1, top + (r + 1) * cell - 1],
                        outline=(242, 169, 0), width=max(1, thick - 1))
        d.rectangle([c0 * cell, top + r0 * cell, (c1 + 1) * cell - 1, top + (r1 + 1) * cell - 1],
                    outline=(17, 17, 17), width=thick)
        o2 = oc if nd == 2 else np.array([0, oc[0]])
        orow, ocol = int(o2[0] // f), int(o2[1] // f)
        d.rectangle([ox + ocol * cell, top + orow * cell, ox + (ocol + 1) * cell - 1,
                     top + (orow + 1) * cell - 1], outline=(17, 17, 17), width=thick)
        value = flat_out[int(step)] if flat_out is not None else outd[orow, ocol]
        index = ",".join(str(int(i)) for i in (scene["item"], scene["omap"], *oc))
        d.text((0, height - bottom + 5), f"step {int(step) + 1} of {steps}: out[{index}] = "
               f"{cc.format_number(value)}", fill=(17, 17, 17), font=label_font)
        frames.append(frame.convert("P", palette=Image.ADAPTIVE))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                   duration=int(frame_ms), loop=0)
    return buf.getvalue()
