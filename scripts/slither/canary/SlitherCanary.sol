// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/**
 * @dev Deliberately unsafe, never deployed: scripts/slither/check.py analyses it to prove that its
 * Slither set-up reports a bug of each impact it gates on, before it trusts a clean result.
 */
contract SlitherCanary {
    address public owner;

    constructor() {
        owner = msg.sender;
    }

    receive() external payable {}

    /// @dev tx-origin (Medium): authorises by tx.origin; missing-zero-check (Low) on `newOwner`.
    function setOwner(address newOwner) external {
        if (tx.origin != owner) revert();
        owner = newOwner;
    }

    /// @dev arbitrary-send-eth (High): anyone may send the balance anywhere.
    function pay(address payable to) external {
        (bool sent,) = to.call{value: address(this).balance}("");
        if (!sent) revert();
    }
}
