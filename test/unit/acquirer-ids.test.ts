import { describe, expect, it } from 'vitest'
import { acquirerIdProblem, alertTopicName, collidingClaim, topicCollisionKey } from '../../acquirers/ids.ts'

const PATTERN = 'risk.alerts.{acquirer}'

describe('acquirer ids', () => {
  const valid = ['acq-alpha', 'acq_zz', 'acq.zz', 'ACQ1', 'a', 'x'.repeat(64)]
  it.each(valid)('%j may name an acquirer', (id) => {
    expect(acquirerIdProblem(id, PATTERN)).toBeNull()
  })

  const invalid: [string, string, string][] = [
    ['empty', '', 'must be 1 to 64'],
    ['65 characters', 'x'.repeat(65), 'must be 1 to 64'],
    ['a space', 'acq 1', 'must be 1 to 64'],
    ['a slash', 'acq/1', 'must be 1 to 64'],
    ['a brace', 'acq{1}', 'must be 1 to 64'],
    ['non-ASCII', 'банк', 'must be 1 to 64'],
    ['a dot alone', '.', 'must not be'],
    ['two dots', '..', 'must not be'],
  ]
  it.each(invalid)('refuses %s', (_what, id, problem) => {
    expect(acquirerIdProblem(id, PATTERN)).toContain(problem)
  })

  it("refuses an id whose alert topic would pass Kafka's 249 characters", () => {
    const long = `${'p'.repeat(190)}.{acquirer}`
    expect(acquirerIdProblem('x'.repeat(58), long)).toBeNull()
    expect(acquirerIdProblem('x'.repeat(59), long)).toContain('more than Kafka')
  })

  it('names the alert topic with the id as it is', () => {
    expect(alertTopicName(PATTERN, 'acq_zz')).toBe('risk.alerts.acq_zz')
    expect(alertTopicName('{acquirer}.alerts.{acquirer}', 'a')).toBe('a.alerts.a')
  })
})

describe('topic collisions', () => {
  const pairs: [string, string, boolean][] = [
    ['risk.alerts.acq_zz', 'risk.alerts.acq.zz', true],
    ['risk.alerts.acq_zz', 'risk_alerts_acq_zz', true],
    ['risk.alerts.ACQ', 'risk.alerts.acq', true],
    ['risk.alerts.acq-zz', 'risk.alerts.acq_zz', false],
    ['risk.alerts.acq1', 'risk.alerts.acq11', false],
    ['risk.alerts.a', 'risk.alerts.a', true],
  ]
  it.each(pairs)('%s and %s collide: %s', (a, b, collide) => {
    expect(topicCollisionKey(a) === topicCollisionKey(b)).toBe(collide)
    const claim = collidingClaim(b, [{ owner: 'x', topic: a }])
    expect(claim === null).toBe(!collide)
  })
})
