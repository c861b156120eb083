-- Expert reviews: verdicts on document x measure cells, stored by `compare review import`
-- from a workbook written by `compare review export` (docs/review.md).
-- Every table column carries a comment (the text after `--` on its line), as in schema.sql;
-- the views and their columns carry COMMENT statements at the end of this file.
-- A run never deletes or rewrites a review: warehouse.delete_documents leaves this table
-- alone. A review of a file whose content changed since (new content hash, new doc_id, same
-- file name) is shown as stale and no longer decides the cell's final status.

CREATE TABLE IF NOT EXISTS reviews (
    review_id VARCHAR PRIMARY KEY,           -- hash of the cell, verdict, clause, reviewer, note and workbook row: re-importing a workbook adds nothing
    import_id VARCHAR,                       -- the import that stored it (one workbook, one transaction)
    cell_key VARCHAR,                        -- doc_id:measure_id, the cell key printed in the workbook
    doc_id VARCHAR,                          -- document reviewed (content hash of the file at export time)
    doc_sha256 VARCHAR,                      -- full sha256 of the reviewed file
    file_name VARCHAR,                       -- file name of the reviewed document: finds the new version of a changed file
    measure_id VARCHAR,                      -- national measure of the cell
    verdict VARCHAR,                         -- covered, partial, absent, or reassigned (the clause implements another measure)
    reassigned_to VARCHAR,                   -- for verdict reassigned: the measure the clause implements instead (else NULL)
    clause_id VARCHAR,                       -- clause the verdict is about: the top evidence clause, or the one the reviewer named
    clause_text VARCHAR,                     -- that clause's text when the verdict was imported (kept for stale reviews)
    reviewer VARCHAR,                        -- who gave the verdict
    reviewed_at TIMESTAMP,                   -- when the verdict was imported (UTC); the latest verdict on a cell wins
    note VARCHAR,                            -- the reviewer's note
    source_file VARCHAR,                     -- workbook file name
    source_sheet VARCHAR,                    -- workbook sheet
    source_row INTEGER,                      -- row of the sheet
    export_run_id VARCHAR,                   -- latest run of the warehouse the workbook was exported from
    machine_status VARCHAR,                  -- machine status shown in the workbook (at export time)
    machine_score DOUBLE                     -- machine score shown in the workbook (at export time)
);

-- Every review and whether it still applies:
--   current   its document is in the warehouse, status ok;
--   stale     the file changed since (same file name, new content hash): current_doc_id is the new version;
--   withdrawn its document is still known but no longer usable (file removed from the corpus);
--   orphaned  neither its document nor a file of that name is in the warehouse.
CREATE OR REPLACE VIEW review_state AS
SELECT
    r.*,
    CASE
        WHEN d.doc_id IS NOT NULL AND d.status = 'ok' THEN 'current'
        WHEN n.doc_id IS NOT NULL THEN 'stale'
        WHEN d.doc_id IS NOT NULL THEN 'withdrawn'
        ELSE 'orphaned'
    END AS state,
    n.doc_id AS current_doc_id
FROM reviews r
LEFT JOIN documents d ON d.doc_id = r.doc_id
LEFT JOIN (
    SELECT file_name, arg_max(doc_id, processed_at) AS doc_id
    FROM documents WHERE status = 'ok' GROUP BY file_name
) n ON n.file_name = r.file_name AND n.doc_id <> r.doc_id;

-- One row per reviewed cell of a current document: its latest review (later imports win,
-- then later workbook rows), how many reviews it has had and whether they disagree.
CREATE OR REPLACE VIEW reviews_latest AS
WITH current_reviews AS (
    SELECT * FROM review_state WHERE state = 'current'
), counted AS (
    SELECT doc_id, measure_id, count(*) AS n_reviews,
           count(DISTINCT verdict || coalesce(':' || reassigned_to, '')) > 1 AS reviewers_disagree
    FROM current_reviews GROUP BY doc_id, measure_id
)
SELECT c.*, k.n_reviews, k.reviewers_disagree
FROM current_reviews c JOIN counted k USING (doc_id, measure_id)
QUALIFY row_number() OVER (
    PARTITION BY c.doc_id, c.measure_id
    ORDER BY c.reviewed_at DESC, c.source_file DESC, c.source_sheet DESC, c.source_row DESC, c.review_id
) = 1;

