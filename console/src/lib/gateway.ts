// The signed client the pages speak to their own gateway with (same origin: the page was served
// by it). Every request is signed by the signed-in key; refusals arrive as problem+json and are
// thrown as GatewayError with the stable code the pages translate.
import { signRequest } from './sign'

export interface Domain {
  name: string
  version: string
  chainId: number
  verifyingContract: string
  salt: string
}

export interface ConsoleConfig {
  organisation: string
  kind: 'hospital' | 'insurer' | 'pharmacy' | 'regulator'
  chain_id: number
  time_zone: string
  utc_offset_minutes: number
  languages: string[]
  default_language: string
}

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly detail: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(`${status} ${code ?? ''} ${detail}`.trim())
    this.name = 'GatewayError'
  }
}

async function unsigned<T>(path: string): Promise<T> {
  let response: Response
  try {
    response = await fetch(path, { headers: { Accept: 'application/json' } })
  } catch (error) {
    throw new GatewayError(0, 'gateway.unreachable', String(error))
  }
  return answer<T>(response)
}

export const fetchConfig = () => unsigned<ConsoleConfig>('/v1/console/config')
export const fetchDomain = (path = '/v1/domain') => unsigned<Domain>(path)

async function answer<T>(response: Response): Promise<T> {
  const text = await response.text()
  let body: unknown = undefined
  if (text) {
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
  }
  if (!response.ok) {
    const problem = (body ?? {}) as Record<string, unknown>
    throw new GatewayError(
      response.status,
      typeof problem.code === 'string' ? problem.code : undefined,
      typeof problem.detail === 'string' ? problem.detail : text || response.statusText,
      problem,
    )
  }
  return body as T
}

/** A gateway client signing as ``privateKey`` (a staff key, or a patient's pseudonym key). */
export class Gateway {
  constructor(
    private readonly privateKey: Uint8Array,
    readonly domain: Domain,
  ) {}

  /** ``extra`` headers go along unsigned (the counter's relayed signature carries its own). */
  get<T>(
    path: string,
    query: Record<string, string | number | boolean | undefined> = {},
    extra: Record<string, string> = {},
  ) {
    return this.request<T>('GET', withQuery(path, query), undefined, extra)
  }

  post<T>(path: string, body: unknown) {
    return this.request<T>('POST', path, body)
  }

  async request<T>(method: string, target: string, json?: unknown, extra: Record<string, string> = {}): Promise<T> {
    const body = json === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(json))
    const headers: Record<string, string> = {
      ...extra,
      Accept: 'application/json',
      ...signRequest(this.privateKey, this.domain, { method, target, body }),
    }
    if (json !== undefined) headers['Content-Type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(target, {
        method,
        headers,
        body: json === undefined ? undefined : body,
        redirect: 'error', // a redirect would resend the signature for another path
      })
    } catch (error) {
      throw new GatewayError(0, 'gateway.unreachable', String(error))
    }
    return answer<T>(response)
  }
}

/** ``path`` with the query encoded as the gateway's signature check reads it. */
export function withQuery(
  path: string,
  query: Record<string, string | number | boolean | undefined>,
): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.append(name, String(value))
  }
  const encoded = params.toString()
  return encoded ? `${path}?${encoded}` : path
}
