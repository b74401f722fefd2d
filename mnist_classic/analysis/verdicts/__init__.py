"""Verdicts on two sides: compare (the CI gate), ab's paired rounds and their variance levels, instruction counts,
machine comparability.

May import ``analysis.runs``, ``analysis.stats`` and ``results``; no other analysis room.
"""
