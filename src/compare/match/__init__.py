"""Clauses against the 65 national measures: the catalogue, encoders and their offline model builds,
embeddings, exemplars, calibration, scoring and fusion, relevance verdicts, provenance keys, and
the evaluation against labelled plans (``scorer.Scorer`` is the one scorer factory).

Imports only ``compare.ingest`` and the top-level modules.
"""
