/**
 * The local stack's environment (README, Local stack settings), read and checked in one place so that a typo in a
 * variable is reported at startup, with every problem at once, instead of showing up as odd behaviour.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { parseMaxPoolSize } from '../lib/plan.js';
import { DEFAULT_HISTORY_DAYS, parseHistoryDays } from '../lib/history.js';

export interface LocalStackSettings {
  /** API port. */
  port: number;
  /** Port of the embedded DynamoDB Local (unused with dynamodbEndpoint). */
  ddbPort: number;
  /** Use this DynamoDB instead of starting one. */
  dynamodbEndpoint?: string;
  /** Absolute; DynamoDB Local's files go under `dynamodb/`, the local S3's under `s3/`. */
  dataDir: string;
  inMemory: boolean;
  poolsFile: string;
  listenOnly: boolean;
  s3Port: number;
  maxPoolSize: number;
  tableName: string;
  /** Interface the API and the local S3 listen on. */
  host: string;
  /** How long history entries are kept, in days. */
  historyDays: number;
  /** Print every event (history entry) as one JSON line. */
  eventsLog: boolean;
}

export const CONFIG_BUCKET = 'pool-config';
export const S3_ACCESS_KEY = 'S3RVER';
export const S3_SECRET_KEY = 'S3RVER';
export const DEFAULT_TABLE_NAME = 'resource-pools';

/** If stopping hangs (a stuck request, a slow disk), the stack exits anyway after this long: nothing may outlive a stop request. */
export const STOP_DEADLINE_MS = 15_000;

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid environment:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'SettingsError';
  }
}

type Env = Record<string, string | undefined>;

export function settingsFromEnv(env: Env = process.env, cwd = process.cwd()): LocalStackSettings {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const badPorts = new Set<string>();
  const port = (name: string, fallback: number): number => {
    const v = text(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > 65535) {
      problems.push(`${name}=${JSON.stringify(env[name])}: expected a port number from 1 to 65535`);
      badPorts.add(name);
      return fallback;
    }
    return n;
  };
  const flag = (name: string): boolean => {
    const v = text(name)?.toLowerCase();
    if (v === undefined || v === 'false' || v === '0' || v === 'no') return false;
    if (v === 'true' || v === '1' || v === 'yes') return true;
    problems.push(`${name}=${JSON.stringify(env[name])}: expected true or false`);
    return false;
  };

  let maxPoolSize = 0;
  try {
    maxPoolSize = parseMaxPoolSize(env.MAX_POOL_SIZE);
  } catch (e) {
    problems.push((e as Error).message);
  }

  let historyDays = DEFAULT_HISTORY_DAYS;
  try {
    historyDays = parseHistoryDays(env.HISTORY_DAYS);
  } catch (e) {
    problems.push((e as Error).message);
  }

  const dynamodbEndpoint = text('DYNAMODB_ENDPOINT');
  if (dynamodbEndpoint !== undefined && !/^https?:\/\/[^/]+/.test(dynamodbEndpoint)) {
    problems.push(`DYNAMODB_ENDPOINT=${JSON.stringify(dynamodbEndpoint)}: expected a URL such as http://localhost:8000`);
  }
  const tableName = text('TABLE_NAME') ?? DEFAULT_TABLE_NAME;
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) {
    problems.push(`TABLE_NAME=${JSON.stringify(tableName)}: expected 3-255 characters of A-Z a-z 0-9 _ . -`);
  }

  const settings: LocalStackSettings = {
    port: port('PORT', 3000),
    ddbPort: port('DDB_PORT', 8000),
    dynamodbEndpoint,
    dataDir: resolve(cwd, text('DATA_DIR') ?? '.data'),
    inMemory: flag('IN_MEMORY'),
    poolsFile: resolve(cwd, text('POOLS_FILE') ?? 'config/pools.toml'),
    listenOnly: flag('LISTEN_ONLY'),
    s3Port: port('S3_PORT', 4569),
    maxPoolSize,
    tableName,
    host: text('HOST') ?? '0.0.0.0',
    historyDays,
    eventsLog: flag('EVENTS_LOG'),
  };
  const named: [string, number][] = [
    ['PORT', settings.port],
    ['S3_PORT', settings.s3Port],
  ];
  if (dynamodbEndpoint === undefined) named.push(['DDB_PORT', settings.ddbPort]);
  const ports = named.filter(([name]) => !badPorts.has(name));
  for (const [i, [name, p]] of ports.entries()) {
    const clash = ports.slice(0, i).find(([, q]) => q === p);
    if (clash) problems.push(`${name} and ${clash[0]} are both ${p}: each part needs its own port`);
  }
  if (problems.length > 0) throw new SettingsError(problems);
  return settings;
}

/** A path as people read it: relative when it is inside the working directory, absolute otherwise. */
export function displayPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
