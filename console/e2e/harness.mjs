// What every journey shares: Debian's Chromium driven by playwright-core against the real stack
// `medledger up` runs (tests/console/conftest.py starts it and writes the file MEDLEDGER_E2E
// names), screenshots under test-artifacts/console/<journey>/, the other parties' steps done by
// tests/console/actors (Python, as their own staff), and a guard that fails the journey on any
// request that would leave the machine, or any uncaught error in the page.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const stackFile = process.env.MEDLEDGER_E2E
if (!stackFile) throw new Error('MEDLEDGER_E2E names the stack file tests/console/conftest.py writes')
/** {consortium: data/demo/consortium.json as written, artifacts, python, repo, passphrase} */
export const STACK = JSON.parse(readFileSync(stackFile, 'utf8'))

export const PHONE = { width: 390, height: 844 }
export const DESKTOP = { width: 1280, height: 900 }
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

// The flags this machine needs (../shared/toolchain.md): no sandbox as root, and no background
// networking, which would otherwise try to reach Google's hosts.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export function gatewayUrl(org) {
  const url = STACK.consortium.orgs[org]?.gateway_url
  if (!url) throw new Error(`no gateway for ${org} in the stack`)
  return url
}

export function keyFile(org, label) {
  const staff = STACK.consortium.orgs[org]?.staff?.[label]
  if (!staff) throw new Error(`no staff ${label} at ${org}`)
  return staff.key_file
}

/** Another party's step, done in Python by tests/console/actors as that party's own staff. */
export function actor(command, args = {}) {
  const out = execFileSync(
    STACK.python,
    ['-m', 'tests.console.actors', command, JSON.stringify(args)],
    { cwd: STACK.repo, env: process.env, encoding: 'utf8', timeout: 180_000 },
  )
  return JSON.parse(out.trim().split('\n').pop())
}

/** A fresh browser for one journey: ``open(org, route)`` opens that gateway's console. */
export async function journey(name, { viewport = DESKTOP } = {}) {
  const dir = join(STACK.artifacts, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const browser = await chromium.launch({
    executablePath: process.env.MEDLEDGER_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: FLAGS, // playwright gives each launch a fresh, empty profile of its own
  })
  const outside = []
  const pageErrors = []
  const contexts = []
  let shots = 0

  async function open(org, route = '', options = {}) {
    const context = await browser.newContext({
      viewport: options.viewport ?? viewport,
      locale: options.locale ?? 'zh-CN',
      acceptDownloads: true,
    })
    contexts.push(context)
    await context.route('**/*', (r) => {
      const url = new URL(r.request().url())
      if (url.protocol === 'data:' || url.protocol === 'blob:' || LOCAL_HOSTS.has(url.hostname)) {
        return r.continue()
      }
      outside.push(url.href)
      return r.abort('blockedbyclient')
    })
    const page = await context.newPage()
    page.on('pageerror', (error) => pageErrors.push(`${org}: ${error.message}`))
    page.on('console', (message) => {
      // A refusal the journey provokes is logged by Chromium as a failed load: not a page error.
      if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) {
        pageErrors.push(`${org} console: ${message.text()}`)
      }
    })
    await page.goto(`${gatewayUrl(org)}/console/${route ? `#/${route}` : ''}`)
    return page
  }

  /** A full-page screenshot, numbered in the order taken: test-artifacts/console/<name>/NN-label.png */
  async function shot(page, label) {
    shots += 1
    const file = join(dir, `${String(shots).padStart(2, '0')}-${label}.png`)
    await page.screenshot({ path: file, fullPage: true })
    return file
  }

  /** Closes the browser; fails if the page sent anything off the machine or threw. ``expected``
   *  console errors (e.g. a refused request the journey provokes) are matched by RegExp. */
  async function finish({ expectedErrors = [] } = {}) {
    for (const context of contexts) await context.close()
    await browser.close()
    const unexpected = pageErrors.filter((e) => !expectedErrors.some((re) => re.test(e)))
    if (outside.length) throw new Error(`requests left the machine: ${outside.join(', ')}`)
    if (unexpected.length) throw new Error(`errors in the page: ${unexpected.join(' | ')}`)
  }

  return { open, shot, finish, dir }
}

/** Signs a staff member in on ``page`` with their demo key file (passphrase from the stack). */
export async function signInAsStaff(page, org, label) {
  await page.goto(`${gatewayUrl(org)}/console/#/sign-in`)
  await page.locator('input[name=keyfile]').setInputFiles(keyFile(org, label))
  await page.locator('input[name=passphrase]').fill(STACK.passphrase)
  await page.locator('button[name=sign-in]').click()
  await page.waitForFunction(() => !location.hash.includes('sign-in'), null, { timeout: 30_000 })
}
