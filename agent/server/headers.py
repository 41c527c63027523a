"""Response headers that keep the console in its own frame and its pages running only their own code."""
from __future__ import annotations

# the console loads its scripts, styles and audio from this server only, and talks to /api and /ws/live
CONSOLE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
_EVERYWHERE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
_CONSOLE = [(b"content-security-policy", CONSOLE_CSP.encode()), (b"x-frame-options", b"DENY")]


class SecurityHeadersMiddleware:
    """Adds nosniff and no-referrer to every HTTP answer; CSP and X-Frame-Options to console pages."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope.get("path", "")
        extra = _EVERYWHERE + (_CONSOLE if path == "/" or path.startswith("/console") else [])

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in have]
            await send(message)

        return await self.app(scope, receive, send_with_headers)
