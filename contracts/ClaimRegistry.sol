// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IClaimRegistry} from "./interfaces/IClaimRegistry.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipGated} from "./MembershipGated.sol";
import {MembershipRoles} from "./MembershipRoles.sol";
import {TypedData} from "./utils/TypedData.sol";

/**
 * @dev The claim registry: payments with their services' capacities, and claims from submission through the
 * insurer's decision to settlement.
 *
 * Trust split: the insurer's gateway checks what the chain cannot read (that the referenced anchors match
 * the claim's content, that the amounts agree with the payment, the insurer's coverage rules) and states
 * the approved amounts; the chain checks the patient's grant, who may act, and that no service is ever
 * approved beyond what was paid for it, across every insurer (docs/claims.md), that a claim draws only on
 * services paid to its provider for its patient, and that its submitter signed it.
 */
contract ClaimRegistry is IClaimRegistry, MembershipGated {
    /// @dev The most items a payment or claim may list; bounds each call's loops, not a policy.
    uint256 private constant _MAX_ITEMS = 32;

    bytes32 private constant _NAME_HASH = keccak256("MedLedger Claims");
    bytes32 private constant _VERSION_HASH = keccak256("1");
    bytes32 private constant _AUTHORISATION_TYPEHASH = keccak256(
        "ClaimAuthorisation(bytes32 claimId,address insurer,address provider,address patient,bytes32[] serviceKeys,uint128[] amounts,uint64 deadline)"
    );

    IConsentRegistry private immutable _consent;

    mapping(bytes32 paymentId => Payment) private _payments;
    mapping(bytes32 serviceKey => Capacity) private _capacities;
    mapping(bytes32 claimId => Claim) private _claims;
    mapping(bytes32 claimId => bytes32[]) private _itemKeys;
    mapping(bytes32 claimId => uint128[]) private _itemAmounts;
    mapping(bytes32 claimId => uint128[]) private _itemApproved;
    mapping(bytes32 claimId => Decision) private _decisions;
    mapping(bytes32 claimId => Settlement) private _settlements;

    /**
     * @dev Consults `membership_` for members and `consent_` for the patients' claim-verification grants.
     *
     * Requirements: none. Emits nothing.
     */
    constructor(IMembership membership_, IConsentRegistry consent_) MembershipGated(membership_) {
        _consent = consent_;
    }

    /// @inheritdoc IClaimRegistry
    function recordPayment(
        bytes32 paymentId,
        address patient,
        PaymentMethod method,
        bytes32 commitment,
        bytes calldata cid,
        bytes32[] calldata serviceKeys,
        uint128[] calldata amounts
    ) public {
        if (!_isPayee(msg.sender)) revert ClaimCallerNotPayee(msg.sender);
        _recordPayment(paymentId, patient, method, commitment, cid);
        _registerCapacities(paymentId, patient, serviceKeys, amounts);
    }

    /// @inheritdoc IClaimRegistry
    function submitClaim(bytes32 claimId, Submission calldata s) public {
        if (!membership().isActiveOrganisationOfKind(msg.sender, IMembership.OrgKind.Insurer)) {
            revert ClaimCallerNotInsurer(msg.sender);
        }
        _submit(claimId, s);
    }

    /// @inheritdoc IClaimRegistry
    function decideClaim(
        bytes32 claimId,
        address adjuster,
        uint128[] calldata approved,
        bytes32[] calldata reasons,
        bytes32 responseCommitment,
        bytes calldata responseCid
    ) public returns (Status status) {
        Claim storage c = _insurersClaim(claimId, adjuster);
        if (c.status != Status.Submitted) revert ClaimUnexpectedStatus(claimId, c.status);
        _checkContent(responseCommitment, responseCid);
        status = _draw(claimId, c, approved, reasons.length != 0);
        _decisions[claimId] = Decision(adjuster, uint64(block.timestamp), responseCommitment, responseCid, reasons);
        emit ClaimDecided(claimId, c.insurer, c.provider, status, c.approvedAmount, responseCommitment, responseCid);
    }

    /// @inheritdoc IClaimRegistry
    function settleClaim(bytes32 claimId, address adjuster, bytes32 commitment, bytes calldata cid) public {
        Claim storage c = _insurersClaim(claimId, adjuster);
        _checkContent(commitment, cid);
        _settle(claimId, c, adjuster, commitment, cid);
    }

    /// @inheritdoc IClaimRegistry
    function payment(bytes32 paymentId) public view returns (Payment memory) {
        return _payments[paymentId];
    }

    /// @inheritdoc IClaimRegistry
    function capacity(bytes32 serviceKey) public view returns (Capacity memory) {
        return _capacities[serviceKey];
    }

    /// @inheritdoc IClaimRegistry
    function claim(bytes32 claimId) public view returns (Claim memory) {
        return _claims[claimId];
    }

    /// @inheritdoc IClaimRegistry
    function claimItems(bytes32 claimId)
        public
        view
        returns (bytes32[] memory serviceKeys, uint128[] memory amounts, uint128[] memory approved)
    {
        return (_itemKeys[claimId], _itemAmounts[claimId], _itemApproved[claimId]);
    }

    /// @inheritdoc IClaimRegistry
    function decision(bytes32 claimId) public view returns (Decision memory) {
        return _decisions[claimId];
    }

    /// @inheritdoc IClaimRegistry
    function settlement(bytes32 claimId) public view returns (Settlement memory) {
        return _settlements[claimId];
    }

    /// @inheritdoc IClaimRegistry
    function maxItems() public pure returns (uint256) {
        return _MAX_ITEMS;
    }

    /// @inheritdoc IClaimRegistry
    function consentRegistry() public view returns (IConsentRegistry) {
        return _consent;
    }

    /**
     * @dev Stores `paymentId` as made to the caller by `patient`. Internal function without access restriction.
     *
     * Requirements: `paymentId` is new; `patient` nonzero; the commitment nonzero and the cid nonempty.
     *
     * Emits a {PaymentRecorded} event.
     */
    function _recordPayment(
        bytes32 paymentId,
        address patient,
        PaymentMethod method,
        bytes32 commitment,
        bytes calldata cid
    ) internal {
        // slither-disable-next-line timestamp - an existence check on the stored payee, not a time comparison; flagged because the function also reads block.timestamp
        if (_payments[paymentId].payee != address(0)) revert ClaimPaymentAlreadyRecorded(paymentId);
        if (patient == address(0)) revert ClaimZeroPatient();
        _checkContent(commitment, cid);
        _payments[paymentId] = Payment(msg.sender, method, uint64(block.timestamp), commitment, cid);
        emit PaymentRecorded(paymentId, msg.sender, patient, method, commitment, cid);
    }

    /**
     * @dev Registers one capacity per service key, paid to the caller for `patient`. Internal function without
     * access restriction.
     *
     * Requirements: as {recordPayment}'s on the items.
     *
     * Emits a {ClaimCapacityRegistered} event per key.
     */
    function _registerCapacities(
        bytes32 paymentId,
        address patient,
        bytes32[] calldata keys,
        uint128[] calldata amounts
    ) internal {
        _checkItems(keys, amounts);
        for (uint256 i = 0; i < keys.length; ++i) {
            if (_capacities[keys[i]].amount != 0) revert ClaimServiceKeyTaken(keys[i]);
            _capacities[keys[i]] = Capacity(msg.sender, patient, amounts[i], 0);
            emit ClaimCapacityRegistered(keys[i], msg.sender, paymentId, amounts[i]);
        }
    }

    /**
     * @dev Stores `claimId` as received by the caller. Internal function without access restriction on the
     * caller.
     *
     * Requirements: those of {submitClaim} after the caller's.
     *
     * Emits a {ClaimSubmitted} event.
     */
    function _submit(bytes32 claimId, Submission calldata s) internal {
        // slither-disable-next-line timestamp - an existence check on the stored status, not a time comparison; flagged because the function also reads block.timestamp
        if (_claims[claimId].status != Status.None) revert ClaimAlreadySubmitted(claimId);
        _checkContent(s.commitment, s.cid);
        if (s.patient == address(0)) revert ClaimZeroPatient();
        if (!_isPayee(s.provider)) revert ClaimProviderNotMember(s.provider);
        if (s.submitter != s.patient && !_isProviderStaff(s.provider, s.submitter)) {
            revert ClaimSubmitterNotPermitted(s.submitter, s.provider);
        }
        _checkAuthorisation(claimId, s);
        _checkGrant(s.patient, s.provider);
        _checkItems(s.serviceKeys, s.amounts);
        uint128 total = 0;
        for (uint256 i = 0; i < s.serviceKeys.length; ++i) {
            _checkDrawable(s.serviceKeys[i], s.provider, s.patient);
            total += s.amounts[i];
        }
        Claim storage c = _claims[claimId];
        c.insurer = msg.sender;
        c.provider = s.provider;
        c.patient = s.patient;
        c.submitter = s.submitter;
        c.status = Status.Submitted;
        c.submittedAt = uint64(block.timestamp);
        c.claimedAmount = total;
        c.commitment = s.commitment;
        c.cid = s.cid;
        _itemKeys[claimId] = s.serviceKeys;
        _itemAmounts[claimId] = s.amounts;
        emit ClaimSubmitted(claimId, msg.sender, s.provider, s.patient, s.submitter, total, s.commitment, s.cid);
    }

    /**
     * @dev Sets a Submitted claim's outcome, drawing the approved amounts from the capacities unless one would
     * overdraw, which makes the claim a Duplicate that draws nothing. Internal function without access
     * restriction; the caller records the decision's content.
     *
     * Requirements: those of {decideClaim} on the amounts; `hasReason` unless all is approved or it is a duplicate.
     *
     * Emits a {ClaimDuplicateCaught} event for a duplicate.
     */
    function _draw(bytes32 claimId, Claim storage c, uint128[] calldata approved, bool hasReason)
        internal
        returns (Status status)
    {
        (uint128 total, bool overdraws) = _checkApproved(claimId, approved);
        if (overdraws) {
            c.status = Status.Duplicate;
            emit ClaimDuplicateCaught(claimId, c.insurer, c.provider);
            return Status.Duplicate;
        }
        status = total == 0 ? Status.Denied : total == c.claimedAmount ? Status.Approved : Status.Partial;
        if (status != Status.Approved && !hasReason) revert ClaimReasonRequired();
        bytes32[] storage keys = _itemKeys[claimId];
        for (uint256 i = 0; i < approved.length; ++i) {
            _capacities[keys[i]].claimed += approved[i];
        }
        _itemApproved[claimId] = approved;
        c.status = status;
        c.approvedAmount = total;
    }

    /**
     * @dev Marks an Approved or Partial claim Settled. Internal function without access restriction.
     *
     * Requirements: the claim is Approved or Partial.
     *
     * Emits a {ClaimSettled} event.
     */
    function _settle(bytes32 claimId, Claim storage c, address adjuster, bytes32 commitment, bytes calldata cid)
        internal
    {
        if (c.status != Status.Approved && c.status != Status.Partial) revert ClaimUnexpectedStatus(claimId, c.status);
        c.status = Status.Settled;
        _settlements[claimId] = Settlement(adjuster, uint64(block.timestamp), commitment, cid);
        emit ClaimSettled(claimId, c.insurer, c.provider, c.approvedAmount, commitment, cid);
    }

    /**
     * @dev Returns the approved total of `claimId` and whether any approved amount exceeds what is left of its
     * service's capacity.
     *
     * Requirements: one approved amount per item, none above the item's claimed amount.
     *
     * Emits nothing.
     */
    function _checkApproved(bytes32 claimId, uint128[] calldata approved)
        private
        view
        returns (uint128 total, bool overdraws)
    {
        bytes32[] storage keys = _itemKeys[claimId];
        uint128[] storage amounts = _itemAmounts[claimId];
        if (approved.length != keys.length) revert ClaimBadItems(keys.length, approved.length);
        for (uint256 i = 0; i < approved.length; ++i) {
            if (approved[i] > amounts[i]) revert ClaimApprovedExceedsClaimed(i, approved[i], amounts[i]);
            total += approved[i];
            Capacity storage cap = _capacities[keys[i]];
            if (approved[i] > cap.amount - cap.claimed) overdraws = true;
        }
    }

    /**
     * @dev Returns the claim `claimId` of the calling insurer, after checking `adjuster`.
     *
     * Requirements:
     * - `claimId` has been submitted, to the caller, which is an active insurer;
     * - `adjuster` is active clerk staff of the caller.
     *
     * Emits nothing.
     */
    function _insurersClaim(bytes32 claimId, address adjuster) private view returns (Claim storage c) {
        c = _claims[claimId];
        if (c.status == Status.None) revert ClaimUnknown(claimId);
        if (c.insurer != msg.sender || !membership().isActiveOrganisation(msg.sender)) {
            revert ClaimNotInsurer(claimId, msg.sender);
        }
        if (!membership().hasStaffRole(msg.sender, adjuster, MembershipRoles.CLERK)) {
            revert ClaimAdjusterNotPermitted(adjuster, msg.sender);
        }
    }

    /**
     * @dev Reverts unless `s.signature` is `s.submitter`'s EIP-712 authorisation of `claimId` on `s`'s provider,
     * patient and items, to the caller, and its deadline has not passed. The claim id is the authorisation's
     * nonce: a claim id is submitted once, so no signature is accepted twice.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkAuthorisation(bytes32 claimId, Submission calldata s) private view {
        // slither-disable-next-line timestamp - a deadline of seconds to days; a validator's drift of seconds is immaterial
        if (s.deadline < block.timestamp) revert ClaimAuthorisationExpired(s.deadline);
        bytes32 structHash = keccak256(
            abi.encode(
                _AUTHORISATION_TYPEHASH,
                claimId,
                msg.sender,
                s.provider,
                s.patient,
                keccak256(abi.encodePacked(s.serviceKeys)),
                keccak256(abi.encodePacked(s.amounts)),
                s.deadline
            )
        );
        bytes32 separator = TypedData.domainSeparator(_NAME_HASH, _VERSION_HASH, block.chainid, address(this));
        // slither-disable-next-line unused-return - the third value only details the error, and any error is refused alike
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(TypedData.digest(separator, structHash), s.signature);
        if (err != ECDSA.RecoverError.NoError || signer != s.submitter) revert ClaimAuthorisationInvalid(s.submitter);
    }

    /**
     * @dev Reverts unless a payment registered `key` and paid its service to `provider` for `patient`.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkDrawable(bytes32 key, address provider, address patient) private view {
        Capacity storage cap = _capacities[key];
        if (cap.amount == 0) revert ClaimUnknownServiceKey(key);
        if (cap.payee != provider || cap.patient != patient) revert ClaimServiceNotPaidTo(key, provider, patient);
    }

    /**
     * @dev Reverts unless `patient` has a claim-verification grant in force for the caller over their claims
     * at `provider`.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkGrant(address patient, address provider) private view {
        // slither-disable-next-line unused-return - only whether a grant is in force matters; which one is in the consent registry's events
        (bool authorised,) = _consent.isAuthorisedForCategory(
            msg.sender,
            patient,
            provider,
            uint8(IConsentRegistry.ScopeKind.Claims),
            uint8(IConsentRegistry.Purpose.ClaimVerification),
            uint64(block.timestamp)
        );
        if (!authorised) revert ClaimNotAuthorised(msg.sender, patient, provider);
    }

    /**
     * @dev Reverts unless the items are as many keys as amounts, 1 to {maxItems}, none zero, no key repeated.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkItems(bytes32[] calldata keys, uint128[] calldata amounts) private pure {
        if (keys.length != amounts.length || keys.length == 0 || keys.length > _MAX_ITEMS) {
            revert ClaimBadItems(keys.length, amounts.length);
        }
        for (uint256 i = 0; i < keys.length; ++i) {
            if (keys[i] == bytes32(0) || amounts[i] == 0) revert ClaimEmptyItem(i);
            for (uint256 j = 0; j < i; ++j) {
                if (keys[j] == keys[i]) revert ClaimRepeatedServiceKey(keys[i]);
            }
        }
    }

    /**
     * @dev Reverts on a zero commitment or an empty cid.
     *
     * Requirements: see above. Emits nothing.
     */
    function _checkContent(bytes32 commitment, bytes calldata cid) private pure {
        if (commitment == bytes32(0)) revert ClaimEmptyCommitment();
        if (cid.length == 0) revert ClaimEmptyCid();
    }

    /**
     * @dev Returns whether `account` is an active hospital or pharmacy: those who are paid and claim.
     *
     * Requirements: none. Emits nothing.
     */
    function _isPayee(address account) private view returns (bool) {
        IMembership register = membership();
        return register.isActiveOrganisationOfKind(account, IMembership.OrgKind.Hospital)
            || register.isActiveOrganisationOfKind(account, IMembership.OrgKind.Pharmacy);
    }

    /**
     * @dev Returns whether `account` is active clerk, doctor or pharmacist staff of `provider`.
     *
     * Requirements: none. Emits nothing.
     */
    function _isProviderStaff(address provider, address account) private view returns (bool) {
        return _hasEitherStaffRole(provider, account, MembershipRoles.CLERK, MembershipRoles.DOCTOR)
            || membership().hasStaffRole(provider, account, MembershipRoles.PHARMACIST);
    }
}
