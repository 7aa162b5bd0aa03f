import { ApiProperty } from '@nestjs/swagger';

export class CallPartyDto {
  @ApiProperty({ enum: ['account', 'customer'] })
  type!: 'account' | 'customer';
  @ApiProperty({ format: 'uuid' })
  id!: string;
}

/** One party's charge for a call, at the price its seller set. */
export class CallChargeDto {
  @ApiProperty({ type: CallPartyDto, description: 'Who was charged: the account, or a customer on its path.' })
  party!: CallPartyDto;
  @ApiProperty({ format: 'uuid', description: 'The tariff the party is sold on (owned by its seller).' })
  tariffId!: string;
  @ApiProperty({ example: '4420', description: 'The prefix of the rate that priced the call at this level.' })
  prefix!: string;
  @ApiProperty({ example: '0.02', description: 'The rate’s price per minute, in the tariff’s currency.' })
  price!: string;
  @ApiProperty({ example: 60 })
  billedSeconds!: number;
  @ApiProperty({ example: '0.02', description: 'The charge in the tariff’s currency (connect fees + price × billedSeconds / 60, half-even to 8 places).' })
  amount!: string;
  @ApiProperty({ example: 'USD', description: 'The tariff’s currency.' })
  currency!: string;
  @ApiProperty({ example: '0.02', description: 'The charge in the party’s base currency (converted with the seller’s exchange-rate table).' })
  convertedAmount!: string;
  @ApiProperty({ example: 'USD', description: 'The party’s base currency.' })
  chargedCurrency!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String, description: 'The `usage` ledger entry; null when the charge is zero.' })
  ledgerEntryId!: string | null;
}

/** The viewer's own business on a call, in the viewer's base currency. */
export class CallViewerDto {
  @ApiProperty({ example: '0.03', description: 'What the party directly below the viewer was charged on this call.' })
  revenue!: string;
  @ApiProperty({ example: '0.02', description: 'What the viewer itself was charged (0 for the root).' })
  cost!: string;
  @ApiProperty({ example: '0.01', description: 'revenue − cost.' })
  margin!: string;
  @ApiProperty({ example: 'USD' })
  currency!: string;
}

/** A rated call as its viewer sees it: only the charges of its own subtree and itself. */
export class CallDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ example: 'switch-7f3a-000123', description: 'The poster’s own id of the call.' })
  callId!: string;
  @ApiProperty({ format: 'uuid' })
  accountId!: string;
  @ApiProperty({ format: 'uuid', description: 'The account’s customer.' })
  customerId!: string;
  @ApiProperty({ example: '+442071234567' })
  number!: string;
  @ApiProperty({ format: 'date-time' })
  connectTime!: string;
  @ApiProperty({ example: 61, description: 'Seconds.' })
  duration!: number;
  @ApiProperty({ type: [CallChargeDto], description: 'From the account up, only parties in the viewer’s subtree and the viewer itself.' })
  charges!: CallChargeDto[];
  @ApiProperty({ type: CallViewerDto })
  viewer!: CallViewerDto;
}
