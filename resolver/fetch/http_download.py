"""One HTTP(S) download of a list, checked before anyone may use it.

Refused (with the reason) unless it is a complete 200 of plausible text within the
size and time limits, or a 304: an error page, a login page, a binary file or half a
file must never replace the last good copy. Blocking I/O: call it off the event loop.
"""

from __future__ import annotations

import email.utils
import http.client
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from http.client import HTTPMessage
from typing import IO

from resolver.lists.remote_cache import CachedCopy

SCHEMES = ("http", "https")
CHUNK = 64 * 1024


# Declared types a list may come as. Servers label .txt/.hosts files loosely, so
# the content decides the rest: octet-stream passes only if it decodes as UTF-8,
# and text/html passes only if the body is not an HTML page.
TEXT_TYPES = ("text/",)
GENERIC_TYPES = ("application/octet-stream",)
HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]")
HTML_SNIFF_BYTES = 2048
# Share of control characters (other than tab, CR, LF, FF, VT) above which text is binary.
MAX_CONTROL_SHARE = 0.01
# Content-Encoding values taken: lists compress about 4:1, and many mirrors send gzip.
GZIP_ENCODINGS = ("gzip", "x-gzip")


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
class Download:
    """A good 200 (text) or a 304 (text None), with the validators the server sent."""

    text: str | None
    etag: str | None
    last_modified: str | None


class Refused(Exception):
    """A download that must not replace the last good copy; `reason` says why.

    `retry_after`: seconds the server asked us to wait (its Retry-After), if it did.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http and https (never file:, ftp: or data:)."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: HTTPMessage, newurl: str) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in SCHEMES:
            raise Refused(f"HTTP {code} redirects to {newurl}, which is not an http(s) URL")
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


def download(url: str, copy: CachedCopy | None, policy: FetchPolicy) -> Download:
    """A good 200 or a 304; Refused for anything else."""
    request = urllib.request.Request(url, headers={
        "User-Agent": "dnsfence (blocklist updater)",
        "Accept": "text/plain, text/*;q=0.9, */*;q=0.1",
        "Accept-Encoding": "gzip",
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
                raise Refused(f"HTTP {response.status} {response.reason}, expected 200")
            headers = response.headers
            gzipped = _check_headers(headers, policy)
            body = _read_capped(response, policy, started)
    except Refused:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304:
            return Download(None, exc.headers.get("ETag"), exc.headers.get("Last-Modified"))
        wait = retry_after(exc.headers.get("Retry-After"), time.time())
        asked = "" if wait is None else f" (the server asks to retry after {wait:.0f} s)"
        raise Refused(f"HTTP {exc.code} {exc.reason}{asked}", wait) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise Refused(_network_error(exc, policy)) from None
    if gzipped:
        body = _gunzip(body, policy)
    return Download(_as_text(body, headers), headers.get("ETag"), headers.get("Last-Modified"))


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # HTTP dates are GMT
        return None
    return max(moment.timestamp() - now, 0.0)


def _check_headers(headers: HTTPMessage, policy: FetchPolicy) -> bool:
    """Refused for what cannot be a list; whether the body is gzip-encoded."""
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", *GZIP_ENCODINGS):
        raise Refused(f"the server sent {encoding}-encoded content; only gzip was asked for")
    media = headers.get_content_type() if headers.get("Content-Type") else None
    if media is not None and not media.startswith(TEXT_TYPES) and media not in GENERIC_TYPES:
        raise Refused(f"not text: the server says it is {media}")
    length = headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > policy.max_bytes:
        raise Refused(f"{int(length):,} bytes, more than the limit of {_size(policy.max_bytes)}")
    return encoding in GZIP_ENCODINGS


def _gunzip(body: bytes, policy: FetchPolicy) -> bytes:
    """A gzip body, decompressed; the size limit applies to what it decompresses to (a
    small bomb must not fill the memory), and a cut-off stream is refused like half a file."""
    out: list[bytes] = []
    size = 0
    rest = body
    while rest:  # a gzip file may hold several members, one after another
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            piece = inflater.decompress(rest, policy.max_bytes + 1 - size)
        except zlib.error as exc:
            raise Refused(f"the gzip-encoded download is not valid gzip data ({exc})") from None
        size += len(piece)
        if size > policy.max_bytes:
            raise Refused(f"the download decompresses to more than the limit of "
                          f"{_size(policy.max_bytes)}")
        if not inflater.eof:
            raise Refused("the gzip-encoded download is cut off (the stream is incomplete)")
        out.append(piece)
        rest = inflater.unused_data.lstrip(b"\0")  # some writers pad members with zeros
    return b"".join(out)


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
            raise Refused(f"more than the limit of {_size(policy.max_bytes)} was sent")
        if time.monotonic() - started > policy.deadline:
            raise Refused(f"the download took longer than {policy.deadline:g} s "
                           f"({_size(received)} received)")
        chunks.append(chunk)
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and received < int(length):
        raise Refused(f"the connection closed after {received:,} of {int(length):,} bytes")
    return b"".join(chunks)


def _as_text(body: bytes, headers: HTTPMessage) -> str:
    """Decode a body that must be a text list; Refused for binary data and HTML pages."""
    if b"\0" in body:
        raise Refused("not text: the download contains NUL bytes")
    charset = headers.get_content_charset() if headers.get("Content-Type") else None
    is_text_type = headers.get_content_type().startswith(TEXT_TYPES)
    codec = charset if charset and is_text_type else "utf-8"
    if codec.replace("_", "-").lower() in ("utf-8", "utf8", "us-ascii", "ascii"):
        codec = "utf-8-sig"  # ASCII is UTF-8; drop a byte-order mark
    try:
        text = body.decode(codec)
    except LookupError:
        raise Refused(f"not text: unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise Refused(f"not {codec.removesuffix('-sig').upper()} text "
                       f"(byte 0x{body[exc.start]:02x} at offset {exc.start:,})") from None
    sample = text[:CHUNK]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f\v")
    if sample and controls > MAX_CONTROL_SHARE * len(sample):
        raise Refused("not text: the download is full of control characters")
    start = body[:HTML_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith(b"<") and HTML_START.search(start):
        raise Refused("the server sent an HTML page, not a list (an error or login page?)")
    return text


def _network_error(exc: BaseException, policy: FetchPolicy) -> str:
    reason: BaseException | str = exc
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
    if isinstance(reason, TimeoutError):
        # to a tenth: a timeout cut to a start-up budget's remainder reads 0.5 s, not 0.499 s
        return f"no response within {max(round(policy.timeout, 1), 0.1):g} s"
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
        return f"cannot download: {os_error(reason)}"
    return f"cannot download: {reason}"

def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count:,} bytes"


def os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)
