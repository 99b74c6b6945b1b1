"""Run the question bank's code samples: each in its own process and empty folder, offline.

A `SampleHost` is one warm interpreter (`sample_host.py`) that has imported torch, torch._dynamo
and scikit-learn once and forks a child per sample, so a sample's time is its own work, not the
~8 s those imports cost a cold interpreter on a 2-core machine. `cold_run` is the plain fresh
interpreter, for comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .bank import Bank

SAMPLE_SECONDS = 5.0  # target for each sample's own work, on one CPU thread, after the shared imports
HOST = Path(__file__).with_name("sample_host.py")


@dataclass(frozen=True)
class SampleRun:
    """How one question's code sample ran."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str


def offline_env() -> dict[str, str]:
    """The environment for samples: no proxy (so no network), one thread (small tensors)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["OMP_NUM_THREADS"] = "1"
    return env


class SampleHost:
    """A warm interpreter that runs samples in forked children. Use as a context manager."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(HOST)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env=offline_env(), text=True, cwd=tempfile.gettempdir())
        self.import_seconds: float = self._reply()["imports"]

    def _reply(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sample host exited with status {self.process.wait()}")
        return json.loads(line)

    def run(self, code: str, timeout: float = 60.0) -> SampleRun:
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "sample.py"
            script.write_text(code, encoding="utf-8")
            self.process.stdin.write(json.dumps({"script": str(script), "timeout": timeout}) + "\n")
            self.process.stdin.flush()
            return SampleRun(**self._reply())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)

    def __enter__(self) -> SampleHost:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def cold_run(code: str, timeout: float = 60.0) -> SampleRun:
    """Run the sample in a fresh interpreter, imports and all, as a reader who copies it would."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "sample.py"
        script.write_text(code, encoding="utf-8")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], cwd=folder, env=offline_env(), capture_output=True,
                              text=True, timeout=timeout)
    return SampleRun(time.perf_counter() - start, done.returncode, done.stdout, done.stderr)


def sample_lines(bank: Bank) -> list[str]:
    """Each sample's own time and exit status, slowest first, for `python -m fmlab bank --samples`."""
    with SampleHost() as host:
        runs = {q.id: host.run(q.code) for q in bank.questions}
    lines = [f"shared imports (torch, torch._dynamo, sklearn): {host.import_seconds:.2f} s, once",
             f"{'seconds':>8s}  exit  question"]
    for qid, r in sorted(runs.items(), key=lambda item: -item[1].seconds):
        flag = "  > target" if r.seconds > SAMPLE_SECONDS else ""
        lines.append(f"{r.seconds:8.2f}  {r.returncode:4d}  {qid}{flag}")
    slow = sum(r.seconds > SAMPLE_SECONDS for r in runs.values())
    failed = sum(r.returncode != 0 for r in runs.values())
    lines.append(f"{len(runs)} samples, {failed} failed, {slow} over {SAMPLE_SECONDS:g} s")
    return lines
