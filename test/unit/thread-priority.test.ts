import { describe, expect, it } from 'vitest'
import { isNodeThread } from '../../store/thread-priority.ts'

describe('isNodeThread', () => {
  const pid = 4242
  it.each([
    { tid: pid, name: 'MainThread', node: true },
    // The main thread keeps its id whatever it is called.
    { tid: pid, name: 'node', node: true },
    { tid: 4243, name: 'libuv-worker', node: true },
    { tid: 4244, name: 'V8Worker', node: true },
    { tid: 4245, name: 'DelayedTaskSche', node: true },
    { tid: 4246, name: 'SignalInspector', node: true },
    { tid: 4247, name: 'WorkerThread', node: true },
    // A thread the engine started from the main thread inherits its name, not its id.
    { tid: 4248, name: 'MainThread', node: false },
    { tid: 4249, name: 'BgSchPool', node: false },
    { tid: 4250, name: 'MergeMutate', node: false },
    { tid: 4251, name: 'ThreadPool', node: false },
    { tid: 4252, name: 'QueryPipelineEx', node: false },
  ])('$name ($tid) is Node’s: $node', ({ tid, name, node }) => {
    expect(isNodeThread(tid, pid, name)).toBe(node)
  })
})
