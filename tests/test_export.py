"""fmlab.export: torch.export and ONNX files reproduce a hand-computed network, a static batch is baked in,
and the .onnx file runs in a process without torch."""
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from fmlab.export import (export_program, file_bytes, max_abs_diff, one_line, onnx_file, onnx_runner, refusal,
                          save_and_load, standalone_outputs, torch_runner)


def tiny_net() -> nn.Module:
    """Linear(2 -> 2) with hand-set weights, then ReLU: y = relu([[1, -1], [2, 0.5]] x + [0.5, -1])."""
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.5]]))
        net[0].bias.copy_(torch.tensor([0.5, -1.0]))
    return net.eval()


X = torch.arange(8, dtype=torch.float32).view(4, 2) - 3  # rows (-3, -2), (-1, 0), (1, 2), (3, 4)
# by hand: x1 - x2 + 0.5 and 2 x1 + 0.5 x2 - 1, then ReLU
EXPECTED = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 2.0], [0.0, 7.0]])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The tiny net exported from a batch of 2, with and without a dynamic batch, as .pt2 and .onnx."""
    folder = tmp_path_factory.mktemp("export")
    out = {}
    for dynamic in (True, False):
        tag = "dynamic" if dynamic else "static"
        program = export_program(tiny_net(), X[:2], dynamic)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):  # anything the exporter printed would land here
            out["pt2", dynamic] = torch_runner(save_and_load(program, folder / f"{tag}.pt2"))
            out["onnx", dynamic] = onnx_runner(onnx_file(program, folder / f"{tag}.onnx"))
        out["stdout", dynamic] = stdout.getvalue()
    out["folder"] = folder
    return out


def test_the_hand_computed_outputs():
    assert torch.equal(tiny_net()(X), EXPECTED)


@pytest.mark.parametrize("kind", ["pt2", "onnx"])
def test_reloaded_exports_reproduce_the_hand_computed_outputs(files, kind):
    assert max_abs_diff(files[kind, True](X), EXPECTED) < 1e-6
    assert files[kind, False](X[:2]).shape == (2, 2)  # the static export runs its own batch size


@pytest.mark.parametrize("kind, error", [("pt2", "AssertionError"), ("onnx", "InvalidArgument")])
def test_only_the_dynamic_export_takes_another_batch_size(files, kind, error):
    assert refusal(files[kind, True], X[:3]) is None and refusal(files[kind, True], X[:1]) is None
    refused = refusal(files[kind, False], X[:3])
    assert type(refused).__name__ == error
    assert one_line(refused).startswith(error + ": ") and "\n" not in one_line(refused)


def test_onnx_export_prints_nothing_and_writes_one_file(files):
    assert files["stdout", True] == "" and files["stdout", False] == ""
    folder = files["folder"]
    assert not (folder / "dynamic.onnx.data").exists()
    assert file_bytes(folder / "dynamic.onnx") == (folder / "dynamic.onnx").stat().st_size


def test_file_bytes_counts_the_external_data_sidecar(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"x" * 10)
    (tmp_path / "m.onnx.data").write_bytes(b"x" * 32)
    assert file_bytes(tmp_path / "m.onnx") == 42


def test_max_abs_diff_by_hand():
    assert max_abs_diff(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.5, -1.0]])) == 3.0


def test_refusal_of_a_runner_that_drops_rows():
    assert isinstance(refusal(lambda X: X[:1], X), ValueError)


def test_the_onnx_file_runs_in_a_process_without_torch(files):
    outputs, loaded = standalone_outputs(files["folder"] / "dynamic.onnx", X)
    assert loaded == {"torch": False, "fmlab": False}
    assert max_abs_diff(outputs, EXPECTED) < 1e-6


def test_importing_the_demo_loads_no_onnx_package():
    code = ("import sys, fmlab.demos.model_export; "
            "print([m for m in ('onnx', 'onnxruntime', 'onnxscript') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.stdout.strip() == "[]"
