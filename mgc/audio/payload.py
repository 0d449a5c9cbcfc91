"""A digest of an audio file's audio data alone, leaving its tags out: what ``predict --write-tags``
compares before and after writing tags, so a file whose audio changed is never put in place.

Per container (told by its first bytes, not its name):

- MP3: the bytes between the leading ID3v2 tag(s) and a trailing ID3v1 tag;
- WAV (RIFF): every chunk but ``id3 ``/``ID3 `` (where tags live), with its id;
- FLAC: the STREAMINFO block and every byte after the metadata blocks (the frames);
- Ogg (Vorbis, Opus): the packets after the stream's header packets (3 for Vorbis, 2 for Opus),
  with the last page's granule position: a longer comment header repaginates the headers and
  renumbers the pages after them (their sequence numbers and checksums change, their packets do not);
- MP4: the contents of the ``mdat`` boxes (a longer ``moov`` shifts them, mutagen fixes the offsets).

Files are read in blocks: memory stays flat however long the file.
"""

from __future__ import annotations

import hashlib
import os
import struct

from mgc.errors import AudioError

BLOCK = 1 << 20
ID3V1 = 128  # a trailing ID3v1 tag: "TAG" + 125 bytes
HEADER_PACKETS = {b"\x01vorbis": 3, b"OpusHead": 2}


def audio_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of ``path``'s audio data (see the module); :class:`AudioError` for another container."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        fh.seek(0)
        digest = hashlib.sha256()
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            _riff(fh, digest)
        elif head[:4] == b"OggS":
            _ogg(fh, digest)
        elif head[4:8] == b"ftyp":
            _mp4(fh, digest)
        else:
            start = _id3v2_end(fh)
            fh.seek(start)
            if fh.read(4) == b"fLaC":
                _flac(fh, digest, start + 4)
            else:
                _mp3(fh, digest, start)
    return digest.hexdigest()


def _copy(fh, digest, count: int | None) -> None:
    """Hash ``count`` bytes from the current position (None: to the end)."""
    while count is None or count > 0:
        block = fh.read(BLOCK if count is None else min(BLOCK, count))
        if not block:
            return
        digest.update(block)
        if count is not None:
            count -= len(block)


def _id3v2_end(fh) -> int:
    """Where the audio starts after any ID3v2 tags at the start (several may follow each other)."""
    offset = 0
    while True:
        fh.seek(offset)
        header = fh.read(10)
        if len(header) < 10 or header[:3] != b"ID3":
            return offset
        size = 0
        for byte in header[6:10]:  # a "synchsafe" integer: 7 bits a byte
            size = (size << 7) | (byte & 0x7F)
        offset += 10 + size + (10 if header[5] & 0x10 else 0)  # a footer doubles the header


def _mp3(fh, digest, start: int) -> None:
    end = fh.seek(0, os.SEEK_END)
    if end - start >= ID3V1:
        fh.seek(end - ID3V1)
        if fh.read(3) == b"TAG":
            end -= ID3V1
    fh.seek(start)
    _copy(fh, digest, end - start)


def _riff(fh, digest) -> None:
    fh.seek(12)
    while True:
        header = fh.read(8)
        if len(header) < 8:
            return
        chunk, size = header[:4], struct.unpack("<I", header[4:])[0]
        padded = size + (size & 1)
        if chunk.lower() == b"id3 ":
            fh.seek(padded, os.SEEK_CUR)
            continue
        digest.update(chunk)
        _copy(fh, digest, size)
        fh.seek(padded - size, os.SEEK_CUR)


def _flac(fh, digest, offset: int) -> None:
    fh.seek(offset)
    while True:
        header = fh.read(4)
        if len(header) < 4:
            raise AudioError("truncated FLAC metadata")
        last, kind, size = header[0] & 0x80, header[0] & 0x7F, int.from_bytes(header[1:], "big")
        if kind == 0:  # STREAMINFO: the stream's parameters and its MD5 of the samples
            _copy(fh, digest, size)
        else:
            fh.seek(size, os.SEEK_CUR)
        if last:
            break
    _copy(fh, digest, None)


def _mp4(fh, digest) -> None:
    end = fh.seek(0, os.SEEK_END)
    offset = 0
    while offset + 8 <= end:
        fh.seek(offset)
        size, kind = struct.unpack(">I4s", fh.read(8))
        header = 8
        if size == 1:  # a 64-bit size follows
            size, header = struct.unpack(">Q", fh.read(8))[0], 16
        elif size == 0:  # to the end of the file
            size = end - offset
        if size < header:
            raise AudioError("corrupt MP4 box")
        if kind == b"mdat":
            _copy(fh, digest, size - header)
        offset += size


def _ogg(fh, digest) -> None:
    """The packets of each logical stream after its header packets, and each stream's last granule."""
    from mutagen.ogg import OggPage

    partial: dict[int, bytes] = {}  # a packet continued on the next page
    seen: dict[int, int] = {}  # packets finished, per stream
    headers: dict[int, int] = {}
    granule: dict[int, int] = {}
    while True:
        try:
            page = OggPage(fh)
        except EOFError:
            break
        except Exception as exc:  # mutagen's error for a corrupt page
            raise AudioError(f"corrupt Ogg page: {exc}") from None
        serial = page.serial
        packets = list(page.packets)
        if page.continued and packets:
            packets[0] = partial.pop(serial, b"") + packets[0]
        if not page.complete and packets:
            partial[serial] = packets.pop()
        for packet in packets:
            if serial not in headers:
                headers[serial] = next((n for magic, n in HEADER_PACKETS.items() if packet.startswith(magic)), 1)
            seen[serial] = seen.get(serial, 0) + 1
            if seen[serial] > headers[serial]:
                digest.update(struct.pack("<IQ", serial, len(packet)))
                digest.update(packet)
        if page.position >= 0:
            granule[serial] = page.position
    for serial in sorted(granule):
        digest.update(struct.pack("<Iq", serial, granule[serial]))
