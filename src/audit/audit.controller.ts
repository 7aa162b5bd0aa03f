import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ExpensiveEndpoint } from '../common/rate-limit';
import { Caller } from '../tree/caller';
import { AuditService } from './audit.service';
import { AuditEventPageDto, AuditQueryDto } from './dto/audit.dto';

@ApiTags('audit')
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ExpensiveEndpoint('audit-events')
  @ApiOperation({ summary: 'Audit events on the caller’s subtree, newest first. Actors above the caller show as null, and so do their events’ requestId and clientAddress.' })
  @ApiOkResponse({ type: AuditEventPageDto })
  @ApiProblems(400, 404, 429)
  listAuditEvents(@CurrentCaller() caller: Caller, @Query() query: AuditQueryDto): Promise<AuditEventPageDto> {
    const { limit, cursor, customerId, targetType, targetId, from, to } = query;
    return this.audit.list(caller, { customerId, targetType, targetId, from, to }, limit ?? DEFAULT_PAGE_SIZE, cursor);
  }
}
