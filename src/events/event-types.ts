/**
 * Every event type (SPEC §14). Audited changes map from their audit action
 * (`x.create` → `x.created`, …; see migration 1764400000000 and docs/events.md);
 * `balance.changed` and `balance.low` come from ledger entries, `call.rated` from rated calls.
 */
export const EVENT_TYPES = [
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'account.created',
  'account.updated',
  'account.deleted',
  'account-batch.created',
  'tariff.created',
  'tariff.updated',
  'tariff.deleted',
  'rate.created',
  'rate.updated',
  'rate.deleted',
  'rates.replaced',
  'exchange-rate.updated',
  'exchange-rate.deleted',
  'api-key.created',
  'api-key.revoked',
  'permissions.replaced',
  'routing-group.created',
  'routing-group.updated',
  'routing-group.deleted',
  'system-settings.updated',
  'session.created',
  'webhook-endpoint.created',
  'webhook-endpoint.updated',
  'webhook-endpoint.deleted',
  'balance.changed',
  'balance.low',
  'call.rated',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}
