import { readdirSync, readFileSync } from 'node:fs'

/** The name and CPU seconds in a /proc stat file (Linux); null when it cannot be read (elsewhere, or gone). */
function readStat(path: string): { name: string; seconds: number } | null {
  try {
    const stat = readFileSync(path, 'utf8')
    const close = stat.lastIndexOf(')')
    const fields = stat.slice(close + 2).split(' ')
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return {
      name: stat.slice(stat.indexOf('(') + 1, close),
      seconds: (Number(fields[11]) + Number(fields[12])) / 100,
    }
  } catch {
    return null
  }
}

/** CPU seconds one thread of this process has used (NaN once it is gone, or off Linux). */
export function threadCpuSeconds(tid: number): number {
  return readStat(`/proc/self/task/${tid}/stat`)?.seconds ?? Number.NaN
}

/** CPU seconds the process's main thread has used (NaN off Linux). */
export function mainThreadCpuSeconds(): number {
  return threadCpuSeconds(process.pid)
}

/** CPU seconds a process has used, all its threads (Linux: /proc/<pid>/stat; NaN elsewhere or once gone). */
export function processCpuSeconds(pid: number): number {
  return readStat(`/proc/${pid}/stat`)?.seconds ?? Number.NaN
}

/**
 * CPU seconds of a process's live threads (this one's unless `pid` is given), with their names (Linux:
 * /proc/<pid>/task; empty elsewhere). Subtract an earlier reading with {@link cpuByThreadSince}.
 */
export function cpuByThread(pid: number | 'self' = 'self'): Map<number, { name: string; seconds: number }> {
  const out = new Map<number, { name: string; seconds: number }>()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    // A thread that ended between the listing and the read is left out.
    const t = readStat(`/proc/${pid}/task/${tid}/stat`)
    if (t !== null) out.set(Number(tid), t)
  }
  return out
}

/**
 * CPU seconds used since `before` by the threads of the process (this one's unless `pid` is given)
 * alive now, by thread name, largest first; this process's main thread is named `main`. Threads that
 * ended in between are missing: compare the sum with the process's.
 */
export function cpuByThreadSince(
  before: Map<number, { name: string; seconds: number }>,
  pid: number | 'self' = 'self',
): { name: string; seconds: number; threads: number }[] {
  const byName = new Map<string, { seconds: number; threads: number }>()
  for (const [tid, now] of cpuByThread(pid)) {
    const name = pid === 'self' && tid === process.pid ? 'main' : now.name
    const used = now.seconds - (before.get(tid)?.seconds ?? 0)
    const e = byName.get(name) ?? { seconds: 0, threads: 0 }
    e.seconds += used
    e.threads++
    byName.set(name, e)
  }
  return [...byName].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.seconds - a.seconds)
}

/** Ids of this process's threads with the given name (Linux; empty elsewhere). */
export function threadsNamed(name: string): number[] {
  return [...cpuByThread()].filter(([, t]) => t.name === name).map(([tid]) => tid)
}
