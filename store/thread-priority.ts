import { readdirSync, readFileSync } from 'node:fs'
import { getPriority, setPriority } from 'node:os'

/**
 * Lowers the CPU priority of the embedded ClickHouse engine's own threads (merges, its query and
 * background pools), so that on a full machine the alert path (Node's main thread, the rules worker)
 * gets the cores first and storage takes what is left. Storage is off the alert path; the alert path
 * is not. With a ClickHouse server this module is not used: the server is another process, niced by
 * whoever runs it.
 *
 * Linux lets each thread have a nice value of its own (setpriority(PRIO_PROCESS, tid)); raising one's
 * own threads' nice value needs no privilege. A thread inherits its creator's value, so the engine's
 * threads started by an already lowered thread are lowered from birth; the periodic scan catches the
 * ones started by Node's threads (the engine starts pools from whichever thread first calls it).
 *
 * A thread is Node's when it is the process's main thread or carries one of the names Node 24 gives
 * its own threads; every other thread of the process belongs to the embedded engine (the service
 * loads no other native library that starts threads). A Node thread is checked again on every scan,
 * since a thread the engine starts inherits its creator's name until it names itself.
 */

/** The names Node 24 gives the threads it starts (libuv's pool, V8's platform, workers, signals). */
const NODE_THREAD_NAMES: ReadonlySet<string> = new Set([
  'libuv-worker',
  'V8Worker',
  'DelayedTaskSche',
  'SignalInspector',
  'WorkerThread',
])

/** Whether a thread is one of Node's own (left alone) rather than the embedded engine's. */
export function isNodeThread(tid: number, pid: number, name: string): boolean {
  return tid === pid || NODE_THREAD_NAMES.has(name)
}

export interface ThreadPriorityLogger {
  info(obj: Record<string, unknown>, msg: string): void
  warn(obj: Record<string, unknown>, msg: string): void
}

export interface ThreadPriorityOptions {
  /** The nice value given to the engine's threads, 1 to 19. */
  readonly nice: number
  /** How often new threads are looked for, in ms. */
  readonly everyMs?: number
  readonly logger?: ThreadPriorityLogger
}

export interface ThreadPriority {
  /** Threads lowered so far. */
  readonly lowered: () => number
  /** One scan now (the timer does the same); returns how many threads it lowered. */
  readonly scan: () => number
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
 * Starts lowering the engine's threads; returns null where threads cannot be told apart (not Linux,
 * or no /proc), which leaves every thread at the process's priority.
 */
export function lowerEngineThreads(opts: ThreadPriorityOptions): ThreadPriority | null {
  if (process.platform !== 'linux') return null
  try {
    readdirSync(TASKS)
  } catch {
    return null
  }
  const pid = process.pid
  const done = new Set<number>()
  let total = 0
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
      if (name === null || isNodeThread(tid, pid, name)) continue
      try {
        // A process started at a lower priority already keeps its threads there; raising one back
        // would need privilege, and is not this module's business.
        if (getPriority(tid) < opts.nice) setPriority(tid, opts.nice)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') continue
        // Lowering one's own thread is always allowed on Linux; a refusal means a sandbox that
        // forbids it, where every later try would fail the same way.
        failed = true
        opts.logger?.warn({ err: e, tid, name }, 'cannot lower the priority of the embedded store threads')
        return now
      }
      done.add(tid)
      now += 1
    }
    // Thread ids are reused: forget the ended ones so that a new thread with an old id is seen.
    for (const tid of done) if (!present.has(tid)) done.delete(tid)
    total += now
    return now
  }
  const first = scan()
  opts.logger?.info({ nice: opts.nice, threads: first }, 'embedded store threads run at a lower priority')
  const timer = setInterval(scan, opts.everyMs ?? 1000)
  timer.unref()
  return { lowered: () => total, scan, stop: () => clearInterval(timer) }
}
