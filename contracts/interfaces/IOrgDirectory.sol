// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IMembershipGated} from "./IMembershipGated.sol";

/**
 * @dev The consortium's organisation directory: each active member publishes, for itself only, the
 * X25519 public key envelopes are sealed to and its content node's libp2p peer id and multiaddrs.
 * Readers take keys and peers from here instead of from hand-overs; an organisation that is not
 * active (suspended) keeps its entry but reads as not usable, so no one seals to it or dials it.
 */
interface IOrgDirectory is IMembershipGated {
    /// @dev One organisation's entry as last published.
    struct Entry {
        bytes32 encryptionKey;
        bytes peerId;
        bytes[] addrs;
        uint64 updatedAt;
    }

    /// @dev `caller` is not the account of an active organisation.
    error OrgDirectoryCallerNotMember(address caller);

    /// @dev `org` published an all-zero encryption key, which no envelope may be sealed to.
    error OrgDirectoryZeroEncryptionKey(address org);

    /// @dev The peer id is `length` bytes; at most `max` are kept.
    error OrgDirectoryPeerIdTooLong(uint256 length, uint256 max);

    /// @dev `count` addresses were given; at most `max` are kept.
    error OrgDirectoryTooManyAddresses(uint256 count, uint256 max);

    /// @dev Address number `index` is `length` bytes: empty, or longer than `max`.
    error OrgDirectoryAddressLength(uint256 index, uint256 length, uint256 max);

    /// @dev `org` has never published an entry.
    error OrgDirectoryUnknownOrganisation(address org);

    /// @dev `org` published (or replaced) its entry: its encryption key, peer id and addresses.
    event OrgDirectoryUpdated(address indexed org, bytes32 encryptionKey, bytes peerId, bytes[] addrs);

    /**
     * @dev Publishes the calling organisation's entry, replacing any earlier one. The peer id and the
     * address list may be empty (an organisation without a content node of its own).
     *
     * Requirements:
     * - the caller is an active organisation's account (its entry is its own: no one writes another's);
     * - `encryptionKey` is nonzero;
     * - `peerId` is at most {MAX_PEER_ID_BYTES} bytes;
     * - at most {MAX_ADDRS} addresses, each of 1 to {MAX_ADDR_BYTES} bytes.
     *
     * Emits an {OrgDirectoryUpdated} event.
     */
    function setEntry(bytes32 encryptionKey, bytes calldata peerId, bytes[] calldata addrs) external;

    /**
     * @dev Returns `org`'s entry and whether it is usable: `org` is an active organisation now.
     *
     * Requirements: `org` has published an entry. Emits nothing.
     */
    function entry(address org) external view returns (Entry memory entry_, bool usable);

    /**
     * @dev Returns every organisation that has published an entry, in order of first publication,
     * suspended ones included.
     *
     * Requirements: none. Emits nothing.
     */
    function organisations() external view returns (address[] memory);

    /**
     * @dev Returns the organisations with an entry that are active now: the peers a node dials and
     * the keys a writer may seal to.
     *
     * Requirements: none. Emits nothing.
     */
    function activePeers() external view returns (address[] memory);
}
