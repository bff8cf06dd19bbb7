"""The documented examples page."""
