"""Translation metrics with sacreBLEU: BLEU, chrF and TER on detokenized text, with signatures.

Scores are computed on raw (detokenized) hypothesis and reference lines; sacreBLEU applies its
own tokenization (``13a`` by default, the WMT standard) so that numbers are comparable across
papers and toolkits. Each score comes with its sacreBLEU signature (``nrefs:1|case:mixed|eff:no|
tok:13a|smooth:exp|version:2.6.0``), which says exactly how it was computed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.fileio import iter_lines

log = logging.getLogger(__name__)

SUBWORD_MARKS = ("\u2581", "@@ ")  # SentencePiece's word-start mark, subword-nmt's continuation


@dataclass(frozen=True)
class TranslationScores:
    """Corpus-level scores of one hypothesis file against its reference file(s)."""

    bleu: float
    chrf: float
    ter: float
    bleu_signature: str
    chrf_signature: str
    ter_signature: str
    precisions: list[float]  # BLEU's 1- to 4-gram precisions
    brevity_penalty: float
    hypothesis_length: int  # tokens, after sacreBLEU's tokenizer
    reference_length: int
    sentences: int

    def summary(self) -> str:
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return "\n".join(
            [
                f"BLEU = {self.bleu:.2f} {precisions} (BP = {self.brevity_penalty:.3f} "
                f"ratio = {self.hypothesis_length / max(self.reference_length, 1):.3f} "
                f"hyp_len = {self.hypothesis_length} ref_len = {self.reference_length})",
                f"  signature: {self.bleu_signature}",
                f"chrF2 = {self.chrf:.2f}",
                f"  signature: {self.chrf_signature}",
                f"TER = {self.ter:.2f}",
                f"  signature: {self.ter_signature}",
                f"{self.sentences} sentences",
            ]
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def translation_scores(
    hypotheses: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    tokenize: str = "13a",
    lowercase: bool = False,
) -> TranslationScores:
    """BLEU, chrF and TER of ``hypotheses`` against one or more reference streams (each a list with
    one line per hypothesis)."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    if not references:
        raise NlpRnnError("give at least one reference")
    for k, stream in enumerate(references):
        if len(stream) != len(hypotheses):
            raise NlpRnnError(f"reference {k + 1} has {len(stream)} lines for {len(hypotheses)} hypotheses")
    if not hypotheses:
        raise NlpRnnError("no sentences to score")
    bleu_metric = BLEU(tokenize=tokenize, lowercase=lowercase)
    chrf_metric = CHRF(lowercase=lowercase)
    ter_metric = TER(case_sensitive=not lowercase)
    hyps, refs = list(hypotheses), [list(stream) for stream in references]
    bleu = bleu_metric.corpus_score(hyps, refs)
    chrf = chrf_metric.corpus_score(hyps, refs)
    ter = ter_metric.corpus_score(hyps, refs)
    return TranslationScores(
        bleu=float(bleu.score),
        chrf=float(chrf.score),
        ter=float(ter.score),
        bleu_signature=str(bleu_metric.get_signature()),
        chrf_signature=str(chrf_metric.get_signature()),
        ter_signature=str(ter_metric.get_signature()),
        precisions=[float(p) for p in bleu.precisions],
        brevity_penalty=float(bleu.bp),
        hypothesis_length=int(bleu.sys_len),
        reference_length=int(bleu.ref_len),
        sentences=len(hyps),
    )


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """The lines of a text file (``.gz`` too) without their line ends; an undecodable byte is an
    error naming its line and column."""
    return [line for _, line in iter_lines(path)]


def score_files(
    hypothesis: str | os.PathLike[str],
    references: Sequence[str | os.PathLike[str]],
    *,
    tokenize: str = "13a",
    lowercase: bool = False,
) -> TranslationScores:
    """:func:`translation_scores` of two or more files, line by line; files of different lengths
    are an error naming both and their line counts."""
    hyps = read_lines(hypothesis)
    refs = []
    for path in references:
        lines = read_lines(path)
        if len(lines) != len(hyps):
            raise NlpRnnError(
                f"{hypothesis} has {len(hyps)} lines but {path} has {len(lines)}; "
                "line i of the hypotheses must translate line i of the references"
            )
        refs.append(lines)
    marked = sum(any(mark in line for mark in SUBWORD_MARKS) for line in hyps)
    if marked:
        log.warning(
            "%s: %d line(s) hold subword marks (%s); BLEU is meant for detokenized text: "
            "decode the subwords first",
            hypothesis, marked, " or ".join(repr(m) for m in SUBWORD_MARKS),
        )  # fmt: skip
    return translation_scores(hyps, refs, tokenize=tokenize, lowercase=lowercase)
