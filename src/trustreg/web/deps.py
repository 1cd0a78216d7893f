"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from trustreg.config import Settings


def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


Sessions = Annotated[sessionmaker[Session], Depends(sessions)]
CurrentSettings = Annotated[Settings, Depends(settings)]
