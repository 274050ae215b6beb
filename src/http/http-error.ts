/** An HTTP API refusal with its status; the error handler replies `{"error": message}` with it. */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}
