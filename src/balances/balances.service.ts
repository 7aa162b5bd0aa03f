import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { ClaimRef } from '../common/idempotency/idempotency.repository';
import { fingerprint, IdempotencyService, StoredResponse } from '../common/idempotency/idempotency.service';
import { Metadata } from '../common/metadata';
import { AmountOutOfRangeProblem, Big, formatMoney, formatRate, MONEY_LIMIT } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { OverloadedProblem, PROBLEM_TYPE_BASE, ProblemError, ValidationProblem } from '../common/problem/problem';
import { Turns } from '../common/turns';
import { currentRequest, RequestContext } from '../common/request-context';
import { notADescendant } from '../database/access';
import { Keyset } from '../database/keyset';
import { SqlParams } from '../database/sql';
import { Tx, Writes } from '../database/writes';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ConversionService } from '../currencies/conversion.service';
import { CurrencyTable } from '../currencies/currency-table';
import { Metrics } from '../metrics/metrics';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible, pathInScope } from '../tree/scope';
import { BalanceHolderFinder } from './balance-holders';
import { BalanceOperationDto, LedgerEntryDto, LedgerQueryDto } from './dto/balance-operation.dto';
import { GroupCommitter, Operation } from './group-commit';
import { storedEntryDto, toLedgerEntryDto } from './ledger';
import { ClaimAnswer, EntryRow, HolderChange, HolderKind, LedgerRepository, LockedHolder } from './ledger.repository';
import { isoTime } from '../common/iso-time';
import { newRowId } from '../common/ids';

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

/**
 * One posting asked for: an operation on holder `id` of kind `kind`, by `caller` (a set of
 * postings may mix callers), answering the idempotency claim `completes` if given, its audit
 * event carrying `context` (the current request's when absent).
 */
/**
 * What a posting does: a balance operation as the API takes it, or (internally only, the
 * public DTO refuses it) a `usage` charge of a rated call (SPEC §13): negative, never
 * credit-checked (the call has happened), under the right `usage.post`.
 */
export type PostingInput = Omit<BalanceOperationDto, 'action'> & { action: BalanceOperationDto['action'] | 'usage' };

export interface PostingRequest {
  caller: Caller;
  kind: HolderKind;
  id: string;
  input: PostingInput;
  idempotencyKey: string | null;
  /** The idempotency claim the posting answers (its entry, or its refusal, recorded with the money), if any. */
  completes?: ClaimRef;
  /** requestId/clientAddress for its audit event. */
  context?: RequestContext;
  /**
   * The caller's reach was checked by the caller's service, not here: the holder is locked
   * and charged whoever it is (usage charges the levels above the poster, and the poster
   * itself). Only for `usage`.
   */
  uncheckedReach?: boolean;
  /** False: no audit event of its own (usage: one event per request, written by the usage service). Default true. */
  audited?: boolean;
  /** The id its entry gets, chosen beforehand (usage writes the charge rows naming their entries before posting them); else a fresh one. */
  entryId?: string;
}

/**
 * What became of one posting: applied (its entry; its audit event is written), or refused as
 * data (the reason, and the available credit when that was the reason). Nothing of a refused
 * posting was written. `withheld`: in an all-or-none set, a posting that would have applied
 * but was not, because another one was refused.
 */
export type PostingOutcome =
  | { applied: true; entry: LedgerEntryDto }
  | { applied: false; reason: string; availableCredit?: string; problem: ProblemError; withheld?: boolean };

/** A balance operation's answer: the response as stored for its Idempotency-Key, replayed or not. */
export interface OperationResult {
  /** Status and body; a refusal's body is its problem without `instance` (the edge adds it). */
  response: StoredResponse;
  replayed: boolean;
}

/** One operation of a batch: its target (a customer or an account) and the operation. */
export interface BatchOperation {
  kind: HolderKind;
  id: string;
  input: BalanceOperationDto;
}


/**
 * A second operation on a target with an external reference it already has (SPEC §6): the
 * entry that has it (on the ledger, or applied earlier in the same set of postings), or, in a
 * batch, the earlier operation of the batch that gives it.
 */
