"""Benchmark of the optional numba kernels (skmlp/_kernels.py) against numpy.

The real benchmark case's shapes: batches of 200 rows, layers 784 -> 256 -> 10
(203,530 parameters), relu hidden layer, softmax output, Adam; float32 and
float64. For every kernel of skmlp._kernels (the optimizer steps, bias +
activation, activation derivative, column sums): the numpy reference, the
serial numba kernel, and a ``parallel=True`` (prange) twin defined here (plus,
for the L2 penalty, a sum-of-squares kernel and an Adam step that also sums
the squares of the updated weights, both defined here),

* in isolation (the kernel called over and over on the same data), and
* in a realistic loop: whole training steps as skmlp's Python training loop
  runs them with the kernels on, matrix products numpy's (OpenBLAS, whose
  threads spin a while after each GEMM), the output step (softmax and its
  loss) numpy's in every variant (it has no kernel: skmlp keeps it in numpy),
  and each kernel call timed where it sits between the GEMMs,
* the same loop in two processes at once (as ``GridSearchCV(n_jobs=2)`` runs
  it), with the default environment and with the thread limits joblib's loky
  workers get (``OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS`` = cores // n_jobs), and
  with numba's other threading layer,

then the compile time: the first-ever compilation of the kernels one Adam step
of the Python loop uses (fresh process, empty cache), and in a fresh process
with a warm disk cache the cost of ``import numba`` and of loading those
kernels.

Not measured: the compiled epoch loop (skmlp/_epoch_loop.py, which runs whole
epochs in one numba call, output step included, where it covers the fit), its
speed or its compile time.

Timing: best of N rounds, the variants interleaved within each round (the
machine is shared and noisy); the loop's per-kernel times are the median over
a round's steps. Prints Markdown tables.

    python benchmarks/bench_kernels.py            # everything, a few minutes
    python benchmarks/bench_kernels.py --quick    # fewer rounds
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit, prange
from scipy.special import expit, xlogy

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from skmlp import _kernels as K  # noqa: E402

BATCH, N_IN, N_HID, N_OUT = 200, 784, 256, 10
N_COEFS = N_IN * N_HID + N_HID * N_OUT
N_PARAMS = N_COEFS + N_HID + N_OUT  # 203,530
ALPHA, B1, B2, EPS, LR = 1e-4, 0.9, 0.999, 1e-8, 1e-3

_PJIT = dict(cache=True, parallel=True, error_model="numpy", nogil=True)
_SJIT = dict(cache=True, error_model="numpy", nogil=True)
PB = 4096  # elements per block of the blocked optimizer loops
LANES = 64


# ---------------------------------------------------------------------------------------
# variants defined here: parallel twins, and the optimizer step fused with the L2 sum
# ---------------------------------------------------------------------------------------
@njit(**_SJIT)
def _sum_of_squares_kernel(x):
    """``sum_k x[k]**2`` in float64: lane ``r`` adds ``x[k]**2``, ``k = r (mod LANES)``, in
    order, then the lanes in order, then the tail (vectorises without reassociating)."""
    nq = x.shape[0] // LANES
    X = x[:nq * LANES].reshape((nq, LANES))
    acc = np.zeros(LANES, np.float64)
    for q in range(nq):
        for r in range(LANES):
            xr = np.float64(X[q, r])  # float32 squares are exact in float64
            acc[r] += xr * xr
    t = 0.0
    for r in range(LANES):
        t += acc[r]
    for k in range(nq * LANES, x.shape[0]):
        xk = np.float64(x[k])
        t += xk * xk
    return t


def sum_of_squares(w):
    """The L2 penalty's ``W @ W`` as a kernel (skmlp keeps numpy's BLAS dot: faster)."""
    return _sum_of_squares_kernel(w)


@njit(**_SJIT)
def _lanes(x, acc):
    nq = x.shape[0] // LANES
    X = x[:nq * LANES].reshape((nq, LANES))
    for q in range(nq):
        for r in range(LANES):
            xr = np.float64(X[q, r])
            acc[r] += xr * xr


@njit(**_SJIT)
def adam_fused(params, grad, m, v, n_coefs, alpha, s, b1, omb1, b2, omb2, neg_lr, eps):
    """Adam step in blocks, each block's squares summed while it is in cache
    (same order as ``sum_of_squares``: PB is a multiple of LANES)."""
    acc = np.zeros(LANES, np.float64)
    n_lanes = n_coefs - n_coefs % LANES
    for lo in range(0, n_coefs, PB):
        hi = min(lo + PB, n_coefs)
        K._adam_kernel(params[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], hi - lo, alpha, s, b1,
                       omb1, b2, omb2, neg_lr, eps)
        _lanes(params[lo:min(hi, n_lanes)], acc)
    K._adam_kernel(params[n_coefs:], grad[n_coefs:], m[n_coefs:], v[n_coefs:], 0, alpha, s,
                   b1, omb1, b2, omb2, neg_lr, eps)
    t = 0.0
    for r in range(LANES):
        t += acc[r]
    for k in range(n_lanes, n_coefs):
        xk = np.float64(params[k])
        t += xk * xk
    return t


@njit(**_PJIT)
def adam_par(params, grad, m, v, n_coefs, alpha, s, b1, omb1, b2, omb2, neg_lr, eps):
    n = params.shape[0]
    for bi in prange((n + PB - 1) // PB):
        lo = bi * PB
        hi = min(lo + PB, n)
        c = min(max(n_coefs, lo), hi)
        K._adam_kernel(params[lo:c], grad[lo:c], m[lo:c], v[lo:c], c - lo, alpha, s, b1, omb1,
                       b2, omb2, neg_lr, eps)
        K._adam_kernel(params[c:hi], grad[c:hi], m[c:hi], v[c:hi], 0, alpha, s, b1, omb1, b2,
                       omb2, neg_lr, eps)


@njit(**_PJIT)
def adam_fused_par(params, grad, m, v, n_coefs, alpha, s, b1, omb1, b2, omb2, neg_lr, eps):
    n = params.shape[0]
    total = 0.0
    for bi in prange((n + PB - 1) // PB):
        lo = bi * PB
        hi = min(lo + PB, n)
        c = min(max(n_coefs, lo), hi)
        K._adam_kernel(params[lo:c], grad[lo:c], m[lo:c], v[lo:c], c - lo, alpha, s, b1, omb1,
                       b2, omb2, neg_lr, eps)
        K._adam_kernel(params[c:hi], grad[c:hi], m[c:hi], v[c:hi], 0, alpha, s, b1, omb1, b2,
                       omb2, neg_lr, eps)
        total += _sum_of_squares_kernel(params[lo:c])
    return total


@njit(**_PJIT)
def sgd_par(params, grad, vel, n_coefs, alpha, s, mom, lr, nesterov):
    n = params.shape[0]
    for bi in prange((n + PB - 1) // PB):
        lo = bi * PB
        hi = min(lo + PB, n)
        c = min(max(n_coefs, lo), hi)
        K._sgd_kernel(params[lo:c], grad[lo:c], vel[lo:c], c - lo, alpha, s, mom, lr, nesterov)
        K._sgd_kernel(params[c:hi], grad[c:hi], vel[c:hi], 0, alpha, s, mom, lr, nesterov)


@njit(**_PJIT)
def sumsq_par(x):
    n = x.shape[0]
    total = 0.0
    for bi in prange((n + PB - 1) // PB):
        lo = bi * PB
        total += _sum_of_squares_kernel(x[lo:min(lo + PB, n)])
    return total


@njit(**_PJIT)
def bias_act_par(Z, b, kind, zero, one):
    n, u = Z.shape
    for i in prange(n):
        for j in range(u):
            z = Z[i, j] + b[j]
            if kind == 1:
                z = z if (z > zero or z != z) else zero
            elif kind == 2:
                z = one / (one + np.exp(-z))
            elif kind == 3:
                z = np.tanh(z)  # libm's: what a numba tanh kernel would cost
            Z[i, j] = z


@njit(**_PJIT)
def deriv_relu_par(A, delta, zero):
    n, u = delta.shape
    for i in prange(n):
        for j in range(u):
            if A[i, j] == zero:
                delta[i, j] = zero


@njit(**_PJIT)
def colsum_par(delta, out, zero):
    n, u = delta.shape
    cb = 64
    for c in prange((u + cb - 1) // cb):
        lo = c * cb
        hi = min(lo + cb, u)
        for j in range(lo, hi):
            out[j] = zero
        for i in range(n):
            for j in range(lo, hi):
                out[j] = out[j] + delta[i, j]


def _adam_args(params, alpha, s, b1, b2, lr_t, eps):
    t = params.dtype.type
    # -lr_t stays float64, as skmlp._kernels.adam_step passes it
    return t(alpha), t(s), t(b1), t(1 - b1), t(b2), t(1 - b2), np.float64(-lr_t), t(eps)


_KIND = {"identity": 0, "relu": 1, "logistic": 2, "tanh": 3}


class Serial:
    """skmlp._kernels as the core would call it."""

    adam = staticmethod(K.adam_step)
    sgd = staticmethod(K.sgd_step)
    sumsq = staticmethod(sum_of_squares)
    bias = staticmethod(K.bias_activation)
    colsum = staticmethod(K.column_sums)

    @staticmethod
    def deriv(A, D):
        K.activation_derivative(A, D, "relu")

    @staticmethod
    def adam_sumsq(params, grad, m, v, n_coefs, alpha, s, b1, b2, lr_t, eps):
        return adam_fused(params, grad, m, v, n_coefs,
                          *_adam_args(params, alpha, s, b1, b2, lr_t, eps))


class Parallel:
    """The prange twins."""

    @staticmethod
    def adam(params, grad, m, v, n_coefs, alpha, s, b1, b2, lr_t, eps):
        adam_par(params, grad, m, v, n_coefs, *_adam_args(params, alpha, s, b1, b2, lr_t, eps))

    @staticmethod
    def adam_sumsq(params, grad, m, v, n_coefs, alpha, s, b1, b2, lr_t, eps):
        return adam_fused_par(params, grad, m, v, n_coefs,
                              *_adam_args(params, alpha, s, b1, b2, lr_t, eps))

    @staticmethod
    def sgd(params, grad, vel, n_coefs, alpha, s, mom, lr, nesterov):
        t = params.dtype.type
        sgd_par(params, grad, vel, n_coefs, t(alpha), t(s), t(mom), t(lr), nesterov)

    sumsq = staticmethod(sumsq_par)

    @staticmethod
    def bias(Z, b, activation):
        t = Z.dtype.type
        bias_act_par(Z, b, _KIND[activation], t(0), t(1))

    @staticmethod
    def deriv(A, D):
        deriv_relu_par(A, D, D.dtype.type(0))

    @staticmethod
    def colsum(D, out):
        colsum_par(D, out, D.dtype.type(0))


class NumpyRef:
    """The numpy reference of each part (the formulas the kernels reproduce), with
    preallocated scratch where numpy allows it."""

    def __init__(self, dt):
        self.g = np.empty(N_PARAMS, dt)
        self.tmp = np.empty(N_PARAMS, dt)

    def adam(self, params, grad, m, v, n_coefs, alpha, s, b1, b2, lr_t, eps):
        g, tmp, nc = self.g, self.tmp, n_coefs
        np.multiply(params[:nc], alpha, out=g[:nc])
        g[:nc] += grad[:nc]
        g[nc:] = grad[nc:]
        g /= s
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += eps
        np.multiply(m, -lr_t, out=g)
        g /= tmp
        params += g

    def adam_sumsq(self, params, grad, m, v, n_coefs, *args):
        self.adam(params, grad, m, v, n_coefs, *args)
        return self.sumsq(params[:n_coefs])

    def sgd(self, params, grad, vel, n_coefs, alpha, s, mom, lr, nesterov):
        g, tmp, nc = self.g, self.tmp, n_coefs
        np.multiply(params[:nc], alpha, out=g[:nc])
        g[:nc] += grad[:nc]
        g[nc:] = grad[nc:]
        g /= s
        g *= lr
        vel *= mom
        vel -= g
        if nesterov:
            np.multiply(vel, mom, out=tmp)
            tmp -= g
            params += tmp
        else:
            params += vel

    @staticmethod
    def sumsq(w):
        return float(w @ w)

    @staticmethod
    def bias(Z, b, activation):
        Z += b
        if activation == "relu":
            np.maximum(Z, 0, out=Z)
        elif activation == "logistic":
            expit(Z, out=Z)
        elif activation == "tanh":
            np.tanh(Z, out=Z)

    @staticmethod
    def deriv(A, D):
        D[A == 0] = 0

    @staticmethod
    def softmax(Z, Y):
        """The output step (no kernel: every variant's training step runs this one)."""
        Z -= Z.max(axis=1)[:, None]
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1)[:, None]
        eps = np.finfo(Z.dtype).eps
        loss = -float(xlogy(Y, np.clip(Z, eps, 1 - eps)).sum())
        Z -= Y
        return loss

    @staticmethod
    def colsum(D, out):
        np.sum(D, axis=0, out=out)


