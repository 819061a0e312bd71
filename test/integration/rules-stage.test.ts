import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../lib/logger.ts'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import { RULES } from '../../rules/index.ts'
import { RulesStage } from '../../rules/stage.ts'
import { openStore, type Store } from '../../store/client.ts'
import { txn } from '../helpers/events.ts'

const DAY = 86_400_000

describe('rules stage memory: idle merchants leave the engine', () => {
  let store: Store
  let dir: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rules-stage-'))
    store = await openStore({ database: 'stage_test', chdbPath: join(dir, 'chdb') })
  })

  afterAll(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('drops a merchant idle for longer than the widest rule window, by event time, and keeps the active one', async () => {
    const engine = createEngine(buildRulesConfig({}, RULES), {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 0,
    })
    const stage = new RulesStage({
      store,
      engine,
      topics: { transactions: 't', merchantEvents: 'e' },
      logger: createLogger('silent'),
      now: Date.now,
    })
    const start = Date.UTC(2026, 0, 1)
    stage.process({ kind: 'transactions', items: [txn({ merchant_id: 'idle', event_time: start })] }, 0)
    stage.process({ kind: 'transactions', items: [txn({ merchant_id: 'busy', event_time: start })] }, 0)
    expect(engine.merchantCount).toBe(2)

    // The busy merchant sells every day (the stream moves on day by day, as it does: a sweep counts at
    // most a day of progress). Just inside the widest window: nothing is dropped yet.
    const widest = engine.retentionDays * DAY
    let day = start
    const sellUntil = (end: number) => {
      for (day += DAY; day <= end; day += DAY)
        stage.process({ kind: 'transactions', items: [txn({ merchant_id: 'busy', event_time: day })] }, 0)
      day -= DAY
    }
    sellUntil(start + widest - DAY)
    expect(engine.has('acq-test', 'idle')).toBe(true)

    // A day past it, by event time (the clock plays no part): the idle merchant goes.
    sellUntil(start + widest + DAY)
    expect(engine.has('acq-test', 'idle')).toBe(false)
    expect(engine.has('acq-test', 'busy')).toBe(true)
    expect(engine.merchantCount).toBe(1)
    await stage.flush()
  })
})
