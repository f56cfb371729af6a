"""The sample bank: one SQLite file per run directory.

Why SQLite in WAL mode: every sample is committed the moment it exists, a run killed with
SIGKILL loses nothing committed, readers (reports, the proxy log) never block the writer,
and the file is a single portable artifact. Keys are idempotent — (problem, stream, index)
for samples, (problem, stream, index, verifier) for verdicts, (strategy label, problem,
ordering) for decisions — so re-running a run inserts nothing twice and a resumed run
finds what is already there.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import StoreError
from .types import SCHEMA_VERSION, Decision, Problem, Sample, Verdict

__all__ = ["Store", "STORE_FILENAME"]

STORE_FILENAME = "samples.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (id TEXT PRIMARY KEY, pos INTEGER, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    problem_id TEXT NOT NULL, stream TEXT NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (problem_id, stream, idx));
CREATE TABLE IF NOT EXISTS verdicts (
    problem_id TEXT NOT NULL, stream TEXT NOT NULL, idx INTEGER NOT NULL, verifier TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (problem_id, stream, idx, verifier));
CREATE TABLE IF NOT EXISTS decisions (
    label TEXT NOT NULL, problem_id TEXT NOT NULL, ordering INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (label, problem_id, ordering));
"""

_COLUMNS = {
    "meta": ("key", "value"),
    "problems": ("id", "pos", "data"),
    "samples": ("problem_id", "stream", "idx", "data"),
    "verdicts": ("problem_id", "stream", "idx", "verifier", "data"),
    "decisions": ("label", "problem_id", "ordering", "data"),
}


class Store:
    """A sample bank in one SQLite file. Thread-safe (one connection behind a lock)."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self.path = self.path / STORE_FILENAME
        if readonly and not self.path.exists():
            raise StoreError(f"no sample store at {self.path}")
        self._lock = threading.RLock()
        try:
            if not readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self._db.commit()
            # a file that is SQLite but not a sample store (other tables, other columns)
            for table, cols in _COLUMNS.items():
                self._db.execute(f"SELECT {', '.join(cols)} FROM {table} LIMIT 0").fetchall()
        except PermissionError as exc:
            raise StoreError(f"cannot write the sample store {self.path}: {exc}") from None
        except sqlite3.OperationalError as exc:
            if "no such" not in str(exc):
                raise StoreError(f"cannot open the sample store {self.path} ({exc})") from None
            raise StoreError(f"{self.path} is not a ttscale sample store ({exc}); "
                             "move it away or choose another run directory") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the sample store {self.path} is unreadable or corrupt ({exc}); "
                             "move it away or choose another run directory") from None

    # --- low level -------------------------------------------------------------------------
    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
        with self._lock:
            try:
                cur = self._db.executemany(sql, list(rows))
                self._db.commit()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"writing to {self.path} failed: {exc}") from None
            return cur.rowcount

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"reading {self.path} failed: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- meta ------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(key, json.dumps(value))])

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    # --- problems --------------------------------------------------------------------------
    def put_problems(self, problems: Iterable[Problem]) -> None:
        self._write("INSERT OR IGNORE INTO problems VALUES (?, ?, ?)",
                    ((p.id, i, json.dumps(p.to_json())) for i, p in enumerate(problems)))

    def problems(self) -> list[Problem]:
        return [Problem.model_validate_json(d) for (d,) in
                self._read("SELECT data FROM problems ORDER BY pos, id")]

    # --- samples ---------------------------------------------------------------------------
    def put_samples(self, samples: Iterable[Sample]) -> int:
        """Insert samples; existing keys are kept as they are. Returns how many were new."""
        return self._write("INSERT OR IGNORE INTO samples VALUES (?, ?, ?, ?)",
                           ((s.problem_id, s.stream, s.index, json.dumps(s.to_json())) for s in samples))

    def get_samples(self, problem_id: str, stream: str) -> dict[int, Sample]:
        rows = self._read("SELECT idx, data FROM samples WHERE problem_id = ? AND stream = ?",
                          (problem_id, stream))
        return {idx: Sample.model_validate_json(d) for idx, d in rows}

    def samples(self, problem_id: str | None = None) -> Iterator[Sample]:
        if problem_id is None:
            rows = self._read("SELECT data FROM samples ORDER BY problem_id, stream, idx")
        else:
            rows = self._read("SELECT data FROM samples WHERE problem_id = ? ORDER BY stream, idx",
                              (problem_id,))
        for (d,) in rows:
            yield Sample.model_validate_json(d)

    def count_samples(self) -> int:
        return int(self._read("SELECT count(*) FROM samples")[0][0])

    def streams(self) -> dict[str, int]:
        """Stream name → number of samples in it."""
        return dict(self._read("SELECT stream, count(*) FROM samples GROUP BY stream"))  # type: ignore[arg-type]

    def bank(self) -> dict[str, dict[str, list[Sample]]]:
        """problem id → stream → samples in index order."""
        out: dict[str, dict[str, list[Sample]]] = defaultdict(lambda: defaultdict(list))
        for s in self.samples():
            out[s.problem_id][s.stream].append(s)
        return {p: dict(v) for p, v in out.items()}

    # --- verdicts --------------------------------------------------------------------------
    def put_verdicts(self, verdicts: Iterable[Verdict]) -> int:
        return self._write("INSERT OR IGNORE INTO verdicts VALUES (?, ?, ?, ?, ?)",
                           ((v.problem_id, v.stream, v.sample_index, v.verifier, json.dumps(v.to_json()))
                            for v in verdicts))

    def verdicts(self, problem_id: str | None = None) -> list[Verdict]:
        if problem_id is None:
            rows = self._read("SELECT data FROM verdicts ORDER BY problem_id, stream, idx")
        else:
            rows = self._read("SELECT data FROM verdicts WHERE problem_id = ?", (problem_id,))
        return [Verdict.model_validate_json(d) for (d,) in rows]

    # --- decisions -------------------------------------------------------------------------
    def put_decisions(self, label: str, decisions: Iterable[Decision]) -> int:
        return self._write("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?)",
                           ((label, d.problem_id, d.ordering if d.ordering is not None else -1,
                             json.dumps(d.to_json())) for d in decisions))

    def decisions(self, label: str | None = None) -> list[Decision]:
        if label is None:
            rows = self._read("SELECT data FROM decisions ORDER BY label, problem_id, ordering")
        else:
            rows = self._read("SELECT data FROM decisions WHERE label = ? ORDER BY problem_id, ordering",
                              (label,))
        return [Decision.model_validate_json(d) for (d,) in rows]

    def decision_labels(self) -> list[str]:
        return [r[0] for r in self._read("SELECT DISTINCT label FROM decisions ORDER BY label")]

    # --- export ----------------------------------------------------------------------------
    def export_jsonl(self, path: str | Path) -> int:
        """One sample per line, in key order."""
        n = 0
        with open(path, "w") as f:
            for s in self.samples():
                f.write(json.dumps(s.to_json()) + "\n")
                n += 1
        return n

    def export_parquet(self, path: str | Path) -> int:
        """Samples as a flat Parquet table (usage fields become columns)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = []
        for s in self.samples():
            d = s.to_json()
            usage = d.pop("usage")
            d.update({f"usage_{k}": v for k, v in usage.items()})
            d["scores"] = json.dumps(d["scores"])
            d["metadata"] = json.dumps(d["metadata"])
            rows.append(d)
        pq.write_table(pa.Table.from_pylist(rows), path)
        return len(rows)
