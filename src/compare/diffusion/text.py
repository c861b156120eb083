"""The text a reuse comparison sees, its passages, shingles and MinHash signatures.

A clause is compared on its *reuse text*: the normalized simplified form used for matching
(``compare.ingest.normalize.for_matching``), without its numbering marker (a copied item is often
renumbered), without the closing parenthesis of responsible departments (a city copy names its
own bureaus), and without punctuation and spaces. A *passage* is one sentence of it (split at
。；！？); passages are what the MinHash/LSH index holds, so a sentence copied into a longer
clause is found even when the two clauses as wholes share little.

Signatures are computed here in numpy (one matrix product per document, not one Python call per
shingle) with multiply-shift hashing of 32-bit shingle ids; ``datasketch`` holds them in its
LSH index (``compare.diffusion.index``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import numpy as np

from compare.diffusion.stages import for_matching, marker_of

#: Characters per shingle: four Chinese characters are about two words.
SHINGLE_CHARS = 4
#: A passage shorter than this (in reuse-text characters) is not indexed: item titles such as
#: 推进网上政务服务 recur between independent plans.
MIN_PASSAGE_CHARS = 12
#: Seed of the MinHash permutations: signatures must be comparable across runs and machines.
MINHASH_SEED = 2015
#: datasketch's name for 32-bit hash values made by affine (multiply-shift) hashing.
MINHASH_SCHEME = "affine32"

_DEPARTMENTS = re.compile(
    r"[（(][^（）()]*(?:负责|牵头|配合|参与|责任单位|责任部门)[^（）()]*[)）][。.]?\s*$"
)
_NOT_TEXT = re.compile(r"[\W_]+")
_SENTENCE_END = re.compile(r"[。；！？;!?]")
#: Odd 64-bit multipliers that mix the code points of a shingle into one id.
_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)


def _stripped(text: str) -> str:
    """Normalized text without its opening number marker and closing departments, punctuation kept."""
    norm = for_matching(text)
    marker = marker_of(norm)
    if marker is not None:
        norm = norm[marker.length :]
    previous = None
    while previous != norm:
        previous, norm = norm, _DEPARTMENTS.sub("", norm).rstrip()
    return norm


def reuse_text(text: str) -> str:
    """What reuse detection compares of a clause: normalized, no marker, no departments, no punctuation."""
    return _NOT_TEXT.sub("", _stripped(text))


def passages(text: str, min_chars: int = MIN_PASSAGE_CHARS) -> list[str]:
    """The clause's sentences as reuse text, each at least ``min_chars`` long."""
    parts = (_NOT_TEXT.sub("", p) for p in _SENTENCE_END.split(_stripped(text)))
    return [p for p in parts if len(p) >= min_chars]


def shingles(text: str, size: int = SHINGLE_CHARS) -> set[str]:
    """The character ``size``-grams of ``text`` (the whole text when it is shorter)."""
    if len(text) <= size:
        return {text} if text else set()
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def containment(a: set[str], b: set[str]) -> float:
    """Share of the smaller set found in the other: 1.0 when one text is inside the other."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def longest_run(a: str, b: str) -> int:
    """Length of the longest run of characters the two texts share."""
    if not a or not b:
        return 0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return int(matcher.find_longest_match(0, len(a), 0, len(b)).size)


def dice(a: set[str], b: set[str]) -> float:
    """Dice coefficient of two sets: symmetric, so a short text inside a long one is not alike."""
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def phrase_similarity(a: str, b: str) -> float:
    """Dice of the 4-character shingles: how far two texts use the same phrases."""
    return dice(shingles(a), shingles(b))


def shared_stretch(text: str, theirs: set[str], size: int = SHINGLE_CHARS) -> int:
    """Length of the longest stretch of ``text`` whose every ``size``-gram is among ``theirs``:
    the longest passage of ``text`` found in the other text (as n-gram aligners count it; linear
    in the text, where ``longest_run`` is quadratic)."""
    if len(text) <= size:
        return len(text) if text and text in theirs else 0
    best = count = 0
    for i in range(len(text) - size + 1):
        count = count + 1 if text[i : i + size] in theirs else 0
        best = max(best, count)
    return best + size - 1 if best else 0


def bigram_overlap(a: str, b: str) -> float:
    """Containment of the character bigrams: shared wording, whatever the order."""
    return containment(shingles(a, 2), shingles(b, 2))


class MinHasher:
    """MinHash signatures of many texts at once: ``num_perm`` multiply-shift hash functions."""

    def __init__(self, num_perm: int, seed: int = MINHASH_SEED, size: int = SHINGLE_CHARS) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.size = size
        self._a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
        self._b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)

    def _ids(self, text: str) -> np.ndarray:
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        size = min(self.size, len(points))
        n = len(points) - size + 1
        mixed = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(size):
                mixed ^= points[j : j + n] * _MIX[j % len(_MIX)]
            mixed ^= mixed >> np.uint64(29)
            mixed *= _MIX[0]
        return mixed >> np.uint64(32)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), num_perm)`` uint32 signatures; texts must be non-empty."""
        if not texts:
            return np.zeros((0, self.num_perm), dtype=np.uint32)
        ids = [self._ids(t) for t in texts]
        starts = np.cumsum([0] + [len(i) for i in ids[:-1]])
        flat = np.concatenate(ids)
        with np.errstate(over="ignore"):
            hashed = (flat[:, None] * self._a[None, :] + self._b[None, :]) >> np.uint64(32)
        return np.minimum.reduceat(hashed, starts, axis=0).astype(np.uint32)


def estimated_jaccard(signature: np.ndarray, others: np.ndarray) -> np.ndarray:
    """MinHash estimate of the Jaccard similarity of one signature with each row of ``others``."""
    if len(others) == 0:
        return np.zeros(0)
    return np.asarray((others == signature[None, :]).mean(axis=1))
