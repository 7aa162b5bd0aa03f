import { DynamicModule, Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CallerChanges } from './notifications';
import { Writes } from './writes';

/** Provides the DataSource that main.ts (or a test) opened and migrated, and the one write path. */
@Global()
@Module({})
export class DatabaseModule {
  static forDataSource(dataSource: DataSource): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: DataSource, useValue: dataSource }, CallerChanges, Writes],
      exports: [DataSource, CallerChanges, Writes],
    };
  }
}
