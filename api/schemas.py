"""Wire shapes, one family per resource. No ...Public model carries key material or ciphertext."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x" + "ab" * 20])]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "00" * 32])]
Signature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemPublic(_Model):
    """An RFC 9457 problem: the body of every error response, with a stable machine code."""

    type: str = Field(examples=["about:blank"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(examples=["auth.expired"])
    error: str | None = Field(default=None, description="a contract revert: its custom error")
    arguments: dict[str, str | bool] | None = Field(
        default=None, description="a contract revert: its arguments by name"
    )


class DomainPublic(_Model):
    name: str
    version: str
    chainId: int
    verifyingContract: str
    salt: str  # the gateway's organisation address, left-padded: binds a signature to this gateway


class ConsoleConfigPublic(_Model):
    organisation: str
    kind: str  # hospital | insurer | pharmacy | regulator
    chain_id: int
    time_zone: str  # IANA name, e.g. Asia/Shanghai
    utc_offset_minutes: int  # the zone's offset now, e.g. 480
    languages: list[str]
    default_language: str


class ConsoleStaffPublic(_Model):
    address: str
    organisation: str
    role: str  # a role name, e.g. PHARMACIST_ROLE


class HealthPublic(_Model):
    status: str
    organisation: str
    chain_id: int
    block: int


class PatientEnrol(_Model):
    """A patient's pseudonym and encryption key for this hospital, signed by the pseudonym key."""

    pseudonym: Address
    encryption_key: Bytes32
    signature: Signature


class PatientPublic(_Model):
    pseudonym: str
    encryption_key: str
    enrolled_at: int


class RecordReceiptPublic(_Model):
    """What a write returns once the version is anchored."""

    record_id: str
    version: int
    cid: str
    commitment: str
    transaction: str
    block: int


class BatchInclusionPublic(_Model):
    """A batch-anchored version's place: BatchAnchor's batch id, the leaf's author, the proof."""

    batch: int
    author: str
    proof: list[str]


class RecordDocumentPublic(_Model):
    """A decrypted version with what `medledger verify` needs to check it against the chain."""

    record_id: str
    version: int
    hospital: str
    patient: str
    cid: str
    salt: str
    resource: dict[str, Any]
    batch_inclusion: BatchInclusionPublic | None = Field(
        default=None, description="for a batch-anchored version: where its proof leads"
    )


class RecordViewPublic(_Model):
    """A segmented view of a version for a member reading under the patient's grant: only the
    elements its organisation's kind may see for the purpose, and no salt (with the salt, a
    reader of part of a record could test guesses of the rest against the commitment)."""

    record_id: str
    version: int
    hospital: str
    view: str
    grant: str | None
    purpose: str | None
    resource: dict[str, Any] | None


class WrappedKey(_Model):
    """A version's data key wrapped (HPKE) for the reader's own X25519 key. Key material by design:
    served only to a reader entitled to the whole record."""

    record_id: str
    version: int
    grant: str | None
    wrapped_key: str


class VersionPublic(_Model):
    version: int
    commitment: str
    cid: str
    hospital: str
    author: str
    anchored_at: int
    block: int
    #: intact | missing | unavailable | corrupt: what this gateway's store gave for the CID.
    content: str | None
    #: For a batch-anchored version: BatchAnchor's batch id (its manifest is named on chain).
    batch: int | None = None
    #: For a batch-anchored version: the verdict, when the chain contradicts what its leaf says.
    contradicted: str | None = None


class VerificationPublic(_Model):
    """What any member may learn about a record: that it is anchored, by whom, when, and intact.
    ``conflict``: the id was anchored more than once (in a batch and one by one, or by two batch
    leaves for one version) or with a version skipped; the first anchoring stands.
    ``not_checked``: the versions whose content no peer delivered in time (``unavailable``)."""

    record_id: str
    anchored: bool
    hospital: str
    patient: str
    latest_version: int
    intact: bool
    versions: list[VersionPublic]
    conflict: bool = False
    not_checked: list[int] = []


class AccessEntryPublic(_Model):
    """One access decision, with its Merkle proof once its batch is anchored on chain. ``seq`` is
    the gateway-wide position, shown to auditors only."""

    seq: int | None
    at: int
    actor: str
    org: str | None
    action: str
    record_id: str | None
    version: int | None
    view: str | None
    patient: str | None
    grant: str | None
    purpose: str | None
    outcome: str
    salt: str | None = None  # an entry's own salt, part of its digest; absent on old entries
    chain_batch_id: int | None
    root: str | None
    proof: list[str] | None
    #: The access rested on a break-glass declaration (purpose ``break-glass:<reason>``, grant its
    #: access id), not on a grant: patient views show it highlighted. Not part of the digest.
    break_glass: bool = False


class AccessTrailPublic(_Model):
    """A page of the access log, oldest first; ask again with ``after=next_after`` for more."""

    gateway: str
    items: list[AccessEntryPublic]
    next_after: str | None


class TrailMismatchPublic(_Model):
    seq: int
    reason: str


