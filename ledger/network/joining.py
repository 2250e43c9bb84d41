"""A staff account's consent to join an organisation: the EIP-712 ``JoinOrganisation`` it signs and
the organisation's admin submits with ``registerStaff``, so that no organisation can register an
account, or re-register it in another role, without that account's own signature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract

__all__ = ["DEFAULT_JOIN_LIFETIME", "JOIN_TYPES", "StaffJoin", "join_args"]

#: How long a staff member's consent to join stays valid by default, in seconds of chain time.
DEFAULT_JOIN_LIFETIME = 3600

JOIN_TYPES: dict[str, list[dict[str, str]]] = {
    "JoinOrganisation": [
        {"name": "org", "type": "address"},
        {"name": "account", "type": "address"},
        {"name": "role", "type": "bytes32"},
        {"name": "licenceCommitment", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint64"},
    ]
}
_NAME, _VERSION = "MedLedger Membership", "1"


@dataclass(frozen=True)
class StaffJoin:
    """What a staff account signs: join ``org`` as ``role`` with this licence commitment, under
    its current Membership nonce, until ``deadline``."""

    org: str
    account: str
    role: bytes
    licence_commitment: bytes
    nonce: int
    deadline: int

    def typed_data(self, chain_id: int, membership: str) -> dict[str, Any]:
        return {
            "domain": {
                "name": _NAME,
                "version": _VERSION,
                "chainId": chain_id,
                "verifyingContract": to_checksum_address(membership),
            },
            "types": JOIN_TYPES,
            "primaryType": "JoinOrganisation",
            "message": {
                "org": to_checksum_address(self.org),
                "account": to_checksum_address(self.account),
                "role": self.role,
                "licenceCommitment": self.licence_commitment,
                "nonce": self.nonce,
                "deadline": self.deadline,
            },
        }

    def sign(self, signer: LocalAccount, chain_id: int, membership: str) -> bytes:
        """``signer``'s 65-byte signature of this consent for the Membership at ``membership``."""
        message = encode_typed_data(full_message=self.typed_data(chain_id, membership))
        return bytes(signer.sign_message(message).signature)


def join_args(
    membership: Contract,
    staff: LocalAccount,
    org: str,
    role: bytes,
    licence_commitment: bytes,
    *,
    deadline: int | None = None,
) -> tuple[str, str, bytes, bytes, int, bytes]:
    """The arguments of ``registerStaff`` for ``staff`` joining ``org`` as ``role``, signed by
    ``staff`` under its current nonce, valid until ``deadline`` (by default an hour of chain
    time from the latest block)."""
    w3 = membership.w3
    if deadline is None:
        deadline = int(w3.eth.get_block("latest")["timestamp"]) + DEFAULT_JOIN_LIFETIME
    nonce = int(membership.functions.nonces(staff.address).call())
    join = StaffJoin(org, staff.address, role, licence_commitment, nonce, deadline)
    signature = join.sign(staff, int(w3.eth.chain_id), membership.address)
    return (
        to_checksum_address(org),
        staff.address,
        role,
        licence_commitment,
        deadline,
        signature,
    )
