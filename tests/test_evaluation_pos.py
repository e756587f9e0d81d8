"""POS evaluation of a predicted CoNLL-U file against the gold one."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_rnn.errors import InputError
from nlp_rnn.evaluation.pos import pos_report, read_aligned, write_pos_report

GOLD = """# sent_id = a
1\tThe\t_\tDET\tDT\t_\t_\t_\t_\t_
2\tdog\t_\tNOUN\tNN\t_\t_\t_\t_\t_
3\tbarks\t_\tVERB\tVBZ\t_\t_\t_\t_\t_

# sent_id = b
1-2\tcannot\t_\t_\t_\t_\t_\t_\t_\t_
1\tcan\t_\tAUX\tMD\t_\t_\t_\t_\t_
2\tnot\t_\tPART\tRB\t_\t_\t_\t_\t_
3\tzorble\t_\tX\tFW\t_\t_\t_\t_\t_

"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def predicted(text: str, replacements: dict[tuple[str, str], tuple[str, str]]) -> str:
    lines = []
    for line in text.split("\n"):
        fields = line.split("\t")
        if len(fields) == 10 and (fields[0], fields[1]) in replacements:
            fields[3], fields[4] = replacements[fields[0], fields[1]]
        lines.append("\t".join(fields))
    return "\n".join(lines)


def test_accuracies_unseen_words_and_per_tag_scores(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.conllu", GOLD)
    # "barks" wrong in both tag sets; "zorble" has a gold tag (X) the model never predicts.
    pred = write(
        tmp_path / "pred.conllu",
        predicted(GOLD, {("3", "barks"): ("NOUN", "NNS"), ("3", "zorble"): ("NOUN", "NN")}),
    )
    report = pos_report(read_aligned(gold, pred), training_words=["The", "dog", "can", "not"])
    assert report.words == 6 and report.sentences == 2
    assert report.upos_accuracy == pytest.approx(4 / 6)
    assert report.xpos_accuracy == pytest.approx(4 / 6)
    assert report.unseen_words == 2 and report.unseen_upos_accuracy == 0.0
    assert report.upos.per_class["X"].recall == 0.0 and report.upos.per_class["X"].support == 1
    assert report.upos.per_class["NOUN"].precision == pytest.approx(1 / 3)
    assert "UPOS accuracy: 66.67" in report.summary()
    folder = write_pos_report(tmp_path / "eval", report)
    assert (folder / "report.json").is_file() and (folder / "confusion_upos.png").stat().st_size > 1000


def test_without_training_words_there_is_no_unseen_score(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.conllu", GOLD)
    report = pos_report(read_aligned(gold, gold))
    assert report.upos_accuracy == 1.0 and report.unseen_words is None
    assert "unseen_words" not in report.metrics()


def test_different_words_are_an_error_naming_both_files(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.conllu", GOLD)
    pred = write(tmp_path / "pred.conllu", GOLD.replace("\tbarks\t", "\tbark\t"))
    with pytest.raises(
        InputError, match=r"pred.conllu:1: sentence 1 has words 'bark' at word 3 \(gold 'barks'\)"
    ):
        read_aligned(gold, pred)


def test_missing_and_extra_sentences_are_errors(tmp_path: Path) -> None:
    gold = write(tmp_path / "gold.conllu", GOLD)
    first = GOLD.split("\n\n")[0] + "\n\n"
    short = write(tmp_path / "short.conllu", first)
    with pytest.raises(InputError, match="gold.conllu:6: the predictions end after 1 sentences"):
        read_aligned(gold, short)
    with pytest.raises(InputError, match="more sentences than the gold file"):
        read_aligned(short, gold)


def test_without_xpos_only_upos_is_scored(tmp_path: Path) -> None:
    no_xpos = "\n".join(
        "\t".join(f if i != 4 else "_" for i, f in enumerate(line.split("\t"))) for line in GOLD.split("\n")
    )
    gold = write(tmp_path / "gold.conllu", no_xpos)
    report = pos_report(read_aligned(gold, gold))
    assert report.xpos_accuracy is None and report.xpos is None
