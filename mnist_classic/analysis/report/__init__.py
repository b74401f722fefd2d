"""Report: summary tables, renderers, figures, published references, neural rows, benchmark JSON export.

May import ``analysis.explore`` (--explore, test images), ``runs``, ``stats``, ``plotting``, ``results``, ``data``.
"""
