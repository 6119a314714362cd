"""The pool of sandbox processes that run BPMN script tasks (see sandbox_main.py).

A script can hold a C call for as long as it likes (``str()`` of a huge list, a set of colliding
hashes) and allocate as much as one call builds, which no in-process guard can interrupt. So
scripts run in small separate processes under RLIMIT_AS and RLIMIT_CPU, and the parent kills one
that has not answered by the wall-clock limit. A process that breaks a limit or crashes is
replaced on the next call; the pool, and the worker or API around it, carry on.

Processes start on first use (``python -I``, a fresh interpreter: nothing of the parent's
memory, spaCy or database connections), are reused, and are ended at interpreter exit. Only
JSON crosses the boundary, so only plain data goes in and comes out.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MAIN = str(Path(__file__).with_name("sandbox_main.py"))
_HEADER = struct.Struct(">I")
MAX_ANSWER = 32 * 1024 * 1024  # bytes; a script's result is at most ~1M characters of data
START_SECONDS = 30.0  # a loaded 2-core machine can take seconds to start an interpreter


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpu_seconds: int
    wall_seconds: float
    steps: int
    step_seconds: float


@dataclass(frozen=True)
class Outcome:
    """What happened to one script: ``kind`` is ok, refused, failed, bound or crashed."""

    kind: str
    data: dict | None = None
    what: str = ""
    line: int | None = None
    wall_seconds: float = 0.0
    cpu_seconds: float | None = None


class _Gone(Exception):
    """The sandbox process ended, or did not answer in time (``timed_out``)."""

    def __init__(self, timed_out: bool = False) -> None:
        super().__init__("timed out" if timed_out else "ended")
        self.timed_out = timed_out


class _Sandbox:
    """One sandbox process and its two pipes."""

    def __init__(self, limits: Limits) -> None:
        args = [
            str(limits.memory_mb * 1024 * 1024),
            str(limits.cpu_seconds),
            str(limits.steps),
            str(limits.step_seconds),
        ]
        self.process = subprocess.Popen(
            [sys.executable, "-I", _MAIN, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={},
            cwd="/",
            close_fds=True,
        )
        self.pid = self.process.pid
        try:
            ready = self.receive(time.monotonic() + START_SECONDS)
        except _Gone:
            self.kill()
            raise
        if ready.get("ready") != self.pid:
            self.kill()
            raise _Gone()

    def call(self, payload: bytes, deadline: float) -> dict:
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Gone() from None
        return self.receive(deadline)

    def receive(self, deadline: float) -> dict:
        (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        if size > MAX_ANSWER:
            self.kill()
            raise _Gone()
        answer: dict = json.loads(self._read(size, deadline))
        return answer

    def _read(self, size: int, deadline: float) -> bytes:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        chunks, missing = [], size
        while missing:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _Gone(timed_out=True)
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                raise _Gone()
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> int:
        """End the process now and reap it; its exit status (negative: the signal)."""
        if self.process.poll() is None:
            self.process.kill()
        return self.wait()

    def wait(self, timeout: float = 10.0) -> int:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class SandboxPool:
    """Up to ``size`` sandbox processes shared by every thread of this process."""

    def __init__(self, size: int, limits: Limits) -> None:
        self.size = max(1, size)
        self.limits = limits
        self._idle: list[_Sandbox] = []
        self._busy: set[_Sandbox] = set()
        self._starting = 0
        self._lock = threading.Condition()
        self._closed = False

    def run(self, script: str, context: dict, external: dict) -> Outcome:
        """Run ``script`` over ``context`` in a sandbox process; never raises for the script's sake."""
        try:
            payload = json.dumps(
                {"script": script, "context": context, "external": external},
                separators=(",", ":"),
                default=_not_plain,
            ).encode()
        except (TypeError, ValueError) as err:
            return Outcome("failed", what=str(err))
        try:
            sandbox = self._acquire()
        except (_Gone, OSError):
            return Outcome("crashed", what="its sandbox process could not start")
        started = time.monotonic()  # the script's own time: not the wait for a process
        try:
            answer = sandbox.call(payload, started + self.limits.wall_seconds)
        except _Gone as gone:
            self._discard(sandbox)
            status = sandbox.kill()
            return self._lost(gone.timed_out, status, time.monotonic() - started)
        wall = time.monotonic() - started
        if "bound" in answer:
            self._discard(sandbox)
            sandbox.wait()
        else:
            self._release(sandbox)
        return _outcome(answer, wall, self.limits)

    def _lost(self, timed_out: bool, status: int, wall: float) -> Outcome:
        if timed_out:
            return Outcome(
                "bound",
                what=f"the wall-clock limit ({self.limits.wall_seconds}s) was exceeded",
                wall_seconds=wall,
            )
        if status == -signal.SIGXCPU:
            return Outcome(
                "bound", what=f"the CPU limit ({self.limits.cpu_seconds}s) was exceeded", wall_seconds=wall
            )
        return Outcome("crashed", what=f"its sandbox process ended (exit status {status})", wall_seconds=wall)

    def _acquire(self) -> _Sandbox:
        with self._lock:
            while True:
                while self._idle:
                    sandbox = self._idle.pop()
                    if sandbox.process.poll() is None:
                        self._busy.add(sandbox)
                        return sandbox
                    sandbox.wait()  # ended while idle (killed from outside): reap it, use another
                if len(self._busy) + self._starting < self.size:
                    break
                self._lock.wait()
            self._starting += 1
        try:
            sandbox = _Sandbox(self.limits)  # outside the lock: starting takes ~0.1 s
        finally:
            with self._lock:
                self._starting -= 1
                self._lock.notify()
        with self._lock:
            self._busy.add(sandbox)
        return sandbox

    def _release(self, sandbox: _Sandbox) -> None:
        with self._lock:
            self._busy.discard(sandbox)
            if self._closed:
                sandbox.wait()
            else:
                self._idle.append(sandbox)
            self._lock.notify()

    def _discard(self, sandbox: _Sandbox) -> None:
        with self._lock:
            self._busy.discard(sandbox)
            self._lock.notify()

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [s.pid for s in (*self._idle, *self._busy)]

    def close(self) -> None:
        """End every sandbox process (idle ones by closing their input) and reap them."""
        with self._lock:
            self._closed = True
            idle, busy = self._idle, list(self._busy)
            self._idle = []
        for sandbox in idle:
            sandbox.wait(timeout=2.0)
        for sandbox in busy:
            sandbox.kill()

    def forget(self) -> None:
        """In a forked child: the processes belong to the parent; drop them without ending them."""
        self._idle, self._busy, self._starting = [], set(), 0
        self._lock = threading.Condition()


