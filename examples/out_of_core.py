"""Train on data larger than memory: partial_fit over chunks of a memory-mapped file.

The data live in a file on disk (np.memmap); each step reads one chunk, so the
memory used is bounded by the chunk size, not by the data set. Here the file is
small enough to build in seconds, but nothing below depends on its size.

    python examples/out_of_core.py
"""

import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification

from skmlp import MLPClassifierFromScratch

n_samples, n_features, chunk = 200_000, 40, 10_000
workdir = Path(tempfile.mkdtemp())

# write the data set to disk, one chunk at a time (as it would arrive)
X_file = np.memmap(workdir / "X.f32", dtype=np.float32, mode="w+", shape=(n_samples, n_features))
y_file = np.memmap(workdir / "y.i8", dtype=np.int8, mode="w+", shape=(n_samples,))
for start in range(0, n_samples, chunk):
    X, y = make_classification(n_samples=chunk, n_features=n_features, n_informative=10,
                               n_classes=3, random_state=0, shuffle=True)
    noise = np.random.default_rng(start).normal(scale=0.1, size=X.shape)
    X_file[start : start + chunk], y_file[start : start + chunk] = X + noise, y
X_file.flush()
y_file.flush()
del X_file, y_file

# train: open read-only, feed chunks to partial_fit; classes must be given up front
X = np.memmap(workdir / "X.f32", dtype=np.float32, mode="r", shape=(n_samples, n_features))
y = np.memmap(workdir / "y.i8", dtype=np.int8, mode="r", shape=(n_samples,))
test = slice(n_samples - chunk, n_samples)  # the last chunk is held out
clf = MLPClassifierFromScratch((64,), learning_rate_init=0.003, random_state=0)
for epoch in range(2):
    for start in range(0, n_samples - chunk, chunk):
        clf.partial_fit(X[start : start + chunk], y[start : start + chunk], classes=[0, 1, 2])
    print(f"pass {epoch + 1}: loss {clf.loss_:.4f}, "
          f"held-out accuracy {clf.score(X[test], y[test]):.3f}")
print(f"{n_samples:,} samples on disk ({X.nbytes / 2**20:.0f} MiB), read {chunk:,} at a time "
      f"({chunk * n_features * 4 / 2**20:.1f} MiB)")
