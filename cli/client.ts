/**
 * The CLI's HTTP client for the resource-pools API. Requests to an AWS endpoint (API Gateway with IAM
 * auth) are SigV4-signed with the standard credential chain; local endpoints get plain requests. The
 * AWS SDK is imported only when a request is signed: loading it costs more than a local call itself.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import type { SignatureV4 } from '@smithy/signature-v4';

export const DEFAULT_ENDPOINT = 'http://localhost:3000';
const REQUEST_TIMEOUT_MS = 30_000;

/** The API answered with an error of the contract (`{"error":{"code","message","details"?}}`) or another failure status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Nothing answered at the endpoint (refused, unknown host, timeout), or what answered is not this API. */
export class UnreachableError extends Error {
  constructor(
    readonly endpoint: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'UnreachableError';
  }
}

/** `--endpoint` (or RESOURCE_POOLS_ENDPOINT) is not an http(s) URL: a usage error, not an unreachable API. */
export class EndpointError extends Error {
  constructor(
    readonly endpoint: string,
    message: string,
  ) {
    super(message);
    this.name = 'EndpointError';
  }
}

/**
 * The endpoint as a URL, or an EndpointError saying what to write. `localhost:3000` parses as a URL of
 * scheme `localhost:`, so the scheme is checked, not only the syntax.
 */
export function parseEndpoint(endpoint: string): URL {
  const fix = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? '' : ` (did you mean http://${endpoint.replace(/^\/+/, '')}?)`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new EndpointError(endpoint, `endpoint ${JSON.stringify(endpoint)} is not a URL: expected http://host:port or https://host${fix}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EndpointError(endpoint, `endpoint ${JSON.stringify(endpoint)} has no http:// or https:// scheme${fix || ` (got ${url.protocol})`}`);
  }
  return url;
}

/** Signing was needed but could not be done (no credentials, no region). */
export class SigningError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SigningError';
  }
}

/** `*.execute-api.<region>.amazonaws.com` (and `.amazonaws.com.cn`): the region is part of the name. */
const EXECUTE_API_HOST = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/i;

export interface SigningTarget {
  region: string;
  service: 'execute-api';
}

/**
 * Whether requests to `endpoint` must be signed, and for which region. API Gateway's own host names
 * carry the region; for a custom domain in front of an IAM-authorized API, `sign` forces signing with
 * the region from AWS_REGION / AWS_DEFAULT_REGION.
 */
export function signingTarget(endpoint: string, opts: { sign?: boolean; env?: NodeJS.ProcessEnv } = {}): SigningTarget | undefined {
  const env = opts.env ?? process.env;
  const host = new URL(endpoint).hostname;
  const region = EXECUTE_API_HOST.exec(host)?.[1];
  if (region) return { region: region.toLowerCase(), service: 'execute-api' };
  if (!opts.sign) return undefined;
  const fromEnv = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!fromEnv) throw new SigningError(`cannot sign requests to ${endpoint}: set AWS_REGION to the API's region`);
  return { region: fromEnv, service: 'execute-api' };
}

/** SHA-256 (and HMAC-SHA-256 with a secret) from node:crypto, in the shape the signer asks for. */
export class NodeSha256 {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : toBuffer(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    return createHmac('sha256', typeof this.secret === 'string' ? this.secret : toBuffer(this.secret));
  }
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Already encoded, e.g. `/v1/pools/vtep-v6/allocations/2001%3Adb8%3A%3A5`. */
  path: string;
  /** A list repeats the parameter (`?label=a:1&label=b:2`). */
  query?: Record<string, string | string[] | undefined>;
  body?: string;
  contentType?: string;
}

export interface ApiResponse {
  status: number;
  /** Parsed JSON; undefined for an empty body (204). */
  body: unknown;
}

export interface ClientOptions {
  endpoint: string;
  /** Sign even when the host name is not an API Gateway one (custom domains). */
  sign?: boolean;
  /** For tests: credentials instead of the default chain. */
  credentials?: Credentials;
  fetch?: typeof fetch;
}

