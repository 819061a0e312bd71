import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createMetrics } from '../../metrics/metrics.ts'
import { dashboardQueries, dashboards } from '../helpers/dashboards.ts'
import { DEPLOY_DIR, PROMETHEUS_DIR } from '../helpers/prometheus.ts'

const ROOT = resolve(DEPLOY_DIR, '..')
const PROVISIONING = join(DEPLOY_DIR, 'grafana', 'provisioning')

function obj(x: unknown): Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? Object.fromEntries(Object.entries(x)) : {}
}

function list(x: unknown): unknown[] {
  return Array.isArray(x) ? x : []
}

function yamlFile(path: string): Record<string, unknown> {
  return obj(parse(readFileSync(path, 'utf8')))
}

const datasources = list(yamlFile(join(PROVISIONING, 'datasources', 'datasources.yml')).datasources).map(obj)
const provisionedUids = new Map(datasources.map((d) => [String(d.uid), String(d.type)]))

describe('Grafana provisioning', () => {
  it('provisions Prometheus and the ClickHouse plugin, with fixed uids the dashboards use', () => {
    expect(provisionedUids.get('prometheus')).toBe('prometheus')
    expect(provisionedUids.get('clickhouse')).toBe('grafana-clickhouse-datasource')
    const ch = obj(datasources.find((d) => d.uid === 'clickhouse')?.jsonData)
    expect(ch).toMatchObject({
      host: 'clickhouse',
      port: 8123,
      protocol: 'http',
      defaultDatabase: 'pos_risk',
    })
    // Grafana runs whatever SQL a dashboard holds: it must not connect as the service's writer.
    expect(ch.username).toBe('grafana')
    const init = readFileSync(join(DEPLOY_DIR, 'clickhouse', 'initdb', 'grafana-user.sql'), 'utf8')
    expect(init).toMatch(/GRANT SELECT ON pos_risk\.\* TO grafana/)
    expect(init).not.toMatch(/GRANT (ALL|INSERT)/i)
  })

  it('loads the dashboards from the folder compose mounts', () => {
    const providers = list(yamlFile(join(PROVISIONING, 'dashboards', 'dashboards.yml')).providers).map(obj)
    expect(providers.map((p) => obj(p.options).path)).toEqual(['/etc/grafana/dashboards'])
    const grafana = obj(obj(yamlFile(join(ROOT, 'docker-compose.yml')).services).grafana)
    expect(list(grafana.volumes)).toContain('./deploy/grafana/dashboards:/etc/grafana/dashboards:ro')
  })
})

describe('dashboards', () => {
  const all = dashboards()
  const queries = dashboardQueries()

  it('has a pipeline health and a risk overview dashboard with unique uids', () => {
    expect(all.map((d) => d.uid).sort()).toEqual(['pos-risk-overview', 'pos-risk-pipeline'])
    for (const d of all) expect(d.title, d.file).toBeTruthy()
  })

  it('gives every panel a unique id, a title, a provisioned data source and at least one query', () => {
    for (const d of all) {
      const ids = d.panels.map((p) => p.id)
      expect(new Set(ids).size, d.file).toBe(ids.length)
      for (const p of d.panels.filter((x) => x.type !== 'row')) {
        const where = `${d.file}: ${p.title}`
        expect(p.title, where).toBeTruthy()
        expect(provisionedUids.has(String(obj(p.datasource).uid)), where).toBe(true)
        expect(p.targets.length, where).toBeGreaterThan(0)
        const refIds = p.targets.map((t) => obj(t).refId)
        expect(new Set(refIds).size, where).toBe(refIds.length)
      }
    }
  })

  it('gives every query its data source and a PromQL expression or SQL to match it', () => {
    expect(queries.length).toBeGreaterThan(20)
    for (const q of queries) {
      const where = `${q.dashboard}: ${q.panel} ${q.refId}`
      expect(provisionedUids.get(q.datasource.uid), where).toBe(q.datasource.type)
      if (q.datasource.type === 'prometheus') expect(q.expr?.trim(), where).toBeTruthy()
      else expect(q.rawSql?.trim(), where).toBeTruthy()
    }
  })

  it('queries only metrics the service defines', async () => {
    const defined = new Set((await createMetrics().registry.getMetricsAsJSON()).map((m) => m.name))
    for (const q of queries) {
      for (const name of q.expr?.match(/\b(risk|process|nodejs)_[a-z0-9_]+/g) ?? []) {
        const base = name.replace(/_(bucket|sum|count)$/, '')
        expect(defined.has(name) || defined.has(base), `${q.panel}: ${name}`).toBe(true)
      }
    }
  })

  it('reads flagged merchants, scores, alerts and top rules from ClickHouse', () => {
    const sql = queries.filter((q) => q.dashboard === 'risk-overview.json').map((q) => q.rawSql ?? '')
    expect(sql.some((s) => /FROM merchant_scores FINAL[\s\S]*level IN \('HIGH', 'CRITICAL'\)/.test(s))).toBe(
      true,
    )
    expect(sql.some((s) => s.includes('intDiv(score, 10)'))).toBe(true)
    expect(sql.some((s) => s.includes('FROM alerts FINAL'))).toBe(true)
    expect(sql.some((s) => s.includes('FROM rule_hits FINAL'))).toBe(true)
  })
})

describe('docker-compose.yml', () => {
  const compose = yamlFile(join(ROOT, 'docker-compose.yml'))
  const services = obj(compose.services)

  /** The services deploy/README.md documents: the first column of its services table. */
  function documented(): string[] {
    const readme = readFileSync(join(DEPLOY_DIR, 'README.md'), 'utf8')
    const table = readme.split('## Services of `docker-compose.yml`')[1]?.split('\n## ')[0] ?? ''
    return [...table.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1] ?? '')
  }

  it('runs exactly the services the README describes', () => {
    expect(documented().sort()).toEqual(['clickhouse', 'grafana', 'kafka', 'prometheus', 'service'])
    expect(Object.keys(services).sort()).toEqual(documented().sort())
  })

  it('gives every service a health check', () => {
    for (const [name, s] of Object.entries(services)) {
      expect(list(obj(obj(s).healthcheck).test).length, name).toBeGreaterThan(0)
    }
  })

  it('declares every named volume it uses, and mounts host paths that exist', () => {
    const declared = new Set(Object.keys(obj(compose.volumes)))
    for (const [name, s] of Object.entries(services)) {
      for (const v of list(obj(s).volumes)) {
        const source = String(v).split(':')[0] ?? ''
        if (source.startsWith('./')) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true)
        else expect(declared.has(source), `${name}: ${source}`).toBe(true)
      }
    }
    expect([...declared].sort()).toEqual(['clickhouse-data', 'grafana-data', 'kafka-data', 'prometheus-data'])
  })

  it('has Prometheus scrape the service on its API port, and Grafana install the ClickHouse plugin', () => {
    const service = obj(services.service)
    expect(String(obj(service.environment).API_PORT)).toBe('8080')
    const scrape = readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')
    expect(scrape).toContain("targets: ['service:8080']")
    expect(list(obj(services.prometheus).volumes)).toContain('./deploy/prometheus:/etc/prometheus:ro')
    expect(String(obj(obj(services.grafana).environment).GF_INSTALL_PLUGINS)).toContain(
      'grafana-clickhouse-datasource',
    )
  })

  it('ships the metrics module in the service image', () => {
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toContain('COPY metrics ./metrics')
  })
})
