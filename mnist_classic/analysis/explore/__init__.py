"""Explore: the explorer of predictions (its page, the test images a row names) and a look at a dataset.

May import ``analysis.runs``, ``analysis.stats``, ``analysis.plotting``, ``results`` and ``data``; no other room.
"""
