"""Prefect flows: thin wiring over the plain functions of ``compare``."""
