"""Parallel cases: the backends (joblib's loky, Dask), the order of cases by their cost, and the core ledger.

May import: ``bench.case``, ``spec``, ``data``; the runner above calls it, and nothing else of ``bench`` does.
"""
