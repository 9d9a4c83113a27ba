// The module each simulation pool thread loads. A worker thread does not inherit a TypeScript loader from the
// process that started it in every setting (tests, `npm start`, the image all run the sources through tsx), so it
// loads the task through tsx's scoped import, which works in all of them.
import { tsImport } from 'tsx/esm/api';

const { runSimulationTask } = await tsImport('./simulation-task.ts', import.meta.url);

export default runSimulationTask;
