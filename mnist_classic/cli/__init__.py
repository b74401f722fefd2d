"""The command line, ``mnist-classic``: thin on top of the library.

Holds :mod:`.app` (the parser and ``main``, which maps errors to exit codes),
:mod:`.commands` (one handler per command), and the commands with options of
their own (:mod:`.report`, :mod:`.rank`, :mod:`.explore`, :mod:`.history`, :mod:`.matrix`, :mod:`.reproduce`,
:mod:`.ab`, :mod:`.bisect`). A handler
parses nothing and decides nothing: it calls the library, prints, returns an
exit code.

May import: every other subpackage. Nothing imports ``cli``.
"""

from .app import main

__all__ = ["main"]
