"""The app's pages start loading plotly.js at once.

The browser views draw with plotly.js from the app's static files (``app/view.py``).  Left to
the view, its download and compilation start only after Streamlit's frontend has loaded,
connected, run the page script and mounted the component — on the path to the first chart.
This ASGI middleware adds ``<script async src="app/static/vendor/plotly-<version>.min.js">`` to
the HTML of every page, so the browser fetches and compiles plotly.js while Streamlit starts;
the view then finds ``window.Plotly`` (or waits for that script).  The file is cached with its
ETag like every static file; the address is relative, so ``server.baseUrlPath`` holds.
"""

from __future__ import annotations

from app.shared import view

# Streamlit's own routes and ours: never a page
NOT_PAGES = ("_stcore/", "static/", "app/static/", "api/", "media/", "component/",
             "healthz", "favicon")


def script_tag() -> bytes:
    return (f'<script async data-cx-plotly src="app/static/vendor/{view.plotly_name()}" '
            "onerror=\"this.dataset.failed='1'\"></script>").encode()


class PlotlyEarly:
    """ASGI middleware: ``<script async>`` for plotly.js in the ``<head>`` of HTML pages."""

    def __init__(self, app, base_path: str = ""):
        self.app = app
        self.base = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
        view.ensure_plotly()  # the file the tag names is there before any page asks
        self.tag = script_tag()

    def is_page(self, scope) -> bool:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "GET" or not path.startswith(
                self.base.rstrip("/") or "/"):
            return False
        rest = path[len(self.base):] if path.startswith(self.base) else ""
        return not rest.startswith(NOT_PAGES) and "." not in rest.rsplit("/", 1)[-1]

    async def __call__(self, scope, receive, send):
        if not self.is_page(scope):
            await self.app(scope, receive, send)
            return
        # the page is small and is edited here: ask for it uncompressed
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"]
                                      if k.lower() != b"accept-encoding"]}
        start: dict = {}
        chunks: list[bytes] = []

        async def edit(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = list(start.get("headers", []))
            body = b"".join(chunks)
            kind = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
            encoded = any(k.lower() == b"content-encoding" for k, _ in headers)
            if kind.startswith(b"text/html") and not encoded and b"</head>" in body:
                body = body.replace(b"</head>", self.tag + b"</head>", 1)
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, edit)
