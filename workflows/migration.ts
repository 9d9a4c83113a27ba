// A migration of running journeys to a new definition version, as a small batch workflow: it asks an activity to move
// the next few pending journeys (each outcome stored as it comes, in Postgres), pauses, and goes on until none is
// pending. A crash anywhere resumes from what is stored; a long migration continues as new. The journeys move
// themselves (workflows/journey.ts, engine/migrate.ts); this only sets the pace.
import { continueAsNew, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { MigrationActivities } from '../activities/migration.js';

export interface MigrationWorkflowInput {
  migrationId: string;
  /** Journeys per activity call, and the pause between calls: the pace of the migration. */
  batchSize: number;
  pauseMs: number;
}

const { migrateBatch } = proxyActivities<MigrationActivities>({
  // One journey waits at most 30 s for its answer; a batch heartbeats after each.
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: ['PermanentError'] },
});
const { finishMigration } = proxyActivities<MigrationActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: ['PermanentError'] },
});

export async function journeyMigrationWorkflow(input: MigrationWorkflowInput): Promise<{ migrated: number; skipped: number; failed: number }> {
  for (;;) {
    const { remaining } = await migrateBatch({ migrationId: input.migrationId, limit: input.batchSize });
    if (remaining === 0) break;
    if (input.pauseMs > 0) await sleep(input.pauseMs);
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof journeyMigrationWorkflow>(input);
  }
  const done = await finishMigration({ migrationId: input.migrationId });
  return { migrated: done.migrated, skipped: done.skipped.count, failed: done.failed };
}
