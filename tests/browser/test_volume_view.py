"""The 3-D explorer's browser view (app/static/view/volume.js) in Chromium, compared with the
core: the window's taps against ``cc.window_map`` and the lit depth planes, a hovered voxel's
lit outputs against ``cc.coverage`` (each lit output's window really reads it), a hovered
output's window, the equation against ``cc.equation`` at sampled steps, the 3-D overview's
voxels and window box, the URL's three values per axis surviving the round trip, and Play
recorded as a GIF (one frame per step, drawn from the slices as the page draws them) and as a
WebM that plays, within the recorder's budgets; and a 64³ volume (the rank table's max side)
drawn voxel for voxel: slice pixels in the colours of the core's values, equations exact, and
recorded by its window's slices only (the whole drawing is beyond a frame's budget).
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image
from test_browser import assert_no_js_errors, assert_video_plays, open_view, shot

import convcore as cc
from app.shared import model, url

pytestmark = pytest.mark.browser

ROOT_SEL = '[data-testid="cx-root"]'
QUERY = {"src": "random", "shape": "4,5,6", "size": "3,2,3", "stride": "1,2,2", "pad": "1",
         "dilation": "1,1,2", "bias": "0.5"}


def address(app_url: str, query: dict) -> str:
    return f"{app_url}/explorer_3d?" + "&".join(f"{k}={v}" for k, v in query.items())


def state(page) -> dict:
    return page.evaluate(f"() => ({{...document.querySelector('{ROOT_SEL}').dataset}})")


def go(page, step: int) -> None:
    page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.go({step})")


def equation(page) -> str:
    return page.inner_text(f"{ROOT_SEL} .cx-eq")


def computation(query: dict):
    s, problems = url.from_query(query, 3)
    assert not problems
    return s, model.compute(s)


def hover(page, stack: str, q) -> dict:
    """Move the mouse onto display cell q = [d, r, c] of a slice stack."""
    x, y = page.evaluate(f"""q => document.querySelector('{ROOT_SEL}').__cx.{stack}.centre(q)""",
                         list(q))
    page.mouse.move(x, y)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.hover === "
                           f"'{stack}'", timeout=5000)
    return state(page)


def test_taps_planes_and_equation_are_the_cores(page, app_url, artifacts):
    s, comp = computation(QUERY)
    open_view(page, address(app_url, QUERY))
    assert state(page)["layout"] == "slices"
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    steps = comp.steps
    assert page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.steps") == steps
    sample = sorted({0, 1, steps // 2, steps - 1,
                     *np.random.default_rng(3).integers(0, steps, 8).tolist()})
    for step in sample:
        go(page, step)
        got = state(page)
        assert json.loads(got["taps"]) == wmap.coords[step].tolist(), step
        assert json.loads(got["planes"]) == sorted({int(p[0]) for p in wmap.coords[step]})
        assert equation(page) == cc.equation(model.step_trace(comp, s, step)), step
    # the depth slices: one per padded depth, the lit ones carry the class
    padded = comp.padded.values.shape[2:]
    assert page.locator('[data-testid="cx-vol-input"] canvas').count() == padded[0]
    lit = page.locator('[data-testid="cx-vol-input"] .cx-vol-lit').count()
    assert lit == len(json.loads(state(page)["planes"]))
    shot(page, artifacts, "volume-view")
    assert_no_js_errors(page)


def test_voxel_hover_lights_the_outputs_the_core_counts(page, app_url):
    s, comp = computation(QUERY)
    open_view(page, address(app_url, QUERY))
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    cov = cc.coverage(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                      s.dilation)
    lo = [p[0] for p in comp.padded.pads]
    coords = wmap.coords.tolist()
    for u in ((0, 0, 0), (1, 2, 3), (3, 4, 5), (2, 0, 4), (0, 3, 1)):
        p = [a + b for a, b in zip(u, lo)]
        got = hover(page, "input", p)
        lit = [int(v) for v in got["lit"].split(",") if v]
        assert len(lit) == cov.counts[u], u
        for k in lit:
            assert p in coords[k], (u, k)
    # an output voxel: its window's taps and its equation
    out_shape = wmap.out_spatial
    for o in ((0, 0, 0), (1, 1, 1), tuple(n - 1 for n in out_shape)):
        got = hover(page, "output", o)
        k = int(np.ravel_multi_index(o, out_shape))
        assert json.loads(got["taps"]) == coords[k]
        assert equation(page) == cc.equation(model.step_trace(comp, s, k))
    assert_no_js_errors(page)


def test_the_overview_draws_the_voxels_and_the_window_box(page, app_url):
    query = {"src": "sample", "sample": "moving bar (clip)", "kernel": "preset",
             "preset": "temporal difference", "stride": "1,2,2"}
    s, comp = computation(query)
    open_view(page, address(app_url, query))
    got = page.evaluate(f"""() => {{
      const v = document.querySelector('{ROOT_SEL}').__cx;
      const d = v.overview.data;
      return {{voxels: d[0].x.length, type: d[0].type, box: d[1].x.filter(x => x !== null).length,
               taps: d[2].x.length}};
    }}""")
    assert got["type"] == "scatter3d"
    # 8×10×12 = 960 voxels: under the overview's budget of 1,000, every one is drawn
    assert got["voxels"] == comp.x[0, 0].size
    assert got["box"] == 24  # 12 edges
    assert got["taps"] == 27  # a 3³ window inside the clip at step 0 (no padding)
    go(page, 5)  # the overview follows once the steps pause (150 ms)
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').dataset.overviewStep "
                           "=== '5'", timeout=5000)
    taps5 = page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.overview.data[2]")
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    H = comp.x.shape[3]
    want = sorted((int(c), int(d), H - 1 - int(r)) for d, r, c in wmap.coords[5])
    assert sorted(zip(taps5["x"], taps5["y"], taps5["z"])) == want
    assert_no_js_errors(page)


def test_three_values_per_axis_survive_the_url_round_trip(page, app_url):
    open_view(page, address(app_url, QUERY))
    go(page, 7)
    link = page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.link()")
    q = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    assert q["stride"] == "1,2,2" and q["size"] == "3,2,3" and q["shape"] == "4,5,6"
    assert q["step"] == "8"
    s, problems = url.from_query(q, 3)
    assert not problems and s.step == 7 and s.stride == (1, 2, 2)
    # the link opens the same view at the same step
    open_view(page, link)
    assert state(page)["step"] == "7"
    assert_no_js_errors(page)


def test_predict_mode_hides_the_voxel_until_the_guess_is_checked(page, app_url):
    s, comp = computation(QUERY)
    open_view(page, address(app_url, {**QUERY, "predict": "1", "step": "3"}))
    assert state(page)["predict"] == "hidden"
    assert equation(page).startswith("out[0,0,0,1,0] = ?")
    value = float(comp.out[(0, 0, *np.unravel_index(2, comp.out.shape[2:]))])
    page.fill('[data-testid="cx-guess"]', cc.format_number(value).replace("\u2212", "-"))
    page.click('[data-testid="cx-check"]')
    assert state(page)["predict"] == "right" and state(page)["score"] == "1/1"
    assert equation(page) == cc.equation(model.step_trace(comp, s, 2))
    go(page, 3)
    page.fill('[data-testid="cx-guess"]', "12345")
    page.click('[data-testid="cx-check"]')
    assert state(page)["predict"] == "wrong" and state(page)["score"] == "1/2"
    assert_no_js_errors(page)


def test_the_views_layer_controls_change_the_3d_layer_through_the_scene_api(page, app_url):
    open_view(page, address(app_url, QUERY))
    names = page.locator('[data-testid="cx-controls"] .cx-ctl-stride').inner_text()
    assert all(axis in names for axis in ("D", "H", "W"))
    loads = page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.loads")
    page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.request({{stride: '2,1,1'}})")
    page.wait_for_function(f"() => document.querySelector('{ROOT_SEL}').__cx.loads > {loads}",
                           timeout=30_000)
    s, comp = computation({**QUERY, "stride": "2,1,1"})
    wmap = cc.window_map(comp.x.shape[2:], comp.weight.shape[2:], s.stride, s.padding,
                         s.dilation)
    assert page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.steps") == comp.steps
    for step in (0, comp.steps // 2, comp.steps - 1):
        go(page, step)
        assert json.loads(state(page)["taps"]) == wmap.coords[step].tolist()
        assert equation(page) == cc.equation(model.step_trace(comp, s, step))
    # the page follows: its URL holds the new stride once the view reported
    page.wait_for_function("() => new URL(location.href).searchParams.get('stride') === "
                           "'2,1,1'", timeout=30_000)
    assert_no_js_errors(page)


def test_the_offline_html_export_is_the_same_3d_view(page, tmp_path):
    from app.shared import export, view
    from app.shared import scene as scenes

    s, comp = computation({**QUERY, "inmaps": "2", "outmaps": "2", "groups": "1"})
    text = json.dumps(scenes.build_scene(comp, 0, 1))
    payload = view.payload(text, "export", {"step": 4, "speed": 2, "reveal": False}, False)
    path = tmp_path / "explorer_3d.html"
    path.write_bytes(export.html_bytes(payload, "export test", 3))
    page.goto(path.as_uri())
    page.wait_for_selector(f"{ROOT_SEL} .cx-eq", timeout=45_000)
    s1 = s.__class__(**{**s.__dict__, "omap": 1})
    assert equation(page) == cc.equation(model.step_trace(comp, s1, 4))
    go(page, 9)
    assert equation(page) == cc.equation(model.step_trace(comp, s1, 9))
    # both input maps are in the equation; the slices show one at a time (a selector)
    assert "x[0,0," in equation(page) and "x[0,1," in equation(page)
    assert page.locator(f'{ROOT_SEL} select[aria-label="input map shown"]').count() == 1
    assert not page.errors, page.errors


def view(page, expr: str):
    return page.evaluate(f"() => {{ const v = document.querySelector('{ROOT_SEL}').__cx; "
                         f"return {expr}; }}")


def test_play_records_as_a_gif_of_the_slices_and_a_webm_that_plays(page, app_url, tmp_path):
    _, comp = computation(QUERY)
    open_view(page, address(app_url, {**QUERY, "speed": "30"}))
    steps = comp.steps
    with page.expect_download(timeout=60_000) as got:
        page.click(f'{ROOT_SEL} [data-testid="cx-gif"]')
    path = tmp_path / "window.gif"
    got.value.save_as(path)
    assert got.value.suggested_filename == "conv3d_stride1x2x2_window.gif"
    made = view(page, "v.recorder.last")
    area = view(page, "(() => { const a = v.recorder.area(); return [a.left, a.top, a.width, "
                      "a.height]; })()")
    gif = Image.open(path)
    assert gif.n_frames == steps == made["frames"]
    assert gif.size == (made["width"], made["height"]) == tuple(area[2:])
    assert not made["note"]
    # the frame is the slices as drawn: back at step 0, the output stack's first slice and the
    # lit input slices' canvases are in frame 0 where the page draws them (up to GIF colours)
    first = np.asarray(gif.convert("RGB")).astype(int)
    for stack, d in (("output", 0), ("input", json.loads(state(page)["planes"])[0])):
        x, y, w, h, px = view(page, f"""(() => {{
          const c = v.{stack}.slices[{d}].canvas;
          const b = c.getBoundingClientRect();
          const img = c.getContext('2d').getImageData(0, 0, c.width, c.height);
          return [b.left, b.top, c.width, c.height, Array.from(img.data)]; }})()""")
        assert (w, h) == (round(w), round(h))
        x0, y0 = round(x - area[0]), round(y - area[1] + 30)  # under the title line
        want = np.array(px).reshape(h, w, 4)[..., :3]
        part = first[y0:y0 + h, x0:x0 + w]
        assert part.shape == want.shape
        assert (np.abs(part - want) <= 12).all(axis=2).mean() > 0.99, stack
    gif.seek(steps - 1)
    last = np.asarray(gif.convert("RGB")).astype(int)
    assert not np.array_equal(first, last)  # the window moved through the volume
    # video: a WebM of every step that Chromium plays at the frame's size
    assert_video_plays(page, f'{ROOT_SEL} [data-testid="cx-video"]', tmp_path / "window.webm",
                       steps)
    assert state(page)["step"] == "0"  # the view is back where it was
    assert_no_js_errors(page)


def test_the_recorder_checks_its_budgets_before_drawing(page, app_url):
    open_view(page, address(app_url, QUERY))
    # a frame beyond MAX_FRAME_PIXELS is refused, naming the rule and the value
    plan = view(page, "v.recorder.plan('gif', {width: 2500, height: 2000})")
    assert plan["error"].startswith("GIF: the view's drawing is 2500\u00d72000 px = 5,000,000 px;")
    assert "at most 4,000,000 px" in plan["error"]
    # a GIF's frames × pixels: 5,000 steps of a 1000×1000 frame -> 100 evenly spaced, said
    plan = view(page, "(() => { const n = v.steps; v.steps = 5000; "
                      "const p = v.recorder.plan('gif', {width: 1000, height: 1000}); "
                      "v.steps = n; return p; })()")
    assert len(plan["steps"]) == 100 and plan["steps"][0] == 0 and plan["steps"][-1] == 4999
    assert plan["note"] == ("GIF: 100 of 5,000 steps, evenly spaced (at most 100,000,000 "
                            "frames \u00d7 pixels: 1,000,000 px a frame)")
    # a video records in real time: at most 2 minutes at the view's speed (2 steps/s here)
    plan = view(page, "(() => { const n = v.steps; v.steps = 5000; "
                      "const p = v.recorder.plan('video', {width: 500, height: 400}); "
                      "v.steps = n; return p; })()")
    assert len(plan["steps"]) == 240 and plan["steps"][-1] == 4999
    assert plan["note"] == "Video: 240 of 5,000 steps, evenly spaced (at most 120 s at 2 steps/s)"
    # a refusal is said in the bar, and nothing is downloaded
    said = page.evaluate(f"""async () => {{
      const v = document.querySelector('{ROOT_SEL}').__cx;
      v.recorder.area = () => ({{left: 0, top: 0, width: 9000, height: 100}});
      const r = await v.recorder.gif();
      return [r.error, v.copied.textContent];
    }}""")
    assert said[0] == said[1] and "8,192 px a side" in said[0]
    assert_no_js_errors(page)


def rdbu(value: float, zmax: float) -> np.ndarray:
    """The app's diverging scale (app.shared.figures) at ``value``, as the slices colour it."""
    from app.shared import figures

    stops = np.array([[int(v) for v in c[4:-1].split(",")] for _, c in figures.COLORSCALE])
    t = (np.clip(value, -zmax, zmax) / zmax + 1) / 2 * (len(stops) - 1)
    i = min(len(stops) - 2, int(t))
    return np.round(stops[i] + (stops[i + 1] - stops[i]) * (t - i))


