import { describe, expect, it } from 'vitest'
import {
  type Actor,
  applyChange,
  type CaseChange,
  type CaseState,
  TRANSITIONS,
} from '../../dashboard-api/case-workflow.ts'
import { ApiError } from '../../dashboard-api/errors.ts'
import { CASE_STATUSES, type CaseStatus, type Decision, type Role } from '../../dashboard-api/schemas.ts'
import { CASE_MATRIX, changeOf } from '../helpers/case-matrix.ts'

const analyst: Actor = { name: 'ana', role: 'analyst' }
const supervisor: Actor = { name: 'sue', role: 'supervisor' }

function state(status: CaseStatus, overrides: Partial<CaseState> = {}): CaseState {
  return { caseId: 'c-1', status, assignee: '', decision: null, actions: [], version: 3, ...overrides }
}

function fails(current: CaseState, change: CaseChange, actor: Actor): ApiError {
  try {
    applyChange(current, change, actor)
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error('expected the change to be refused')
}

describe('case workflow', () => {
  // Every (from, to) pair: allowed for whom, or a 409 naming the current state.
  const decided: Decision = 'false_positive'
  const table: [CaseStatus, CaseStatus, 'analyst' | 'supervisor' | 'never'][] = [
    ['open', 'open', 'never'],
    ['open', 'investigating', 'analyst'],
    ['open', 'escalated', 'analyst'],
    ['open', 'closed', 'analyst'],
    ['investigating', 'open', 'analyst'],
    ['investigating', 'investigating', 'never'],
    ['investigating', 'escalated', 'analyst'],
    ['investigating', 'closed', 'analyst'],
    ['escalated', 'open', 'never'],
    ['escalated', 'investigating', 'supervisor'],
    ['escalated', 'escalated', 'never'],
    ['escalated', 'closed', 'supervisor'],
    ['closed', 'open', 'supervisor'],
    ['closed', 'investigating', 'never'],
    ['closed', 'escalated', 'never'],
    ['closed', 'closed', 'never'],
  ]

  it('covers every pair of statuses', () => {
    expect(table).toHaveLength(CASE_STATUSES.length ** 2)
  })

  it.each(table)('%s → %s: %s', (from, to, who) => {
    const current = state(from, { decision: decided })
    const change = { expectedVersion: 3, status: to }
    if (who === 'never') {
      const e = fails(current, change, supervisor)
      expect(e.statusCode).toBe(409)
      expect(e.message).toContain(`is ${from}`)
      return
    }
    expect(applyChange(current, change, supervisor).status).toBe(to)
    if (who === 'supervisor') expect(fails(current, change, analyst).statusCode).toBe(403)
    else expect(applyChange(current, change, analyst).status).toBe(to)
  })

  it('the transition table and the test table agree', () => {
    for (const [from, to, who] of table) {
      const move = TRANSITIONS[from].find((m) => m.to === to)
      expect(move?.role ?? 'never').toBe(who)
    }
  })

  it('refuses a stale version with a 409 naming the current version and state', () => {
    const e = fails(state('investigating'), { expectedVersion: 2, assignee: 'bob' }, analyst)
    expect(e.statusCode).toBe(409)
    expect(e.message).toContain('is investigating (version 3)')
  })

  it('closes only with a decision, given before or in the same change', () => {
    expect(
      fails(state('investigating'), { expectedVersion: 3, status: 'closed' }, analyst).message,
    ).toContain('has no decision')
    const closed = applyChange(
      state('investigating'),
      { expectedVersion: 3, status: 'closed', decision: 'confirmed_cash_out' },
      analyst,
    )
    expect(closed).toMatchObject({ status: 'closed', decision: 'confirmed_cash_out', version: 4 })
  })

  it('changes nothing on a closed case until a supervisor reopens it, which clears the decision', () => {
    const closed = state('closed', { decision: 'compliance_breach' })
    expect(fails(closed, { expectedVersion: 3, assignee: 'bob' }, supervisor).statusCode).toBe(409)
    expect(fails(closed, { expectedVersion: 3, actions: ['set_limits'] }, supervisor).message).toContain(
      'reopen it',
    )
    expect(applyChange(closed, { expectedVersion: 3, status: 'open' }, supervisor)).toMatchObject({
      status: 'open',
      decision: null,
    })
  })

  it('assigns an unassigned case to whoever starts investigating it, and keeps an explicit assignee', () => {
    expect(
      applyChange(state('open'), { expectedVersion: 3, status: 'investigating' }, analyst).assignee,
    ).toBe('ana')
    expect(
      applyChange(state('open'), { expectedVersion: 3, status: 'investigating', assignee: 'bob' }, analyst)
        .assignee,
    ).toBe('bob')
  })

  it('adds actions taken without repeating one', () => {
    const next = applyChange(
      state('investigating', { actions: ['delay_settlement'] }),
      { expectedVersion: 3, actions: ['delay_settlement', 'suspend_acceptance'] },
      analyst,
    )
    expect(next.actions).toEqual(['delay_settlement', 'suspend_acceptance'])
  })
})

describe('who may change which field of a case', () => {
  const actors: Record<Role, Actor> = {
    analyst,
    supervisor,
    admin: { name: 'adm', role: 'admin' },
  }

  it.each(CASE_MATRIX)(
    '$role changing $field of a $state case: $expected',
    ({ state: s, field, role, expected }) => {
      const current = state(s, { decision: 'false_positive', assignee: 'ana' })
      const change = { expectedVersion: 3, ...changeOf(s, field) }
      if (expected === 200) {
        const next = applyChange(current, change, actors[role])
        expect(next.version).toBe(4)
        if (field === 'status') expect(next.status).toBe(change.status)
        if (field === 'assignee') expect(next.assignee).toBe('someone.else')
        if (field === 'decision') expect(next.decision).toBe('confirmed_cash_out')
        if (field === 'actions') expect(next.actions).toEqual(['set_limits'])
      } else {
        expect(fails(current, change, actors[role]).statusCode).toBe(expected)
      }
    },
  )

  it('covers every field, role and state', () => {
    expect(CASE_MATRIX).toHaveLength(4 * 3 * 4)
  })

  it.each(['assignee', 'decision', 'actions'] as const)(
    'refuses an analyst escalating a case and changing its %s in the same move',
    (field) => {
      const change = { expectedVersion: 3, status: 'escalated' as const, ...changeOf('open', field) }
      expect(fails(state('open'), change, analyst).statusCode).toBe(403)
      expect(applyChange(state('open'), change, supervisor).status).toBe('escalated')
    },
  )
})
