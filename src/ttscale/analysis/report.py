"""A self-contained HTML report of a run directory.

One file, no external assets (styles inline, figures embedded as base64 PNG and also
written next to it as ``<name>-*.png``), so it can be mailed or archived as is. It shows:
the headline table of every (strategy, budget) point, accuracy against compute with the
Pareto frontier, the compute-optimal table, GenRM's grid and verifier quality when the bank
has verdicts, decisions stored by live runs, a per-problem drill-down (samples, votes,
verifier scores, how each point fared on the problem, stored decisions) and the config that
produced it. Every figure and table names the decision labels behind it (the store's
``decisions`` table, ``ttscale bank`` / :meth:`ttscale.store.Store.decisions`), so any
number can be traced to the decisions that produced it.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..backends.replay import pick_stream
from ..errors import StoreError
from ..store import Store
from ..types import Decision
from .cost import AXES
from .curves import Point, compute_curves, read_sweep
from .pareto import genrm_grid, genrm_inputs, optimal_table
from .simulate import BankData

__all__ = ["build_report", "Report", "MAX_DRILLDOWN"]

#: problems shown in the drill-down (the rest are counted, not shown)
MAX_DRILLDOWN = 200

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1150px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}.ok{color:#0a7d28}.bad{color:#b3261e}.muted{color:#777;font-size:.85em}
code,pre{background:#f6f6f6;font-size:.85em}pre{padding:.6em;overflow:auto;max-height:30em}
img{max-width:100%;border:1px solid #eee}details{margin:.3em 0}summary{cursor:pointer}
.labels{font-size:.8em;color:#555;word-break:break-all}
td code{overflow-wrap:anywhere}td.l{max-width:28em}
"""


