"""The DuckDB warehouse: its SQL (``sql/``, shipped as package data), the plan of a run (which
files are new, changed or gone), publishing a run atomically, export, and evaluation records.
"""
