import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { formatRate } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { NotFoundProblem, ValidationProblem } from '../common/problem/problem';
import { CustomerRow, CustomersRepository } from '../customers/customers.repository';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { returnedRows } from '../database/sql';
import { ExchangeRateChangeDto, ExchangeRateDto, ExchangeRateListDto } from './dto/exchange-rate.dto';

interface RateRow {
  currency: string;
  rate: string;
  version: number;
  updated_at: Date;
}

/** Exchange-rate tables (SPEC §5): the caller's own, or a visible descendant's. */
@Injectable()
export class ExchangeRatesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly customers: CustomersRepository,
    private readonly audit: AuditService,
    private readonly cursors: Cursors,
  ) {}

  private async owner(caller: Caller, customerId?: string): Promise<CustomerRow> {
    const owner = await this.customers.findVisible(caller, customerId ?? caller.customerId, 'self-and-descendants');
    if (!owner) throw notVisible();
    return owner;
  }

  private toDto(owner: CustomerRow, row: RateRow): ExchangeRateDto {
    return {
      currency: row.currency.trim(),
      baseCurrency: owner.base_currency.trim(),
      rate: formatRate(row.rate),
      updatedAt: row.updated_at.toISOString(),
      version: row.version,
    };
  }

  async list(caller: Caller, limit: number, cursor?: string, customerId?: string): Promise<ExchangeRateListDto> {
    const owner = await this.owner(caller, customerId);
    const list = `exchange-rates:${owner.id}`;
    const after = await this.cursors.decode<[string]>(list, cursor, ['string']);
    const rows: RateRow[] = await this.dataSource.query(
      `SELECT currency, rate, version, updated_at FROM exchange_rates
        WHERE customer_id = $1 AND ($2::text IS NULL OR currency > $2::bpchar)
        ORDER BY currency LIMIT $3`,
      [owner.id, after?.[0] ?? null, limit + 1],
    );
    return this.cursors.page(list, rows, limit, (r) => this.toDto(owner, r), (r) => [r.currency.trim()]);
  }

  async set(caller: Caller, currency: string, rate: string, customerId?: string): Promise<ExchangeRateDto> {
    const owner = await this.owner(caller, customerId);
    requirePermission(caller, 'exchange-rates.manage');
    if (currency === owner.base_currency.trim()) {
      throw new ValidationProblem([{ parameter: 'currency', detail: `${currency} is the table’s base currency; its rate is always 1` }]);
    }
    return this.dataSource.transaction(async (m) => {
      const previous: Array<{ rate: string }> = await m.query(
        `SELECT rate FROM exchange_rates WHERE customer_id = $1 AND currency = $2 FOR UPDATE`,
        [owner.id, currency],
      );
      const rows: RateRow[] = await m.query(
        `INSERT INTO exchange_rates (customer_id, currency, rate) VALUES ($1, $2, $3)
         ON CONFLICT (customer_id, currency)
         DO UPDATE SET rate = EXCLUDED.rate, version = exchange_rates.version + 1, updated_at = now()
         RETURNING currency, rate, version, updated_at`,
        [owner.id, currency, rate],
      );
      await m.query(`INSERT INTO exchange_rate_history (customer_id, currency, rate, actor_id) VALUES ($1, $2, $3, $4)`, [
        owner.id,
        currency,
        rate,
        caller.customerId,
      ]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'exchange-rate.set',
        targetType: 'exchange-rate',
        targetId: currency,
        subjectPath: owner.path,
        changes: { before: previous[0] ? { rate: formatRate(previous[0].rate) } : null, after: { rate: formatRate(rate) } },
      });
      return this.toDto(owner, rows[0]);
    });
  }

  async remove(caller: Caller, currency: string, customerId?: string): Promise<void> {
    const owner = await this.owner(caller, customerId);
    const existing: unknown[] = await this.dataSource.query(
      `SELECT 1 FROM exchange_rates WHERE customer_id = $1 AND currency = $2`,
      [owner.id, currency],
    );
    if (!existing.length) throw new NotFoundProblem('exchange rate');
    requirePermission(caller, 'exchange-rates.manage');
    await this.dataSource.transaction(async (m) => {
      const deleted = returnedRows<{ rate: string }>(
        await m.query(`DELETE FROM exchange_rates WHERE customer_id = $1 AND currency = $2 RETURNING rate`, [owner.id, currency]),
      );
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'exchange-rate.delete',
        targetType: 'exchange-rate',
        targetId: currency,
        subjectPath: owner.path,
        changes: { before: deleted[0] ? { rate: formatRate(deleted[0].rate) } : null, after: null },
      });
      await m.query(`INSERT INTO exchange_rate_history (customer_id, currency, rate, actor_id) VALUES ($1, $2, NULL, $3)`, [
        owner.id,
        currency,
        caller.customerId,
      ]);
    });
  }

  async history(caller: Caller, currency: string, limit: number, cursor?: string, customerId?: string): Promise<Page<ExchangeRateChangeDto>> {
    const owner = await this.owner(caller, customerId);
    const list = `exchange-rate-history:${owner.id}:${currency}`;
    const after = await this.cursors.decode<[string]>(list, cursor, ['bigint']);
    const rows: Array<{ id: string; currency: string; rate: string | null; at: Date }> = await this.dataSource.query(
      `SELECT id, currency, rate, at FROM exchange_rate_history
        WHERE customer_id = $1 AND currency = $2 AND ($3::bigint IS NULL OR id < $3::bigint)
        ORDER BY id DESC LIMIT $4`,
      [owner.id, currency, after?.[0] ?? null, limit + 1],
    );
    return this.cursors.page(
      list,
      rows,
      limit,
      (r) => ({ currency: r.currency.trim(), rate: r.rate === null ? null : formatRate(r.rate), at: r.at.toISOString() }),
      (r) => [String(r.id)],
    );
  }
}
