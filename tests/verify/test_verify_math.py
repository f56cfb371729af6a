"""Math equivalence: the process pool, its hard deadline, caching, equivalence classes."""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import Connection

import pytest

from ttscale.verify.math import MathChecker, as_fraction, equivalence_classes, math_equal


def _stuck_worker(conn: Connection) -> None:
    """A worker that hangs on every request, like math-verify on a pathological input that
    its signal-based timeout cannot interrupt."""
    conn.send(("ready", ""))
    while True:
        conn.recv()
        time.sleep(3600)


class StuckChecker(MathChecker):
    worker_target = staticmethod(_stuck_worker)


def _dead_worker(conn: Connection) -> None:
    """A worker that dies before it reports ready (as a spawn from ``python -`` does)."""
    import os
    os._exit(3)


class DeadChecker(MathChecker):
    worker_target = staticmethod(_dead_worker)


def test_a_worker_that_dies_at_start_is_a_clear_verifier_error() -> None:
    from ttscale.errors import VerifierError
    checker = DeadChecker(workers=1)
    try:
        with pytest.raises(VerifierError, match="exited at start .exit code 3"):
            checker.equal(r"\sin^2 x + \cos^2 x", "1")
    finally:
        checker.close()


@pytest.mark.parametrize("a,b,equal", [
    (r"\frac{1}{2}", "0.5", True),
    ("1/2", r"\frac12", True),
    (r"\sqrt{2}/2", r"\frac{1}{\sqrt{2}}", True),
    (r"\{1,2\}", r"\{2,1\}", True),
    ("(1,2]", "(1,2)", False),
    ("2x+1", "1+2x", True),
    ("3", "4", False),
    ("x=3", "3", True),
    (None, "3", False),
    ("", "3", False),
])
def test_math_equal(a: str | None, b: str, equal: bool) -> None:
    assert math_equal(a, b) is equal


def test_fast_paths_avoid_the_worker() -> None:
    assert as_fraction(r"\frac{-3}{6}") == as_fraction("-0.5")
    assert as_fraction("x") is None and as_fraction("1/0") is None
    with MathChecker() as mc:
        assert mc.check("1,000", "1000") == (True, "canonical")
        assert mc.check("0.25", r"\frac14") == (True, "numeric")
        assert mc.stats["worker"] == 0 and mc._started == 0  # no process was started


def test_hard_timeout_kills_a_stuck_worker_and_recovers() -> None:
    with StuckChecker(timeout=0.5) as mc:
        t0 = time.monotonic()
        results = mc.check_many([("a+b", "b+a"), ("c+d", "d+c")])
        assert results == [(False, "timeout"), (False, "timeout")]
        assert time.monotonic() - t0 < 20
        assert mc.stats["timeouts"] == 2
    # timeouts are not cached: a quiet machine may decide what a busy one could not
    assert ("a+b", "b+a") not in mc._cache


def test_pool_is_thread_safe_and_caches() -> None:
    with MathChecker(workers=2, timeout=10) as mc:
        pairs = [(f"{i}x + {i}", f"{i}(x+1)") for i in range(2, 8)]
        out: dict[int, bool] = {}

        def work(k: int) -> None:
            out[k] = all(mc.equal_many(pairs))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert out == {0: True, 1: True, 2: True}
        assert mc.check(*pairs[0])[0] is True
        assert mc.stats["cached"] >= 1


def test_equivalence_classes_union_equivalent_answers() -> None:
    groups = equivalence_classes(["1/2", "0.5", r"\frac{\sqrt2}{2}", r"\sqrt{2}/2", None, "3", "x=3", "0.5"])
    assert groups == [["1/2", "0.5"], [r"\frac{\sqrt2}{2}", r"\sqrt{2}/2"], ["3", "x=3"]]
    assert equivalence_classes(["a", "A", "b"], equal=lambda x, y: x.lower() == y.lower()) == [["a", "A"], ["b"]]
    assert equivalence_classes([]) == []
