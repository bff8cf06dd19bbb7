"""The layer's controls inside the view (Chromium): a change fetches the scene from the scene API
and redraws in place with no script rerun; the page catches up on one debounced report.

- stride, padding (per side, same, TensorFlow/JAX SAME), dilation and kernel size changed with
  the view's own sliders and selects: the redrawn taps are ``cc.window_map``'s, the equation
  ``cc.equation``'s; no message reaches the server until the user stops, then exactly one;
  the sidebar and the URL then hold the same layer; dragging stride 1 -> 5 shows every value;
- ``same`` with stride 2 keeps the view, with the notice and TensorFlow/JAX's SAME pads;
- a layer of the trained network: what it fixes (size, C_out, groups, bias) shown fixed and
  said, a request for them answered with the layer's values and why; the rest changes;
- presenter mode at 1280x720 with 4 input maps and 2 output maps: every panel and the
  equation inside the viewport, every value drawn at >= 16 px (the rest: colour, said on
  screen); the partial sums add up to the core's output, term by term the core's taps;
- the GIF has the view's size and one frame per step; the video plays in Chromium.
"""

from __future__ import annotations

import io
import json
import math
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from PIL import Image
from test_browser import COUNT_WS_SENDS, assert_video_plays, open_view, shot, view, wait_until_idle

import convcore as cc
from app.shared import model, url

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'
def loads(page) -> int:
    return view(page, "v.loads")


def wait_loaded(page, before: int) -> None:
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').__cx.loads > {before}",
                           timeout=20_000)


def sends(page) -> int:
    return page.evaluate("window.__wsSent")


def shown_layer(page, ndim: int):
    """The settings and the core's computation of what the view shows (its query)."""
    query = view(page, "v.payload.query")
    s, problems = url.from_query(query, ndim)
    assert not problems, problems
    return s, model.compute(s)


def assert_view_is_the_core(page, ndim: int) -> None:
    s, comp = shown_layer(page, ndim)
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    assert view(page, "v.scene.out_shape") == list(wmap.out_spatial)
    for step in sorted({0, wmap.steps // 2, wmap.steps - 1}):
        page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.go({step})")
        got = json.loads(view(page, "v.root.dataset.taps"))
        assert got == wmap.coords[step].tolist(), (s, step)
        eq = page.inner_text(f"{ROOT_SEL} .cx-eq")
        cell = np.unravel_index(step, comp.out_spatial)
        want = cc.equation(cc.trace_step(comp.x, comp.weight, comp.bias,
                                         out_index=(s.item, s.omap, *map(int, cell)),
                                         **s.conv_kwargs()))
        assert eq == want


def slide(page, testid: str, key: str = "ArrowRight", times: int = 1) -> None:
    """Move one of the view's sliders as a user does with the keyboard."""
    box = page.locator(f'[data-testid="{testid}"]')
    for _ in range(times):
        before = loads(page)
        box.press(key)
        wait_loaded(page, before)


def url_query(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def sidebar(page, label: str) -> str:
    return page.get_by_role("spinbutton", name=label, exact=True).input_value()


# ------------------------------------------------------------------------------ controls

def test_changes_in_the_view_redraw_it_as_the_core_computes_with_no_rerun_between(page,
                                                                               app_url):
    page.add_init_script(COUNT_WS_SENDS)
    open_view(page, app_url + "/explorer_2d?shape=7,6&src=random")
    page.wait_for_timeout(600)
    before = sends(page)
    slide(page, "cx-ctl-stride-1")  # stride W 1 -> 2
    assert sends(page) - before == 0  # answered in the page: no script rerun
    assert view(page, "v.scene.stride") == [1, 2]
    assert_view_is_the_core(page, 2)
    # the check's own steps are reported (debounced) once it is done: the count starts again
    # after that report's rerun, so the changes below follow one another as a user's do
    page.wait_for_function(f"() => window.__wsSent > {before}", timeout=10_000)
    wait_until_idle(page)
    before = sends(page)
    page.locator('[data-testid="cx-ctl-pad_form"]').select_option("side")
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}')"
                           ".querySelector('[data-testid=\"cx-ctl-pad-0-1\"]')")
    slide(page, "cx-ctl-pad-0-1", times=2)  # pad high H 0 -> 2
    slide(page, "cx-ctl-dilation-0")  # dilation H 1 -> 2
    slide(page, "cx-ctl-size-1")  # kernel W 2 -> 3
    assert view(page, "v.scene.pads") == [[0, 2], [0, 0]]
    assert view(page, "v.scene.dilation") == [2, 1] and view(page, "v.scene.kernel") == [2, 3]
    assert_view_is_the_core(page, 2)
    assert sends(page) - before == 0  # every change answered in the page: no script rerun
    page.wait_for_function(f"() => window.__wsSent - {before} >= 1", timeout=10_000)
    wait_until_idle(page)
    page.wait_for_timeout(500)
    assert sends(page) - before == 1  # one debounced report for the lot
    q = url_query(page)
    assert (q["stride"], q["pad"], q["dilation"], q["size"]) == ("1,2", "0:2,0:0", "2,1", "2,3")
    assert (sidebar(page, "Stride W"), sidebar(page, "Pad high H"), sidebar(page, "Dilation H"),
            sidebar(page, "Kernel size W")) == ("2", "2", "2", "3")
    assert not page.errors, page.errors


def test_dragging_the_stride_shows_every_value(page, app_url):
    open_view(page, app_url + "/explorer_2d?shape=12,12")
    box = page.locator('[data-testid="cx-ctl-stride-1"]').bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 3, y)
    page.mouse.down()
    for i in range(1, 41):  # to the end of the track (stride 1 .. 12), a user's drag
        page.mouse.move(box["x"] + 3 + (box["width"] * 0.4 - 3) * i / 40, y)
        page.wait_for_timeout(15)
    page.mouse.up()
    page.wait_for_timeout(800)
    strides = [int(str(s["query"].get("stride", "1")).split(",")[-1])
               for s in view(page, "v.history") if s["query"] is not None]
    seen = [v for i, v in enumerate(strides) if i == 0 or v != strides[i - 1]]
    top = seen[-1]
    assert top >= 5 and seen[:top] == list(range(1, top + 1)), seen  # 1, 2, 3, 4, 5 ...


