// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembershipGated} from "./IMembershipGated.sol";
import {IPracticeRegistry} from "./IPracticeRegistry.sol";
import {IRecordRegistry} from "./IRecordRegistry.sol";

/**
 * @dev Prescriptions from issue to dispense: a hiding commitment to the FHIR MedicationRequest and the
 * content id of its envelope, one pharmacist's review, and at most one dispense across all pharmacies.
 *
 * No clinical fact is kept here, coded or not: every member reads this contract beside the patient's
 * pseudonym. The automated pre-review runs at the issuing gateway, which issues only what passed it, and
 * a pharmacist's reasons stay with the reviewing organisation; the chain records who decided and when.
 *
 * Validity is computed here, not taken from the issuer: until 24:00 local time of the issue day
 * (offline) or of the day after (online), to the second, local time being UTC plus the hospital's offset,
 * which only a regulator records.
 *
 * Status and FHIR MedicationRequest.status (`expiresAt` passed counts as expired):
 * Pending -> draft (stopped once expired); Approved -> active (stopped once expired); Rejected -> stopped;
 * Cancelled -> cancelled; Dispensed -> completed. No action here yields on-hold or entered-in-error.
 */
interface IPrescriptionRegistry is IMembershipGated {
    enum Status {
        None,
        Pending,
        Approved,
        Rejected,
        Cancelled,
        Dispensed
    }

    /**
     * @dev What a hospital issues; the hospital itself is the caller and the issue time is the block's.
     * `signature` is the prescriber's own EIP-712 `Prescribe` signature of every other field, of the
     * prescription id and of the caller, under the domain `{name: "MedLedger Prescriptions", version: "1",
     * chainId, verifyingContract: this}`; the prescriber is whoever it recovers to. `prescriberCommitment`
     * is the salted commitment `keccak256(abi.encode(prescriber, salt))` kept in the prescriber's place,
     * the salt known to those who can open the MedicationRequest. `deadline` is the last second the
     * signature may be submitted.
     */
    struct Issuance {
        bytes32 commitment;
        bytes cid;
        address patient;
        bytes32 prescriberCommitment;
        bool online;
        bytes32 followUpRecordId;
        uint64 deadline;
        bytes signature;
    }

    struct Prescription {
        bytes32 commitment;
        address institution;
        bytes32 prescriberCommitment;
        address patient;
        uint64 issuedAt;
        uint64 expiresAt;
        bool online;
        Status status;
        bytes32 followUpRecordId;
        bytes cid;
    }

    struct Review {
        address org;
        address pharmacist;
        bool approved;
        uint64 reviewedAt;
    }

    struct Dispense {
        address pharmacy;
        address pharmacist;
        bytes32 commitment;
        uint64 dispensedAt;
        bytes cid;
    }

    /// @dev A hospital's UTC offset in seconds, once a regulator recorded one.
    struct UtcOffset {
        bool set;
        int32 offset;
    }

    /// @dev A hospital's follow-up rule: `window` seconds, 0 meaning no offline record is required.
    struct FollowUpPolicy {
        bool set;
        uint64 window;
    }

    /// @dev `caller` is not an active organisation of kind hospital.
    error PrescriptionCallerNotHospital(address caller);

    /// @dev `hospital` is not an active organisation of kind hospital.
    error PrescriptionNotHospital(address hospital);

    /// @dev `caller` is neither a regulator nor the admin of `hospital`.
    error PrescriptionNotHospitalAdminOrRegulator(address caller, address hospital);

    /// @dev `prescriptionId` has already been issued.
    error PrescriptionAlreadyIssued(bytes32 prescriptionId);

    /// @dev The commitment given is zero.
    error PrescriptionEmptyCommitment();

    /// @dev The content id given is empty.
    error PrescriptionEmptyCid();

    /// @dev The patient pseudonym given is the zero address.
    error PrescriptionZeroPatient();

    /// @dev `prescriber` has no prescribing rights at `institution` now (no registration or filing in force).
    error PrescriptionPrescriberNotPermitted(address prescriber, address institution);

