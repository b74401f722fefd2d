"""Verdicts on two sides: compare (the CI gate), ab's paired rounds, instruction counts, machine comparability.

May import ``analysis.runs``, ``analysis.stats`` and ``results``; no other analysis room.
"""
