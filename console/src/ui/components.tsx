// The few building blocks every view uses, so pages look and behave alike: labelled fields,
// buttons that show they are busy, notices read out by screen readers, tables that become cards
// on a phone, and times in the configured zone.
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { GatewayError } from '../lib/gateway'
import { problemText, t } from '../lib/i18n'
import { formatTime } from '../lib/time'

export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="section" aria-labelledby={props.id ? `${props.id}-h` : undefined} id={props.id}>
      <h2 id={props.id ? `${props.id}-h` : undefined}>{props.title}</h2>
      {props.children}
    </section>
  )
}

export function Field(props: {
  label: string
  name: string
  value: string
  onInput: (value: string) => void
  type?: 'text' | 'password' | 'number' | 'date' | 'datetime-local' | 'search'
  required?: boolean
  autocomplete?: string
  hint?: string
}) {
  const id = `f-${props.name}`
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        required={props.required}
        autoComplete={props.autocomplete}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  )
}

export function Select(props: {
  label: string
  name: string
  value: string
  options: { value: string; label: string }[]
  onChange: (value: string) => void
}) {
  const id = `f-${props.name}`
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.options.map((o) => (
          <option value={o.value} key={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  )
}

/** A button that runs ``action``, shows it is busy, and reports a failure in place. */
export function ActionButton(props: {
  label: string
  action: () => Promise<unknown>
  kind?: 'primary' | 'danger' | 'plain'
  disabled?: boolean
  name?: string
}) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const run = async () => {
    setBusy(true)
    setError(null)
    try {
      await props.action()
    } catch (err) {
      setError(describeError(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <span class="action">
      <button
        type="button"
        name={props.name}
        class={`btn ${props.kind ?? 'primary'}`}
        disabled={busy || props.disabled}
        aria-busy={busy}
        onClick={run}
      >
        {busy ? t('common.working') : props.label}
      </button>
      {error && <Notice kind="error">{error}</Notice>}
    </span>
  )
}

export function Notice(props: { kind: 'error' | 'ok' | 'info'; children: ComponentChildren }) {
  return (
    <div class={`notice ${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  )
}

/** What went wrong, for a person: a translated problem code if we have one. */
export function describeError(err: unknown): string {
  if (err instanceof GatewayError) {
    if (err.status === 0) return t('errors.unreachable')
    return `${problemText(err.code, err.detail)}${err.code ? ` (${err.code})` : ''}`
  }
  return err instanceof Error ? err.message : String(err)
}

export function Time(props: { at: number | null | undefined; endOfDay?: boolean }) {
  if (props.at === null || props.at === undefined) return <span>—</span>
  return <time dateTime={new Date(props.at * 1000).toISOString()}>{formatTime(props.at, { endOfDay: props.endOfDay })}</time>
}

export function Badge(props: { kind: 'ok' | 'warn' | 'bad' | 'info'; children: ComponentChildren }) {
  return <span class={`badge ${props.kind}`}>{props.children}</span>
}

/** A table on a desktop, a list of cards on a phone (styles.css), with a caption for readers. */
export function Table<T>(props: {
  caption: string
  rows: T[]
  columns: { label: string; cell: (row: T) => ComponentChildren }[]
  rowKey: (row: T) => string
  empty: string
}) {
  if (props.rows.length === 0) return <p class="empty">{props.empty}</p>
  return (
    <table class="table">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((c) => (
            <th scope="col" key={c.label}>
              {c.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr key={props.rowKey(row)}>
            {props.columns.map((c) => (
              <td data-label={c.label} key={c.label}>
                {c.cell(row)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function Address(props: { value: string }) {
  const short = `${props.value.slice(0, 6)}…${props.value.slice(-4)}`
  return (
    <code class="address" title={props.value} aria-label={props.value}>
      {short}
    </code>
  )
}
