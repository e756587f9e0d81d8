"""Greedy and beam search: results independent of the batch, beam 1 = greedy, beam never below
greedy, n-best lists, per-sentence length caps, attention matrices, and a model that learns to copy."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

from nlp_rnn.models.search import (
    Constraints,
    _repeated_ngrams,
    beam_search,
    gnmt_length_penalty,
    greedy_search,
    max_output_lengths,
)
from nlp_rnn.models.seq2seq import Seq2Seq, Seq2SeqConfig
from nlp_rnn.tasks import WEIGHTS_FILE, load_weights_file, save_weights

PAD, BOS, EOS = 0, 2, 3
VOCAB = 12  # ids 4.. are ordinary tokens
LENGTHS = [9, 2, 5, 1, 7]
VARIANTS = [
    ("gru", "general", False),
    ("lstm", "bahdanau", False),
    ("lstm", "dot", True),
    ("gru", "concat", True),
]
VARIANT_IDS = ["gru-general", "lstm-bahdanau", "lstm-dot-feed", "gru-concat-feed"]


def untrained_model(seed: int = 0) -> Seq2Seq:
    """A small untrained model in eval mode."""
    torch.manual_seed(seed)
    config = Seq2SeqConfig(
        embedding_dim=8,
        cell="gru",
        encoder_hidden=6,
        encoder_layers=1,
        decoder_hidden=12,
        decoder_layers=1,
        attention="general",
    )
    model = Seq2Seq(config, source_vocab_size=VOCAB, target_vocab_size=VOCAB, bos_id=BOS, eos_id=EOS)
    return model.eval()


def never_stopping_model() -> Seq2Seq:
    """An untrained model that never chooses EOS of its own accord, so it runs to the length cap."""
    model = untrained_model()
    with torch.no_grad():
        model.generator.bias[EOS] = -1e4
    return model


@functools.cache
def briefly_trained(cell: str, attention: str, input_feeding: bool, seed: int) -> Seq2Seq:
    """A small model after 20 steps of the copy task, in eval mode: unlike an untrained one, its
    outputs depend on the input and end at varied lengths, but they are not yet right. Shared
    between tests (cached by the exact arguments): do not change it."""
    torch.manual_seed(seed)
    config = Seq2SeqConfig(
        embedding_dim=8,
        cell=cell,
        encoder_hidden=6,
        encoder_layers=1,
        decoder_hidden=12,
        decoder_layers=2,
        attention=attention,
        input_feeding=input_feeding,
    )
    model = Seq2Seq(config, source_vocab_size=VOCAB, target_vocab_size=VOCAB, bos_id=BOS, eos_id=EOS)
    train(model, steps=20, batch_size=16, lr=0.01)
    return model.eval()


def train(model: Seq2Seq, steps: int, batch_size: int, lr: float) -> None:
    """Train ``model`` on the copy task with Adam."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        optimizer.zero_grad()
        model(copy_batch(generator, batch_size))["loss"].backward()
        optimizer.step()


def decoder_rows(monkeypatch: pytest.MonkeyPatch, model: Seq2Seq) -> list[int]:
    """A list that gets the row count of every ``model.decode_step`` call from now on."""
    rows: list[int] = []
    decode_step = model.decode_step

    def counting_step(prev_tokens, state):
        rows.append(prev_tokens.numel())
        return decode_step(prev_tokens, state)

    monkeypatch.setattr(model, "decode_step", counting_step)
    return rows


