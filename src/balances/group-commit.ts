import { Logger } from '@nestjs/common';
import { IdempotencyService, StoredResponse } from '../common/idempotency/idempotency.service';
import { isOverload } from '../common/problem/to-problem';
import { currentRequest, runInRequest } from '../common/request-context';
import { Tx, Writes } from '../database/writes';
import { Metrics } from '../metrics/metrics';
import type { OperationResult, PostingOutcome, PostingRequest } from './balances.service';

/** The settings of group commit (README, "Group commit"). */
export interface GroupCommitSettings {
  /** How long the first request of a group waits for others (0: the rest of this turn of the event loop). */
  windowMs: number;
  /** Most postings in one group; 0 or 1: no groups (every operation alone, as before). */
  max: number;
  /** Groups written at once (each on its own connection); others queue meanwhile. */
  groupsInFlight: number;
}

/** One balance operation: its posting (with its Idempotency-Key), the key's fingerprint, and the path it was posted to. */
export interface Operation {
  request: PostingRequest & { idempotencyKey: string };
  print: string;
  path: string;
}

/** What the committer needs from the balances service. */
export interface GroupCommitWork {
  writes: Writes;
  idempotency: IdempotencyService;
  metrics: Metrics;
  /** THE posting, each request on its own (`post(tx, requests, 'independent')`), its write committing `tx` (a pipelined transaction). */
  post(tx: Tx, requests: PostingRequest[]): Promise<PostingOutcome[]>;
  /** The answer an outcome gives (and stores for its key). */
  answer(outcome: PostingOutcome, path: string): StoredResponse;
  /** The operation alone, as without groups: one statement, or its own transaction. */
  alone(operation: Operation): Promise<OperationResult>;
  /** The operations as THE posting statement alone (no transaction): each answer, or null where the statement could not decide. */
  together(operations: Operation[]): Promise<Array<OperationResult | null>>;
}

interface Waiting {
  operation: Operation;
  identity: string;
  /** The result, or null: take the path alone (the key was known, or the group failed). */
  resolve(result: OperationResult | null): void;
  reject(error: unknown): void;
}

/** How long a group's claim waits for a key another transaction holds before the group gives way. */
const CLAIM_LOCK_TIMEOUT_MS = 500;

/** A key of the group was held by another transaction: the group is rolled back, its operations go alone. */
class GaveWay extends Error {}

