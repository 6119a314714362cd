"""spaCy imported through engine.nlp comes without spacy.cli, and spacy.info / spacy.cli still work."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import engine.nlp
assert "spacy" in sys.modules
assert not [m for m in sys.modules if m.startswith(("spacy.cli", "weasel"))], "spacy.cli was imported"
import spacy
assert spacy.info()["spacy_version"] == spacy.__version__  # the real info, imported on first call
assert "spacy.cli.info" in sys.modules
import spacy.cli
assert callable(spacy.cli.info) and hasattr(spacy.cli, "download")
print("ok")
"""


def test_engine_nlp_imports_spacy_without_its_command_line() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
