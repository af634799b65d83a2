"""Files shared in a meeting's chat (docs/api.md, "Chat files").

``POST /api/v1/rooms/{name}/files?filename=...`` takes the raw bytes of one file from a
participant who is in the room now and may share files; ``GET .../files/{id}`` hands it to
anyone in the room. The bytes live in ``data_dir/files/<room>/<id>``, the description in the
``chat_files`` table.

What keeps a shared file from becoming an attack on the people who open it:

- an allow-list of types (PNG, JPEG, GIF, WebP, PDF, plain text), each checked against the
  bytes themselves, since the declared ``Content-Type`` is whatever the uploader says;
- the file is served as an attachment with ``X-Content-Type-Options: nosniff`` and a
  ``sandbox`` CSP, so a browser never renders it as a page of this origin (the HTML-upload
  XSS class, OWASP "Unrestricted File Upload");
- the name is sanitised (no path, no control or bidi characters: a right-to-left override
  makes ``cod.exe`` look like ``exe.doc``, CVE-2021-42574 class) and ends with an extension
  of its checked type, so ``page.html`` uploaded as text is saved as ``page.html.txt``;
- the size limit is enforced while reading, so nothing beyond it is ever buffered or written,
  and a file becomes visible only once complete (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import re
import secrets
import shutil
import time
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from aiohttp import web

from signaling.appkeys import ROOMS
from signaling.authorization import bearer_token
from signaling.errors import ErrorCode, SparkleError
from signaling.room_name import is_valid_room_name

if TYPE_CHECKING:
    from signaling.participant import Participant
    from signaling.registry import RoomRegistry
    from signaling.rooms import LiveRoom
    from signaling.store import Store
    from signaling.tokens import RoomToken

log = logging.getLogger("sparkle.chat_files")

PREFIX = "/api/v1/rooms/{name}/files"
MAX_FILENAME_CHARS = 128
DEFAULT_FILENAME = "file"
CHUNK_BYTES = 64 * 1024
FOLDER = "files"
# secrets.token_urlsafe(16): 22 characters of the URL-safe base64 alphabet.
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{22}")
# Unicode categories dropped from names: controls (Cc), format characters (Cf: the bidi
# embeddings, overrides and isolates U+202A-U+202E, U+2066-U+2069, marks, zero-width
# characters), surrogates, private use, unassigned, line and paragraph separators.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@dataclass(frozen=True)
class FileType:
    mime: str
    extensions: tuple[str, ...]  # the first is added to a name without one of these
    content_type: str  # as served
    magic: Callable[[bytes], bool] | None  # None: checked as UTF-8 text instead
    magic_bytes: int = 0  # how many leading bytes ``magic`` needs


def _is_webp(head: bytes) -> bool:
    # RIFF container (RFC 9649 section 2.4): "RIFF", size, "WEBP", then a VP8/VP8L/VP8X chunk.
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP" and head[12:15] == b"VP8"


FILE_TYPES: dict[str, FileType] = {
    t.mime: t
    for t in (
        # PNG signature: RFC 2083 section 12.11.
        FileType("image/png", ("png",), "image/png", lambda h: h[:8] == b"\x89PNG\r\n\x1a\n", 8),
        # JPEG: SOI marker followed by another marker (ITU T.81 annex B).
        FileType(
            "image/jpeg", ("jpg", "jpeg"), "image/jpeg", lambda h: h[:3] == b"\xff\xd8\xff", 3
        ),
        FileType("image/gif", ("gif",), "image/gif", lambda h: h[:6] in (b"GIF87a", b"GIF89a"), 6),
        FileType("image/webp", ("webp",), "image/webp", _is_webp, 15),
        # PDF header: ISO 32000-1 section 7.5.2.
        FileType("application/pdf", ("pdf",), "application/pdf", lambda h: h[:5] == b"%PDF-", 5),
        FileType("text/plain", ("txt", "log", "md", "csv"), "text/plain; charset=utf-8", None, 0),
    )
}
_TEXT_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})


class TypeCheck:
    """Whether a file's bytes, fed in chunks, are of its declared type."""

    def __init__(self, file_type: FileType) -> None:
        self._type = file_type
        self._head = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._text_ok = True

    def feed(self, chunk: bytes) -> None:
        if self._type.magic is not None:
            if len(self._head) < self._type.magic_bytes:
                self._head += chunk[: self._type.magic_bytes - len(self._head)]
            return
        if not self._text_ok:
            return
        # Plain text is valid UTF-8 without NUL: a NUL byte is how every "is this binary"
        # heuristic (git, file(1), the WHATWG sniffing spec's binary check) tells.
        if b"\x00" in chunk:
            self._text_ok = False
            return
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError:
            self._text_ok = False

    def finish(self) -> bool:
        if self._type.magic is not None:
            return len(self._head) >= self._type.magic_bytes and self._type.magic(self._head)
        if not self._text_ok:
            return False
        try:
            self._decoder.decode(b"", final=True)  # a sequence cut off at the end
        except UnicodeDecodeError:
            return False
        return True


