"""Reaching the queue's Redis: the URL (from a flag, `$SHARDER_QUEUE_URL` or `[tool.sharder] queue`), its
redacted form for every log line, and a connected client.

The `redis` client is an optional extra (`pytest-sharder[queue]`): imported only here, on first use, with a
one-line error when it is missing. A URL's password never reaches a log: everything printed goes through
`redacted`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sharder.core.errors import SharderError
from sharder.queue.lease_queue import QueueUnreachable

QUEUE_URL_ENV = "SHARDER_QUEUE_URL"
SCHEMES = ("redis", "rediss", "unix")
# A CI job waits this long for Redis at start before the fallback decides; mid-run, per round trip.
CONNECT_TIMEOUT_SECONDS = 5.0


def redacted(url: str) -> str:
    """The URL with its password (and a `password=` query) replaced by `***`, for logs and reports."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable queue URL>"
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        user = credentials.split(":", 1)[0] if ":" in credentials else ""
        netloc = f"{user}:***@{host}" if user else f"***@{host}"
    query = "&".join("password=***" if item.lower().startswith("password=") else item
                     for item in parts.query.split("&")) if parts.query else ""
    if not netloc:  # unix:///path/redis.sock: urlunsplit would drop the empty authority's slashes
        return f"{parts.scheme}://{parts.path}" + (f"?{query}" if query else "")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def check_url(url: str) -> str:
    """A queue URL sharder can use, or a SharderError naming what is wrong (without the password)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise SharderError(f"queue URL {redacted(url)!r}: expected redis://HOST:PORT/DB, rediss://… or "
                           "unix:///path/to/redis.sock")
    return url


def redis_module() -> Any:
    try:
        import redis
    except ImportError:
        raise SharderError("queue mode needs the redis client: pip install 'pytest-sharder[queue]'") from None
    return redis


def connect(url: str, *, timeout: float = CONNECT_TIMEOUT_SECONDS) -> Any:
    """A client that answered PING; `QueueUnreachable` (one line, URL redacted) when Redis does not."""
    redis = redis_module()
    check_url(url)
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    except ValueError as exc:
        raise SharderError(f"queue URL {redacted(url)!r}: {exc}") from None
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise QueueUnreachable(f"Redis at {redacted(url)} did not answer: {_reason(exc, url)}") from None
    except redis.exceptions.ResponseError as exc:  # AUTH refused and the like
        raise QueueUnreachable(f"Redis at {redacted(url)} refused: {_reason(exc, url)}") from None
    return client


def _reason(exc: BaseException, url: str) -> str:
    text = str(exc) or type(exc).__name__
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text
