"""fmlab is plain PyTorch: importing it (and every demo) never pulls in streamlit; pages stay thin."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fmlab_never_imports_streamlit():
    code = ("import sys, fmlab, fmlab.cli, fmlab.bench, fmlab.jobs, fmlab.bank\n"
            "from fmlab import registry\nregistry.demos()\n"
            "assert 'streamlit' not in sys.modules, 'streamlit was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_importing_fmlab_does_no_work():
    code = "import sys, fmlab\nassert 'torch' not in sys.modules and 'fmlab.registry' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_declarations_leave_the_heavy_tools_unloaded():
    """The server imports every demo for its declaration; the tools a run needs load only when it runs."""
    heavy = ["onnx", "onnxruntime", "onnxscript", "opacus", "simpy", "ray"]
    code = ("import sys\nfrom fmlab import registry, bank\nregistry.demos(); bank.load()\n"
            f"loaded = [m for m in {heavy!r} if m in sys.modules]\nassert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_pages_are_thin():
    for page in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        tree = ast.parse(page.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert imported <= {"ui"}, f"{page.name} imports {imported - {'ui'}}"
        assert not any(isinstance(n, (ast.For, ast.While, ast.FunctionDef, ast.ClassDef)) for n in ast.walk(tree)), page


def imports_of(path: Path) -> set[str]:
    """Top-level names a module imports, with relative imports as ".name"."""
    tree = ast.parse(path.read_text())
    out = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    out |= {"." * node.level + (node.module or "") for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return out


def test_imports_run_one_way():
    """pages -> ui -> fmlab; inside ui: __init__ -> cards -> panel -> shell, never back."""
    for path in (ROOT / "fmlab").rglob("*.py"):
        assert not any(name == "ui" or name.startswith("ui.") for name in imports_of(path)), path
    order = ["shell", "panel", "cards"]
    for i, name in enumerate(order):
        later = {f".{m}" for m in order[i + 1:]} | {".", ".."}
        assert not imports_of(ROOT / "ui" / f"{name}.py") & later, f"ui/{name}.py imports a later ui module"
