"""The app's pages, page configuration, and moving between pages with settings in hand."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.shared.ranks import RANKS


# Streamlit (1.67) treats a folder named pages/ beside the entry script as an old-style
# multipage app until some session of the process has called st.navigation
# (PagesManager.uses_pages_directory, a process-wide flag read when a session starts): the first
# visitor's run then built a navigation of its own from that folder, ran the page script alone
# and met ours only inside it — a second set of pages and, for a page this app knows under
# another address, "Page not found".  This app always navigates with st.navigation, so the
# flag is settled once, when the server imports the entry module (before any session).
def settle_pages_mode() -> None:
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
# (script, title, icon, URL path); the first is the default page, served at "/"
PAGES = (
    ("explorer_1d.py", "1-D convolution", ":material/show_chart:", "explorer_1d"),
    ("explorer_2d.py", "2-D convolution", ":material/grid_on:", "explorer_2d"),
    ("explorer_3d.py", "3-D convolution", ":material/view_in_ar:", "explorer_3d"),
    ("transposed.py", "Transposed & gradients", ":material/swap_vert:", "transposed"),
    ("gallery.py", "Arithmetic gallery", ":material/photo_library:", "gallery"),
    ("groups.py", "Groups & depthwise", ":material/account_tree:", "groups"),
    ("receptive.py", "Receptive field", ":material/filter_center_focus:", "receptive"),
    ("network.py", "A trained network", ":material/hub:", "network"),
    ("drill.py", "Shape drill", ":material/quiz:", "drill"),
    ("examples.py", "Documented examples", ":material/menu_book:", "examples"),
    ("about.py", "About", ":material/info:", "about"),
)


def page_path(script: str) -> str:
    """A page script as ``st.switch_page`` takes it (relative to the entry script)."""
    return f"{PAGES_DIR.name}/{script}"


EXPLORER_PAGES = {n: page_path(f"{r.address}.py") for n, r in RANKS.items()}
TRANSPOSED_PAGE = page_path("transposed.py")


def navigation_pages() -> list:
    """The app's pages (the entry point passes them to ``st.navigation``).

    st.navigation serves the default page at "/" whatever its ``url_path``, so its own address
    (``/explorer_1d``, which links and the other pages' names suggest) would be "Page not
    found"; a hidden page of the same script answers there.
    """
    (script, title, icon, path), *rest = PAGES
    # (a page's identity is a hash of its url_path: the default's "" leaves `path` free)
    return [st.Page(PAGES_DIR / script, title=title, icon=icon, url_path="", default=True),
            *(st.Page(PAGES_DIR / s, title=t, icon=i, url_path=u) for s, t, i, u in rest),
            st.Page(PAGES_DIR / script, title=title, icon=icon, url_path=path,
                    visibility="hidden")]


def presenter_requested() -> bool:
    return st.query_params.get("presenter", "") in ("1", "true")


def page_config() -> None:
    st.set_page_config(page_title="Convolution Explorer", page_icon="🔳",
                       layout="wide",
                       initial_sidebar_state="collapsed" if presenter_requested() else "auto")


KEPT_PARAMS = ("class",)  # what every page's URL keeps: the live class it is in (app/live)


def sync_query_params(query: dict[str, str]) -> None:
    """Make the URL hold exactly ``query`` and the :data:`KEPT_PARAMS` it has (written only
    when it changed)."""
    current = {key: st.query_params[key] for key in st.query_params}
    query = {**query, **{key: current[key] for key in KEPT_PARAMS if key in current}}
    if current != query:
        st.query_params.from_dict(query)


def open_in_groups(params: dict[str, int]) -> None:
    """Show the groups page with ``params`` (its URL names: ndim, inmaps, ..., dw_size)."""
    for key in [key for key in st.session_state if str(key).startswith("g.")]:
        del st.session_state[key]
    for name, value in params.items():
        st.session_state["g." + name.replace("dw_", "dw.")] = int(value)
    st.session_state["g.dw.ndim"] = int(params["ndim"])
    st.switch_page(page_path("groups.py"), query_params={n: str(v) for n, v in params.items()})
