"""``categorical_features="from_dtype"``: a pandas DataFrame's categorical, string and object
columns are one-hot encoded inside the tabular estimators.

The reference is the pipeline the README recommends, written by hand: a
``ColumnTransformer`` with ``OneHotEncoder(handle_unknown="ignore")`` on those columns and
the others passed through, then the estimator on the encoded array. Fitting on the
DataFrame must train that very model, bit for bit.
"""

import pickle

import numpy as np
import pytest
from _support import scored_epochs
from sklearn.base import clone
from sklearn.callback import ScoringMonitor
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils._param_validation import InvalidParameterError

from skmlp import TabularMLPClassifier, TabularMLPRegressor

pd = pytest.importorskip("pandas")

SMALL = {"hidden_layer_sizes": (16, 16), "max_iter": 4, "batch_size": 32, "random_state": 0}
CATEGORICAL = ["colour", "city", "size"]


def frame(n, seed=0):
    """Numbers, a pandas categorical, an object and a string column, and two targets."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "x": rng.normal(size=n),
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "count": rng.integers(0, 20, n),
        "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], n).astype(object),
        "size": pd.array(rng.choice(["S", "M", "L"], n), dtype="string"),
    })
    y_class = np.where((df["x"] > 0) ^ (df["colour"] == "red"), "yes", "no")
    y_reg = df["x"] * 2 + (df["city"] == "Lima") * 3 + df["count"] / 10
    return df, y_class, y_reg.to_numpy()


def by_hand(df):
    """The reference encoding: what a user's ColumnTransformer computes."""
    encoder = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL)],
        remainder="passthrough", sparse_threshold=0.0)
    return encoder.fit(df)


@pytest.fixture(scope="module")
def data():
    return frame(240)


@pytest.mark.parametrize("Est", [TabularMLPClassifier, TabularMLPRegressor])
def test_a_dataframe_trains_the_model_of_the_encoded_array(data, Est):
    df, y_class, y_reg = data
    y = y_class if Est is TabularMLPClassifier else y_reg
    est = Est(**SMALL).fit(df, y)
    encoder = by_hand(df)
    reference = Est(**SMALL).fit(encoder.transform(df), y)
    np.testing.assert_array_equal(est.network_.params, reference.network_.params)
    np.testing.assert_array_equal(est.input_center_, reference.input_center_)
    assert est.n_features_in_ == 5 and est.input_center_.shape == (3 + 4 + 3 + 2,)
    assert list(est.feature_names_in_) == list(df.columns)
    new, *_ = frame(30, seed=1)
    np.testing.assert_array_equal(est.predict(new), reference.predict(encoder.transform(new)))


def test_unknown_categories_and_missing_values(data):
    """An unseen category encodes as all zeros, a missing value as a category of its own:
    as the reference's ``handle_unknown="ignore"``."""
    df, y, _ = data
    df = df.copy()
    df["city"] = df["city"].where(np.arange(len(df)) % 7 != 0, None)  # missing values
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    encoder = by_hand(df)
    assert any(pd.isna(c) for c in encoder.named_transformers_["onehot"].categories_[1])
    reference = TabularMLPClassifier(**SMALL).fit(encoder.transform(df), y)
    new = df.iloc[:6].copy()
    new["city"] = ["Quito", None, "Oslo", "Quito", "Lima", None]
    new["colour"] = new["colour"].cat.add_categories(["mauve"])
    new.loc[new.index[0], "colour"] = "mauve"
    np.testing.assert_array_equal(clf.predict_proba(new),
                                  reference.predict_proba(encoder.transform(new)))


def test_validation_data_is_encoded_too(data):
    df, y, _ = data
    clf = TabularMLPClassifier(**SMALL).fit(df[:200], y[:200], X_val=df[200:], y_val=y[200:])
    encoder = by_hand(df[:200])
    reference = TabularMLPClassifier(**SMALL).fit(
        encoder.transform(df[:200]), y[:200], X_val=encoder.transform(df[200:]), y_val=y[200:])
    assert clf.validation_scores_ == reference.validation_scores_
    np.testing.assert_array_equal(clf.network_.params, reference.network_.params)