#: marks the page once loaded: how many figures decoded (``data-images-loaded="2/2"``), so
#: a headless browser can confirm the report rendered; inline, like everything else
_SELF_CHECK = ("<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
               "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}"
               "document.body.setAttribute('data-images-loaded',ok+'/'+im.length);});</script>")


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _f(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞"
        if abs(x) >= 1e5 or (x != 0 and abs(x) < 1e-3):
            return f"{x:.3g}"
        return f"{x:.{digits}f}"
    return _e(x)


def _table(headers: list[str], rows: list[list[Any]], left: int = 1, table_id: str = "") -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    ident = f' id="{_e(table_id)}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _labels_note(labels: list[str]) -> str:
    if not labels:
        return ""
    return ('<p class="labels">Decision labels: ' + ", ".join(f"<code>{_e(x)}</code>" for x in labels) + "</p>")


class Report:
    """Collects sections; :meth:`write` produces the HTML file and the PNGs."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.sections: list[str] = []
        self.images: dict[str, bytes] = {}

    def add(self, heading: str, body: str, anchor: str = "") -> None:
        ident = f' id="sec-{_e(anchor)}"' if anchor else ""  # tables own the bare ids
        self.sections.append(f"<h2{ident}>{_e(heading)}</h2>\n{body}")

    def image(self, name: str, png: bytes, alt: str) -> str:
        self.images[name] = png
        data = base64.b64encode(png).decode()
        return f'<img id="fig-{_e(name)}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'

    def write(self, out: Path) -> list[Path]:
        out.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for name, png in self.images.items():
            p = out.with_name(f"{out.stem}-{name}.png")
            p.write_bytes(png)
            written.append(p)
        doc = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(self.title)}</title>"
               f"<style>{_CSS}</style></head><body><h1>{_e(self.title)}</h1>\n" + "\n".join(self.sections)
               + _SELF_CHECK + "</body></html>\n")
        out.write_text(doc, encoding="utf-8")
        return written


def _points_table(points: list[Point], axis: str) -> str:
    shown = ("samples", "tokens", "flops", "cost")
    rows = []
    for p in points:
        rows.append([f"<code>{_e(p.spec or p.strategy)}</code>", p.budget, _f(p.accuracy),
                     _f(p.accuracy_se), _f(p.problem_se), _f(p.x("samples"), 2), _f(p.x("tokens"), 1),
                     _f(p.x("flops")), _f(p.x("cost"))] + ([_f(p.x(axis))] if axis not in shown else [])
                    + [_e(p.method), _f(p.ece), f"<code>{_e(p.label)}</code>"])
    extra = [AXES[axis][0]] if axis not in shown else []
    return _table(["strategy", "budget", "accuracy", "± s.e. (orderings)", "± s.e. (problems)",
                   "samples", "tokens", "FLOPs", "cost $", *extra, "method", "ECE", "decision label"],
                  rows, table_id="points")


def _decisions_by_label(store: Store, labels: list[str]) -> dict[str, list[Decision]]:
    return {label: store.decisions(label) for label in labels}


def build_report(run_dir: str | Path, out: str | Path | None = None, *, axis: str | None = None) -> tuple[Path, list[list[Any]]]:
    """Write the report of ``run_dir``; returns (HTML path, headline rows for the CLI)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise StoreError(f"{run_dir} is not a run directory")
    data = BankData.load(run_dir)
    saved = read_sweep(run_dir)
    if saved is not None:
        points, settings = saved
    else:  # a plain `ttscale run` directory: exact majority-vote curve, no stored decisions
        budgets = [b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256) if b <= data.max_samples] or [1]
        points = compute_curves(data, [("sc", {})], budgets, orderings_count=1)
        settings = {"strategies": ["sc"], "budgets": budgets, "note": "no sweep.json: exact maj@k only"}
    axis = axis or settings.get("x_axis") or "tokens"
    if axis not in AXES:
        from ..errors import ConfigError
        raise ConfigError("x_axis", f"unknown axis {axis!r}; choose one of {', '.join(AXES)}")
    out_path = Path(out) if out else run_dir / "report.html"
    cfg_path = run_dir / "config.json"
    config = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    store = Store(run_dir, readonly=True)
    try:
        labels_in_store = store.decision_labels()
        rep = Report(f"ttscale report · {run_dir.name}")
        n_samples = sum(len(pick_stream(data.bank[p.id], "main")) for p in data.problems)
        rep.add("Summary", _table(["item", "value"], [
            ["run directory", f"<code>{_e(run_dir.resolve())}</code>"],
            ["task", _e(type(data.task).__name__ + " · " + str(getattr(data.task, "name", "")))],
            ["model", _e(data.model or "?")],
            ["graded problems", len(data.problems)],
            ["samples (main stream)", n_samples],
            ["skipped problems (no reference or no samples)", data.skipped],
            ["x-axis", _e(AXES[axis][0])],
            ["orderings", _e(settings.get("orderings", "–"))],
            ["generated", _e(time.strftime("%Y-%m-%d %H:%M:%S"))],
        ]), "summary")
        point_labels = [p.label for p in points if p.stored_orderings]
        rep.add("Accuracy vs compute: every strategy at every budget",
                _points_table(points, axis) + _labels_note(point_labels)
                + '<p class="muted">Accuracy is the expected fraction of problems answered correctly '
                  '(exact closed form for method "exact"; mean over seeded orderings otherwise, with the '
                  'Monte-Carlo s.e.). The problem s.e. is the uncertainty from the finite problem set. '
                  'Compute is per problem and counts what a live run pays (one prompt prefill per draw '
                  'round, the rest cached).</p>', "points")
        from .plots import accuracy_plot
        figs = rep.image("accuracy", accuracy_plot(points, axis), f"accuracy vs {AXES[axis][0]}")
        if axis != "samples":
            figs += rep.image("accuracy-samples", accuracy_plot(points, "samples"), "accuracy vs samples")
        rep.add("Figure: accuracy vs compute with the Pareto frontier",
                figs + _labels_note([p.label for p in points]), "figure")
        opt = optimal_table(points, axis)
        rep.add("Compute-optimal strategy by budget (Pareto frontier)", _table(
            ["from (" + AXES[axis][1] + ")", "to", "strategy", "params", "budget", "accuracy", "± s.e. (problems)",
             "decision label"],
            [[_f(r["from"]), _f(r["to"]), _e(r["strategy"]), f"<code>{_e(json.dumps(r['params']))}</code>",
              r["budget"], _f(r["accuracy"]), _f(r["problem_se"]), f"<code>{_e(r['label'])}</code>"]
             for r in opt], table_id="optimal")
            + '<p class="muted">For a per-problem compute budget in [from, to), this point is the most '
              'accurate one that fits.</p>' + _labels_note([r["label"] for r in opt]), "optimal")
        _calibration(rep, points)
        _genrm(rep, data)
        _verifiers(rep, data)
        live = [label for label in labels_in_store if not label.startswith("sweep/")]
        decisions = _decisions_by_label(store, live)
        if live:
            rows = []
            for label in live:
                ds = decisions[label]
                graded = [d for d in ds if d.correct is not None]
                acc = sum(bool(d.correct) for d in graded) / len(graded) if graded else float("nan")
                rows.append([f"<code>{_e(label)}</code>", len(ds), _f(acc),
                             _f(sum(d.samples_used for d in ds) / max(len(ds), 1), 2),
                             _f(sum(d.usage.completion_tokens for d in ds) / max(len(ds), 1), 1)])
            rep.add("Live decisions in this run directory", _table(
                ["decision label", "decisions", "accuracy", "samples", "tokens"], rows, table_id="live"), "live")
        _drilldown(rep, data, points, store, live)
        rep.add("Config that produced this report", "<h3>config.json</h3><pre>" + _e(json.dumps(config, indent=2))
                + "</pre><h3>sweep settings</h3><pre>" + _e(json.dumps(settings, indent=2, default=str)) + "</pre>",
                "config")
        rep.write(out_path)
    finally:
        store.close()
    headline = [[p.spec or p.strategy, p.budget, p.accuracy, p.accuracy_se, p.x("samples"), p.x("tokens"),
                 p.x(axis), p.method] for p in points]
    return out_path, headline


