// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembership} from "./interfaces/IMembership.sol";
import {IOrgDirectory} from "./interfaces/IOrgDirectory.sol";
import {MembershipGated} from "./MembershipGated.sol";

/**
 * @dev The organisation directory: entries written by their own organisation only, read by all.
 * Sizes are bounded so that one member cannot make every reader's `activePeers` or `entry` costly.
 */
contract OrgDirectory is IOrgDirectory, MembershipGated {
    /// @dev A libp2p peer id is 38 bytes binary, 52 as base58 text; room for either and a key type.
    uint256 public constant MAX_PEER_ID_BYTES = 128;
    /// @dev Addresses an organisation may list: a few interfaces and transports, not a swarm.
    uint256 public constant MAX_ADDRS = 8;
    /// @dev A multiaddr such as /ip4/10.0.0.1/tcp/4001/p2p/<peer id> fits well within this.
    uint256 public constant MAX_ADDR_BYTES = 256;

    mapping(address org => Entry) private _entries;
    address[] private _organisations;

    /**
     * @dev Consults `membership_` for every write and for which entries are usable.
     *
     * Requirements: none. Emits nothing.
     */
    constructor(IMembership membership_) MembershipGated(membership_) {}

    /// @inheritdoc IOrgDirectory
    function setEntry(bytes32 encryptionKey, bytes calldata peerId, bytes[] calldata addrs) public {
        if (!membership().isActiveOrganisation(msg.sender)) revert OrgDirectoryCallerNotMember(msg.sender);
        _setEntry(msg.sender, encryptionKey, peerId, addrs);
    }

    /// @inheritdoc IOrgDirectory
    function entry(address org) public view returns (Entry memory entry_, bool usable) {
        entry_ = _entries[org];
        if (entry_.updatedAt == 0) revert OrgDirectoryUnknownOrganisation(org);
        usable = membership().isActiveOrganisation(org);
    }

    /// @inheritdoc IOrgDirectory
    function organisations() public view returns (address[] memory) {
        return _organisations;
    }

    /// @inheritdoc IOrgDirectory
    function activePeers() public view returns (address[] memory peers) {
        IMembership register = membership();
        uint256 total = _organisations.length;
        address[] memory found = new address[](total);
        uint256 count = 0;
        for (uint256 i = 0; i < total; ++i) {
            address org = _organisations[i];
            // slither-disable-next-line calls-loop - a view over the consortium's few hundred members, asking the fixed membership register, which never reverts on this call
            if (register.isActiveOrganisation(org)) found[count++] = org;
        }
        peers = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            peers[i] = found[i];
        }
    }

    /**
     * @dev Checks the bounds and stores `org`'s entry; an organisation is listed once, on its first
     * entry. Internal function without access restriction.
     *
     * Requirements: as {setEntry}, bar the caller check.
     *
     * Emits an {OrgDirectoryUpdated} event.
     */
    function _setEntry(address org, bytes32 encryptionKey, bytes calldata peerId, bytes[] calldata addrs)
        internal
    {
        if (encryptionKey == bytes32(0)) revert OrgDirectoryZeroEncryptionKey(org);
        if (peerId.length > MAX_PEER_ID_BYTES) revert OrgDirectoryPeerIdTooLong(peerId.length, MAX_PEER_ID_BYTES);
        if (addrs.length > MAX_ADDRS) revert OrgDirectoryTooManyAddresses(addrs.length, MAX_ADDRS);
        for (uint256 i = 0; i < addrs.length; ++i) {
            uint256 length = addrs[i].length;
            if (length == 0 || length > MAX_ADDR_BYTES) revert OrgDirectoryAddressLength(i, length, MAX_ADDR_BYTES);
        }
        Entry storage stored = _entries[org];
        if (stored.updatedAt == 0) _organisations.push(org);
        stored.encryptionKey = encryptionKey;
        stored.peerId = peerId;
        // Element by element: the legacy code generator cannot copy nested calldata arrays whole.
        delete stored.addrs;
        for (uint256 i = 0; i < addrs.length; ++i) {
            stored.addrs.push(addrs[i]);
        }
        stored.updatedAt = uint64(block.timestamp);
        emit OrgDirectoryUpdated(org, encryptionKey, peerId, addrs);
    }
}