export class DuplicateReferenceProblem extends ProblemError {
  constructor(kind: HolderKind, reference: string, existing: { entryId: string } | { pointer: string }) {
    super(
      409,
      'duplicate-reference',
      'Duplicate reference',
      'entryId' in existing
        ? `The externalReference "${reference}" was already used on this ${kind}: it is ledger entry ${existing.entryId}. Nothing was written.`
        : `The externalReference "${reference}" is also given for this ${kind} by ${existing.pointer} of this batch. Nothing was written.`,
      'entryId' in existing ? { existingEntryId: existing.entryId } : { duplicateOf: existing.pointer },
    );
  }
}

/** Holder and external reference, as a key (null: no reference). */
const referenceKey = (kind: HolderKind, id: string, reference: string | undefined | null) =>
  reference === undefined || reference === null ? null : `${kind}:${id.toLowerCase()}:${reference}`;

/** The external references of a set of postings: those already on the ledger, and those of postings decided so far. */
interface References {
  existing: Map<string, string>;
  decided: Map<string, { entryId: string; index: number }>;
  mode: 'independent' | 'all-or-none';
}

const refused = (problem: ProblemError, availableCredit?: string): PostingOutcome => ({
  applied: false,
  reason: problem.slug,
  availableCredit,
  problem,
});

/** A problem's members as answered (the Retry-After hint is a header, never a member). */
function answeredMembers(problem: ProblemError): Record<string, unknown> {
  const members = { ...problem.members };
  delete members.retryAfterSeconds;
  return members;
}

/** The stored form of a refusal: the problem as answered (`instance` is the request's path, part of the fingerprint). */
function refusalBody(problem: ProblemError, path: string): Record<string, unknown> {
  return { type: problem.type, title: problem.title, status: problem.status, detail: problem.message, instance: path, ...answeredMembers(problem) };
}

/** The path of a single balance operation on a holder (the `instance` of its refusal). */
export const operationPath = (kind: HolderKind, id: string) => `/v1/${kind === 'customer' ? 'customers' : 'accounts'}/${id}/balance-operations`;

/** Metadata as the posting statement takes it: JSON text, or null for none (stored as `{}`). */
const metadataText = (metadata: Metadata | undefined | null): string | null =>
  metadata === undefined || metadata === null || Object.keys(metadata).length === 0 ? null : JSON.stringify(metadata);

/** formatRate(1): the rate of an entry in the holder's own currency. */
const ONE_RATE = formatRate(new Big(1));

const amountTooSmall = () => new ProblemError(422, 'amount-too-small', 'Amount too small', 'The amount converts to zero in the target’s base currency.');
const balanceOutOfRange = () => new AmountOutOfRangeProblem('The balance after this operation would not fit the stored precision (less than 10^30).');

/** A posting decided to apply: its entry as the statement writes it, and as it is answered (but for its creation time). */
type DecidedEntry = EntryRow & { answer: Omit<LedgerEntryDto, 'createdAt'> };

/** The running state of one holder while a set of postings is decided. */
/**
 * A holder's running sums over the postings of one statement, as HolderChange states them for
 * the statement's guard: the total, the lowest credit-checked prefix, the lowest and highest
 * prefixes (prefix: the sum of the deltas so far, this posting's included), and the count.
 */
class HolderSums {
  total = new Big(0);
  minChecked: Big | null = null;
  low = new Big(0);
  high = new Big(0);
  entries = 0;

  /** Adds one posting's delta (credit-checked or not); its prefix. */
  add(delta: Big, checked: boolean): Big {
    this.total = this.total.plus(delta);
    this.entries++;
    const prefix = this.total;
    if (this.entries === 1 || prefix.lt(this.low)) this.low = prefix;
    if (this.entries === 1 || prefix.gt(this.high)) this.high = prefix;
    if (checked && (this.minChecked === null || prefix.lt(this.minChecked))) this.minChecked = prefix;
    return prefix;
  }

  change(kind: HolderKind, id: string, expectedBase: string | null, reach: HolderChange['reach']): HolderChange {
    const minChecked = this.minChecked?.toFixed(8) ?? null;
    return { kind, id, total: this.total.toFixed(8), minChecked, low: this.low.toFixed(8), high: this.high.toFixed(8), expectedBase, reach, entries: this.entries };
  }
}

