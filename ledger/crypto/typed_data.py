"""The EIP-712 domain of one of the ledger's contracts on one chain: what consents and claim
authorisations are signed under, so that a signature made for one contract or chain is refused by
any other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from eth_typing import ChecksumAddress
from eth_utils.address import to_checksum_address

if TYPE_CHECKING:
    from ledger.chain.deploy import Deployment

__all__ = ["ContractDomain"]


@dataclass(frozen=True)
class ContractDomain:
    """A contract's EIP-712 domain; a subclass names the application and the contract."""

    chain_id: int
    verifying_contract: ChecksumAddress

    NAME: ClassVar[str]
    VERSION: ClassVar[str] = "1"
    #: The contract's name in a `Deployment`.
    CONTRACT: ClassVar[str]

    def __post_init__(self) -> None:
        if self.chain_id <= 0:
            raise ValueError(f"chain id must be positive, got {self.chain_id}")
        object.__setattr__(self, "verifying_contract", to_checksum_address(self.verifying_contract))

    @classmethod
    def of(cls, deployment: Deployment) -> Self:
        """The domain of ``deployment``'s contract."""
        return cls(deployment.chain_id, deployment.address(cls.CONTRACT))

    def as_eip712(self) -> dict[str, Any]:
        """The domain as EIP-712 names it."""
        return {
            "name": self.NAME,
            "version": self.VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }

    def as_args(self) -> tuple[int, ChecksumAddress]:
        """The contract's ``SigningDomain``: the domain a signature says it was made for."""
        return (self.chain_id, self.verifying_contract)

    def to_wire(self) -> dict[str, Any]:
        """The domain as the gateway's API carries it."""
        return {"chainId": self.chain_id, "verifyingContract": self.verifying_contract}

    @classmethod
    def from_wire(cls, data: Any) -> Self:
        """Parse `to_wire` output; ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"not a {cls.NAME!r} domain: {data!r}")
        chain_id, contract = data.get("chainId"), data.get("verifyingContract")
        if type(chain_id) is not int or not isinstance(contract, str):
            raise ValueError(f"not a {cls.NAME!r} domain: {data!r}")
        return cls(chain_id, to_checksum_address(contract))
