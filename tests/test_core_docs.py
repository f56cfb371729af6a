"""The README's promises: CI runs its test command verbatim; examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    commands = [line for b in blocks for line in b.splitlines() if line and not line.startswith("#")]
    test_cmd = next(c for c in commands if "pytest" in c)
    assert test_cmd in (ROOT / ".ci" / "run").read_text()
    assert len([c for c in commands[:2]]) == 2  # the quickstart is exactly two commands


def test_library_example_runs_on_the_mock_backend():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "library_quickstart.py"), "--mock"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "maj@8" in proc.stdout and "answer:" in proc.stdout