def test_same_with_a_stride_keeps_the_view_with_the_notice_and_tensorflows_pads(page, app_url):
    open_view(page, app_url + "/explorer_2d?pad=same&stride=2&shape=7,6&size=3")
    assert view(page, "v.scene.pads") == [list(p) for p in cc.tf_same_pads((7, 6), 3, 2)]
    assert view(page, "v.scene.out_shape") == [4, 3]  # ceil(7/2), ceil(6/2)
    assert "PyTorch refuses padding='same' with a stride > 1" in page.inner_text("body")
    assert_view_is_the_core(page, 2)
    # in the view: stride back to 1 is PyTorch's same; up again, SAME again, with the notice
    slide(page, "cx-ctl-stride-0", "ArrowLeft")
    slide(page, "cx-ctl-stride-1", "ArrowLeft")
    assert view(page, "v.scene.pads") == [[1, 1], [1, 1]]
    slide(page, "cx-ctl-stride-1")
    assert "PyTorch refuses" in page.inner_text('[data-testid="cx-ctl-message"]')
    assert view(page, "v.scene.out_shape") == [7, 3]
    assert_view_is_the_core(page, 2)


def test_a_network_layer_shows_what_it_fixes_and_changes_the_rest_in_the_view(page, app_url):
    """The explorer on the trained network's layer 2 (as its page links it): kernel size,
    C_out, groups and bias are the layer's — shown fixed and said; stride and padding change
    in the view as on any layer, and the output stays the core's."""
    open_view(page, app_url + "/explorer_2d?src=network&kernel=network&layer=2&image=17"
                              "&pad=1&outmaps=16&omap=5")
    root = page.locator(ROOT_SEL)
    for testid in ("cx-ctl-size-0", "cx-ctl-size-1", "cx-ctl-outmaps"):
        assert root.locator(f'[data-testid="{testid}"]').is_disabled(), testid
    assert view(page, "Array.from(v.root.querySelector('[data-testid=\"cx-ctl-groups\"]')"
                      ".options, (o) => o.value)") == ["1"]
    assert root.locator('[data-testid="cx-ctl-bias-learned"]').inner_text() == "learned"
    assert root.locator('[data-testid="cx-ctl-bias-on"]').count() == 0
    assert root.locator('[data-testid="cx-ctl-fixed"]').inner_text() == (
        "kernel 3×3, C_out 16, groups 1 and bias: set by the network's layer 2")
    assert_view_is_the_core(page, 2)
    slide(page, "cx-ctl-stride-1")  # stride W 1 -> 2: the network's layer, strided
    assert view(page, "v.scene.stride") == [1, 2] and view(page, "v.scene.out_shape") == [8, 4]
    assert_view_is_the_core(page, 2)
    # a fixed control asked for anyway (a hand-made request): the same layer (not redrawn),
    # and why
    before = loads(page)
    view(page, "v.request({outmaps: '3', groups: '2'})")
    page.wait_for_function("() => document.querySelector('[data-testid=\"cx-ctl-message\"]')"
                           ".textContent.includes('Output maps C_out')")
    assert loads(page) == before
    message = page.inner_text('[data-testid="cx-ctl-message"]')
    assert "Output maps C_out: asked 3, using 16 — set by the network's layer 2" in message
    assert "Groups: asked 2, using 1 — set by the network's layer 2" in message
    assert view(page, "v.payload.layer.outmaps") == 16
    wait_until_idle(page)
    page.wait_for_function("() => new URLSearchParams(location.search).get('stride') === '1,2'",
                           timeout=10_000)
    q = url_query(page)
    assert (q["src"], q["kernel"], q["layer"], q["image"]) == ("network", "network", "2", "17")
    assert not page.errors, page.errors


