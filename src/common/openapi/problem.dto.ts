import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class FieldErrorDto {
  @ApiPropertyOptional({ description: 'JSON pointer (RFC 6901) into the request body.', example: '/creditLimit' })
  pointer?: string;

  @ApiPropertyOptional({ description: 'Name of the query, path or header parameter at fault.', example: 'limit' })
  parameter?: string;

  @ApiProperty({ example: 'creditLimit must be a decimal string with at most 8 fraction digits' })
  detail!: string;
}

/** RFC 9457 problem details; domain members (e.g. `availableCredit`) may be added. */
export class ProblemDto {
  @ApiProperty({ description: 'URI identifying the problem type.', example: 'https://canopy.dev/problems/validation-error' })
  type!: string;

  @ApiProperty({ example: 'Invalid request' })
  title!: string;

  @ApiProperty({ example: 400 })
  status!: number;

  @ApiPropertyOptional({ example: 'The request is invalid.' })
  detail?: string;

  @ApiPropertyOptional({ description: 'The request path.', example: '/v1/customers' })
  instance?: string;

  @ApiPropertyOptional({ description: 'Request id, also in the logs and the X-Request-Id header (500s).' })
  requestId?: string;

  @ApiPropertyOptional({ type: [FieldErrorDto] })
  errors?: FieldErrorDto[];
}
