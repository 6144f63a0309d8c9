"""Where pixels live: a URL (local path, file://, s3://bucket/prefix, https://...) -> a zarr store.

Local folders use zarr's LocalStore; S3-compatible stores and plain HTTP(S) use obstore (through
zarr's ObjectStore), which makes fewer requests than the fsspec stores. Endpoint URL, region and
credentials for s3:// come from settings (`S3_ENDPOINT_URL`, `S3_ACCESS_KEY_ID`, ... or the usual
`AWS_*` variables).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from zarr.abc.store import Store
from zarr.storage import LocalStore, ObjectStore, WrapperStore

from bioimage_hub.config import Settings


class PixelsError(Exception):
    """A pixels operation the user can act on (bad input, bad metadata); shown as is."""


class InvalidPixels(PixelsError):
    """The OME-Zarr metadata does not validate (nothing is registered)."""


class StoreUnavailable(PixelsError):
    """The object store cannot be reached: connection refused, reset, DNS (HTTP 503)."""

    status = 503
    code = "STORE_UNAVAILABLE"

    def __init__(self, message: str, store: str | None = None) -> None:
        super().__init__(message)
        self.store = store  # the representation's URL (s3://bucket/prefix, https://...), no credentials


class StoreTimeout(StoreUnavailable):
    """The store did not answer within `PIXELS_STORE_TIMEOUT_S` (HTTP 503)."""

    code = "STORE_TIMEOUT"


class StoreFailed(StoreUnavailable):
    """The store answered, but with an error status or without the data the graph says is there (HTTP 502)."""

    status = 502
    code = "STORE_ERROR"


@dataclass(frozen=True)
class Location:
    """A parsed pixel-store URL."""

    scheme: str  # "file" | "s3" | "http" | "https"
    url: str  # canonical form: file:///abs/path, s3://bucket/prefix, https://host/path
    path: Path | None = None  # local folders
    bucket: str | None = None  # s3
    prefix: str = ""  # s3 key prefix (no leading/trailing slash)

    @property
    def remote(self) -> bool:
        return self.scheme != "file"

    def child(self, key: str) -> "Location":
        """The location of `key` below this one."""
        key = key.strip("/")
        if not key:
            return self
        if self.scheme == "file":
            assert self.path is not None
            return parse_url(str(self.path / key))
        return parse_url(self.url.rstrip("/") + "/" + key)


def parse_url(url: str | Path, settings: Settings | None = None) -> Location:
    """Parse a store URL; a bare relative path is resolved against the current directory."""
    text = str(url).strip()
    if not text:
        raise PixelsError("empty pixel-store URL")
    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and text[1:3] in (":\\", ":/")):
        path = Path(unquote(parsed.path) if scheme == "file" else text).expanduser().resolve()
        return Location("file", path.as_uri(), path=path)
    if scheme == "s3":
        if not parsed.netloc:
            raise PixelsError(f"{text}: an s3 URL names a bucket: s3://bucket/prefix")
        prefix = parsed.path.strip("/")
        canonical = f"s3://{parsed.netloc}" + (f"/{prefix}" if prefix else "")
        return Location("s3", canonical, bucket=parsed.netloc, prefix=prefix)
    if scheme in ("http", "https"):
        return Location(scheme, text.rstrip("/"))
    raise PixelsError(f"{text}: unsupported pixel-store URL (use a path, file://, s3:// or https://)")


# --------------------------------------------------------------------------- request counting

# The current request's store-request counter (a one-element list, shared by the child tasks that
# zarr's concurrent reads spawn).
request_counter: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "pixel_store_requests", default=None
)


def _count(n: int = 1) -> None:
    counter = request_counter.get()
    if counter is not None:
        counter[0] += n


class CountingStore(WrapperStore[Store]):
    """Counts the requests (whole or ranged gets, existence checks) sent to the wrapped store.

    Coalesced range reads (`get_ranges`, used by the sharding codec) go through the base class's
    coalescer over `get`, exactly as for LocalStore and ObjectStore (neither overrides it), so each
    merged fetch is counted once.
    """

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        _count()
        return await self._store.get(key, prototype, byte_range)

    def get_sync(self, key: str, *, prototype: Any = None, byte_range: Any = None) -> Any:
        _count()
        return super().get_sync(key, prototype=prototype, byte_range=byte_range)

    async def get_partial_values(self, prototype: Any, key_ranges: Any) -> Any:
        key_ranges = list(key_ranges)
        _count(len(key_ranges))
        return await self._store.get_partial_values(prototype, key_ranges)

    async def exists(self, key: str) -> bool:
        _count()
        return await self._store.exists(key)

    get_ranges = Store.get_ranges  # type: ignore[assignment]


# --------------------------------------------------------------------------- obstore


def _client_options(settings: Settings, allow_http: bool) -> dict[str, Any]:
    timeout_ms = max(100, int(settings.pixels_store_timeout_s * 1000))
    return {
        "allow_http": allow_http,
        "connect_timeout": f"{min(5000, timeout_ms)}ms",
        "timeout": f"{timeout_ms}ms",
    }


def _retry(settings: Settings) -> dict[str, Any]:
    """Two retries of transient failures, never past the store timeout (the routes also stop there)."""
    return {
        "max_retries": 2,
        "retry_timeout": timedelta(seconds=settings.pixels_store_timeout_s),
        "backoff": {"init_backoff": timedelta(milliseconds=100)},
    }


def s3_store(loc: Location, settings: Settings) -> Any:
    """An obstore S3Store for an s3:// location, configured from settings."""
    from obstore.store import S3Store

    config: dict[str, Any] = {"region": settings.s3_region}
    endpoint = settings.s3_endpoint_url
    if endpoint:
        config["endpoint"] = endpoint.rstrip("/")
        config["virtual_hosted_style_request"] = False
    if settings.s3_anonymous:
        config["skip_signature"] = True
    else:
        if settings.s3_access_key_id:
            config["access_key_id"] = settings.s3_access_key_id
        if settings.s3_secret_access_key:
            config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
        if settings.s3_session_token:
            config["token"] = settings.s3_session_token.get_secret_value()
    allow_http = bool(endpoint and endpoint.lower().startswith("http://"))
    return S3Store(
        loc.bucket,
        prefix=loc.prefix or None,
        config=config,  # type: ignore[arg-type]
        client_options=_client_options(settings, allow_http),  # type: ignore[arg-type]
        retry_config=_retry(settings),  # type: ignore[arg-type]
    )


