"""Categorical columns of a pandas DataFrame, one-hot encoded inside the tabular estimators.

``TabularMLPClassifier(categorical_features="from_dtype")`` (the default) accepts a
DataFrame whose categorical, string or object columns have not been encoded: those
columns are one-hot encoded (unknown categories at prediction: all zeros, as
``OneHotEncoder(handle_unknown="ignore")``; a missing value is a category of its own),
the numerical columns pass through raw, and the network sees the encoded matrix. It is
what the recommended ``ColumnTransformer`` does, done where the user cannot forget it;
scikit-learn's HistGradientBoosting reads categorical columns from the dtype the same
way. The encoding is scikit-learn's (``ColumnTransformer``, ``OneHotEncoder``): only the
choice of columns is ours.
"""

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder


def categorical_columns(X):
    """Names of the columns of ``X`` to one-hot encode: the categorical, string and object
    columns of a pandas DataFrame; empty for anything else (arrays, sparse matrices,
    DataFrames of numbers).

    Parameters
    ----------
    X : object
        The ``X`` given to ``fit``.

    Returns
    -------
    columns : list
        Column labels of ``X``, in its order.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "select_dtypes"):  # not a pandas DataFrame
        return []
    import pandas as pd  # loaded already: X is a DataFrame

    # is_string_dtype is true for object columns too (numpy kinds "O", "S", "U")
    return [column for column, dtype in dtypes.items()
            if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)]


def fit_encoder(X, columns):
    """A fitted transformer from ``X`` (a DataFrame) to a float64 matrix: the one-hot
    codes of ``columns`` first, then the other columns unchanged.

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_samples, n_features)
    columns : list
        Non-empty, from :func:`categorical_columns`.

    Returns
    -------
    encoder : sklearn.compose.ColumnTransformer
        Fitted on ``X``; ``encoder.transform`` gives shape (n_samples, n_encoded).
    """
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
    encoder = ColumnTransformer([("onehot", onehot, columns)], remainder="passthrough",
                                sparse_threshold=0.0)
    try:
        encoder.fit(X)
    except TypeError as e:  # e.g. a column mixing strings and numbers
        raise ValueError(f"The categorical columns {list(columns)} of X could not be one-hot "
                         f"encoded: {e}") from None
    return encoder