/** A holder of operations THE posting statement takes alone: the caller whose reach it must lie in, its currency, its running sums. */
interface AloneHolder {
  kind: HolderKind;
  id: string;
  reach: { path: string; depth: number };
  expectedBase: string | null;
  sums: HolderSums;
}

/**
 * Operations as THE posting statement takes them alone (no lock before it, every check in its
 * guard): the common case, an operation in the holder's own currency (or none named), not on
 * the caller itself, by a caller with the right, with a key; per holder one caller's reach and
 * one currency. `take` gives an operation's entry (its prefix over the holder's operations
 * taken so far) and its holder, or null where it is not of that case; `changes` the holders'
 * changes, in the order the transactional path locks them (customers, then accounts, by id).
 */
class AloneSet {
  private readonly holders = new Map<string, AloneHolder>();

  get size(): number {
    return this.holders.size;
  }

  take(caller: Caller, kind: HolderKind, id: string, input: PostingInput, idempotencyKey: string, context: RequestContext | undefined): { holderKey: string; entry: EntryRow } | null {
    if (!caller.permissions.has('balances.operate') || (input.allowOverdraft !== undefined && input.action !== 'debit')) return null;
    if (kind === 'customer' && id.toLowerCase() === caller.customerId) return null;
    const holderKey = `${kind === 'customer' ? 0 : 1} ${id.toLowerCase()}`;
    let holder = this.holders.get(holderKey);
    const currency = input.currency ?? null;
    if (holder) {
      // One caller's reach and one currency per holder: a second one goes the exact way.
      if (holder.reach.path !== caller.path) return null;
      if (currency !== null && holder.expectedBase !== null && currency !== holder.expectedBase) return null;
    } else {
      holder = { kind, id, reach: { path: caller.path, depth: caller.depth }, expectedBase: null, sums: new HolderSums() };
      this.holders.set(holderKey, holder);
    }
    if (currency !== null) holder.expectedBase = currency;
    const amount = new Big(input.amount);
    const delta = input.action === 'debit' ? amount.neg() : amount;
    const prefix = holder.sums.add(delta, input.action === 'debit' && !input.allowOverdraft);
    const request = context ?? currentRequest();
    return {
      holderKey,
      entry: {
        id: newRowId(),
        kind,
        holderId: id,
        action: input.action,
        amount: amount.toFixed(8),
        currency,
        exchangeRate: '1',
        delta: delta.toFixed(8),
        prefix: prefix.toFixed(8),
        notes: input.notes ?? null,
        actorId: caller.customerId,
        idempotencyKey,
        externalReference: input.externalReference ?? null,
        metadata: metadataText(input.metadata),
        audited: true,
        requestId: request?.requestId ?? null,
        clientAddress: request?.clientAddress ?? null,
      },
    };
  }

  changes(): Array<{ holderKey: string; change: HolderChange }> {
    return [...this.holders.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([holderKey, h]) => ({ holderKey, change: h.sums.change(h.kind, h.id, h.expectedBase, h.reach) }));
  }
}

/** The running state of one holder while a set of postings is decided under its lock. */
interface Running {
  holder: LockedHolder;
  creditLimit: Big;
  balance: Big;
  sums: HolderSums;
}

/**
 * The one implementation of balance operations and ledgers, for customers and accounts.
 * `post` is THE posting: a set of postings (one, a batch, or a group of concurrent single
 * operations), applied in the caller's transaction in a constant number of statements: every
 * holder locked in id order, each posting decided in code in order (reach, right, conversion,
 * range, credit), then one statement writing every balance, entry, audit event and answer.
 * `operate` first tries the same statement alone (one round trip, no transaction) and falls
 * back to the idempotency protocol's transaction when it wrote nothing.
 */
@Injectable()
export class BalancesService implements BeforeApplicationShutdown {
  private readonly groups: GroupCommitter;
  /**
   * Batches written at once (BATCHES_IN_FLIGHT). Concurrent batches over the same holders wait
   * for each other's rows anyway; more of them at once only add backends waiting on those locks
   * (each holding a pooled connection) and Node heap kept alive meanwhile, and cost CPU per
   * batch (bench/RESULTS.md, fifteenth session). A batch past DB_POOL_TIMEOUT_MS in the queue is
   * a 503 overloaded, as a pool wait would be.
   */
  private readonly batchTurns: Turns;

