"""The linear-chain CRF against brute force: every tag sequence of short sentences enumerated."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from nlp_rnn.models.crf import IGNORE, LinearChainCRF


def random_crf(tags: int, seed: int = 0) -> LinearChainCRF:
    torch.manual_seed(seed)
    crf = LinearChainCRF(tags)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def sequence_score(crf: LinearChainCRF, emissions: torch.Tensor, path: tuple[int, ...]) -> torch.Tensor:
    """The score of one tag sequence of one sentence (emissions T x K), by the definition."""
    score = crf.start[path[0]] + crf.end[path[-1]]
    score = score + sum(emissions[t, tag] for t, tag in enumerate(path))
    return score + sum(crf.transitions[a, b] for a, b in itertools.pairwise(path))


def all_scores(crf: LinearChainCRF, emissions: torch.Tensor) -> dict[tuple[int, ...], torch.Tensor]:
    steps, tags = emissions.shape
    return {
        path: sequence_score(crf, emissions, path) for path in itertools.product(range(tags), repeat=steps)
    }


def padded_batch(lengths: list[int], tags: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    emissions = torch.randn(len(lengths), max(lengths), tags)  # B x T x K, padding holds noise too
    return emissions, torch.tensor(lengths)


@torch.no_grad()
def test_log_partition_and_viterbi_match_enumeration_per_sentence_in_a_padded_batch() -> None:
    crf = random_crf(3)
    lengths = [4, 1, 3, 2]
    emissions, lengths_tensor = padded_batch(lengths, 3)
    mask = torch.arange(4) < lengths_tensor[:, None]
    log_z = crf.log_partition(emissions, mask)
    decoded = crf.decode(emissions, lengths_tensor)
    for row, length in enumerate(lengths):
        scores = all_scores(crf, emissions[row, :length])
        expected = torch.logsumexp(torch.stack(list(scores.values())), dim=0)
        assert torch.allclose(log_z[row], expected, atol=1e-5)
        best = max(scores, key=lambda path: scores[path].item())
        assert tuple(decoded[row, :length].tolist()) == best


@torch.no_grad()
def test_nll_is_minus_the_gold_log_probability_per_word() -> None:
    crf = random_crf(3, seed=2)
    lengths = [3, 2]
    emissions, _ = padded_batch(lengths, 3, seed=3)
    gold = [(2, 0, 1), (1, 1)]
    targets = torch.full((2, 3), IGNORE)
    for row, path in enumerate(gold):
        targets[row, : len(path)] = torch.tensor(path)
    expected = 0.0
    for row, path in enumerate(gold):
        scores = all_scores(crf, emissions[row, : len(path)])
        log_z = torch.logsumexp(torch.stack(list(scores.values())), dim=0)
        expected += float(log_z - scores[path])
    assert float(crf.nll(emissions, targets)) == pytest.approx(expected / 5, abs=1e-5)


@torch.no_grad()
def test_an_unknown_gold_tag_is_summed_over() -> None:
    crf = random_crf(3, seed=4)
    emissions, _ = padded_batch([3], 3, seed=5)
    targets = torch.tensor([[0, 7, 2]])  # 7: a gold tag the model does not know
    scores = all_scores(crf, emissions[0])
    log_z = torch.logsumexp(torch.stack(list(scores.values())), dim=0)
    consistent = torch.logsumexp(torch.stack([scores[(0, middle, 2)] for middle in range(3)]), dim=0)
    assert float(crf.nll(emissions, targets)) == pytest.approx(float(log_z - consistent) / 3, abs=1e-5)


def test_gradients_are_finite_and_training_learns_transitions() -> None:
    """Tags that alternate with uninformative emissions: only the transitions can learn them."""
    crf = LinearChainCRF(2)
    emissions = torch.zeros(8, 6, 2)
    targets = torch.tensor([[0, 1, 0, 1, 0, 1]] * 8)
    optimizer = torch.optim.SGD(crf.parameters(), lr=0.5)
    for _ in range(50):
        optimizer.zero_grad()
        loss = crf.nll(emissions, targets)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in crf.parameters())
        optimizer.step()
    assert float(loss.detach()) < 0.1
    assert crf.decode(emissions[:1], torch.tensor([6])).tolist() == [[0, 1, 0, 1, 0, 1]]


def test_bf16_emissions_are_scored_in_fp32() -> None:
    crf = random_crf(4)
    emissions, lengths = padded_batch([5, 3], 4)
    rounded = emissions.bfloat16()
    mask = torch.arange(5) < lengths[:, None]
    assert crf.log_partition(rounded, mask).dtype == torch.float32
    assert torch.equal(crf.decode(rounded, lengths), crf.decode(rounded.float(), lengths))


def test_no_tags_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one tag"):
        LinearChainCRF(0)


def reference_log_partition(crf: LinearChainCRF, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The forward algorithm as a log-sum-exp over B x K x K (the textbook form)."""
    alpha = crf.start + emissions[:, 0]
    for t in range(1, emissions.size(1)):
        step = torch.logsumexp(alpha.unsqueeze(2) + crf.transitions, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t, None], step, alpha)
    return torch.logsumexp(alpha + crf.end, dim=1)


@pytest.mark.parametrize("scale", [1.0, 30.0, 100.0])
def test_exp_space_forward_matches_log_sum_exp_and_stays_finite_at_large_scores(scale: float) -> None:
    crf = random_crf(6, seed=7)
    with torch.no_grad():
        crf.transitions.mul_(scale)
    emissions, lengths = padded_batch([7, 5, 1, 6], 6, seed=8)
    emissions = (emissions * scale).requires_grad_()
    mask = torch.arange(7) < lengths[:, None]
    ours = crf.log_partition(emissions, mask)
    expected = reference_log_partition(crf, emissions, mask)
    assert torch.allclose(ours, expected, rtol=1e-5, atol=1e-4 * scale)
    ours.sum().backward()
    assert torch.isfinite(emissions.grad).all() and torch.isfinite(crf.transitions.grad).all()


@torch.no_grad()
def test_gathered_gold_scores_equal_the_restricted_forward_algorithm() -> None:
    crf = random_crf(5, seed=9)
    lengths = [6, 3, 1]
    emissions, lengths_tensor = padded_batch(lengths, 5, seed=10)
    mask = torch.arange(6) < lengths_tensor[:, None]
    targets = torch.randint(0, 5, (3, 6)).masked_fill(~mask, IGNORE)
    gold = F.one_hot(targets.clamp(min=0), 5).bool() | ~mask.unsqueeze(-1)
    restricted = crf.log_partition(emissions.masked_fill(~gold, float("-inf")), mask)
    assert torch.allclose(crf.gold_score(emissions, targets, mask), restricted, atol=1e-5)
    for row, length in enumerate(lengths):
        path = tuple(targets[row, :length].tolist())
        assert float(crf.gold_score(emissions, targets, mask)[row]) == pytest.approx(
            float(sequence_score(crf, emissions[row, :length], path)), abs=1e-5
        )
