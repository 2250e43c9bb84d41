"""Signed gateway requests: each check refuses exactly the tamper it names; nonces are used once."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys import KeyAPI
from eth_utils import keccak
from hypothesis import given, settings, strategies as st

from ledger.gateway.auth import (
    NONCE_HEADER,
    REQUEST_TYPES,
    SIGNATURE_HEADER,
    SIGNER_HEADER,
    TIMESTAMP_HEADER,
    AuthBadSignature,
    AuthExpired,
    AuthMalformed,
    AuthMissing,
    AuthReplayed,
    AuthSignerMismatch,
    GatewayDomain,
    SqliteNonceStore,
    recover_request,
    recover_typed_data,
    request_target,
    sign_request,
    verify_request,
)

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
DOMAIN = GatewayDomain(
    31337,
    "0x5fbdb2315678afecb367f032d93f642f64180aa3",  # type: ignore[arg-type]
    "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",  # type: ignore[arg-type]
)
STAFF: LocalAccount = Account.from_key(b"\x01" * 32)
OTHER: LocalAccount = Account.from_key(b"\x02" * 32)
NOW = 1_800_000_000
SKEW = 120
METHOD, PATH, BODY = "POST", "/v1/records?patient=0xabc&x=1", b'{"resourceType":"Patient"}'
NONCE = bytes(range(32))


def signed(
    account: LocalAccount = STAFF, *, timestamp: int = NOW, nonce: bytes = NONCE
) -> dict[str, str]:
    return sign_request(account, DOMAIN, METHOD, PATH, BODY, timestamp=timestamp, nonce=nonce)


@pytest.fixture
def nonces() -> SqliteNonceStore:
    return SqliteNonceStore(":memory:")


@pytest.fixture
def verify(nonces: SqliteNonceStore) -> Callable[..., str]:
    def run(
        headers: dict[str, str],
        method: str = METHOD,
        path: str = PATH,
        body: bytes = BODY,
        now: int = NOW,
    ) -> str:
        return verify_request(
            headers, DOMAIN, method, path, body, now=now, max_skew_s=SKEW, nonces=nonces
        )

    return run


def with_signature(headers: dict[str, str], signature: bytes) -> dict[str, str]:
    return {**headers, SIGNATURE_HEADER: "0x" + signature.hex()}


def rsv(headers: dict[str, str]) -> tuple[int, int, int]:
    raw = bytes.fromhex(headers[SIGNATURE_HEADER][2:])
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]


def pack(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def request_message() -> dict[str, object]:
    return {
        "method": METHOD,
        "path": PATH,
        "bodyHash": hashlib.sha256(BODY).digest(),
        "timestamp": NOW,
        "nonce": NONCE,
    }


# --- round trip and the wire format -------------------------------------------------------------


def test_signed_request_verifies_to_its_signer(verify: Callable[..., str]) -> None:
    assert verify(signed()) == STAFF.address


def test_headers_have_the_documented_shape() -> None:
    headers = signed()
    assert headers[SIGNER_HEADER] == STAFF.address
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers[NONCE_HEADER] == "0x" + NONCE.hex()
    assert len(headers[SIGNATURE_HEADER]) == 2 + 130


def test_digest_is_the_eip712_hash_of_the_documented_types() -> None:
    # Recomputed from the EIP-712 spec, not with eth-account, so another client can follow it.
    domain_type = (
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,"
        b"bytes32 salt)"
    )
    request_type = (
        b"Request(string method,string path,bytes32 bodyHash,uint64 timestamp,bytes32 nonce)"
    )
    separator = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address", "bytes32"],
            [
                keccak(domain_type),
                keccak(b"MedLedger Gateway"),
                keccak(b"1"),
                DOMAIN.chain_id,
                DOMAIN.verifying_contract,
                bytes(12) + bytes.fromhex(DOMAIN.gateway[2:]),
            ],
        )
    )
    struct = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "bytes32", "uint64", "bytes32"],
            [
                keccak(request_type),
                keccak(METHOD.encode()),
                keccak(PATH.encode()),
                hashlib.sha256(BODY).digest(),
                NOW,
                NONCE,
            ],
        )
    )
    digest = keccak(b"\x19\x01" + separator + struct)
    r, s, v = rsv(signed())
    signature = KeyAPI.Signature(vrs=(v - 27, r, s))
    assert signature.recover_public_key_from_msg_hash(digest).to_checksum_address() == STAFF.address


def test_method_is_signed_in_upper_case(verify: Callable[..., str]) -> None:
    headers = sign_request(STAFF, DOMAIN, "post", PATH, BODY, timestamp=NOW, nonce=NONCE)
    assert verify(headers, method="POST") == STAFF.address


def test_header_names_are_case_insensitive(verify: Callable[..., str]) -> None:
    assert verify({k.lower(): v for k, v in signed().items()}) == STAFF.address


@settings(max_examples=40, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    path=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1).map(
        lambda p: "/" + p
    ),
    body=st.binary(max_size=512),
    timestamp=st.integers(0, 2**64 - 1),
    nonce=st.binary(min_size=32, max_size=32),
)
def test_any_request_round_trips(
    method: str, path: str, body: bytes, timestamp: int, nonce: bytes
) -> None:
    headers = sign_request(STAFF, DOMAIN, method, path, body, timestamp=timestamp, nonce=nonce)
    store = SqliteNonceStore(":memory:")
    signer = verify_request(
        headers, DOMAIN, method, path, body, now=timestamp, max_skew_s=0, nonces=store
    )
    assert signer == STAFF.address


@settings(max_examples=40, deadline=None)
@given(body=st.binary(min_size=1, max_size=256), data=st.data())
def test_any_flipped_body_bit_is_signer_mismatch(body: bytes, data: st.DataObject) -> None:
    headers = sign_request(STAFF, DOMAIN, METHOD, PATH, body, timestamp=NOW, nonce=NONCE)
    bit = data.draw(st.integers(0, len(body) * 8 - 1))
    tampered = bytearray(body)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(AuthSignerMismatch):
        verify_request(
            headers,
            DOMAIN,
            METHOD,
            PATH,
            bytes(tampered),
            now=NOW,
            max_skew_s=SKEW,
            nonces=SqliteNonceStore(":memory:"),
        )


# --- each check refuses the tamper it names -----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("method", "PUT"),
        ("path", "/v1/records/other?patient=0xabc&x=1"),
        ("path", "/v1/records?patient=0xabc&x=2"),
        ("path", "/v1/records"),
        ("body", b'{"resourceType":"Patienu"}'),
        ("body", b""),
    ],
)
def test_altered_request_is_signer_mismatch(
    verify: Callable[..., str], field: str, value: str | bytes
) -> None:
    with pytest.raises(AuthSignerMismatch):
        verify(signed(), **{field: value})


def test_other_domain_is_signer_mismatch(nonces: SqliteNonceStore) -> None:
    other = GatewayDomain(DOMAIN.chain_id + 1, DOMAIN.verifying_contract, DOMAIN.gateway)
    with pytest.raises(AuthSignerMismatch):
        verify_request(signed(), other, METHOD, PATH, BODY, now=NOW, max_skew_s=SKEW, nonces=nonces)


def test_request_for_another_gateway_is_signer_mismatch(nonces: SqliteNonceStore) -> None:
    # A gateway that received a signed request must not be able to replay it at another one.
    other = GatewayDomain(DOMAIN.chain_id, DOMAIN.verifying_contract, OTHER.address)
    with pytest.raises(AuthSignerMismatch):
        verify_request(signed(), other, METHOD, PATH, BODY, now=NOW, max_skew_s=SKEW, nonces=nonces)


def test_signature_by_another_key_is_signer_mismatch(verify: Callable[..., str]) -> None:
    forged = {**signed(OTHER), SIGNER_HEADER: STAFF.address}
    with pytest.raises(AuthSignerMismatch):
        verify(forged)


@pytest.mark.parametrize("offset", [-SKEW - 1, SKEW + 1])
def test_timestamp_outside_skew_is_expired(verify: Callable[..., str], offset: int) -> None:
    with pytest.raises(AuthExpired):
        verify(signed(timestamp=NOW + offset))


@pytest.mark.parametrize("offset", [-SKEW, SKEW])
def test_timestamp_at_the_skew_edge_is_accepted(verify: Callable[..., str], offset: int) -> None:
    assert verify(signed(timestamp=NOW + offset)) == STAFF.address


def test_reused_nonce_is_replayed(verify: Callable[..., str]) -> None:
    verify(signed())
    with pytest.raises(AuthReplayed):
        verify(signed())


def test_same_nonce_from_two_signers_is_accepted(verify: Callable[..., str]) -> None:
    assert verify(signed(STAFF)) == STAFF.address
    assert verify(signed(OTHER)) == OTHER.address


def test_high_s_twin_is_bad_signature(verify: Callable[..., str]) -> None:
    headers = signed()
    r, s, v = rsv(headers)
    twin = pack(r, N - s, 55 - v)
    # The twin is a valid ECDSA signature by the same key: only the EIP-2 check stands in its way.
    signable = encode_typed_data(DOMAIN.as_eip712(), REQUEST_TYPES, request_message())
    assert Account.recover_message(signable, signature=twin) == STAFF.address
    with pytest.raises(AuthBadSignature, match="EIP-2"):
        verify(with_signature(headers, twin))


@pytest.mark.parametrize("v", [0, 1, 26, 29, 37, 255])
def test_v_other_than_27_or_28_is_bad_signature(verify: Callable[..., str], v: int) -> None:
    headers = signed()
    r, s, _ = rsv(headers)
    with pytest.raises(AuthBadSignature):
        verify(with_signature(headers, pack(r, s, v)))


@pytest.mark.parametrize("which", ["r=0", "s=0", "r=n"])
def test_out_of_range_r_or_s_is_bad_signature(verify: Callable[..., str], which: str) -> None:
    headers = signed()
    r, s, v = rsv(headers)
    r, s = {"r=0": (0, s), "s=0": (r, 0), "r=n": (N, s)}[which]
    with pytest.raises(AuthBadSignature):
        verify(with_signature(headers, pack(r, s, v)))


def test_signature_that_recovers_no_key_is_bad_signature(verify: Callable[..., str]) -> None:
    # An r that is the x of no curve point: x^3 + 7 is not a square mod p.
    r = next(x for x in range(1, 100) if pow(x**3 + 7, (P - 1) // 2, P) != 1)
    with pytest.raises(AuthBadSignature, match="does not recover"):
        verify(with_signature(signed(), pack(r, 1, 27)))


@pytest.mark.parametrize(
    "missing", [SIGNER_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER]
)
def test_absent_header_is_missing(verify: Callable[..., str], missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(AuthMissing, match=missing):
        verify(headers)


def test_unsigned_request_is_missing(verify: Callable[..., str]) -> None:
    with pytest.raises(AuthMissing):
        verify({"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (SIGNER_HEADER, "0x1234"),
        (SIGNER_HEADER, STAFF.address[2:]),
        (SIGNER_HEADER, STAFF.address[:-1] + "g"),
        (SIGNER_HEADER, "0x" + STAFF.address[2:].swapcase()),
        (TIMESTAMP_HEADER, ""),
        (TIMESTAMP_HEADER, "-1"),
        (TIMESTAMP_HEADER, "0" + str(NOW)),
        (TIMESTAMP_HEADER, f"{NOW}.5"),
        (TIMESTAMP_HEADER, str(2**64)),
        (NONCE_HEADER, "0x" + "00" * 31),
        (NONCE_HEADER, "00" * 32),
        (NONCE_HEADER, "0x" + "zz" * 32),
        (SIGNATURE_HEADER, "0x" + "00" * 64),
        (SIGNATURE_HEADER, "0x" + "0g" * 65),
    ],
)
def test_malformed_header_is_malformed(verify: Callable[..., str], header: str, value: str) -> None:
    with pytest.raises(AuthMalformed):
        verify({**signed(), header: value})


def test_repeated_header_is_malformed(verify: Callable[..., str]) -> None:
    headers = signed()
    with pytest.raises(AuthMalformed, match="repeated"):
        verify({**headers, SIGNER_HEADER.lower(): OTHER.address})


def test_lower_case_signer_is_accepted(verify: Callable[..., str]) -> None:
    headers = {**signed(), SIGNER_HEADER: STAFF.address.lower()}
    assert verify(headers) == STAFF.address


def test_checks_run_in_the_documented_order(
    verify: Callable[..., str], nonces: SqliteNonceStore
) -> None:
    headers = signed()
    r, s, v = rsv(headers)
    high_s = with_signature(headers, pack(r, N - s, 55 - v))
    stale = signed(timestamp=NOW - SKEW - 1)
    with pytest.raises(AuthMissing):
        verify({SIGNER_HEADER: "junk"})
    with pytest.raises(AuthMalformed):
        verify({**stale, NONCE_HEADER: "junk"})
    with pytest.raises(AuthExpired):
        verify(with_signature(stale, pack(r, N - s, 55 - v)))
    with pytest.raises(AuthBadSignature):
        verify({**high_s, SIGNER_HEADER: OTHER.address})
    nonces.consume(OTHER.address, NONCE, NOW + SKEW)
    with pytest.raises(AuthSignerMismatch):
        verify({**headers, SIGNER_HEADER: OTHER.address})


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: {**h, SIGNER_HEADER: OTHER.address},
        lambda h: {**h, TIMESTAMP_HEADER: str(NOW + SKEW + 1)},
        lambda h: with_signature(h, pack(rsv(h)[0], N - rsv(h)[1], 55 - rsv(h)[2])),
        lambda h: with_signature(h, pack(*rsv(h)[:2], 29)),
    ],
    ids=["signer", "timestamp", "high-s", "v"],
)
def test_rejected_request_does_not_consume_its_nonce(
    verify: Callable[..., str], tamper: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    headers = signed()
    with pytest.raises((AuthSignerMismatch, AuthExpired, AuthBadSignature)):
        verify(tamper(headers))
    assert verify(headers) == STAFF.address


# --- request_target and the domain --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "query", "target"),
    [
        ("/v1/records", "", "/v1/records"),
        (b"/v1/records", b"", "/v1/records"),
        (b"/v1/a%20b", b"q=%C3%A9+x&z=", "/v1/a%20b?q=%C3%A9+x&z="),
    ],
)
def test_request_target_is_path_and_query_as_sent(
    raw_path: str | bytes, query: str | bytes, target: str
) -> None:
    assert request_target(raw_path, query) == target


def test_non_ascii_request_target_is_malformed() -> None:
    with pytest.raises(AuthMalformed):
        request_target("/é".encode(), b"")


def test_domain_round_trips_through_its_json_form() -> None:
    assert GatewayDomain.from_eip712(DOMAIN.as_eip712()) == DOMAIN
    assert DOMAIN.verifying_contract == "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.mark.parametrize(
    "change",
    [{"name": "Other"}, {"version": "2"}, {"chainId": "31337"}, {"verifyingContract": None}],
)
def test_domain_of_another_kind_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="domain"):
        GatewayDomain.from_eip712({**DOMAIN.as_eip712(), **change})


# --- recover_typed_data, for other signed messages ----------------------------------------------

BIND_DOMAIN = {"name": "MedLedger Patient", "version": "1", "chainId": 31337}
BIND_TYPES = {
    "BindKey": [{"name": "pseudonym", "type": "address"}, {"name": "x25519", "type": "bytes32"}]
}
BIND = {"pseudonym": STAFF.address, "x25519": b"\x07" * 32}


def bind_signature(account: LocalAccount = STAFF) -> bytes:
    signable = encode_typed_data(BIND_DOMAIN, BIND_TYPES, BIND)
    return bytes(account.sign_message(signable).signature)


def test_typed_data_recovers_its_signer() -> None:
    signature = bind_signature()
    assert recover_typed_data(BIND_DOMAIN, BIND_TYPES, "BindKey", BIND, signature) == STAFF.address


def test_typed_data_accepts_the_hex_wire_form() -> None:
    signature = "0x" + bind_signature().hex()
    assert recover_typed_data(BIND_DOMAIN, BIND_TYPES, "BindKey", BIND, signature) == STAFF.address
    with pytest.raises(AuthMalformed):
        recover_typed_data(BIND_DOMAIN, BIND_TYPES, "BindKey", BIND, signature[2:])


def test_typed_data_high_s_twin_is_bad_signature() -> None:
    raw = bind_signature()
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    with pytest.raises(AuthBadSignature):
        recover_typed_data(BIND_DOMAIN, BIND_TYPES, "BindKey", BIND, pack(r, N - s, 55 - v))


@settings(max_examples=60, deadline=None)
@given(r=st.integers(1, N - 1), s=st.integers(N // 2 + 1, N - 1), v=st.sampled_from([27, 28]))
def test_any_upper_half_s_is_bad_signature(r: int, s: int, v: int) -> None:
    with pytest.raises(AuthBadSignature, match="EIP-2"):
        recover_typed_data(BIND_DOMAIN, BIND_TYPES, "BindKey", BIND, pack(r, s, v))


@pytest.mark.parametrize(
    ("domain", "message", "signature"),
    [
        (BIND_DOMAIN, BIND, b"\x01" * 64),
        ({**BIND_DOMAIN, "owner": "x"}, BIND, None),
        (BIND_DOMAIN, {"pseudonym": STAFF.address}, None),
    ],
    ids=["short-signature", "unknown-domain-field", "missing-field"],
)
def test_typed_data_that_cannot_be_checked_is_malformed(
    domain: dict[str, object], message: dict[str, object], signature: bytes | None
) -> None:
    with pytest.raises(AuthMalformed):
        recover_typed_data(domain, BIND_TYPES, "BindKey", message, signature or bind_signature())


# --- the nonce store ----------------------------------------------------------------------------


def test_nonce_is_accepted_once_per_signer(nonces: SqliteNonceStore) -> None:
    assert nonces.consume(STAFF.address, NONCE, NOW)
    assert not nonces.consume(STAFF.address, NONCE, NOW)
    assert nonces.consume(OTHER.address, NONCE, NOW)


def test_nonce_store_is_a_wal_file_that_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nonces.sqlite"
    with SqliteNonceStore(path) as store:
        assert store.consume(STAFF.address, NONCE, NOW)
    with SqliteNonceStore(path) as store:
        assert not store.consume(STAFF.address, NONCE, NOW)
    (mode,) = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_concurrent_consumers_accept_each_nonce_exactly_once(tmp_path: Path) -> None:
    # Two stores on one file stand for two worker processes; eight threads race on each nonce.
    path = tmp_path / "nonces.sqlite"
    stores = [SqliteNonceStore(path), SqliteNonceStore(path)]
    threads, rounds = 8, 200
    barrier = threading.Barrier(threads)
    wins = [[0] * rounds for _ in range(threads)]

    def race(worker: int) -> None:
        store = stores[worker % 2]
        for round_ in range(rounds):
            nonce = round_.to_bytes(32, "big")
            barrier.wait()
            wins[worker][round_] = int(store.consume(STAFF.address, nonce, NOW))

    pool = [threading.Thread(target=race, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert [sum(column) for column in zip(*wins, strict=True)] == [1] * rounds
    assert len(stores[0]) == rounds
    for store in stores:
        store.close()


def test_prune_forgets_only_nonces_past_expiry_and_retention() -> None:
    clock = [1000.0]
    store = SqliteNonceStore(":memory:", retain_s=10, clock=lambda: clock[0])
    store.consume(STAFF.address, b"\x01" * 32, 990)
    store.consume(STAFF.address, b"\x02" * 32, 1000)
    store.consume(STAFF.address, b"\x03" * 32, 2000)
    clock[0] = 1010.0
    assert store.prune() == 1
    assert not store.consume(STAFF.address, b"\x02" * 32, 1000)
    clock[0] = 1011.0
    assert store.prune() == 1
    assert len(store) == 1


def test_store_stays_bounded_by_live_nonces() -> None:
    clock = [0.0]
    store = SqliteNonceStore(":memory:", prune_every=10, retain_s=0, clock=lambda: clock[0])
    for second in range(1000):
        clock[0] = float(second)
        assert store.consume(STAFF.address, second.to_bytes(32, "big"), second + SKEW)
        assert len(store) <= SKEW + 1 + 10


def test_recover_request_checks_a_relayed_request_but_leaves_its_nonce_unused(
    verify: Callable[..., str],
) -> None:
    headers = signed()
    recovered = recover_request(headers, DOMAIN, METHOD, PATH, BODY, now=NOW, max_skew_s=SKEW)
    assert recovered == STAFF.address
    assert verify(headers) == STAFF.address  # the addressed gateway still consumes it, once
    with pytest.raises(AuthReplayed):
        verify(headers)


def test_recover_request_refuses_what_verify_request_refuses() -> None:
    other_gateway = GatewayDomain(
        DOMAIN.chain_id,
        DOMAIN.verifying_contract,
        "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",  # type: ignore[arg-type]
    )
    with pytest.raises(AuthSignerMismatch):
        recover_request(signed(), other_gateway, METHOD, PATH, BODY, now=NOW, max_skew_s=SKEW)
    with pytest.raises(AuthExpired):
        recover_request(signed(), DOMAIN, METHOD, PATH, BODY, now=NOW + SKEW + 1, max_skew_s=SKEW)
    with pytest.raises(AuthMissing):
        recover_request({}, DOMAIN, METHOD, PATH, BODY, now=NOW, max_skew_s=SKEW)
