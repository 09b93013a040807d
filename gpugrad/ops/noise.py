"""Stochastic ops (dropout), drawing from gpugrad.random's generators."""
from __future__ import annotations

__all__: list[str] = []
