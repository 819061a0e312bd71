import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'

let seq = 0

/** A valid transaction; override any field. */
export function txn(overrides: Partial<TerminalTransaction> = {}): TerminalTransaction {
  seq++
  return {
    txn_id: `tx-${process.pid}-${Date.now().toString(36)}-${seq}`,
    event_time: Date.UTC(2026, 10, 20, 3, 0, 0) + seq * 1000,
    acquirer_id: 'acq-test',
    merchant_id: 'm-1',
    terminal_id: 't-1',
    card_token: `tok-${seq % 7}`,
    card_bin: '622202',
    card_type: 'CREDIT',
    txn_type: 'PURCHASE',
    amount_minor: 12_345,
    currency: 'CNY',
    mcc: '5411',
    entry_mode: 'CHIP',
    response_code: '00',
    latitude: 31.23,
    longitude: 121.47,
    ...overrides,
  }
}

export function merchantEvent(overrides: Partial<MerchantEvent> = {}): MerchantEvent {
  seq++
  return {
    event_id: `ev-${process.pid}-${Date.now().toString(36)}-${seq}`,
    event_time: Date.UTC(2026, 9, 1),
    acquirer_id: 'acq-test',
    merchant_id: 'm-1',
    terminal_id: null,
    kind: 'ONBOARDED',
    registered_mcc: '5411',
    merchant_name: 'Test Grocery',
    latitude: 31.23,
    longitude: 121.47,
    settlement_account_token: 'acct-1',
    ...overrides,
  }
}
