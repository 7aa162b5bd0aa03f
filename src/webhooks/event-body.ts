import { toEventDto } from '../events/event-view';
import type { DeliveryWork } from './webhook-deliveries.repository';

/**
 * The body of a delivery: a feed event rendered exactly as the feed renders it for the
 * endpoint's owner (`toEventDto`; the actor null when it is not in the owner's subtree), or
 * the stored body of an event outside the feed (webhook.test).
 */
export function deliveryBody(work: DeliveryWork): string {
  if (work.payload || work.sequence === null) return JSON.stringify(work.payload);
  return JSON.stringify(
    toEventDto(
      {
        sequence: work.sequence,
        id: work.event_id,
        type: work.type!,
        occurred_at: work.occurred_at!,
        subject_type: work.subject_type!,
        subject_id: work.subject_id,
        actor_id: work.actor_id,
        data: work.data as Record<string, unknown>,
      },
      work.actor_visible ? work.actor_id : null,
    ),
  );
}
