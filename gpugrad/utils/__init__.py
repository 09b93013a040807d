"""gg.utils: data loading (gg.utils.data)."""
from . import data  # noqa: F401
