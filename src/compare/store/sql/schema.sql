-- The compare warehouse: raw tables written by `compare run`.
-- Every column carries a comment (the text after `--` on its line); the writer turns them
-- into COMMENT ON COLUMN statements, so `SELECT * FROM duckdb_columns()` documents the schema.
-- Researchers query the views in src/compare/store/sql/views.sql.
-- The tables with a row per page, clause, match or cell declare no PRIMARY KEY: DuckDB keeps a
-- key's index in memory, which at tens of thousands of documents outgrows the writer's memory
-- limit. Their keys are NOT NULL and are checked on every write (compare.store.warehouse.ROW_KEYS).

CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,              -- unique id of one pipeline run (time-ordered)
    started_at TIMESTAMP,                    -- when the run started (UTC)
    finished_at TIMESTAMP,                   -- when the run published its snapshot (UTC)
    status VARCHAR,                          -- ok, or partial when some documents failed
    code_version VARCHAR,                    -- code that wrote the run: <version>+g<git commit>.src<hash of the package's source files>
    catalogue_fingerprint VARCHAR,           -- hash of the national catalogue used
    models VARCHAR,                          -- embedding models (comma-separated specs)
    model_ids VARCHAR,                       -- resolved model ids, with build hashes where local (NULL when the run scored nothing, so loaded no model)
    thresholds VARCHAR,                      -- JSON: calibration in force: thresholds (covered, partial, clause), fusion weights, source
    settings VARCHAR,                        -- JSON: every setting of the run
    corpus_hash VARCHAR,                     -- hash of the sorted content hashes of all input files
    scoring_key VARCHAR,                     -- hash of what decides scores (models, top-k, catalogue, calibration, exemplars); documents scored under another key are scored again
    n_documents INTEGER,                     -- input files seen by the run
    n_processed INTEGER,                     -- documents extracted and matched in this run (new or changed)
    n_failed INTEGER,                        -- documents processed in this run whose status is not ok
    n_unchanged INTEGER,                     -- documents of the corpus kept as they were (content and scoring key unchanged)
    n_withdrawn INTEGER,                     -- documents marked withdrawn by this run (their file left the corpus)
    n_replaced INTEGER,                      -- documents removed because their file now holds new content
    n_clauses INTEGER,                       -- clauses written by this run
    n_embedded INTEGER,                      -- texts newly embedded (cache misses) in this run
    timings VARCHAR                          -- JSON: seconds per stage (plan, extract, score, publish)
);

CREATE TABLE IF NOT EXISTS national_measures (
    measure_id VARCHAR PRIMARY KEY,          -- stable id by position: II.<action>.<n> or III.<section>.<n>
    part VARCHAR,                            -- II (key actions) or III (guarantees and support)
    section_no INTEGER,                      -- action (1-11) or support section (1-7), by position
    measure_no INTEGER,                      -- measure within its section, by position
    section_id VARCHAR,                      -- part.section, e.g. II.2
    section_title_en VARCHAR,                -- section title in the English translation
    section_title_zh VARCHAR,                -- official Chinese section title
    title_en VARCHAR,                        -- the measure's title sentence (English)
    text_en VARCHAR,                         -- the measure's full text (English translation)
    text_zh VARCHAR,                         -- the measure's official Chinese text, where known
    ministries VARCHAR,                      -- responsible national ministries, lead first, '; '-separated
    lead_ministry VARCHAR                    -- the leading ministry
);

