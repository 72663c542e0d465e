"""Excel workbooks whose bytes depend only on their content: exports that repeat exactly."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ZipTime = tuple[int, int, int, int, int, int]


def write_stable_workbook(
    path: Path,
    sheets: Mapping[str, Iterable[Sequence[Any]]],
    *,
    zip_time: ZipTime,
    stamp: str,
) -> None:
    """Write each sheet's rows from A1 down; the same rows give the same bytes.

    openpyxl stamps the save time into the zip entries and ``docProps/core.xml``: both are
    pinned, to ``zip_time`` and to ``stamp`` (an ISO time, ``2025-01-01T00:00:00Z``).
    """
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                for tag in ("dcterms:created", "dcterms:modified"):
                    head = text.find(f"<{tag}")
                    if head >= 0:
                        body = text.find(">", head) + 1
                        tail = text.find(f"</{tag}>", body)
                        text = text[:body] + stamp + text[tail:]
                data = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=zip_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, data)
