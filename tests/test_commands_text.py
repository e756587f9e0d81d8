"""Tests for the ``tokenize`` and ``vocab`` click commands (nlp_rnn.commands.text)."""

from __future__ import annotations

import gzip

import click
import pytest
from click.testing import CliRunner

from nlp_rnn.commands.text import tokenize, vocab
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.text.tokenizers import RegexTokenizer
from nlp_rnn.text.vocab import Vocab


class _Group(click.Group):
    """Like the real CLI group: user errors become one ``error:`` line and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NlpRnnError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


@pytest.fixture
def cli() -> click.Group:
    group = _Group(name="nlp-rnn")
    group.add_command(tokenize)
    group.add_command(vocab)
    return group


def _run(cli, args, input=None):
    return CliRunner().invoke(cli, args, input=input, catch_exceptions=False)


def test_tokenize_file_to_file(cli, tmp_path) -> None:
    source = tmp_path / "in.txt.gz"
    source.write_bytes(gzip.compress(b"Hello, World!\n\nI don't know.\n"))
    out = tmp_path / "out" / "tokens.txt"
    result = _run(cli, ["tokenize", "--input", str(source), "--output", str(out), "--lowercase"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == "hello , world !\n\ni do n't know .\n"


def test_tokenize_stdin_to_stdout_with_kinds(cli) -> None:
    result = _run(cli, ["tokenize", "--tokenizer", "whitespace"], input="a  b\nc\n")
    assert result.output == "a b\nc\n"
    result = _run(cli, ["tokenize", "--tokenizer", "spacy"], input="It's U.S. policy.")
    assert result.output == "It 's U.S. policy .\n"
    result = _run(cli, ["tokenize", "--tokenizer", "spacy", "--lang", "fr"], input="L'homme")
    assert result.output == "L' homme\n"
    result = _run(cli, ["tokenize", "--lang", "fr"], input="L'homme")
    assert result.exit_code == 1 and "--lang applies to --tokenizer spacy only" in result.output


def test_tokenize_with_a_saved_tokenizer_and_encoding(cli, tmp_path) -> None:
    RegexTokenizer(pattern=r"\w+", lowercase=True).save(tmp_path / "tok")
    source = tmp_path / "latin1.txt"
    source.write_bytes("Café, OK\n".encode("latin-1"))
    args = ["tokenize", "--tokenizer", str(tmp_path / "tok"), "--input", str(source), "--encoding", "latin-1"]
    assert _run(cli, args).output == "café ok\n"


def test_tokenize_skips_wiki_markup(cli) -> None:
    result = _run(cli, ["tokenize", "--skip-wiki-markup"], input='<doc id="1">\nA b.\n</doc>\n')
    assert result.output == "A b .\n"


def test_tokenize_errors_leave_no_output(cli, tmp_path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("previous\n")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\n" * 2000 + b"caf\xe9\n")
    result = _run(cli, ["tokenize", "--input", str(bad), "--output", str(out)])
    assert result.exit_code == 1
    assert "bad.txt:2001:4: cannot decode byte 0xe9 as utf-8" in result.output
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "out.txt"]

    result = _run(cli, ["tokenize", "--input", str(tmp_path / "missing.txt"), "--output", str(out)])
    assert result.exit_code == 1 and "missing.txt: file not found" in result.output
    result = _run(cli, ["tokenize", "--tokenizer", "sentencepiece"], input="x\n")
    assert result.exit_code == 1 and "needs a trained model" in result.output
    result = _run(cli, ["tokenize"], input=b"caf\xe9\n")
    assert result.exit_code == 1 and "<stdin>:1:4: cannot decode byte 0xe9" in result.output


def test_vocab_build_with_dev_report(cli, tmp_path) -> None:
    train = tmp_path / "train.txt"
    train.write_text("the cat sat\nthe dog sat\nthe end\n", encoding="utf-8")
    dev = tmp_path / "dev.txt"
    dev.write_text("the cat flew\n", encoding="utf-8")
    out = tmp_path / "vocab.json"
    args = ["vocab", "build", "--input", str(train), "--input", str(train), "--output", str(out)]
    result = _run(cli, [*args, "--min-freq", "4", "--dev", str(dev), "--num-proc", "2"])
    assert result.exit_code == 0, result.output
    built = Vocab.load(out)
    assert built.itos == ["<pad>", "<unk>", "<bos>", "<eos>", "the", "sat"]
    assert built.freqs["the"] == 6
    assert "vocabulary: 6 entries (4 special)" in result.output
    assert "dev: 3 tokens, 3 types; OOV tokens 66.67% (2), OOV types 66.67% (2)" in result.output


def test_vocab_build_options_and_errors(cli, tmp_path) -> None:
    train = tmp_path / "train.txt"
    train.write_text("A b c\nA b\nA\n", encoding="utf-8")
    out = tmp_path / "vocab.json"
    args = ["vocab", "build", "--input", str(train), "--output", str(out), "--lowercase"]
    result = _run(cli, [*args, "--tokenizer", "char", "--max-size", "4", "--no-markers"])
    assert result.exit_code == 0, result.output
    assert Vocab.load(out).itos == ["<pad>", "<unk>", " ", "a"]  # a tie: by token
    result = _run(cli, [*args, "--max-size", "2"])
    assert result.exit_code == 1 and "no room" in result.output
    result = _run(cli, ["vocab", "build", "--input", str(tmp_path / "nope.txt"), "--output", str(out)])
    assert result.exit_code == 1 and "file not found" in result.output
