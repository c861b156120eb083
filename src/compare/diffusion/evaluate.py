"""How well reuse is found: precision and recall by kind, direction, and the homogeneity ranking.

``evaluate_corpus(corpus)`` is the whole evaluation in one call (what ``compare evaluate`` will
report): it parses every PDF of the folder with compare's parser, takes the clause vectors from
the run's encoder and embedding cache, builds a reuse index over the documents in file-name
order, and scores its links against the ``<stem>.reuse.tsv`` labels; the homogeneity index is
computed on the gold evidence (the clauses ``<stem>.labels.tsv`` gives each measure) and its
ranking compared with ``homogeneity.tsv``.

``fit_paraphrase_rule(corpus)`` fits the paraphrase rule on the same labels (every candidate pair
of an anchored block that is not labelled a paraphrase is a negative) and reports its
leave-one-pair-out figures: each candidate pair decided by a rule fitted without it.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compare.diffusion.documents import reusable, reuse_documents
from compare.diffusion.index import (
    KINDS,
    PARAPHRASE,
    VERBATIM,
    Candidate,
    ReuseIndex,
    ReuseLink,
    ReuseSettings,
)
from compare.diffusion.labels import (
    HOMOGENEITY_FILE,
    HomogeneityLabel,
    ReuseLabel,
    locate,
    read_homogeneity_labels,
    read_reuse_labels,
    reuse_label_files,
)
from compare.diffusion.measures import homogeneity
from compare.diffusion.paraphrase import ParaphraseRule, fit, rule_for
from compare.diffusion.stages import EmbeddingCache, Encoder, ParsedDocument, load_encoder, parse_document
from compare.errors import LabelError

LABELS_SUFFIX = ".labels.tsv"


@dataclass(frozen=True)
class KindFigures:
    """Precision and recall of one kind of link against the labels."""

    kind: str
    labelled: int
    found: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0


@dataclass(frozen=True)
class HomogeneityFigures:
    """The computed ranking of the labelled measures against the labelled one."""

    labelled: tuple[str, ...]
    computed: tuple[str, ...]
    scores: dict[str, float]
    #: Share of labelled pairs of measures that the index orders as the labels do.
    pair_agreement: float
    spearman: float


@dataclass
class ReuseEvaluation:
    figures: dict[str, KindFigures]
    #: Labelled pairs found whose documents' dates differ, and how many point the labelled way.
    direction_checked: int
    direction_correct: int
    national_text: str
    homogeneity: HomogeneityFigures | None = None
    missed: list[str] = field(default_factory=list)
    spurious: list[str] = field(default_factory=list)

    def markdown(self, corpus: Path) -> str:
        """The figures as a markdown section (what ``compare evaluate`` writes after the matching's)."""
        rows = [
            f"| {kind} | {f.labelled} | {f.predicted} | {f.precision:.3f} | {f.recall:.3f} |"
            for kind, f in ((k, self.figures[k]) for k in KINDS)
        ]
        out = [
            f"## Reuse between plans ({corpus})",
            "",
            "| kind | labelled pairs | links found | precision | recall |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"- direction: {self.direction_correct}/{self.direction_checked} labelled pairs with different dates point earlier -> later",
            f"- national text: {self.national_text}",
        ]
        if self.homogeneity is not None:
            h = self.homogeneity
            out += [
                f"- homogeneity ranking of the labelled measures: labelled {', '.join(h.labelled)}; "
                f"computed {', '.join(h.computed)}; pair agreement {h.pair_agreement:.3f}, Spearman {h.spearman:.3f}",
            ]
        return "\n".join(out) + "\n"

    def lines(self) -> list[str]:
        out = []
        for kind in KINDS:
            f = self.figures[kind]
            out.append(
                f"{kind}: precision {f.precision:.3f} ({f.correct}/{f.predicted} links), "
                f"recall {f.recall:.3f} ({f.found}/{f.labelled} labelled pairs)"
            )
        out.append(
            f"direction: {self.direction_correct}/{self.direction_checked} labelled pairs with different dates point earlier -> later"
        )
        out.append(f"national text: {self.national_text}")
        if self.homogeneity is not None:
            h = self.homogeneity
            out.append(
                f"homogeneity: labelled order {', '.join(h.labelled)}; computed {', '.join(h.computed)}; "
                f"pair agreement {h.pair_agreement:.3f}, Spearman {h.spearman:.3f}"
            )
        return out


def _label_pairs(
    labels: Sequence[ReuseLabel], docs: Mapping[str, ParsedDocument]
) -> list[tuple[ReuseLabel, set[frozenset[str]]]]:
    located = []
    for label in labels:
        for stem in (label.stem, label.source_stem):
            if stem not in docs:
                raise LabelError(
                    f"{label.stem}.reuse.tsv row {label.row}: no document {stem}.pdf in the corpus"
                )
        mine = locate(label.clause_text, docs[label.stem].clauses)
        theirs = locate(label.source_text, docs[label.source_stem].clauses)
        if not mine or not theirs:
            which = "clause_text" if not mine else "source_text"
            raise LabelError(
                f"{label.stem}.reuse.tsv row {label.row}: its {which} is no clause of the document; copy the item's line exactly"
            )
        located.append((label, {frozenset((a, b)) for a in mine for b in theirs}))
    return located


def reuse_figures(
    links: Sequence[ReuseLink], labels: Sequence[ReuseLabel], docs: Mapping[str, ParsedDocument]
) -> ReuseEvaluation:
    """Precision and recall by kind, and direction, of ``links`` against ``labels``."""
    located = _label_pairs(labels, docs)
    stem_of = {d.doc_id: stem for stem, d in docs.items()}
    predicted: dict[str, dict[frozenset[str], ReuseLink]] = {k: {} for k in KINDS}
    for link in links:
        predicted[link.kind][frozenset((link.source_clause_id, link.target_clause_id))] = link
    figures, missed, spurious = {}, [], []
    checked = correct = 0
    for kind in KINDS:
        gold = [(label, pairs) for label, pairs in located if label.kind == kind]
        gold_pairs = set().union(*(pairs for _, pairs in gold)) if gold else set()
        found = 0
        for label, pairs in gold:
            hits = [predicted[kind][p] for p in pairs if p in predicted[kind]]
            if hits:
                found += 1
            else:
                missed.append(f"{kind}: {label.stem} row {label.row} {label.clause_text[:24]}…")
        n_correct = sum(1 for p in predicted[kind] if p in gold_pairs)
        spurious += [
            f"{kind}: {stem_of.get(link.source_doc_id)} {link.source_clause_id} ~ {stem_of.get(link.target_doc_id)} {link.target_clause_id}"
            for p, link in predicted[kind].items() if p not in gold_pairs
        ]  # fmt: skip
        figures[kind] = KindFigures(kind, len(gold), found, len(predicted[kind]), n_correct)
    for label, pairs in located:
        a, b = docs[label.stem].meta.issue_date, docs[label.source_stem].meta.issue_date
        if not a or not b or a == b:
            continue
        hits = [predicted[k][p] for k in KINDS for p in pairs if p in predicted[k]]
        if not hits:
            continue
        checked += 1
        label_source = docs[label.source_stem].doc_id if b < a else docs[label.stem].doc_id
        correct += all(h.directed and h.source_doc_id == label_source for h in hits)
    return ReuseEvaluation(figures, checked, correct, "", missed=missed, spurious=spurious)


def corpus_documents(corpus: Path) -> dict[str, ParsedDocument]:
    """Every PDF of ``corpus`` parsed, by file stem (unreadable ones left out)."""
    docs = {}
    for pdf in sorted(corpus.glob("*.pdf")):
        parsed = parse_document(pdf)
        if parsed.ok:
            docs[pdf.stem] = parsed
    return docs


def default_encoder() -> tuple[Encoder, EmbeddingCache]:
    """The run's first encoder and its embedding cache (settings from defaults and COMPARE_*)."""
    from compare.settings import Settings

    settings = Settings()
    encoder = load_encoder(settings.models[0], settings.cache_dir, e5_backend=settings.e5_backend)
    return encoder, EmbeddingCache.open(settings.cache_dir, encoder.model_id, encoder.dim)


def build_index(
    docs: Mapping[str, ParsedDocument],
    encoder: Encoder,
    cache: EmbeddingCache,
    rule: ParaphraseRule | None,
    settings: ReuseSettings | None = None,
    log: bool = False,
) -> ReuseIndex:
    """A reuse index over ``docs`` in stem order."""
    index = ReuseIndex(encoder.dim, settings, rule)
    if log:
        index.candidate_log = []
    index.add_all(reuse_documents([docs[s] for s in sorted(docs)], encoder, cache))
    return index


def gold_evidence(corpus: Path, docs: Mapping[str, ParsedDocument]) -> dict[str, dict[str, str]]:
    """Measure id -> {doc id: the first clause its labels give that measure}, from ``<stem>.labels.tsv``."""
    evidence: dict[str, dict[str, str]] = {}
    for stem, doc in sorted(docs.items()):
        path = corpus / f"{stem}{LABELS_SUFFIX}"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                ids = [m.strip() for m in row["measure_ids"].split(",") if m.strip() and m.strip() != "none"]
                found = locate(row["item_text"], reusable(doc))
                for measure in ids:
                    if found:
                        evidence.setdefault(measure, {}).setdefault(doc.doc_id, found[0])
    return evidence


def homogeneity_figures(
    labels: Sequence[HomogeneityLabel], scores: Mapping[str, float]
) -> HomogeneityFigures:
    """The computed order of the labelled measures against theirs (rank 1 most homogeneous)."""
    missing = [label.measure_id for label in labels if label.measure_id not in scores]
    if missing:
        raise LabelError(
            f"{HOMOGENEITY_FILE}: no homogeneity index for {', '.join(missing)} (evidence from fewer than two provinces)"
        )
    wanted = [label.measure_id for label in labels]
    computed = sorted(wanted, key=lambda m: -scores[m])
    pairs = list(itertools.combinations(wanted, 2))  # first of each pair ranks higher in the labels
    agree = sum(1 for a, b in pairs if scores[a] > scores[b])
    ranks_l = np.arange(len(wanted))
    ranks_c = np.array([computed.index(m) for m in wanted])
    spearman = float(np.corrcoef(ranks_l, ranks_c)[0, 1]) if len(wanted) > 1 else 1.0
    return HomogeneityFigures(
        tuple(wanted),
        tuple(computed),
        {m: scores[m] for m in wanted},
        agree / len(pairs) if pairs else 1.0,
        spearman,
    )


def evaluate_corpus(
    corpus: Path,
    encoder: Encoder | None = None,
    cache: EmbeddingCache | None = None,
    rule: ParaphraseRule | None = None,
    settings: ReuseSettings | None = None,
    docs: Mapping[str, ParsedDocument] | None = None,
) -> ReuseEvaluation:
    """Reuse precision/recall by kind, direction and the homogeneity ranking on a labelled corpus."""
    from compare.diffusion.documents import national_status
    from compare.diffusion.stages import load_catalogue

    if encoder is None or cache is None:
        encoder, cache = default_encoder()
    rule = rule if rule is not None else rule_for(encoder.model_id)
    docs = docs if docs is not None else corpus_documents(corpus)
    labels = [label for path in reuse_label_files(corpus) for label in read_reuse_labels(path)]
    if not labels:
        raise LabelError(f"{corpus}: no reuse labels (<stem>.reuse.tsv); nothing to evaluate")
    index = build_index(docs, encoder, cache, rule, settings)
    result = reuse_figures(index.links, labels, docs)
    try:
        from compare.settings import Settings

        result.national_text = national_status(load_catalogue(Settings().catalogue))
    except Exception as exc:  # the figures stand without it; say why it is unknown
        result.national_text = f"not measured: the catalogue could not be read ({exc})"
    if rule is None:
        result.national_text += f"; paraphrase not measured: no fitted rule for {encoder.model_id}"
    homogeneity_path = corpus / HOMOGENEITY_FILE
    if homogeneity_path.is_file():
        evidence = gold_evidence(corpus, docs)
        provinces = {d.doc_id: d.meta.province for d in docs.values()}
        texts = {c.clause_id: c.text for d in docs.values() for c in d.clauses}
        rows = homogeneity(evidence, provinces, texts)
        result.homogeneity = homogeneity_figures(
            read_homogeneity_labels(homogeneity_path), {r.measure_id: r.homogeneity for r in rows}
        )
    return result


@dataclass(frozen=True)
class RuleFit:
    rule: ParaphraseRule
    #: Leave-one-pair-out: each candidate decided by a rule fitted without it.
    loo_true_positives: int
    loo_false_positives: int
    loo_false_negatives: int


def fit_paraphrase_rule(
    corpus: Path,
    encoder: Encoder | None = None,
    cache: EmbeddingCache | None = None,
    settings: ReuseSettings | None = None,
    docs: Mapping[str, ParsedDocument] | None = None,
) -> RuleFit:
    """The paraphrase rule of ``encoder`` fitted on the corpus's labels, with leave-one-out figures."""
    if encoder is None or cache is None:
        encoder, cache = default_encoder()
    docs = docs if docs is not None else corpus_documents(corpus)
    labels = [label for path in reuse_label_files(corpus) for label in read_reuse_labels(path)]
    index = build_index(docs, encoder, cache, None, settings, log=True)
    located = _label_pairs(labels, docs)
    paraphrases = set().union(*(pairs for label, pairs in located if label.kind == PARAPHRASE))
    verbatim = set().union(*(pairs for label, pairs in located if label.kind == VERBATIM))
    seen: dict[frozenset[str], Candidate] = {}
    for c in index.candidate_log or []:
        pair = frozenset((c.clause_id, c.other_clause_id))
        if c.stage == PARAPHRASE and pair not in verbatim:
            seen[pair] = c
    pairs = sorted(seen, key=sorted)
    sim = [seen[p].similarity for p in pairs]
    wording = [seen[p].wording for p in pairs]
    y = [p in paraphrases for p in pairs]
    rule = fit(encoder.model_id, sim, wording, y, fitted_on=str(corpus))
    tp = fp = fn = 0
    for i in range(len(pairs)):
        keep = [j for j in range(len(pairs)) if j != i]
        held = fit(encoder.model_id, [sim[j] for j in keep], [wording[j] for j in keep], [y[j] for j in keep])
        decided = held.is_paraphrase(sim[i], wording[i])
        tp += decided and y[i]
        fp += decided and not y[i]
        fn += (not decided) and y[i]
    return RuleFit(rule, tp, fp, fn)


def labelled_folders(folders: Sequence[Path]) -> list[Path]:
    """The folders among ``folders`` that hold reuse labels (``<stem>.reuse.tsv``)."""
    return [folder for folder in folders if folder.is_dir() and reuse_label_files(folder)]
