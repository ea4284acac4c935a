"""The `clipdex` command."""

from api.cli.main import main

__all__ = ["main"]
