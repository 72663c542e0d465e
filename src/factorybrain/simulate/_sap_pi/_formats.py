"""File writers of the gear plant: SAP list downloads, CSV, JSON lines, an Excel workbook.

Each writer returns what a correct loader has to account for in its file (``truth.json``
``source_records``): data records, and the lines before the header and after the data that are
not records (SE16 and SQVI titles, ALV totals).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from factorybrain.simulate._workbook import write_stable_workbook

FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
SAP_ENCODING = "cp1252"


def sap_number(value: float, decimals: int = 3, *, thousands: bool = True) -> str:
    """A number as an SAP list shows it for a German user: ``1.234,500``."""
    text = f"{value:,.{decimals}f}" if thousands else f"{value:.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def sap_float(value: float) -> str:
    """A floating-point field (FLTP) as SE16 shows it: ``6,8400000000000000E+01``."""
    return f"{value:.16E}".replace(".", ",")


def german_number(value: float, decimals: int) -> str:
    """A number typed the German way, without thousands separator: ``68,4``."""
    return f"{value:.{decimals}f}".replace(".", ",")


def write_sap(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: Sequence[str] = (),
    totals: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Write an SAP download: ``;``-separated, cp1252, CRLF, optional title and totals lines.

    Args:
        path: The file.
        header: Column headings (technical names, or field labels where SAP shows them).
        rows: The records, already formatted as text.
        title: Lines written before the header (a list title, an empty line).
        totals: A last line with the column totals, as an ALV list adds it.

    Returns:
        What a loader must account for: records, lines before the header, trailing lines.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding=SAP_ENCODING, newline="") as handle:
        for line in title:
            handle.write(line + "\r\n")
        handle.write(";".join(header) + "\r\n")
        for row in rows:
            cells = ["" if value is None else str(value) for value in row]
            if len(cells) != len(header):
                raise ValueError(f"{path.name}: {len(cells)} cells for {len(header)} columns")
            for cell in cells:
                if ";" in cell or "\n" in cell or "\r" in cell:
                    raise ValueError(f"{path.name}: a cell holds a separator: {cell!r}")
            handle.write(";".join(cells) + "\r\n")
            count += 1
        if totals is not None:
            handle.write(";".join(totals) + "\r\n")
    return {
        "records": count,
        "format": "csv",
        "encoding": SAP_ENCODING,
        "delimiter": ";",
        "lines_before_header": len(title),
        "trailing_lines": 0 if totals is None else 1,
    }


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = False
) -> dict[str, Any]:
    """Write a comma-separated UTF-8 file with every field quoted (a Salesforce export)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return {
        "records": count,
        "format": "csv",
        "encoding": "utf-8-sig" if bom else "utf-8",
        "delimiter": ",",
        "lines_before_header": 0,
        "trailing_lines": 0,
    }


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one compact JSON object per line; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def write_json(path: Path, payload: Any) -> None:
    """Write pretty JSON (the same bytes for the same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> None:
    """Write an Excel workbook whose bytes depend only on its content.

    Each sheet is a list of rows written from A1 down (title rows, empty rows, header, data).
    """
    write_stable_workbook(path, sheets, zip_time=FIXED_ZIP_TIME, stamp="2026-04-04T18:00:00Z")