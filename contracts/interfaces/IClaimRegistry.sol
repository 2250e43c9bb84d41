// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IConsentRegistry} from "./IConsentRegistry.sol";
import {IMembershipGated} from "./IMembershipGated.sol";

/**
 * @dev Payments and insurance claims. A payee (hospital or pharmacy) anchors a payment as a hiding commitment to
 * its FHIR PaymentReconciliation and registers, for each service it pays for, a capacity: the amount paid,
 * under a per-service key that only holders of the service's salt can derive (docs/claims.md). An insurer
 * anchors each claim it receives (a commitment to the FHIR Claim), under the patient's claim-verification
 * grant, and later its decision (a commitment to the FHIR ClaimResponse) and settlement. A decision draws
 * the approved amounts from the services' capacities; one that would draw beyond a capacity is recorded as
 * a duplicate and draws nothing, whichever insurer holds the earlier claims.
 *
 * Amounts are in the currency's smallest unit (fen). Reason codes are short ASCII codes, left-aligned and
 * zero-padded, as the prescription registry's are.
 */
interface IClaimRegistry is IMembershipGated {
    /// @dev How a payment was made: the three ways patients pay.
    enum PaymentMethod {
        None,
        SelfPay,
        NationalInsurance,
        CommercialInsurance
    }

    /// @dev A claim's state. Approved, Partial, Denied and Duplicate are decisions; Settled follows a payout.
    enum Status {
        None,
        Submitted,
        Approved,
        Partial,
        Denied,
        Duplicate,
        Settled
    }

    struct Payment {
        address payee;
        PaymentMethod method;
        uint64 recordedAt;
        bytes32 commitment;
        bytes cid;
    }

    /// @dev What a service may be claimed for in all (`amount`), by whom (the `payee`, for the `patient`
    /// pseudonym it was paid for), and what decisions have approved so far.
    struct Capacity {
        address payee;
        address patient;
        uint128 amount;
        uint128 claimed;
    }

    /**
     * @dev What an insurer anchors when it receives a claim; the insurer is the caller. `signature` is the
     * `submitter`'s EIP-712 `ClaimAuthorisation` of `(claimId, insurer, provider, patient, serviceKeys,
     * amounts, deadline)` under the domain `{name: "MedLedger Claims", version: "1", chainId,
     * verifyingContract: this}`; the claim id, used once, is its nonce.
     */
    struct Submission {
        bytes32 commitment;
        bytes cid;
        address provider;
        address patient;
        address submitter;
        bytes32[] serviceKeys;
        uint128[] amounts;
        uint64 deadline;
        bytes signature;
    }

    struct Claim {
        address insurer;
        address provider;
        address patient;
        address submitter;
        Status status;
        uint64 submittedAt;
        uint128 claimedAmount;
        uint128 approvedAmount;
        bytes32 commitment;
        bytes cid;
    }

    struct Decision {
        address adjuster;
        uint64 decidedAt;
        bytes32 commitment;
        bytes cid;
        bytes32[] reasons;
    }

    struct Settlement {
        address adjuster;
        uint64 settledAt;
        bytes32 commitment;
        bytes cid;
    }

    /// @dev `caller` is neither an active hospital nor an active pharmacy, so it cannot be paid.
    error ClaimCallerNotPayee(address caller);

    /// @dev `paymentId` has already been recorded.
    error ClaimPaymentAlreadyRecorded(bytes32 paymentId);

    /// @dev The commitment given is zero.
    error ClaimEmptyCommitment();

    /// @dev The content id given is empty.
    error ClaimEmptyCid();

    /// @dev `keys` service keys and `amounts` amounts: they must be equal in number, from 1 to the maximum.
    error ClaimBadItems(uint256 keys, uint256 amounts);

    /// @dev Item `index` has a zero service key or a zero amount.
    error ClaimEmptyItem(uint256 index);

    /// @dev `serviceKey` already has a capacity: a service is paid for, and so claimable, once.
    error ClaimServiceKeyTaken(bytes32 serviceKey);

    /// @dev `serviceKey` appears twice in one payment or claim.
    error ClaimRepeatedServiceKey(bytes32 serviceKey);

    /// @dev `caller` is not an active insurer.
    error ClaimCallerNotInsurer(address caller);

    /// @dev `claimId` has already been submitted.
    error ClaimAlreadySubmitted(bytes32 claimId);

    /// @dev The patient pseudonym given is the zero address.
    error ClaimZeroPatient();

