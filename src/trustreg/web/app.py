"""The web application factory: nothing connects to a database at import time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from trustreg.config import Settings
from trustreg.core.matching import Thresholds
from trustreg.services import screening_jobs, watch
from trustreg.services.clock import Clock, SystemClock
from trustreg.services.registry import initialise
from trustreg.services.screening import RegistryIndex
from trustreg.store.db import make_engine
from trustreg.web import (
    account_pages,
    api,
    api_checks,
    api_docs,
    api_public,
    api_screening,
    api_watch,
    deps,
    my_file_pages,
    observability,
    openapi,
    pages,
    portal_pages,
    problems,
    record_pages,
    security,
    slow_clients,
    watch_pages,
)
from trustreg.web.api_due_process import router as due_process_router
from trustreg.web.certificate_routes import router as certificate_router
from trustreg.web.review_pages import router as review_router

STATIC = Path(__file__).resolve().parent / "static"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Resume unfinished screenings and send webhooks (the first worker only); at the
    end, wait for this app's screenings, then close the store."""
    settings: Settings = app.state.settings
    if app.state.resume_jobs:
        screening_jobs.resume_unfinished(app.state.screening, settings.data_dir)
    # Webhooks go out from one process (the first worker), every so many seconds.
    interval = settings.webhook_delivery_seconds if app.state.resume_jobs else 0
    delivery = (
        asyncio.create_task(watch.deliver_forever(app.state.sessions, app.state.clock, interval))
        if interval
        else None
    )
    yield
    if delivery is not None:
        delivery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery
    # Screenings and a screening-index rebuild still running would reopen the store
    # after it is closed.
    await asyncio.to_thread(screening_jobs.wait_for_jobs, app.state.screening)
    await asyncio.to_thread(app.state.screening.close)
    app.state.engine.dispose()


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    """Wire settings, store, error handlers and routers into one app.

    ``clock`` tells the time to every workflow with a deadline; tests pass a
    :class:`~trustreg.services.clock.FixedClock` and move it.
    """
    engine = make_engine(settings.sqlalchemy_url, **settings.engine_options)
    app = FastAPI(
        lifespan=_lifespan,
        title="Trust Registry",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the docs page is served without any CDN (portal issue)
        redoc_url=None,
        dependencies=[Depends(deps.refuse_nul)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or SystemClock()
    app.state.resume_jobs = True  # of several forked workers, only the first resumes
    try:
        app.state.sessions = initialise(engine, settings.rulebook, settings.identifier_key)
    except BaseException:
        engine.dispose()  # e.g. the wrong identifier key: no connection left open
        raise
    thresholds = Thresholds(settings.match_threshold, settings.review_threshold)
    # Built on the first check, in one process (forking a threaded server is unsafe),
    # or before the server starts (``trustreg serve --warm``), in several.
    app.state.screening = RegistryIndex(
        app.state.sessions, thresholds, workers=1, identifier_key=settings.identifier_key
    )
    # Vendored into the package (htmx.min.js, 0BSD): no page loads from another host.
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    problems.install(app)
    slow_clients.install(app)  # a client gone mid-request is not a 500
    # After problems: headers, 413 and 429 on every answer, the 500 one included.
    security.install(app, settings)
    openapi.install(app)  # every error declared as problem+json
    app.include_router(api.router)
    app.include_router(api_checks.router)
    app.include_router(api_screening.router)
    app.include_router(api_public.router)
    app.include_router(api_docs.router)
    app.include_router(api_watch.router)
    app.include_router(due_process_router)
    app.include_router(certificate_router)  # before pages: it signs the certificate
    app.include_router(account_pages.router)
    app.include_router(my_file_pages.router)
    app.include_router(portal_pages.router)
    app.include_router(record_pages.router)
    app.include_router(review_router)
    app.include_router(watch_pages.router)
    app.include_router(pages.router)
    # Last: its middleware is the outermost, so every answer (other middlewares' too)
    # carries the request id, is timed and is in the access log.
    observability.install(app, settings)
    return app
