"""REST serving: running `mlflow models serve` under supervision, and reading the texts of a request.

`mlflow models serve` is a Python process that starts uvicorn (which may start workers). Stopping
only the process a supervisor knows about left the rest running and holding the port, so the server
runs in a process group of its own: SIGTERM, SIGINT and SIGHUP are forwarded to the whole group, and
`run_server` returns only once every process in it has exited.

`request_texts` is what the pyfunc calls on a request's rows: a row that is not a string is refused
with its row number and the field, the way the Python API names `texts[i]`.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .runtime.errors import ScamlensError

TEXT_COLUMN = "text"
# How long the server may take to shut down once asked before it is killed.
STOP_GRACE_SECONDS = 30.0
# Rows named in one error message; a client fixes its payload from the first few.
MAX_ROWS_NAMED = 5
# The pyfunc imports this module wherever MLflow serves it, Windows included, which has no SIGHUP.
FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


class RequestError(ScamlensError, ValueError):
    """A request's rows cannot be scored; the message names the rows and the field."""


# --- reading a request ------------------------------------------------------------------------------
def _describe(value: Any) -> str:
    """A value as the JSON it most likely came from: a client wrote JSON, not Python."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NAType":
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, Sequence) or hasattr(value, "__array__"):
        return "an array"
    return type(value).__name__


def check_rows(values: Sequence[Any], field: str = TEXT_COLUMN) -> list[str]:
    """`values` as strings, or `RequestError` naming the first rows that are not (rows count from 0,
    as in the request's `data` list)."""
    bad = [i for i, value in enumerate(values) if not isinstance(value, str)]
    if not bad:
        return list(values)
    named = [f"row {i}: {field}: expected a string, got {_describe(values[i])}" for i in bad[:MAX_ROWS_NAMED]]
    more = f" (and {len(bad) - MAX_ROWS_NAMED} more bad rows)" if len(bad) > MAX_ROWS_NAMED else ""
    raise RequestError("; ".join(named) + more)


def request_texts(model_input: Any) -> list[str]:
    """The texts of a pyfunc request: a DataFrame with a "text" column, a dict of columns, a string, or
    a list of strings or of {"text": ...} records. An empty batch gives an empty list."""
    columns = getattr(model_input, "columns", None)
    if columns is not None:  # a pandas DataFrame, without importing pandas here
        if TEXT_COLUMN not in columns:
            raise RequestError(f"{TEXT_COLUMN}: missing column (the request has {[str(c) for c in columns]})")
        return check_rows(model_input[TEXT_COLUMN].tolist())
    if isinstance(model_input, str):
        return [model_input]
    if isinstance(model_input, dict):
        if TEXT_COLUMN not in model_input:
            raise RequestError(f"{TEXT_COLUMN}: missing column (the request has {sorted(model_input)})")
        values = model_input[TEXT_COLUMN]
        return check_rows([values] if isinstance(values, str) else list(values))
    rows = list(model_input)
    if any(isinstance(row, dict) for row in rows):
        missing = [i for i, row in enumerate(rows) if not isinstance(row, dict) or TEXT_COLUMN not in row]
        if missing:
            raise RequestError(f"row {missing[0]}: {TEXT_COLUMN}: missing")
        rows = [row[TEXT_COLUMN] for row in rows]
    return check_rows(rows)


# --- running the server ------------------------------------------------------------------------------
def _prctl(option: int, value: int) -> None:
    """Linux only; elsewhere the group signalling below still stops the server."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _stop_with_parent() -> None:
    """In the child before exec: if this process dies, even by SIGKILL, the server gets SIGTERM."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _reap_orphans() -> None:
    """Collect exited descendants re-parented to this process (we are their subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_group(pgid: int, grace: float) -> bool:
    """Wait until no process of the group is left: SIGTERM any still running, SIGKILL them after
    `grace` seconds. Returns False when they had to be killed."""
    deadline = time.monotonic() + grace
    asked = False
    while True:
        _reap_orphans()
        if not _group_alive(pgid):
            return True
        if not asked:
            # The main child has exited (on its own or by signal); what is left of its tree goes too.
            _signal_group(pgid, signal.SIGTERM)
            asked = True
        if time.monotonic() > deadline:
            _signal_group(pgid, signal.SIGKILL)
            for _ in range(50):
                _reap_orphans()
                if not _group_alive(pgid):
                    break
                time.sleep(0.1)
            return False
        time.sleep(0.1)


def run_server(command: Sequence[str], env: dict[str, str] | None = None, grace: float = STOP_GRACE_SECONDS) -> int:
    """Run `command` in a process group of its own until it exits or this process is asked to stop.

    SIGTERM and SIGINT (and SIGHUP, as SIGTERM: the group no longer hears the terminal) are forwarded
    to the whole group, and this function returns only when every process of the group has exited,
    so the port is free. Returns 0 after a stop that was asked for and completed within `grace`
    seconds, else the server's exit status.
    """
    # Orphans (uvicorn, once mlflow's CLI is gone) become our children, so we can wait for them.
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    asked: list[int] = []
    children: list[subprocess.Popen] = []

    def forward(signum: int, _frame: Any) -> None:
        asked.append(signum)
        if children:
            _signal_group(children[0].pid, signal.SIGTERM if signum == getattr(signal, "SIGHUP", None) else signum)

    # Handlers first: a stop that arrives while the server starts is forwarded as soon as it exists.
    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        children.append(subprocess.Popen(list(command), env=env, start_new_session=True,
                                         preexec_fn=_stop_with_parent if sys.platform.startswith("linux") else None))
        if asked:
            _signal_group(children[0].pid, signal.SIGTERM)
        code = children[0].wait()  # wait() resumes after a forwarding handler has run
        clean = _wait_for_group(children[0].pid, grace)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if asked:
        return 0 if clean else 128 + asked[0]
    return code if code >= 0 else 128 - code


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def is_mlflow_model(source: str) -> bool:
    """A models:/ or runs:/ URI, or a local folder MLflow serves as it is (one with an MLmodel file)."""
    return source.startswith(("models:/", "runs:/")) or "://" in source or (Path(source) / "MLmodel").is_file()


def serve(source: str, host: str = "127.0.0.1", port: int = 5000, workers: int = 1,
          tracking_uri: str | None = None) -> int:
    """Serve a registered model (models:/, runs:/) or a model folder with `mlflow models serve` until
    stopped; returns the exit status for the command line."""
    import tempfile

    from .tracking import resolve_uri, save_pyfunc, serve_command, serve_env

    env = serve_env(tracking_uri or resolve_uri())
    if is_mlflow_model(source):
        return run_server(serve_command(source, host, port, workers), env)
    # A folder is wrapped as an MLflow model ("models from code", nothing pickled) for the time it serves.
    with tempfile.TemporaryDirectory(prefix="scamlens-serve-") as scratch:
        wrapped = save_pyfunc(Path(source), Path(scratch) / "model")
        return run_server(serve_command(str(wrapped), host, port, workers), env)
