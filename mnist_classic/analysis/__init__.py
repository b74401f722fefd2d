"""Analysis: what result CSVs say, after the fact; nothing is re-run.

Holds the statistics (:mod:`.stats`), reading runs (:mod:`.runs`), the
comparison of two runs (:mod:`.compare`), the paired rounds of ``ab``
(:mod:`.paired`), reports (:mod:`.report`, rendered
by :mod:`.render`), figures (:mod:`.figures`, matplotlib), the published
references (:mod:`.published`), a look at a dataset before any run
(:mod:`.dataview`: samples, class balance, mean images, pixel intensities) and
the explorer of predictions (:mod:`.explore`, its page :mod:`.explore_page`,
the run's test images from :mod:`.testset`).

May import: numpy, scipy, pandas, matplotlib (lazily), ``results``, ``data``
(to draw images), ``mnist_classic._files`` and ``mnist_classic._version``. Never
imports ``bench`` or ``cli``: it reads rows, it does not run cases.
"""
