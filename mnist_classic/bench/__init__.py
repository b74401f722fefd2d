"""Bench: from a fresh estimator to a measured case and its CSV row.

Holds the pipeline registry (:mod:`.pipelines`) and its selector syntax
(:mod:`.selectors`), timing of fit and predict (:mod:`.measure`), one case
(:mod:`.case`: what it is, how it runs, what it records), the runner
(:mod:`.runner`), the parallel backends (:mod:`.parallel`), the child process
of ``--timeout`` (:mod:`.isolation`), the environment of a row
(:mod:`.environment`) and progress lines (:mod:`.progress`).

May import: scikit-learn, threadpoolctl, joblib (and Dask, lazily), ``data``,
``results``, ``estimators``, ``mnist_classic._files``. Never imports
``analysis`` or ``cli``. Within it, ``case`` is below ``runner``,
``parallel`` and ``isolation``, which all run cases through it.

Import the names from :mod:`mnist_classic`, where they are served lazily.
"""
