"""``import spacy`` without spaCy's command line, which the pipeline never runs.

spaCy 3.8's ``__init__`` does ``from .cli.info import info`` for its ``spacy.info``
helper, and that imports the whole of ``spacy.cli``: typer, weasel, jinja2, the
training and download commands (measured: ``import spacy`` alone 91 MB RSS, 73 MB
without them; in ``sift serve``, which imports typer itself, about 7 MB). Before
the first ``import spacy`` of the process, :func:`import_spacy` puts a stand-in
``spacy.cli.info`` in ``sys.modules`` whose ``info`` imports the real one on its
first call, and takes the stand-in out again once spaCy is imported: ``spacy.info``
answers as before, and ``import spacy.cli`` (``python -m spacy``, training) loads
the real package as it always did.

``engine/nlp/__init__.py`` imports this module before anything else, and importing it
does it.
"""

from __future__ import annotations

import sys
import types
from typing import Any

_INFO = "spacy.cli.info"


def _info(*args: Any, **kwargs: Any) -> Any:
    """spaCy's ``spacy.info``, imported on first use."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


def import_spacy() -> None:
    """Imports spaCy without ``spacy.cli`` (nothing to do if spaCy is already imported)."""
    if "spacy" in sys.modules or _INFO in sys.modules:
        return
    stand_in = types.ModuleType(_INFO, _info.__doc__)
    stand_in.info = _info  # type: ignore[attr-defined]
    sys.modules[_INFO] = stand_in
    try:
        import spacy  # noqa: F401
    finally:
        if sys.modules.get(_INFO) is stand_in:
            del sys.modules[_INFO]


import_spacy()
