"""The command line: list, run --json, and bilingual errors with a non-zero exit."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fmlab(*args):
    return subprocess.run([sys.executable, "-m", "fmlab", *args], cwd=ROOT, capture_output=True, text=True)


def test_list_names_every_demo():
    out = fmlab("list")
    assert out.returncode == 0
    for demo_id in ("optimizers", "residual-depth", "grad-cam"):
        assert demo_id in out.stdout


def test_run_json_with_overrides():
    out = fmlab("run", "optimizers", "--set", "optimizers=sgd,adam", "--set", "epochs=1",
                "--set", "surface_steps=10", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert {"demo", "config", "metrics", "verdict", "seconds"} <= set(result)
    assert result["config"]["optimizers"] == ["sgd", "adam"] and result["config"]["epochs"] == 1
    assert result["verdict"]["en"] and result["verdict"]["zh"]
    assert "%" in out.stderr  # progress went to stderr


def test_bad_setting_exits_non_zero_with_both_languages():
    out = fmlab("run", "optimizers", "--set", "lr=5")
    assert out.returncode == 2
    assert "outside the allowed range" in out.stderr and "超出允许范围" in out.stderr


def test_run_a_question_with_its_preset_and_an_override():
    out = fmlab("run", "--question", "deployment-reliability-monitoring", "--set", "epochs=2", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["demo"] == "drift-monitor" and result["config"]["epochs"] == 2
    assert "PSI" in result["verdict"]["en"] and "PSI" in result["verdict"]["zh"]


def test_an_unknown_question_is_a_bilingual_error():
    out = fmlab("run", "--question", "no-such-question")
    assert out.returncode == 2
    assert "unknown question" in out.stderr and "未知问题" in out.stderr
