import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkScope } from '../auth.ts'
import { applyChange } from '../case-workflow.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { decodeCursor, encodeCursor, filtersFingerprint } from '../cursor.ts'
import { conflict, notFound } from '../errors.ts'
import { appendAudit } from '../repositories/audit.ts'
import {
  activeCasesOf,
  addNote,
  getCase,
  listCases,
  listNotes,
  newCase,
  stateOf,
  writeCase,
} from '../repositories/cases.ts'
import { merchantExists } from '../repositories/merchants.ts'
import {
  AcquirerParams,
  type Case,
  CaseDetail,
  CaseParams,
  CasesQuery,
  CasesReply,
  ErrorReply,
  MerchantParams,
  Note,
  NoteBody,
  OpenCaseBody,
  UpdateCaseBody,
} from '../schemas.ts'
import { chTime, iso } from '../sql.ts'

/** Which audit action a case change is, named by what it changed. */
function actionsOf(before: Case, after: Case): string {
  const parts: string[] = []
  if (before.status !== after.status) parts.push(`status:${after.status}`)
  if (before.assignee !== after.assignee) parts.push('assign')
  if (before.decision !== after.decision) parts.push(`decide:${after.decision ?? 'cleared'}`)
  if (after.actions.length !== before.actions.length) parts.push('action')
  return parts.length === 0 ? 'touch' : parts.join(',')
}

export const caseRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { store, locks } = deps

  const caseOf = async (acquirer: string, caseId: string): Promise<Case> => {
    const c = await getCase(store, acquirer, caseId)
    if (c === null) throw notFound('case', caseId)
    return c
  }

  app.get(
    '/acquirers/:acquirerId/cases',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Cases, newest first; filter by status, merchant and assignee',
        tags: ['cases'],
        params: AcquirerParams,
        querystring: CasesQuery,
        response: { 200: CasesReply, ...ERRORS },
      },
    },
    async (req) => {
      const a = req.params.acquirerId
      checkScope(principalOf(req), a, 'acquirer', a)
      const q = req.query
      const limit = q.limit ?? 50
      const fingerprint = filtersFingerprint({
        a,
        status: q.status,
        merchant: q.merchant,
        assignee: q.assignee,
      })
      const page = await listCases(store, {
        acquirer: a,
        limit,
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.merchant === undefined ? {} : { merchant: q.merchant }),
        ...(q.assignee === undefined ? {} : { assignee: q.assignee }),
        ...(q.cursor === undefined ? {} : { after: decodeCursor(q.cursor, ['time', 'id'], fingerprint) }),
      })
      return {
        items: page.items,
        next_cursor:
          page.items.length === limit && page.last !== null ? encodeCursor(page.last, fingerprint) : null,
      }
    },
  )

  app.post(
    '/acquirers/:acquirerId/merchants/:merchantId/cases',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Open a case on a merchant (409 when one is already open)',
        tags: ['cases'],
        params: MerchantParams,
        body: OpenCaseBody,
        response: { 201: CaseDetail, 409: ErrorReply, ...ERRORS },
      },
    },
    async (req, reply) => {
      const { acquirerId: a, merchantId: m } = req.params
      const actor = principalOf(req)
      checkScope(actor, a, 'merchant', m)
      if (!(await merchantExists(store, a, m))) throw notFound('merchant', m)
      // One lock per merchant: two analysts opening a case on it at once get one case and one 409.
      const opened = await locks.run(`merchant\u0000${a}\u0000${m}`, async () => {
        const active = await activeCasesOf(store, a, m)
        const first = active[0]
        if (first !== undefined) {
          throw conflict(`merchant ${m} already has case ${first.case_id}, which is ${first.status}`)
        }
        const c = newCase(a, m, actor.name, req.body.reason, req.body.assignee ?? '', deps.now())
        await appendAudit(store, {
          acquirerId: a,
          actor,
          action: 'open',
          entityType: 'case',
          entityId: c.case_id,
          merchantId: m,
          before: null,
          after: c,
          requestId: req.id,
          at: deps.now(),
        })
        await writeCase(store, c)
        return c
      })
      reply.code(201)
      return { case: opened, notes: [] }
    },
  )

  app.get(
    '/acquirers/:acquirerId/cases/:caseId',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'A case with its notes',
        tags: ['cases'],
        params: CaseParams,
        response: { 200: CaseDetail, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, caseId } = req.params
      checkScope(principalOf(req), a, 'case', caseId)
      const c = await caseOf(a, caseId)
      return { case: c, notes: await listNotes(store, a, caseId) }
    },
  )

  app.patch(
    '/acquirers/:acquirerId/cases/:caseId',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Change status, assignee, decision or actions taken',
        description:
          'expected_version must be the version the change was made on; a case changed since, or a status the current one cannot move to, is a 409 that names the current state. Closing needs a decision; an escalated case is sent back or closed by a supervisor, a closed one reopened by a supervisor.',
        tags: ['cases'],
        params: CaseParams,
        body: UpdateCaseBody,
        response: { 200: CaseDetail, 409: ErrorReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, caseId } = req.params
      const actor = principalOf(req)
      checkScope(actor, a, 'case', caseId)
      const b = req.body
      const updated = await locks.run(`case\u0000${a}\u0000${caseId}`, async () => {
        const before = await caseOf(a, caseId)
        const next = applyChange(
          stateOf(before),
          {
            expectedVersion: b.expected_version,
            ...(b.status === undefined ? {} : { status: b.status }),
            ...(b.assignee === undefined ? {} : { assignee: b.assignee }),
            ...(b.decision === undefined ? {} : { decision: b.decision }),
            ...(b.actions === undefined ? {} : { actions: b.actions }),
          },
          actor,
        )
        const now = deps.now()
        const after: Case = {
          ...before,
          status: next.status,
          assignee: next.assignee,
          decision: next.decision,
          actions: [...next.actions],
          version: next.version,
          updated_at: iso(chTime(now)),
        }
        await appendAudit(store, {
          acquirerId: a,
          actor,
          action: actionsOf(before, after),
          entityType: 'case',
          entityId: caseId,
          merchantId: before.merchant_id,
          before,
          after,
          requestId: req.id,
          at: now,
        })
        await writeCase(store, after)
        return after
      })
      return { case: updated, notes: await listNotes(store, a, caseId) }
    },
  )

  app.post(
    '/acquirers/:acquirerId/cases/:caseId/notes',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Add a note to a case (notes are never edited)',
        tags: ['cases'],
        params: CaseParams,
        body: NoteBody,
        response: { 201: Note, ...ERRORS },
      },
    },
    async (req, reply) => {
      const { acquirerId: a, caseId } = req.params
      const actor = principalOf(req)
      checkScope(actor, a, 'case', caseId)
      const c = await caseOf(a, caseId)
      const now = deps.now()
      await appendAudit(store, {
        acquirerId: a,
        actor,
        action: 'note',
        entityType: 'case',
        entityId: caseId,
        merchantId: c.merchant_id,
        before: null,
        after: { body: req.body.body },
        requestId: req.id,
        at: now,
      })
      const note = await addNote(store, a, caseId, actor, req.body.body, now)
      reply.code(201)
      return note
    },
  )
}
