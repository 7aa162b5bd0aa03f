import type { WebhookDeliveryDto, WebhookEndpointDto } from './dto/webhook.dto';
import type { DeliveryRow } from './webhook-deliveries.repository';
import type { WebhookEndpointRow } from './webhook-endpoints.repository';
import { isoTime } from '../common/iso-time';

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function toWebhookEndpointDto(row: WebhookEndpointRow): WebhookEndpointDto {
  return {
    id: row.id,
    customerId: row.owner_id,
    url: row.url,
    events: row.event_types,
    description: row.description,
    status: row.status,
    disabledReason: row.status === 'disabled' ? row.disabled_reason : null,
    failingSince: iso(row.failing_since),
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
    version: row.version,
  };
}

export function toWebhookDeliveryDto(row: DeliveryRow): WebhookDeliveryDto {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    event: { id: row.event_id, type: row.event_type, sequence: row.event_sequence === null ? null : Number(row.event_sequence) },
    status: row.status,
    attemptCount: row.attempt_count,
    attempts: row.attempts.map((a) => ({
      n: a.n,
      attemptedAt: new Date(a.attempted_at).toISOString(),
      statusCode: a.status_code,
      error: a.error,
      durationMs: a.duration_ms,
    })),
    nextAttemptAt: iso(row.next_attempt_at),
    createdAt: isoTime(row.created_at),
  };
}
