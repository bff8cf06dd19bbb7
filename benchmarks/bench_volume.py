"""The 3-D explorer (issue 15's numbers), against references measured in the same run.

1. Server: an AppTest rerun of the 3-D page at 16³ (random input, a 3³ kernel) after the
   view reports a step, and after a control change (a new input seed each round: input,
   convolution, scene and its JSON computed afresh), against the default 2-D page's rerun
   after a step report — interleaved rounds, medians.  Target: <= 150 ms.
2. Browser (headless Debian Chromium), timed in the page with ``performance.now()``: a step
   (``go``), an input-voxel hover and an output-voxel hover (a real ``mousemove`` dispatched on
   a slice's canvas), 200 each, to the end of the redraw and to the next animation frame, at
   16³ with a 3³ kernel; the same step on the default 2-D page for reference.  Target: median
   <= 16 ms.
3. The 3-D overview's rotation: a drag on its WebGL canvas (mousedown, one mousemove per
   animation frame, plotly's own camera control), 3 s; frames painted per second while it
   turns, and that the camera did turn.  Target: >= 30.
4. Websocket messages sent while stepping and hovering (0 expected).
5. ``--side N`` (e.g. 64, the rank table's max side): the scene and the view at N³ with a
   shipped kernel (gaussian 3x3x3, padding 1) instead — the scene's build time and JSON size
   and whether it is exact (every voxel) or subsampled, the view's build (slices painted) in
   the page, steps and hovers as in 2., and a GIF of Play (the recorder's frame size, the
   frames its budgets allow, the time to record them, or its refusal); the server reruns
   (1.) at N³, and no rotation (3.).

``--transposed``: the same for the transposed page in 3-D (``?ndim=3``, its 3-D view
volume_transposed.js) at 8³ with stride 2 and a 3³ kernel (a 17³ output): the server's rerun
after a step report and after a new seed, the scatter view's step and voxel hovers, and a step
of the gather view (the 19³ zero-inserted input).

    python benchmarks/bench_volume.py [--rounds 7] [--side 64 | --transposed]
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_browser import ARGS, COUNT_WS, MEDIAN_P95, TIME_UPDATES, serve  # noqa: E402

QUERY = {"src": "random", "shape": "16", "size": "3"}
PAGE_3D = """
import sys
sys.path.insert(0, ROOT)
from app.explorer.page import explorer_page
explorer_page(NDIM)
"""
QUERY_T = {"ndim": "3", "src": "random", "shape": "8", "size": "3", "stride": "2"}
PAGE_T = """
import sys
sys.path.insert(0, ROOT)
from app.transposed.page import transposed_page
transposed_page()
"""
TIME_3D = """async ([kind, n]) => {
  const v = document.querySelector('[data-testid="cx-root"]').__cx;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  const sync = [], painted = [];
  const stack = kind === 'input' ? v.input : v.output;
  for (let i = 0; i < n; i++) {
    let t0;
    if (kind === 'step') {
      t0 = performance.now();
      v.go((v.step + 1) % v.steps);
    } else {
      const [D, H, W] = stack.shape;
      const d = i % D, r = (i * 7) % H, c = (i * 3) % W;
      const s = stack.slices[d];
      const b = s.canvas.getBoundingClientRect();
      t0 = performance.now();
      s.canvas.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
        clientX: b.left + (c + 0.5) * b.width / W, clientY: b.top + (r + 0.5) * b.height / H}));
    }
    sync.push(performance.now() - t0);
    painted.push((await frame()) - t0);
  }
