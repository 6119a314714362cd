"""Request dependencies: who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from engine.auth import service as auth
from engine.auth.service import Principal
from engine.db import unit_of_work


def current_principal(authorization: Annotated[str | None, Header()] = None) -> Principal:
    raw = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            raw = value.strip()
    with unit_of_work() as session:
        return auth.authenticate(session, raw)


Caller = Annotated[Principal, Depends(current_principal)]
