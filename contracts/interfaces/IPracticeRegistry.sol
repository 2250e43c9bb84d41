// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembershipGated} from "./IMembershipGated.sol";

/**
 * @dev Where a doctor may practise: the primary registration the regulator records (institution, salted
 * licence commitment, validity, since when the doctor practises independently), and multi-point practice
 * filings that another institution files for the doctor and the regulator approves, rejects or revokes.
 * Times are Unix seconds, windows inclusive at both ends: `validTo` is the last second in force.
 */
interface IPracticeRegistry is IMembershipGated {
    enum RegistrationStatus {
        None,
        Active,
        Revoked
    }

    enum FilingStatus {
        None,
        Pending,
        Approved,
        Rejected,
        Revoked
    }

    struct Registration {
        address institution;
        bytes32 licenceCommitment;
        uint64 validFrom;
        uint64 validTo;
        uint64 practisingSince;
        RegistrationStatus status;
    }

    struct Filing {
        address doctor;
        address institution;
        uint8 scope;
        uint64 validFrom;
        uint64 validTo;
        FilingStatus status;
    }

    /// @dev `caller` does not hold the regulator role in the membership register.
    error PracticeCallerNotRegulator(address caller);

    /// @dev The doctor given is the zero address.
    error PracticeZeroDoctor();

    /// @dev `institution` is not an active organisation of kind hospital.
    error PracticeNotHospital(address institution);

    /// @dev The licence commitment given is zero.
    error PracticeEmptyLicence();

    /// @dev The window from `validFrom` to `validTo` is empty or reversed.
    error PracticeInvalidWindow(uint64 validFrom, uint64 validTo);

    /// @dev `doctor` has no registration in status active (never recorded, or revoked).
    error PracticeRegistrationNotActive(address doctor);

    /// @dev A refusal or revocation needs a nonzero reason code.
    error PracticeReasonRequired();

    /// @dev `caller` is neither the account of `institution` nor its admin.
    error PracticeNotInstitution(address caller, address institution);

    /// @dev `institution` is where `doctor` is registered; a filing is for practice elsewhere.
    error PracticeFilingAtRegisteredInstitution(address doctor, address institution);

    /// @dev `scope` is zero or has bits outside {INTERNET_DIAGNOSIS, PRESCRIBING}.
    error PracticeInvalidScope(uint8 scope);

    /// @dev `filingId` has already been filed.
    error PracticeFilingExists(bytes32 filingId);

    /// @dev `filingId` has never been filed.
    error PracticeUnknownFiling(bytes32 filingId);

    /// @dev The registration gives no date (zero) for when the doctor's independent practice began.
    error PracticeUnknownPracticeStart();

    /// @dev `doctor`, practising since `practisingSince`, has the years an internet diagnosis filing needs
    /// only from `eligibleFrom`, after the filing would take effect.
    error PracticeTooLittleExperience(address doctor, uint64 practisingSince, uint256 eligibleFrom);

    /// @dev `filingId` is in status `current`, from which the action asked for does not lead.
    error PracticeFilingUnexpectedStatus(bytes32 filingId, FilingStatus current);

    /// @dev The regulator account `by` recorded `doctor`'s primary registration at `institution`.
    event PracticeRegistrationRecorded(
        address indexed doctor,
        address indexed institution,
        bytes32 licenceCommitment,
        uint64 validFrom,
        uint64 validTo,
        uint64 practisingSince,
        address indexed by
    );

    /// @dev `by` (a regulator, or the deployer at construction) set the years of independent practice an
    /// internet diagnosis filing needs to `minYears`.
    event PracticeMinInternetYearsSet(uint8 minYears, address indexed by);

    /// @dev The regulator account `by` revoked `doctor`'s registration at `institution` for `reason`.
    event PracticeRegistrationRevoked(
        address indexed doctor, address indexed institution, bytes32 reason, address indexed by
    );

    /// @dev `filedBy` (the institution's account or admin) filed `filingId` for `doctor` at `institution`.
    event PracticeFilingSubmitted(
        bytes32 indexed filingId,
        address indexed doctor,
        address indexed institution,
        uint8 scope,
        uint64 validFrom,
        uint64 validTo,
        address filedBy
    );

    /// @dev The regulator account `by` approved `filingId`.
    event PracticeFilingApproved(
        bytes32 indexed filingId, address indexed doctor, address indexed institution, address by
    );

    /// @dev The regulator account `by` rejected `filingId` for `reason`.
    event PracticeFilingRejected(
        bytes32 indexed filingId, address indexed doctor, address indexed institution, bytes32 reason, address by
    );

    /// @dev The regulator account `by` revoked the approved `filingId` for `reason`.
    event PracticeFilingRevoked(
        bytes32 indexed filingId, address indexed doctor, address indexed institution, bytes32 reason, address by
    );

