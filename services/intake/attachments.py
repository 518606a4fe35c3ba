"""Attachments: checked, cleaned and stored by content (sha256) under the data directory.

- Only JPEG, PNG, WebP and PDF, recognised by their bytes (the client's media type is ignored).
- Photos are decoded and re-encoded: EXIF (GPS position, camera, time), XMP, ICC and text chunks
  are dropped, the EXIF orientation is applied to the pixels first, and a photo larger than
  2048 pixels on its long side is scaled down to that (so a phone's 6 MB photo is taken, not
  refused: the limit per file applies to what is stored). PDFs lose their document metadata
  (author, creator, producer, title, the XMP stream) and are rewritten whole, so no earlier
  revision's metadata stays in the file; their pages are copied as they are.
- Stored at `<root>/<sha256[:2]>/<sha256>` of the cleaned bytes; the client's file name is kept
  only as a display name in the event, never used for a path.

`store_attachment(data, name, media_type)` is the one call channels need.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import tempfile
import unicodedata
import warnings
from pathlib import Path

import pikepdf
from PIL import Image, ImageOps, UnidentifiedImageError

from shared.crypto import keyed_hash
from shared.errors import DomainError
from shared.i18n import N_
from shared.values import Attachment

MAX_BYTES = 5_000_000
MAX_PHOTO_BYTES = 20_000_000  # a photo as sent, before it is scaled down
MAX_PIXELS = 40_000_000
LONG_SIDE = 2048  # pixels: photos are stored at most this long
JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
ALLOWED = (JPEG, PNG, WEBP, PDF)
_PIL_FORMAT = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXTENSION = {JPEG: ".jpg", PNG: ".png", WEBP: ".webp", PDF: ".pdf"}


class AttachmentRejected(DomainError):
    """A file we do not take; the message names the field (`attachments: …`). `key` and `values`
    say the same for a person, in the catalogs' words (`error.attachment.*`)."""

    def __init__(self, message: str, key: str = N_("error.attachment.invalid"), **values: object):
        super().__init__(message)
        self.key = key
        self.values = values


def sniff(head: bytes) -> str | None:
    """The media type from the first bytes, or None when it is not one we take."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def display_name(name: str | None, media_type: str) -> str:
    """A harmless display name: no directories, no control characters, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    if not base:
        base = "lampiran" + _EXTENSION.get(media_type, "")
    if len(base) > 255:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else base[:255]
    return base


def clean_pdf(data: bytes) -> bytes:
    """The PDF without its document metadata: the Info dictionary (author, creator, producer,
    title: often the reporter's name and their office's software) and the XMP stream. qpdf
    rewrites the file whole, so metadata an incremental update superseded goes too. Streams are
    copied as they are (never inflated: no decompression bomb), and the file's /ID comes from
    its content, so the same upload is stored under the same sha256 again."""
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            if "/Metadata" in pdf.Root:
                del pdf.Root["/Metadata"]
            out = io.BytesIO()
            pdf.save(
                out,
                preserve_pdfa=False,  # would write an XMP stream back
                fix_metadata_version=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                compress_streams=False,  # each stream as it came, compressed or not
                deterministic_id=True,
            )
    except pikepdf.PasswordError as error:
        raise AttachmentRejected(
            "attachments: the PDF is locked with a password", N_("error.attachment.unreadable")
        ) from error
    except (pikepdf.PdfError, ValueError, RecursionError) as error:
        raise AttachmentRejected(
            "attachments: the PDF cannot be read", N_("error.attachment.unreadable")
        ) from error
    return out.getvalue()