def matches(file_type: FileType, data: bytes) -> bool:
    """Whether ``data`` (a whole file) is of ``file_type``."""
    check = TypeCheck(file_type)
    check.feed(data)
    return check.finish()


def declared_type(content_type: str, charset: str | None) -> FileType:
    """The allowed type a request declares (aiohttp's parsed ``content_type`` and
    ``charset``); raises ``unsupported_file_type``."""
    file_type = FILE_TYPES.get(content_type.lower())
    if file_type is None:
        allowed = ", ".join(FILE_TYPES)
        raise SparkleError(
            ErrorCode.UNSUPPORTED_FILE_TYPE,
            f"files of type {content_type[:64]!r} cannot be shared; allowed: {allowed}",
        )
    if file_type.magic is None and charset is not None and charset.lower() not in _TEXT_CHARSETS:
        raise SparkleError(
            ErrorCode.UNSUPPORTED_FILE_TYPE, "text files must be UTF-8 (charset=utf-8)"
        )
    return file_type


def sanitize_filename(raw: str, file_type: FileType) -> str:
    """A display and download name: no directory part, no control, format (bidi) or
    separator characters, whitespace collapsed, no leading or trailing dots, at most
    ``MAX_FILENAME_CHARS`` characters, and an extension of ``file_type``."""
    name = unicodedata.normalize("NFC", raw)
    # Browsers send a bare name; a path (either separator) keeps only its last part.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Whitespace first (tabs and line breaks become spaces), then the rest is dropped.
    name = " ".join(name.split())
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    name = " ".join(name.split()).strip(". ")
    stem, dot, extension = name.rpartition(".")
    if not dot or extension.lower() not in file_type.extensions:
        stem, extension = name, file_type.extensions[0]
    stem = stem or DEFAULT_FILENAME
    room_for_stem = MAX_FILENAME_CHARS - len(extension) - 1
    stem = stem[:room_for_stem].rstrip(". ") or DEFAULT_FILENAME
    return f"{stem}.{extension}"


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the exact UTF-8 ``filename*``
    (RFC 6266 section 4.3, RFC 8187 section 3.2)."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\%' else "_" for ch in filename)
    encoded = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


# --- storage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedFile:
    id: str
    room: str
    name: str
    type: str
    size: int
    uploader_identity: str
    created_at: float

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "size": self.size, "type": self.type}


def room_folder(data_dir: Path, room: str) -> Path:
    if not is_valid_room_name(room):  # it becomes a path component
        raise ValueError(f"invalid room name {room!r}")
    return data_dir / FOLDER / room


def find_file(store: Store, room: str, file_id: str) -> SharedFile | None:
    """The file ``file_id`` if it was shared in ``room`` (and only there)."""
    rows = store.query(
        "SELECT id, room, name, type, size, uploader_identity, created_at FROM chat_files"
        " WHERE id = ? AND room = ?",
        (file_id, room),
    )
    if not rows:
        return None
    row = rows[0]
    return SharedFile(
        id=str(row[0]),
        room=str(row[1]),
        name=str(row[2]),
        type=str(row[3]),
        size=int(row[4]),
        uploader_identity=str(row[5]),
        created_at=float(row[6]),
    )


def delete_room_files(store: Store, data_dir: Path, room: str) -> int:
    """Forget every file shared in ``room`` (rows first, so none is served half-deleted),
    then remove their bytes; the number of files."""
    count = store.write("DELETE FROM chat_files WHERE room = ?", (room,))
    folder = room_folder(data_dir, room)
    if folder.exists():
        shutil.rmtree(folder)
    return count


