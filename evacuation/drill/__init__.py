"""A gray-failure drill on an embedded AWS: `make drill`, `azevac drill`, `python -m
evacuation.drill`. See `evacuation.drill.cli` for the options."""

from evacuation.drill.cli import main

__all__ = ["main"]
