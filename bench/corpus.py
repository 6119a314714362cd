"""Corpus check: how many BPMN diagrams that SpiffWorkflow's own parser accepts Sift accepts.

Reads every ``*.bpmn`` under the folders named on the command line (e.g. a checkout of
SpiffWorkflow's ``tests/SpiffWorkflow``; the diagrams are not in its wheel or sdist and are
never committed here). For each file:

1. SpiffWorkflow's parser (``SpiffBpmnParser``, no XSD validator) reads it: the file is
   **parser-accepted** when it has at least one executable process and Spiff builds the spec of
   each executable process, and of what its collaboration runs when two or more of its pools
   are executable (each pool with the processes it calls; as for a lone process, a call to a
   process of another file is not required here), without raising. A file whose processes
   are all ``isExecutable="false"`` is not parser-accepted: Spiff builds nothing from it (its
   ``get_process_ids`` lists only executable processes, and ``get_spec`` of a non-executable one
   raises "Process X is not executable.").
2. Sift's upload validation (``engine.runtime.parse_definition``, what ``POST /processes``
   runs) judges it, with the files it accepted so far "deployed" under their keys, so a call
   activity may call a process another file deploys (rounds repeat until nothing new passes).
   A file that calls a process no file defines is accepted as a draft (a warning) and counted
   apart: deploying it waits for that process.

Prints accepted / parser-accepted and the refusals grouped by their first problem (ids and
names in quotes folded, so one reason counts once). Diagrams Sift refuses on purpose (imports in
scripts, unknown service operators, Camunda Java calls) are refusals too, with their reason.

    .venv/bin/python bench/corpus.py PATH [PATH ...] [--list]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path


def _spiff_accepts(data: bytes, name: str) -> str | None:
    """None when SpiffWorkflow's parser builds what it would run from the file, else why not:
    the spec of every executable process, and the pools of each collaboration with two or more
    executable pools. A file with no executable process is refused: Spiff builds nothing from it."""
    from lxml import etree
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    parser = SpiffBpmnParser(validator=None)
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        parser.add_bpmn_xml(root, name)
        executable = parser.get_process_ids()
        if not executable:
            return "NotExecutable: no executable process (SpiffWorkflow builds no spec from the file)"
        for process_id in executable:
            parser.get_spec(process_id)
        for pools in parser.collaborations.values():
            running = [pool for pool in pools if pool in executable]
            for pool in running if len(running) > 1 else ():
                # what get_collaboration builds per pool; a call to another file's process is
                # allowed here as it is for a lone process (get_collaboration requires them all)
                parser.get_subprocess_specs(pool, require_call_activity_specs=False)
    except Exception as err:
        return f"{type(err).__name__}: {err}"[:200]
    return None


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\([^)]*\)")


def _reason(err: Exception) -> str:
    fields = getattr(err, "fields", None) or []
    message = fields[0]["message"] if fields else getattr(err, "detail", str(err))
    return _QUOTED.sub("…", message)[:160]


def _sift_round(
    pending: dict[Path, bytes], deployed: dict[str, bytes]
) -> tuple[dict[Path, str], dict[Path, str]]:
    """One pass over ``pending``: (accepted file -> key, refused file -> reason). A file
    calling a process not deployed yet waits for a later round while others still pass."""
    from engine.errors import EngineError
    from engine.runtime import parse_definition

    accepted, refused = {}, {}
    for path, data in pending.items():
        try:
            parsed = parse_definition(data, path.name, resolve=deployed.get)
        except EngineError as err:
            refused[path] = f"{type(err).__name__}: {_reason(err)}"
            continue
        if parsed.missing_calls:
            refused[path] = "waits for " + ", ".join(parsed.missing_calls)
            continue
        accepted[path] = parsed.key
        deployed.setdefault(parsed.key, data)
    return accepted, refused


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("paths", nargs="+", type=Path)
    args.add_argument("--list", action="store_true", help="name every refused file")
    opts = args.parse_args()
    from engine import bootstrap

    bootstrap.register_operations()
    files = sorted({f for p in opts.paths for f in ([p] if p.is_file() else p.rglob("*.bpmn"))})
    spiff_refused: dict[Path, str] = {}
    pending: dict[Path, bytes] = {}
    for path in files:
        data = path.read_bytes()
        why = _spiff_accepts(data, path.name)
        if why is None:
            pending[path] = data
        else:
            spiff_refused[path] = why
    deployed: dict[str, bytes] = {}
    accepted: dict[Path, str] = {}
    refused: dict[Path, str] = {}
    while pending:
        new, refused = _sift_round(pending, deployed)
        if not new:
            break
        accepted.update(new)
        pending = {p: d for p, d in pending.items() if p not in new}
    waiting = {p: why for p, why in refused.items() if why.startswith("waits for ")}
    refused = {p: why for p, why in refused.items() if p not in waiting}
    parser_ok = len(accepted) + len(waiting) + len(refused)
    share = (len(accepted) + len(waiting)) / parser_ok if parser_ok else 0.0
    print(f"files: {len(files)}; SpiffWorkflow's parser accepts {parser_ok}")
    print(
        f"Sift accepts {len(accepted) + len(waiting)} / {parser_ok} parser-accepted = {share:.1%}: "
        f"{len(accepted)} deployable, {len(waiting)} drafts calling a process no file here defines"
    )
    if opts.list:
        for path, why in sorted(waiting.items()):
            print(f"          {path} ({why})")
    print("\nSift's refusals, by reason:")
    for reason, n in Counter(refused.values()).most_common():
        print(f"  {n:4d}  {reason}")
        if opts.list:
            for path, why in sorted(refused.items()):
                if why == reason:
                    print(f"          {path}")
    print(f"\nSpiffWorkflow's own refusals: {len(spiff_refused)}")
    for reason, n in Counter(r.split(":")[0] for r in spiff_refused.values()).most_common():
        print(f"  {n:4d}  {reason}")
        if opts.list:
            for path, why in sorted(spiff_refused.items()):
                if why.split(":")[0] == reason:
                    print(f"          {path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
