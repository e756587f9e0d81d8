"""The ensemble of encoder-decoders: its step is the log of the members' mean probabilities, its
state moves like a single model's, search runs on it unchanged, and mismatched members are refused."""

from __future__ import annotations

import pytest
import torch

from nlp_rnn.models.ensemble import Ensemble
from nlp_rnn.models.search import beam_search, greedy_search
from nlp_rnn.models.seq2seq import Seq2Seq, Seq2SeqConfig

PAD, BOS, EOS = 0, 2, 3
VOCAB = 17
SRC = torch.tensor([[5, 9, 4, 7, 6], [8, 4, 0, 0, 0], [11, 0, 0, 0, 0]])  # B x S, right-padded
SRC_LENGTHS = torch.tensor([5, 2, 1])


def member(seed: int, cell: str = "gru", vocab: int = VOCAB, **ids: int) -> Seq2Seq:
    torch.manual_seed(seed)
    config = Seq2SeqConfig(
        embedding_dim=6, cell=cell, encoder_hidden=5, encoder_layers=1, decoder_hidden=8, decoder_layers=1
    )
    special = {"bos_id": BOS, "eos_id": EOS, "pad_id": PAD, **ids}
    return Seq2Seq(config, source_vocab_size=vocab, target_vocab_size=vocab, **special).eval()


def test_a_step_is_the_log_of_the_members_mean_probabilities():
    members = [member(1), member(2, cell="lstm"), member(3)]
    ensemble = Ensemble(members)
    prev = torch.tensor([BOS, BOS, BOS])
    with torch.no_grad():
        state = ensemble.encode(SRC, SRC_LENGTHS)
        log_probs, state, weights = ensemble.decode_step(prev, state)
        expected_probs, expected_weights = 0, 0
        for one in members:
            one_log_probs, _, one_weights = one.decode_step(prev, one.encode(SRC, SRC_LENGTHS))
            expected_probs = expected_probs + one_log_probs.exp() / 3
            expected_weights = expected_weights + one_weights / 3
    assert torch.allclose(log_probs, expected_probs.log(), atol=1e-6)
    assert torch.allclose(weights, expected_weights, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(3), atol=1e-6)
    assert (weights[1, 2:] == 0).all() and (weights[2, 1:] == 0).all()  # nothing on padding


def test_state_rows_move_like_a_single_models():
    ensemble = Ensemble([member(1), member(2, cell="lstm")])
    index = torch.tensor([2, 0, 0])
    prev = torch.tensor([4, 5, 6])
    with torch.no_grad():
        state = ensemble.encode(SRC, SRC_LENGTHS)
        picked, _, _ = ensemble.decode_step(prev[index], state.index_select(index))
        full, _, _ = ensemble.decode_step(prev, state)
    assert torch.allclose(picked, full[index], atol=1e-6)
    reordered = state.reorder(torch.tensor([1, 0, 2]))
    assert reordered.source is state.source  # the memory is not copied
    assert torch.equal(reordered.members[1].cell[:, 0], state.members[1].cell[:, 1])


def test_an_ensemble_of_one_model_twice_decodes_like_the_model():
    one = member(4)
    twice = Ensemble([one, one])
    with torch.no_grad():
        greedy = [greedy_search(model, SRC, SRC_LENGTHS, 2.0, 3) for model in (one, twice)]
        beams = [beam_search(model, SRC, SRC_LENGTHS, 3, 1.0, 2, 2.0, 3) for model in (one, twice)]
    assert [h.tokens for h in greedy[0]] == [h.tokens for h in greedy[1]]
    assert [h.score for h in greedy[0]] == pytest.approx([h.score for h in greedy[1]], abs=1e-5)
    for alone, together in zip(*beams, strict=True):
        assert [h.tokens for h in alone] == [h.tokens for h in together]
        assert [h.score for h in alone] == pytest.approx([h.score for h in together], abs=1e-5)


def test_beam_search_output_does_not_depend_on_the_batch():
    ensemble = Ensemble([member(1), member(2, cell="lstm"), member(5)])
    with torch.no_grad():
        together = beam_search(ensemble, SRC, SRC_LENGTHS, 3, 1.0, 1, 2.0, 3)
        for row in range(3):
            length = int(SRC_LENGTHS[row])
            (alone,) = beam_search(
                ensemble, SRC[row : row + 1, :length], SRC_LENGTHS[row : row + 1], 3, 1.0, 1, 2.0, 3
            )
            assert alone[0].tokens == together[row][0].tokens


def test_mismatched_members_are_refused():
    with pytest.raises(ValueError, match="at least two"):
        Ensemble([member(1)])
    with pytest.raises(ValueError, match="member 2 has special ids"):
        Ensemble([member(1), member(2, eos_id=4)])
    with pytest.raises(ValueError, match="member 3 has source / target vocabularies of 19 / 19"):
        Ensemble([member(1), member(2), member(3, vocab=19)])