  constructor(
    private readonly writes: Writes,
    private readonly entries: LedgerRepository,
    private readonly idempotency: IdempotencyService,
    private readonly conversion: ConversionService,
    private readonly metrics: Metrics,
    private readonly cursors: Cursors,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.batchTurns = new Turns(config.BATCHES_IN_FLIGHT, config.DB_POOL_TIMEOUT_MS, () => new OverloadedProblem());
    this.groups = new GroupCommitter(
      { windowMs: config.GROUP_COMMIT_WINDOW_MS, max: config.GROUP_COMMIT_MAX, groupsInFlight: config.GROUP_COMMIT_GROUPS_IN_FLIGHT },
      {
        writes,
        idempotency,
        metrics,
        post: (tx, requests) => this.post(tx, requests, 'independent', undefined, true),
        answer: (outcome, path) =>
          outcome.applied
            ? { status: 201, body: outcome.entry, headers: {} }
            : { status: outcome.problem.status, body: refusalBody(outcome.problem, path), headers: {} },
        alone: (operation) => this.alone(operation),
        together: (operations) => this.together(operations),
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

  /** One operation on its own (no group): THE posting statement alone, else its own transaction. */
  private async alone(operation: Operation): Promise<OperationResult> {
    const { caller, kind, id, input, idempotencyKey } = operation.request;
    return (await this.together([operation]))[0] ?? (await this.inTransaction(caller, kind, id, input, idempotencyKey, operation.print));
  }

  /**
   * Operations as THE posting statement alone: one round trip, no transaction, no lock before
   * it. It takes the common case (an operation in the holder's own currency, by a caller with
   * the right, on a key never seen) and checks per holder what the lock and the decision would
   * (reach, currency, credit and range over the holder's operations in arrival order, no key
   * known) before writing that holder's entries and claiming their keys completed. An answer is
   * null where it could not: the operation is not of that case (a conversion, an overdraft
   * flag, on the caller itself, a second caller or currency on one holder), its holder failed
   * a check (a refusal, a 404, a replay), or the statement failed (a key or reference taken
   * meanwhile, a lock held past its timeout, a deadlock). Then the exact path decides.
   */
  private async together(operations: Operation[]): Promise<Array<OperationResult | null>> {
    const answers: Array<OperationResult | null> = operations.map(() => null);
    const set = new AloneSet();
    const taken = new Map<string, Array<{ index: number; entry: EntryRow; print: string }>>();
    operations.forEach(({ request: { caller, kind, id, input, idempotencyKey, context }, print }, index) => {
      const one = idempotencyKey ? set.take(caller, kind, id, input, idempotencyKey, context) : null;
      if (!one) return;
      const list = taken.get(one.holderKey) ?? [];
      list.push({ index, entry: one.entry, print });
      taken.set(one.holderKey, list);
    });
    if (!set.size) return answers;
    const changes = set.changes();
    // Entries grouped by holder, holders in lock order, each holder's in arrival order.
    const written = changes.flatMap(({ holderKey }) => taken.get(holderKey)!);
    const rows = await this.entries.post(
      null,
      changes.map((c) => c.change),
      written.map((t) => t.entry),
      [],
      this.idempotency.fresh(written.map((t) => t.print)),
    );
    if (!rows) return answers;
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const { index, entry } of written) {
      const row = byId.get(entry.id);
      if (row) answers[index] = { response: { status: 201, body: storedEntryDto(row, entry.actorId), headers: {} }, replayed: false };
    }
    return answers;
  }

  /**
   * A batch as THE posting statement alone, all or nothing (one round trip, no transaction, no
   * lock before it): when every operation is of the case `together` takes (an operation in the
   * holder's own currency, not on the caller itself, by a caller with the right), the statement
   * locks the holders in id order, checks each as the decision would, writes every entry with
   * its audit event and claims the batch's key answered; if any holder fails its check it is
   * undone. Undefined when it wrote nothing (not of that case, a refusal, a known key or
   * reference, a deadlock): the batch's transaction then decides, exactly.
   */
  private async batchAlone(caller: Caller, operations: BatchOperation[], key: string, print: string): Promise<OperationResult | undefined> {
    const set = new AloneSet();
    const context = currentRequest();
    const entries: EntryRow[] = [];
    for (const { kind, id, input } of operations) {
      const one = set.take(caller, kind, id, input, key, context);
      if (!one) return undefined;
      entries.push(one.entry);
    }
    const ids = entries.map((e) => e.id);
    const rows = await this.entries.postBatch(
      set.changes().map((c) => c.change),
      entries,
      // The batch's answer as stored: the ids of its entries (the entries are the body; a replay reads them again).
      this.idempotency.completedBy(caller.customerId, key, print, 201, { ledgerEntryIds: ids }),
    );
    if (!rows) return undefined;
    if (rows.length !== entries.length) throw new Error(`the batch statement wrote ${rows.length} of ${entries.length} entries and did not fail`);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return { response: { status: 201, body: { items: ids.map((id) => storedEntryDto(byId.get(id)!, caller.customerId)) }, headers: {} }, replayed: false };
  }

  /** One operation as one transaction of the write path: claim, then THE posting (which records the answer and the audit event). */
  private async inTransaction(caller: Caller, kind: HolderKind, id: string, input: PostingInput, key: string, print: string): Promise<OperationResult> {
    const context = currentRequest();
    return this.writes.change<OperationResult>(caller.customerId, async (tx) => {
      const claim = await this.idempotency.claim(tx, caller.customerId, key, print);
      if (claim.kind === 'replay') return { result: { response: await this.withBody(tx, caller, claim.response), replayed: true }, audit: [] };
      const completes = this.idempotency.claimed(caller.customerId, key);
      const [outcome] = await this.post(tx, [{ caller, kind, id, input, idempotencyKey: key, completes, context }], 'independent');
      const response: StoredResponse = outcome.applied
        ? { status: 201, body: outcome.entry, headers: {} }
        : { status: outcome.problem.status, body: refusalBody(outcome.problem, operationPath(kind, id)), headers: {} };
      return { result: { response, replayed: false }, audit: [] };
    });
  }

  /**
   * A batch (SPEC §6): all its operations apply, in order, or none does; under one
   * Idempotency-Key claimed and answered in the same transaction as the money. A refusal is
   * `422 batch-refused` listing every refused operation with its pointer.
   */
  async batch(caller: Caller, operations: BatchOperation[], key: string, path: string, body: unknown): Promise<OperationResult> {
    return this.batchTurns.run(() => this.batchNow(caller, operations, key, path, body));
  }

  private async batchNow(caller: Caller, operations: BatchOperation[], key: string, path: string, body: unknown): Promise<OperationResult> {
    const print = fingerprint('POST', path, body);
    const alone = await this.batchAlone(caller, operations, key, print);
    this.metrics.balanceBatches.inc({ path: alone ? 'one-statement' : 'transaction' });
    const result = alone ?? (await this.batchInTransaction(caller, operations, key, path, print));
    if (!result.replayed) {
      const outcome = result.response.status < 400 ? 'applied' : 'refused';
      const counts = new Map<string, number>();
      for (const { input } of operations) counts.set(input.action, (counts.get(input.action) ?? 0) + 1);
      for (const [action, n] of counts) this.metrics.balanceOperations.inc({ action, outcome }, n);
    }
    return result;
  }

  /** A batch as one transaction: claim, lock, decide each operation, THE posting (which records the answer), or the refusal recorded. */
  private async batchInTransaction(caller: Caller, operations: BatchOperation[], key: string, path: string, print: string): Promise<OperationResult> {
    const context = currentRequest();
    return this.writes.change<OperationResult>(caller.customerId, async (tx) => {
      const claim = await this.idempotency.claim(tx, caller.customerId, key, print);
      if (claim.kind === 'replay') return { result: { response: await this.batchWithBody(tx, caller, claim.response), replayed: true }, audit: [] };
      const requests = operations.map(({ kind, id, input }): PostingRequest => ({ caller, kind, id, input, idempotencyKey: key, context }));
      // Applied, the batch's answer is recorded by the posting statement itself, as the ids of
      // its entries (the entries are the body; a replay reads them again).
      const completes = this.idempotency.claimed(caller.customerId, key);
      const outcomes = await this.postSet(tx, requests, 'all-or-none', (ids) => ({ claim: completes, status: 201, body: { ledgerEntryIds: ids }, ledgerEntryId: null }));
      const errors = outcomes.flatMap((outcome, index) =>
        outcome.applied || outcome.withheld
          ? []
          : [{ pointer: `/operations/${index}`, type: outcome.problem.type, title: outcome.problem.title, detail: outcome.problem.message, ...answeredMembers(outcome.problem) }],
      );
      const response: StoredResponse = errors.length
        ? {
            status: 422,
            body: {
              type: PROBLEM_TYPE_BASE + 'batch-refused',
              title: 'Batch refused',
              status: 422,
              detail: `${errors.length} of ${operations.length} operations were refused; nothing was written.`,
              instance: path,
              errors,
            },
            headers: {},
          }
        : { status: 201, body: { items: outcomes.map((o) => (o.applied ? o.entry : null)) }, headers: {} };
      if (errors.length) await this.idempotency.complete(tx, caller.customerId, key, response);
      return { result: { response, replayed: false }, audit: [] };
    });
  }

  /**
   * THE posting: applies `requests` in order in `tx`, one outcome each, in a constant number
   * of statements whatever their number (the lock; the exchange-rate tables, only when a
   * conversion is asked for; the write). 'independent': a refused posting (404, 403,
   * validation, conversion, credit, range) writes nothing and the others still apply.
   * 'all-or-none': if any is refused, nothing at all is written (nor any claim answered).
   * `tables`: the billing customers' exchange-rate tables already read by the caller in this
   * transaction (usage: the sellers' tables it rated with, so that the entries convert
   * exactly as the charges it records); read here when absent or missing one.
   */
  async post(
    tx: Tx,
    requests: PostingRequest[],
    mode: 'independent' | 'all-or-none',
    tables?: Map<string, CurrencyTable>,
    commit = false,
  ): Promise<PostingOutcome[]> {
    return this.postSet(tx, requests, mode, undefined, tables, commit);
  }

  /**
   * `post`, and, when every posting applies, the answer `answerAll` gives (from the entries' ids)
   * recorded by the same statement. `commit`: the write commits `tx` (a pipelined transaction,
   * group commit); when nothing is written, the transaction commits after.
   */
  private async postSet(
    tx: Tx,
    requests: PostingRequest[],
    mode: 'independent' | 'all-or-none',
    answerAll?: (entryIds: string[]) => ClaimAnswer,
    known?: Map<string, CurrencyTable>,
    commit = false,
  ): Promise<PostingOutcome[]> {
    if (!requests.length) return [];
    const holderKey = (kind: HolderKind, id: string) => `${kind}:${id.toLowerCase()}`;
    const isSelf = (r: PostingRequest) => !r.uncheckedReach && r.kind === 'customer' && r.id.toLowerCase() === r.caller.customerId;
    const locked = new Map<string, LockedHolder>();
    for (const holder of await this.entries.lockHolders(tx, requests.filter((r) => !isSelf(r)))) locked.set(holderKey(holder.kind, holder.id), holder);

    // Reach and right, as the single operation answers them: 404, then 403.
    const reached = requests.map((r) => {
      const holder = locked.get(holderKey(r.kind, r.id));
      if (!holder || r.uncheckedReach) return holder;
      return pathInScope(r.caller, holder.subjectPath, r.kind === 'customer' ? 'descendants' : 'self-and-descendants') ? holder : undefined;
    });
    const converting = new Set<string>();
    requests.forEach((r, i) => {
      const holder = reached[i];
      if (holder && r.input.currency !== undefined && r.input.currency !== holder.baseCurrency) converting.add(holder.billingCustomerId);
    });
    const tables = await this.conversion.tablesOf([...converting].filter((id) => !known?.has(id)), tx);
    for (const [id, table] of known ?? []) tables.set(id, table);

    // External references already on the ledger of the holders reached (read under their locks).
    const wanted = requests.flatMap((r, i) => {
      const holder = reached[i];
      return holder && r.input.externalReference != null ? [{ kind: holder.kind, id: holder.id, reference: r.input.externalReference }] : [];
    });
    const references: References = { existing: new Map(), decided: new Map(), mode };
    for (const row of await this.entries.entriesWithReferences(tx, wanted)) references.existing.set(referenceKey(row.kind, row.holder_id, row.reference)!, row.id);

    const running = new Map<string, Running>();
    const outcomes: Array<PostingOutcome | DecidedEntry> = requests.map((r, i) => {
      try {
        const decided = this.decide(r, reached[i], tables, running, references);
        const reference = referenceKey(decided.kind, decided.holderId, decided.externalReference);
        if (reference) references.decided.set(reference, { entryId: decided.id, index: i });
        return decided;
      } catch (error) {
        if (!(error instanceof ProblemError) || error.status >= 500) throw error;
        return refused(error);
      }
    });
    const isEntry = (o: PostingOutcome | DecidedEntry): o is DecidedEntry => !('applied' in o);
    const anyRefused = outcomes.some((o) => !isEntry(o));
    if (mode === 'all-or-none' && anyRefused) {
      return outcomes.map((o) => (isEntry(o) ? { ...refused(new ProblemError(422, 'batch-refused', 'Batch refused')), withheld: true } : o));
    }

    const entries = outcomes.filter(isEntry);
    const answers: ClaimAnswer[] = [];
    requests.forEach((r, i) => {
      const o = outcomes[i];
      if (!r.completes) return;
      answers.push(
        isEntry(o)
          ? { claim: r.completes, status: 201, body: null, ledgerEntryId: o.id }
          : { claim: r.completes, status: (o as { problem: ProblemError }).problem.status, body: refusalBody((o as { problem: ProblemError }).problem, operationPath(r.kind, r.id)), ledgerEntryId: null },
      );
    });
    const changes = [...running.values()].map((s) => s.sums.change(s.holder.kind, s.holder.id, s.holder.baseCurrency, null));
    if (answerAll && !anyRefused) answers.push(answerAll(entries.map((e) => e.id)));
    const written = entries.length || answers.length ? ((await this.entries.post(tx, changes, entries, answers, null, 'ids', commit)) ?? []) : [];
    if (written.length !== entries.length) throw new Error(`the posting statement wrote ${written.length} of ${entries.length} entries decided under lock`);
    const createdAt = new Map(written.map((row) => [row.id, row.created_at]));
    return outcomes.map((o) => (isEntry(o) ? { applied: true as const, entry: { ...o.answer, createdAt: isoTime(createdAt.get(o.id)!) } } : o));
  }

  /** Decides one posting against the holders' running state (updated when it applies): its entry, or a thrown refusal. */
  private decide(r: PostingRequest, holder: LockedHolder | undefined, tables: Map<string, CurrencyTable>, running: Map<string, Running>, references: References): DecidedEntry {
    const { caller, input } = r;
    const usage = input.action === 'usage';
    if (usage !== Boolean(r.uncheckedReach)) throw new Error('a usage posting (and only it) skips the reach check here');
    if (!usage && r.kind === 'customer' && r.id.toLowerCase() === caller.customerId) {
      throw notADescendant('Only a customer above the target may operate on its balance; a customer never operates on its own.');
    }
    if (!holder) throw notVisible(r.kind);
    requirePermission(caller, usage ? 'usage.post' : 'balances.operate');
    if (input.allowOverdraft !== undefined && input.action !== 'debit') {
      throw new ValidationProblem([{ pointer: '/allowOverdraft', detail: 'allowOverdraft applies to debits only' }]);
    }
    // A reference the target already has: before any check of the money (it was done already).
    const reference = referenceKey(holder.kind, holder.id, input.externalReference);
    if (reference) {
      const existing = references.existing.get(reference);
      if (existing) throw new DuplicateReferenceProblem(holder.kind, input.externalReference!, { entryId: existing });
      const earlier = references.decided.get(reference);
      if (earlier) {
        // Independent postings: the earlier one is written with this set. All or none: nothing is, as this one is refused.
        throw new DuplicateReferenceProblem(
          holder.kind,
          input.externalReference!,
          references.mode === 'independent' ? { entryId: earlier.entryId } : { pointer: `/operations/${earlier.index}` },
        );
      }
    }
    const amount = new Big(input.amount);
    let exchangeRate = new Big(1);
    let converted = amount;
    const converts = input.currency !== undefined && input.currency !== holder.baseCurrency;
    if (converts) {
      ({ exchangeRate, converted } = this.conversion.convertWith(tables.get(holder.billingCustomerId)!, amount, input.currency!, holder.baseCurrency));
      if (converted.eq(0)) throw amountTooSmall();
    }
    const delta = input.action === 'debit' || usage ? converted.neg() : converted;
    const key = `${holder.kind}:${holder.id}`;
    let state = running.get(key);
    if (!state) {
      const balance = new Big(holder.balance);
      state = { holder, creditLimit: new Big(holder.creditLimit), balance, sums: new HolderSums() };
    }
    const after = state.balance.plus(delta);
    if (after.abs().gte(MONEY_LIMIT)) throw balanceOutOfRange();
    const checked = input.action === 'debit' && !input.allowOverdraft;
    if (checked && after.plus(state.creditLimit).lt(0)) {
      const available = formatMoney(state.balance.plus(state.creditLimit));
      throw new InsufficientFundsProblem(available);
    }
    running.set(key, state);
    state.balance = after;
    const prefix = state.sums.add(delta, checked);
    const context = r.context ?? currentRequest();
    const rateText = converts ? formatRate(exchangeRate) : ONE_RATE;
    const id = r.entryId ?? newRowId();
    // The entry as answered, but for its creation time (the statement's): the same values the
    // statement writes (rows locked, so the balance after is the one written).
    const answer: Omit<LedgerEntryDto, 'createdAt'> = {
      id,
      action: input.action,
      amount: formatMoney(amount),
      currency: input.currency ?? holder.baseCurrency,
      exchangeRate: rateText,
      convertedAmount: formatMoney(delta),
      balanceAfter: formatMoney(after),
      notes: input.notes ?? null,
      actor: caller.customerId,
      idempotencyKey: r.idempotencyKey,
      externalReference: input.externalReference ?? null,
      metadata: input.metadata ?? {},
    };
    return {
      id,
      kind: holder.kind,
      holderId: holder.id,
      action: input.action,
      amount: amount.toFixed(8),
      currency: input.currency ?? null,
      exchangeRate: exchangeRate.toFixed(12),
      delta: delta.toFixed(8),
      prefix: prefix.toFixed(8),
      notes: input.notes ?? null,
      actorId: caller.customerId,
      idempotencyKey: r.idempotencyKey,
      externalReference: input.externalReference ?? null,
      metadata: metadataText(input.metadata),
      audited: r.audited !== false,
      requestId: context?.requestId ?? null,
      clientAddress: context?.clientAddress ?? null,
      answer,
    };
  }

  /** A stored batch answer with its body: the entries, read again by the ids it holds. */
  private async batchWithBody(tx: Tx, caller: Caller, response: StoredResponse): Promise<StoredResponse> {
    const ids = (response.body as { ledgerEntryIds?: string[] } | null)?.ledgerEntryIds;
    if (!ids) return response;
    const rows = new Map((await this.entries.unscopedEntries(tx, ids)).map((row) => [row.id, row]));
    return { ...response, body: { items: ids.map((id) => storedEntryDto(rows.get(id)!, caller.customerId)) } };
  }

  /** A stored answer with its body (postings of earlier versions stored only the entry's id). */
  private async withBody(tx: Tx, caller: Caller, response: StoredResponse): Promise<StoredResponse> {
    if (response.body !== null || !response.ledgerEntryId) return response;
    const entry = await this.entries.unscopedEntry(tx, response.ledgerEntryId);
    return { ...response, body: entry ? storedEntryDto(entry, caller.customerId) : null };
  }

  async ledger(caller: Caller, holders: BalanceHolderFinder, id: string, query: LedgerQueryDto, limit: number): Promise<Page<LedgerEntryDto>> {
    const holder = await holders.forReading(caller, id);
    const keyset = new Keyset(`ledger:${holder.kind}:${holder.id}`, [{ sql: 'e.seq', type: 'bigint' }], 'desc');
    const params = new SqlParams();
    const after = await keyset.after(this.cursors, query.cursor, params);
    const rows = await this.entries.list(
      caller,
      keyset,
      holder.kind,
      holder.id,
      { action: query.action, from: query.from, to: query.to, externalReference: query.externalReference, after },
      limit,
      params,
    );
    return keyset.page(this.cursors, rows, limit, toLedgerEntryDto);
  }
}
