import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ProblemDto } from '../../common/openapi/problem.dto';
import { CallDto } from './call.dto';

/** One call as the switch posts it (checked by hand in `calls-input.ts`, item by item). */
export class PostCallDto {
  @ApiProperty({ minLength: 1, maxLength: 128, example: 'switch-7f3a-000123', description: 'The poster’s own id of the call: idempotent per poster, forever.' })
  callId!: string;
  @ApiProperty({ format: 'uuid', description: 'The account that made the call: in the poster’s subtree or its own.' })
  accountId!: string;
  @ApiProperty({ pattern: '^\\+?\\d{1,32}$', example: '+442071234567', description: 'The dialled digits, `+` optional.' })
  number!: string;
  @ApiProperty({ format: 'date-time', example: '2026-03-01T12:00:00Z', description: 'RFC 3339 with a time zone; rates in effect at this instant price the call.' })
  connectTime!: string;
  @ApiProperty({ minimum: 0, maximum: 86400, example: 61, description: 'Whole seconds.' })
  duration!: number;
}

export class PostCallsRequestDto {
  @ApiProperty({ type: [PostCallDto], minItems: 1, maxItems: 1000 })
  calls!: PostCallDto[];
}

export const CALL_STATUSES = ['rated', 'replayed', 'refused'] as const;
export type CallStatus = (typeof CALL_STATUSES)[number];

/** What became of one posted call. */
export class CallResultDto {
  @ApiProperty({ example: 'switch-7f3a-000123' })
  callId!: string;
  @ApiProperty({
    enum: CALL_STATUSES,
    description: 'rated: charged now; replayed: posted before with the same fields (the original result); refused: nothing was charged (see `problem`).',
  })
  status!: CallStatus;
  @ApiPropertyOptional({ type: CallDto, description: 'The call as the poster sees it (rated and replayed).' })
  call?: CallDto;
  @ApiPropertyOptional({
    type: ProblemDto,
    description:
      'Why the call was refused: 400 validation-error (with `errors` pointing into the body, e.g. `/calls/3/duration`), 404 not-found (account), ' +
      '409 call-conflict (the same callId with other fields), 422 no-rate, missing-exchange-rate or amount-out-of-range.',
  })
  problem?: ProblemDto;
}

export class PostCallsResultDto {
  @ApiProperty({ type: [CallResultDto], description: 'One result per posted call, in request order.' })
  items!: CallResultDto[];
}
