// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IBatchAnchor} from "./interfaces/IBatchAnchor.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./MembershipGated.sol";

/**
 * @dev Anchors Merkle roots of batches for consortium members: one ~24k-gas write for any number of
 * items, each provable later by its inclusion proof.
 */
contract BatchAnchor is IBatchAnchor, MembershipGated {
    mapping(uint256 batchId => Batch) private _batches;
    uint256 private _count;

    /**
     * @dev Consults `membership_` for every write.
     *
     * Requirements: none. Emits nothing.
     */
    constructor(IMembership membership_) MembershipGated(membership_) {}

    /// @inheritdoc IBatchAnchor
    function anchorBatch(bytes32 kind, bytes32 root, uint32 count) public returns (uint256) {
        if (!membership().isActiveOrganisation(msg.sender)) revert BatchCallerNotMember(msg.sender);
        if (root == bytes32(0)) revert BatchEmptyRoot();
        if (count == 0) revert BatchEmpty();
        return _anchorBatch(msg.sender, kind, root, count);
    }

    /// @inheritdoc IBatchAnchor
    function batch(uint256 batchId) public view returns (Batch memory) {
        return _existing(batchId);
    }

    /// @inheritdoc IBatchAnchor
    function verifyItem(uint256 batchId, bytes32 leaf, bytes32[] calldata proof) public view returns (bool) {
        return MerkleProof.verifyCalldata(proof, _existing(batchId).root, leaf);
    }

    /// @inheritdoc IBatchAnchor
    function batchCount() public view returns (uint256) {
        return _count;
    }

    /**
     * @dev Stores the batch under the next id.
     *
     * Requirements: checked by the caller. Emits a {BatchAnchored} event.
     */
    function _anchorBatch(address org, bytes32 kind, bytes32 root, uint32 count) internal returns (uint256) {
        uint256 batchId = ++_count;
        _batches[batchId] = Batch(root, org, kind, count, uint64(block.timestamp));
        emit BatchAnchored(batchId, org, kind, root, count);
        return batchId;
    }

    /**
     * @dev Returns the stored batch, or reverts with {BatchUnknown}.
     */
    function _existing(uint256 batchId) private view returns (Batch storage stored) {
        stored = _batches[batchId];
        if (stored.root == bytes32(0)) revert BatchUnknown(batchId);
    }
}
