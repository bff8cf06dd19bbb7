"""Errors a browser test must see besides uncaught exceptions (``pageerror``)."""

from __future__ import annotations

import contextlib

import pytest


def component_errors(tab) -> list[str]:
    """What Streamlit shows in place of a view whose JavaScript threw: components v2 render
    "BidiComponent Error: …" in the page — no ``pageerror`` and nothing logged, so a test that
    only watches ``tab.errors`` would pass over a broken view."""
    with contextlib.suppress(Exception):  # a closed or navigating tab has nothing to read
        return tab.evaluate("() => document.body.innerText.split('\\n')"
                            ".filter((l) => l.includes('BidiComponent Error'))")
    return []


def fail_on_component_errors(tabs, request) -> None:
    """After a test that passed: fail it if one of its tabs shows a view's error."""
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.passed:
        return
    shown = [line for tab in tabs for line in component_errors(tab)]
    if shown:
        pytest.fail(f"a view failed in the page: {shown}")
