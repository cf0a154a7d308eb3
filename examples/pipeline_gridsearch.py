"""Tune skmlp inside a Pipeline with GridSearchCV, then cross-validate the winner.

Exactly what one writes for MLPClassifier: only the import differs.

    python examples/pipeline_gridsearch.py
"""

import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import MLPClassifierFromScratch

warnings.simplefilter("ignore", ConvergenceWarning)  # short max_iter, on purpose: speed

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipe = Pipeline([("scale", StandardScaler()),
                 ("mlp", MLPClassifierFromScratch(max_iter=100, random_state=0))])
grid = {
    "mlp__hidden_layer_sizes": [(32,), (64, 32)],
    "mlp__alpha": [1e-4, 1e-2],
    "mlp__dropout": [0.0, 0.2],  # a parameter MLPClassifier does not have
}
search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.4f}")
print(f"test accuracy of the refitted best pipeline: {search.score(X_test, y_test):.4f}")
scores = cross_val_score(search.best_estimator_, X, y, cv=5)
print(f"5-fold accuracy of the best pipeline on all data: "
      f"{scores.mean():.4f} +- {scores.std():.4f}")
