"""Categorical columns of a pandas DataFrame, one-hot encoded inside the tabular estimators.

``TabularMLPClassifier(categorical_features="from_dtype")`` (the default) accepts a
DataFrame whose categorical columns have not been encoded: the columns of ``category``
or string dtype, and object columns that hold anything but numbers, are one-hot
encoded (unknown categories at prediction: all zeros, as
``OneHotEncoder(handle_unknown="ignore")``; a missing value is a category of its own),
the other columns pass through raw, and the network sees the encoded matrix. It is what
the recommended ``ColumnTransformer`` does, done where the user cannot forget it.
scikit-learn's HistGradientBoosting also reads categorical columns from the dtype, but
only ``category`` columns, which it bins itself; here string and object columns count
too, since an MLP needs numbers and one-hot codes are what the benchmark measured.
pandas only (a polars DataFrame is used as an array). The encoding is scikit-learn's
(``ColumnTransformer``, ``OneHotEncoder``): the choice of columns and the handling of
pandas' missing values are ours.
"""

import numpy as np

#: More distinct values than this in one column is an error, as in HistGradientBoosting
#: (its ``max_bins``): an identifier-like column would become thousands of dense inputs.
MAX_CATEGORIES = 255

#: What ``pandas.api.types.infer_dtype`` says of an object column of numbers (these pass
#: through as numbers, as they did before the encoding existed). An object column of
#: missing values only ("empty") is categorical: one category, the missing value.
_NUMERIC_KINDS = {"integer", "floating", "mixed-integer-float", "decimal", "boolean",
                  "complex"}


def categorical_columns(X):
    """Positions of the columns of ``X`` to one-hot encode.

    Parameters
    ----------
    X : object
        The ``X`` given to ``fit``.

    Returns
    -------
    positions : list of int
        For a pandas DataFrame, its ``category`` and string columns and the object
        columns that hold anything but numbers (``pandas.api.types.infer_dtype``), in
        order; empty for anything else (arrays, sparse matrices, numeric DataFrames).
        Positions, not labels: integer column labels would read as positions.
    """
    if not hasattr(X, "select_dtypes"):  # not a pandas DataFrame
        return []
    import pandas as pd  # loaded already: X is a DataFrame

    positions = []
    for j, (_, column) in enumerate(X.items()):
        dtype = column.dtype
        if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)) or (
                pd.api.types.is_object_dtype(dtype)
                and pd.api.types.infer_dtype(column, skipna=True) not in _NUMERIC_KINDS):
            positions.append(j)
    return positions


def value_kind(column):
    """"numbers", "strings" or None (only missing values): what a column holds, to tell
    whether prediction rows hold what the fit saw. ``category`` columns by their
    categories; anything neither numeric nor boolean counts as strings."""
    import pandas as pd

    dtype = column.dtype
    if not column.notna().any():
        return None
    if isinstance(dtype, pd.CategoricalDtype):  # what its categories hold
        return value_kind(pd.Series(dtype.categories))
    if pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(column, skipna=True)
        return "numbers" if kind in _NUMERIC_KINDS else "strings"
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return "numbers"
    return "strings"


def converts_to_numbers(column):
    """Whether every non-missing value of ``column`` reads as a number (``"1.5"`` does),
    as ``check_array`` would convert it."""
    import pandas as pd

    values = column.dropna().astype(object)
    return bool(pd.to_numeric(values, errors="coerce").notna().all())


def check_no_dates(X):
    """``ValueError`` naming the date and time columns of a pandas DataFrame ``X`` (which
    neither the network nor the one-hot encoding can read) instead of numpy's
    ``TypeError``; anything else passes."""
    if not hasattr(X, "select_dtypes"):
        return
    import pandas as pd

    dates = [str(name) for name, dtype in X.dtypes.items()
             if pd.api.types.is_datetime64_any_dtype(dtype)
             or pd.api.types.is_timedelta64_dtype(dtype)
             or isinstance(dtype, pd.PeriodDtype)]
    if dates:
        raise ValueError(
            f"X has date or time columns ({', '.join(dates)}): convert them to numbers "
            "(e.g. days since a date, or the year and month as columns) or drop them."
        )


def column_names(X, positions):
    """The labels of ``X``'s columns at ``positions``, for messages."""
    return ", ".join(str(X.columns[j]) for j in positions)