def test_numeric_input_is_not_encoded(data):
    df, y, _ = data
    numeric = df[["x", "count"]]
    clf = TabularMLPClassifier(**SMALL).fit(numeric, y)
    assert clf.categorical_encoder_ is None
    reference = TabularMLPClassifier(**SMALL).fit(numeric.to_numpy(dtype=float), y)
    np.testing.assert_array_equal(clf.network_.params, reference.network_.params)
    # a later fit on arrays forgets an earlier fit's encoder
    clf.fit(df, y)
    assert clf.categorical_encoder_ is not None
    clf.fit(numeric.to_numpy(dtype=float), y)
    assert clf.categorical_encoder_ is None


def test_prediction_needs_the_fitted_columns(data):
    df, y, _ = data
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    with pytest.raises(ValueError, match=r"categorical columns \(colour, city, size\).*"
                                         r"must be a DataFrame with the same columns"):
        clf.predict(df.to_numpy())
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[df.columns[::-1]])
    with pytest.raises(ValueError, match="X_val: .*must be a DataFrame"):
        TabularMLPClassifier(**SMALL).fit(df, y, X_val=df.to_numpy(), y_val=y)


def test_errors_name_the_columns(data):
    df, y, _ = data
    with pytest.raises(ValueError, match=r"X has non-numeric columns \(colour, city, size\) and "
                                         r"categorical_features=None"):
        TabularMLPClassifier(**SMALL, categorical_features=None).fit(df, y)
    mixed = df.assign(city=df["city"].where(np.arange(len(df)) % 2 == 0, 3))
    with pytest.raises(ValueError, match=r"could not be one-hot encoded"):
        TabularMLPClassifier(**SMALL).fit(mixed, y)
    with pytest.raises(InvalidParameterError, match="categorical_features"):
        TabularMLPClassifier(categorical_features="yes").fit(df, y)


def test_a_failed_fit_keeps_the_earlier_encoder(data):
    df, y, _ = data
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    encoder, params = clf.categorical_encoder_, clf.network_.params.copy()
    with pytest.raises(ValueError, match="Found input variables with inconsistent"):
        clf.fit(df[["x", "colour"]], y[:10])
    assert clf.categorical_encoder_ is encoder and clf.n_features_in_ == 5
    np.testing.assert_array_equal(clf.network_.params, params)


