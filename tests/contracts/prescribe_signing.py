"""A doctor's EIP-712 ``Prescribe`` signature as the contract defines it, built here from the
contract's type string with eth_account alone (not the ledger's encoder), so a test that passes
shows the two agree, and an attacker's tests sign exactly what an outsider could."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

#: The salt tests commit to the prescriber under; a gateway derives one per prescription.
PRESCRIBER_SALT = Web3.keccak(text="prescriber salt")
#: A deadline no test block reaches.
FOREVER = 2**64 - 1

PRESCRIBE_TYPES = {
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


def prescriber_commitment(prescriber: str, salt: bytes = PRESCRIBER_SALT) -> bytes:
    return Web3.keccak(abi_encode(["address", "bytes32"], [prescriber, salt]))


def prescribe_signature(
    contract: Contract, signer: LocalAccount, rx: bytes, institution: str, fields: dict[str, Any]
) -> bytes:
    """``signer``'s signature of ``fields`` (an Issuance's, by name, bar the signature) for
    prescription ``rx`` relayed by ``institution``."""
    message = {
        "prescriptionId": rx,
        "commitment": fields["commitment"],
        "cid": fields["cid"],
        "patient": fields["patient"],
        "prescriberCommitment": fields["prescriberCommitment"],
        "online": fields["online"],
        "followUpRecordId": fields["followUpRecordId"],
        "institution": institution,
        "deadline": fields["deadline"],
    }
    domain = {
        "name": "MedLedger Prescriptions",
        "version": "1",
        "chainId": contract.w3.eth.chain_id,
        "verifyingContract": contract.address,
    }
    signable = encode_typed_data(domain, PRESCRIBE_TYPES, message)
    return bytes(signer.sign_message(signable).signature)


def signed_fields(
    contract: Contract,
    signer: LocalAccount,
    rx: bytes,
    institution: str,
    *,
    commitment: bytes,
    cid: bytes,
    patient: str,
    online: bool,
    record: bytes,
    deadline: int = FOREVER,
    prescriber: str | None = None,
    salt: bytes = PRESCRIBER_SALT,
) -> dict[str, Any]:
    """An Issuance's fields by name, signed by ``signer``, committing to ``prescriber`` (default:
    the signer)."""
    fields: dict[str, Any] = {
        "commitment": commitment,
        "cid": cid,
        "patient": patient,
        "prescriberCommitment": prescriber_commitment(prescriber or signer.address, salt),
        "online": online,
        "followUpRecordId": record,
        "deadline": deadline,
    }
    fields["signature"] = prescribe_signature(contract, signer, rx, institution, fields)
    return fields


def as_tuple(fields: dict[str, Any]) -> tuple[Any, ...]:
    """The Issuance tuple in the ABI's field order."""
    order = ("commitment", "cid", "patient", "prescriberCommitment", "online")
    rest = ("followUpRecordId", "deadline", "signature")
    return tuple(fields[name] for name in (*order, *rest))
