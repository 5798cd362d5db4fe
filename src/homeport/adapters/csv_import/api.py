"""``POST /api/v1/imports/{kind}``: the CSV import over HTTP, for billing/OSS integrations.

The file comes as a multipart upload (field ``file``) or as the raw request body with
``Content-Type: text/csv``. It is imported whole or not at all (see ``importer``): 200 with the
summary, or 422 with every problem as ``{"line", "field", "message"}``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from homeport.adapters.csv_import.importer import ImportResult, import_csv
from homeport.audit.actions import Actor
from homeport.core.errors import FieldError, HomeportError, ValidationFailed
from homeport.identity.api import Access
from homeport.identity.schemas import Principal

router = APIRouter(tags=["imports"])

#: The largest file accepted over HTTP (bigger files: split them, or use the CLI).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
RAW_TYPES = ("text/csv", "application/csv", "text/plain")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")


class PayloadTooLarge(HomeportError):
    status = 413


class UnsupportedMediaType(HomeportError):
    status = 415


def _too_large(size: int | None = None) -> PayloadTooLarge:
    limit = MAX_UPLOAD_BYTES / 1024 / 1024
    got = f" ({size / 1024 / 1024:.1f} MB)" if size else ""
    return PayloadTooLarge(
        f"the file is larger than the {limit:g} MB limit{got}: split it into "
        "several files, or import it with 'homeport import' on the server"
    )


def _clean_name(name: str | None, default: str) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip()[:200]
    return name or default


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_upload(request: Request, default_name: str) -> tuple[bytes, str]:
    """The file's bytes and name, from a multipart upload or the raw body."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES + 64 * 1024:
        raise _too_large(int(declared))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed(
                "no file", [FieldError("file", "send the CSV file in the multipart field 'file'")]
            )
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise _too_large()
        return data, _clean_name(upload.filename, default_name)
    if content_type in RAW_TYPES:
        return await _read_body(request), default_name
    raise UnsupportedMediaType(
        f"send the file as multipart/form-data (field 'file') or as the body with "
        f"Content-Type: text/csv, not {content_type or 'no content type'}"
    )


def actor_of(principal: Principal) -> Actor:
    if principal.token_id is not None:
        return Actor("token", principal.token_id, principal.email)
    return Actor("staff", principal.id, principal.email)


_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        "text/csv": {"schema": {"type": "string"}},
    },
}


@router.post(
    "/api/v1/imports/{kind}",
    summary="Import a CSV file of plans, topology or subscribers",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        413: {"description": f"Larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB"},
        415: {"description": "Neither multipart/form-data nor text/csv"},
        422: {
            "description": "The file has problems; nothing was imported. `errors` lists "
            "them as {line, field, message}."
        },
    },
)
async def import_file(
    request: Request,
    kind: Literal["plans", "topology", "subscribers"],
    principal: Annotated[Principal, Depends(Access.staff("admin", "supervisor", scope="import"))],
    dry_run: Annotated[bool, Query(description="Check and count, but write nothing.")] = False,
    filename: Annotated[
        str | None,
        Query(
            max_length=200,
            description=("The file's name for the audit trail, when sending the raw body."),
        ),
    ] = None,
) -> ImportResult:
    """Import the file whole or not at all. Columns and rules: docs/import.md.

    Rows are matched on their key (plan `code`, subscriber `account_number`, topology
    `access_node_code` + `port`): a new key is created, a known one updated. With
    `dry_run=true` nothing is written and the counts say what the import would do.
    """
    data, name = await _read_upload(request, _clean_name(filename, f"{kind}.csv"))
    return await run_in_threadpool(
        import_csv,
        request.app.state.db,
        kind,
        data,
        file_name=name,
        actor=actor_of(principal),
        now=request.app.state.clock.now(),
        dry_run=dry_run,
    )