class TrailVerificationPublic(_Model):
    """How a slice of the access log compares with the roots anchored on chain."""

    checked: int
    unanchored: int
    mismatches: list[TrailMismatchPublic]


ScopeKindName = Literal["record", "hospital_records", "prescriptions", "claims"]
PurposeName = Literal["treatment", "claim_verification", "audit", "research"]
Uint256Text = Annotated[str, Field(pattern=r"^(0|[1-9][0-9]{0,77})$", description="decimal")]


class ConsentDomainPublic(_Model):
    """The EIP-712 domain a consent was signed under (name and version are fixed)."""

    chainId: int = Field(ge=1)
    verifyingContract: Address


class ConsentGrantCreate(_Model):
    """A grant as the patient signed it (EIP-712 `Grant`), for the gateway to relay on chain."""

    patient: Address
    grantee: Address
    scope_kind: ScopeKindName
    scope: Bytes32
    purpose: PurposeName
    # Within JSON's exact integers (2**53 - 1, year 285 million): a uint64 bound is not exactly
    # representable in a JSON number, so clients and schema checkers would round it.
    expires_at: int = Field(ge=0, le=2**53 - 1)
    nonce: Uint256Text
    domain: ConsentDomainPublic
    signature: Signature


class ConsentRevocationCreate(_Model):
    """A revocation as the patient signed it (EIP-712 `Revoke`), for the gateway to relay."""

    grant_id: Bytes32
    nonce: Uint256Text
    domain: ConsentDomainPublic
    signature: Signature


class ConsentReceiptPublic(_Model):
    grant_id: str
    transaction: str
    block: int


class ConsentPublic(_Model):
    """A grant as the chain holds it, and whether it is in force now."""

    grant_id: str
    grantee: str
    scope_kind: ScopeKindName
    scope: str
    purpose: PurposeName
    expires_at: int
    status: Literal["active", "expired", "revoked"]


ReasonCode = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9.\-]{0,31}$", description="a short code, never free text"),
]
PrescriptionStatusName = Literal["pending", "approved", "rejected", "cancelled", "dispensed"]


class FindingPublic(_Model):
    reason: str
    detail: str


class PreReviewPublic(_Model):
    """The automated pre-review of an issued prescription: passed, or it would not have been issued
    (a blocked one is refused with 422 ``prescription.pre_review_blocked``). Never on chain."""

    outcome: Literal["passed"]
    reason: str | None
    findings: list[FindingPublic]


class PrescriptionReceiptPublic(_Model):
    """What issuing returns once the prescription is anchored."""

    prescription_id: str
    expires_at: int
    pre_review: PreReviewPublic
    cid: str
    commitment: str
    transaction: str
    block: int


class PrescriptionDraftPublic(_Model):
    """A pre-reviewed, sealed prescription awaiting its doctor's own signature (branch
    prescriber): ``issuance`` is the EIP-712 ``Prescribe`` message to sign under ``domain``;
    ``salt`` lets the doctor check the commitment against the MedicationRequest they sent.
    Nothing is on chain or stored until ``POST /v1/prescriptions/{id}/issue``."""

    prescription_id: str
    domain: dict[str, Any]
    issuance: dict[str, Any]
    salt: str
    deadline: int
    pre_review: PreReviewPublic


class PrescriptionSignatureCreate(_Model):
    """The doctor's 65-byte EIP-712 signature of a draft's issuance, 0x and 130 hex digits."""

    signature: Signature


class PrescriptionReviewCreate(_Model):
    """A pharmacist's decision; a rejection needs a reason code, which stays in this gateway's
    access log: on chain it would tell every member something clinical about the patient."""

    decision: Literal["approve", "reject"]
    reason: ReasonCode | None = None


class TransactionPublic(_Model):
    prescription_id: str
    status: PrescriptionStatusName
    transaction: str


class ReviewPublic(_Model):
    org: str
    pharmacist: str
    approved: bool
    reviewed_at: int


class DispensePublic(_Model):
    """A dispense as the chain holds it: who, when, and the commitment and CID of the
    MedicationDispense (its content is sealed for the pharmacy and the issuing hospital)."""

    prescription_id: str
    pharmacy: str
    pharmacist: str
    commitment: str
    cid: str
    dispensed_at: int


class DirectoryEntryPublic(_Model):
    """One organisation's directory entry: the X25519 public key envelopes for it are sealed to,
    its content node's peer id and multiaddrs, when it published them, and whether it is active."""

    org: str
    encryption_key: str
    peer_id: str
    addrs: list[str]
    updated_at: int
    usable: bool


class DispenseContentPublic(DispensePublic):
    """A dispense opened: its MedicationDispense and salt, for the dispensing pharmacy's staff and
    the issuing hospital's, each on its own organisation's gateway."""

    salt: str
    resource: dict[str, Any]


class DispenseReceiptPublic(_Model):
    prescription_id: str
    pharmacy: str
    cid: str
    commitment: str
    transaction: str
    block: int


