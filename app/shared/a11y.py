"""Accessibility on the server's side: the skip link every page starts with.

Streamlit's pages open with its toolbar and the sidebar's links (10 pages): a keyboard user
pressed Tab 37-44 times to reach the explorer's view.  :mod:`app.preload` puts this link first
in ``<body>`` of every page (WCAG 2.4.1, bypass blocks): visible when focused, it moves the
focus to the page's view (the browser views' root, a ``region`` landmark) or, on a page
without one, to its main content.  The view's own keys are in README ("Keyboard").
"""

from __future__ import annotations

# Plain HTML, CSS and a few lines of script: the page's own, before Streamlit's frontend loads.
SKIP_LINK = """<a class="cx-skip" href="#cx-view" onclick="return cxSkip(event)">Skip to the view \
(or the page's content)</a>
<style>.cx-skip{position:fixed;left:8px;top:-60px;z-index:1000010;padding:.5rem .9rem;
background:#fff;color:#1a4d8f;font:600 16px/1.3 sans-serif;border:3px solid #1a4d8f;
border-radius:.4rem;text-decoration:underline}.cx-skip:focus{top:8px}</style>
<script>function cxSkip(e){e.preventDefault();
var t=document.querySelector('[data-testid="cx-root"],[data-testid="cx-rf-root"],'+
'[data-testid="cx-net-root"]');
if(!t){t=document.querySelector('[data-testid="stMain"] h1')||
document.querySelector('[data-testid="stMain"]');if(t)t.setAttribute("tabindex","-1");}
if(t){t.focus();t.scrollIntoView({block:"start"});}return false;}</script>
"""


def skip_link() -> bytes:
    """The skip link's HTML, first in ``<body>``."""
    return SKIP_LINK.encode()
