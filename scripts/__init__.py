"""Maintenance scripts (render the sample corpus and the PDF fixtures, build the synthetic warehouse).

Each runs as ``python scripts/NAME.py``; the tests import them as ``scripts.NAME``.
"""
