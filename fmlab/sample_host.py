"""A warm interpreter that runs code samples, one forked child per sample.

Run as a script (`python sample_host.py`), never imported: it must not load fmlab. It imports the
heavy libraries once, says how long that took, then reads one request per line on stdin:

    {"script": "/tmp/x/sample.py", "timeout": 60}

and answers one line on stdout:

    {"seconds": 1.2, "returncode": 0, "stdout": "...", "stderr": "..."}

Why: on a 2-core machine `import torch` takes ~3 s, sklearn ~2.5 s, and the first optimizer step
lazily imports torch._dynamo for another ~3 s. A fresh interpreter per sample would time those
imports, not the sample. A forked child starts with them loaded, in its own process and folder.
"""

import json
import os
import runpy
import signal
import sys
import tempfile
import time
import traceback

SHARED = ("numpy", "torch", "torch._dynamo", "torch.nn", "torch.optim",
          "sklearn.datasets", "sklearn.linear_model", "sklearn.model_selection", "sklearn.metrics",
          "sklearn.preprocessing", "sklearn.ensemble", "sklearn.tree")


def import_shared() -> float:
    """Import the heavy modules every sample would import; return the seconds it took."""
    start = time.perf_counter()
    for name in SHARED:
        __import__(name)
    return time.perf_counter() - start


def exit_code(error: SystemExit) -> int:
    """The status `sys.exit(x)` gives a plain interpreter."""
    if error.code is None:
        return 0
    return error.code if isinstance(error.code, int) else 1


def run_child(script: str, out: int, err: int) -> None:
    """In the forked child: own folder and output files, run the sample as __main__, exit."""
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.chdir(os.path.dirname(script))
    sys.argv = [script]
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = exit_code(e)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def wait(pid: int, timeout: float) -> tuple[int, float]:
    """Wait for the child; kill it after `timeout` s. Return (returncode, seconds) like subprocess."""
    start = time.perf_counter()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -signal.SIGKILL, time.perf_counter() - start
        time.sleep(0.005)


def run_one(script: str, timeout: float) -> dict:
    """Fork, run the sample in the child, collect its exit status, time and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            run_child(script, out.fileno(), err.fileno())
        returncode, seconds = wait(pid, timeout)
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read().decode("utf-8", "replace"))
    return {"seconds": seconds, "returncode": returncode, "stdout": texts[0], "stderr": texts[1]}


def main() -> None:
    print(json.dumps({"imports": import_shared()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run_one(request["script"], request["timeout"])), flush=True)


if __name__ == "__main__":
    main()
