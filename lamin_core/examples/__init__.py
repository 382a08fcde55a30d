"""Example data the tutorial uses: `ln.examples.datasets.mini_immuno`."""

from . import datasets

__all__ = ["datasets"]
