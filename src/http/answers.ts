import { ServerResponse } from 'node:http';

/** A JSON answer with its status and any headers. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** An error in the shape GraphQL answers use, so that a client reads every refusal alike. */
export const errorBody = (message: string, code: string, field?: string[]) => ({ errors: [{ message, extensions: { code, ...(field ? { field } : {}) } }] });
