"""End to end on the real embedded model: draw a small facts bank, `ttscale sweep` it,
`ttscale report` it, and open the report in headless Chromium: the page renders its
figures and tables, with no console errors, and the screenshot is not blank."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ttscale.cli import main
from ttscale.config import RunConfig
from ttscale.runner import run_async

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.model
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_sweep_then_report_renders_in_chromium(embedded_backend: Any, tmp_path: Path) -> None:
    run_dir = tmp_path / "facts-bank"
    config = RunConfig.build(task="facts", limit=3, n=4, strategy="sc", greedy=False, out_dir=str(run_dir))
    asyncio.run(run_async(config, backend=embedded_backend))
    assert main(["sweep", "--bank", str(run_dir), "--orderings", "4", "--budgets", "1,2,4", "--x-axis", "flops",
                 "--strategy", "sc", "--strategy", "bon:scorer=logprob", "--strategy", "beta", "--no-progress"]) == 0
    report = run_dir / "report.html"
    assert main(["report", str(run_dir)]) == 0
    assert report.exists() and (run_dir / "report-accuracy.png").exists()
    html = report.read_text()
    assert "sweep/beta:max_samples=4,batch=1,threshold=0.95@4" in html  # figures name their decisions

    shot = tmp_path / "shot.png"
    res = chromium("--window-size=1280,2400", f"--screenshot={shot}", report.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    dom = chromium("--dump-dom", report.as_uri()).stdout
    assert 'data-images-loaded="2/2"' in dom  # both figures decoded in the browser
    for table in ('<table id="points">', '<table id="optimal">', 'id="p-'):
        assert table in dom

    from PIL import Image
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 2400)
    colors = img.getcolors(maxcolors=1 << 20) or []
    assert len(colors) > 50  # text, tables and a plot: far from a blank page
    non_white = sum(n for n, c in colors if c != (255, 255, 255))
    assert non_white / (img.size[0] * img.size[1]) > 0.02
