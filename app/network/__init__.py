"""A network convcore trained by itself, and the page that shows it (one room).

- :mod:`~app.network.data` — scikit-learn's bundled digits, upsampled to 16×16; drawings.
- :mod:`~app.network.net` — the CNN: layers, forward, backward, Adam, training (convolutions
  by convcore, the rest in NumPy/CuPy through ``xp``).
- :mod:`~app.network.train` — ``python -m app.network.train`` writes ``assets/network.npz``.
- :mod:`~app.network.model` — shipped or seeded weights, activations, the explorer's
  ``network`` source (a layer's input activations and learned kernels).
- :mod:`~app.network.filters` — the classic filter nearest to a learned kernel.
- :mod:`~app.network.settings`, :mod:`~app.network.scene`, :mod:`~app.network.figures`,
  :mod:`~app.network.page` — the page: URL, what the browser view gets, Plotly figures,
  Streamlit (the view itself is ``app/static/view/network.js``).
"""