    /// @dev `provider` is neither an active hospital nor an active pharmacy.
    error ClaimProviderNotMember(address provider);

    /// @dev `submitter` is neither the patient nor active clerk, doctor or pharmacist staff of `provider`.
    error ClaimSubmitterNotPermitted(address submitter, address provider);

    /// @dev `patient` has no claim-verification grant in force for `insurer` over their claims at `provider`.
    error ClaimNotAuthorised(address insurer, address patient, address provider);

    /// @dev No payment registered a capacity under `serviceKey`.
    error ClaimUnknownServiceKey(bytes32 serviceKey);

    /// @dev The service under `serviceKey` was not paid to `provider` for `patient`, so their claim cannot draw on it.
    error ClaimServiceNotPaidTo(bytes32 serviceKey, address provider, address patient);

    /// @dev `signature` is not `submitter`'s authorisation of this claim, to this insurer, on these items.
    error ClaimAuthorisationInvalid(address submitter);

    /// @dev The submitter's authorisation was valid until `deadline`, before the block's time.
    error ClaimAuthorisationExpired(uint64 deadline);

    /// @dev `claimId` has never been submitted.
    error ClaimUnknown(bytes32 claimId);

    /// @dev `caller` is not the insurer `claimId` was submitted to, or that insurer is not active.
    error ClaimNotInsurer(bytes32 claimId, address caller);

    /// @dev `adjuster` is not active clerk staff of `insurer`.
    error ClaimAdjusterNotPermitted(address adjuster, address insurer);

    /// @dev `claimId` is in status `current`, from which the action asked for does not lead.
    error ClaimUnexpectedStatus(bytes32 claimId, Status current);

    /// @dev Item `index` approves `approved`, more than the `claimed` amount.
    error ClaimApprovedExceedsClaimed(uint256 index, uint128 approved, uint128 claimed);

    /// @dev A decision that denies or approves in part needs at least one reason code.
    error ClaimReasonRequired();

    /// @dev `payee` recorded `paymentId` from `patient` (its pseudonym at the payee), made by `method`,
    /// committed to as `commitment`.
    event PaymentRecorded(
        bytes32 indexed paymentId,
        address indexed payee,
        address patient,
        PaymentMethod method,
        bytes32 commitment,
        bytes cid
    );

    /// @dev `paymentId` of `payee` made the service under `serviceKey` claimable up to `amount`.
    event ClaimCapacityRegistered(
        bytes32 indexed serviceKey, address indexed payee, bytes32 indexed paymentId, uint128 amount
    );

    /// @dev `insurer` received `claimId` from `provider`'s `submitter` for `patient`, for `claimedAmount`.
    event ClaimSubmitted(
        bytes32 indexed claimId,
        address indexed insurer,
        address indexed provider,
        address patient,
        address submitter,
        uint128 claimedAmount,
        bytes32 commitment,
        bytes cid
    );

    /// @dev `insurer` decided `claimId` as `status`, approving `approvedAmount`, answered by a ClaimResponse.
    event ClaimDecided(
        bytes32 indexed claimId,
        address indexed insurer,
        address indexed provider,
        Status status,
        uint128 approvedAmount,
        bytes32 commitment,
        bytes cid
    );

    /// @dev A decision on `claimId` would have drawn beyond a service's capacity: it was claimed elsewhere.
    event ClaimDuplicateCaught(bytes32 indexed claimId, address indexed insurer, address indexed provider);

    /// @dev `insurer` paid `amount` on `claimId`, the payout recorded as a PaymentNotice.
    event ClaimSettled(
        bytes32 indexed claimId,
        address indexed insurer,
        address indexed provider,
        uint128 amount,
        bytes32 commitment,
        bytes cid
    );

    /**
     * @dev Records a payment to the caller from `patient` and registers one capacity per service it pays for,
     * claimable only by the caller's claims for `patient`.
     *
     * Requirements:
     * - the caller is an active hospital or pharmacy;
     * - `paymentId` has not been recorded; `patient` is nonzero; the commitment is nonzero and the cid nonempty;
     * - as many keys as amounts, from 1 to {maxItems}; no key zero, repeated or already registered; no amount 0.
     *
     * Emits a {PaymentRecorded} event, then a {ClaimCapacityRegistered} event per service.
     */
    function recordPayment(
        bytes32 paymentId,
        address patient,
        PaymentMethod method,
        bytes32 commitment,
        bytes calldata cid,
        bytes32[] calldata serviceKeys,
        uint128[] calldata amounts
    ) external;

