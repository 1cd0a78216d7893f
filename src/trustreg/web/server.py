"""Running the app with uvicorn."""

from __future__ import annotations

import uvicorn

from trustreg.config import Settings
from trustreg.web.app import create_app


def run(settings: Settings, host: str, port: int) -> None:
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
