"""Small example datasets."""

from . import mini_immuno

__all__ = ["mini_immuno"]
