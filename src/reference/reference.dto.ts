import { ApiProperty } from '@nestjs/swagger';

export class TimeZoneDto {
  @ApiProperty({ example: 'Europe/Paris', description: 'IANA time zone name.' })
  name!: string;
  @ApiProperty({ example: '+01:00', description: 'Current offset from UTC.' })
  utcOffset!: string;
}

export class LanguageDto {
  @ApiProperty({ example: 'pt-BR', description: 'BCP 47 code.' })
  code!: string;
  @ApiProperty({ example: 'Brazilian Portuguese', description: 'English name.' })
  name!: string;
  @ApiProperty({ example: 'português (Brasil)', description: 'Name in the language itself.' })
  nativeName!: string;
}

export class CurrencyDto {
  @ApiProperty({ example: 'EUR' })
  code!: string;
  @ApiProperty({ example: 'Euro' })
  name!: string;
  @ApiProperty({ example: '978' })
  numericCode!: string;
  @ApiProperty({ example: 2, nullable: true, type: Number, description: 'Digits after the decimal point (ISO 4217).' })
  minorUnits!: number | null;
}

export class TimeZoneListDto {
  @ApiProperty({ type: [TimeZoneDto] })
  items!: TimeZoneDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class LanguageListDto {
  @ApiProperty({ type: [LanguageDto] })
  items!: LanguageDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class CurrencyListDto {
  @ApiProperty({ type: [CurrencyDto] })
  items!: CurrencyDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}
