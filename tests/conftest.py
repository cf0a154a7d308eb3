"""Data every test module shares; each fixture is built once per session."""

import numpy as np
import pytest
from sklearn.datasets import (
    load_diabetes,
    load_digits,
    make_classification,
    make_multilabel_classification,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def data():
    """300 x 10 standardised features, 3 classes: (X, y)."""
    X, y = make_classification(n_samples=300, n_features=10, n_informative=6, n_classes=3,
                               random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def binary():
    """200 x 6 standardised features, 2 classes: (X, y)."""
    X, y = make_classification(n_samples=200, n_features=6, n_informative=4, random_state=1)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def multilabel():
    """150 x 10 features, 4 labels as an indicator matrix: (X, Y)."""
    X, Y = make_multilabel_classification(n_samples=150, n_features=10, n_classes=4,
                                          random_state=0)
    return StandardScaler().fit_transform(X), Y


@pytest.fixture(scope="session")
def imbalanced():
    """7%-minority binary problem, split: (X_train, X_test, y_train, y_test)."""
    X, y = make_classification(n_samples=600, n_features=10, n_informative=4,
                               weights=[0.93, 0.07], flip_y=0.02, class_sep=0.6, random_state=1)
    return train_test_split(StandardScaler().fit_transform(X), y, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def digits_split():
    """Digits, standardised on the training part: (X_train, X_test, y_train, y_test)."""
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


@pytest.fixture(scope="session")
def regression():
    """Diabetes, standardised features and target: (X, y)."""
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
