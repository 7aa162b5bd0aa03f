import { DynamicModule, Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GenericPlans } from './generic-plans';
import { CallerChanges } from './notifications';
import { Writes } from './writes';

/** Provides the DataSource that main.ts (or a test) opened and migrated, the one write path, and the generic-plan reads. */
@Global()
@Module({})
export class DatabaseModule {
  static forDataSource(dataSource: DataSource): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: DataSource, useValue: dataSource }, CallerChanges, Writes, GenericPlans],
      exports: [DataSource, CallerChanges, Writes, GenericPlans],
    };
  }
}