    /// @dev `caller` is not a regulator.
    error PrescriptionCallerNotRegulator(address caller);

    /// @dev `offset` seconds is no UTC offset: not within -12:00 to +14:00, or not a whole quarter hour.
    error PrescriptionUtcOffsetInvalid(int32 offset);

    /// @dev A prescription is valid for at least its issue day; 0 days was given.
    error PrescriptionValidityDaysZero();

    /// @dev `hospital` has not set its follow-up window, so no patient's eligibility can be judged.
    error PrescriptionFollowUpWindowUnset(address hospital);

    /// @dev `patient` has no offline diagnosis record at `hospital`: a first diagnosis gets no prescription.
    error PrescriptionFirstDiagnosis(address hospital, address patient);

    /// @dev The follow-up record `recordId` has never been anchored.
    error PrescriptionFollowUpRecordUnknown(bytes32 recordId);

    /// @dev The follow-up record `recordId` belongs to `hospital` and `patient`, not to the prescription's.
    error PrescriptionFollowUpRecordMismatch(bytes32 recordId, address hospital, address patient);

    /// @dev The follow-up record `recordId`, anchored at `anchoredAt`, is older than `window` seconds.
    error PrescriptionFollowUpRecordTooOld(bytes32 recordId, uint64 anchoredAt, uint64 window);

    /// @dev `prescriptionId` has never been issued.
    error PrescriptionUnknown(bytes32 prescriptionId);

    /// @dev `caller` is neither an active pharmacy nor the active hospital that issued the prescription.
    error PrescriptionCallerNotPharmacy(address caller);

    /// @dev `pharmacist` is not active pharmacist staff of `org`.
    error PrescriptionPharmacistNotPermitted(address pharmacist, address org);

    /// @dev `prescriptionId` has been dispensed; it is dispensed once, by one pharmacy.
    error PrescriptionAlreadyDispensed(bytes32 prescriptionId);

    /// @dev `prescriptionId` is in status `current`, from which the action asked for does not lead.
    error PrescriptionUnexpectedStatus(bytes32 prescriptionId, Status current);

    /// @dev `prescriptionId` expired at `expiresAt`.
    error PrescriptionExpired(bytes32 prescriptionId, uint64 expiresAt);

    /// @dev `caller` is not the institution that issued `prescriptionId`.
    error PrescriptionNotIssuingInstitution(bytes32 prescriptionId, address caller);

    /// @dev `prescriber` and the salt given do not open the prescriber commitment of `prescriptionId`.
    error PrescriptionNotPrescriber(bytes32 prescriptionId, address prescriber);

    /// @dev The prescriber's signature does not recover (wrong length, malleable, or no signer).
    error PrescriptionSignatureInvalid();

    /// @dev The prescriber's signature was to be submitted by `deadline`, which has passed.
    error PrescriptionSignatureExpired(uint64 deadline);

    /// @dev The prescriber commitment given is zero.
    error PrescriptionEmptyPrescriberCommitment();

    /// @dev `by` (a regulator or the hospital's admin) set `hospital`'s follow-up window to `window` seconds.
    event PrescriptionFollowUpWindowSet(address indexed hospital, uint64 window, address indexed by);

    /// @dev `by`, a regulator, recorded `hospital`'s UTC offset as `offset` seconds.
    event PrescriptionUtcOffsetSet(address indexed hospital, int32 offset, address indexed by);

    /**
     * @dev `institution` issued `prescriptionId`, signed by a doctor with prescribing rights there, for
     * `patient`. The doctor is named only by `prescriberCommitment`: no member can filter or count the
     * events by doctor (the signature in the transaction's calldata still names them: SECURITY.md).
     */
    event PrescriptionIssued(
        bytes32 indexed prescriptionId,
        address indexed institution,
        bytes32 prescriberCommitment,
        bytes32 commitment,
        bytes cid,
        address patient,
        uint64 expiresAt,
        bool online,
        bytes32 followUpRecordId
    );

