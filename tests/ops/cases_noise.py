"""Gradient-check cases for test_gradcheck.py: {OpClassName: [C(fn, *shapes, ...), ...]}."""
CASES: dict = {}
