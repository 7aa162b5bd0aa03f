import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { assertVersion } from '../common/etag';
import { Cursors, Page } from '../common/pagination';
import { ConflictProblem, NotFoundProblem, ValidationProblem } from '../common/problem/problem';
import { isUniqueViolation, returnedRows } from '../database/sql';
import { Caller, requirePermission } from '../tree/caller';
import { CreateRoutingGroupDto, RoutingGroupDto, UpdateRoutingGroupDto } from './dto/system.dto';

interface GroupRow {
  id: string;
  name: string;
  description: string;
  policy: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const toDto = (r: GroupRow): RoutingGroupDto => ({
  id: r.id,
  name: r.name,
  description: r.description,
  policy: r.policy,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
  version: r.version,
});

const nameTaken = () =>
  new ConflictProblem('name-taken', 'Name taken', 'Another routing group has this name.', {
    errors: [{ pointer: '/name', detail: 'name is already used by another routing group' }],
  });

/** Routing groups: system-wide, behind system.read / system.write. */
@Injectable()
export class RoutingGroupsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditService,
    private readonly cursors: Cursors,
  ) {}

  /**
   * For customers and accounts that reference one, inside their writing transaction: 400 on the
   * field when it does not exist; else the group is locked FOR KEY SHARE until that transaction
   * ends, so a concurrent delete (FOR UPDATE) waits and then sees the new reference (409), or
   * deleted it first and this answers the 400 — never a foreign-key failure.
   */
  async assertExists(id: string, pointer: string, manager: EntityManager): Promise<void> {
    const rows: unknown[] = await manager.query(`SELECT 1 FROM routing_groups WHERE id = $1 FOR KEY SHARE`, [id]);
    if (!rows.length) throw new ValidationProblem([{ pointer, detail: `${pointer.slice(1)} must name an existing routing group` }]);
  }

  async list(caller: Caller, limit: number, cursor?: string): Promise<Page<RoutingGroupDto>> {
    requirePermission(caller, 'system.read');
    const after = await this.cursors.decode<[string, string]>('routing-groups', cursor, ['string', 'uuid']);
    const rows: GroupRow[] = await this.dataSource.query(
      `SELECT * FROM routing_groups WHERE ($1::text IS NULL OR (name, id) > ($1::text, $2::uuid)) ORDER BY name, id LIMIT $3`,
      [after?.[0] ?? null, after?.[1] ?? null, limit + 1],
    );
    return this.cursors.page('routing-groups', rows, limit, toDto, (r) => [r.name, r.id]);
  }

  private async find(id: string, m: EntityManager, lock = false): Promise<GroupRow> {
    const rows: GroupRow[] = await m.query(`SELECT * FROM routing_groups WHERE id = $1 ${lock ? 'FOR UPDATE' : ''}`, [id]);
    if (!rows.length) throw new NotFoundProblem('routing group');
    return rows[0];
  }

  async get(caller: Caller, id: string): Promise<RoutingGroupDto> {
    requirePermission(caller, 'system.read');
    return toDto(await this.find(id, this.dataSource.manager));
  }

  async create(caller: Caller, input: CreateRoutingGroupDto): Promise<RoutingGroupDto> {
    requirePermission(caller, 'system.write');
    try {
      return await this.dataSource.transaction(async (m) => {
        const rows: GroupRow[] = await m.query(
          `INSERT INTO routing_groups (name, description, policy) VALUES ($1, $2, $3) RETURNING *`,
          [input.name, input.description ?? '', input.policy],
        );
        const dto = toDto(rows[0]);
        await this.record(m, caller, 'routing-group.create', dto.id, null, { ...dto });
        return dto;
      });
    } catch (error) {
      throw isUniqueViolation(error) ? nameTaken() : error;
    }
  }

  async update(caller: Caller, id: string, input: UpdateRoutingGroupDto, expectedVersion?: number): Promise<RoutingGroupDto> {
    requirePermission(caller, 'system.write');
    try {
      return await this.dataSource.transaction(async (m) => {
        const before = await this.find(id, m, true);
        assertVersion(expectedVersion, before.version);
        const rows = returnedRows<GroupRow>(
          await m.query(
            `UPDATE routing_groups SET name = COALESCE($2, name), description = COALESCE($3, description),
                    policy = COALESCE($4, policy), version = version + 1, updated_at = now()
              WHERE id = $1 RETURNING *`,
            [id, input.name ?? null, input.description ?? null, input.policy ?? null],
          ),
        );
        const dto = toDto(rows[0]);
        await this.record(m, caller, 'routing-group.update', id, { ...toDto(before) }, { ...dto });
        return dto;
      });
    } catch (error) {
      throw isUniqueViolation(error) ? nameTaken() : error;
    }
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    requirePermission(caller, 'system.write');
    await this.dataSource.transaction(async (m) => {
      const before = await this.find(id, m, true);
      assertVersion(expectedVersion, before.version);
      const [usage]: Array<{ customers: number; accounts: number }> = await m.query(
        `SELECT (SELECT count(*)::int FROM customers WHERE routing_group_id = $1 AND deleted_at IS NULL) AS customers,
                (SELECT count(*)::int FROM accounts WHERE routing_group_id = $1 AND deleted_at IS NULL) AS accounts`,
        [id],
      );
      if (usage.customers > 0 || usage.accounts > 0) {
        throw new ConflictProblem(
          'routing-group-in-use',
          'Routing group in use',
          `The routing group is used by ${usage.customers} customer(s) and ${usage.accounts} account(s).`,
          { customers: usage.customers, accounts: usage.accounts },
        );
      }
      // Deleted customers and accounts keep their history; their reference goes with the group.
      await m.query(`UPDATE customers SET routing_group_id = NULL WHERE routing_group_id = $1`, [id]);
      await m.query(`UPDATE accounts SET routing_group_id = NULL WHERE routing_group_id = $1`, [id]);
      await m.query(`DELETE FROM routing_groups WHERE id = $1`, [id]);
      await this.record(m, caller, 'routing-group.delete', id, { ...toDto(before) }, null);
    });
  }

  private record(m: EntityManager, caller: Caller, action: string, id: string, before: Record<string, unknown> | null, after: Record<string, unknown> | null) {
    return this.audit.record(m, {
      actorId: caller.customerId,
      action,
      targetType: 'routing-group',
      targetId: id,
      subjectPath: caller.path,
      changes: { before, after },
    });
  }
}
