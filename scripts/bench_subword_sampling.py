"""How much longer sampled subword segmentations are than the best one, by sampling alpha.

    python scripts/bench_subword_sampling.py                          # 5,000 Multi30k pairs, 6k model
    python scripts/bench_subword_sampling.py --pairs 29000 --alphas 0.2 0.3

Trains the joint unigram SentencePiece model of ``translate_multi30k_deen_cpu.yaml`` (``--vocab-size``)
on the Multi30k de->en training split, then encodes the first ``--pairs`` pairs with
``encode_resampled_pairs`` (one sampled segmentation) for each alpha and prints the sampled
source and target subwords as a multiple of the best segmentation's: the extra work a sampled
epoch costs (``subwords.sampled_segmentations`` in the README).
"""

from __future__ import annotations

import argparse

from nlp_rnn.data.catalog import load_corpus
from nlp_rnn.tasks.translation import encode_resampled_pairs, train_subwords


def main(argv: list[str] | None = None) -> dict[float, tuple[float, float]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--vocab-size", type=int, default=6000)
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.3, 0.5])
    args = parser.parse_args(argv)

    train = load_corpus("multi30k", "train", data_dir=args.data_dir)
    sources, targets = list(train["src"]), list(train["tgt"])
    subwords = train_subwords(sources, targets, vocab_size=args.vocab_size, joint=True)
    sources, targets = sources[: args.pairs], targets[: args.pairs]
    ratios = {}
    for alpha in args.alphas:
        pairs = encode_resampled_pairs(sources, targets, subwords, max_length=100, samples=1, alpha=alpha)
        best, sampled = pairs.segmentations
        ratios[alpha] = (
            sampled.source_tokens / best.source_tokens,
            sampled.target_tokens / best.target_tokens,
        )
        print(
            f"alpha {alpha}: sampled / best subwords, "
            f"source {ratios[alpha][0]:.2f}x, target {ratios[alpha][1]:.2f}x"
        )
    return ratios


if __name__ == "__main__":
    main()
