"""BidirectionalLM: each direction predicts the neighbour it has not read, padding takes no part."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlp_rnn.models.bidirectional_lm import BidirectionalLM, BidirectionalLMConfig

pytestmark = pytest.mark.usefixtures("one_thread")
VOCAB = 12
UNK = 1


def model(output_words: int = 8, length_mode: str = "auto", cell: str = "lstm") -> BidirectionalLM:
    torch.manual_seed(0)
    config = BidirectionalLMConfig(
        cell=cell,
        hidden_size=6,
        output_words=output_words,
        cutoffs=[4],
        div_value=2.0,
        length_mode=length_mode,
    )
    return BidirectionalLM(nn.Embedding(VOCAB, 5, padding_idx=0), VOCAB, UNK, config).eval()


def reference_nll(lm: BidirectionalLM, ids: list[int]) -> tuple[float, float]:
    """Forward and backward NLL of one text from two one-direction LSTMs with the encoder's weights."""
    (rnn,) = lm.encoder.rnns
    directions = []
    for suffix in ("", "_reverse"):
        single = nn.LSTM(5, 6, batch_first=True)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, f"{name}_l0").data.copy_(getattr(rnn, f"{name}_l0{suffix}"))
        directions.append(single)
    targets = [i if i < lm.classes else UNK for i in ids]
    vectors = lm.embedding(torch.tensor([ids]))  # 1 x T x 5
    forward = directions[0](vectors)[0][0]  # T x 6: having read 0..t
    backward = directions[1](vectors.flip(1))[0][0].flip(0)  # T x 6: having read T-1..t
    log_probs_f = lm.softmax.log_prob(forward[:-1])  # (T-1) x C: predicts t+1
    log_probs_b = lm.softmax.log_prob(backward[1:])  # (T-1) x C: predicts t
    nll_f = -sum(float(log_probs_f[t, targets[t + 1]]) for t in range(len(ids) - 1))
    nll_b = -sum(float(log_probs_b[t, targets[t]]) for t in range(len(ids) - 1))
    return nll_f, nll_b


@pytest.mark.parametrize("length_mode", ["packed", "masked"])
def test_each_direction_predicts_the_unread_neighbour(length_mode: str) -> None:
    lm = model(length_mode=length_mode)
    texts = [[3, 11, 4, 9, 2], [5, 7, 10]]  # 9, 10 and 11 are beyond output_words: <unk> targets
    ids = torch.tensor([texts[0], [*texts[1], 0, 0]])
    with torch.no_grad():
        output = lm({"ids": ids, "lengths": torch.tensor([5, 3])})
        expected = [reference_nll(lm, text) for text in texts]
    forward = sum(nll for nll, _ in expected)
    backward = sum(nll for _, nll in expected)
    assert int(output["tokens"]) == 4 + 2
    assert output["nll"].tolist() == pytest.approx([forward, backward], rel=1e-5)
    assert float(output["loss"]) == pytest.approx((forward + backward) / 12, rel=1e-5)


def test_a_text_scores_the_same_alone_and_beside_a_longer_one() -> None:
    lm = model()
    with torch.no_grad():
        alone = lm({"ids": torch.tensor([[6, 2, 8]]), "lengths": torch.tensor([3])})["nll"]
        both = lm({"ids": torch.tensor([[6, 2, 8, 0], [4, 4, 5, 3]]), "lengths": torch.tensor([3, 4])})
        other = lm({"ids": torch.tensor([[4, 4, 5, 3]]), "lengths": torch.tensor([4])})["nll"]
    torch.testing.assert_close(both["nll"], alone + other)


def test_gradients_reach_the_encoder_embedding_and_output() -> None:
    lm = model().train()
    lm({"ids": torch.tensor([[6, 2, 8, 3]]), "lengths": torch.tensor([4])})["loss"].backward()
    for name, parameter in lm.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_output_words_cap_the_classes_and_bad_settings_are_refused() -> None:
    assert model(output_words=100).classes == VOCAB
    assert model(output_words=8).classes == 8
    with pytest.raises(ValueError, match="strictly increasing"):
        BidirectionalLMConfig(cutoffs=[10, 5])
    with pytest.raises(ValueError, match="0 features"):
        BidirectionalLM(
            nn.Embedding(VOCAB, 5),
            VOCAB,
            UNK,
            BidirectionalLMConfig(hidden_size=6, output_words=12, cutoffs=[4, 8], div_value=4.0),
        )
    with pytest.raises(ValueError, match="among the 3 predicted"):
        BidirectionalLM(
            nn.Embedding(VOCAB, 5), VOCAB, 5, BidirectionalLMConfig(hidden_size=6, output_words=3)
        )
