// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/**
 * @dev EIP-712 domain separators and digests, for domains of name, version, chain id and verifying contract.
 *
 * Ours rather than OpenZeppelin's {EIP712} and {MessageHashUtils}: in OpenZeppelin 5.7 both import `Strings`,
 * which imports `Bytes`, whose assembly uses MCOPY. Our bytecode targets `paris` (pre-Shanghai PoA clients have
 * neither PUSH0 nor MCOPY), where that does not compile. These two functions are all we need of them.
 */
library TypedData {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /**
     * @dev Returns the EIP-712 `hashStruct` of the domain `(name, version, chainId, verifyingContract)`, given
     * the keccak256 hashes of `name` and `version`.
     *
     * Requirements: none. Emits nothing.
     */
    function domainSeparator(bytes32 nameHash, bytes32 versionHash, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, nameHash, versionHash, chainId, verifyingContract));
    }

    /**
     * @dev Returns the digest a signer signs for `structHash` under `separator`:
     * `keccak256("\x19\x01" || separator || structHash)`.
     *
     * Requirements: none. Emits nothing.
     */
    function digest(bytes32 separator, bytes32 structHash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", separator, structHash));
    }
}
