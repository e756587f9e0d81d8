"""Training throughput against JoeyNMT 2.3.0 on the same machine, data and batch size.

    python scripts/compare_joeynmt.py                   # 30 updates each, CPU
    python scripts/compare_joeynmt.py --steps 60 --output results.json
    python scripts/compare_joeynmt.py --decode --steps 300 --work-dir cj   # beam-5 decoding speed

JoeyNMT is installed on first use into its own virtual environment (``--venv``; torch 2.13.0,
``joeynmt==2.3.0``, ``sentencepiece==0.2.0``); nothing of it is part of this project. Both
toolkits train on Multi30k de->en with one joint unigram SentencePiece model of 8,000 pieces
(trained here, given to JoeyNMT as its tokenizer), batches of 4,096 target tokens, Adam(W) at
5e-4, label smoothing 0.1, dropout 0.3, and the tutorial size: embeddings 256, a 2x256
bidirectional GRU encoder, a 512-unit GRU decoder. Three runs of ``--steps`` updates:

* ``joeynmt``: Bahdanau attention with input feeding (its tutorial model), its own trainer;
* ``ours_bahdanau_feeding``: the same architecture in our Trainer (the step-by-step decoder);
* ``ours_luong_one_shot``: our recipe's Luong ``general`` attention without input feeding (the
  decoder over the whole target in one fused call).

Each toolkit's own log gives target tokens per second every ``--log-every`` updates; the first
window (start-up) is dropped and the median of the rest reported, with the ratios to JoeyNMT.
With ``--cpu-amp`` our two models are also trained with bf16 autocast on the
CPU (the trainer's ``cpu_amp``; fast on CPUs with AMX). The learning rate stays constant
(JoeyNMT's plateau scheduler fails on current PyTorch; its exponential one is configured with a
factor of 1 instead).

With ``--decode``, beam-5 decoding speed instead: both toolkits train the same Bahdanau + input
feeding model for ``--steps`` updates (one thread each, side by side: these runs are not timed),
then translate the 1,014 Multi30k dev sentences with beam 5 (length penalty alpha 1, 64 sentences
a batch, 2 threads), alternating ``--decode-repeats`` times. JoeyNMT's time is its own logged
"Generation took" (the search loop over its prepared batches; its process start, model and data
loading are left out); ours is ``TranslationPredictor.translate`` from raw sentences to
detokenized text. Ours is timed in fp32, on a CPU with native bf16 (AMX or AVX512-BF16) also
with ``precision="bf16"`` (matrix products in bf16), and where PyTorch has its x86 quantized
engine with ``precision="int8"`` (int8 products; :mod:`nlp_rnn.models.low_precision`). All
outputs are scored with sacreBLEU, and their mean lengths reported, so that the models are seen
to be comparably trained (decoding time grows with output length). A ``--work-dir`` that
already holds both models trained for ``--steps`` updates is reused: only the decoding is run
(and timed) again. Our trained model is also saved as a model folder, ``<work-dir>/ours_model``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

JOEYNMT = ["joeynmt==2.3.0", "sentencepiece==0.2.0", "importlib_metadata"]  # joeynmt imports it undeclared
TOKENS_PER_SEC = re.compile(r"Tokens per Sec:\s+([0-9.]+)")
GENERATION = re.compile(r"Generation took ([0-9.]+)\[sec\]")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=None, help="corpus folder (default: ../shared/corpora)")
    parser.add_argument("--venv", default=str(Path(tempfile.gettempdir()) / "nlp-rnn-joeynmt"))
    parser.add_argument(
        "--work-dir", default=None, help="data, configs and logs (default: a temporary folder)"
    )
    parser.add_argument("--steps", type=int, default=30, help="updates per run")
    parser.add_argument("--log-every", type=int, default=5)
    parser.add_argument("--output", default=None)
    parser.add_argument(
        "--decode", action="store_true", help="compare beam-5 decoding of the dev set instead"
    )
    parser.add_argument("--decode-repeats", type=int, default=3)
    parser.add_argument(
        "--cpu-amp", action="store_true", help="also train ours with bf16 autocast on the CPU (cpu_amp)"
    )
    return parser.parse_args()


def ensure_joeynmt(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "torch==2.13.0"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *JOEYNMT], check=True)
    return python


def prepare_data(work: Path, data_dir: str | None) -> Path:
    """Plain-text Multi30k files and the joint SentencePiece model, in ``work``."""
    from nlp_rnn.data.catalog import load_corpus
    from nlp_rnn.tasks.translation import train_subwords

    for split in ("train", "dev"):
        rows = load_corpus("multi30k", split, data_dir=data_dir)
        (work / f"{split}.de").write_text("\n".join(rows["src"]) + "\n", encoding="utf-8")
        (work / f"{split}.en").write_text("\n".join(rows["tgt"]) + "\n", encoding="utf-8")
    train = load_corpus("multi30k", "train", data_dir=data_dir)
    subwords = train_subwords(train["src"], train["tgt"], vocab_size=8000, joint=True)
    subwords.save(work / "subwords")
    return work / "subwords" / "tokenizer" / "sentencepiece.model"


def joeynmt_config(
    work: Path, spm_model: Path, args: argparse.Namespace, beam_size: int = 1, name: str = "joeynmt"
) -> Path:
    side = {
        "level": "bpe",
        "lowercase": False,
        "max_length": 100,
        "voc_limit": 8000,
        "tokenizer_type": "sentencepiece",
        "tokenizer_cfg": {"model_file": str(spm_model)},
    }
    config = {
        "name": "bench",
        "joeynmt_version": "2.3.0",
        "data": {
            "train": str(work / "train"),
            "dev": str(work / "dev"),
            "dataset_type": "plain",
            "src": {"lang": "de", **side},
            "trg": {"lang": "en", **side},
        },
        "training": {
            "scheduling": "exponential",  # with a factor of 1: a constant learning rate
            "decrease_factor": 1.0,
            "learning_rate_min": 1e-8,
            "random_seed": 13,
            "optimizer": "adam",
            "learning_rate": 5e-4,
            "label_smoothing": 0.1,
            "batch_size": 4096,
            "batch_type": "token",
            "epochs": 100,
            "max_updates": args.steps,
            "logging_freq": args.log_every,
            # with --decode: one validation (and checkpoint) at the last update
            "validation_freq": args.steps if args.decode else 10 * args.steps * args.log_every,
            "model_dir": str(work / "joeynmt_model"),
            "overwrite": True,
            "use_cuda": False,
            "shuffle": True,
            "print_valid_sents": [],
            "keep_best_ckpts": 1,
        },
        "testing": {
            "beam_size": beam_size,
            "beam_alpha": 1.0,
            "batch_size": 64,
            "batch_type": "sentence",
            "eval_metrics": ["bleu"],
        },
        "model": {
            "initializer": "xavier_uniform",
            "bias_initializer": "zeros",
            "encoder": {
                "type": "recurrent",
                "rnn_type": "gru",
                "embeddings": {"embedding_dim": 256},
                "hidden_size": 256,
                "bidirectional": True,
                "dropout": 0.3,
                "num_layers": 2,
            },
            "decoder": {
                "type": "recurrent",
                "rnn_type": "gru",
                "embeddings": {"embedding_dim": 256},
                "hidden_size": 512,
                "dropout": 0.3,
                "hidden_dropout": 0.3,
                "num_layers": 1,
                "input_feeding": True,
                "init_hidden": "bridge",
                "attention": "bahdanau",
            },
        },
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run_joeynmt(python: Path, config: Path, work: Path, args: argparse.Namespace) -> list[float]:
    """JoeyNMT's logged speeds of its first ``--steps`` updates; the process is stopped there (its
    ``max_updates`` only ends training at the end of an epoch)."""
    log = work / "joeynmt_model" / "train.log"
    process = subprocess.Popen(
        [str(python), "-m", "joeynmt", "train", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    windows = args.steps // args.log_every
    try:
        while process.poll() is None:
            time.sleep(2)
            if log.exists() and len(TOKENS_PER_SEC.findall(log.read_text(encoding="utf-8"))) >= windows:
                break
    finally:
        process.terminate()
        process.wait()
    return [float(x) for x in TOKENS_PER_SEC.findall(log.read_text(encoding="utf-8"))][:windows]


def run_ours(
    work: Path,
    name: str,
    attention: str,
    input_feeding: bool,
    data_dir: str | None,
    args: argparse.Namespace,
    cpu_amp: bool = False,
) -> tuple[list[float], Any]:
    """Our logged speeds of ``--steps`` updates, and the trained :class:`TranslationPredictor`."""
    from nlp_rnn.tasks.translation import SubwordModels, TranslationPredictor

    subwords = SubwordModels.load(work / "subwords", joint=True)
    model, records = train_ours(
        subwords,
        work / name,
        attention,
        input_feeding,
        data_dir,
        args.steps,
        args.log_every,
        cpu_amp,
        reuse=args.decode,
    )
    return [r["tokens_per_s"] for r in records], TranslationPredictor(model, subwords, "de", "en")


def train_ours(
    subwords: Any,
    out: Path,
    attention: str,
    input_feeding: bool,
    data_dir: str | None,
    steps: int,
    log_every: int,
    cpu_amp: bool = False,
    reuse: bool = False,
) -> tuple[Any, list[dict]]:
    """The tutorial-size model on Multi30k de->en trained ``steps`` updates by our Trainer into
    ``out`` (with ``reuse``, a run of ``steps`` updates already there is loaded instead), and the
    Trainer's logged training records (each with its ``tokens_per_s`` and ``loss``). Imports the
    package only when called, so that ``bench_training_revisions.py`` can run it on an older one."""
    from nlp_rnn.data.catalog import load_corpus
    from nlp_rnn.models.seq2seq import Seq2SeqConfig
    from nlp_rnn.tasks.translation import Collate, build_seq2seq, encode_pairs, evaluate_batches
    from nlp_rnn.training.checkpoint import load_weights
    from nlp_rnn.training.config import TrainerConfig
    from nlp_rnn.training.seeding import seed_everything
    from nlp_rnn.training.trainer import Trainer

    train = load_corpus("multi30k", "train", data_dir=data_dir)
    dev = load_corpus("multi30k", "dev", data_dir=data_dir)
    pairs = encode_pairs(train["src"], train["tgt"], subwords, max_length=100)
    dev_pairs = encode_pairs(dev["src"][:64], dev["tgt"][:64], subwords)
    seed_everything(13)
    config = Seq2SeqConfig(
        embedding_dim=256,
        cell="gru",
        encoder_hidden=256,
        encoder_layers=2,
        decoder_hidden=512,
        decoder_layers=1,
        attention=attention,
        input_feeding=input_feeding,
        dropout=0.3,
        embedding_dropout=0.3,
        label_smoothing=0.1,
    )
    model = build_seq2seq(config, subwords)
    trainer = TrainerConfig(
        lr=5e-4,
        weight_decay=0.0,
        batch_size=None,
        max_tokens=4096,
        max_epochs=None,
        max_steps=steps,
        log_every=log_every,
        eval_every_epoch=False,
        metric="ppl",
        tensorboard=False,
        plot=False,
        device="cpu",
        cpu_amp=cpu_amp,
        seed=13,
    )
    if reuse and trained_before(out, steps):
        load_weights(model, out / "last")
    else:
        Trainer(trainer, out).fit(model, pairs, dev_pairs, collate=Collate(), evaluate=evaluate_batches)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    return model, [r for r in records if r.get("kind") == "train" and "tokens_per_s" in r]


def trained_before(out: Path, steps: int) -> bool:
    """Whether our run in ``out`` (a ``--work-dir`` used before) already trained ``steps`` updates."""
    state = out / "last" / "trainer_state.json"
    return state.is_file() and json.loads(state.read_text(encoding="utf-8")).get("step") == steps


def train_joeynmt_checkpoint(python: Path, config: Path, work: Path, args: argparse.Namespace) -> None:
    """Train JoeyNMT until its checkpoint of update ``--steps`` is written (then stop it); a
    checkpoint left in ``--work-dir`` by an earlier run is used as it is."""
    checkpoint = work / "joeynmt_model" / f"{args.steps}.ckpt"
    if checkpoint.exists():
        return
    log = work / "joeynmt_train.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [str(python), "-m", "joeynmt", "train", str(config)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        try:
            while process.poll() is None and not checkpoint.exists():
                time.sleep(2)
            time.sleep(5)  # let the checkpoint file be completed
        finally:
            process.terminate()
            process.wait()
    if not checkpoint.exists():
        raise SystemExit(f"JoeyNMT stopped before {checkpoint} was written; see {log}")


def decode_joeynmt(python: Path, config: Path, work: Path) -> tuple[float, list[str]]:
    """JoeyNMT's own generation time for the dev set, and its detokenized translations."""
    hypotheses = work / "joeynmt_hyp"
    done = subprocess.run(
        [str(python), "-m", "joeynmt", "test", str(config), "-o", str(hypotheses)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = GENERATION.findall(done.stdout + done.stderr)
    if not seconds:
        raise SystemExit("JoeyNMT's test log has no generation time:\n" + done.stderr[-2000:])
    lines = Path(f"{hypotheses}.dev").read_text(encoding="utf-8").splitlines()
    return float(seconds[0]), lines


def compare_decoding(python: Path, work: Path, spm_model: Path, args: argparse.Namespace) -> dict:
    """Train both Bahdanau + feeding models side by side, then time beam-5 dev decoding."""
    import sacrebleu
    import torch

    from nlp_rnn.data.catalog import load_corpus
    from nlp_rnn.models.low_precision import fast_bf16_available, int8_available

    joey_train = joeynmt_config(work, spm_model, args)
    joey_test = joeynmt_config(work, spm_model, args, beam_size=5, name="joeynmt_beam5")
    trainer = threading.Thread(target=train_joeynmt_checkpoint, args=(python, joey_train, work, args))
    trainer.start()
    torch.set_num_threads(1)
    _, predictor = run_ours(work, "ours_bahdanau_feeding", "bahdanau", True, args.data_dir, args)
    predictor.save(work / "ours_model")  # for scripts/bench_translation_revisions.py
    trainer.join()
    torch.set_num_threads(2)
    dev = load_corpus("multi30k", "dev", data_dir=args.data_dir)
    sources, references = list(dev["src"]), list(dev["tgt"])
    # bf16 only where the CPU multiplies it natively (elsewhere it is emulated, slower than fp32);
    # int8 where PyTorch has its x86 quantized engine
    ours = {
        "ours": "fp32",
        **({"ours_bf16": "bf16"} if fast_bf16_available() else {}),
        **({"ours_int8": "int8"} if int8_available() else {}),
    }
    seconds: dict[str, list[float]] = {"joeynmt": [], **{name: [] for name in ours}}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.decode_repeats):
        joey_seconds, outputs["joeynmt"] = decode_joeynmt(python, joey_test, work)
        seconds["joeynmt"].append(joey_seconds)
        for name, precision in ours.items():
            started = time.perf_counter()
            translations = predictor.translate(
                sources, beam_size=5, batch_size=64, length_penalty=1.0, precision=precision
            )
            seconds[name].append(time.perf_counter() - started)
            outputs[name] = [t.text for t in translations]
    medians = {name: round(statistics.median(values), 3) for name, values in seconds.items()}
    return {
        "steps": args.steps,
        "sentences": len(sources),
        "beam5_seconds": medians,
        "runs_seconds": seconds,
        "speedup_over_joeynmt": {name: round(medians["joeynmt"] / medians[name], 2) for name in ours},
        "bleu": {
            name: round(sacrebleu.corpus_bleu(lines, [references]).score, 2)
            for name, lines in outputs.items()
        },
        "mean_output_words": {
            name: round(statistics.mean(len(line.split()) for line in lines), 2)
            for name, lines in outputs.items()
        },
        "mean_reference_words": round(statistics.mean(len(line.split()) for line in references), 2),
        "work_dir": str(work),
    }


def main() -> None:
    args = parse_args()
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="compare_joeynmt_"))
    work.mkdir(parents=True, exist_ok=True)
    python = ensure_joeynmt(Path(args.venv))
    spm_model = prepare_data(work, args.data_dir)
    if args.decode:
        report(compare_decoding(python, work, spm_model, args), args)
        return
    windows = {
        "ours_bahdanau_feeding": run_ours(
            work, "ours_bahdanau_feeding", "bahdanau", True, args.data_dir, args
        )[0],
        "ours_luong_one_shot": run_ours(work, "ours_luong_one_shot", "general", False, args.data_dir, args)[
            0
        ],
    }
    if args.cpu_amp:
        variants = (("bahdanau_feeding", "bahdanau", True), ("luong_one_shot", "general", False))
        for name, attention, feeding in variants:
            windows[f"ours_{name}_bf16"] = run_ours(
                work, f"ours_{name}_bf16", attention, feeding, args.data_dir, args, cpu_amp=True
            )[0]
    windows["joeynmt"] = run_joeynmt(python, joeynmt_config(work, spm_model, args), work, args)
    medians = {name: round(statistics.median(values[1:] or values), 1) for name, values in windows.items()}
    results = {
        "steps": args.steps,
        "target_tokens_per_s": medians,
        "windows": windows,
        "ratio_to_joeynmt": {name: round(value / medians["joeynmt"], 2) for name, value in medians.items()},
        "work_dir": str(work),
    }
    report(results, args)


def report(results: dict, args: argparse.Namespace) -> None:
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
