"""URL sources: download a list over HTTP(S), and keep the last good copy on disk.

A ban must never vanish because a server was down, answered with an error page,
or sent half a file. So a download replaces the cached copy only when it is a
complete, plausible list; otherwise the last good copy stays in use and the
result says why. The cache also lets the server start without the network.

Blocking I/O: call `fetch` off the event loop (reload builds policies off-loop).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any, Literal

Status = Literal["downloaded", "not-modified", "kept", "failed", "cached"]

SCHEMES = ("http", "https")
CHUNK = 64 * 1024
SIDECAR_VERSION = 1

# Declared types a list may come as. Servers label .txt/.hosts files loosely, so
# the content decides the rest: octet-stream passes only if it decodes as UTF-8,
# and text/html passes only if the body is not an HTML page.
TEXT_TYPES = ("text/",)
GENERIC_TYPES = ("application/octet-stream",)
HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]")
HTML_SNIFF_BYTES = 2048
# Share of control characters (other than tab, CR, LF, FF, VT) above which text is binary.
MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How careful a download is; defaults suit a daily community list."""

    timeout: float = 30.0            # seconds a connect or a single read may stall
    deadline: float = 300.0          # seconds the whole download may take (slow-drip servers)
    max_bytes: int = 64 * 1024 * 1024
    min_keep_ratio: float = 0.5      # fewer than this share of the last copy's entries: refused

    def __post_init__(self) -> None:
        if not self.timeout > 0 or not self.deadline > 0:
            raise ValueError("FetchPolicy.timeout and deadline must be positive")
        if self.max_bytes < 1:
            raise ValueError("FetchPolicy.max_bytes must be at least 1")
        if not 0.0 <= self.min_keep_ratio <= 1.0:
            raise ValueError("FetchPolicy.min_keep_ratio must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class CachedCopy:
    """The last good copy of a URL and what the server said about it."""

    url: str
    path: Path                  # the text, UTF-8
    etag: str | None
    last_modified: str | None   # the server's Last-Modified, verbatim (sent back as-is)
    fetched_at: float           # epoch seconds of the last download or 304 confirmation
    entry_count: int

    def read_text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def describe(self) -> str:
        """'the copy from 2026-11-27 10:00 UTC (12,345 entries)'."""
        return f"the copy from {_when(self.fetched_at)} ({_entries(self.entry_count)})"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What `fetch` did for one URL, and the text the caller should use."""

    url: str
    status: Status
    text: str | None        # new or last good copy; None only with "failed"
    message: str            # one line for the admin: what happened and why
    added: int | None = None    # entries in the used text and not in the last good copy;
    removed: int | None = None  # None when not counted (no entries_of, or failed)


class RemoteCache:
    """On-disk cache of the last good copy of each URL, with its validators and fetch time.

    Layout, per URL (key = a hash of the URL):
      <key>.json            sidecar: url, text file, etag, last_modified, fetched_at, entry_count
      <key>.<sha256:16>.txt the copy, named by its content hash
    The sidecar is the commit point: a new copy is written under its own name
    first, then the sidecar is replaced. Each write is temp file + fsync +
    os.replace, so a crash at any moment leaves either the old copy or the new
    one, never half a file or a sidecar that describes other text.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]

    def sidecar(self, url: str) -> Path:
        return self.directory / f"{self._key(url)}.json"

    def cached(self, url: str) -> CachedCopy | None:
        """The last good copy, or None if there is none (or it is unreadable)."""
        try:
            raw = json.loads(self.sidecar(url).read_text(encoding="utf-8"))
            copy = _copy_from(raw, self.directory)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if copy.url != url or not copy.path.is_file():
            return None
        return copy

    def due(self, url: str, refresh: float, now: float) -> bool:
        """Whether `url` should be downloaded: no copy, or one at least `refresh` old.

        A copy stamped in the future (the clock went back) is due too, so a
        wrong clock cannot stop refreshes.
        """
        return _is_due(self.cached(url), refresh, now)

    def store(self, url: str, text: str, *, etag: str | None, last_modified: str | None,
              fetched_at: float, entry_count: int) -> CachedCopy:
        """Save a new good copy atomically; raises OSError if it cannot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        name = f"{self._key(url)}.{hashlib.sha256(data).hexdigest()[:16]}.txt"
        _write_atomically(self.directory / name, data)
        copy = CachedCopy(url, self.directory / name, etag, last_modified, fetched_at, entry_count)
        self._commit(copy)
        for stale in self.directory.glob(f"{self._key(url)}.*.txt"):
            if stale.name != name:
                with contextlib.suppress(OSError):
                    stale.unlink()
        return copy

    def confirm(self, copy: CachedCopy, *, etag: str | None, last_modified: str | None,
                fetched_at: float) -> CachedCopy:
        """Record a 304: same text, new fetch time, validators refreshed if the server sent any."""
        confirmed = CachedCopy(copy.url, copy.path, etag or copy.etag,
                               last_modified or copy.last_modified, fetched_at, copy.entry_count)
        self._commit(confirmed)
        return confirmed

    def _commit(self, copy: CachedCopy) -> None:
        sidecar = {
            "version": SIDECAR_VERSION, "url": copy.url, "text_file": copy.path.name,
            "etag": copy.etag, "last_modified": copy.last_modified,
            "fetched_at": copy.fetched_at, "entry_count": copy.entry_count,
        }
        _write_atomically(self.sidecar(copy.url),
                          (json.dumps(sidecar, indent=1) + "\n").encode("utf-8"))


def fetch(url: str, cache: RemoteCache, policy: FetchPolicy, *,
          count_entries: Callable[[str], int], force: bool = False, refresh: float = 86_400.0,
          now: float | None = None, entries_of: Callable[[str], set[str]] | None = None,
          accept_shrink: bool = False) -> FetchResult:
    """Bring the cached copy of `url` up to date if due (or `force`), and say what happened.

    `count_entries` counts a text's entries in the source's format (raising
    ValueError for text that is not such a list); `entries_of`, if given, lists
    them so the result can report +added/-removed. `accept_shrink` takes a
    download even if it lost more than `policy.min_keep_ratio` of the entries.
    """
    now = time.time() if now is None else now
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{scheme}:'" if scheme else "a URL without a scheme"
        return FetchResult(url, "failed", None, (
            f"only http and https URLs are downloaded, not {shown}; "
            "write `path:` for a file on this machine"))
    copy = cache.cached(url)
    if not force and copy is not None and not _is_due(copy, refresh, now):
        return _from_copy(url, copy, "cached", (
            f"using {copy.describe()}; next download after {_when(copy.fetched_at + refresh)}"))

    try:
        download = _download(url, copy, policy)
    except _Refused as refused:
        return _fall_back(url, copy, refused.reason)

    if download.text is None:  # 304 Not Modified
        if copy is None:
            return _fall_back(url, None, "HTTP 304 Not Modified, but there is no copy to reuse")
        try:
            text = copy.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            return FetchResult(url, "failed", None,
                               f"HTTP 304 Not Modified, but the cached copy is unreadable: {exc}")
        message = f"not modified since {copy.describe()}"
        try:
            cache.confirm(copy, etag=download.etag, last_modified=download.last_modified,
                          fetched_at=now)
        except OSError as exc:
            message += f"; could not record the check in the cache ({_os_error(exc)})"
        return FetchResult(url, "not-modified", text, message, 0, 0)

    text = download.text
    try:
        count = count_entries(text)
    except ValueError as exc:
        return _fall_back(url, copy, f"not a list in the expected format: {exc}")
    if (copy is not None and not accept_shrink
            and count < policy.min_keep_ratio * copy.entry_count):
        return _fall_back(url, copy, (
            f"the download has only {_entries(count)}, fewer than "
            f"{policy.min_keep_ratio:.0%} of the {copy.entry_count:,} in the last good copy "
            f"(if the source really shrank, delete {cache.sidecar(url)} to accept it)"))

    added, removed, change = _diff(copy, text, count, entries_of)
    message = f"downloaded {_entries(count)}{change}"
    try:
        cache.store(url, text, etag=download.etag, last_modified=download.last_modified,
                    fetched_at=now, entry_count=count)
    except OSError as exc:
        fallback = "use the older copy" if copy is not None else "have no copy"
        message += (f"; could not save it to the cache ({_os_error(exc)}): "
                    f"the next start will {fallback}")
    return FetchResult(url, "downloaded", text, message, added, removed)


def _is_due(copy: CachedCopy | None, refresh: float, now: float) -> bool:
    return copy is None or not 0.0 <= now - copy.fetched_at < refresh


# --- downloading -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Download:
    """A good 200 (text) or a 304 (text None), with the validators the server sent."""

    text: str | None
    etag: str | None
    last_modified: str | None


class _Refused(Exception):
    """A download that must not replace the last good copy; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http and https (never file:, ftp: or data:)."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: HTTPMessage, newurl: str) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in SCHEMES:
            raise _Refused(f"HTTP {code} redirects to {newurl}, which is not an http(s) URL")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    """Only the handlers a list download needs: proxies from the environment,
    http, https with certificate checks, redirects between those two."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(),
                    urllib.request.HTTPSHandler(context=ssl.create_default_context()),
                    urllib.request.HTTPDefaultErrorHandler(), _HttpOnlyRedirects(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def _download(url: str, copy: CachedCopy | None, policy: FetchPolicy) -> _Download:
    """A good 200 or a 304; _Refused for anything else."""
    request = urllib.request.Request(url, headers={
        "User-Agent": "dnsfence (blocklist updater)",
        "Accept": "text/plain, text/*;q=0.9, */*;q=0.1",
    })
    if copy is not None:
        if copy.etag:
            request.add_header("If-None-Match", copy.etag)
        if copy.last_modified:
            request.add_header("If-Modified-Since", copy.last_modified)
    started = time.monotonic()
    try:
        with _opener().open(request, timeout=policy.timeout) as response:
            if response.status != 200:
                raise _Refused(f"HTTP {response.status} {response.reason}, expected 200")
            headers = response.headers
            _check_headers(headers, policy)
            body = _read_capped(response, policy, started)
    except _Refused:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304:
            return _Download(None, exc.headers.get("ETag"), exc.headers.get("Last-Modified"))
        raise _Refused(f"HTTP {exc.code} {exc.reason}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _Refused(_network_error(exc, policy)) from None
    return _Download(_as_text(body, headers), headers.get("ETag"), headers.get("Last-Modified"))


def _check_headers(headers: HTTPMessage, policy: FetchPolicy) -> None:
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise _Refused(f"the server sent {encoding}-encoded content although none was asked for")
    media = headers.get_content_type() if headers.get("Content-Type") else None
    if media is not None and not media.startswith(TEXT_TYPES) and media not in GENERIC_TYPES:
        raise _Refused(f"not text: the server says it is {media}")
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > policy.max_bytes:
        raise _Refused(f"{int(length):,} bytes, more than the limit of {_size(policy.max_bytes)}")


def _read_capped(response: http.client.HTTPResponse, policy: FetchPolicy,
                 started: float) -> bytes:
    """The body, refusing past max_bytes, past the deadline, or short of Content-Length."""
    chunks: list[bytes] = []
    received = 0
    while True:
        chunk = response.read1(CHUNK)  # read() would wait to fill the chunk, past the deadline
        if not chunk:
            break
        received += len(chunk)
        if received > policy.max_bytes:
            raise _Refused(f"more than the limit of {_size(policy.max_bytes)} was sent")
        if time.monotonic() - started > policy.deadline:
            raise _Refused(f"the download took longer than {policy.deadline:g} s "
                           f"({_size(received)} received)")
        chunks.append(chunk)
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and received < int(length):
        raise _Refused(f"the connection closed after {received:,} of {int(length):,} bytes")
    return b"".join(chunks)


def _as_text(body: bytes, headers: HTTPMessage) -> str:
    """Decode a body that must be a text list; _Refused for binary data and HTML pages."""
    if b"\0" in body:
        raise _Refused("not text: the download contains NUL bytes")
    charset = headers.get_content_charset() if headers.get("Content-Type") else None
    is_text_type = headers.get_content_type().startswith(TEXT_TYPES)
    codec = charset if charset and is_text_type else "utf-8"
    if codec.replace("_", "-").lower() in ("utf-8", "utf8", "us-ascii", "ascii"):
        codec = "utf-8-sig"  # ASCII is UTF-8; drop a byte-order mark
    try:
        text = body.decode(codec)
    except LookupError:
        raise _Refused(f"not text: unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise _Refused(f"not {codec.removesuffix('-sig').upper()} text "
                       f"(byte 0x{body[exc.start]:02x} at offset {exc.start:,})") from None
    sample = text[:CHUNK]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f\v")
    if sample and controls > MAX_CONTROL_SHARE * len(sample):
        raise _Refused("not text: the download is full of control characters")
    start = body[:HTML_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"<") and HTML_START.search(start):
        raise _Refused("the server sent an HTML page, not a list (an error or login page?)")
    return text


def _network_error(exc: BaseException, policy: FetchPolicy) -> str:
    reason: BaseException | str = exc
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
    if isinstance(reason, TimeoutError):
        return f"no response within {policy.timeout:g} s"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not valid: {reason.verify_message}"
    if isinstance(reason, ssl.SSLError):
        return f"TLS failed: {reason.reason or reason}"
    if isinstance(reason, http.client.InvalidURL):
        return f"not a valid URL: {reason}"
    if isinstance(reason, http.client.IncompleteRead):
        return "the connection closed before the download was complete"
    if isinstance(reason, http.client.HTTPException):
        return f"the server's answer is not valid HTTP ({type(reason).__name__})"
    if isinstance(reason, OSError):
        return f"cannot download: {_os_error(reason)}"
    return f"cannot download: {reason}"


# --- results -----------------------------------------------------------------

def _fall_back(url: str, copy: CachedCopy | None, reason: str) -> FetchResult:
    if copy is None:
        return FetchResult(url, "failed", None, f"{reason}; there is no earlier copy to use")
    return _from_copy(url, copy, "kept", f"{reason}; keeping {copy.describe()}")


def _from_copy(url: str, copy: CachedCopy, status: Status, message: str) -> FetchResult:
    try:
        text = copy.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return FetchResult(url, "failed", None, f"{message}, but it cannot be read: {exc}")
    return FetchResult(url, status, text, message, 0, 0)


def _diff(copy: CachedCopy | None, text: str, count: int,
          entries_of: Callable[[str], set[str]] | None) -> tuple[int | None, int | None, str]:
    """(added, removed, ' (+a −r)') of a new text against the last good copy."""
    if copy is None:
        return (count, 0, " (first copy)") if entries_of is None else (
            len(entries_of(text)), 0, " (first copy)")
    if entries_of is None:
        return None, None, f" (the last copy had {copy.entry_count:,})"
    try:
        old = entries_of(copy.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None, None, " (the last copy could not be compared)"
    new = entries_of(text)
    added, removed = len(new - old), len(old - new)
    return added, removed, f" (+{added:,} −{removed:,})"


def _copy_from(raw: Any, directory: Path) -> CachedCopy:
    if not isinstance(raw, dict) or raw.get("version") != SIDECAR_VERSION:
        raise ValueError("not a dnsfence cache sidecar")
    name = raw["text_file"]
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise ValueError("bad text_file")
    etag, modified = raw["etag"], raw["last_modified"]
    if not all(v is None or isinstance(v, str) for v in (etag, modified)):
        raise ValueError("bad validators")
    return CachedCopy(str(raw["url"]), directory / name, etag, modified,
                      float(raw["fetched_at"]), int(raw["entry_count"]))


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, whole."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            # mkstemp's 0600 would hide the copy from a server running as another user
            # than `dnsfence lists update`; blocklists are not secret.
            os.fchmod(out.fileno(), 0o644)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _entries(count: int) -> str:
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count:,} bytes"


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)
