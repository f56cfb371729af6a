"""Math answer equivalence through ``math-verify``, behind a process boundary.

Why a process pool: math-verify parses LaTeX into SymPy and compares symbolically. On
hostile or merely unlucky input (``10^{10^{10}}``, deep nesting) that can take unbounded
time or memory, and math-verify's own timeout uses ``signal.alarm``, which only works on
the main thread — not in the engine's worker threads or inside a web server. So every
parse/compare runs in a worker *process*; the parent waits with a hard deadline and kills
and replaces a worker that overruns. Model text is never given to ``eval``/``parse_expr``
in this process.

Two cheap in-process paths avoid the round trip when they can decide safely: identical
canonical strings are equal, and two plain rational numbers (``0.5``, ``\\frac{1}{2}``,
``-3``, ``1/4``) are compared exactly with :class:`fractions.Fraction`. Results are cached.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import queue
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

from ..errors import VerifierError
from .extract import canonical_math

__all__ = ["MathChecker", "math_equal", "equivalence_classes", "default_checker", "as_fraction"]

START_TIMEOUT = 120.0  # importing sympy + math-verify in a fresh worker on a busy 2-core box


# ------------------------------------------------------------------ in-process fast path

_FRAC = re.compile(r"(-?)\\frac\{(-?\d+)\}\{(-?\d+)\}")
_SLASH = re.compile(r"(-?\d+)/(-?\d+)")
_DEC = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")


def as_fraction(canon: str | None) -> Fraction | None:
    """An exact rational for plain numeric answers (``3``, ``-0.25``, ``\\frac{1}{2}``,
    ``1/4``); None for anything else. Pure string parsing — safe on model text."""
    if not canon or len(canon) > 60:
        return None
    try:
        if _DEC.fullmatch(canon):
            return Fraction(canon)
        m = _FRAC.fullmatch(canon) or _SLASH.fullmatch(canon)
        if m:
            groups = m.groups()
            sign = -1 if (len(groups) == 3 and groups[0]) else 1
            num, den = int(groups[-2]), int(groups[-1])
            return None if den == 0 else sign * Fraction(num, den)
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _fast_equal(a: str, b: str) -> bool | None:
    """True/False when decidable without SymPy, else None."""
    ca, cb = canonical_math(a), canonical_math(b)
    if ca is None or cb is None:
        return False
    if ca == cb:
        return True
    fa, fb = as_fraction(ca), as_fraction(cb)
    if fa is not None and fb is not None:
        return fa == fb
    return None


# ------------------------------------------------------------------------ the worker


def _worker_main(conn: Connection) -> None:
    """Worker loop: receive batches of (key, answer, reference, timeout), send one
    (key, equal, reason) per item. Runs in its own process, on its own main thread, so
    math-verify's signal-based timeouts work here as a first line of defence."""
    try:
        from math_verify import parse, verify
    except ImportError as exc:  # reported to the parent, which raises MissingDependencyError
        conn.send(("error", f"math-verify not importable: {exc}"))
        return
    conn.send(("ready", ""))
    parsed: OrderedDict[tuple[str, int], Any] = OrderedDict()

    def parse_once(s: str, secs: int) -> Any:
        key = (s, secs)
        if key in parsed:
            parsed.move_to_end(key)
            return parsed[key]
        text = s if ("$" in s or "\\boxed" in s or "\\(" in s) else f"${s}$"
        out = parse(text, parsing_timeout=secs)
        if not out and text != s:
            out = parse(s, parsing_timeout=secs)
        parsed[key] = out
        if len(parsed) > 20_000:
            parsed.popitem(last=False)
        return out

    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for key, a, b, timeout in batch:
            secs = max(1, int(timeout))
            try:
                pa, pb = parse_once(a, secs), parse_once(b, secs)
                if not pa or not pb:
                    res = (key, False, "unparsable")
                else:
                    ok = bool(verify(pb, pa, timeout_seconds=secs))
                    res = (key, ok, "math-verify")
            except BaseException as exc:  # noqa: BLE001 - a verdict, never a crash
                res = (key, False, f"error: {type(exc).__name__}")
            conn.send(res)


