"""skmlp next to scikit-learn's MLPClassifier on digits, same parameters.

Prints accuracy, fit time and epochs side by side, and, when matplotlib is
installed, saves both loss curves and validation scores to
``examples/compare_with_sklearn.png``.

    python examples/compare_with_sklearn.py
"""

import time
from pathlib import Path

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
params = {"hidden_layer_sizes": (100,), "random_state": 0}  # everything else: the defaults


def fit_timed(cls, **extra):
    best, model = float("inf"), None
    for _ in range(3):  # best of 3: the machine may be busy
        start = time.perf_counter()
        model = cls(**params, **extra).fit(X_train, y_train)
        best = min(best, time.perf_counter() - start)
    return model, best


results = {name: fit_timed(cls) for name, cls in ESTIMATORS.items()}
stopped = {name: fit_timed(cls, early_stopping=True)[0] for name, cls in ESTIMATORS.items()}

print(f"digits: {len(X_train)} training and {len(X_test)} test samples, "
      f"hidden_layer_sizes={params['hidden_layer_sizes']}, solver='adam'\n")
print(f"{'':14s}{'accuracy':>10s}{'fit time':>11s}{'epochs':>8s}"
      f"{'early-stopped acc.':>20s}")
for name, (model, seconds) in results.items():
    print(f"{name:14s}{model.score(X_test, y_test):10.4f}{seconds:10.3f}s{model.n_iter_:8d}"
          f"{stopped[name].score(X_test, y_test):20.4f}")
ratio = results["skmlp"][1] / results["scikit-learn"][1]
print(f"\nskmlp fit time / scikit-learn fit time = {ratio:.2f}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(install matplotlib, the 'examples' extra, for the loss-curve plot)")
else:
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (model, _) in results.items():
        ax_loss.plot(model.loss_curve_, label=name)
        ax_val.plot(stopped[name].validation_scores_, label=name)
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="cross-entropy + L2", yscale="log")
    ax_val.set(title="validation accuracy (early_stopping=True)", xlabel="epoch")
    for ax in (ax_loss, ax_val):
        ax.legend()
    path = Path(__file__).with_suffix(".png")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"loss curves saved to {path}")
