// RFC 8785 (JCS) for the JSON an envelope may hold (objects, strings, integers): the check that bytes
// are the one canonical spelling, as ledger/payload.py's canonicalize writes them. JCS serialises
// strings and numbers as ECMAScript's JSON.stringify does and sorts keys by UTF-16 code units, which
// is what Array.prototype.sort does with strings.

export function canonicalize(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('JCS has no spelling for a non-finite number')
    return JSON.stringify(value)
  }
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw new Error('JCS refuses a lone surrogate')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>
    const keys = Object.keys(record).sort()
    return `{${keys.map((k) => `${canonicalize(k)}:${canonicalize(record[k])}`).join(',')}}`
  }
  throw new Error(`JCS has no spelling for ${typeof value}`)
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Nesting depth of a parsed JSON value (a scalar is 0, ``{}`` is 1). */
export function depth(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0
  const children = Array.isArray(value) ? value : Object.values(value)
  return 1 + children.reduce((d: number, child) => Math.max(d, depth(child)), 0)
}