def http_store(loc: Location, settings: Settings) -> Any:
    from obstore.store import HTTPStore

    return HTTPStore.from_url(
        loc.url,
        client_options=_client_options(settings, loc.scheme == "http"),  # type: ignore[arg-type]
        retry_config=_retry(settings),  # type: ignore[arg-type]
    )


def open_store(loc: Location, settings: Settings, *, read_only: bool = True, counting: bool = False) -> Store:
    """A zarr store rooted at `loc`."""
    store: Store
    if loc.scheme == "file":
        assert loc.path is not None
        if read_only and not loc.path.exists():
            raise PixelsError(f"{loc.url}: no such folder")
        store = LocalStore(loc.path, read_only=read_only)
    elif loc.scheme == "s3":
        store = ObjectStore(s3_store(loc, settings), read_only=read_only)
    else:
        if not read_only:
            raise PixelsError(f"{loc.url}: HTTP stores are read-only; write to a folder or s3://")
        store = ObjectStore(http_store(loc, settings), read_only=True)
    return CountingStore(store) if counting else store


# --------------------------------------------------------------------------- public URLs


def object_http_url(loc: Location, key: str, settings: Settings) -> str | None:
    """A plain HTTP URL of one object below `loc` that a client can GET (None for local folders)."""
    key = key.strip("/")
    if loc.scheme in ("http", "https"):
        return f"{loc.url}/{quote(key)}" if key else loc.url
    if loc.scheme == "s3":
        full = "/".join(p for p in (loc.prefix, key) if p)
        endpoint = settings.s3_endpoint_url
        if endpoint:  # path-style, as S3-compatible servers (MinIO, Ceph, moto) expect
            return f"{endpoint.rstrip('/')}/{loc.bucket}/{quote(full)}"
        return f"https://{loc.bucket}.s3.{settings.s3_region}.amazonaws.com/{quote(full)}"
    return None


def presign(loc: Location, key: str, settings: Settings, expires_in: int) -> str | None:
    """A presigned GET URL of one object of an s3:// store (None for other stores)."""
    if loc.scheme != "s3":
        return None
    from obstore import sign

    return sign(s3_store(loc, settings), "GET", key.strip("/"), timedelta(seconds=expires_in))


def describe_store_error(exc: BaseException) -> str:
    """A short, credential-free description of a store failure."""
    name = type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else ""
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{name}: {text}" if text else name


_STATUS = re.compile(r"status code: (\d{3})")


def store_failure(exc: BaseException, store: str) -> StoreUnavailable:
    """What a failed request to `store` means for a client: the store answered with an error
    status (`StoreFailed`, 502) or could not be reached / timed out (`StoreUnavailable`, 503).
    The message names the store; obstore's text has the endpoint but never credentials."""
    if isinstance(exc, StoreUnavailable):
        return exc
    detail = describe_store_error(exc)
    answered = _STATUS.search(str(exc))
    if answered:
        return StoreFailed(f"pixel store {store} answered HTTP {answered[1]}: {detail}", store)
    if isinstance(exc, TimeoutError):
        return StoreTimeout(f"pixel store {store} timed out: {detail}", store)
    return StoreUnavailable(f"pixel store {store} is unreachable: {detail}", store)


@contextlib.contextmanager
def store_errors(store: str) -> Iterator[None]:
    """Around a read from `store`: a network / object-store failure leaves as `store_failure`
    (502/503 naming the store); anything else (bad data, a bug) passes unchanged."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - classified, then re-raised
        if is_store_failure(exc):
            raise store_failure(exc, store) from exc
        raise


def is_store_failure(exc: BaseException) -> bool:
    """True for network / object-store errors (as opposed to bad data or a bug)."""
    if isinstance(exc, (StoreUnavailable, ConnectionError, TimeoutError, OSError)) and not isinstance(
        exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)
    ):
        return True
    module = type(exc).__module__ or ""
    return module.startswith("obstore") and not isinstance(exc, FileNotFoundError)
