"""Train on data larger than memory: partial_fit over chunks of a memory-mapped file.

The data live in a file on disk (np.memmap); each step reads one chunk, so the memory
used is bounded by the chunk size, not by the data set. Every chunk is a new draw from
one labelling rule (a fixed random two-layer "teacher"), and the accuracy is measured
on a separate draw that training never sees. The file is small enough to build in
seconds here, but nothing below depends on its size.

    python examples/out_of_core.py
"""

import tempfile
from pathlib import Path

import numpy as np

from skmlp import MLPClassifierFromScratch

n_samples, n_features, chunk, n_classes = 200_000, 40, 10_000, 3
teacher = np.random.default_rng(0)
A = teacher.normal(size=(n_features, 16)) / np.sqrt(n_features)
B = teacher.normal(size=(16, n_classes))


def draw(seed, n):
    """``n`` samples from the teacher's rule, from the generator ``seed``."""
    X = np.random.default_rng(seed).normal(size=(n, n_features)).astype(np.float32)
    return X, np.argmax(np.tanh(X @ A) @ B, axis=1).astype(np.int8)


workdir = Path(tempfile.mkdtemp())
# write the data set to disk, one chunk at a time (as it would arrive)
X_file = np.memmap(workdir / "X.f32", dtype=np.float32, mode="w+", shape=(n_samples, n_features))
y_file = np.memmap(workdir / "y.i8", dtype=np.int8, mode="w+", shape=(n_samples,))
for i, start in enumerate(range(0, n_samples, chunk)):
    X_file[start : start + chunk], y_file[start : start + chunk] = draw(1 + i, chunk)
X_file.flush()
y_file.flush()
del X_file, y_file
X_test, y_test = draw(10_000, 20_000)  # held out: a draw of its own

# train: open read-only, feed chunks to partial_fit; classes must be given up front
X = np.memmap(workdir / "X.f32", dtype=np.float32, mode="r", shape=(n_samples, n_features))
y = np.memmap(workdir / "y.i8", dtype=np.int8, mode="r", shape=(n_samples,))
clf = MLPClassifierFromScratch((64,), learning_rate_init=0.003, random_state=0)
for epoch in range(2):
    for start in range(0, n_samples, chunk):
        clf.partial_fit(X[start : start + chunk], y[start : start + chunk], classes=[0, 1, 2])
    print(f"pass {epoch + 1}: loss {clf.loss_:.4f}, "
          f"held-out accuracy {clf.score(X_test, y_test):.3f}")
print(f"{n_samples:,} samples on disk ({X.nbytes / 2**20:.0f} MiB), read {chunk:,} at a time "
      f"({chunk * n_features * 4 / 2**20:.1f} MiB)")
