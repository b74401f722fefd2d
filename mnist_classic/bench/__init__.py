"""Bench: running cases: plan and contract check, one case, runner, isolation, counted cases, progress, reproduce.

May import ``spec``, ``measure``, ``results``, ``data``, ``estimators`` and ``_files``; never ``analysis`` or ``cli``.
"""
