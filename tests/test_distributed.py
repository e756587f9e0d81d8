"""Distributed helpers alone, and DDP training with two gloo processes under torchrun."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from training_helpers import TinyClassifier

from nlp_rnn.training import distributed as D
from nlp_rnn.training.checkpoint import read_json
from nlp_rnn.training.logging_utils import read_jsonl

TRAIN_TINY = Path(__file__).parent / "train_tiny.py"


def test_dist_info_comes_from_torchrun_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert D.dist_info_from_env() == D.DistInfo(0, 1, 0)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = D.dist_info_from_env()
    assert (info.rank, info.world_size, info.local_rank, info.is_main, info.is_distributed) == (
        3,
        4,
        1,
        False,
        True,
    )


def test_helpers_do_nothing_in_a_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info, created = D.init_distributed("cpu")
    assert (info.world_size, created, D.is_distributed()) == (1, False, False)
    cpu = torch.device("cpu")
    model = TinyClassifier()
    assert D.wrap_model(model, cpu) is model and D.unwrap_model(model) is model
    assert D.all_reduce_sum([1.0, 2.0], cpu) == [1.0, 2.0]
    assert D.any_rank(True, cpu) and not D.any_rank(False, cpu)
    assert D.broadcast_object({"a": 1}) == {"a": 1} and D.gather_objects(5) == [5]
    D.barrier()
    D.shutdown_distributed()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_gloo_processes_match_one_process(tmp_path: Path) -> None:
    settings = json.dumps({"batch_size": 8, "max_epochs": 8, "lr": 0.02, "plot": False})
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2"]
    launcher += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port())]
    commands = {
        "ddp": [*launcher, str(TRAIN_TINY), str(tmp_path / "ddp"), "--config", settings],
        "single": [sys.executable, str(TRAIN_TINY), str(tmp_path / "single"), "--config", settings],
    }
    # Both at once: most of the time is spent importing torch in three and one processes.
    processes = {
        name: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, command in commands.items()
    }
    outputs = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        outputs[name] = sorted((json.loads(line) for line in out.splitlines()), key=lambda s: s["rank"])
    (single,), (rank0, rank1) = outputs["single"], outputs["ddp"]
    # Each rank trains on half of every epoch's batches, so the run has half the steps.
    assert rank0["steps"] == rank1["steps"] == single["steps"] // 2
    assert rank0["weights_sum"] == rank1["weights_sum"]  # gradients were all-reduced: replicas agree
    # Rank 0 evaluated and broadcast: both ranks saw the same dev metrics, close to one process's.
    assert rank0["last_metrics"] == rank1["last_metrics"]
    assert rank0["best_metric"] == pytest.approx(single["best_metric"], abs=0.05)
    assert rank0["last_metrics"]["accuracy"] >= 0.9
    # Only rank 0 logged (no step twice) and checkpointed.
    steps = [(r["kind"], r["step"]) for r in read_jsonl(tmp_path / "ddp" / "log.jsonl")]
    assert len(steps) == len(set(steps))
    assert read_json(tmp_path / "ddp" / "last" / "trainer_state.json")["world_size"] == 2
