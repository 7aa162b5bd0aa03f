import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { ForbiddenProblem, ProblemError } from '../common/problem/problem';
import { CustomerRow, CustomersRepository } from '../customers/customers.repository';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible, pathNodeIds } from '../tree/scope';
import { ALL_PERMISSIONS, intersectGrants, isPermission, Permission } from './permission.catalogue';
import { CustomerPermissionsDto } from './dto/permissions.dto';

/** Grants and effective rights (SPEC §8): effective = own grants ∩ the parent's effective rights. */
@Injectable()
export class PermissionsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly customers: CustomersRepository,
    private readonly audit: AuditService,
  ) {}

  private async describe(row: CustomerRow & { permissions?: string[] }): Promise<CustomerPermissionsDto> {
    const chain: Array<{ permissions: string[] }> = await this.dataSource.query(
      `SELECT permissions FROM customers WHERE node_id = ANY($1::bigint[]) AND parent_id IS NOT NULL ORDER BY depth`,
      [pathNodeIds(row.path)],
    );
    const grants: Array<{ permissions: string[] }> = await this.dataSource.query(`SELECT permissions FROM customers WHERE id = $1`, [row.id]);
    const own = row.depth === 0 ? ALL_PERMISSIONS : grants[0].permissions.filter(isPermission);
    const effective = intersectGrants(chain.map((c) => c.permissions));
    return {
      customerId: row.id,
      permissions: ALL_PERMISSIONS.filter((p) => own.includes(p)),
      effective: ALL_PERMISSIONS.filter((p) => effective.has(p)),
    };
  }

  async get(caller: Caller, id: string): Promise<CustomerPermissionsDto> {
    const row = await this.customers.findVisible(caller, id, 'self-and-descendants');
    if (!row) throw notVisible();
    return this.describe(row);
  }

  async replace(caller: Caller, id: string, requested: string[]): Promise<CustomerPermissionsDto> {
    return this.dataSource.transaction(async (m) => {
      const row = await this.customers.findVisible(caller, id, 'self-and-descendants', m, 'FOR UPDATE');
      if (!row) throw notVisible();
      if (row.id === caller.customerId) {
        throw new ProblemError(403, 'not-a-descendant', 'Forbidden', 'A customer cannot change its own permissions.');
      }
      requirePermission(caller, 'permissions.grant');
      const wanted = [...new Set(requested)].filter(isPermission) as Permission[];
      for (const permission of wanted) {
        // Nobody grants beyond its own effective rights.
        if (!caller.permissions.has(permission)) throw new ForbiddenProblem(permission);
      }
      const before: Array<{ permissions: string[] }> = await m.query(`SELECT permissions FROM customers WHERE id = $1`, [row.id]);
      await m.query(`UPDATE customers SET permissions = $2, version = version + 1, updated_at = now() WHERE id = $1`, [row.id, wanted]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'permissions.replace',
        targetType: 'permissions',
        targetId: row.id,
        subjectPath: row.path,
        changes: { before: { permissions: before[0].permissions }, after: { permissions: wanted } },
      });
      return row;
    }).then((row) => this.describe(row));
  }
}
