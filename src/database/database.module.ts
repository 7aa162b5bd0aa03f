import { DynamicModule, Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GenericPlans } from './generic-plans';
import { CallerChanges } from './notifications';
import { PointReads } from './point-reads';
import { Writes } from './writes';

/** Provides the DataSource that main.ts (or a test) opened and migrated, the one write path, the generic-plan reads and the pipelined point reads. */
@Global()
@Module({})
export class DatabaseModule {
  static forDataSource(dataSource: DataSource): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: DataSource, useValue: dataSource }, CallerChanges, Writes, GenericPlans, PointReads],
      exports: [DataSource, CallerChanges, Writes, GenericPlans, PointReads],
    };
  }
}
