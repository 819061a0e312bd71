/**
 * The rule registry: every rule the engine runs, in an explicit list (no registration by import side
 * effects). Adding a rule is adding its file and a line here. Ids must be unique; checked at start-up.
 * Order is the catalogue's order in shared/DOMAIN.md; it is also the order rules are evaluated in.
 */
import { binConcentration } from './bin-concentration.ts'
import { cardRecurrence } from './card-recurrence.ts'
import { creditDebitMix } from './credit-debit-mix.ts'
import { dailyVolume } from './daily-volume.ts'
import { declineRatio } from './decline-ratio.ts'
import { checkRegistry, type RegisteredRule, register } from './engine/registry.ts'
import { highTicket } from './high-ticket.ts'
import { mccMismatch } from './mcc-mismatch.ts'
import { nearRoundAmount } from './near-round-amount.ts'
import { newMerchantRamp } from './new-merchant-ramp.ts'
import { nightShare } from './night-share.ts'
import { relocation } from './relocation.ts'
import { repeatedCard } from './repeated-card.ts'
import { roundAmount } from './round-amount.ts'
import { settlementChurn } from './settlement-churn.ts'
import { structuring } from './structuring.ts'
import { swipeGap } from './swipe-gap.ts'
import { terminalSharing } from './terminal-sharing.ts'

export const RULES: readonly RegisteredRule[] = [
  register(creditDebitMix),
  register(repeatedCard),
  register(swipeGap),
  register(cardRecurrence),
  register(roundAmount),
  register(nearRoundAmount),
  register(structuring),
  register(dailyVolume),
  register(highTicket),
  register(nightShare),
  register(newMerchantRamp),
  register(relocation),
  register(mccMismatch),
  register(settlementChurn),
  register(terminalSharing),
  register(declineRatio),
  register(binConcentration),
]

checkRegistry(RULES)
