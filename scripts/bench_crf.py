"""The tagger CRF's training loss (forward and backward) against the textbook form.

    python scripts/bench_crf.py                 # torch's default threads
    python scripts/bench_crf.py --threads 1

The textbook negative log-likelihood runs the forward algorithm twice, as a log-sum-exp over a
B x K x K tensor at each step: once over every tag sequence and once restricted to the gold tags.
:class:`nlp_rnn.models.crf.LinearChainCRF` gathers the gold sequence's score instead and runs the
forward algorithm once, each step a B x K by K x K product in exp space. Both are timed on random
scores of the POS tagger's training batches (32 sentences; UPOS 17 tags, XPOS 49), alternating in
one process, with the largest difference of the two losses. Medians of ``--repeats``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from bench_int8_gemm import median_seconds, micro_benchmark_args  # scripts/ is on the path

from nlp_rnn.models.crf import IGNORE, LinearChainCRF

# (sentences, steps, tags)
SHAPES = [(32, 16, 17), (32, 16, 49), (32, 40, 17), (32, 40, 49)]


def textbook_log_partition(crf: LinearChainCRF, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    alpha = crf.start + emissions[:, 0]  # B x K
    for t in range(1, emissions.size(1)):
        step = torch.logsumexp(alpha.unsqueeze(2) + crf.transitions, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t, None], step, alpha)
    return torch.logsumexp(alpha + crf.end, dim=1)  # B


def textbook_nll(crf: LinearChainCRF, emissions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    mask = targets != IGNORE
    gold = F.one_hot(targets.clamp(min=0), crf.num_tags).bool() | ~mask.unsqueeze(-1)
    restricted = emissions.masked_fill(~gold, float("-inf"))
    every = textbook_log_partition(crf, emissions, mask)  # B
    return (every - textbook_log_partition(crf, restricted, mask)).sum() / mask.sum()


def main(argv: list[str] | None = None) -> list[dict]:
    args = micro_benchmark_args(__doc__, argv)
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    generator = torch.Generator().manual_seed(0)
    results = []
    for sentences, steps, tags in SHAPES:
        crf = LinearChainCRF(tags)
        with torch.no_grad():
            for parameter in crf.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
        emissions = (torch.randn(sentences, steps, tags, generator=generator) * 5).requires_grad_()
        lengths = torch.randint(steps // 2, steps + 1, (sentences,), generator=generator)
        targets = torch.randint(0, tags, (sentences, steps), generator=generator)
        targets = targets.masked_fill(torch.arange(steps) >= lengths[:, None], IGNORE)

        def ours(crf=crf, emissions=emissions, targets=targets) -> torch.Tensor:
            loss = crf.nll(emissions, targets)
            loss.backward()
            return loss

        def textbook(crf=crf, emissions=emissions, targets=targets) -> torch.Tensor:
            loss = textbook_nll(crf, emissions, targets)
            loss.backward()
            return loss

        ours_seconds = median_seconds(ours, args.repeats)
        textbook_seconds = median_seconds(textbook, args.repeats)
        difference = abs(float(ours().detach()) - float(textbook().detach()))
        result = {
            "shape": [sentences, steps, tags],
            "ours_ms": round(ours_seconds * 1e3, 3),
            "textbook_ms": round(textbook_seconds * 1e3, 3),
            "speedup": round(textbook_seconds / ours_seconds, 2),
            "loss_difference": difference,
        }
        results.append(result)
        print(
            f"B {sentences} x T {steps:>2} x K {tags:>2}: ours {result['ours_ms']:7.3f} ms, "
            f"textbook {result['textbook_ms']:7.3f} ms, {result['speedup']:.2f}x; "
            f"|loss difference| {difference:.2e}"
        )
    return results


if __name__ == "__main__":
    main()
