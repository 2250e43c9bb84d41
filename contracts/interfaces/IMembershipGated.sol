// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembership} from "./IMembership.sol";

/// @dev A contract that consults the consortium's {IMembership} register before it lets anyone act.
interface IMembershipGated {
    /**
     * @dev Returns the membership register this contract consults; fixed at deployment.
     *
     * Requirements: none. Emits nothing.
     */
    function membership() external view returns (IMembership);
}
