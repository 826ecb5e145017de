"""GET /demo: the live demo console (contextsvc/demo/static), served by the service itself.

The files are public (they hold no data); every number on the page comes from the /v1 API
and MCP, called with the key the user enters, sent only in the Authorization header.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar import Response
from litestar.static_files import create_static_files_router

# Only this origin's own scripts, styles and API: no CDN, no inline script, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"  # revalidate: a new release's page, not a stale one
    return response


demo_console = create_static_files_router(
    "/demo",
    directories=[Path(str(files("contextsvc.demo") / "static"))],  # a plain directory: the package is not zipped
    html_mode=True,
    name="demo",
    after_request=_headers,
    tags=["demo"],
)
