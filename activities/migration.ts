// The migration workflow's activities: move a batch of a migration's journeys, and close it. The work is the
// migration service's (service/migrations.ts); here it only gets the activity's heartbeat, its cancellation and its
// error mapping.
import { Context } from '@temporalio/activity';
import type { BatchContext, MigrationProgress } from '../service/migrations.js';
import { permanent, timed } from './index.js';

/** What the activities need from the migration service. */
export interface MigrationPort {
  runBatch(input: { migrationId: string; limit: number }, ctx: BatchContext): Promise<{ remaining: number }>;
  finish(migrationId: string): Promise<MigrationProgress>;
}

export function createMigrationActivities(deps: { migrations: MigrationPort }) {
  return timed({
    async migrateBatch(input: { migrationId: string; limit: number }): Promise<{ remaining: number }> {
      const ctx = Context.current();
      // Heartbeats also deliver the activity's cancellation, which the batch honours between journeys.
      return permanent(() => deps.migrations.runBatch(input, { heartbeat: () => ctx.heartbeat(), signal: ctx.cancellationSignal }));
    },
    async finishMigration(input: { migrationId: string }): Promise<MigrationProgress> {
      return permanent(() => deps.migrations.finish(input.migrationId));
    },
  });
}

export type MigrationActivities = ReturnType<typeof createMigrationActivities>;
