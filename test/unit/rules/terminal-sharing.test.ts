import { describe, expect, it } from 'vitest'
import { terminalSharing } from '../../../rules/terminal-sharing.ts'
import { sampleMerchantEvent } from '../../helpers/events.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

let ids = 0
function binding(kind: 'TERMINAL_BOUND' | 'TERMINAL_UNBOUND', terminal: string, at: number) {
  ids++
  return {
    merchant: sampleMerchantEvent({
      event_id: `b${ids}`,
      event_time: at,
      kind,
      terminal_id: terminal,
      registered_mcc: null,
    }),
  }
}
const bound = (terminal: string, at = local('2026-03-01')) => binding('TERMINAL_BOUND', terminal, at)
const unbound = (terminal: string, at: number) => binding('TERMINAL_UNBOUND', terminal, at)

/** Sales on `terminal` at the given local times of 2026-03-10. */
const sales = (terminal: string, ...times: string[]) =>
  times.map((time) => tx(local('2026-03-10', time), { terminal_id: terminal }))
/** A sale on `terminal` (bound) the next morning: 2026-03-10 is over, its sales count. */
const nextDay = (terminal = 'T-1') => tx(local('2026-03-11', '09:00'), { terminal_id: terminal })

describe('terminal_sharing', () => {
  it('fires on sales made on a terminal never bound to the merchant', () => {
    const { last } = runRule(terminalSharing, [
      bound('T-1'),
      ...sales('T-1', '09:00'),
      ...sales('T-9', '10:00', '11:00', '12:00'),
      nextDay(),
    ])
    expect(last?.observed).toBe(3)
    expect(last?.threshold).toBe(3)
    expect(last?.sampleTxnIds.length).toBe(3)
    expect(last?.windowEnd).toBe(local('2026-03-12', '00:00'))
    expect(last?.windowStart).toBe(local('2026-02-10', '00:00'))
    expect(last?.detail).toContain('1 terminal(s) never bound to it, 0 used outside their binding')
  })

  it('fires on sales spread over days on a terminal the merchant had unbound (evasion: slow use)', () => {
    const { last } = runRule(terminalSharing, [
      bound('T-1'),
      bound('T-2'),
      unbound('T-1', local('2026-03-05')),
      tx(local('2026-03-07'), { terminal_id: 'T-1' }),
      tx(local('2026-03-12'), { terminal_id: 'T-1' }),
      tx(local('2026-03-20'), { terminal_id: 'T-1' }),
      tx(local('2026-03-21'), { terminal_id: 'T-2' }),
    ])
    expect(last?.observed).toBe(3)
    expect(last?.detail).toContain('0 terminal(s) never bound to it, 1 used outside their binding')
  })

  it.each([
    [
      'sales on bound terminals',
      [bound('T-1'), bound('T-2'), ...sales('T-1', '09:00', '10:00'), ...sales('T-2', '11:00', '12:00')],
    ],
    [
      'a merchant whose bindings were never seen (look-alike: no lifecycle feed)',
      sales('T-9', '10:00', '11:00', '12:00', '13:00'),
    ],
    ['two foreign sales: under the count floor', [bound('T-1'), ...sales('T-9', '10:00', '11:00')]],
    [
      'sales just before the binding time (installation) and just after the unbinding (retrieval)',
      [
        bound('T-2', local('2026-03-10', '09:00')),
        ...sales('T-2', '08:20', '08:40', '10:00', '11:00', '11:30'),
        unbound('T-2', local('2026-03-10', '11:00')),
        ...sales('T-2', '11:45'),
      ],
    ],
    [
      'foreign sales older than 30 days',
      [
        bound('T-1'),
        ...['2026-01-10', '2026-01-11', '2026-01-12'].map((d) => tx(local(d), { terminal_id: 'T-9' })),
        tx(local('2026-03-10'), { terminal_id: 'T-1' }),
      ],
    ],
  ])('stays silent on %s', (_name, events) => {
    const { hits } = runRule(terminalSharing, events)
    expect(hits.filter((h) => h.finding.windowEnd > local('2026-03-01'))).toEqual([])
  })

  it('clears sales counted as foreign when their binding event arrives late', () => {
    const early = [bound('T-1'), ...sales('T-2', '10:00', '11:00')]
    const { hits } = runRule(terminalSharing, [
      ...early,
      bound('T-2', local('2026-03-09')),
      ...sales('T-2', '12:00', '13:00'),
    ])
    expect(hits).toEqual([])
  })

  it('counts no sale before its day is over: an honest swap keyed in hours late never fires', () => {
    // The old terminal unbound at 04:30, the new one bound at 04:31, but the binding reaches the rule
    // after the new device's first four sales (the lifecycle feed behind the sales).
    const events = [
      bound('T-1'),
      unbound('T-1', local('2026-03-10', '04:30')),
      ...sales('T-2', '05:00', '06:00', '07:00', '08:00'),
      bound('T-2', local('2026-03-10', '04:31')),
      ...sales('T-2', '09:00'),
      nextDay('T-2'),
    ]
    expect(runRule(terminalSharing, events).hits).toEqual([])
    // Counted at once, the four sales open a case before the binding arrives.
    expect(runRule(terminalSharing, events, { params: { settleDays: 0 } }).hits).not.toEqual([])
  })

  it('lets a late binding cover only the sales after it (and within the grace before it)', () => {
    const { last } = runRule(terminalSharing, [
      bound('T-1'),
      ...sales('T-2', '08:00', '09:00', '12:00'),
      bound('T-2', local('2026-03-10', '11:30')),
      ...sales('T-3', '13:00', '14:00'),
      nextDay(),
    ])
    // T-2's 08:00 and 09:00 stay foreign, its 12:00 is covered; T-3 adds two.
    expect(last?.observed).toBe(4)
    expect(last?.detail).toContain('1 terminal(s) never bound to it, 1 used outside their binding')
  })

  it('honours a configured floor and grace', () => {
    const events = [
      bound('T-1'),
      bound('T-5'),
      unbound('T-1', local('2026-03-10', '08:00')),
      ...sales('T-1', '09:30', '10:00'),
      nextDay('T-5'),
    ]
    expect(runRule(terminalSharing, events).last).toBeNull()
    expect(runRule(terminalSharing, events, { params: { minForeignTxns: 2 } }).last?.observed).toBe(2)
    expect(
      runRule(terminalSharing, events, { params: { minForeignTxns: 2, graceMinutes: 240 } }).last,
    ).toBeNull()
  })

  it("keeps each terminal's binding events in time order, whatever order they arrive in", () => {
    const { last } = runRule(terminalSharing, [
      unbound('T-1', local('2026-03-05')),
      bound('T-2'),
      // Arrives after the unbinding it precedes.
      bound('T-1', local('2026-03-01')),
      tx(local('2026-03-03', '10:00'), { terminal_id: 'T-1' }),
      tx(local('2026-03-07', '10:00'), { terminal_id: 'T-1' }),
      tx(local('2026-03-07', '11:00'), { terminal_id: 'T-1' }),
      tx(local('2026-03-07', '12:00'), { terminal_id: 'T-1' }),
      nextDay('T-2'),
    ])
    expect(last?.observed).toBe(3)
    expect(last?.detail).toContain('0 terminal(s) never bound to it, 1 used outside their binding')
  })

  it('keeps the last 8 binding events of a terminal and 64 terminals, forgetting the first seen', () => {
    const events = [
      // Nine events of T-1 from 03-01, bound on odd days: the first binding (03-01) is forgotten.
      ...Array.from({ length: 9 }, (_, d) =>
        binding(d % 2 === 0 ? 'TERMINAL_BOUND' : 'TERMINAL_UNBOUND', 'T-1', local(`2026-03-0${d + 1}`)),
      ),
      // 64 more terminals: T-1, the first seen, is forgotten at the 64th.
      ...Array.from({ length: 63 }, (_, k) => bound(`U-${k}`)),
      ...sales('U-0', '09:00', '10:00', '11:00'),
      nextDay('U-1'),
    ]
    expect(runRule(terminalSharing, events).last).toBeNull()
    const { last } = runRule(
      terminalSharing,
      [
        ...events.slice(0, 9),
        ...Array.from({ length: 3 }, (_, k) => tx(local('2026-03-01', `1${k}:00`), { terminal_id: 'T-1' })),
        nextDay('T-1'),
      ],
      { allowedLatenessMs: 30 * 86_400_000 },
    )
    expect(last?.observed).toBe(3)
    expect(last?.detail).toContain('0 terminal(s) never bound to it, 1 used outside their binding')
    const { last: forgotten } = runRule(terminalSharing, [
      ...events.slice(0, 9),
      ...Array.from({ length: 64 }, (_, k) => bound(`U-${k}`)),
      ...sales('T-1', '09:00', '10:00', '11:00'),
      nextDay('U-1'),
    ])
    expect(forgotten?.observed).toBe(3)
    expect(forgotten?.detail).toContain('1 terminal(s) never bound to it, 0 used outside their binding')
  })
})
