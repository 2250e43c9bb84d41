// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembershipGated} from "./IMembershipGated.sol";

/**
 * @dev Break-glass access: in an emergency a hospital declares that one of its doctors reads a record
 * another hospital anchored, without the patient's grant, for a coded reason. The declaration opens the
 * record for a bounded window; the holder hospital's auditor or a regulator reviews it afterwards,
 * justified or not, within a review window. Times are Unix seconds; windows inclusive at both ends.
 * No clinical data: the record id is already on chain, the reason is a code.
 */
interface IBreakGlassRegistry is IMembershipGated {
    enum Status {
        None,
        Pending,
        Overdue,
        Justified,
        Unjustified
    }

    struct Declaration {
        address org;
        address doctor;
        address holder;
        bytes32 recordId;
        uint8 reason;
        uint64 declaredAt;
        uint64 expiresAt;
    }

    struct Review {
        address reviewer;
        bool justified;
        bool late;
        bytes32 note;
        uint64 reviewedAt;
    }

    /// @dev `caller` is not an active organisation of kind hospital.
    error BreakGlassCallerNotHospital(address caller);

    /// @dev The access id given is zero.
    error BreakGlassZeroId();

    /// @dev `accessId` has already been declared.
    error BreakGlassExists(bytes32 accessId);

    /// @dev `accessId` has never been declared.
    error BreakGlassUnknown(bytes32 accessId);

    /// @dev `reason` is not one of the reason codes this registry was deployed with.
    error BreakGlassUnknownReason(uint8 reason);

    /// @dev `doctor` may not practise at `org` now (no registration there, no filing in force there).
    error BreakGlassNotHospitalDoctor(address doctor, address org);

    /// @dev `recordId` is neither in the record registry nor in an active hospital's namespace.
    error BreakGlassUnknownRecord(bytes32 recordId);

    /// @dev `recordId` was anchored by the declaring hospital itself, which needs no break-glass.
    error BreakGlassOwnRecord(bytes32 recordId);

    /// @dev `doctor` has made `limit` declarations on local day `day` (days since the epoch), the most.
    error BreakGlassDailyLimitReached(address doctor, uint64 day, uint16 limit);

    /// @dev `caller` is the declaring hospital or its staff, who may not review their own declaration.
    error BreakGlassSelfReview(address caller, bytes32 accessId);

    /// @dev `caller` is neither a regulator nor the holder hospital (its account, or its active auditor).
    error BreakGlassNotReviewer(address caller, bytes32 accessId);

    /// @dev `accessId` has already been reviewed; a review is final.
    error BreakGlassAlreadyReviewed(bytes32 accessId);

    /// @dev An unjustified finding needs a nonzero note code.
    error BreakGlassNoteRequired();

    /// @dev `caller` does not hold the regulator role in the membership register.
    error BreakGlassCallerNotRegulator(address caller);

    /// @dev A window given to the constructor is zero.
    error BreakGlassZeroWindow();

    /**
     * @dev `org` declared break-glass access `accessId` for its `doctor` to `recordId` of `holder` for
     * `reason`, in force from `declaredAt` to `expiresAt`.
     */
    event BreakGlassDeclared(
        bytes32 indexed accessId,
        address indexed org,
        address indexed doctor,
        bytes32 recordId,
        uint8 reason,
        uint64 declaredAt,
        uint64 expiresAt,
        address holder
    );

    /// @dev `reviewer` found `accessId` justified or not, with `note`, at `reviewedAt`; `late` if after
    /// the review window.
    event BreakGlassReviewed(
        bytes32 indexed accessId, address indexed reviewer, bool justified, bytes32 note, uint64 reviewedAt, bool late
    );

    /// @dev The regulator account `by` set the per-doctor daily limit to `limit`.
    event BreakGlassDailyLimitSet(uint16 limit, address indexed by);

    /**
     * @dev Declares `accessId`: the caller's `doctor` reads `recordId` for `reason` from now until now
     * plus {window}. The record's holder gateway releases it while {isInForce}.
     *
     * Requirements:
     * - the caller is an active hospital;
     * - `accessId` is nonzero and not declared;
     * - `reason` is one of {reasonCodes};
     * - `doctor` may practise at the caller now (registration there, or a filing in force there);
     * - `recordId` is in the record registry or an active hospital's namespace (its first 20
     *   bytes), and that hospital is not the caller;
     * - `doctor` has made fewer than {dailyLimit} declarations on the caller's local day.
     *
     * Emits a {BreakGlassDeclared} event.
     */
    function declareBreakGlass(bytes32 accessId, address doctor, bytes32 recordId, uint8 reason) external;

    /**
     * @dev Records the review of `accessId`: `justified` or not, with a `note` code. A review after the
     * review window is recorded, marked late. An unjustified finding closes the access at once.
     *
     * Requirements:
     * - `accessId` is declared and not reviewed;
     * - the caller is not the declaring hospital nor its staff;
     * - the caller is a regulator, the holder hospital's account, or an active auditor of the holder;
     * - `note` is nonzero if `justified` is false.
     *
     * Emits a {BreakGlassReviewed} event.
     */
    function reviewBreakGlass(bytes32 accessId, bool justified, bytes32 note) external;

    /**
     * @dev Sets the most declarations one doctor may make per local day (zero closes break-glass).
     *
     * Requirements:
     * - the caller is a regulator.
     *
     * Emits a {BreakGlassDailyLimitSet} event.
     */
    function setDailyLimit(uint16 limit) external;

    /**
     * @dev Returns the declaration `accessId`; all fields zero if never declared.
     *
     * Requirements: none. Emits nothing.
     */
    function declaration(bytes32 accessId) external view returns (Declaration memory);

    /**
     * @dev Returns the review of `accessId`; all fields zero if not reviewed.
     *
     * Requirements: none. Emits nothing.
     */
    function reviewOf(bytes32 accessId) external view returns (Review memory);

    /**
     * @dev Returns the status of `accessId` at `time`: pending or overdue (unreviewed, before or after
     * the review window), justified or unjustified (reviewed), None if never declared.
     *
     * Requirements: none. Emits nothing.
     */
    function statusOf(bytes32 accessId, uint64 time) external view returns (Status);

    /**
     * @dev Returns whether `accessId` opens its record at `time`: declared, `time` within its window,
     * not found unjustified, and the declaring organisation still an active hospital.
     *
     * Requirements: none. Emits nothing.
     */
    function isInForce(bytes32 accessId, uint64 time) external view returns (bool);

    /**
     * @dev Returns the local day (days since the epoch) at `org` at `time`, in the UTC offset the
     * prescription registry records for it.
     *
     * Requirements: none. Emits nothing.
     */
    function dayOf(address org, uint64 time) external view returns (uint64);

    /**
     * @dev Returns how many declarations `doctor` made on local day `day`.
     *
     * Requirements: none. Emits nothing.
     */
    function declaredOn(address doctor, uint64 day) external view returns (uint16);

    /// @dev Returns the most declarations one doctor may make per local day.
    function dailyLimit() external view returns (uint16);

    /// @dev Returns how long a declaration opens its record, in seconds.
    function window() external view returns (uint64);

    /// @dev Returns how long after a declaration its review is on time, in seconds.
    function reviewWindow() external view returns (uint64);

    /// @dev Returns the reason codes accepted, as a bit mask: bit `n` set means code `n` is accepted.
    function reasonCodes() external view returns (uint256);
}
