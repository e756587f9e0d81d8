"""The summarization task: extended ids for copying, pairs streamed to memory-mapped files, the
collated batch, evaluation, and the predictor (save/load, empty and over-long articles)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models.low_precision import int8_available
from nlp_rnn.models.pointer_generator import PointerGeneratorConfig
from nlp_rnn.tasks.summarization import (
    UNK_ID,
    Collate,
    DecodingOptions,
    SummarizationPredictor,
    TextSettings,
    build_model,
    build_vocab,
    encode_pairs,
    evaluate_batches,
    extended_ids,
    target_ids,
)
from nlp_rnn.text.tokenizers import build_tokenizer

needs_int8 = pytest.mark.skipif(not int8_available(), reason="needs PyTorch's x86 quantized engine")

ARTICLES = ["police arrest zorba in athens on monday", "stocks fall ## percent in tokyo", "rain in athens"]
TITLES = ["police arrest zorba", "tokyo stocks fall", "athens rain"]


def text() -> TextSettings:
    return TextSettings(build_tokenizer("whitespace"), digits_to_hash=True)


def small_vocab():
    return build_vocab(ARTICLES, TITLES, text(), max_size=10)  # 4 specials + the 6 most frequent words


def test_digits_become_hashes_and_vocab_is_shared() -> None:
    assert text().words("up 3.5 percent in 2008") == ["up", "#.#", "percent", "in", "####"]
    vocab = small_vocab()
    assert vocab.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and len(vocab) == 10
    assert "athens" in vocab and "in" in vocab  # frequent in articles and headlines


def test_extended_and_target_ids() -> None:
    vocab = small_vocab()
    words = ["zorba", "in", "crete", "zorba", "athens"]
    ids, oov = extended_ids(words, vocab)
    size = len(vocab)
    assert [w for w in ("zorba", "crete") if w in vocab] == []  # both rare: outside the vocabulary
    assert oov == ["zorba", "crete"]
    assert ids == [size, vocab.stoi["in"], size + 1, size, vocab.stoi["athens"]]
    assert target_ids(["zorba", "visits", "athens"], vocab, oov) == [size, UNK_ID, vocab.stoi["athens"]]


def test_encode_pairs_streams_to_memory_mapped_files(tmp_path: Path) -> None:
    vocab = small_vocab()
    pairs = encode_pairs(
        ARTICLES + ["", "a b c"], TITLES + ["empty article", "x " * 40], vocab, text(),
        folder=tmp_path, max_source_length=4, max_target_length=30,
    )  # fmt: skip
    assert len(pairs) == 3 and pairs.empty == 1 and pairs.too_long == 1
    assert (
        isinstance(pairs.source_ids, np.memmap)
        and (tmp_path / "source.int32").stat().st_size == 4 * 4 * 3 - 4 * 1
    )
    source, target = pairs[0]
    assert len(source) == 4  # cut to max_source_length
    assert target.tolist()[2] == len(vocab)  # "zorba": the copy id of the article's first new word
    with pytest.raises(NlpRnnError, match="pair 3: the headlines ran out first"):
        encode_pairs(ARTICLES, TITLES[:2], vocab, text())


def test_collate_gives_plain_inputs_and_extended_targets() -> None:
    vocab = small_vocab()
    pairs = encode_pairs(ARTICLES, TITLES, vocab, text())
    batch = Collate(len(vocab))([pairs[0], pairs[2]])
    assert batch["src"].shape == batch["src_ext"].shape == (2, 7)
    assert int(batch["src_ext"].max()) >= len(vocab) and int(batch["src"].max()) < len(vocab)
    assert batch["tgt_in"][0, 0] == 2 and batch["tgt_out"][0, 3] == 3  # BOS in, EOS out
    assert int(batch["tgt_out"].max()) >= len(vocab) > int(batch["tgt_in"].max())
    assert batch["src_lengths"].tolist() == [7, 3]


def tiny_predictor(seed: int = 0) -> SummarizationPredictor:
    torch.manual_seed(seed)
    config = PointerGeneratorConfig(
        embedding_dim=8, cell="gru", encoder_hidden=8, encoder_layers=1, decoder_hidden=16,
        decoder_layers=1, input_feeding=False,
    )  # fmt: skip
    vocab = small_vocab()
    return SummarizationPredictor(build_model(config, vocab), vocab, text(), max_source_length=5)


def test_evaluate_batches_reports_perplexity() -> None:
    predictor = tiny_predictor()
    pairs = encode_pairs(ARTICLES, TITLES, predictor.vocab, text())
    scores = evaluate_batches(
        predictor.model.eval(), [Collate(len(predictor.vocab))([pairs[i] for i in range(3)])]
    )
    assert scores["ppl"] == pytest.approx(np.exp(scores["nll"]))
    assert scores["nll"] > 0


def test_predictor_round_trip_and_awkward_articles(tmp_path: Path) -> None:
    predictor = tiny_predictor()
    options = DecodingOptions(beam_size=3, max_length=4)
    articles = ["police arrest zorba in athens", "", "rain " * 500]
    before = predictor.summarize(articles, options)
    assert before[1].text == "" and len(before[0].words) <= 4 and len(before[2].words) <= 4
    predictor.save(tmp_path / "model")
    loaded = SummarizationPredictor.load(tmp_path / "model")
    assert [s.text for s in loaded.summarize(articles, options)] == [s.text for s in before]
    assert loaded.max_source_length == 5 and loaded.text.digits_to_hash
    # Copy ids decode to the article's own words.
    for summary in before:
        assert all(word in predictor.vocab or word in articles[0].split() for word in summary.words)
    with pytest.raises(NlpRnnError, match="min_length <= max_length"):
        predictor.summarize(articles, DecodingOptions(min_length=5, max_length=2))


def test_summarize_file_keeps_lines(tmp_path: Path) -> None:
    predictor = tiny_predictor()
    source, target = tmp_path / "articles.txt", tmp_path / "out.txt"
    source.write_text("police arrest zorba\n\nrain in athens\n", encoding="utf-8")
    assert predictor.summarize_file(source, target, DecodingOptions(beam_size=1, max_length=3), chunk=2) == (
        3,
        1,
        0,
    )
    lines = target.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""


@pytest.mark.parametrize("precision", ["bf16", pytest.param("int8", marks=needs_int8)])
def test_low_precision_summaries_stay_close_to_fp32(precision: str) -> None:
    predictor = tiny_predictor()
    articles = [*ARTICLES, "police in tokyo on monday", "zorba"]
    fp32 = predictor.summarize(articles, DecodingOptions(beam_size=3, max_length=4))
    options = DecodingOptions(beam_size=3, max_length=4, precision=precision)
    low = predictor.summarize(articles, options)
    assert predictor.search_model(precision) is predictor.search_model(precision)  # made once
    assert predictor.search_model() is predictor.model
    same = [(a.score, b.score) for a, b in zip(fp32, low, strict=True) if a.words == b.words]
    assert len(same) >= len(articles) - 1  # rounding may flip a close call
    assert all(abs(a - b) < 0.05 for a, b in same)
    if precision == "int8":  # per-row quantization: an article's summary does not depend on its batch
        alone = [predictor.summarize([article], options)[0].words for article in articles]
        assert [summary.words for summary in low] == alone
    with pytest.raises(NlpRnnError, match="precision must be one of"):
        predictor.summarize(articles, DecodingOptions(precision="fp16"))
