"""The arithmetic gallery: the guide's cases as data, and the page."""
