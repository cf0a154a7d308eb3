"""skmlp next to scikit-learn's MLPClassifier on digits: the same model, faster.

With the same parameters and ``random_state``, MLPClassifierFromScratch draws the same
initial weights and shuffles and applies the same updates as MLPClassifier, so the two
train the same network. This prints accuracy, epochs and fit time side by side, how far
apart the two models are, and (with matplotlib) saves both loss curves, which coincide,
to ``compare_with_sklearn.png`` in the working directory.

    python examples/compare_with_sklearn.py
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

ESTIMATORS = {"skmlp": MLPClassifierFromScratch, "scikit-learn": MLPClassifier}
params = {"random_state": 0}  # everything else: the defaults (adam, (100,), ...)


def fit_timed():
    """name -> (model, best fit time of 3); the two take turns, so that a busy machine
    slows both alike (and the first fit's one-off costs do not count)."""
    results = {name: (None, float("inf")) for name in ESTIMATORS}
    for _ in range(3):
        for name, cls in ESTIMATORS.items():
            start = time.perf_counter()
            model = cls(**params).fit(X_train, y_train)
            results[name] = (model, min(results[name][1], time.perf_counter() - start))
    return results


results = fit_timed()
stopped = {name: cls(**params, early_stopping=True).fit(X_train, y_train)
           for name, cls in ESTIMATORS.items()}

print(f"digits: {len(X_train)} training and {len(X_test)} test samples, default parameters\n")
print(f"{'':14s}{'accuracy':>10s}{'fit time':>11s}{'epochs':>8s}{'early-stopped acc.':>20s}")
for name, (model, seconds) in results.items():
    print(f"{name:14s}{model.score(X_test, y_test):10.4f}{seconds:10.3f}s{model.n_iter_:8d}"
          f"{stopped[name].score(X_test, y_test):20.4f}")

ours, theirs = results["skmlp"][0], results["scikit-learn"][0]
largest = max(np.abs(W).max() for W in theirs.coefs_ + theirs.intercepts_)
weights = max(np.abs(a - b).max() for a, b in zip(ours.coefs_ + ours.intercepts_,
                                                   theirs.coefs_ + theirs.intercepts_))
curves = np.abs(np.subtract(ours.loss_curve_, theirs.loss_curve_)).max()
print(f"\nsame model: largest weight difference {weights / largest:.1e} (relative), "
      f"loss curves {curves:.1e} apart, identical predictions: "
      f"{np.array_equal(ours.predict(X_test), theirs.predict(X_test))}")
ratio = results["skmlp"][1] / results["scikit-learn"][1]
print(f"skmlp fit time / scikit-learn fit time = {ratio:.2f}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(install matplotlib, the 'examples' extra, for the loss-curve plot)")
else:
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for (name, (model, _)), style in zip(results.items(), ["-", "--"]):
        ax_loss.plot(model.loss_curve_, style, label=name)
        ax_val.plot(stopped[name].validation_scores_, style, label=name)
    ax_loss.set(title="training loss: the curves coincide", xlabel="epoch",
                ylabel="cross-entropy + L2", yscale="log")
    ax_val.set(title="validation accuracy (early_stopping=True)", xlabel="epoch")
    for ax in (ax_loss, ax_val):
        ax.legend()
    fig.tight_layout()
    fig.savefig("compare_with_sklearn.png", dpi=100)
    print("loss curves saved to compare_with_sklearn.png")
