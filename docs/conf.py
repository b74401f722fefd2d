"""Sphinx configuration of the mnist-classic documentation (``tox -e docs``; warnings are errors)."""

from __future__ import annotations

import mnist_classic

project = "mnist-classic"
author = "mnist-classic maintainers"
copyright = "mnist-classic maintainers; code BSD-3-Clause, MNIST CC BY-SA 3.0"
release = mnist_classic.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections give the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
# No intersphinx: the site builds offline, as everything else here does.

html_theme = "alabaster"
html_title = f"mnist-classic {release}"
html_static_path: list[str] = []