# ---------------------------------------------------------------------------------------
# isolated timings
# ---------------------------------------------------------------------------------------
def _time_interleaved(fns, reps, rounds):
    """{name: best over rounds of the mean time of one call (us)}, names interleaved."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for name, call in fns.items():
            t = time.perf_counter()
            for _ in range(reps):
                call()
            best[name] = min(best[name], (time.perf_counter() - t) / reps * 1e6)
    return best


def isolated(dt, rounds):
    dt = np.dtype(dt)
    rng = np.random.default_rng(0)
    impls = {"numpy": NumpyRef(dt), "serial": Serial, "parallel": Parallel}
    params0 = (rng.standard_normal(N_PARAMS) * 0.05).astype(dt)
    grad = (rng.standard_normal(N_PARAMS) * 0.1).astype(dt)
    st = {k: dict(p=params0.copy(), m=np.zeros(N_PARAMS, dt), v=np.zeros(N_PARAMS, dt))
          for k in impls}
    Zh0 = rng.standard_normal((BATCH, N_HID)).astype(dt)
    Zo0 = rng.standard_normal((BATCH, N_OUT)).astype(dt)
    b_h = rng.standard_normal(N_HID).astype(dt)
    A_h = np.maximum(Zh0, 0)
    bufs = {k: dict(Z=Zh0.copy(), out=np.empty(N_HID, dt),
                    out_o=np.empty(N_OUT, dt)) for k in impls}
    rows = {}

    def run(label, make, reps=100):
        fns = {k: make(k, impl) for k, impl in impls.items()}
        fns = {k: f for k, f in fns.items() if f is not None}
        for f in fns.values():  # compile / warm up
            f()
        rows[label] = _time_interleaved(fns, reps, rounds)

    def opt(name):
        def make(k, i):
            f = getattr(i, name)
            return lambda: f(st[k]["p"], grad, st[k]["m"], st[k]["v"], N_COEFS, ALPHA, 200.0,
                             B1, B2, LR, EPS)
        return make

    run("adam_step", opt("adam"), reps=20)
    run("sum_of_squares (L2)", lambda k, i: (lambda: i.sumsq(st[k]["p"][:N_COEFS])), reps=20)
    run("adam_step + sum_of_squares, fused", opt("adam_sumsq"), reps=20)
    run("sgd_step (nesterov)", lambda k, i: (
        lambda: i.sgd(st[k]["p"], grad, st[k]["m"], N_COEFS, ALPHA, 200.0, 0.9, 0.1, True)),
        reps=20)
    # the activations are idempotent enough to time in place: relu/identity are, and
    # logistic/tanh keep values in [-1, 1] after the first call (no special cases)
    for act in ("relu", "logistic", "tanh"):
        run(f"bias_activation {act}",
            lambda k, i, act=act: (lambda: i.bias(bufs[k]["Z"], b_h, act)))
    run("activation_derivative relu", lambda k, i: (lambda: i.deriv(A_h, bufs[k]["Z"])))
    run("column_sums 200x256", lambda k, i: (lambda: i.colsum(Zh0, bufs[k]["out"])))
    run("column_sums 200x10", lambda k, i: (lambda: i.colsum(Zo0, bufs[k]["out_o"])))
    return rows


# ---------------------------------------------------------------------------------------
# realistic loop: whole training steps, GEMMs by numpy
# ---------------------------------------------------------------------------------------
class Net:
    def __init__(self, dt, seed=0):
        rng = np.random.default_rng(seed)
        self.dt = dt = np.dtype(dt)
        self.X = rng.standard_normal((10 * BATCH, N_IN)).astype(dt)
        self.Y = np.eye(N_OUT, dtype=dt)[rng.integers(0, N_OUT, 10 * BATCH)]
        self.params = np.empty(N_PARAMS, dt)
        self.params[:N_COEFS] = (rng.standard_normal(N_COEFS) * 0.05).astype(dt)
        self.params[N_COEFS:] = 0.01
        self.grad = np.empty_like(self.params)
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)
        views = []
        for arr in (self.params, self.grad):
            o1, o2 = N_IN * N_HID, N_COEFS
            views.append((arr[:o1].reshape(N_IN, N_HID), arr[o1:o2].reshape(N_HID, N_OUT),
                          arr[o2:o2 + N_HID], arr[o2 + N_HID:]))
        (self.W0, self.W1, self.b0, self.b1), (self.gW0, self.gW1, self.gb0, self.gb1) = views
        self.A1 = np.empty((BATCH, N_HID), dt)
        self.A2 = np.empty((BATCH, N_OUT), dt)
        self.D1 = np.empty((BATCH, N_HID), dt)
        self.t = 0
        self.ss = None

    def step(self, impl, timed, fused):
        """One training step (forward, loss, backward, Adam); kernel times (s) appended
        to ``timed`` (the output step, numpy's for every ``impl``, is not a kernel: it
        counts in the step's time only). The L2 sum of squares is sklearn's, before
        backprop: separately, or (``fused``) taken from the previous step's Adam."""
        def tm(name, f, *args):
            t = time.perf_counter()
            r = f(*args)
            timed[name].append(time.perf_counter() - t)
            return r

        i = self.t % 10
        self.t += 1
        Xb = self.X[i * BATCH:(i + 1) * BATCH]
        Yb = self.Y[i * BATCH:(i + 1) * BATCH]
        np.matmul(Xb, self.W0, out=self.A1)
        tm("bias_activation relu", impl.bias, self.A1, self.b0, "relu")
        np.matmul(self.A1, self.W1, out=self.A2)
        NumpyRef.softmax(self.A2, Yb)  # output step: numpy's in every variant (no kernel)
        if self.ss is None or not fused:
            self.ss = tm("sum_of_squares (L2)", impl.sumsq, self.params[:N_COEFS])
        np.matmul(self.A1.T, self.A2, out=self.gW1)
        tm("column_sums 200x10", impl.colsum, self.A2, self.gb1)
        np.matmul(self.A2, self.W1.T, out=self.D1)
        tm("activation_derivative relu", impl.deriv, self.A1, self.D1)
        np.matmul(Xb.T, self.D1, out=self.gW0)
        tm("column_sums 200x256", impl.colsum, self.D1, self.gb0)
        lr_t = LR * np.sqrt(1 - B2 ** self.t) / (1 - B1 ** self.t)
        args = (self.params, self.grad, self.m, self.v, N_COEFS, ALPHA, float(BATCH), B1, B2,
                lr_t, EPS)
        if fused:
            self.ss = tm("adam_step + sum_of_squares, fused", impl.adam_sumsq, *args)
        else:
            tm("adam_step", impl.adam, *args)


class _Sink(dict):
    def __missing__(self, key):
        self[key] = []
        return self[key]


class Mixed(Serial):
    """Serial kernels, but the Adam step parallel (the one place prange could pay)."""

    adam = Parallel.adam


def loop_variants(dt):
    ref = NumpyRef(np.dtype(dt))
    return {"numpy": (ref, False), "serial": (Serial, False), "serial, L2 fused": (Serial, True),
            "parallel": (Parallel, False), "serial + parallel adam": (Mixed, False)}


def loop(dt, steps, rounds):
    """{variant: {part: best-of-rounds median us, 'step', 'kernels', 'cpu/wall'}}."""
    variants = loop_variants(dt)
    nets = {k: Net(dt) for k in variants}
    out = {k: {} for k in variants}
    for _ in range(rounds):
        for k, (impl, fused) in variants.items():
            net = nets[k]
            for _ in range(3):  # warm-up (and compilation, the first time)
                net.step(impl, _Sink(), fused)
            timed, step_times = _Sink(), []
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(steps):
                t = time.perf_counter()
                net.step(impl, timed, fused)
                step_times.append(time.perf_counter() - t)
            cpu_ratio = (time.process_time() - c0) / (time.perf_counter() - w0)
            res = {part: statistics.median(v) * 1e6 for part, v in timed.items()}
            res["kernels"] = sum(res.values())
            res["step"] = statistics.median(step_times) * 1e6
            for part, v in res.items():
                out[k][part] = min(out[k].get(part, float("inf")), v)
            out[k]["cpu/wall"] = min(out[k].get("cpu/wall", float("inf")), cpu_ratio)
    return out


def worker_main(args):
    """One process of the concurrent measurements: the loop, printed as JSON."""
    import numba

    res = {dt: loop(dt, args.steps, args.rounds) for dt in args.dtypes}
    res["threading_layer"] = numba.threading_layer()
    res["numba_threads"] = numba.get_num_threads()
    print(json.dumps(res))


def concurrent(n_proc, env_extra, dtypes, steps, rounds):
    env = dict(os.environ, **env_extra)
    cmd = [sys.executable, __file__, "--worker", "--steps", str(steps), "--rounds", str(rounds),
           "--dtypes", *dtypes]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(n_proc)]
    return [json.loads(p.communicate()[0]) for p in procs]


