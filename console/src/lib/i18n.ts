// Every string the console shows comes from a message catalogue: Simplified Chinese by default,
// English on the switch. Catalogues are flat JSON per area (messages/<lang>/<area>.json) with full
// keys ("patient.grants.title"); "{name}" in a message is replaced by params.name.
import enCommon from '../messages/en/common.json'
import enPatient from '../messages/en/patient.json'
import enPharmacy from '../messages/en/pharmacy.json'
import enRegulator from '../messages/en/regulator.json'
import zhCommon from '../messages/zh-CN/common.json'
import zhPatient from '../messages/zh-CN/patient.json'
import zhPharmacy from '../messages/zh-CN/pharmacy.json'
import zhRegulator from '../messages/zh-CN/regulator.json'

export type Lang = 'zh-CN' | 'en'
export const LANGS: readonly Lang[] = ['zh-CN', 'en']
export const DEFAULT_LANG: Lang = 'zh-CN'

export const CATALOGUES: Record<Lang, Record<string, string>> = {
  'zh-CN': { ...zhCommon, ...zhPatient, ...zhRegulator, ...zhPharmacy },
  en: { ...enCommon, ...enPatient, ...enRegulator, ...enPharmacy },
}

const STORAGE_KEY = 'medledger.lang'
let current: Lang = readStored()

function readStored(): Lang {
  try {
    const stored = globalThis.localStorage?.getItem(STORAGE_KEY)
    return LANGS.includes(stored as Lang) ? (stored as Lang) : DEFAULT_LANG
  } catch {
    return DEFAULT_LANG
  }
}

export function lang(): Lang {
  return current
}

export function setLang(next: Lang): void {
  current = next
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, next)
  } catch {
    // private mode: the choice lasts for this page only
  }
  if (globalThis.document) globalThis.document.documentElement.lang = next
}

/** The message for ``key`` in the current language, with {params} filled in. */
export function t(key: string, params: Record<string, string | number> = {}): string {
  const message = CATALOGUES[current][key] ?? CATALOGUES[DEFAULT_LANG][key]
  if (message === undefined) {
    console.warn(`i18n: no message ${key}`)
    return key
  }
  return message.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  )
}

/** A problem code from the gateway ("consent.not_granted") as a sentence, if the catalogue has
 *  one (errors.<code>), else the gateway's own detail. */
export function problemText(code: string | undefined, detail: string): string {
  const key = `errors.${code ?? ''}`
  return code && key in CATALOGUES[current] ? t(key) : detail
}