    /// @dev `pharmacist` of `org` approved `prescriptionId`.
    event PrescriptionApproved(bytes32 indexed prescriptionId, address indexed org, address indexed pharmacist);

    /// @dev `pharmacist` of `org` rejected `prescriptionId`; why is the reviewing organisation's record.
    event PrescriptionRejected(bytes32 indexed prescriptionId, address indexed org, address indexed pharmacist);

    /// @dev `pharmacy`, through `pharmacist`, dispensed `prescriptionId`, recorded as a MedicationDispense.
    event PrescriptionDispensed(
        bytes32 indexed prescriptionId, address indexed pharmacy, address indexed pharmacist, bytes32 commitment, bytes cid
    );

    /// @dev `institution` cancelled `prescriptionId` for its prescriber.
    event PrescriptionCancelled(bytes32 indexed prescriptionId, address indexed institution);

    /**
     * @dev Sets `hospital`'s follow-up window: a prescription must name an offline diagnosis record the
     * hospital anchored for the patient at most `window` seconds before; 0 requires no record.
     *
     * Requirements:
     * - the caller is a regulator or `hospital`'s admin;
     * - `hospital` is an active hospital.
     *
     * Emits a {PrescriptionFollowUpWindowSet} event.
     */
    function setFollowUpWindow(address hospital, uint64 window) external;

    /**
     * @dev Records `hospital`'s UTC offset, `offset` seconds east of UTC: its local day, in which the
     * validity of the prescriptions it issues from now on is counted. Prescriptions already issued keep
     * their expiry.
     *
     * Requirements:
     * - the caller is a regulator (a hospital that could move its own midnight could lengthen validity);
     * - `hospital` is an active hospital;
     * - `offset` is within -12:00 and +14:00 and a whole number of quarter hours.
     *
     * Emits a {PrescriptionUtcOffsetSet} event.
     */
    function setUtcOffset(address hospital, int32 offset) external;

    /**
     * @dev Issues `prescriptionId` for the calling hospital, stamped with the block's time, valid until
     * {expiryOf} that time, in the name of the doctor whose signature it carries. The hospital relays
     * (it pays and is the institution) but cannot issue in a doctor's name without the doctor's key; a
     * clerk's, the hospital's or a service's key is no prescriber. The prescription id is the signature's
     * nonce: an id is issued once, so no signature is accepted twice.
     *
     * Requirements:
     * - the caller is an active hospital;
     * - `prescriptionId` has not been issued;
     * - the commitment and prescriber commitment are nonzero, the cid nonempty, the patient nonzero;
     * - the deadline has not passed;
     * - the signature recovers, with a low `s`, to a signer of `Prescribe` over this issuance, this
     *   id and the caller, who may prescribe at the caller now ({IPracticeRegistry-canPrescribe}: an
     *   active registration, which carries a licence commitment, and the doctor role);
     * - the caller has set its follow-up window; if it is nonzero the follow-up record is required;
     * - a follow-up record, if named, was anchored by the caller for the same patient, its first version
     *   at most the window ago (any age if the window is 0).
     *
     * Emits a {PrescriptionIssued} event.
     */
    function issuePrescription(bytes32 prescriptionId, Issuance calldata issuance) external;

    /**
     * @dev Approves the pending `prescriptionId` through the caller's `pharmacist`.
     *
     * Requirements:
     * - `prescriptionId` has been issued;
     * - the caller is an active pharmacy, or the issuing hospital (its own pharmacy), while active;
     * - `pharmacist` is active pharmacist staff of the caller;
     * - the prescription is pending and has not expired.
     *
     * Emits a {PrescriptionApproved} event.
     */
    function approvePrescription(bytes32 prescriptionId, address pharmacist) external;

    /**
     * @dev Rejects the pending `prescriptionId` through the caller's `pharmacist`.
     *
     * Requirements:
     * - `prescriptionId` has been issued;
     * - the caller is an active pharmacy, or the issuing hospital (its own pharmacy), while active;
     * - `pharmacist` is active pharmacist staff of the caller;
     * - the prescription is pending.
     *
     * Emits a {PrescriptionRejected} event.
     */
    function rejectPrescription(bytes32 prescriptionId, address pharmacist) external;

