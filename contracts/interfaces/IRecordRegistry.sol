// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembershipGated} from "./IMembershipGated.sol";

/**
 * @dev Anchors versions of medical records: a hiding commitment to the payload, the content id of its
 * encrypted envelope, the hospital that wrote it, the patient's per-hospital pseudonym and the author.
 */
interface IRecordRegistry is IMembershipGated {
    struct RecordVersion {
        bytes32 commitment;
        address hospital;
        address patient;
        address author;
        uint64 anchoredAt;
        uint64 blockNumber;
        bytes cid;
    }

    /// @dev `caller` is not an active organisation of kind hospital.
    error RecordCallerNotHospital(address caller);

    /// @dev `author` is not active doctor or clerk staff of `hospital`.
    error RecordAuthorNotPermitted(address author, address hospital);

    /// @dev `recordId` does not begin with the address of `hospital`, the hospital anchoring it: the id was
    /// made by (or for) another hospital, or in no hospital's namespace.
    error RecordIdOfAnotherHospital(bytes32 recordId, address hospital);

    /// @dev `recordId` already has a first version.
    error RecordAlreadyAnchored(bytes32 recordId);

    /// @dev The commitment given is zero.
    error RecordEmptyCommitment();

    /// @dev The content id given is empty.
    error RecordEmptyCid();

    /// @dev The patient pseudonym given is the zero address.
    error RecordZeroPatient();

    /// @dev `recordId` has never been anchored.
    error RecordUnknown(bytes32 recordId);

    /// @dev `caller` is not the hospital that anchored `recordId`.
    error RecordNotAuthoringHospital(bytes32 recordId, address caller);

    /// @dev The amendment was based on version `expected` of `recordId`, but the latest is `latest`.
    error RecordVersionConflict(bytes32 recordId, uint32 expected, uint32 latest);

    /// @dev `recordId` has no version `version`.
    error RecordUnknownVersion(bytes32 recordId, uint32 version);

    /// @dev Version 1 of `recordId` was anchored by `hospital` for `patient`, written by `author`.
    event RecordAnchored(
        bytes32 indexed recordId,
        uint32 indexed version,
        address indexed hospital,
        bytes32 commitment,
        bytes cid,
        address patient,
        address author
    );

    /// @dev Version `version` of `recordId` replaced the one committed to by `previousCommitment`.
    event RecordAmended(
        bytes32 indexed recordId,
        uint32 indexed version,
        address indexed hospital,
        bytes32 commitment,
        bytes cid,
        bytes32 previousCommitment,
        address author
    );

    /**
     * @dev Anchors version 1 of `recordId` for the calling hospital and returns 1.
     *
     * Requirements:
     * - the caller is an active organisation of kind hospital;
     * - `author` is active doctor or clerk staff of the caller;
     * - `recordId` begins with the caller's address (its first 20 bytes) and has not been anchored;
     * - `commitment` is nonzero, `cid` is nonempty, `patient` is nonzero.
     *
     * Emits a {RecordAnchored} event.
     */
    function anchorRecord(bytes32 recordId, bytes32 commitment, bytes calldata cid, address patient, address author)
        external
        returns (uint32);

    /**
     * @dev Anchors the next version of `recordId`, for the same patient, and returns its number.
     *
     * Requirements:
     * - `recordId` has been anchored, by the caller;
     * - the caller is an active organisation of kind hospital;
     * - `author` is active doctor or clerk staff of the caller;
     * - `expectedVersion` is the latest version;
     * - `commitment` is nonzero, `cid` is nonempty.
     *
     * Emits a {RecordAmended} event.
     */
    function amendRecord(
        bytes32 recordId,
        uint32 expectedVersion,
        bytes32 commitment,
        bytes calldata cid,
        address author
    ) external returns (uint32);

    /**
     * @dev Returns the latest version number of `recordId`, 0 if it has never been anchored.
     *
     * Requirements: none. Emits nothing.
     */
    function latestVersion(bytes32 recordId) external view returns (uint32);

    /**
     * @dev Returns version `version` of `recordId`.
     *
     * Requirements:
     * - `version` is between 1 and the latest version.
     *
     * Emits nothing.
     */
    function recordVersion(bytes32 recordId, uint32 version) external view returns (RecordVersion memory);
}
