/**
 * The event types an endpoint may subscribe to (SPEC §14). Until the events part's own list
 * is on this branch, the types the brief names; replaced by the events module's list.
 */
export const WEBHOOK_EVENT_TYPES = [
  'customer.created',
  'customer.updated',
  'customer.deleted',
  'account.created',
  'account.updated',
  'account.deleted',
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
  'balance.changed',
  'balance.low',
  'call.rated',
] as const;

/** The type of the event `POST /v1/webhook-endpoints/{id}/test` sends (never in the feed). */
export const TEST_EVENT_TYPE = 'webhook.test';
