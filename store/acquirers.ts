import { asRiskError } from '../lib/errors.ts'
import type { Store } from './client.ts'
import { insertRows } from './json-rows.ts'
import { dateTime64 } from './transactions.ts'

/** An acquirer registered through the admin API (0005_acquirers.sql). */
export interface RegisteredAcquirer {
  readonly acquirerId: string
  readonly alertTopic: string
  readonly registeredAt: number
  readonly registeredBy: string
}

interface Row {
  acquirer_id: string
  alert_topic: string
  registered_ms: number
  registered_by: string
}

/** Every registered acquirer, oldest first: when two collide, the first registration stands. */
export async function readRegisteredAcquirers(store: Store): Promise<RegisteredAcquirer[]> {
  try {
    const rs = await store.client.query({
      // Two processes may register one id at once: the earliest row counts.
      query: `SELECT acquirer_id, argMin(alert_topic, registered_at) AS alert_topic,
                toFloat64(toUnixTimestamp64Milli(min(registered_at))) AS registered_ms,
                argMin(registered_by, registered_at) AS registered_by
              FROM {db:Identifier}.acquirers
              GROUP BY acquirer_id
              ORDER BY registered_ms, acquirer_id`,
      query_params: { db: store.database },
      format: 'JSONEachRow',
    })
    const rows = await rs.json<Row>()
    return rows.map((r) => ({
      acquirerId: r.acquirer_id,
      alertTopic: r.alert_topic,
      registeredAt: Number(r.registered_ms),
      registeredBy: r.registered_by,
    }))
  } catch (e) {
    throw asRiskError(e, 'RISK_ERR_STORE_QUERY', 'cannot read the registered acquirers', {
      database: store.database,
    })
  }
}

export async function writeRegisteredAcquirer(store: Store, a: RegisteredAcquirer): Promise<void> {
  await insertRows(store, 'acquirers', [
    {
      acquirer_id: a.acquirerId,
      alert_topic: a.alertTopic,
      registered_at: dateTime64(a.registeredAt),
      registered_by: a.registeredBy,
    },
  ])
}
