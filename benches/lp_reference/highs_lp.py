"""Eq. 6 (n = 10, m = 2) on real values as a linear program, solved by HiGHS: the reference for
the choice of method in src/decomposition/optimal.rs and the 'Optimal solver' section of
BENCHMARKS.md.

The values are those of `cargo bench --bench optimal -- real_n10`: MiniLM-L3 and MiniLM-L6 on
the first sentence (in identity order) of the notebooks' pinned network outputs
(notebooks/values/), centred so that v(x_empty) = 0; alpha = 0.1, tau_eps = 0.02 and
tau_gamma = 0.5 of |v(x_N) - v(x_empty)| per model (the library's defaults).

Formulation (no dense 2^n x 2^n matrix): per model i and kind (AND, OR) the input combination
w = v_i/2 + eps_i/2 +- (gbar + ghat_i) goes through the n butterfly stages of the Moebius
transform as n auxiliary vectors (2 non-zeros per row), the OR map through the index reversal
T -> N \\ T and a sign (row 0: I_or(empty) = w(empty)); the loss is linearised with epigraph
variables t_S >= |z_i(S)| (weight 1 - alpha) and u_i(S) >= |z_i(S)| (weight alpha).

Usage (from the repository root; HiGHS from PyPI, pinned):
    pip install highspy==1.16.0 numpy==2.4.6 scipy==1.17.1
    python3 benches/lp_reference/highs_lp.py [ipm] [simplex] [pdlp]   (default: ipm)
Each solver runs on one thread with a 600 s time limit; the script prints the status, the
objective and the wall time. Compare the objective with the optimal loss that
`cargo bench --bench optimal -- real_n10` prints.
"""

import glob
import json
import os
import sys
import time

import highspy
import numpy as np
import scipy.sparse as sp

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ALPHA, EPS_RATIO, GAMMA_RATIO = 0.1, 0.02, 0.5


def pinned_sentence_pair():
    """The two text classifiers' values on one sentence, as benches/optimal.rs picks them."""
    groups = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "notebooks", "values", "*.json"))):
        identity = json.load(open(path))["identity"]
        if not identity.startswith("text classifier log-odds"):
            continue
        lines = identity.split("\n")
        model = "".join(l for l in lines if l.startswith("model:"))
        rest = "\n".join(l for l in lines if not l.startswith("model:"))
        groups.setdefault(rest, []).append((model, path[: -len(".json")] + ".npy"))
    key = next(k for k in sorted(groups) if len(groups[k]) == 2)
    values = [np.load(npy).astype(float) for _, npy in sorted(groups[key])]
    return [v - v[0] for v in values]


def build(values):
    m, size = len(values), len(values[0])
    n = size.bit_length() - 1
    span = [abs(v[-1] - v[0]) for v in values]
    eps = [EPS_RATIO * s for s in span]
    gamma = [GAMMA_RATIO * s for s in span]
    eye = sp.identity(size, format="csr")
    # stage l: x[S] -= x[S ^ 2^l] for S containing player l
    stages = [
        eye - sp.csr_matrix(
            (np.ones(size // 2), ([s for s in range(size) if s & (1 << level)],
                                  [s ^ (1 << level) for s in range(size) if s & (1 << level)])),
            shape=(size, size))
        for level in range(n)
    ]
    full = size - 1
    reverse = sp.csr_matrix(
        (np.ones(size), (np.arange(size), [full & ~t for t in range(size)])), shape=(size, size)
    )
    blocks = []  # (name, lower, upper, cost)

    def var(name, lo, hi, cost=0.0):
        blocks.append((name, lo, hi, cost))

    for i in range(m):
        var(("eps", i), -eps[i], eps[i])
    var("gbar", -np.inf, np.inf)
    for i in range(m):
        var(("ghat", i), -gamma[i], gamma[i])
    for kind in range(2):
        for i in range(m):
            for level in range(1, n + 1):
                var(("x", kind, i, level), -np.inf, np.inf)
            var(("z", kind, i), -np.inf, np.inf)
            var(("u", kind, i), 0.0, np.inf, ALPHA)
        var(("t", kind), 0.0, np.inf, 1.0 - ALPHA)
    rows, lower, upper = [], [], []

    def row(coeffs, lo, hi):
        rows.append(coeffs)
        lower.append(lo)
        upper.append(hi)

    zero, ninf = np.zeros(size), np.full(size, -np.inf)
    # the OR map: I_or(S) = -(Moebius of the reversed inputs)(S) for S != empty, and
    # I_or(empty) = w(empty)
    or_first = stages[0] @ reverse
    drop0 = sp.diags(np.r_[0.0, np.full(size - 1, -1.0)])
    pick0 = sp.csr_matrix(([1.0], ([0], [0])), shape=(size, size))
    for kind in range(2):
        sign = 1.0 if kind == 0 else -1.0
        for i in range(m):
            first = stages[0] if kind == 0 else or_first
            rhs = -(first @ values[i]) / 2
            row({("eps", i): 0.5 * first, "gbar": sign * first, ("ghat", i): sign * first,
                 ("x", kind, i, 1): -eye}, rhs, rhs)
            for level in range(1, n):
                row({("x", kind, i, level): stages[level], ("x", kind, i, level + 1): -eye},
                    zero, zero)
            if kind == 0:
                row({("x", kind, i, n): eye, ("z", kind, i): -eye}, zero, zero)
            else:
                rhs = np.zeros(size)
                rhs[0] = -values[i][0] / 2
                row({("x", kind, i, n): drop0, ("z", kind, i): -eye, ("eps", i): 0.5 * pick0,
                     "gbar": -pick0, ("ghat", i): -pick0}, rhs, rhs)
            for s in (1.0, -1.0):
                for bound in (("u", kind, i), ("t", kind)):
                    row({("z", kind, i): s * eye, bound: -eye}, ninf, zero)
    empty = sp.csr_matrix((size, size))
    a = sp.bmat([[r.get(b[0], empty) for b in blocks] for r in rows], format="csc")
    def column(field):
        return np.concatenate([np.full(size, b[field]) for b in blocks])

    return a, column(3), column(1), column(2), np.concatenate(lower), np.concatenate(upper)


def solve(problem, method):
    a, cost, lo, hi, rlo, rhi = problem
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", method)
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", 600.0)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lo, hi
    lp.row_lower_, lp.row_upper_ = rlo, rhi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = a.shape[1], a.shape[0]
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    h.passModel(lp)
    start = time.time()
    h.run()
    seconds = time.time() - start
    info = h.getInfo()
    print(f"HiGHS {method}: {h.getModelStatus()}, objective {info.objective_function_value:.9f}, "
          f"{seconds:.2f} s, simplex iterations {info.simplex_iteration_count}, "
          f"IPM iterations {info.ipm_iteration_count}", flush=True)


if __name__ == "__main__":
    values = pinned_sentence_pair()
    problem = build(values)
    print(f"n = {len(values[0]).bit_length() - 1}, m = {len(values)}: "
          f"{problem[0].shape[0]} rows, {problem[0].shape[1]} columns, {problem[0].nnz} non-zeros")
    for method in sys.argv[1:] or ["ipm"]:
        solve(problem, method)
