"""Every example runs, and says what it should.

Each runs in a subprocess (a fresh interpreter, as a user runs it), which pays Python's,
scikit-learn's and numba's start-up; those taking several seconds on a quiet 2-core
machine are marked ``slow`` (``make test`` runs them, ``make test-fast`` does not).
"""

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


@pytest.mark.slow  # ~5.5 s: trains both estimators on digits to convergence
def test_compare_with_sklearn_shows_the_same_model_and_saves_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("compare_with_sklearn.py", tmp_path)
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("skmlp ", "scikit-learn ")) and len(line.split()) == 5}
    assert rows["skmlp"][1] == rows["scikit-learn"][1]  # accuracy
    assert rows["skmlp"][3] == rows["scikit-learn"][3]  # epochs
    assert "identical predictions: True" in out
    assert "fit time / scikit-learn fit time" in out
    assert (tmp_path / "compare_with_sklearn.png").stat().st_size > 10_000


@pytest.mark.slow  # ~3.7 s: a cross-validated grid search
def test_pipeline_gridsearch(tmp_path):
    out = run("pipeline_gridsearch.py", tmp_path)
    assert "best parameters" in out
    cv = float(out.split("best cross-validated accuracy:")[1].split()[0])
    assert cv > 0.95


def test_text_classification_on_sparse_tfidf(tmp_path):
    out = run("text_classification.py", tmp_path)
    assert "csr_matrix" in out
    assert float(out.split("test accuracy:")[1].split()[0]) > 0.9
    assert "-> space" in out and "-> cooking" in out


def test_out_of_core_learns_from_chunks(tmp_path):
    out = run("out_of_core.py", tmp_path)
    accuracies = [float(line.split("accuracy")[1]) for line in out.splitlines()
                  if line.startswith("pass")]
    assert len(accuracies) == 2 and accuracies[-1] > 0.85


@pytest.mark.slow
def test_distributed_search_example(tmp_path):
    """The one Dask test: GridSearchCV on a two-worker cluster scores as the local run."""
    pytest.importorskip("distributed")
    out = run("distributed_search.py", tmp_path)
    assert "ran on 2 Dask workers" in out
    assert "same scores as the local run: True" in out


def test_regression_matches_mlpregressor(tmp_path):
    out = run("regression.py", tmp_path)
    rows = [line.split() for line in out.splitlines()
            if line.startswith(("squared_error", "poisson")) and len(line.split()) == 5]
    assert len(rows) == 4
    for ours, theirs in zip(rows[::2], rows[1::2]):
        assert ours[2] == theirs[2] and ours[4] == theirs[4]  # R^2 and epochs
        assert float(ours[2]) > 0.3
    assert out.count("largest weight difference") == 2