export class ApiClient {
  readonly endpoint: string;
  private readonly base: URL;
  private readonly target?: SigningTarget;
  private readonly credentials?: Credentials;
  private signer?: Promise<SignatureV4>;
  private readonly fetchFn: typeof fetch;

  constructor(opts: ClientOptions) {
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.base = parseEndpoint(this.endpoint);
    this.target = signingTarget(this.endpoint, { sign: opts.sign });
    this.credentials = opts.credentials;
    this.fetchFn = opts.fetch ?? fetch;
  }

  get signs(): boolean {
    return this.target !== undefined;
  }

  /** The signer, with the SDK loaded on first use (dynamic imports: a local call never loads it). */
  private loadSigner(target: SigningTarget): Promise<SignatureV4> {
    this.signer ??= (async () => {
      const [{ SignatureV4 }, credentials] = await Promise.all([
        import('@smithy/signature-v4'),
        this.credentials ?? import('@aws-sdk/credential-providers').then((m) => m.fromNodeProviderChain()),
      ]);
      return new SignatureV4({ service: target.service, region: target.region, credentials, sha256: NodeSha256 });
    })();
    return this.signer;
  }

  /** The request as it goes on the wire: URL and headers, signed when the endpoint needs it. */
  async prepare(req: ApiRequest): Promise<{ url: string; method: string; headers: Record<string, string>; body?: string }> {
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const path = `${basePath}${req.path}`;
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) query[k] = v;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (req.body !== undefined) headers['content-type'] = req.contentType ?? 'application/json';

    const search = new URLSearchParams(Object.entries(query).flatMap(([k, v]): [string, string][] => (Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v]]))).toString();
    const url = `${this.base.origin}${path}${search ? `?${search}` : ''}`;
    if (!this.target) return { url, method: req.method, headers, body: req.body };

    let signed;
    try {
      const signer = await this.loadSigner(this.target);
      signed = await signer.sign({
        method: req.method,
        protocol: this.base.protocol,
        hostname: this.base.hostname,
        port: this.base.port ? Number(this.base.port) : undefined,
        path,
        query,
        headers: { ...headers, host: this.base.host },
        body: req.body,
      });
    } catch (e) {
      throw new SigningError(`cannot sign the request to ${this.endpoint}: ${(e as Error).message} (AWS credentials come from the standard chain: AWS_PROFILE, environment, ~/.aws, SSO, instance role)`, { cause: e });
    }
    // fetch sets Host itself, from the URL, to the value signed here.
    const { host: _host, ...onWire } = signed.headers;
    return { url, method: req.method, headers: onWire, body: req.body };
  }

  async request(req: ApiRequest): Promise<ApiResponse> {
    const prepared = await this.prepare(req);
    let res: Response;
    try {
      res = await this.fetchFn(prepared.url, {
        method: prepared.method,
        headers: prepared.headers,
        body: prepared.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (e) {
      throw new UnreachableError(this.endpoint, describeFetchFailure(e));
    }
    const text = await res.text();
    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new UnreachableError(this.endpoint, `the answer is not JSON (HTTP ${res.status}: ${text.slice(0, 200)}); is this the resource-pools API?`);
      }
    }
    if (res.ok) return { status: res.status, body };
    throw apiError(res.status, body);
  }
}

function apiError(status: number, body: unknown): ApiError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (error && typeof error.code === 'string') {
    return new ApiError(status, error.code, typeof error.message === 'string' ? error.message : error.code, error.details);
  }
  // Not the contract's shape: API Gateway's own answers, e.g. {"message":"Forbidden"} for an unsigned request.
  const message = (body as { message?: unknown } | undefined)?.message;
  return new ApiError(status, `HTTP_${status}`, typeof message === 'string' ? message : `HTTP ${status}`);
}

function describeFetchFailure(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
  if (code === 'ECONNRESET') return 'the connection was reset';
  return err.cause?.message ?? err.message;
}

/** A value for a URL path segment. */
export function segment(value: string | number): string {
  return encodeURIComponent(String(value));
}
