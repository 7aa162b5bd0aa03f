import { Injectable } from '@nestjs/common';
import { ClaimRef } from '../common/idempotency/idempotency.repository';
import { fingerprint, IdempotencyService, StoredResponse } from '../common/idempotency/idempotency.service';
import { AmountOutOfRangeProblem, Big, formatMoney, formatRate } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { ProblemError, ValidationProblem } from '../common/problem/problem';
import { Keyset } from '../database/keyset';
import { SqlParams } from '../database/sql';
import { ChangeRecord, Tx, Writes } from '../database/writes';
import { ConversionService } from '../currencies/conversion.service';
import { Metrics } from '../metrics/metrics';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { BalanceHolderFinder } from './balance-holders';
import { BalanceOperationDto, LedgerEntryDto, LedgerQueryDto } from './dto/balance-operation.dto';
import { toLedgerEntryDto } from './ledger';
import { AppliedRow, LedgerRepository, PostingRow } from './ledger.repository';

export class InsufficientFundsProblem extends ProblemError {
  constructor(availableCredit: string) {
    super(
      422,
      'insufficient-funds',
      'Insufficient funds',
      `The debit would take available credit below zero (available: ${availableCredit}).`,
      { availableCredit },
    );
  }
}

/** One posting asked for: an operation on holder `id` (of the finder's kind). */
export interface PostingRequest {
  id: string;
  input: BalanceOperationDto;
  idempotencyKey: string | null;
  /** The idempotency claim the posting answers (its entry recorded with the money), if any. */
  completes?: ClaimRef;
}

/**
 * What became of one posting: applied (its entry, and the audit record of it), or refused
 * as data (the reason, and the available credit when that was the reason). Nothing of a
 * refused posting was written.
 */
export type PostingOutcome =
  | { applied: true; entry: LedgerEntryDto; audit: ChangeRecord }
  | { applied: false; reason: string; availableCredit?: string; problem: ProblemError };

/** A balance operation's answer: the response as stored for its Idempotency-Key, replayed or not. */
export interface OperationResult {
  /** Status and body; a refusal's body is its problem without `instance` (the edge adds it). */
  response: StoredResponse;
  replayed: boolean;
}

const refused = (problem: ProblemError, availableCredit?: string): PostingOutcome => ({
  applied: false,
  reason: problem.slug,
  availableCredit,
  problem,
});

/** The stored form of a refusal: the problem as answered (`instance` is the request's path, part of the fingerprint). */
function refusalBody(problem: ProblemError, path: string): Record<string, unknown> {
  const members = { ...problem.members };
  delete members.retryAfterSeconds;
  return { type: problem.type, title: problem.title, status: problem.status, detail: problem.message, instance: path, ...members };
}

/**
 * The one implementation of balance operations and ledgers, for customers and accounts.
 * `post` is THE posting: a list of postings applied in the caller's transaction, each one
 * balance update and ledger entry in one statement (LedgerRepository.post), refusals
 * returned as data. `operate` wraps one posting in the idempotency protocol and the write
 * path (one transaction: claim; posting and its answer in one statement; audit event).
 */
@Injectable()
export class BalancesService {
  constructor(
    private readonly writes: Writes,
    private readonly entries: LedgerRepository,
    private readonly idempotency: IdempotencyService,
    private readonly conversion: ConversionService,
    private readonly metrics: Metrics,
    private readonly cursors: Cursors,
  ) {}

  async operate(
    caller: Caller,
    holders: BalanceHolderFinder,
    id: string,
    input: BalanceOperationDto,
    key: string,
    path: string,
  ): Promise<OperationResult> {
    const print = fingerprint('POST', path, input);
    const result = (await this.postAlone(caller, holders, id, input, key, print)) ?? (await this.inTransaction(caller, holders, id, input, key, print, path));
    const outcome = result.replayed ? 'replayed' : result.response.status < 400 ? 'applied' : 'refused';
    this.metrics.balanceOperations.inc({ action: input.action, outcome });
    return result;
  }

