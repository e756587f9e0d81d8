"""Packed vs masked variable-length batches through RNNEncoder: forward + backward time per step.

    python scripts/bench_packing.py                           # CPU (2 threads), and CUDA if present
    python scripts/bench_packing.py --devices cuda --output results.json

Both modes run side by side in one process on the same batches and weights, in alternating order,
so that load from other processes hits both alike; the table shows median milliseconds per
training step and the masked/packed ratio (median of the per-batch ratios; above 1 means packed
is faster). Sentence lengths are drawn from the SST-2 and EWT training sentences when the shared
corpora are found, else from a log-normal fitted to them; ``random`` batches draw them
independently (a shuffled loader), ``bucketed`` batches are neighbours in length order among 20
batches' worth of sentences (a length-bucketing sampler; ``--bucket-pool`` sets how many, and
fewer batches per pool leave more padding). The loss covers ``sequence`` and
``last`` (classifier, tagger), and the encoder skips the final states as those models ask it to
(``final_states=False``); ``--with-states`` computes them and backpropagates through them too (a
seq2seq encoder). The results set ``AUTO_MASKED_MIN_FILL`` in ``nlp_rnn/models/encoder.py``.
On a shared, busy machine set ``OMP_WAIT_POLICY=PASSIVE``: spinning OpenMP threads that lose
their core inflate timings tenfold and drown the difference between the modes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from nlp_rnn.models.encoder import RNNEncoder

DEFAULT_CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def corpus_lengths(corpora: Path) -> list[int] | None:
    """Token counts of the SST-2 and EWT training sentences, or None when the files are absent."""
    sst, ewt = corpora / "sst2" / "stsa.binary.train", corpora / "ud_english_ewt" / "en_ewt-ud-train.conllu"
    if not (sst.exists() and ewt.exists()):
        return None
    lengths = [len(line.split()) - 1 for line in sst.read_text(encoding="utf-8").splitlines() if line.strip()]
    count = 0
    for line in ewt.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            lengths.append(count)
            count = 0
        elif line.split("\t", 1)[0].isdigit():  # skip comments, multiword ranges (1-2), empty nodes (8.1)
            count += 1
    return lengths


def length_pool(args: argparse.Namespace, generator: torch.Generator) -> tuple[torch.Tensor, str]:
    """Sentence lengths to draw batches from, clipped to [min_len, max_len], and where they came from."""
    lengths = corpus_lengths(args.corpora)
    if lengths is not None:
        pool, source = torch.tensor(lengths), "SST-2 + EWT train sentences"
    else:  # median 17 tokens, like the two corpora
        pool = (torch.randn(20_000, generator=generator) * 0.55 + 2.83).exp().round().long()
        source = "log-normal (corpora not found)"
    return pool.clamp(args.min_len, args.max_len), source


def draw_lengths(
    pool: torch.Tensor, batch_size: int, batching: str, bucket_pool: int, generator: torch.Generator
) -> torch.Tensor:
    """One batch of lengths: independent draws, or neighbours in length order."""
    if batching == "random":
        return pool[torch.randint(len(pool), (batch_size,), generator=generator)]
    # A bucketing sampler: sort a pool of bucket_pool batches' worth of sentences, cut it into batches.
    drawn = pool[torch.randint(len(pool), (batch_size * bucket_pool,), generator=generator)]
    start = batch_size * int(torch.randint(bucket_pool, (1,), generator=generator))
    return drawn.sort().values[start : start + batch_size]


def train_step(
    encoder: RNNEncoder,
    inputs: torch.Tensor,
    lengths: torch.Tensor,
    with_states: bool,
    keep_states: bool = False,
) -> float:
    """Seconds for one forward + backward pass; the encoder computes final states when they are
    trained (``with_states``) or, untrained, with ``keep_states``."""
    device = inputs.device
    encoder.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = encoder(inputs, lengths, final_states=with_states or keep_states)
    loss = out.sequence.mean() + out.last.mean()
    if with_states:
        loss = loss + sum(s.mean() for s in (out.states if isinstance(out.states, tuple) else (out.states,)))
    loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def bench_one(
    args: argparse.Namespace, device: torch.device, cell: str, layers: int, batching: str, pool: torch.Tensor
) -> dict:
    """Median packed and masked times for one configuration."""
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    encoder = RNNEncoder(args.emb, args.hidden, cell, num_layers=layers, bidirectional=args.bidirectional)
    encoder = encoder.to(device).train()
    times: dict[str, list[float]] = {"packed": [], "masked": []}
    mean_lengths, padded, fills = [], [], []
    for repeat in range(args.warmup + args.repeats):
        lengths = draw_lengths(pool, args.batch_size, batching, args.bucket_pool, generator)
        inputs = torch.randn(args.batch_size, int(lengths.max()), args.emb, generator=generator)
        inputs = inputs.to(device).requires_grad_()  # embeddings are trained too
        lengths = lengths.to(device)
        order = ["packed", "masked"] if repeat % 2 == 0 else ["masked", "packed"]
        for mode in order:
            encoder.length_mode = mode
            seconds = train_step(encoder, inputs, lengths, args.with_states)
            if repeat >= args.warmup:
                times[mode].append(seconds)
        if repeat >= args.warmup:
            mean_lengths.append(float(lengths.float().mean()))
            padded.append(int(lengths.max()))
            fills.append(float(lengths.sum()) / lengths.numel() / int(lengths.max()))
    ratios = [m / p for m, p in zip(times["masked"], times["packed"], strict=True)]
    return {
        "device": device.type,
        "cell": cell,
        "layers": layers,
        "directions": 2 if args.bidirectional else 1,
        "batching": batching,
        "mean_length": statistics.mean(mean_lengths),
        "mean_padded_length": statistics.mean(padded),
        "fill": statistics.mean(fills),
        "auto_picks": encoder_auto_choice(encoder, device, statistics.mean(fills)),
        "packed_ms": 1000 * statistics.median(times["packed"]),
        "masked_ms": 1000 * statistics.median(times["masked"]),
        "masked_over_packed": statistics.median(ratios),
        "packed_ms_all": [1000 * t for t in times["packed"]],
        "masked_ms_all": [1000 * t for t in times["masked"]],
    }


def encoder_auto_choice(encoder: RNNEncoder, device: torch.device, fill: float) -> str:
    """What length_mode="auto" currently picks for a batch of this fill."""
    mode = encoder.length_mode
    encoder.length_mode = "auto"
    choice = encoder.resolve_length_mode(device, fill)
    encoder.length_mode = mode
    return choice


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["rnn", "lstm", "gru"])
    parser.add_argument("--layers", nargs="+", type=int, default=[1, 2])
    parser.add_argument(
        "--batching", nargs="+", default=["random", "bucketed"], choices=["random", "bucketed"]
    )
    parser.add_argument("--bucket-pool", type=int, default=20, help="batches per sorted pool when bucketed")
    parser.add_argument("--unidirectional", dest="bidirectional", action="store_false")
    parser.add_argument(
        "--with-states", action="store_true", help="backpropagate through the final states too"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--emb", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--min-len", type=int, default=5)
    parser.add_argument("--max-len", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=9, help="timed batches per configuration")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write settings and results as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    pool, source = length_pool(args, torch.Generator().manual_seed(args.seed))
    print(f"lengths: {source}, clipped to {args.min_len}..{args.max_len}, mean {pool.float().mean():.1f}")
    print(
        f"batch {args.batch_size}, emb {args.emb}, hidden {args.hidden}, bidirectional {args.bidirectional}, "
        f"CPU threads {args.threads}, median of {args.repeats} steps (forward + backward)"
    )
    header = f"{'device':6} {'cell':4} {'layers':>6} {'batching':8} {'len':>5} {'pad':>4} {'fill':>5} "
    print(header + f"{'packed ms':>10} {'masked ms':>10} {'masked/packed':>14} {'auto':>7}")
    results = []
    for device in devices:
        for cell in args.cells:
            for layers in args.layers:
                for batching in args.batching:
                    row = bench_one(args, torch.device(device), cell, layers, batching, pool)
                    results.append(row)
                    print(
                        f"{row['device']:6} {cell:4} {layers:>6} {batching:8} {row['mean_length']:5.1f} "
                        f"{row['mean_padded_length']:4.0f} {row['fill']:5.2f} {row['packed_ms']:10.1f} "
                        f"{row['masked_ms']:10.1f} {row['masked_over_packed']:14.2f} {row['auto_picks']:>7}",
                        flush=True,
                    )
    if args.output:
        environment = {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_threads": args.threads,
            "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        }
        settings = {
            key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
        }
        settings["lengths_source"] = source
        payload = {"environment": environment, "settings": settings, "results": results}
        args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
