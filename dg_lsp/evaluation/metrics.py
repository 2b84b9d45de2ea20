"""Scores for a set of filled problems: pass@k, exact match, parse validity, latency and step statistics."""
from __future__ import annotations

import ast
import math
import statistics
import warnings
from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from n samples of which c passed: 1 - C(n-c, k) / C(n, k)
    (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", eq. 1), in the numerically
    stable product form."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def normalise(code: str) -> str:
    """Code with trailing whitespace removed from every line and trailing blank lines dropped:
    what exact match compares (leading indentation still counts)."""
    return "\n".join(line.rstrip() for line in code.splitlines()).rstrip("\n")


def exact_match(completion: str, canonical: str) -> bool:
    return normalise(completion) == normalise(canonical)


def parses(source: str) -> bool:
    """Whether `source` is syntactically valid Python (this interpreter's grammar)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in model output are not our news
            ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): always one of the measured values, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def ks_for(candidates: int) -> list[int]:
    """The k to report for n candidates per problem: 1, then powers of ten below n, then n itself."""
    ks = [1]
    k = 10
    while k < candidates:
        ks.append(k)
        k *= 10
    if candidates > 1:
        ks.append(candidates)
    return ks
