import type { DeliveryWork } from './webhook-deliveries.repository';

/** The event as a webhook carries it: `{id, sequence, type, occurredAt, subject, actor, data}` (the feed's shape). */
export interface WebhookEventBody {
  id: string;
  sequence: number | null;
  type: string;
  occurredAt: string;
  subject: { type: string; id: string | null };
  actor: string | null;
  data: unknown;
}

/**
 * The body of a delivery: a feed event rendered as the feed renders it for the endpoint's
 * owner (the actor null when it is not in the owner's subtree), or the stored body of an event
 * outside the feed (webhook.test). Until the events module is on this branch, its rendering
 * (`toEventDto`) is mirrored here.
 */
export function deliveryBody(work: DeliveryWork): string {
  if (work.payload) return JSON.stringify(work.payload);
  const body: WebhookEventBody = {
    id: work.event_id,
    sequence: work.sequence === null ? null : Number(work.sequence),
    type: work.type ?? work.event_type,
    occurredAt: (work.occurred_at ?? work.created_at).toISOString(),
    subject: { type: work.subject_type ?? '', id: work.subject_id },
    actor: work.actor_visible ? work.actor_id : null,
    data: work.data,
  };
  return JSON.stringify(body);
}
