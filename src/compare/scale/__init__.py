"""Runs over large corpora: per-document staging for distributed workers, the synthetic corpus."""