def test_pickle_clone_and_cross_validation(data):
    df, y, _ = data
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(df), clf.predict_proba(df))
    assert clone(clf).get_params()["categorical_features"] == "from_dtype"
    scores = cross_val_score(TabularMLPClassifier(**SMALL), df, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_skops_round_trip_trusts_only_skmlps_types(data, tmp_path):
    """The encoder is scikit-learn's, which skops trusts: only skmlp's two types (and
    none of pandas') need the user's trust, as without categorical columns."""
    sio = pytest.importorskip("skops.io")
    df, y, _ = data
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    path = tmp_path / "model.skops"
    sio.dump(clf, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= {"skmlp._tabular.TabularMLPClassifier",
                              "skmlp._tabular_net.TabularNet"}
    restored = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(restored.predict_proba(df), clf.predict_proba(df))


def test_a_scoring_callback_scores_the_dataframes_rows(data):
    """The callbacks' fitted_estimator keeps the encoder, so it is given the DataFrame's
    rows (the training part, then all of them for the refit), not the encoded array."""
    df, y, _ = data
    monitor = ScoringMonitor(scoring="accuracy")
    clf = TabularMLPClassifier(**SMALL).set_callbacks(monitor).fit(df, y)
    epochs = scored_epochs(monitor)
    assert len(epochs) == SMALL["max_iter"] + clf.best_epoch_  # the refit's epochs last
    assert epochs[-1]["accuracy"] == pytest.approx(clf.score(df, y))


def test_integer_column_labels_are_labels_not_positions():
    """Column 0 is the categorical one whatever the labels say: with labels [1, 0] the
    model is the one of the same data labelled ["a", "b"]."""
    df, y, _ = frame(120)
    named = pd.DataFrame({"a": df["colour"], "b": df["x"]})
    labelled = named.set_axis([1, 0], axis=1)
    reference = TabularMLPClassifier(**SMALL).fit(named, y)
    clf = TabularMLPClassifier(**SMALL).fit(labelled, y)
    assert clf.input_center_.shape == (3 + 1,)
    np.testing.assert_array_equal(clf.network_.params, reference.network_.params)
    with pytest.raises(ValueError, match=r"categorical columns \(at positions 0\)"):
        clf.predict(labelled.to_numpy())


def test_object_columns_of_numbers_stay_numbers():
    """An object column that holds only numbers (and missing values are not among them)
    passes through as a number, as before the encoding existed."""
    df, y, _ = frame(120)
    numbers = pd.DataFrame({"x": df["x"], "count": df["count"].astype(object)})
    clf = TabularMLPClassifier(**SMALL).fit(numbers, y)
    assert clf.categorical_encoder_ is None and clf.input_center_.shape == (2,)
    reference = TabularMLPClassifier(**SMALL).fit(numbers.to_numpy(dtype=float), y)
    np.testing.assert_array_equal(clf.network_.params, reference.network_.params)
    # with categorical_features=None, a category column of numbers is a number, as before
    coded = df[["x"]].assign(code=pd.Categorical(df["count"]))
    clf = TabularMLPClassifier(**SMALL, categorical_features=None).fit(coded, y)
    assert clf.input_center_.shape == (2,)
    assert TabularMLPClassifier(**SMALL).fit(coded, y).input_center_.shape == (
        1 + coded["code"].nunique(),)


def test_pandas_missing_values(data):
    """pd.NA in a string column is a category like None; pd.NA in a nullable numeric
    column is a NaN, reported as for arrays."""
    df, y, _ = data
    df = df.copy()
    df["size"] = df["size"].where(np.arange(len(df)) % 5 != 0, pd.NA)
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    categories = clf.categorical_encoder_.named_transformers_["onehot"].categories_[2]
    assert len(categories) == 4 and pd.isna(categories[-1])
    as_object = df.assign(size=df["size"].astype(object).where(df["size"].notna(), None))
    np.testing.assert_array_equal(clf.predict_proba(as_object), clf.predict_proba(df))
    missing = df.assign(count=pd.array(np.where(np.arange(len(df)) == 3, None, df["count"]),
                                       dtype="Int64"))
    with pytest.raises(ValueError, match="Input X contains NaN.\nTabularMLPClassifier"):
        TabularMLPClassifier(**SMALL).fit(missing, y)


def test_the_dataframe_is_not_modified(data):
    df, y, _ = data
    df = df.copy()
    df["size"] = df["size"].where(np.arange(len(df)) % 5 != 0, pd.NA)
    before = df.copy()
    TabularMLPClassifier(**SMALL).fit(df, y).predict(df)
    pd.testing.assert_frame_equal(df, before)


def test_too_many_categories_is_an_error(data):
    df, y, _ = data
    ids = df.assign(city=[f"id{i}" for i in range(len(df))])  # 240 values: allowed
    assert TabularMLPClassifier(**SMALL).fit(ids, y).input_center_.shape[0] == 240 + 3 + 3 + 2
    many, y_many, _ = frame(300)
    many = many.assign(city=[f"id{i}" for i in range(300)])
    with pytest.raises(ValueError, match=r"column 'city' of X has 300 distinct values "
                                         r"\(missing values aside\), more than 255"):
        TabularMLPClassifier(**SMALL).fit(many, y_many)


def test_numbers_where_categories_were_strings(data):
    df, y, _ = data
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    wrong = df.assign(city=np.arange(len(df)))
    with pytest.raises(ValueError, match="column 'city' of X held strings in fit and holds "
                                         "numbers now"):
        clf.predict(wrong)
    coded = df[["x"]].assign(code=pd.Categorical(df["count"] % 4))
    clf = TabularMLPClassifier(**SMALL).fit(coded, y)
    with pytest.raises(ValueError, match="column 'code' of X held numbers in fit and holds "
                                         "strings now"):
        clf.predict(coded.assign(code=coded["code"].astype(str)))
    # the same kind in another dtype is fine: the same codes
    as_ints = coded.assign(code=coded["code"].astype(np.int64))
    np.testing.assert_array_equal(clf.predict_proba(as_ints), clf.predict_proba(coded))


def test_a_model_pickled_before_categorical_features_loads(data):
    """Its state has neither the parameter nor the encoder: it loads as a model of arrays
    (categorical_features=None, no encoder)."""
    df, y, _ = data
    X = df[["x", "count"]].to_numpy(dtype=float)
    clf = TabularMLPClassifier(**SMALL).fit(X, y)
    state = dict(clf.__getstate__())  # a copy: Python's is the instance's own dict
    del state["categorical_features"], state["categorical_encoder_"]
    old = TabularMLPClassifier.__new__(TabularMLPClassifier)
    old.__setstate__(state)
    assert old.get_params()["categorical_features"] is None
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))
    clone(old).fit(X, y)


