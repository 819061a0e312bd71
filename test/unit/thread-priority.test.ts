import { describe, expect, it } from 'vitest'
import { isBackgroundThread } from '../../store/thread-priority.ts'

describe('isBackgroundThread', () => {
  it.each([
    // The engine's deferrable work: merges and mutations, moves, fetches, schedule pools.
    { name: 'MergeMutate', background: true },
    { name: 'BgSchPool', background: true },
    { name: 'BgStrmSchPool', background: true },
    { name: 'BgMBSchPool', background: true },
    { name: 'Move', background: true },
    { name: 'Fetch', background: true },
    { name: 'Common', background: true },
    { name: 'PoolDelayExec', background: true },
    { name: 'MemoryWorker', background: true },
    // The engine's inserts and queries run here: they keep their priority.
    { name: 'ThreadPool', background: false },
    { name: 'QueryPipelineEx', background: false },
    // Node's own threads, and an engine thread that has not named itself yet.
    { name: 'MainThread', background: false },
    { name: 'libuv-worker', background: false },
    { name: 'V8Worker', background: false },
    { name: 'WorkerThread', background: false },
    // Names are whole: a prefix or a longer name is another thread.
    { name: 'MergeMutateX', background: false },
    { name: 'Mov', background: false },
  ])('$name: $background', ({ name, background }) => {
    expect(isBackgroundThread(name)).toBe(background)
  })
})