    /**
     * @dev Records `doctor`'s primary registration, replacing any earlier one (a renewal or a transfer):
     * the doctor may practise in every scope at `institution` from `validFrom` to `validTo`, and has
     * practised independently since `practisingSince` (a date from the doctor's licence record, not PHI).
     *
     * Requirements:
     * - the caller is a regulator;
     * - `doctor` is nonzero, `institution` is an active hospital;
     * - `licenceCommitment` is nonzero and `validFrom < validTo`;
     * - `practisingSince` is nonzero.
     *
     * Emits a {PracticeRegistrationRecorded} event.
     */
    function recordRegistration(
        address doctor,
        address institution,
        bytes32 licenceCommitment,
        uint64 validFrom,
        uint64 validTo,
        uint64 practisingSince
    ) external;

    /**
     * @dev Sets the years of independent practice a doctor needs, when a filing takes effect, to be filed
     * for internet diagnosis. Filings already made are not reassessed.
     *
     * Requirements:
     * - the caller is a regulator.
     *
     * Emits a {PracticeMinInternetYearsSet} event.
     */
    function setMinInternetPracticeYears(uint8 minYears) external;

    /**
     * @dev Returns the years of independent practice an internet diagnosis filing needs.
     *
     * Requirements: none. Emits nothing.
     */
    function minInternetPracticeYears() external view returns (uint8);

    /**
     * @dev Revokes `doctor`'s registration: the doctor may practise nowhere, under no filing, until a
     * regulator records a new registration.
     *
     * Requirements:
     * - the caller is a regulator;
     * - `doctor`'s registration is active;
     * - `reason` is nonzero.
     *
     * Emits a {PracticeRegistrationRevoked} event.
     */
    function revokeRegistration(address doctor, bytes32 reason) external;

    /**
     * @dev Files `filingId`: `institution` asks that `doctor`, registered elsewhere, may practise there
     * in `scope` from `validFrom` to `validTo`. The filing waits for a regulator's decision.
     *
     * Requirements:
     * - the caller is `institution`'s account or its admin, and `institution` is an active hospital;
     * - `filingId` has not been filed;
     * - `doctor` has an active registration, at another institution;
     * - `scope` is a nonzero combination of INTERNET_DIAGNOSIS and PRESCRIBING;
     * - `validFrom < validTo`;
     * - if `scope` includes INTERNET_DIAGNOSIS, `doctor` has practised independently for
     *   {minInternetPracticeYears} (mean Gregorian years) by `validFrom`.
     *
     * Emits a {PracticeFilingSubmitted} event.
     */
    function fileForPractice(
        bytes32 filingId,
        address doctor,
        address institution,
        uint8 scope,
        uint64 validFrom,
        uint64 validTo
    ) external;

    /**
     * @dev Approves the pending `filingId`: it is in force during its window.
     *
     * Requirements:
     * - the caller is a regulator;
     * - `filingId` is pending.
     *
     * Emits a {PracticeFilingApproved} event.
     */
    function approveFiling(bytes32 filingId) external;

    /**
     * @dev Rejects the pending `filingId` for `reason`.
     *
     * Requirements:
     * - the caller is a regulator;
     * - `filingId` is pending;
     * - `reason` is nonzero.
     *
     * Emits a {PracticeFilingRejected} event.
     */
    function rejectFiling(bytes32 filingId, bytes32 reason) external;

    /**
     * @dev Revokes the approved `filingId` for `reason`: it is no longer in force.
     *
     * Requirements:
     * - the caller is a regulator;
     * - `filingId` is approved;
     * - `reason` is nonzero.
     *
     * Emits a {PracticeFilingRevoked} event.
     */
    function revokeFiling(bytes32 filingId, bytes32 reason) external;

    /**
     * @dev Returns `doctor`'s registration; all fields zero if none was ever recorded.
     *
     * Requirements: none. Emits nothing.
     */
    function registration(address doctor) external view returns (Registration memory);

    /**
     * @dev Returns the filing `filingId`; all fields zero if it was never filed.
     *
     * Requirements: none. Emits nothing.
     */
    function filing(bytes32 filingId) external view returns (Filing memory);

    /**
     * @dev Returns the ids of every filing made for `doctor` at `institution`, oldest first.
     *
     * Requirements: none. Emits nothing.
     */
    function filingsOf(address doctor, address institution) external view returns (bytes32[] memory);

    /**
     * @dev Returns whether `doctor` may practise in every bit of `scope` at `institution` at `time`.
     * True when `doctor` is active doctor staff of the institution of an active registration whose window
     * holds `time`, and either that institution is `institution`, or `institution` is an active hospital
     * with an approved filing for `doctor` covering `scope` whose window holds `time`. Answers from the
     * registrations, filings and membership as they stand now: a past `time` is not a historical query.
     *
     * Requirements:
     * - `scope` is a nonzero combination of INTERNET_DIAGNOSIS and PRESCRIBING.
     *
     * Emits nothing.
     */
    function canPractise(address doctor, address institution, uint8 scope, uint64 time) external view returns (bool);

    /**
     * @dev Returns {canPractise} for the PRESCRIBING scope.
     *
     * Requirements: none. Emits nothing.
     */
    function canPrescribe(address doctor, address institution, uint64 time) external view returns (bool);
}
