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
    score DOUBLE,                            -- fused score of its best match
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
