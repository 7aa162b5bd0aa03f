import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { assertVersion } from '../common/etag';
import { formatMoney } from '../common/money';
import { Cursors, cursorTimestamp, Page } from '../common/pagination';
import { ConflictProblem } from '../common/problem/problem';
import { CustomersRepository } from '../customers/customers.repository';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible, subtreeCondition } from '../tree/scope';
import { CreateTariffDto, TariffDto, TariffListQueryDto, UpdateTariffDto } from './dto/tariff.dto';
import { isUniqueViolation, returnedRows, SqlParams } from '../database/sql';

export interface TariffRow {
  id: string;
  /** Path of the owner (never sent to clients): audit events are scoped by it. */
  owner_path?: string;
  owner_id: string;
  name: string;
  currency: string;
  description: string;
  connect_fee: string;
  free_seconds: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `t.id, t.owner_id, t.name, t.currency, t.description, t.connect_fee, t.free_seconds, t.version, t.created_at, t.updated_at`;

export function toTariffDto(row: TariffRow): TariffDto {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    currency: row.currency.trim(),
    description: row.description,
    connectFee: formatMoney(row.connect_fee),
    freeSeconds: row.free_seconds,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

const nameTaken = () =>
  new ConflictProblem('name-taken', 'Name taken', 'This owner already has a tariff with this name.', {
    errors: [{ pointer: '/name', detail: 'name is already used by another tariff of this owner' }],
  });

/** Tariffs owned by the caller or by a customer of its subtree (SPEC §4). */
@Injectable()
export class TariffsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly customers: CustomersRepository,
    private readonly audit: AuditService,
    private readonly cursors: Cursors,
  ) {}

  /** A tariff whose owner is in the caller's subtree (itself included), or 404. */
  async findVisible(caller: Caller, id: string, m: EntityManager = this.dataSource.manager, lock = ''): Promise<TariffRow> {
    const params = new SqlParams();
    const rows: TariffRow[] = await m.query(
      `SELECT ${COLUMNS}, o.path AS owner_path FROM tariffs t JOIN customers o ON o.id = t.owner_id
        WHERE t.id = ${params.add(id)} AND ${subtreeCondition('o', caller, params, 'self-and-descendants')} ${lock ? `FOR UPDATE OF t` : ''}`,
      params.values,
    );
    if (!rows[0]) throw notVisible('tariff');
    return rows[0];
  }

  async create(caller: Caller, input: CreateTariffDto): Promise<TariffDto> {
    const ownerId = input.ownerId ?? caller.customerId;
    const owner = await this.customers.findVisible(caller, ownerId, 'self-and-descendants');
    if (!owner) throw notVisible();
    requirePermission(caller, 'tariffs.manage');
    try {
      return await this.dataSource.transaction(async (m) => {
        const rows: TariffRow[] = await m.query(
          `INSERT INTO tariffs AS t (owner_id, name, currency, description, connect_fee, free_seconds)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
          [owner.id, input.name, input.currency, input.description ?? '', input.connectFee ?? '0', input.freeSeconds ?? 0],
        );
        const tariff = toTariffDto(rows[0]);
        await this.audit.record(m, {
          actorId: caller.customerId,
          action: 'tariff.create',
          targetType: 'tariff',
          targetId: tariff.id,
          subjectPath: owner.path,
          changes: { after: { ...tariff } },
        });
        return tariff;
      });
    } catch (error) {
      throw isUniqueViolation(error) ? nameTaken() : error;
    }
  }

  async get(caller: Caller, id: string): Promise<TariffDto> {
    return toTariffDto(await this.findVisible(caller, id));
  }

  async list(caller: Caller, query: TariffListQueryDto, limit: number): Promise<Page<TariffDto>> {
    const params = new SqlParams();
    const where = [subtreeCondition('o', caller, params, 'self-and-descendants')];
    if (query.ownerId) {
      const owner = await this.customers.findVisible(caller, query.ownerId, 'self-and-descendants');
      if (!owner) throw notVisible();
      where.push(`t.owner_id = ${params.add(owner.id)}`);
    }
    const after = await this.cursors.decode<[string, string]>('tariffs', query.cursor, ['timestamp', 'uuid']);
    if (after) where.push(`(t.created_at, t.id) > (${params.add(after[0])}::timestamptz, ${params.add(after[1])}::uuid)`);
    const rows: Array<TariffRow & { cursor_at: string }> = await this.dataSource.query(
      `SELECT ${COLUMNS}, ${cursorTimestamp('t.created_at')} AS cursor_at FROM tariffs t JOIN customers o ON o.id = t.owner_id
        WHERE ${where.join(' AND ')} ORDER BY t.created_at, t.id LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    return this.cursors.page('tariffs', rows, limit, toTariffDto, (r) => [r.cursor_at, r.id]);
  }

  async update(caller: Caller, id: string, input: UpdateTariffDto, expectedVersion?: number): Promise<TariffDto> {
    try {
      return await this.dataSource.transaction(async (m) => {
        const row = await this.findVisible(caller, id, m, 'FOR UPDATE');
        requirePermission(caller, 'tariffs.manage');
        assertVersion(expectedVersion, row.version);
        const rows = returnedRows<TariffRow>(await m.query(
          `UPDATE tariffs t SET name = COALESCE($2, name), description = COALESCE($3, description),
                  connect_fee = COALESCE($4::numeric, connect_fee), free_seconds = COALESCE($5, free_seconds),
                  version = version + 1, updated_at = now()
            WHERE id = $1 RETURNING ${COLUMNS}`,
          [row.id, input.name ?? null, input.description ?? null, input.connectFee ?? null, input.freeSeconds ?? null],
        ));
        const before = toTariffDto(row);
        const after = toTariffDto(rows[0]);
        await this.audit.record(m, {
          actorId: caller.customerId,
          action: 'tariff.update',
          targetType: 'tariff',
          targetId: row.id,
          subjectPath: row.owner_path!,
          changes: { before: { ...before }, after: { ...after } },
        });
        return after;
      });
    } catch (error) {
      throw isUniqueViolation(error) ? nameTaken() : error;
    }
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const row = await this.findVisible(caller, id, m, 'FOR UPDATE');
      requirePermission(caller, 'tariffs.manage');
      assertVersion(expectedVersion, row.version);
      const usage: Array<{ customers: string; accounts: string }> = await m.query(
        `SELECT (SELECT count(*) FROM customers WHERE tariff_id = $1 AND deleted_at IS NULL) AS customers,
                (SELECT count(*) FROM accounts WHERE tariff_id = $1 AND deleted_at IS NULL) AS accounts`,
        [row.id],
      );
      const customers = Number(usage[0].customers);
      const accounts = Number(usage[0].accounts);
      if (customers > 0 || accounts > 0) {
        throw new ConflictProblem(
          'tariff-in-use',
          'Tariff in use',
          `The tariff is assigned to ${customers} customer(s) and ${accounts} account(s).`,
          { customers, accounts },
        );
      }
      // Deleted customers and accounts keep their history; their tariff reference is cleared with the tariff.
      await m.query(`UPDATE customers SET tariff_id = NULL WHERE tariff_id = $1 AND deleted_at IS NOT NULL`, [row.id]);
      await m.query(`UPDATE accounts SET tariff_id = NULL WHERE tariff_id = $1 AND deleted_at IS NOT NULL`, [row.id]);
      await m.query(`DELETE FROM tariffs WHERE id = $1`, [row.id]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'tariff.delete',
        targetType: 'tariff',
        targetId: row.id,
        subjectPath: row.owner_path!,
        changes: { before: { ...toTariffDto(row) }, after: null },
      });
    });
  }
}
