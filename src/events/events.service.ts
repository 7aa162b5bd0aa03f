import { Injectable } from '@nestjs/common';
import { Page } from '../common/pagination';
import { Caller } from '../tree/caller';
import { EventDto } from './dto/event.dto';
import { EventsRepository, FeedFilter } from './events.repository';
import { toEventDto } from './event-view';

/** The feed (SPEC §14): events on the caller's subtree, in sequence order; actors above it hidden. */
@Injectable()
export class EventsService {
  constructor(private readonly events: EventsRepository) {}

  async list(caller: Caller, filter: FeedFilter, limit: number, cursor?: string): Promise<Page<EventDto>> {
    const page = await this.events.page(caller, filter, limit, cursor);
    return { ...page, items: page.items.map((row) => toEventDto(row, row.actor_visible)) };
  }
}