class PrescriptionSummaryPublic(_Model):
    """A prescription's chain facts and status, without its content."""

    prescription_id: str
    institution: str
    #: Recovered from the issuing transaction's signature (None if it does not open the commitment).
    prescriber: str | None
    prescriber_commitment: str
    patient: str
    issued_at: int
    expires_at: int
    online: bool
    status: PrescriptionStatusName
    fhir_status: str
    follow_up_record: str | None
    cid: str


class PrescriptionPublic(PrescriptionSummaryPublic):
    """A prescription read back: whole (``view`` "full", with the salt) for the issuing hospital's
    staff and the patient; the "dispensing" view, without salt, for a pharmacy."""

    view: Literal["full", "dispensing"]
    salt: str | None
    resource: dict[str, Any] | None
    review: ReviewPublic | None
    dispense: DispensePublic | None


PracticeScopeName = Literal["internet_diagnosis", "prescribing"]
#: Seconds since the Unix epoch, up to 9999-12-31T23:59:59Z: a bound JSON numbers carry exactly.
UnixTime = Annotated[int, Field(ge=0, le=253_402_300_799, description="seconds since the epoch")]


class RegistrationCreate(_Model):
    """The regulator records a doctor's primary registration at a hospital."""

    doctor: Address
    institution: Address
    valid_from: UnixTime
    valid_to: UnixTime
    practising_since: UnixTime = Field(
        description="when the doctor's independent practice began (Unix seconds; not PHI): "
        "internet diagnosis filings need MEDLEDGER_MIN_INTERNET_PRACTICE_YEARS of it"
    )
    licence_commitment: Bytes32 | None = Field(
        default=None,
        description="salted licence commitment; by default the one in the membership register",
    )


class FilingCreate(_Model):
    """A hospital files for a doctor registered elsewhere to practise here."""

    doctor: Address
    scope: list[PracticeScopeName] = Field(min_length=1, max_length=2)
    valid_from: UnixTime
    valid_to: UnixTime


class PracticeReason(_Model):
    """Why a filing is rejected or revoked, or a registration revoked: a code, never free text."""

    reason: ReasonCode


class RegistrationPublic(_Model):
    doctor: str
    institution: str
    licence_commitment: str
    valid_from: int
    valid_to: int
    practising_since: int
    status: Literal["none", "active", "revoked"]


class FilingPublic(_Model):
    filing_id: str
    doctor: str
    institution: str
    scope: list[PracticeScopeName]
    valid_from: int
    valid_to: int
    status: Literal["pending", "approved", "rejected", "revoked"]


class RegistrationReceiptPublic(RegistrationPublic):
    transaction: str


class FilingReceiptPublic(FilingPublic):
    transaction: str


class DoctorPracticePublic(_Model):
    """Where a doctor may practise and what they prescribed: the regulator's view of one doctor."""

    doctor: str
    registration: RegistrationPublic | None
    filings: list[FilingPublic]
    prescriptions: list[PrescriptionSummaryPublic]


class RecordBulkItem(_Model):
    """One version in a bulk write: a new record for ``patient``, or the next version of a
    batch-anchored record (``record_id`` with the ``expected_version`` last read)."""

    patient: Address | None = None
    record_id: Bytes32 | None = None
    expected_version: int | None = Field(default=None, ge=1, le=2**32 - 1)
    resource: dict[str, Any] = Field(description="a FHIR R4 resource or Bundle")


class RecordBulkCreate(_Model):
    """Many record versions in one request, as FHIR bulk import sends them; at most
    MEDLEDGER_BULK_MAX_ITEMS, the whole body at most MEDLEDGER_MAX_PAYLOAD_BYTES."""

    items: list[RecordBulkItem] = Field(min_length=1)


class BulkReceiptPublic(_Model):
    """An accepted version: durable in the outbox, to be anchored in the next batch."""

    receipt_id: str
    record_id: str
    version: int
    patient: str
    cid: str
    commitment: str


class RecordBulkAcceptedPublic(_Model):
    receipts: list[BulkReceiptPublic]


class AnchoringPublic(_Model):
    """Where a version was anchored: BatchAnchor's batch, its root and transaction, and the
    version's inclusion proof (OpenZeppelin MerkleProof: sorted pairs, double-hashed leaf)."""

    batch: int
    root: str
    transaction: str
    block: int
    anchored_at: float
    leaf_index: int
    proof: list[str]


class ReceiptPublic(_Model):
    """A bulk write's receipt: ``pending`` (accepted), ``sealed`` (in a batch on its way) or
    ``anchored`` (with ``anchoring``). ``leaf`` is what the proof proves, recomputable from
    the fields above it (docs/architecture.md)."""

    receipt_id: str
    status: Literal["pending", "sealed", "anchored"]
    record_id: str
    version: int
    commitment: str
    cid: str
    hospital: str
    patient: str
    author: str
    leaf: str
    accepted_at: float
    anchoring: AnchoringPublic | None


class ErasurePublic(_Model):
    """What a patient's erasure did at this hospital: its KEK for the patient is destroyed, so the
    versions it wrote for them (their ciphertext and anchors remain) no longer open here."""

    patient: str
    erased_at: int
    versions: int
