import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { HealthService } from './health.service';

class LiveDto {
  @ApiProperty({ example: 'ok' })
  status!: 'ok';
}

class ReadyDto {
  @ApiProperty({ example: 'ok' })
  status!: 'ok';
  @ApiProperty({ example: 'up' })
  database!: 'up';
  @ApiProperty({ example: 'current' })
  migrations!: 'current';
}

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: the process answers.' })
  @ApiOkResponse({ type: LiveDto, description: 'The process is up.' })
  live(): LiveDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: database reachable and migrations current.' })
  @ApiOkResponse({ type: ReadyDto, description: 'The database is reachable and migrations are current.' })
  @ApiProblems(503)
  async ready(): Promise<ReadyDto> {
    await this.health.assertReady();
    return { status: 'ok', database: 'up', migrations: 'current' };
  }
}
