"""What the two parity harnesses (``test_parity.py``, ``test_parity_regressor.py``) compare
alike: the trained network, its counters and its loss curves."""

import numpy as np
import pytest


def assert_same_training(ours, theirs, rtol_w, *, rtol_loss, compare_curves=True):
    """``ours`` trained the network ``theirs`` (scikit-learn's MLP) trained, within tolerances.

    Weights: ``|ours - theirs| <= rtol_w * max |weight of theirs|`` for every array; the
    same layers and output, ``n_iter_`` and ``t_``; ``loss_``, ``loss_curve_`` and
    ``best_loss_`` to ``rtol_loss``. ``compare_curves=False`` leaves out the curve and
    ``best_loss_`` (which skmlp's lbfgs records and scikit-learn's does not). Validation
    scores and predictions are each harness's own.

    Returns
    -------
    worst : float
        The largest weight difference, relative to the largest weight of ``theirs``.
    """
    assert ours.n_features_in_ == theirs.n_features_in_
    assert ours.n_layers_ == theirs.n_layers_
    assert ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    ours_w = list(ours.coefs_) + list(ours.intercepts_)
    theirs_w = list(theirs.coefs_) + list(theirs.intercepts_)
    assert [np.shape(a) for a in ours_w] == [np.shape(b) for b in theirs_w]
    scale = max(np.max(np.abs(b)) for b in theirs_w)
    worst = 0.0
    for i, (a, b) in enumerate(zip(ours_w, theirs_w, strict=True)):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol_w * scale,
                                   err_msg=f"weight array {i} (largest |weight| {scale:.3g})")
        worst = max(worst, np.max(np.abs(a - b)) / scale)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=rtol_loss, abs=1e-15)
    if compare_curves and hasattr(theirs, "loss_curve_"):  # scikit-learn's lbfgs has none
        assert len(ours.loss_curve_) == len(theirs.loss_curve_)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=rtol_loss,
                                   atol=1e-15)
    if compare_curves and hasattr(theirs, "best_loss_"):
        if theirs.best_loss_ is None:  # early stopping
            assert ours.best_loss_ is None
        else:
            assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=rtol_loss, abs=1e-15)
    return worst
