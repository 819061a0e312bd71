import { ApiError, conflict } from './errors.ts'
import type { CaseAction, CaseStatus, Decision, Role } from './schemas.ts'

/**
 * The review workflow of a case, as pure functions: which status may follow which, who may make the
 * move, and what a change does to the case. The routes read the case, apply `applyChange`, and write
 * the result as the next version; everything here is testable without a database.
 *
 *   open          → investigating, escalated, closed
 *   investigating → open (released), escalated, closed
 *   escalated     → investigating, closed              (supervisor)
 *   closed        → open (reopened, decision cleared)  (supervisor)
 *
 * An escalated case is the supervisor's: only a supervisor changes anything of it (status, assignee,
 * decision, actions), and a case is escalated as it stands (an analyst's move into escalated changes
 * nothing else), so what the supervisor decides is the supervisor's alone. Only a supervisor reopens a
 * closed case. Notes are not changes of the case: anyone may add one, to any case.
 */

export const ROLE_RANK: Readonly<Record<Role, number>> = { analyst: 1, supervisor: 2, admin: 3 }

export function hasRole(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed]
}

interface Move {
  readonly to: CaseStatus
  readonly role: Role
}

export const TRANSITIONS: Readonly<Record<CaseStatus, readonly Move[]>> = {
  open: [
    { to: 'investigating', role: 'analyst' },
    { to: 'escalated', role: 'analyst' },
    { to: 'closed', role: 'analyst' },
  ],
  investigating: [
    { to: 'open', role: 'analyst' },
    { to: 'escalated', role: 'analyst' },
    { to: 'closed', role: 'analyst' },
  ],
  escalated: [
    { to: 'investigating', role: 'supervisor' },
    { to: 'closed', role: 'supervisor' },
  ],
  closed: [{ to: 'open', role: 'supervisor' }],
}

export interface CaseState {
  readonly caseId: string
  readonly status: CaseStatus
  readonly assignee: string
  readonly decision: Decision | null
  readonly actions: readonly CaseAction[]
  readonly version: number
}

export interface CaseChange {
  readonly expectedVersion: number
  readonly status?: CaseStatus
  readonly assignee?: string
  readonly decision?: Decision
  readonly actions?: readonly CaseAction[]
}

export interface Actor {
  readonly name: string
  readonly role: Role
}

export function isCaseStatus(s: string): s is CaseStatus {
  return s === 'open' || s === 'investigating' || s === 'escalated' || s === 'closed'
}

/**
 * The case after `change`, or an ApiError: 409 for a stale version or a move the current state does
 * not allow (the message names the current state), 403 for a move the actor's role may not make.
 */
export function applyChange(current: CaseState, change: CaseChange, actor: Actor): CaseState {
  const here = `case ${current.caseId} is ${current.status} (version ${current.version})`
  if (change.expectedVersion !== current.version) {
    throw conflict(
      `${here}, not version ${change.expectedVersion}: someone changed it since; reload it and apply the change again`,
    )
  }
  if (!hasRole(actor.role, 'supervisor')) {
    if (current.status === 'escalated') {
      throw new ApiError(
        'RISK_ERR_API_FORBIDDEN',
        `${here}: an escalated case is changed by a supervisor only`,
      )
    }
    const other =
      change.assignee !== undefined || change.decision !== undefined || change.actions !== undefined
    if (change.status === 'escalated' && other) {
      throw new ApiError(
        'RISK_ERR_API_FORBIDDEN',
        'a case is escalated as it stands: send the move to escalated alone, without assignee, decision or actions',
      )
    }
  }
  let status = current.status
  let decision = current.decision
  let assignee = current.assignee
  if (change.status !== undefined) {
    const move = TRANSITIONS[current.status].find((m) => m.to === change.status)
    if (move === undefined) {
      const allowed = TRANSITIONS[current.status].map((m) => m.to).join(', ')
      throw conflict(`${here}; it cannot move to ${change.status} (from ${current.status}: ${allowed})`)
    }
    if (!hasRole(actor.role, move.role)) {
      throw new ApiError(
        'RISK_ERR_API_FORBIDDEN',
        `moving a case from ${current.status} to ${move.to} needs the ${move.role} role`,
      )
    }
    status = move.to
    // A reopened case is decided afresh; the earlier decision stays in the audit log.
    if (current.status === 'closed') decision = null
  } else if (current.status === 'closed') {
    throw conflict(`${here}; reopen it (status open, supervisor) before changing it`)
  }
  if (change.decision !== undefined) decision = change.decision
  if (status === 'closed' && decision === null) {
    throw conflict(`${here} and has no decision; a case is closed with a decision`)
  }
  if (change.assignee !== undefined) assignee = change.assignee
  else if (status === 'investigating' && assignee === '') assignee = actor.name
  const actions = [...current.actions]
  for (const a of change.actions ?? []) if (!actions.includes(a)) actions.push(a)
  return { caseId: current.caseId, status, assignee, decision, actions, version: current.version + 1 }
}

export function isRole(s: string): s is Role {
  return s === 'analyst' || s === 'supervisor' || s === 'admin'
}
