"""`/healthz`: `mailbot health` as JSON for monitoring, on the portal server, without login.

The report carries counts, ages and host names only (no personal data). It is computed at most
every `CACHE_SECONDS`, so that a client polling fast (or hostile) cannot turn the endpoint into
a stream of IMAP logins and SMTP connections. HTTP 200 when ok or degraded, 503 when down.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mailbot.config import Config
from mailbot.loop.health import report, run_checks

PATH = "/healthz"
CACHE_SECONDS = 10.0


class _Cached:
    def __init__(self, config: Config, engine: Engine) -> None:
        self.config, self.engine = config, engine
        self.lock = threading.Lock()
        self.value: dict[str, Any] | None = None
        self.at = 0.0

    def get(self) -> dict[str, Any]:
        with self.lock:  # one computation at a time; the others wait for its result
            if self.value is None or time.monotonic() - self.at > CACHE_SECONDS:
                self.value = report(run_checks(self.config, self.engine))
                self.at = time.monotonic()
            return self.value


def create_healthz_app(config: Config, engine: Engine) -> Starlette:
    cached = _Cached(config, engine)

    async def healthz(_request: Request) -> JSONResponse:
        result = await run_in_threadpool(cached.get)
        return JSONResponse(
            result,
            status_code=503 if result["status"] == "down" else 200,
            headers={"Cache-Control": "no-store"},
        )

    return Starlette(routes=[Route(PATH, healthz, methods=["GET"])])