CREATE TABLE IF NOT EXISTS documents (
    doc_id VARCHAR PRIMARY KEY,              -- content hash of the file (first 16 hex of sha256)
    file_name VARCHAR,                       -- file's path inside the corpus folder (the first name, when identical files lie under several)
    sha256 VARCHAR,                          -- full sha256 of the file's bytes
    province VARCHAR,                        -- province named by the document (中文)
    city VARCHAR,                            -- city, for municipal plans
    level VARCHAR,                           -- province, city or county, as read from the issuer or title; NULL when no place is named (State Council, ministries, joint issuers: see the view column issuer_level)
    title VARCHAR,                           -- document title
    issuer VARCHAR,                          -- issuing body
    doc_number VARCHAR,                      -- document number, e.g. 浙政发〔2016〕2号
    issue_date DATE,                         -- date of issue
    script VARCHAR,                          -- simplified or traditional
    ocr_used BOOLEAN,                        -- whether any page's text came from OCR
    page_count INTEGER,                      -- pages read
    n_clauses INTEGER,                       -- clauses segmented
    status VARCHAR,                          -- ok, or why not: encrypted, corrupt, empty, not_pdf, no_text, too_large, not_chinese, not_a_plan, failed (retried next run), withdrawn (file left the corpus; rows kept)
    message VARCHAR,                         -- the problem in words, naming the file (empty when ok)
    run_id VARCHAR,                          -- run that processed this document (or withdrew it)
    processed_at TIMESTAMP,                  -- when it was processed (UTC)
    scoring_key VARCHAR,                     -- runs.scoring_key under which it was scored
    relevance VARCHAR,                       -- what the document is: plan (an Internet Plus implementation plan), related (another digital policy carrying a few measures: matched, kept apart) or off_topic (left out of the coverage views unless accepted); NULL when not scored
    relevance_reasons VARCHAR                -- the signals behind the relevance verdict, in words
);

CREATE TABLE IF NOT EXISTS accepted_documents (
    file_name VARCHAR,                       -- a file a user accepted into the coverage views whatever its relevance verdict (compare run --accept FILE); it stays accepted across runs and new contents
    accepted_at TIMESTAMP,                   -- when it was first accepted (UTC)
    run_id VARCHAR                           -- the run that accepted it
);

CREATE TABLE IF NOT EXISTS pages (
    doc_id VARCHAR NOT NULL,                 -- document
    page_no INTEGER NOT NULL,                -- page number, from 1
    method VARCHAR,                          -- how the text was obtained: pdfplumber, pdfium or ocr
    n_chars INTEGER                          -- characters of text on the page
);

CREATE TABLE IF NOT EXISTS clauses (
    clause_id VARCHAR NOT NULL,              -- doc_id:sequence
    doc_id VARCHAR,                          -- document
    seq INTEGER,                             -- order of the clause in its document
    path VARCHAR,                            -- numbering path as printed, e.g. 二.（三）.2; +n: unnumbered paragraph after an item; #n: part n of a split item
    heading VARCHAR,                         -- chain of headings above the clause
    kind VARCHAR,                            -- measure, heading, goal, principle or boilerplate
    text VARCHAR,                            -- the clause as printed (original script): the evidence
    text_norm VARCHAR,                       -- the clause as matched (simplified, normalized)
    page INTEGER,                            -- page the clause starts on
    char_start INTEGER,                      -- offset of the clause in the document text
    char_end INTEGER                         -- end offset of the clause in the document text
);

CREATE TABLE IF NOT EXISTS departments (
    clause_id VARCHAR,                       -- clause that names the department
    doc_id VARCHAR,                          -- document
    name VARCHAR,                            -- department as named, e.g. 省发展改革委
    role VARCHAR                             -- lead (牵头), support (配合) or responsible (负责)
);

CREATE TABLE IF NOT EXISTS targets (
    clause_id VARCHAR,                       -- clause that states the target
    doc_id VARCHAR,                          -- document
    indicator VARCHAR,                       -- what is measured, e.g. 固定宽带家庭普及率
    value DOUBLE,                            -- target value
    unit VARCHAR,                            -- unit, e.g. %, 亿元, 个
    year INTEGER,                            -- target year
    text VARCHAR                             -- the target as stated
);

CREATE TABLE IF NOT EXISTS matches (
    clause_id VARCHAR NOT NULL,              -- clause
    measure_id VARCHAR,                      -- national measure
    rank INTEGER NOT NULL,                   -- 1 = best measure for the clause
    score DOUBLE,                            -- fused score (higher is closer; calibrated scale)
    channel_scores MAP(VARCHAR, DOUBLE),     -- score of each channel: one per embedding model (z-normalized) and lexical
    method VARCHAR,                          -- how the score was made (fusion and models)
    run_id VARCHAR                           -- run that scored it
);

CREATE TABLE IF NOT EXISTS clause_decisions (
    clause_id VARCHAR NOT NULL,              -- clause
    doc_id VARCHAR,                          -- document
    decision VARCHAR,                        -- measure (implements its best match) or none (boilerplate, goal, or beyond the national plan)
    measure_id VARCHAR,                      -- the measure it implements (NULL when none)
    score DOUBLE,                            -- fused score of its best match (NULL for boilerplate and fragments: never embedded nor scored)
    run_id VARCHAR                           -- run that decided it
);