-- Every coverage cell with the machine's status, the review's, and the final status:
-- a current review's verdict wins, the machine decides otherwise.
--   review_verdict  covered / partial / absent (the reviewer's verdict on the cell);
--                   reassigned (its evidence clause implements another measure: the cell is absent);
--                   implied (a reassignment elsewhere names this measure: the cell is covered by that clause);
--                   NULL (machine only).
--   stale_verdict   the latest review of an earlier version of the file (same file name): shown, not applied.
CREATE OR REPLACE VIEW coverage_reviewed AS
WITH implied AS (
    SELECT doc_id, reassigned_to AS measure_id,
           arg_max(clause_id, reviewed_at) AS clause_id,
           arg_max(reviewer, reviewed_at) AS reviewer,
           max(reviewed_at) AS reviewed_at,
           count(*) AS n_reviews
    FROM review_state
    WHERE state = 'current' AND verdict = 'reassigned'
    GROUP BY doc_id, reassigned_to
), stale AS (
    SELECT current_doc_id AS doc_id, measure_id,
           arg_max(verdict || coalesce(':' || reassigned_to, ''), reviewed_at) AS stale_verdict,
           max(reviewed_at) AS stale_reviewed_at
    FROM review_state
    WHERE state = 'stale'
    GROUP BY current_doc_id, measure_id
), joined AS (
    SELECT
        c.doc_id,
        d.file_name,
        d.status AS document_status,
        c.measure_id,
        c.status AS machine_status,
        c.score AS machine_score,
        c.evidence_clause_id AS machine_evidence_clause_id,
        CASE WHEN r.verdict IS NOT NULL THEN r.verdict WHEN i.measure_id IS NOT NULL THEN 'implied' END
            AS review_verdict,
        r.reassigned_to,
        CASE
            WHEN r.verdict = 'reassigned' THEN 'absent'
            WHEN r.verdict IS NOT NULL THEN r.verdict
            WHEN i.measure_id IS NOT NULL THEN 'covered'
        END AS review_status,
        coalesce(r.clause_id, i.clause_id) AS review_clause_id,
        coalesce(r.reviewer, i.reviewer) AS reviewer,
        coalesce(r.reviewed_at, i.reviewed_at) AS reviewed_at,
        r.note AS review_note,
        r.machine_status AS machine_status_at_review,
        coalesce(r.n_reviews, i.n_reviews, 0) AS n_reviews,
        coalesce(r.reviewers_disagree, false) AS reviewers_disagree,
        s.stale_verdict,
        s.stale_reviewed_at,
        c.run_id
    FROM coverage c
    JOIN documents d USING (doc_id)
    LEFT JOIN reviews_latest r ON r.doc_id = c.doc_id AND r.measure_id = c.measure_id
    LEFT JOIN implied i ON i.doc_id = c.doc_id AND i.measure_id = c.measure_id
    LEFT JOIN stale s ON s.doc_id = c.doc_id AND s.measure_id = c.measure_id
)
SELECT
    *,
    coalesce(review_status, machine_status) AS final_status,
    CASE
        WHEN review_status IN ('covered', 'partial') THEN coalesce(review_clause_id, machine_evidence_clause_id)
        WHEN review_status = 'absent' THEN NULL
        ELSE machine_evidence_clause_id
    END AS final_evidence_clause_id,
    CASE WHEN review_status IS NULL THEN 'machine' ELSE 'review' END AS status_source,
    review_status IS NULL AND stale_verdict IS NOT NULL AS review_stale,
    machine_status_at_review IS NOT NULL AND machine_status_at_review <> machine_status AS machine_changed
FROM joined;

-- Review progress per document: cells reviewed, confirmed and overturned, stale reviews waiting.
CREATE OR REPLACE VIEW review_progress AS
SELECT
    doc_id,
    file_name,
    count(*) AS cells,
    count(review_status) AS reviewed,
    round(count(review_status) / count(*), 4) AS share_reviewed,
    count(*) FILTER (WHERE review_status = machine_status) AS confirmed,
    count(*) FILTER (WHERE review_status <> machine_status) AS overturned,
    count(*) FILTER (WHERE review_stale) AS stale,
    max(reviewed_at) AS last_reviewed_at
FROM coverage_reviewed
WHERE document_status = 'ok'
GROUP BY doc_id, file_name;

-- What the views are and what their own columns mean. The columns review_state and
-- reviews_latest take from reviews keep that table's comments (warehouse.apply_schema copies them).
COMMENT ON VIEW review_state IS 'Every review with whether it still applies: current, stale (the file changed since), withdrawn or orphaned';
COMMENT ON COLUMN review_state.state IS 'current (its document is in the warehouse, ok), stale (same file name, new content), withdrawn (document no longer usable) or orphaned (neither document nor file name known)';
COMMENT ON COLUMN review_state.current_doc_id IS 'for a stale review: the doc_id of the file''s current version (else NULL)';
COMMENT ON VIEW reviews_latest IS 'One row per reviewed cell of a current document: its latest review, how many it had and whether reviewers disagree';
COMMENT ON COLUMN reviews_latest.state IS 'always current here (see review_state.state)';
COMMENT ON COLUMN reviews_latest.current_doc_id IS 'always NULL here (set for stale reviews only)';
COMMENT ON COLUMN reviews_latest.n_reviews IS 'current reviews of this cell, all imports together';
COMMENT ON COLUMN reviews_latest.reviewers_disagree IS 'whether the current reviews of this cell give different verdicts';
COMMENT ON VIEW coverage_reviewed IS 'Every coverage cell with the machine''s status, the review''s and the final status (a current review wins, else the machine)';
COMMENT ON COLUMN coverage_reviewed.doc_id IS 'document (documents.doc_id)';
COMMENT ON COLUMN coverage_reviewed.file_name IS 'file''s path inside the corpus folder';
COMMENT ON COLUMN coverage_reviewed.document_status IS 'documents.status: ok, withdrawn, or why no clauses were read';
COMMENT ON COLUMN coverage_reviewed.measure_id IS 'national measure: II.<action>.<n> or III.<section>.<n>';
COMMENT ON COLUMN coverage_reviewed.machine_status IS 'covered, partial or absent, as the matching decided';
COMMENT ON COLUMN coverage_reviewed.machine_score IS 'best fused score of any clause of the document for the measure';
COMMENT ON COLUMN coverage_reviewed.machine_evidence_clause_id IS 'clause behind the machine''s covered or partial status (NULL when absent)';
COMMENT ON COLUMN coverage_reviewed.review_verdict IS 'covered, partial, absent, reassigned (its evidence implements another measure), implied (a reassignment elsewhere names this measure), or NULL (machine only)';
COMMENT ON COLUMN coverage_reviewed.reassigned_to IS 'for a reassigned verdict: the measure the evidence clause implements instead';
COMMENT ON COLUMN coverage_reviewed.review_status IS 'the status the review gives the cell: its verdict, absent for reassigned, covered for implied; NULL when not reviewed';
COMMENT ON COLUMN coverage_reviewed.review_clause_id IS 'clause the review is about (for implied: the reassigned clause)';
COMMENT ON COLUMN coverage_reviewed.reviewer IS 'who gave the deciding verdict';
COMMENT ON COLUMN coverage_reviewed.reviewed_at IS 'when the deciding verdict was imported (UTC)';
COMMENT ON COLUMN coverage_reviewed.review_note IS 'the reviewer''s note';
COMMENT ON COLUMN coverage_reviewed.machine_status_at_review IS 'machine status the reviewer saw in the workbook';
COMMENT ON COLUMN coverage_reviewed.n_reviews IS 'current reviews behind the review status (0: machine only)';
COMMENT ON COLUMN coverage_reviewed.reviewers_disagree IS 'whether the current reviews of this cell give different verdicts';
COMMENT ON COLUMN coverage_reviewed.stale_verdict IS 'latest verdict on an earlier version of the file (same file name): shown, not applied';
COMMENT ON COLUMN coverage_reviewed.stale_reviewed_at IS 'when that stale verdict was imported (UTC)';
COMMENT ON COLUMN coverage_reviewed.run_id IS 'run that decided the machine status (runs.run_id)';
COMMENT ON COLUMN coverage_reviewed.final_status IS 'the cell''s status for the committee: the review status when there is one, else the machine status';
COMMENT ON COLUMN coverage_reviewed.final_evidence_clause_id IS 'evidence clause of the final status (NULL when absent)';
COMMENT ON COLUMN coverage_reviewed.status_source IS 'review or machine: what decided final_status';
COMMENT ON COLUMN coverage_reviewed.review_stale IS 'whether only a stale review exists: the file changed since it was reviewed, and the machine decides';
COMMENT ON COLUMN coverage_reviewed.machine_changed IS 'whether the machine status changed since the reviewer saw it';
COMMENT ON VIEW review_progress IS 'Review progress per current document: cells reviewed, confirmed and overturned, stale reviews waiting';
COMMENT ON COLUMN review_progress.doc_id IS 'document (documents.doc_id)';
COMMENT ON COLUMN review_progress.file_name IS 'file''s path inside the corpus folder';
COMMENT ON COLUMN review_progress.cells IS 'coverage cells of the document (65)';
COMMENT ON COLUMN review_progress.reviewed IS 'cells with a current review';
COMMENT ON COLUMN review_progress.share_reviewed IS 'reviewed / cells';
COMMENT ON COLUMN review_progress.confirmed IS 'reviewed cells whose review status equals the machine status';
COMMENT ON COLUMN review_progress.overturned IS 'reviewed cells whose review status differs from the machine status';
COMMENT ON COLUMN review_progress.stale IS 'cells whose only review is of an earlier version of the file';
COMMENT ON COLUMN review_progress.last_reviewed_at IS 'latest import of a verdict on the document (UTC)';
