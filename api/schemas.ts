// Shapes only the REST API has (zod): request bodies, queries and path params that no service function takes as such.
// The service's own input shapes, which the API validates requests with too, are service/schemas.ts.
import { z } from 'zod';
import { CHANNEL_NAMES } from '../engine/channels.js';
import { id } from '../service/schemas.js';

export const StartJourneyBody = z
  .object({
    journeyKey: z.string().min(1).max(64),
    customerId: id,
    businessKey: id.optional(),
    params: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const ExitBody = z.object({ reason: z.string().min(1).max(200) }).strict();

export const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }).strict();

export const TemplateParams = z
  .object({
    key: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'a template key like loan-approved'),
    channel: z.enum(CHANNEL_NAMES),
    locale: z.string().regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'a locale like en or zh-CN'),
  })
  .strict();
