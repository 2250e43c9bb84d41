"""The prescriber's own signature on a prescription: the EIP-712 ``Prescribe`` a doctor signs on
their own machine and PrescriptionRegistry checks on chain (the hospital only relays it), the salted
commitment the chain keeps in the doctor's place, and the doctor read back from an issuing
transaction.

What the signature proves and what it leaks: the contract recovers the signer and asks
PracticeRegistry whether that account may prescribe at the relaying hospital, so no clerk, service
key or hospital key issues in a doctor's name. The same recovery is open to every node operator:
the signature is in the transaction's calldata (SECURITY.md, "What members can compute").
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi.abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.crypto.commitment import verify_commitment
from ledger.crypto.typed_data import ContractDomain
from ledger.errors import LedgerError
from ledger.gateway.auth import recover_typed_data
from ledger.payload import parse_payload

if TYPE_CHECKING:
    from web3.contract import Contract

    from ledger.gateway.client import GatewayClient

__all__ = [
    "PRESCRIBE_TYPES",
    "IssuanceMismatch",
    "PrescriptionDomain",
    "SignedIssuance",
    "issue_signed",
    "prescriber_commitment",
    "prescriber_salt",
    "recover_prescriber",
]

PRESCRIBE_TYPES: dict[str, list[dict[str, str]]] = {
    "Prescribe": [
        {"name": "prescriptionId", "type": "bytes32"},
        {"name": "commitment", "type": "bytes32"},
        {"name": "cid", "type": "bytes"},
        {"name": "patient", "type": "address"},
        {"name": "prescriberCommitment", "type": "bytes32"},
        {"name": "online", "type": "bool"},
        {"name": "followUpRecordId", "type": "bytes32"},
        {"name": "institution", "type": "address"},
        {"name": "deadline", "type": "uint64"},
    ]
}
_ZERO32 = bytes(32)
_PRESCRIBER_LABEL = b"medledger/v1/prescriber-salt"


class IssuanceMismatch(LedgerError):
    """What the gateway asks a doctor to sign is not what the doctor asked it to issue."""

    code = "prescription.issuance_mismatch"


@dataclass(frozen=True)
class PrescriptionDomain(ContractDomain):
    """The EIP-712 domain prescriptions are signed under: one PrescriptionRegistry on one chain."""

    NAME = "MedLedger Prescriptions"
    CONTRACT = "PrescriptionRegistry"


def prescriber_salt(content_salt: bytes) -> bytes:
    """The salt of the prescriber commitment, derived from the MedicationRequest's own salt: whoever
    can open the prescription (the hospital, the patient, any recipient of its envelope) can open
    who prescribed it, and no one else can."""
    return hmac.new(content_salt, _PRESCRIBER_LABEL, hashlib.sha256).digest()


def prescriber_commitment(prescriber: str, salt: bytes) -> bytes:
    """``keccak256(abi.encode(prescriber, salt))``, as PrescriptionRegistry opens it at cancel."""
    return keccak(abi_encode(["address", "bytes32"], [to_checksum_address(prescriber), salt]))


@dataclass(frozen=True)
class SignedIssuance:
    """Everything the prescriber signs, bar the signature: the contract's ``Issuance`` fields, the
    prescription id, the relaying institution and the last second it may be sent."""

    prescription_id: bytes
    commitment: bytes
    cid: bytes
    patient: str
    prescriber_commitment: bytes
    online: bool
    follow_up_record: bytes | None
    institution: str
    deadline: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "patient", to_checksum_address(self.patient))
        object.__setattr__(self, "institution", to_checksum_address(self.institution))

    def message(self) -> dict[str, Any]:
        return {
            "prescriptionId": self.prescription_id,
            "commitment": self.commitment,
            "cid": self.cid,
            "patient": to_checksum_address(self.patient),
            "prescriberCommitment": self.prescriber_commitment,
            "online": self.online,
            "followUpRecordId": self.follow_up_record or _ZERO32,
            "institution": to_checksum_address(self.institution),
            "deadline": self.deadline,
        }

    def typed_data(self, domain: PrescriptionDomain) -> dict[str, Any]:
        return {
            "domain": domain.as_eip712(),
            "types": PRESCRIBE_TYPES,
            "primaryType": "Prescribe",
            "message": self.message(),
        }

    def sign(self, signer: LocalAccount, domain: PrescriptionDomain) -> bytes:
        """``signer``'s 65-byte signature of this issuance under ``domain``."""
        signable = encode_typed_data(full_message=self.typed_data(domain))
        return bytes(signer.sign_message(signable).signature)

    def signer(self, signature: bytes | str, domain: PrescriptionDomain) -> str:
        """Who signed it; AuthMalformed or AuthBadSignature for a signature that is no signature."""
        return recover_typed_data(
            domain.as_eip712(), PRESCRIBE_TYPES, "Prescribe", self.message(), signature
        )

    def as_args(self, signature: bytes) -> tuple[Any, ...]:
        """The contract's ``Issuance`` tuple."""
        return (
            self.commitment,
            self.cid,
            to_checksum_address(self.patient),
            self.prescriber_commitment,
            self.online,
            self.follow_up_record or _ZERO32,
            self.deadline,
            signature,
        )

    def to_wire(self) -> dict[str, Any]:
        """The message as the gateway's API carries it (hex for bytes)."""
        return {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in self.message().items()}

    @classmethod
    def from_wire(cls, data: Any) -> SignedIssuance:
        """Parse `to_wire` output; ValueError (or KeyError, TypeError) if it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"not a Prescribe message: {data!r}")

        def raw(name: str) -> bytes:
            text = data[name]
            if not isinstance(text, str) or not text.startswith("0x"):
                raise ValueError(f"{name} is not hex: {text!r}")
            return bytes.fromhex(text[2:])

        follow_up = raw("followUpRecordId")
        online, deadline = data["online"], data["deadline"]
        if type(online) is not bool or type(deadline) is not int:
            raise ValueError(f"online must be a bool and deadline an integer: {data!r}")
        return cls(
            prescription_id=raw("prescriptionId"),
            commitment=raw("commitment"),
            cid=raw("cid"),
            patient=to_checksum_address(data["patient"]),
            prescriber_commitment=raw("prescriberCommitment"),
            online=online,
            follow_up_record=None if follow_up == _ZERO32 else follow_up,
            institution=to_checksum_address(data["institution"]),
            deadline=deadline,
        )


def recover_prescriber(registry: Contract, transaction: Any, institution: str) -> str | None:
    """The doctor who signed the ``issuePrescription`` in ``transaction`` (a web3 transaction),
    recovered from its calldata alone, as any node operator can; None if the transaction is not
    a direct call of ``issuePrescription`` or its signature does not recover."""
    try:
        fn, args = registry.decode_function_input(transaction["input"])
    except ValueError:
        return None
    if fn.fn_name != "issuePrescription":
        return None
    pid, issuance = args["prescriptionId"], args["issuance"]
    fields = issuance if isinstance(issuance, tuple | list) else tuple(issuance.values())
    commitment, cid, patient, p_commitment, online, follow_up, deadline, signature = fields
    signed = SignedIssuance(
        bytes(pid),
        bytes(commitment),
        bytes(cid),
        patient,
        bytes(p_commitment),
        bool(online),
        bytes(follow_up),
        institution,
        int(deadline),
    )
    domain = PrescriptionDomain(int(transaction["chainId"]), registry.address)
    try:
        return signed.signer(bytes(signature), domain)
    except LedgerError:
        return None


def issue_signed(
    client: GatewayClient,
    body: bytes,
    params: Mapping[str, Any],
    *,
    path: str = "/v1/prescriptions",
) -> Any:
    """Issue a prescription as ``client``'s doctor: ask the gateway to pre-review and seal ``body``,
    check that what comes back to sign is exactly that body, for that patient, at that gateway's
    hospital and with the doctor's own commitment, sign it here with the doctor's key, and send the
    signature. The issuance receipt; IssuanceMismatch if the gateway asked to sign anything else."""
    query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    draft = client.post_json(path, content=body, params=query)
    try:
        domain = PrescriptionDomain.from_wire(draft["domain"])
        issuance = SignedIssuance.from_wire(draft["issuance"])
        salt = bytes.fromhex(str(draft["salt"])[2:])
    except (KeyError, TypeError, ValueError) as exc:
        raise IssuanceMismatch(f"the gateway's draft is not one: {exc!r}") from exc
    _check_draft(client, body, query, issuance, salt)
    signature = issuance.sign(client.account, domain)
    pid = "0x" + issuance.prescription_id.hex()
    return client.post_json(f"{path}/{pid}/issue", {"signature": "0x" + signature.hex()})


def _check_draft(
    client: GatewayClient,
    body: bytes,
    params: Mapping[str, str],
    issuance: SignedIssuance,
    salt: bytes,
) -> None:
    follow_up = params.get("follow_up_record")
    wanted = {
        "patient": to_checksum_address(params["patient"]),
        "online": params.get("online", "true") != "false",
        "follow-up record": bytes.fromhex(follow_up[2:]) if follow_up else None,
        "institution": client.domain.gateway,
    }
    got = {
        "patient": issuance.patient,
        "online": issuance.online,
        "follow-up record": issuance.follow_up_record,
        "institution": issuance.institution,
    }
    wrong = [name for name in wanted if wanted[name] != got[name]]
    canonical = parse_payload(body, max_bytes=len(body) + 1).canonical
    if not verify_commitment(salt, canonical, issuance.commitment):
        wrong.append("commitment")
    mine = prescriber_commitment(client.account.address, prescriber_salt(salt))
    if mine != issuance.prescriber_commitment:
        wrong.append("prescriber commitment")
    if issuance.deadline < int(time.time()):
        wrong.append("deadline")
    if wrong:
        raise IssuanceMismatch(f"refusing to sign: the draft's {', '.join(wrong)} differ")
