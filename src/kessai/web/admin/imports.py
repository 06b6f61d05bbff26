"""出荷CSVインポート and 決済状況CSV一括更新: upload a file, follow the job it starts."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import UploadFile

from kessai.core.errors import InvalidInput
from kessai.imports import payment_statuses, service, shipments
from kessai.imports.csvin import MAX_BYTES, HeaderSpec, check_size
from kessai.jobs.models import Job
from kessai.payments.bulk.actions import BULK_ACTIONS
from kessai.users.service import Permission, Principal
from kessai.web.admin.core import AdminContext, AdminError, read_form, redirect, render
from kessai.web.admin.jobs import SUBMISSION_FIELD, dedupe_key, submission_token

ENCODING_CHOICES = (
    ("auto", "自動判別 (UTF-8 / Shift_JIS)"),
    ("utf-8", "UTF-8"),
    ("cp932", "Shift_JIS (CP932)"),
)
SHIPMENTS_URL = "/admin/imports/shipments"
PAYMENT_STATUSES_URL = "/admin/imports/payment-statuses"


def _format(spec: HeaderSpec) -> list[dict[str, Any]]:
    """The columns a file may have, for the screen's format table."""
    return [
        {
            "header": c.headers[0],
            "aliases": c.headers[1:],
            "required": c.key in spec.required,
            "one_of": c.key in spec.one_of,
        }
        for c in spec.columns
    ]


async def _upload(request: Request) -> tuple[bytes, str, str, bool, Any]:
    form = await read_form(request)
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        raise InvalidInput("取り込むCSVファイルを選択してください", code="file_required")
    raw = await file.read(MAX_BYTES + 1)
    check_size(raw)
    encoding = form.get("encoding")
    capture = form.get("capture") == "1"
    return raw, file.filename, encoding if isinstance(encoding, str) else "auto", capture, form


def add_import_routes(router: APIRouter, ctx: AdminContext) -> None:
    def page(
        request: Request,
        principal: Principal,
        template: str,
        *,
        error: str = "",
        encoding: str = "auto",
        capture: bool = False,
        status_code: int = 200,
    ) -> Response:
        shipments_page = template == "import_shipments.html"
        spec = shipments.SPEC if shipments_page else payment_statuses.SPEC
        return render(
            request,
            template,
            {
                "nav": "import_shipments" if shipments_page else "import_payment_statuses",
                "columns": _format(spec),
                "encodings": ENCODING_CHOICES,
                "encoding": encoding,
                "capture": capture,
                "can_capture": principal.can(Permission.ORDERS_BULK_CAPTURE),
                "actions": [(b.label, principal.can(b.permission)) for b in BULK_ACTIONS.values()],
                "submission_field": SUBMISSION_FIELD,
                "submission": submission_token(),
                "error": error,
                "max_mb": MAX_BYTES // 1024 // 1024,
            },
            status_code=status_code,
        )

    async def submitted(
        request: Request,
        principal: Principal,
        template: str,
        start: Callable[[bytes, str, str, bool, Any], Any],
    ) -> Response:
        try:
            raw, filename, encoding, capture, form = await _upload(request)
            job: Job
            job, _ = await start(raw, filename, encoding, capture, form)
        except InvalidInput as exc:
            # A wrong file changes nothing: the form again, with what to fix.
            return page(request, principal, template, error=exc.message, status_code=422)
        return redirect(f"/admin/jobs/{job.id}")

    shipments_view = Depends(ctx.require(Permission.ORDERS_IMPORT_SHIPMENTS))
    shipments_post = Depends(ctx.require(Permission.ORDERS_IMPORT_SHIPMENTS, csrf=True))

    @router.get("/imports/shipments", summary="出荷CSVインポート")
    async def shipments_form(
        request: Request, principal: Annotated[Principal, shipments_view]
    ) -> Response:
        return page(request, principal, "import_shipments.html")

    @router.post("/imports/shipments", summary="出荷CSVインポートを実行")
    async def shipments_upload(
        request: Request, principal: Annotated[Principal, shipments_post]
    ) -> Response:
        async def start(raw: bytes, filename: str, encoding: str, capture: bool, form: Any) -> Any:
            return await service.submit_shipments(
                ctx.services,
                raw,
                filename=filename,
                encoding=encoding,
                capture=capture,
                actor=principal.actor,
                can=principal.can,
                who=principal.role.label,
                dedupe_key=dedupe_key(principal, form, "shipments"),
            )

        return await submitted(request, principal, "import_shipments.html", start)

    statuses_view = Depends(ctx.require(Permission.ORDERS_VIEW))
    statuses_post = Depends(ctx.require(Permission.ORDERS_VIEW, csrf=True))

    def require_some_action(principal: Principal) -> None:
        if not any(principal.can(b.permission) for b in BULK_ACTIONS.values()):
            raise AdminError(
                403,
                "権限がありません",
                f"決済状況CSV一括更新の権限がありません({principal.role.label}には許可されていません)",
            )

    @router.get("/imports/payment-statuses", summary="決済状況CSV一括更新")
    async def statuses_form(
        request: Request, principal: Annotated[Principal, statuses_view]
    ) -> Response:
        require_some_action(principal)
        return page(request, principal, "import_payment_statuses.html")

    @router.post("/imports/payment-statuses", summary="決済状況CSV一括更新を実行")
    async def statuses_upload(
        request: Request, principal: Annotated[Principal, statuses_post]
    ) -> Response:
        require_some_action(principal)

        async def start(raw: bytes, filename: str, encoding: str, _: bool, form: Any) -> Any:
            return await service.submit_payment_statuses(
                ctx.services,
                raw,
                filename=filename,
                encoding=encoding,
                actor=principal.actor,
                can=principal.can,
                who=principal.role.label,
                dedupe_key=dedupe_key(principal, form, "payment-statuses"),
            )

        return await submitted(request, principal, "import_payment_statuses.html", start)
