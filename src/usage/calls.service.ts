import { Injectable } from '@nestjs/common';
import { PostingRequest, BalancesService, PostingOutcome } from '../balances/balances.service';
import { AmountOutOfRangeProblem, Big, fitsMoney } from '../common/money';
import { ProblemError, ValidationProblem } from '../common/problem/problem';
import { currentRequest, RequestContext } from '../common/request-context';
import { Tx, Writes } from '../database/writes';
import { ConversionService } from '../currencies/conversion.service';
import { CurrencyTable } from '../currencies/currency-table';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible, pathInScope } from '../tree/scope';
import { CallRow, CallViewer, ChargeRow, toCallView } from './call-view';
import { CallInput, PostedCall } from './calls-input';
import { CallClaim, CallsRepository, ChargeDraft } from './calls.repository';
import { AccountChain, ChainLevel, ChainsRepository, RateWanted } from './chains.repository';
import { CallResultDto } from './dto/post-calls.dto';
import { priceCall, RateTerms } from './rating';
import { newRowId } from '../common/ids';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const ZERO = new Big(0).toFixed(8);

/** Thrown to roll a run of the posting transaction back: these calls (by index) were refused by the posting. */
class RefusedCalls extends Error {
  constructor(readonly calls: Map<number, ProblemError>) {
    super('calls refused by the posting');
  }
}

/** The problem members of a refused call as answered inside its item. */
function problemBody(problem: ProblemError): CallResultDto['problem'] {
  const members = { ...problem.members };
  delete members.retryAfterSeconds;
  return { type: problem.type, title: problem.title, status: problem.status, detail: problem.message, ...members };
}

const refusedItem = (callId: string, problem: ProblemError): CallResultDto => ({ callId, status: 'refused', problem: problemBody(problem) });

/** The same call: account, number as posted, instant and duration. */
const sameCall = (a: PostedCall, b: { account_id: string; number: string; connect_time: Date; duration: number }) =>
  a.accountId === b.account_id.toLowerCase() && a.number === b.number && a.connectTime.getTime() === b.connect_time.getTime() && a.duration === b.duration;

const callConflict = (callId: string) =>
  new ProblemError(409, 'call-conflict', 'Call conflict', `A call with callId "${callId}" was already posted with other fields; a callId names one call, forever.`, { callId });

/** How a level is named in a problem: by id when the poster can see it, else not at all (SPEC §1). */
function partyName(level: ChainLevel, visible: boolean): string {
  if (!visible) return 'a level above you';
  return `${level.kind} ${level.id}`;
}

/** A problem about one level of a call, naming it only when it is at or below the poster. */
function levelProblem(level: ChainLevel, visible: boolean, problem: ProblemError): ProblemError {
  if (visible) return new ProblemError(problem.status, problem.slug, problem.title, `${partyName(level, true)}: ${problem.message}`, { ...problem.members, party: { type: level.kind, id: level.id } });
  return new ProblemError(problem.status, problem.slug, problem.title, `A level above you cannot be charged for this call (${problem.title.toLowerCase()}).`);
}

function noRate(level: ChainLevel, visible: boolean, number: string): ProblemError {
  const detail = !level.tariff
    ? `${partyName(level, visible)} has no tariff: the call cannot be rated.`
    : `The tariff of ${partyName(level, visible)} has no rate for ${number} in effect at the call's connectTime.`;
  return new ProblemError(422, 'no-rate', 'No rate', visible ? detail : detail.charAt(0).toUpperCase() + detail.slice(1), visible ? { party: { type: level.kind, id: level.id } } : {});
}

const rateKey = (tariffId: string, number: string, at: Date) => `${tariffId}|${number.startsWith('+') ? number.slice(1) : number}|${at.getTime()}`;

/** A call rated in this request: its claim and its charges (their ledger entries' ids chosen before the posting). */
interface Rated {
  claim: CallClaim;
  charges: ChargeDraft[];
  chain: AccountChain;
}

/**
 * `POST /v1/calls` (SPEC §13): claims the calls, rates each at every level of its account's
 * chain, and charges every level through THE posting (`BalancesService.post`), in one
 * transaction; each call's levels commit together or not at all, calls independently.
 */
@Injectable()
export class CallsService {
  constructor(
    private readonly writes: Writes,
    private readonly balances: BalancesService,
    private readonly conversion: ConversionService,
    private readonly chains: ChainsRepository,
    private readonly calls: CallsRepository,
  ) {}

