// The patient's wallet's pure parts: the envelope CID it checks against the anchor (the same as
// ledger/store/cid.py gives), the consent summary in the catalogue's words, the FHIR key fields.
import { getAddress } from 'ethers'
import { describe, expect, test } from 'vitest'
import { categoryScope, recordScope } from '../../src/crypto'
import { setLang } from '../../src/lib/i18n'
import { setUtcOffset } from '../../src/lib/time'
import { keyFields } from '../../src/views/patient/fhir'
import { appointmentSummary, grantSummary } from '../../src/views/patient/summary'
import { cidOf, walletAt } from '../../src/views/patient/wallet'

const INSURER = getAddress('0xa7e0ab1c2d3e4f5061728394a5b6c7d8e9f0f723')
const HOSPITAL = getAddress('0x254f7596c3bd31d2d554918daafe4821c0a09ea2')
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`
const ORGS = [
  { org: INSURER, kind: 'insurer', usable: true },
  { org: HOSPITAL, kind: 'hospital', usable: true },
]
const RECORD = '0x' + 'ab'.repeat(31) + 'cd'
// 2026-12-31 24:00 in UTC+8 is 2026-12-31T16:00:00Z.
const END_2026 = Date.UTC(2026, 11, 31, 16, 0, 0) / 1000

describe('the patient wallet', () => {
  test('the envelope CID is the one Python (ledger/store/cid.py) computes', () => {
    expect(cidOf(new TextEncoder().encode('hello'))).toBe('bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq')
    const bytes = new Uint8Array(768).map((_, i) => i % 256)
    expect(cidOf(bytes)).toBe('bafkreihtujnksovc7o5crv4smbjvxplkl2ypyhbevcypatqswscmdx7dmm')
  })

  test('a grant reads, before signing, as the catalogue says it, in the configured zone', () => {
    setUtcOffset(480)
    setLang('zh-CN')
    const draft = { grantee: INSURER, scope: recordScope(RECORD), purpose: 'claim_verification' as const, expiresAt: END_2026 }
    expect(grantSummary(draft, ORGS)).toBe(`保险机构 ${short(INSURER)} 可以为理赔核验 读取 您的记录 0xabab…abcd，直到 2026-12-31 24:00 (UTC+8)`)
    setLang('en')
    const category = { ...draft, scope: categoryScope('prescriptions', HOSPITAL), purpose: 'treatment' as const }
    expect(grantSummary(category, ORGS)).toBe(
      `Insurer ${short(INSURER)} may read your prescriptions at Hospital ${short(HOSPITAL)} for treatment, until 2026-12-31 24:00 (UTC+8)`,
    )
    expect(appointmentSummary(INSURER, 'guardian', END_2026)).toBe(`${short(INSURER)} acts for you as guardian, until 2026-12-31 24:00 (UTC+8)`)
    setLang('zh-CN')
  })

  test('a listed grant (wire form) reads the same as the draft it came from', () => {
    setLang('zh-CN')
    const wire = { grantee: INSURER, scope_kind: 'record', scope: RECORD, purpose: 'claim_verification', expires_at: END_2026 }
    expect(grantSummary(wire, ORGS)).toContain('可以为理赔核验 读取 您的记录 0xabab…abcd')
  })

  test('the pseudonym is per hospital and its gateway signs as it', () => {
    const master = new Uint8Array(32).fill(7)
    const domain = { name: 'MedLedger Gateway', version: '1', chainId: 1, verifyingContract: HOSPITAL, salt: '0x' + '00'.repeat(12) + HOSPITAL.slice(2) }
    const a = walletAt(master, HOSPITAL, domain)
    const b = walletAt(master, INSURER, domain)
    expect(a.pseudonym).not.toBe(b.pseudonym)
    expect(a.encryptionKey).toMatch(/^0x[0-9a-f]{64}$/)
  })

  test('a FHIR resource shows its key fields', () => {
    setLang('en')
    const fields = keyFields({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ display: 'Systolic blood pressure' }] },
      valueQuantity: { value: 152, unit: 'mmHg' },
    })
    expect(fields).toEqual([
      ['patient.fhir.code', 'Systolic blood pressure'],
      ['patient.fhir.status', 'final'],
      ['patient.fhir.value', '152 mmHg'],
    ])
    expect(keyFields({ resourceType: 'Patient', name: [{ family: 'Li', given: ['Hua'] }] })).toEqual([['patient.fhir.name', 'Li Hua']])
    setLang('zh-CN')
  })
})
