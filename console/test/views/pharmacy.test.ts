// The counter's relayed signature: the hospital's GET signed for the hospital's domain (this
// gateway's with the hospital's address as salt) by the same key, under X-Relay- header names.
import { computeAddress, getAddress, verifyTypedData } from 'ethers'
import { describe, expect, test } from 'vitest'
import { fromHex, toHex } from '../../src/crypto/bytes'
import { REQUEST_TYPES, bodyHash } from '../../src/crypto/request'
import { gatewayEip712 } from '../../src/crypto/typed'
import { relayHeaders } from '../../src/views/pharmacy/counter'

const KEY = fromHex('0x' + '11'.repeat(32))
const HOSPITAL = getAddress('0x254f7596c3bd31d2d554918daafe4821c0a09ea2')
const PHARMACY = getAddress('0xa7e0ab1c2d3e4f5061728394a5b6c7d8e9f0f723')
const RX = '0x' + 'ab'.repeat(32)
const domain = {
  name: 'MedLedger Gateway',
  version: '1',
  chainId: 31337,
  verifyingContract: getAddress('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
  salt: '0x' + '00'.repeat(12) + PHARMACY.slice(2).toLowerCase(),
}

describe('relayHeaders', () => {
  const headers = relayHeaders(KEY, domain, HOSPITAL, RX)
  const get = (name: string) => headers[`X-Relay-MedLedger-${name}`]
  const message = {
    method: 'GET',
    path: `/v1/prescriptions/${RX}`,
    bodyHash: bodyHash(),
    timestamp: get('Timestamp'),
    nonce: get('Nonce'),
  }
  const signedFor = (salt: string) =>
    verifyTypedData(gatewayEip712({ ...domain, salt }), REQUEST_TYPES, message, get('Signature'))

  test('names only the four signing headers, each prefixed', () => {
    expect(Object.keys(headers).sort()).toEqual(
      ['Nonce', 'Signature', 'Signer', 'Timestamp'].map((n) => `X-Relay-MedLedger-${n}`),
    )
    expect(get('Signer')).toBe(computeAddress(toHex(KEY)))
  })

  test("signs the hospital's GET for the hospital's domain, not this gateway's", () => {
    expect(signedFor('0x' + '00'.repeat(12) + HOSPITAL.slice(2).toLowerCase())).toBe(computeAddress(toHex(KEY)))
    expect(signedFor(domain.salt)).not.toBe(computeAddress(toHex(KEY)))
  })
})
