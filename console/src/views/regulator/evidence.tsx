// One item of an alert's evidence as a person reads it: a chain event (contract, event, block,
// transaction, its arguments) or an access entry (batch, leaf, its fields), with times in the
// configured zone, addresses shortened, and on-chain reason codes decoded from their bytes32.
import { Fragment, type ComponentChildren } from 'preact'
import { Address, Time } from '../../ui/components'

const ADDRESS_OR_HASH = /^0x[0-9a-fA-F]{40}([0-9a-fA-F]{24})?$/
const TIME_KEY = /(^at$|At$|_at$)/
const CODE_KEYS = new Set(['note', 'reason', 'reasonCode'])

/** A bytes32 holding a left-aligned ASCII code (ledger/prescribing/reasons.py), else null. */
export function decodeCode(value: string): string | null {
  const m = /^0x([0-9a-fA-F]{64})$/.exec(value)
  if (!m) return null
  const bytes = m[1]!.match(/../g)!.map((h) => parseInt(h, 16))
  const end = bytes.indexOf(0) === -1 ? bytes.length : bytes.indexOf(0)
  if (end === 0 || bytes.slice(end).some((b) => b !== 0)) return null
  const text = String.fromCharCode(...bytes.slice(0, end))
  return /^[a-z0-9][a-z0-9._-]*$/.test(text) ? text : null
}

function Value(props: { name: string; value: unknown }): ComponentChildren {
  const { name, value } = props
  if (typeof value === 'number' && TIME_KEY.test(name) && value > 1_000_000_000) return <Time at={value} />
  if (typeof value === 'string') {
    const code = CODE_KEYS.has(name) ? decodeCode(value) : null
    if (code) return <code>{code}</code>
    if (ADDRESS_OR_HASH.test(value)) return <Address value={value} />
    return <span>{value}</span>
  }
  if (value === null || value === undefined) return <span>—</span>
  if (typeof value === 'object') return <Facts facts={value as Record<string, unknown>} />
  return <span>{String(value)}</span>
}

function Facts(props: { facts: Record<string, unknown> }) {
  return (
    <dl class="facts">
      {Object.entries(props.facts).map(([name, value]) => (
        <Fragment key={name}>
          <dt>{name}</dt>
          <dd>
            <Value name={name} value={value} />
          </dd>
        </Fragment>
      ))}
    </dl>
  )
}

export function EvidenceItem(props: { item: Record<string, unknown> }) {
  const { contract, event, ...rest } = props.item
  return (
    <div class="evidence-item">
      {typeof contract === 'string' && typeof event === 'string' && (
        <p>
          <strong>{`${contract}.${event}`}</strong>
        </p>
      )}
      <Facts facts={rest} />
    </div>
  )
}
