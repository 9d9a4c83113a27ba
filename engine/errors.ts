// The one error the engine throws. Anything a definition, its params or an event can make the engine do wrong ends as
// an EngineError with a code and, where known, the step that failed, so callers can tell a poison journey (a
// deterministic failure: retrying cannot help) from a fault, and say where it happened. Bundle-safe, pure.

export type EngineErrorCode =
  /** One input made the engine run more steps than its budget without waiting (a loop that never waits). */
  | 'step_budget'
  /** A duration outside the configured limits (longer than the maximum, a wait shorter than the minimum). */
  | 'duration_out_of_range'
  /** Text that is not an ISO-8601 duration where one is needed. */
  | 'bad_duration'
  /** A time the engine cannot represent, e.g. an anchor plus an offset past the calendar's end. */
  | 'bad_time'
  | 'unknown_goto_target'
  /** Anything else the engine tripped over; the message says what. */
  | 'internal';

/** Where in the definition the engine was when it failed: the flow, its program counter, the step's path and id. */
export interface FailedStep {
  flow: string;
  pc: number;
  path?: string;
  id?: string;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';

  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly step?: FailedStep,
  ) {
    super(message);
  }

  /** The same error, located at `step` (a location already known is kept). */
  at(step: FailedStep | undefined): EngineError {
    if (this.step !== undefined || step === undefined) return this;
    const located = new EngineError(this.code, `${this.message} (at ${step.path ?? `flow "${step.flow}"`})`, step);
    located.stack = this.stack;
    return located;
  }

  toJSON(): { code: EngineErrorCode; message: string; step?: FailedStep } {
    return { code: this.code, message: this.message, ...(this.step !== undefined ? { step: this.step } : {}) };
  }
}

/** The `default` of a switch that handles every member of a union: a member added later is a compile error there, and
 * a value from outside the types (an old payload) fails loudly here instead of being skipped. */
export function assertUnreachable(value: never, what = 'value'): never {
  throw new EngineError('internal', `unexpected ${what}: ${JSON.stringify(value)}`);
}
