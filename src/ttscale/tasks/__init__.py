"""Tasks: problems + prompt template + answer type + verifier.

Built-ins are registered lazily (``"module:attr"``), so listing tasks imports nothing heavy.
Besides registered names, :func:`ttscale.runner.make_task` accepts a path to a YAML/TOML
task file or to a JSONL/CSV/Parquet file of problems (see :mod:`ttscale.tasks.taskfile`).
"""

from ..registry import tasks

tasks.register("facts", "ttscale.tasks.facts:FactsTask")
tasks.register("arith", "ttscale.tasks.arith:ArithTask")
tasks.register("file", "ttscale.tasks.generic:FileTask")
tasks.register("jsonl", "ttscale.tasks.generic:FileTask")
tasks.register("csv", "ttscale.tasks.generic:FileTask")
tasks.register("parquet", "ttscale.tasks.generic:FileTask")
tasks.register("gsm8k", "ttscale.tasks.hub:GSM8KTask")
tasks.register("math500", "ttscale.tasks.hub:Math500Task")
tasks.register("aime2024", "ttscale.tasks.hub:AIME2024Task")
tasks.register("aime2025", "ttscale.tasks.hub:AIME2025Task")
tasks.register("gpqa", "ttscale.tasks.hub:GPQATask")
tasks.register("gpqa_diamond", "ttscale.tasks.hub:GPQATask")
tasks.register("mbpp", "ttscale.tasks.hub:MBPPTask")
tasks.register("humaneval", "ttscale.tasks.hub:HumanEvalTask")
tasks.register("champ", "ttscale.tasks.champ:ChampTask")
tasks.register("bank", "ttscale.tasks.banktask:BankTask")
