"""Look at a file before any mapping exists: its format, encoding, delimiter, header and columns.

What a connector pack (:mod:`factorybrain.connectors._packs`) matches a file by, and what
``factorybrain mappings suggest`` starts from. Nothing here guesses silently: what was found is
returned with how it was found, and a file that cannot be read as a table says why.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factorybrain.connectors._readers import content_name, sniff_format
from factorybrain.connectors._xml import sample, split_tag
from factorybrain.exceptions import IngestError

#: Delimiters tried on text tables, most common first.
DELIMITERS = (";", ",", "\t", "|")
#: Lines (CSV) or rows (Excel) looked at to find the header below titles.
HEADER_SEARCH = 12
#: The longest text an Excel header cell has; a longer one is a title's sentence.
HEADER_CELL_LIMIT = 80
#: Records read to learn a JSON-lines file's keys and every file's sample values.
SAMPLE_RECORDS = 200
#: Files up to this size are decoded whole to tell UTF-8 from a legacy single-byte code page.
WHOLE_FILE_CHECK = 256 << 20


@dataclass(frozen=True)
class FileShape:
    """What a file looks like as a table.

    Attributes:
        path: The file.
        format: ``csv``, ``jsonl``, ``json``, ``excel``, ``parquet`` or ``xml``.
        columns: The column names in file order (JSON: dotted paths of nested objects; XML:
            of the elements and attributes of the records below).
        encoding: Text encoding (text files), as a Python codec name.
        delimiter: CSV separator.
        header_row: The line (CSV) or row (Excel) that holds the column names.
        sheet: Excel: the sheet's name.
        samples: Up to :data:`SAMPLE_RECORDS` values per column, as text, empty ones left out.
        lists: JSON: dotted paths of lists inside the records (what ``explode`` can take).
        notes: How the shape was found, for the user.
        root: XML: the root element's tag (``{namespace}LocalName``), what packs match.
        records: XML: the path of the records looked at, the root's most repeated child
            (``/ProductionPerformance/ProductionResponse``).
    """

    path: Path
    format: str
    columns: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int = 1
    sheet: str | None = None
    samples: dict[str, list[str]] = field(default_factory=dict)
    lists: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    root: str | None = None
    records: str | None = None


def sniff(path: str | Path) -> list[FileShape]:
    """Return the shape of a file (one per sheet for an Excel workbook).

    Raises:
        IngestError: If the file is missing, empty, or not a table this platform reads (names
            what it is instead).
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise IngestError(f"{path}: the file is empty")
    kind = sniff_format(path)
    if kind == "excel":
        return _sniff_excel(path)
    if kind == "parquet":
        return [_sniff_parquet(path)]
    if kind == "xml" or (kind in (None, "utf-16") and path.suffix.lower() == ".xml"):
        return [_sniff_xml(path)]
    if kind not in (None, "utf-16"):
        raise IngestError(f"{path}: not a table this platform reads: it is {content_name(kind)}")
    encoding, note = detect_encoding(path, utf16=kind == "utf-16")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return [_sniff_jsonl(path, encoding, note)]
    if suffix == ".json":
        return [_sniff_json(path, encoding, note)]
    return [_sniff_csv(path, encoding, note)]


def detect_encoding(path: Path, *, utf16: bool = False) -> tuple[str, str]:
    """Tell the text encoding of a file: a byte-order mark, else UTF-8 if it decodes, else cp1252.

    Returns:
        ``(codec, how it was found)``. A file of up to :data:`WHOLE_FILE_CHECK` bytes is decoded
        whole, so a legacy byte far down the file is not missed.
    """
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "UTF-8 with a byte-order mark"
    if utf16 or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "UTF-16 (byte-order mark)"
    decoder = codecs.getincrementaldecoder("utf-8")()
    read = 0
    with path.open("rb") as handle:
        while read < WHOLE_FILE_CHECK:
            chunk = handle.read(1 << 22)
            if not chunk:
                break
            read += len(chunk)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "cp1252", "not UTF-8: read as Windows-1252 (the Western European code page)"
    return "utf-8", "UTF-8"


def _head_text(path: Path, encoding: str, lines: int) -> list[str]:
    out: list[str] = []
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        for line in handle:
            out.append(line.rstrip("\r\n"))
            if len(out) >= lines:
                break
    return out


