// The regulator's journey (desktop): a hospital files a practice filing [actor], the regulator's
// auditor signs in with their own key file, sees it waiting and approves it with a reason; the
// hospital reads it approved on chain [actor]; a second decision on it is refused, translated;
// then the regulator audits hospital A's trail (entries with their proofs checked in the page),
// looks at the organisations and figures, and opens the alerts page.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DESKTOP, PHONE, actor, journey, signInAsStaff, STACK } from './harness.mjs'

test('the regulator approves a filing with a reason and audits a trail', async () => {
  const filed = actor('regulator-new-filing')
  assert.equal(filed.status, 'pending')
  // A break-glass declaration [actor: hospital B's doctor, on a new record of hospital A], which
  // waits for the regulator's review (and fills hospital A's trail with the enrolment and record).
  const declared = actor('regulator-break-glass')
  const j = await journey('regulator', { viewport: DESKTOP })
  try {
    const page = await j.open('regulator', 'regulator')
    await page.locator('button[name=regulator-sign-in]').waitFor()
    await j.shot(page, 'sign-in-needed')
    await signInAsStaff(page, 'regulator', 'auditor')

    // The filing waits for a decision, in the default (pending) list.
    const decide = page.locator(`button[name=decide][data-filing="${filed.filing_id}"]`)
    await decide.waitFor({ timeout: 30_000 })
    await page.locator('#filings tbody .org-kind').first().waitFor() // institutions named by kind
    await j.shot(page, 'filing-waiting')
    await decide.click()
    await page.locator('#decision').waitFor()
    await page.locator('button[name=approve]').click() // no reason yet: refused in the page
    await page.locator('#decision [role=alert]').waitFor()
    await page.locator('input[name=reason]').fill('staffing-need')
    await j.shot(page, 'decision-with-reason')
    await page.locator('button[name=approve]').click()
    await page.locator('.notice.ok').waitFor({ timeout: 60_000 })
    await page.locator(`button[name=decide][data-filing="${filed.filing_id}"]`).waitFor({ state: 'detached' })
    await j.shot(page, 'filing-approved')

    // Hospital A reads the filing from the chain at its own gateway: approved.
    assert.equal(actor('regulator-filing', { filing_id: filed.filing_id }).status, 'approved')

    // A second decision on the decided filing: the chain refuses, the page says why.
    await page.locator('select[name=filing-status]').selectOption('approved')
    await page.locator(`button[name=decide][data-filing="${filed.filing_id}"]`).click()
    await page.locator('input[name=reason]').fill('second-look')
    await page.locator('button[name=reject]').click()
    const refusal = page.locator('#decision [role=alert]')
    await refusal.getByText('practice.filing_unexpected_status', { exact: false }).waitFor({ timeout: 60_000 })
    assert.match(await refusal.innerText(), /已有决定/)
    await j.shot(page, 'second-decision-refused')

    // The trail: hospital A's entries, each with its Merkle proof checked in the page.
    actor('regulator-await-trail', { clerk: filed.clerk })
    await page.locator('button[name=tab-trail]').click()
    await page.locator('select[name=trail-org]').selectOption(STACK.consortium.orgs['hospital-a'].address)
    await page.locator('button[name=trail-search]').click()
    const results = page.locator('#trail-results')
    await results.waitFor({ timeout: 60_000 })
    const filingRow = results.locator('tbody tr', { hasText: 'POST /v1/practice/filings' }).first()
    await filingRow.waitFor()
    await page.locator('button[name=trail-search]:not([disabled])').waitFor()
    assert.match(await filingRow.innerText(), /证明已校验/)
    assert.equal(await results.getByText('证明不符').count(), 0)
    await j.shot(page, 'trail-hospital-a')

    // Narrowed to the clerk who filed: only their entries, each still with its proof checked.
    await page.locator('input[name=trail-actor]').fill(filed.clerk)
    await page.locator('button[name=trail-search]').click()
    await page.waitForFunction((clerk) => {
      const actors = [...document.querySelectorAll('#trail-results tbody tr td:nth-child(3) code')]
      return actors.length > 0 && actors.every((c) => c.getAttribute('title')?.toLowerCase() === clerk.toLowerCase())
    }, filed.clerk, { timeout: 30_000 })
    await page.locator('button[name=trail-search]:not([disabled])').waitFor()
    const rows = await results.locator('tbody tr').allInnerTexts()
    assert.ok(rows.length >= 1 && rows.every((r) => r.includes('证明已校验')))
    await j.shot(page, 'trail-by-actor')

    await page.locator('button[name=tab-organisations]').click()
    await page.locator('#organisations tbody tr').nth(6).waitFor()
    await j.shot(page, 'organisations')

    await page.locator('button[name=tab-figures]').click()
    await page.locator('#figures tbody tr').first().waitFor({ timeout: 60_000 })
    await j.shot(page, 'figures')

    // The break-glass declaration: the regulator reviews it as not justified, and the rules
    // engine raises an alert with its evidence.
    await page.locator('button[name=tab-alerts]').click()
    await page.locator('#alerts table, #alerts .empty').first().waitFor({ timeout: 30_000 })
    const review = page.locator('#break-glass tbody tr', { hasText: declared.doctor.slice(0, 6) }).locator('button[name=review]')
    await review.first().waitFor({ timeout: 30_000 })
    await page.locator('#break-glass tbody .org-kind').first().waitFor() // institutions named by kind
    await j.shot(page, 'break-glass-to-review')
    await review.first().click()
    await page.locator('select[name=justified]').selectOption('no')
    await page.locator('input[name=note]').fill('no-emergency-found')
    await page.locator('button[name=send-review]').click()
    await page.locator('#break-glass tbody tr', { hasText: '不正当' }).first().waitFor({ timeout: 60_000 })
    const alertRow = page.locator('#alerts tbody tr', { hasText: 'bg-unjustified' })
    for (let tries = 0; tries < 60 && (await alertRow.count()) === 0; tries++) {
      await page.waitForTimeout(1000)
      await page.locator('button[name=alerts-refresh]').click()
    }
    await alertRow.first().locator('button[name=evidence]').click()
    await page.locator('#alert-evidence .evidence-item').first().waitFor()
    assert.match(await page.locator('#alert-evidence').innerText(), /BreakGlassRegistry\.BreakGlassReviewed/)
    assert.match(await page.locator('#alert-evidence').innerText(), /no-emergency-found/)
    await j.shot(page, 'alerts')

    await page.locator('button[name=language]').click()
    await page.getByText('Supervision alerts').waitFor()
    await j.shot(page, 'alerts-en')

    // The same console on a phone: the filings decided, as cards.
    const phone = await j.open('regulator', 'regulator', { viewport: PHONE })
    await phone.locator('button[name=regulator-sign-in]').waitFor() // the shell is listening
    await signInAsStaff(phone, 'regulator', 'auditor')
    await phone.locator('select[name=filing-status]').selectOption('all')
    await phone.locator(`button[name=decide][data-filing="${filed.filing_id}"]`).waitFor({ timeout: 30_000 })
    await j.shot(phone, 'phone-filings')
  } finally {
    await j.finish()
  }
})
