"""Safe XML reading for uploaded BPMN/DMN: no DTDs, no entities, no network, ever."""

from __future__ import annotations

import re

from lxml import etree

from engine.runtime.errors import UnsafeXml

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
#: Sift's own BPMN extensions (task forms): ``<sift:form xmlns:sift="...">JSON Schema</sift:form>``.
SIFT_NS = "https://sift-project.org/schema/bpmn"
NSMAP = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS, "sift": SIFT_NS}

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


class MalformedXml(Exception):
    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse ``data``; refuse any document type declaration before and after parsing."""
    if _DECLARATION.search(data):
        raise UnsafeXml("the document declares a DOCTYPE or entities")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as err:
        line, column = err.position if err.position else (None, None)
        raise MalformedXml(f"The file is not well-formed XML: {err.msg}.", line, column) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXml("the document declares a DOCTYPE or entities")
    return root


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""
