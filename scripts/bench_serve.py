"""What serving over HTTP costs: a classifier called directly against the same classifier behind
``nlp-rnn serve``, on the SST-2 dev sentences.

    python scripts/bench_serve.py --model runs/sentiment_sst2/model
    python scripts/bench_serve.py --model runs/sentiment_sst2/model --batch 1 --clients 4

The script starts the real server (``nlp-rnn serve``) on a free loopback port in a process of
its own, then, ``--repeats`` times after a warm-up, classifies the dev
sentences in requests of ``--batch`` sentences: once by calling the predictor, once by POST
/classify from ``--clients`` client threads. It reports the median wall time of each, the sentences
per second, the median latency of one request, and checks that both give the same labels.
Everything goes to ``--output`` (``runs/bench/serve.json``). Requests go to 127.0.0.1 only, and
their number is bounded by the dev set and the repeats.
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from nlp_rnn.api import load_model
from nlp_rnn.data.catalog import load_corpus


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="runs/sentiment_sst2/model", help="a classifier's model folder")
    parser.add_argument("--data-dir", default=None, help="the corpora (default: $NLP_RNN_DATA or ../shared)")
    parser.add_argument("--batch", type=int, default=32, help="sentences per request")
    parser.add_argument("--clients", type=int, default=1, help="client threads sending requests")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="runs/bench/serve.json")
    return parser.parse_args(argv)


def dev_sentences(data_dir: str | None) -> list[str]:
    with tempfile.TemporaryDirectory() as cache:
        return list(load_corpus("sst2_phrases", "dev", data_dir=data_dir, cache_dir=cache)["text"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    """``nlp-rnn serve --model MODEL`` on a free port, in a process of its own: in this process
    its model thread and the direct calls would be two threads calling into torch, and OpenMP
    slows every parallel region of a process down once more threads than cores have used it."""
    port = free_port()
    command = [sys.executable, "-m", "nlp_rnn", "-q", "serve", "--model", model, "--port", str(port)]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5):
                return server, base
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"the server did not start (exit status {server.poll()})") from None
            time.sleep(0.2)


def post(url: str, texts: list[str]) -> tuple[list[str], float]:
    """The labels of one request, and its latency in seconds."""
    body = json.dumps({"texts": texts, "probabilities": False}).encode()
    started = time.perf_counter()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    return [result["label"] for result in answer["results"]], time.perf_counter() - started


def timed(run) -> tuple[float, list]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    texts = dev_sentences(args.data_dir)
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    predictor = load_model(args.model)
    server, base = start_server(args.model)
    direct_times, http_times, latencies = [], [], []
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            for repeat in range(args.repeats + 1):  # the first round warms up
                seconds, direct = timed(lambda: [label for b in batches for label in predictor.predict(b)])
                seconds_http, answers = timed(
                    lambda: list(pool.map(lambda b: post(f"{base}/classify", b), batches))
                )
                served = [label for labels, _ in answers for label in labels]
                if served != direct:
                    raise RuntimeError("the server's labels differ from the predictor's")
                if repeat:
                    direct_times.append(seconds)
                    http_times.append(seconds_http)
                    latencies.extend(latency for _, latency in answers)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    direct, http = statistics.median(direct_times), statistics.median(http_times)
    report = {
        "model": args.model,
        "sentences": len(texts),
        "batch": args.batch,
        "clients": args.clients,
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "direct_seconds": round(direct, 4),
        "http_seconds": round(http, 4),
        "direct_sentences_per_second": round(len(texts) / direct, 1),
        "http_sentences_per_second": round(len(texts) / http, 1),
        "http_over_direct": round(http / direct, 3),
        "median_request_ms": round(1000 * statistics.median(latencies), 2),
        "labels_identical": True,
    }
    print(
        f"{len(texts)} SST-2 dev sentences in requests of {args.batch}, {args.clients} client(s), "
        f"medians of {args.repeats}: direct {report['direct_sentences_per_second']:,} sentences/s, "
        f"over HTTP {report['http_sentences_per_second']:,} ({report['http_over_direct']}x the time); "
        f"one request {report['median_request_ms']} ms; labels identical"
    )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
