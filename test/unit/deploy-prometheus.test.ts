import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { alertRules, PROMETHEUS_DIR, promtool } from '../helpers/prometheus.ts'

const run = promisify(execFile)

/** Runs promtool; a failure shows promtool's own output, which names the rule and the expectation. */
async function promtoolOk(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(promtool(), args, { cwd: PROMETHEUS_DIR })
    return `${stdout}${stderr}`
  } catch (e) {
    const out = e instanceof Error ? `${Reflect.get(e, 'stdout')}${Reflect.get(e, 'stderr')}` : String(e)
    throw new Error(`promtool ${args.join(' ')} failed:\n${out}`)
  }
}

interface RuleTestFile {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[]
}

function isRuleTestFile(x: unknown): x is RuleTestFile {
  return typeof x === 'object' && x !== null && Array.isArray(Reflect.get(x, 'tests'))
}

describe('Prometheus configuration (promtool)', () => {
  it('checks the scrape configuration and the rule file it loads', async () => {
    const out = await promtoolOk('check', 'config', 'prometheus.yml')
    expect(out).toContain('SUCCESS: prometheus.yml is valid prometheus config file syntax')
    expect(out).toContain('SUCCESS: 1 rule files found')
  })

  it('checks the alerting rules', async () => {
    const out = await promtoolOk('check', 'rules', 'alerts.yml')
    expect(out).toContain(`SUCCESS: ${alertRules().length} rules found`)
  })

  it('passes the unit tests of the alerting rules', { timeout: 60_000 }, async () => {
    const out = await promtoolOk('test', 'rules', 'alerts.test.yml')
    expect(out).toContain('SUCCESS')
  })

  it('tests every alerting rule both firing and not firing', () => {
    const file: unknown = parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8'))
    if (!isRuleTestFile(file)) throw new Error('alerts.test.yml has no tests')
    const cases = file.tests.flatMap((t) => t.alert_rule_test ?? [])
    for (const { alert } of alertRules()) {
      const mine = cases.filter((c) => c.alertname === alert)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${alert} is never shown firing`,
      ).toBe(true)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert} is never shown quiet`,
      ).toBe(true)
    }
  })

  it('gives every alert a severity, a summary and a description', () => {
    for (const rule of alertRules()) {
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels.severity)
      expect(rule.annotations.summary, rule.alert).toBeTruthy()
      expect(rule.annotations.description, rule.alert).toBeTruthy()
    }
  })
})