def _fields(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (StopIteration, csv.Error):
        return []


def _sniff_csv(path: Path, encoding: str, note: str) -> FileShape:
    head = _head_text(path, encoding, HEADER_SEARCH + 400)
    best: tuple[int, str, int] | None = None  # (columns, delimiter, header index)
    for delimiter in DELIMITERS:
        for index in range(min(HEADER_SEARCH, len(head))):
            names = _fields(head[index], delimiter)
            if len(names) < 2 or not all(n.strip() for n in names[:2]):
                continue
            # records, not lines, follow a header: a quoted field may run over several lines
            following = _record_widths(head[index + 1 :], delimiter)
            if following and not any(count == len(names) for count in following):
                continue
            if best is None or len(names) > best[0]:
                best = (len(names), delimiter, index)
            break
    if best is None:
        raise IngestError(
            f"{path}: cannot find a header line in its first {HEADER_SEARCH} lines (tried "
            f"the separators {' '.join(repr(d) for d in DELIMITERS)})"
        )
    _, delimiter, index = best
    columns = _dedupe([n.strip() for n in _fields(head[index], delimiter)])
    notes = [f"encoding: {note}", f"separator {delimiter!r}, header on line {index + 1}"]
    if index:
        notes.append(f"{index} line(s) above the header are titles")
    samples: dict[str, list[str]] = {c: [] for c in columns}
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        for _ in range(index + 1):
            next(handle, None)
        for count, row in enumerate(csv.reader(handle, delimiter=delimiter)):
            if count >= SAMPLE_RECORDS:
                break
            for name, value in zip(columns, row, strict=False):
                if value.strip():
                    samples[name].append(value)
    return FileShape(
        path, "csv", tuple(columns), encoding, delimiter, index + 1, None, samples, (), tuple(notes)
    )


def _record_widths(lines: list[str], delimiter: str, records: int = 3) -> list[int]:
    """The number of fields of the first complete records in ``lines``."""
    try:
        parsed = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    except csv.Error:
        return []
    complete = parsed[:-1] if len(parsed) > 1 else parsed  # the last may be cut off
    return [len(row) for row in complete if row][:records]


def _dedupe(names: list[str]) -> list[str]:
    """Column names as the readers give them: empty ones ``column_<n>``, repeats ``_1``, ``_2``."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        name = name or f"column_{position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def flat_keys(record: dict[str, Any], prefix: str = "") -> tuple[list[str], list[str]]:
    """Dotted keys of a JSON record's values and of its lists (``order.orderId``, ``units``)."""
    keys: list[str] = []
    lists: list[str] = []
    for key, value in record.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            inner, inner_lists = flat_keys(value, name)
            keys += inner
            lists += inner_lists
        elif isinstance(value, list):
            lists.append(name)
            items = [v for v in value if isinstance(v, dict)]
            for item in items[:3]:
                inner, inner_lists = flat_keys(item, name)
                keys += inner
                lists += inner_lists
        else:
            keys.append(name)
    return keys, lists


def _json_shape(
    path: Path, records: list[dict[str, Any]], fmt: str, encoding: str, note: str
) -> FileShape:
    columns: dict[str, None] = {}
    lists: dict[str, None] = {}
    samples: dict[str, list[str]] = {}
    for record in records:
        keys, found_lists = flat_keys(record)
        columns.update(dict.fromkeys(keys))
        lists.update(dict.fromkeys(found_lists))
        for key in keys:
            value: Any = record
            for part in key.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None and not isinstance(value, dict | list):
                samples.setdefault(key, []).append(str(value))
    notes = (f"encoding: {note}", f"{len(records)} record(s) looked at")
    return FileShape(
        path, fmt, tuple(columns), encoding, None, 1, None, samples, tuple(lists), notes
    )


def _sniff_jsonl(path: Path, encoding: str, note: str) -> FileShape:
    records: list[dict[str, Any]] = []
    with path.open(encoding=encoding, errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise IngestError(
                    f"{path} line {number}: not valid JSON ({error.msg} at column {error.colno})"
                ) from error
            if isinstance(record, dict):
                records.append(record)
            if len(records) >= SAMPLE_RECORDS:
                break
    return _json_shape(path, records, "jsonl", encoding, note)


def _sniff_json(path: Path, encoding: str, note: str) -> FileShape:
    try:
        document = json.loads(path.read_text(encoding=encoding))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IngestError(f"{path}: not valid JSON: {error}") from error
    records = document if isinstance(document, list) else [document]
    dicts = [r for r in records[:SAMPLE_RECORDS] if isinstance(r, dict)]
    return _json_shape(path, dicts, "json", encoding, note)


def _sniff_xml(path: Path) -> FileShape:
    """An XML document's root element, and the columns of the records its root repeats most."""
    found = sample(path, SAMPLE_RECORDS)
    namespace, root = split_tag(found.root)
    where = f" in namespace {namespace}" if namespace else ""
    notes = [f"XML, root element <{root}>{where}"]
    records = f"/{root}/{found.record}" if found.record else None
    if records:
        notes.append(f"records {records} (the element the root repeats most)")
    shape = _json_shape(path, found.records, "xml", "", "")
    return dataclasses.replace(
        shape, encoding=None, notes=(*notes, shape.notes[-1]), root=found.root, records=records
    )


def _sniff_excel(path: Path) -> list[FileShape]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    shapes = []
    try:
        for sheet in book.worksheets:
            rows = list(sheet.iter_rows(max_row=HEADER_SEARCH + SAMPLE_RECORDS, values_only=True))
            header_index = _excel_header(rows)
            if header_index is None:
                continue
            header = rows[header_index]
            columns = _dedupe(["" if c is None else str(c).strip() for c in header])
            while columns and columns[-1].startswith("column_"):
                columns.pop()
            samples: dict[str, list[str]] = {c: [] for c in columns}
            for row in rows[header_index + 1 :]:
                for name, value in zip(columns, row, strict=False):
                    if value is not None and str(value).strip():
                        samples[name].append(str(value))
            notes = [f"sheet {sheet.title!r}, header on row {header_index + 1}"]
            if header_index:
                notes.append(f"{header_index} row(s) above the header are titles")
            shapes.append(
                FileShape(
                    path,
                    "excel",
                    tuple(columns),
                    None,
                    None,
                    header_index + 1,
                    sheet.title,
                    samples,
                    (),
                    tuple(notes),
                )
            )
    finally:
        book.close()
    if not shapes:
        raise IngestError(f"{path}: no sheet has a header row in its first {HEADER_SEARCH} rows")
    return shapes


def _excel_header(rows: list[tuple[Any, ...]]) -> int | None:
    """The index of a sheet's header row among its first rows, None where it has none.

    The header is the first row whose cells are all short text, at least two of them, and that
    is followed by data: one of the next three non-empty rows is no wider than itself. A title
    row of one or two cells above a wider table is no header, however it is written. Such a row
    with nothing below it is the header of an empty table (an export of no records yet), which
    loads as one that read nothing rather than being skipped unseen.
    """

    def filled(cell: Any) -> bool:
        return cell is not None and not (isinstance(cell, str) and not cell.strip())

    def width(row: tuple[Any, ...]) -> int:
        return max((i + 1 for i, cell in enumerate(row) if filled(cell)), default=0)

    for index, row in enumerate(rows[:HEADER_SEARCH]):
        cells = [cell for cell in row if filled(cell)]
        if len(cells) < 2 or not all(
            isinstance(cell, str) and len(cell.strip()) <= HEADER_CELL_LIMIT for cell in cells
        ):
            continue
        following = [r for r in rows[index + 1 : index + 4] if width(r)]
        if any(width(r) <= width(row) for r in following):
            return index
        if not any(width(r) for r in rows[index + 1 :]):
            return index
    return None


def _sniff_parquet(path: Path) -> FileShape:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_group(0) if pq.ParquetFile(path).num_row_groups else None
    columns = tuple(pq.ParquetFile(path).schema_arrow.names)
    samples: dict[str, list[str]] = {}
    if table is not None:
        head = table.slice(0, SAMPLE_RECORDS).to_pydict()
        samples = {c: [str(v) for v in head[c] if v is not None] for c in columns}
    return FileShape(path, "parquet", columns, samples=samples, notes=("Parquet schema",))


def text_sample(shape: FileShape, column: str) -> list[str]:
    """The sample values of a column (empty list when none were seen)."""
    return shape.samples.get(column, [])


def describe(shape: FileShape) -> str:
    """One line for the user: the file, its format and how its shape was found."""
    where = f" sheet {shape.sheet!r}" if shape.sheet else ""
    return f"{shape.path.name}{where}: {shape.format}, {len(shape.columns)} columns; " + "; ".join(
        shape.notes
    )


__all__ = ["FileShape", "describe", "detect_encoding", "flat_keys", "sniff", "text_sample"]
