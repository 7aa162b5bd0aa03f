import { Injectable } from '@nestjs/common';
import { Page } from '../common/pagination';
import { ConflictProblem, ValidationProblem } from '../common/problem/problem';
import { requireAccess } from '../database/access';
import { isUniqueViolation } from '../database/sql';
import { Tx, Writes } from '../database/writes';
import { Caller, requirePermission } from '../tree/caller';
import { CreateRoutingGroupDto, RoutingGroupDto, UpdateRoutingGroupDto } from './dto/system.dto';
import { RoutingGroupRow, RoutingGroupsRepository } from './routing-groups.repository';
import { isoTime } from '../common/iso-time';

const toDto = (r: RoutingGroupRow): RoutingGroupDto => ({
  id: r.id,
  name: r.name,
  description: r.description,
  policy: r.policy,
  createdAt: isoTime(r.created_at),
  updatedAt: isoTime(r.updated_at),
  version: r.version,
});

const nameTaken = () =>
  new ConflictProblem('name-taken', 'Name taken', 'Another routing group has this name.', {
    errors: [{ pointer: '/name', detail: 'name is already used by another routing group' }],
  });

const WHAT = 'routing group';

/**
 * Routing groups: system-wide, behind system.read / system.write. The right gates the whole
 * collection, so it is checked before the group is looked up (403 before 404, as for the list).
 * Changes are audited as the caller's (subject: the caller's own path).
 */
@Injectable()
export class RoutingGroupsService {
  constructor(
    private readonly groups: RoutingGroupsRepository,
    private readonly writes: Writes,
  ) {}

  /**
   * For customers and accounts that reference one, inside their writing transaction: 400 on the
   * field when it does not exist; else the group is locked FOR KEY SHARE until that transaction
   * ends, so a concurrent delete (FOR UPDATE) waits and then sees the new reference (409), or
   * deleted it first and this answers the 400 — never a foreign-key failure.
   */
  async assertExists(id: string, pointer: string, manager: Tx): Promise<void> {
    if (!(await this.groups.unscopedExistsKeyShared(manager, id))) {
      throw new ValidationProblem([{ pointer, detail: `${pointer.slice(1)} must name an existing routing group` }]);
    }
  }

  async list(caller: Caller, limit: number, cursor?: string): Promise<Page<RoutingGroupDto>> {
    requirePermission(caller, 'system.read');
    const page = await this.groups.page(caller, limit, cursor);
    return { ...page, items: page.items.map(toDto) };
  }

  async get(caller: Caller, id: string): Promise<RoutingGroupDto> {
    requirePermission(caller, 'system.read');
    return toDto(await requireAccess(this.groups, caller, id, { what: WHAT }));
  }

  async create(caller: Caller, input: CreateRoutingGroupDto): Promise<RoutingGroupDto> {
    requirePermission(caller, 'system.write');
    return this.nameUnique(() =>
      this.writes.change(caller.customerId, async (tx) => {
        const created = toDto(await this.groups.insert(caller, tx, input));
        return { result: created, audit: this.event(caller, 'routing-group.create', created.id, null, created) };
      }),
    );
  }

  async update(caller: Caller, id: string, input: UpdateRoutingGroupDto, expectedVersion?: number): Promise<RoutingGroupDto> {
    requirePermission(caller, 'system.write');
    return this.nameUnique(() =>
      this.writes.change(caller.customerId, async (tx) => {
        const before = await requireAccess(this.groups, caller, id, { tx, lock: 'FOR UPDATE', version: expectedVersion, what: WHAT });
        const after = toDto(await this.groups.update(caller, tx, id, input));
        return { result: after, audit: this.event(caller, 'routing-group.update', id, toDto(before), after) };
      }),
    );
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    requirePermission(caller, 'system.write');
    await this.writes.change(caller.customerId, async (tx) => {
      const before = await requireAccess(this.groups, caller, id, { tx, lock: 'FOR UPDATE', version: expectedVersion, what: WHAT });
      const usage = await this.groups.usage(caller, tx, id);
      if (usage.customers > 0 || usage.accounts > 0) {
        throw new ConflictProblem(
          'routing-group-in-use',
          'Routing group in use',
          `The routing group is used by ${usage.customers} customer(s) and ${usage.accounts} account(s).`,
          { customers: usage.customers, accounts: usage.accounts },
        );
      }
      await this.groups.delete(caller, tx, id);
      return { result: undefined, audit: this.event(caller, 'routing-group.delete', id, toDto(before), null) };
    });
  }

  private async nameUnique<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw isUniqueViolation(error) ? nameTaken() : error;
    }
  }

  private event(caller: Caller, action: string, id: string, before: RoutingGroupDto | null, after: RoutingGroupDto | null) {
    return {
      action,
      targetType: 'routing-group' as const,
      targetId: id,
      subjectPath: caller.path,
      before: before && { ...before },
      after: after && { ...after },
    };
  }
}