  async post(caller: Caller, inputs: CallInput[]): Promise<CallResultDto[]> {
    requirePermission(caller, 'usage.post');
    const results: CallResultDto[] = new Array(inputs.length);
    // Valid items; the first of each callId is posted, a later one repeats it (or conflicts).
    const first = new Map<string, number>();
    const unique: Array<{ index: number; call: PostedCall }> = [];
    const repeats: Array<{ index: number; call: PostedCall; of: number }> = [];
    inputs.forEach((input, index) => {
      if ('errors' in input) {
        results[index] = refusedItem(input.callId, new ValidationProblem(input.errors, 'The call is invalid.'));
        return;
      }
      const seen = first.get(input.call.callId);
      if (seen === undefined) {
        first.set(input.call.callId, index);
        unique.push({ index, call: input.call });
      } else repeats.push({ index, call: input.call, of: seen });
    });
    const viewer: CallViewer = { customerId: caller.customerId, depth: caller.depth, baseCurrency: caller.baseCurrency };
    const context = currentRequest();

    // Calls refused by the posting in an earlier run of the transaction (rolled back, run again without them).
    const excluded = new Map<number, ProblemError>();
    while (unique.length) {
      let decided: Map<number, CallResultDto>;
      try {
        decided = await this.attempt(caller, unique, excluded, viewer, context);
      } catch (error) {
        if (!(error instanceof RefusedCalls)) throw error;
        for (const [index, problem] of error.calls) excluded.set(index, problem);
        continue;
      }
      for (const [index, item] of decided) results[index] = item;
      break;
    }

    for (const { index, call, of } of repeats) {
      const original = results[of];
      const before = (inputs[of] as { call: PostedCall }).call;
      if (!sameCall(call, { account_id: before.accountId, number: before.number, connect_time: before.connectTime, duration: before.duration })) {
        results[index] = refusedItem(call.callId, callConflict(call.callId));
      } else if (original.status === 'refused') {
        results[index] = { ...original };
      } else {
        results[index] = { callId: call.callId, status: 'replayed', call: original.call };
      }
    }
    return results;
  }

