import { Injectable } from '@nestjs/common';
import { AmountOutOfRangeProblem, Big } from '../common/money';
import { ConversionService } from '../currencies/conversion.service';
import { CurrencyTable, MissingExchangeRateProblem } from '../currencies/currency-table';
import { parseDateTime } from '../tariffs/rates/rate-rules';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible, pathInScope } from '../tree/scope';
import { ChainLevel, ChainsRepository } from './chains.repository';
import { AuthorizeCallDto, CallAuthorizationDto } from './dto/authorize.dto';
import { longestAffordable, MAX_CALL_SECONDS, RateTerms } from './rating';

/**
 * Call authorization (SPEC §13): before a switch connects a call, the longest duration that
 * every charged level's available credit (balance + credit limit, in its base currency)
 * covers, priced exactly as the posting prices it (`priceCall` at the level's rate at the
 * connect time, converted with its seller's exchange-rate table). Nothing is written.
 *
 * Only the levels at or below the caller are considered (SPEC §1): an answer limited by a
 * level above would reveal that level's credit. The root (the switch) sees every level, so
 * its answer is the whole chain's; a reseller authorizing its own accounts learns only
 * what its own subtree and its own credit allow.
 */
@Injectable()
export class AuthorizeService {
  constructor(
    private readonly chains: ChainsRepository,
    private readonly conversion: ConversionService,
  ) {}

  async authorize(caller: Caller, input: AuthorizeCallDto): Promise<CallAuthorizationDto> {
    const connectTime = input.connectTime === undefined ? new Date() : parseDateTime(input.connectTime)!;
    const accountId = input.accountId.toLowerCase();
    const chain = (await this.chains.unscopedChainsOf(null, [accountId])).get(accountId);
    if (!chain || !pathInScope(caller, chain.customerPath, 'self-and-descendants')) throw notVisible('account');
    requirePermission(caller, 'usage.post');

    const levels = chain.levels.filter((level) => caller.isRoot || level.depth >= caller.depth);
    const priced = levels.filter((level) => level.tariff);
    const [rates, tables] = await Promise.all([
      this.chains.unscopedRatesFor(
        null,
        priced.map((level) => ({ tariffId: level.tariff!.id, number: input.number, at: connectTime })),
      ),
      this.conversion.tablesOf([...new Set(levels.map((level) => level.seller.id))]),
    ]);
    const rateOf = new Map<ChainLevel, RateTerms | undefined>(priced.map((level, i) => [level, rates[i]]));

    let maxDuration = MAX_CALL_SECONDS;
    let limitedBy: ChainLevel | null = null;
    for (const level of levels) {
      const longest = this.longestFor(caller, level, rateOf.get(level), tables.get(level.seller.id)!);
      if (longest < maxDuration) {
        maxDuration = longest;
        limitedBy = level;
      }
    }
    return { authorized: maxDuration > 0, maxDuration, limitedBy: limitedBy && { type: limitedBy.kind, id: limitedBy.id } };
  }

  /** The longest call one level can pay for: 0 when it cannot be rated (no tariff, rate or exchange rate). */
  private longestFor(caller: Caller, level: ChainLevel, rate: RateTerms | undefined, sellerTable: CurrencyTable): number {
    const tariff = level.tariff;
    if (!tariff || !rate) return 0;
    try {
      // The posting refuses a call whose charge cannot be converted into the party's base
      // currency, or (for the seller's revenue) into the seller's; a seller above the caller is not looked at.
      sellerTable.crossRate(tariff.currency, level.baseCurrency);
      if (caller.isRoot || level.seller.depth >= caller.depth) sellerTable.crossRate(tariff.currency, level.seller.baseCurrency);
    } catch (error) {
      if (error instanceof MissingExchangeRateProblem) return 0;
      throw error;
    }
    const available = new Big(level.balance).plus(level.creditLimit);
    return longestAffordable(tariff, rate, (amount) => {
      if (amount.eq(0)) return true;
      try {
        const { converted } = this.conversion.convertWith(sellerTable, amount, tariff.currency, level.baseCurrency);
        // A charge that converts to nothing is no charge (the posting writes no entry for it).
        return converted.eq(0) || converted.lte(available);
      } catch (error) {
        // Beyond what a ledger entry can hold: certainly beyond the level's credit.
        if (error instanceof AmountOutOfRangeProblem) return false;
        throw error;
      }
    });
  }
}
