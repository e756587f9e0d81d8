"""RNNEncoder training steps with and without final states, at the POS tagger's shapes.

    python scripts/bench_final_states.py                 # torch's default threads
    python scripts/bench_final_states.py --threads 1

A padded LSTM batch run masked (the CPU's choice for well-filled batches) gets each row's final
cell state by recomputing the cell recurrence up to its length, as the fused kernel returns the
state after the last padded step only. A tagger or a pooling classifier never reads those
states: ``final_states=False`` skips them. This script times forward + backward of the tagger
recipe's encoder (2 layers, 200 units per direction, 500 input features) on batches of 32
sentences whose lengths are drawn from the EWT and SST-2 training sentences (as
``bench_packing.py``, bucketed by length), both settings alternating in one process on the same
batches, and prints the medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from bench_packing import DEFAULT_CORPORA, draw_lengths, length_pool, train_step

from nlp_rnn.models.encoder import RNNEncoder


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, default=500)
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--min-len", type=int, default=1)
    parser.add_argument("--max-len", type=int, default=120)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--corpora", default=DEFAULT_CORPORA)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    pool, source = length_pool(args, generator)
    encoder = RNNEncoder(
        args.input_size, args.hidden, "lstm", num_layers=args.layers, bidirectional=True, length_mode="masked"
    ).train()
    times: dict[bool, list[float]] = {True: [], False: []}
    for index in range(args.batches + 2):  # the first two warm up
        lengths = draw_lengths(pool, args.batch_size, "bucketed", 20, generator)
        inputs = torch.randn(args.batch_size, int(lengths.max()), args.input_size, generator=generator)
        order = (True, False) if index % 2 else (False, True)
        for final_states in order:
            seconds = train_step(encoder, inputs, lengths, with_states=False, keep_states=final_states)
            if index >= 2:
                times[final_states].append(seconds)
    with_ms, without_ms = (statistics.median(times[flag]) * 1e3 for flag in (True, False))
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}; lengths: {source}")
    print(
        f"{args.layers}x{args.hidden} BiLSTM, {args.input_size} inputs, {args.batch_size} sentences a batch, "
        f"median of {args.batches}: with final states {with_ms:.2f} ms, without {without_ms:.2f} ms, "
        f"{with_ms / without_ms:.2f}x"
    )
    return {"with_ms": with_ms, "without_ms": without_ms, "ratio": with_ms / without_ms}


if __name__ == "__main__":
    main()
