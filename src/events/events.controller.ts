import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { Caller } from '../tree/caller';
import { EventPageDto, EventsQueryDto } from './dto/event.dto';
import { EventsService } from './events.service';

@ApiTags('events')
@Controller('v1/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @ApiOperation({
    summary: 'The event feed of the caller’s subtree, oldest first.',
    description:
      'Events about the caller and its subtree in ascending `sequence`: gap-free over the whole system and never assigned below a sequence already readable, so a reader that polls with `after` = the last sequence it saw misses nothing and sees nothing twice (the sequences it sees skip only events outside its subtree or types). `types` filters (comma-separated). Actors above the caller show as null. No right is needed beyond authentication. Events appear shortly after their change commits (typically well under a second). Events are kept `EVENTS_RETENTION_DAYS` (30 by default): reading from a position below the oldest kept (`after` or a cursor) is a `410 events-expired` problem carrying `prunedThrough`, the last sequence deleted, rather than a silent gap.',
  })
  @ApiOkResponse({ type: EventPageDto })
  @ApiProblems(400, 410)
  listEvents(@CurrentCaller() caller: Caller, @Query() query: EventsQueryDto): Promise<EventPageDto> {
    const { limit, cursor, after, types } = query;
    return this.events.list(caller, { after, types }, limit ?? DEFAULT_PAGE_SIZE, cursor);
  }
}
