"""Checks that come before meaning: is the upload UTF-8 text, and does it follow the BPMN/DMN XSD?

The XSDs are the ones SpiffWorkflow ships (BPMN 2.0, DMN 1.1-1.3), loaded from disk once; their
``##other`` wildcards admit modeler extensions (``camunda:``, ``bpmndi``, ``sift:form``).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import SpiffWorkflow
from lxml import etree

_SPIFF = Path(SpiffWorkflow.__file__).parent  # a regular package (it has __init__.py): a file path
BPMN_XSD = _SPIFF / "bpmn" / "parser" / "schema" / "BPMN20.xsd"
DMN_XSDS = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": _SPIFF / "dmn" / "parser" / "schema" / "DMN.xsd",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": _SPIFF / "dmn" / "parser" / "schema" / "DMN12.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": _SPIFF / "dmn" / "parser" / "schema" / "DMN13.xsd",
}
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_schemas: dict[Path, etree.XMLSchema] = {}
_lock = threading.Lock()


def text_problem(data: bytes) -> tuple[str, int | None, int | None] | None:
    """Why ``data`` is not UTF-8 XML text (message, line, column), or None."""
    if b"\x00" in data[:4096]:
        return "The file is binary, not XML text; upload the .bpmn or .dmn file itself.", None, None
    declared = _ENCODING.match(data)
    name = declared.group(1).decode("ascii") if declared else "utf-8"
    if name.lower().replace("_", "-") not in ("utf-8", "utf8") and not data.isascii():
        # a file of ASCII bytes reads the same in every ASCII-compatible encoding it may
        # declare (ASCII, ISO-8859-1, windows-1252...); one with other bytes needs that codec
        return (
            f"The file declares encoding {name!r} and holds characters outside ASCII; save it as UTF-8 "
            "(modelers do by default).",
            1,
            None,
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        return (
            f"The file is not UTF-8 text (invalid byte 0x{data[err.start]:02x}); save it as UTF-8.",
            line,
            column,
        )
    return None


def schema_for(path: Path) -> etree.XMLSchema:
    found = _schemas.get(path)
    if found is None:
        with _lock:
            found = _schemas.get(path)
            if found is None:
                parser = etree.XMLParser(no_network=True, resolve_entities=False)
                found = _schemas[path] = etree.XMLSchema(etree.parse(str(path), parser))
    return found


def violations(root: etree._Element, xsd: Path, limit: int = 50) -> list[tuple[str, int | None]]:
    """Every XSD violation (message, line), at most ``limit``; the document itself is not changed."""
    schema = schema_for(xsd)
    if schema.validate(root.getroottree()):
        return []
    return [(_plain(e.message), e.line or None) for e in list(schema.error_log)[:limit]]


def _plain(message: str) -> str:
    """lxml's messages name elements as {namespace}local; keep the local name only."""
    return re.sub(r"\{[^}]*\}", "", message).rstrip(".") + "."
