"""``nlp-rnn serve`` as a user runs it: a real server on a loopback port answers HTTP requests,
stops on SIGINT, and a broken model folder stops it before it listens."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner
from test_task_classification import make_model_folder

from nlp_rnn.cli import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_real_server_answers_and_stops_on_sigint(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "sentiment" / "model")
    port = free_port()
    command = [sys.executable, "-m", "nlp_rnn", "serve", "--model", str(folder), "--port", str(port)]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # bounded: the server starts in a few seconds
            try:
                status, health = request(f"{base}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.2)
        assert (status, health) == (200, {"status": "ok", "models": 1})
        status, answer = request(f"{base}/classify", {"texts": ["the movie is good", "bad"]})
        assert status == 200 and answer["model"] == "sentiment" and len(answer["results"]) == 2
        status, answer = request(f"{base}/tag", {"texts": ["a"]})
        assert status == 404 and answer == {"detail": "this server holds no tagger"}
        with urllib.request.urlopen(f"{base}/", timeout=30) as page:
            assert b"<title>nlp-rnn</title>" in page.read()
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert f"serving sentiment (classification) at http://127.0.0.1:{port}/" in stderr


def test_a_broken_folder_is_an_error_before_serving(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "model")
    (folder / "model.safetensors").write_bytes(b"truncated")
    result = CliRunner().invoke(main, ["serve", "--model", f"x={folder}"])
    assert result.exit_code == 1
    assert "model.safetensors: cannot read the weights" in result.output


def test_a_missing_server_package_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    result = CliRunner().invoke(main, ["serve", "--model", str(make_model_folder(tmp_path / "model"))])
    assert result.exit_code == 1
    assert "nlp-rnn serve needs fastapi and uvicorn" in result.output and "pip install" in result.output