CREATE TABLE IF NOT EXISTS coverage (
    doc_id VARCHAR NOT NULL,                 -- document
    measure_id VARCHAR NOT NULL,             -- national measure
    status VARCHAR,                          -- covered, partial or absent
    score DOUBLE,                            -- best fused score of any clause of the document for the measure
    evidence_clause_id VARCHAR,              -- the clause behind a covered or partial status (NULL when absent)
    run_id VARCHAR                           -- run that decided it
);

CREATE TABLE IF NOT EXISTS evaluations (
    evaluation_id VARCHAR PRIMARY KEY,       -- unique id of one `compare evaluate` run
    evaluated_at TIMESTAMP,                  -- when it ran (UTC)
    gold VARCHAR,                            -- folder of label files judged
    documents VARCHAR,                       -- labelled documents judged, comma-separated
    models VARCHAR,                          -- embedding models (comma-separated specs)
    protocol VARCHAR,                        -- how calibration was kept apart from the judged documents
    items INTEGER,                           -- labelled items
    located INTEGER,                         -- labelled items found among the clauses
    top1 DOUBLE,                             -- share of items with a measure whose best match is one of their measures
    top3 DOUBLE,                             -- share of items with a measure that has one of their measures in its top 3
    none_precision DOUBLE,                   -- of items predicted to implement no measure, the share labelled none
    none_recall DOUBLE,                      -- of items labelled none, the share predicted none
    cell_precision DOUBLE,                   -- document x measure cells predicted covered that are covered in the labels
    cell_recall DOUBLE,                      -- cells covered in the labels that are predicted covered
    cell_f1 DOUBLE,                          -- harmonic mean of cell precision and recall
    cells INTEGER,                           -- document x measure cells judged
    calibration VARCHAR                      -- JSON: the calibration fitted on all judged documents
);

CREATE TABLE IF NOT EXISTS evaluation_measures (
    evaluation_id VARCHAR,                   -- evaluation
    measure_id VARCHAR,                      -- national measure
    support INTEGER,                         -- labelled documents that implement the measure
    precision DOUBLE,                        -- cell precision for this measure
    recall DOUBLE,                           -- cell recall for this measure
    f1 DOUBLE,                               -- cell F1 for this measure
    PRIMARY KEY (evaluation_id, measure_id)
);

-- Reuse between plans (compare.diffusion; written by compare.store.reuse in the same snapshot as
-- the coverage). A link is found once, when the later-added of its two documents is compared
-- with the reuse index, and kept until either document leaves the corpus. The other three
-- tables are computed again from the links whenever a run changes them. docs/diffusion.md
-- has the method.

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

CREATE TABLE IF NOT EXISTS reuse_index (
    index_id VARCHAR NOT NULL,               -- the saved reuse index this state of the warehouse goes with: folder <cache_dir>/reuse/<warehouse key>/<index_id> (compare.store.reuse)
    run_id VARCHAR,                          -- run that wrote the row (one row per run; the latest is the index in force)
    model_id VARCHAR,                        -- encoder whose clause vectors the index holds (the run's first model)
    n_documents INTEGER,                     -- documents in the index (the national text counts as one when indexed)
    n_clauses INTEGER,                       -- clauses in the index (measure items)
    n_links INTEGER,                         -- links in the index (rows of clause_reuse)
    n_compared INTEGER,                      -- documents this run compared with the index (new or changed ones; 0 on a rerun with nothing new)
    n_removed INTEGER,                       -- documents this run took out of the index (withdrawn, replaced, no longer readable)
    rebuilt BOOLEAN,                         -- whether this run rebuilt the index from the warehouse (its folder missing or out of step, or another encoder)
    documents_hash VARCHAR,                  -- hash of the sorted doc ids in the index, checked when the index is opened
    national_text VARCHAR,                   -- 'measured', or why reuse of the national text is not measured
    note VARCHAR,                            -- what the run could not do for reuse (e.g. no paraphrase rule for its encoder), else NULL
    created_at TIMESTAMP                     -- when the row was written (UTC)
);
