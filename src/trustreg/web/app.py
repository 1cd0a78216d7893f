"""The web application factory: nothing connects to a database at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.templating import Jinja2Templates

from trustreg.config import Settings
from trustreg.services.registry import initialise
from trustreg.store.db import make_engine
from trustreg.web import api, api_checks, pages, problems

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(settings: Settings) -> FastAPI:
    """Wire settings, store, error handlers and routers into one app."""
    engine = make_engine(settings.sqlalchemy_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="Trust Registry",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the docs page is served without any CDN (portal issue)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = initialise(engine, settings.rulebook)
    app.state.templates = Jinja2Templates(directory=TEMPLATES)
    problems.install(app)
    app.include_router(api.router)
    app.include_router(api_checks.router)
    app.include_router(pages.router)
    return app
