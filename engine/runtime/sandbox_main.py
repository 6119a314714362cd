"""A sandbox process: runs BPMN script tasks for its parent under operating-system limits.

pool.py starts it as ``python -I sandbox_main.py MEMORY_BYTES CPU_SECONDS STEPS SECONDS`` with
an empty environment. It limits its own address space (RLIMIT_AS), CPU time per request
(RLIMIT_CPU: the kernel sends SIGXCPU, which ends the process, even inside one C call), file
size and core dumps, then answers requests until its stdin closes. Frames are a 4-byte length
and JSON: ``{"script", "context", "external"}`` in; ``{"ok": data}``, ``{"refused": what}``,
``{"failed": error, "line": n}`` or ``{"bound": "memory"}`` out, each with the CPU seconds used.
Only plain data crosses: task data in, the data the script leaves out.

It imports only the script modules of engine.runtime (RestrictedPython and the guards), not the
package (SpiffWorkflow, lxml, settings), so a sandbox process stays around 15 MB.
"""

from __future__ import annotations

import json
import math
import os
import resource
import struct
import sys
import types
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")


def _light_imports() -> Any:
    """engine.runtime.scripts without running engine's or engine.runtime's ``__init__``."""
    here = os.path.dirname(os.path.abspath(__file__))
    for name, folder in (("engine", os.path.dirname(here)), ("engine.runtime", here)):
        package = types.ModuleType(name)
        package.__path__ = [folder]
        sys.modules[name] = package
    from engine.runtime import scripts

    return scripts


def _limit(memory_bytes: int) -> None:
    for limit, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_AS, memory_bytes),
    ):
        resource.setrlimit(limit, (value, value))


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _allow_cpu(seconds: int) -> None:
    """CPU time accumulates over requests: each request may use ``seconds`` more (rounded up)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(_cpu_used() + seconds)
    resource.setrlimit(
        resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
    )


def _receive(stream: BinaryIO) -> dict | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    body: dict = json.loads(stream.read(_HEADER.unpack(header)[0]))
    return body


def _send(stream: BinaryIO, message: dict) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _answer(scripts: Any, request: dict, steps: int, seconds: float) -> dict:
    try:
        data = scripts.run_script(request["script"], request["context"], request["external"], steps, seconds)
        return {"ok": data}
    except scripts.Refusal as refusal:
        return {"refused": refusal.what}
    except MemoryError:
        raise
    except Exception as err:
        error, line = scripts.describe_error(err)
        return {"failed": error, "line": line}


def main(argv: list[str]) -> None:
    memory, cpu, steps, seconds = int(argv[1]), int(argv[2]), int(argv[3]), float(argv[4])
    scripts = _light_imports()
    reader, writer = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but frames on the answer stream
    _limit(memory)
    _send(writer, {"ready": os.getpid()})
    while (request := _receive(reader)) is not None:
        before = _cpu_used()
        _allow_cpu(cpu)
        try:
            answer = _answer(scripts, request, steps, seconds)
            answer["cpu"] = _cpu_used() - before
            _send(writer, answer)
        except MemoryError:
            request = answer = None
            _send(writer, {"bound": "memory", "cpu": _cpu_used() - before})
            return  # the heap may be fragmented: the pool starts a fresh process


if __name__ == "__main__":
    main(sys.argv)
