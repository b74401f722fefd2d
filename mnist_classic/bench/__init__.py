"""Bench: from a fresh estimator to a measured case and its CSV row.

Holds the pipeline registry (:mod:`.pipelines`) and its selector syntax
(:mod:`.selectors`, on :mod:`.steps`, :mod:`.targets` and :mod:`.syntax`), the
contract check of users' estimators (:mod:`.contract`), timing of fit and predict (:mod:`.measure`), one case
(:mod:`.case`: what it is, how it runs, what it records), the runner
(:mod:`.runner`), the parallel backends (:mod:`.parallel`), the child process
of ``--timeout`` (:mod:`.isolation`), the environment of a row
(:mod:`.environment`), progress lines (:mod:`.progress`) and the re-run of a
results file's rows (:mod:`.reproduce`).

May import: scikit-learn, threadpoolctl, joblib (and Dask, lazily), ``data``,
``results``, ``estimators``, ``mnist_classic._files``. Never imports
``analysis`` or ``cli``. Within it, ``case`` is below ``runner``,
``parallel`` and ``isolation``, which all run cases through it.

Import the names from :mod:`mnist_classic`, where they are served lazily.
"""
