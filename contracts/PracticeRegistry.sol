// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembership} from "./interfaces/IMembership.sol";
import {IPracticeRegistry} from "./interfaces/IPracticeRegistry.sol";
import {MembershipGated} from "./MembershipGated.sol";
import {MembershipRoles} from "./MembershipRoles.sol";

/**
 * @dev The practice registry: doctors' primary registrations, recorded by the regulator, and multi-point
 * practice filings, filed by the target institution and decided by the regulator. {canPrescribe} is the
 * one answer other contracts ask before a doctor acts for an institution. A filing for internet diagnosis
 * needs a doctor with {minInternetPracticeYears} of independent practice when it takes effect (2018 Measures
 * for the Administration of Internet Diagnosis and Treatment, art. 25), counted from the registration's
 * `practisingSince` in mean Gregorian years.
 */
contract PracticeRegistry is IPracticeRegistry, MembershipGated {
    uint8 public constant INTERNET_DIAGNOSIS = 1;
    uint8 public constant PRESCRIBING = 2;
    uint8 private constant _ALL_SCOPES = INTERNET_DIAGNOSIS | PRESCRIBING;
    /// @dev The mean Gregorian year: years of practice counted in it never run short over leap days.
    uint64 private constant _YEAR = 365.2425 days;

    uint8 private _minInternetYears;

    mapping(address doctor => Registration) private _registrations;
    mapping(bytes32 filingId => Filing) private _filings;
    mapping(address doctor => mapping(address institution => bytes32[])) private _filingIds;

    /**
     * @dev Consults `membership_` for regulators, hospitals, their admins and their doctors; internet
     * diagnosis filings need `minInternetYears_` years of independent practice until a regulator changes it.
     *
     * Requirements: none.
     *
     * Emits a {PracticeMinInternetYearsSet} event.
     */
    constructor(IMembership membership_, uint8 minInternetYears_) MembershipGated(membership_) {
        _setMinInternetYears(minInternetYears_);
    }

    /// @inheritdoc IPracticeRegistry
    function recordRegistration(
        address doctor,
        address institution,
        bytes32 licenceCommitment,
        uint64 validFrom,
        uint64 validTo,
        uint64 practisingSince
    ) public {
        _checkRegulator();
        _recordRegistration(doctor, institution, licenceCommitment, validFrom, validTo, practisingSince);
    }

    /// @inheritdoc IPracticeRegistry
    function setMinInternetPracticeYears(uint8 minYears) public {
        _checkRegulator();
        _setMinInternetYears(minYears);
    }

    /// @inheritdoc IPracticeRegistry
    function minInternetPracticeYears() public view returns (uint8) {
        return _minInternetYears;
    }

    /// @inheritdoc IPracticeRegistry
    function revokeRegistration(address doctor, bytes32 reason) public {
        _checkRegulator();
        _revokeRegistration(doctor, reason);
    }

    /// @inheritdoc IPracticeRegistry
    function fileForPractice(
        bytes32 filingId,
        address doctor,
        address institution,
        uint8 scope,
        uint64 validFrom,
        uint64 validTo
    ) public {
        _checkInstitution(institution);
        _file(filingId, doctor, institution, scope, validFrom, validTo);
    }

    /// @inheritdoc IPracticeRegistry
    function approveFiling(bytes32 filingId) public {
        _checkRegulator();
        Filing storage f = _decide(filingId, FilingStatus.Pending, FilingStatus.Approved);
        emit PracticeFilingApproved(filingId, f.doctor, f.institution, msg.sender);
    }

    /// @inheritdoc IPracticeRegistry
    function rejectFiling(bytes32 filingId, bytes32 reason) public {
        _checkRegulator();
        if (reason == bytes32(0)) revert PracticeReasonRequired();
        Filing storage f = _decide(filingId, FilingStatus.Pending, FilingStatus.Rejected);
        emit PracticeFilingRejected(filingId, f.doctor, f.institution, reason, msg.sender);
    }

    /// @inheritdoc IPracticeRegistry
    function revokeFiling(bytes32 filingId, bytes32 reason) public {
        _checkRegulator();
        if (reason == bytes32(0)) revert PracticeReasonRequired();
        Filing storage f = _decide(filingId, FilingStatus.Approved, FilingStatus.Revoked);
        emit PracticeFilingRevoked(filingId, f.doctor, f.institution, reason, msg.sender);
    }

    /// @inheritdoc IPracticeRegistry
    function registration(address doctor) public view returns (Registration memory) {
        return _registrations[doctor];
    }

    /// @inheritdoc IPracticeRegistry
    function filing(bytes32 filingId) public view returns (Filing memory) {
        return _filings[filingId];
    }

    /// @inheritdoc IPracticeRegistry
    function filingsOf(address doctor, address institution) public view returns (bytes32[] memory) {
        return _filingIds[doctor][institution];
    }

    /// @inheritdoc IPracticeRegistry
    function canPractise(address doctor, address institution, uint8 scope, uint64 time) public view returns (bool) {
        _checkScope(scope);
        Registration storage r = _registrations[doctor];
        if (r.status != RegistrationStatus.Active || !_holds(r.validFrom, r.validTo, time)) return false;
        if (!membership().hasStaffRole(r.institution, doctor, MembershipRoles.DOCTOR)) return false;
        if (r.institution == institution) return true;
        if (!membership().isActiveOrganisationOfKind(institution, IMembership.OrgKind.Hospital)) return false;
        return _hasFilingInForce(doctor, institution, scope, time);
    }

    /// @inheritdoc IPracticeRegistry
    function canPrescribe(address doctor, address institution, uint64 time) public view returns (bool) {
        return canPractise(doctor, institution, PRESCRIBING, time);
    }

    /**
     * @dev Records `doctor`'s registration, replacing any earlier one. Internal function without access
     * restriction.
     *
     * Requirements:
     * - `doctor` is nonzero, `institution` is an active hospital;
     * - `licenceCommitment` is nonzero and `validFrom < validTo`;
     * - `practisingSince` is nonzero.
     *
     * Emits a {PracticeRegistrationRecorded} event.
     */
    function _recordRegistration(
        address doctor,
        address institution,
        bytes32 licenceCommitment,
        uint64 validFrom,
        uint64 validTo,
        uint64 practisingSince
    ) internal {
        if (doctor == address(0)) revert PracticeZeroDoctor();
        _checkHospital(institution);
        if (licenceCommitment == bytes32(0)) revert PracticeEmptyLicence();
        _checkWindow(validFrom, validTo);
        if (practisingSince == 0) revert PracticeUnknownPracticeStart();
        _registrations[doctor] = Registration({
            institution: institution,
            licenceCommitment: licenceCommitment,
            validFrom: validFrom,
            validTo: validTo,
            practisingSince: practisingSince,
            status: RegistrationStatus.Active
        });
        emit PracticeRegistrationRecorded(
            doctor, institution, licenceCommitment, validFrom, validTo, practisingSince, msg.sender
        );
    }

    /**
     * @dev Sets the years of independent practice an internet diagnosis filing needs. Internal function
     * without access restriction.
     *
     * Requirements: none.
     *
     * Emits a {PracticeMinInternetYearsSet} event.
     */
    function _setMinInternetYears(uint8 minYears) internal {
        _minInternetYears = minYears;
        emit PracticeMinInternetYearsSet(minYears, msg.sender);
    }

    /**
     * @dev Revokes `doctor`'s registration. Internal function without access restriction.
     *
     * Requirements:
     * - `doctor`'s registration is active;
     * - `reason` is nonzero.
     *
     * Emits a {PracticeRegistrationRevoked} event.
     */
    function _revokeRegistration(address doctor, bytes32 reason) internal {
        Registration storage r = _activeRegistration(doctor);
        if (reason == bytes32(0)) revert PracticeReasonRequired();
        r.status = RegistrationStatus.Revoked;
        emit PracticeRegistrationRevoked(doctor, r.institution, reason, msg.sender);
    }

    /**
     * @dev Stores `filingId` as pending. Internal function without access restriction.
     *
     * Requirements:
     * - `filingId` has not been filed;
     * - `doctor` has an active registration, at another institution than `institution`;
     * - `scope` is valid and `validFrom < validTo`;
     * - for INTERNET_DIAGNOSIS, `doctor` has practised {minInternetPracticeYears} by `validFrom`.
     *
     * Emits a {PracticeFilingSubmitted} event.
     */
    function _file(
        bytes32 filingId,
        address doctor,
        address institution,
        uint8 scope,
        uint64 validFrom,
        uint64 validTo
    ) internal {
        if (_filings[filingId].status != FilingStatus.None) revert PracticeFilingExists(filingId);
        Registration storage r = _activeRegistration(doctor);
        if (r.institution == institution) revert PracticeFilingAtRegisteredInstitution(doctor, institution);
        _checkScope(scope);
        _checkWindow(validFrom, validTo);
        if (scope & INTERNET_DIAGNOSIS != 0) _checkExperience(doctor, r.practisingSince, validFrom);
        _filings[filingId] = Filing({
            doctor: doctor,
            institution: institution,
            scope: scope,
            validFrom: validFrom,
            validTo: validTo,
            status: FilingStatus.Pending
        });
        _filingIds[doctor][institution].push(filingId);
        emit PracticeFilingSubmitted(filingId, doctor, institution, scope, validFrom, validTo, msg.sender);
    }

    /**
     * @dev Moves `filingId` from status `from` to status `to` and returns it.
     *
     * Requirements:
     * - `filingId` has been filed and is in status `from`.
     *
     * Emits nothing (callers emit the event naming the decision).
     */
    function _decide(bytes32 filingId, FilingStatus from, FilingStatus to) private returns (Filing storage f) {
        f = _filings[filingId];
        if (f.status == FilingStatus.None) revert PracticeUnknownFiling(filingId);
        if (f.status != from) revert PracticeFilingUnexpectedStatus(filingId, f.status);
        f.status = to;
    }

    /**
     * @dev Returns whether an approved filing for `doctor` at `institution` covers `scope` at `time`.
     * Loops over that pair's filings only, which grow by one per filing its own institution makes.
     *
     * Requirements: none. Emits nothing.
     */
    function _hasFilingInForce(address doctor, address institution, uint8 scope, uint64 time)
        private
        view
        returns (bool)
    {
        bytes32[] storage ids = _filingIds[doctor][institution];
        for (uint256 i = 0; i < ids.length; ++i) {
            Filing storage f = _filings[ids[i]];
            if (f.status == FilingStatus.Approved && f.scope & scope == scope && _holds(f.validFrom, f.validTo, time)) {
                return true;
            }
        }
        return false;
    }

    /**
     * @dev Reverts unless a doctor practising since `since` has {minInternetPracticeYears} by `time`.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkExperience(address doctor, uint64 since, uint64 time) private view {
        uint256 eligibleFrom = uint256(since) + uint256(_minInternetYears) * _YEAR;
        if (time < eligibleFrom) revert PracticeTooLittleExperience(doctor, since, eligibleFrom);
    }

    /**
     * @dev Returns the storage entry of `doctor`'s registration.
     *
     * Requirements:
     * - `doctor`'s registration is active.
     *
     * Emits nothing.
     */
    function _activeRegistration(address doctor) private view returns (Registration storage r) {
        r = _registrations[doctor];
        if (r.status != RegistrationStatus.Active) revert PracticeRegistrationNotActive(doctor);
    }

    /**
     * @dev Reverts unless the caller is a regulator.
     *
     * Requirements:
     * - the caller holds the regulator role in the membership register.
     *
     * Emits nothing.
     */
    function _checkRegulator() internal view {
        if (!_isRegulator(msg.sender)) revert PracticeCallerNotRegulator(msg.sender);
    }

    /**
     * @dev Reverts unless the caller may file for `institution`.
     *
     * Requirements:
     * - the caller is `institution`'s account or its admin;
     * - `institution` is an active hospital.
     *
     * Emits nothing.
     */
    function _checkInstitution(address institution) internal view {
        if (msg.sender != institution && !_isOrganisationAdmin(institution, msg.sender)) {
            revert PracticeNotInstitution(msg.sender, institution);
        }
        _checkHospital(institution);
    }

    /**
     * @dev Reverts unless `institution` is an active hospital.
     *
     * Requirements:
     * - `institution` is an active organisation of kind hospital.
     *
     * Emits nothing.
     */
    function _checkHospital(address institution) internal view {
        if (!membership().isActiveOrganisationOfKind(institution, IMembership.OrgKind.Hospital)) {
            revert PracticeNotHospital(institution);
        }
    }

    /**
     * @dev Reverts unless `scope` is a nonzero combination of the known scopes.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkScope(uint8 scope) internal pure {
        if (scope == 0 || scope & ~_ALL_SCOPES != 0) revert PracticeInvalidScope(scope);
    }

    /**
     * @dev Reverts unless `validFrom < validTo`.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkWindow(uint64 validFrom, uint64 validTo) internal pure {
        if (validFrom >= validTo) revert PracticeInvalidWindow(validFrom, validTo);
    }

    /**
     * @dev Returns whether `time` lies in the window from `validFrom` to `validTo`, both inclusive.
     *
     * Requirements: none. Emits nothing.
     */
    function _holds(uint64 validFrom, uint64 validTo, uint64 time) private pure returns (bool) {
        return validFrom <= time && time <= validTo;
    }
}
