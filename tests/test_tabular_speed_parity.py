"""The fast paths of the tabular network compute the same numbers as the plain ones.

``skmlp._embeddings.forward`` lays the periodic features out row-major when every small
product is matrix-matrix, and column-major (``_forward_by_column``) otherwise; the two
layouts must give bitwise the same output and gradients, so that the speed-up changes
no fitted number (tests/test_tabular_math.py checks the gradients themselves).
"""

import numpy as np
import pytest

from skmlp import _embeddings


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "k", "m", "e"), [
    (256, 20, 16, 3),  # the defaults' batch
    (7, 3, 2, 2),
    (2, 1, 16, 3),
    (5, 4, 3, 1),  # e = 1, m = 1, n = 1: matrix-vector products, the column layout only
    (5, 4, 1, 3),
    (1, 4, 16, 3),
])
def test_row_major_embedding_is_bitwise_the_column_major_one(n, k, m, e, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, k + 2)).astype(dtype)
    cols = rng.permutation(k + 2)[:k]
    p = {name: v.astype(dtype) for name, v in
         _embeddings.initialize(rng, k, m, e, sigma=0.5).items()}
    out, cache = _embeddings.forward(X, cols, p)
    out_col, cache_col = _embeddings._forward_by_column(X, cols, p)
    assert cache[3] == (n > 1 and m > 1 and e > 1)  # which layout the fast path took
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, out_col)
    G = rng.standard_normal(out.shape).astype(dtype)
    grads = {name: np.full_like(v, np.nan) for name, v in p.items()}
    grads_col = {name: np.full_like(v, np.nan) for name, v in p.items()}
    _embeddings.backward(G, cache, p, grads)
    _embeddings.backward(G, cache_col, p, grads_col)
    for name in p:
        assert np.isfinite(grads[name]).all(), name
        np.testing.assert_array_equal(grads[name], grads_col[name], err_msg=name)
