"""Run one untrusted Python program (model-written code plus a benchmark's tests) and say whether it passed.

Each program gets a fresh `python -I` process in its own session, with a temporary directory as its
working directory, stdin closed, and limits on address space, file size, CPU time and wall time. The
network is cut twice: by a fresh network namespace (`unshare -n`, or `unshare -rn` without root) where
the host allows one, and by replacing `socket` inside the child before the program runs. `fork`,
`exec`, `system` and `subprocess` are replaced too, and the whole process group is killed when the
wall clock runs out.

This is a reliability guard for evaluating model output, not a security boundary against hostile code:
a program that goes out of its way (ctypes, `_posixsubprocess`) can still escape the in-process guards.

A program passes only if it ran to its end: the bootstrap then writes a nonce (read from a file that it
deletes before the program starts) to a result file. So `sys.exit(0)` or `os._exit(0)` half-way through
the tests is a failure, as in openai/human-eval where any `BaseException` fails the program.
"""
from __future__ import annotations

import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Status = Literal["passed", "failed", "timeout"]


@dataclass(frozen=True)
class SandboxConfig:
    timeout_s: float = 5.0  # wall clock per program
    memory_mb: int = 1024  # RLIMIT_AS of the child
    file_mb: int = 16  # RLIMIT_FSIZE: caps what the program can write, its captured output included
    output_bytes: int = 8192  # kept of stdout and of stderr (the tail, where tracebacks are)
    use_netns: bool = True  # run under `unshare -n` when the host allows it


@dataclass(frozen=True)
class RunResult:
    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# Runs inside the child, before the program. Limits are set here rather than in `preexec_fn` because
# preexec_fn is unsafe when the parent has threads (the engine and the test pool do) and can deadlock.
_BOOTSTRAP = r"""
import builtins, errno, os, resource, sys
program, nonce_file, result_file = sys.argv[1:4]
mem, fsize, cpu = (int(v) for v in sys.argv[4:7])
def _limit(kind, value):
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))
_limit(resource.RLIMIT_AS, mem)
_limit(resource.RLIMIT_FSIZE, fsize)
_limit(resource.RLIMIT_CPU, cpu)
_limit(resource.RLIMIT_CORE, 0)
with open(nonce_file) as f:
    nonce = f.read()
os.unlink(nonce_file)

def _denied(what):
    def deny(*args, **kwargs):
        raise PermissionError(errno.EPERM, what + " is disabled in the dg-lsp eval sandbox")
    return deny

import socket
class _NoSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        _denied("network access")()
socket.socket = _NoSocket
for _name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname", "socketpair", "fromfd"):
    setattr(socket, _name, _denied("network access"))
for _name in ("fork", "forkpty", "system", "popen", "posix_spawn", "posix_spawnp", "execv", "execve",
              "execl", "execle", "execlp", "execlpe", "execvp", "execvpe", "spawnv", "spawnve", "spawnl",
              "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe", "kill", "killpg"):
    if hasattr(os, _name):
        setattr(os, _name, _denied("os." + _name))
import subprocess
subprocess.Popen = _denied("subprocess")
import multiprocessing
multiprocessing.Process.start = _denied("multiprocessing")
del socket, subprocess, multiprocessing, _name, _limit, _denied

with open(program, encoding="utf-8") as f:
    source = f.read()
code = compile(source, "program.py", "exec")
exec(code, {"__name__": "__main__", "__builtins__": builtins})
with open(result_file, "w") as f:
    f.write(nonce)
"""


@functools.cache
def netns_prefix() -> tuple[str, ...] | None:
    """The command prefix that runs a program in a fresh network namespace here, or None: `unshare -n`
    as root, `unshare -rn` (inside a new user namespace) where unprivileged user namespaces are allowed."""
    exe = shutil.which("unshare")
    if exe is None or not sys.platform.startswith("linux"):
        return None
    for prefix in ((exe, "-n", "--"), (exe, "-r", "-n", "--")):
        try:
            probe = subprocess.run([*prefix, sys.executable, "-I", "-c", "pass"],
                                   stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    return None


def netns_available() -> bool:
    return netns_prefix() is not None


def _tail(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        data = f.read()
    text = data.decode("utf-8", errors="replace")
    return ("…" + text) if size > limit else text


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already


def run_program(source: str, config: SandboxConfig = SandboxConfig()) -> RunResult:
    """Run `source` as a Python program in the sandbox; thread-safe (tests run on a small pool)."""
    with tempfile.TemporaryDirectory(prefix="dg-lsp-eval-") as root_name:
        root = Path(root_name)
        work = root / "work"  # the program's CWD; everything the harness needs lives beside it
        work.mkdir()
        program, nonce_file, result_file = root / "program.py", root / "nonce", root / "result"
        program.write_text(source, encoding="utf-8")
        nonce = secrets.token_hex(16)
        nonce_file.write_text(nonce)
        cmd = [sys.executable, "-I", "-B", "-c", _BOOTSTRAP, str(program), str(nonce_file), str(result_file),
               str(config.memory_mb << 20), str(config.file_mb << 20), str(int(config.timeout_s) + 2)]
        prefix = netns_prefix() if config.use_netns else None
        if prefix is not None:
            cmd = [*prefix, *cmd]
        env = {"PATH": os.defpath, "LANG": "C.UTF-8", "HOME": str(work), "OMP_NUM_THREADS": "1"}
        out_path, err_path = root / "stdout", root / "stderr"
        start = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)  # own process group, so a kill takes its children
            try:
                proc.wait(timeout=config.timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(proc.pid)  # also reaps leftovers of a program that exited normally
            proc.wait()
        seconds = time.perf_counter() - start
        passed = (not timed_out and proc.returncode == 0 and result_file.exists()
                  and result_file.read_text() == nonce)
        status: Status = "timeout" if timed_out else ("passed" if passed else "failed")
        return RunResult(status=status, returncode=None if timed_out else proc.returncode,
                         stdout=_tail(out_path, config.output_bytes), stderr=_tail(err_path, config.output_bytes),
                         seconds=seconds)
