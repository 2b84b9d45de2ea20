"""The eval sandbox: a program passes only by running to its end, within its time, memory and isolation."""
from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest

from dg_lsp.evaluation.sandbox import SandboxConfig, netns_available, run_program

FAST = SandboxConfig(timeout_s=2.0, memory_mb=256)


def test_a_program_that_runs_to_its_end_passes_and_its_output_is_captured():
    result = run_program("print('hello from the sandbox')\n", FAST)
    assert result.status == "passed" and result.returncode == 0
    assert result.stdout == "hello from the sandbox\n"


def test_a_failing_assertion_fails_with_its_traceback():
    result = run_program("assert 1 + 1 == 3, 'arithmetic'\n", FAST)
    assert result.status == "failed"
    assert "AssertionError: arithmetic" in result.stderr


def test_an_infinite_loop_is_killed_at_the_timeout():
    result = run_program("while True:\n    pass\n", SandboxConfig(timeout_s=1.0))
    assert result.status == "timeout" and result.returncode is None
    assert 1.0 <= result.seconds < 4.0


def test_a_sleeping_program_is_killed_at_the_timeout_too():
    # Not CPU-bound, so RLIMIT_CPU would never fire: the wall-clock kill must.
    result = run_program("import time\ntime.sleep(60)\n", SandboxConfig(timeout_s=1.0))
    assert result.status == "timeout" and result.seconds < 4.0


@pytest.mark.parametrize("bomb", [
    "blob = bytearray(64 << 30)\n",
    "chunks = []\nwhile True:\n    chunks.append(bytearray(32 << 20))\n",
])
def test_a_memory_bomb_hits_the_memory_limit_not_the_host(bomb):
    result = run_program(bomb, SandboxConfig(timeout_s=20.0, memory_mb=256))
    assert result.status == "failed"
    assert "MemoryError" in result.stderr
    assert result.seconds < 20.0  # stopped by the limit, well before the wall clock


@pytest.mark.parametrize("attempt", [
    "import os\nos.fork()\n",
    "import subprocess\nsubprocess.run(['true'])\n",
    "import os\nos.system('true')\n",
])
def test_spawning_processes_fails(attempt):
    result = run_program(attempt, FAST)
    assert result.status == "failed"
    assert "PermissionError" in result.stderr


@pytest.fixture
def listener():
    """A real TCP server on loopback in this (unsandboxed) process: reachable unless the sandbox cuts it."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


def test_the_network_is_unreachable_through_socket(listener):
    probe = f"import socket\nsocket.create_connection(('127.0.0.1', {listener}), timeout=1).close()\n"
    socket.create_connection(("127.0.0.1", listener), timeout=1).close()  # the listener does accept
    result = run_program(probe, FAST)
    assert result.status == "failed"
    assert "network access is disabled" in result.stderr


@pytest.mark.skipif(not netns_available(), reason="this host cannot make network namespaces (unshare -n)")
def test_the_network_namespace_stops_raw_sockets_that_dodge_the_patch(listener):
    probe = f"import _socket\ns = _socket.socket()\ns.settimeout(1)\ns.connect(('127.0.0.1', {listener}))\n"
    result = run_program(probe, FAST)
    assert result.status == "failed"
    assert "ConnectionRefusedError" in result.stderr or "Network is unreachable" in result.stderr


@pytest.mark.parametrize("exit_call", ["import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n", "raise SystemExit\n"])
def test_exiting_early_with_status_zero_is_not_a_pass(exit_call):
    result = run_program(exit_call + "raise AssertionError('the tests after the exit')\n", FAST)
    assert result.returncode == 0
    assert result.status == "failed"


def test_stdin_is_closed():
    result = run_program("input()\n", FAST)
    assert result.status == "failed" and "EOFError" in result.stderr


def test_runs_in_a_fresh_temporary_directory_that_is_removed(tmp_path):
    program = textwrap.dedent("""
        import os
        open('left-behind.txt', 'w').write('x')
        print(os.getcwd())
    """)
    first = run_program(program, FAST)
    second = run_program(program, FAST)
    assert first.passed and second.passed
    cwd = Path(first.stdout.strip())
    assert cwd != Path(second.stdout.strip()) and cwd != Path.cwd()
    assert not cwd.exists()


def test_output_is_truncated_to_its_tail():
    result = run_program("print('x' * 100_000)\nprint('END')\n", SandboxConfig(timeout_s=5.0, output_bytes=1000))
    assert result.passed
    assert len(result.stdout) <= 1001 and result.stdout.endswith("END\n")


def test_the_interpreter_runs_isolated():
    # -I: no user site-packages, no PYTHON* variables, no script directory on sys.path.
    result = run_program("import sys\nassert sys.flags.isolated == 1\n", FAST)
    assert result.passed, result.stderr
