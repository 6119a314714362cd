from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "bpmn"
PROCESSES = ROOT / "processes"


def data_file(name: str) -> bytes:
    return (DATA / name).read_bytes()


def process_file(name: str) -> bytes:
    return (PROCESSES / name).read_bytes()


@pytest.fixture(scope="session")
def reactive():
    from engine.runtime import compile_process

    return compile_process(process_file("reactive_case.bpmn"))
