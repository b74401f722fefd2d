"""The suite's version, in one place (the lowest layer: anything may import it)."""

__version__ = "0.2.0.dev0"
