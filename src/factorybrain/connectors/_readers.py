"""Readers: turn a source file into a DuckDB relation of its rows, plus the rows it could not read.

Every reader numbers the rows as a person would find them in the file (the line of a CSV or JSON
lines file, the row of an Excel sheet, the record of a JSON document, Parquet file or SQLite table,
counting from 1), gives each row a unique ordinal in file order (the rows of an exploded JSON list
share their record's number), and keeps each unreadable row with its raw content and the reason,
so nothing is lost. What it reads is counted by the reader itself: the ingest checks every row it
read against what became of it.

Text files are read in any encoding Python knows. DuckDB reads UTF-8 CSV files itself; a file in
another encoding, with mixed line endings or with NUL bytes is first rewritten, streamed, as a
UTF-8 copy with one kind of line ending, and the lines that cannot be text are quarantined with
their line number and what is wrong with them.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import duckdb
import numpy as np
import pyarrow as pa

from factorybrain.connectors._mapping import ROW_COLUMN, Mapping
from factorybrain.connectors._xml import (
    ALL_CHILDREN,
    RecordReader,
    RecordSpec,
    expect_read,
    parse_record_path,
    prune,
    shared_read,
    wanted,
)
from factorybrain.exceptions import IngestError, MappingError

ROW = "__row"
#: A unique number per row in file order (rows of one exploded record share ``__row``).
ORDINAL = "__ord"
#: The position of an exploded row in its record's lists (``2``, ``2.1``), else absent.
ITEM = "__item"
#: Why a cell of a wide table is no row (an empty cell), where the table is unpivoted into
#: entities; NULL for a cell that is one.
CELL_SKIP = "__cell_skip"
INTERNAL_COLUMNS = (ROW, ORDINAL, ITEM, CELL_SKIP)

_CHUNK = 1 << 22

_MAGIC = {
    b"PAR1": "parquet",
    b"PK\x03\x04": "zip",
    b"SQLite format 3\x00": "sqlite",
    b"\x1f\x8b": "gzip",
    b"%PDF": "pdf",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "ole",
    b"\x89PNG": "png",
    b"\xff\xd8\xff": "jpeg",
}
#: How each kind of content is named in messages.
KIND_NAMES = {
    "parquet": "a Parquet file",
    "excel": "an Excel workbook (.xlsx)",
    "zip": "a zip archive",
    "sqlite": "a SQLite database",
    "gzip": "a gzip-compressed file",
    "pdf": "a PDF document",
    "ole": "an old-style Office file (.xls or .doc; save it as .xlsx)",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "xml": "an XML document",
    "utf-16": "UTF-16 text (set 'source: {encoding: utf-16}' in the mapping)",
    "binary": "binary data",
    "text": "text",
}
_EXPECTED_NAMES = {
    "csv": "CSV text",
    "jsonl": "JSON lines text",
    "json": "JSON text",
    "parquet": KIND_NAMES["parquet"],
    "excel": KIND_NAMES["excel"],
    "sqlite": KIND_NAMES["sqlite"],
    "xml": "XML text",
}


#: How an XML document starts (after a UTF-8 byte order mark and blank space).
_XML_START = re.compile(rb"(?:\xef\xbb\xbf)?\s*<(?:\?xml|!--|!DOCTYPE|[A-Za-z_])")
#: Bytes that text hardly ever holds (tab, line ends, form feed and escape left out).
_CONTROL_BYTES = [bytes([b]) for b in (*range(0, 9), 11, *range(14, 27), *range(28, 32))]


@dataclass
class Rejected:
    """A row the reader could not read."""

    row_number: int | None
    raw: str
    reason: str


@dataclass
class SourceRows:
    """What a reader produces: a relation over the readable rows and what it could not read.

    ``rows_in_relation`` is the reader's own count of the relation's rows where it knows it
    without scanning them (Parquet metadata, the rows it registered); ``filtered`` counts, by
    reason, records that yield no row (a JSON record with an empty list to explode, rows listed
    in ``skip_rows``); ``records`` is how many records of the source the rows came from.
    """

    relation: duckdb.DuckDBPyRelation
    rejected: list[Rejected] = field(default_factory=list)
    rows_in_relation: int | None = None
    filtered: Counter[str] = field(default_factory=Counter)
    records: int | None = None
    #: SHA-256 of the file when the reader read all of it anyway.
    sha256: str | None = None
    #: For CSV files: what it takes to give DuckDB's rows the file's line numbers.
    lines: LineNumbers | None = None
    temporary: list[Path] = field(default_factory=list)
    #: The part of the file the rows are (the sheet of a workbook that has several), else None.
    part: str | None = None

    def close(self) -> None:
        """Remove the temporary files the reader wrote (a transcoded copy)."""
        for path in self.temporary:
            shutil.rmtree(path, ignore_errors=True)
        self.temporary.clear()


def sniff_format(path: Path) -> str | None:
    """Return the kind of content the first bytes of ``path`` reveal, or ``None`` for text.

    Kinds are the keys of :data:`KIND_NAMES`: a zip archive that holds a workbook is ``excel``;
    text that starts like an XML document (``<?xml``, ``<tag``) is ``xml``; text in UTF-16 is
    ``utf-16``; a few stray NUL bytes in text leave it text (the reader reports their lines),
    many make it ``binary``.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            if kind == "zip":
                return "excel" if _is_workbook(path) else "zip"
            return kind
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    odd, even = head[1::2].count(0), head[0::2].count(0)
    if len(head) >= 8 and max(odd, even) >= 0.9 * (len(head) // 2):
        return "utf-16"  # text in UTF-16 without a byte order mark: a NUL in every other byte
    if _XML_START.match(head):
        return "xml"
    controls = sum(head.count(byte) for byte in _CONTROL_BYTES)
    # A few stray NULs or control bytes leave text text (the reader reports their lines).
    return "binary" if controls > len(head) // 10 else None


def _is_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def content_name(kind: str | None) -> str:
    """How a sniffed kind of content reads in a message."""
    return KIND_NAMES.get(kind or "text", f"a {kind} file")


def read_source(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    """Open ``path`` as the mapping says and return its rows.

    Raises:
        IngestError: If the file is missing, empty, or not what its format says it is.
    """
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a folder, expected a file")
    kind = mapping.format_for(path)
    if path.stat().st_size == 0 and kind != "jsonl":
        # An empty JSON-lines export is a valid export of zero records; any other format needs
        # at least a header, a document or a schema.
        raise IngestError(f"{path}: the file is empty (0 bytes); expected a header and rows")
    actual = sniff_format(path)
    expected = _EXPECTED_NAMES[kind]
    if kind in ("parquet", "excel", "sqlite") and actual != kind:
        raise IngestError(f"{path}: expected {expected}, but its content is {content_name(actual)}")
    if kind in ("csv", "jsonl", "json"):
        declared = mapping.source.encoding and codec_name(mapping.source.encoding)
        wide = declared is not None and not ascii_compatible(declared)
        if actual not in (None, "gzip") and not (wide and actual in ("utf-16", "binary")):
            raise IngestError(
                f"{path}: expected {expected}, but its content is {content_name(actual)}"
            )
    if kind == "xml" and actual not in (None, "xml", "utf-16"):
        raise IngestError(f"{path}: expected {expected}, but its content is {content_name(actual)}")
    reader = {
        "csv": _read_csv,
        "parquet": _read_parquet,
        "excel": _read_excel,
        "jsonl": _read_jsonl,
        "json": _read_json,
        "sqlite": _read_sqlite,
        "xml": _read_xml,
    }[kind]
    return reader(path, mapping, con)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- text: encodings, line endings, NUL bytes ----------------------------------------------------
def codec_name(encoding: str) -> str:
    """Python's canonical name of a codec (``latin-1`` -> ``iso8859-1``, ``UTF8`` -> ``utf-8``)."""
    return codecs.lookup(encoding).name


def ascii_compatible(codec: str) -> bool:
    """Whether the codec writes newlines, separators and quotes as the ASCII bytes.

    Such files can be cut into lines on their bytes; UTF-16 and UTF-32 cannot.
    """
    sample = "\n\r,;\t\"'abcXYZ019 "
    try:
        return sample.encode(codec) == sample.encode("ascii")
    except (UnicodeError, LookupError):
        return False


@dataclass
class TextScan:
    """What one pass over a UTF-8 text file found, besides its SHA-256."""

    sha256: str
    mixed_endings: bool
    has_nul: bool
    #: Numbers of the empty lines (None when not looked for).
    blank: list[int] | None


def scan_text(path: Path, *, blank_lines: bool) -> TextScan:
    """Read a text file once: its SHA-256, mixed line endings, NUL bytes and empty lines.

    The checks are byte searches in C over each chunk, so the pass costs little more than the
    hash the ingest needs anyway; empty lines are searched only when ``blank_lines``.
    """
    digest = hashlib.sha256()
    has_nul = False
    carriage = linefeed = pairs = 0
    lone_linefeed = False
    ended_with_cr = False
    blank: list[int] | None = [] if blank_lines else None
    lines_before = 0
    tail = b""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            has_nul = has_nul or b"\x00" in chunk
            if b"\r" in chunk or ended_with_cr:
                carriage += chunk.count(b"\r")
                linefeed += chunk.count(b"\n")
                pairs += chunk.count(b"\r\n") + (ended_with_cr and chunk.startswith(b"\n"))
            elif b"\n" in chunk:
                lone_linefeed = True
            ended_with_cr = chunk.endswith(b"\r")
            if blank is not None:
                buffer = tail + chunk
                blank.extend(lines_before + n for n in _empty_lines(buffer, len(tail)))
                lines_before += chunk.count(b"\n")
                tail = chunk[-2:]
    # CRLF throughout pairs every CR with an LF; lone CRs alone are a line ending DuckDB
    # detects. Anything else mixes them, which DuckDB's CSV reader refuses.
    only_cr = linefeed == 0 and not lone_linefeed
    crlf = pairs == carriage == linefeed and not lone_linefeed
    mixed = carriage > 0 and not only_cr and not crlf
    return TextScan(digest.hexdigest(), mixed, has_nul, sorted(set(blank)) if blank else blank)


def _empty_lines(buffer: bytes, start: int) -> Iterator[int]:
    """Line numbers (relative to the newlines before ``buffer[start:]``) of empty lines there."""
    for pattern in (b"\n\n", b"\n\r\n"):
        position = buffer.find(pattern)
        while position >= 0:
            end = position + len(pattern) - 1  # the newline that ends the empty line
            if end >= start:
                # The empty line is the line after the one the first newline ends.
                yield buffer.count(b"\n", start, end) + 1
            position = buffer.find(pattern, position + 1)


def blank_line_numbers(path: Path) -> list[int]:
    """The numbers of the empty lines of a UTF-8 text file (for row numbers of CSV files)."""
    found = scan_text(path, blank_lines=True).blank
    return found or []


@dataclass
class Prepared:
    r"""A UTF-8 copy of a text file with ``\n`` line endings, and what could not be copied."""

    path: Path
    sha256: str
    #: Lines left out of the copy (their numbers in the original), each also in ``rejected``.
    dropped: list[int]
    rejected: list[Rejected]
    blank: list[int]


def prepare_text(source: Path, encoding: str, header_line: int, folder: Path) -> Prepared:
    r"""Write a UTF-8 copy of ``source`` with ``\n`` line endings, streamed chunk by chunk.

    A line below the header that is not valid text in ``encoding`` or holds a NUL byte is left
    out of the copy and returned as rejected, naming the line, the column and the byte. Lines
    are counted as an editor shows them: ``\r\n``, ``\n`` and a lone ``\r`` each end one.

    Raises:
        IngestError: For a file in a codec that cannot be cut into lines on its bytes (UTF-16,
            UTF-32) with bytes that are no text in it: the message names the line.
    """
    codec = codec_name(encoding)
    target = folder / (source.stem + ".utf8.csv")
    digest = hashlib.sha256()
    writer = _CopyWriter(codec, header_line)
    compressed = source.suffix.lower() == ".gz"
    raw: io.BufferedIOBase = gzip.open(source, "rb") if compressed else source.open("rb")
    with raw, target.open("w", encoding="utf-8", newline="\n") as out:
        hashed = _Hashing(raw, digest)
        if ascii_compatible(codec):
            writer.copy_bytes(hashed, out)
        else:
            writer.copy_wide(hashed, out, source)
    sha = _sha256(source) if compressed else digest.hexdigest()
    return Prepared(target, sha, writer.dropped, writer.rejected, writer.blank)


class _Hashing:
    """A binary stream that feeds what is read from it into a hash."""

    def __init__(self, stream: io.BufferedIOBase, digest: Any) -> None:
        self.stream = stream
        self.digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.digest.update(data)
        return data


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _CopyWriter:
    """Copies text to UTF-8, chunk by chunk where nothing is wrong, else line by line."""

    def __init__(self, codec: str, header_line: int) -> None:
        self.codec = codec
        self.header_line = header_line
        self.decoder_codec = "utf-8-sig" if codec == "utf-8" else codec
        self.line = 0  # lines written or dropped so far
        self.dropped: list[int] = []
        self.rejected: list[Rejected] = []
        self.blank: list[int] = []

    def copy_bytes(self, raw: _Hashing, out: IO[str]) -> None:
        """Copy a file in a codec that writes line endings as ASCII bytes."""
        decoder = codecs.getincrementaldecoder(self.decoder_codec)("strict")
        rest = b""
        while True:
            chunk = raw.read(_CHUNK)
            data = rest + chunk
            if not chunk:
                if data:
                    self._block(data, decoder, out)
                return
            # A CR at the very end may be the first half of a CRLF: it waits for the next chunk.
            end = len(data) - 1 if data.endswith(b"\r") else len(data)
            cut = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
            if cut < 0:
                rest = data  # no whole line yet
                continue
            block, rest = data[: cut + 1], data[cut + 1 :]
            self._block(block, decoder, out)

    def _block(self, block: bytes, decoder: Any, out: IO[str]) -> None:
        """Copy whole lines: at once if they decode and hold no NUL, else one by one."""
        if self.line < self.header_line:
            # The header and the titles above it are never left out: they go one by one.
            lines = _split_lines(block)
            head = self.header_line - self.line
            for raw_line in lines[:head]:
                self._one_line(raw_line, out)
            block = b"".join(lines[head:])
            if not block:
                return
        if b"\x00" not in block:
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError:
                decoder.reset()
            else:
                self._write(_normalise(text), out)
                return
        for raw_line in _split_lines(block):
            self._one_line(raw_line, out)

    def _write(self, text: str, out: IO[str]) -> None:
        """Write whole lines (``text`` ends with a newline unless it is the file's end)."""
        if text.startswith("\n") and self.line:
            self.blank.append(self.line + 1)
        position = text.find("\n\n")
        while position >= 0:
            # The line after the one that ends at ``position`` is empty.
            self.blank.append(self.line + text.count("\n", 0, position) + 2)
            position = text.find("\n\n", position + 1)
        out.write(text)
        self.line += text.count("\n") + (0 if not text or text.endswith("\n") else 1)

    def _one_line(self, raw_line: bytes, out: IO[str]) -> None:
        number = self.line + 1
        body = raw_line.rstrip(b"\r\n")
        problem = None
        try:
            text = body.decode(self.decoder_codec if number == 1 else self.codec)
        except UnicodeDecodeError as error:
            text = body.decode(self.codec, "replace")
            byte = body[error.start : error.start + 1].hex()
            problem = (
                f"not valid {self.codec} text (byte 0x{byte} at column {error.start + 1}; set "
                "'source: {encoding: ...}' in the mapping to the file's encoding)"
            )
        self._text_line(number, text, len(body) < len(raw_line), problem, out)

    def _text_line(
        self, number: int, text: str, ended: bool, problem: str | None, out: IO[str]
    ) -> None:
        problem = problem or _nul(text)
        self.line += 1
        if problem is not None and number > self.header_line:
            self.rejected.append(Rejected(number, text.replace("\x00", "\\0"), problem))
            self.dropped.append(number)
            return
        if not text and ended and number > 1:
            self.blank.append(number)
        # A NUL in the header or a title cannot be kept: DuckDB would read it as text.
        out.write(text.replace("\x00", "") + ("\n" if ended else ""))

    def copy_wide(self, raw: _Hashing, out: IO[str], source: Path) -> None:
        """Copy a file in a codec that cannot be cut into lines on bytes (UTF-16, UTF-32)."""
        decoder = codecs.getincrementaldecoder(self.codec)("strict")
        pending = ""
        final = False
        while not final:
            chunk = raw.read(_CHUNK)
            final = not chunk
            try:
                text = pending + decoder.decode(chunk, final)
            except UnicodeDecodeError as error:
                raise IngestError(
                    f"{source}: not valid {self.codec} text after line {self.line}: "
                    f"{error.reason} (set 'source: {{encoding: ...}}' in the mapping to the "
                    "file's encoding)"
                ) from None
            hold = ""
            if text.endswith("\r") and not final:
                text, hold = text[:-1], "\r"  # may be the first half of a CRLF
            lines = _normalise(text).split("\n")
            pending = lines.pop() + hold
            for line in lines:
                self._text_line(self.line + 1, line, True, None, out)
        if pending:
            self._text_line(self.line + 1, pending, False, None, out)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _split_lines(block: bytes) -> list[bytes]:
    """Cut bytes into lines, each with its ending; CRLF, LF and a lone CR each end one."""
    lines: list[bytes] = []
    start = 0
    length = len(block)
    position = 0
    while position < length:
        byte = block[position]
        if byte == 0x0A:
            lines.append(block[start : position + 1])
            start = position + 1
        elif byte == 0x0D:
            end = position + 2 if block[position + 1 : position + 2] == b"\n" else position + 1
            lines.append(block[start:end])
            start = position = end
            continue
        position += 1
    if start < length:
        lines.append(block[start:])
    return lines


# -- row numbers of CSV files --------------------------------------------------------------------
def _nth_free(values: np.ndarray, taken: list[int]) -> np.ndarray:
    """For each ``x`` in ``values``, the ``x``-th positive number not in ``taken``.

    With ``taken`` sorted, ``x + #{j : taken[j] - j <= x}`` (``j`` from 0) is that number.
    """
    if not taken:
        return values
    ordered = np.asarray(sorted(set(taken)), dtype=np.int64)
    shifted = ordered - np.arange(len(ordered), dtype=np.int64)
    return values + np.searchsorted(shifted, values, side="right")


@dataclass
class LineNumbers:
    """Gives the rows DuckDB read from a CSV file the lines they are on.

    DuckDB numbers the rows it returns one after the other; the rows it rejected, the empty
    lines and the lines left out of a transcoded copy are not among them. A row's line is the
    ``k``-th line below the header that is none of those. (A quoted value that spans lines
    counts as one line, as DuckDB counts it.)
    """

    path: Path
    header_line: int
    #: Lines left out of the copy DuckDB read (numbers in the original file).
    dropped: list[int] = field(default_factory=list)
    #: Empty lines (numbers in the original file), or None when not looked for yet.
    blank: list[int] | None = None
    #: Lines DuckDB rejected (numbers in the original file).
    rejected: list[int] = field(default_factory=list)
    #: Whether DuckDB read a copy (numbers of its rejects are then lines of the copy).
    copied: bool = False

    def original(self, lines: list[int]) -> list[int]:
        """Numbers of lines of the copy DuckDB read, as lines of the original file."""
        found = _nth_free(np.asarray(lines, dtype=np.int64), self.dropped)
        return [int(n) for n in found]

    def rows(self, ordinals: np.ndarray) -> np.ndarray:
        """The lines of the rows DuckDB returned as ``ordinals`` (1, 2, ...)."""
        if self.blank is None:
            self.blank = blank_line_numbers(self.path)
        taken = [n for n in (*self.dropped, *self.blank, *self.rejected) if n > self.header_line]
        below = np.asarray(ordinals, dtype=np.int64) + self.header_line
        shifted = _nth_free(below - self.header_line, [n - self.header_line for n in taken])
        return shifted + self.header_line

    @property
    def exact(self) -> bool:
        """Whether the rows' line numbers are known without any correction."""
        return not self.dropped and not self.rejected and self.blank == []


# -- CSV -----------------------------------------------------------------------------------------
def _text_columns(mapping: Mapping) -> set[str]:
    """Return the columns that must be read as text.

    They feed text fields (so '007' stays '007'), templates, expressions, lookups, unit columns,
    code tables, timestamps with an explicit format, and numbers written in a locale
    (``decimal: ","``, a thousands separator) that factorybrain parses itself.
    """
    localised = mapping.source.decimal == "," or bool(mapping.source.thousands_separator)
    names: set[str] = set()
    for rule in mapping.fields.values():
        textual = rule.field.type in ("string", "text", "string[]", "json")
        numeric = rule.field.type in ("float", "int")
        special = rule.template or rule.values or rule.format or rule.expression or rule.lookup
        if textual or special or (numeric and localised):
            names.update(rule.source_columns)
        elif rule.unit_column:
            names.add(rule.unit_column)
    for row_filter in mapping.filters:
        names.update(row_filter.expression.columns)
    names.update(mapping.skip_rows_without)
    names.discard(ROW_COLUMN)
    return names


_SNIFF_FAILED = "It was not possible to automatically detect the CSV parsing dialect"


def _read_csv(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    options = mapping.source
    codec = codec_name(options.encoding or "utf-8")
    header_line = options.header_row
    compressed = sniff_format(path) == "gzip"
    temporary: list[Path] = []
    rejected: list[Rejected] = []
    lines = LineNumbers(path, header_line)
    sha: str | None = None
    target = path
    prepare = codec != "utf-8"
    if compressed:
        lines.blank = []  # not looked for in compressed files
    else:
        # Entity files are small: their empty lines are found now, for exact row numbers.
        scan = scan_text(path, blank_lines=mapping.target != "datapoint" and not prepare)
        sha, lines.blank = scan.sha256, scan.blank
        prepare = prepare or scan.mixed_endings or scan.has_nul
    if prepare:
        folder = Path(tempfile.mkdtemp(prefix="factorybrain-"))
        temporary.append(folder)
        try:
            prepared = prepare_text(path, codec, header_line, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        target, sha, rejected = prepared.path, prepared.sha256, prepared.rejected
        lines.dropped, lines.blank, lines.copied = prepared.dropped, prepared.blank, True
    try:
        relation = _csv_relation(path, target, mapping, con)
    except BaseException:
        for folder in temporary:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return SourceRows(relation, rejected, sha256=sha, lines=lines, temporary=temporary)


def _csv_relation(
    path: Path, target: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection
) -> duckdb.DuckDBPyRelation:
    options = mapping.source
    header_line = options.header_row
    args = [
        _sql_string(str(target)),
        "header = true",
        "store_rejects = true",
        "rejects_table = '_csv_rejects'",
        "rejects_scan = '_csv_scans'",
        "strict_mode = true",
        "null_padding = false",
    ]
    if header_line > 1:
        args.append(f"skip = {header_line - 1}")
    if options.delimiter:
        args.append(f"delim = {_sql_string(options.delimiter)}")
    try:
        con.execute("DROP TABLE IF EXISTS _csv_rejects").fetchall()
        con.execute("DROP TABLE IF EXISTS _csv_scans").fetchall()
        columns = con.sql(f"SELECT * FROM read_csv({', '.join(args)})").columns
        clash = [c for c in columns if c in INTERNAL_COLUMNS]
        if clash:
            raise IngestError(f"{path}: a column may not be called {clash[0]!r}")
        read = _text_columns(mapping)
        text = sorted({c for name in read for c in mapping.columns_of(name, columns)})
        if mapping.unpivot is not None:
            # One cell that is no number must not reject its line's other tags with it.
            text = sorted({*text, *(c for c in columns if mapping.unpivot.selects(c))})
        if text:
            args.append("types = {" + ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in text) + "}")
        if mapping.unpivot is not None:
            args = _sniffed_once(con, args)
        return con.sql(
            f"SELECT *, row_number() OVER () AS {ORDINAL}, "
            f"row_number() OVER () + {header_line} AS {ROW} FROM read_csv({', '.join(args)})"
        )
    except duckdb.Error as error:
        message = first_line(error)
        if _SNIFF_FAILED in str(error):
            message = (
                "cannot tell how its lines are laid out (separator, quotes); set 'source: "
                "{delimiter: ...}' in the mapping, or check the file is CSV text"
            )
        raise IngestError(f"{path}: cannot read as CSV: {message}") from error


def _sniffed_once(con: duckdb.DuckDBPyConnection, args: list[str]) -> list[str]:
    """``read_csv`` arguments that state what DuckDB's sniffer finds: layout and column types.

    DuckDB sniffs a CSV file each time a statement reading it is bound; with hundreds of columns
    (a wide historian table) that is most of a second, paid by every statement of the load.
    """
    path, options = args[0], args[1:]
    dialect = ("header", "skip", "delim", "types")
    found = con.execute(
        "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader, "
        f"Columns, DateFormat, TimestampFormat FROM sniff_csv({', '.join(args)})"
    ).fetchall()[0]
    delimiter, quote, escape, new_line, comment, skip, header, columns, date, timestamp = found
    kept = [path] + [a for a in options if a.split(" = ")[0] not in dialect]
    stated = [
        "auto_detect = false",
        f"delim = {_sql_string(delimiter)}",
        f"quote = {_sql_string(_sniffed(quote))}",
        f"escape = {_sql_string(_sniffed(escape))}",
        f"new_line = {_sql_string(_sniffed(new_line))}",
        f"comment = {_sql_string(_sniffed(comment))}",
        f"skip = {int(skip)}",
        f"header = {str(bool(header)).lower()}",
        "columns = {"
        + ", ".join(f"{_sql_string(c['name'])}: {_sql_string(c['type'])}" for c in columns)
        + "}",
    ]
    if date:
        stated.append(f"dateformat = {_sql_string(date)}")
    if timestamp:
        stated.append(f"timestampformat = {_sql_string(timestamp)}")
    return kept + stated


def _sniffed(value: str) -> str:
    """A dialect character as ``sniff_csv`` reports it ("(empty)": none)."""
    return "" if value == "(empty)" else value


_CAST_MESSAGE = re.compile(r"Could not convert string '(.*)' to '?(\w+)'?")
_CAST_WORDS = {
    "DOUBLE": "a number",
    "FLOAT": "a number",
    "BIGINT": "a whole number",
    "INTEGER": "a whole number",
    "BOOLEAN": "true or false",
    "DATE": "a date",
    "TIMESTAMP": "a timestamp",
    "TIME": "a time of day",
}


def csv_rejects(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> list[Rejected]:
    """Return the lines DuckDB's CSV reader rejected (call after the relation was consumed).

    Their numbers are lines of the file DuckDB read (a transcoded copy, where there is one).
    """
    try:
        rows = con.execute(
            "SELECT line, csv_line, error_type, column_name, error_message FROM _csv_rejects "
            "ORDER BY line"
        ).fetchall()
    except duckdb.Error:
        return []
    explain = {
        "TOO MANY COLUMNS": "more fields than the header has",
        "MISSING COLUMNS": "fewer fields than the header has",
        "INVALID UNICODE": "not valid UTF-8 (set 'source: {encoding: ...}' in the mapping)",
        "INVALID ENCODING": "not valid UTF-8 (set 'source: {encoding: ...}' in the mapping)",
        "UNQUOTED VALUE": "a quote character inside an unquoted field",
        "LINE SIZE OVER MAXIMUM": "the line is longer than the reader accepts",
    }
    rejected = []
    for line, csv_line, error_type, column, message in rows:
        if error_type == "CAST":
            fields = [n for n, r in mapping.fields.items() if column in r.source_columns]
            where = f"field {fields[0]!r} (column {column!r})" if fields else f"column {column!r}"
            cast = _CAST_MESSAGE.search(first_line(message))
            if cast:
                expected = _CAST_WORDS.get(cast.group(2).upper(), f"a {cast.group(2)}")
                reason = (
                    f"{where}: expected {expected} (as the rows before it), found '{cast.group(1)}'"
                )
            else:
                reason = f"{where}: {first_line(message)}"
        else:
            reason = (
                f"malformed CSV line: {explain.get(error_type, error_type.lower())} "
                f"({first_line(message)})"
            )
        rejected.append(Rejected(int(line), csv_line or "", reason))
    return rejected


# -- Parquet -------------------------------------------------------------------------------------
def _read_parquet(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    try:
        relation = con.sql(
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW}, "
            f"file_row_number + 1 AS {ORDINAL} "
            f"FROM read_parquet({_sql_string(str(path))}, file_row_number = true)"
        )
        count = con.execute(
            f"SELECT sum(num_rows) FROM parquet_file_metadata({_sql_string(str(path))})"
        ).fetchall()[0]
    except duckdb.Error as error:
        raise IngestError(f"{path}: cannot read as Parquet: {first_line(error)}") from error
    rows = int(count[0] or 0) if count else 0
    return SourceRows(relation, rows_in_relation=rows, records=rows)


# -- rows made in Python (Excel, JSON, SQLite, databases) ----------------------------------------
def register_rows(
    con: duckdb.DuckDBPyConnection,
    rows: list[dict[str, Any]],
    numbers: list[int],
    path: Path | str,
    *,
    items: list[str] | None = None,
    decimal: str | None = None,
) -> duckdb.DuckDBPyRelation:
    """Register rows as a relation of text columns plus their numbers (and item positions).

    Numbers the source holds as numbers (JSON, Excel, SQLite) are written with the mapping's
    decimal separator, so that the parser reads them back as they were and never as a
    thousands separator.
    """
    table = rows_table(rows, numbers, path, items=items, decimal=decimal)
    return register_table(con, table, path)


def rows_table(
    rows: list[dict[str, Any]],
    numbers: list[int],
    path: Path | str,
    *,
    items: list[str] | None = None,
    decimal: str | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows as an Arrow table of text columns plus their numbers (see :func:`register_rows`).

    ``columns`` are the columns to make, empty where a row has no value (default: every key of
    any row, in order of appearance).
    """
    if columns is None:
        columns = _keys(rows)
    clash = [c for c in columns if c in INTERNAL_COLUMNS]
    if clash:
        raise IngestError(f"{path}: a column may not be called {clash[0]!r}")
    data = {c: _text_column([row.get(c) for row in rows], decimal) for c in columns}
    data[ROW] = pa.array(numbers, pa.int64())
    data[ORDINAL] = pa.array(range(1, len(rows) + 1), pa.int64())
    if items is not None:
        data[ITEM] = pa.array(items, pa.string())
    return pa.table(data)


def register_table(
    con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path | str
) -> duckdb.DuckDBPyRelation:
    """Register an Arrow table of rows with the connection, as the relation the ingest reads."""
    name = f"_source_{abs(hash(str(path)))}"
    con.register(name, table)
    return con.table(name)


def _text_column(values: list[Any], decimal: str | None) -> pa.Array:
    """A column as text; one that holds only text already (XML, most JSON) goes as it is."""
    try:
        return pa.array(values, pa.string())
    except pa.ArrowTypeError:
        return pa.array([_text(value, decimal) for value in values], pa.string())


def _keys(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of any row, in order of appearance."""
    keys: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in keys:
                keys[key] = None
    return list(keys)


def _text(value: Any, decimal: str | None = None) -> str | None:
    """The text of a cell: ``None`` stays missing, nested values become JSON."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from a spreadsheet's empty cell
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value)) if abs(value) < 1e15 else repr(value)
    elif isinstance(value, int | float | Decimal):
        text = str(value)
    else:
        return str(value)
    return text.replace(".", ",") if decimal == "," else text


# -- Excel ---------------------------------------------------------------------------------------
def _read_excel(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    import openpyxl

    options = mapping.source
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many unrelated types for a damaged file
        raise IngestError(f"{path}: cannot read as Excel: {error}") from error
    try:
        sheet = _sheet(path, book, options.sheet if options.sheet is not None else options.table)
        part = sheet.title if len(book.sheetnames) > 1 else None
        header_row = options.header_row
        rows_iter = sheet.iter_rows(values_only=True)
        header = None
        for number, values in enumerate(rows_iter, start=1):
            if number == header_row:
                header = values
                break
        if header is None or all(v is None for v in header):
            raise IngestError(
                f"{path}: sheet {sheet.title!r} has no column names on row {header_row}; set "
                "'source: {header_row: N}' to the row that has them"
            )
        # Trailing empty header cells name no column (a sheet's rows all reach its widest one).
        last = max(i for i, cell in enumerate(header) if cell is not None and str(cell).strip())
        names = _column_names(header[: last + 1])
        skip = options.skip_rows
        skipped = (
            set(range(header_row + 1, header_row + 1 + skip))
            if isinstance(skip, int)
            else set(skip)
        )
        rows, numbers, rejected = [], [], []
        filtered: Counter[str] = Counter()
        for number, values in enumerate(rows_iter, start=header_row + 1):
            if values is None or all(v is None for v in values):
                continue
            if number in skipped:
                filtered["a row listed in 'skip_rows' (not a record)"] += 1
                continue
            if len(values) > len(names) and any(v is not None for v in values[len(names) :]):
                rejected.append(
                    Rejected(
                        number,
                        json.dumps([_text(v) for v in values], ensure_ascii=False),
                        "more cells than the header has",
                    )
                )
                continue
            rows.append(dict(zip(names, values, strict=False)))
            numbers.append(number)
    finally:
        book.close()
    relation = register_rows(con, rows, numbers, path, decimal=options.decimal)
    return SourceRows(
        relation,
        rejected,
        rows_in_relation=len(rows),
        filtered=filtered,
        records=len(rows) + len(rejected) + sum(filtered.values()),
        part=part,
    )


def _sheet(path: Path, book: Any, wanted: str | int | None) -> Any:
    if wanted is None:
        return book.worksheets[0]
    if isinstance(wanted, int):
        if not 1 <= wanted <= len(book.worksheets):
            raise IngestError(
                f"{path}: no sheet number {wanted}; the workbook has {len(book.worksheets)} "
                f"sheets: {book.sheetnames}"
            )
        return book.worksheets[wanted - 1]
    if wanted not in book.sheetnames:
        raise IngestError(f"{path}: no sheet {wanted!r}; the workbook has {book.sheetnames}")
    return book[wanted]


def _column_names(header: tuple[Any, ...]) -> list[str]:
    """Column names from a header row; a repeated name gets ``_1``, ``_2`` as DuckDB does."""
    names: list[str] = []
    for position, cell in enumerate(header):
        name = str(cell).strip() if cell is not None and str(cell).strip() else None
        name = name or f"column_{position + 1}"
        candidate, suffix = name, 0
        while candidate in names:
            suffix += 1
            candidate = f"{name}_{suffix}"
        names.append(candidate)
    return names


# -- JSON and JSON lines -------------------------------------------------------------------------
@dataclass
class _Rows:
    """Rows being collected from records, with their numbers and item positions."""

    explode: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    filtered: Counter[str] = field(default_factory=Counter)
    records: int = 0

    def add(self, number: int, record: Any, raw: str | None = None) -> None:
        self.records += 1
        if not isinstance(record, dict):
            self.rejected.append(
                Rejected(
                    number,
                    raw if raw is not None else json.dumps(record, default=str),
                    f"expected a JSON object, found {type(record).__name__}",
                )
            )
            return
        if not self.explode:
            self.rows.append(_flatten_objects(record))
            self.numbers.append(number)
            self.items.append("")
            return
        try:
            exploded = list(_explode(record, self.explode, 0, "", {}))
        except _NotAList as problem:
            text = raw if raw is not None else json.dumps(record, default=str, ensure_ascii=False)
            self.rejected.append(Rejected(number, text, str(problem)))
            return
        for row, item in exploded:
            if row is None:
                # Nothing to explode here (an empty or missing list): counted, not lost.
                self.filtered[item] += 1
                continue
            self.rows.append(_flatten_objects(row))
            self.numbers.append(number)
            self.items.append(item)

    def source_rows(
        self, con: duckdb.DuckDBPyConnection, path: Path, decimal: str | None
    ) -> SourceRows:
        items = self.items if self.explode else None
        relation = register_rows(con, self.rows, self.numbers, path, items=items, decimal=decimal)
        return SourceRows(
            relation,
            self.rejected,
            rows_in_relation=len(self.rows),
            filtered=self.filtered,
            records=self.records,
        )


def _flatten_objects(row: dict[str, Any]) -> dict[str, Any]:
    """The row with every nested object's values also as ``<key>.<inner key>`` columns.

    ``{"equipment": {"id": "L1-ST10"}}`` gives ``equipment.id`` beside ``equipment`` (kept as
    JSON text), at any depth; lists stay JSON text (``explode`` turns them into rows). A key the
    record already has is never overwritten.
    """
    if not any(isinstance(value, dict) for value in row.values()):
        return row
    flat = dict(row)

    def add(prefix: str, value: dict[str, Any]) -> None:
        for key, inner in value.items():
            name = sys.intern(f"{prefix}.{key}")  # one string per name, not one per row
            if isinstance(inner, dict):
                add(name, inner)
            elif not isinstance(inner, list):
                flat.setdefault(name, inner)

    for key, value in row.items():
        if isinstance(value, dict):
            add(key, value)
    return flat


class _NotAList(Exception):
    """What should be a list to explode is something else."""


def _explode(
    record: dict[str, Any],
    paths: tuple[str, ...],
    level: int,
    prefix: str,
    parent: dict[str, Any],
) -> Iterator[tuple[dict[str, Any] | None, str]]:
    """Rows of one record: one per item of the innermost list, with every level's fields.

    ``paths`` are dotted paths from the record, each inside the items of the one before. The
    keys of the record and of every object on the way become columns (``order.plant``); an
    item's keys become ``<path>.<key>``. Yields ``(None, reason)`` where a list is empty or
    missing, so that the record is counted.
    """
    path = paths[level]
    relative = path[len(prefix) + 1 :] if prefix else path
    row = dict(parent)
    current: Any = record
    walked = prefix
    for part in relative.split("."):
        if not isinstance(current, dict):
            raise _NotAList(
                f"expected an object at {walked!r} on the way to the list {path!r} to explode, "
                f"found {type(current).__name__}"
            )
        for key, value in current.items():
            if key != part:
                row[sys.intern(f"{walked}.{key}") if walked else key] = value
        walked = f"{walked}.{part}" if walked else part
        current = current.get(part)
        if current is None:
            yield None, f"no items under {path!r} (missing)"
            return
    if not isinstance(current, list):
        raise _NotAList(
            f"expected a list under {path!r} to explode, found {type(current).__name__}"
        )
    if not current:
        yield None, f"no items under {path!r} (an empty list)"
        return
    for index, item in enumerate(current, start=1):
        if level + 1 < len(paths):
            if not isinstance(item, dict):
                raise _NotAList(
                    f"expected objects in {path!r} (item {index}) holding {paths[level + 1]!r}, "
                    f"found {type(item).__name__}"
                )
            for child, inner in _explode(item, paths, level + 1, path, row):
                yield child, (f"{index}.{inner}" if child is not None else inner)
            continue
        child_row = dict(row)
        if isinstance(item, dict):
            child_row.update({sys.intern(f"{path}.{key}"): value for key, value in item.items()})
        else:
            child_row[path] = item
        yield child_row, str(index)


def _read_jsonl(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    collected = _Rows(mapping.source.explode)
    codec = codec_name(mapping.source.encoding or "utf-8")
    for number, text, problem in _text_lines(path, codec):
        if problem is not None:
            collected.records += 1
            collected.rejected.append(Rejected(number, text, problem))
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            collected.records += 1
            collected.rejected.append(
                Rejected(number, text, f"not valid JSON ({error.msg} at column {error.colno})")
            )
            continue
        collected.add(number, record, text)
    return collected.source_rows(con, path, mapping.source.decimal)


def _text_lines(path: Path, codec: str) -> Iterator[tuple[int, str, str | None]]:
    """Lines of a text file as ``(number, text, problem)``, streamed, in any codec.

    ``problem`` says why a line is not text (bytes that are no character in the codec, a NUL
    byte), naming the column; the text is then shown with replacement characters.
    """
    if not ascii_compatible(codec):
        with path.open("rb") as binary:
            stream = io.TextIOWrapper(binary, encoding=codec, errors="strict", newline=None)
            number = 0
            try:
                for number, line in enumerate(stream, start=1):  # noqa: B007 (used after)
                    text = line.rstrip("\n")
                    yield number, text, _nul(text)
            except UnicodeDecodeError as error:
                raise IngestError(
                    f"{path}: not valid {codec} text after line {number}: {error.reason} (set "
                    "'source: {encoding: ...}' in the mapping to the file's encoding)"
                ) from None
        return
    decoder_codec = "utf-8-sig" if codec == "utf-8" else codec
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            body = raw.rstrip(b"\r\n")
            try:
                text = body.decode(decoder_codec if number == 1 else codec)
            except UnicodeDecodeError as error:
                byte = body[error.start : error.start + 1].hex()
                yield (
                    number,
                    body.decode(codec, "replace"),
                    f"not valid {codec} text (byte 0x{byte} at column {error.start + 1}; set "
                    "'source: {encoding: ...}' in the mapping to the file's encoding)",
                )
                continue
            yield number, text, _nul(text)


def _nul(text: str) -> str | None:
    if "\x00" not in text:
        return None
    return f"binary data inside a text file (a NUL byte at column {text.index(chr(0)) + 1})"


def _read_json(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    codec = mapping.source.encoding or "utf-8"
    try:
        document = json.loads(path.read_text(encoding=codec))
    except UnicodeDecodeError as error:
        raise IngestError(
            f"{path}: not valid text in {codec} (byte {error.start + 1}); set "
            "'source: {encoding: ...}' in the mapping"
        ) from error
    except json.JSONDecodeError as error:
        raise IngestError(
            f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error
    records: Any = document
    if mapping.source.records:
        for part in mapping.source.records.split("."):
            if not isinstance(records, dict) or part not in records:
                raise IngestError(
                    f"{path}: no key {part!r} on the way to records {mapping.source.records!r}"
                )
            records = records[part]
    if not isinstance(records, list):
        raise IngestError(
            f"{path}: expected a list of records (set 'source: {{records: "
            "path.to.list}}' in the mapping)"
        )
    collected = _Rows(mapping.source.explode)
    for number, record in enumerate(records, start=1):
        collected.add(number, record)
    return collected.source_rows(con, path, mapping.source.decimal)


# -- XML ---------------------------------------------------------------------------------------
@dataclass
class _XmlRows:
    """What reading an XML file through a mapping gave, as several mappings can share it."""

    table: pa.Table
    rejected: list[Rejected]
    filtered: Counter[str]
    records: int
    sha256: str | None
    #: Each column a mapping reads -> the column of ``table`` that holds it.
    spelled: dict[str, str]


def _read_xml(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    """Read the record elements of an XML document as JSON records (see :mod:`._xml`).

    Only what the mapping reads is kept of each record; a column it reads that no record has is
    an empty column, since XML leaves optional elements out. A row's number is its record's
    position among the records (``<record>.<item>`` for an exploded item). Mappings announced
    with :func:`expect_xml_reads` that read alike share one read.

    Raises:
        MappingError: If ``records`` is no path of elements.
        IngestError: If the document is refused, not well-formed, or beyond the limits.
    """
    options = mapping.source
    spec = _record_spec(mapping)
    columns = _columns_read(mapping)
    shared = shared_read(path, spec, options.explode, columns) if columns is not None else None
    if shared is not None and shared.rows is not None:
        read: _XmlRows = shared.rows
    else:
        read = _read_xml_rows(path, mapping, spec, sorted(shared.columns) if shared else columns)
        if shared is not None:
            shared.rows = read
    table = read.table
    if columns is not None:
        own = list(dict.fromkeys(read.spelled[name] for name in columns))
        table = table.select(own + [c for c in INTERNAL_COLUMNS if c in table.column_names])
    return SourceRows(
        register_table(con, table, path),
        list(read.rejected),
        rows_in_relation=table.num_rows,
        filtered=Counter(read.filtered),
        records=read.records,
        sha256=read.sha256,
    )


def _read_xml_rows(
    path: Path, mapping: Mapping, spec: RecordSpec, columns: list[str] | None
) -> _XmlRows:
    """Read the records, keep ``columns`` of them (all where None) and explode them into rows."""
    options = mapping.source
    tree = wanted(columns, options.explode) if columns is not None else None
    reader = RecordReader(path, spec)
    collected = _Rows(options.explode)
    seen: set[str] = set()
    for number, record in reader.numbered():
        start = len(collected.rows)
        collected.add(number, prune(record, tree) if tree is not None else record)
        for row in collected.rows[start:]:
            seen.update(row)
    spelled = _spelled(columns, seen) if columns is not None else {}
    table = rows_table(
        collected.rows,
        collected.numbers,
        path,
        items=collected.items if options.explode else None,
        decimal=options.decimal,
        columns=list(dict.fromkeys(spelled.values())) if columns is not None else None,
    )
    return _XmlRows(
        table, collected.rejected, collected.filtered, collected.records, reader.sha256, spelled
    )


def expect_xml_reads(reads: Iterable[tuple[Path, Mapping]]) -> None:
    """Announce, within :func:`._xml.parse_once`, the XML files mappings of a load will read.

    Mappings of one file that read the same records and explode the same lists then share one
    read of the columns of all of them (a pack reads one document through many mappings).
    Files of other formats, and mappings whose format cannot be told, are left out.
    """
    for path, mapping in reads:
        try:
            xml = mapping.format_for(path) == "xml"
        except MappingError:
            continue
        columns = _columns_read(mapping) if xml else None
        if columns is not None:
            try:
                spec = _record_spec(mapping)
            except MappingError:
                continue
            expect_read(path, spec, mapping.source.explode, columns)


def _record_spec(mapping: Mapping) -> RecordSpec:
    """The records a mapping reads of an XML document: its path, and the limits."""
    options = mapping.source
    try:
        path_of_records = parse_record_path(options.records or ALL_CHILDREN, options.namespace_uris)
    except ValueError as error:
        raise MappingError(f"{mapping.path}: 'records': {error}") from error
    return RecordSpec(
        path_of_records, options.max_depth, options.max_record_elements, options.recursive
    )


def _columns_read(mapping: Mapping) -> list[str] | None:
    """The columns a mapping reads (None where the file's columns choose, as unpivot does).

    A role is every header that may hold it: which one a document has is known once it is read.
    """
    if mapping.unpivot is not None:
        return None
    names: list[str] = []
    for name in mapping.columns_read:
        role = mapping.roles.get(name)
        names += list(role.names) if role is not None else [name]
    return list(dict.fromkeys(names))


def _spelled(columns: list[str], seen: set[str]) -> dict[str, str]:
    """Each column read -> as the rows spell it (an expression may write it in another case)."""
    by_lower: dict[str, list[str]] = {}
    for name in seen:
        by_lower.setdefault(name.lower(), []).append(name)
    spelled = {}
    for name in columns:
        found = by_lower.get(name.lower(), [])
        spelled[name] = name if name in seen or len(found) != 1 else found[0]
    return spelled


# -- SQLite --------------------------------------------------------------------------------------
def _read_sqlite(path: Path, mapping: Mapping, con: duckdb.DuckDBPyConnection) -> SourceRows:
    table = mapping.source.table
    if not table:
        raise IngestError(
            f"{path}: a SQLite source needs 'source: {{table: ...}}' in {mapping.path}"
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise IngestError(f"{path}: cannot open as SQLite: {error}") from error
    try:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        ]
        if table not in tables:
            raise IngestError(f"{path}: no table {table!r}; the database has {sorted(tables)}")
        cursor = db.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor]
    except sqlite3.DatabaseError as error:
        raise IngestError(f"{path}: cannot read table {table!r}: {error}") from error
    finally:
        db.close()
    relation = register_rows(
        con, rows, list(range(1, len(rows) + 1)), path, decimal=mapping.source.decimal
    )
    return SourceRows(relation, rows_in_relation=len(rows), records=len(rows))


def first_line(error: BaseException) -> str:
    """The first line of an error's message (drivers add pages of context below it)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
