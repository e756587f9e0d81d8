"""sacreBLEU scores of files, their signatures, and the errors on mismatched files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import sacrebleu
from click.testing import CliRunner

from nlp_rnn.cli import main
from nlp_rnn.errors import InputError, NlpRnnError
from nlp_rnn.evaluation.bleu import score_files, translation_scores

REFS = ["A man is riding a horse on the beach.", "Two dogs play in the snow.", "A child eats an apple."]
HYPS = ["A man rides a horse on the beach.", "Two dogs are playing in snow.", "A child eats an apple."]


def test_scores_equal_sacrebleu_and_carry_signatures() -> None:
    scores = translation_scores(HYPS, [REFS])
    assert scores.bleu == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert scores.chrf == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score)
    assert scores.ter == pytest.approx(sacrebleu.corpus_ter(HYPS, [REFS]).score)
    assert "tok:13a" in scores.bleu_signature and "nrefs:1" in scores.bleu_signature
    assert translation_scores(REFS, [REFS]).bleu == pytest.approx(100.0)
    assert "BLEU = " in scores.summary() and scores.sentences == 3


def test_two_references_and_lowercase() -> None:
    scores = translation_scores([h.lower() for h in HYPS], [REFS, HYPS], lowercase=True)
    assert "nrefs:2" in scores.bleu_signature and "case:lc" in scores.bleu_signature
    assert scores.bleu == pytest.approx(100.0)


def test_files_gzip_and_mismatched_lengths(tmp_path: Path) -> None:
    ref = tmp_path / "ref.en.gz"
    with gzip.open(ref, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(REFS) + "\n")
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    assert score_files(hyp, [ref]).bleu == pytest.approx(translation_scores(HYPS, [REFS]).bleu)
    short = tmp_path / "short.txt"
    short.write_text(HYPS[0] + "\n", encoding="utf-8")
    with pytest.raises(NlpRnnError, match=r"short.txt has 1 lines but .*ref.en.gz has 3"):
        score_files(short, [ref])
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"bad.txt:2:1: cannot decode byte 0xff"):
        score_files(bad, [ref])


def test_subword_output_is_flagged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("\u2581A \u2581man\n\u2581Two\n\u2581A\n", encoding="utf-8")
    ref = tmp_path / "ref.txt"
    ref.write_text("\n".join(REFS) + "\n", encoding="utf-8")
    score_files(hyp, [ref])
    assert "subword marks" in caplog.text


def test_evaluate_bleu_command(tmp_path: Path) -> None:
    ref, hyp, out = tmp_path / "ref.txt", tmp_path / "hyp.txt", tmp_path / "scores.json"
    ref.write_text("\n".join(REFS) + "\n", encoding="utf-8")
    hyp.write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["evaluate", "bleu", "--ref", str(ref), "--hyp", str(hyp), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "BLEU = " in result.output and "chrF2 = " in result.output and "TER = " in result.output
    assert "signature: nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" in result.output
    assert json.loads(out.read_text())["bleu"] == pytest.approx(translation_scores(HYPS, [REFS]).bleu)
    missing = CliRunner().invoke(
        main, ["evaluate", "bleu", "--ref", str(ref), "--hyp", str(tmp_path / "no.txt")]
    )
    assert missing.exit_code != 0
