"""The registered pyfunc model answers REST predictions equal to the Python API's."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest

import scamlens
from scamlens.tracking import promote, resolve_uri, serve_command, serve_env


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
