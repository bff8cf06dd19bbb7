"""The explorer in a real browser (headless Debian Chromium), against references measured in
the same run.

1. First chart: seconds from navigation to the first drawn chart, for the explorer pages (the
   browser view's first plotly.js heatmap) and for a reference Streamlit page holding a title
   and one 2x2 ``st.plotly_chart`` heatmap (the floor the stack sets).  Median of interleaved
   loads, each in a fresh browser context (cold cache), plus a reload (warm cache).
2. Updates inside the page, timed with ``performance.now()`` in the page: a step (Next), an
   output-cell hover and an input-cell hover (a real ``mousemove`` dispatched on the canvas,
   timed to the end of the redraw, and to the next animation frame), 200 of each, on the
   default 2-D page and on a 256x256 image; Play frames per second on a 64x64 output.
3. Websocket messages the page sends while stepping, hovering and playing (counted by wrapping
   ``WebSocket.send`` in the page), and after it stops.
4. A layer change in the view (its stride slider, a key press): ``performance.now()`` at the
   key press to the next animation frame after the view redrew the scene the scene API sent,
   on the default 2-D page and a 64x64 input, and the websocket messages per change (the one
   debounced report); the scene API's own time (``Server-Timing``) and its round trip from the
   page.  For comparison the same change through the sidebar (a script rerun), and a Streamlit
   page with one number input and one ``st.plotly_chart`` (the floor of a rerun).
5. What the default page receives over the websocket on load (the payload, JS libraries apart).

    python benchmarks/bench_browser.py [--rounds 7]

Needs Chromium (``apt-get install chromium``) and the ``playwright`` package.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
REFERENCE = """import plotly.graph_objects as go
import streamlit as st

st.title("Reference")
st.plotly_chart(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
"""
REFERENCE_CONTROL = """import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.title("Reference")
n = st.number_input("Stride W", 1, 10, 2)
st.plotly_chart(go.Figure(go.Heatmap(z=np.arange(n * n).reshape(n, n))), key="chart")
"""
VIEW = '[data-testid="cx-root"]'
# the in-page statistics every timing script returns (a JS fragment)
MEDIAN_P95 = """  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const p95 = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length * 0.95)];
"""

COUNT_WS = """(() => {
  const send = WebSocket.prototype.send;
  window.__wsSent = 0;
  window.__wsRecv = 0;
  WebSocket.prototype.send = function (data) {
    window.__wsSent += 1;
    if (!this.__counted) {
      this.__counted = true;
      this.addEventListener('message', (e) => {
        window.__wsRecv += e.data.byteLength || e.data.size || e.data.length || 0;
      });
    }
    return send.call(this, data);
  };
})();"""
TIME_UPDATES = """async ([kind, n]) => {
  const v = document.querySelector('[data-testid="cx-root"]').__cx;
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  const sync = [], painted = [];
  const g = kind === 'input' ? v.inputs[0] : v.output;
  for (let i = 0; i < n; i++) {
    let t0;
    if (kind === 'step') {
      t0 = performance.now();
      v.go((v.step + 1) % v.steps);
    } else {
      const b = g.dyn.getBoundingClientRect();
      const r = (i * 7) % g.rows, c = (i * 3) % g.cols;
      t0 = performance.now();
      g.dyn.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,
        clientX: b.left + (c + 0.5) * g.cs, clientY: b.top + (r + 0.5) * g.ch}));
    }
    sync.push(performance.now() - t0);
    painted.push((await frame()) - t0);
  }
