"""Convolution Explorer: ``streamlit run app/streamlit_app.py``.

Streamlit runs this file as the page script (``__main__``, like AppTest does): it only sets the
page up and declares the pages; each page module keeps its logic in functions; the explorer's
layers are ``settings → model → scene → view`` (see README).

``streamlit run`` (or ``uvicorn streamlit_app:app``) also imports it as a module for ``app``: an
``st.App`` serving the pages and, beside them, the scene API (:mod:`app.api`) and the live
class (:mod:`app.live.routes`, whose lifespan ends its event streams on shutdown) under
``server.baseUrlPath``, with TCP_NODELAY on every connection (:mod:`app.nodelay`), component
states checked before Streamlit decodes them (:mod:`app.state_guard`) and plotly.js asked for
by every page at once (:mod:`app.preload`).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts app/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.shared.navigation import navigation_pages, page_config, settle_pages_mode  # noqa: E402


def run() -> None:
    page_config()
    st.navigation(navigation_pages()).run()


if __name__ == "__main__":  # a session's run
    run()
else:  # imported by `streamlit run` (uvicorn) for the server
    from starlette.middleware import Middleware

    from app import api, nodelay, preload, state_guard
    from app.live import routes as live
    from app.shared import a11y

    settle_pages_mode()
    BASE = st.config.get_option("server.baseUrlPath")
    app = st.App(Path(__file__).resolve(), routes=[*api.routes(BASE), *live.routes(BASE)],
                 lifespan=live.lifespan(nodelay.lifespan),
                 middleware=[*state_guard.middleware(),
                             Middleware(preload.PlotlyEarly, base_path=BASE,
                                        body=a11y.skip_link())])