def clean_image(
    data: bytes, media_type: str, max_pixels: int = MAX_PIXELS, long_side: int = LONG_SIDE
) -> bytes:
    """Decode and re-encode a photo without any metadata (EXIF/GPS, XMP, ICC, text chunks),
    scaled down to at most `long_side` pixels on its long side."""
    expected = _PIL_FORMAT[media_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.format != expected:
                    raise AttachmentRejected(
                        f"attachments: not a valid {expected} image",
                        N_("error.attachment.unreadable"),
                    )
                if probe.width * probe.height > max_pixels:
                    raise AttachmentRejected(
                        "attachments: image has too many pixels", N_("error.attachment.pixels")
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                if max(upright.size) > long_side:
                    upright = upright.copy() if upright is image else upright
                    upright.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
                pixels = _plain_copy(upright, media_type)
    except AttachmentRejected:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as error:
        raise AttachmentRejected(
            f"attachments: the image could not be read ({expected})",
            N_("error.attachment.unreadable"),
        ) from error
    out = io.BytesIO()
    if media_type == JPEG:
        pixels.save(out, "JPEG", quality=88, optimize=True, exif=b"")
    elif media_type == PNG:
        pixels.save(out, "PNG", optimize=False)
    else:
        pixels.save(out, "WEBP", quality=85, exif=b"", xmp=b"")
    return out.getvalue()


def _plain_copy(image: Image.Image, media_type: str) -> Image.Image:
    """The pixels alone, in a new image that carries no `info` (so nothing is written back)."""
    modes = {JPEG: ("RGB", "L", "CMYK"), PNG: ("RGB", "RGBA", "L", "LA", "P", "1", "I;16")}
    allowed = modes.get(media_type, ("RGB", "RGBA"))
    if image.mode not in allowed:
        image = image.convert("RGBA" if "A" in image.mode and "RGBA" in allowed else "RGB")
    plain = Image.new(image.mode, image.size)
    if image.mode == "P":
        palette = image.getpalette()
        if palette is not None:
            plain.putpalette(palette)
        transparency = image.info.get("transparency")
        plain.paste(image)
        if transparency is not None:
            plain.info["transparency"] = transparency
        return plain
    plain.paste(image)
    return plain


NOT_UPLOADED = (
    "attachments: no file uploaded by you with this sha256 and upload_token"
    " (POST /api/v1/attachments answers both)"
)


class AttachmentStore:
    """Content-addressed files under `root`."""

    def __init__(
        self,
        root: Path,
        max_bytes: int = MAX_BYTES,
        max_pixels: int = MAX_PIXELS,
        max_photo_bytes: int = MAX_PHOTO_BYTES,
        secret: bytes = b"",
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.max_photo_bytes = max(max_photo_bytes, max_bytes)
        self._secret = secret

    def upload_token(self, sha256: str) -> str:
        """What proves a client uploaded a file (it is in the upload's answer, nowhere else):
        a keyed hash of its sha256, so only who had the bytes can attach the file."""
        return keyed_hash(self._secret, "attachment-upload", sha256)

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise AttachmentRejected("attachments: sha256 must be 64 lowercase hex digits")
        return self.root / sha256[:2] / sha256

    def store(self, data: bytes, name: str | None, media_type: str | None = None) -> Attachment:
        """Check, clean and store one file. `media_type` (the client's word) is only a hint."""
        if not data:
            raise AttachmentRejected("attachments: the file is empty", N_("error.attachment.empty"))
        kind = sniff(data[:16])
        if kind is None:
            raise AttachmentRejected(
                "attachments: only JPEG, PNG, WebP and PDF files are accepted",
                N_("error.attachment.type"),
            )
        # A photo may come larger (it is scaled down); a PDF is taken at the stored limit.
        limit = self.max_bytes if kind == PDF else self.max_photo_bytes
        if len(data) > limit:
            raise self.too_large(limit)
        if kind == PDF and b"%%EOF" not in data[-2048:]:
            raise AttachmentRejected(
                "attachments: the PDF is incomplete", N_("error.attachment.unreadable")
            )
        cleaned = clean_pdf(data) if kind == PDF else clean_image(data, kind, self.max_pixels)
        if len(cleaned) > self.max_bytes:
            raise self.too_large(self.max_bytes)
        digest = hashlib.sha256(cleaned).hexdigest()
        self._write(digest, cleaned)
        return Attachment(
            sha256=digest, name=display_name(name, kind), media_type=kind, size=len(cleaned)
        )

    @staticmethod
    def too_large(limit: int) -> AttachmentRejected:
        return AttachmentRejected(
            f"attachments: a file may be at most {limit} bytes",
            N_("error.attachment.too_large"),
            megabytes=round(limit / 1_000_000),
        )

    def _write(self, digest: str, data: bytes) -> None:
        target = self.path_of(digest)
        if target.exists() and target.stat().st_size == len(data):
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def resolve(self, sha256: str, name: str | None, upload_token: str) -> Attachment:
        """A file the client uploaded earlier (e.g. before the report): its sha256 and the
        `upload_token` the upload answered with. A wrong token and a missing file get the same
        refusal, so no answer tells whether a file exists."""
        path = self.path_of(sha256)
        if not hmac.compare_digest(upload_token.encode(), self.upload_token(sha256).encode()) or (
            not path.is_file()
        ):
            raise AttachmentRejected(NOT_UPLOADED)
        with path.open("rb") as handle:
            kind = sniff(handle.read(16))
        if kind is None:  # pragma: no cover - only files we wrote live here
            raise AttachmentRejected(NOT_UPLOADED)
        return Attachment(
            sha256=sha256,
            name=display_name(name, kind),
            media_type=kind,
            size=path.stat().st_size,
        )


def default_store() -> AttachmentStore:
    from services.intake.config import IntakeSettings
    from shared.settings import get_settings

    limits = IntakeSettings()
    return AttachmentStore(
        get_settings().data_dir / "attachments",
        max_bytes=limits.max_attachment_bytes,
        max_pixels=limits.max_image_pixels,
        max_photo_bytes=limits.max_photo_bytes,
    )


def store_attachment(
    data: bytes,
    name: str | None,
    media_type: str | None = None,
    *,
    store: AttachmentStore | None = None,
) -> Attachment:
    """Check, clean (photos lose their metadata) and store one file; returns its Attachment.

    Raises AttachmentRejected (a DomainError: HTTP 400 naming `attachments`) for a file we do not
    take. Blocking (Pillow): call it through `asyncio.to_thread` from async code.
    """
    return (store or default_store()).store(data, name, media_type)