async def _receive(
    request: web.Request, folder: Path, file_id: str, file_type: FileType, limit: int
) -> int:
    """Stream the body into ``folder/file_id``; the size. Nothing is left behind on error."""
    temp = folder / f".{file_id}.part"
    check = TypeCheck(file_type)
    size = 0
    try:
        with _create(temp) as out:
            async for chunk in request.content.iter_chunked(CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise SparkleError(
                        ErrorCode.FILE_TOO_LARGE, f"the file is larger than {limit} bytes"
                    )
                check.feed(chunk)
                out.write(chunk)
            if size == 0:
                raise SparkleError(ErrorCode.BAD_MESSAGE, "the file is empty")
            if not check.finish():
                raise SparkleError(
                    ErrorCode.UNSUPPORTED_FILE_TYPE,
                    f"the file's content is not {file_type.mime}",
                )
            out.flush()
            # Durable before it becomes visible; fsync of megabytes may take a while.
            await asyncio.to_thread(os.fsync, out.fileno())
        os.replace(temp, folder / file_id)  # atomic within one directory (POSIX rename(2))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return size


def _create(path: Path) -> BinaryIO:
    """A new file readable by this user only (``O_EXCL``: never someone else's file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


# --- HTTP ---------------------------------------------------------------------------------


def setup(app: web.Application) -> None:
    """Add the upload and download routes (``ROOMS`` must be set; the API's error middleware
    turns ``SparkleError`` into JSON)."""
    app.router.add_post(PREFIX, upload_file)
    app.router.add_get(PREFIX + "/{id}", download_file)
    app.on_startup.append(_sweep_partial_uploads)


async def _sweep_partial_uploads(app: web.Application) -> None:
    """Temporary files of uploads a crash interrupted are never visible; remove them."""
    root = app[ROOMS].config.data_path / FOLDER
    for temp in root.glob("*/.*.part"):
        temp.unlink(missing_ok=True)


def _room_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not is_valid_room_name(name):
        raise SparkleError(ErrorCode.NOT_FOUND, "no such room")
    return name


def _bearer(request: web.Request, registry: RoomRegistry) -> RoomToken:
    token = bearer_token(request)
    if not token:
        raise SparkleError(ErrorCode.INVALID_TOKEN)
    return registry.tokens.verify(token)


def _present(
    registry: RoomRegistry, token: RoomToken, name: str
) -> tuple[LiveRoom, Participant] | None:
    """The live room and the token holder's seat in it, if it is in the meeting now (not
    in the lobby, not held by the camera requirement)."""
    if token.room != name:
        return None
    room = registry.live_room(name)
    participant = None if room is None else room.by_identity(token.identity)
    if room is None or participant is None or not room.receives_room_events(participant):
        return None
    return room, participant


async def upload_file(request: web.Request) -> web.Response:
    registry = request.app[ROOMS]
    config = registry.config
    name = _room_name(request)
    token = _bearer(request, registry)
    seat = _present(registry, token, name)
    if seat is None:
        raise SparkleError(ErrorCode.FORBIDDEN, "only participants in this meeting can share")
    room, participant = seat
    if participant.hidden or not room.may(participant, "file_share"):
        raise SparkleError(ErrorCode.FORBIDDEN, "you may not share files in this meeting")
    file_type = declared_type(request.content_type, request.charset)
    length = request.content_length
    if length is not None and length > config.chat_max_file_bytes:
        # Refused before a byte is read: the client learns at once (RFC 9110 section 15.5.14).
        raise SparkleError(
            ErrorCode.FILE_TOO_LARGE, f"the file is larger than {config.chat_max_file_bytes} bytes"
        )
    if not room.chat.allow_upload(participant.sid):
        raise SparkleError(
            ErrorCode.RATE_LIMITED,
            f"at most {config.chat_files_per_minute} files a minute; try again shortly",
        )
    filename = sanitize_filename(request.query.get("filename", ""), file_type)
    file_id = secrets.token_urlsafe(16)
    folder = room_folder(config.data_path, name)
    try:
        size = await _receive(request, folder, file_id, file_type, config.chat_max_file_bytes)
    except FileNotFoundError:  # delete_room_files removed the folder meanwhile
        raise SparkleError(ErrorCode.NOT_FOUND, "the meeting ended during the upload") from None
    if room.closed:
        # Checked with no await before the insert, so a deleted room gets no new row.
        (folder / file_id).unlink(missing_ok=True)
        raise SparkleError(ErrorCode.NOT_FOUND, "the meeting ended during the upload")
    shared = SharedFile(
        id=file_id,
        room=name,
        name=filename,
        type=file_type.mime,
        size=size,
        uploader_identity=participant.identity,
        created_at=time.time(),
    )
    try:
        registry.store.write(
            "INSERT INTO chat_files (id, room, name, type, size, uploader_identity, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                shared.id,
                shared.room,
                shared.name,
                shared.type,
                shared.size,
                shared.uploader_identity,
                shared.created_at,
            ),
        )
    except BaseException:
        (folder / file_id).unlink(missing_ok=True)
        raise
    log.info(
        "room %s: %s shared file %s (%s, %d bytes)",
        name,
        participant.sid,
        file_id,
        shared.type,
        size,
    )
    return web.json_response(shared.to_wire(), status=201)


async def download_file(request: web.Request) -> web.StreamResponse:
    registry = request.app[ROOMS]
    name = _room_name(request)
    token = _bearer(request, registry)
    if _present(registry, token, name) is None and not _is_host(registry, token, name):
        raise SparkleError(ErrorCode.FORBIDDEN, "only participants in this meeting can download")
    file_id = request.match_info["id"]
    shared = find_file(registry.store, name, file_id) if _FILE_ID.fullmatch(file_id) else None
    path = room_folder(registry.config.data_path, name) / file_id
    if shared is None or not path.is_file():
        raise SparkleError(ErrorCode.NOT_FOUND, "no such file in this meeting")
    file_type = FILE_TYPES.get(shared.type)
    headers = {
        "Content-Type": file_type.content_type if file_type else "application/octet-stream",
        "Content-Disposition": content_disposition(shared.name),
        "X-Content-Type-Options": "nosniff",
        # Opened directly anyway, it runs no script and has no origin (CSP3 sandbox).
        "Content-Security-Policy": "sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, no-store",
    }
    return web.FileResponse(path, headers=headers)


def _is_host(registry: RoomRegistry, token: RoomToken, name: str) -> bool:
    """A host of the room may fetch its files without being in the meeting right now."""
    return token.room == name and registry.is_host(token)
