// Twilio SMS delivery status callbacks: POST /v1/channels/twilio/status, form-encoded, signed by Twilio with
// X-Twilio-Signature over the exact URL it called. A valid callback is handed to the service (service/deliveries.ts:
// the message moves to delivered or failed, never backwards, never twice, and the report is in its story); anything
// unsigned or badly signed changes nothing.
import express from 'express';
import { z } from 'zod';
import { doc, type RouteDoc } from './openapi.js';
import twilio from 'twilio';
import type { Logger } from '../config/logger.js';
import type { DeliveryOutcome, MessageDeliveries } from '../service/deliveries.js';

export { TWILIO_STATUS_PATH, twilioStatusCallbackUrl } from '../channels/sms.js';
import { TWILIO_STATUS_PATH, twilioStatusCallbackUrl } from '../channels/sms.js';

/** `publicBaseUrl` may be given late (a function): the API knows its address only once it listens. */
export type TwilioStatusDeps = { deliveries: MessageDeliveries; authToken: string; publicBaseUrl: string | (() => string); logger: Logger };

/** What a provider status means for the message row. */
export type StatusOutcome = DeliveryOutcome;

/** Maps Twilio's MessageStatus (and ErrorCode/ErrorMessage for a failure) to what happens to the message. Pure. */
export function mapTwilioStatus(providerStatus: string, errorCode?: string, errorMessage?: string): StatusOutcome {
  switch (providerStatus) {
    case 'delivered':
      return { kind: 'delivered' };
    case 'undelivered':
    case 'failed':
      // Status callbacks usually carry ErrorCode only; ErrorMessage when Twilio has one.
      return { kind: 'failed', error: `Twilio ${errorCode ?? providerStatus}${errorMessage ? `: ${errorMessage}` : ''}` };
    default:
      return { kind: 'none' };
  }
}

const STATUS_DOC: RouteDoc = {
  summary: "Twilio's SMS delivery status callback (signed with X-Twilio-Signature, no bearer token)",
  tag: 'channels',
  query: z.object({ m: z.uuid().optional().meta({ description: 'The message id our send put in the callback URL' }) }),
  body: {
    form: z.looseObject({
      MessageSid: z.string(),
      MessageStatus: z.string().meta({ description: 'queued, sent, delivered, undelivered, failed…' }),
      ErrorCode: z.string().optional(),
      ErrorMessage: z.string().optional(),
    }),
  },
  responses: { 200: { type: 'text/plain', description: 'Not a message of ours (Twilio is not asked to retry)' }, 204: { type: 'text/plain', description: 'Recorded' } },
  errors: [403],
};

export function twilioStatusRouter(deps: TwilioStatusDeps): express.Router {
  const { deliveries, authToken, logger } = deps;
  const base = deps.publicBaseUrl;
  const router = express.Router();

  router.post(TWILIO_STATUS_PATH, doc(STATUS_DOC), express.urlencoded({ extended: false, limit: '64kb' }), async (req, res) => {
    const params = formParams(req.body);
    const signature = req.get('x-twilio-signature');
    // Twilio signs the URL it called: the public one, with the query string exactly as it was sent.
    const signedUrl = twilioStatusCallbackUrl(typeof base === 'function' ? base() : base);
    const query = req.originalUrl.indexOf('?');
    const url = query === -1 ? signedUrl : signedUrl + req.originalUrl.slice(query);
    if (!signature || !twilio.validateRequest(authToken, signature, url, params)) {
      logger.warn({ path: TWILIO_STATUS_PATH, signed: Boolean(signature) }, 'twilio status callback refused: invalid signature');
      res.status(403).json({ error: { code: 'invalid_signature', message: 'missing or invalid X-Twilio-Signature' } });
      return;
    }

    const sid = first(params.MessageSid) ?? first(params.SmsSid);
    const providerStatus = first(params.MessageStatus) ?? first(params.SmsStatus);
    if (!sid || !providerStatus) {
      res.status(400).json({ error: { code: 'invalid_request', message: 'MessageSid and MessageStatus are required' } });
      return;
    }
    // The message id our send put in the callback URL; anything else is not a callback of ours.
    const byId = typeof req.query.m === 'string' ? req.query.m : undefined;
    if (byId !== undefined && !UUID.test(byId)) {
      res.status(400).json({ error: { code: 'invalid_request', message: 'query.m: not a message id' } });
      return;
    }
    const errorCode = first(params.ErrorCode);
    const outcome = mapTwilioStatus(providerStatus, errorCode, first(params.ErrorMessage));
    const detail = { providerStatus, ...(errorCode ? { errorCode } : {}) };

    // The send names its message in the callback URL (signed with the rest), so a callback that overtakes the write of
    // the provider id still finds it; without it, by the provider id.
    const result = await deliveries.record({ providerId: sid, ...(byId ? { messageId: byId } : {}), outcome, detail });

    if (result === 'unknown') {
      // 200 so Twilio does not retry: a message this service did not send (or whose send is not recorded yet).
      logger.warn({ messageSid: sid, providerStatus }, 'twilio status callback for an unknown message');
      res.status(200).end();
      return;
    }
    logger.debug({ messageSid: sid, providerStatus, result }, 'twilio status callback');
    res.status(204).end();
  });

  return router;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The parsed form as string (or repeated: string[]) values; anything else (no or non-form body) is dropped. */
function formParams(body: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!body || typeof body !== 'object') return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[];
  }
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}