const identityOf = (request: Operation['request']) => `${request.caller.customerId} ${request.idempotencyKey}`;
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Group commit of balance operations. Operations arriving within the window, or while the
 * groups in flight are being written, are written together: first as THE posting statement
 * alone (`together`: one round trip, no transaction), which writes what it can prove applies;
 * what it could not decide, in ONE transaction: their fresh
 * Idempotency-Keys claimed in one statement, every posting through THE posting (each its own
 * refusal and its own answer), each claim completed with its answer, each audit event with its
 * own request's context, one commit. Then every request gets its own answer.
 *
 * What a group cannot decide goes alone (today's path, which gives the exact answer): a key
 * already known (a replay, a request in progress, another body) or held by another request
 * of this instance; and every operation of a group that failed (a deadlock, a key held by
 * another instance, a statement error caused by one of them): the transaction rolled back,
 * so nothing was written and each is retried alone. A bound on the database (pool or
 * statement timeout) fails the group's requests as it would fail each: 503, nothing done.
 */
export class GroupCommitter {
  private readonly logger = new Logger('GroupCommit');
  private queue: Waiting[] = [];
  /** Identities (caller and key) queued or in a group in flight. */
  private readonly held = new Set<string>();
  private inFlight = 0;
  private timer?: { cancel(): void };
  private closing = false;
  private drained?: () => void;

  constructor(
    private readonly settings: GroupCommitSettings,
    private readonly work: GroupCommitWork,
  ) {}

  get enabled(): boolean {
    return this.settings.max > 1;
  }

  /** The operation's answer, written in a group when it can be. */
  async operate(operation: Operation): Promise<OperationResult> {
    const identity = identityOf(operation.request);
    // A duplicate of an operation queued or in flight here waits for its commit (the claim), then replays.
    if (!this.enabled || this.closing || this.held.has(identity)) return this.work.alone(operation);
    this.held.add(identity);
    const request = { ...operation.request, context: operation.request.context ?? currentRequest() };
    const grouped = await new Promise<OperationResult | null>((resolve, reject) => {
      this.queue.push({ operation: { ...operation, request }, identity, resolve, reject });
      this.schedule();
    });
    return grouped ?? this.work.alone(operation);
  }

  /** Writes what is queued now and waits for every group in flight (shutdown). */
  async drain(): Promise<void> {
    this.closing = true;
    if (this.queue.length) {
      this.timer?.cancel();
      this.timer = undefined;
      this.flush();
    }
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => (this.drained = resolve));
  }

  private schedule(): void {
    if (this.timer || !this.queue.length || this.inFlight >= this.settings.groupsInFlight) return;
    if (this.settings.windowMs === 0) {
      const immediate = setImmediate(() => this.flush());
      this.timer = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(() => this.flush(), this.settings.windowMs);
      this.timer = { cancel: () => clearTimeout(timeout) };
    }
  }

  private flush(): void {
    this.timer = undefined;
    while (this.queue.length && this.inFlight < this.settings.groupsInFlight) {
      const group = this.queue.splice(0, this.settings.max);
      this.inFlight++;
      // Outside any request's context: the group works for all of its requests.
      void runInRequest(undefined, () => this.run(group))
        .catch((error: unknown) => this.logger.error(`a group of ${group.length} could not be settled: ${String(error)}`))
        .finally(() => this.ended());
    }
  }

  private ended(): void {
    this.inFlight--;
    if (this.queue.length) {
      // Those queued meanwhile waited long enough: the next group starts now.
      this.timer?.cancel();
      this.flush();
    } else if (this.inFlight === 0) {
      this.drained?.();
    }
  }

  private async run(group: Waiting[]): Promise<void> {
    if (group.length === 1) {
      // A group of one is the operation alone: one statement, no transaction.
      const [waiting] = group;
      this.work.metrics.groupCommits.observe({ outcome: 'alone' }, 1);
      await runInRequest(waiting.operation.request.context, () => this.work.alone(waiting.operation)).then(
        (result) => this.settle(waiting, () => waiting.resolve(result)),
        (error: unknown) => this.settle(waiting, () => waiting.reject(error)),
      );
      return;
    }
    // First the group as one statement, no transaction: what it cannot decide goes through
    // the group's transaction.
    let rest: Waiting[] = [];
    try {
      const answers = await this.work.together(group.map((waiting) => waiting.operation));
      let written = 0;
      for (const [i, waiting] of group.entries()) {
        const answer = answers[i];
        if (!answer) rest.push(waiting);
        else {
          written++;
          this.settle(waiting, () => waiting.resolve(answer));
        }
      }
      if (written) this.work.metrics.groupCommits.observe({ outcome: 'one-statement' }, written);
    } catch (error) {
      if (this.refusedForOverload(group, error)) return;
      this.logger.debug(`a group of ${group.length} failed as one statement, tried in a transaction: ${String(error)}`);
      rest = group;
    }
    if (rest.length) await this.transaction(rest);
  }

  /** The group's transaction: each of its operations decided under the holders' locks; if it fails, each alone. */
  private async transaction(group: Waiting[]): Promise<void> {
    let results: Map<Waiting, OperationResult>;
    try {
      results = await this.commit(group);
    } catch (error) {
      if (this.refusedForOverload(group, error)) return;
      // Nothing was written: each operation is retried alone, where only its own fault fails it.
      if (!(error instanceof GaveWay)) this.logger.debug(`a group of ${group.length} failed, each retried alone: ${String(error)}`);
      this.work.metrics.groupCommits.observe({ outcome: 'retried' }, group.length);
      for (const waiting of group) this.settle(waiting, () => waiting.resolve(null));
      return;
    }
    if (results.size) this.work.metrics.groupCommits.observe({ outcome: 'committed' }, results.size);
    for (const waiting of group) this.settle(waiting, () => waiting.resolve(results.get(waiting) ?? null));
  }

  /**
   * A bound on the database (pool wait, statement timeout) met by a group's statement or
   * transaction: each operation alone would meet it too, so each gets it (503, nothing
   * written). True when `error` was that and the group is answered.
   */
  private refusedForOverload(group: Waiting[], error: unknown): boolean {
    if (!isOverload(error)) return false;
    for (const waiting of group) this.settle(waiting, () => waiting.reject(error));
    return true;
  }

  private settle(waiting: Waiting, answer: () => void): void {
    this.held.delete(waiting.identity);
    answer();
  }

  /**
   * The group's transaction. Postings are applied in one order everywhere (holder kind, then
   * id; arrival order kept per holder) and keys claimed in one order too, so that groups of
   * several instances take their locks in the same order and cannot deadlock each other.
   */
  private commit(group: Waiting[]): Promise<Map<Waiting, OperationResult>> {
    const holderOf = (w: Waiting) => `${w.operation.request.kind} ${w.operation.request.id.toLowerCase()}`;
    const ordered = [...group].sort((a, b) => compare(holderOf(a), holderOf(b)));
    const claims = [...group]
      .sort((a, b) => compare(a.identity, b.identity))
      .map(({ operation: { request, print } }) => ({ callerId: request.caller.customerId, key: request.idempotencyKey, fingerprint: print }));
    // BEGIN goes with the claim, COMMIT with the posting's write: three round trips, not five.
    return this.work.writes.pipelinedTransaction(async (tx) => {
      const taken = await this.work.idempotency.claimMany(tx, claims, CLAIM_LOCK_TIMEOUT_MS);
      if (taken === 'locked') throw new GaveWay();
      const members = ordered.filter((w) => taken.has(w.identity));
      const results = new Map<Waiting, OperationResult>();
      if (!members.length) return results;
      const outcomes = await this.work.post(
        tx,
        members.map(({ operation: { request } }) => ({ ...request, completes: { callerId: request.caller.customerId, key: request.idempotencyKey, token: null } })),
      );
      for (const [i, waiting] of members.entries()) {
        const outcome = outcomes[i];
        // THE posting recorded each answer (the entry, or the refusal) with the money.
        const response = this.work.answer(outcome, waiting.operation.path);
        results.set(waiting, { response, replayed: false });
      }
      return results;
    });
  }
}
