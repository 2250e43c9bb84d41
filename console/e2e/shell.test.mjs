// The shell on a phone and a desktop: Chinese first with an English switch, the gateway's own
// facts, staff sign-in refusals, and /docs rendered from the gateway's own assets.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DESKTOP, PHONE, STACK, gatewayUrl, journey, keyFile } from './harness.mjs'

test('the console opens in Chinese on a phone, switches to English, and /docs works offline', async () => {
  const j = await journey('shell', { viewport: PHONE })
  try {
    const page = await j.open('hospital-a')
    await page.getByText('医院', { exact: false }).first().waitFor()
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN')
    await j.shot(page, 'hospital-console-zh')
    await page.locator('button[name=language]').click()
    await page.getByText('Hospital', { exact: false }).first().waitFor()
    assert.equal(await page.getAttribute('html', 'lang'), 'en')
    await j.shot(page, 'hospital-console-en')

    const response = await page.request.get(`${gatewayUrl('hospital-a')}/console/`)
    assert.match(response.headers()['content-security-policy'] ?? '', /default-src 'self'/)

    // A staff key with a wrong passphrase, then a pharmacy's pharmacist at the hospital's gateway.
    await page.goto(`${gatewayUrl('hospital-a')}/console/#/sign-in`)
    await page.locator('input[name=keyfile]').setInputFiles(keyFile('pharmacy', 'pharmacist'))
    await page.locator('input[name=passphrase]').fill(`${STACK.passphrase}wrong`)
    await page.locator('button[name=sign-in]').click()
    await page.getByRole('alert').getByText(/Wrong passphrase/).waitFor()
    await page.locator('input[name=passphrase]').fill(STACK.passphrase)
    await page.locator('button[name=sign-in]').click()
    await page.getByRole('alert').getByText(/auth\.wrong_organisation/).waitFor()
    await j.shot(page, 'sign-in-refused')

    const docs = await j.open('regulator', '', { viewport: DESKTOP })
    await docs.goto(`${gatewayUrl('regulator')}/docs`)
    await docs.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 })
    assert.ok((await docs.locator('.swagger-ui .opblock').count()) > 20)
    await j.shot(docs, 'api-docs-offline')
  } finally {
    await j.finish()
  }
})
