"""REST serving: answers equal to the Python API's, bad rows named, and a server that stops when told."""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scamlens
from scamlens.serving import RequestError, request_texts
from scamlens.tracking import promote, resolve_uri, serve_command, serve_env

from .conftest import TINY_CORPUS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_mlflow_models_serve_answers_with_the_python_api_scores(trained_baseline) -> None:
    config, result = trained_baseline
    uri = resolve_uri(config.tracking, config.output_dir)
    promote("tiny-baseline", result.registered_version, tracking_uri=uri)
    port = free_port()
    env = serve_env(uri)
    server = subprocess.Popen(serve_command("models:/tiny-baseline@champion", port=port), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"server exited: {server.stderr.read().decode()[-2000:]}")
                if time.monotonic() > deadline:
                    pytest.fail("server did not answer /ping within 120 s")
                time.sleep(0.5)
        texts = ["Sixty Indonesians detained pending removal after a raid.", "The airport opened a terminal.", ""]
        body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            rows = json.loads(response.read())["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    model = scamlens.load(result.best_dir)
    expected = model.predict(texts, evidence=False)
    served = np.array([[row[f"score_{n}"] for n in model.labels] for row in rows])
    np.testing.assert_allclose(served, model.predict_proba(texts), rtol=1e-6)
    assert [row["labels"] for row in rows] == [p["labels"] for p in expected]


# --- bad rows, without a server --------------------------------------------------------------------
@pytest.mark.parametrize(("model_input", "message"), [
    (pd.DataFrame({"text": ["a", "b", "c", None]}), "row 3: text: expected a string, got null"),
    (pd.DataFrame({"text": ["a", math.nan]}), "row 1: text: expected a string, got null"),
    (pd.DataFrame({"text": ["a", 5, True]}, dtype=object),
     "row 1: text: expected a string, got a number (5); row 2: text: expected a string, got a boolean (true)"),
    (pd.DataFrame({"body": ["a"]}), "text: missing column (the request has ['body'])"),
    ([{"text": "a"}, {"body": "b"}], "row 1: text: missing"),
    ({"text": ["a", 2.5]}, "row 1: text: expected a string, got a number (2.5)"),
    (["a", ["b"]], "row 1: text: expected a string, got an array"),
])
def test_request_rows_that_are_not_strings_are_named_by_row_and_field(model_input, message) -> None:
    with pytest.raises(RequestError) as caught:
        request_texts(model_input)
    assert str(caught.value) == message


def test_many_bad_rows_name_the_first_five_and_count_the_rest() -> None:
    with pytest.raises(RequestError, match=r"^row 0: .*; row 4: text: expected a string, got null \(and 5 more bad rows\)$"):
        request_texts(pd.DataFrame({"text": [None] * 10}))


def test_an_empty_batch_is_an_empty_list_of_texts() -> None:
    assert request_texts(pd.DataFrame({"text": pd.Series([], dtype=object)})) == []
    assert request_texts(pd.DataFrame({"text": ["a", ""]})) == ["a", ""]


# --- a served model folder -----------------------------------------------------------------------
def start_serving(model: str | Path, port: int, *options: str) -> subprocess.Popen:
    """`scamlens serve MODEL` as a user runs it, waiting until it answers /ping."""
    server = subprocess.Popen([sys.executable, "-m", "scamlens.cli", "serve", str(model), "--port", str(port), *options],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"server exited: {server.stderr.read().decode()[-3000:]}")
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("server did not answer /ping within 180 s")
            time.sleep(0.5)


def post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid`, with its start time (so a reused pid is not mistaken for it)."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append((int(stat.parent.name), fields[19]))
    found, queue = {}, [pid]
    while queue:
        for child, started in parents.get(queue.pop(), []):
            found[child] = started
            queue.append(child)
    return found


def still_there(pid: int, started: str) -> bool:
    """The process exists, zombies included: a zombie is one nobody waited for."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] == started
    except OSError:
        return False


@pytest.fixture(scope="module")
def served_folder(trained_baseline):
    _, result = trained_baseline
    port = free_port()
    server = start_serving(result.best_dir, port)
    yield port
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)


@pytest.mark.slow
def test_rest_bad_rows_get_a_400_naming_the_row_and_field(served_folder) -> None:
    port = served_folder

    def split(rows: list, columns: tuple[str, ...] = ("text",)) -> dict:
        return {"dataframe_split": {"columns": list(columns), "data": rows}}

    status, answer = post(port, split([["a"], ["b"], ["c"], [None]]))
    assert status == 400 and answer["message"].endswith("row 3: text: expected a string, got null")
    status, answer = post(port, split([["Sixty Indonesians were deported."], [5]]))
    assert status == 400 and answer["message"].endswith("row 1: text: expected a string, got a number (5)")
    status, answer = post(port, {"dataframe_records": [{"text": "a"}, {"body": "b"}]})
    assert status == 400 and answer["message"].endswith("row 1: text: expected a string, got null")
    # A request without the column is refused by MLflow's schema check, before the model: it names the field.
    status, answer = post(port, split([["a"]], ("body",)))
    assert status == 400 and "missing inputs ['text']" in answer["message"]
    # An empty batch is not an error: no rows in, no predictions out.
    assert post(port, split([])) == (200, {"predictions": []})
    status, answer = post(port, split([["Sixty Indonesians were deported."], [""]]))
    assert status == 200 and len(answer["predictions"]) == 2 and answer["predictions"][1]["labels"] == []


@pytest.mark.slow
def test_sigterm_stops_every_server_process_and_frees_the_port(trained_baseline) -> None:
    _, result = trained_baseline
    port = free_port()
    server = start_serving(result.best_dir, port, "--workers", "2")
    tree = descendants(server.pid)
    assert len(tree) >= 4  # mlflow's CLI, uvicorn, and its two workers at least
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=90) == 0
    assert [pid for pid, started in tree.items() if still_there(pid, started)] == []
    with socket.socket() as sock:  # what a restarted server does: uvicorn binds with SO_REUSEADDR too
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


@pytest.mark.slow
def test_rest_requests_may_name_an_operating_point(served_folder, trained_baseline) -> None:
    port, folder = served_folder, trained_baseline[1].best_dir
    texts = [json.loads(line)["text"] for line in TINY_CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = {"dataframe_records": [{"text": t} for t in texts]}
    wanted = {}
    for point in ("default", "feed"):
        status, answer = post(port, {**records, "params": {"operating_point": point}})
        wanted[point] = [p["labels"] for p in scamlens.load(folder, operating_point=point).predict(texts, evidence=False)]
        assert status == 200 and [row["labels"] for row in answer["predictions"]] == wanted[point], point
    assert wanted["default"] != wanted["feed"]  # the two points decide differently on these texts
    assert post(port, records)[1] == post(port, {**records, "params": {"operating_point": "default"}})[1]
    status, answer = post(port, {**records, "params": {"operating_point": "nightly"}})
    assert status == 400 and answer["message"].endswith("no operating point 'nightly'; this model has default, feed")
