"""A live class in real browsers: a teacher's change → every student's view redrawn.

One teacher tab and ``--students`` student tabs (headless Debian Chromium, a browser context
each) on the explorer, against the app (``--setup one``: one ``streamlit run``, the in-process
broker; ``--setup deploy``: deploy/serve.py, nginx + 2 replicas + Redis, the teacher on r1 and
the students alternately on r1 and r2).  The teacher makes ``--changes`` changes in its view,
``--interval`` apart: steps (``go``), and every fifth a stride change (the students load the
new scene through the class's scene route, then redraw).

Measured, with ``performance.timeOrigin + performance.now()`` in each page (one clock on one
machine): from just before the teacher's change to the end of the student view's render that
shows it (the same scene and step), per delivery and per change (the last student), p50 / p95 /
max, steps and stride changes apart; the reference measured in the same run is the teacher's
own render of a step (``go``, in its page), and for a stride change the teacher's own (key
press to its view's render of the new scene, through the scene API).  Also: changes some
student never showed (must be 0), and the messages the student pages sent to their Streamlit
server while following (must be 0: no script rerun).

All tabs and servers share this machine's cores: on a real class each student has a machine
of their own, so this is an upper bound of what a student waits.

    python benchmarks/bench_live_browser.py --students 10
    python benchmarks/bench_live_browser.py --setup deploy --students 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' Chromium finder needs it

import bench_live_class  # noqa: E402
from bench_browser import COUNT_WS  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-renderer-backgrounding", "--disable-background-timer-throttling",
        "--disable-backgrounding-occluded-windows"]
VIEW = '[data-testid="cx-root"]'
# Every render of the view, with the time it ended: [time, step, scene id].
RENDERS = """(() => {
  const root = document.querySelector('[data-testid="cx-root"]');
  const v = root.__cx;
  window.__renders = [];
  const render = v.render.bind(v);
  v.render = (...a) => {
    const out = render(...a);
    window.__renders.push([performance.timeOrigin + performance.now(), v.step, v.sceneId]);
    return out;
  };
})()"""
CODE = re.compile(r"Class ([A-Z2-9]{3}-[A-Z2-9]{3}-[A-Z2-9]{3})")


def cookies_of(targets: list[dict]):
    """Tab ``i``'s sticky cookie (deploy: r1, r2 in turns), or None (one server)."""
    def cookie(i: int):
        jar = targets[i % len(targets)].get("cookies")
        if not jar:
            return None
        (name, value), = jar.items()
        return {"name": name, "value": value, "url": targets[0]["base_url"]}
    return cookie


SETUPS = {"one": bench_live_class.app, "deploy": bench_live_class.deploy}


def tab(browser, cookie=None):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    if cookie:
        context.add_cookies([cookie])
    page = context.new_page()
    page.add_init_script(COUNT_WS)
    return page


