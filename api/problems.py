"""Errors as RFC 9457 problem responses, each with a stable machine-readable ``code``."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger import errors
from ledger.auth import AuthError
from ledger.patients import PatientNotEnrolled
from ledger.prescriptions import FollowUpNotDiagnosis
from ledger.records import NotAuthoringHospital


class Forbidden(errors.LedgerError):
    """The signer is authenticated but may not do this."""

    code = "auth.forbidden"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class BadCursor(errors.LedgerError):
    """A paging cursor that this gateway did not issue to this caller."""

    code = "audit.bad_cursor"


class NotFound(errors.LedgerError):
    """The thing asked for does not exist (or the caller may not know that it does)."""

    code = "not_found"


# Most specific class first: the first isinstance match decides the status.
_STATUS: list[tuple[type[errors.LedgerError], int]] = [
    (errors.PayloadTooLarge, 413),
    (errors.PayloadError, 422),
    (BadCursor, 422),
    (PatientNotEnrolled, 422),
    (FollowUpNotDiagnosis, 422),
    (AuthError, 401),
    (Forbidden, 403),
    (NotAuthoringHospital, 403),
    (NotFound, 404),
    (errors.StoreUnavailable, 503),
    (errors.ChainUnavailable, 503),
    (errors.StoreError, 502),
    (errors.CryptoError, 502),
]

# Contract errors a caller can provoke, by the HTTP status they answer with. The code is the error's
# name in dotted snake case (ConsentNonceUsed -> consent.nonce_used); any other revert is a 409.
_REVERT_STATUS: dict[int, frozenset[str]] = {
    403: frozenset(
        {
            "RecordNotAuthoringHospital",
            "RecordCallerNotHospital",
            "RecordAuthorNotPermitted",
            "ConsentRelayerNotMember",
            "ConsentSignerNotPatient",
            "ConsentNotRecordPatient",
            "PrescriptionCallerNotHospital",
            "PrescriptionPrescriberNotPermitted",
            "PrescriptionCallerNotPharmacy",
            "PrescriptionPharmacistNotPermitted",
            "PrescriptionNotIssuingInstitution",
            "PrescriptionNotPrescriber",
            "PrescriptionNotHospitalAdminOrRegulator",
            "PracticeCallerNotRegulator",
            "PracticeNotInstitution",
        }
    ),
    404: frozenset(
        {
            "RecordUnknown",
            "RecordUnknownVersion",
            "ConsentUnknownRecord",
            "ConsentUnknownGrant",
            "PrescriptionUnknown",
            "PracticeUnknownFiling",
        }
    ),
    # A prescription past its last valid second: gone for good, unlike a 409 a retry could clear.
    410: frozenset({"PrescriptionExpired"}),
    422: frozenset(
        {
            "ConsentBadSignatureLength",
            "ConsentBadSignature",
            "ConsentMalleableSignature",
            "ConsentWrongChain",
            "ConsentWrongContract",
            "ConsentExpired",
            "ConsentUnknownPurpose",
            "ConsentUnknownScopeKind",
            "ConsentGranteeNotMember",
            "ConsentScopeNotHospital",
            # What the prescription asks for, not the state it meets: the patient is a first
            # diagnosis, the named follow-up record does not qualify, the expiry is out of bounds.
            "PrescriptionFirstDiagnosis",
            "PrescriptionFollowUpRecordUnknown",
            "PrescriptionFollowUpRecordMismatch",
            "PrescriptionFollowUpRecordTooOld",
            "PrescriptionExpiryOutOfRange",
            "PrescriptionReasonRequired",
        }
    ),
}


def revert_code(name: str) -> str:
    """``RecordVersionConflict`` -> ``record.version_conflict``."""
    words = re.findall(r"[A-Z][a-z0-9]*", name)
    if len(words) < 2:
        return "chain.revert"
    return f"{words[0].lower()}.{'_'.join(w.lower() for w in words[1:])}"


def problem(status: int, code: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": code, "status": status, "detail": detail, "code": code}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _ledger_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.LedgerError)
    if isinstance(exc, errors.ContractRevert):
        status = next((st for st, names in _REVERT_STATUS.items() if exc.name in names), 409)
        return problem(
            status,
            revert_code(exc.name),
            str(exc),
            error=exc.name,
            arguments=_jsonable(exc.args_by_name),
        )
    status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)
    return problem(status, exc.code, str(exc))


def _jsonable(args: dict[str, object]) -> dict[str, object]:
    return {k: v if isinstance(v, str | bool) else str(v) for k, v in args.items()}


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return problem(422, "request.invalid", f"{where}: {first.get('msg', 'invalid request')}")


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http.error")
    return problem(exc.status_code, code, str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.LedgerError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
