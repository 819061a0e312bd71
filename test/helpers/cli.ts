import { spawn } from 'node:child_process'

export const ROOT = new URL('../..', import.meta.url).pathname

export interface RunResult {
  code: number | null
  out: string
  err: string
}

/** Runs one of the repository's scripts with this Node (24), a bare environment plus `env`, from `cwd`. */
export function runScript(
  script: string,
  args: readonly string[],
  env: Record<string, string>,
  cwd = ROOT,
): Promise<RunResult> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', `${ROOT}${script}`, ...args],
    {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, out, err })
    }),
  )
}
