"""Training and decoding speed of the attention encoder-decoder on Multi30k.

    python scripts/bench_seq2seq.py                                  # tutorial size, one-shot vs step loop
    python scripts/bench_seq2seq.py --model runs/translate_multi30k_deen_cpu/model   # + dev decoding
    python scripts/bench_seq2seq.py --device cuda --precisions fp32 bf16          # on a GPU

Training: the same fixed set of length-bucketed batches of ``--max-tokens`` padded target
subwords (Multi30k de->en train, a joint unigram SentencePiece model of ``--vocab-size``) go
through forward, label-smoothed loss, backward and an AdamW step, for each variant:

* ``luong_one_shot``: Luong ``general`` attention without input feeding, the decoder RNN run over
  the whole target in one fused call and all attention steps in one batched matrix product;
* ``luong_step``: the same model and weights, the decoder run one step at a time
  (``teacher_forced_logits(stepwise=True)``), as variants with input feeding must;
* ``bahdanau_feeding``: Bahdanau attention with input feeding (JoeyNMT's tutorial model), step loop.

Variants alternate ``--repeats`` times in one process, so load from other processes hits all
alike; the script reports real target subwords per second (medians) and the ratios. On a GPU
(``--device cuda``) each variant also runs under bf16 autocast when ``--precisions`` names bf16
(``luong_one_shot@bf16``), as the Trainer's ``amp`` does.
Decoding (with ``--model``): the 1,014 dev sentences translated with beam 5 and greedy search,
medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from nlp_rnn.data.batching import bucket_batches
from nlp_rnn.data.catalog import load_corpus
from nlp_rnn.models.seq2seq import Seq2SeqConfig
from nlp_rnn.tasks.translation import Collate, build_seq2seq, encode_pairs, train_subwords

VARIANTS = {
    "luong_one_shot": ({"attention": "general", "input_feeding": False}, False),
    "luong_step": ({"attention": "general", "input_feeding": False}, True),
    "bahdanau_feeding": ({"attention": "bahdanau", "input_feeding": True}, True),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--embedding-dim", type=int, default=256)
    parser.add_argument("--encoder-hidden", type=int, default=256)
    parser.add_argument("--encoder-layers", type=int, default=2)
    parser.add_argument("--decoder-hidden", type=int, default=512)
    parser.add_argument("--cell", default="gru", choices=["gru", "lstm"])
    parser.add_argument("--max-tokens", type=int, default=4096, help="padded target subwords per batch")
    parser.add_argument("--batches", type=int, default=15, help="timed batches per variant and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    parser.add_argument("--model", default=None, help="a translation model folder: also time dev decoding")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"], help="bf16: autocast on CUDA"
    )
    parser.add_argument("--output", default=None, help="write the results as JSON here")
    return parser.parse_args()


def training_batches(args: argparse.Namespace):  # -> (pairs, batches, vocab sizes)
    train = load_corpus("multi30k", "train", data_dir=args.data_dir)
    subwords = train_subwords(train["src"], train["tgt"], vocab_size=args.vocab_size, joint=True)
    pairs = encode_pairs(train["src"], train["tgt"], subwords, max_length=100)
    batches = bucket_batches(pairs.lengths, max_tokens=args.max_tokens, seed=0)
    collate = Collate()
    device = torch.device(args.device)
    tensors = [collate([pairs[i] for i in batch]) for batch in batches[: args.batches + 2]]
    return subwords, [{key: value.to(device) for key, value in batch.items()} for batch in tensors]


def step(model, optimizer, batch, stepwise: bool, precision: str) -> int:
    """One forward/backward/update; returns the real target subwords."""
    device_type = batch["tgt_out"].device.type
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        state = model.encode(batch["src"], batch["src_lengths"])
        logits = model.teacher_forced_logits(state, batch["tgt_in"], stepwise=stepwise)  # B x T x V
    targets = batch["tgt_out"]
    tokens = int((targets != 0).sum())
    loss = F.cross_entropy(
        logits.float().flatten(0, 1), targets.flatten(), ignore_index=0, label_smoothing=0.1
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return tokens


def main() -> None:
    args = parse_args()
    if "bf16" in args.precisions and not args.device.startswith("cuda"):
        raise SystemExit("--precisions bf16 times CUDA autocast: use it with --device cuda")
    torch.manual_seed(0)
    subwords, batches = training_batches(args)
    warm, timed = batches[:2], batches[2:]
    setups = {}
    for name in args.variants.split(","):
        options, stepwise = VARIANTS[name]
        config = Seq2SeqConfig(
            embedding_dim=args.embedding_dim,
            cell=args.cell,
            encoder_hidden=args.encoder_hidden,
            encoder_layers=args.encoder_layers,
            decoder_hidden=args.decoder_hidden,
            decoder_layers=1,
            tie_embeddings=True,
            share_source_target_embeddings=True,
            label_smoothing=0.1,
            **options,
        )
        for precision in args.precisions:
            model = build_seq2seq(config, subwords).to(args.device).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
            label = name if precision == "fp32" else f"{name}@{precision}"
            setups[label] = (model, optimizer, stepwise, precision)
    speeds: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(args.repeats):
        for name, (model, optimizer, stepwise, precision) in setups.items():
            for batch in warm:
                step(model, optimizer, batch, stepwise, precision)
            synchronize(args.device)
            started, tokens = time.perf_counter(), 0
            for batch in timed:
                tokens += step(model, optimizer, batch, stepwise, precision)
            synchronize(args.device)
            speeds[name].append(tokens / (time.perf_counter() - started))
    results = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "device": torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu",
        "settings": {k: v for k, v in vars(args).items() if k not in ("output",)},
        "train_target_tokens_per_s": {name: round(statistics.median(v), 1) for name, v in speeds.items()},
        "runs": {name: [round(x, 1) for x in v] for name, v in speeds.items()},
    }
    median = results["train_target_tokens_per_s"]
    for suffix in ("", "@bf16"):
        one_shot = median.get(f"luong_one_shot{suffix}")
        for other, key in (
            ("luong_step", "one_shot_over_step"),
            ("bahdanau_feeding", "one_shot_over_bahdanau_feeding"),
        ):
            if one_shot and median.get(f"{other}{suffix}"):
                results[f"{key}{suffix}"] = round(one_shot / median[f"{other}{suffix}"], 3)
    if args.model:
        results["decoding"] = decoding_speed(args)
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


def decoding_speed(args: argparse.Namespace) -> dict[str, float]:
    from nlp_rnn.api import load_model

    predictor = load_model(args.model, device=args.device)
    sources = list(load_corpus("multi30k", "dev", data_dir=args.data_dir)["src"])
    times: dict[str, list[float]] = {"beam5_seconds": [], "greedy_seconds": []}
    for _ in range(args.repeats):
        for key, beam in (("beam5_seconds", 5), ("greedy_seconds", 1)):
            started = time.perf_counter()
            predictor.translate(sources, beam_size=beam)
            synchronize(args.device)
            times[key].append(time.perf_counter() - started)
    return {"sentences": len(sources), **{k: round(statistics.median(v), 3) for k, v in times.items()}}


def synchronize(device: str) -> None:
    """Waits for the GPU's queued work, so that the clock reads finished work."""
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
