"""Train the tutorial's network on digits with skmlp's numpy core alone.

No estimator here: the network, the minibatch loop and the SGD step are the
ones the tutorial writes, with skmlp's MLP doing the forward pass and
backpropagation. scikit-learn only loads the data.

    python examples/from_scratch.py
"""

import numpy as np
from sklearn.datasets import load_digits

from skmlp import MLP, SGD

rng = np.random.default_rng(0)  # all randomness comes from here

# data: 8x8 images flattened to 64 features, scaled to [0, 1]; labels 0..9 one-hot
X, y = load_digits(return_X_y=True)
X = X / 16.0
order = rng.permutation(len(X))
X, y = X[order], y[order]
X_train, y_train, X_test, y_test = X[:1500], y[:1500], X[1500:], y[1500:]
Y_train = np.eye(10)[y_train]

# the tutorial's layer_sizes=[784, 64, 10], for 8x8 digits: 64 inputs, 64 ReLU units, 10 classes
# the tutorial's initialisation: weights ~ N(0, (gain / sqrt(fan_in))^2), zero biases
net = MLP([64, 64, 10], activation="relu", out_activation="softmax")
net.initialize(rng, init="scaled_normal")
sgd = SGD(net.params.size, net.params.dtype, learning_rate_init=0.1, momentum=0.0)
batch_size = 64
grad = np.empty_like(net.params)

for epoch in range(30):
    order = rng.permutation(len(X_train))
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        # forward pass, cross-entropy loss and backpropagation in one call
        loss, grad = net.loss_grad(X_train[batch], Y_train[batch], grad=grad)
        # gradient descent: params <- params - lr * grad, on every layer at once
        sgd.step(net.params, grad)
        total += loss * len(batch)
    if epoch % 5 == 4:
        accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
        loss = total / len(X_train)
        print(f"epoch {epoch + 1:2d}  loss {loss:.4f}  test accuracy {accuracy:.3f}")
