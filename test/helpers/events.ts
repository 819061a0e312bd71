import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'

/** A fixed, valid transaction: tests override only the fields they are about. */
export function sampleTxn(overrides: Partial<TerminalTransaction> = {}): TerminalTransaction {
  return {
    txn_id: 'txn-0001',
    event_time: Date.UTC(2026, 0, 15, 12),
    acquirer_id: 'acq-1',
    merchant_id: 'mer-42',
    terminal_id: 'T-9001',
    card_token: 'tok_5f2a9c0e1d',
    card_bin: '622202',
    card_type: 'CREDIT',
    txn_type: 'PURCHASE',
    amount_minor: 4_995_000,
    currency: 'CNY',
    mcc: '5311',
    entry_mode: 'CHIP',
    response_code: '00',
    latitude: 31.2304,
    longitude: 121.4737,
    ...overrides,
  }
}

/** A fixed, valid onboarding event. */
export function sampleMerchantEvent(overrides: Partial<MerchantEvent> = {}): MerchantEvent {
  return {
    event_id: 'evt-1',
    event_time: Date.UTC(2026, 0, 1),
    acquirer_id: 'acq-1',
    merchant_id: 'mer-42',
    terminal_id: null,
    kind: 'ONBOARDED',
    registered_mcc: '5411',
    merchant_name: 'Corner Store',
    latitude: null,
    longitude: null,
    settlement_account_token: null,
    ...overrides,
  }
}

let seq = 0

/** A valid transaction with an id unique to this process, so repeated test runs never collide. */
export function txn(overrides: Partial<TerminalTransaction> = {}): TerminalTransaction {
  seq++
  return sampleTxn({
    txn_id: `tx-${process.pid}-${Date.now().toString(36)}-${seq}`,
    event_time: Date.UTC(2026, 10, 20, 3, 0, 0) + seq * 1000,
    acquirer_id: 'acq-test',
    merchant_id: 'm-1',
    terminal_id: 't-1',
    card_token: `tok-${seq % 7}`,
    amount_minor: 12_345,
    mcc: '5411',
    latitude: 31.23,
    longitude: 121.47,
    ...overrides,
  })
}

/** A valid onboarding event with an id unique to this process. */
export function merchantEvent(overrides: Partial<MerchantEvent> = {}): MerchantEvent {
  seq++
  return sampleMerchantEvent({
    event_id: `ev-${process.pid}-${Date.now().toString(36)}-${seq}`,
    event_time: Date.UTC(2026, 9, 1),
    acquirer_id: 'acq-test',
    merchant_id: 'm-1',
    merchant_name: 'Test Grocery',
    latitude: 31.23,
    longitude: 121.47,
    settlement_account_token: 'acct-1',
    ...overrides,
  })
}
