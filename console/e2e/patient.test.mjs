// The patient's journey on a phone: a key made in the page, enrolment at hospital A (its clerk
// relays what the page signed), a record the doctor anchors opened in the page with the patient's
// own key, a grant to the insurer read in plain words before signing, the insurer's read, the
// revocation, the insurer refused, and both in "who accessed my data".
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Wallet } from 'ethers'
import { PHONE, STACK, actor, journey } from './harness.mjs'

const PASSPHRASE = 'li-hua-2026-wallet'

async function poll(page, refresh, found, timeoutMs = 90_000) {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (await found()) return
    if (Date.now() > until) throw new Error('timed out waiting for the page to show it')
    await page.waitForTimeout(2000)
    await page.locator(`button[name=${refresh}]`).click()
    await page.locator(`button[name=${refresh}][aria-busy=false]`).waitFor({ timeout: 30_000 })
  }
}

test('a patient keys, enrols, reads, grants, revokes and sees the insurer refused', async () => {
  const j = await journey('patient', { viewport: PHONE })
  const insurer = STACK.consortium.orgs.insurer.address
  const insurerLower = insurer.toLowerCase()
  try {
    const page = await j.open('hospital-a', 'patient')
    await page.locator('input[name=new-passphrase]').waitFor()
    await j.shot(page, 'key-create')
    await page.locator('input[name=new-passphrase]').fill(PASSPHRASE)
    await page.locator('input[name=new-passphrase-again]').fill(`${PASSPHRASE}x`)
    await page.locator('button[name=create-key]').click()
    await page.getByRole('alert').getByText('两次输入的口令不一致').waitFor()
    await page.locator('input[name=new-passphrase-again]').fill(PASSPHRASE)
    await page.locator('button[name=create-key]').click()
    await page.locator('button[name=continue]').waitFor({ timeout: 60_000 })
    const kept = await page.evaluate(() => localStorage.getItem('medledger.keystore.patient'))
    assert.ok(kept && (JSON.parse(kept).Crypto ?? JSON.parse(kept).crypto), 'the encrypted keystore is remembered')
    assert.ok(!kept.includes('privateKey'))
    await j.shot(page, 'key-created')
    await page.locator('button[name=continue]').click()

    const request = JSON.parse(await page.locator('textarea[name=enrolment-request]').inputValue())
    assert.match(request.pseudonym, /^0x[0-9a-fA-F]{40}$/)
    await j.shot(page, 'enrolment-signed')
    const enrolled = actor('patient-enrol', { request })
    assert.equal(enrolled.pseudonym.toLowerCase(), request.pseudonym.toLowerCase())
    const { record_id: recordId } = actor('patient-anchor', { pseudonym: request.pseudonym })

    await page.locator('button[name=tab-records]').click()
    await poll(page, 'refresh-records', () => page.locator(`button[name=open-${recordId}]`).isVisible())
    await page.locator(`button[name=open-${recordId}]`).click()
    const condition = page.locator('[data-resource-type=Condition]')
    await condition.getByText('Essential hypertension', { exact: true }).waitFor({ timeout: 30_000 })
    await page.locator('#opened .badge.ok').getByText('已验证').waitFor()
    assert.equal(await condition.count(), 1)
    assert.equal(await page.locator('#opened pre.json').isVisible(), false, 'the raw JSON is behind a toggle')
    await page.locator('#opened').scrollIntoViewIfNeeded()
    await j.shot(page, 'record-opened')

    await page.locator('button[name=tab-consent]').click()
    await page.locator('select[name=grantee]').selectOption(insurer)
    await page.locator('select[name=scope-kind]').selectOption('record')
    await page.locator('input[name=record-id]').fill(recordId)
    await page.locator('select[name=purpose]').selectOption('claim_verification')
    await page.locator('button[name=review-grant]').click()
    const summary = page.locator('[data-grant-summary]')
    await summary.waitFor()
    const words = await summary.innerText()
    assert.match(words, /^保险机构 0x/)
    assert.match(words, /可以为理赔核验 读取 您的记录 0x/)
    assert.match(words, /直到 \d{4}-\d{2}-\d{2} \d{2}:\d{2} \(UTC\+8\)$/)
    await j.shot(page, 'grant-summary')
    await page.locator('button[name=sign-grant]').click()
    await page.getByText('已授权').waitFor({ timeout: 60_000 })
    await page.locator('#grants').getByText('生效中').waitFor()
    await j.shot(page, 'grant-active')

    const read = actor('patient-insurer-read', { record_id: recordId })
    assert.equal(read.allowed, true, JSON.stringify(read))
    assert.ok(!read.kinds.includes('Patient'), 'the claim view withholds the Patient resource')

    await page.locator('#grants button[name^=revoke-]').click()
    await page.locator('#grants').getByText('已撤销').waitFor({ timeout: 60_000 })
    await j.shot(page, 'grant-revoked')
    const refused = actor('patient-insurer-read', { record_id: recordId })
    assert.equal(refused.allowed, false)
    assert.equal(refused.status, 403)

    actor('patient-break-glass', { record_id: recordId })

    await page.locator('button[name=tab-trail]').click()
    const byInsurer = (outcome) =>
      page.locator(`#trail td:has([data-org="${insurerLower}"])`).locator('xpath=..').locator(`[data-outcome${outcome}]`)
    await poll(page, 'refresh-trail', async () =>
      (await byInsurer('=allowed').count()) > 0 && (await byInsurer('^=denied').count()) > 0,
    )
    const hospitalB = STACK.consortium.orgs['hospital-b'].address.toLowerCase()
    await poll(page, 'refresh-trail', () => page.locator(`#trail .highlight[data-org="${hospitalB}"]`).isVisible())
    await page.locator('#trail').getByText('紧急访问（破窗）').first().waitFor()
    await j.shot(page, 'who-accessed')

    // A guardian appointed, read as a summary first, listed, and dismissed in one step.
    const guardian = Wallet.createRandom().address
    await page.locator('button[name=tab-agents]').click()
    await page.locator('input[name=agent]').fill(guardian)
    await page.locator('select[name=agent-kind]').selectOption('guardian')
    await page.locator('button[name=review-appointment]').click()
    assert.match(await page.locator('#agents .summary').innerText(), /作为您的监护人代您行事，直到 .* 24:00 \(UTC\+8\)$/)
    await page.locator('button[name=sign-appointment]').click()
    await page.locator('#appointments').getByText('生效中').waitFor({ timeout: 60_000 })
    await j.shot(page, 'guardian-appointed')
    await page.locator('#appointments button[name^=end-]').click()
    await page.locator('#appointments').getByText('已撤销').waitFor({ timeout: 60_000 })

    // The key file the CLI writes opens here, in English, to the pseudonym the Python derives.
    const cli = actor('patient-key-file', { passphrase: PASSPHRASE })
    const other = await j.open('hospital-a', 'patient')
    await other.locator('button[name=language]').click()
    await other.locator('input[name=patient-keyfile]').setInputFiles(cli.path)
    await other.locator('input[name=import-passphrase]').fill('wrong passphrase')
    await other.locator('button[name=import-key]').click()
    await other.getByRole('alert').getByText('Wrong passphrase for this key file.').waitFor({ timeout: 60_000 })
    await other.locator('input[name=import-passphrase]').fill(PASSPHRASE)
    await other.locator('button[name=import-key]').click()
    await other.locator(`[data-pseudonym="${cli.pseudonym}"]`).waitFor({ timeout: 60_000 })
    await j.shot(other, 'cli-key-imported-en')
  } finally {
    await j.finish()
  }
})
