"""CoNLL-U parsing and writing, without any dependency on ``datasets``.

A sentence is parsed into a plain dict with the columns ``sent_id``, ``text``, ``tokens``,
``upos``, ``xpos`` and ``conllu``. ``tokens``/``upos``/``xpos`` hold the syntactic words only
(integer IDs); multiword-token lines (``3-4``) and empty nodes (``8.1``) stay out of them but
are kept, with every comment, in ``conllu``: the sentence's lines exactly as read, each ending
in ``\\n``, without the blank separator line. :func:`write_conllu` writes those blocks back with
only the UPOS and XPOS columns replaced, so unchanged tags give back the original bytes
(LF line endings and single blank separator lines, as the CoNLL-U format requires).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from nlp_rnn.errors import InputError
from nlp_rnn.fileio import atomic_file, iter_lines

COLUMN_NAMES = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
UPOS_COLUMN = 3  # zero-based positions of the columns that predictions replace
XPOS_COLUMN = 4

_WORD_ID = re.compile(r"[1-9][0-9]*")
_MULTIWORD_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
_EMPTY_NODE_ID = re.compile(r"[0-9]+\.[1-9][0-9]*")

OnInvalid = Callable[[InputError], None]


def _raise(error: InputError) -> None:
    raise error


def iter_sentences(
    path: str | os.PathLike[str],
    encoding: str = "utf-8",
    on_invalid: OnInvalid = _raise,
) -> Iterator[dict]:
    """Yield the sentences of a CoNLL-U file as dicts (see the module docstring).

    A sentence that breaks the format is passed, as an :class:`InputError` locating the first
    problem, to ``on_invalid``; the default raises it, a caller that skips invalid records counts
    it and returns. The last sentence is read even when the file lacks the final blank line.
    """
    for _, sentence in iter_numbered_sentences(path, encoding, on_invalid):
        yield sentence


def iter_numbered_sentences(
    path: str | os.PathLike[str],
    encoding: str = "utf-8",
    on_invalid: OnInvalid = _raise,
) -> Iterator[tuple[int, dict]]:
    """Like :func:`iter_sentences`, with the line number where each sentence starts."""
    block: list[tuple[int, str]] = []
    for number, line in iter_lines(path, encoding):
        if line:
            block.append((number, line))
            continue
        if block:
            yield from _parse_or_report(block, path, on_invalid)
            block = []
    if block:
        yield from _parse_or_report(block, path, on_invalid)


def _parse_or_report(
    block: list[tuple[int, str]], path: str | os.PathLike[str], on_invalid: OnInvalid
) -> Iterator[tuple[int, dict]]:
    try:
        sentence = parse_sentence(block, path)
    except InputError as error:
        on_invalid(error)
        return
    yield block[0][0], sentence


def parse_sentence(block: Sequence[tuple[int, str]], path: str | os.PathLike[str]) -> dict:
    """Parse one sentence given as ``(line_number, line)`` pairs; raise :class:`InputError`."""
    comments: dict[str, str] = {}
    tokens: list[str] = []
    upos: list[str] = []
    xpos: list[str] = []
    surface: list[tuple[str, str]] = []  # (form, MISC) of what the raw text is made of
    multiword_end = 0
    for number, line in block:
        if line.startswith("#"):
            key, sep, value = line[1:].partition("=")
            if sep:
                comments.setdefault(key.strip(), value.strip())
            continue
        fields = _split_fields(line, path, number)
        token_id = fields[0]
        if _WORD_ID.fullmatch(token_id):
            expected = len(tokens) + 1
            if int(token_id) != expected:
                raise InputError(f"expected word ID {expected}, found {token_id}", path, number, 1)
            tokens.append(fields[1])
            upos.append(fields[UPOS_COLUMN])
            xpos.append(fields[XPOS_COLUMN])
            if int(token_id) > multiword_end:
                surface.append((fields[1], fields[9]))
        elif match := _MULTIWORD_ID.fullmatch(token_id):
            multiword_end = int(match.group(2))
            surface.append((fields[1], fields[9]))
        elif not _EMPTY_NODE_ID.fullmatch(token_id):
            raise InputError(
                f"ID {token_id!r} is not an integer, a range (3-4) or a decimal (8.1)",
                path,
                number,
                1,
            )
    first_line = block[0][0]
    if not tokens:
        raise InputError("sentence has no word lines", path, first_line)
    sent_id = comments.get("sent_id") or f"{os.path.basename(path)}:{first_line}"
    text = comments["text"] if "text" in comments else _surface_text(surface)
    conllu = "".join(line + "\n" for _, line in block)
    return {
        "sent_id": sent_id,
        "text": text,
        "tokens": tokens,
        "upos": upos,
        "xpos": xpos,
        "conllu": conllu,
    }


def _split_fields(line: str, path: str | os.PathLike[str], number: int) -> list[str]:
    """Split a token line into its 10 columns, or raise an error pointing at the problem."""
    fields = line.split("\t")
    if len(fields) != len(COLUMN_NAMES):
        if len(fields) == 1 and " " in line:
            raise InputError(
                "expected 10 tab-separated columns, found spaces instead of tabs",
                path,
                number,
                line.index(" ") + 1,
            )
        if len(fields) > len(COLUMN_NAMES):
            # point at the first character of the 11th column
            column = sum(len(field) + 1 for field in fields[: len(COLUMN_NAMES)]) + 1
        else:
            column = len(line) + 1
        raise InputError(f"expected 10 tab-separated columns, found {len(fields)}", path, number, column)
    column = 1
    for name, field in zip(COLUMN_NAMES, fields, strict=True):
        if not field:
            raise InputError(f"column {name} is empty (use _ for no value)", path, number, column)
        column += len(field) + 1
    return fields


def _surface_text(surface: Iterable[tuple[str, str]]) -> str:
    """Rebuild the sentence text from surface forms and ``SpaceAfter=No`` when ``# text`` is missing."""
    parts: list[str] = []
    for form, misc in surface:
        parts.append(form)
        if "SpaceAfter=No" not in misc.split("|"):
            parts.append(" ")
    return "".join(parts).rstrip(" ")


