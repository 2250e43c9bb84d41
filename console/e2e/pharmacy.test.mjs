// The pharmacist's counter: hospital B's doctor prescribes at hospital A under the filing and
// hospital A's pharmacist approves it (actors, as the demo does); pharmacy's pharmacist signs in
// at a desktop, sees it listed, opens its dispensing view and dispenses it, confirmed; pharmacy-b's
// pharmacist, on a phone at pharmacy-b's gateway, had it open too and is refused on dispensing,
// the refusal naming when it was dispensed, in Chinese and then in English. The dispensing view's
// relay carries two signatures by the pharmacist's key: its own gateway's and the hospital's.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DESKTOP, PHONE, actor, journey, signInAsStaff } from './harness.mjs'

test('a pharmacy dispenses an approved prescription and a second pharmacy is refused', async () => {
  const rx = actor('approved-prescription')
  assert.equal(rx.status, 'approved')
  const j = await journey('pharmacy', { viewport: DESKTOP })
  try {
    const a = await j.open('pharmacy', 'pharmacy')
    await a.locator('button[name=go-sign-in]').waitFor()
    await j.shot(a, 'sign-in-first')
    await signInAsStaff(a, 'pharmacy', 'pharmacist')
    const row = a.locator(`a.rx-open[href$="${rx.prescription_id}"]`)
    await row.waitFor({ timeout: 60_000 })
    await j.shot(a, 'queue')

    // Pharmacy B's pharmacist, on a phone, opens the same prescription before anyone dispensed it.
    const b = await j.open('pharmacy-b', 'pharmacy', { viewport: PHONE })
    // The shell listens for hash changes once it has loaded: a sign-in route sent before is lost.
    await b.locator('button[name=go-sign-in]').waitFor()
    await signInAsStaff(b, 'pharmacy-b', 'pharmacist')
    await b.locator(`a.rx-open[href$="${rx.prescription_id}"]`).click()
    await b.locator('.rx-drug').getByText('ramipril').waitFor({ timeout: 60_000 })
    await j.shot(b, 'pharmacy-b-phone-view')

    // The relay is signed twice by the pharmacist's one key: for this gateway, and for the hospital's.
    const viewPath = `/v1/counter/prescriptions/${rx.prescription_id}/view`
    const relayed = a.waitForRequest((request) => new URL(request.url()).pathname === viewPath)
    await row.click()
    await a.locator('.rx-drug').getByText('ramipril').waitFor({ timeout: 60_000 })
    const sent = await (await relayed).allHeaders()
    assert.ok(sent['x-medledger-signature'] && sent['x-relay-medledger-signature'], 'both signatures sent')
    assert.equal(sent['x-relay-medledger-signer'], sent['x-medledger-signer'], 'one key signs both')
    assert.notEqual(sent['x-relay-medledger-signature'], sent['x-medledger-signature'])
    assert.equal((await (await relayed).response())?.status(), 200)
    assert.equal(await a.getByText('I10').count(), 0, 'the dispensing view shows the diagnosis')
    await a.getByText('有效', { exact: true }).first().waitFor()
    await j.shot(a, 'dispensing-view')
    await a.locator('button[name=dispense]').click()
    await a.locator('button[name=confirm-dispense]').waitFor()
    await j.shot(a, 'confirm')
    await a.locator('button[name=confirm-dispense]').click()
    await a.getByText('已调配，并已记录在账本上').waitFor({ timeout: 60_000 })
    await a.locator('.badge', { hasText: /^已调配$/ }).waitFor()
    await j.shot(a, 'dispensed')
    await a.locator('button[name=back]').click()
    await a.locator('#rx-queue').waitFor()
    await a.locator('button[name=refresh]:not([disabled])').waitFor()
    assert.equal(await a.locator(`a.rx-open[href$="${rx.prescription_id}"]`).count(), 0)

    await b.locator('button[name=dispense]').click()
    await b.locator('button[name=confirm-dispense]').click()
    const refusal = b.getByRole('alert').filter({ hasText: 'prescription.already_dispensed' })
    await refusal.waitFor({ timeout: 60_000 })
    // The chain's record of the first dispense, read back: which pharmacy, and when.
    const first = b.locator('.rx-dispensed')
    await first.waitFor()
    assert.match(await first.innerText(), /已于 \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(UTC\+8\) 由其他药房调配/)
    await b.locator('.badge', { hasText: /^已调配$/ }).waitFor()
    assert.equal(await b.locator('button[name=dispense], button[name=confirm-dispense]').count(), 0)
    await j.shot(b, 'pharmacy-b-refused')
    await b.locator('button[name=language]').click()
    await b.getByText('by another pharmacy', { exact: false }).waitFor()
    await b.getByRole('alert').getByText('Another pharmacy has already dispensed this prescription.').waitFor()
    await j.shot(b, 'pharmacy-b-refused-en')
  } finally {
    await j.finish()
  }
})
