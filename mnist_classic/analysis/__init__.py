"""Analysis: what result CSVs say (nothing re-run): the rooms verdicts, history, report, explore; runs, stats, plotting.

May import ``results``, ``data``, ``_files``, ``_version``; never ``spec``, ``bench``, ``measure`` or ``cli``.
"""
