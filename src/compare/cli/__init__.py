"""The ``compare`` command line: the only place under ``compare`` that imports ``flows``."""
