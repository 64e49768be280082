"""Sphinx configuration for the aiows docs."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "aiows"
author = "the aiows developers"
copyright = "2026, the aiows developers"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}
# The docs build offline; links to Python's and aiohttp's docs stay plain text.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
# Wide enough for an 80-column code sample beside the sidebar; longer lines
# wrap (_static/custom.css).
html_theme_options = {"page_width": "1080px"}
html_static_path = ["_static"]
suppress_warnings = ["ref.python"]
