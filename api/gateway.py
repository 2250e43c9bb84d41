"""The gateway's parts, built once from settings: chain, store, record book, nonces, identity."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import deploy
from ledger.auth import GatewayDomain, SqliteNonceStore
from ledger.chain import Chain, connect
from ledger.errors import ConfigError
from ledger.keys import load_key, x25519_from_eth_key
from ledger.patients import PatientDirectory
from ledger.records import RecordBook
from ledger.settings import Settings
from ledger.store import ContentStore, open_store


@dataclass
class Gateway:
    """Everything a request handler needs, owned by the app for its lifetime."""

    settings: Settings
    chain: Chain
    store: ContentStore
    org: LocalAccount
    org_key: X25519PrivateKey
    patients: PatientDirectory
    nonces: SqliteNonceStore
    records: RecordBook

    @property
    def domain(self) -> GatewayDomain:
        return GatewayDomain(
            chain_id=self.chain.chain_id,
            verifying_contract=self.chain.deployment.address("Membership"),
            gateway=self.org.address,
        )

    def close(self) -> None:
        self.patients.close()
        self.nonces.close()
        self.store.close()


def build_gateway(settings: Settings) -> Gateway:
    """Connect to the chain and store named by ``settings`` and load the organisation's key."""
    if settings.org_key_file is None:
        raise ConfigError(
            "MEDLEDGER_ORG_KEY_FILE is not set: the gateway needs its organisation's key"
        )
    secret = load_key(settings.org_key_file, settings.org_key_passphrase.get_secret_value())
    org: LocalAccount = Account.from_key(secret)
    org_key = x25519_from_eth_key(secret)
    w3 = connect(settings.local_rpc_url)
    deployment = deploy.load_deployment(w3, settings.data_dir)
    chain = Chain(
        w3,
        deployment,
        org,
        tx_timeout_s=settings.tx_timeout_s,
        confirmations=settings.tx_confirmations,
    )
    store = open_store(
        settings.store_backend, path=settings.data_dir / "store", url=settings.kubo_url
    )
    db = settings.data_dir / "gateways" / f"{org.address}.sqlite"
    patients = PatientDirectory(db)
    records = RecordBook(
        chain,
        store,
        patients,
        org=org,
        org_key=org_key,
        max_payload_bytes=settings.max_payload_bytes,
    )
    return Gateway(settings, chain, store, org, org_key, patients, SqliteNonceStore(db), records)
