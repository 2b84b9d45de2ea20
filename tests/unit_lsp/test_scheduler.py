import threading

import pytest

from engine.api import Cancelled
from dg_lsp.scheduler import LRU, Scheduler, Superseded, TypedThrough


@pytest.fixture
def sched():
    s = Scheduler()
    yield s
    s.close()


def test_runs_jobs_on_one_worker_thread(sched):
    names = [sched.submit(lambda tok: threading.current_thread().name).future.result(5) for _ in range(3)]
    assert names == ["dg-lsp-engine"] * 3


def test_newer_request_supersedes_pending_and_cancels_running(sched):
    started, release = threading.Event(), threading.Event()

    def slow(tok):
        started.set()
        release.wait(5)
        if tok.cancelled:  # what the denoising loop does between steps
            raise Cancelled("stopped")
        return "slow"

    running = sched.submit(slow, key="doc")
    assert started.wait(5)
    blocker_pending = sched.submit(lambda tok: "pending", key="doc")
    assert running.token.cancelled  # the running job was told to stop
    newest = sched.submit(lambda tok: "newest", key="doc")
    with pytest.raises(Superseded):
        blocker_pending.future.result(5)
    other = sched.submit(lambda tok: "other doc", key="other")
    release.set()
    with pytest.raises(Cancelled):
        running.future.result(5)
    assert newest.future.result(5) == "newest"
    assert other.future.result(5) == "other doc"


def test_cancel_pending_ticket_never_runs(sched):
    gate = threading.Event()
    sched.submit(lambda tok: gate.wait(5))
    ran = []
    ticket = sched.submit(lambda tok: ran.append(1))
    ticket.cancel()
    gate.set()
    assert sched.submit(lambda tok: "after").future.result(5) == "after"
    assert ran == [] and ticket.future.cancelled()


def test_debounce_orders_by_deadline(sched):
    gate = threading.Event()
    sched.submit(lambda tok: gate.wait(5))
    order = []
    late = sched.submit(lambda tok: order.append("late"), debounce_s=1.0)
    early = sched.submit(lambda tok: order.append("early"), debounce_s=0.0)
    gate.set()
    late.future.result(5), early.future.result(5)
    assert order == ["early", "late"]


def test_exceptions_reach_the_caller_and_worker_survives(sched):
    def boom(tok):
        raise RuntimeError("engine exploded")
    with pytest.raises(RuntimeError, match="exploded"):
        sched.submit(boom).future.result(5)
    assert sched.submit(lambda tok: 42).future.result(5) == 42


def test_close_fails_pending_and_later_submissions():
    s = Scheduler()
    gate = threading.Event()
    s.submit(lambda tok: gate.wait(5))
    pending = s.submit(lambda tok: 1, debounce_s=10)
    s.close()
    gate.set()
    with pytest.raises(Cancelled):
        pending.future.result(5)
    with pytest.raises(RuntimeError):
        s.submit(lambda tok: 1).future.result(5)


def test_lru_evicts_least_recent():
    cache = LRU(2)
    cache.put("a", 1), cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


def test_typed_through():
    tt = TypedThrough()
    text = "x = \nprint(x)\n"
    tt.remember("u", text, 4, "compute(1)")
    typed = "x = comp\nprint(x)\n"
    assert tt.lookup("u", typed, 8) == "ute(1)"
    assert tt.lookup("u", "x = cope\nprint(x)\n", 8) is None  # diverged from the suggestion
    assert tt.lookup("u", "y = comp\nprint(x)\n", 8) is None  # something else changed
    assert tt.lookup("u", "x = compute(1)\nprint(x)\n", 14) is None  # typed all of it
    assert tt.lookup("other", typed, 8) is None
    tt.forget("u")
    assert tt.lookup("u", typed, 8) is None
