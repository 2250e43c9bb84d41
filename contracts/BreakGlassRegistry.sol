// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IBreakGlassRegistry} from "./interfaces/IBreakGlassRegistry.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IPracticeRegistry} from "./interfaces/IPracticeRegistry.sol";
import {IPrescriptionRegistry} from "./interfaces/IPrescriptionRegistry.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";
import {MembershipGated} from "./MembershipGated.sol";
import {MembershipRoles} from "./MembershipRoles.sol";

/**
 * @dev The break-glass registry. A hospital declares an emergency read of another hospital's record by
 * one of its doctors, for a coded reason; the holder's gateway releases the record while the declaration
 * is in force, and the holder's auditor or a regulator reviews it.
 *
 * Day: the per-doctor daily limit counts declarations per calendar day in the declaring hospital's local
 * time, the UTC offset the prescription registry records for it (the same day its prescriptions count).
 * A doctor declaring at two hospitals in different zones counts each declaration on that hospital's day.
 */
contract BreakGlassRegistry is IBreakGlassRegistry, MembershipGated {
    uint64 private constant _DAY = 86_400;
    uint8 private constant _INTERNET_DIAGNOSIS = 1;
    uint8 private constant _PRESCRIBING = 2;

    IRecordRegistry private immutable _records;
    IPracticeRegistry private immutable _practice;
    IPrescriptionRegistry private immutable _prescriptions;
    uint64 private immutable _window;
    uint64 private immutable _reviewWindow;
    uint256 private immutable _reasonCodes;
    uint16 private _dailyLimit;

    mapping(bytes32 accessId => Declaration) private _declarations;
    mapping(bytes32 accessId => Review) private _reviews;
    mapping(address doctor => mapping(uint64 day => uint16)) private _declaredOn;

    /**
     * @dev Consults `membership_` for members, `records_` for the record's holder, `practice_` for where
     * a doctor may practise and `prescriptions_` for each hospital's UTC offset. A declaration is in force
     * for `window_` seconds and reviewed on time within `reviewWindow_`; `reasonCodes_` is the bit mask of
     * the reason codes accepted; `dailyLimit_` the first per-doctor daily limit.
     *
     * Requirements:
     * - both windows are nonzero.
     *
     * Emits a {BreakGlassDailyLimitSet} event.
     */
    constructor(
        IMembership membership_,
        IRecordRegistry records_,
        IPracticeRegistry practice_,
        IPrescriptionRegistry prescriptions_,
        uint16 dailyLimit_,
        uint64 window_,
        uint64 reviewWindow_,
        uint256 reasonCodes_
    ) MembershipGated(membership_) {
        if (window_ == 0 || reviewWindow_ == 0) revert BreakGlassZeroWindow();
        _records = records_;
        _practice = practice_;
        _prescriptions = prescriptions_;
        _window = window_;
        _reviewWindow = reviewWindow_;
        _reasonCodes = reasonCodes_;
        _setDailyLimit(dailyLimit_);
    }

    /// @inheritdoc IBreakGlassRegistry
    function declareBreakGlass(bytes32 accessId, address doctor, bytes32 recordId, uint8 reason) public {
        if (!membership().isActiveOrganisationOfKind(msg.sender, IMembership.OrgKind.Hospital)) {
            revert BreakGlassCallerNotHospital(msg.sender);
        }
        _declare(accessId, doctor, recordId, reason);
    }

    /// @inheritdoc IBreakGlassRegistry
    function reviewBreakGlass(bytes32 accessId, bool justified, bytes32 note) public {
        Declaration storage d = _declared(accessId);
        _checkReviewer(accessId, d);
        _review(accessId, d, justified, note);
    }

    /// @inheritdoc IBreakGlassRegistry
    function setDailyLimit(uint16 limit) public {
        if (!_isRegulator(msg.sender)) revert BreakGlassCallerNotRegulator(msg.sender);
        _setDailyLimit(limit);
    }

    /// @inheritdoc IBreakGlassRegistry
    function declaration(bytes32 accessId) public view returns (Declaration memory) {
        return _declarations[accessId];
    }

    /// @inheritdoc IBreakGlassRegistry
    function reviewOf(bytes32 accessId) public view returns (Review memory) {
        return _reviews[accessId];
    }

    /// @inheritdoc IBreakGlassRegistry
    function statusOf(bytes32 accessId, uint64 time) public view returns (Status) {
        Declaration storage d = _declarations[accessId];
        if (d.declaredAt == 0) return Status.None;
        Review storage r = _reviews[accessId];
        if (r.reviewedAt != 0) return r.justified ? Status.Justified : Status.Unjustified;
        return time > d.declaredAt + _reviewWindow ? Status.Overdue : Status.Pending;
    }

    /// @inheritdoc IBreakGlassRegistry
    function isInForce(bytes32 accessId, uint64 time) public view returns (bool) {
        Declaration storage d = _declarations[accessId];
        if (d.declaredAt == 0 || time < d.declaredAt || time > d.expiresAt) return false;
        Review storage r = _reviews[accessId];
        if (r.reviewedAt != 0 && !r.justified) return false;
        return membership().isActiveOrganisationOfKind(d.org, IMembership.OrgKind.Hospital);
    }

    /// @inheritdoc IBreakGlassRegistry
    function dayOf(address org, uint64 time) public view returns (uint64) {
        // Offsets are above -1 day and block times far past it, so the shifted time is positive.
        return uint64(uint256(int256(uint256(time)) + _prescriptions.utcOffset(org)) / _DAY);
    }

    /// @inheritdoc IBreakGlassRegistry
    function declaredOn(address doctor, uint64 day) public view returns (uint16) {
        return _declaredOn[doctor][day];
    }

    /// @inheritdoc IBreakGlassRegistry
    function dailyLimit() public view returns (uint16) {
        return _dailyLimit;
    }

    /// @inheritdoc IBreakGlassRegistry
    function window() public view returns (uint64) {
        return _window;
    }

    /// @inheritdoc IBreakGlassRegistry
    function reviewWindow() public view returns (uint64) {
        return _reviewWindow;
    }

    /// @inheritdoc IBreakGlassRegistry
    function reasonCodes() public view returns (uint256) {
        return _reasonCodes;
    }

    /**
     * @dev Stores `accessId` as declared by the caller. Internal function without access restriction on
     * the caller.
     *
     * Requirements: those of {declareBreakGlass} after the caller's.
     *
     * Emits a {BreakGlassDeclared} event.
     */
    function _declare(bytes32 accessId, address doctor, bytes32 recordId, uint8 reason) internal {
        if (accessId == bytes32(0)) revert BreakGlassZeroId();
        // slither-disable-next-line timestamp - an existence check on the stored time; the time passed to canPractise meets registrations and filings of months, where a validator's seconds of leeway are immaterial
        if (_declarations[accessId].declaredAt != 0) revert BreakGlassExists(accessId);
        if ((_reasonCodes >> reason) & 1 == 0) revert BreakGlassUnknownReason(reason);
        uint64 nowTime = uint64(block.timestamp);
        if (
            !_practice.canPractise(doctor, msg.sender, _INTERNET_DIAGNOSIS, nowTime)
                && !_practice.canPractise(doctor, msg.sender, _PRESCRIBING, nowTime)
        ) revert BreakGlassNotHospitalDoctor(doctor, msg.sender);
        address holder = _holder(recordId);
        uint64 day = dayOf(msg.sender, nowTime);
        uint16 count = _declaredOn[doctor][day];
        if (count >= _dailyLimit) revert BreakGlassDailyLimitReached(doctor, day, _dailyLimit);
        _declaredOn[doctor][day] = count + 1;
        uint64 expiresAt = nowTime + _window;
        _declarations[accessId] = Declaration({
            org: msg.sender,
            doctor: doctor,
            holder: holder,
            recordId: recordId,
            reason: reason,
            declaredAt: nowTime,
            expiresAt: expiresAt
        });
        emit BreakGlassDeclared(accessId, msg.sender, doctor, recordId, reason, nowTime, expiresAt, holder);
    }

    /**
     * @dev Records the review of `accessId`. Internal function without access restriction.
     *
     * Requirements:
     * - `accessId` is not reviewed;
     * - `note` is nonzero if `justified` is false.
     *
     * Emits a {BreakGlassReviewed} event.
     */
    function _review(bytes32 accessId, Declaration storage d, bool justified, bytes32 note) internal {
        // slither-disable-next-line timestamp - an existence check on the stored time; the one comparison of times (late) is against a review window of days, where a validator's seconds of leeway are immaterial
        if (_reviews[accessId].reviewedAt != 0) revert BreakGlassAlreadyReviewed(accessId);
        if (!justified && note == bytes32(0)) revert BreakGlassNoteRequired();
        uint64 nowTime = uint64(block.timestamp);
        bool late = nowTime > d.declaredAt + _reviewWindow;
        _reviews[accessId] =
            Review({reviewer: msg.sender, justified: justified, late: late, note: note, reviewedAt: nowTime});
        emit BreakGlassReviewed(accessId, msg.sender, justified, note, nowTime, late);
    }

    /**
     * @dev Sets the per-doctor daily limit. Internal function without access restriction.
     *
     * Requirements: none.
     *
     * Emits a {BreakGlassDailyLimitSet} event.
     */
    function _setDailyLimit(uint16 limit) internal {
        _dailyLimit = limit;
        emit BreakGlassDailyLimitSet(limit, msg.sender);
    }

    /**
     * @dev Reverts unless the caller may review `accessId`.
     *
     * Requirements:
     * - the caller is not the declaring hospital, its admin or its staff;
     * - the caller is a regulator, the holder's account, or an active auditor of the holder.
     *
     * Emits nothing.
     */
    function _checkReviewer(bytes32 accessId, Declaration storage d) private view {
        IMembership.Staff memory s = membership().staff(msg.sender);
        if (msg.sender == d.org || _isOrganisationAdmin(d.org, msg.sender) || (s.active && s.org == d.org)) {
            revert BreakGlassSelfReview(msg.sender, accessId);
        }
        if (
            !_isRegulator(msg.sender) && msg.sender != d.holder
                && !membership().hasStaffRole(d.holder, msg.sender, MembershipRoles.AUDITOR)
        ) revert BreakGlassNotReviewer(msg.sender, accessId);
    }

    /**
     * @dev Returns the storage entry of the declaration `accessId`.
     *
     * Requirements:
     * - `accessId` is declared.
     *
     * Emits nothing.
     */
    function _declared(bytes32 accessId) private view returns (Declaration storage d) {
        d = _declarations[accessId];
        if (d.declaredAt == 0) revert BreakGlassUnknown(accessId);
    }

    /**
     * @dev Returns the hospital that holds `recordId`: the hospital whose address begins the id.
     * An id is claimed by construction: `RecordRegistry` refuses an id outside its anchoring
     * hospital's namespace, and verification refuses a batch leaf outside its sender's, so a record
     * written either way (one by one, or in a `BatchAnchor` batch, which no contract reads leaf by
     * leaf) is held by its namespace's hospital. A declaration on an id of a hospital's namespace that
     * it never wrote opens nothing: the holder's gateway finds no such record.
     *
     * Requirements:
     * - `recordId` is in `RecordRegistry`, or in the namespace of an active hospital;
     * - the holder is another hospital than the caller.
     *
     * Emits nothing.
     */
    function _holder(bytes32 recordId) private view returns (address holder) {
        holder = address(bytes20(recordId));
        if (
            _records.latestVersion(recordId) == 0
                && !membership().isActiveOrganisationOfKind(holder, IMembership.OrgKind.Hospital)
        ) revert BreakGlassUnknownRecord(recordId);
        if (holder == msg.sender) revert BreakGlassOwnRecord(recordId);
    }
}
