"""The engine worker: one thread owns the engine, jobs are debounced, superseded and cancelled.

`Engine.infill` is not thread-safe, so every engine call (loading included) runs on the single
worker thread. A job for a document supersedes the older job for the same document: a pending one
is dropped, a running one has its CancelToken fired, which the denoising loop checks between steps.
Handlers await the job's future from the asyncio loop; `$/cancelRequest` cancels the awaiting task,
which fires the token too (see `Ticket.cancel`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from engine.api import Cancelled, CancelToken

log = logging.getLogger(__name__)
T = TypeVar("T")
K = TypeVar("K")


class Superseded(Cancelled):
    """A newer request for the same document replaced this one."""


@dataclass
class Ticket:
    key: str | None
    fn: Callable[[CancelToken], Any]
    not_before: float  # time.monotonic() deadline: the debounce
    future: Future = field(default_factory=Future)
    token: CancelToken = field(default_factory=CancelToken)

    def cancel(self) -> None:
        """Drop a pending job or stop a running one at its next denoising step."""
        self.token.cancel()
        self.future.cancel()


class Scheduler:
    def __init__(self, name: str = "dg-lsp-engine") -> None:
        self._cond = threading.Condition()
        self._pending: list[Ticket] = []
        self._running: Ticket | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[CancelToken], T], *, key: str | None = None, debounce_s: float = 0.0,
               supersede: bool = True) -> Ticket:
        ticket = Ticket(key, fn, time.monotonic() + debounce_s)
        with self._cond:
            if self._closed:
                ticket.future.set_exception(RuntimeError("the engine worker has stopped"))
                return ticket
            if supersede and key is not None:
                for old in [t for t in self._pending if t.key == key]:
                    self._pending.remove(old)
                    old.token.cancel()
                    _fail(old.future, Superseded("a newer request for this document replaced it"))
                if self._running is not None and self._running.key == key:
                    self._running.token.cancel()
            self._pending.append(ticket)
            self._cond.notify()
        return ticket

    @property
    def busy(self) -> bool:
        return self._running is not None or bool(self._pending)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for t in self._pending:
                t.token.cancel()
                _fail(t.future, Cancelled("server shutting down"))
            self._pending.clear()
            if self._running is not None:
                self._running.token.cancel()
            self._cond.notify()

    def _next(self) -> Ticket | None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                self._pending = [t for t in self._pending if not t.future.cancelled()]
                ready = [t for t in self._pending if t.not_before <= now]
                if ready:
                    ticket = min(ready, key=lambda t: t.not_before)
                    self._pending.remove(ticket)
                    self._running = ticket
                    return ticket
                timeout = min((t.not_before for t in self._pending), default=now + 3600) - now
                self._cond.wait(timeout=max(timeout, 0.0))
            return None

    def _loop(self) -> None:
        while (ticket := self._next()) is not None:
            try:
                if not ticket.future.set_running_or_notify_cancel():
                    continue
                if ticket.token.cancelled:
                    ticket.future.set_exception(Cancelled("cancelled before it started"))
                    continue
                try:
                    ticket.future.set_result(ticket.fn(ticket.token))
                except BaseException as exc:  # delivered to the awaiting handler, never lost
                    ticket.future.set_exception(exc)
            finally:
                with self._cond:
                    self._running = None


def _fail(future: Future, exc: BaseException) -> None:
    if future.set_running_or_notify_cancel():
        future.set_exception(exc)


class LRU(Generic[K, T]):
    """A small least-recently-used map (results of identical requests)."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._data: OrderedDict[K, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> T | None:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: K, value: T) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class Shown:
    text: str  # the document text when the suggestion was computed
    offset: int  # where it was inserted
    fill: str


