"""The layers every page that shows a convolution shares, in the order data flows:
the rank table (:mod:`ranks`: one entry per rank, read instead of ``ndim`` branches) →
settings and their URL codec → model (the core's results, cached) → scene (pure data) → view
(the browser component), with the sources of inputs and kernels, the bounds of every control
(:mod:`layer`), the budget, the sidebar's widgets, the page frame (:mod:`frame`) and the code
and export panels.  No module here imports a page, nor a feature room beyond the trained
network's data and weights (tests/test_app_layers.py holds that)."""
