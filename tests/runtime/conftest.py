from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "bpmn"
PROCESSES = ROOT / "processes"


def data_file(name: str) -> bytes:
    return (DATA / name).read_bytes()


def process_file(name: str) -> bytes:
    return (PROCESSES / name).read_bytes()


# what Sift seeds every reactive case with (engine/cases/flows.py): the process reads both
REACTIVE_SEED = {"reopened": False, "quiet_period": "P3D"}


class Reactive:
    """The shipped reactive case, started as Sift starts it (with its seed)."""

    def __init__(self, compiled):  # type: ignore[no-untyped-def]
        self.compiled = compiled

    def start(self, data=None):  # type: ignore[no-untyped-def]
        return self.compiled.start({**REACTIVE_SEED, **(data or {})})

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.compiled, name)


@pytest.fixture(scope="session")
def reactive():
    from engine.runtime import compile_process

    return Reactive(compile_process(process_file("reactive_case.bpmn")))