""" + MEDIAN_P95 + """  return [med(sync), p95(sync), med(painted), p95(painted)];
}"""
ROTATE = """async (seconds) => {
  // a drag as a user makes it: mousedown on the overview's WebGL canvas, one mousemove per
  // animation frame (plotly's own camera control turns the scene), mouseup; frames painted
  // per second while turning, and how far the camera turned
  const v = document.querySelector('[data-testid="cx-root"]').__cx;
  const canvas = [...v.overview.querySelectorAll('canvas')].pop();
  const b = canvas.getBoundingClientRect();
  const y = b.top + b.height / 2;
  const at = (x, type, buttons) => canvas.dispatchEvent(new MouseEvent(type, {
    bubbles: true, clientX: x, clientY: y, buttons, button: 0}));
  const eye0 = JSON.stringify(v.overview._fullLayout.scene._scene.getCamera().eye);
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  let x = b.left + 20, frames = 0;
  at(x, 'mousedown', 1);
  const t0 = await frame();
  let now = t0;
  while (now - t0 < seconds * 1000) {
    x = b.left + 20 + ((frames * 4) % (b.width - 40));
    at(x, 'mousemove', 1);
    now = await frame();
    frames += 1;
  }
  at(x, 'mouseup', 0);
  const eye1 = JSON.stringify(v.overview._fullLayout.scene._scene.getCamera().eye);
  return [frames / ((now - t0) / 1000), eye0 !== eye1];
}"""


def side_query(side: int) -> dict:
    return {"src": "random", "shape": str(side), "kernel": "preset",
            "preset": "gaussian 3x3x3", "pad": "1"}


def scene_at(side: int, rounds: int) -> dict:
    """The scene at side³ (build_scene + its JSON, median ms), its size, exactness and scale."""
    import json

    from app.shared import model, url
    from app.shared import scene as scenes

    s, problems = url.from_query(side_query(side), 3)
    assert not problems, problems
    comp = model.compute(s)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        text = json.dumps(scenes.build_scene(comp, s.item, s.omap))
        times.append((time.perf_counter() - t0) * 1e3)
    sc = json.loads(text)
    return {"ms": statistics.median(times), "bytes": len(text), "exact": sc["exact"],
            "scale": sc["scale"], "padded": sc["padded_shape"], "out": sc["out_shape"]}


RECORD_3D = """async () => {
  const v = document.querySelector('[data-testid="cx-root"]').__cx;
  const t0 = performance.now();
  const made = await v.recorder.gif();
  return {...made, ms: performance.now() - t0};
}"""
BUILD_3D = """async (n) => {
  const v = document.querySelector('[data-testid="cx-root"]').__cx;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  const sync = [];
  for (let i = 0; i < n; i++) {
    await frame();
    const t0 = performance.now();
    v.build();
    sync.push(performance.now() - t0);
  }
""" + MEDIAN_P95 + """  return [med(sync), p95(sync)];
}"""


def server(rounds: int, query: dict = QUERY, label: str = "3-D 16³, 3³ kernel",
           transposed: bool = False) -> dict:
    import view_payload as vp
    from streamlit.testing.v1 import AppTest

    from app.shared import view

    def page(ndim, query, script=PAGE_3D):
        at = AppTest.from_string(script.replace("ROOT", repr(str(ROOT))).replace(
            "NDIM", str(ndim)), default_timeout=300)
        at.query_params.update(query)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    seq = iter(range(1, 10**9))

    def report(at, ndim, component, i, prefix="e"):
        p = vp.payload(at, component)
        at.session_state[f"{prefix}{ndim}.view"] = {"view": {
            "scene": p["scene_id"], "seq": next(seq), **p["init"], "step": i % 8}}

    if transposed:
        three, three_c = page(3, QUERY_T, PAGE_T), page(3, QUERY_T, PAGE_T)
        label, prefix, component = ("transposed 3-D 8³, stride 2, 3³ kernel", "t",
                                    view.TRANSPOSED_VOLUME)
    else:
        three, three_c = page(3, query), page(3, query)
        prefix, component = "e", view.VOLUME
    two = page(2, {})
    cases = {
        f"{label}: the view reports a step":
            (three, lambda i: report(three, 3, component, i, prefix)),
        f"{label}: a new input seed (sidebar; computed afresh each round)":
            (three_c, lambda i: three_c.number_input(key=f"{prefix}3.seed").set_value(100 + i)),
        "reference: 2-D default page, the view reports a step":
            (two, lambda i: report(two, 2, view.COMPONENT, i)),
    }
    times = {name: [] for name in cases}
    for i in range(rounds + 2):
        for name, (at, prepare) in cases.items():
            prepare(i)
            t0 = time.perf_counter()
            at.run()
            if i >= 2:
                times[name].append((time.perf_counter() - t0) * 1e3)
            assert not at.exception, (name, [e.value for e in at.exception])
    return {name: statistics.median(v) for name, v in times.items()}


def browser(n: int, seconds: float, query: dict = QUERY, builds: int = 0,
            transposed: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    proc, url = serve(ROOT / "app" / "streamlit_app.py")
    out = {}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                  args=ARGS)
            ctx = b.new_context(viewport={"width": 1400, "height": 1000})
            ctx.add_init_script(COUNT_WS)
            page = ctx.new_page()
            if transposed:
                query = QUERY_T
            address = "&".join(f"{k}={v}" for k, v in query.items())
            page.goto(f"{url}/{'transposed' if transposed else 'explorer_3d'}?{address}")
            page.wait_for_selector('[data-testid="cx-root"] .cx-plot .main-svg',
                                   timeout=120_000)
            page.wait_for_timeout(1500)
            if builds:
                out["build"] = page.evaluate(BUILD_3D, builds)
                out["slices"] = page.evaluate(
                    "document.querySelectorAll('[data-testid=\"cx-root\"] .cx-vol-slice')"
                    ".length")
            sent = page.evaluate("window.__wsSent")
            recv = page.evaluate("window.__wsRecv")
            for kind in ("step", "input", "output"):
                out[kind] = page.evaluate(TIME_3D, [kind, n])
            if transposed:  # the gather view: a window over the zero-inserted input
                page.evaluate("document.querySelector('[data-testid=\"cx-root\"]').__cx"
                              ".setMode('gather')")
                out["gather step"] = page.evaluate(TIME_3D, ["step", n])
            out["sent while stepping and hovering"] = page.evaluate("window.__wsSent") - sent
            if builds:
                page.wait_for_timeout(3000)  # the report once the steps stop, and its rerun
                out["received"] = page.evaluate("window.__wsRecv") - recv
                out["gif"] = page.evaluate(RECORD_3D)
            if not builds:
                out["rotation fps"] = page.evaluate(ROTATE, seconds)
            out["overview voxels"] = page.evaluate(
                "document.querySelector('[data-testid=\"cx-root\"]').__cx.overview.data[0]"
                ".x.length")
            page2 = ctx.new_page()
            page2.goto(f"{url}/explorer_2d")
            page2.wait_for_selector('[data-testid="cx-root"] .cx-plot .main-svg',
                                    timeout=120_000)
            page2.wait_for_timeout(1500)
            out["reference step"] = page2.evaluate(TIME_UPDATES, ["step", n])
            ctx.close()
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def print_server(med: dict) -> None:
    """The server's reruns as a table, against the 2-D reference."""
    print("## Server: AppTest rerun, median ms (target <= 150 ms at 16³)\n")
    ref = med["reference: 2-D default page, the view reports a step"]
    print("| | median ms | / reference |\n|---|---:|---:|")
    for name, ms in med.items():
        print(f"| {name} | {ms:.1f} | {ms / ref:.2f} |")