  /**
   * The common case in one statement (no transaction): an operation in the holder's own
   * currency, by a caller with the right, on a key never seen. The same posting statement
   * also claims the key completed and writes the audit event. Anything else (a replay, a
   * refusal, a conversion, a 404/403, a concurrent duplicate) is null: the transaction decides.
   */
  private async postAlone(
    caller: Caller,
    holders: BalanceHolderFinder,
    id: string,
    input: BalanceOperationDto,
    key: string,
    print: string,
  ): Promise<OperationResult | null> {
    if (!caller.permissions.has('balances.operate') || (input.allowOverdraft !== undefined && input.action !== 'debit')) return null;
    const posting = this.postingOf(caller, holders, id, input, key);
    const applied = await this.entries.postAlone(caller, posting, this.idempotency.fresh(caller.customerId, key, print), {
      action: `balance.${input.action}`,
      after: {
        [holders.kind === 'customer' ? 'customerId' : 'accountId']: id,
        amount: formatMoney(posting.amount),
        exchangeRate: formatRate(posting.exchangeRate),
        convertedAmount: formatMoney(posting.delta),
      },
    });
    if (!applied) return null;
    return { response: { status: 201, body: toLedgerEntryDto({ ...applied.entry, visible_actor: caller.customerId }), headers: {} }, replayed: false };
  }

  /** One operation as one transaction of the write path: claim, posting (with its answer), audit. */
  private async inTransaction(
    caller: Caller,
    holders: BalanceHolderFinder,
    id: string,
    input: BalanceOperationDto,
    key: string,
    print: string,
    path: string,
  ): Promise<OperationResult> {
    return this.writes.change<OperationResult>(caller.customerId, async (tx) => {
      const claim = await this.idempotency.claim(tx, caller.customerId, key, print);
      if (claim.kind === 'replay') return { result: { response: await this.withBody(tx, caller, claim.response), replayed: true }, audit: [] };
      const claimed = this.idempotency.claimed(caller.customerId, key);
      const [outcome] = await this.post(tx, caller, holders, [{ id, input, idempotencyKey: key, completes: claimed }]);
      // Applied, the posting's own statement recorded the answer; a refused operation is an
      // outcome too: the same key replays the same problem.
      if (outcome.applied) return { result: { response: { status: 201, body: outcome.entry, headers: {} }, replayed: false }, audit: [outcome.audit] };
      const response: StoredResponse = { status: outcome.problem.status, body: refusalBody(outcome.problem, path), headers: {} };
      await this.idempotency.complete(tx, caller.customerId, key, response);
      return { result: { response, replayed: false }, audit: [] };
    });
  }

  /**
   * THE posting: applies `requests` in order in `tx`, one outcome each. A refusal (404, 403,
   * validation, conversion, credit, range) writes nothing, so the others still apply.
   */
  async post(tx: Tx, caller: Caller, holders: BalanceHolderFinder, requests: PostingRequest[]): Promise<PostingOutcome[]> {
    const outcomes: PostingOutcome[] = [];
    for (const request of requests) {
      try {
        outcomes.push(await this.postOne(tx, caller, holders, request));
      } catch (error) {
        if (!(error instanceof ProblemError) || error.status >= 500) throw error;
        outcomes.push(refused(error));
      }
    }
    return outcomes;
  }

