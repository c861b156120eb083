"""Who wrote like whom: clause-to-clause reuse between plans, and what it says about diffusion.

- ``compare.diffusion.index``: the persistent reuse index; ``verbatim`` links by MinHash/LSH over
  sentence passages verified by exact shingle containment and shared runs, ``paraphrase`` links
  by a blocked nearest-neighbour search of the run's clause vectors in document pairs joined by
  copying, decided by a rule fitted per encoder (``compare.diffusion.paraphrase``); directions
  from issue dates.
- ``compare.diffusion.documents``: reuse documents from parsed documents, the run's vectors and
  the catalogue (the national text, when its Chinese text is present).
- ``compare.diffusion.measures``: document similarity, localization and homogeneity.
- ``compare.diffusion.tables``: rows for the warehouse tables declared in ``schema.sql``.
- ``compare.diffusion.evaluate``: precision and recall against ``<stem>.reuse.tsv`` labels.

The method and its figures: docs/diffusion.md.
"""
