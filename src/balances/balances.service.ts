import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ClaimRef } from '../common/idempotency/idempotency.repository';
import { fingerprint, IdempotencyService, StoredResponse } from '../common/idempotency/idempotency.service';
import { AmountOutOfRangeProblem, Big, formatMoney, formatRate } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { ProblemError, ValidationProblem } from '../common/problem/problem';
import { RequestContext, runInRequest } from '../common/request-context';
import { Keyset } from '../database/keyset';
import { SqlParams } from '../database/sql';
import { ChangeRecord, Tx, Writes } from '../database/writes';
import { ConversionService } from '../currencies/conversion.service';
import { Metrics } from '../metrics/metrics';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { AccountHolders } from './account-holders';
import { BalanceHolderFinder } from './balance-holders';
import { CustomerHolders } from './customer-holders';
import { BalanceOperationDto, LedgerEntryDto, LedgerQueryDto } from './dto/balance-operation.dto';
import { toLedgerEntryDto } from './ledger';
import { GroupCommitter, Operation } from './group-commit';
import { AppliedRow, HolderKind, LedgerRepository, PostingRow } from './ledger.repository';

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

/** One posting asked for: an operation by `caller` on holder `id` of kind `kind`. */
export interface PostingRequest {
  /** Each request its own caller (a group mixes callers). */
  caller: Caller;
  kind: HolderKind;
  id: string;
  input: BalanceOperationDto;
  idempotencyKey: string | null;
  /** The idempotency claim the posting answers (its entry recorded with the money), if any. */
  completes?: ClaimRef;
  /** The request id and client address of its audit event; the current request's when absent. */
  context?: RequestContext;
}

/**
 * What became of one posting: applied (its entry, and the audit record of it), or refused
 * as data (the reason, and the available credit when that was the reason). Nothing of a
 * refused posting was written. The audit event of an applied one is written by `post` (`audit`
 * is what it recorded).
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
export function refusalBody(problem: ProblemError, path: string): Record<string, unknown> {
  const members = { ...problem.members };
  delete members.retryAfterSeconds;
  return { type: problem.type, title: problem.title, status: problem.status, detail: problem.message, instance: path, ...members };
}

/**
 * The one implementation of balance operations and ledgers, for customers and accounts.
 * `post` is THE posting: a list of postings applied in the caller's transaction, each one
 * balance update and ledger entry in one statement (LedgerRepository.post), refusals
 * returned as data. `operate` wraps one posting in the idempotency protocol and the write
 * path: written with others in a group (group-commit.ts), or alone (one statement; else one
 * transaction: claim; posting and its answer in one statement; audit event).
 */
@Injectable()
export class BalancesService implements BeforeApplicationShutdown {
  private readonly groups: GroupCommitter;
  private readonly finders: Record<HolderKind, BalanceHolderFinder>;

  constructor(
    private readonly writes: Writes,
    private readonly entries: LedgerRepository,
    private readonly idempotency: IdempotencyService,
    private readonly conversion: ConversionService,
    private readonly metrics: Metrics,
    private readonly cursors: Cursors,
    customers: CustomerHolders,
    accounts: AccountHolders,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.finders = { customer: customers, account: accounts };
    this.groups = new GroupCommitter(
      { windowMs: config.GROUP_COMMIT_WINDOW_MS, max: config.GROUP_COMMIT_MAX, groupsInFlight: config.GROUP_COMMIT_GROUPS_IN_FLIGHT },
      {
        writes,
        idempotency,
        metrics,
        post: (tx, requests) => this.post(tx, requests, 'independent'),
        answer: (outcome, path) =>
          outcome.applied
            ? { status: 201, body: outcome.entry, headers: {} }
            : { status: outcome.problem.status, body: refusalBody(outcome.problem, path), headers: {} },
        alone: (operation) => this.alone(operation),
      },
    );
  }

  async operate(
    caller: Caller,
    holders: BalanceHolderFinder,
    id: string,
    input: BalanceOperationDto,
    key: string,
    path: string,
  ): Promise<OperationResult> {
    const print = fingerprint('POST', path, input);
    const result = await this.groups.operate({ request: { caller, kind: holders.kind, id, input, idempotencyKey: key }, print, path });
    const outcome = result.replayed ? 'replayed' : result.response.status < 400 ? 'applied' : 'refused';
    this.metrics.balanceOperations.inc({ action: input.action, outcome });
    return result;
  }

  /** Shutdown: what is queued for a group is written before the pool closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.groups.drain();
  }

  /** One operation on its own: the one-statement common case, else its own transaction. */
  private async alone({ request: { caller, kind, id, input, idempotencyKey }, print, path }: Operation): Promise<OperationResult> {
    const holders = this.finders[kind];
    return (
      (await this.postAlone(caller, holders, id, input, idempotencyKey, print)) ??
      (await this.inTransaction(caller, holders, id, input, idempotencyKey, print, path))
    );
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
      const [outcome] = await this.post(tx, [{ caller, kind: holders.kind, id, input, idempotencyKey: key, completes: claimed }], 'independent');
      // Applied, the posting's own statement recorded the answer (and `post` its audit event);
      // a refused operation is an outcome too: the same key replays the same problem.
      if (outcome.applied) return { result: { response: { status: 201, body: outcome.entry, headers: {} }, replayed: false }, audit: [] };
      const response: StoredResponse = { status: outcome.problem.status, body: refusalBody(outcome.problem, path), headers: {} };
      await this.idempotency.complete(tx, caller.customerId, key, response);
      return { result: { response, replayed: false }, audit: [] };
    });
  }

  /**
   * THE posting: applies `requests` in order in `tx`, one outcome each, and writes the audit
   * event of each applied one (its caller the actor, its own request context). 'independent':
   * a refusal (404, 403, validation, conversion, credit, range) writes nothing, so the others
   * still apply. ('all-or-none' comes with the set-based posting.)
   */
  async post(tx: Tx, requests: PostingRequest[], mode: 'independent' | 'all-or-none'): Promise<PostingOutcome[]> {
    if (mode !== 'independent') throw new Error('all-or-none postings are not implemented here');
    const outcomes: PostingOutcome[] = [];
    for (const request of requests) {
      const posting = () => this.postAudited(tx, request);
      outcomes.push(await (request.context ? runInRequest(request.context, posting) : posting()));
    }
    return outcomes;
  }

  private async postAudited(tx: Tx, request: PostingRequest): Promise<PostingOutcome> {
    let outcome: PostingOutcome;
    try {
      outcome = await this.postOne(tx, request);
    } catch (error) {
      if (!(error instanceof ProblemError) || error.status >= 500) throw error;
      return refused(error);
    }
    if (outcome.applied) await this.writes.record(tx, request.caller.customerId, outcome.audit);
    return outcome;
  }

  private async postOne(tx: Tx, { caller, kind, id, input, idempotencyKey, completes }: PostingRequest): Promise<PostingOutcome> {
    const holders = this.finders[kind];
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