class _Worker:
    def __init__(self, ctx: Any, target: Callable[[Connection], None] = _worker_main) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(child,), daemon=True, name="ttscale-math")
        self.proc.start()
        child.close()
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.conn.poll(START_TIMEOUT):
            self.kill()
            raise VerifierError("math-verify worker did not start")
        try:
            kind, msg = self.conn.recv()
        except (EOFError, OSError):  # the child died before it could say anything
            self.proc.join(5)
            code = self.proc.exitcode
            self.kill()
            raise VerifierError(f"math-verify worker exited at start (exit code {code}); worker processes "
                                "are spawned and re-import the main script, so run from a file or a module, "
                                "not from standard input") from None
        if kind == "error":
            self.kill()
            from ..errors import MissingDependencyError
            raise MissingDependencyError("math equivalence (math-verify)", "math") from VerifierError(msg)
        self.ready = True

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        except (OSError, ValueError, AttributeError):
            pass
        self.conn.close()


class MathChecker:
    """A pool of math-verify worker processes with a hard per-answer deadline and a cache.

    Thread-safe: each call borrows an idle worker. A comparison that overruns its deadline
    counts as *not equal* (reason ``timeout``), and its worker is killed and replaced.
    """

    #: the function each worker process runs (module-level, so ``spawn`` can import it)
    worker_target: Callable[[Connection], None] = staticmethod(_worker_main)

    def __init__(self, workers: int = 1, timeout: float = 5.0, cache_size: int = 200_000) -> None:
        if workers < 1:
            from ..errors import ConfigError
            raise ConfigError("workers", "must be >= 1")
        self.n_workers = workers
        self.timeout = timeout
        self._ctx = mp.get_context("spawn")  # fork would copy torch's threads and locks
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[bool, str]] = OrderedDict()
        self._cache_size = cache_size
        self.stats = {"fast": 0, "cached": 0, "worker": 0, "timeouts": 0}
        self._closed = False

    # -- workers
    def _borrow(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise VerifierError("MathChecker is closed")
            if self._idle.empty() and self._started < self.n_workers:
                self._started += 1
                w = _Worker(self._ctx, self.worker_target)
                try:
                    w.wait_ready()
                except BaseException:
                    self._started -= 1
                    raise
                return w
        return self._idle.get()

    def _give_back(self, w: _Worker) -> None:
        self._idle.put(w)

    def _run_batch(self, items: list[tuple[int, str, str]], timeout: float) -> dict[int, tuple[bool, str]]:
        """Run items on one worker; on a deadline miss kill it, record a timeout, continue
        the rest of the batch on a fresh worker."""
        out: dict[int, tuple[bool, str]] = {}
        todo = list(items)
        w = self._borrow()
        try:
            while todo:
                w.conn.send([(k, a, b, timeout) for k, a, b in todo])
                while todo:
                    if not w.conn.poll(timeout + 1.0):
                        k = todo.pop(0)[0]
                        out[k] = (False, "timeout")
                        self.stats["timeouts"] += 1
                        w.kill()
                        w = _Worker(self._ctx, self.worker_target)
                        w.wait_ready()
                        break
                    try:
                        k, ok, reason = w.conn.recv()
                    except (EOFError, OSError):  # worker died (e.g. out of memory)
                        k = todo.pop(0)[0]
                        out[k] = (False, "worker died")
                        w.kill()
                        w = _Worker(self._ctx, self.worker_target)
                        w.wait_ready()
                        break
                    out[k] = (ok, reason)
                    todo = [t for t in todo if t[0] != k]
        finally:
            self._give_back(w)
        return out

    # -- cache
    def _cache_get(self, key: tuple[str, str]) -> tuple[bool, str] | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

    def _cache_put(self, key: tuple[str, str], value: tuple[bool, str]) -> None:
        if value[1] == "timeout":  # a busy machine may time out what a quiet one decides
            return
        with self._lock:
            self._cache[key] = value
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    # -- public
    def check(self, answer: str, reference: str, timeout: float | None = None) -> tuple[bool, str]:
        """``(equal, reason)``; reason is ``canonical``, ``numeric``, ``math-verify``,
        ``unparsable``, ``timeout``, ``no answer`` or ``error: ...``."""
        return self.check_many([(answer, reference)], timeout)[0]

    def equal(self, answer: str, reference: str, timeout: float | None = None) -> bool:
        return self.check(answer, reference, timeout)[0]

    def check_many(self, pairs: Sequence[tuple[str | None, str | None]],
                   timeout: float | None = None) -> list[tuple[bool, str]]:
        """Check many pairs at once, spreading the slow ones over all workers."""
        timeout = self.timeout if timeout is None else timeout
        results: list[tuple[bool, str] | None] = [None] * len(pairs)
        slow: dict[tuple[str, str], list[int]] = {}
        for i, (a, b) in enumerate(pairs):
            if a is None or b is None or not str(a).strip() or not str(b).strip():
                results[i] = (False, "no answer")
                continue
            a, b = str(a)[:5000], str(b)[:5000]
            fast = _fast_equal(a, b)
            if fast is not None:
                self.stats["fast"] += 1
                results[i] = (fast, "canonical" if fast and canonical_math(a) == canonical_math(b) else "numeric")
                continue
            hit = self._cache_get((a, b))
            if hit is not None:
                self.stats["cached"] += 1
                results[i] = hit
                continue
            slow.setdefault((a, b), []).append(i)
        if slow:
            keys = list(slow)
            self.stats["worker"] += len(keys)
            items = [(j, a, b) for j, (a, b) in enumerate(keys)]
            n = min(self.n_workers, len(items))
            chunks = [items[w::n] for w in range(n)]
            done: dict[int, tuple[bool, str]] = {}
            if n == 1:
                done = self._run_batch(chunks[0], timeout)
            else:
                errors: list[BaseException] = []

                def run(chunk: list[tuple[int, str, str]]) -> None:
                    try:
                        done.update(self._run_batch(chunk, timeout))
                    except BaseException as exc:  # noqa: BLE001 - re-raised below
                        errors.append(exc)

                threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if errors:
                    raise errors[0]
            for j, key in enumerate(keys):
                val = done.get(j, (False, "error: lost"))
                self._cache_put(key, val)
                for i in slow[key]:
                    results[i] = val
        return [r if r is not None else (False, "error") for r in results]

    def equal_many(self, pairs: Sequence[tuple[str | None, str | None]], timeout: float | None = None) -> list[bool]:
        return [ok for ok, _ in self.check_many(pairs, timeout)]

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                w = self._idle.get_nowait()
            except queue.Empty:
                break
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
            w.kill()

    def __enter__(self) -> MathChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: MathChecker | None = None
_default_lock = threading.Lock()


def default_checker() -> MathChecker:
    """The process-wide checker (one worker; started on first use, stopped at exit)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MathChecker(workers=1)
            atexit.register(_default.close)
        return _default


def math_equal(a: str | None, b: str | None, timeout: float = 5.0) -> bool:
    """Whether math answers ``a`` (e.g. a model's) and ``b`` (e.g. the reference) are
    equivalent. Never raises on model text; a comparison over ``timeout`` seconds is False."""
    return default_checker().check(a, b, timeout)[0]  # type: ignore[arg-type]


def equivalence_classes(answers: Iterable[str | None],
                        equal: Callable[[str, str], bool] | None = None) -> list[list[str]]:
    """Group distinct answers into classes of mutually equivalent ones (union-find over
    pairwise checks against each class's first member). ``None`` answers are dropped.
    Order is first appearance, so the first member of each class is its representative."""
    distinct: list[str] = []
    seen: set[str] = set()
    for a in answers:
        if a is None or a in seen:
            continue
        seen.add(a)
        distinct.append(a)
    if equal is None:
        checker = default_checker()
        # batch all representative comparisons the greedy pass could need
        by_canon: dict[str, list[str]] = {}
        for a in distinct:
            by_canon.setdefault(canonical_math(a) or a, []).append(a)
        reps = [g[0] for g in by_canon.values()]
        pairs = [(reps[i], reps[j]) for i in range(len(reps)) for j in range(i)]
        verdicts = dict(zip(pairs, checker.equal_many(pairs), strict=True))
        groups = list(by_canon.values())
        return _union(groups, lambda x, y: verdicts.get((x, y), verdicts.get((y, x), False)))
    return _union([[a] for a in distinct], equal)


def _union(groups: list[list[str]], equal: Callable[[str, str], bool]) -> list[list[str]]:
    parent = list(range(len(groups)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(groups)):
        for j in range(i):
            if find(i) != find(j) and equal(groups[i][0], groups[j][0]):
                parent[find(i)] = find(j)
    merged: dict[int, list[str]] = {}
    for i, g in enumerate(groups):
        merged.setdefault(find(i), []).extend(g)
    return list(merged.values())
