"""The app's pages, page configuration, and moving between pages with settings in hand."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent / "pages"
EXPLORER_PAGES = {1: "pages/explorer_1d.py", 2: "pages/explorer_2d.py"}
NAVIGATED = "_navigated"  # session-state flag: this session has been through st.navigation


def navigation_pages() -> list:
    """The app's pages (the entry point passes them to ``st.navigation``)."""
    return [
        st.Page(PAGES_DIR / "explorer_1d.py", title="1-D convolution",
                icon=":material/show_chart:", url_path="explorer_1d", default=True),
        st.Page(PAGES_DIR / "explorer_2d.py", title="2-D convolution", icon=":material/grid_on:",
                url_path="explorer_2d"),
        st.Page(PAGES_DIR / "transposed.py", title="Transposed & gradients",
                icon=":material/swap_vert:", url_path="transposed"),
        st.Page(PAGES_DIR / "groups.py", title="Groups & depthwise",
                icon=":material/account_tree:", url_path="groups"),
        st.Page(PAGES_DIR / "receptive.py", title="Receptive field",
                icon=":material/filter_center_focus:", url_path="receptive"),
        st.Page(PAGES_DIR / "network.py", title="A trained network", icon=":material/hub:",
                url_path="network"),
        st.Page(PAGES_DIR / "drill.py", title="Shape drill", icon=":material/quiz:",
                url_path="drill"),
        st.Page(PAGES_DIR / "examples.py", title="Documented examples",
                icon=":material/menu_book:", url_path="examples"),
        st.Page(PAGES_DIR / "about.py", title="About", icon=":material/info:", url_path="about"),
    ]


def presenter_requested() -> bool:
    return st.query_params.get("presenter", "") in ("1", "true")


def page_config() -> None:
    st.set_page_config(page_title="Convolution Explorer", page_icon="🔳",
                       layout="wide",
                       initial_sidebar_state="collapsed" if presenter_requested() else "auto")


def use_entry_navigation(page: str) -> None:
    """Make a page that Streamlit ran on its own behave as if the entry point had run it.

    Streamlit treats a ``pages/`` folder next to the entry script as an old-style multipage
    app until some session has called ``st.navigation`` (a process-wide flag).  A link to a
    page opened first after a server start runs the page alone: widgets drawn then get an
    identity the next (proper) run does not recognize, and would fall back to defaults.  So
    the first run of such a session registers the real navigation and switches to this same
    page with the same query parameters before drawing anything.  (AppTest runs every script
    this way; its sessions start at the entry point, which sets the flag, so they just
    register the navigation and go on.)

    ``page`` is this page's path as ``st.switch_page`` takes it, e.g. ``"pages/groups.py"``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        page_config()
        st.navigation(navigation_pages())
        if not st.session_state.get(NAVIGATED):
            st.session_state[NAVIGATED] = True
            st.switch_page(page, query_params=st.query_params.to_dict())


def sync_query_params(query: dict[str, str]) -> None:
    """Make the URL hold exactly ``query`` (written only when it changed)."""
    current = {key: st.query_params[key] for key in st.query_params}
    if current != query:
        st.query_params.from_dict(query)


def open_in_groups(params: dict[str, int]) -> None:
    """Show the groups page with ``params`` (its URL names: ndim, inmaps, ..., dw_size)."""
    for key in [key for key in st.session_state if str(key).startswith("g.")]:
        del st.session_state[key]
    for name, value in params.items():
        st.session_state["g." + name.replace("dw_", "dw.")] = int(value)
    st.session_state["g.dw.ndim"] = int(params["ndim"])
    st.switch_page("pages/groups.py", query_params={n: str(v) for n, v in params.items()})
