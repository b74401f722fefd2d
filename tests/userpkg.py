"""A tiny user package for the A/B tests: one pipeline, ``slowfit``, registered by an entry point.

Its fit does a fixed amount of deterministic, one-threaded work (a pure-Python
loop) times ``1 + extra``, so two copies with different ``extra`` differ by a
known fraction of fit time and nowhere else (same predictions).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

#: Loop iterations of the base fit: about 0.6 s on a loaded core of a shared 2-core machine.
WORK = 15_000_000


def write_user_package(folder, *, extra: float = 0.0, version: str = "1.0", work: int = WORK) -> Path:
    """Write an installable package into ``folder`` whose ``slowfit`` fit does ``work * (1 + extra)`` steps."""
    root = Path(folder)
    src = root / "src" / "abuser"
    src.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=68"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "abuser"
            version = "{version}"
            dependencies = ["mnist-classic", "scikit-learn"]

            [project.entry-points."mnist_classic.pipelines"]
            slowfit = "abuser:register"

            [tool.setuptools.packages.find]
            where = ["src"]
            """
        )
    )
    (src / "__init__.py").write_text(
        textwrap.dedent(
            f'''\
            """slowfit: nearest centroids after a fixed amount of busy work."""

            from sklearn.neighbors import NearestCentroid

            STEPS = {int(work * (1 + extra))}


            class SlowFit(NearestCentroid):
                def fit(self, X, y):
                    total = 0
                    for i in range(STEPS):  # deterministic, one-threaded work
                        total += i & 7
                    self.work_ = total
                    return super().fit(X, y)


            def register():
                from mnist_classic import register_pipeline

                @register_pipeline("slowfit", "nearest centroids after busy work", "test")
                def _slowfit():
                    return SlowFit()
            '''
        )
    )
    return root
