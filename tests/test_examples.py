"""Every example runs, and says what it should."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                            text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_from_scratch_learns_digits(tmp_path):
    out = run("from_scratch.py", tmp_path)
    final_accuracy = float(out.strip().splitlines()[-1].split()[-1])
    assert final_accuracy > 0.95


def test_compare_with_sklearn_prints_table_and_saves_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = EXAMPLES / "compare_with_sklearn.png"
    png.unlink(missing_ok=True)
    out = run("compare_with_sklearn.py", tmp_path)
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("skmlp ", "scikit-learn ")) and len(line.split()) == 5}
    assert float(rows["skmlp"][1]) >= float(rows["scikit-learn"][1]) - 0.01
    assert "fit time / scikit-learn fit time" in out
    assert png.stat().st_size > 10_000
