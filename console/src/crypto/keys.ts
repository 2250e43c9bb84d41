// Keys derived from the one secret in the patient's key file, exactly as ledger/crypto/keys.py
// derives them: HKDF-SHA256 (no salt) with a `medledger/v1/...` label, so each key has one use.
import { x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { computeAddress, getAddress } from 'ethers'
import { concat, fromHex, toHex, utf8 } from './bytes'
import { SECP256K1_N } from './curve'

const X25519_INFO = utf8('medledger/v1/x25519')
const PSEUDONYM_INFO = utf8('medledger/v1/pseudonym/')
const KEY_BYTES = 32

export interface PublicIdentity {
  address: string
  encryption_key: string
}

/** The patient's secp256k1 key at ``hospital`` (an address): unlinkable to their keys elsewhere.
 * Throws rather than re-derive when HKDF lands outside 1..n-1 (about 2**-128), as the Python does. */
export function pseudonymKey(master: Uint8Array, hospital: string): Uint8Array {
  const key = derive(secret(master, 'master secret'), concat(PSEUDONYM_INFO, hospitalBytes(hospital)))
  const k = BigInt(toHex(key))
  if (!(k > 0n && k < SECP256K1_N)) throw new Error('derived pseudonym key is outside the secp256k1 range')
  return key
}

/** The checksummed address the chain records as this patient at ``hospital``. */
export function pseudonymAddress(master: Uint8Array, hospital: string): string {
  return computeAddress(toHex(pseudonymKey(master, hospital)))
}

/** The X25519 private key (32 raw bytes) that belongs to an Ethereum private key. */
export function x25519FromEthKey(priv: Uint8Array): Uint8Array {
  return derive(secret(priv, 'private key'), X25519_INFO)
}

/** ``0x`` + hex of the raw 32-byte X25519 public key of ``x25519Priv``. */
export function x25519PublicHex(x25519Priv: Uint8Array): string {
  return toHex(x25519.getPublicKey(secret(x25519Priv, 'X25519 private key')))
}

/** What a patient hands a hospital for enrolment: the pseudonym's address and its X25519 key. */
export function publicIdentity(master: Uint8Array, hospital: string): PublicIdentity {
  const key = pseudonymKey(master, hospital)
  return { address: computeAddress(toHex(key)), encryption_key: x25519PublicHex(x25519FromEthKey(key)) }
}

function derive(ikm: Uint8Array, info: Uint8Array): Uint8Array {
  return hkdf(sha256, ikm, undefined, info, KEY_BYTES)
}

function secret(bytes: Uint8Array, name: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
    throw new Error(`${name} must be ${KEY_BYTES} bytes`)
  }
  return bytes
}

function hospitalBytes(hospital: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{40}$/.test(hospital)) throw new Error('hospital must be an Ethereum address')
  return fromHex(getAddress(hospital)) // getAddress refuses a mixed-case address with a bad checksum
}
