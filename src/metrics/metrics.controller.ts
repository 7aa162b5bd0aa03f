import { Controller, Get, Header, Headers, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../auth/public.decorator';
import { APP_CONFIG, AppConfig } from '../config/config';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { NotFoundProblem, UnauthorizedProblem } from '../common/problem/problem';
import { Metrics } from './metrics';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

@ApiTags('health')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    summary: 'Prometheus metrics: requests and latency by route, database pool, balance operations.',
    description:
      'Not public: served here only when METRICS_TOKEN is set, and then needs `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). ' +
      'Without METRICS_TOKEN this path is a 404; with METRICS_PORT the metrics are served on that port, bound to 127.0.0.1.',
  })
  @ApiOkResponse({ description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } })
  @ApiProblems(401, 404)
  async getMetrics(@Headers('authorization') authorization: string | undefined): Promise<string> {
    const token = this.config.METRICS_TOKEN;
    // No token, no public metrics (SPEC §12): they may be on METRICS_PORT instead.
    if (!token) throw new NotFoundProblem();
    if (!sameSecret(authorization ?? '', `Bearer ${token}`)) throw new UnauthorizedProblem();
    return this.metrics.registry.metrics();
  }
}
