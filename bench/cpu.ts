/**
 * CPU time spent by the benchmark's two sides: this process (the clients and the AWS SDK) and the
 * DynamoDB Local process tree. On a 2-core machine they compete for the same cores, so where the CPU
 * goes per operation explains a throughput ratio better than the ratio alone. The server side is read
 * from /proc and is left out where there is none (not Linux).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface CpuSample {
  clientMs: number;
  serverMs?: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** The pid and every descendant, from the kernel's children lists. */
function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const tasks = readdirSync(`/proc/${pids[i]}/task`);
    for (const tid of tasks) {
      const children = readFileSync(`/proc/${pids[i]}/task/${tid}/children`, 'utf8').trim();
      if (children) pids.push(...children.split(/\s+/).map(Number));
    }
  }
  return pids;
}

/** User plus system time of a process, in ms; fields 14 and 15 of /proc/<pid>/stat. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces; count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
}

function serverCpuMs(serverPid: number | undefined): number | undefined {
  if (serverPid === undefined || process.platform !== 'linux') return undefined;
  try {
    return processTree(serverPid).reduce((sum, pid) => sum + processCpuMs(pid), 0);
  } catch {
    return undefined; // a process ended while being read, or /proc lacks children lists
  }
}

export function cpuNow(serverPid: number | undefined): CpuSample {
  const { user, system } = process.cpuUsage();
  return { clientMs: (user + system) / 1000, serverMs: serverCpuMs(serverPid) };
}

/** The CPU used from `start` to `end`, divided over `operations` (1 for the total). */
export function cpuSpent(start: CpuSample, end: CpuSample, operations = 1): CpuSample {
  const n = Math.max(1, operations);
  const serverMs = start.serverMs !== undefined && end.serverMs !== undefined ? (end.serverMs - start.serverMs) / n : undefined;
  return { clientMs: (end.clientMs - start.clientMs) / n, serverMs };
}

/** `a` plus `b`; the server side only when both have it. */
export function cpuSum(a: CpuSample, b: CpuSample): CpuSample {
  return { clientMs: a.clientMs + b.clientMs, serverMs: a.serverMs !== undefined && b.serverMs !== undefined ? a.serverMs + b.serverMs : undefined };
}
