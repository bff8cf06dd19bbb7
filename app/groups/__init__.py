"""The groups & depthwise page."""