""" + MEDIAN_P95 + """  return [med(sync), p95(sync), med(painted), p95(painted)];
}"""
PLAY_FPS = """async (seconds) => {
  const v = document.querySelector('[data-testid="cx-root"]').__cx;
  v.speed = 60;
  v.go(0);
  const start = v.step;
  let frames = 0, last = v.step;
  v.play();
  const t0 = performance.now();
  await new Promise((done) => {
    const tick = () => {
      if (v.step !== last) { frames += 1; last = v.step; }
      if (performance.now() - t0 < seconds * 1000 && v.playing) requestAnimationFrame(tick);
      else done();
    };
    requestAnimationFrame(tick);
  });
  const elapsed = (performance.now() - t0) / 1000;
  v.stop(false);
  return [frames / elapsed, v.step - start];
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(script: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer on {url}")


def first_chart(browser, url: str, selector: str) -> tuple[float, float]:
    """(cold, warm) seconds to the first drawn chart: a fresh context, then a reload."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(selector, timeout=60_000)
        times.append(time.perf_counter() - t0)
    ctx.close()
    return times[0], times[1]


def open_view(browser, url: str, width: int = 1400, height: int = 1000):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    ctx.add_init_script(COUNT_WS)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector(f"{VIEW} .cx-plot .main-svg", timeout=120_000)
    page.wait_for_timeout(1500)
    return ctx, page


def updates(browser, url: str, n: int) -> dict:
    ctx, page = open_view(browser, url)
    sent = page.evaluate("window.__wsSent")
    out = {"step": page.evaluate(TIME_UPDATES, ["step", n])}
    out["sent while stepping"] = page.evaluate("window.__wsSent") - sent
    page.wait_for_timeout(1200)
    out["sent once stopped"] = page.evaluate("window.__wsSent") - sent
    for kind in ("output", "input"):
        out[kind] = page.evaluate(TIME_UPDATES, [kind, n])
    out["sent while hovering"] = page.evaluate("window.__wsSent") - sent - out["sent once stopped"]
    ctx.close()
    return out


def play(browser, url: str, seconds: float) -> tuple[float, int, int]:
    ctx, page = open_view(browser, url)
    sent = page.evaluate("window.__wsSent")
    fps, steps = page.evaluate(PLAY_FPS, seconds)
    during = page.evaluate("window.__wsSent") - sent
    ctx.close()
    return fps, steps, during


def control_change(browser, url: str, rounds: int) -> list[float]:
    """ms from the key press that changes the stride to the view redrawn with the new scene."""
    ctx, page = open_view(browser, url)
    box = page.get_by_role("spinbutton", name="Stride W", exact=True)
    times = []
    for i in range(rounds):
        loads = page.evaluate(f"document.querySelector('{VIEW}').__cx.loads")
        box.fill(str(2 - i % 2 if i else 2))
        t0 = page.evaluate("() => (window.__t0 = performance.now())")
        box.press("Enter")
        page.wait_for_function(f"() => document.querySelector('{VIEW}').__cx.loads > {loads}",
                               timeout=30_000)
        t1 = page.evaluate(f"document.querySelector('{VIEW}').__cx.loadedAt")
        times.append(t1 - t0)
        page.wait_for_timeout(300)
    ctx.close()
    return times


VIEW_CHANGE = """async ([key, wait]) => {
  const root = document.querySelector('[data-testid="cx-root"]');
  const v = root.__cx;
  const slider = root.querySelector('[data-testid="cx-ctl-stride-1"]');
  const before = v.loads;
  const sent = window.__wsSent;
  let t0 = 0;
  slider.addEventListener('keydown', () => { t0 = performance.now(); }, {once: true,
                                                                        capture: true});
  slider.focus();
  slider.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true}));
  slider.value = String(Number(slider.value) + (key === 'ArrowRight' ? 1 : -1));
  slider.dispatchEvent(new Event('input', {bubbles: true}));
  await new Promise((done) => { const poll = () => v.loads > before ? done() : setTimeout(poll, 0);
                                poll(); });
  const t1 = await new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  const loadMs = v.loadMs;
  const fetchMs = v.fetchMs;
  await new Promise((r) => setTimeout(r, wait));
  return [t1 - t0, loadMs, window.__wsSent - sent, fetchMs];
}"""
API_TIMES = """async ([query, n]) => {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(new URL('api/v1/scene?' + query, document.baseURI));
    await r.json();
    const server = Number((r.headers.get('server-timing') || '').split('dur=')[1]);
    out.push([performance.now() - t0, server]);
  }
  return out;
}"""


def view_control_change(browser, url: str, rounds: int) -> dict:
    """ms from the key press on the view's stride slider to the frame after the redraw, the
    view's load alone, and websocket messages per change (after the debounce)."""
    ctx, page = open_view(browser, url)
    times, loads, frames, fetches = [], [], [], []
    for i in range(rounds):
        total, load, sent, fetched = page.evaluate(VIEW_CHANGE, ["ArrowRight" if i % 2 == 0
                                                                 else "ArrowLeft", 1500])
        times.append(total)
        loads.append(load)
        frames.append(sent)
        fetches.append(fetched)
    ctx.close()
    return {"change": times, "load": loads, "frames": frames, "fetch": fetches}


