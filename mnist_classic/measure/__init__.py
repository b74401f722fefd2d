"""Measure: how one call is measured: time and peak memory, the machine's state, the environment, callgrind.

May import threadpoolctl, psutil and ``_version``; nothing else of the package (``bench`` calls it).
"""