def test_a_refused_layer_keeps_the_view_and_says_why(page, app_url):
    open_view(page, app_url + "/explorer_2d?shape=4")
    before = loads(page)
    view(page, "v.request({size: '9'})")  # past the bound: clamped with a notice
    wait_loaded(page, before)
    assert "Kernel size H: asked 9, using 4" in page.inner_text('[data-testid="cx-ctl-message"]')
    view(page, "v.request({stride: 'x'})")  # unreadable: the API's 400 is said, nothing moves
    page.wait_for_function("() => document.querySelector('[data-testid=\"cx-ctl-message\"]')"
                           ".textContent.includes('stride')")
    assert view(page, "v.scene.kernel") == [4, 4]


# ------------------------------------------------------------------------------ layout

def test_presenter_1d_at_1280x720_shows_the_equation_above_the_fold(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        open_view(page, app_url + "/?presenter=1")
        page.evaluate("window.scrollTo(0, 0)")
        assert view(page, "v.hasPartials()")  # the partial sums take a row of their own
        bottom = page.evaluate("() => document.querySelector('.cx-eq').getBoundingClientRect()"
                               ".bottom")
        assert 0 < bottom <= 720, bottom
    finally:
        context.close()


@pytest.mark.parametrize("query,maps,least", [("", 1, 18), ("&inmaps=4&shape=8", 4, 16)])
def test_presenter_1280x720_fits_every_map_and_writes_values_large(browser, app_url, artifacts,
                                                                    query, maps, least):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        open_view(page, app_url + "/explorer_2d?presenter=1" + query)
        page.evaluate("window.scrollTo(0, 0)")
        assert page.locator(".cx-input").count() == maps and page.locator(".cx-out").count() == 2
        boxes = page.evaluate("""() => [...document.querySelectorAll([
            '.cx-inputs .cx-box', '.cx-kernels .cx-box', '.cx-out .cx-box', '.cx-partials',
            '.cx-eq', '.cx-bar'].join(', '))].map(e => { const b = e.getBoundingClientRect();
              return [e.className, b.left, b.top, b.right, b.bottom]; })""")
        assert len(boxes) == maps + maps + 2 + 3
        for name, left, top, right, bottom in boxes:
            assert left >= 0 and top >= 0 and right <= 1280 and bottom <= 720, (name, bottom)
        # the numbers are written on each map's top canvas (grid.js), at its labels' size
        sizes = view(page, "[...v.inputs, ...v.kernels, ...v.outputs].filter((g) => g.labels)"
                           ".map((g) => g.labels.size)")
        assert sizes and min(sizes) >= least, sorted(sizes)[:5]
        labelled = view(page, "[...v.inputs, ...v.kernels].every((g) => g.labels)")
        assert labelled  # every input map and kernel writes its values
        if view(page, "v.outputs.some((g) => !g.labels)"):  # 4 maps: 4-digit outputs
            assert "colour shows them; hover a cell for its value" in page.inner_text(".cx-note")
        shot(page, artifacts, f"view-presenter-{maps}-maps-1280x720")
    finally:
        context.close()


def test_the_partial_sums_add_up_to_the_core_output_and_are_its_taps(page, app_url):
    query = {"src": "random", "inmaps": "4", "outmaps": "6", "groups": "2", "shape": "6,5",
             "size": "3,2", "pad": "1", "omap": "4", "bias": "0.5,-1"}
    s, problems = url.from_query(query, 2)
    assert not problems
    comp = model.compute(s)
    open_view(page, app_url + "/explorer_2d?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert page.locator('[data-testid="cx-partials"] .cx-term').count() == 2 + 2  # maps, b, =
    rng = np.random.default_rng(3)
    for step in sorted({0, comp.steps - 1, *rng.integers(0, comp.steps, 5).tolist()}):
        page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.go({step})")
        parts = json.loads(view(page, "v.root.dataset.partials"))
        cell = tuple(int(i) for i in np.unravel_index(step, comp.out_spatial))
        assert math.isclose(sum(parts) + comp.bias[4], float(comp.out[0, 4, *cell]),
                            rel_tol=1e-5, abs_tol=1e-4)
        trace = cc.trace_step(comp.x, comp.weight, comp.bias, out_index=(0, 4, *cell),
                              **s.conv_kwargs())
        for m, c in enumerate((2, 3)):  # output map 4 reads input maps 2 and 3
            mine = sum(t.product for t in trace.taps if t.in_channel == c)
            assert parts[m] == pytest.approx(mine, rel=1e-5, abs=1e-4)
        shown = page.locator('[data-testid="cx-partials"] .cx-term-value').all_inner_texts()
        assert shown[-1] == cc.format_number(float(comp.out[0, 4, *cell]))
    # hover-linked: a term lights its map; a map's cell lights its term
    page.locator('[data-testid="cx-partials"] .cx-term').nth(1).hover()
    assert view(page, "v.root.dataset.hover") == "term"
    g = view(page, "(() => { const b = v.inputs[0].dyn.getBoundingClientRect(); "
                   "return [b.left + v.inputs[0].cs * 1.5, b.top + v.inputs[0].cs * 1.5]; })()")
    page.mouse.move(*g)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.hover === "
                           "'input'")
    lit = page.locator('[data-testid="cx-partials"] .cx-term-lit')
    assert lit.count() == 1 and lit.get_attribute("data-m") == "0"


# ------------------------------------------------------------------------------ export

def test_the_gif_is_the_view_frame_by_frame_and_the_video_plays(page, app_url, tmp_path):
    open_view(page, app_url + "/explorer_2d?inmaps=2&stride=2&src=random&shape=6&size=3"
                              "&speed=30")
    steps = view(page, "v.steps")
    with page.expect_download(timeout=60_000) as got:
        page.click('[data-testid="cx-gif"]')
    path = tmp_path / "window.gif"
    got.value.save_as(path)
    made = view(page, "v.recorder.last")
    area = view(page, "(() => { const a = v.recorder.area(); return [a.width, a.height]; })()")
    gif = Image.open(path)
    assert gif.n_frames == steps == made["frames"]
    assert gif.size == (made["width"], made["height"]) == tuple(area)
    first = np.asarray(gif.convert("RGB"))
    gif.seek(steps - 1)
    last = np.asarray(gif.convert("RGB"))
    assert not np.array_equal(first, last)  # the window moved
    # every frame holds the view's two input maps (their blue-red scale) and is not blank
    assert (first < 200).any(axis=2).mean() > 0.05
    assert_video_plays(page, '[data-testid="cx-video"]', tmp_path / "window.webm", steps)
    assert not page.errors, page.errors


def test_the_gif_encoder_round_trips_through_pillow(page, app_url):
    page.goto(app_url + "/app/static/view/gif.js")
    got = page.evaluate(f"""async () => {{
      const gif = await import('{app_url}/app/static/view/gif.js');
      const w = 37, h = 21, frames = [];
      for (let f = 0; f < 3; f++) {{
        const a = new Uint8ClampedArray(w * h * 4);
        for (let i = 0; i < w * h; i++) {{
          const v = ((i % w) + f * 3) % 12;  // twelve colours: exact in a palette
          a.set([v * 20, 255 - v * 20, (v * 50) % 256, 255], i * 4);
        }}
        frames.push(a);
      }}
      const bytes = gif.encodeGif(frames, w, h, 5);
      return [Array.from(bytes), frames.map((f) => Array.from(f))];
    }}""")
    data, frames = got
    gif = Image.open(io.BytesIO(bytes(data)))
    assert gif.size == (37, 21) and gif.n_frames == 3
    for i in range(3):
        gif.seek(i)
        want = np.asarray(frames[i], dtype=np.uint8).reshape(21, 37, 4)[..., :3] // 8 * 8
        got_rgb = np.asarray(gif.convert("RGB")) // 8 * 8
        assert np.abs(got_rgb.astype(int) - want).max() <= 8
