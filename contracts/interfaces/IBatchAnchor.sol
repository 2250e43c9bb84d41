// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/**
 * @dev Merkle roots of batches of items (record versions, access-log entries, ...), one transaction a
 * batch. Trees are built as OpenZeppelin's {MerkleProof} verifies them: sorted pairs, keccak256, and
 * leaves double-hashed so that no 64-byte leaf can pass for an inner node.
 */
interface IBatchAnchor {
    /// @dev A batch as anchored: its root, the organisation that anchored it, what it holds, when.
    struct Batch {
        bytes32 root;
        address org;
        bytes32 kind;
        uint32 count;
        uint64 anchoredAt;
    }

    /// @dev `caller` is not the account of an active organisation.
    error BatchCallerNotMember(address caller);

    /// @dev `caller` anchored a batch of record versions but is not an active hospital.
    error BatchCallerNotHospital(address caller);

    /// @dev A batch must have a nonzero root.
    error BatchEmptyRoot();

    /// @dev A batch must hold at least one item.
    error BatchEmpty();

    /// @dev A batch must name its manifest: the content id of the list of its items, in leaf order.
    error BatchEmptyManifest();

    /// @dev No batch has id `batchId`.
    error BatchUnknown(uint256 batchId);

    /// @dev Batch `batchId` of `count` items of `kind` was anchored by `org` under `root`; `manifest` is the
    /// content id (CID bytes) of the batch's item list, from which any member rebuilds the tree.
    event BatchAnchored(
        uint256 indexed batchId,
        address indexed org,
        bytes32 indexed kind,
        bytes32 root,
        uint32 count,
        bytes manifest
    );

    /**
     * @dev Anchors `root` over `count` items of `kind` for the calling organisation, with the content id of
     * the batch's manifest (its items in leaf order, in the consortium's content network); returns the
     * batch id (ids count from 1). The manifest is named, not checked: that it rebuilds `root` is checked
     * by whoever reads it, and a batch whose manifest does not is reported as such.
     *
     * Requirements:
     * - the caller is an active organisation's account;
     * - for `kind` = `RECORD_VERSIONS_KIND`, of kind hospital;
     * - `root` is nonzero, `count` > 0 and `manifest` is not empty.
     *
     * Emits a {BatchAnchored} event.
     */
    function anchorBatch(bytes32 kind, bytes32 root, uint32 count, bytes calldata manifest)
        external
        returns (uint256 batchId);

    /**
     * @dev Returns batch `batchId`.
     *
     * Requirements: the batch exists. Emits nothing.
     */
    function batch(uint256 batchId) external view returns (Batch memory);

    /**
     * @dev Returns whether `leaf` (already double-hashed) is in batch `batchId` by `proof`.
     *
     * Requirements: the batch exists. Emits nothing.
     */
    function verifyItem(uint256 batchId, bytes32 leaf, bytes32[] calldata proof) external view returns (bool);

    /// @dev Returns how many batches have been anchored.
    function batchCount() external view returns (uint256);
}
