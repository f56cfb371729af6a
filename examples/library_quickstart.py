"""The README's library snippet: run self-consistency on a few facts, then solve one prompt.

    python examples/library_quickstart.py            # embedded Gemma 3 270M (CPU)
    python examples/library_quickstart.py --mock     # scripted backend, instant
"""

from __future__ import annotations

import asyncio
import sys
import tempfile

import ttscale
from ttscale.backends.mock import MockBackend


def main(mock: bool) -> None:
    backend = MockBackend(default={"paris": 0.7, "lyon": 0.3}) if mock else None
    config = ttscale.RunConfig.build(task="facts", limit=6, n=8, out_dir=tempfile.mkdtemp(),
                                     backend="mock" if mock else "hf")
    result = asyncio.run(ttscale.run_async(config, backend=backend))
    for row in result.summary["rows"]:
        print(f"{row['method']:<18} {row['accuracy']:.3f} ± {row['accuracy_se']:.3f}")
    decision = ttscale.solve("Country: Peru\nCapital:", strategy="sc:n=8",
                             backend=backend or ttscale.make_backend("hf"))
    print("answer:", decision.answer, "confidence:", round(decision.confidence, 2),
          "tokens:", decision.usage.completion_tokens)


if __name__ == "__main__":
    main(mock="--mock" in sys.argv)