def wait_view(page, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(f"{VIEW} .cx-eq", timeout=90_000)
    page.wait_for_function("() => window.Plotly && document.querySelector('.cx-plot .main-svg')",
                           timeout=90_000)


def stats(values: list[float]) -> str:
    if not values:
        return "-"
    p95 = statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 \
        else values[0]
    return f"{statistics.median(values):.0f} / {p95:.0f} / {max(values):.0f}"


def run(setup: str, n: int, changes: int, interval: float) -> dict:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from conftest import find_chromium

    with SETUPS[setup]() as targets, sync_playwright() as p:
        url, cookie = targets[0]["base_url"], cookies_of(targets)
        browser = p.chromium.launch(executable_path=find_chromium(), args=ARGS, headless=True)
        teacher = tab(browser, cookie(0))
        wait_view(teacher, f"{url}/explorer_2d?shape=12,12")
        teacher.get_by_role("button", name="Start a class").click()
        teacher.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.classStatus"
                                  " === 'live'", timeout=60_000)
        code = CODE.search(teacher.inner_text('[data-testid="cx-class-status"]')).group(1)
        students = []
        for i in range(n):
            s = tab(browser, cookie(i))
            wait_view(s, f"{url}/explorer_2d?class={code}")
            students.append(s)
        for s in students:
            s.wait_for_function(f"() => document.querySelector('{VIEW}').dataset.classStatus"
                                " === 'live' && document.querySelector('[data-testid="
                                "\"cx-class-status\"]').innerText.includes('following')",
                                timeout=60_000)
        time.sleep(1.5)
        for page in (teacher, *students):
            page.evaluate(RENDERS)
        sent = [s.evaluate("window.__wsSent") for s in students]
        rows = []  # (kind, t0, step, scene id, teacher's own render ms)
        for i in range(changes):
            if i % 5 == 4:  # a stride change: the teacher's view loads a new scene
                loads = teacher.evaluate(f"document.querySelector('{VIEW}').__cx.loads")
                key = "ArrowRight" if (i // 5) % 2 == 0 else "ArrowLeft"
                t0 = teacher.evaluate("performance.timeOrigin + performance.now()")
                teacher.locator('[data-testid="cx-ctl-stride-1"]').press(key)
                teacher.wait_for_function(f"() => document.querySelector('{VIEW}').__cx.loads"
                                          f" > {loads}", timeout=30_000)
                own = None
                kind = "stride"
            else:
                t0, own = teacher.evaluate(f"""(k) => {{
                  const v = document.querySelector('{VIEW}').__cx;
                  const t0 = performance.timeOrigin + performance.now();
                  v.go(k % v.steps);
                  return [t0, performance.timeOrigin + performance.now() - t0];
                }}""", 3 + 7 * i)
                kind = "step"
            step, scene = teacher.evaluate(f"() => {{ const v = document.querySelector('{VIEW}')"
                                           f".__cx; return [v.step, v.sceneId]; }}")
            rows.append((kind, t0, step, scene, own))
            time.sleep(interval)
        time.sleep(3)  # the last change reaches everybody
        renders = [s.evaluate("window.__renders") for s in students]
        mine = teacher.evaluate("window.__renders")
        reruns = sum(s.evaluate("window.__wsSent") for s in students) - sum(sent)
        browser.close()

    out = {"step": [], "stride": [], "step_all": [], "stride_all": [], "own": [],
           "own_stride": [], "lost": 0}
    for kind, t0, step, scene, own in rows:
        if own is not None:
            out["own"].append(own)
        else:  # the teacher's own stride change: key press to its view's render of the scene
            out["own_stride"].append(next(t for t, _, sid in mine if t >= t0 and sid == scene)
                                     - t0)
        last = 0.0
        for shown in renders:
            at = next((t for t, s, sid in shown if t >= t0 and s == step and sid == scene), None)
            if at is None:
                out["lost"] += 1
                continue
            out[kind].append(at - t0)
            last = max(last, at - t0)
        out[f"{kind}_all"].append(last)
    out["reruns"] = reruns
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", choices=list(SETUPS), default="one")
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.6, help="s between changes")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} — {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; Chromium tabs: 1 teacher + "
          f"{args.students} students; {args.changes} changes ~{args.interval:g} s apart")
    r = run(args.setup, args.students, args.changes, args.interval)
    print("| setup | students | step → student redrawn p50 / p95 / max ms | step → all "
          "redrawn | stride → student redrawn | stride → all redrawn | teacher's own step "
          "render p50 ms (ref) | step p95 / ref | teacher's own stride change p50 ms | lost | "
          "reruns |")
    print("|---|---:|---|---|---|---|---:|---:|---:|---:|---:|")
    ref = statistics.median(r["own"])
    p95 = statistics.quantiles(r["step"], n=20, method="inclusive")[18]
    print(f"| {args.setup} | {args.students} | {stats(r['step'])} | {stats(r['step_all'])} | "
          f"{stats(r['stride'])} | {stats(r['stride_all'])} | {ref:.1f} | {p95 / ref:.0f} | "
          f"{statistics.median(r['own_stride']):.0f} | {r['lost']} | {r['reruns']} |",
          flush=True)
    print(json.dumps({k: len(v) if isinstance(v, list) else v for k, v in r.items()}))


if __name__ == "__main__":
    main()
