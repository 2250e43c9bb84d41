// The gateway's request signature (docs/authentication.md), for the shell until
// src/crypto/request.ts lands; then this file re-exports it.
import { SigningKey, TypedDataEncoder, computeAddress, hexlify, randomBytes, sha256 } from 'ethers'
import type { Domain } from './gateway'

const REQUEST_TYPES = {
  Request: [
    { name: 'method', type: 'string' },
    { name: 'path', type: 'string' },
    { name: 'bodyHash', type: 'bytes32' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'nonce', type: 'bytes32' },
  ],
}

export function signRequest(
  privateKey: Uint8Array,
  domain: Domain,
  request: { method: string; target: string; body: Uint8Array },
): Record<string, string> {
  const key = new SigningKey(privateKey)
  const nonce = hexlify(randomBytes(32))
  const timestamp = Math.floor(Date.now() / 1000)
  const digest = TypedDataEncoder.hash(domain, REQUEST_TYPES, {
    method: request.method.toUpperCase(),
    path: request.target,
    bodyHash: sha256(request.body),
    timestamp,
    nonce,
  })
  const signature = key.sign(digest).serialized
  return {
    'X-MedLedger-Signer': addressOf(key),
    'X-MedLedger-Timestamp': String(timestamp),
    'X-MedLedger-Nonce': nonce,
    'X-MedLedger-Signature': signature,
  }
}

function addressOf(key: SigningKey): string {
  return computeAddress(key.publicKey)
}
