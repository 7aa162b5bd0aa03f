import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../../audit/audit.service';
import { assertVersion } from '../../common/etag';
import { formatMoney } from '../../common/money';
import { Cursors, Page } from '../../common/pagination';
import { ConflictProblem, NotFoundProblem, ProblemError } from '../../common/problem/problem';
import { Caller, requirePermission } from '../../tree/caller';
import { notVisible, subtreeCondition } from '../../tree/scope';
import { TariffRow, TariffsService } from '../tariffs.service';
import { CreateRateDto, RateDto, RateListQueryDto, UpdateRateDto } from './dto/rate.dto';
import { candidatePrefixes, parseDateTime } from './rate-rules';
import { isUniqueViolation, returnedRows, SqlParams } from '../../database/sql';

export interface RateRow {
  id: string;
  tariff_id: string;
  prefix: string;
  price: string;
  first_interval: number;
  next_interval: number;
  connect_fee: string;
  effective_from: Date;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export const RATE_COLUMNS = `r.id, r.tariff_id, r.prefix, r.price, r.first_interval, r.next_interval, r.connect_fee, r.effective_from, r.version, r.created_at, r.updated_at`;
/** "Now" as stored: effective_from keeps milliseconds only (see the Rates migration). */
export const NOW_MS = `date_trunc('milliseconds', now())`;

export function toRateDto(row: RateRow): RateDto {
  return {
    id: row.id,
    tariffId: row.tariff_id,
    prefix: row.prefix,
    price: formatMoney(row.price),
    firstInterval: row.first_interval,
    nextInterval: row.next_interval,
    connectFee: formatMoney(row.connect_fee),
    effectiveFrom: row.effective_from.toISOString(),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

const rateExists = () =>
  new ConflictProblem('rate-exists', 'Rate exists', 'The tariff already has a rate for this prefix taking effect at this time.', {
    errors: [{ pointer: '/effectiveFrom', detail: 'one rate per prefix and effectiveFrom' }],
  });

export class NoRateProblem extends ProblemError {
  constructor() {
    super(404, 'no-rate', 'No rate', 'No rate in effect in this tariff covers the number.');
  }
}

/** The canonical instant of a validated date-time: one parser (ours) decides, not two. */
function instant(value: string | undefined): string | null {
  return value === undefined ? null : parseDateTime(value)!.toISOString();
}

/**
 * Rates of a tariff (SPEC §4). Visibility is the tariff's (404 outside the caller's subtree);
 * writes need `tariffs.manage` and lock the tariff row first, so that single-rate writes and
 * whole-deck uploads of one tariff never interleave.
 */
@Injectable()
export class RatesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tariffs: TariffsService,
    private readonly audit: AuditService,
    private readonly cursors: Cursors,
  ) {}

  async list(caller: Caller, tariffId: string, query: RateListQueryDto, limit: number): Promise<Page<RateDto>> {
    const tariff = await this.tariffs.findVisible(caller, tariffId);
    const params = new SqlParams();
    const where = [`r.tariff_id = ${params.add(tariff.id)}`];
    // Digits only (validated), so the pattern needs no escaping; "C" collation makes it a range scan.
    if (query.prefix) where.push(`r.prefix LIKE ${params.add(query.prefix + '%')}`);
    const after = await this.cursors.decode<[string, string]>(`rates:${tariff.id}`, query.cursor, ['string', 'timestamp']);
    if (after) where.push(`(r.prefix, r.effective_from) > (${params.add(after[0])}, ${params.add(after[1])}::timestamptz)`);
    const rows: RateRow[] = await this.dataSource.query(
      `SELECT ${RATE_COLUMNS} FROM rates r WHERE ${where.join(' AND ')}
        ORDER BY r.prefix, r.effective_from LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    return this.cursors.page(`rates:${tariff.id}`, rows, limit, toRateDto, (r) => [r.prefix, r.effective_from.toISOString()]);
  }

  async get(caller: Caller, tariffId: string, rateId: string): Promise<RateDto> {
    const tariff = await this.tariffs.findVisible(caller, tariffId);
    return toRateDto(await this.findRate(this.dataSource.manager, tariff, rateId));
  }

  async create(caller: Caller, tariffId: string, input: CreateRateDto): Promise<RateDto> {
    return this.dataSource.transaction(async (m) => {
      const tariff = await this.lockForWrite(caller, tariffId, m);
      const rows: RateRow[] = await m.query(
        `INSERT INTO rates AS r (tariff_id, prefix, price, first_interval, next_interval, connect_fee, effective_from)
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7::timestamptz, ${NOW_MS}))
         ON CONFLICT (tariff_id, prefix, effective_from) DO NOTHING
         RETURNING ${RATE_COLUMNS}`,
        [
          tariff.id,
          input.prefix,
          input.price,
          input.firstInterval ?? 1,
          input.nextInterval ?? 1,
          input.connectFee ?? '0',
          instant(input.effectiveFrom),
        ],
      );
      if (!rows[0]) throw rateExists();
      const rate = toRateDto(rows[0]);
      await this.recordChange(m, caller, tariff, 'rate.create', rate.id, null, { ...rate });
      return rate;
    });
  }

  async update(caller: Caller, tariffId: string, rateId: string, input: UpdateRateDto, expectedVersion?: number): Promise<RateDto> {
    try {
      return await this.dataSource.transaction(async (m) => {
        const tariff = await this.lockForWrite(caller, tariffId, m);
        const current = await this.findRate(m, tariff, rateId);
        assertVersion(expectedVersion, current.version);
        const rows = returnedRows<RateRow>(
          await m.query(
          `UPDATE rates r SET prefix = COALESCE($2, prefix), price = COALESCE($3::numeric, price),
                  first_interval = COALESCE($4, first_interval), next_interval = COALESCE($5, next_interval),
                  connect_fee = COALESCE($6::numeric, connect_fee), effective_from = COALESCE($7::timestamptz, effective_from),
                  version = version + 1, updated_at = now()
            WHERE id = $1 RETURNING ${RATE_COLUMNS}`,
          [
            current.id,
            input.prefix ?? null,
            input.price ?? null,
            input.firstInterval ?? null,
            input.nextInterval ?? null,
            input.connectFee ?? null,
            instant(input.effectiveFrom),
          ],
          ),
        );
        const rate = toRateDto(rows[0]);
        await this.recordChange(m, caller, tariff, 'rate.update', rate.id, { ...toRateDto(current) }, { ...rate });
        return rate;
      });
    } catch (error) {
      throw isUniqueViolation(error) ? rateExists() : error;
    }
  }

  async remove(caller: Caller, tariffId: string, rateId: string, expectedVersion?: number): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const tariff = await this.lockForWrite(caller, tariffId, m);
      const current = await this.findRate(m, tariff, rateId);
      assertVersion(expectedVersion, current.version);
      await m.query(`DELETE FROM rates WHERE id = $1`, [current.id]);
      await this.recordChange(m, caller, tariff, 'rate.delete', current.id, { ...toRateDto(current) }, null);
    });
  }

  /** Audit events for rate changes, scoped to the tariff's owner. */
  recordChange(
    m: EntityManager,
    caller: Caller,
    tariff: TariffRow,
    action: string,
    targetId: string,
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
  ): Promise<void> {
    return this.audit.record(m, {
      actorId: caller.customerId,
      action,
      targetType: 'rate',
      targetId,
      subjectPath: tariff.owner_path!,
      changes: { before, after: after ? { tariffId: tariff.id, ...after } : null },
    });
  }

  /**
   * The rate that applies to `number` now: among rates already in effect, the longest prefix
   * of the number wins, and for that prefix the latest `effectiveFrom`. One index scan on
   * (tariff_id, prefix, effective_from) over at most 32 candidate prefixes.
   */
  async lookup(caller: Caller, tariffId: string, number: string): Promise<RateDto> {
    // Visibility of the tariff and the rate in one round trip: no tariff row is the tariff's
    // 404, a tariff row without a rate is `no-rate`.
    const params = new SqlParams();
    const rows: Array<RateRow | { id: null }> = await this.dataSource.query(
      `SELECT ${RATE_COLUMNS}
         FROM tariffs t
         JOIN customers o ON o.id = t.owner_id
         LEFT JOIN LATERAL (
           SELECT * FROM rates x
            WHERE x.tariff_id = t.id AND x.prefix = ANY(${params.add(candidatePrefixes(number))}::varchar[]) AND x.effective_from <= now()
            ORDER BY length(x.prefix) DESC, x.effective_from DESC LIMIT 1
         ) r ON true
        WHERE t.id = ${params.add(tariffId)} AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}`,
      params.values,
    );
    if (!rows[0]) throw notVisible('tariff');
    if (rows[0].id === null) throw new NoRateProblem();
    return toRateDto(rows[0] as RateRow);
  }

  /** The tariff, visible (else 404) and locked for this transaction; then the right (else 403). */
  async lockForWrite(caller: Caller, tariffId: string, m: EntityManager): Promise<TariffRow> {
    const tariff = await this.tariffs.findVisible(caller, tariffId, m, 'FOR UPDATE');
    requirePermission(caller, 'tariffs.manage');
    return tariff;
  }

  private async findRate(m: EntityManager, tariff: TariffRow, rateId: string): Promise<RateRow> {
    const rows: RateRow[] = await m.query(`SELECT ${RATE_COLUMNS} FROM rates r WHERE r.id = $1 AND r.tariff_id = $2`, [
      rateId,
      tariff.id,
    ]);
    if (!rows[0]) throw new NotFoundProblem('rate');
    return rows[0];
  }
}
