// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IBatchAnchor} from "./interfaces/IBatchAnchor.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./MembershipGated.sol";

/**
 * @dev Anchors Merkle roots of batches for consortium members: one ~24k-gas write for any number of
 * items, each provable later by its inclusion proof. Batches of record versions come from hospitals
 * only, as single record versions do; what their leaves say is checked by whoever verifies an item.
 */
contract BatchAnchor is IBatchAnchor, MembershipGated {
    /// @dev The `kind` of a batch of record versions (keccak256 of "medledger.record-versions.v1").
    bytes32 public constant RECORD_VERSIONS_KIND = keccak256("medledger.record-versions.v1");

    /// @dev A batch as stored: `Batch`'s fields reordered so that org, count and time share one
    /// slot (three slots a batch, not four: ~22,000 gas less for every batch anchored).
    struct StoredBatch {
        bytes32 root;
        bytes32 kind;
        address org;
        uint32 count;
        uint64 anchoredAt;
    }

    mapping(uint256 batchId => StoredBatch) private _batches;
    uint256 private _count;

    /**
     * @dev Consults `membership_` for every write.
     *
     * Requirements: none. Emits nothing.
     */
    constructor(IMembership membership_) MembershipGated(membership_) {}

    /// @inheritdoc IBatchAnchor
    function anchorBatch(bytes32 kind, bytes32 root, uint32 count, bytes calldata manifest) public returns (uint256) {
        if (!membership().isActiveOrganisation(msg.sender)) revert BatchCallerNotMember(msg.sender);
        if (kind == RECORD_VERSIONS_KIND && !_isHospital(msg.sender)) revert BatchCallerNotHospital(msg.sender);
        if (root == bytes32(0)) revert BatchEmptyRoot();
        if (count == 0) revert BatchEmpty();
        if (manifest.length == 0) revert BatchEmptyManifest();
        return _anchorBatch(msg.sender, kind, root, count, manifest);
    }

    /// @inheritdoc IBatchAnchor
    function batch(uint256 batchId) public view returns (Batch memory) {
        StoredBatch storage stored = _existing(batchId);
        return Batch(stored.root, stored.org, stored.kind, stored.count, stored.anchoredAt);
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
    function _anchorBatch(address org, bytes32 kind, bytes32 root, uint32 count, bytes calldata manifest)
        internal
        returns (uint256)
    {
        uint256 batchId = ++_count;
        _batches[batchId] = StoredBatch(root, kind, org, count, uint64(block.timestamp));
        // The manifest is in the log only: readers find it by batch id, and storage stays three slots.
        emit BatchAnchored(batchId, org, kind, root, count, manifest);
        return batchId;
    }

    /**
     * @dev Returns whether `org` is an active hospital.
     *
     * Requirements: none. Emits nothing.
     */
    function _isHospital(address org) private view returns (bool) {
        return membership().isActiveOrganisationOfKind(org, IMembership.OrgKind.Hospital);
    }

    /**
     * @dev Returns the stored batch, or reverts with {BatchUnknown}.
     */
    function _existing(uint256 batchId) private view returns (StoredBatch storage stored) {
        stored = _batches[batchId];
        if (stored.root == bytes32(0)) revert BatchUnknown(batchId);
    }
}
