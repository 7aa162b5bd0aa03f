import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { StoredResponse, fingerprint, IdempotencyService } from '../common/idempotency/idempotency.service';
import { AmountOutOfRangeProblem, Big, formatMoney, formatRate, MONEY_LIMIT } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { ProblemError, ValidationProblem } from '../common/problem/problem';
import { toProblem } from '../common/problem/to-problem';
import { currentRequest } from '../common/request-context';
import { inTransaction } from '../database/transactions';
import { ConversionService } from '../currencies/conversion.service';
import { Metrics } from '../metrics/metrics';
import { Caller, requirePermission } from '../tree/caller';
import { BalanceHolderFinder } from './balance-holders';
import { BalanceOperationDto, LedgerEntryDto, LedgerQueryDto } from './dto/balance-operation.dto';
import { appendLedgerEntry, LEDGER_COLUMNS, LedgerRow, toLedgerEntryDto } from './ledger';
import { returnedRows, sqlState, SqlParams } from '../database/sql';

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

export interface OperationResult {
  response: StoredResponse;
  replayed: boolean;
  /** The original problem, when this (first) attempt failed with one. */
  problem?: ProblemError;
}

/**
 * The one implementation of balance operations and ledgers, for customers and accounts.
 * Each operation is one transaction: idempotency claim, conditional balance update, ledger
 * insert, audit insert, stored response. Serialization failures and deadlocks are retried.
 */
