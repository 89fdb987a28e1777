/** `npm start` as a child process, the way a user or a process supervisor runs it. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { STOP_DEADLINE_MS } from '../../local/settings.js';

/** How long a stack may take to answer its health check: JVM and Node start slowly on a busy machine. */
export const START_TIMEOUT_MS = 60_000;
/** How long ports may take to close once the stack has exited. */
export const CLOSE_TIMEOUT_MS = 15_000;
/**
 * A test that starts and stops a stack: its start, its stop (which the stack cuts at its own deadline)
 * and the wait for its ports, plus a minute for what the test does in between. vitest's default 30 s is
 * shorter than the waits such a test contains: on 2 busy cores a start alone was seen to take 23 s, and
 * the test was cut before any of its own deadlines could report what was wrong.
 */
export const STACK_TEST_TIMEOUT_MS = START_TIMEOUT_MS + STOP_DEADLINE_MS + CLOSE_TIMEOUT_MS + 60_000;

export interface StackProcess {
  /** The npm process: what a supervisor signals. */
  npm: ChildProcess;
  output(): string;
  /**
   * Resolves with npm's exit code (or signal) once it has exited and its output has been read to the
   * end: on 'close', not 'exit', which may come before the last lines written to the pipes are read.
   */
  exited: Promise<number | string>;
  /** The pid of the Node process running local/start.ts, from its banner. */
  serverPid(): number;
}

export function startStackProcess(env: Record<string, string>): StackProcess {
  let output = '';
  const npm = spawn('npm', ['start'], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that cleanup can reach every process of it (never needed when all is well).
    detached: true,
  });
  npm.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  npm.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | string>((resolve) => npm.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    npm,
    output: () => output,
    exited,
    serverPid: () => {
      const match = /kill (\d+)\)/.exec(output);
      if (!match) throw new Error(`no pid in the banner:\n${output}`);
      return Number(match[1]);
    },
  };
}

/** Waits until GET /v1/health answers 200; fails early with the output if the stack exits. */
export async function waitForHealth(stack: StackProcess, apiUrl: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  let gone = false;
  // Not awaited: it only raises the flag the loop below reads (exited never rejects).
  void stack.exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`the stack exited before it was ready:\n${stack.output()}`);
    try {
      const res = await fetch(`${apiUrl}/v1/health`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`the stack was not ready within ${timeoutMs / 1000}s:\n${stack.output()}`);
}

export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/** Waits until none of the ports accepts connections; resolves with those still open at the deadline. */
export async function waitUntilClosed(ports: number[], timeoutMs = CLOSE_TIMEOUT_MS): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open: number[] = [];
    for (const p of ports) if (await listening(p)) open.push(p);
    if (open.length === 0 || Date.now() > deadline) return open;
    await sleep(200);
  }
}

/** The parent pid of a process. */
export function parentPid(pid: number): number {
  return Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
}

/** Processes whose command line mentions every one of `needles` (e.g. DynamoDB Local on a port). */
export function processesMatching(...needles: string[]): string[] {
  const table = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return table
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && needles.every((n) => l.includes(n)) && !l.includes('ps -eo'));
}

/** Last resort for afterAll: SIGKILL the whole process group (npm, node, the guard and Java). */
export function killStack(stack: StackProcess | undefined): void {
  if (!stack?.npm.pid) return;
  try {
    process.kill(-stack.npm.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
