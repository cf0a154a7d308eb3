"""Input scaling fitted on the training data: robust scaling with smooth clipping.

Tabular columns come raw: counts, prices, one-hot indicators, heavy tails. RealMLP's
recipe (Holzmüller et al., 2024, Section 3) centres each column at its median, divides
it by its interquartile range (half its range where the IQR is 0, e.g. a one-hot
column that is mostly 0), and squashes outliers smoothly::

    x_s = (x - median) / iqr
    x_c = x_s / sqrt(1 + (x_s / 3)^2)

``x_c`` is ``x_s`` for small values and tends to ``+-3`` for large ones, so one extreme
row cannot dominate the first layer. A column constant on the training data maps to 0.
``"standard"`` (mean 0, variance 1, no clipping) is there for comparison.
"""

import numpy as np

SMOOTH_CLIP = 3.0


def fit_scaling(X, method="robust_smooth_clip"):
    """Per-column centre and factor of the scaling, from the training rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    method : {"robust_smooth_clip", "standard"}

    Returns
    -------
    center : ndarray of shape (n_features,), float64
    factor : ndarray of shape (n_features,), float64
        0 for constant columns.
    """
    X = np.asarray(X, dtype=np.float64)
    if method == "standard":
        center, spread = X.mean(axis=0), X.std(axis=0)
    else:
        center = np.median(X, axis=0)
        q25, q75 = np.quantile(X, [0.25, 0.75], axis=0)
        spread = q75 - q25
        flat = spread == 0
        spread[flat] = 0.5 * (X.max(axis=0)[flat] - X.min(axis=0)[flat])
    factor = np.zeros_like(spread)
    np.divide(1.0, spread, out=factor, where=spread > 0)
    return center, factor


def transform(X, center, factor, method="robust_smooth_clip", dtype=np.float64):
    """Scale (and smoothly clip) ``X`` with a fitted centre and factor.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    center, factor : ndarray of shape (n_features,)
    method : {"robust_smooth_clip", "standard"}
    dtype : numpy dtype
        Of the result (a new array).

    Returns
    -------
    X_scaled : ndarray of shape (n_samples, n_features)
    """
    Xs = (np.asarray(X, dtype=np.float64) - center) * factor
    if method == "robust_smooth_clip":
        Xs /= np.sqrt(1.0 + np.square(Xs / SMOOTH_CLIP))
    return Xs.astype(dtype, copy=False)