  /** One run of the posting transaction (run again without the calls a posting refused: see `RefusedCalls`). */
  private async attempt(
    caller: Caller,
    unique: Array<{ index: number; call: PostedCall }>,
    excluded: Map<number, ProblemError>,
    viewer: CallViewer,
    context: RequestContext | undefined,
  ): Promise<Map<number, CallResultDto>> {
    return this.writes.change(caller.customerId, async (tx) => {

      const out = new Map<number, CallResultDto>();
      const chains = await this.chains.unscopedChainsOf(tx, [...new Set(unique.map((u) => u.call.accountId))]);
      const chainOf = (call: PostedCall) => {
        const chain = chains.get(call.accountId);
        return chain && pathInScope(caller, chain.customerPath, 'self-and-descendants') ? chain : undefined;
      };
      const claims = unique.map(({ call }): CallClaim => {
        const chain = chainOf(call);
        return { id: newRowId(), ...call, customerId: chain?.customerId ?? NIL_UUID, customerPath: chain?.customerPath ?? '' };
      });
      const claimed = await this.calls.claim(tx, caller.customerId, claims);

      // Posted before (or by a concurrent request, now committed): replayed, or a conflict.
      const posted = await this.calls.unscopedPosted(
        tx,
        caller.customerId,
        unique.filter((u) => !claimed.has(u.call.callId)).map((u) => u.call.callId),
      );
      const fresh: Array<{ index: number; claim: CallClaim; chain: AccountChain }> = [];
      const dropped: string[] = [];
      unique.forEach(({ index, call }, i) => {
        if (!claimed.has(call.callId)) {
          const before = posted.get(call.callId);
          if (!before) throw new Error(`call ${call.callId} neither claimed nor found`);
          out.set(
            index,
            sameCall(call, before.call)
              ? { callId: call.callId, status: 'replayed', call: toCallView(viewer, before.call, before.charges) }
              : refusedItem(call.callId, callConflict(call.callId)),
          );
          return;
        }
        const chain = chainOf(call);
        if (!chain) {
          out.set(index, refusedItem(call.callId, notVisible('account')));
          dropped.push(call.callId);
          return;
        }
        fresh.push({ index, claim: claims[i], chain });
      });
      const { rated, tables } = await this.rate(tx, caller, fresh);
      const ratedOk = new Map<number, Rated>();
      for (const { index, claim } of fresh) {
        const r = rated.get(index)!;
        if (r instanceof ProblemError) {
          out.set(index, refusedItem(claim.callId, r));
          dropped.push(claim.callId);
        } else ratedOk.set(index, r);
      }

      for (const [index, problem] of excluded) {
        const r = ratedOk.get(index);
        if (!r) continue;
        out.set(index, refusedItem(r.claim.callId, problem));
        dropped.push(r.claim.callId);
        ratedOk.delete(index);
      }

      // The charge rows, naming the ledger entries the posting below writes (ids chosen here);
      // written before the charged holders are locked, so that the locks of the levels every
      // call shares are held for the posting and the rollup only.
      const requests: PostingRequest[] = [];
      const owners: Array<{ index: number; level: ChainLevel }> = [];
      for (const [index, r] of ratedOk) {
        r.charges.forEach((charge, level) => {
          if (charge.convertedAmount === ZERO) return;
          charge.ledgerEntryId = newRowId();
          requests.push({
            caller,
            kind: charge.partyKind,
            id: charge.partyId,
            input: { action: 'usage', amount: charge.amount, currency: charge.currency, notes: r.claim.callId },
            idempotencyKey: null,
            context,
            uncheckedReach: true,
            audited: false,
            entryId: charge.ledgerEntryId,
          });
          owners.push({ index, level: r.chain.levels[level] });
        });
      }
      const charges = [...ratedOk.values()].flatMap((r) => r.charges);
      await this.calls.writeCharges(tx, charges);
      await this.calls.dropClaims(tx, caller.customerId, dropped);

      // The answers, before the locks (the entries' ids are known).
      for (const [index, r] of ratedOk) {
        out.set(index, { callId: r.claim.callId, status: 'rated', call: toCallView(viewer, callRow(r.claim), r.charges.map(chargeRow)) });
      }

      // Charging: every level of every call, all or none, converted with the very tables the
      // charges were rated with. A refused posting (a holder gone meanwhile, a balance out of
      // range) refuses its call: the transaction is rolled back and run again without it, so
      // that nothing of it is left behind.
      const outcomes: PostingOutcome[] = await this.balances.post(tx, requests, 'all-or-none', tables);
      const refusedNow = new Map<number, ProblemError>();
      outcomes.forEach((o, i) => {
        if (!o.applied && !o.withheld && !refusedNow.has(owners[i].index)) {
          refusedNow.set(owners[i].index, levelProblem(owners[i].level, owners[i].level.depth >= caller.depth, o.problem));
        }
      });
      if (refusedNow.size) throw new RefusedCalls(refusedNow);
      await this.calls.addToDaily(tx, charges);

      // ── Every rated call of this request is known here (`ratedOk`), charged, inside its
      // transaction: issue 14's `call.rated` event (one per call) is written HERE.
      const counts = { rated: ratedOk.size, replayed: 0, refused: 0 };
      for (const item of out.values()) if (item.status !== 'rated') counts[item.status]++;
      return {
        result: out,
        audit: ratedOk.size
          ? { action: 'usage.calls-posted', targetType: 'call' as const, targetId: null, subjectPath: caller.path, after: { ...counts, posted: unique.length } }
          : [],
      };
    });
  }

  /**
   * Rates each fresh call at every level of its chain (SPEC §13): the rate of each level's
   * tariff at connectTime (looked up once per distinct tariff, number and instant, in one
   * statement), its price, converted into the party's base currency and into the seller's
   * with the seller's table. A call that cannot be rated at some level is its problem.
   */
  private async rate(
    tx: Tx,
    caller: Caller,
    fresh: Array<{ index: number; claim: CallClaim; chain: AccountChain }>,
  ): Promise<{ rated: Map<number, Rated | ProblemError>; tables: Map<string, CurrencyTable> }> {
    const wanted = new Map<string, RateWanted>();
    const sellers = new Set<string>();
    for (const { claim, chain } of fresh) {
      for (const level of chain.levels) {
        sellers.add(level.seller.id);
        if (level.tariff) {
          const key = rateKey(level.tariff.id, claim.number, claim.connectTime);
          if (!wanted.has(key)) wanted.set(key, { tariffId: level.tariff.id, number: claim.number, at: claim.connectTime });
        }
      }
    }
    const keys = [...wanted.keys()];
    const found = await this.chains.unscopedRatesFor(tx, [...wanted.values()]);
    const tables = await this.conversion.tablesOf([...sellers], tx);
    const rates = new Map<string, RateTerms | undefined>(keys.map((k, i) => [k, found[i]]));
    const rated = new Map<number, Rated | ProblemError>();
    for (const { index, claim, chain } of fresh) {
      try {
        rated.set(index, { claim, chain, charges: this.rateCall(caller, claim, chain, rates, tables) });
      } catch (error) {
        if (!(error instanceof ProblemError) || error.status >= 500) throw error;
        rated.set(index, error);
      }
    }
    return { rated, tables };
  }

