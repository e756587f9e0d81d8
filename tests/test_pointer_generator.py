"""The pointer-generator: the mixture is a distribution over the extended vocabulary, teacher forcing
agrees with step-by-step decoding, copy ids get probability only from the source, the coverage
loss, copy off = the plain model, and a model that learns to copy words its vocabulary lacks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nlp_rnn.models.pointer_generator import PointerGenerator, PointerGeneratorConfig
from nlp_rnn.models.search import beam_search, greedy_search

PAD, UNK, BOS, EOS = 0, 1, 2, 3
VOCAB = 10  # ids 4..9 ordinary words; 10.. are copy ids


def make_model(seed: int = 0, **overrides) -> PointerGenerator:
    torch.manual_seed(seed)
    settings = {
        "embedding_dim": 8,
        "cell": "gru",
        "encoder_hidden": 6,
        "encoder_layers": 1,
        "decoder_hidden": 12,
        "decoder_layers": 1,
        "attention": "general",
        "input_feeding": False,
        "dropout": 0.0,
        "embedding_dropout": 0.0,
        **overrides,
    }
    config = PointerGeneratorConfig(**settings)
    return PointerGenerator(config, vocab_size=VOCAB, bos_id=BOS, eos_id=EOS, unk_id=UNK)


def make_batch() -> dict[str, torch.Tensor]:
    """Two articles: the first has copy ids 10 and 11 (two words outside the vocabulary)."""
    src_ext = torch.tensor([[4, 10, 5, 11, 10], [6, 7, 8, 0, 0]])  # B x S
    src = torch.where(src_ext < VOCAB, src_ext, UNK)
    tgt_out = torch.tensor([[10, 5, 11, EOS], [7, 1, EOS, 0]])  # B x T: copy ids, <unk>, EOS, pad
    tgt_in = torch.where(torch.tensor([[BOS, 10, 5, 11], [BOS, 7, 1, EOS]]) < VOCAB, 0, UNK)
    tgt_in = torch.tensor([[BOS, UNK, 5, UNK], [BOS, 7, UNK, 0]])
    return {
        "src": src,
        "src_ext": src_ext,
        "src_lengths": torch.tensor([5, 3]),
        "tgt_in": tgt_in,
        "tgt_out": tgt_out,
    }


@pytest.mark.parametrize("attention", ["general", "bahdanau"])
def test_decode_step_gives_a_distribution_over_the_extended_vocabulary(attention: str) -> None:
    model = make_model(attention=attention).eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"], batch["src_ext"])
    log_probs, _, weights = model.decode_step(torch.tensor([BOS, BOS]), state)
    assert log_probs.shape == (2, 12)  # V + the batch's two copy ids
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2))
    assert weights.shape == (2, 5)
    # The second article has no words outside the vocabulary: its copy columns get nothing.
    assert log_probs[1, VOCAB:].exp().max() < 1e-9


@pytest.mark.parametrize(("attention", "feeding"), [("general", False), ("bahdanau", False), ("dot", True)])
def test_teacher_forcing_matches_step_by_step_decoding(attention: str, feeding: bool) -> None:
    model = make_model(attention=attention, input_feeding=feeding).eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"], batch["src_ext"])
    forced, _, _ = model.teacher_forced_scores(state, batch["tgt_in"], batch["tgt_out"])  # B x T
    # Step by step, feeding the same (extended) previous tokens the search would feed.
    previous = torch.cat([torch.full((2, 1), BOS), batch["tgt_out"][:, :-1]], dim=1)  # B x T
    step_state, stepped = state, []
    for t in range(previous.size(1)):
        log_probs, step_state, _ = model.decode_step(previous[:, t], step_state)  # B x V'
        stepped.append(log_probs.gather(1, batch["tgt_out"][:, t : t + 1]).squeeze(1))
    real = batch["tgt_out"] != PAD
    torch.testing.assert_close(forced[real], torch.stack(stepped, dim=1)[real], rtol=1e-4, atol=1e-5)


def test_a_copy_id_gets_probability_only_from_attention_to_its_positions() -> None:
    model = make_model().eval()
    batch = make_batch()
    state = model.encode(batch["src"], batch["src_lengths"], batch["src_ext"])
    log_probs, _, weights = model.decode_step(torch.tensor([BOS, BOS]), state)
    embedded = model.target_embedding(torch.tensor([BOS, BOS]))
    # Recompute p_gen from the attentional vector the step produced.
    attentional, _, _ = model._step(embedded, state)
    p_gen = torch.sigmoid(model.switch(torch.cat([attentional, embedded], dim=-1))).squeeze(-1)
    copy_10 = (1 - p_gen[0]) * (weights[0, 1] + weights[0, 4])  # id 10 sits at positions 1 and 4
    torch.testing.assert_close(log_probs[0, 10].exp(), copy_10)


def test_copy_off_is_the_plain_cross_entropy_with_unknown_targets() -> None:
    model = make_model(copy_source=False).eval()
    batch = make_batch()
    out = model(batch)
    state = model.encode(batch["src"], batch["src_lengths"])
    logits = model.teacher_forced_logits(state, batch["tgt_in"])  # B x T x V
    plain = torch.where(batch["tgt_out"] < VOCAB, batch["tgt_out"], UNK)
    expected = F.cross_entropy(logits.flatten(0, 1), plain.flatten(), ignore_index=PAD)
    torch.testing.assert_close(out["nll"], expected)
    assert model.switch is None


def test_coverage_loss_sums_the_overlap_with_earlier_attention() -> None:
    weights = torch.tensor([[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]])  # 1 x T=3 x S=3
    real = torch.tensor([[True, True, False]])
    # step 0: nothing covered; step 1: min(.2,.5)+min(.3,.5)+min(.5,0) = .5; step 2 is padding.
    torch.testing.assert_close(PointerGenerator.coverage_loss(weights, real), torch.tensor(0.5))


def test_coverage_weight_adds_the_coverage_loss() -> None:
    batch = make_batch()
    plain, covered = make_model().eval()(batch), make_model(coverage_weight=2.0).eval()(batch)
    torch.testing.assert_close(covered["loss"], plain["loss"] + 2.0 * plain["coverage"])
    assert float(plain["coverage"].detach()) > 0


def copy_task(generator: torch.Generator, batch: int = 32) -> dict[str, torch.Tensor]:
    """Articles of 5 words, each outside the vocabulary (copy ids 10..14 in random order); the
    headline is the article's first three words, which only copying can produce."""
    src_ext = torch.stack([torch.randperm(5, generator=generator) + VOCAB for _ in range(batch)])  # B x 5
    tgt = src_ext[:, :3]
    return {
        "src": torch.full_like(src_ext, UNK),
        "src_ext": src_ext,
        "src_lengths": torch.full((batch,), 5),
        "tgt_in": torch.cat([torch.full((batch, 1), BOS), torch.full_like(tgt, UNK)], dim=1),
        "tgt_out": torch.cat([tgt, torch.full((batch, 1), EOS)], dim=1),
    }


def test_learns_to_copy_words_outside_the_vocabulary() -> None:
    model = make_model(seed=1, encoder_hidden=16, decoder_hidden=32, embedding_dim=16)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(500):
        loss = model(copy_task(generator))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    test = copy_task(torch.Generator().manual_seed(99), batch=8)
    greedy = greedy_search(model, test["src"], test["src_lengths"], 0.0, 6, src_extended=test["src_ext"])
    beams = beam_search(
        model, test["src"], test["src_lengths"], 3, 1.0, 1, 0.0, 6, src_extended=test["src_ext"]
    )
    expected = test["src_ext"][:, :3].tolist()
    assert [h.tokens for h in greedy] == expected
    assert [b[0].tokens for b in beams] == expected
