"""Measure: how one call is measured (time, peak memory, machine, environment, callgrind), what a fitted model costs.

May import threadpoolctl, psutil, scikit-learn, torch (inside functions) and ``_version``; nothing else of the package.
"""
