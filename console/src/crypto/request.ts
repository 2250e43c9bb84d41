// The gateway's request signature (ledger/gateway/auth.py, docs/authentication.md): EIP-712
// `Request(string method,string path,bytes32 bodyHash,uint64 timestamp,bytes32 nonce)` under the
// gateway's domain, sent as four X-MedLedger-* headers.
import { sha256 } from '@noble/hashes/sha2.js'
import { computeAddress } from 'ethers'
import { randomBytes, toHex, utf8 } from './bytes'
import { decimal, signTyped, UINT64_MAX, type Types } from './sign'
import { gatewayEip712, type GatewayDomain } from './typed'

export const SIGNER_HEADER = 'X-MedLedger-Signer'
export const TIMESTAMP_HEADER = 'X-MedLedger-Timestamp'
export const NONCE_HEADER = 'X-MedLedger-Nonce'
export const SIGNATURE_HEADER = 'X-MedLedger-Signature'

export const REQUEST_TYPES: Types = {
  Request: [
    { name: 'method', type: 'string' },
    { name: 'path', type: 'string' },
    { name: 'bodyHash', type: 'bytes32' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'nonce', type: 'bytes32' },
  ],
}

export interface RequestToSign {
  method: string
  /** The request target as sent: percent-encoded path, then ``?`` and the raw query if non-empty. */
  target: string
  /** The exact body bytes (a string is sent as its UTF-8); absent for no body. */
  body?: Uint8Array | string | null
  /** Seconds since the epoch; now by default. */
  timestamp?: number
  /** 32 bytes; fresh random bytes by default. */
  nonce?: Uint8Array
}

/** The signed ``path`` of a URL as fetch sends it: ``pathname`` plus ``search``. */
export function requestTarget(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url, 'http://gateway.invalid') : url
  return normaliseTarget(parsed.pathname + parsed.search)
}

/** SHA-256 of the exact body bytes; no body hashes as the empty string. */
export function bodyHash(body?: Uint8Array | string | null): string {
  const bytes = body == null ? new Uint8Array() : typeof body === 'string' ? utf8(body) : body
  return toHex(sha256(bytes))
}

/** The four headers that authenticate one request at the gateway whose domain is ``domain``. */
export function signRequest(
  privKey: Uint8Array,
  domain: GatewayDomain,
  request: RequestToSign,
): Record<string, string> {
  const now = Math.floor(Date.now() / 1000)
  const timestamp = decimal(request.timestamp ?? now, 'timestamp', UINT64_MAX)
  const nonce = request.nonce ?? randomBytes(32)
  if (nonce.length !== 32) throw new Error('nonce must be 32 bytes')
  const message = {
    method: request.method.toUpperCase(),
    path: normaliseTarget(request.target),
    bodyHash: bodyHash(request.body),
    timestamp,
    nonce: toHex(nonce),
  }
  return {
    [SIGNER_HEADER]: computeAddress(toHex(privKey)),
    [TIMESTAMP_HEADER]: timestamp,
    [NONCE_HEADER]: toHex(nonce),
    [SIGNATURE_HEADER]: signTyped(privKey, gatewayEip712(domain), REQUEST_TYPES, message),
  }
}

// The gateway signs-checks "/x?" as "/x" (servers cannot tell them apart once parsed).
function normaliseTarget(target: string): string {
  if (!/^[\x21-\x7e]*$/.test(target) || !target.startsWith('/')) {
    throw new Error('request target must be an ASCII path starting with /')
  }
  return target.endsWith('?') && target.indexOf('?') === target.length - 1 ? target.slice(0, -1) : target
}