def print_updates(got: dict, transposed: bool = False) -> None:
    """The browser's step and hover timings as a table."""
    print("| | median ms | p95 ms | to next frame, median | p95 |\n|---|---:|---:|---:|---:|")
    mode = "scatter " if transposed else ""
    for kind, name in (("step", f"{mode}step (go)"), ("input", f"{mode}input-voxel hover"),
                       ("output", f"{mode}output-voxel hover"),
                       *([("gather step", "gather step (go)")] if transposed else []),
                       ("reference step", "reference: 2-D default page, step")):
        a, b, c, d = got[kind]
        print(f"| {name} | {a:.2f} | {b:.2f} | {c:.2f} | {d:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--side", type=int, default=0,
                    help="the scene and the view at side³ (gaussian 3x3x3, padding 1)")
    ap.add_argument("--transposed", action="store_true",
                    help="the transposed page in 3-D (8³, stride 2, 3³ kernel)")
    args = ap.parse_args()
    if args.side:
        side = args.side
        sc = scene_at(side, args.rounds)
        print(f"## Scene at {side}³ (gaussian 3x3x3, padding 1)\n")
        print(f"build_scene + JSON: {sc['ms']:.1f} ms median; {sc['bytes']:,} bytes of JSON; "
              f"padded {sc['padded']}, output {sc['out']}; exact: {sc['exact']} "
              f"(scale {sc['scale']})\n")
        print_server(server(args.rounds, side_query(side), f"3-D {side}³, gaussian 3x3x3"))
        got = browser(args.updates, args.seconds, side_query(side), builds=5)
        print(f"\n## Browser at {side}³ (performance.now() in the page)\n")
        a, b = got["build"]
        print(f"view build (v.build(): {got['slices']} slices painted, overview drawn): "
              f"median {a:.1f} ms, p95 {b:.1f} ms\n")
        print_updates(got)
        print(f"Websocket messages sent while stepping and hovering: "
              f"{got['sent while stepping and hovering']}")
        print(f"Bytes the page received over the websocket meanwhile (the rerun after that "
              f"report): {got['received']:,}")
        g = got["gif"]
        print(f"\nGIF of Play: a {g['width']}×{g['height']} px frame; " + (
            f"refused: {g['error']}" if g.get("error") else
            f"{g['frames']} frames in {g['ms'] / 1000:.1f} s, {g['bytes']:,} bytes"
            + (f" ({g['note']})" if g.get("note") else "")))
        return
    t = args.transposed
    print_server(server(args.rounds, transposed=t))
    print("\n## Browser, " + ("the transposed page in 3-D, 8³ input, stride 2" if t
                              else "16³ input") + ", 3³ kernel (performance.now() in the page)\n")
    got = browser(args.updates, args.seconds, transposed=t)
    print_updates(got, t)
    fps, turned = got["rotation fps"]
    print(f"\nOverview rotation (a drag): {fps:.1f} fps over {args.seconds:g} s "
          f"({got['overview voxels']} voxels; target >= 30)"
          + ("" if math.isfinite(fps) else " (no frames)")
          + ("" if turned else " — the camera did NOT turn"))
    print(f"Websocket messages sent while stepping and hovering: "
          f"{got['sent while stepping and hovering']}")


if __name__ == "__main__":
    main()
