"""skmlp's regressor next to scikit-learn's MLPRegressor on the diabetes data set.

Same parameters and ``random_state``: the same network, trained the same way. Prints
test R^2, epochs and fit time of both, and how far apart the two models are, for the
squared error and for the Poisson loss (the same targets: disease progression scores,
all positive).

    python examples/regression.py
"""

import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from skmlp import MLPRegressorFromScratch

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
scale = y_train.std()  # targets in units of their spread, as the inputs are

ESTIMATORS = {"skmlp": MLPRegressorFromScratch, "scikit-learn": MLPRegressor}
# a small, strongly regularised network: 331 noisy samples (a linear model reaches R^2 ~0.4)
params = {"hidden_layer_sizes": (10,), "solver": "lbfgs", "alpha": 10.0, "max_iter": 500,
          "random_state": 0}


def fit_timed(y_fit, **extra):
    """name -> (model, best fit time of 3); the two take turns, so that a busy machine
    slows both alike."""
    results = {name: (None, float("inf")) for name in ESTIMATORS}
    for _ in range(3):
        for name, cls in ESTIMATORS.items():
            start = time.perf_counter()
            model = cls(**params, **extra).fit(X_train, y_fit)
            results[name] = (model, min(results[name][1], time.perf_counter() - start))
    return results


print(f"diabetes: {len(X_train)} training and {len(X_test)} test samples\n")
print(f"{'loss':15s}{'':14s}{'test R^2':>10s}{'fit time':>11s}{'epochs':>8s}")
for loss in ("squared_error", "poisson"):
    y_fit = y_train / scale
    results = fit_timed(y_fit, loss=loss)
    for name, (model, seconds) in results.items():
        r2 = model.score(X_test, y_test / scale)
        print(f"{loss:15s}{name:14s}{r2:10.4f}{seconds:10.3f}s{model.n_iter_:8d}")
    ours, theirs = results["skmlp"][0], results["scikit-learn"][0]
    largest = max(np.abs(W).max() for W in theirs.coefs_ + theirs.intercepts_)
    weights = max(np.abs(a - b).max() for a, b in zip(ours.coefs_ + ours.intercepts_,
                                                       theirs.coefs_ + theirs.intercepts_))
    ratio = results["skmlp"][1] / results["scikit-learn"][1]
    print(f"{'':15s}largest weight difference {weights / largest:.1e} (relative), "
          f"fit time ratio {ratio:.2f}\n")
