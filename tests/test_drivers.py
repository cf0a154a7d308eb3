"""Pieces of the fit drivers (``skmlp._drivers``) against what they stand for."""

import numpy as np
import pytest
from sklearn.utils import shuffle

from skmlp._drivers import shuffled


@pytest.mark.parametrize("n", [1, 2, 7, 200, 1797])
@pytest.mark.parametrize("seed", [0, 42])
def test_shuffled_is_scikit_learns_shuffle(n, seed):
    """Epoch after epoch, from the same RandomState: the same permutation as
    ``sklearn.utils.shuffle`` (MLPClassifier's), of a running order and of a subset."""
    ours, theirs = np.random.RandomState(seed), np.random.RandomState(seed)
    a = b = np.arange(n)
    subset = np.random.RandomState(1).permutation(3 * n)[:n]  # early stopping's rows
    for _ in range(5):
        a, b = shuffled(a, ours), shuffle(b, random_state=theirs)
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(shuffled(subset, ours), shuffle(subset, random_state=theirs))
    assert ours.randint(1 << 30) == theirs.randint(1 << 30)  # the same draws were taken
    if n > 2:
        assert not np.array_equal(a, np.arange(n))  # it did shuffle
