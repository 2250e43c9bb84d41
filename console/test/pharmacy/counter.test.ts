// The counter's own logic: expiries read as a day's 24:00, and the MedicationDispense built from
// the dispensing view the hospital gives (the drug, patient and quantity, never the diagnosis).
import { describe, expect, test } from 'vitest'
import { setUtcOffset } from '../../src/lib/time'
import { medicationDispense, medicationName, quantityText, type DispensingView } from '../../src/views/pharmacy/counter'
import { expiryText } from '../../src/views/pharmacy/Expiry'

describe('the counter', () => {
  test("the chain's last valid second reads as that day's 24:00, local time", () => {
    setUtcOffset(480)
    // 2026-12-03 23:59:59 at UTC+8 is 15:59:59Z.
    const last = Date.UTC(2026, 11, 3, 15, 59, 59) / 1000
    expect(expiryText(last)).toBe('2026-12-03 24:00 (UTC+8)')
    expect(expiryText(last - 59)).toBe('2026-12-03 23:59 (UTC+8)')
  })

  test('the dispense records what the prescription asked for, handed over now', () => {
    const ramipril = { system: 'http://www.whocc.no/atc', code: 'C09AA05', display: 'ramipril' }
    const view = {
      view: 'dispensing',
      resource: {
        resourceType: 'MedicationRequest',
        medicationCodeableConcept: { coding: [ramipril] },
        subject: { reference: 'Patient/p1' },
        dispenseRequest: { quantity: { value: 30, unit: 'TAB', code: 'TAB' } },
      },
    } as unknown as DispensingView
    const id = `0x${'ab'.repeat(32)}`
    const body = medicationDispense(id, view, new Date('2026-12-03T08:00:00.123Z'))
    expect(body).toEqual({
      resourceType: 'MedicationDispense',
      status: 'completed',
      medicationCodeableConcept: { coding: [ramipril] },
      subject: { reference: 'Patient/p1' },
      authorizingPrescription: [{ reference: `MedicationRequest/${id}` }],
      quantity: { value: 30, unit: 'TAB' },
      whenHandedOver: '2026-12-03T08:00:00Z',
    })
    expect(medicationName(view.resource)).toBe('ramipril')
    expect(quantityText(view.resource)).toBe('30 TAB')
  })
})
