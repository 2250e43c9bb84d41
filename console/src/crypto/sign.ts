// One EIP-712 signer for every typed document the console signs: ethers hashes, its SigningKey signs
// (RFC 6979, low s, v of 27 or 28), the only form the gateway and the contracts accept.
import { SigningKey, TypedDataEncoder, type TypedDataDomain, type TypedDataField } from 'ethers'
import { fromHex, toHex } from './bytes'
import { SECP256K1_HALF_N } from './curve'

export type Types = Record<string, TypedDataField[]>

export function signTyped(
  privKey: Uint8Array,
  domain: TypedDataDomain,
  types: Types,
  message: Record<string, unknown>,
): string {
  const signature = new SigningKey(toHex(privKey)).sign(TypedDataEncoder.hash(domain, types, message))
  const serialized = signature.serialized
  const s = BigInt(toHex(fromHex(serialized).subarray(32, 64)))
  // ethers already normalises; a high s would be refused by every verifier, so never let one out.
  if (s > SECP256K1_HALF_N || (signature.v !== 27 && signature.v !== 28)) {
    throw new Error('signer produced a non-canonical signature')
  }
  return serialized
}

/** EIP-712 hashStruct of ``message``: the ids ConsentRegistry stores grants and appointments under. */
export function hashStruct(primaryType: string, types: Types, message: Record<string, unknown>): string {
  return TypedDataEncoder.hashStruct(primaryType, types, message)
}

/** A fresh 256-bit nonce, as a decimal string (it may exceed what JSON numbers carry exactly). */
export function randomNonce(): string {
  return BigInt(toHex(globalThis.crypto.getRandomValues(new Uint8Array(32)))).toString()
}

export function decimal(value: bigint | number | string, name: string, max: bigint): string {
  let n: bigint
  try {
    n = BigInt(value)
  } catch {
    throw new Error(`${name} is not an integer`)
  }
  if (typeof value === 'string' && !/^(0|[1-9][0-9]*)$/.test(value)) {
    throw new Error(`${name} is not a decimal integer`)
  }
  if (n < 0n || n > max) throw new Error(`${name} must be an integer from 0 to ${max}`)
  return n.toString()
}

export const UINT64_MAX = 2n ** 64n - 1n
export const UINT256_MAX = 2n ** 256n - 1n
