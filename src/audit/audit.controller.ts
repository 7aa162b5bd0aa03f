import { Controller, Get, Query } from '@nestjs/common';
import { SqlParams } from '../database/sql';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { Cursors, DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ExpensiveEndpoint } from '../common/rate-limit';
import { Caller } from '../tree/caller';
import { notVisible, subtreeCondition } from '../tree/scope';
import { AuditEventDto, AuditEventPageDto, AuditQueryDto } from './dto/audit.dto';

interface AuditRow {
  id: string;
  seq: string;
  at: Date;
  actor_visible: string | null;
  /** An actor was recorded but lies above the caller: its request id and address are hidden too. */
  actor_hidden: boolean;
  action: string;
  target_type: string;
  target_id: string | null;
  changes: Record<string, unknown> | null;
  request_id: string | null;
  client_address: string | null;
}

@ApiTags('audit')
@Controller('v1/audit-events')
export class AuditController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  @Get()
  @ExpensiveEndpoint('audit-events')
  @ApiOperation({ summary: 'Audit events on the caller’s subtree, newest first. Actors above the caller show as null, and so do their events’ requestId and clientAddress.' })
  @ApiOkResponse({ type: AuditEventPageDto })
  @ApiProblems(400, 404, 429)
  async listAuditEvents(@CurrentCaller() caller: Caller, @Query() query: AuditQueryDto): Promise<AuditEventPageDto> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const params = new SqlParams();
    let subjectPrefix = caller.path;
    if (query.customerId) {
      const cp = new SqlParams();
      const rows: Array<{ path: string }> = await this.dataSource.query(
        `SELECT c.path FROM customers c WHERE c.id = ${cp.add(query.customerId)} AND ${subtreeCondition('c', caller, cp, 'self-and-descendants')}`,
        cp.values,
      );
      if (!rows.length) throw notVisible();
      subjectPrefix = rows[0].path;
    }
    const where = [`e.subject_path LIKE ${params.add(subjectPrefix + '%')}`];
    if (query.targetType) where.push(`e.target_type = ${params.add(query.targetType)}`);
    if (query.targetId) where.push(`e.target_id = ${params.add(query.targetId)}`);
    if (query.from) where.push(`e.at >= ${params.add(query.from)}`);
    if (query.to) where.push(`e.at < ${params.add(query.to)}`);
    const after = await this.cursors.decode<[string]>('audit-events', query.cursor, ['bigint']);
    if (after) where.push(`e.seq < ${params.add(after[0])}::bigint`);
    // The actor is shown only when it lies in the caller's subtree (SPEC §9); where it is hidden,
    // so are the request id and client address that would point at it.
    const actorScope = params.add(caller.path + '%');
    const rows: AuditRow[] = await this.dataSource.query(
      `SELECT e.id, e.seq, e.at, a.id AS actor_visible, (e.actor_id IS NOT NULL AND a.id IS NULL) AS actor_hidden, e.action, e.target_type, e.target_id, e.changes, e.request_id, e.client_address
         FROM audit_events e
         LEFT JOIN customers a ON a.id = e.actor_id AND a.path LIKE ${actorScope}
        WHERE ${where.join(' AND ')}
        ORDER BY e.seq DESC LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    return this.cursors.page(
      'audit-events',
      rows,
      limit,
      (r): AuditEventDto => ({
        id: r.id,
        at: r.at.toISOString(),
        actor: r.actor_visible,
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        changes: r.changes,
        requestId: r.actor_hidden ? null : r.request_id,
        clientAddress: r.actor_hidden ? null : r.client_address,
      }),
      (r) => [String(r.seq)],
    );
  }
}