def replace_tags(conllu: str, upos: Sequence[str] | None, xpos: Sequence[str] | None) -> str:
    """Return a sentence block with the UPOS/XPOS of its word lines replaced.

    ``None`` keeps that column as it is. Multiword-token lines, empty nodes, comments and every
    other column are returned unchanged.
    """
    lines = conllu.split("\n")  # not splitlines(): it would also split on \x85, \u2028...
    word_lines = [i for i, line in enumerate(lines) if _is_word_line(line)]
    for name, tags in (("UPOS", upos), ("XPOS", xpos)):
        if tags is not None and len(tags) != len(word_lines):
            raise ValueError(f"{len(tags)} {name} tags given for a sentence of {len(word_lines)} words")
    for position, index in enumerate(word_lines):
        fields = lines[index].split("\t")
        if upos is not None:
            fields[UPOS_COLUMN] = _checked_tag(upos[position])
        if xpos is not None:
            fields[XPOS_COLUMN] = _checked_tag(xpos[position])
        lines[index] = "\t".join(fields)
    return "\n".join(lines)


def _is_word_line(line: str) -> bool:
    token_id, tab, _ = line.partition("\t")
    return bool(tab) and _WORD_ID.fullmatch(token_id) is not None


def _checked_tag(tag: str) -> str:
    if not tag or any(char in tag for char in "\t\n\r"):
        raise ValueError(f"invalid tag {tag!r}: tags must be non-empty and free of tabs and newlines")
    return tag


def write_conllu(
    rows: Iterable[Mapping],
    path: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
) -> int:
    """Write sentences back as CoNLL-U; return the number of sentences written.

    Each row needs the ``conllu`` block produced by the reader; ``upos`` and ``xpos`` (if
    present and not ``None``) replace columns 4 and 5 of its word lines, for example with a
    tagger's predictions. Rows straight from the reader reproduce the input file byte for byte.
    The file is written atomically.
    """
    count = 0
    with atomic_file(path, "w", encoding=encoding, newline="") as handle:
        for row in rows:
            block = replace_tags(row["conllu"], row.get("upos"), row.get("xpos"))
            handle.write(block if block.endswith("\n") else block + "\n")
            handle.write("\n")
            count += 1
    return count
