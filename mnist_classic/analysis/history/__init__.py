"""History: each case along runs ordered by version, commit or time; its change points; the dashboard.

May import ``analysis.verdicts`` (the latest point is judged by compare's gate), ``runs``, ``stats``, ``results``.
"""
