"""Exporting a trained model: torch.export and ONNX files, reloaded, run and checked against eager.

An export is a graph of operators plus the weights, saved to a file that runs without the Python
class that built it. The functions here write and reload such files (`export_program`,
`save_and_load`, `onnx_file`, `onnx_runner`), compare outputs (`max_abs_diff`), try other batch
sizes (`accepts`) and run an ONNX file in a fresh interpreter that never imports torch
(`standalone_outputs`). torch.export, onnx, onnxscript and onnxruntime load only when called.
"""
from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

Runner = Callable[[Tensor], Tensor]  # (B, 64) -> (B, 10), whatever runs the graph
INPUT, OUTPUT = "input", "logits"  # the ONNX graph's input and output names


def batch_dims(dynamic: bool) -> tuple | None:
    """`dynamic_shapes` for one input whose dim 0 is the batch: a named `Dim`, or None (every size baked in)."""
    return ({0: torch.export.Dim("batch")},) if dynamic else None


def export_program(model: nn.Module, example: Tensor, dynamic: bool) -> torch.export.ExportedProgram:
    """torch.export of an eval-mode model on `example` (B, ...); without `dynamic`, B is specialised."""
    return torch.export.export(model.eval(), (example,), dynamic_shapes=batch_dims(dynamic))


def save_and_load(program: torch.export.ExportedProgram, path: Path) -> nn.Module:
    """Write the program to a .pt2 file and read it back as a callable module."""
    torch.export.save(program, path)
    return torch.export.load(path).module()


def onnx_file(program: torch.export.ExportedProgram, path: Path) -> Path:
    """The program translated to ONNX by torch.onnx.export's dynamo exporter, as one .onnx file.

    Passing the ExportedProgram (rather than the module) reuses its graph and its dynamic dims: the
    dynamo exporter is torch.export followed by this translation. Its progress lines are kept off stdout."""
    with contextlib.redirect_stdout(io.StringIO()):
        torch.onnx.export(program, (), path, dynamo=True, input_names=[INPUT], output_names=[OUTPUT],
                          external_data=False, verbose=False)
    return path


def onnx_runner(path: Path, threads: int = 1) -> Runner:
    """An ONNX Runtime session on the CPU: numpy in, a LIST of outputs back, of which we take the first."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads  # like torch's one thread here
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda X: torch.from_numpy(session.run(None, {INPUT: X.cpu().numpy()})[0])


def torch_runner(model: nn.Module) -> Runner:
    """A torch module (the eager model, or a reloaded .pt2) called under inference_mode."""
    def run(X: Tensor) -> Tensor:
        with torch.inference_mode():
            return model(X)
    return run


def max_abs_diff(a: Tensor, b: Tensor) -> float:
    """max |a − b| over every element: the parity check of an export (0 for identical outputs)."""
    return (a.float() - b.float()).abs().max().item()


def refusal(run: Runner, X: Tensor) -> Exception | None:
    """None when `run` handles the batch X with one output row per input; else the error it raised."""
    try:
        out = run(X)
    except Exception as error:  # a failed shape guard: AssertionError (torch.export), InvalidArgument (ONNX Runtime)
        return error
    return None if out.shape[0] == X.shape[0] else ValueError(f"{out.shape[0]} output rows for {X.shape[0]} inputs")


def one_line(error: Exception, limit: int = 160) -> str:
    """"Class: message" on one line, cut at a word boundary before `limit` characters."""
    text = f"{type(error).__name__}: {' '.join(str(error).split())}"
    return text if len(text) <= limit else text[:limit - 2].rsplit(" ", 1)[0] + " …"


def file_bytes(path: Path) -> int:
    """Size on disk of an exported file, with its external-data sidecar if one was written."""
    sidecar = path.with_name(path.name + ".data")
    return path.stat().st_size + (sidecar.stat().st_size if sidecar.exists() else 0)


STANDALONE = """
import json, sys
import numpy as np
import onnxruntime as ort
model, inputs, outputs = sys.argv[1:4]
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
np.save(outputs, session.run(None, {"input": np.load(inputs)})[0])
print(json.dumps({"torch": "torch" in sys.modules, "fmlab": "fmlab" in sys.modules}))
"""


def standalone_outputs(path: Path, X: Tensor, timeout: float = 60.0) -> tuple[Tensor, dict[str, bool]]:
    """Run the ONNX file on X in a fresh, isolated Python that imports only numpy and onnxruntime.

    Returns the outputs (B, K) and which of torch / fmlab that process had loaded (both False: the
    file stands alone)."""
    inputs, outputs = path.with_name("inputs.npy"), path.with_name("outputs.npy")
    np.save(inputs, X.cpu().numpy())
    done = subprocess.run([sys.executable, "-I", "-c", STANDALONE, str(path), str(inputs), str(outputs)],
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the standalone ONNX Runtime process failed: {done.stderr[-500:]}")
    return torch.from_numpy(np.load(outputs)), json.loads(done.stdout.strip().splitlines()[-1])
