"""skmlp: a multi-layer perceptron classifier written from scratch in numpy.

``MLPClassifierFromScratch`` is a drop-in for scikit-learn's ``MLPClassifier``;
``MLP``, ``SGD`` and ``Adam`` are the numpy core it is built on, usable alone.
"""

from ._classifier import MLPClassifierFromScratch
from ._network import MLP
from ._optimizers import SGD, Adam

__all__ = ["MLP", "SGD", "Adam", "MLPClassifierFromScratch"]
__version__ = "0.1.0"
