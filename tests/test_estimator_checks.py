"""scikit-learn's common estimator checks, for every solver: all must pass, none is xfailed."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmlp import MLPClassifierFromScratch

ESTIMATORS = [
    MLPClassifierFromScratch(solver="adam", random_state=0),
    MLPClassifierFromScratch(solver="sgd", random_state=0),
    MLPClassifierFromScratch(solver="lbfgs", random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
