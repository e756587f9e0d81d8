"""Vocabulary: a fixed, ordered mapping between tokens and integer ids.

The special tokens come first and their ids never move: ``<pad>`` = 0, ``<unk>`` = 1,
``<bos>`` = 2, ``<eos>`` = 3. A vocabulary may use fewer of them, always a prefix of that
order (``("<pad>", "<unk>")`` for inputs that never need sentence markers, ``()`` for label
vocabularies, which have neither padding nor unknown labels). Ordinary tokens follow by
frequency (descending), ties broken by the token itself, so that the same counts always
give the same ids. Vocabularies are saved as JSON, never pickled.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.fileio import atomic_file, read_json

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
NO_MARKERS: tuple[str, ...] = (PAD, UNK)
LABEL_SPECIALS: tuple[str, ...] = ()

VOCAB_FORMAT = "nlp-rnn-vocab"
VOCAB_VERSION = 1


def _check_specials(specials: Sequence[str]) -> tuple[str, ...]:
    specials = tuple(specials)
    if specials != SPECIALS[: len(specials)]:
        raise NlpRnnError(
            f"specials must be a prefix of {list(SPECIALS)} so that their ids stay fixed, "
            f"got {list(specials)}"
        )
    return specials


def count_tokens(token_lists: Iterable[Iterable[str]]) -> Counter[str]:
    """Count the tokens of an iterable of token lists (streams; never holds them all)."""
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    return counts


class Vocab:
    """Token <-> id mapping with fixed special tokens.

    Attributes: ``itos`` (id -> token), ``stoi`` (token -> id), ``freqs`` (the counts the
    vocabulary was built from, specials excluded), ``specials``, and ``pad_id``, ``unk_id``,
    ``bos_id``, ``eos_id`` (``None`` when the vocabulary has no such special).
    """

    def __init__(
        self,
        tokens: Iterable[str],
        specials: Sequence[str] = SPECIALS,
        freqs: Mapping[str, int] | None = None,
    ) -> None:
        """A vocabulary of ``specials`` followed by ``tokens`` in the given order.

        Most callers want :meth:`build`, which orders tokens by frequency.
        """
        self.specials = _check_specials(specials)
        self.itos: list[str] = list(self.specials)
        self.stoi: dict[str, int] = {token: index for index, token in enumerate(self.itos)}
        for token in tokens:
            if token in self.stoi:
                raise NlpRnnError(f"token {token!r} appears twice in the vocabulary")
            self.stoi[token] = len(self.itos)
            self.itos.append(token)
        self.freqs: Counter[str] = Counter(freqs or {})
        self.pad_id = self.stoi.get(PAD) if PAD in self.specials else None
        self.unk_id = self.stoi.get(UNK) if UNK in self.specials else None
        self.bos_id = self.stoi.get(BOS) if BOS in self.specials else None
        self.eos_id = self.stoi.get(EOS) if EOS in self.specials else None

    @classmethod
    def build(
        cls,
        counts: Mapping[str, int] | Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIALS,
    ) -> Vocab:
        """Build from token counts (a ``Counter``) or from an iterable of token lists.

        Keeps tokens seen at least ``min_freq`` times; ``max_size`` caps the total size,
        specials included, dropping the rarest tokens. Special tokens found in the counts
        are not added twice.
        """
        specials = _check_specials(specials)
        if min_freq < 1:
            raise NlpRnnError(f"min_freq must be at least 1, got {min_freq}")
        if max_size is not None and max_size < len(specials):
            raise NlpRnnError(f"max_size {max_size} leaves no room for the {len(specials)} special tokens")
        if not isinstance(counts, Mapping):
            counts = count_tokens(counts)
        kept = [
            (token, count) for token, count in counts.items() if count >= min_freq and token not in specials
        ]
        kept.sort(key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls([token for token, _ in kept], specials=specials, freqs=dict(kept))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocab)
            and self.itos == other.itos
            and self.specials == other.specials
            and self.freqs == other.freqs
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={list(self.specials)})"

    def encode(self, tokens: Iterable[str], add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of ``tokens``; tokens not in the vocabulary map to ``<unk>``.

        A vocabulary without ``<unk>`` (a label vocabulary) raises :class:`NlpRnnError`
        on an unknown token instead.
        """
        if self.unk_id is not None:
            get, unk = self.stoi.get, self.unk_id
            ids = [get(token, unk) for token in tokens]
        else:
            ids = []
            for token in tokens:
                try:
                    ids.append(self.stoi[token])
                except KeyError:
                    raise NlpRnnError(
                        f"{token!r} is not in the vocabulary (which has no <unk>); "
                        f"known: {', '.join(self.itos[:10])}{' ...' if len(self) > 10 else ''}"
                    ) from None
        if add_bos:
            ids.insert(0, self._special_id(self.bos_id, BOS))
        if add_eos:
            ids.append(self._special_id(self.eos_id, EOS))
        return ids

    def decode(self, ids: Iterable[int], strip_specials: bool = True) -> list[str]:
        """Tokens of ``ids``.

        With ``strip_specials``, ``<pad>``, ``<bos>`` and ``<eos>`` are left out; ``<unk>``
        stays, so that the output keeps one token per input token.
        """
        if hasattr(ids, "tolist"):  # a tensor or array: plain ints index and hash faster
            ids = ids.tolist()
        itos = self.itos
        if not strip_specials:
            return [itos[index] for index in ids]
        markers = {self.pad_id, self.bos_id, self.eos_id}
        return [itos[index] for index in ids if index not in markers]

    def coverage(self, counts: Mapping[str, int] | Iterable[Iterable[str]]) -> dict[str, Any]:
        """How much of a corpus (counts or token lists, e.g. the dev set) the vocabulary covers.

        Returns ``tokens`` and ``types`` counted, how many of them are out of vocabulary
        (``oov_tokens``, ``oov_types``) and the rates ``token_oov_rate``, ``type_oov_rate``.
        """
        if not isinstance(counts, Mapping):
            counts = count_tokens(counts)
        tokens = oov_tokens = oov_types = 0
        for token, count in counts.items():
            tokens += count
            if token not in self.stoi:
                oov_tokens += count
                oov_types += 1
        types = len(counts)
        return {
            "tokens": tokens,
            "types": types,
            "oov_tokens": oov_tokens,
            "oov_types": oov_types,
            "token_oov_rate": oov_tokens / tokens if tokens else 0.0,
            "type_oov_rate": oov_types / types if types else 0.0,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as JSON (atomically); return the path."""
        path = Path(path)
        data = {
            "format": VOCAB_FORMAT,
            "version": VOCAB_VERSION,
            "specials": list(self.specials),
            "itos": self.itos,
            # Aligned with itos (0 for specials): compact and keeps the order visible.
            "freqs": [self.freqs.get(token, 0) for token in self.itos],
        }
        with atomic_file(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=0)
            handle.write("\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary saved by :meth:`save`, checking it; problems raise InputError."""
        path = Path(path)
        if not path.is_file():
            raise InputError("vocabulary file not found", path)
        data = read_json(path)
        if not isinstance(data, dict) or data.get("format") != VOCAB_FORMAT:
            raise InputError(f'not a vocabulary file (expected "format": "{VOCAB_FORMAT}")', path)
        if data.get("version") != VOCAB_VERSION:
            raise InputError(
                f"unsupported vocabulary version {data.get('version')!r} "
                f"(this nlp-rnn reads version {VOCAB_VERSION})",
                path,
            )
        specials, itos, freqs = data.get("specials"), data.get("itos"), data.get("freqs")
        if not _is_str_list(specials) or tuple(specials) != SPECIALS[: len(specials)]:
            raise InputError(f'"specials" must be a prefix of {list(SPECIALS)}', path)
        if not _is_str_list(itos):
            raise InputError('"itos" must be a list of strings', path)
        if itos[: len(specials)] != specials:
            raise InputError(f'"itos" must start with the specials {specials}', path)
        if (
            not isinstance(freqs, list)
            or len(freqs) != len(itos)
            or not all(type(count) is int and count >= 0 for count in freqs)
        ):
            raise InputError(
                f'"freqs" must be a list of {len(itos)} non-negative integers, one per token',
                path,
            )
        ordinary = itos[len(specials) :]
        seen: set[str] = set(specials)
        for index, token in enumerate(ordinary, start=len(specials)):
            if token in seen:
                raise InputError(f"token {token!r} appears twice (again at id {index})", path)
            seen.add(token)
        counts = {token: count for token, count in zip(ordinary, freqs[len(specials) :], strict=True)}
        return cls(ordinary, specials=specials, freqs=counts)

    def _special_id(self, index: int | None, name: str) -> int:
        if index is None:
            raise NlpRnnError(f"this vocabulary has no {name} token")
        return index


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
