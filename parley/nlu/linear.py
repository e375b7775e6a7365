"""Multinomial logistic regression (softmax) trained with L-BFGS, in numpy.

The features of an utterance are a sparse TF-IDF block and a dense sentence-embedding block. Both
are kept apart so the dense block goes through BLAS and the sparse one through scipy's sparse
kernels, each split over two threads (both release the GIL). scikit-learn's solver does the same
maths but spends most of its time in L-BFGS-B's bound handling, which we do not need; here every
vector update is an in-place BLAS call on preallocated buffers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

F32 = NDArray[np.float32]


@functools.cache
def _blas(name: str) -> Any:
    """A float32 BLAS routine, with scipy.linalg imported on the first training, not at start-up: a
    server whose models all come from the cache never needs it (~30 ms of imports)."""
    from scipy.linalg.blas import get_blas_funcs

    return get_blas_funcs(name, dtype=np.float32)


def _axpy(x: F32, y: F32, a: float) -> None:  # y += a * x, in place
    _blas("axpy")(x, y, a=a)


def _dot(x: F32, y: F32) -> Any:
    return _blas("dot")(x, y)


@dataclass(frozen=True)
class SoftmaxWeights:
    sparse: F32  # (n_sparse_features, n_classes)
    dense: F32  # (n_dense_features, n_classes)
    bias: F32  # (n_classes,)

    @classmethod
    def dense_only(cls, dense: F32, bias: F32) -> SoftmaxWeights:
        """Weights of a model without sparse features (an empty, one-row sparse block)."""
        return cls(np.zeros((1, dense.shape[1]), np.float32), dense, bias)


class _Problem:
    """Loss and gradient of L2-regularised softmax regression over [sparse | dense] features."""

    def __init__(self, xs: sparse.csr_matrix, xd: F32, y: NDArray[np.int64], n_classes: int,
                 l2: float, sample_weight: F32, pool: ThreadPoolExecutor | None) -> None:
        n = xs.shape[0]
        self.n, self.k = n, n_classes
        self.ds, self.dd = xs.shape[1], xd.shape[1]
        self.xd = xd
        self.y = y
        self.rows = np.arange(n)
        self.sw = sample_weight
        self.l2 = float(l2)
        self.pool = pool
        # X @ W is fastest column-wise (CSC), X.T @ G row-wise on the transpose; split for two threads
        if pool is not None and n > 64:
            half = n // 2
            self.row_parts = [(0, half, xs[:half].tocsc()), (half, n, xs[half:].tocsc())]
            xt = xs.T.tocsr()
            cut = self.ds // 2
            self.col_parts = [(0, cut, xt[:cut]), (cut, self.ds, xt[cut:])]
        else:
            self.row_parts = [(0, n, xs.tocsc())]
            self.col_parts = [(0, self.ds, xs.T.tocsr())]
        self.z = np.empty((n, n_classes), np.float32)

    @property
    def size(self) -> int:
        return int((self.ds + self.dd + 1) * self.k)

    def split(self, theta: F32) -> tuple[F32, F32, F32]:
        a = self.ds * self.k
        b = a + self.dd * self.k
        return theta[:a].reshape(self.ds, self.k), theta[a:b].reshape(self.dd, self.k), theta[b:]

    def _each(self, fn: Callable[[Any], None], items: Sequence[Any]) -> None:
        if self.pool is not None and len(items) > 1:
            list(self.pool.map(fn, items))
        else:
            for item in items:
                fn(item)

    def __call__(self, theta: F32, grad: F32) -> float:
        """The loss at `theta`; writes the gradient into `grad`."""
        ws, wd, b = self.split(theta)
        z = self.z

        def forward(part: tuple[int, int, sparse.csc_matrix]) -> None:
            lo, hi, x = part
            z[lo:hi] = x @ ws

        self._each(forward, self.row_parts)
        z += self.xd @ wd
        z += b
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        total = z.sum(axis=1)
        p_true = z[self.rows, self.y] / total
        loss = -float(self.sw @ np.log(np.maximum(p_true, 1e-30)))
        flat_s, flat_d = ws.reshape(-1), wd.reshape(-1)
        loss += 0.5 * self.l2 * (float(_dot(flat_s, flat_s)) + float(flat_d @ flat_d))
        z /= total[:, None]  # z is now P(class | x); the gradient of the loss by the logits is P - onehot
        z[self.rows, self.y] -= 1.0
        z *= self.sw[:, None]
        gs, gd, gb = self.split(grad)

        def backward(part: tuple[int, int, sparse.csr_matrix]) -> None:
            lo, hi, xt = part
            gs[lo:hi] = xt @ z

        self._each(backward, self.col_parts)
        _axpy(flat_s, gs.reshape(-1), a=self.l2)
        gd[:] = self.xd.T @ z + self.l2 * wd
        gb[:] = z.sum(axis=0)
        return loss


def lbfgs(fun: Callable[[F32, F32], float], theta: F32, *, max_iter: int = 100, memory: int = 6,
          tol: float = 1e-4) -> F32:
    """Minimise a smooth convex function (two-loop L-BFGS, backtracking Armijo line search).

    The vectors are large (features × classes): buffers are allocated once and reused."""
    size = theta.shape[0]
    grad = np.empty(size, np.float32)
    trial = np.empty(size, np.float32)
    trial_grad = np.empty(size, np.float32)
    q = np.empty(size, np.float32)
    ss: list[F32] = []
    ys: list[F32] = []
    rhos: list[float] = []
    spare: list[F32] = []
    loss = fun(theta, grad)
    for it in range(max_iter):
        if max(float(grad.max()), -float(grad.min())) < tol:
            break
        q[:] = grad  # two-loop recursion: q = H g
        alphas = []
        for s, yv, rho in zip(reversed(ss), reversed(ys), reversed(rhos), strict=True):
            a = rho * float(_dot(s, q))
            alphas.append(a)
            _axpy(yv, q, a=-a)
        if ys:
            q *= np.float32(float(_dot(ss[-1], ys[-1])) / float(_dot(ys[-1], ys[-1])))
        else:
            q /= np.float32(max(float(np.linalg.norm(grad)), 1e-12))
        for s, yv, rho, a in zip(ss, ys, rhos, reversed(alphas), strict=True):
            beta = rho * float(_dot(yv, q))
            _axpy(s, q, a=a - beta)
        slope = -float(_dot(grad, q))
        if slope >= 0:  # not a descent direction: restart from steepest descent
            spare += ss + ys
            ss, ys, rhos = [], [], []
            q[:] = grad
            q /= np.float32(max(float(np.linalg.norm(grad)), 1e-12))
            slope = -float(_dot(grad, q))
        step = 1.0
        accepted = False
        for _ in range(30):
            trial[:] = theta
            _axpy(q, trial, a=-step)
            new_loss = fun(trial, trial_grad)
            if new_loss <= loss + 1e-4 * step * slope:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        s_vec = spare.pop() if spare else np.empty(size, np.float32)
        y_vec = spare.pop() if spare else np.empty(size, np.float32)
        np.multiply(q, np.float32(-step), out=s_vec)
        np.subtract(trial_grad, grad, out=y_vec)
        sy = float(_dot(s_vec, y_vec))
        theta, trial = trial, theta
        grad, trial_grad = trial_grad, grad
        improvement = loss - new_loss
        loss = new_loss
        if sy > 1e-10:
            ss.append(s_vec)
            ys.append(y_vec)
            rhos.append(1.0 / sy)
            if len(ss) > memory:
                spare += [ss.pop(0), ys.pop(0)]
                rhos.pop(0)
        else:
            spare += [s_vec, y_vec]
        if improvement <= 1e-6 * max(abs(loss), 1.0) and it > 2:
            break
    return theta


def train_softmax(
    xs: sparse.csr_matrix,
    xd: F32,
    y: NDArray[np.int64],
    n_classes: int,
    *,
    c: float = 10.0,
    sample_weight: F32 | None = None,
    max_iter: int = 60,
    threads: bool = True,
    start: SoftmaxWeights | None = None,
) -> SoftmaxWeights:
    """Fit P(class | x) = softmax(xs @ Ws + xd @ Wd + b); `c` is the inverse L2 strength (as in sklearn)."""
    n = xs.shape[0]
    sw = np.ones(n, np.float32) if sample_weight is None else sample_weight.astype(np.float32)
    pool = ThreadPoolExecutor(2) if threads and n * n_classes > 20_000 else None
    try:
        problem = _Problem(xs.astype(np.float32), xd.astype(np.float32), y, n_classes, 1.0 / c, sw, pool)
        theta0 = np.zeros(problem.size, np.float32)
        if start is not None:
            ws0, wd0, b0 = problem.split(theta0)
            ws0[:], wd0[:], b0[:] = start.sparse, start.dense, start.bias
        theta = lbfgs(problem, theta0, max_iter=max_iter, tol=1e-4 * max(n, 1) ** 0.5)
    finally:
        if pool is not None:
            pool.shutdown()
    ws, wd, b = problem.split(theta)
    return SoftmaxWeights(np.ascontiguousarray(ws), np.ascontiguousarray(wd), b.copy())
