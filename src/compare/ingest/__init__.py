"""PDF -> pages -> clauses: text extraction (with OCR for scans), normalization, layout and
numbering, segmentation into the hierarchy of clauses, tables and fragments, and document metadata
(``parse.parse_document`` is the whole stage for one file).

Imports only the top-level modules (errors, settings, records, safe_text).
"""