def encodable(X, positions):
    """``X`` with its missing values where the encoder and ``check_array`` expect them.

    Used on every DataFrame, with or without categorical columns. The categorical
    columns (but ``category`` ones, whose missing values are NaN already) become object
    columns with ``np.nan`` for ``None`` and ``pd.NA``, which ``OneHotEncoder`` reads as
    one more category; numeric extension columns (``Int64``, ``Float64``, ``boolean``)
    become float64, and object columns get ``np.nan`` for ``pd.NA``: missing numbers the
    estimator's ``check_array`` then reports. A shallow copy: ``X`` is not modified.
    Anything but a pandas DataFrame is returned as it is.

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_samples, n_features)
    positions : list of int
        The categorical columns, from :func:`categorical_columns`.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, n_features)
    """
    if not hasattr(X, "select_dtypes"):
        return X
    import pandas as pd

    X = X.copy(deep=False)
    categorical = set(positions)
    for j in range(X.shape[1]):
        column = X.iloc[:, j]
        dtype = column.dtype
        if j in categorical:
            if not isinstance(dtype, pd.CategoricalDtype):
                X.isetitem(j, column.astype(object).where(column.notna(), np.nan))
        elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and (
                pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            X.isetitem(j, column.astype(np.float64))
        elif pd.api.types.is_object_dtype(dtype):
            X.isetitem(j, column.where(column.notna(), np.nan))
    return X


def fit_encoder(X, positions):
    """A fitted transformer from ``X`` (a DataFrame) to a float64 matrix: the one-hot
    codes of the columns at ``positions`` first, then the other columns unchanged.

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_samples, n_features)
    positions : list of int
        Non-empty, from :func:`categorical_columns`.

    Returns
    -------
    encoder : sklearn.compose.ColumnTransformer
        Fitted on ``X``; :func:`encode` gives shape (n_samples, n_encoded).

    Raises
    ------
    ValueError
        If the columns cannot be encoded (say, strings mixed with numbers), or one has
        more than ``MAX_CATEGORIES`` distinct values.
    """
    import pandas as pd
    from sklearn.compose import ColumnTransformer  # here: a fit on arrays does not load it
    from sklearn.preprocessing import OneHotEncoder

    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
    encoder = ColumnTransformer([("onehot", onehot, list(positions))], remainder="passthrough",
                                sparse_threshold=0.0)
    # arrays whatever sklearn.set_config(transform_output=...) says: pandas output would
    # need unique names for the one-hot columns, which categories like "nan" break
    encoder.set_output(transform="default")
    try:
        encoder.fit(encodable(X, positions))
    except (TypeError, ValueError) as e:  # e.g. a column mixing strings and numbers
        raise ValueError(f"The categorical columns ({column_names(X, positions)}) of X could "
                         f"not be one-hot encoded: {e}") from None
    for j, categories in zip(positions, encoder.named_transformers_["onehot"].categories_,
                             strict=True):
        n = int(np.count_nonzero(~pd.isna(categories)))
        if n > MAX_CATEGORIES:
            raise ValueError(
                f"The categorical column {X.columns[j]!r} of X has {n} distinct values "
                f"(missing values aside), more than {MAX_CATEGORIES}: one-hot encoded it "
                f"would be {len(categories)} inputs. Encode it yourself (e.g. "
                "OneHotEncoder(max_categories=...) or TargetEncoder in a ColumnTransformer) "
                "or drop it."
            )
    return encoder


def encode(encoder, X):
    """``X`` (a DataFrame with the fitted columns) through the fitted ``encoder``: ndarray
    of shape (n_samples, n_encoded). ``ValueError`` if a column cannot be encoded."""
    positions = encoder.transformers_[0][2]
    # numbers where the fit saw strings (or the reverse) would all be unknown categories:
    # all zeros, silently
    for j, categories in zip(positions, encoder.named_transformers_["onehot"].categories_,
                             strict=True):
        fitted = value_kind(_categories_column(categories))
        now = value_kind(X.iloc[:, j])
        if now is not None and fitted is not None and now != fitted:
            raise ValueError(
                f"The categorical column {X.columns[j]!r} of X held {fitted} in fit and "
                f"holds {now} now: give it the values and dtype it had."
            )
    try:
        return encoder.transform(encodable(X, positions))
    except TypeError as e:  # e.g. numbers where the categories were strings
        raise ValueError(f"The categorical columns ({column_names(X, positions)}) of X could "
                         f"not be one-hot encoded: {e}") from None


def _categories_column(categories):
    """A fitted encoder's categories of one column, as a pandas Series (for
    :func:`value_kind`)."""
    import pandas as pd

    return pd.Series(categories, dtype=categories.dtype)
