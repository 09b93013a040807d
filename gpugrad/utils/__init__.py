"""(being written)"""
from . import data  # noqa: F401