def test_a_64_cubed_volume_is_drawn_voxel_for_voxel(page, app_url, tmp_path):
    query = {"src": "random", "shape": "64", "kernel": "preset", "preset": "gaussian 3x3x3",
             "pad": "1", "step": "1000"}
    s, comp = computation(query)
    open_view(page, address(app_url, query))
    assert view(page, "[v.scene.exact, v.scene.scale, v.input.slices.length, "
                      "v.output.slices.length]") == [True, 1, 66, 64]
    padded = comp.padded.values[0, 0]
    zin = float(np.abs(padded).max())
    out = comp.out[0, 0]
    zout = float(np.abs(out).max())
    rng = np.random.default_rng(64)
    # voxels away from the window (at step 1000: depth planes 0-2): each slice's pixel at the
    # voxel's centre is the colour of the core's value there
    cases = [("input", q, padded, zin) for q in rng.integers(8, 60, size=(4, 3)).tolist()]
    cases += [("output", q, out, zout) for q in rng.integers(8, 60, size=(4, 3)).tolist()]
    cases += [("input", [30, 0, 30], padded, zin), ("input", [65, 40, 12], padded, zin)]
    for stack, q, values, zmax in cases:
        got = view(page, f"""(() => {{
          const s = v.{stack}.slices[{q[0]}];
          const k = s.canvas.width / (s.cols * s.cs);
          const x = Math.floor(({q[2]} + 0.5) * s.cs * k);
          const y = Math.floor(({q[1]} + 0.5) * s.cs * k);
          return Array.from(s.ctx.getImageData(x, y, 1, 1).data.slice(0, 3)); }})()""")
        want = rdbu(float(values[tuple(q)]), zmax)
        if stack == "input" and (0 in q or 65 in q):  # padding: half-way to white
            want = np.round(want + (255 - want) * 0.5)
        assert np.abs(np.array(got) - want).max() <= 1, (stack, q, got, want)
    # an output voxel hovered: its equation, exact (not at display resolution), is the core's
    for o in ((40, 31, 7), (63, 63, 63)):
        hover(page, "output", o)
        k = int(np.ravel_multi_index(o, out.shape))
        assert equation(page) == cc.equation(model.step_trace(comp, s, k))
    # recorded: the whole drawing (a column of 66 + 3 + 64 slices) is beyond a frame's budget,
    # so the frames draw the window's slices only (4 steps here: what a frame holds)
    with page.expect_download(timeout=60_000) as got:
        made = page.evaluate(f"""async () => {{
          const v = document.querySelector('{ROOT_SEL}').__cx;
          const n = v.steps;
          v.steps = 4;
          try {{ return await v.recorder.gif(); }} finally {{ v.steps = n; }} }}""")
    got.value.save_as(tmp_path / "window64.gif")
    gif = Image.open(tmp_path / "window64.gif")
    assert gif.n_frames == made["frames"] == 4 and gif.size == (made["width"], made["height"])
    assert made["width"] * made["height"] <= 4_000_000
    whole = re.fullmatch(r"GIF: the window's slices only \(the whole drawing is (\d+)\u00d7"
                         r"(\d+) px, beyond a frame's 4,000,000 px or 8,192 px a side\)",
                         made["note"])
    assert whole and int(whole[2]) > 8192, made["note"]
    # frame 0 (step 0): the window's lit depth planes, the kernel and the output's slice, each
    # where the layout puts it, as the page draws it at step 0 (up to GIF colours)
    page.evaluate(f"() => document.querySelector('{ROOT_SEL}').__cx.go(0)")
    drawn = view(page, """(() => { const p = v.recordWindowParts();
      return p.canvases.map((c) => { const at = p.place.get(c);
        const img = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        return [c.closest('.cx-vol-stack').dataset.testid, Number(c.dataset.d),
                Math.round(at.x), Math.round(at.y), c.width, c.height, Array.from(img.data)];
      }); })()""")
    slices = {}
    for stack, d, *_ in drawn:
        slices.setdefault(stack, []).append(d)
    assert slices == {"cx-vol-input": json.loads(state(page)["planes"]),
                      "cx-vol-kernel": [0, 1, 2], "cx-vol-output": [0]}
    gif.seek(0)
    first = np.asarray(gif.convert("RGB")).astype(int)
    for stack, d, x, y, w, h, px in drawn:
        want = np.array(px).reshape(h, w, 4)[..., :3]
        part = first[y + 30:y + 30 + h, x:x + w]  # under the title line
        assert part.shape == want.shape, (stack, d)
        assert (np.abs(part - want) <= 12).all(axis=2).mean() > 0.99, (stack, d)
    assert_no_js_errors(page)