class TypedThrough:
    """Remembers the suggestion last shown per document. When the user has since typed the start
    of it (and changed nothing else), the rest is served without running the engine."""

    def __init__(self) -> None:
        self._shown: dict[str, Shown] = {}

    def remember(self, uri: str, text: str, offset: int, fill: str) -> None:
        if fill:
            self._shown[uri] = Shown(text, offset, fill)

    def forget(self, uri: str) -> None:
        self._shown.pop(uri, None)

    def lookup(self, uri: str, text: str, offset: int) -> str | None:
        shown = self._shown.get(uri)
        if shown is None or offset < shown.offset:
            return None
        typed = text[shown.offset:offset]
        grew = len(text) - len(shown.text)
        if grew != len(typed) or not shown.fill.startswith(typed) or len(typed) >= len(shown.fill):
            return None
        # Everything outside the typed run must be unchanged (compared in C, microseconds).
        if text[:shown.offset] != shown.text[:shown.offset] or text[offset:] != shown.text[shown.offset:]:
            return None
        return shown.fill[len(typed):]


def _limit_cpu_threads() -> None:
    """An editor's helper must not take every core: torch's default (one thread per core) next
    to the editor, a build or a training run oversubscribes the CPU, and its spinning threads then
    make each denoising step 10-50x slower (measured: 1 s vs 25 ms per step on 2 busy cores).
    Use half the cores (at most 4) unless OMP_NUM_THREADS or DG_LSP_THREADS says otherwise."""
    import os

    wanted = os.environ.get("DG_LSP_THREADS") or os.environ.get("OMP_NUM_THREADS")
    threads = int(wanted) if wanted and wanted.isdigit() and int(wanted) > 0 else max(1, min(4, (os.cpu_count() or 2) // 2))
    import torch

    torch.set_num_threads(threads)
    log.info("engine uses %d CPU thread(s)", threads)


StateCallback = Callable[[str, str], None]  # (state, message); called from the worker thread


class EngineHost:
    """The engine and its state, owned by the scheduler's worker thread. `load` replaces the
    engine (a new model setting); `submit` runs `fn(engine, token)` on the worker."""

    def __init__(self, scheduler: Scheduler, on_state: StateCallback) -> None:
        self.scheduler = scheduler
        self.engine: Any = None
        self.state = "loading"
        self.spec = ""
        self.device = ""
        self.message = ""
        self._on_state = on_state
        self._generation = 0  # bumped per load: results of an older engine are not cached

    @property
    def ready(self) -> bool:
        return self.engine is not None and self.state in {"ready", "busy"}

    def _set(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self._on_state(state, message)

    def load(self, spec: str, device: str | None, trust_remote_code: bool,
             model_options: dict[str, Any] | None = None) -> Ticket:
        self._generation += 1
        self.engine, self.spec, self.device = None, spec, device or ""
        self._set("loading", f"loading {spec}")

        def job(token) -> Any:
            try:
                from engine.api import load_engine  # torch is imported here, on the worker

                _limit_cpu_threads()
                engine = load_engine(spec, device, trust_remote_code=trust_remote_code, **(model_options or {}))
            except BaseException as exc:
                log.exception("loading engine %r failed", spec)
                self._set("error", f"could not load model {spec!r}: {exc}")
                raise
            info = getattr(engine, "info", {}) or {}
            self.device = str(info.get("device", device or ""))
            self.engine = engine
            self._set("ready", f"{spec} on {self.device}")
            return engine

        return self.scheduler.submit(job, key="__engine__", supersede=True)

    @property
    def generation(self) -> int:
        return self._generation

    def submit(self, fn: Callable[[Any, Any], T], *, key: str | None, debounce_s: float = 0.0) -> Ticket:
        def job(token) -> T:
            engine = self.engine
            if engine is None:
                raise RuntimeError(f"the model is not loaded ({self.state}: {self.message})")
            self._set("busy", "filling")
            try:
                return fn(engine, token)
            finally:
                if self.engine is engine and self.state == "busy":
                    self._set("ready", f"{self.spec} on {self.device}")

        return self.scheduler.submit(job, key=key, debounce_s=debounce_s)