def sources(lengths: list[int], seed: int = 0, extra_padding: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded random sources (B x S) and their lengths."""
    generator = torch.Generator().manual_seed(seed)
    lengths_tensor = torch.tensor(lengths)
    steps = max(lengths) + extra_padding
    src = torch.randint(4, VOCAB, (len(lengths), steps), generator=generator)
    return src * (torch.arange(steps) < lengths_tensor.unsqueeze(1)), lengths_tensor


def alone(src: torch.Tensor, lengths: torch.Tensor, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentence ``i`` as a batch of one, without padding."""
    return src[i : i + 1, : int(lengths[i])], lengths[i : i + 1]


def copy_batch(generator: torch.Generator, size: int, shortest: int = 3, longest: int = 8):
    """Random sequences to copy, in the forward contract."""
    lengths = torch.randint(shortest, longest + 1, (size,), generator=generator)
    steps = int(lengths.max())
    src = torch.randint(4, VOCAB, (size, steps), generator=generator) * (
        torch.arange(steps) < lengths[:, None]
    )
    tgt_in = torch.cat([torch.full((size, 1), BOS), src], dim=1)
    tgt_out = F.pad(src, (0, 1))
    tgt_out[torch.arange(size), lengths] = EOS
    return {"src": src, "src_lengths": lengths, "tgt_in": tgt_in, "tgt_out": tgt_out}


@pytest.fixture(scope="module")
def copy_model() -> Seq2Seq:
    """A tiny model trained for 120 steps of 128 random sequences to copy its input."""
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        embedding_dim=16,
        cell="gru",
        encoder_hidden=32,
        encoder_layers=1,
        decoder_hidden=32,
        decoder_layers=1,
        attention="general",
        input_feeding=False,
        dropout=0.0,
        embedding_dropout=0.0,
        label_smoothing=0.0,
    )
    model = Seq2Seq(config, source_vocab_size=VOCAB, target_vocab_size=VOCAB, bos_id=BOS, eos_id=EOS)
    train(model, steps=120, batch_size=128, lr=0.02)
    return model.eval()


# --- lengths and penalties ----------------------------------------------------------------------


def test_max_output_lengths_per_sentence():
    lengths = torch.tensor([1, 4, 1000])
    assert max_output_lengths(lengths, 1.5, 10).tolist() == [11, 16, 1510]
    assert max_output_lengths(lengths, 0.5, 0).tolist() == [0, 2, 500]


def test_gnmt_length_penalty():
    assert gnmt_length_penalty(1, 1.0) == 1.0
    assert gnmt_length_penalty(7, 0.5) == pytest.approx(2**0.5)
    assert gnmt_length_penalty(30, 0.0) == 1.0


def test_beam_search_rejects_bad_sizes():
    model = untrained_model()
    src, lengths = sources([3])
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, src, lengths, beam_size=0)
    with pytest.raises(ValueError, match="n_best"):
        beam_search(model, src, lengths, beam_size=2, n_best=3)


# --- independence of the batch --------------------------------------------------------------------


@pytest.mark.parametrize("cell, attention, input_feeding", VARIANTS, ids=VARIANT_IDS)
def test_greedy_output_does_not_depend_on_the_batch(cell, attention, input_feeding):
    model = briefly_trained(cell, attention, input_feeding, 0)
    src, lengths = sources(LENGTHS, extra_padding=2)
    batched = greedy_search(model, src, lengths)
    assert len({len(h.tokens) for h in batched}) > 1  # sentences end at different steps
    for i in range(len(LENGTHS)):
        (single,) = greedy_search(model, *alone(src, lengths, i))
        assert single.tokens == batched[i].tokens
        assert single.log_prob == pytest.approx(batched[i].log_prob, abs=1e-4)


@pytest.mark.parametrize("cell, attention, input_feeding", VARIANTS, ids=VARIANT_IDS)
def test_beam_output_does_not_depend_on_the_batch(cell, attention, input_feeding):
    model = briefly_trained(cell, attention, input_feeding, 0)
    src, lengths = sources(LENGTHS, extra_padding=2)
    batched = beam_search(model, src, lengths, beam_size=3, n_best=2)
    for i in range(len(LENGTHS)):
        (single,) = beam_search(model, *alone(src, lengths, i), beam_size=3, n_best=2)
        assert [h.tokens for h in single] == [h.tokens for h in batched[i]]
        assert [h.score for h in single] == pytest.approx([h.score for h in batched[i]], abs=1e-4)


