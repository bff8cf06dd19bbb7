"""The layers every page that shows a convolution shares, in the order data flows:
settings and their URL codec → model (the core's results, cached) → scene (pure data) → view
(the browser component), with the sources of inputs and kernels, the bounds of every control
(:mod:`layer`), the budget, the sidebar's widgets and the code and export panels.  No module
here imports a page or a feature room (tests/test_rooms.py holds that)."""
