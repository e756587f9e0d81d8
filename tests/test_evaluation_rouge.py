"""ROUGE with bootstrap intervals: known values, stemming, the interval brackets the score and
narrows with more pairs, reproducible from a seed, the first-k baseline, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_rnn.cli import main
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.evaluation.rouge import lead, pair_scores, rouge


def test_known_scores() -> None:
    # 3 of 4 hypothesis unigrams in the 5-word reference: P = 3/4, R = 3/5, F1 = 2/3.
    table = pair_scores(["police arrest man today"], ["police arrest suspected man monday"])
    assert table[0, 0] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    # bigrams: "police arrest" only: P = 1/3, R = 1/4.
    assert table[0, 1] == pytest.approx(2 * (1 / 3) * 0.25 / (1 / 3 + 0.25))


def test_stemming_is_on_and_identical_text_scores_100() -> None:
    report = rouge(["stocks closed lower"], ["stock closes lower"], samples=0)
    assert report.scores["rouge1"].f1 == 100.0  # stock/stocks, closes/closed share stems
    assert report.scores["rouge1"].low == report.scores["rouge1"].high == 100.0


def test_interval_brackets_the_score_narrows_with_more_pairs_and_is_seeded() -> None:
    refs = [f"word{i % 7} and word{i % 3} went up" for i in range(200)]
    hyps = [f"word{i % 5} went up sharply" for i in range(200)]
    small = rouge(hyps[:20], refs[:20], samples=500, seed=1)
    large = rouge(hyps, refs, samples=500, seed=1)
    for report in (small, large):
        for score in report.scores.values():
            assert score.low <= score.f1 <= score.high

    def width(report):  # -> float
        return report.scores["rouge1"].high - report.scores["rouge1"].low

    assert width(large) < width(small)
    assert rouge(hyps, refs, samples=500, seed=1) == large
    assert rouge(hyps, refs, samples=500, seed=2).scores["rouge1"].low != large.scores["rouge1"].low


def test_lead_baseline_and_bad_input() -> None:
    assert lead(["a b c d", "x"], 2) == ["a b", "x"]
    with pytest.raises(NlpRnnError, match="2 hypotheses for 1 references"):
        rouge(["a", "b"], ["a"])
    with pytest.raises(NlpRnnError, match="confidence"):
        rouge(["a"], ["a"], confidence=1.5)


def test_evaluate_rouge_command(tmp_path: Path) -> None:
    ref, hyp, out = tmp_path / "ref.txt", tmp_path / "hyp.txt", tmp_path / "scores.json"
    ref.write_text("police arrest man\nstocks fall\n", encoding="utf-8")
    hyp.write_text("police arrest a man\nstocks rise\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["evaluate", "rouge", "--ref", str(ref), "--hyp", str(hyp), "--bootstrap", "100", "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "ROUGE-1 F1" in result.output and "ROUGE-L F1" in result.output
    scores = json.loads(out.read_text())
    assert scores["pairs"] == 2 and scores["rouge1_low"] <= scores["rouge1"] <= scores["rouge1_high"]
    hyp.write_text("police arrest a man\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", "rouge", "--ref", str(ref), "--hyp", str(hyp)])
    assert result.exit_code != 0
    assert f"{hyp} has 1 lines but {ref} has 2" in result.output
