import { Injectable } from '@nestjs/common';
import { formatMoney } from '../../common/money';
import { Page } from '../../common/pagination';
import { ConflictProblem, ProblemError } from '../../common/problem/problem';
import { requireAccess } from '../../database/access';
import { isUniqueViolation } from '../../database/sql';
import { ChangeRecord, Tx, Writes } from '../../database/writes';
import { Caller } from '../../tree/caller';
import { TariffRow } from '../tariffs.repository';
import { TariffsService } from '../tariffs.service';
import { CreateRateDto, RateDto, RateListQueryDto, UpdateRateDto } from './dto/rate.dto';
import { candidatePrefixes, parseDateTime } from './rate-rules';
import { RateRow, RatesRepository } from './rates.repository';
import { isoTime } from '../../common/iso-time';

export function toRateDto(row: RateRow): RateDto {
  return {
    id: row.id,
    tariffId: row.tariff_id,
    prefix: row.prefix,
    price: formatMoney(row.price),
    firstInterval: row.first_interval,
    nextInterval: row.next_interval,
    connectFee: formatMoney(row.connect_fee),
    effectiveFrom: isoTime(row.effective_from),
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
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

/** The audit record of a change to a tariff's rates, scoped to the tariff's owner. */
export function rateChange(
  tariff: TariffRow,
  action: string,
  targetId: string,
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): ChangeRecord {
  return {
    action,
    targetType: 'rate',
    targetId,
    subjectPath: tariff.owner_path,
    before,
    after: after ? { tariffId: tariff.id, ...after } : null,
  };
}

/**
 * Rates of a tariff (SPEC §4). Visibility is the tariff's (404 outside the caller's subtree);
 * writes need `tariffs.manage` and lock the tariff row first, so that single-rate writes and
 * whole-deck uploads of one tariff never interleave.
 */
@Injectable()
export class RatesService {
  constructor(
    private readonly rates: RatesRepository,
    private readonly tariffs: TariffsService,
    private readonly writes: Writes,
  ) {}

  async list(caller: Caller, tariffId: string, query: RateListQueryDto, limit: number): Promise<Page<RateDto>> {
    const tariff = await this.tariffs.require(caller, tariffId);
    const page = await this.rates.list(caller, tariff.id, { prefix: query.prefix }, query.cursor, limit);
    return { items: page.items.map(toRateDto), nextCursor: page.nextCursor };
  }

  async get(caller: Caller, tariffId: string, rateId: string): Promise<RateDto> {
    const tariff = await this.tariffs.require(caller, tariffId);
    return toRateDto(await requireAccess(this.rates.ofTariff(tariff.id), caller, rateId, { what: 'rate' }));
  }

  async create(caller: Caller, tariffId: string, input: CreateRateDto): Promise<RateDto> {
    return this.writes.change(caller.customerId, async (tx) => {
      const tariff = await this.lockForWrite(caller, tariffId, tx);
      const row = await this.rates.insert(caller, tx, tariff.id, {
        prefix: input.prefix,
        price: input.price,
        firstInterval: input.firstInterval ?? 1,
        nextInterval: input.nextInterval ?? 1,
        connectFee: input.connectFee ?? '0',
        effectiveFrom: instant(input.effectiveFrom),
      });
      if (!row) throw rateExists();
      const rate = toRateDto(row);
      return { result: rate, audit: rateChange(tariff, 'rate.create', rate.id, null, { ...rate }) };
    });
  }

  async update(caller: Caller, tariffId: string, rateId: string, input: UpdateRateDto, expectedVersion?: number): Promise<RateDto> {
    try {
      return await this.writes.change(caller.customerId, async (tx) => {
        const tariff = await this.lockForWrite(caller, tariffId, tx);
        const current = await requireAccess(this.rates.ofTariff(tariff.id), caller, rateId, { tx, version: expectedVersion, what: 'rate' });
        const row = (await this.rates.update(caller, tx, tariff.id, current.id, {
          prefix: input.prefix ?? null,
          price: input.price ?? null,
          firstInterval: input.firstInterval ?? null,
          nextInterval: input.nextInterval ?? null,
          connectFee: input.connectFee ?? null,
          effectiveFrom: instant(input.effectiveFrom),
        }))!; // found above, under the tariff's lock
        const rate = toRateDto(row);
        return { result: rate, audit: rateChange(tariff, 'rate.update', rate.id, { ...toRateDto(current) }, { ...rate }) };
      });
    } catch (error) {
      throw isUniqueViolation(error) ? rateExists() : error;
    }
  }

  async remove(caller: Caller, tariffId: string, rateId: string, expectedVersion?: number): Promise<void> {
    await this.writes.change(caller.customerId, async (tx) => {
      const tariff = await this.lockForWrite(caller, tariffId, tx);
      const current = await requireAccess(this.rates.ofTariff(tariff.id), caller, rateId, { tx, version: expectedVersion, what: 'rate' });
      await this.rates.delete(caller, tx, tariff.id, current.id);
      return { result: undefined, audit: rateChange(tariff, 'rate.delete', current.id, { ...toRateDto(current) }, null) };
    });
  }

  /**
   * The rate that applies to `number` now: among rates already in effect, the longest prefix
   * of the number wins, and for that prefix the latest `effectiveFrom`.
   */
  async lookup(caller: Caller, tariffId: string, number: string): Promise<RateDto> {
    // Visibility of the tariff and the rate in one round trip: an invisible tariff is the
    // tariff's 404, a visible one without a rate is `no-rate`.
    const inTariff = { findVisible: (c: Caller, id: string) => this.rates.lookup(c, id, candidatePrefixes(number)) };
    const found = await requireAccess(inTariff, caller, tariffId, { what: 'tariff' });
    if (!found.rate) throw new NoRateProblem();
    return toRateDto(found.rate);
  }

  /** The tariff, visible (else 404) and locked for this transaction; then the right (else 403). */
  lockForWrite(caller: Caller, tariffId: string, tx: Tx): Promise<TariffRow> {
    return this.tariffs.require(caller, tariffId, { tx, lock: 'FOR UPDATE', permission: 'tariffs.manage' });
  }
}
