// The patient's (or staff member's) key file: a V3 keystore under scrypt, the format the CLI writes
// with `new_key_file` and reads with `load_key` (eth-account). ethers does the work.
import { decryptKeystoreJson, encryptKeystoreJson, getBytes, hexlify, computeAddress } from 'ethers'
import { randomBytes, utf8 } from './bytes'
import { SECP256K1_N } from './curve'

export type KeystoreFailure = 'passphrase' | 'format'

export class KeystoreError extends Error {
  readonly reason: KeystoreFailure
  /** The Python side's error code for the same refusal (ledger.errors.KeyFileError). */
  readonly code = 'crypto.key_file'

  constructor(reason: KeystoreFailure, message: string) {
    super(message)
    this.name = 'KeystoreError'
    this.reason = reason
  }
}

/** ethers' default scrypt cost (2**17, 128 MiB): what a phone can afford; eth-account's is 2**18. */
export const DEFAULT_SCRYPT_N = 131072

export interface CreatedKeystore {
  json: string
  address: string
  privateKey: Uint8Array
}

// eth-account hashes the passphrase's UTF-8 bytes as typed; ethers given a string would NFKC-normalise
// it first, so a full-width passphrase from a Chinese input method would open in one and not the other.
function passphraseBytes(passphrase: string): Uint8Array {
  return utf8(passphrase)
}

/** A new random key, and its V3 keystore under ``passphrase``. */
export async function createKeystore(
  passphrase: string,
  opts: { scryptN?: number } = {},
): Promise<CreatedKeystore> {
  let privateKey = randomBytes(32)
  while (!validKey(privateKey)) privateKey = randomBytes(32)
  const address = computeAddress(hexlify(privateKey))
  const json = await encryptKeystoreJson(
    { address, privateKey: hexlify(privateKey) },
    passphraseBytes(passphrase),
    { scrypt: { N: opts.scryptN ?? DEFAULT_SCRYPT_N } },
  )
  return { json, address, privateKey }
}

/** The private key in a V3 keystore; KeystoreError('passphrase') when the MAC does not match
 * (which is also what damaged ciphertext looks like), KeystoreError('format') for anything else. */
export async function openKeystore(json: string, passphrase: string): Promise<Uint8Array> {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    throw new KeystoreError('format', 'the key file is not JSON')
  }
  if (!isV3(parsed)) throw new KeystoreError('format', 'the key file is not a V3 keystore')
  let account
  try {
    account = await decryptKeystoreJson(json, passphraseBytes(passphrase))
  } catch (exc) {
    if (exc instanceof Error && /incorrect password/i.test(exc.message)) {
      throw new KeystoreError('passphrase', 'wrong passphrase, or the key file is damaged')
    }
    throw new KeystoreError('format', 'the key file is not a V3 keystore this page can read')
  }
  return getBytes(account.privateKey)
}

function isV3(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  // eth-account lower-cases the keys it reads; geth writes "crypto", ethers "Crypto".
  const crypto = record.crypto ?? record.Crypto
  return record.version === 3 && typeof crypto === 'object' && crypto !== null
}

function validKey(key: Uint8Array): boolean {
  const k = BigInt(hexlify(key))
  return k > 0n && k < SECP256K1_N
}
