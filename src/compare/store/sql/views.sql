-- Views for researchers, over the raw tables of src/compare/store/sql/schema.sql.
-- Every run re-creates them in its snapshot. Each view and each of its columns carries a
-- COMMENT, so `SELECT table_name, column_name, comment FROM duckdb_columns()` documents them.
-- Every view leaves out withdrawn documents (files that left the corpus; their rows are kept
-- in the raw tables). A "plan holder" (column `jurisdiction`) is a province for a provincial
-- plan and a city for a municipal one: Ningbo's plan is not Zhejiang's. A document with no
-- province or city (the State Council, a ministry, several issuers jointly, a county, or an
-- issuer not read) is held by its issuing body as read (documents.issuer), else by its file.
-- Column `issuer_level` says which kind of issuer a row speaks for (macro issuer_level below):
-- provincial, city and county plans are local plans; national, ministry and joint documents
-- come from the central government and are not counted as plan holders in measure_summary.

-- The kind of issuer of a document, from what its metadata says:
--   provincial, city, county  a local government or department (documents.level, province, city);
--   national  国务院 and its General Office, 中共中央, the National People's Congress, the Supreme
--             People's Court or Procuratorate (by the issuer, else the title; or a 国发/国办发/中发…
--             number);
--   ministry  one ministry, commission, bureau or other body of the central government (国家…,
--             …部, …委员会, …总局, …局, …署 with no place in the name; or, with no issuer read, a
--             ministry's number such as 工信部科〔2017〕315号);
--   joint     several issuers: two bodies in the name (工业和信息化部国家标准化管理委员会), a list
--             (、 or spaces), 等N部门 or 联合, or a joint number (工信部联科〔2018〕154号);
--   unknown   nothing read names the issuer.
CREATE OR REPLACE MACRO issuer_level(level, province, city, issuer, title, doc_number) AS
CASE
    WHEN level = 'city' OR (level IS NULL AND city IS NOT NULL) THEN 'city'
    WHEN level = 'county' THEN 'county'
    WHEN level = 'province' OR province IS NOT NULL THEN 'provincial'
    WHEN regexp_matches(coalesce(trim(issuer), ''), '[、，,；;\s]|联合|等[0-9一二三四五六七八九十两多几]+个?(部门|单位|部委)')
      OR len(regexp_extract_all(coalesce(issuer, ''),
             '(?:.+?(?:部|委员会|总局|局|署|银行|法院|检察院)|国务院|中共中央)(?:办公厅|办公室)?')) > 1
      OR contains(split_part(coalesce(doc_number, ''), '〔', 1), '联')
        THEN 'joint'
    WHEN regexp_matches(coalesce(issuer, title, ''),
                        '^(国务院|中共中央|中央办公厅|全国人民代表大会|全国人大|最高人民法院|最高人民检察院)')
      OR regexp_matches(coalesce(doc_number, ''), '^(国发|国办发|国函|国办函|国令|中发|中办发|厅字)')
        THEN 'national'
    WHEN (regexp_matches(coalesce(issuer, ''), '^(国家|中华人民共和国)|(部|委员会|委|总局|局|署|银行|办公厅|办公室|院)$')
          AND NOT regexp_matches(issuer, '人民政府|行政公署|省|市|县|州|盟|旗|区'))
      OR (issuer IS NULL AND regexp_matches(split_part(coalesce(doc_number, ''), '〔', 1), '部|^国|^发改'))
        THEN 'ministry'
    ELSE 'unknown'
END;

COMMENT ON MACRO issuer_level IS 'kind of issuer of a document: provincial, city, county, national, ministry, joint or unknown (rules in src/compare/store/sql/views.sql)';

CREATE OR REPLACE VIEW current_documents AS
SELECT d.doc_id,
       d.file_name,
       coalesce(d.city, d.province, d.issuer, d.file_name) AS jurisdiction,
       issuer_level(d.level, d.province, d.city, d.issuer, d.title, d.doc_number) AS issuer_level,
       d.province,
       d.city,
       d.level,
       d.title,
       d.doc_number,
       d.issuer,
       d.issue_date,
       d.status,
       d.message,
       d.page_count,
       d.n_clauses,
       d.ocr_used,
       d.script,
       d.run_id,
       d.processed_at,
       d.relevance,
       d.relevance_reasons,
       (a.file_name IS NOT NULL) AS accepted,
       (d.relevance IS DISTINCT FROM 'off_topic' OR a.file_name IS NOT NULL) AS in_matrix,
       d.sha256
FROM documents d
LEFT JOIN (SELECT DISTINCT file_name FROM accepted_documents) a USING (file_name)
WHERE d.status <> 'withdrawn';

COMMENT ON VIEW current_documents IS 'Documents whose file is in the corpus (not withdrawn), with the plan holder they speak for';
COMMENT ON COLUMN current_documents.doc_id IS 'content hash of the file (first 16 hex of sha256)';
COMMENT ON COLUMN current_documents.file_name IS 'file''s path inside the corpus folder';
COMMENT ON COLUMN current_documents.jurisdiction IS 'plan holder: the city for a municipal plan, else the province, else the issuing body (a ministry, the State Council …), else the file name';
COMMENT ON COLUMN current_documents.issuer_level IS 'kind of issuer: provincial, city, county (local plans), national (国务院, 中共中央 …), ministry, joint (several issuers) or unknown';
COMMENT ON COLUMN current_documents.province IS 'province named by the document (中文)';
COMMENT ON COLUMN current_documents.city IS 'city, for municipal plans (NULL for a provincial plan)';
COMMENT ON COLUMN current_documents.level IS 'province, city or county, as read from the document (NULL when it names no place: see issuer_level)';
COMMENT ON COLUMN current_documents.title IS 'document title';
COMMENT ON COLUMN current_documents.doc_number IS 'document number, e.g. 浙政发〔2016〕2号';
COMMENT ON COLUMN current_documents.issuer IS 'issuing body';
COMMENT ON COLUMN current_documents.issue_date IS 'date of issue';
COMMENT ON COLUMN current_documents.status IS 'ok, or why the document gave no clauses (see documents.status)';
COMMENT ON COLUMN current_documents.message IS 'the problem in words, naming the file (empty when ok)';
COMMENT ON COLUMN current_documents.page_count IS 'pages read';
COMMENT ON COLUMN current_documents.n_clauses IS 'clauses segmented';
COMMENT ON COLUMN current_documents.ocr_used IS 'whether any page''s text came from OCR';
COMMENT ON COLUMN current_documents.script IS 'simplified or traditional';
COMMENT ON COLUMN current_documents.run_id IS 'run that processed the document (runs.run_id)';
COMMENT ON COLUMN current_documents.processed_at IS 'when it was processed (UTC)';
COMMENT ON COLUMN current_documents.relevance IS 'plan, related (another digital policy: matched, kept apart from the plans in summaries) or off_topic (left out of the coverage views unless accepted)';
COMMENT ON COLUMN current_documents.relevance_reasons IS 'the signals behind the relevance verdict, in words';
COMMENT ON COLUMN current_documents.accepted IS 'an off_topic document a user accepted into the coverage views (compare run --accept)';
COMMENT ON COLUMN current_documents.in_matrix IS 'whether the document is in the coverage matrix and the views built on it (not off_topic, or accepted)';
COMMENT ON COLUMN current_documents.sha256 IS 'full sha256 of the file''s bytes (doc_id is its first 16 hex)';

CREATE OR REPLACE VIEW coverage_by_document AS
SELECT d.doc_id,
       d.file_name,
       d.jurisdiction,
       d.issuer_level,
       d.province,
       d.city,
       d.level,
       d.doc_number,
       m.measure_id,
       m.part,
       m.section_id,
       m.section_title_zh,
       m.title_en AS measure_title_en,
       c.status,
       c.score,
       c.evidence_clause_id,
       k.path AS evidence_path,
       k.text AS evidence_text,
       k.page AS evidence_page,
       c.run_id,
       d.relevance
FROM coverage c
JOIN current_documents d USING (doc_id)
JOIN national_measures m USING (measure_id)
LEFT JOIN clauses k ON k.clause_id = c.evidence_clause_id
WHERE d.in_matrix;

COMMENT ON VIEW coverage_by_document IS 'One row per current document x national measure: status, score and the evidence clause with its page (off_topic documents left out unless accepted)';
COMMENT ON COLUMN coverage_by_document.relevance IS 'plan or related (see current_documents.relevance)';
COMMENT ON COLUMN coverage_by_document.doc_id IS 'document (current_documents.doc_id)';
COMMENT ON COLUMN coverage_by_document.file_name IS 'file''s path inside the corpus folder';
COMMENT ON COLUMN coverage_by_document.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN coverage_by_document.issuer_level IS 'kind of issuer: provincial, city, county, national, ministry, joint or unknown';
COMMENT ON COLUMN coverage_by_document.province IS 'province named by the document';
COMMENT ON COLUMN coverage_by_document.city IS 'city, for municipal plans';
COMMENT ON COLUMN coverage_by_document.level IS 'province, city or county (NULL when no place was read)';
COMMENT ON COLUMN coverage_by_document.doc_number IS 'document number';
COMMENT ON COLUMN coverage_by_document.measure_id IS 'national measure: II.<action>.<n> or III.<section>.<n>';
COMMENT ON COLUMN coverage_by_document.part IS 'II (key actions) or III (guarantees and support)';
COMMENT ON COLUMN coverage_by_document.section_id IS 'national action or support section, e.g. II.2';
COMMENT ON COLUMN coverage_by_document.section_title_zh IS 'official Chinese title of the action or section';
COMMENT ON COLUMN coverage_by_document.measure_title_en IS 'the measure''s title sentence (English translation)';
COMMENT ON COLUMN coverage_by_document.status IS 'covered, partial or absent';
COMMENT ON COLUMN coverage_by_document.score IS 'best fused score of any clause of the document for the measure';
COMMENT ON COLUMN coverage_by_document.evidence_clause_id IS 'clause behind a covered or partial status (NULL when absent)';
COMMENT ON COLUMN coverage_by_document.evidence_path IS 'numbering path of the evidence clause as printed, e.g. 二.（三）.2';
COMMENT ON COLUMN coverage_by_document.evidence_text IS 'the evidence clause as printed (original script)';
COMMENT ON COLUMN coverage_by_document.evidence_page IS 'page the evidence clause starts on';
COMMENT ON COLUMN coverage_by_document.run_id IS 'run that decided the cell (runs.run_id: models, thresholds, code version)';

CREATE OR REPLACE VIEW coverage_by_province AS
WITH ranked AS (
    SELECT *,
           CASE status WHEN 'covered' THEN 2 WHEN 'partial' THEN 1 ELSE 0 END AS strength
    FROM coverage_by_document
    WHERE relevance IS DISTINCT FROM 'related'  -- related policies are kept apart from the plans
)
SELECT jurisdiction,
       any_value(issuer_level) AS issuer_level,
       any_value(province) AS province,
       any_value(city) AS city,
       any_value(level) AS level,
       measure_id,
       any_value(part) AS part,
       any_value(section_id) AS section_id,
       any_value(measure_title_en) AS measure_title_en,
       arg_max(status, (strength, score)) AS status,
       max(score) AS score,
       count(DISTINCT doc_id) AS n_documents,
       count(DISTINCT doc_id) FILTER (WHERE strength > 0) AS n_documents_implementing,
       arg_max(doc_id, (strength, score)) FILTER (WHERE strength > 0) AS evidence_doc_id,
       arg_max(evidence_clause_id, (strength, score)) FILTER (WHERE strength > 0) AS evidence_clause_id,
       arg_max(evidence_text, (strength, score)) FILTER (WHERE strength > 0) AS evidence_text,
       arg_max(evidence_page, (strength, score)) FILTER (WHERE strength > 0) AS evidence_page,
       arg_max(run_id, (strength, score)) AS run_id
FROM ranked
GROUP BY jurisdiction, measure_id;

COMMENT ON VIEW coverage_by_province IS 'One row per plan holder x national measure: the strongest status over the holder''s current documents, with its evidence (plans only: related and off_topic documents are left out)';
COMMENT ON COLUMN coverage_by_province.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN coverage_by_province.issuer_level IS 'kind of issuer of the holder''s documents: provincial, city, county, national, ministry, joint or unknown';
COMMENT ON COLUMN coverage_by_province.province IS 'province';
COMMENT ON COLUMN coverage_by_province.city IS 'city, for municipal plans (NULL for a province)';
COMMENT ON COLUMN coverage_by_province.level IS 'province, city or county (NULL when no place was read)';
COMMENT ON COLUMN coverage_by_province.measure_id IS 'national measure';
COMMENT ON COLUMN coverage_by_province.part IS 'II (key actions) or III (guarantees and support)';
COMMENT ON COLUMN coverage_by_province.section_id IS 'national action or support section, e.g. II.2';
COMMENT ON COLUMN coverage_by_province.measure_title_en IS 'the measure''s title sentence (English translation)';
COMMENT ON COLUMN coverage_by_province.status IS 'strongest status over the holder''s documents: covered > partial > absent';
COMMENT ON COLUMN coverage_by_province.score IS 'best fused score over the holder''s documents';
COMMENT ON COLUMN coverage_by_province.n_documents IS 'current documents of the holder that were matched';
COMMENT ON COLUMN coverage_by_province.n_documents_implementing IS 'of these, documents where the measure is covered or partial';
COMMENT ON COLUMN coverage_by_province.evidence_doc_id IS 'document of the evidence (NULL when absent everywhere)';
COMMENT ON COLUMN coverage_by_province.evidence_clause_id IS 'clause behind the status (NULL when absent)';
COMMENT ON COLUMN coverage_by_province.evidence_text IS 'the evidence clause as printed';
COMMENT ON COLUMN coverage_by_province.evidence_page IS 'page the evidence clause starts on';
COMMENT ON COLUMN coverage_by_province.run_id IS 'run that decided the strongest cell';

CREATE OR REPLACE VIEW coverage_by_section AS
SELECT p.jurisdiction,
       any_value(p.issuer_level) AS issuer_level,
       any_value(p.province) AS province,
       any_value(p.city) AS city,
       p.section_id,
       any_value(m.part) AS part,
       any_value(m.section_title_zh) AS section_title_zh,
       any_value(m.section_title_en) AS section_title_en,
       count(*) AS n_measures,
       count(*) FILTER (WHERE p.status = 'covered') AS covered,
       count(*) FILTER (WHERE p.status = 'partial') AS partial,
       count(*) FILTER (WHERE p.status = 'absent') AS absent,
       round(100.0 * count(*) FILTER (WHERE p.status = 'covered') / count(*), 1) AS covered_pct,
       round(100.0 * count(*) FILTER (WHERE p.status <> 'absent') / count(*), 1) AS implemented_pct
FROM coverage_by_province p
JOIN national_measures m USING (measure_id)
GROUP BY p.jurisdiction, p.section_id;

COMMENT ON VIEW coverage_by_section IS 'One row per plan holder x national action (II.1-II.11) or support section (III.1-III.7)';
COMMENT ON COLUMN coverage_by_section.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN coverage_by_section.issuer_level IS 'kind of issuer: provincial, city, county, national, ministry, joint or unknown';
COMMENT ON COLUMN coverage_by_section.province IS 'province';
COMMENT ON COLUMN coverage_by_section.city IS 'city, for municipal plans';
COMMENT ON COLUMN coverage_by_section.section_id IS 'national action or support section, e.g. II.2';
COMMENT ON COLUMN coverage_by_section.part IS 'II (key actions) or III (guarantees and support)';
COMMENT ON COLUMN coverage_by_section.section_title_zh IS 'official Chinese title of the action or section';
COMMENT ON COLUMN coverage_by_section.section_title_en IS 'title in the English translation';
COMMENT ON COLUMN coverage_by_section.n_measures IS 'national measures in the section';
COMMENT ON COLUMN coverage_by_section.covered IS 'measures of the section the holder covers';
COMMENT ON COLUMN coverage_by_section.partial IS 'measures it covers in part';
COMMENT ON COLUMN coverage_by_section.absent IS 'measures it does not state';
COMMENT ON COLUMN coverage_by_section.covered_pct IS 'covered / n_measures, in percent';
COMMENT ON COLUMN coverage_by_section.implemented_pct IS '(covered + partial) / n_measures, in percent';

CREATE OR REPLACE VIEW beyond_national_plan AS
SELECT d.jurisdiction,
       d.issuer_level,
       d.province,
       d.city,
       d.doc_id,
       d.doc_number,
       k.clause_id,
       k.path,
       k.heading,
       k.text,
       k.page,
       m.measure_id AS nearest_measure_id,
       cd.score AS nearest_score,
       TRY_CAST(json_extract_string(r.thresholds, '$.thresholds.clause') AS DOUBLE) AS clause_threshold,
       cd.run_id
FROM clause_decisions cd
JOIN clauses k USING (clause_id)
JOIN current_documents d ON d.doc_id = k.doc_id
LEFT JOIN matches m ON m.clause_id = k.clause_id AND m.rank = 1
LEFT JOIN runs r ON r.run_id = cd.run_id
WHERE k.kind = 'measure' AND cd.decision = 'none' AND d.in_matrix AND d.relevance IS DISTINCT FROM 'related';

COMMENT ON VIEW beyond_national_plan IS 'Measure clauses whose best national match scores below the clause threshold of the run that decided them: what a plan adds beyond 国发〔2015〕40号';
COMMENT ON COLUMN beyond_national_plan.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN beyond_national_plan.issuer_level IS 'kind of issuer: provincial, city, county, national, ministry, joint or unknown';
COMMENT ON COLUMN beyond_national_plan.province IS 'province';
COMMENT ON COLUMN beyond_national_plan.city IS 'city, for municipal plans';
COMMENT ON COLUMN beyond_national_plan.doc_id IS 'document';
COMMENT ON COLUMN beyond_national_plan.doc_number IS 'document number';
COMMENT ON COLUMN beyond_national_plan.clause_id IS 'the clause (clauses.clause_id)';
COMMENT ON COLUMN beyond_national_plan.path IS 'numbering path as printed';
COMMENT ON COLUMN beyond_national_plan.heading IS 'chain of headings above the clause';
COMMENT ON COLUMN beyond_national_plan.text IS 'the clause as printed (original script)';
COMMENT ON COLUMN beyond_national_plan.page IS 'page the clause starts on';
COMMENT ON COLUMN beyond_national_plan.nearest_measure_id IS 'the national measure it is closest to, though not close enough';
COMMENT ON COLUMN beyond_national_plan.nearest_score IS 'fused score of that best match';
COMMENT ON COLUMN beyond_national_plan.clause_threshold IS 'the clause threshold it fell below (runs.thresholds of the deciding run)';
COMMENT ON COLUMN beyond_national_plan.run_id IS 'run that decided the clause';

CREATE OR REPLACE VIEW province_summary AS
WITH cells AS (
    SELECT p.jurisdiction,
           any_value(p.issuer_level) AS issuer_level,
           any_value(p.province) AS province,
           any_value(p.city) AS city,
           any_value(p.level) AS level,
           count(*) FILTER (WHERE p.status = 'covered') AS covered,
           count(*) FILTER (WHERE p.status = 'partial') AS partial,
           count(*) FILTER (WHERE p.status = 'absent') AS absent,
           count(*) AS n_measures,
           string_agg(p.measure_id, ', ' ORDER BY m.part, m.section_no, m.measure_no) FILTER (WHERE p.status = 'absent') AS gaps
    FROM coverage_by_province p
    JOIN national_measures m USING (measure_id)
    GROUP BY p.jurisdiction
),
docs AS (
    SELECT jurisdiction,
           count(*) FILTER (WHERE status = 'ok') AS n_documents,
           count(*) FILTER (WHERE status <> 'ok') AS n_failed,
           string_agg(coalesce(doc_number, file_name), '; ' ORDER BY file_name) AS documents
    FROM current_documents
    WHERE in_matrix AND relevance IS DISTINCT FROM 'related'
    GROUP BY jurisdiction
),
extra AS (SELECT jurisdiction, count(*) AS n_beyond FROM beyond_national_plan GROUP BY jurisdiction),
goals AS (
    SELECT d.jurisdiction, count(*) AS n_targets
    FROM targets t JOIN current_documents d USING (doc_id) GROUP BY d.jurisdiction
),
depts AS (
    SELECT d.jurisdiction, count(DISTINCT x.name) AS n_departments
    FROM departments x JOIN current_documents d USING (doc_id) GROUP BY d.jurisdiction
)
SELECT c.jurisdiction,
       c.issuer_level,
       c.province,
       c.city,
       c.level,
       docs.n_documents,
       docs.documents,
       c.covered,
       c.partial,
       c.absent,
       round(100.0 * c.covered / c.n_measures, 1) AS covered_pct,
       round(100.0 * (c.covered + c.partial) / c.n_measures, 1) AS implemented_pct,
       c.absent AS n_gaps,
       c.gaps,
       coalesce(extra.n_beyond, 0) AS n_beyond,
       coalesce(goals.n_targets, 0) AS n_targets,
       coalesce(depts.n_departments, 0) AS n_departments
FROM cells c
JOIN docs USING (jurisdiction)
LEFT JOIN extra USING (jurisdiction)
LEFT JOIN goals USING (jurisdiction)
LEFT JOIN depts USING (jurisdiction);

COMMENT ON VIEW province_summary IS 'One row per plan holder: coverage of the 65 national measures, its gaps, and what it adds';
COMMENT ON COLUMN province_summary.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN province_summary.issuer_level IS 'kind of issuer: provincial, city, county (local plans), national, ministry, joint or unknown';
COMMENT ON COLUMN province_summary.province IS 'province';
COMMENT ON COLUMN province_summary.city IS 'city, for municipal plans';
COMMENT ON COLUMN province_summary.level IS 'province, city or county (NULL when no place was read)';
COMMENT ON COLUMN province_summary.n_documents IS 'current documents of the holder read without error';
COMMENT ON COLUMN province_summary.documents IS 'their document numbers (or file names), ''; ''-separated';
COMMENT ON COLUMN province_summary.covered IS 'national measures covered by at least one of its documents';
COMMENT ON COLUMN province_summary.partial IS 'measures at best partly covered';
COMMENT ON COLUMN province_summary.absent IS 'measures no document of the holder states';
COMMENT ON COLUMN province_summary.covered_pct IS 'covered / 65, in percent';
COMMENT ON COLUMN province_summary.implemented_pct IS '(covered + partial) / 65, in percent';
COMMENT ON COLUMN province_summary.n_gaps IS 'number of absent measures (the gaps)';
COMMENT ON COLUMN province_summary.gaps IS 'the absent measure ids, in catalogue order, comma-separated';
COMMENT ON COLUMN province_summary.n_beyond IS 'measure clauses beyond the national plan (view beyond_national_plan)';
COMMENT ON COLUMN province_summary.n_targets IS 'quantitative targets stated (view province_targets)';
COMMENT ON COLUMN province_summary.n_departments IS 'distinct departments named as responsible';

CREATE OR REPLACE VIEW measure_summary AS
SELECT m.measure_id,
       m.part,
       m.section_id,
       m.section_title_zh,
       m.title_en,
       m.lead_ministry,
       count(p.jurisdiction) AS n_jurisdictions,
       count(*) FILTER (WHERE p.status = 'covered') AS covered,
       count(*) FILTER (WHERE p.status = 'partial') AS partial,
       count(*) FILTER (WHERE p.status = 'absent') AS absent,
       round(100.0 * count(*) FILTER (WHERE p.status = 'covered') / nullif(count(p.jurisdiction), 0), 1) AS covered_pct,
       round(100.0 * count(*) FILTER (WHERE p.status <> 'absent') / nullif(count(p.jurisdiction), 0), 1) AS implemented_pct,
       string_agg(p.jurisdiction, ', ' ORDER BY p.jurisdiction) FILTER (WHERE p.status <> 'absent') AS implemented_by,
       string_agg(p.jurisdiction, ', ' ORDER BY p.jurisdiction) FILTER (WHERE p.status = 'absent') AS missing_in
FROM national_measures m
LEFT JOIN coverage_by_province p
       ON p.measure_id = m.measure_id AND p.issuer_level IN ('provincial', 'city', 'county')
GROUP BY ALL;

COMMENT ON VIEW measure_summary IS 'One row per national measure: how many local plan holders (provinces, cities, counties) implement it, and which; national, ministry, joint and unknown issuers are left out (see coverage_by_province)';
COMMENT ON COLUMN measure_summary.measure_id IS 'national measure';
COMMENT ON COLUMN measure_summary.part IS 'II (key actions) or III (guarantees and support)';
COMMENT ON COLUMN measure_summary.section_id IS 'national action or support section';
COMMENT ON COLUMN measure_summary.section_title_zh IS 'official Chinese title of the action or section';
COMMENT ON COLUMN measure_summary.title_en IS 'the measure''s title sentence (English translation)';
COMMENT ON COLUMN measure_summary.lead_ministry IS 'the leading national ministry';
COMMENT ON COLUMN measure_summary.n_jurisdictions IS 'local plan holders (issuer_level provincial, city or county) with a matched current document';
COMMENT ON COLUMN measure_summary.covered IS 'holders that cover the measure';
COMMENT ON COLUMN measure_summary.partial IS 'holders that cover it in part';
COMMENT ON COLUMN measure_summary.absent IS 'holders whose documents do not state it';
COMMENT ON COLUMN measure_summary.covered_pct IS 'covered / n_jurisdictions, in percent';
COMMENT ON COLUMN measure_summary.implemented_pct IS '(covered + partial) / n_jurisdictions, in percent';
COMMENT ON COLUMN measure_summary.implemented_by IS 'holders that cover it fully or in part, comma-separated';
COMMENT ON COLUMN measure_summary.missing_in IS 'holders where it is absent, comma-separated';

CREATE OR REPLACE VIEW department_summary AS
WITH named AS (
    SELECT d.jurisdiction, d.issuer_level, d.province, d.city, x.name, x.role, x.clause_id, cd.measure_id
    FROM departments x
    JOIN current_documents d ON d.doc_id = x.doc_id
    LEFT JOIN clause_decisions cd ON cd.clause_id = x.clause_id AND cd.decision = 'measure'
),
implemented AS (
    SELECT jurisdiction, name,
           count(*) AS n_measures,
           string_agg(measure_id, ', ' ORDER BY part, section_no, measure_no) AS measures
    FROM (SELECT DISTINCT n.jurisdiction, n.name, n.measure_id, m.part, m.section_no, m.measure_no
          FROM named n JOIN national_measures m USING (measure_id))
    GROUP BY jurisdiction, name
)
SELECT n.jurisdiction,
       any_value(n.issuer_level) AS issuer_level,
       any_value(n.province) AS province,
       any_value(n.city) AS city,
       n.name AS department,
       count(DISTINCT n.clause_id) AS n_clauses,
       count(DISTINCT n.clause_id) FILTER (WHERE n.role = 'lead') AS n_lead,
       count(DISTINCT n.clause_id) FILTER (WHERE n.role = 'support') AS n_support,
       count(DISTINCT n.clause_id) FILTER (WHERE n.role = 'responsible') AS n_responsible,
       coalesce(any_value(i.n_measures), 0) AS n_measures,
       any_value(i.measures) AS measures
FROM named n
LEFT JOIN implemented i USING (jurisdiction, name)
GROUP BY n.jurisdiction, n.name;

COMMENT ON VIEW department_summary IS 'One row per plan holder x department named as responsible, with the national measures of its clauses';
COMMENT ON COLUMN department_summary.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN department_summary.issuer_level IS 'kind of issuer: provincial, city, county, national, ministry, joint or unknown';
COMMENT ON COLUMN department_summary.province IS 'province';
COMMENT ON COLUMN department_summary.city IS 'city, for municipal plans';
COMMENT ON COLUMN department_summary.department IS 'department as named, e.g. 省发展改革委';
COMMENT ON COLUMN department_summary.n_clauses IS 'clauses that name it';
COMMENT ON COLUMN department_summary.n_lead IS 'of these, clauses where it leads (牵头)';
COMMENT ON COLUMN department_summary.n_support IS 'clauses where it supports (配合)';
COMMENT ON COLUMN department_summary.n_responsible IS 'clauses where it is responsible (负责)';
COMMENT ON COLUMN department_summary.n_measures IS 'distinct national measures those clauses implement';
COMMENT ON COLUMN department_summary.measures IS 'those measure ids, comma-separated';

CREATE OR REPLACE VIEW province_targets AS
SELECT d.jurisdiction,
       d.issuer_level,
       d.province,
       d.city,
       d.doc_id,
       d.doc_number,
       t.indicator,
       t.year,
       t.value,
       t.unit,
       t.text,
       t.clause_id,
       k.page,
       cd.measure_id
FROM targets t
JOIN current_documents d ON d.doc_id = t.doc_id
LEFT JOIN clauses k ON k.clause_id = t.clause_id
LEFT JOIN clause_decisions cd ON cd.clause_id = t.clause_id AND cd.decision = 'measure';

COMMENT ON VIEW province_targets IS 'Quantitative targets of the plans by indicator and year. The national plan sets none to compare them with: its 2018 and 2025 objectives (part I) are qualitative';
COMMENT ON COLUMN province_targets.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN province_targets.issuer_level IS 'kind of issuer: provincial, city, county, national, ministry, joint or unknown';
COMMENT ON COLUMN province_targets.province IS 'province';
COMMENT ON COLUMN province_targets.city IS 'city, for municipal plans';
COMMENT ON COLUMN province_targets.doc_id IS 'document';
COMMENT ON COLUMN province_targets.doc_number IS 'document number';
COMMENT ON COLUMN province_targets.indicator IS 'what is measured, e.g. 固定宽带家庭普及率';
COMMENT ON COLUMN province_targets.year IS 'target year (NULL when the text gives none)';
COMMENT ON COLUMN province_targets.value IS 'target value';
COMMENT ON COLUMN province_targets.unit IS 'unit, e.g. %, 亿元, 个';
COMMENT ON COLUMN province_targets.text IS 'the target as stated';
COMMENT ON COLUMN province_targets.clause_id IS 'clause that states it';
COMMENT ON COLUMN province_targets.page IS 'page the clause starts on';
COMMENT ON COLUMN province_targets.measure_id IS 'national measure the clause implements (NULL for a goal clause or none)';

CREATE OR REPLACE VIEW run_history AS
SELECT r.run_id,
       r.started_at,
       r.finished_at,
       r.status,
       r.code_version,
       r.models,
       r.model_ids,
       TRY_CAST(json_extract_string(r.thresholds, '$.thresholds.covered') AS DOUBLE) AS threshold_covered,
       TRY_CAST(json_extract_string(r.thresholds, '$.thresholds.partial') AS DOUBLE) AS threshold_partial,
       TRY_CAST(json_extract_string(r.thresholds, '$.thresholds.clause') AS DOUBLE) AS threshold_clause,
       json_extract_string(r.thresholds, '$.source') AS calibration_source,
       r.corpus_hash,
       r.n_documents,
       r.n_processed,
       r.n_unchanged,
       r.n_withdrawn,
       r.n_replaced,
       r.n_failed,
       r.n_embedded,
       list_sum(map_values(CAST(r.timings AS JSON)::MAP(VARCHAR, DOUBLE))) AS seconds
FROM runs r;

COMMENT ON VIEW run_history IS 'Every run with its calibration thresholds unpacked: what decided the rows that carry its run_id';
COMMENT ON COLUMN run_history.run_id IS 'run (time-ordered id)';
COMMENT ON COLUMN run_history.started_at IS 'when it started (UTC)';
COMMENT ON COLUMN run_history.finished_at IS 'when it published (UTC)';
COMMENT ON COLUMN run_history.status IS 'ok, or partial when some documents failed';
COMMENT ON COLUMN run_history.code_version IS '<version>+g<git commit>.src<hash of the package source>';
COMMENT ON COLUMN run_history.models IS 'embedding models (comma-separated specs)';
COMMENT ON COLUMN run_history.model_ids IS 'resolved model ids (NULL when the run scored nothing)';
COMMENT ON COLUMN run_history.threshold_covered IS 'fused score from which a document covers a measure';
COMMENT ON COLUMN run_history.threshold_partial IS 'fused score from which it covers it in part';
COMMENT ON COLUMN run_history.threshold_clause IS 'fused score below which a measure clause is beyond the national plan';
COMMENT ON COLUMN run_history.calibration_source IS 'where the calibration came from (file and documents fitted on, or defaults)';
COMMENT ON COLUMN run_history.corpus_hash IS 'hash of the content hashes of all input files';
COMMENT ON COLUMN run_history.n_documents IS 'input files seen';
COMMENT ON COLUMN run_history.n_processed IS 'documents extracted and matched (new or changed)';
COMMENT ON COLUMN run_history.n_unchanged IS 'documents kept as they were';
COMMENT ON COLUMN run_history.n_withdrawn IS 'documents withdrawn (file left the corpus)';
COMMENT ON COLUMN run_history.n_replaced IS 'documents replaced by new content under the same file name';
COMMENT ON COLUMN run_history.n_failed IS 'processed documents whose status is not ok';
COMMENT ON COLUMN run_history.n_embedded IS 'texts newly embedded (cache misses)';
COMMENT ON COLUMN run_history.seconds IS 'total seconds over the recorded stages';

-- Reuse between plans (compare.diffusion; tables clause_reuse, document_similarity,
-- document_localization, measure_homogeneity; docs/diffusion.md). Only current documents.

CREATE OR REPLACE VIEW reuse_links AS
SELECT r.kind,
       r.directed,
       CASE WHEN r.source_doc_id = 'national' THEN '国务院' ELSE s.jurisdiction END AS source_jurisdiction,
       CASE WHEN r.source_doc_id = 'national' THEN '国发〔2015〕40号' ELSE s.file_name END AS source_file,
       s.province AS source_province,
       CASE WHEN r.source_doc_id = 'national' THEN DATE '2015-07-01' ELSE s.issue_date END AS source_issue_date,
       t.jurisdiction AS target_jurisdiction,
       t.file_name AS target_file,
       t.province AS target_province,
       t.issue_date AS target_issue_date,
       coalesce(sc.text, nm.text_zh) AS source_text,
       sc.page AS source_page,
       tc.text AS target_text,
       tc.page AS target_page,
       r.overlap,
       r.shared_chars,
       r.similarity,
       r.wording,
       r.source_doc_id,
       r.source_clause_id,
       r.target_doc_id AS doc_id,
       r.target_clause_id,
       r.run_id
FROM clause_reuse r
JOIN current_documents t ON t.doc_id = r.target_doc_id
JOIN clauses tc ON tc.clause_id = r.target_clause_id
LEFT JOIN current_documents s ON s.doc_id = r.source_doc_id
LEFT JOIN clauses sc ON sc.clause_id = r.source_clause_id
LEFT JOIN national_measures nm ON r.source_clause_id = 'national:' || nm.measure_id
WHERE s.doc_id IS NOT NULL OR r.source_doc_id = 'national';

COMMENT ON VIEW reuse_links IS 'Clause-to-clause reuse between current documents: one row per link, the reused (source) clause beside the reusing (target) one, earlier -> later when the issue dates differ';
COMMENT ON COLUMN reuse_links.kind IS 'verbatim (the source''s words, at most names, levels, departments or figures changed) or paraphrase (the same content in other words, between documents joined by verbatim reuse)';
COMMENT ON COLUMN reuse_links.directed IS 'true when the issue dates differ (source is the earlier document); false when they tie or one is missing (source is then the first by doc_id)';
COMMENT ON COLUMN reuse_links.source_jurisdiction IS 'plan holder of the source document (国务院 for the national text)';
COMMENT ON COLUMN reuse_links.source_file IS 'file of the source document (国发〔2015〕40号 for the national text)';
COMMENT ON COLUMN reuse_links.source_province IS 'province of the source document';
COMMENT ON COLUMN reuse_links.source_issue_date IS 'date of issue of the source document';
COMMENT ON COLUMN reuse_links.target_jurisdiction IS 'plan holder of the reusing document';
COMMENT ON COLUMN reuse_links.target_file IS 'file of the reusing document';
COMMENT ON COLUMN reuse_links.target_province IS 'province of the reusing document';
COMMENT ON COLUMN reuse_links.target_issue_date IS 'date of issue of the reusing document';
COMMENT ON COLUMN reuse_links.source_text IS 'the source clause as printed (original script)';
COMMENT ON COLUMN reuse_links.source_page IS 'page the source clause starts on';
COMMENT ON COLUMN reuse_links.target_text IS 'the reusing clause as printed (original script)';
COMMENT ON COLUMN reuse_links.target_page IS 'page the reusing clause starts on';
COMMENT ON COLUMN reuse_links.overlap IS 'share of the shorter clause''s 4-character shingles found in the other (normalized text without number, departments, punctuation), 0-1';
COMMENT ON COLUMN reuse_links.shared_chars IS 'longest passage the two clauses share, in characters';
COMMENT ON COLUMN reuse_links.similarity IS 'cosine of the two clauses'' vectors (the run''s first encoder)';
COMMENT ON COLUMN reuse_links.wording IS 'share of the shorter clause''s character bigrams found in the other, 0-1';
COMMENT ON COLUMN reuse_links.source_doc_id IS 'source document (documents.doc_id; national for the national text)';
COMMENT ON COLUMN reuse_links.source_clause_id IS 'source clause (clauses.clause_id; national:<measure_id> for the national text)';
COMMENT ON COLUMN reuse_links.doc_id IS 'reusing (target) document';
COMMENT ON COLUMN reuse_links.target_clause_id IS 'reusing clause (clauses.clause_id)';
COMMENT ON COLUMN reuse_links.run_id IS 'run that found the link';

CREATE OR REPLACE VIEW document_reuse AS
SELECT a.jurisdiction,
       a.file_name,
       a.province,
       a.issue_date,
       b.jurisdiction AS other_jurisdiction,
       b.file_name AS other_file,
       b.province AS other_province,
       b.issue_date AS other_issue_date,
       CASE WHEN s.earlier_doc_id IS NULL THEN NULL ELSE s.earlier_doc_id = s.other_doc_id END AS other_is_earlier,
       s.n_clauses,
       s.verbatim_clauses,
       s.paraphrase_clauses,
       s.verbatim_share,
       s.paraphrase_share,
       s.reused_share,
       s.semantic_similarity,
       s.doc_id,
       s.other_doc_id,
       s.run_id
FROM document_similarity s
JOIN current_documents a ON a.doc_id = s.doc_id
JOIN current_documents b ON b.doc_id = s.other_doc_id;

COMMENT ON VIEW document_reuse IS 'For each ordered pair of current documents joined by reuse: how much of the first document''s measure items it shares with the second, by kind';
COMMENT ON COLUMN document_reuse.jurisdiction IS 'plan holder of document A';
COMMENT ON COLUMN document_reuse.file_name IS 'file of document A';
COMMENT ON COLUMN document_reuse.province IS 'province of document A';
COMMENT ON COLUMN document_reuse.issue_date IS 'date of issue of document A';
COMMENT ON COLUMN document_reuse.other_jurisdiction IS 'plan holder of document B';
COMMENT ON COLUMN document_reuse.other_file IS 'file of document B';
COMMENT ON COLUMN document_reuse.other_province IS 'province of document B';
COMMENT ON COLUMN document_reuse.other_issue_date IS 'date of issue of document B';
COMMENT ON COLUMN document_reuse.other_is_earlier IS 'true when B was issued before A (A''s shared items came from B), false when after, NULL when the dates tie or one is missing';
COMMENT ON COLUMN document_reuse.n_clauses IS 'A''s measure items compared for reuse';
COMMENT ON COLUMN document_reuse.verbatim_clauses IS 'A''s items with a verbatim link to B';
COMMENT ON COLUMN document_reuse.paraphrase_clauses IS 'A''s items with a paraphrase link to B and no verbatim one';
COMMENT ON COLUMN document_reuse.verbatim_share IS 'verbatim_clauses / n_clauses';
COMMENT ON COLUMN document_reuse.paraphrase_share IS 'paraphrase_clauses / n_clauses';
COMMENT ON COLUMN document_reuse.reused_share IS 'share of A''s items with any link to B';
COMMENT ON COLUMN document_reuse.semantic_similarity IS 'cosine of the two documents'' mean clause vectors (the run''s first encoder)';
COMMENT ON COLUMN document_reuse.doc_id IS 'document A';
COMMENT ON COLUMN document_reuse.other_doc_id IS 'document B';
COMMENT ON COLUMN document_reuse.run_id IS 'run that computed the row';

CREATE OR REPLACE VIEW localization_by_document AS
SELECT d.jurisdiction,
       d.file_name,
       d.issuer_level,
       d.province,
       d.city,
       d.doc_number,
       d.issue_date,
       l.n_clauses,
       l.original_share,
       l.reused_own_province_share,
       l.reused_other_province_share,
       l.reused_national_share,
       l.beyond_national_plan_share,
       l.national_text,
       d.in_matrix,
       l.doc_id,
       l.run_id
FROM document_localization l
JOIN current_documents d USING (doc_id);

COMMENT ON VIEW localization_by_document IS 'Per current document, how much of it is its own: shares of its measure items that are original or reused from its own province, another province or the national text';
COMMENT ON COLUMN localization_by_document.jurisdiction IS 'plan holder: city for a municipal plan, else province, else the issuing body';
COMMENT ON COLUMN localization_by_document.file_name IS 'file of the document';
COMMENT ON COLUMN localization_by_document.issuer_level IS 'kind of issuer: provincial, city, county, national, ministry, joint or unknown';
COMMENT ON COLUMN localization_by_document.province IS 'province';
COMMENT ON COLUMN localization_by_document.city IS 'city, for municipal plans';
COMMENT ON COLUMN localization_by_document.doc_number IS 'document number';
COMMENT ON COLUMN localization_by_document.issue_date IS 'date of issue';
COMMENT ON COLUMN localization_by_document.n_clauses IS 'measure items compared for reuse';
COMMENT ON COLUMN localization_by_document.original_share IS 'share with no link to an earlier (or same-dated or undated) document nor to the national text';
COMMENT ON COLUMN localization_by_document.reused_own_province_share IS 'share reused from a document of its own province (a city from its province''s plan)';
COMMENT ON COLUMN localization_by_document.reused_other_province_share IS 'share reused from another province''s document';
COMMENT ON COLUMN localization_by_document.reused_national_share IS 'share reused from the national plan''s Chinese text; NULL when not measured (see national_text)';
COMMENT ON COLUMN localization_by_document.beyond_national_plan_share IS 'share matching no national measure (as in beyond_national_plan); cuts across the four shares';
COMMENT ON COLUMN localization_by_document.national_text IS '''measured'', or why reuse of the national text is not measured';
COMMENT ON COLUMN localization_by_document.in_matrix IS 'whether the document is in the coverage matrix (not off_topic, or accepted)';
COMMENT ON COLUMN localization_by_document.doc_id IS 'document';
COMMENT ON COLUMN localization_by_document.run_id IS 'run that computed the row';

CREATE OR REPLACE VIEW homogeneity_by_measure AS
SELECT h.measure_id,
       m.section_title_zh,
       m.title_en,
       rank() OVER (ORDER BY h.homogeneity DESC) AS homogeneity_rank,
       h.homogeneity,
       h.semantic_similarity,
       h.n_documents,
       h.n_provinces,
       h.n_pairs,
       da.jurisdiction AS most_alike_jurisdiction,
       ca.text AS most_alike_text,
       db.jurisdiction AS most_alike_other_jurisdiction,
       cb.text AS most_alike_other_text,
       dc.jurisdiction AS least_alike_jurisdiction,
       cc.text AS least_alike_text,
       dd.jurisdiction AS least_alike_other_jurisdiction,
       cd.text AS least_alike_other_text,
       h.most_alike_clause_id,
       h.most_alike_other_clause_id,
       h.least_alike_clause_id,
       h.least_alike_other_clause_id,
       h.run_id
FROM measure_homogeneity h
LEFT JOIN national_measures m USING (measure_id)
LEFT JOIN clauses ca ON ca.clause_id = h.most_alike_clause_id
LEFT JOIN clauses cb ON cb.clause_id = h.most_alike_other_clause_id
LEFT JOIN clauses cc ON cc.clause_id = h.least_alike_clause_id
LEFT JOIN clauses cd ON cd.clause_id = h.least_alike_other_clause_id
LEFT JOIN current_documents da ON da.doc_id = ca.doc_id
LEFT JOIN current_documents db ON db.doc_id = cb.doc_id
LEFT JOIN current_documents dc ON dc.doc_id = cc.doc_id
LEFT JOIN current_documents dd ON dd.doc_id = cd.doc_id;

COMMENT ON VIEW homogeneity_by_measure IS 'Per national measure, how alike the provinces'' evidence clauses read (同质化), with the most and least alike pair quoted';
COMMENT ON COLUMN homogeneity_by_measure.measure_id IS 'national measure';
COMMENT ON COLUMN homogeneity_by_measure.section_title_zh IS 'official Chinese title of its section';
COMMENT ON COLUMN homogeneity_by_measure.title_en IS 'the measure''s title sentence (English)';
COMMENT ON COLUMN homogeneity_by_measure.homogeneity_rank IS '1 for the measure the provinces state most alike';
COMMENT ON COLUMN homogeneity_by_measure.homogeneity IS 'mean phrase similarity (Dice of 4-character shingles) of evidence clauses from different provinces, 0-1';
COMMENT ON COLUMN homogeneity_by_measure.semantic_similarity IS 'mean cosine of the same pairs (the run''s first encoder)';
COMMENT ON COLUMN homogeneity_by_measure.n_documents IS 'documents with an evidence clause for it (at most 3 per province, the best scored)';
COMMENT ON COLUMN homogeneity_by_measure.n_provinces IS 'provinces among them';
COMMENT ON COLUMN homogeneity_by_measure.n_pairs IS 'pairs of evidence clauses from different provinces';
COMMENT ON COLUMN homogeneity_by_measure.most_alike_jurisdiction IS 'plan holder of one clause of the most alike pair';
COMMENT ON COLUMN homogeneity_by_measure.most_alike_text IS 'that clause as printed';
COMMENT ON COLUMN homogeneity_by_measure.most_alike_other_jurisdiction IS 'plan holder of the other clause of the most alike pair';
COMMENT ON COLUMN homogeneity_by_measure.most_alike_other_text IS 'that clause as printed';
COMMENT ON COLUMN homogeneity_by_measure.least_alike_jurisdiction IS 'plan holder of one clause of the least alike pair';
COMMENT ON COLUMN homogeneity_by_measure.least_alike_text IS 'that clause as printed';
COMMENT ON COLUMN homogeneity_by_measure.least_alike_other_jurisdiction IS 'plan holder of the other clause of the least alike pair';
COMMENT ON COLUMN homogeneity_by_measure.least_alike_other_text IS 'that clause as printed';
COMMENT ON COLUMN homogeneity_by_measure.most_alike_clause_id IS 'clause of the most alike pair (clauses.clause_id)';
COMMENT ON COLUMN homogeneity_by_measure.most_alike_other_clause_id IS 'the other clause of it';
COMMENT ON COLUMN homogeneity_by_measure.least_alike_clause_id IS 'clause of the least alike pair';
COMMENT ON COLUMN homogeneity_by_measure.least_alike_other_clause_id IS 'the other clause of it';
COMMENT ON COLUMN homogeneity_by_measure.run_id IS 'run that computed the row';
