"""Convolution Explorer: ``streamlit run app/streamlit_app.py``.

The entry point only sets the page up and declares the pages; each page module keeps its logic
in functions (shared helpers in ``app/utils.py``, figures in ``app/figures.py``).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts app/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

HERE = Path(__file__).parent


def pages() -> list:
    return [
        st.Page(HERE / "pages" / "explorer_1d.py", title="1-D convolution",
                icon=":material/show_chart:", url_path="explorer_1d", default=True),
        st.Page(HERE / "pages" / "explorer_2d.py", title="2-D convolution",
                icon=":material/grid_on:", url_path="explorer_2d"),
        st.Page(HERE / "pages" / "groups.py", title="Groups & depthwise",
                icon=":material/account_tree:", url_path="groups"),
        st.Page(HERE / "pages" / "examples.py", title="Documented examples",
                icon=":material/menu_book:", url_path="examples"),
        st.Page(HERE / "pages" / "about.py", title="About", icon=":material/info:",
                url_path="about"),
    ]


def run() -> None:
    presenter = st.query_params.get("presenter", "") in ("1", "true")
    st.set_page_config(page_title="Convolution Explorer", page_icon=":material/blur_on:",
                       layout="wide",
                       initial_sidebar_state="collapsed" if presenter else "auto")
    st.navigation(pages()).run()


run()
