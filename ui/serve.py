"""Start the app for a class: warm up once, fork the workers' zygote, then run Streamlit in this process.

    python -m ui.serve [streamlit run options, e.g. --server.port 8501]

With FMLAB_RAY_ADDRESS set, runs go to that Ray cluster instead (fmlab.cluster) and no zygote starts.

Plain `streamlit run app.py` works too, but then the server and the zygote each import torch
and every demo on their own. Here the server imports them once, *before* Streamlit starts
its threads, and forks the zygote from itself: server, zygote and every worker then share
those pages copy-on-write, and the first page needs no import at all.
"""
from __future__ import annotations

import sys

from fmlab import registry
from fmlab.cluster import Cluster, ClusterUnreachable
from fmlab.zygote import Zygote

from .shell import ROOT, cluster_address


def main(argv: list[str]) -> None:
    registry.demos()  # torch and every demo: the server needs their declarations, the workers their code
    if address := cluster_address():  # runs go to a Ray cluster: no local workers; a wrong address stops here
        try:
            Cluster.connect(address)
        except ClusterUnreachable as error:
            sys.exit(f"fmlab: {error.text.en}\n{error.text.zh}")
    else:
        Zygote.fork_here().handover()  # still one thread here: safe to fork
    from streamlit.web import cli

    cli.main(["run", str(ROOT / "app.py"), *argv], prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
