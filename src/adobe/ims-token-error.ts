import { RelayError } from '../errors.js';

/** IMS_BACKOFF: no usable token, and asking IMS again now would be a refresh storm (see mint pacing). */
export type ImsErrorCode = 'IMS_UNAVAILABLE' | 'IMS_REJECTED' | 'IMS_CLOSED' | 'IMS_ABORTED' | 'IMS_BACKOFF';

/** Never carries the client secret or a token in its message or fields. A 503 if it reaches a route. */
export class ImsTokenError extends RelayError {
  declare readonly code: ImsErrorCode;
  /** HTTP status from IMS, when it answered. */
  readonly status: number | undefined;
  /** IMS `error` field, e.g. `invalid_client`. */
  readonly imsError: string | undefined;
  /** IMS `x-debug-id` response header: what Adobe support asks for. */
  readonly debugId: string | undefined;

  constructor(
    code: ImsErrorCode,
    message: string,
    fields: { status?: number | undefined; imsError?: string | undefined; debugId?: string | undefined; cause?: unknown } = {},
  ) {
    super(code, message, {
      statusCode: 503,
      cause: fields.cause,
      context: { imsStatus: fields.status, imsError: fields.imsError, debugId: fields.debugId },
    });
    this.name = 'ImsTokenError';
    this.status = fields.status;
    this.imsError = fields.imsError;
    this.debugId = fields.debugId;
  }
}