def _outcome(answer: dict, wall: float, limits: Limits) -> Outcome:
    cpu = answer.get("cpu")
    if "ok" in answer:
        return Outcome("ok", data=answer["ok"], wall_seconds=wall, cpu_seconds=cpu)
    if "refused" in answer:
        return Outcome("refused", what=answer["refused"], wall_seconds=wall, cpu_seconds=cpu)
    if "bound" in answer:
        what = f"the memory limit ({limits.memory_mb} MB) was exceeded"
        return Outcome("bound", what=what, wall_seconds=wall, cpu_seconds=cpu)
    return Outcome(
        "failed",
        what=answer.get("failed", "an error"),
        line=answer.get("line"),
        wall_seconds=wall,
        cpu_seconds=cpu,
    )


def _not_plain(value: Any) -> Any:
    raise TypeError(f"task data holds a {type(value).__name__}; scripts receive plain data only")


_POOL: SandboxPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> SandboxPool:
    """The process-wide pool, made from the settings on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            from engine.config import get_settings

            s = get_settings()
            limits = Limits(
                s.script_memory_mb,
                s.script_cpu_seconds,
                s.script_wall_seconds,
                s.script_step_limit,
                s.script_time_limit_seconds,
            )
            _POOL = SandboxPool(s.script_pool_size, limits)
        return _POOL


def _close_pool() -> None:
    if _POOL is not None:
        _POOL.close()


def _forget_pool() -> None:
    if _POOL is not None:
        _POOL.forget()


atexit.register(_close_pool)
os.register_at_fork(after_in_child=_forget_pool)
