import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { StoredResponse, fingerprint, IdempotencyService } from '../common/idempotency/idempotency.service';
import { Big, formatMoney, formatRate } from '../common/money';
import { decodeCursor, Page, toPage } from '../common/pagination';
import { ProblemError, ValidationProblem } from '../common/problem/problem';
import { toProblem } from '../common/problem/to-problem';
import { currentRequest } from '../common/request-context';
import { inTransaction } from '../common/transactions';
import { ConversionService } from '../currencies/conversion.service';
import { Metrics } from '../metrics/metrics';
import { Caller, requirePermission } from '../tree/caller';
import { SqlParams } from '../tree/scope';
import { BalanceHolderFinder } from './balance-holders';
import { BalanceOperationDto, LedgerEntryDto, LedgerQueryDto } from './dto/balance-operation.dto';
import { appendLedgerEntry, LEDGER_COLUMNS, LedgerRow, toLedgerEntryDto } from './ledger';
import { returnedRows } from '../database/sql';

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
    const result = await inTransaction(this.dataSource, async (m): Promise<OperationResult> => {
      const claim = await this.idempotency.claim(m, caller.customerId, key, print);
      if (claim.kind === 'replay') return { response: claim.response, replayed: true };
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
    });
    const outcome = result.replayed ? 'replayed' : result.response.status < 400 ? 'applied' : 'refused';
    this.metrics.balanceOperations.inc({ action: input.action, outcome });
    return result;
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
        RETURNING balance`,
      [holder.id, delta.toFixed(8), checkCredit],
    ));
    if (!updated.length) {
      const rows: Array<{ available: string }> = await m.query(
        `SELECT balance + credit_limit AS available FROM ${holders.table} WHERE id = $1`,
        [holder.id],
      );
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
          amount: input.amount,
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
    const after = decodeCursor<[string]>(query.cursor, ['string']);
    if (after) {
      if (!/^\d{1,19}$/.test(after[0])) throw new ValidationProblem([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);
      where.push(`e.seq < ${params.add(after[0])}::bigint`);
    }
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
    return toPage(rows, limit, toLedgerEntryDto, (r) => [String(r.seq)]);
  }
}