def api_times(browser, url: str, rounds: int) -> dict:
    """The scene API from the page: the default page (cached after the first) and a new
    layer each time (stride 1..5 x kernel 1..4 of a 64x64 input)."""
    ctx, page = open_view(browser, url)
    cached = page.evaluate(API_TIMES, ["page=explorer_2d", rounds * 4])
    fresh = []
    for i in range(rounds * 2):
        q = f"page=explorer_2d&src=random&shape=64&seed={i}&stride={1 + i % 5}&size={1 + i % 4}"
        fresh += page.evaluate(API_TIMES, [q, 1])
    ctx.close()
    return {"cached": cached, "new": fresh}


def reference_control_change(browser, url: str, rounds: int) -> list[float]:
    """The same, for a Streamlit page with one number input and one st.plotly_chart heatmap
    whose size it sets: key press to the chart's new image."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    page.wait_for_timeout(1500)
    box = page.get_by_role("spinbutton", name="Stride W", exact=True)
    times = []
    for i in range(rounds):
        page.evaluate("""() => {
          window.__done = null;
          const img = () => {
            const i = document.querySelector('[data-testid=stPlotlyChart] image');
            return i && i.getAttribute('href');
          };
          const before = img();
          const poll = () => {
            if (img() !== before) window.__done = performance.now();
            else requestAnimationFrame(poll);
          };
          requestAnimationFrame(poll);
        }""")
        box.fill(str(3 + i % 2))
        t0 = page.evaluate("() => performance.now()")
        box.press("Enter")
        page.wait_for_function("() => window.__done", timeout=30_000)
        times.append(page.evaluate("window.__done") - t0)
        page.wait_for_timeout(300)
    ctx.close()
    return times


def payload(browser, url: str) -> int:
    ctx, page = open_view(browser, url)
    received = page.evaluate("window.__wsRecv")
    ctx.close()
    return received


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        ref_script = Path(tmp) / "reference.py"
        ref_script.write_text(REFERENCE)
        control_script = Path(tmp) / "reference_control.py"
        control_script.write_text(REFERENCE_CONTROL)
        app, app_url = serve(ROOT / "app" / "streamlit_app.py")
        ref, ref_url = serve(ref_script)
        ctl, ctl_url = serve(control_script)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=ARGS)
                chart = '[data-testid="stPlotlyChart"] .main-svg'
                view = f"{VIEW} .cx-plot .main-svg"
                pages = {"reference (one st.plotly_chart)": (ref_url, chart),
                         "2-D explorer": (app_url + "/explorer_2d", view),
                         "1-D explorer": (app_url + "/", view)}
                for url, sel in pages.values():  # warm both servers (imports, caches)
                    first_chart(browser, url, sel)
                cold = {name: [] for name in pages}
                warm = {name: [] for name in pages}
                for _ in range(args.rounds):  # interleaved, so drift hits all alike
                    for name, (url, sel) in pages.items():
                        c, w = first_chart(browser, url, sel)
                        cold[name].append(c)
                        warm[name].append(w)
                big = app_url + "/explorer_2d?src=random&shape=256&size=5&pad=2"
                upd = {"default 2-D page (5x5)": updates(browser, app_url + "/explorer_2d", 200),
                       "256x256 image, 5x5 kernel": updates(browser, big, 200)}
                fps = play(browser, app_url + "/explorer_2d?src=random&shape=66&size=3", 5)
                change = control_change(browser, app_url + "/explorer_2d", args.rounds)
                in_view = {name: view_control_change(browser, app_url + q, args.rounds * 3)
                           for name, q in (("default 2-D page", "/explorer_2d"),
                                           ("64x64 input", "/explorer_2d?src=random&shape=64"))}
                api = api_times(browser, app_url + "/explorer_2d", args.rounds)
                ref_change = reference_control_change(browser, ctl_url, args.rounds)
                received = payload(browser, app_url + "/explorer_2d")
                browser.close()
        finally:
            app.kill()
            ref.kill()
            ctl.kill()
    base = statistics.median(cold["reference (one st.plotly_chart)"])
    base_w = statistics.median(warm["reference (one st.plotly_chart)"])
    print(f"## First chart visible, median of {args.rounds} interleaved loads\n")
    print("| page | cold s | ratio | reload s | ratio |\n|---|---:|---:|---:|---:|")
    for name in pages:
        c, w = statistics.median(cold[name]), statistics.median(warm[name])
        print(f"| {name} | {c:.2f} | {c / base:.2f} | {w:.2f} | {w / base_w:.2f} |")
    print("\n## Updates in the page, ms (performance.now(), 200 each): median / p95 of the "
          "handler, median / p95 to the next frame\n")
    print("| page | step | hover output | hover input | ws sends: stepping / after stop / "
          "hovering |")
    print("|---|---:|---:|---:|---:|")
    for name, r in upd.items():
        cells = [f"{r[k][0]:.2f} / {r[k][1]:.2f} ; {r[k][2]:.1f} / {r[k][3]:.1f}"
                 for k in ("step", "output", "input")]
        print(f"| {name} | {' | '.join(cells)} | {r['sent while stepping']} / "
              f"{r['sent once stopped']} / {r['sent while hovering']} |")
    print(f"\nPlay on a 64x64 output at 60 steps/s: {fps[0]:.1f} frames/s ({fps[1]} steps in "
          f"5 s), websocket sends during Play: {fps[2]}")
    print("\n## A layer change in the view (stride slider): key press to the redrawn frame, ms\n")
    print("| page | median | p95 | of which: fetch + parse, median | the view's redraw, "
          "median | ws messages per change |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in in_view.items():
        ch = sorted(r["change"])
        print(f"| {name} | {statistics.median(ch):.0f} | {ch[int(len(ch) * 0.95)]:.0f} | "
              f"{statistics.median(r['fetch']):.0f} | {statistics.median(r['load']):.0f} | "
              f"{sorted(set(r['frames']))} |")
    for name, rows in api.items():
        rt = sorted(x[0] for x in rows)
        sv = sorted(x[1] for x in rows)
        print(f"\nScene API, {name} layer: server {statistics.median(sv):.1f} ms median "
              f"(p95 {sv[int(len(sv) * 0.95)]:.1f}); round trip from the page "
              f"{statistics.median(rt):.1f} ms median (p95 {rt[int(len(rt) * 0.95)]:.1f})")
    c, r = statistics.median(change), statistics.median(ref_change)
    print(f"\nThe same change through the sidebar (a script rerun) to the redrawn view: median "
          f"{c:.0f} ms (min {min(change):.0f}); a one-input, one-chart Streamlit page: median "
          f"{r:.0f} ms (min {min(ref_change):.0f}); ratio {c / r:.2f}")
    print(f"\nDefault 2-D page, websocket bytes received on load: {received / 1e3:.1f} kB")


if __name__ == "__main__":
    main()
