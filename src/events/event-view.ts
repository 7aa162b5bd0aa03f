import { EventDto } from './dto/event.dto';
import { isoTime } from '../common/iso-time';

/** An event as stored (`events`): the contract between the feed and webhook deliveries. */
export interface EventRow {
  sequence: string;
  id: string;
  type: string;
  occurred_at: Date;
  subject_type: string;
  subject_id: string | null;
  actor_id?: string | null;
  data: Record<string, unknown>;
}

/**
 * THE rendering of an event (feed and webhook body alike): `visibleActor` is the actor when
 * it lies in the viewer's subtree, else null (as audit events show it).
 */
export function toEventDto(row: EventRow, visibleActor: string | null): EventDto {
  return {
    id: row.id,
    sequence: Number(row.sequence),
    type: row.type,
    occurredAt: isoTime(row.occurred_at),
    subject: { type: row.subject_type, id: row.subject_id },
    actor: visibleActor,
    data: row.data,
  };
}
