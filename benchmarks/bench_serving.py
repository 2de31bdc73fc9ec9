"""REST serving under load: each default model behind `scamlens serve` on a loopback port.

For each model folder that exists (train/baseline, train/transformer, train/ensemble; model-best), the
server is started as a user starts it (127.0.0.1 only) and driven by concurrent clients for a fixed
time: each client posts batches of 1, 8 or 32 headlines (seeded draw) over a kept-alive connection.
The run stops by itself at the time limit or after --max-requests, whichever comes first. Reported:
requests/s and texts/s, p50/p99 latency of the answered requests, errors (non-200 answers and
failed requests), the peak RSS of the server's whole process tree (scamlens serve, mlflow's CLI,
uvicorn and its workers) and of one worker, the worker's PSS (shared library pages split between
the processes that map them: the figure to budget workers with), and the time until /ping answered.
The clients run in this process on the same machine, so they take CPU from the server too.

    python benchmarks/bench_serving.py [--duration 30] [--clients 8] [--workers 1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, WORK, headlines, report  # noqa: E402

MODELS = {name: ROOT / "train" / name / "model-best" for name in ("baseline", "transformer", "ensemble")}
BATCH_SIZES = (1, 8, 32)
REQUEST_TIMEOUT = 30.0
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def process_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, queue = [root], [root]
    while queue:
        children = parents.get(queue.pop(), [])
        found += children
        queue += children
    return found


def memory_mb(pid: int, field: str, source: str = "status") -> float:
    """A kB field of /proc/PID/status (VmRSS) or smaps_rollup (Pss), in MB; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def is_worker(pid: int) -> bool:
    """A process that holds the model: uvicorn itself with one worker, its spawned workers with more."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"spawn_main" in command or (b"uvicorn" in command and b"--workers 1 " in command)


class MemorySampler(threading.Thread):
    """Samples the server tree's RSS every 0.2 s; keeps the peaks."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.stop_event = root, threading.Event()
        self.tree_peak = self.worker_peak = 0.0

    def run(self) -> None:
        while not self.stop_event.wait(0.2):
            rss = {pid: memory_mb(pid, "VmRSS") for pid in process_tree(self.root)}
            self.tree_peak = max(self.tree_peak, sum(rss.values()))
            self.worker_peak = max([self.worker_peak] + [v for pid, v in rss.items() if is_worker(pid)])


def post(connection: http.client.HTTPConnection, texts: list[str]) -> int:
    body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in texts]}})
    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = response.read()
    if response.status == 200 and len(json.loads(answer)["predictions"]) != len(texts):
        return -1
    return response.status


def drive(port: int, pool: list[str], clients: int, duration: float, max_requests: int) -> dict:
    """`clients` threads posting mixed batches until `duration` seconds pass or `max_requests` are sent."""
    latencies: list[float] = []
    texts_done = [0]
    errors: list[str] = []
    sent = [0]
    lock = threading.Lock()
    end = time.monotonic() + duration

    def client(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        while time.monotonic() < end:
            with lock:
                if sent[0] >= max_requests:
                    break
                sent[0] += 1
            batch = rng.sample(pool, rng.choice(BATCH_SIZES))
            started = time.perf_counter()
            try:
                status = post(connection, batch)
            except (OSError, http.client.HTTPException) as exc:
                status = f"{type(exc).__name__}"
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
            elapsed = time.perf_counter() - started
            with lock:
                if status == 200:
                    latencies.append(elapsed)
                    texts_done[0] += len(batch)
                else:
                    errors.append(str(status))
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {"seconds": round(seconds, 1), "requests": len(latencies) + len(errors), "errors": len(errors),
            "error_kinds": sorted(set(errors))[:5], "requests_per_s": round(len(latencies) / seconds, 1),
            "texts_per_s": round(texts_done[0] / seconds),
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else float("nan")}


def wait_until_up(server: subprocess.Popen, port: int, log: Path, limit: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"no answer on /ping within {limit:.0f} s:\n{log.read_text()[-3000:]}")


def bench_model(name: str, folder: Path, args: argparse.Namespace, pool: list[str]) -> dict:
    port = free_port()
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / f"serving-{name}.log"
    with log.open("w") as handle:
        server = subprocess.Popen([sys.executable, "-m", "scamlens.cli", "serve", str(folder), "--host", HOST,
                                   "--port", str(port), "--workers", str(args.workers)],
                                  stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    sampler = MemorySampler(server.pid)
    try:
        ready = wait_until_up(server, port, log)
        sampler.start()
        warm = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        for size in BATCH_SIZES * 2:  # the first calls build caches and fast copies: not what is measured
            post(warm, pool[:size])
        warm.close()
        result = drive(port, pool, args.clients, args.duration, args.max_requests)
        workers = [pid for pid in process_tree(server.pid) if is_worker(pid)]
        worker_pss = max((memory_mb(pid, "Pss", "smaps_rollup") for pid in workers), default=float("nan"))
    finally:
        sampler.stop_event.set()
        server.send_signal(signal.SIGTERM)
        try:
            stopped = server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            server.kill()
            stopped = "killed"
    return {"model": name, "workers": args.workers, "clients": args.clients, **result,
            "tree_rss_mb": round(sampler.tree_peak), "worker_rss_mb": round(sampler.worker_peak),
            "worker_pss_mb": round(worker_pss) if worker_pss == worker_pss else worker_pss, "ready_s": round(ready, 1), "stop_exit": stopped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per model")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=20_000, help="stop earlier after this many requests")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    pool, source = headlines(2000, seed=3)
    rows, skipped = [], []
    for name in args.models:
        folder = MODELS[name]
        if not (folder / "meta.json").is_file():
            print(f"skipped {name}: {folder.relative_to(ROOT)} is missing (make train)", flush=True)
            skipped.append(name)
            continue
        print(f"serving {name} ({folder.relative_to(ROOT)}) ...", flush=True)
        rows.append(bench_model(name, folder, args, pool))
    report("serving", rows, ["model", "workers", "clients", "seconds", "requests", "errors", "requests_per_s",
                             "texts_per_s", "p50_ms", "p99_ms", "tree_rss_mb", "worker_rss_mb", "worker_pss_mb",
                             "ready_s"],
           texts=source, batch_sizes=list(BATCH_SIZES), host=HOST, skipped=skipped)


if __name__ == "__main__":
    main()
