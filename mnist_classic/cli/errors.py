"""What every command shares: the program's name and the usage error (one line on stderr, exit 2)."""

from __future__ import annotations

__all__ = ["PROG", "UsageError"]

PROG = "mnist-classic"


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit 2."""
