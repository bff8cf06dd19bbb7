"""The receptive-field page: a stack of layers (settings, URL) and the page."""