def _calibration(rep: Report, points: list[Point]) -> None:
    rows = [[f"<code>{_e(p.label)}</code>", _f(p.ece), _f(p.brier)] for p in points if p.ece is not None]
    if rows:
        rep.add("Calibration of decision confidences", _table(["decision label", "ECE (10 bins)", "Brier"], rows,
                                                               table_id="calibration"), "calibration")


def _genrm(rep: Report, data: BankData) -> None:
    got = genrm_inputs(data)
    if got is None:
        return
    correct, chains, answers, lam = got
    vmax = min(len(c) for ch in chains for c in ch)
    smax = min(len(c) for c in correct)
    ss = [s for s in (1, 2, 4, 8, 16, 32, 64) if s <= smax] or [smax]
    vs = [0] + [v for v in (1, 2, 4, 8, 16) if v <= vmax]
    grid = genrm_grid(correct, chains, ss, vs, lam=lam, answers=answers)
    from .plots import genrm_plot
    body = rep.image("genrm", genrm_plot(grid), "GenRM grid")
    body += _table(["compute S·(1+λV)", "solutions S", "verifications V", "accuracy", "± s.e."],
                   [[_f(c.compute, 2), c.solutions, c.verifications, _f(c.accuracy), _f(c.accuracy_se)]
                    for c in grid.optimal], table_id="genrm")
    body += '<p class="muted">Compute-optimal (S, V) per compute level; V = 0 is majority vote. Source: stored verdicts of verifier <code>genrm</code>.</p>'
    rep.add("GenRM: solutions × verifications", body, "genrm")


