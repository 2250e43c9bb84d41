// The patient's keys at this hospital, derived in the page from the one secret of their key file
// (as ledger/consent/wallet.py does): the pseudonym the hospital knows them by, its X25519 key the
// records are sealed to, and a gateway client signing as that pseudonym. Nothing here leaves the
// page but signatures.
import {
  openRecord,
  parseEnvelope,
  pseudonymKey,
  publicIdentity,
  x25519FromEthKey,
  type ConsentDomain,
  type OpenedRecord,
} from '../../crypto'
import { sha256 } from '@noble/hashes/sha2.js'
import { Gateway, GatewayError, type Domain } from '../../lib/gateway'
import { signRequest } from '../../lib/sign'

export interface PatientWallet {
  hospital: string
  pseudonym: string
  encryptionKey: string
  key: Uint8Array
  gateway: Gateway
  domain: Domain
}

export function walletAt(master: Uint8Array, hospital: string, domain: Domain): PatientWallet {
  const key = pseudonymKey(master, hospital)
  const identity = publicIdentity(master, hospital)
  return {
    hospital,
    pseudonym: identity.address,
    encryptionKey: identity.encryption_key,
    key,
    gateway: new Gateway(key, domain),
    domain,
  }
}

let consentDomain: Promise<ConsentDomain> | null = null

/** The ConsentRegistry's domain grants are signed under (GET /v1/consents/domain), asked once. */
export function consentDomainOf(wallet: PatientWallet): Promise<ConsentDomain> {
  consentDomain ??= wallet.gateway.get<ConsentDomain>('/v1/consents/domain').catch((err: unknown) => {
    consentDomain = null
    throw err
  })
  return consentDomain
}

/** The exact bytes of a signed GET (an envelope must be parsed as stored, not re-serialised). */
export async function rawGet(wallet: PatientWallet, target: string): Promise<Uint8Array> {
  const headers = { Accept: 'application/json', ...signRequest(wallet.key, wallet.domain, { method: 'GET', target, body: new Uint8Array() }) }
  let response: Response
  try {
    response = await fetch(target, { headers, redirect: 'error' })
  } catch (error) {
    throw new GatewayError(0, 'gateway.unreachable', String(error))
  }
  const bytes = new Uint8Array(await response.arrayBuffer())
  if (!response.ok) {
    const text = new TextDecoder().decode(bytes)
    let problem: Record<string, unknown> = {}
    try {
      problem = JSON.parse(text) as Record<string, unknown>
    } catch {
      // not problem+json: the status says enough
    }
    throw new GatewayError(
      response.status,
      typeof problem.code === 'string' ? problem.code : undefined,
      typeof problem.detail === 'string' ? problem.detail : text || response.statusText,
      problem,
    )
  }
  return bytes
}

export interface MyRecord {
  recordId: string
  version: number
  /** The envelope's own CID, computed here from the bytes the gateway served. */
  cid: string
  /** The resource and salt opened here, and the commitment recomputed (HMAC-SHA256 under the salt). */
  opened: OpenedRecord
}

/** Fetch a record's envelope and open it in the page, for the reader labelled by the pseudonym. */
export async function openMyRecord(wallet: PatientWallet, recordId: string): Promise<MyRecord> {
  const bytes = await rawGet(wallet, `/v1/records/${recordId}/envelope`)
  const envelope = parseEnvelope(bytes)
  const opened = await openRecord(envelope, x25519FromEthKey(wallet.key), wallet.pseudonym, {
    recordId,
    version: envelope.version,
  })
  return { recordId: envelope.recordId, version: envelope.version, cid: cidOf(bytes), opened }
}

/** The CID Kubo's `ipfs add --cid-version=1` gives one chunk (ledger/store/cid.py): CIDv1, raw
 * codec, sha2-256, base32 lower case without padding. */
export function cidOf(bytes: Uint8Array): string {
  const binary = new Uint8Array([0x01, 0x55, 0x12, 0x20, ...sha256(bytes)])
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let out = 'b'
  let buffer = 0
  let bits = 0
  for (const byte of binary) {
    buffer = ((buffer << 8) | byte) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += alphabet[(buffer >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31]
  return out
}