@Injectable()
export class BalancesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
    private readonly conversion: ConversionService,
    private readonly audit: AuditService,
    private readonly metrics: Metrics,
    private readonly cursors: Cursors,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.idempotencyTtlHours = config.IDEMPOTENCY_TTL_HOURS;
  }

  private readonly idempotencyTtlHours: number;

  async operate(
    caller: Caller,
    holders: BalanceHolderFinder,
    id: string,
    input: BalanceOperationDto,
    key: string,
    path: string,
  ): Promise<OperationResult> {
    const print = fingerprint('POST', path, input);
    const fast = await this.tryInOneStatement(caller, holders, id, input, key, print);
    const result =
      fast ??
      (await inTransaction(this.dataSource, async (m): Promise<OperationResult> => {
      const claim = await this.idempotency.claim(m, caller.customerId, key, print);
      if (claim.kind === 'replay') {
        const response = claim.response;
        if (response.body === null && response.ledgerEntryId) response.body = await this.entryBody(m, caller, response.ledgerEntryId);
        return { response, replayed: true };
      }
      try {
        const body = await this.apply(m, caller, holders, id, input, key);
        const response: StoredResponse = { status: 201, body, headers: {} };
        await this.idempotency.complete(m, caller.customerId, key, response);
        return { response, replayed: false };
      } catch (error) {
        if (!(error instanceof ProblemError) || error.status >= 500) throw error;
        // A refused operation is an outcome too: the same key replays the same problem. Every
        // refusal is decided before the first write (the conditional UPDATE writes nothing
        // when it refuses), so there is nothing to undo here.
        const body = toProblem(error, path, currentRequest()?.requestId ?? '').body;
        const response: StoredResponse = { status: body.status, body, headers: {} };
        await this.idempotency.complete(m, caller.customerId, key, response);
        return { response, replayed: false, problem: error };
      }
      }));
    const outcome = result.replayed ? 'replayed' : result.response.status < 400 ? 'applied' : 'refused';
    this.metrics.balanceOperations.inc({ action: input.action, outcome });
    return result;
  }

  /**
   * The common case in ONE statement (no explicit transaction): an operation in the target's
   * own currency, by a caller with the right, on a key never seen. Balance update, ledger
   * entry, audit event and idempotency record are data-modifying CTEs of one INSERT/UPDATE,
   * so they commit or vanish together. Anything else (a replay, a refusal, a conversion, a
   * 404/403, a concurrent duplicate that loses the key's unique index) returns null and takes
   * the transactional path, which gives every answer its exact problem.
   */
  private async tryInOneStatement(
    caller: Caller,
    holders: BalanceHolderFinder,
    id: string,
    input: BalanceOperationDto,
    key: string,
    print: string,
  ): Promise<OperationResult | null> {
    if (!caller.permissions.has('balances.operate')) return null;
    if (input.allowOverdraft !== undefined && input.action !== 'debit') return null;
    const params = new SqlParams();
    const target = holders.fastTarget(caller, id, params);
    const amount = new Big(input.amount);
    const delta = params.add((input.action === 'debit' ? amount.neg() : amount).toFixed(8));
    const amountParam = params.add(amount.toFixed(8));
    const callerId = params.add(caller.customerId);
    const keyParam = params.add(key);
    const action = params.add(input.action);
    const request = currentRequest();
    const sql = `
      WITH h AS (
        UPDATE ${holders.table} h SET balance = h.balance + ${delta}::numeric, version = h.version + 1, updated_at = now()
        ${target.from}
        WHERE ${target.where}
          AND ${target.baseCurrency} = COALESCE(${params.add(input.currency ?? null)}::char(3), ${target.baseCurrency})
          AND (NOT ${params.add(input.action === 'debit' && !input.allowOverdraft)}::boolean
               OR h.balance + h.credit_limit + ${delta}::numeric >= 0)
          AND abs(h.balance + ${delta}::numeric) < ${params.add(MONEY_LIMIT.toFixed())}::numeric
          AND NOT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.caller_id = ${callerId}::uuid AND k.key = ${keyParam}::varchar)
        RETURNING h.id, h.balance, ${target.baseCurrency} AS base_currency, ${target.subjectPath} AS subject_path
      ), e AS (
        INSERT INTO ledger_entries AS e (customer_id, account_id, action, amount, currency, exchange_rate, converted_amount,
                                         balance_after, notes, actor_id, idempotency_key)
        SELECT ${holders.kind === 'customer' ? 'h.id' : 'NULL'}, ${holders.kind === 'account' ? 'h.id' : 'NULL'}, ${action}::varchar,
               ${amountParam}::numeric, h.base_currency, 1, ${delta}::numeric, h.balance, ${params.add(input.notes ?? null)}::varchar,
               ${callerId}::uuid, ${keyParam}::varchar
          FROM h
        RETURNING ${LEDGER_COLUMNS}
      ), a AS (
        INSERT INTO audit_events (actor_id, action, target_type, target_id, subject_path, changes, request_id, client_address)
        SELECT ${callerId}::uuid, 'balance.' || ${action}::varchar, 'balance-operation', e.id::text, h.subject_path,
               jsonb_build_object('after', jsonb_build_object(
                 ${params.add(holders.kind === 'customer' ? 'customerId' : 'accountId')}::text, h.id,
                 'amount', ${params.add(formatMoney(amount))}::text, 'currency', trim(h.base_currency), 'exchangeRate', '1.0',
                 'convertedAmount', ${params.add(formatMoney(input.action === 'debit' ? amount.neg() : amount))}::text,
                 -- formatMoney in SQL: at least two decimals, no trailing zeros beyond them
                 'balanceAfter', CASE WHEN scale(trim_scale(h.balance)) <= 2 THEN round(h.balance, 2)::text ELSE trim_scale(h.balance)::text END)),
               ${params.add(request?.requestId ?? null)}::varchar, ${params.add(request?.clientAddress ?? null)}::varchar
          FROM e, h
      ), k AS (
        INSERT INTO idempotency_keys (caller_id, key, fingerprint, status, ledger_entry_id, expires_at)
        SELECT ${callerId}::uuid, ${keyParam}::varchar, ${params.add(print)}, 201, e.id,
               now() + make_interval(hours => ${params.add(this.idempotencyTtlHours)}::int)
          FROM e
      )
      SELECT * FROM e`;
    let rows: Array<Omit<LedgerRow, 'visible_actor'>>;
    try {
      rows = await this.dataSource.query(sql, params.values);
    } catch (error) {
      // A duplicate committed first (unique key) or a deadlock: the transactional path decides.
      const code = sqlState(error);
      if (code === '23505' || code === '40P01' || code === '40001') return null;
      throw error;
    }
    if (!rows.length) return null;
    const body = toLedgerEntryDto({ ...rows[0], visible_actor: caller.customerId });
    return { response: { status: 201, body, headers: {} }, replayed: false };
  }

  /** A posting's response rebuilt from its ledger entry (replay of a one-statement posting). */
  private async entryBody(m: EntityManager, caller: Caller, entryId: string): Promise<LedgerEntryDto> {
    const rows: Array<Omit<LedgerRow, 'visible_actor'>> = await m.query(`SELECT ${LEDGER_COLUMNS} FROM ledger_entries e WHERE e.id = $1`, [entryId]);
    return toLedgerEntryDto({ ...rows[0], visible_actor: caller.customerId });
  }

  private async apply(
    m: EntityManager,
    caller: Caller,
    holders: BalanceHolderFinder,
    id: string,
    input: BalanceOperationDto,
    key: string,
  ): Promise<LedgerEntryDto> {
    const holder = await holders.forOperation(caller, id, m);
    requirePermission(caller, 'balances.operate');
    if (input.allowOverdraft !== undefined && input.action !== 'debit') {
      throw new ValidationProblem([{ pointer: '/allowOverdraft', detail: 'allowOverdraft applies to debits only' }]);
    }
    const currency = input.currency ?? holder.baseCurrency;
    const { exchangeRate, converted } = await this.conversion.toBase(input.amount, currency, holder.baseCurrency, holder.billingCustomerId, m);
    if (converted.eq(0)) {
      throw new ProblemError(422, 'amount-too-small', 'Amount too small', 'The amount converts to zero in the target’s base currency.');
    }
    const delta = input.action === 'debit' ? converted.neg() : converted;
    const checkCredit = input.action === 'debit' && !input.allowOverdraft;
    const updated = returnedRows<{ balance: string }>(await m.query(
      `UPDATE ${holders.table} SET balance = balance + $2::numeric, version = version + 1, updated_at = now()
        WHERE id = $1 AND deleted_at IS NULL AND (NOT $3 OR balance + credit_limit + $2::numeric >= 0)
          AND abs(balance + $2::numeric) < $4::numeric
        RETURNING balance`,
      [holder.id, delta.toFixed(8), checkCredit, MONEY_LIMIT.toFixed()],
    ));
    if (!updated.length) {
      // Refused before any write: the balance would leave NUMERIC(38,8), or the debit the credit.
      const rows: Array<{ available: string; out_of_range: boolean }> = await m.query(
        `SELECT balance + credit_limit AS available, abs(balance + $2::numeric) >= $3::numeric AS out_of_range FROM ${holders.table} WHERE id = $1`,
        [holder.id, delta.toFixed(8), MONEY_LIMIT.toFixed()],
      );
      if (rows[0].out_of_range) throw new AmountOutOfRangeProblem('The balance after this operation would not fit the stored precision (less than 10^30).');
      throw new InsufficientFundsProblem(formatMoney(rows[0].available));
    }
    const entry = await appendLedgerEntry(m, {
      holder,
      action: input.action,
      amount: input.amount,
      currency,
      exchangeRate: exchangeRate.toFixed(12),
      convertedAmount: delta.toFixed(8),
      balanceAfter: updated[0].balance,
      notes: input.notes ?? null,
      actorId: caller.customerId,
      idempotencyKey: key,
    });
    await this.audit.record(m, {
      actorId: caller.customerId,
      action: `balance.${input.action}`,
      targetType: 'balance-operation',
      targetId: entry.id,
      subjectPath: holder.subjectPath,
      changes: {
        after: {
          [holder.kind === 'customer' ? 'customerId' : 'accountId']: holder.id,
          amount: formatMoney(input.amount),
          currency,
          exchangeRate: formatRate(exchangeRate),
          convertedAmount: formatMoney(delta),
          balanceAfter: formatMoney(new Big(updated[0].balance)),
        },
      },
    });
    return toLedgerEntryDto({ ...entry, visible_actor: caller.customerId });
  }

  async ledger(caller: Caller, holders: BalanceHolderFinder, id: string, query: LedgerQueryDto, limit: number): Promise<Page<LedgerEntryDto>> {
    const holder = await holders.forReading(caller, id);
    const params = new SqlParams();
    const where = [`e.${holder.kind === 'customer' ? 'customer_id' : 'account_id'} = ${params.add(holder.id)}`];
    if (query.action) where.push(`e.action = ${params.add(query.action)}`);
    if (query.from) where.push(`e.created_at >= ${params.add(query.from)}`);
    if (query.to) where.push(`e.created_at < ${params.add(query.to)}`);
    const list = `ledger:${holder.kind}:${holder.id}`;
    const after = await this.cursors.decode<[string]>(list, query.cursor, ['bigint']);
    if (after) where.push(`e.seq < ${params.add(after[0])}::bigint`);
    // An actor above the viewer is shown as null (SPEC §6, §1).
    const actorScope = params.add(caller.path + '%');
    const rows: LedgerRow[] = await this.dataSource.query(
      `SELECT ${LEDGER_COLUMNS}, a.id AS visible_actor
         FROM ledger_entries e
         LEFT JOIN customers a ON a.id = e.actor_id AND a.path LIKE ${actorScope}
        WHERE ${where.join(' AND ')}
        ORDER BY e.seq DESC LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    return this.cursors.page(list, rows, limit, toLedgerEntryDto, (r) => [String(r.seq)]);
  }
}
