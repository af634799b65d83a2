"""Chat file checks without a server: type sniffing, name sanitising, the download header,
the per-participant limiters and the room clean-up (signaling/chat_files.py, chat.py)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from signaling.chat import RoomChat
from signaling.chat_files import (
    FILE_TYPES,
    MAX_FILENAME_CHARS,
    SharedFile,
    TypeCheck,
    content_disposition,
    declared_type,
    delete_room_files,
    find_file,
    matches,
    room_folder,
    sanitize_filename,
)
from signaling.errors import ErrorCode, SparkleError
from signaling.store import Store
from tests.conftest import make_config

PNG = FILE_TYPES["image/png"]
TEXT = FILE_TYPES["text/plain"]

SAMPLES = {
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/gif": b"GIF89a\x01\x00\x01\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00",
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "text/plain": "Grüße, 你好 👋\n".encode(),
}


@pytest.mark.parametrize("mime", sorted(SAMPLES))
def test_each_type_accepts_its_own_bytes_and_no_other(mime: str) -> None:
    # Every binary sample is invalid UTF-8 or has a NUL, so none passes as text either.
    for sample, data in SAMPLES.items():
        assert matches(FILE_TYPES[mime], data) is (sample == mime), (mime, sample)


def test_magic_needs_the_whole_signature() -> None:
    assert not matches(PNG, b"\x89PNG")
    assert not matches(FILE_TYPES["image/webp"], b"RIFF\x00\x00\x00\x00WEBX")
    assert not matches(FILE_TYPES["image/gif"], b"GIF88a")
    assert not matches(FILE_TYPES["application/pdf"], b"<html>%PDF-")


def test_signature_split_across_chunks_is_seen() -> None:
    check = TypeCheck(PNG)
    for byte in SAMPLES["image/png"]:
        check.feed(bytes([byte]))
    assert check.finish()


@pytest.mark.parametrize(
    "data",
    [
        b"hello\x00world",  # NUL: binary
        b"caf\xe9",  # Latin-1, not UTF-8
        b"\xed\xa0\x80",  # an encoded surrogate is not UTF-8 (RFC 3629 section 3)
        "ok €".encode()[:-1],  # cut inside the last character
        SAMPLES["image/png"],
    ],
)
def test_text_must_be_utf8_without_nul(data: bytes) -> None:
    assert not matches(TEXT, data)


def test_text_check_spans_chunks() -> None:
    euro = "€".encode()
    check = TypeCheck(TEXT)
    check.feed(b"price: " + euro[:1])
    check.feed(euro[1:] + b"\n")
    assert check.finish()
    late = TypeCheck(TEXT)
    late.feed(b"a" * 100_000)
    late.feed(b"\x00")
    assert not late.finish()


def test_declared_type_allow_list() -> None:
    assert declared_type("image/PNG", None) is PNG
    assert declared_type("text/plain", "UTF-8") is TEXT
    for content_type, charset in [
        ("text/html", None),
        ("image/svg+xml", None),
        ("application/octet-stream", None),
        ("image/jpg", None),
        ("text/plain", "latin-1"),
    ]:
        with pytest.raises(SparkleError) as caught:
            declared_type(content_type, charset)
        assert caught.value.code is ErrorCode.UNSUPPORTED_FILE_TYPE
        assert caught.value.spec.http_status == 415


@pytest.mark.parametrize(
    ("raw", "mime", "expected"),
    [
        ("shot.png", "image/png", "shot.png"),
        ("Photo.JPEG", "image/jpeg", "Photo.JPEG"),
        ("photo.jpg", "image/jpeg", "photo.jpg"),
        ("", "image/png", "file.png"),
        ("../../etc/passwd", "text/plain", "passwd.txt"),
        ("C:\\Users\\ann\\notes.txt", "text/plain", "notes.txt"),
        ("dir/", "application/pdf", "file.pdf"),
        ("page.html", "text/plain", "page.html.txt"),
        ("report.pdf.exe", "application/pdf", "report.pdf.exe.pdf"),
        # U+202E RIGHT-TO-LEFT OVERRIDE would show "invoice_fdp.exe" as "invoice_exe.pdf".
        ("invoice_\u202efdp.exe", "application/pdf", "invoice_fdp.exe.pdf"),
        ("a\u2066b\u2069c\u200f.txt", "text/plain", "abc.txt"),
        ("tab\there\nnew\rline\x00.txt", "text/plain", "tab here new line.txt"),
        ("  lots   of\u00a0space .txt", "text/plain", "lots of space.txt"),
        ("...hidden", "text/plain", "hidden.txt"),
        ("...", "image/gif", "file.gif"),
        ("emoji 😀.webp", "image/webp", "emoji 😀.webp"),
        ("e\u0301.txt", "text/plain", "\u00e9.txt"),  # NFC
    ],
)
def test_sanitize_filename(raw: str, mime: str, expected: str) -> None:
    assert sanitize_filename(raw, FILE_TYPES[mime]) == expected


def test_sanitize_filename_is_bounded_and_keeps_the_extension() -> None:
    name = sanitize_filename("x" * 1000 + ".pdf", FILE_TYPES["application/pdf"])
    assert len(name) == MAX_FILENAME_CHARS and name.endswith("x.pdf")
    long_extension = sanitize_filename("y" * 300, TEXT)
    assert len(long_extension) == MAX_FILENAME_CHARS and long_extension.endswith(".txt")


def test_content_disposition_rfc6266() -> None:
    header = content_disposition('Grüße "x"\\%.txt')
    assert header.startswith('attachment; filename="Gr__e _x___.txt"; ')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert urllib.parse.unquote(encoded) == 'Grüße "x"\\%.txt'
    assert all(c.isascii() and c not in ' ";' for c in encoded)


def test_room_folder_refuses_path_like_names(tmp_path: Path) -> None:
    assert room_folder(tmp_path, "abc-def") == tmp_path / "files" / "abc-def"
    for bad in ("..", "a/b", "", "x" * 65):
        with pytest.raises(ValueError):
            room_folder(tmp_path, bad)


def test_find_and_delete_room_files(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    try:
        for file_id, room in (("A" * 22, "one"), ("B" * 22, "two")):
            store.write(
                "INSERT INTO chat_files (id, room, name, type, size, uploader_identity,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (file_id, room, "a.txt", "text/plain", 3, "ann", 1.5),
            )
            folder = room_folder(tmp_path, room)
            folder.mkdir(parents=True)
            (folder / file_id).write_bytes(b"abc")
        found = find_file(store, "one", "A" * 22)
        assert found == SharedFile("A" * 22, "one", "a.txt", "text/plain", 3, "ann", 1.5)
        assert found.to_wire() == {"id": "A" * 22, "name": "a.txt", "size": 3, "type": "text/plain"}
        assert find_file(store, "two", "A" * 22) is None  # another room's file: not there
        assert delete_room_files(store, tmp_path, "one") == 1
        assert find_file(store, "one", "A" * 22) is None
        assert not room_folder(tmp_path, "one").exists()
        assert find_file(store, "two", "B" * 22) is not None
        assert (room_folder(tmp_path, "two") / ("B" * 22)).read_bytes() == b"abc"
        assert delete_room_files(store, tmp_path, "never-used") == 0
    finally:
        store.close()


def test_room_chat_limits_each_participant_exactly(tmp_path: Path) -> None:
    now = [1000.0]
    config = make_config(tmp_path, chat_messages_per_minute=30, chat_files_per_minute=6)
    chat = RoomChat(config, clock=lambda: now[0], wall_clock=lambda: 1700000000.12345)
    assert [chat.allow_message("PA_a") for _ in range(31)] == [True] * 30 + [False]
    assert chat.allow_message("PA_b")  # someone else has a budget of their own
    now[0] += 2.0  # 30 a minute: one more line every 2 s
    assert chat.allow_message("PA_a") and not chat.allow_message("PA_a")
    assert [chat.allow_upload("PA_a") for _ in range(7)] == [True] * 6 + [False]
    assert chat.now() == 1700000000.123
    assert chat.tracked == 2
    chat.forget("PA_a")
    assert chat.tracked == 1 and chat.allow_message("PA_a")  # a new seat, a new budget
    chat.retain({"PA_a"})
    assert chat.tracked == 1
    chat.retain(set())
    assert chat.tracked == 0
