// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembership} from "./interfaces/IMembership.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {MembershipGated} from "./MembershipGated.sol";
import {MembershipRoles} from "./MembershipRoles.sol";

/**
 * @dev The record registry: each record is a list of versions, appended only by the hospital that
 * anchored it. The chain holds commitments and content ids; payloads live encrypted off-chain.
 *
 * A record id begins with the address of the hospital that created it (20 bytes, then 12 of its
 * choosing), whichever way it is anchored: one by one here, or as a leaf under a {BatchAnchor} root that
 * this registry never sees. So "which hospital's record is this" has one answer that costs no storage,
 * and no hospital can anchor here, and so have consent resolved against, an id another one created.
 */
contract RecordRegistry is IRecordRegistry, MembershipGated {
    mapping(bytes32 recordId => RecordVersion[]) private _versions;

    /**
     * @dev Consults `membership_` for every write.
     *
     * Requirements: none. Emits nothing.
     */
    constructor(IMembership membership_) MembershipGated(membership_) {}

    /// @inheritdoc IRecordRegistry
    function anchorRecord(bytes32 recordId, bytes32 commitment, bytes calldata cid, address patient, address author)
        public
        returns (uint32)
    {
        _checkHospitalAndAuthor(msg.sender, author);
        return _anchorRecord(msg.sender, recordId, commitment, cid, patient, author);
    }

    /// @inheritdoc IRecordRegistry
    function amendRecord(
        bytes32 recordId,
        uint32 expectedVersion,
        bytes32 commitment,
        bytes calldata cid,
        address author
    ) public returns (uint32) {
        RecordVersion[] storage versions = _versions[recordId];
        if (versions.length == 0) revert RecordUnknown(recordId);
        if (versions[0].hospital != msg.sender) revert RecordNotAuthoringHospital(recordId, msg.sender);
        _checkHospitalAndAuthor(msg.sender, author);
        return _amendRecord(msg.sender, recordId, expectedVersion, commitment, cid, author);
    }

    /// @inheritdoc IRecordRegistry
    function latestVersion(bytes32 recordId) public view returns (uint32) {
        return uint32(_versions[recordId].length);
    }

    /// @inheritdoc IRecordRegistry
    function recordVersion(bytes32 recordId, uint32 version) public view returns (RecordVersion memory) {
        RecordVersion[] storage versions = _versions[recordId];
        if (version == 0 || version > versions.length) revert RecordUnknownVersion(recordId, version);
        return versions[version - 1];
    }

    /**
     * @dev Stores version 1 of `recordId`. Internal function without access restriction.
     *
     * Requirements:
     * - `recordId` begins with `hospital`'s address and has not been anchored;
     * - `commitment` is nonzero, `cid` is nonempty, `patient` is nonzero.
     *
     * Emits a {RecordAnchored} event.
     */
    function _anchorRecord(
        address hospital,
        bytes32 recordId,
        bytes32 commitment,
        bytes calldata cid,
        address patient,
        address author
    ) internal returns (uint32) {
        if (address(bytes20(recordId)) != hospital) revert RecordIdOfAnotherHospital(recordId, hospital);
        if (_versions[recordId].length != 0) revert RecordAlreadyAnchored(recordId);
        _checkContent(commitment, cid);
        if (patient == address(0)) revert RecordZeroPatient();
        _append(recordId, commitment, cid, hospital, patient, author);
        emit RecordAnchored(recordId, 1, hospital, commitment, cid, patient, author);
        return 1;
    }

    /**
     * @dev Stores the next version of the anchored `recordId`, carrying over its patient. Internal function
     * without access restriction.
     *
     * Requirements:
     * - `recordId` has been anchored and `expectedVersion` is its latest version;
     * - `commitment` is nonzero, `cid` is nonempty.
     *
     * Emits a {RecordAmended} event.
     */
    function _amendRecord(
        address hospital,
        bytes32 recordId,
        uint32 expectedVersion,
        bytes32 commitment,
        bytes calldata cid,
        address author
    ) internal returns (uint32 version) {
        RecordVersion[] storage versions = _versions[recordId];
        uint32 latest = uint32(versions.length);
        if (expectedVersion != latest) revert RecordVersionConflict(recordId, expectedVersion, latest);
        _checkContent(commitment, cid);
        bytes32 previousCommitment = versions[latest - 1].commitment;
        version = _append(recordId, commitment, cid, hospital, versions[0].patient, author);
        emit RecordAmended(recordId, version, hospital, commitment, cid, previousCommitment, author);
    }

    /**
     * @dev Appends a version to `recordId` stamped with the current block, and returns its number.
     *
     * Requirements: none (callers check). Emits nothing.
     */
    function _append(
        bytes32 recordId,
        bytes32 commitment,
        bytes calldata cid,
        address hospital,
        address patient,
        address author
    ) private returns (uint32) {
        // Pushed through the state variable rather than a local storage pointer: Slither does not follow
        // the pointer and would report `_versions` as never written (crytic/slither#456).
        _versions[recordId].push(
            RecordVersion({
                commitment: commitment,
                hospital: hospital,
                patient: patient,
                author: author,
                anchoredAt: uint64(block.timestamp),
                blockNumber: uint64(block.number),
                cid: cid
            })
        );
        return uint32(_versions[recordId].length);
    }

    /**
     * @dev Reverts unless `hospital` is an active hospital and `author` may write records for it.
     *
     * Requirements:
     * - `hospital` is an active organisation of kind hospital;
     * - `author` is active doctor or clerk staff of `hospital`.
     *
     * Emits nothing.
     */
    function _checkHospitalAndAuthor(address hospital, address author) internal view {
        if (!membership().isActiveOrganisationOfKind(hospital, IMembership.OrgKind.Hospital)) {
            revert RecordCallerNotHospital(hospital);
        }
        if (!_hasEitherStaffRole(hospital, author, MembershipRoles.DOCTOR, MembershipRoles.CLERK)) {
            revert RecordAuthorNotPermitted(author, hospital);
        }
    }

    /**
     * @dev Reverts unless `commitment` and `cid` are both present.
     *
     * Requirements:
     * - `commitment` is nonzero and `cid` is nonempty.
     *
     * Emits nothing.
     */
    function _checkContent(bytes32 commitment, bytes calldata cid) internal pure {
        if (commitment == bytes32(0)) revert RecordEmptyCommitment();
        if (cid.length == 0) revert RecordEmptyCid();
    }
}