def _verifiers(rep: Report, data: BankData) -> None:
    if not data.verdicts:
        return
    from . import verifier_metrics as vm
    samples = {(s.problem_id, s.stream, s.index): s for p in data.problems
               for ss in data.bank[p.id].values() for s in ss}
    probs = {p.id: p for p in data.problems}
    by_name: dict[str, tuple[list[float | None], list[bool]]] = {}
    for v in data.verdicts:
        s = samples.get((v.problem_id, v.stream, v.sample_index))
        if s is None or v.problem_id not in probs:
            continue
        sc, ok = by_name.setdefault(v.verifier, ([], []))
        sc.append(v.score)
        ok.append(bool(data.task.is_correct(s.answer, probs[v.problem_id])))
    rows = []
    for name, (sc, ok) in sorted(by_name.items()):
        m = vm.verifier_metrics(sc, ok)
        rows.append([_e(name), m.n, _f(m.precision), _f(m.recall), _f(m.fpr), _f(m.gain), _f(m.solver_accuracy)])
    if rows:
        rep.add("Verifier quality (threshold 0.5)", _table(
            ["verifier", "verdicts", "precision", "recall", "FPR", "gain", "solver accuracy"], rows,
            table_id="verifiers"), "verifiers")


def _drilldown(rep: Report, data: BankData, points: list[Point], store: Store, live: list[str]) -> None:
    verdicts: dict[tuple[str, str, int], dict[str, float | None]] = {}
    for v in data.verdicts:
        verdicts.setdefault((v.problem_id, v.stream, v.sample_index), {})[v.verifier] = v.score
    names = sorted({v.verifier for v in data.verdicts})
    parts = []
    labels_shown = [p.label for p in points if p.stored_orderings] + live
    first: dict[str, list[tuple[str, Decision]]] = {}
    for label in labels_shown:  # one read per label; only the first ordering is shown
        for d in store.decisions(label):
            if d.ordering in (None, -1, 0):
                first.setdefault(d.problem_id, []).append((label, d))
    for prob in data.problems[:MAX_DRILLDOWN]:
        samples = sorted(pick_stream(data.bank[prob.id], "main"), key=lambda s: s.index)
        votes = Counter(s.answer for s in samples if s.answer is not None)
        srows = []
        for s in samples:
            ok = data.task.is_correct(s.answer, prob)
            vs = verdicts.get((prob.id, s.stream, s.index), {})
            srows.append([s.index, f"<code>{_e(s.text[:120])}</code>", _e(s.answer),
                          f'<span class="{"ok" if ok else "bad"}">{"✓" if ok else "✗"}</span>',
                          s.usage.completion_tokens, _f(s.logprob_mean, 3)] + [_f(vs.get(n), 3) for n in names])
        prow = [[_e(p.spec or p.strategy), p.budget, _f(p.per_problem.get(prob.id)), f"<code>{_e(p.label)}</code>"]
                for p in points]
        drows = []
        for label, d in first.get(prob.id, []):
            drows.append([f"<code>{_e(label)}</code>", _e(d.ordering), _e(d.answer),
                          f'<span class="{"ok" if d.correct else "bad"}">{_e(d.correct)}</span>',
                          d.samples_used, _f(d.confidence, 3)])
        acc_here = sum(votes[a] for a in votes if data.task.is_correct(a, prob)) / max(len(samples), 1)
        parts.append(
            f'<details class="problem" id="p-{_e(prob.id)}"><summary><code>{_e(prob.id)}</code> · reference '
            f'<b>{_e(", ".join(prob.answers[:3]))}</b> · {len(samples)} samples · {acc_here:.0%} correct</summary>'
            f"<pre>{_e(str(prob.prompt)[-600:])}</pre>"
            "<p>Votes: " + ", ".join(f"<code>{_e(a)}</code> × {c}" for a, c in votes.most_common()) + "</p>"
            + _table(["#", "text", "answer", "ok", "tokens", "mean logprob", *names], srows)
            + _table(["strategy", "budget", "expected accuracy here", "decision label"], prow)
            + (_table(["decision label", "ordering", "answer", "correct", "samples", "confidence"], drows)
               if drows else "")
            + "</details>")
    more = len(data.problems) - MAX_DRILLDOWN
    note = f'<p class="muted">{more} more problems not shown.</p>' if more > 0 else ""
    rep.add("Per-problem drill-down", "".join(parts) + note, "problems")
