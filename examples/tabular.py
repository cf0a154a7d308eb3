"""TabularMLPClassifier / TabularMLPRegressor next to MLPClassifier / MLPRegressor defaults.

The tabular estimators take the raw numeric matrix (no StandardScaler: they scale
robustly themselves) and bring a modern recipe as their defaults: periodic embeddings
of the numerical columns, a learnable feature scale, SELU/Mish, Adam with a cyclic
schedule, label smoothing, a moving average of the weights and the best epoch on a
validation split. scikit-learn's MLPs get what a user would give them: a
StandardScaler in a pipeline, and their defaults.

Last, the same regressor on diabetes as a pandas DataFrame whose ``sex`` column is
categorical: the tabular estimators one-hot encode such columns themselves
(``categorical_features="from_dtype"``), so a DataFrame goes in as it is.

    python examples/tabular.py
"""

import time
import warnings

from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmlp import TabularMLPClassifier, TabularMLPRegressor

TASKS = [
    ("digits", load_digits, TabularMLPClassifier, MLPClassifier, "accuracy"),
    ("diabetes", load_diabetes, TabularMLPRegressor, MLPRegressor, "R^2"),
]

print(f"{'data set':14s} {'model':22s} {'test score':>10s} {'fit s':>6s}")
for name, load, Tabular, Sklearn, metric in TASKS:
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    models = {
        Tabular.__name__: Tabular(random_state=0),  # raw features: it scales them itself
        Sklearn.__name__: make_pipeline(StandardScaler(), Sklearn(random_state=0)),
    }
    for label, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            # MLPRegressor's defaults stop at max_iter=200 before converging here
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        print(f"{name:14s} {label:22s} {model.score(X_test, y_test):10.4f} {seconds:6.2f}"
              f"  ({metric})")

reg = models[TabularMLPRegressor.__name__]
print(f"\nTabularMLPRegressor kept epoch {reg.best_epoch_} of {reg.n_iter_} (best validation "
      f"R^2 {reg.best_validation_score_:.3f}); periodic embeddings for "
      f"{len(reg.embedded_columns_)} of {reg.n_features_in_} columns")

# a DataFrame with a categorical column, as it comes (pandas needed: the examples extra)
frame = load_diabetes(as_frame=True, scaled=False).frame
frame["sex"] = frame["sex"].map({1.0: "1", 2.0: "2"}).astype("category")
X_train, X_test, y_train, y_test = train_test_split(
    frame.drop(columns="target"), frame["target"], test_size=0.3, random_state=0)
reg = TabularMLPRegressor(random_state=0).fit(X_train, y_train)
encoded = reg.categorical_encoder_.get_feature_names_out()
print(f"\ndiabetes_df    TabularMLPRegressor    {reg.score(X_test, y_test):10.4f}  (R^2; "
      f"{len(X_train.columns)} columns in, {len(encoded)} to the network: "
      f"{', '.join(name for name in encoded if 'sex' in name)})")
