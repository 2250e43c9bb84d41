// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {IMembershipGated} from "./interfaces/IMembershipGated.sol";
import {MembershipRoles} from "./MembershipRoles.sol";

/**
 * @dev Base for contracts that act on behalf of consortium members: holds the {IMembership} register.
 * Each derived contract raises its own component-prefixed errors from these answers.
 */
abstract contract MembershipGated is IMembershipGated {
    IMembership private immutable _membership;

    /**
     * @dev Fixes the membership register to consult.
     *
     * Requirements: none (a wrong address makes every gated call revert). Emits nothing.
     */
    constructor(IMembership membership_) {
        _membership = membership_;
    }

    /// @inheritdoc IMembershipGated
    function membership() public view returns (IMembership) {
        return _membership;
    }

    /**
     * @dev Returns whether `account` is active staff of the active organisation `org` with either role.
     *
     * Requirements: none. Emits nothing.
     */
    function _hasEitherStaffRole(address org, address account, bytes32 roleA, bytes32 roleB)
        internal
        view
        returns (bool)
    {
        return _membership.hasStaffRole(org, account, roleA) || _membership.hasStaffRole(org, account, roleB);
    }

    /**
     * @dev Returns whether `account` holds the regulator role in the membership register, so that the
     * regulators of the consortium are granted and revoked in one place.
     *
     * Requirements: none. Emits nothing.
     */
    function _isRegulator(address account) internal view returns (bool) {
        return IAccessControl(address(_membership)).hasRole(MembershipRoles.REGULATOR, account);
    }

    /**
     * @dev Returns whether `account` is the admin account of the organisation `org` (zero if never admitted).
     *
     * Requirements: none. Emits nothing.
     */
    function _isOrganisationAdmin(address org, address account) internal view returns (bool) {
        return account != address(0) && _membership.organisation(org).admin == account;
    }
}
