import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsOptional, IsUUID, ValidateNested } from 'class-validator';
import { BalanceOperationDto, LedgerEntryDto } from './balance-operation.dto';

export const MAX_BATCH_OPERATIONS = 1000;

/** One operation of a batch: a balance operation and its target, a customer or an account (exactly one). */
export class BatchOperationDto extends BalanceOperationDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'The customer to operate on (strictly below the caller). Exactly one of `customerId` and `accountId`.' })
  @IsOptional()
  @IsUUID('all', { message: 'customerId must be a UUID' })
  customerId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The account to operate on (of the caller or below it). Exactly one of `customerId` and `accountId`.' })
  @IsOptional()
  @IsUUID('all', { message: 'accountId must be a UUID' })
  accountId?: string;
}

export class BatchRequestDto {
  @ApiProperty({
    type: [BatchOperationDto],
    minItems: 1,
    maxItems: MAX_BATCH_OPERATIONS,
    description: 'Applied in this order, all or none. Several operations on one target apply one after the other.',
    example: [
      { customerId: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', action: 'add_funds', amount: '100.00', notes: 'bank transfer 2025-03-01' },
      { accountId: '0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70', action: 'debit', amount: '12.50', currency: 'EUR' },
      { customerId: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', action: 'add_funds', amount: '40.00', externalReference: 'bank-tx-0042', metadata: { invoice: 'INV-7' } },
    ],
  })
  @IsArray()
  @ArrayMinSize(1, { message: `operations must hold at least 1 operation (and at most ${MAX_BATCH_OPERATIONS})` })
  @ArrayMaxSize(MAX_BATCH_OPERATIONS, { message: `operations must hold at most ${MAX_BATCH_OPERATIONS} operations` })
  @ValidateNested({ each: true })
  @Type(() => BatchOperationDto)
  operations!: BatchOperationDto[];
}

export class BatchResultDto {
  @ApiProperty({ type: [LedgerEntryDto], description: 'The ledger entries written, in the order of `operations`.' })
  items!: LedgerEntryDto[];
}

class BatchItemErrorDto {
  @ApiProperty({ description: 'JSON pointer to the refused operation.', example: '/operations/17' })
  pointer!: string;
  @ApiProperty({ description: 'The problem type the operation alone would have been answered with.', example: 'https://canopy.dev/problems/insufficient-funds' })
  type!: string;
  @ApiProperty({ example: 'Insufficient funds' })
  title!: string;
  @ApiProperty({ example: 'The debit would take available credit below zero (available: 12.50).' })
  detail!: string;
  @ApiPropertyOptional({ description: 'Members of that problem, e.g. `availableCredit` (insufficient funds), `currency` (missing rate), `permission` (403).', example: '12.50' })
  availableCredit?: string;
  @ApiPropertyOptional({ format: 'uuid', description: '`duplicate-reference`: the ledger entry that already has this target and external reference.' })
  existingEntryId?: string;
  @ApiPropertyOptional({ description: '`duplicate-reference`: the earlier operation of this batch with the same target and external reference.', example: '/operations/3' })
  duplicateOf?: string;
}

/** The 422 of a refused batch: nothing was written. */
export class BatchRefusedProblemDto {
  @ApiProperty({ example: 'https://canopy.dev/problems/batch-refused' })
  type!: string;
  @ApiProperty({ example: 'Batch refused' })
  title!: string;
  @ApiProperty({ example: 422 })
  status!: number;
  @ApiPropertyOptional({ example: '1 of 2 operations were refused; nothing was written.' })
  detail?: string;
  @ApiPropertyOptional({ example: '/v1/balance-operations/batch' })
  instance?: string;
  @ApiProperty({ type: [BatchItemErrorDto], description: 'Every refused operation (404 and 403 ones included), in order.' })
  errors!: BatchItemErrorDto[];
}
