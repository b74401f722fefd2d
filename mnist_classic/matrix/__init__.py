"""Matrix: the same benchmark in one isolated environment per requirement set.

Holds :mod:`.envs` (environments built with uv, or venv and pip, cached by a
hash of their requirements, moved into place only once they import),
:mod:`.run` (the matrix: one run per environment), :mod:`.ab` (two
environments, round after round, for ``mnist-classic ab``) and :mod:`.bisect`
(``git bisect run`` over a repository's commits, judged by ``compare``). Each
environment runs ``python -m mnist_classic run`` as a subprocess, so this room
imports nothing of the package's own: it drives the command line.

May import: the standard library, platformdirs, ``mnist_classic._files`` and
``mnist_classic._version``. Never imports ``bench``, ``analysis`` or ``cli``.
"""