def test_trained_model_output_does_not_depend_on_the_batch(copy_model):
    src, lengths = sources([8, 3, 6, 1, 5], seed=7)
    reordered = torch.tensor([3, 0, 4, 1, 2])
    greedy = greedy_search(copy_model, src, lengths)
    greedy_reordered = greedy_search(copy_model, src[reordered], lengths[reordered])
    beam = beam_search(copy_model, src, lengths, beam_size=4, n_best=2)
    beam_reordered = beam_search(copy_model, src[reordered], lengths[reordered], beam_size=4, n_best=2)
    for position, i in enumerate(reordered.tolist()):
        assert greedy_reordered[position].tokens == greedy[i].tokens
        assert [h.tokens for h in beam_reordered[position]] == [h.tokens for h in beam[i]]
        (single,) = beam_search(copy_model, *alone(src, lengths, i), beam_size=4, n_best=2)
        assert [h.tokens for h in single] == [h.tokens for h in beam[i]]


def test_finished_sentences_leave_the_running_batch(monkeypatch):
    model = never_stopping_model()
    rows = decoder_rows(monkeypatch, model)
    src, lengths = sources([1, 4])  # caps 1 and 4 with max_len_a=1, max_len_b=0
    greedy_search(model, src, lengths, max_len_a=1.0, max_len_b=0)
    assert rows == [2, 2, 1, 1, 1]
    rows.clear()
    beam_search(model, src, lengths, beam_size=3, max_len_a=1.0, max_len_b=0)
    assert rows == [2, 6, 3, 3, 3]  # the first step runs one path per sentence, not 3 equal ones


# --- beam against greedy --------------------------------------------------------------------------


@pytest.mark.parametrize("cell, attention, input_feeding", VARIANTS, ids=VARIANT_IDS)
def test_beam_size_one_equals_greedy(cell, attention, input_feeding):
    model = briefly_trained(cell, attention, input_feeding, 0)
    src, lengths = sources(LENGTHS)
    greedy = greedy_search(model, src, lengths)
    beam = beam_search(model, src, lengths, beam_size=1, length_penalty=0.0)
    for g, (b,) in zip(greedy, beam, strict=True):
        assert b.tokens == g.tokens
        assert b.log_prob == pytest.approx(g.log_prob, abs=1e-5)


SEEDED_VARIANTS = [(*variant, 0) for variant in VARIANTS] + [(*VARIANTS[0], seed) for seed in (1, 2)]


@pytest.mark.parametrize(
    "cell, attention, input_feeding, seed",
    SEEDED_VARIANTS,
    ids=[*VARIANT_IDS, f"{VARIANT_IDS[0]}-seed1", f"{VARIANT_IDS[0]}-seed2"],
)
def test_beam_never_scores_below_greedy_without_length_penalty(cell, attention, input_feeding, seed):
    model = briefly_trained(cell, attention, input_feeding, seed)
    src, lengths = sources(LENGTHS + [4, 6, 3], seed=seed)
    greedy = greedy_search(model, src, lengths)
    beam = beam_search(model, src, lengths, beam_size=4, length_penalty=0.0)
    for g, (b, *_) in zip(greedy, beam, strict=True):
        assert b.score == pytest.approx(b.log_prob)
        assert b.log_prob >= g.log_prob - 1e-4


def test_n_best_hypotheses_are_distinct_and_sorted():
    model = briefly_trained("lstm", "bahdanau", False, 0)
    src, lengths = sources(LENGTHS)
    results = beam_search(model, src, lengths, beam_size=5, n_best=4, length_penalty=1.0)
    for hypotheses in results:
        assert len(hypotheses) == 4
        assert len({tuple(h.tokens) for h in hypotheses}) == 4
        scores = [h.score for h in hypotheses]
        assert scores == sorted(scores, reverse=True)
        for h in hypotheses:
            assert EOS not in h.tokens and BOS not in h.tokens and PAD not in h.tokens
            assert h.score == pytest.approx(h.log_prob / gnmt_length_penalty(len(h.tokens) + 1, 1.0))


