"""scikit-learn's common estimator checks, for every solver: all must pass, none is xfailed."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import MLPClassifierFromScratch

# max_iter=100 is scikit-learn's own setting for MLPClassifier in these checks
# (sklearn/utils/_test_common/instance_generator.py); the default 200 doubles their time.
ESTIMATORS = [
    MLPClassifierFromScratch(solver="adam", max_iter=100, random_state=0),
    MLPClassifierFromScratch(solver="sgd", max_iter=100, random_state=0),
    MLPClassifierFromScratch(solver="lbfgs", max_iter=100, random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
