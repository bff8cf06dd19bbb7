"""Accessibility on the server's side: what every page starts with.

- A skip link, first in ``<body>`` (WCAG 2.4.1, bypass blocks).  Streamlit's pages open with
  its toolbar and the sidebar's links (10 pages): a keyboard user pressed Tab 37-44 times to
  reach the explorer's view.  Visible when focused, it moves the focus to the page's view (the
  browser views' root, a ``region`` landmark) or, on a page without one, to its main content.
  The view's own keys are in README ("Keyboard").
- Streamlit's own colours raised to 4.5:1 where axe-core measured less (WCAG 1.4.3): captions
  (#828180 on white: 3.88:1) and the code blocks' number and comment tokens (2.51:1 and
  3.46:1); light theme only (the colours are the light theme's).
- A wide formula (KaTeX) or code block that scrolls sideways is a tab stop, so keys scroll it
  too (2.1.1).

:mod:`app.preload` puts it first in ``<body>`` of every page.
"""

from __future__ import annotations

# Plain HTML, CSS and a few lines of script: the page's own, before Streamlit's frontend loads.
SKIP_LINK = """<a class="cx-skip" href="#cx-view" onclick="return cxSkip(event)">Skip to the view \
(or the page's content)</a>
<style>.cx-skip{position:fixed;left:8px;top:-60px;z-index:1000010;padding:.5rem .9rem;
background:#fff;color:#1a4d8f;font:600 16px/1.3 sans-serif;border:3px solid #1a4d8f;
border-radius:.4rem;text-decoration:underline}.cx-skip:focus{top:8px}
@media (prefers-color-scheme: light){
[data-testid="stCaptionContainer"],[data-testid="stCaptionContainer"] p,
[data-testid="stCaptionContainer"] code{color:#5d6170;opacity:1}
[data-testid="stCode"] .token.comment,[data-testid="stCode"] .token.prolog{color:#5d6170}
[data-testid="stCode"] .token.number,[data-testid="stCode"] .token.boolean,
[data-testid="stCode"] .token.constant{color:#0b7467}
[data-testid="stCode"] .token.string,[data-testid="stCode"] .token.char{color:#0a7a50}
[data-testid="stCode"] .token.keyword,[data-testid="stCode"] .token.builtin{color:#a3367f}
[data-testid="stCode"] .token.function,[data-testid="stCode"] .token.class-name{color:#1a4d8f}
[data-testid="stCode"] .token.operator,[data-testid="stCode"] .token.punctuation{color:#31333f}}
</style>
<script>function cxSkip(e){e.preventDefault();
var t=document.querySelector('[data-testid="cx-root"],[data-testid="cx-rf-root"],'+
'[data-testid="cx-net-root"]');
if(!t){t=document.querySelector('[data-testid="stMain"] h1')||
document.querySelector('[data-testid="stMain"]');if(t)t.setAttribute("tabindex","-1");}
if(t){t.focus();t.scrollIntoView({block:"start"});}return false;}
function cxScrolls(){document.querySelectorAll('.katex-display,[data-testid="stCode"] pre')
.forEach(function(k){if(!k.hasAttribute("tabindex")&&k.scrollWidth>k.clientWidth+1){
k.tabIndex=0;k.setAttribute("role","region");k.setAttribute("aria-label",
k.tagName==="PRE"?"code, scrolls sideways":"formula, scrolls sideways");}});}
var cxLater=0;function cxSoon(){if(!cxLater)cxLater=setTimeout(function(){cxLater=0;
cxScrolls();},300);}
new MutationObserver(cxSoon).observe(document.documentElement,{childList:true,subtree:true});
addEventListener("resize",cxSoon);</script>
"""


def skip_link() -> bytes:
    """The skip link's HTML (with the page-wide CSS and script above), first in ``<body>``."""
    return SKIP_LINK.encode()
