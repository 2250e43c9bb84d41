// What the regulator's pages read from its own gateway, typed as the routes answer
// (api/routes/oversight.py, practice.py, claims.py, prescriptions.py, dispenses.py,
// audit_trail.py, alerts.py, break_glass.py).
import type { AccessEntry } from './proof'

export type OrgKind = 'hospital' | 'insurer' | 'pharmacy' | 'regulator'

export interface Organisation {
  org: string
  kind: OrgKind
  status: 'active' | 'suspended'
  admin: string
  directory: 'usable' | 'unusable' | 'missing'
  directory_updated_at: number | null
  peer_id: string | null
}

export type FilingStatus = 'pending' | 'approved' | 'rejected' | 'revoked'

export interface Filing {
  filing_id: string
  doctor: string
  institution: string
  scope: string[]
  valid_from: number
  valid_to: number
  status: FilingStatus
  transaction?: string
}

export interface InstitutionFigures {
  institution: string
  role: 'provider' | 'insurer'
  claims: number
  approved: number
  partial: number
  denied: number
  duplicates: number
  settled: number
}

export interface PrescriptionSummary {
  prescription_id: string
  institution: string
  status: string
  issued_at: number
}

export interface Dispense {
  prescription_id: string
  pharmacy: string
  dispensed_at: number
}

export interface TrailItem {
  org: string
  chain_batch_id: number
  leaf_index: number
  entry: AccessEntry
  root: string
  proof: string[]
}

export interface BatchProblem {
  chain_batch_id: number
  org: string
  status: string
  reason: string | null
}

export interface ConsortiumTrail {
  gateway: string
  complete: boolean
  batches: number
  items: TrailItem[]
  problems: BatchProblem[]
}

export interface Alert {
  id: string
  seq: number
  rule: string
  kind: string
  severity: 'low' | 'medium' | 'high' | 'critical'
  institution: string | null
  subject: string
  at: number
  summary: string
  raised_at: number
  evidence: Record<string, unknown>[]
}

export interface BreakGlass {
  access_id: string
  org: string
  doctor: string
  holder: string
  record_id: string
  reason: number
  reason_name: string | null
  declared_at: number
  expires_at: number
  status: 'pending' | 'overdue' | 'justified' | 'unjustified'
  reviewer: string | null
  justified: boolean | null
  late: boolean | null
  note: string | null
  reviewed_at: number | null
}

/** A reason code as the chain takes it (api/schemas.py ReasonCode). */
export const REASON_CODE = /^[a-z0-9][a-z0-9.-]{0,31}$/