def test_a_row_whose_category_is_missing_predicts_as_in_a_batch(data):
    """A single row whose categorical value is missing (an object None, or a float NaN
    column) is the missing category, as in a batch where the column has strings."""
    df, y, _ = data
    df = df.copy()
    df["city"] = df["city"].where(np.arange(len(df)) % 7 != 0, None)
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    batch = clf.predict_proba(df)
    row = df.iloc[[0]]  # city is None there
    assert row["city"].isna().all()
    np.testing.assert_array_equal(clf.predict_proba(row), batch[:1])
    np.testing.assert_array_equal(clf.predict_proba(row.assign(city=np.nan)), batch[:1])
    # an object column of missing values only, in fit: one category, the missing one
    empty = df.assign(city=pd.Series([None] * len(df), dtype=object))
    assert TabularMLPClassifier(**SMALL).fit(empty, y).input_center_.shape == (3 + 1 + 3 + 2,)


def test_pandas_output_configured_globally_changes_nothing(data):
    """The internal encoder returns arrays whatever transform_output says (pandas output
    would need unique names, which a category "nan" beside a missing value breaks)."""
    import sklearn

    df, y, _ = data
    df = df.assign(city=pd.Series(["nan", None, "Oslo"] * 80, dtype=object))
    reference = TabularMLPClassifier(**SMALL).fit(df, y)
    with sklearn.config_context(transform_output="pandas"):
        clf = TabularMLPClassifier(**SMALL).fit(df, y)
        proba = reference.predict_proba(df)
    np.testing.assert_array_equal(clf.network_.params, reference.network_.params)
    np.testing.assert_array_equal(proba, reference.predict_proba(df))


def test_categorical_features_none(data):
    """None reads a category column of numbers as numbers, and its errors are the
    usual ones (a bad y says so, without talk of categorical columns)."""
    df, y, y_reg = data
    coded = df[["x"]].assign(code=pd.Categorical(df["count"] % 4))
    reg = TabularMLPRegressor(**SMALL, categorical_features=None).fit(coded, y_reg)
    reference = TabularMLPRegressor(**SMALL).fit(coded.astype(np.float64), y_reg)
    np.testing.assert_array_equal(reg.network_.params, reference.network_.params)
    bad_y = np.r_[np.nan, y_reg[1:]]
    with pytest.raises(ValueError, match=r"^Input y contains NaN\.$"):
        TabularMLPRegressor(**SMALL, categorical_features=None).fit(coded, bad_y)


def test_dates_and_missing_numbers_are_named(data):
    df, y, _ = data
    dated = df.assign(day=pd.date_range("2026-01-01", periods=len(df)))
    for X in (dated, dated[["x", "day"]]):  # with and without categorical columns
        with pytest.raises(ValueError, match=r"date or time columns \(day\)"):
            TabularMLPClassifier(**SMALL).fit(X, y)
    clf = TabularMLPClassifier(**SMALL).fit(df, y)
    with pytest.raises(ValueError, match=r"date or time columns \(x\)"):
        clf.predict(df.assign(x=pd.to_timedelta(df["count"], unit="D")))
    numbers = df.assign(count=pd.Series(list(df["count"][:-1]) + [pd.NA], dtype=object))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        TabularMLPClassifier(**SMALL).fit(numbers, y)


