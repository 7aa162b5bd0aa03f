import { Injectable } from '@nestjs/common';
import { formatMoney } from '../common/money';
import { Page } from '../common/pagination';
import { ConflictProblem } from '../common/problem/problem';
import { CustomersRepository } from '../customers/customers.repository';
import { AccessOptions, requireAccess } from '../database/access';
import { isUniqueViolation } from '../database/sql';
import { Writes } from '../database/writes';
import { Caller } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { CreateTariffDto, TariffDto, TariffListQueryDto, UpdateTariffDto } from './dto/tariff.dto';
import { TariffRow, TariffsRepository } from './tariffs.repository';
import { isoTime } from '../common/iso-time';

export type { TariffRow };

export function toTariffDto(row: TariffRow): TariffDto {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    currency: row.currency,
    description: row.description,
    connectFee: formatMoney(row.connect_fee),
    freeSeconds: row.free_seconds,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
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
    private readonly tariffs: TariffsRepository,
    /** Owners: a tariff's owner must be visible to the caller (itself included). */
    private readonly owners: CustomersRepository,
    private readonly writes: Writes,
  ) {}

  /** A tariff whose owner is in the caller's subtree (itself included), else the one 404; then the right, the version. */
  require(caller: Caller, id: string, options: Omit<AccessOptions, 'what'> = {}): Promise<TariffRow> {
    return requireAccess(this.tariffs, caller, id, { ...options, what: 'tariff' });
  }

  async create(caller: Caller, input: CreateTariffDto): Promise<TariffDto> {
    const owner = await requireAccess(this.owners, caller, input.ownerId ?? caller.customerId, { permission: 'tariffs.manage', what: 'customer' });
    try {
      return await this.writes.change(caller.customerId, async (tx) => {
        const row = await this.tariffs.insert(caller, tx, {
          ownerId: owner.id,
          name: input.name,
          currency: input.currency,
          description: input.description ?? '',
          connectFee: input.connectFee ?? '0',
          freeSeconds: input.freeSeconds ?? 0,
        });
        if (!row) throw notVisible(); // the owner went away meanwhile
        const tariff = toTariffDto(row);
        return {
          result: tariff,
          audit: { action: 'tariff.create', targetType: 'tariff', targetId: tariff.id, subjectPath: row.owner_path, after: { ...tariff } },
        };
      });
    } catch (error) {
      throw isUniqueViolation(error) ? nameTaken() : error;
    }
  }

  async get(caller: Caller, id: string): Promise<TariffDto> {
    return toTariffDto(await this.require(caller, id));
  }

  async list(caller: Caller, query: TariffListQueryDto, limit: number): Promise<Page<TariffDto>> {
    const owner = query.ownerId ? await requireAccess(this.owners, caller, query.ownerId, { what: 'customer' }) : undefined;
    const page = await this.tariffs.list(caller, { ownerId: owner?.id }, query.cursor, limit);
    return { items: page.items.map(toTariffDto), nextCursor: page.nextCursor };
  }

  async update(caller: Caller, id: string, input: UpdateTariffDto, expectedVersion?: number): Promise<TariffDto> {
    try {
      return await this.writes.change(caller.customerId, async (tx) => {
        const row = await this.require(caller, id, { tx, lock: 'FOR UPDATE', permission: 'tariffs.manage', version: expectedVersion });
        const updated = (await this.tariffs.update(caller, tx, row.id, {
          name: input.name,
          description: input.description,
          connectFee: input.connectFee,
          freeSeconds: input.freeSeconds,
        }))!; // locked and visible above
        const before = toTariffDto(row);
        const after = toTariffDto(updated);
        return {
          result: after,
          audit: { action: 'tariff.update', targetType: 'tariff', targetId: row.id, subjectPath: row.owner_path, before: { ...before }, after: { ...after } },
        };
      });
    } catch (error) {
      throw isUniqueViolation(error) ? nameTaken() : error;
    }
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    await this.writes.change(caller.customerId, async (tx) => {
      const row = await this.require(caller, id, { tx, lock: 'FOR UPDATE', permission: 'tariffs.manage', version: expectedVersion });
      const { customers, accounts } = await this.tariffs.liveAssignments(caller, tx, row.id);
      if (customers > 0 || accounts > 0) {
        throw new ConflictProblem(
          'tariff-in-use',
          'Tariff in use',
          `The tariff is assigned to ${customers} customer(s) and ${accounts} account(s).`,
          { customers, accounts },
        );
      }
      await this.tariffs.delete(caller, tx, row.id);
      return {
        result: undefined,
        audit: { action: 'tariff.delete', targetType: 'tariff', targetId: row.id, subjectPath: row.owner_path, before: { ...toTariffDto(row) }, after: null },
      };
    });
  }
}
