"""Packed vs masked RNNEncoder steps on long padded batches (review-length texts), forward + backward.

    OMP_WAIT_POLICY=PASSIVE python scripts/bench_packing_long.py            # CPU, 2 threads
    python scripts/bench_packing_long.py --device cuda --output long.json

``scripts/bench_packing.py`` draws sentence lengths from SST-2 and EWT (at most ~60 tokens); this
script covers the longer batches that IMDB-style texts give: for each ``B x T`` and fill (real
tokens / B x T slots), lengths are drawn uniformly from ``[T * low, T]`` with one row of length
``T``, and both modes run the same batch on the same weights, alternating. It prints the median
time of each mode and their ratio (packed / masked: above 1 means masked is faster). The results
set ``AUTO_MASKED_MIN_FILL`` in ``nlp_rnn/models/encoder.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from nlp_rnn.models.encoder import RNNEncoder

# (batch, steps, lowest length as a fraction of steps): fills of about 0.97, 0.75 and 0.5.
SHAPES = [
    (40, 400, 0.95),
    (40, 400, 0.5),
    (40, 400, 0.05),
    (80, 200, 0.95),
    (64, 60, 0.95),
    (64, 60, 0.5),
    (64, 60, 0.05),
    (64, 20, 0.95),
    (64, 20, 0.05),
    (64, 10, 0.95),
]


def step_seconds(encoder: RNNEncoder, inputs: torch.Tensor, lengths: torch.Tensor) -> float:
    """One forward + backward pass through the encoder; seconds."""
    started = time.perf_counter()
    encoder(inputs, lengths).sequence.sum().backward()
    if inputs.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(args: argparse.Namespace, cell: str, batch: int, steps: int, low: float) -> dict:
    generator = torch.Generator().manual_seed(args.seed)
    lengths = torch.randint(max(1, int(steps * low)), steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    inputs = torch.randn(batch, steps, args.emb, generator=generator).to(args.device).requires_grad_()
    encoders = {}
    for mode in ("packed", "masked"):
        torch.manual_seed(args.seed)
        encoders[mode] = RNNEncoder(args.emb, args.hidden, cell=cell, bidirectional=True, length_mode=mode)
        encoders[mode].to(args.device)
        step_seconds(encoders[mode], inputs, lengths)  # warm-up
    times: dict[str, list[float]] = {"packed": [], "masked": []}
    for repeat in range(args.repeats):
        for mode in ("packed", "masked") if repeat % 2 == 0 else ("masked", "packed"):
            times[mode].append(step_seconds(encoders[mode], inputs, lengths))
    packed, masked = statistics.median(times["packed"]), statistics.median(times["masked"])
    return {
        "cell": cell,
        "batch": batch,
        "steps": steps,
        "fill": round(float(lengths.sum()) / (batch * steps), 3),
        "packed_ms": round(packed * 1000, 2),
        "masked_ms": round(masked * 1000, 2),
        "packed_over_masked": round(packed / masked, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["rnn", "lstm", "gru"])
    parser.add_argument("--emb", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per mode")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write the rows as JSON")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.device}, emb {args.emb}, hidden {args.hidden}, bidirectional, median of {args.repeats}")
    print(f"{'cell':5} {'B x T':>9} {'fill':>5} {'packed ms':>10} {'masked ms':>10} {'packed/masked':>14}")
    rows = []
    for cell in args.cells:
        for batch, steps, low in SHAPES:
            row = measure(args, cell, batch, steps, low)
            rows.append(row)
            print(
                f"{cell:5} {batch:>4} x {steps:<4} {row['fill']:>5.2f} {row['packed_ms']:>10.1f} "
                f"{row['masked_ms']:>10.1f} {row['packed_over_masked']:>14.2f}",
                flush=True,
            )
    if args.output:
        settings = vars(args) | {"output": str(args.output)}
        args.output.write_text(json.dumps({"settings": settings, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
