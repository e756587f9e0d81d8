"""``nlp-rnn tag`` and ``nlp-rnn evaluate pos`` through the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from nlp_rnn.cli import main

DEMO = Path(__file__).resolve().parent.parent / "corpora" / "demo"


def invoke(*args: str):
    return CliRunner().invoke(main, ["-q", *args])


def test_tag_then_evaluate(tiny_tagger: Path, tmp_path: Path) -> None:
    gold = DEMO / "tagged.dev.conllu"
    pred = tmp_path / "pred.conllu"
    result = invoke("tag", "--model", str(tiny_tagger), "--input", str(gold), "--output", str(pred))
    assert result.exit_code == 0, result.output
    result = invoke("evaluate", "pos", "--gold", str(gold), "--pred", str(pred), "--model", str(tiny_tagger))
    assert result.exit_code == 0, result.output
    assert "UPOS accuracy:" in result.output and "XPOS accuracy:" in result.output
    assert "words unseen in training:" in result.output and "NOUN" in result.output
    assert (tmp_path / "pred.conllu.eval" / "confusion_upos.png").is_file()
    result = invoke(
        "evaluate",
        "pos",
        "--gold",
        str(gold),
        "--pred",
        str(pred),
        "--train",
        str(DEMO / "tagged.train.conllu"),
    )
    assert result.exit_code == 0 and "words unseen in training:" in result.output


def test_raw_text_to_word_tag_lines(tiny_tagger: Path, tmp_path: Path) -> None:
    source = tmp_path / "raw.txt"
    source.write_text("I book a table.\n", encoding="utf-8")
    target = tmp_path / "out.txt"
    result = invoke(
        "tag", "--model", str(tiny_tagger), "--input", str(source), "--output", str(target),
        "--format", "text", "--output-format", "tags",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith("I/")


def test_malformed_conllu_is_a_located_error_and_writes_nothing(
    tiny_tagger: Path, fixtures_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out.conllu"
    result = invoke(
        "tag",
        "--model",
        str(tiny_tagger),
        "--input",
        str(fixtures_dir / "bad_columns.conllu"),
        "--output",
        str(target),
    )
    assert result.exit_code != 0
    assert "bad_columns.conllu:" in result.output and "columns" in result.output
    assert "Traceback" not in result.output and not target.exists()


def test_user_mistakes_are_one_line_errors(tiny_tagger: Path, tmp_path: Path) -> None:
    gold = DEMO / "tagged.dev.conllu"
    result = invoke("tag", "--model", str(tmp_path), "--input", str(gold), "--output", str(tmp_path / "x"))
    assert result.exit_code != 0 and "no config.json" in result.output
    result = invoke("tag", "--model", str(tiny_tagger), "--input", str(gold), "--output", str(gold))
    assert result.exit_code != 0 and "overwrite the input" in result.output
    result = invoke(
        "tag", "--model", str(tiny_tagger), "--input", str(gold), "--output", str(tmp_path / "x"),
        "--output-format", "tags",
    )  # fmt: skip
    assert result.exit_code != 0 and "--format text" in result.output
    result = invoke("evaluate", "pos", "--gold", str(gold), "--pred", str(DEMO / "tagged.train.conllu"))
    assert result.exit_code != 0 and "gold tokenization" in result.output


def test_a_classifier_folder_is_not_a_tagger(tmp_path: Path) -> None:
    folder = tmp_path / "clf"
    folder.mkdir()
    (folder / "config.json").write_text('{"task": "classification", "format_version": 99}', encoding="utf-8")
    source = tmp_path / "in.conllu"
    source.write_text("1\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    result = invoke("tag", "--model", str(folder), "--input", str(source), "--output", str(tmp_path / "o"))
    assert result.exit_code != 0 and "a classification model, not a tagger" in result.output
