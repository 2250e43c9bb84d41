// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {MembershipRoles} from "./MembershipRoles.sol";
import {TypedData} from "./utils/TypedData.sol";

/**
 * @dev The consortium's membership register. The regulator (`REGULATOR_ROLE`) admits, suspends and
 * reinstates organisations; each organisation's admin registers, on the account's own signed consent, and
 * removes its staff. Other contracts ask it who may act: an organisation account sends transactions, naming
 * the staff member as author.
 */
contract Membership is IMembership, AccessControl, Nonces {
    bytes32 public constant REGULATOR_ROLE = MembershipRoles.REGULATOR;
    bytes32 public constant DOCTOR_ROLE = MembershipRoles.DOCTOR;
    bytes32 public constant PHARMACIST_ROLE = MembershipRoles.PHARMACIST;
    bytes32 public constant CLERK_ROLE = MembershipRoles.CLERK;
    bytes32 public constant AUDITOR_ROLE = MembershipRoles.AUDITOR;

    bytes32 private constant _NAME_HASH = keccak256("MedLedger Membership");
    bytes32 private constant _VERSION_HASH = keccak256("1");
    bytes32 private constant _JOIN_TYPEHASH = keccak256(
        "JoinOrganisation(address org,address account,bytes32 role,bytes32 licenceCommitment,uint256 nonce,uint64 deadline)"
    );

    mapping(address org => Organisation) private _organisations;
    mapping(address account => Staff) private _staff;

    /**
     * @dev Grants `DEFAULT_ADMIN_ROLE` and `REGULATOR_ROLE` to `regulator`.
     *
     * Requirements:
     * - `regulator` is nonzero.
     *
     * Emits two {IAccessControl-RoleGranted} events.
     */
    constructor(address regulator) {
        if (regulator == address(0)) revert MembershipZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, regulator);
        _grantRole(REGULATOR_ROLE, regulator);
    }

    /// @inheritdoc IMembership
    function admitOrganisation(address org, OrgKind kind, address admin) public onlyRole(REGULATOR_ROLE) {
        _admitOrganisation(org, kind, admin);
    }

    /// @inheritdoc IMembership
    function suspendOrganisation(address org) public onlyRole(REGULATOR_ROLE) {
        _suspendOrganisation(org);
    }

    /// @inheritdoc IMembership
    function reinstateOrganisation(address org) public onlyRole(REGULATOR_ROLE) {
        _reinstateOrganisation(org);
    }

    /// @inheritdoc IMembership
    function registerStaff(
        address org,
        address account,
        bytes32 role,
        bytes32 licenceCommitment,
        uint64 deadline,
        bytes calldata signature
    ) public {
        _checkOrganisationAdmin(org);
        _registerStaff(org, account, role, licenceCommitment);
        _useJoinConsent(org, account, role, licenceCommitment, deadline, signature);
    }

    /// @inheritdoc IMembership
    function nonces(address account) public view override(IMembership, Nonces) returns (uint256) {
        return super.nonces(account);
    }

    /// @inheritdoc IMembership
    function removeStaff(address org, address account) public {
        _checkOrganisationAdmin(org);
        _removeStaff(org, account);
    }

    /// @inheritdoc IMembership
    function organisation(address org) public view returns (Organisation memory) {
        return _organisations[org];
    }

    /// @inheritdoc IMembership
    function staff(address account) public view returns (Staff memory) {
        return _staff[account];
    }

    /// @inheritdoc IMembership
    function isActiveOrganisation(address org) public view returns (bool) {
        return _organisations[org].status == OrgStatus.Active;
    }

    /// @inheritdoc IMembership
    function isActiveOrganisationOfKind(address org, OrgKind kind) public view returns (bool) {
        return isActiveOrganisation(org) && _organisations[org].kind == kind;
    }

    /// @inheritdoc IMembership
    function hasStaffRole(address org, address account, bytes32 role) public view returns (bool) {
        Staff storage s = _staff[account];
        return s.active && s.org == org && s.role == role && isActiveOrganisation(org);
    }

    /// @inheritdoc IMembership
    function isActiveMember(address account) public view returns (bool) {
        Staff storage s = _staff[account];
        return isActiveOrganisation(account) || (s.active && isActiveOrganisation(s.org));
    }

    /**
     * @dev Records `org` as active. Internal function without access restriction.
     *
     * Requirements:
     * - `org` and `admin` are nonzero, `kind` is not `None`;
     * - `org` has not been admitted before.
     *
     * Emits an {OrganisationAdmitted} event.
     */
    function _admitOrganisation(address org, OrgKind kind, address admin) internal {
        if (org == address(0) || admin == address(0)) revert MembershipZeroAddress();
        if (kind == OrgKind.None) revert MembershipInvalidKind();
        if (_organisations[org].status != OrgStatus.None) revert MembershipOrganisationAlreadyAdmitted(org);
        _organisations[org] = Organisation({kind: kind, status: OrgStatus.Active, admin: admin});
        emit OrganisationAdmitted(org, kind, admin);
    }

    /**
     * @dev Suspends `org`. Internal function without access restriction.
     *
     * Requirements:
     * - `org` is admitted and active.
     *
     * Emits an {OrganisationSuspended} event.
     */
    function _suspendOrganisation(address org) internal {
        Organisation storage o = _admitted(org);
        if (o.status != OrgStatus.Active) revert MembershipOrganisationNotActive(org);
        o.status = OrgStatus.Suspended;
        emit OrganisationSuspended(org, _msgSender());
    }

    /**
     * @dev Reinstates `org`. Internal function without access restriction.
     *
     * Requirements:
     * - `org` is admitted and suspended.
     *
     * Emits an {OrganisationReinstated} event.
     */
    function _reinstateOrganisation(address org) internal {
        Organisation storage o = _admitted(org);
        if (o.status != OrgStatus.Suspended) revert MembershipOrganisationNotSuspended(org);
        o.status = OrgStatus.Active;
        emit OrganisationReinstated(org, _msgSender());
    }

    /**
     * @dev Records `account` as active staff of `org`. Internal function without access restriction.
     *
     * Requirements:
     * - `org` is active;
     * - `account` is nonzero and `role` is a staff role;
     * - `licenceCommitment` is nonzero for a doctor or a pharmacist;
     * - `account` is not active staff of any organisation.
     *
     * Emits a {StaffRegistered} event.
     */
    function _registerStaff(address org, address account, bytes32 role, bytes32 licenceCommitment) internal {
        if (!isActiveOrganisation(org)) revert MembershipOrganisationNotActive(org);
        if (account == address(0)) revert MembershipZeroAddress();
        if (!_isStaffRole(role)) revert MembershipUnknownRole(role);
        if (_isLicensedRole(role) && licenceCommitment == bytes32(0)) revert MembershipLicenceRequired(role);
        Staff storage s = _staff[account];
        if (s.active) revert MembershipStaffAlreadyRegistered(account, s.org);
        _staff[account] = Staff({org: org, role: role, licenceCommitment: licenceCommitment, active: true});
        emit StaffRegistered(org, account, role, licenceCommitment);
    }

    /**
     * @dev Uses up `account`'s current nonce on its signed consent to join `org` as `role`. Checked after the
     * registration's other requirements, so that a refusal names what was wrong with the request first.
     *
     * Requirements:
     * - `deadline` has not passed;
     * - `signature` recovers to `account` from its `JoinOrganisation` under this chain and contract.
     *
     * Emits nothing.
     */
    function _useJoinConsent(
        address org,
        address account,
        bytes32 role,
        bytes32 licenceCommitment,
        uint64 deadline,
        bytes calldata signature
    ) internal {
        // slither-disable-next-line timestamp - a deadline of minutes to days; a validator's drift of seconds is immaterial
        if (deadline < block.timestamp) revert MembershipJoinExpired(deadline);
        bytes32 structHash = keccak256(
            abi.encode(_JOIN_TYPEHASH, org, account, role, licenceCommitment, _useNonce(account), deadline)
        );
        bytes32 separator = TypedData.domainSeparator(_NAME_HASH, _VERSION_HASH, block.chainid, address(this));
        // slither-disable-next-line unused-return - the third value only details the error, and any error is refused alike
        (address signer, ECDSA.RecoverError err,) =
            ECDSA.tryRecoverCalldata(TypedData.digest(separator, structHash), signature);
        if (err != ECDSA.RecoverError.NoError || signer != account) revert MembershipJoinNotSigned(account);
    }

    /**
     * @dev Marks `account` as no longer staff of `org`, keeping its last entry readable through {staff}.
     *
     * Requirements:
     * - `account` is active staff of `org`.
     *
     * Emits a {StaffRemoved} event.
     */
    function _removeStaff(address org, address account) internal {
        Staff storage s = _staff[account];
        if (!s.active || s.org != org) revert MembershipUnknownStaff(account, org);
        s.active = false;
        emit StaffRemoved(org, account);
    }

    /**
     * @dev Reverts unless the caller is the admin of the admitted organisation `org`.
     *
     * Requirements:
     * - `org` is admitted;
     * - the caller is its admin.
     *
     * Emits nothing.
     */
    function _checkOrganisationAdmin(address org) internal view {
        if (_admitted(org).admin != _msgSender()) revert MembershipNotOrganisationAdmin(_msgSender(), org);
    }

    /**
     * @dev Returns the storage entry of `org`.
     *
     * Requirements:
     * - `org` is admitted.
     *
     * Emits nothing.
     */
    function _admitted(address org) private view returns (Organisation storage o) {
        o = _organisations[org];
        if (o.status == OrgStatus.None) revert MembershipUnknownOrganisation(org);
    }

    /**
     * @dev Returns whether `role` is one of the staff roles an organisation admin may grant.
     *
     * Requirements: none. Emits nothing.
     */
    function _isStaffRole(bytes32 role) internal pure returns (bool) {
        return role == DOCTOR_ROLE || role == PHARMACIST_ROLE || role == CLERK_ROLE || role == AUDITOR_ROLE;
    }

    /**
     * @dev Returns whether `role` is a licensed profession, whose staff carry a licence commitment.
     *
     * Requirements: none. Emits nothing.
     */
    function _isLicensedRole(bytes32 role) internal pure returns (bool) {
        return role == DOCTOR_ROLE || role == PHARMACIST_ROLE;
    }
}
