import { describe, expect, it } from 'vitest'
import { rowInsertOf } from '../../store/chdb.ts'

describe('rowInsertOf (chDB raw inserts)', () => {
  it('takes apart each insert the service writes', () => {
    expect(
      rowInsertOf('INSERT INTO {db:Identifier}.{table:Identifier} FORMAT JSONEachRow', {
        db: 'risk',
        table: 'rule_hits',
      }),
    ).toEqual({ table: 'risk.rule_hits', format: 'JSONEachRow' })
    expect(
      rowInsertOf('INSERT INTO {db:Identifier}.transactions FORMAT JSONEachRow', { db: 'risk' }),
    ).toEqual({
      table: 'risk.transactions',
      format: 'JSONEachRow',
    })
    expect(
      rowInsertOf(
        "INSERT INTO {db:Identifier}.transactions (acquirer_id, merchant_id, txn_id) SETTINGS insert_deduplication_token = '0a9f', deduplicate_blocks_in_dependent_materialized_views = 1 FORMAT JSONCompactEachRow",
        { db: 'risk' },
      ),
    ).toEqual({
      table: 'risk.transactions',
      columns: ['acquirer_id', 'merchant_id', 'txn_id'],
      settings: { insert_deduplication_token: '0a9f', deduplicate_blocks_in_dependent_materialized_views: 1 },
      format: 'JSONCompactEachRow',
    })
  })

  it('leaves every other statement to chDB as it is', () => {
    const db = { db: 'risk', table: 't' }
    for (const query of [
      'SELECT 1',
      'INSERT INTO {db:Identifier}.t VALUES (1)',
      'INSERT INTO {db:Identifier}.t FORMAT CSV',
      'INSERT INTO risk.t FORMAT JSONEachRow',
      "INSERT INTO {db:Identifier}.t SETTINGS insert_deduplication_token = 'x y' FORMAT JSONEachRow",
      'INSERT INTO {db:Identifier}.t SETTINGS a = 1; DROP TABLE t FORMAT JSONEachRow',
      'INSERT INTO {db:Identifier}.t FORMAT JSONEachRow\n{"a":1}',
      'insert into {db:Identifier}.t FORMAT JSONEachRow',
    ])
      expect(rowInsertOf(query, db), query).toBeNull()
    // Without the parameters its placeholders name, there is nothing to insert into.
    expect(
      rowInsertOf('INSERT INTO {db:Identifier}.{table:Identifier} FORMAT JSONEachRow', { db: 'risk' }),
    ).toBeNull()
    expect(rowInsertOf('INSERT INTO {db:Identifier}.t FORMAT JSONEachRow', undefined)).toBeNull()
  })
})
