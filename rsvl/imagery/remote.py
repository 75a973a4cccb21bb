"""Reads over the network: retries with exponential backoff, and HTTP GETs of tiles.

GETs go through a ``requests.Session`` when the caller keeps one: its connection pool reuses
one TCP/TLS connection per host, where a fresh connection per tile would cost a handshake
(tens of milliseconds over TLS) for every tile.

A read that fails for a reason known to pass (a timeout, a reset or refused connection, a
truncated body, HTTP 408, 425, 429 or 5xx other than 501/505) is retried after a growing,
jittered delay (the server's ``Retry-After`` when it sends one); when the attempts run out it
raises :class:`rsvl.errors.RemoteReadError`, which schedulers retry. Everything else fails at
once: answers that will not change (404, 403, 400), a host name that does not resolve, a bad URL.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from rsvl import __version__
from rsvl.errors import InputError, RemoteReadError

T = TypeVar("T")

USER_AGENT = f"rsvl/{__version__} (remote-sensing dataset builder; Python requests)"
# Statuses worth retrying: timeouts, rate limits and server-side failures (not "501 Not
# Implemented" or "505 HTTP Version Not Supported": they will not change).
TRANSIENT_STATUS = frozenset({408, 425, 429, *range(500, 600)} - {501, 505})
# Network failures that may pass, in the words of curl (GDAL's messages) and urllib3/requests.
TRANSIENT_WORDS = ("timed out", "timeout", "connection reset", "reset by peer",
                   "connection aborted", "connection refused", "failed to connect",
                   "couldn't connect", "recv failure", "send failure", "empty reply from server",
                   "transfer closed", "connection broken", "remote end closed",
                   "incomplete read", "connection was closed")
# ... except a host name that does not resolve: a typo in the URL, not a passing outage.
_UNRESOLVED_WORDS = ("resolve", "name or service not known", "nodename nor servname")


def is_transient_message(text: str) -> bool:
    """Whether an error message describes a network failure that may pass when retried."""
    lowered = text.lower()
    return (any(word in lowered for word in TRANSIENT_WORDS)
            and not any(word in lowered for word in _UNRESOLVED_WORDS))
# "No such tile": the pixels are absent, not the server.
MISSING_STATUS = frozenset({204, 404, 410})


class Retryable(Exception):
    """Raised by one attempt of a retried call: it failed for a reason that may pass.

    Args:
        reason: What went wrong, for the final error (``HTTP 503 Service Unavailable``).
        retry_after_s: The server's requested delay before the next attempt, if any.
    """

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a remote read.

    Attributes:
        retries: Attempts after the first one.
        backoff_s: Delay before the first retry; it doubles after each (jittered 50-100 %).
        max_backoff_s: Cap of any one delay, ``Retry-After`` included.
    """

    retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def delay(self, retry: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_backoff_s)
        # Jitter spreads out many workers that failed together so they do not retry together.
        return min(self.backoff_s * 2 ** retry, self.max_backoff_s) * random.uniform(0.5, 1.0)


def with_retries(attempt: Callable[[], T], policy: RetryPolicy, what: str) -> T:
    """Call ``attempt`` until it returns, retrying while it raises :class:`Retryable`.

    Args:
        attempt: One try; raises :class:`Retryable` for failures that may pass.
        policy: Number of retries and their delays.
        what: The operation for the final error (``GET https://.../17/1/2.png``).

    Raises:
        RemoteReadError: Every attempt failed; names ``what``, the attempts and the last reason.
    """
    for retry in range(policy.retries + 1):
        try:
            return attempt()
        except Retryable as failure:
            if retry == policy.retries:
                raise RemoteReadError(
                    f"{what} failed {retry + 1} times (last: {failure.reason}); the server may "
                    "be down or rate-limiting: rerun later (finished work is kept) or allow "
                    "more retries") from None
            time.sleep(policy.delay(retry, failure.retry_after_s))
    raise AssertionError("unreachable")


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def http_get(url: str, policy: RetryPolicy, timeout_s: float,
             session: requests.Session | None = None) -> bytes | None:
    """The body at ``url``, or ``None`` when the server says it does not exist (404/410/204).

    Args:
        url: What to GET.
        policy: Retries for transient failures.
        timeout_s: Connect and read timeout of one attempt.
        session: A session whose pooled connections to reuse (default: a one-off connection).

    Raises:
        InputError: The server refuses the request for good (401, 403, 400...).
        RemoteReadError: Transient failures outlasted ``policy``.
    """
    client = session if session is not None else requests

    def attempt() -> bytes | None:
        try:
            response = client.get(url, headers={"User-Agent": USER_AGENT}, timeout=timeout_s)
            body = response.content
        except (requests.Timeout, requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError) as error:
            reason = f"{type(error).__name__}: {error}"
            if any(word in reason.lower() for word in _UNRESOLVED_WORDS):
                raise InputError(f"GET {url}: the host name does not resolve ({reason}); check "
                                 "the URL") from None
            # Connection refused or reset, timeouts, truncated bodies: all may pass.
            raise Retryable(reason) from None
        except requests.RequestException as error:  # a bad URL, too many redirects...
            raise InputError(f"GET {url}: {type(error).__name__}: {error}; check the URL "
                             "template") from None
        if response.status_code in MISSING_STATUS:
            return None
        if response.status_code >= 400:
            status = f"HTTP {response.status_code} {response.reason}"
            if response.status_code in TRANSIENT_STATUS:
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                raise Retryable(status, retry_after)
            raise InputError(f"GET {url}: {status}; check the URL template and any key or "
                             "token it needs")
        return bytes(body)

    return with_retries(attempt, policy, f"GET {url}")
