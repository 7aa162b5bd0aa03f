import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module';
import { PermissionsController } from './permissions.controller';
import { PermissionsService } from './permissions.service';

@Module({ imports: [CustomersModule], controllers: [PermissionsController], providers: [PermissionsService] })
export class PermissionsModule {}
