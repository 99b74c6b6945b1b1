"""A warmed-up process that forks training workers, so they share its memory and start in milliseconds.

Importing torch, captum, scikit-learn and every demo costs seconds and several hundred MB per
process. A zygote pays that once; each worker is `os.fork()`ed from it and shares those pages
copy-on-write, so a pool of workers costs little more than one. (`multiprocessing`'s
"forkserver" does the same; ours is explicit because under Streamlit the parent's `__main__`
is a page script that a forkserver would re-import.)

Two ways to get one:
- `Zygote.fork_here()`, called by the app's launcher (`ui.serve`) while it is still one thread,
  after it has imported torch and every demo: the zygote then shares the *server's* pages as well.
  The launcher hands it to the server through FMLAB_ZYGOTE (`adopt()` picks it up).
- `Zygote.start()`: a fresh `python` that imports everything itself (plain `streamlit run`, tests).

Protocol on the control socket: the parent sends one byte with a socket attached (SCM_RIGHTS);
the zygote forks a worker that serves that socket and answers with the worker's pid.
Nothing here touches CUDA: a CUDA context does not survive a fork, so workers create their own.
"""
from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)  # so a spawned zygote imports this same fmlab
ENV = "FMLAB_ZYGOTE"  # "<control fd>:<pid>" of a zygote the launcher forked for this server


def warm_up() -> None:
    """Import and touch now what every first run would otherwise pay for (CPU only; see the module doc)."""
    import plotly.graph_objects  # noqa: F401  workers draw the result's figures

    from . import data, registry
    from .fit import configure_threads

    configure_threads(1)  # start no thread pool before forking: a forked OpenMP pool can hang the child
    registry.demos()  # torch, captum and every demo module
    data.digits()  # scikit-learn and SciPy, imported on first use, and the bundled digits
    data.shapes()  # the default shapes (grad-cam's), kept for every worker
    one_training_step()


def one_training_step() -> None:
    """A CNN's and an MLP's first step: the kernels and optimizer code a first run would set up."""
    import torch
    import torch.nn.functional as F

    from .nets import CNN, MLP

    with torch.random.fork_rng():  # leave the global generator as it was: the workers inherit it
        for model, X in ((CNN(), torch.rand(8, 3, 32, 32)), (MLP(64, 10), torch.rand(8, 64))):
            opt = torch.optim.Adam(model.parameters())
            F.cross_entropy(model(X), torch.zeros(8, dtype=torch.long)).backward()
            opt.step()


def serve_forks(control: socket.socket) -> None:
    """The zygote's loop: fork one worker per socket received; exit when the parent goes away."""
    from multiprocessing.connection import Connection

    from .workers import serve

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server; we all exit when it closes our sockets
    gc.freeze()  # the collector would otherwise write to (and so copy) every shared object page
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            fds = []
        if not fds:
            os._exit(0)
        pid = os.fork()
        if pid == 0:  # the worker
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                serve(Connection(fds[0]))
            finally:
                os._exit(0)
        os.close(fds[0])
        try:
            control.sendall(pid.to_bytes(4, "little"))
        except OSError:  # the server went away meanwhile
            os._exit(0)


def main(fd: int) -> None:
    """Entry point of a spawned zygote: warm up, then fork workers on request."""
    control = socket.socket(fileno=fd)
    warm_up()
    serve_forks(control)


class Zygote:
    """The parent's handle on a zygote: `fork_worker()` returns (socket, pid) of a new worker."""

    def __init__(self, control: socket.socket, pid: int, process: subprocess.Popen | None = None):
        self.control, self.pid, self.process = control, pid, process
        self._lock = threading.Lock()

    @classmethod
    def start(cls) -> Zygote:
        """A new `python` process that imports everything, then serves forks."""
        ours, theirs = socket.socketpair()
        code = "import sys; from fmlab.zygote import main; main(int(sys.argv[1]))"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen([sys.executable, "-c", code, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                                   env=env)
        theirs.close()
        return cls(ours, process.pid, process)

    @classmethod
    def fork_here(cls) -> Zygote:
        """Fork this process into a zygote that finishes `warm_up()` on its own. Call while this process has one
        thread, after importing what it shares with the zygote."""
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ours.close()
            warm_up()  # what only workers need (scikit-learn, the data): the parent goes on meanwhile
            serve_forks(theirs)  # never returns
        theirs.close()
        return cls(ours, pid)

    @classmethod
    def adopt(cls) -> Zygote | None:
        """The zygote the launcher forked for this process, if any (only the first caller gets it)."""
        handed = os.environ.pop(ENV, None)
        if not handed:
            return None
        fd, pid = (int(part) for part in handed.split(":"))
        return cls(socket.socket(fileno=fd), pid)

    def handover(self) -> None:
        """Let `adopt()`, later in this same process, find this zygote; this handle lets go of the socket."""
        os.environ[ENV] = f"{self.control.detach()}:{self.pid}"

    def fork_worker(self) -> tuple[socket.socket, int]:
        """A new worker serving the returned socket; raises OSError when the zygote is gone."""
        ours, theirs = socket.socketpair()
        try:
            with self._lock:
                socket.send_fds(self.control, [b"w"], [theirs.fileno()])
                reply = self.control.recv(4, socket.MSG_WAITALL)
        finally:
            theirs.close()
        if len(reply) != 4:
            ours.close()
            raise OSError("the zygote stopped")
        return ours, int.from_bytes(reply, "little")

    def close(self) -> None:
        """Stop forking; running workers finish on their own when their parent closes their socket."""
        self.control.close()
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
