"""Bidirectional language modelling as a task: chunks, perplexity, the model folder."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from nlp_rnn.api import load_model
from nlp_rnn.errors import NlpRnnError
from nlp_rnn.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig
from nlp_rnn.tasks.bidirectional_lm import (
    BidirectionalLMPredictor,
    chunks,
    encode_chunks,
    evaluate_perplexity,
)
from nlp_rnn.tasks.classification import collate
from nlp_rnn.text.tokenizers import RegexTokenizer
from nlp_rnn.text.vocab import NO_MARKERS, Vocab

pytestmark = pytest.mark.usefixtures("one_thread")
VOCAB = Vocab(["the", "film", "is", "good", "bad", "."], specials=NO_MARKERS)


def predictor() -> BidirectionalLMPredictor:
    torch.manual_seed(0)
    config = BidirectionalLMConfig(hidden_size=4, output_words=6, cutoffs=[3], div_value=2.0)
    model = BidirectionalLM(torch.nn.Embedding(len(VOCAB), 3, padding_idx=0), len(VOCAB), 1, config)
    return BidirectionalLMPredictor(model, RegexTokenizer(lowercase=True), VOCAB, chunk_length=3)


def test_chunks_cut_texts_and_drop_single_tokens() -> None:
    texts = [list("abcdefg"), list("x"), list("hi")]
    assert ["".join(c) for c in chunks(texts, 3)] == ["abc", "def", "hi"]  # "g" and "x" predict nothing
    encoded = encode_chunks([["the", "film", "is", "great"]], VOCAB, 2)
    assert encoded.lengths == [2, 2] and encoded.ids.tolist() == [2, 3, 4, 1]  # great -> <unk>
    with pytest.raises(ValueError, match="at least 2"):
        list(chunks(texts, 1))


def test_perplexity_is_the_exponential_of_the_mean_nll_of_both_directions() -> None:
    lm = predictor()
    encoded = encode_chunks([["the", "film", "is", "good"], ["bad", "."]], VOCAB, 3)
    batch = collate([encoded[i] for i in range(len(encoded))])
    with torch.no_grad():
        output = lm.model(batch)
        metrics = evaluate_perplexity(lm.model, [batch])
    forward, backward = output["nll"].tolist()
    assert metrics["tokens"] == 3  # the film is | good (dropped) | bad .
    assert metrics["ppl"] == pytest.approx(math.exp((forward + backward) / 6))
    assert metrics["ppl_forward"] == pytest.approx(math.exp(forward / 3))
    assert metrics["ppl_backward"] == pytest.approx(math.exp(backward / 3))
    with pytest.raises(NlpRnnError, match="nothing to evaluate"):
        evaluate_perplexity(lm.model, [])


def test_the_model_folder_round_trips(tmp_path: Path) -> None:
    lm = predictor()
    texts = ["The film is good.", "The film is bad ."]
    expected = lm.perplexity(texts)
    lm.save(tmp_path / "bilm", metrics={"dev.ppl": 1.0})
    loaded = load_model(tmp_path / "bilm")
    assert isinstance(loaded, BidirectionalLMPredictor) and loaded.chunk_length == 3
    assert loaded.perplexity(texts) == pytest.approx(expected)
    with pytest.raises(TypeError, match="list of texts"):
        loaded.perplexity("The film")  # type: ignore[arg-type]
    (tmp_path / "bilm" / "model.safetensors").unlink()
    with pytest.raises(NlpRnnError, match="lacks model.safetensors"):
        BidirectionalLMPredictor.load(tmp_path / "bilm")