    /**
     * @dev Dispenses the approved `prescriptionId`, once across all pharmacies, recording the commitment to
     * the MedicationDispense and the content id of its envelope.
     *
     * Requirements:
     * - `prescriptionId` has been issued;
     * - the caller is an active pharmacy, or the issuing hospital (its own pharmacy), while active;
     * - `pharmacist` is active pharmacist staff of the caller;
     * - the prescription is approved (not pending, rejected, cancelled or already dispensed);
     * - it has not expired: the block's time is at most `expiresAt`;
     * - the commitment is nonzero and the cid nonempty.
     *
     * Emits a {PrescriptionDispensed} event.
     */
    function dispensePrescription(bytes32 prescriptionId, address pharmacist, bytes32 commitment, bytes calldata cid)
        external;

    /**
     * @dev Cancels `prescriptionId` for its prescriber, before it is dispensed.
     *
     * Requirements:
     * - `prescriptionId` has been issued, by the caller, which is an active hospital;
     * - `prescriber` and `prescriberSalt` open the prescription's prescriber commitment;
     * - the prescription is pending or approved.
     *
     * Emits a {PrescriptionCancelled} event.
     */
    function cancelPrescription(bytes32 prescriptionId, address prescriber, bytes32 prescriberSalt) external;

    /**
     * @dev Reverts as {issuePrescription} would if `patient` is no follow-up patient of `hospital` under
     * `followUpRecordId`: a gateway asks before its doctor signs.
     *
     * Requirements: those of {issuePrescription} on the follow-up record, for `hospital`. Emits nothing.
     */
    function checkFollowUp(address hospital, address patient, bytes32 followUpRecordId) external view;

    /**
     * @dev Returns `hospital`'s follow-up policy; `set` is false until it is first set.
     *
     * Requirements: none. Emits nothing.
     */
    function followUpPolicy(address hospital) external view returns (FollowUpPolicy memory);

    /**
     * @dev Returns `prescriptionId` as issued, with its current status; all zero if never issued.
     *
     * Requirements: none. Emits nothing.
     */
    function prescription(bytes32 prescriptionId) external view returns (Prescription memory);

    /**
     * @dev Returns the pharmacist's review of `prescriptionId`; all zero until it is reviewed.
     *
     * Requirements: none. Emits nothing.
     */
    function review(bytes32 prescriptionId) external view returns (Review memory);

    /**
     * @dev Returns the dispense of `prescriptionId`; all zero until it is dispensed.
     *
     * Requirements: none. Emits nothing.
     */
    function dispensing(bytes32 prescriptionId) external view returns (Dispense memory);

    /**
     * @dev Returns `hospital`'s UTC offset in seconds: the one a regulator recorded, else the default
     * fixed at deployment.
     *
     * Requirements: none. Emits nothing.
     */
    function utcOffset(address hospital) external view returns (int32);

    /**
     * @dev Returns for how many local days, the issue day included, an online or offline prescription is
     * valid; fixed at deployment.
     *
     * Requirements: none. Emits nothing.
     */
    function validityDays(bool online) external view returns (uint64);

    /**
     * @dev Returns the last valid second of a prescription `hospital` issues at `issuedAt`: 23:59:59 local
     * time of the last of its {validityDays}, local time being UTC plus {utcOffset}.
     *
     * Requirements: none. Emits nothing.
     */
    function expiryOf(address hospital, bool online, uint64 issuedAt) external view returns (uint64);

    /**
     * @dev Returns the record registry that follow-up records are looked up in; fixed at deployment.
     *
     * Requirements: none. Emits nothing.
     */
    function recordRegistry() external view returns (IRecordRegistry);

    /**
     * @dev Returns the practice registry that prescribing rights are asked of; fixed at deployment.
     *
     * Requirements: none. Emits nothing.
     */
    function practiceRegistry() external view returns (IPracticeRegistry);
}
