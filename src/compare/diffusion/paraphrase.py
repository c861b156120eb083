"""When a pair of clauses is a paraphrase: a logistic rule fitted on labelled pairs, per encoder.

Cosines of one encoder sit in a band of their own (multilingual-e5 puts unrelated Chinese
clauses near 0.8 and two provinces' restatements of the same national measure near 0.9), so no
raw cosine constant can say "paraphrase". Two signals of a candidate pair are used instead:

- ``similarity``: the cosine of the two clause vectors the run already has (its encoder);
- ``wording``: the share of the shorter clause's character bigrams found in the other
  (``compare.diffusion.text.bigram_overlap``): a rewording of a given text keeps its names,
  figures and many of its words, an independent restatement of the same measure keeps few.

``fit`` learns ``P(paraphrase) = logistic(intercept + w_sim * z(similarity) + w_word * wording)``
from labelled pairs (positives: the labelled paraphrases; negatives: every other candidate pair
the index proposes), where ``z`` standardizes the cosine by the mean and spread of the
candidate pairs' cosines under that encoder. A pair is a paraphrase when P >= 0.5. The fitted
rule is stored per encoder (``model_id``) in ``paraphrase.json`` beside this module; an encoder
without one gets no paraphrase links (the result says so), never a guessed threshold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from compare.errors import SettingsError

CALIBRATION_FILE = Path(__file__).with_name("paraphrase.json")
#: Probability at or above which a candidate pair is a paraphrase.
DECISION_PROBABILITY = 0.5
#: Inverse strength of the logistic fit's L2 penalty (sklearn's C): mild, the features are two.
FIT_C = 1.0


@dataclass(frozen=True)
class ParaphraseRule:
    """A fitted paraphrase rule for one encoder."""

    model_id: str
    intercept: float
    w_similarity: float
    w_wording: float
    similarity_mean: float
    similarity_std: float
    #: How it was fitted: labelled positives, negatives, and the corpus.
    positives: int = 0
    negatives: int = 0
    fitted_on: str = ""

    def probability(self, similarity: float, wording: float) -> float:
        z = (similarity - self.similarity_mean) / self.similarity_std
        logit = self.intercept + self.w_similarity * z + self.w_wording * wording
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))

    def is_paraphrase(self, similarity: float, wording: float) -> bool:
        return self.probability(similarity, wording) >= DECISION_PROBABILITY

    def similarity_threshold(self, wording: float) -> float:
        """The cosine at which a pair of this wording overlap becomes a paraphrase."""
        if self.w_similarity <= 0:
            return math.inf
        z = -(self.intercept + self.w_wording * wording) / self.w_similarity
        return self.similarity_mean + z * self.similarity_std


def fit(
    model_id: str,
    similarity: Sequence[float],
    wording: Sequence[float],
    labels: Sequence[bool],
    fitted_on: str = "",
) -> ParaphraseRule:
    """The logistic rule separating labelled paraphrases (True) from other candidate pairs."""
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(labels, dtype=bool)
    if y.sum() < 2 or (~y).sum() < 2:
        raise SettingsError(
            f"cannot fit a paraphrase rule for {model_id}: {int(y.sum())} labelled paraphrases and "
            f"{int((~y).sum())} other pairs; label at least two of each (<stem>.reuse.tsv)"
        )
    sim = np.asarray(similarity, dtype=float)
    mean, std = float(sim.mean()), float(sim.std()) or 1.0
    x = np.column_stack([(sim - mean) / std, np.asarray(wording, dtype=float)])
    model = LogisticRegression(C=FIT_C, class_weight="balanced").fit(x, y)
    return ParaphraseRule(
        model_id=model_id,
        intercept=float(model.intercept_[0]),
        w_similarity=float(model.coef_[0][0]),
        w_wording=float(model.coef_[0][1]),
        similarity_mean=mean,
        similarity_std=std,
        positives=int(y.sum()),
        negatives=int((~y).sum()),
        fitted_on=fitted_on,
    )


def load_rules(path: Path = CALIBRATION_FILE) -> dict[str, ParaphraseRule]:
    """Model id -> its fitted rule (empty when the file is missing)."""
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        return {r["model_id"]: ParaphraseRule(**r) for r in records}
    except (ValueError, TypeError, KeyError) as exc:
        raise SettingsError(
            f"{path}: not a paraphrase calibration ({exc}); refit it with compare.diffusion.evaluate"
        ) from exc


def rule_for(model_id: str, path: Path = CALIBRATION_FILE) -> ParaphraseRule | None:
    """The stored rule of an encoder, or None when it has none."""
    return load_rules(path).get(model_id)


def save_rule(rule: ParaphraseRule, path: Path = CALIBRATION_FILE) -> None:
    """Store ``rule``, replacing the encoder's earlier one."""
    rules = load_rules(path)
    rules[rule.model_id] = rule
    records = [asdict(r) for _, r in sorted(rules.items())]
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
