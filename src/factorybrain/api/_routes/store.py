"""Routes of the store itself: what it holds, loading a file into it, and a backup of it.

What ``factorybrain status``, ``factorybrain ingest`` and ``factorybrain backup`` do, for a
store a running server holds (the CLI sends them here with ``--api``): a DuckDB store is open
in one process at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask

from factorybrain.agents import AuditEntry, utcnow
from factorybrain.api._deps import Access, Admin, Engineer, StoreAccess, Viewer
from factorybrain.exceptions import FactorybrainError, StoreError
from factorybrain.store import DuckDBStore, backup_store

router = APIRouter(tags=["store"])

#: The ingests ``GET /store`` lists, newest first.
INGESTS_LISTED = 20


@router.get("/store")
def store_status(_: Viewer, access: Access) -> JSONResponse:
    """What the store holds: rows per entity, open quarantine, last ingests, unresolved references.

    The same sections as `factorybrain status --json`: `counts`, `quarantine` (one row per
    distinct problem per file), `ingests` (the last 20, newest first) and, where the store has
    the tables it reads, `unresolved references`.
    """
    from factorybrain.context import unresolved_references

    with access.read() as (reader, _records):
        found: dict[str, Any] = {
            "counts": reader.counts(),
            "quarantine": _records_of(reader.quarantine_summary()),
            "ingests": _records_of(reader.ingest_history(INGESTS_LISTED)),
        }
        try:
            found["unresolved references"] = _records_of(unresolved_references(reader))
        except StoreError:  # a store without the tables has nothing to report
            pass
    return JSONResponse(found)


@router.post("/ingest", status_code=201)
async def ingest_file(
    holder: Engineer, access: Access, file: UploadFile, mapping: UploadFile
) -> dict[str, Any]:
    """Load an uploaded file into the factory model through an uploaded mapping (YAML).

    What `factorybrain ingest FILE --mapping MAPPING` does, as one transaction: rejected rows go
    to quarantine with their reason, loading the same file again changes nothing, and the
    ingest is an audit entry in the caller's name. Send both as `multipart/form-data` fields
    `file` and `mapping`; the file keeps its name in the report. Answers the ingest's report
    (400 when the mapping is wrong or the file cannot be read at all).
    """
    folder = Path(tempfile.mkdtemp(prefix="factorybrain-upload-"))
    try:
        source = folder / _file_name(file.filename, "upload")
        rules = folder / _file_name(mapping.filename, "mapping.yaml")
        if rules.name == source.name:
            rules = folder / f"mapping-{rules.name}"
        for upload, path in ((file, source), (mapping, rules)):
            with path.open("wb") as out:
                while chunk := await upload.read(1 << 20):
                    out.write(chunk)
        return await anyio.to_thread.run_sync(_ingest, access, source, rules, holder.actor)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ingest(access: StoreAccess, source: Path, rules: Path, actor: str) -> dict[str, Any]:
    """Load ``source`` through ``rules`` under the write lock; audit it; its report.

    The files are loaded from one folder per store (:func:`upload_folder`) under their own
    names, so that the reports of two uploads of a file name the same file and mapping (the
    open quarantine is counted per file and mapping); errors name the files, not the folder.
    """
    from factorybrain.connectors import ingest

    store = access.store
    if not isinstance(store, DuckDBStore):
        raise StoreError("this server's store cannot load files; load them where it is kept")
    folder = upload_folder(store.path)
    with access.write():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        kept_source, kept_rules = folder / source.name, folder / rules.name
        shutil.move(source, kept_source)
        shutil.move(rules, kept_rules)
        try:
            report = ingest(store, kept_source, kept_rules, actor=actor)
        except FactorybrainError as error:
            raise type(error)(str(error).replace(f"{folder}{os.sep}", "")) from None
        finally:
            kept_source.unlink(missing_ok=True)
            kept_rules.unlink(missing_ok=True)
        access.records.audit_ingest(actor, report, at=utcnow(), uploaded=True)
    answer: dict[str, Any] = json.loads(json.dumps(report.as_dict(), default=str))
    return answer


def upload_folder(store_path: str) -> Path:
    """Where the uploads to the store ``store_path`` are loaded from (one folder per store)."""
    digest = hashlib.sha256(str(Path(store_path).resolve()).encode("utf-8")).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"factorybrain-uploads-{digest}"


@router.post(
    "/backup",
    response_class=FileResponse,
    responses={200: {"content": {"application/x-tar": {}}, "description": "The backup file."}},
)
def backup(holder: Admin, access: Access) -> FileResponse:
    """A backup of the whole store, as one file (what `factorybrain backup` writes).

    Taken in one transaction while requests and the agents go on: the tables, a manifest
    with each table's row count and checksum, and the SHA-256 of every file, which
    `factorybrain restore` checks. The backup is an audit entry in the caller's name.
    """
    store = access.store
    if not isinstance(store, DuckDBStore):
        raise StoreError("this server's store cannot be backed up through the API")
    folder = Path(tempfile.mkdtemp(prefix="factorybrain-backup-"))
    try:
        target = folder / "factorybrain.backup"
        manifest = backup_store(store, target)
        with access.write():
            access.records.audit(
                AuditEntry(
                    holder.actor,
                    "store.backed_up",
                    "store",
                    Path(store.path).name,
                    utcnow(),
                    {
                        "schema_version": manifest.schema_version,
                        "tables": len(manifest.tables),
                        "rows": sum(check.rows for check in manifest.tables.values()),
                    },
                )
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stamp = manifest.created_at.replace(":", "").replace("+0000", "Z")
    return FileResponse(
        target,
        media_type="application/x-tar",
        filename=f"{Path(store.path).stem}-{stamp}.backup",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def _file_name(given: str | None, default: str) -> str:
    """The last part of an uploaded file's name (never a path), or ``default``."""
    name = Path((given or "").replace("\\", "/")).name
    return name if name not in ("", ".", "..") else default


def _records_of(frame: Any) -> list[dict[str, Any]]:
    """A data frame as JSON records (times in ISO 8601)."""
    found: list[dict[str, Any]] = json.loads(
        frame.to_json(orient="records", date_format="iso", default_handler=str)
    )
    return found
