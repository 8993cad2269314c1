"""Renderers: pure functions from rows or diagnostics to text. The core never prints."""
