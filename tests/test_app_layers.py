"""The app's layers: the shared layers (app/shared/) never import a page — neither a page
script (app/pages/), nor a room's page module (app/<room>/page.py), nor the entry script — so a
page can be added, moved or dropped without touching them.  Rooms do not import each other's
pages either.  Read from the source with ``ast`` (every import, also those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
SHARED = APP / "shared"
ROOMS = sorted(p.name for p in APP.iterdir()
               if p.is_dir() and (p / "__init__.py").exists() and p.name != "shared")
# what the shared layers may use of a room: the trained network's data and weights (the
# explorer's "network" input and kernel sources), not its page; the live class's sidebar
# section and view data, which the page frame puts on every view page
SHARED_MAY_USE = {"app.network.data", "app.network.model", "app.network.net",
                  "app.network.settings", "app.live.section"}


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names (``from a import b``: ``a`` and
    ``a.b``, since ``b`` may be a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def is_page(name: str) -> bool:
    parts = name.split(".")
    return (name.startswith("app.pages") or name == "app.streamlit_app"
            or (len(parts) >= 3 and parts[0] == "app" and parts[2] == "page"))


def test_the_rooms_are_found():
    assert {"explorer", "transposed", "receptive", "drill", "network"} <= set(ROOMS)


@pytest.mark.parametrize("path", sorted(SHARED.glob("*.py")), ids=lambda p: p.name)
def test_no_shared_module_imports_a_page_or_a_room(path):
    names = {n for n in imports(path) if n.startswith("app.")}
    pages = sorted(n for n in names if is_page(n))
    assert not pages, f"app/shared/{path.name} imports the page(s) {pages}"
    rooms = sorted(n for n in names if n.split(".")[1] in ROOMS and n not in SHARED_MAY_USE
                   and not any(n.startswith(m + ".") or m.startswith(n + ".")
                               for m in SHARED_MAY_USE))
    assert not rooms, f"app/shared/{path.name} imports room module(s) {rooms}"


@pytest.mark.parametrize("room", ROOMS)
def test_no_room_imports_another_rooms_page(room):
    for path in (APP / room).glob("*.py"):
        others = sorted(n for n in imports(path) if is_page(n)
                        and n.split(".")[1] != room)
        assert not others, f"app/{room}/{path.name} imports {others}"


def test_the_rule_catches_a_page_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from app.explorer.page import explorer_page\n"
                   "import app.pages.explorer_2d\n")
    assert sorted(n for n in imports(bad) if is_page(n)) == [
        "app.explorer.page", "app.explorer.page.explorer_page", "app.pages.explorer_2d"]
