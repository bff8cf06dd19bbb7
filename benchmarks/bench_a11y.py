"""Accessibility of every page, measured in Chromium (the numbers of benchmarks/RESULTS.md).

1. axe-core (bundled by ``axe-playwright-python``; no download) with the WCAG 2.0/2.1 A and
   AA and WCAG 2.2 AA rules on every page, and on the views' states (stepping, reveal,
   predict, transposed scatter/gather, receptive field): violations per impact.
2. Tab presses from the top of the page until the focus is in the view (1-D and 2-D
   explorer), and to its Next button.
3. The contrast of every cell number written on sampled views, measured from the pixels of a
   screenshot (device scale 2): per number, the background is the commonest colour of the
   box its text covers and the ink the pixel of that box farthest from it; WCAG's ratio of
   their relative luminances.

    python benchmarks/bench_a11y.py [--only axe,tab,contrast] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's app and convcore
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from test_a11y import (  # noqa: E402  (tests/browser/test_a11y.py: the same measures)
    PAGES,
    axe_counts,
    contrast_of_numbers,
    tabs_to,
)
from test_a11y import STATES as TEST_STATES  # noqa: E402

# view states: the tests' and the receptive field's (name, address, JavaScript on the view)
STATES = [*TEST_STATES, ("receptive", "/receptive", "")]
CONTRAST_VIEWS = ["/explorer_2d", "/explorer_2d?src=random&kernel=random&step=6",
                  "/transposed", "/transposed?ndim=2&stride=2", "/explorer_1d?step=4"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="axe,tab,contrast")
    parser.add_argument("--json")
    args = parser.parse_args()
    only = set(args.only.split(","))
    from app_server import running_app
    from conftest import APP, CHROMIUM_ARGS, find_chromium
    from playwright.sync_api import sync_playwright
    from test_browser import open_page, open_view

    out: dict = {}
    log = ROOT / "test-artifacts" / "bench-a11y-server.log"
    log.parent.mkdir(exist_ok=True)
    with running_app(APP, log) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 720},
                                      device_scale_factor=1)
        page = context.new_page()
        if "axe" in only:
            out["axe"] = {}
            for path in PAGES:
                open_page(page, url + path, charts=0)
                if path in ("/", "/explorer_2d", "/transposed", "/receptive"):
                    page.wait_for_selector(".cx-plot .main-svg", timeout=45_000)
                if path == "/network":
                    page.wait_for_selector('[data-testid="cx-net-root"] canvas', timeout=45_000)
                out["axe"][path] = axe_counts(page)
                print(path, out["axe"][path], flush=True)
            for name, address, js in STATES:
                if "receptive" in address:
                    open_page(page, url + address, charts=0)
                    page.wait_for_selector(".cx-plot .main-svg", timeout=45_000)
                else:
                    open_view(page, url + address)
                if js:
                    page.evaluate("() => { const v = document.querySelector("
                                  "'[data-testid=\"cx-root\"]').__cx; " + js + "; }")
                out["axe"][name] = axe_counts(page)
                print(name, out["axe"][name], flush=True)
        if "tab" in only:
            out["tab"] = {}
            for path in ("/", "/explorer_2d"):
                open_view(page, url + path)
                view_n = tabs_to(page, '[data-testid="cx-root"]')
                open_view(page, url + path)
                next_n = tabs_to(page, '[data-testid="cx-next"]', limit=120)
                out["tab"][path] = {"view": view_n, "next": next_n}
                print("tabs", path, out["tab"][path], flush=True)
        if "contrast" in only:
            hi = browser.new_context(viewport={"width": 1280, "height": 720},
                                     device_scale_factor=2)
            hp = hi.new_page()
            out["contrast"] = {}
            for address in CONTRAST_VIEWS:
                found = contrast_of_numbers(hp, url + address)
                values = [r for _, r in found]
                out["contrast"][address] = {
                    "numbers": len(values), "min": min(values) if values else None,
                    "under_4.5": sum(r < 4.5 for r in values)}
                print("contrast", address, out["contrast"][address], flush=True)
            hi.close()
        browser.close()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