@pytest.mark.parametrize("cell, attention, input_feeding", VARIANTS, ids=VARIANT_IDS)
def test_one_best_stops_sooner_with_the_same_result(monkeypatch, cell, attention, input_feeding):
    """Without a length penalty, stopping once nothing alive can beat the best finished hypothesis
    is exact: n_best=1 returns the top of the n_best=k list, in fewer decoder rows."""
    model = briefly_trained(cell, attention, input_feeding, 0)
    src, lengths = sources(LENGTHS + [4, 6, 3])
    rows = decoder_rows(monkeypatch, model)
    full = beam_search(model, src, lengths, beam_size=4, n_best=4, length_penalty=0.0)
    full_rows = sum(rows)
    rows.clear()
    top = beam_search(model, src, lengths, beam_size=4, n_best=1, length_penalty=0.0)
    assert [h[0].tokens for h in top] == [h[0].tokens for h in full]
    assert [h[0].log_prob for h in top] == pytest.approx([h[0].log_prob for h in full], abs=1e-5)
    assert sum(rows) < full_rows


def test_beam_wider_than_half_the_vocabulary():
    """A first step with fewer than 2k extensions (V = 12 < 2 x 8) pads the candidates."""
    model = briefly_trained("gru", "general", False, 0)
    src, lengths = sources(LENGTHS)
    results = beam_search(model, src, lengths, beam_size=8, n_best=8, length_penalty=0.0)
    for i, hypotheses in enumerate(results):
        assert len({tuple(h.tokens) for h in hypotheses}) == len(hypotheses) == 8
        single = beam_search(model, *alone(src, lengths, i), beam_size=8, n_best=8, length_penalty=0.0)
        assert [h.tokens for h in single[0]] == [h.tokens for h in hypotheses]


# --- length caps ----------------------------------------------------------------------------------


def test_length_caps_hold_for_a_thousand_token_source():
    model = never_stopping_model()
    src, lengths = sources([1000, 3])
    greedy = greedy_search(model, src[:1], lengths[:1])
    assert len(greedy[0].tokens) == 1510  # 1.5 x 1000 + 10
    greedy = greedy_search(model, src, lengths, max_len_a=0.01, max_len_b=2)
    assert [len(h.tokens) for h in greedy] == [12, 2]
    beam = beam_search(model, src, lengths, beam_size=2, n_best=2, max_len_a=0.01, max_len_b=2)
    assert [[len(h.tokens) for h in hypotheses] for hypotheses in beam] == [[12, 12], [2, 2]]


# --- attention ------------------------------------------------------------------------------------


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_attention_matrices_cover_the_real_source(search):
    model = briefly_trained("gru", "concat", True, 0)
    src, lengths = sources(LENGTHS, extra_padding=3)
    if search == "greedy":
        hypotheses = greedy_search(model, src, lengths, return_attention=True)
    else:
        hypotheses = [
            h
            for n_best in beam_search(model, src, lengths, 3, n_best=3, return_attention=True)
            for h in n_best
        ]
        lengths = lengths.repeat_interleave(3)
    for h, length in zip(hypotheses, lengths.tolist(), strict=True):
        assert h.attention.shape == (len(h.tokens) + 1, length)  # a row per token and one for EOS
        # rows sum to 1 over the real positions alone, so the padding's weight was exactly 0
        torch.testing.assert_close(h.attention.sum(dim=1), torch.ones(len(h.tokens) + 1))
    assert greedy_search(model, src, lengths[: len(LENGTHS)])[0].attention is None