  private async postOne(tx: Tx, caller: Caller, holders: BalanceHolderFinder, { id, input, idempotencyKey, completes }: PostingRequest): Promise<PostingOutcome> {
    if (!caller.permissions.has('balances.operate') || (input.allowOverdraft !== undefined && input.action !== 'debit')) {
      await holders.forOperation(caller, id, tx); // 404 (and 403 not-a-descendant) first
      requirePermission(caller, 'balances.operate');
      throw new ValidationProblem([{ pointer: '/allowOverdraft', detail: 'allowOverdraft applies to debits only' }]);
    }
    const amount = new Big(input.amount);
    const sign = (value: Big) => (input.action === 'debit' ? value.neg() : value);
    const posting = this.postingOf(caller, holders, id, input, idempotencyKey);
    // The common case (the holder's own currency) in one statement; the rest is read after it.
    let applied = await this.entries.post(tx, caller, posting, completes);
    if (!applied) {
      const facts = await this.entries.refusalFacts(tx, caller, holders.kind, id, posting.delta);
      if (!facts) {
        await holders.forOperation(caller, id, tx); // the exact 404 or 403
        throw notVisible(holders.kind);
      }
      if (input.currency === undefined || input.currency === facts.baseCurrency) return this.refusal(facts);
      // Another currency: converted with the table of the party that bills the holder.
      const holder = await holders.forOperation(caller, id, tx);
      const { exchangeRate, converted } = await this.conversion.toBase(amount, input.currency, holder.baseCurrency, holder.billingCustomerId, tx);
      if (converted.eq(0)) {
        throw new ProblemError(422, 'amount-too-small', 'Amount too small', 'The amount converts to zero in the target’s base currency.');
      }
      const delta = sign(converted).toFixed(8);
      applied = await this.entries.post(tx, caller, { ...posting, expectedBase: holder.baseCurrency, exchangeRate: exchangeRate.toFixed(12), delta }, completes);
      if (!applied) {
        const after = await this.entries.refusalFacts(tx, caller, holders.kind, id, delta);
        if (!after) throw notVisible(holders.kind);
        return this.refusal(after);
      }
    }
    return this.applied(caller, holders, id, applied);
  }

  /** The posting of `input` as if in the holder's own currency (the statement checks that it is). */
  private postingOf(caller: Caller, holders: BalanceHolderFinder, id: string, input: BalanceOperationDto, idempotencyKey: string | null): PostingRow {
    const amount = new Big(input.amount);
    return {
      kind: holders.kind,
      holderId: id,
      action: input.action,
      amount: amount.toFixed(8),
      currency: input.currency ?? null,
      expectedBase: null,
      exchangeRate: '1',
      delta: (input.action === 'debit' ? amount.neg() : amount).toFixed(8),
      checkCredit: input.action === 'debit' && !input.allowOverdraft,
      notes: input.notes ?? null,
      actorId: caller.customerId,
      idempotencyKey,
    };
  }

  private refusal(facts: { available: string; outOfRange: boolean }): PostingOutcome {
    if (facts.outOfRange) return refused(new AmountOutOfRangeProblem('The balance after this operation would not fit the stored precision (less than 10^30).'));
    const available = formatMoney(facts.available);
    return refused(new InsufficientFundsProblem(available), available);
  }

  private applied(caller: Caller, holders: BalanceHolderFinder, id: string, { entry, subjectPath }: AppliedRow): PostingOutcome {
    const dto = toLedgerEntryDto({ ...entry, visible_actor: caller.customerId });
    return {
      applied: true,
      entry: dto,
      audit: {
        action: `balance.${entry.action}`,
        targetType: 'balance-operation',
        targetId: entry.id,
        subjectPath,
        after: {
          [holders.kind === 'customer' ? 'customerId' : 'accountId']: id,
          amount: dto.amount,
          currency: dto.currency,
          exchangeRate: dto.exchangeRate,
          convertedAmount: dto.convertedAmount,
          balanceAfter: dto.balanceAfter,
        },
      },
    };
  }

  /** A stored answer with its body (postings of earlier versions stored only the entry's id). */
  private async withBody(tx: Tx, caller: Caller, response: StoredResponse): Promise<StoredResponse> {
    if (response.body !== null || !response.ledgerEntryId) return response;
    const entry = await this.entries.unscopedEntry(tx, response.ledgerEntryId);
    return { ...response, body: entry ? toLedgerEntryDto({ ...entry, visible_actor: caller.customerId }) : null };
  }

  async ledger(caller: Caller, holders: BalanceHolderFinder, id: string, query: LedgerQueryDto, limit: number): Promise<Page<LedgerEntryDto>> {
    const holder = await holders.forReading(caller, id);
    const keyset = new Keyset(`ledger:${holder.kind}:${holder.id}`, [{ sql: 'e.seq', type: 'bigint' }], 'desc');
    const params = new SqlParams();
    const after = await keyset.after(this.cursors, query.cursor, params);
    const rows = await this.entries.list(caller, keyset, holder.kind, holder.id, { action: query.action, from: query.from, to: query.to, after }, limit, params);
    return keyset.page(this.cursors, rows, limit, toLedgerEntryDto);
  }
}