# ---------------------------------------------------------------------------------------
# compile / import time, in fresh processes
# ---------------------------------------------------------------------------------------
_FIT_KERNELS = r"""
import sys, time
# what skmlp imports anyway
import numpy as np, scipy.special, sklearn.neural_network, sklearn.model_selection
t0 = time.perf_counter()
import numba
t1 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from skmlp import _kernels as K
t2 = time.perf_counter()
dt = np.float32
p = np.zeros(1000, dt); g = p.copy(); m = p.copy(); v = p.copy()
Z = np.zeros((20, 10), dt); b = np.zeros(10, dt)
K.adam_step(p, g, m, v, 800, 1e-4, 20., .9, .999, 1e-3, 1e-8)
t3 = time.perf_counter()
K.bias_activation(Z, b, "relu"); K.activation_derivative(Z, Z.copy(), "relu")
K.column_sums(Z, b)
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def compile_times(n_warm):
    """(cold, warm best, warm median), each [import numba, import _kernels, first kernel,
    the 3 others] in seconds, in fresh processes with a private cache directory."""
    with tempfile.TemporaryDirectory() as tmp:
        # only _kernels.py and what it imports (_activations.py: numpy and scipy only), so
        # the process imports nothing else of skmlp
        pkg = Path(tmp) / "pkg" / "skmlp"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        for name in ("_kernels.py", "_activations.py"):
            (pkg / name).write_text((ROOT / "skmlp" / name).read_text())
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "cache"))

        def run():
            out = subprocess.run([sys.executable, "-c", _FIT_KERNELS, str(pkg.parent)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            return [float(x) for x in out.split()]

        cold = run()
        warm = [run() for _ in range(n_warm)]
    best = [min(w[i] for w in warm) for i in range(4)]
    med = [statistics.median(w[i] for w in warm) for i in range(4)]
    return cold, best, med


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------
PARTS = ["adam_step", "sum_of_squares (L2)", "adam_step + sum_of_squares, fused",
         "sgd_step (nesterov)", "bias_activation relu", "bias_activation logistic",
         "bias_activation tanh", "activation_derivative relu", "column_sums 200x256",
         "column_sums 200x10"]


def _f(x):
    if x is None:
        return "-"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["isolated", "loop", "concurrent", "compile"])
    args = ap.parse_args()
    if args.rounds is None:
        args.rounds = 3 if args.quick else 11
    if args.worker:
        return worker_main(args)

    import numba
    from threadpoolctl import threadpool_info

    blas = {(i["internal_api"], i["num_threads"]) for i in threadpool_info()
            if i["user_api"] == "blas"}
    print(f"# numba kernels benchmark\n\nnumpy {np.__version__}, numba {numba.__version__}, "
          f"{os.cpu_count()} cores, BLAS " + ", ".join(f"{a} ({n} threads)" for a, n in blas)
          + f"; batch {BATCH}, {N_IN}-{N_HID}-{N_OUT} ({N_PARAMS:,} parameters); "
          f"best of {args.rounds} interleaved rounds; times in us. Load average at start: "
          f"{os.getloadavg()[0]:.2f}.\n")

    iso, lp = {}, {}
    for dt in args.dtypes:
        if "isolated" not in args.skip:
            iso[dt] = isolated(dt, args.rounds)
        if "loop" not in args.skip:
            lp[dt] = loop(dt, args.steps, args.rounds)
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run
        layer = "(not started)"
    print(f"numba threading layer {layer}, {numba.get_num_threads()} threads; "
          f"load average after the loops: {os.getloadavg()[0]:.2f}.\n")

    print("## Per kernel: isolated | in the training loop (median call, between the GEMMs)\n")
    print("| kernel | dtype | numpy | serial | parallel | loop: numpy | loop: serial "
          "| loop: parallel |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for part in PARTS:
        for dt in args.dtypes:
            i = iso.get(dt, {}).get(part, {})
            lv = [None, None, None]
            if dt in lp:
                res = lp[dt]
                if part == "adam_step + sum_of_squares, fused":
                    n = res["numpy"]
                    lv = [n["adam_step"] + n["sum_of_squares (L2)"],
                          res["serial, L2 fused"].get(part), None]
                else:
                    lv = [res[k].get(part) for k in ("numpy", "serial", "parallel")]
            print(f"| {part} | {dt} | {_f(i.get('numpy'))} | {_f(i.get('serial'))} | "
                  f"{_f(i.get('parallel'))} | {_f(lv[0])} | {_f(lv[1])} | {_f(lv[2])} |")
    if lp:
        print("\n## Whole training step (median; kernels = sum of the kernels' medians)\n")
        print("| dtype | variant | step | kernels | process cpu / wall |")
        print("|---|---|---:|---:|---:|")
        for dt in args.dtypes:
            for k, r in lp[dt].items():
                print(f"| {dt} | {k} | {_f(r['step'])} | {_f(r['kernels'])} | "
                      f"{r['cpu/wall']:.2f} |")

    if "concurrent" not in args.skip:
        half = str(max(1, (os.cpu_count() or 1) // 2))
        loky = {v: half for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                  "NUMBA_NUM_THREADS")}
        configs = [
            ("1 process, NUMBA_THREADING_LAYER=workqueue", 1,
             {"NUMBA_THREADING_LAYER": "workqueue"}),
            ("2 processes, default environment", 2, {}),
            (f"2 processes, loky's limits (*_NUM_THREADS={half})", 2, loky),
        ]
        print("\n## Concurrency: whole training step (median over steps, then over processes)\n")
        variants = list(loop_variants("float32"))
        print("| setting | dtype | numba threads | " + " | ".join(variants) + " |")
        print("|---|---|---|" + "---:|" * len(variants))
        for label, n_proc, env in configs:
            outs = concurrent(n_proc, env, args.dtypes, max(20, args.steps // 2),
                              max(2, args.rounds // 2))
            for dt in args.dtypes:
                cells = [statistics.median(o[dt][k]["step"] for o in outs) for k in variants]
                threads = f"{outs[0]['numba_threads']} ({outs[0]['threading_layer']})"
                print(f"| {label} | {dt} | {threads} | " + " | ".join(_f(c) for c in cells) + " |")

    if "compile" not in args.skip:
        cold, best, med = compile_times(n_warm=3 if args.quick else 7)
        print("\n## Compile / load: the kernels of one Adam step of the Python loop, float32 "
              "(s, fresh process, numpy/scipy/sklearn already imported)\n")
        print("| | import numba | import _kernels | first kernel call | 3 more kernels | total |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, r in (("empty cache (first-ever compile)", cold),
                         ("warm disk cache, best", best), ("warm disk cache, median", med)):
            print(f"| {label} | " + " | ".join(f"{x:.3f}" for x in r) + f" | {sum(r):.3f} |")


if __name__ == "__main__":
    main()
