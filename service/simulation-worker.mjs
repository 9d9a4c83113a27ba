// The module each simulation pool thread loads when the service runs from its TypeScript sources (tests, `npm start`).
// A worker thread does not inherit a TypeScript loader from the process that started it in every setting, so it loads
// the task through tsx's scoped import, which works in all of them. The compiled service (`npm run build`) loads the
// compiled task module directly (service/simulation.ts) and needs neither this file nor tsx.
import { tsImport } from 'tsx/esm/api';

const { runSimulationTask } = await tsImport('./simulation-task.ts', import.meta.url);

export default runSimulationTask;
