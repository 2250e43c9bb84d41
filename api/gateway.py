"""The gateway's parts, built once from settings: chain, organisation directory, store, record and
prescription books, nonces, identity."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.audit.access_log import ACCESS_LOG_KIND, AccessEntry, AccessLog, SealedBatch
from ledger.audit.alerts import AlertStore
from ledger.audit.publishing import publish_batch, regulator_keys
from ledger.audit.supervision import Supervisor
from ledger.audit.supervision_rules import load_supervision_rules
from ledger.audit.trail_index import TrailIndex
from ledger.chain import deploy
from ledger.chain.connection import Chain, connect
from ledger.chain.directory import OrgDirectory
from ledger.claiming import load_coverage
from ledger.claiming.claims import ClaimBook
from ledger.claiming.payments import PaymentBook
from ledger.consent.emergency import Reason, load_reasons
from ledger.consent.patients import PatientDirectory
from ledger.consent.segmentation import shipped
from ledger.crypto.keys import load_key, x25519_from_eth_key
from ledger.errors import ConfigError, LedgerError
from ledger.gateway.auth import GatewayDomain, SqliteNonceStore
from ledger.network.anchored import ContentIndex
from ledger.network.peers import NodeRpc, publish_entry
from ledger.network.replication import ReplicationPolicy, Replicator
from ledger.prescribing import load_rules
from ledger.prescribing.book import PrescriptionBook
from ledger.records.batch_anchorer import BatchAnchorer
from ledger.records.batch_index import BatchIndex
from ledger.records.book import RecordBook
from ledger.records.bulk_sealing import BulkSealer
from ledger.records.outbox import Outbox
from ledger.records.writer_keys import retention_hold_s, writer_keys
from ledger.settings import Settings
from ledger.store import ContentStore, open_store
from ledger.types import OrgKind

log = logging.getLogger("medledger.gateway")


@dataclass
class Gateway:
    """Everything a request handler needs, owned by the app for its lifetime."""

    settings: Settings
    chain: Chain
    store: ContentStore
    org: LocalAccount
    org_key: X25519PrivateKey
    directory: OrgDirectory
    patients: PatientDirectory
    nonces: SqliteNonceStore
    records: RecordBook
    access_log: AccessLog
    prescriptions: PrescriptionBook
    payments: PaymentBook
    claims: ClaimBook
    outbox: Outbox
    anchorer: BatchAnchorer
    trail: TrailIndex
    replicator: Replicator | None = field(default=None)
    #: The rules engine, on a regulator's gateway only (ledger.audit.supervision).
    supervision: Supervisor | None = field(default=None)
    #: The break-glass reason codes of the settings' file, read once at start: a broken file
    #: stops the gateway there, not each emergency read with a 500.
    break_glass_reasons: dict[int, Reason] = field(default_factory=dict)

    @property
    def replicates(self) -> bool:
        """Whether this gateway's store is its own IPFS node, which keeps a share of the
        consortium's content (the replication worker runs only then)."""
        return self.replicator is not None and self.replicator.node is not None

    @property
    def domain(self) -> GatewayDomain:
        return GatewayDomain(
            chain_id=self.chain.chain_id,
            verifying_contract=self.chain.deployment.address("Membership"),
            gateway=self.org.address,
        )

    def seal_access_log(self) -> SealedBatch | None:
        """Anchor the oldest unsealed access entries as one batch (None when there are none)."""
        return self.access_log.seal(self._anchor_access_batch)

    def _anchor_access_batch(self, root: bytes, entries: Sequence[AccessEntry]) -> tuple[int, str]:
        try:  # learn the keys patients enrolled elsewhere; what is not had yet is not waited for
            self.trail.sync(retry_unavailable=False)
        except LedgerError as exc:
            log.warning("consortium trail not followed before sealing: %s", exc)
        manifest = publish_batch(
            entries,
            org=self.org.address,
            chain=self.chain,
            directory=self.directory,
            patients=self.patients,
            index=self.trail,
            store=self.store,
        )
        anchor = self.chain.contract("BatchAnchor")
        receipt = self.chain.transact(
            anchor.functions.anchorBatch(ACCESS_LOG_KIND, root, len(entries), manifest)
        )
        (event,) = anchor.events.BatchAnchored().process_receipt(receipt)
        return int(event["args"]["batchId"]), receipt["transactionHash"].to_0x_hex()

    def close(self) -> None:
        self.records.close()
        self.outbox.close()
        self.access_log.close()
        self.trail.close()
        if self.supervision is not None:
            self.supervision.alerts.close()
        self.patients.close()
        self.nonces.close()
        if self.replicator is not None:
            self.replicator.index.close()
            if self.replicator.node is not None:
                self.replicator.node.close()
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
    shipped()  # a fault in the views declaration stops the gateway here, not mid-request
    reasons = load_reasons(settings.break_glass_reasons_file)  # likewise a broken reasons file
    w3 = connect(settings.local_rpc_url)
    deployment = deploy.load_deployment(w3, settings.data_dir, chain_id=settings.chain_id)
    chain = Chain(
        w3,
        deployment,
        org,
        tx_timeout_s=settings.tx_timeout_s,
        gas_limit=settings.tx_gas_limit,
        confirmations=settings.tx_confirmations,
    )
    directory = OrgDirectory(chain)
    node = NodeRpc(settings.kubo_url) if settings.store_backend == "kubo" else None
    if chain.call(chain.contract("Membership").functions.isActiveOrganisation(org.address)):
        # What an admitted organisation publishes on admission, kept current on every start (a
        # call only, once the chain holds it): its envelope key and, when its store is its own IPFS
        # node, the node's peer id and dialable addresses (the replicator retries if it is down).
        publish_entry(directory, org_key, node, settings.ipfs_announce_addrs)
    store = open_store(
        settings.store_backend,
        path=settings.data_dir / "store",
        url=settings.kubo_url,
        fetch_timeout_s=settings.content_fetch_timeout_s,
    )
    db = settings.data_dir / "gateways" / f"{org.address}.sqlite"
    patients = PatientDirectory(db)
    outbox = Outbox(
        settings.record_outbox_path
        or settings.data_dir / "gateways" / f"{org.address}.outbox.sqlite"
    )
    records = RecordBook(
        chain,
        store,
        patients,
        org=org,
        org_key=org_key,
        max_payload_bytes=settings.max_payload_bytes,
        outbox=outbox,
        writer_keys=writer_keys(settings, org.address, org_key),
        batch_index=BatchIndex(
            chain,
            store,
            settings.data_dir / "gateways" / f"{org.address}.batches.sqlite",
            retry_after_s=settings.batch_manifest_retry_s,
        ),
        sealer=BulkSealer(
            settings.bulk_workers,
            max_bytes=settings.max_payload_bytes,
            store_root=settings.data_dir / "store"
            if settings.store_backend == "embedded"
            else None,
        ),
    )
    prescriptions = PrescriptionBook(
        chain,
        store,
        patients,
        records,
        org=org,
        org_key=org_key,
        directory=directory,
        rules=load_rules(settings.prereview_rules_file),
        zone=settings.zone,
        max_payload_bytes=settings.max_payload_bytes,
        signing_window_s=settings.prescription_signing_window_s,
        online_min_age_without_guardian=settings.online_min_age_without_guardian,
        supervisors=lambda: regulator_keys(chain, directory),
    )
    payments = PaymentBook(
        chain,
        store,
        patients,
        records,
        prescriptions,
        org=org,
        org_key=org_key,
        currency=settings.currency,
        max_payload_bytes=settings.max_payload_bytes,
    )
    claims = ClaimBook(
        chain,
        store,
        org=org,
        org_key=org_key,
        rules=load_coverage(settings.claim_rules_file),
        currency=settings.currency,
        max_payload_bytes=settings.max_payload_bytes,
    )
    access_log = AccessLog(db, batch_max=settings.access_log_batch_max)
    replicator = Replicator(
        directory,
        store,
        ContentIndex(chain, db),
        org=org.address,
        org_key=org_key,
        node=node,
        policy=ReplicationPolicy(
            factor=settings.replication_factor,
            interval_s=settings.replication_interval_s,
            retry_max_s=settings.replication_retry_max_s,
            pin_workers=settings.replication_pin_workers,
            retain_s=retention_hold_s(settings),
        ),
        announce=settings.ipfs_announce_addrs,
        block_time=lambda number: int(chain.w3.eth.get_block(number)["timestamp"]),
    )
    trail = TrailIndex(
        db,
        chain,
        store,
        org=org.address,
        key=org_key,
        retry_after_s=settings.access_trail_retry_s,
    )
    return Gateway(
        settings,
        chain,
        store,
        org,
        org_key,
        directory,
        patients,
        SqliteNonceStore(db),
        records,
        access_log,
        prescriptions,
        payments,
        claims,
        outbox,
        BatchAnchorer(
            chain,
            store,
            outbox,
            batch_max=settings.record_batch_max,
            interval_s=settings.record_batch_interval_s,
        ),
        trail,
        replicator,
        _supervision(settings, chain, store, trail, org, org_key),
        reasons,
    )


def _supervision(
    settings: Settings,
    chain: Chain,
    store: ContentStore,
    trail: TrailIndex,
    org: LocalAccount,
    org_key: X25519PrivateKey,
) -> Supervisor | None:
    """The rules engine, for a regulator's gateway; None for any other organisation's."""
    membership = chain.contract("Membership")
    kind, _status, _admin = chain.call(membership.functions.organisation(org.address))
    if OrgKind(kind) is not OrgKind.REGULATOR:
        return None
    rules = load_supervision_rules(settings.supervision_rules_file)
    if settings.profile == "production" and rules.example:
        raise ConfigError(
            "production needs MEDLEDGER_SUPERVISION_RULES_FILE (the bundled rules are examples)"
        )
    path = settings.supervision_db_path or (
        settings.data_dir / "gateways" / f"{org.address}.supervision.sqlite"
    )
    return Supervisor(
        chain,
        store,
        trail,
        AlertStore(path),
        org=org.address,
        org_key=org_key,
        rules=rules,
        interval_s=settings.supervision_interval_s,
        retry_s=settings.supervision_retry_s,
    )
