"""Errors as RFC 9457 problem responses, each with a stable machine-readable ``code``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ProblemPublic
from ledger import errors
from ledger.claiming.claims import ClaimForeign
from ledger.claiming.fhir import ClaimMalformed
from ledger.claiming.payments import PaymentNotRecordable, PaymentUnknown
from ledger.consent.break_glass import BreakGlassNoteInvalid
from ledger.consent.minors import GuardianRequired
from ledger.consent.patients import PatientNotEnrolled
from ledger.gateway.auth import AuthError
from ledger.prescribing.book import UtcOffsetMismatch
from ledger.prescribing.drafts import DraftNotYours, DraftUnknown
from ledger.prescribing.follow_up import FollowUpNotDiagnosis
from ledger.prescribing.prereview import PreReviewBlocked
from ledger.prescribing.signature import IssuanceMismatch
from ledger.records.book import BatchProofInvalid, NotAuthoringHospital, NotBatchAnchored
from ledger.records.retention import RetentionRunning
from ledger.records.writer_keys import RecordErased


class Forbidden(errors.LedgerError):
    """The signer is authenticated but may not do this."""

    code = "auth.forbidden"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class Unprocessable(errors.LedgerError):
    """Well-formed input the gateway cannot act on, for a reason its code names."""

    code = "request.unprocessable"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class BadCursor(errors.LedgerError):
    """A paging cursor that this gateway did not issue to this caller."""

    code = "audit.bad_cursor"


class NotFound(errors.LedgerError):
    """The thing asked for does not exist (or the caller may not know that it does)."""

    code = "not_found"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        if code is not None:
            self.code = code


class Upstream(errors.LedgerError):
    """Another organisation's gateway this one relays to could not be reached or named."""

    code = "gateway.upstream"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


# Most specific class first: the first isinstance match decides the status.
_STATUS: list[tuple[type[errors.LedgerError], int]] = [
    (errors.PayloadTooLarge, 413),
    (errors.PayloadError, 422),
    (BadCursor, 422),
    (Unprocessable, 422),
    (PatientNotEnrolled, 422),
    (FollowUpNotDiagnosis, 422),
    (PreReviewBlocked, 422),
    (BreakGlassNoteInvalid, 422),
    (ClaimMalformed, 422),
    (PaymentNotRecordable, 422),
    (AuthError, 401),
    (Forbidden, 403),
    (ClaimForeign, 403),
    (NotAuthoringHospital, 403),
    (NotFound, 404),
    (PaymentUnknown, 404),
    (NotBatchAnchored, 409),
    # retention branch: an erasure within the retention period (the rule and its end in the
    # detail); a version whose key this hospital destroyed on the patient's erasure request.
    (RetentionRunning, 409),
    (RecordErased, 410),
    # No usable directory entry to seal for: the organisation publishes one, or is reinstated.
    (errors.DirectoryError, 409),
    (BatchProofInvalid, 502),
    (Upstream, 502),
    # The gateway's node is up but no peer delivered the content in time: an upstream timeout,
    # not content known to be absent (store.not_found, 502) nor the gateway's node down (503).
    (errors.ContentUnavailable, 504),
    (errors.StoreUnavailable, 503),
    (errors.ChainUnavailable, 503),
    (UtcOffsetMismatch, 503),
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
            "PrescriptionCallerNotRegulator",
            "PracticeCallerNotRegulator",
            "PracticeNotInstitution",
            "ClaimCallerNotPayee",
            "ClaimCallerNotInsurer",
            "ClaimSubmitterNotPermitted",
            "ClaimNotAuthorised",
            "ClaimNotInsurer",
            "ClaimAdjusterNotPermitted",
            "ClaimAuthorisationInvalid",
            "ClaimServiceNotPaidTo",
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
            "ClaimUnknown",
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
            # diagnosis or the named follow-up record does not qualify.
            "PrescriptionFirstDiagnosis",
            "PrescriptionFollowUpRecordUnknown",
            "PrescriptionFollowUpRecordMismatch",
            "PrescriptionFollowUpRecordTooOld",
            # What a claim or payment asks for: items that do not fit, a key no payment registered.
            "ClaimBadItems",
            "ClaimEmptyItem",
            "ClaimRepeatedServiceKey",
            "ClaimUnknownServiceKey",
            "ClaimProviderNotMember",
            "ClaimZeroPatient",
            "ClaimReasonRequired",
            "ClaimApprovedExceedsClaimed",
            "ClaimAuthorisationExpired",
            # A registration or filing that could never be valid, whatever the chain's state.
            "PracticeZeroDoctor",
            "PracticeNotHospital",
            "PracticeEmptyLicence",
            "PracticeInvalidWindow",
            "PracticeInvalidScope",
            "PracticeReasonRequired",
            # retention branch: a registration without the date independent practice began.
            "PracticeUnknownPracticeStart",
        }
    ),
}

