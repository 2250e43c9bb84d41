// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IPracticeRegistry} from "./interfaces/IPracticeRegistry.sol";
import {IPrescriptionRegistry} from "./interfaces/IPrescriptionRegistry.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {MembershipGated} from "./MembershipGated.sol";
import {MembershipRoles} from "./MembershipRoles.sol";
import {TypedData} from "./utils/TypedData.sol";

/**
 * @dev The prescription registry. A hospital relays what a doctor with prescribing rights there signed
 * with their own key, for a follow-up patient; a pharmacist reviews; one pharmacy dispenses, once, before
 * expiry. The doctor is kept as a salted commitment, not an address (see {IPrescriptionRegistry-Issuance}).
 *
 * Time: the local-day rule ("until 24:00 of the next day") is computed here from the block's time and
 * the hospital's UTC offset, which a regulator records, and enforced to the second at approval and
 * dispense; no issuer can lengthen it. A fixed offset has no daylight saving: a zone with it needs its
 * offset recorded again at each change (SECURITY.md). Trust split on follow-up: the contract checks that the named record was
 * anchored by this hospital for this patient within the window; that it is an offline diagnosis is the
 * issuing gateway's check of the record's content, which the chain cannot read.
 */
contract PrescriptionRegistry is IPrescriptionRegistry, MembershipGated {
    uint64 private constant _DAY = 86_400;
    int32 private constant _MIN_UTC_OFFSET = -12 hours;
    int32 private constant _MAX_UTC_OFFSET = 14 hours;
    int32 private constant _UTC_OFFSET_QUANTUM = 15 minutes;

    bytes32 private constant _NAME_HASH = keccak256("MedLedger Prescriptions");
    bytes32 private constant _VERSION_HASH = keccak256("1");
    bytes32 private constant _PRESCRIBE_TYPEHASH = keccak256(
        "Prescribe(bytes32 prescriptionId,bytes32 commitment,bytes cid,address patient,bytes32 prescriberCommitment,bool online,bytes32 followUpRecordId,address institution,uint64 deadline)"
    );

    IRecordRegistry private immutable _records;
    IPracticeRegistry private immutable _practice;
    uint64 private immutable _onlineDays;
    uint64 private immutable _offlineDays;
    int32 private immutable _defaultUtcOffset;

    mapping(address hospital => UtcOffset) private _utcOffsets;
    mapping(address hospital => FollowUpPolicy) private _followUp;
    mapping(bytes32 prescriptionId => Prescription) private _prescriptions;
    mapping(bytes32 prescriptionId => Review) private _reviews;
    mapping(bytes32 prescriptionId => Dispense) private _dispenses;

    /**
     * @dev Consults `membership_` for members, `records_` for follow-up records and `practice_` for
     * prescribing rights; prescriptions are valid for `onlineDays_` or `offlineDays_` local days, counted
     * at `defaultUtcOffset_` seconds east of UTC for a hospital whose own offset no regulator recorded.
     *
     * Requirements:
     * - both day counts are nonzero;
     * - `defaultUtcOffset_` is a UTC offset (see {setUtcOffset}).
     *
     * Emits nothing.
     */
    constructor(
        IMembership membership_,
        IRecordRegistry records_,
        IPracticeRegistry practice_,
        uint64 onlineDays_,
        uint64 offlineDays_,
        int32 defaultUtcOffset_
    ) MembershipGated(membership_) {
        if (onlineDays_ == 0 || offlineDays_ == 0) revert PrescriptionValidityDaysZero();
        _checkUtcOffset(defaultUtcOffset_);
        _records = records_;
        _practice = practice_;
        _onlineDays = onlineDays_;
        _offlineDays = offlineDays_;
        _defaultUtcOffset = defaultUtcOffset_;
    }

    /// @inheritdoc IPrescriptionRegistry
    function setFollowUpWindow(address hospital, uint64 window) public {
        if (!_isRegulator(msg.sender) && !_isOrganisationAdmin(hospital, msg.sender)) {
            revert PrescriptionNotHospitalAdminOrRegulator(msg.sender, hospital);
        }
        _setFollowUpWindow(hospital, window);
    }

    /// @inheritdoc IPrescriptionRegistry
    function setUtcOffset(address hospital, int32 offset) public {
        if (!_isRegulator(msg.sender)) revert PrescriptionCallerNotRegulator(msg.sender);
        _setUtcOffset(hospital, offset);
    }

    /// @inheritdoc IPrescriptionRegistry
    function issuePrescription(bytes32 prescriptionId, Issuance calldata issuance) public {
        _checkHospitalCaller();
        _issue(prescriptionId, issuance);
    }

    /// @inheritdoc IPrescriptionRegistry
    function approvePrescription(bytes32 prescriptionId, address pharmacist) public {
        Prescription storage p = _issued(prescriptionId);
        _checkPharmacy(p, pharmacist);
        _approve(prescriptionId, p, pharmacist);
    }

    /// @inheritdoc IPrescriptionRegistry
    function rejectPrescription(bytes32 prescriptionId, address pharmacist) public {
        Prescription storage p = _issued(prescriptionId);
        _checkPharmacy(p, pharmacist);
        _reject(prescriptionId, p, pharmacist);
    }

    /// @inheritdoc IPrescriptionRegistry
    function dispensePrescription(bytes32 prescriptionId, address pharmacist, bytes32 commitment, bytes calldata cid)
        public
    {
        Prescription storage p = _issued(prescriptionId);
        _checkPharmacy(p, pharmacist);
        _dispense(prescriptionId, p, pharmacist, commitment, cid);
    }

    /// @inheritdoc IPrescriptionRegistry
    function cancelPrescription(bytes32 prescriptionId, address prescriber, bytes32 prescriberSalt) public {
        Prescription storage p = _issued(prescriptionId);
        if (p.institution != msg.sender) revert PrescriptionNotIssuingInstitution(prescriptionId, msg.sender);
        _checkHospitalCaller();
        if (keccak256(abi.encode(prescriber, prescriberSalt)) != p.prescriberCommitment) {
            revert PrescriptionNotPrescriber(prescriptionId, prescriber);
        }
        _cancel(prescriptionId, p);
    }

    /// @inheritdoc IPrescriptionRegistry
    function checkFollowUp(address hospital, address patient, bytes32 followUpRecordId) public view {
        _checkFollowUp(hospital, patient, followUpRecordId);
    }

    /// @inheritdoc IPrescriptionRegistry
    function followUpPolicy(address hospital) public view returns (FollowUpPolicy memory) {
        return _followUp[hospital];
    }

    /// @inheritdoc IPrescriptionRegistry
    function prescription(bytes32 prescriptionId) public view returns (Prescription memory) {
        return _prescriptions[prescriptionId];
    }

    /// @inheritdoc IPrescriptionRegistry
    function review(bytes32 prescriptionId) public view returns (Review memory) {
        return _reviews[prescriptionId];
    }

    /// @inheritdoc IPrescriptionRegistry
    function dispensing(bytes32 prescriptionId) public view returns (Dispense memory) {
        return _dispenses[prescriptionId];
    }

    /// @inheritdoc IPrescriptionRegistry
    function utcOffset(address hospital) public view returns (int32) {
        UtcOffset memory own = _utcOffsets[hospital];
        return own.set ? own.offset : _defaultUtcOffset;
    }

    /// @inheritdoc IPrescriptionRegistry
    function validityDays(bool online) public view returns (uint64) {
        return online ? _onlineDays : _offlineDays;
    }

    /// @inheritdoc IPrescriptionRegistry
    function expiryOf(address hospital, bool online, uint64 issuedAt) public view returns (uint64) {
        int256 offset = utcOffset(hospital);
        // Local time a day on: never negative (offsets are above -1 day), so division floors it.
        uint256 shifted = uint256(int256(uint256(issuedAt) + _DAY) + offset);
        uint256 lastDayEnds = (shifted / _DAY + validityDays(online)) * _DAY;
        return uint64(uint256(int256(lastDayEnds - _DAY) - offset - 1));
    }

    /// @inheritdoc IPrescriptionRegistry
    function recordRegistry() public view returns (IRecordRegistry) {
        return _records;
    }

    /// @inheritdoc IPrescriptionRegistry
    function practiceRegistry() public view returns (IPracticeRegistry) {
        return _practice;
    }

    /**
     * @dev Sets `hospital`'s follow-up window. Internal function without access restriction.
     *
     * Requirements:
     * - `hospital` is an active hospital.
     *
     * Emits a {PrescriptionFollowUpWindowSet} event.
     */
    function _setFollowUpWindow(address hospital, uint64 window) internal {
        if (!_isActiveHospital(hospital)) revert PrescriptionNotHospital(hospital);
        _followUp[hospital] = FollowUpPolicy({set: true, window: window});
        emit PrescriptionFollowUpWindowSet(hospital, window, msg.sender);
    }

    /**
     * @dev Records `hospital`'s UTC offset. Internal function without access restriction.
     *
     * Requirements:
     * - `hospital` is an active hospital;
     * - `offset` is a UTC offset.
     *
     * Emits a {PrescriptionUtcOffsetSet} event.
     */
    function _setUtcOffset(address hospital, int32 offset) internal {
        if (!_isActiveHospital(hospital)) revert PrescriptionNotHospital(hospital);
        _checkUtcOffset(offset);
        _utcOffsets[hospital] = UtcOffset({set: true, offset: offset});
        emit PrescriptionUtcOffsetSet(hospital, offset, msg.sender);
    }

    /**
     * @dev Stores `prescriptionId` as issued by the caller, pending review. Internal function without
     * access restriction on the caller.
     *
     * Requirements: those of {issuePrescription} after the caller's.
     *
     * Emits a {PrescriptionIssued} event.
     */
    function _issue(bytes32 prescriptionId, Issuance calldata s) internal {
        // slither-disable-next-line timestamp - an existence check on the stored status, not a time comparison; flagged because the function also reads block.timestamp
        if (_prescriptions[prescriptionId].status != Status.None) revert PrescriptionAlreadyIssued(prescriptionId);
        if (s.commitment == bytes32(0)) revert PrescriptionEmptyCommitment();
        if (s.cid.length == 0) revert PrescriptionEmptyCid();
        if (s.patient == address(0)) revert PrescriptionZeroPatient();
        if (s.prescriberCommitment == bytes32(0)) revert PrescriptionEmptyPrescriberCommitment();
        address prescriber = _prescriber(prescriptionId, s);
        if (!_practice.canPrescribe(prescriber, msg.sender, uint64(block.timestamp))) {
            revert PrescriptionPrescriberNotPermitted(prescriber, msg.sender);
        }
        _checkFollowUp(msg.sender, s.patient, s.followUpRecordId);

        Prescription storage p = _prescriptions[prescriptionId];
        p.commitment = s.commitment;
        p.institution = msg.sender;
        p.prescriberCommitment = s.prescriberCommitment;
        p.patient = s.patient;
        p.issuedAt = uint64(block.timestamp);
        p.expiresAt = expiryOf(msg.sender, s.online, uint64(block.timestamp));
        p.online = s.online;
        p.status = Status.Pending;
        p.followUpRecordId = s.followUpRecordId;
        p.cid = s.cid;
        emit PrescriptionIssued(
            prescriptionId,
            msg.sender,
            s.prescriberCommitment,
            s.commitment,
            s.cid,
            s.patient,
            p.expiresAt,
            s.online,
            s.followUpRecordId
        );
    }

    /**
     * @dev Records `pharmacist`'s approval. Internal function without access restriction.
     *
     * Requirements:
     * - the prescription is pending and has not expired.
     *
     * Emits a {PrescriptionApproved} event.
     */
    function _approve(bytes32 prescriptionId, Prescription storage p, address pharmacist) internal {
        _checkStatus(prescriptionId, p, Status.Pending);
        _checkNotExpired(prescriptionId, p);
        p.status = Status.Approved;
        _reviews[prescriptionId] = Review(msg.sender, pharmacist, true, uint64(block.timestamp));
        emit PrescriptionApproved(prescriptionId, msg.sender, pharmacist);
    }

    /**
     * @dev Records `pharmacist`'s rejection. Internal function without access restriction.
     *
     * Requirements:
     * - the prescription is pending.
     *
     * Emits a {PrescriptionRejected} event.
     */
    function _reject(bytes32 prescriptionId, Prescription storage p, address pharmacist) internal {
        _checkStatus(prescriptionId, p, Status.Pending);
        p.status = Status.Rejected;
        _reviews[prescriptionId] = Review(msg.sender, pharmacist, false, uint64(block.timestamp));
        emit PrescriptionRejected(prescriptionId, msg.sender, pharmacist);
    }

    /**
     * @dev Records the dispense by the caller. Internal function without access restriction.
     *
     * Requirements:
     * - the prescription is approved and has not expired;
     * - `commitment` is nonzero and `cid` nonempty.
     *
     * Emits a {PrescriptionDispensed} event.
     */
    function _dispense(
        bytes32 prescriptionId,
        Prescription storage p,
        address pharmacist,
        bytes32 commitment,
        bytes calldata cid
    ) internal {
        _checkStatus(prescriptionId, p, Status.Approved);
        _checkNotExpired(prescriptionId, p);
        if (commitment == bytes32(0)) revert PrescriptionEmptyCommitment();
        if (cid.length == 0) revert PrescriptionEmptyCid();
        p.status = Status.Dispensed;
        _dispenses[prescriptionId] = Dispense(msg.sender, pharmacist, commitment, uint64(block.timestamp), cid);
        emit PrescriptionDispensed(prescriptionId, msg.sender, pharmacist, commitment, cid);
    }

    /**
     * @dev Marks the prescription cancelled. Internal function without access restriction.
     *
     * Requirements:
     * - the prescription is pending or approved.
     *
     * Emits a {PrescriptionCancelled} event.
     */
    function _cancel(bytes32 prescriptionId, Prescription storage p) internal {
        if (p.status != Status.Approved) _checkStatus(prescriptionId, p, Status.Pending);
        p.status = Status.Cancelled;
        emit PrescriptionCancelled(prescriptionId, p.institution);
    }

    /**
     * @dev Returns who signed `s` as the prescriber of `prescriptionId` at the caller: the signer of the
     * EIP-712 `Prescribe` over every field of `s` but the signature, the id and the caller. A signature
     * of anything else recovers to another account, which {IPracticeRegistry-canPrescribe} then refuses.
     *
     * Requirements:
     * - the deadline has not passed;
     * - the signature is 65 bytes with a low `s` and recovers.
     *
     * Emits nothing.
     */
    function _prescriber(bytes32 prescriptionId, Issuance calldata s) private view returns (address signer) {
        // slither-disable-next-line timestamp - a deadline of minutes; a validator's drift of seconds is immaterial
        if (s.deadline < block.timestamp) revert PrescriptionSignatureExpired(s.deadline);
        bytes32 structHash = keccak256(
            abi.encode(
                _PRESCRIBE_TYPEHASH,
                prescriptionId,
                s.commitment,
                keccak256(s.cid),
                s.patient,
                s.prescriberCommitment,
                s.online,
                s.followUpRecordId,
                msg.sender,
                s.deadline
            )
        );
        bytes32 separator = TypedData.domainSeparator(_NAME_HASH, _VERSION_HASH, block.chainid, address(this));
        ECDSA.RecoverError err;
        // slither-disable-next-line unused-return - the third value only details the error, and any error is refused alike
        (signer, err,) = ECDSA.tryRecoverCalldata(TypedData.digest(separator, structHash), s.signature);
        if (err != ECDSA.RecoverError.NoError) revert PrescriptionSignatureInvalid();
    }

    /**
     * @dev Returns the storage entry of `prescriptionId`.
     *
     * Requirements:
     * - `prescriptionId` has been issued.
     *
     * Emits nothing.
     */
    function _issued(bytes32 prescriptionId) private view returns (Prescription storage p) {
        p = _prescriptions[prescriptionId];
        if (p.status == Status.None) revert PrescriptionUnknown(prescriptionId);
    }

    /**
     * @dev Reverts unless `p` is in status `expected`; a dispensed prescription says so by name, so that
     * a pharmacy losing a race to dispense learns exactly why.
     *
     * Requirements:
     * - `p` is in status `expected`.
     *
     * Emits nothing.
     */
    function _checkStatus(bytes32 prescriptionId, Prescription storage p, Status expected) private view {
        Status current = p.status;
        if (current == expected) return;
        if (current == Status.Dispensed) revert PrescriptionAlreadyDispensed(prescriptionId);
        revert PrescriptionUnexpectedStatus(prescriptionId, current);
    }

    /**
     * @dev Reverts once the block's time is past `p`'s expiry.
     *
     * Requirements:
     * - `block.timestamp <= p.expiresAt`.
     *
     * Emits nothing.
     */
    function _checkNotExpired(bytes32 prescriptionId, Prescription storage p) private view {
        // slither-disable-next-line timestamp - validity ends at a local wall-clock second; the chain's time is the agreed clock, skewed at most seconds by a validator (SECURITY.md)
        if (block.timestamp > p.expiresAt) revert PrescriptionExpired(prescriptionId, p.expiresAt);
    }

    /**
     * @dev Reverts unless `offset` is within -12:00 and +14:00 and a whole number of quarter hours (every
     * offset in use: +5:45 Nepal, +8:45 Eucla, -9:30 Marquesas).
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkUtcOffset(int32 offset) internal pure {
        if (offset < _MIN_UTC_OFFSET || offset > _MAX_UTC_OFFSET || offset % _UTC_OFFSET_QUANTUM != 0) {
            revert PrescriptionUtcOffsetInvalid(offset);
        }
    }

    /**
     * @dev Reverts unless `patient` is a follow-up patient of `hospital` by the hospital's window.
     *
     * Requirements:
     * - `hospital` has set its follow-up window;
     * - a record is named unless the window is 0;
     * - a named record's first version was anchored by `hospital` for `patient`, at most the window ago
     *   (any age if the window is 0).
     *
     * Emits nothing.
     */
    function _checkFollowUp(address hospital, address patient, bytes32 recordId) internal view {
        FollowUpPolicy memory policy = _followUp[hospital];
        if (!policy.set) revert PrescriptionFollowUpWindowUnset(hospital);
        if (recordId == bytes32(0)) {
            if (policy.window != 0) revert PrescriptionFirstDiagnosis(hospital, patient);
            return;
        }
        if (_records.latestVersion(recordId) == 0) revert PrescriptionFollowUpRecordUnknown(recordId);
        IRecordRegistry.RecordVersion memory first = _records.recordVersion(recordId, 1);
        if (first.hospital != hospital || first.patient != patient) {
            revert PrescriptionFollowUpRecordMismatch(recordId, first.hospital, first.patient);
        }
        // slither-disable-next-line timestamp - the follow-up window is months long; seconds of validator timestamp leeway cannot change who is eligible in practice
        if (policy.window != 0 && block.timestamp - first.anchoredAt > policy.window) {
            revert PrescriptionFollowUpRecordTooOld(recordId, first.anchoredAt, policy.window);
        }
    }

    /**
     * @dev Reverts unless the caller may review or dispense `p`, naming `pharmacist`.
     *
     * Requirements:
     * - the caller is an active pharmacy, or `p`'s issuing hospital while active;
     * - `pharmacist` is active pharmacist staff of the caller.
     *
     * Emits nothing.
     */
    function _checkPharmacy(Prescription storage p, address pharmacist) internal view {
        bool hospitalPharmacy = msg.sender == p.institution && _isActiveHospital(msg.sender);
        if (!hospitalPharmacy && !membership().isActiveOrganisationOfKind(msg.sender, IMembership.OrgKind.Pharmacy)) {
            revert PrescriptionCallerNotPharmacy(msg.sender);
        }
        if (!membership().hasStaffRole(msg.sender, pharmacist, MembershipRoles.PHARMACIST)) {
            revert PrescriptionPharmacistNotPermitted(pharmacist, msg.sender);
        }
    }

    /**
     * @dev Reverts unless the caller is an active hospital.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkHospitalCaller() internal view {
        if (!_isActiveHospital(msg.sender)) revert PrescriptionCallerNotHospital(msg.sender);
    }

    /**
     * @dev Returns whether `account` is an active organisation of kind hospital.
     *
     * Requirements: none. Emits nothing.
     */
    function _isActiveHospital(address account) internal view returns (bool) {
        return membership().isActiveOrganisationOfKind(account, IMembership.OrgKind.Hospital);
    }
}
