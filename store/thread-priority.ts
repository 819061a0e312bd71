import { readdirSync, readFileSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'
import type { StoreLogger } from './client.ts'

/**
 * Lowers the CPU priority of the embedded ClickHouse engine's background threads (merges, moves,
 * its schedule pools), so that on a full machine the alert path (Node's main thread, the rules worker)
 * and the inserts and queries get the cores first, and the work that can wait takes what is left.
 * Inserts keep their priority on purpose: with every engine thread lowered, alerts came sooner still
 * but ingest fell 18,000 to 65,000 events behind in 30 s at 10,000 events/s (BENCHMARKS.md). A merge
 * that waits leaves more parts in a table for a while; at nice 10 a thread still gets about a tenth of
 * the share of one at 0 under contention, so merges slow down but never stop. With a ClickHouse server
 * this module is not used: the server is another process.
 *
 * Linux lets each thread have a nice value of its own (setpriority(PRIO_PROCESS, tid)); raising one's
 * own threads' nice value needs no privilege, lowering it back does, so a thread once lowered stays
 * so. A thread is known by the name the engine gives it when it starts its work; it inherits its
 * creator's name until then, so a thread not lowered is looked at again on every scan.
 */

/** The names of the engine's background threads: merges and mutations, moves, fetches, schedule pools. */
const BACKGROUND = /^(MergeMutate|Move|Fetch|Common|PoolDelayExec|MemoryWorker|Bg\w*)$/

/** Whether a thread is one of the engine's background threads, by its name. */
export function isBackgroundThread(name: string): boolean {
  return BACKGROUND.test(name)
}

export interface ThreadPriorityOptions {
  /** The nice value given to the engine's background threads, 1 to 19. */
  readonly nice: number
  /** How often new threads are looked for, in ms. */
  readonly everyMs?: number
  readonly logger?: StoreLogger
}

export interface ThreadPriority {
  /** Stops looking for new threads; those lowered stay so. */
  readonly stop: () => void
}

const TASKS = '/proc/self/task'

function threadName(tid: string): string | null {
  try {
    return readFileSync(`${TASKS}/${tid}/comm`, 'utf8').trimEnd()
  } catch {
    return null // the thread ended between the listing and the read
  }
}

/**
 * Starts lowering the engine's background threads; returns null where threads cannot be named (not
 * Linux, or no /proc), which leaves every thread at the process's priority.
 */
export function lowerEngineThreads(opts: ThreadPriorityOptions): ThreadPriority | null {
  if (process.platform !== 'linux') return null
  try {
    readdirSync(TASKS)
  } catch {
    return null
  }
  const done = new Set<number>()
  let failed = false
  const scan = (): number => {
    if (failed) return 0
    const present = new Set<number>()
    let now = 0
    for (const entry of readdirSync(TASKS)) {
      const tid = Number(entry)
      present.add(tid)
      if (done.has(tid)) continue
      const name = threadName(entry)
      if (name === null || !isBackgroundThread(name)) continue
      try {
        // A process started at a lower priority already keeps its threads there; raising one back
        // would need privilege, and is not this module's business.
        if (getPriority(tid) < opts.nice) setPriority(tid, opts.nice)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') continue
        // Lowering the priority of one's own thread is always allowed on Linux; a refusal means a
        // sandbox that forbids it, where every later try would fail the same way.
        failed = true
        opts.logger?.warn(
          { err: e, tid, name },
          'cannot lower the priority of the embedded store background threads',
        )
        return now
      }
      done.add(tid)
      now += 1
    }
    // Thread ids are reused: forget the ended ones so that a new thread with an old id is seen.
    for (const tid of done) if (!present.has(tid)) done.delete(tid)
    return now
  }
  const first = scan()
  opts.logger?.info(
    { nice: opts.nice, threads: first },
    'embedded store background threads run at a lower priority',
  )
  const timer = setInterval(scan, opts.everyMs ?? 1000)
  timer.unref()
  return { stop: () => clearInterval(timer) }
}
