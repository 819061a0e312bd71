import type { CaseStatus, Role } from '../../dashboard-api/schemas.ts'

/**
 * Who may change which field of a case in which state (issue 16: analysts could change escalated
 * cases). Shared by the workflow's unit test and the hostile-input suite, which replays it on the API.
 */

export const CASE_FIELDS = ['status', 'assignee', 'decision', 'actions'] as const
export type CaseField = (typeof CASE_FIELDS)[number]
export const ROLES_IN_MATRIX: readonly Role[] = ['analyst', 'supervisor', 'admin']
export const STATES_IN_MATRIX: readonly CaseStatus[] = ['open', 'investigating', 'escalated', 'closed']

/** The change of `field` a test sends to a case in `state` (a legal move for the status). */
export function changeOf(
  state: CaseStatus,
  field: CaseField,
): { status?: CaseStatus; assignee?: string; decision?: 'confirmed_cash_out'; actions?: ['set_limits'] } {
  switch (field) {
    case 'status': {
      const to: Record<CaseStatus, CaseStatus> = {
        open: 'investigating',
        investigating: 'escalated',
        escalated: 'investigating',
        closed: 'open',
      }
      return { status: to[state] }
    }
    case 'assignee':
      return { assignee: 'someone.else' }
    case 'decision':
      return { decision: 'confirmed_cash_out' }
    case 'actions':
      return { actions: ['set_limits'] }
  }
}

/**
 * The expected answer: 200, 403 (not this role), or 409 (not in this state: a closed case changes only
 * by being reopened).
 */
export function expectedStatus(state: CaseStatus, field: CaseField, role: Role): 200 | 403 | 409 {
  const supervisor = role !== 'analyst'
  if (state === 'closed') return field === 'status' ? (supervisor ? 200 : 403) : 409
  if (state === 'escalated') return supervisor ? 200 : 403
  return 200
}

export const CASE_MATRIX = STATES_IN_MATRIX.flatMap((state) =>
  CASE_FIELDS.flatMap((field) =>
    ROLES_IN_MATRIX.map((role) => ({ state, field, role, expected: expectedStatus(state, field, role) })),
  ),
)
