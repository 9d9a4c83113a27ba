// Builds the Express app (no listening here: tests drive it with supertest). Route → validate → service.
import express, { type Request } from 'express';
import type { Logger } from '../config/logger.js';
import { errorHandler, parse, unknownRoute } from './errors.js';
import { CompleteTaskBody, CustomerBody, EventBody, ExitBody, id, ListQuery, StartJourneyBody, TaskQuery } from './schemas.js';
import type { JourneyService } from './service.js';

export interface AppDeps {
  service: JourneyService;
  logger: Logger;
  /** Reports whether Temporal and Postgres answer; throws with the reason when one does not. */
  readiness: () => Promise<Record<string, 'ok' | string>>;
}

const param = (req: Request, name: string) => parse(id, req.params[name], 'params');
const body = (req: Request) => req.body ?? {};

export function createApp({ service, logger, readiness }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await readiness();
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.put('/v1/customers/:customerId', async (req, res) => {
    const customerId = param(req, 'customerId');
    const { created, customer } = await service.upsertCustomer(customerId, parse(CustomerBody, body(req), 'body'));
    res.status(created ? 201 : 200).json(customer);
  });
  app.get('/v1/customers/:customerId', async (req, res) => {
    res.json(await service.getCustomer(param(req, 'customerId')));
  });
  app.post('/v1/customers/:customerId/events', async (req, res) => {
    const customerId = param(req, 'customerId');
    const event = parse(EventBody, body(req), 'body');
    await service.getCustomer(customerId);
    res.status(202).json(await service.receiveEvent(customerId, event));
  });
  app.get('/v1/customers/:customerId/journeys', async (req, res) => {
    res.json({ journeys: await service.listCustomerJourneys(param(req, 'customerId')) });
  });
  app.get('/v1/customers/:customerId/messages', async (req, res) => {
    const { limit } = parse(ListQuery, req.query, 'query');
    res.json({ messages: await service.listCustomerMessages(param(req, 'customerId'), limit) });
  });

  app.post('/v1/journeys', async (req, res) => {
    const { created, journey } = await service.startJourney(parse(StartJourneyBody, body(req), 'body'));
    res.status(created ? 201 : 200).json(journey);
  });
  app.get('/v1/journeys/:workflowId', async (req, res) => {
    res.json(await service.getJourney(req.params.workflowId));
  });
  app.post('/v1/journeys/:workflowId/events', async (req, res) => {
    const event = parse(EventBody, body(req), 'body');
    res.status(202).json(await service.receiveJourneyEvent(req.params.workflowId, event));
  });
  app.post('/v1/journeys/:workflowId/exit', async (req, res) => {
    const { reason } = parse(ExitBody, body(req), 'body');
    res.status(202).json(await service.exitJourney(req.params.workflowId, reason));
  });

  app.get('/v1/tasks', async (req, res) => {
    res.json({ tasks: await service.listTasks(parse(TaskQuery, req.query, 'query')) });
  });
  app.post('/v1/tasks/:taskId/complete', async (req, res) => {
    const taskId = param(req, 'taskId');
    res.json(await service.completeTask(taskId, parse(CompleteTaskBody, body(req), 'body')));
  });

  app.use(unknownRoute);
  app.use(errorHandler(logger));
  return app;
}