# --- a trained model ------------------------------------------------------------------------------


def test_copy_task_is_learned(copy_model):
    batch = copy_batch(torch.Generator().manual_seed(99), 50)
    expected = [batch["src"][i, :length].tolist() for i, length in enumerate(batch["src_lengths"].tolist())]
    greedy = greedy_search(copy_model, batch["src"], batch["src_lengths"])
    beam = beam_search(copy_model, batch["src"], batch["src_lengths"], beam_size=3)
    assert sum(h.tokens == target for h, target in zip(greedy, expected, strict=True)) >= 40
    assert sum(b.tokens == target for (b,), target in zip(beam, expected, strict=True)) >= 40


def test_saved_and_loaded_model_searches_identically(copy_model, tmp_path):
    save_weights(copy_model, tmp_path)
    config = Seq2SeqConfig.model_validate(copy_model.config.model_dump())
    restored = Seq2Seq(config, source_vocab_size=VOCAB, target_vocab_size=VOCAB, bos_id=BOS, eos_id=EOS)
    load_weights_file(restored, tmp_path / WEIGHTS_FILE)
    restored.eval()
    src, lengths = sources([6, 4, 7], seed=3)
    original = beam_search(copy_model, src, lengths, beam_size=3, n_best=2)
    assert beam_search(restored, src, lengths, beam_size=3, n_best=2) == original


def biased_model(token: int, bias: float = 1e3) -> Seq2Seq:
    """An untrained model that all but always prefers ``token``."""
    model = untrained_model()
    with torch.no_grad():
        model.generator.bias[token] = bias
    return model


def test_min_length_holds_back_eos() -> None:
    model = biased_model(EOS)
    src, lengths = torch.tensor([[4, 5, 6], [7, 8, 0]]), torch.tensor([3, 2])
    assert [h.tokens for h in greedy_search(model, src, lengths)] == [[], []]
    constraints = Constraints(min_length=3)
    greedy = greedy_search(model, src, lengths, constraints=constraints)
    beams = beam_search(model, src, lengths, beam_size=3, constraints=constraints)
    assert [len(h.tokens) for h in greedy] == [3, 3]
    assert [len(b[0].tokens) for b in beams] == [3, 3]
    # The length cap still wins over the minimum: at most 1 token here, and it ends.
    capped = greedy_search(model, src, lengths, max_len_a=0.0, max_len_b=1, constraints=constraints)
    assert [len(h.tokens) for h in capped] == [1, 1]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_blocks_repeats(n: int) -> None:
    model = biased_model(5, bias=50.0)
    with torch.no_grad():
        model.generator.bias[EOS] = -1e4  # run to the cap
    src, lengths = torch.tensor([[4, 5, 6, 7]]), torch.tensor([4])
    free = greedy_search(model, src, lengths, max_len_a=0.0, max_len_b=6)[0].tokens
    assert free == [5] * 6
    constraints = Constraints(no_repeat_ngram_size=n)
    for tokens in (
        greedy_search(model, src, lengths, max_len_a=0.0, max_len_b=6, constraints=constraints)[0].tokens,
        beam_search(model, src, lengths, 3, max_len_a=0.0, max_len_b=6, constraints=constraints)[0][0].tokens,
    ):
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        assert len(grams) == len(set(grams)), tokens


def test_repeated_ngrams_marks_the_tokens_that_would_repeat() -> None:
    history = torch.tensor([[4, 5, 4, 6, 4], [7, 7, 7, 7, 8]])  # N x t
    banned = _repeated_ngrams(history, 2, VOCAB)  # the last token is 4 / 8
    assert banned[0].nonzero().flatten().tolist() == [5, 6]  # "4 5" and "4 6" were seen
    assert banned[1].nonzero().flatten().tolist() == []  # nothing followed an 8
    assert _repeated_ngrams(history, 1, VOCAB)[1].nonzero().flatten().tolist() == [7, 8]
