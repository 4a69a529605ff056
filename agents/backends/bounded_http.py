"""An HTTP transport for the ``openai`` client that bounds the size of every response body.

A server that keeps sending bytes (an endless 200 body) would otherwise grow the client's memory
until the request's deadline, and a deadline alone does not bound memory on a fast link. The
transport wraps the client's own and fails the read once a body passes ``max_bytes``; the
backend turns that into a retryable infrastructure error.

The ``openai`` package builds on ``httpx`` up to 2.x and on its successor ``httpx2`` from 3.x
(the same API): the transport is made from whichever one the installed client uses.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

import openai

# httpx.AsyncClient or httpx2.AsyncClient: the base of the client's default HTTP client.
HTTPX: Any = importlib.import_module(
    openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0]
)


class ResponseTooLarge(HTTPX.ReadError):
    """A response body passed the transport's size bound."""


class _BoundedStream(HTTPX.AsyncByteStream):
    def __init__(self, inner: Any, max_bytes: int, url: str):
        self._inner, self._max, self._url = inner, max_bytes, url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._max:
                bound = f"{self._max} bytes (backend.max_response_bytes)"
                raise ResponseTooLarge(f"response from {self._url} passed {bound}")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class BoundedTransport(HTTPX.AsyncBaseTransport):
    """The client's transport, each response body cut off past ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self._inner = HTTPX.AsyncHTTPTransport()
        self._max = max_bytes

    async def handle_async_request(self, request: Any) -> Any:
        response = await self._inner.handle_async_request(request)
        url = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        return HTTPX.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_BoundedStream(response.stream, self._max, url),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def bounded_client(max_bytes: int, timeout_s: float) -> Any:
    """The ``http_client`` for ``openai.AsyncOpenAI``: its defaults, bodies bounded."""
    return openai.DefaultAsyncHttpxClient(transport=BoundedTransport(max_bytes), timeout=timeout_s)
