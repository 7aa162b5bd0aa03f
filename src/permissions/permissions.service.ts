import { Injectable } from '@nestjs/common';
import { ForbiddenProblem } from '../common/problem/problem';
import { notADescendant, requireAccess } from '../database/access';
import { Writes } from '../database/writes';
import { Caller, requirePermission } from '../tree/caller';
import { ALL_PERMISSIONS, intersectGrants, isPermission, Permission } from './permission.catalogue';
import { CustomerPermissionsDto } from './dto/permissions.dto';
import { GrantsRow, PermissionsRepository } from './permissions.repository';

/** Grants and effective rights (SPEC §8): effective = own grants ∩ the parent's effective rights. */
@Injectable()
export class PermissionsService {
  constructor(
    private readonly grants: PermissionsRepository,
    private readonly writes: Writes,
  ) {}

  private async describe(row: GrantsRow): Promise<CustomerPermissionsDto> {
    const own = row.depth === 0 ? ALL_PERMISSIONS : row.permissions.filter(isPermission);
    const effective = intersectGrants(await this.grants.unscopedGrantsOnPath(row.path));
    return {
      customerId: row.id,
      permissions: ALL_PERMISSIONS.filter((p) => own.includes(p)),
      effective: ALL_PERMISSIONS.filter((p) => effective.has(p)),
    };
  }

  async get(caller: Caller, id: string): Promise<CustomerPermissionsDto> {
    return this.describe(await requireAccess(this.grants, caller, id, { what: 'customer' }));
  }

  async replace(caller: Caller, id: string, requested: string[]): Promise<CustomerPermissionsDto> {
    const row = await this.writes.change(caller.customerId, async (tx) => {
      const current = await requireAccess(this.grants, caller, id, { what: 'customer', tx, lock: 'FOR UPDATE' });
      if (current.id === caller.customerId) throw notADescendant('A customer cannot change its own permissions.');
      requirePermission(caller, 'permissions.grant');
      const wanted = [...new Set(requested)].filter(isPermission) as Permission[];
      for (const permission of wanted) {
        // Nobody grants beyond its own effective rights.
        if (!caller.permissions.has(permission)) throw new ForbiddenProblem(permission);
      }
      const replaced = await this.grants.replace(caller, tx, current.id, wanted);
      return {
        result: replaced,
        audit: {
          action: 'permissions.replace',
          targetType: 'permissions',
          targetId: current.id,
          subjectPath: current.path,
          before: { permissions: current.permissions },
          after: { permissions: wanted },
        },
      };
    });
    return this.describe(row);
  }
}