    /**
     * @dev Anchors `claimId`, received by the calling insurer.
     *
     * Requirements:
     * - the caller is an active insurer; `claimId` has not been submitted;
     * - the commitment is nonzero, the cid nonempty, the patient nonzero;
     * - the provider is an active hospital or pharmacy; the submitter is the patient or its active clerk,
     *   doctor or pharmacist;
     * - `signature` is the submitter's authorisation of exactly this claim id, caller, provider, patient and
     *   items, and `deadline` has not passed;
     * - the patient has a grant in force opening their claims at the provider to the caller for claim
     *   verification ({IConsentRegistry-isAuthorisedForCategory});
     * - as many keys as amounts, from 1 to {maxItems}; no amount 0; every key registered and none repeated;
     * - every key's service was paid to the provider for the patient.
     *
     * Emits a {ClaimSubmitted} event.
     */
    function submitClaim(bytes32 claimId, Submission calldata submission) external;

    /**
     * @dev Decides `claimId` through the insurer's `adjuster`, approving `approved[i]` of item `i`. If any approved
     * amount exceeds what is left of its service's capacity, the claim becomes a Duplicate and draws nothing;
     * otherwise the approved amounts are drawn and the claim is Approved (all), Partial or Denied (nothing).
     * Returns the status, so a gateway can learn it by a call before it writes the ClaimResponse.
     *
     * Requirements:
     * - `claimId` has been submitted, to the caller, which is an active insurer, and is still Submitted;
     * - `adjuster` is active clerk staff of the caller;
     * - one approved amount per item, none above the claimed amount;
     * - the response commitment is nonzero and its cid nonempty;
     * - a Denied or Partial outcome carries at least one reason.
     *
     * Emits a {ClaimDecided} event, preceded by a {ClaimDuplicateCaught} event for a duplicate.
     */
    function decideClaim(
        bytes32 claimId,
        address adjuster,
        uint128[] calldata approved,
        bytes32[] calldata reasons,
        bytes32 responseCommitment,
        bytes calldata responseCid
    ) external returns (Status);

    /**
     * @dev Records that the insurer paid out the approved amount of `claimId`.
     *
     * Requirements:
     * - `claimId` has been submitted, to the caller, which is an active insurer;
     * - `adjuster` is active clerk staff of the caller;
     * - the claim is Approved or Partial;
     * - the commitment is nonzero and the cid nonempty.
     *
     * Emits a {ClaimSettled} event.
     */
    function settleClaim(bytes32 claimId, address adjuster, bytes32 commitment, bytes calldata cid) external;

    /**
     * @dev Returns `paymentId` as recorded; all zero if never recorded.
     *
     * Requirements: none. Emits nothing.
     */
    function payment(bytes32 paymentId) external view returns (Payment memory);

    /**
     * @dev Returns the capacity under `serviceKey`; all zero if none was registered.
     *
     * Requirements: none. Emits nothing.
     */
    function capacity(bytes32 serviceKey) external view returns (Capacity memory);

    /**
     * @dev Returns `claimId` as submitted, with its current status; all zero if never submitted.
     *
     * Requirements: none. Emits nothing.
     */
    function claim(bytes32 claimId) external view returns (Claim memory);

    /**
     * @dev Returns the items of `claimId`: service keys, claimed amounts, and approved amounts (empty until
     * decided, and for a duplicate).
     *
     * Requirements: none. Emits nothing.
     */
    function claimItems(bytes32 claimId)
        external
        view
        returns (bytes32[] memory serviceKeys, uint128[] memory amounts, uint128[] memory approved);

    /**
     * @dev Returns the decision on `claimId`; all zero until decided.
     *
     * Requirements: none. Emits nothing.
     */
    function decision(bytes32 claimId) external view returns (Decision memory);

    /**
     * @dev Returns the settlement of `claimId`; all zero until settled.
     *
     * Requirements: none. Emits nothing.
     */
    function settlement(bytes32 claimId) external view returns (Settlement memory);

    /**
     * @dev Returns the most items a payment or a claim may have, which bounds the gas of each.
     *
     * Requirements: none. Emits nothing.
     */
    function maxItems() external view returns (uint256);

    /**
     * @dev Returns the consent registry that claim-verification grants are asked of; fixed at deployment.
     *
     * Requirements: none. Emits nothing.
     */
    function consentRegistry() external view returns (IConsentRegistry);
}
