"""Convolution Explorer: ``streamlit run app/streamlit_app.py``.

The entry point only sets the page up and declares the pages; each page module keeps its logic
in functions; the explorer's layers are ``settings → model → scene → view`` (see README).

``streamlit run`` finds ``app = st.App(...)`` below and serves that ASGI app, which runs this
same file as the page script (as ``__main__``, like AppTest does) behind our middleware
(:mod:`app.state_guard`: component states are checked before Streamlit decodes them).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts app/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.navigation import navigation_pages, page_config, settle_pages_mode  # noqa: E402
from app.state_guard import middleware  # noqa: E402


def run() -> None:
    page_config()
    st.navigation(navigation_pages()).run()


if __name__ == "__main__":  # a session's run
    run()
else:  # imported by `streamlit run` (uvicorn) for the server
    settle_pages_mode()
    app = st.App(Path(__file__).resolve(), middleware=middleware())
