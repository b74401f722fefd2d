"""Spec: what a user asks for, parsed and resolved: pipeline and engine registries, selectors, run files, plugins.

May import ``estimators``, ``data`` and ``_origin``; never ``bench``, ``measure``, ``analysis`` or ``cli``.
"""