  private rateCall(caller: Caller, claim: CallClaim, chain: AccountChain, rates: Map<string, RateTerms | undefined>, tables: Map<string, CurrencyTable>): ChargeDraft[] {
    const levels = chain.levels.map((level) => {
      const visible = level.depth >= caller.depth;
      const rate = level.tariff ? rates.get(rateKey(level.tariff.id, claim.number, claim.connectTime)) : undefined;
      if (!level.tariff || !rate) throw noRate(level, visible, claim.number);
      const price = priceCall(level.tariff, rate, claim.duration);
      try {
        if (!fitsMoney(price.amount)) throw new AmountOutOfRangeProblem('The call’s price does not fit the stored precision (less than 10^30).');
        const table = tables.get(level.seller.id)!;
        const charged = this.conversion.convertWith(table, price.amount, level.tariff.currency, level.baseCurrency);
        const revenue = this.conversion.convertWith(table, price.amount, level.tariff.currency, level.seller.baseCurrency);
        return { level, rate, price, charged, revenue, tariff: level.tariff };
      } catch (error) {
        if (error instanceof ProblemError && error.status < 500) throw levelProblem(level, visible, error);
        throw error;
      }
    });
    return levels.map(({ level, rate, price, charged, revenue, tariff }, i): ChargeDraft => {
      const seller = level.seller;
      // The seller's own charge on this call (its level is the next one up; the root pays nothing).
      const sellerCost = i + 1 < levels.length ? levels[i + 1].charged.converted : new Big(0);
      return {
        callUuid: claim.id,
        level: i,
        partyKind: level.kind,
        partyId: level.id,
        partyDepth: level.depth,
        sellerId: seller.id,
        tariffId: tariff.id,
        prefix: rate.prefix,
        price: new Big(rate.price).toFixed(8),
        billedSeconds: price.billedSeconds,
        amount: price.amount.toFixed(8),
        currency: tariff.currency,
        exchangeRate: charged.exchangeRate.toFixed(12),
        convertedAmount: charged.converted.toFixed(8),
        chargedCurrency: level.baseCurrency,
        ledgerEntryId: null,
        revenue: revenue.converted.toFixed(8),
        sellerCost: sellerCost.toFixed(8),
        sellerCurrency: seller.baseCurrency,
        sellerTimeZone: seller.timeZone,
        accountId: claim.accountId,
        customerId: chain.customerId,
        customerPath: chain.customerPath,
        number: claim.number,
        connectTime: claim.connectTime,
        duration: claim.duration,
      };
    });
  }
}

const callRow = (claim: CallClaim): CallRow => ({
  id: claim.id,
  call_id: claim.callId,
  account_id: claim.accountId,
  customer_id: claim.customerId,
  number: claim.number,
  connect_time: claim.connectTime,
  duration: claim.duration,
});

const chargeRow = (c: ChargeDraft): ChargeRow => ({
  level: c.level,
  party_kind: c.partyKind,
  party_id: c.partyId,
  party_depth: c.partyDepth,
  seller_id: c.sellerId,
  tariff_id: c.tariffId,
  prefix: c.prefix,
  price: c.price,
  billed_seconds: c.billedSeconds,
  amount: c.amount,
  currency: c.currency,
  converted_amount: c.convertedAmount,
  charged_currency: c.chargedCurrency,
  ledger_entry_id: c.ledgerEntryId,
  revenue: c.revenue,
  seller_cost: c.sellerCost,
  seller_currency: c.sellerCurrency,
});
