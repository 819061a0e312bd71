import { describe, expect, it } from 'vitest'
import type { Component } from '../../app/components.ts'
import { stopComponents } from '../../app/service.ts'

/** Components whose stop resolves only when the test releases it, recording what happened when. */
function harness(spec: readonly [name: string, stage: boolean][]) {
  const events: string[] = []
  const release = new Map<string, () => void>()
  const components: Component[] = spec.map(([name, stage]) => ({
    name,
    start: async () => {},
    stop: () =>
      new Promise<void>((resolve) => {
        events.push(`stop ${name}`)
        release.set(name, () => {
          events.push(`stopped ${name}`)
          resolve()
        })
      }),
    ...(stage ? { stage: true as const } : {}),
  }))
  const finish = async (name: string) => {
    // Let the stop loop reach the component before releasing it.
    for (let i = 0; i < 10 && !release.has(name); i++) await Promise.resolve()
    const r = release.get(name)
    if (r === undefined) throw new Error(`${name} was not asked to stop`)
    r()
    for (let i = 0; i < 10; i++) await Promise.resolve()
  }
  return { events, components, finish, asked: () => [...release.keys()] }
}

const silent = { error: () => {} }

describe('stopComponents', () => {
  it('stops neighbouring stages together and everything else one by one, in reverse order', async () => {
    const h = harness([
      ['broker', false],
      ['store', false],
      ['ingest', true],
      ['rules', true],
      ['sink', true],
      ['api', false],
    ])
    const done = stopComponents(h.components, silent)
    await h.finish('api')
    // The three stages were all asked to stop before any of them finished.
    expect(h.asked()).toEqual(['api', 'sink', 'rules', 'ingest'])
    await h.finish('rules')
    await h.finish('ingest')
    // The store waits for the last stage.
    expect(h.asked()).not.toContain('store')
    await h.finish('sink')
    // The broker waits for the store.
    expect(h.asked()).toContain('store')
    expect(h.asked()).not.toContain('broker')
    await h.finish('store')
    await h.finish('broker')
    await done
    expect(h.events).toEqual([
      'stop api',
      'stopped api',
      'stop sink',
      'stop rules',
      'stop ingest',
      'stopped rules',
      'stopped ingest',
      'stopped sink',
      'stop store',
      'stopped store',
      'stop broker',
      'stopped broker',
    ])
  })

  it('logs a component that fails to stop and still stops the rest', async () => {
    const errors: unknown[] = []
    const stopped: string[] = []
    const c = (name: string, stage: boolean, fail = false): Component => ({
      name,
      start: async () => {},
      stop: async () => {
        if (fail) throw new Error(`${name} would not stop`)
        stopped.push(name)
      },
      ...(stage ? { stage: true as const } : {}),
    })
    await stopComponents([c('store', false), c('ingest', true), c('rules', true, true), c('api', false)], {
      error: (o: unknown) => errors.push(o),
    })
    expect(stopped).toEqual(['api', 'ingest', 'store'])
    expect(errors).toEqual([{ component: 'rules', error: 'rules would not stop' }])
  })
})