# Branch prescriber: a prescription carries its doctor's own signature (docs/rules.md, "Who may
# issue a prescription"): drafts awaiting it, and the chain's refusals of a bad one.
_STATUS += [
    (DraftUnknown, 404),
    (DraftNotYours, 403),
    (IssuanceMismatch, 422),
]
_REVERT_STATUS[422] |= {
    "PrescriptionSignatureInvalid",
    "PrescriptionSignatureExpired",
    "PrescriptionEmptyPrescriberCommitment",
}
# guardians branch: appointments of guardians and proxies, and agents signing for patients.
_REVERT_STATUS[403] |= {"ConsentAgentNotInForce", "ConsentAgentMayNotGrant"}
_REVERT_STATUS[404] |= {"ConsentUnknownAppointment"}
_REVERT_STATUS[422] |= {
    "ConsentGrantOutlastsAppointment",
    "ConsentUnknownAgentKind",
    "ConsentBadAgent",
}
_STATUS.insert(0, (GuardianRequired, 403))
# Branch break-glass: who may declare or review (403), what is not there (404), what could never be
# declared or reviewed whatever the chain's state (422); the daily limit, a repeated id or review
# stay 409 (the state refuses it; a later day or another id may not).
_REVERT_STATUS[403] |= {
    "BreakGlassCallerNotHospital",
    "BreakGlassNotHospitalDoctor",
    "BreakGlassOwnRecord",
    "BreakGlassSelfReview",
    "BreakGlassNotReviewer",
    "BreakGlassCallerNotRegulator",
}
_REVERT_STATUS[404] |= {"BreakGlassUnknown", "BreakGlassUnknownRecord"}
_REVERT_STATUS[422] |= {"BreakGlassUnknownReason", "BreakGlassNoteRequired", "BreakGlassZeroId"}


def revert_code(name: str) -> str:
    """``RecordVersionConflict`` -> ``record.version_conflict``."""
    words = re.findall(r"[A-Z][a-z0-9]*", name)
    if words[:2] == ["Break", "Glass"] and len(words) > 2:  # a two-word component (break-glass)
        return f"break_glass.{'_'.join(w.lower() for w in words[2:])}"
    if len(words) < 2:
        return "chain.revert"
    return f"{words[0].lower()}.{'_'.join(w.lower() for w in words[1:])}"


#: What each error status means at this gateway, as the OpenAPI document tells it.
_MEANINGS: dict[int, str] = {
    401: "The request is not signed, or its signature does not authenticate it (`auth.*`; see "
    "docs/authentication.md).",
    403: "The signer is authenticated but may not do this (`auth.not_member`, "
    "`auth.role_forbidden`, `auth.wrong_organisation`, `record.forbidden`, ...).",
    404: "No such record, told only to those who may know (`record.unknown`, `not_found`).",
    409: "The chain refused the write (`record.version_conflict`, `record.already_anchored`, "
    "`chain.revert`).",
    410: "Gone: the prescription expired before this step (`prescription.expired`), or this "
    "hospital destroyed the version's key on the patient's erasure request (`record.erased`).",
    413: "The body is larger than MEDLEDGER_MAX_PAYLOAD_BYTES (`payload.too_large`).",
    422: "A malformed request (`request.invalid`), or a payload or patient the gateway refuses "
    "(`payload.*`, `patient.not_enrolled`).",
    502: "The content store returned bytes that fail their check, or an envelope that does not "
    "open (`store.*`, `crypto.*`).",
    503: "The chain or the content store cannot be reached (`chain.unavailable`, "
    "`store.unavailable`), or the organisation's key kept sending from elsewhere while this "
    "gateway signed (`chain.nonce_conflict`): retry; or the gateway's time zone disagrees with "
    "the UTC offset the chain holds for its hospital (`prescription.utc_offset_mismatch`).",
    504: "The gateway's IPFS node is up, but no peer delivered the content within "
    "MEDLEDGER_CONTENT_FETCH_TIMEOUT_S (`store.content_unavailable`): retry, or ask a member "
    "that holds it.",
}


#: What any signed operation may answer besides success, for routers that declare them once.
SIGNED_PROBLEMS = (401, 403, 404, 409, 413, 422, 502, 503)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses an operation documents, for its ``responses=``."""
    return {s: {"model": ProblemPublic, "description": _MEANINGS[s]} for s in statuses}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    body = {"type": "about:blank", "title": code, "status": status, "detail": detail, "code": code}
    body.update(extra)
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


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


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's one 400: a JSON body that is not even text (not UTF-8). A body that is text but
        # not JSON is a 422 request.invalid; one answer for both.
        return problem(422, "request.invalid", f"body: {exc.detail}")
    code = _HTTP_CODES.get(exc.status_code, "http.error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route that matched the path; a path served by two routes
        # (GET and POST /v1/consents) must list both, as RFC 9110 and the OpenAPI document say.
        headers["Allow"] = ", ".join(_documented_methods(request)) or headers.get("Allow", "")
    return problem(exc.status_code, code, str(exc.detail), headers=headers)


def _documented_methods(request: Request) -> list[str]:
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    path = request.url.path
    for template, operations in paths.items():
        pattern = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return sorted(method.upper() for method in operations)
    return []


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: errors.PayloadTooLarge.code}


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.LedgerError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
