-- Reuse between plans (compare.diffusion): the raw tables a run will write beside coverage.
-- Every column carries a comment (the text after `--` on its line), as in src/compare/store/sql/schema.sql.
-- Rows are written by compare.diffusion.tables; a link is found once, when the later-added of
-- its two documents is compared with the reuse index, and kept until either document leaves.

CREATE TABLE IF NOT EXISTS clause_reuse (
    kind VARCHAR NOT NULL,                   -- verbatim (shared character runs: the source's words, at most names, levels, departments or figures changed) or paraphrase (the same content in other words, in a document pair joined by verbatim reuse)
    source_doc_id VARCHAR NOT NULL,          -- document reused from: the earlier one when directed, else the first in doc id order; 'national' for the national plan's Chinese text
    source_clause_id VARCHAR NOT NULL,       -- its clause (clauses.clause_id; national:<measure_id> for the national text)
    target_doc_id VARCHAR NOT NULL,          -- document reusing it: the later one when directed
    target_clause_id VARCHAR NOT NULL,       -- its clause (clauses.clause_id)
    directed BOOLEAN,                        -- true when the issue dates differ (source is earlier); false when they tie or one is missing
    overlap DOUBLE,                          -- share of the shorter clause's 4-character shingles found in the other (of their reuse text: normalized, no number marker, no departments, no punctuation), 0-1
    shared_chars INTEGER,                    -- longest stretch of the later-added clause whose every 4-character shingle is in the other: the longest passage they share, in characters (reuse text)
    similarity DOUBLE,                       -- cosine of the two clauses' vectors (the run's first encoder, as the clauses are embedded for matching)
    wording DOUBLE,                          -- share of the shorter clause's character bigrams found in the other, 0-1
    run_id VARCHAR                           -- run that found the link
);

CREATE TABLE IF NOT EXISTS document_similarity (
    doc_id VARCHAR NOT NULL,                 -- document A
    other_doc_id VARCHAR NOT NULL,           -- document B (a row for each ordered pair joined by at least one link)
    n_clauses INTEGER,                       -- A's clauses compared for reuse (measure items)
    verbatim_clauses INTEGER,                -- A's clauses with a verbatim link to B
    paraphrase_clauses INTEGER,              -- A's clauses with a paraphrase link to B and no verbatim one
    verbatim_share DOUBLE,                   -- verbatim_clauses / n_clauses
    paraphrase_share DOUBLE,                 -- paraphrase_clauses / n_clauses
    reused_share DOUBLE,                     -- share of A's clauses with any link to B
    semantic_similarity DOUBLE,              -- cosine of the two documents' mean clause vectors (the run's first encoder)
    earlier_doc_id VARCHAR,                  -- the earlier of the two by issue date; NULL when the dates tie or one is missing
    run_id VARCHAR                           -- run that computed the row
);

CREATE TABLE IF NOT EXISTS document_localization (
    doc_id VARCHAR NOT NULL,                 -- document
    n_clauses INTEGER,                       -- clauses compared for reuse (measure items)
    original_share DOUBLE,                   -- share with no link to an earlier (or same-dated or undated) document nor to the national text
    reused_own_province_share DOUBLE,        -- share reused from a document of its own province (a city from its province's plan), national reuse not counted
    reused_other_province_share DOUBLE,      -- share reused from another province's document (and not from its own province or the national text)
    reused_national_share DOUBLE,            -- share reused from the national plan's Chinese text; NULL when it is not measured (see national_text)
    beyond_national_plan_share DOUBLE,       -- share matching no national measure (clause_decisions.decision = 'none'); cuts across the four shares above; NULL when not scored
    national_text VARCHAR,                   -- 'measured', or why reuse of the national text is not measured
    run_id VARCHAR                           -- run that computed the row
);

CREATE TABLE IF NOT EXISTS measure_homogeneity (
    measure_id VARCHAR NOT NULL,             -- national measure (national_measures.measure_id)
    n_documents INTEGER,                     -- documents with an evidence clause for it (covered or partial)
    n_provinces INTEGER,                     -- provinces among them
    n_pairs INTEGER,                         -- pairs of evidence clauses from different provinces
    homogeneity DOUBLE,                      -- mean phrase similarity of those pairs (Dice of their 4-character shingles), 0-1: how far provinces state the measure in the same words
    semantic_similarity DOUBLE,              -- mean cosine of those pairs (the run's first encoder); NULL when vectors were not given
    most_alike_clause_id VARCHAR,            -- evidence clause of the most alike pair ...
    most_alike_other_clause_id VARCHAR,      -- ... and the other clause of it
    least_alike_clause_id VARCHAR,           -- evidence clause of the least alike pair ...
    least_alike_other_clause_id VARCHAR,     -- ... and the other clause of it
    run_id VARCHAR                           -- run that computed the row
);
