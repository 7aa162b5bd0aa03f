/** The named rights of SPEC §8. */
export const PERMISSIONS = {
  'customers.create': 'Create sub-customers.',
  'customers.update': 'Change sub-customers.',
  'customers.delete': 'Delete sub-customers.',
  'accounts.create': 'Create accounts.',
  'accounts.update': 'Change accounts.',
  'accounts.delete': 'Delete accounts.',
  'tariffs.manage': 'Create, change and delete tariffs and their rates.',
  'exchange-rates.manage': 'Set and delete exchange rates.',
  'balances.operate': 'Post payments, credits and debits to sub-customers and accounts.',
  'permissions.grant': 'Read and replace the permissions of sub-customers.',
  'api-keys.manage': 'Create and revoke API keys.',
  'webhooks.manage': 'Create, change and delete webhook endpoints, and send them test events.',
  'system.read': 'Read system-wide settings and routing groups.',
  'system.write': 'Change system-wide settings and routing groups.',
  'usage.post': 'Post rated calls of accounts in the subtree, and authorize calls before they connect.',
} as const;

export type Permission = keyof typeof PERMISSIONS;
export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];
/** What a new customer is granted unless the system settings say otherwise: all but the system's rights and posting usage (the switch's). */
export const DEFAULT_PERMISSIONS: Permission[] = ALL_PERMISSIONS.filter((p) => !p.startsWith('system.') && p !== 'usage.post');

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(PERMISSIONS, value);
}

/** Effective rights: the grants of every customer on the path from the root, intersected. */
export function intersectGrants(chain: ReadonlyArray<readonly string[]>): Set<Permission> {
  let effective = new Set<Permission>(ALL_PERMISSIONS);
  for (const grants of chain) {
    const allowed = new Set(grants);
    effective = new Set([...effective].filter((p) => allowed.has(p)));
  }
  return effective;
}
