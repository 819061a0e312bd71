import { readdirSync, readFileSync } from 'node:fs'
/** CPU seconds the process's main thread has used (Linux: /proc/self/task/<pid>/stat; NaN elsewhere). */
export function mainThreadCpuSeconds(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/** CPU seconds a process has used, all its threads (Linux: /proc/<pid>/stat; NaN elsewhere or once gone). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

/**
 * CPU seconds of this process's live threads, summed by thread name (Linux: /proc/self/task; empty
 * elsewhere). Subtract an earlier reading with {@link cpuByThreadSince}.
 */
export function cpuByThread(): Map<number, { name: string; seconds: number }> {
  const out = new Map<number, { name: string; seconds: number }>()
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(Number(tid), { name, seconds: (Number(fields[11]) + Number(fields[12])) / 100 })
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out
}

/**
 * CPU seconds used since `before` by the threads alive now, by thread name, largest first; the main
 * thread is named `main`. Threads that ended in between are missing: compare the sum with the process's.
 */
export function cpuByThreadSince(
  before: Map<number, { name: string; seconds: number }>,
): { name: string; seconds: number; threads: number }[] {
  const byName = new Map<string, { seconds: number; threads: number }>()
  for (const [tid, now] of cpuByThread()) {
    const name = tid === process.pid ? 'main' : now.name
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

/** CPU seconds one thread of this process has used (NaN once it is gone, or off Linux). */
export function threadCpuSeconds(tid: number): number {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}
