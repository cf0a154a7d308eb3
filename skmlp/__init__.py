"""skmlp: multi-layer perceptrons written from scratch in numpy.

``MLPClassifierFromScratch`` and ``MLPRegressorFromScratch`` are drop-ins for
scikit-learn's ``MLPClassifier`` and ``MLPRegressor``;
``MLP``, ``SGD`` and ``Adam`` are the numpy core it is built on, usable alone.
"""

from importlib.metadata import PackageNotFoundError, version

from ._classifier import MLPClassifierFromScratch
from ._config import set_kernels, use_kernels
from ._network import MLP
from ._optimizers import SGD, Adam
from ._regressor import MLPRegressorFromScratch
from ._tabular import TabularMLPClassifier, TabularMLPRegressor

__all__ = ["MLP", "SGD", "Adam", "MLPClassifierFromScratch", "MLPRegressorFromScratch",
           "set_kernels", "use_kernels", "TabularMLPClassifier", "TabularMLPRegressor"]

try:
    __version__ = version("skmlp")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "unknown"
