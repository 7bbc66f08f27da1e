"""Streamed, resumable, verified downloads over plain urllib.

A file is written to ``<dest>.part`` beside its destination and renamed into place only when complete
and verified. A ``.part`` left by an interrupted, stalled or cancelled download is kept on purpose: the
next attempt asks for the rest with an HTTP ``Range`` header; a ``206`` reply appends to it, a ``200``
reply (a server without range support) starts again from zero. A connection cut mid-transfer is resumed
automatically a few times while each attempt makes progress.

A Hugging Face server announces the sha256 of an LFS file in the ``X-Linked-Etag`` header of its
``resolve`` reply (the redirect to the storage host); with ``hub_sha256=True`` a file with no expected
hash is checked against that announcement, so a truncated or corrupted transfer is caught either way.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
from email.message import Message
from pathlib import Path
from typing import IO
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import HTTPRedirectHandler, Request, build_opener

from codec.errors import WeightsError
from codec.progress import CancelToken, ProgressCallback, check_cancel, report
from codec.units import format_bytes
from codec.weights.cache import CHUNK_SIZE, PART_SUFFIX, file_sha256

DEFAULT_TIMEOUT = 30.0
TIMEOUT_ENV = "ECDC_STUDIO_TIMEOUT"
MAX_RESUMES = 3
USER_AGENT = "encodec-studio"
IMPORT_HINT = "`ecdc models import PATH` or the Import button in the Models window"

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d+)")
_SHA256_ETAG = re.compile(r'^(?:W/)?"?([0-9a-f]{64})"?$')
LINKED_ETAG = "X-Linked-Etag"


class NotOnServerError(WeightsError):
    """The server answered 404 for a file."""


class _Interrupted(Exception):
    """The connection ended before the whole file arrived."""


class _RestartFromZero(Exception):
    """The server cannot continue the partial file; it must be fetched again from its first byte."""


class _AlreadyComplete(Exception):
    """The partial file already holds every byte (a download stopped during verification)."""


def default_timeout() -> float:
    """Seconds a connection may stay silent: ``ECDC_STUDIO_TIMEOUT`` or 30."""
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + PART_SUFFIX)


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    timeout: float | None = None,
    hub_sha256: bool = False,
) -> Path:
    """Download `url` to `dest` through ``dest.part``; `sha256` (full or leading hex digits) is checked
    before the rename, or with `hub_sha256` and no `sha256`, the sha256 the server announced (when it
    announced one). Progress is (bytes done, bytes total), total 0 while unknown. Raises WeightsError
    with one sentence, or Cancelled (the ``.part`` stays for a later resume)."""
    timeout = default_timeout() if timeout is None else timeout
    part = part_path(dest)
    label = dest.name
    resumes = 0
    restarted = False
    announced: str | None = None
    while True:
        before = _size(part)
        try:
            announced = _transfer(url, part, label, progress, cancel, timeout) or announced
            break
        except _RestartFromZero:
            if restarted:
                raise WeightsError(f"{urlparse(url).netloc} sent an unusable reply for {label}.") from None
            restarted = True
            part.unlink(missing_ok=True)
        except _AlreadyComplete:
            break
        except _Interrupted as exc:
            if _size(part) > before and resumes < MAX_RESUMES:
                resumes += 1
                continue
            raise WeightsError(
                f"The download of {label} was interrupted ({exc}) with {format_bytes(_size(part))} saved; "
                "run it again to resume where it stopped."
            ) from None
    expected = (sha256 or (announced if hub_sha256 else None) or "").lower()
    if expected:
        digest = file_sha256(part, cancel)
        if not digest.startswith(expected):
            part.unlink(missing_ok=True)
            shown = min(len(expected), 16)  # enough to tell them apart in one line
            source = "" if sha256 else f" that {urlparse(url).netloc} announced"
            raise WeightsError(
                f"{label} failed verification (its sha256 starts with {digest[:shown]}, not the "
                f"{expected[:shown]}{source}), so it was deleted; try again or use another mirror."
            )
    os.replace(part, dest)
    return dest


def _transfer(
    url: str,
    part: Path,
    label: str,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    timeout: float,
) -> str | None:
    """Fetch what `part` lacks; returns the sha256 the server announced for the file, if it did."""
    check_cancel(cancel)
    offset = _size(part)
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    host = urlparse(url).netloc
    hops: list[Message] = []
    with _open(url, headers, offset, label, timeout, hops) as response:
        announced = _announced_sha256([*hops, response.headers])
        length = _int_header(response, "Content-Length")
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                raise _RestartFromZero
            done, mode = offset, "ab"
            total = int(match.group(3)) if match.group(3) != "*" else offset + length
        else:
            done, total, mode = 0, length, "wb"
        report(progress, done, total)
        try:
            handle = open(part, mode)
        except OSError as exc:
            raise _write_error(part, exc) from exc
        with handle:
            while True:
                check_cancel(cancel)
                try:
                    chunk = response.read1(CHUNK_SIZE)  # what has arrived, so a stall keeps it
                except TimeoutError:
                    raise _stalled(label, host, timeout) from None
                except (OSError, http.client.HTTPException) as exc:
                    raise _Interrupted(_reason(exc)) from exc
                if not chunk:
                    break
                try:
                    handle.write(chunk)
                except OSError as exc:
                    raise _write_error(part, exc) from exc
                done += len(chunk)
                report(progress, done, total)
    if total and done < total:
        raise _Interrupted(f"the connection closed after {format_bytes(done)} of {format_bytes(total)}")
    return announced


class _RecordRedirects(HTTPRedirectHandler):
    """Follows redirects like urllib's default handler, keeping each redirect reply's headers (the hub
    puts the file's sha256 on the redirect, not on the storage host's reply)."""

    def __init__(self, hops: list[Message]) -> None:
        self.hops = hops

    def redirect_request(
        self, req: Request, fp: IO[bytes], code: int, msg: str, headers: Message, newurl: str
    ) -> Request | None:
        self.hops.append(headers)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _announced_sha256(header_sets: list[Message]) -> str | None:
    for headers in header_sets:
        match = _SHA256_ETAG.match((headers.get(LINKED_ETAG) or "").strip().lower())
        if match:
            return match.group(1)
    return None


def _open(
    url: str, headers: dict[str, str], offset: int, label: str, timeout: float, hops: list[Message]
) -> http.client.HTTPResponse:
    host = urlparse(url).netloc
    try:
        return build_opener(_RecordRedirects(hops)).open(Request(url, headers=headers), timeout=timeout)
    except HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            match = _UNSATISFIED_RANGE.match(exc.headers.get("Content-Range", ""))
            if match and int(match.group(1)) == offset:
                raise _AlreadyComplete from None
            raise _RestartFromZero from None
        if exc.code == 404:
            raise NotOnServerError(
                f"{label} is not on {host} (HTTP 404 for {url}); check the mirror settings "
                f"(ECDC_STUDIO_BASE_URL, HF_ENDPOINT) or import the file with {IMPORT_HINT}."
            ) from None
        if exc.code >= 500:
            raise WeightsError(
                f"{host} failed to send {label} (HTTP {exc.code} {exc.reason}); try again later."
            ) from None
        raise WeightsError(f"{host} refused to send {label} (HTTP {exc.code} {exc.reason}).") from None
    except URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _stalled(label, host, timeout) from None
        raise WeightsError(
            f"Cannot reach {host} to download {label} ({_reason(exc.reason)}); if this computer is offline, "
            f"get the file on another machine and add it with {IMPORT_HINT}."
        ) from None
    except TimeoutError:
        raise _stalled(label, host, timeout) from None
    except (OSError, http.client.HTTPException) as exc:
        raise _Interrupted(_reason(exc)) from exc


def _stalled(label: str, host: str, timeout: float) -> WeightsError:
    return WeightsError(
        f"The download of {label} from {host} stalled (no data for {timeout:g} s); "
        "try again later and it resumes where it stopped."
    )


def _write_error(part: Path, exc: OSError) -> WeightsError:
    return WeightsError(f"Cannot write {part} ({exc.strerror or exc}); check free space and permissions.")


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    if isinstance(reason, http.client.IncompleteRead):
        return "the connection closed early"
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return str(text)


def _int_header(response: http.client.HTTPResponse, name: str) -> int:
    try:
        return int(response.headers.get(name, 0))
    except ValueError:
        return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
