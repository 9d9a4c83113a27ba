// The worker's workflow bundle entry.
export { journeyWorkflow } from './journey.js';
export { journeyMigrationWorkflow } from './migration.js';
export { enrolmentWorkflow } from './enrolment.js';
