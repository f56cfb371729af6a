"""CHAMP replay bank: per-model single-response accuracy and self-consistency, from real responses.

    python benchmarks/champ_models.py [--orderings 20]

For each model (its 18 prompt-setting responses per problem, bank ``champ-<model>``) and for
all four models together (bank ``champ``, 72 per problem): 0-shot accuracy (the paper's
"standard setting"), single-response accuracy over all settings (exact expectation), SC over
the 18 settings (maj@18) and the cross-model vote (maj@72), computed by the analysis
engine from the named banks — the numbers `ttscale sweep --bank champ...` prints. These
responses are not i.i.d. samples (see ttscale.tasks.champ); the paper graded with a GPT-4
judge (GPT-4 Turbo 0-shot: 58.1%), we grade automatically from the summary sentence.
"""

from __future__ import annotations

import argparse
import time

from ttscale.analysis.curves import compute_curves
from ttscale.analysis.simulate import BankData
from ttscale.banks import resolve_bank
from ttscale.tasks.champ import MODELS, model_slug


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orderings", type=int, default=20)
    args = ap.parse_args()
    rows = []
    t0 = time.monotonic()
    for name, label in [*((f"champ-{model_slug(m)}", m) for m in MODELS), ("champ", "all 4 models")]:
        data = BankData.load(resolve_bank(name))
        n = data.max_samples
        zero = [s for p in data.problems for s in data.bank[p.id]["main"] if s.metadata["prompt_setting"] == "0-Shot"]
        byid = {p.id: p for p in data.problems}
        zero_acc = sum(bool(data.task.is_correct(s.answer, byid[s.problem_id])) for s in zero) / len(zero)
        points = compute_curves(data, [("single", {}), ("sc", {})], [1, n], orderings_count=args.orderings)
        acc = {(pt.strategy, pt.budget): pt.accuracy for pt in points}
        rows.append((label, len(data.problems), n, zero_acc, acc[("single", 1)], acc[("sc", n)]))
    print(f"CHAMP replay bank, automatic grading, {rows[0][1]} problems ({time.monotonic() - t0:.0f} s)\n")
    print("| model | responses/problem | 0-shot acc | single-response acc (all settings) | SC over all responses | SC / single |")
    print("|---|---|---|---|---|---|")
    for label, _, n, z, single, sc in rows:
        print(f"| {label} | {n} | {z:.3f} | {single:.3f} | {sc:.3f} (maj@{n}) | {sc / single:.2f} |")


if __name__ == "__main__":
    main()