def test_the_encoder_is_imported_only_for_a_dataframe_with_categorical_columns():
    """A process that fits arrays does not load sklearn.compose (``import skmlp`` must
    not pay for what only a DataFrame fit needs)."""
    import subprocess
    import sys

    child = (
        "import sys\n"
        "import numpy as np, pandas as pd\n"
        "from skmlp import TabularMLPClassifier\n"
        "X = np.random.default_rng(0).normal(size=(40, 3)); y = np.arange(40) % 2\n"
        "params = dict(hidden_layer_sizes=(4,), max_iter=1, batch_size=16, random_state=0)\n"
        "TabularMLPClassifier(**params).fit(X, y)\n"
        "print('sklearn.compose' in sys.modules)\n"
        "df = pd.DataFrame({'x': X[:, 0], 'c': np.where(y == 1, 'a', 'b')})\n"
        "TabularMLPClassifier(**params).fit(df, y)\n"
        "print('sklearn.compose' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    assert out == ["False", "True"]


def test_a_category_of_numbers_held_as_objects_is_numbers():
    """A category column whose categories are Python objects holding numbers (Decimal, or
    an object index of ints) is a category of numbers, in fit and in prediction."""
    from decimal import Decimal

    y = np.array([0, 1] * 30)
    decimals = pd.DataFrame({"x": np.linspace(-1, 1, 60),
                             "c": pd.Series([Decimal("1.5"), Decimal("2")] * 30).astype(
                                 "category")})
    clf = TabularMLPClassifier(**SMALL).fit(decimals, y)
    assert clf.input_center_.shape == (2 + 1,)
    ints = pd.DataFrame({"x": np.linspace(-1, 1, 60), "c": pd.Categorical([1, 2, 3] * 20)})
    clf = TabularMLPClassifier(**SMALL).fit(ints, y)
    as_objects = ints.assign(c=pd.Categorical(pd.Index([1, 2, 3] * 20, dtype=object)))
    np.testing.assert_array_equal(clf.predict_proba(as_objects), clf.predict_proba(ints))


def test_categorical_features_none_reads_numeric_strings_as_numbers():
    """None: "1", "2" convert as check_array converts them, as before the parameter
    existed; only columns that do not read as numbers are refused."""
    y = np.array([0, 1] * 30)
    X = pd.DataFrame({"x": np.linspace(-1, 1, 60), "s": pd.Series(["1", "2.5"] * 30,
                                                                   dtype=object)})
    clf = TabularMLPClassifier(**SMALL, categorical_features=None).fit(X, y)
    reference = TabularMLPClassifier(**SMALL).fit(X.astype(np.float64), y)
    np.testing.assert_array_equal(clf.network_.params, reference.network_.params)
    with pytest.raises(ValueError, match=r"non-numeric columns \(s\)"):
        TabularMLPClassifier(**SMALL, categorical_features=None).fit(
            X.assign(s=["a", "2.5"] * 30), y)


@pytest.mark.parametrize("categorical_features", ["from_dtype", None])
def test_pd_na_among_numbers_is_a_missing_value_without_categorical_columns(
        categorical_features):
    """An object column of numbers with pd.NA, in a DataFrame with no categorical column:
    the usual ValueError for missing values (numpy's TypeError before), in fit and in
    prediction."""
    y = np.array([0, 1] * 30)
    numbers = pd.DataFrame({"x": np.linspace(-1, 1, 60),
                            "n": pd.Series(list(range(59)) + [pd.NA], dtype=object)})
    est = TabularMLPClassifier(**SMALL, categorical_features=categorical_features)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.fit(numbers, y)
    est.fit(numbers.iloc[:59], y[:59])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.predict(numbers)
