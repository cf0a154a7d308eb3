"""What a compiled loop could buy the tabular estimators (issue 19, item 5), measured.

The MLP estimators train in a compiled numba epoch loop; the tabular ones train in numpy.
This script measures, on the cases of ``bench_tabular_fit.py`` (one BLAS thread, best of
``--repeats`` fits, kernels compiled before timing):

1. the share of a fit spent in ``np.matmul`` (the GEMMs, which a compiled loop would call
   the same way: its floor);
2. AdamW's step and the EMA update fused into one numba pass each, written as the numpy
   code's operations in its order (so bitwise the same model, checked);
3. SELU and its derivative as numba loops (scalar ``math.expm1`` from the C library,
   against numpy's vectorised ``expm1``; the model then differs at rounding level).

The numba functions are prototypes patched into the classes for the measurement; skmlp
does not ship them (see benchmarks/RESULTS.md, "Issue 19, item 5").

    python benchmarks/bench_tabular_alternatives.py [--cases digits clf3000 reg3000]
"""

import argparse
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_tabular_fit  # noqa: E402

from skmlp import _activations, _adamw, _averaging  # noqa: E402


@nb.njit(cache=True, nogil=True)
def _adamw_pass(p, g, m, v, lr_factors, lr_wd, b1, one_m_b1, b2, one_m_b2, neg_lr_wd, one,
                inv_sqrt_c2, eps, lr_c1, decays):
    for i in range(p.size):  # AdamW.step's numpy operations, element by element
        gi = g[i]
        mi = m[i] * b1 + gi * one_m_b1
        vi = v[i] * b2 + (gi * gi) * one_m_b2
        m[i], v[i] = mi, vi
        pi = p[i]
        if decays:
            pi = pi * (lr_wd[i] * neg_lr_wd + one)
        u = math.sqrt(vi) * inv_sqrt_c2 + eps
        p[i] = pi - (mi / u) * lr_factors[i] * lr_c1


@nb.njit(cache=True, nogil=True)
def _ema_pass(p, s, average, d, one_m_d, correction):
    for i in range(p.size):
        si = s[i] * d + one_m_d * p[i]
        s[i] = si
        average[i] = si * correction


def fused_adamw_step(self, params, grad, lr, weight_decay=None):
    lr = float(lr)
    weight_decay = self.weight_decay if weight_decay is None else float(weight_decay)
    self.t += 1
    if self._lr_wd is None:
        self._lr_wd = self.lr_factors * self.wd_factors
    t, b1, b2 = params.dtype.type, self.beta_1, self.beta_2
    c1, c2 = 1 - b1**self.t, 1 - b2**self.t
    _adamw_pass(params, grad, self.m, self.v, self.lr_factors, self._lr_wd, t(b1), t(1 - b1),
                t(b2), t(1 - b2), t(-lr * weight_decay), t(1.0), t(1.0 / math.sqrt(c2)),
                t(self.epsilon), t(lr / c1), bool(weight_decay))


def fused_ema_update(self, params):
    self.t += 1
    t, d = params.dtype.type, self.decay
    _ema_pass(params, self._sum, self.average, t(d), t(1.0 - d), t(1.0 / (1.0 - d**self.t)))


@nb.njit(cache=True, nogil=True)
def _selu_pass(z, alpha, lam):
    zero = z.dtype.type(0)
    for i in range(z.size):
        x = z[i]
        z[i] = (max(x, zero) + math.expm1(min(x, zero)) * alpha) * lam


@nb.njit(cache=True, nogil=True)
def _selu_derivative_pass(a, delta, lam_alpha, lam):
    for i in range(a.size):
        d = a[i] + lam_alpha
        if a[i] > 0:
            d = d - (d - lam)
        delta[i] = delta[i] * d


def numba_selu(Z):
    t = Z.dtype.type
    _selu_pass(Z.reshape(-1), t(_activations.SELU_ALPHA), t(_activations.SELU_LAMBDA))
    return Z


def numba_selu_derivative(A, delta):
    t, lam = A.dtype.type, _activations.SELU_LAMBDA
    _selu_derivative_pass(A.reshape(-1), delta.reshape(-1), t(lam * _activations.SELU_ALPHA),
                          t(lam))


ORIGINAL = {"step": _adamw.AdamW.step, "update": _averaging.EMA.update,
            "selu": (_activations.selu, _activations.selu_derivative)}


def use(variant):
    """Patch the classes for ``variant``: "numpy", "fused adamw+ema" or "+ numba selu"."""
    fused = variant != "numpy"
    _adamw.AdamW.step = fused_adamw_step if fused else ORIGINAL["step"]
    _averaging.EMA.update = fused_ema_update if fused else ORIGINAL["update"]
    selu = _activations.ACTIVATIONS["selu"]  # a frozen dataclass
    functions = ((numba_selu, numba_selu_derivative) if variant == "+ numba selu"
                 else ORIGINAL["selu"])
    object.__setattr__(selu, "function", functions[0])
    object.__setattr__(selu, "derivative", functions[1])


def best_fit(make, X, y, kwargs, repeats):
    make().fit(X, y, **kwargs)  # compiles, warms the caches
    times = []
    for _ in range(repeats):
        est = make()
        start = time.perf_counter()
        est.fit(X, y, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times), est.network_.params.copy()


def gemm_seconds(make, X, y, kwargs):
    """Seconds inside np.matmul during one fit (the tabular network's only GEMM call)."""
    real, spent = np.matmul, [0.0]

    def timed(*args, **kw):
        start = time.perf_counter()
        out = real(*args, **kw)
        spent[0] += time.perf_counter() - start
        return out

    np.matmul = timed
    try:
        make().fit(X, y, **kwargs)
    finally:
        np.matmul = real
    return spent[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["digits", "clf3000", "reg3000"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cases = bench_tabular_fit.cases()
    print(f"numpy {np.__version__}, numba {nb.__version__}, 1 BLAS thread, "
          f"best of {args.repeats} fits")
    print(f"{'case':10s} {'variant':16s} {'fit s':>7s} {'ratio':>6s}  same model")
    for name in args.cases:
        make, X, y, kwargs = cases[name]
        results = {}
        for variant in ("numpy", "fused adamw+ema", "+ numba selu"):
            use(variant)
            results[variant] = best_fit(make, X, y, kwargs, args.repeats)
        use("numpy")
        base_time, base_params = results["numpy"]
        for variant, (seconds, params) in results.items():
            same = ("bitwise" if np.array_equal(params, base_params) else
                    f"no (max |diff| {np.abs(params - base_params).max():.1e})")
            print(f"{name:10s} {variant:16s} {seconds:7.3f} {seconds / base_time:6.3f}  {same}")
        gemm = gemm_seconds(make, X, y, kwargs)
        print(f"{name:10s} {'GEMM share':16s} {gemm:7.3f} {gemm / base_time:6.3f}")


if __name__ == "__main__":
    main()
