import { describe, expect, it } from 'vitest'
import { Turns } from '../../lib/turns.ts'

/** Runs `ms` of synchronous work in steps, calling take() between them; says whether `flag()` turned true meanwhile. */
async function busyLoop(turns: Turns, ms: number, flag: () => boolean): Promise<boolean> {
  const end = performance.now() + ms
  let seen = false
  while (performance.now() < end) {
    await turns.take()
    if (flag()) seen = true
  }
  return seen
}

describe('Turns', () => {
  it('lets a callback that is due run once a loop has held the thread for its budget', async () => {
    let ran = false
    setImmediate(() => {
      ran = true
    })
    expect(await busyLoop(new Turns(2), 30, () => ran)).toBe(true)
  })

  it('does not yield while the loop is within its budget', async () => {
    let ran = false
    setImmediate(() => {
      ran = true
    })
    expect(await busyLoop(new Turns(10_000), 30, () => ran)).toBe(false)
    await new Promise((r) => setImmediate(r))
    expect(ran).toBe(true)
  })

  it('says when the budget is spent, and a turn starts it again', async () => {
    const turns = new Turns(5)
    expect(turns.due()).toBe(false)
    const end = performance.now() + 6
    while (performance.now() < end) {}
    expect(turns.due()).toBe(true)
    await turns.take()
    expect(turns.due()).toBe(false)
  })
})