def test_reveal_and_predict_cover_exactly_the_hidden_output_voxels(page, app_url):
    # the covers are drawn as runs of slices, rows and cells: they are the voxels hidden() hides
    open_view(page, address(app_url, {**QUERY, "shape": "5,6,7", "stride": "1"}))
    got = page.evaluate(f"""() => {{
      const v = document.querySelector('{ROOT_SEL}').__cx;
      const [D, H, W] = v.scene.out_shape;
      const covered = () => {{
        const cells = new Set();
        const rect = v.output.rect;
        v.output.rect = (d, r, c, h, w, opts) => {{
          for (let i = 0; i < h; i++) {{
            for (let j = 0; j < w; j++) cells.add((d * H + r + i) * W + c + j);
          }}
        }};
        v.coverHidden();
        v.output.rect = rect;
        return cells;
      }};
      const cases = [];
      for (const [reveal, predict, step, answered] of [[true, false, 0, []], [true, false, 37, []],
          [false, true, 12, []], [false, true, 12, [12, 20, 21, 29, v.steps - 1]],
          [true, true, 30, [30, 40]], [true, false, v.steps - 1, []]]) {{
        v.reveal = reveal; v.predict = predict; v.step = step;
        v.answers = new Map(answered.map((k) => [k, {{guess: 0, right: true}}]));
        const mine = covered();
        const want = [...Array(v.steps).keys()].filter((k) => v.hidden(k));
        cases.push([want.length, mine.size, want.every((k) => mine.has(k))]);
      }}
      return cases;
    }}""")
    assert all(n > 0 for n, _, _ in got[:-1]) and got[-1][0] == 0
    for want, mine, same in got:
        assert same and want == mine, got
    assert_no_js_errors(page)
