// How an exchange ends, whatever carries its response (a node:http ServerResponse, a web Response
// body): the one set of rules every wrapper records by, so that no two of them can drift apart.
import type { RequestHandle } from '@inferwatch/sdk';
import { responseFormat, tapResponse, type ResponseTap } from '@inferwatch/sdk/internal';

/**
 * Drives a request from its response, exactly once whatever the transport reports and in whatever order:
 * - a status of 400 or more is a failure whose `error.type` is the status;
 * - otherwise the body is read as it goes out (SSE or JSON, by content type): tokens, usage, an error event;
 * - a response that went out whole ends the request with what its body said;
 * - a response that stopped short is an abort when the client left first, otherwise a failure.
 */
export class Outcome {
  private tap: ResponseTap | undefined;
  private done = false;

  /** `handle` starts the request on first use (undefined when nothing is recorded). */
  constructor(private readonly handle: () => RequestHandle | undefined) {}

  /** Whether the request has been settled. */
  get settled(): boolean {
    return this.done;
  }

  /** A piece of the response body on its way out, sent under `status`; `contentType` is read once, at the first piece. */
  write(status: number, contentType: () => string | null | undefined, chunk: Uint8Array | string): void {
    if (this.done || status >= 400) return;
    const h = this.handle();
    if (h === undefined) return;
    this.tap ??= tapResponse(h, { format: responseFormat(contentType()) });
    this.tap.write(chunk);
  }

  /** The response went out whole, under `status`. */
  finish(status: number): void {
    if (this.done) return;
    this.done = true;
    const h = this.handle();
    if (status >= 400) h?.fail({ code: String(status) });
    else if (this.tap !== undefined) this.tap.finish();
    else h?.end();
  }

  /** The response stopped before it was whole: because the client left (`clientGone`), or by the server's `error`. */
  cut(clientGone: boolean, error?: unknown): void {
    if (this.done) return;
    this.done = true;
    const h = this.handle();
    if (clientGone) return this.tap !== undefined ? this.tap.abort() : h?.abort();
    const reason = error ?? { code: 'response_destroyed' };
    if (this.tap !== undefined) this.tap.fail(reason);
    else h?.fail(reason);
  }
}
