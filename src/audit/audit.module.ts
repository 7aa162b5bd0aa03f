import { Global, Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';

@Global()
@Module({ imports: [CustomersModule], controllers: [AuditController], providers: [AuditRepository, AuditService], exports: [AuditService] })
export class AuditModule {}
