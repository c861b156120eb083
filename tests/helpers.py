"""Small builders for records used across tests."""

from __future__ import annotations

from compare.records import Clause, ClauseKind


def clause(
    doc_id: str, seq: int, text: str = "text", kind: ClauseKind = ClauseKind.MEASURE, heading: str = ""
) -> Clause:
    return Clause(
        clause_id=f"{doc_id}:{seq:04d}",
        doc_id=doc_id,
        seq=seq,
        path=str(seq),
        heading=heading,
        kind=kind,
        text=text,
        text_norm=text,
        page=1,
        char_start=0,
        char_end=len(text),
    )
