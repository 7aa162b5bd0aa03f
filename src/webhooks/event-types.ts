import { EVENT_TYPES } from '../events/event-types';

/** The event types an endpoint may subscribe to: every type of the feed (SPEC §14). */
export const WEBHOOK_EVENT_TYPES = EVENT_TYPES;

/** The type of the event `POST /v1/webhook-endpoints/{id}/test` sends (never in the feed). */
export const TEST_EVENT_TYPE = 'webhook.test';
