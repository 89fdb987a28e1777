/** Captures the CloudWatch EMF documents Powertools Metrics writes to stdout while `fn` runs. */
import { vi } from 'vitest';

export interface EmfDocument {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

export async function captureEmf<T>(fn: () => Promise<T>): Promise<{ result: T; documents: EmfDocument[] }> {
  const documents: EmfDocument[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    let keep = false;
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(line);
        if (parsed?._aws?.CloudWatchMetrics) {
          documents.push(parsed);
          keep = true;
        }
      } catch {
        // not JSON: someone else's output
      }
    }
    return keep ? true : write(chunk, ...rest);
  }) as typeof process.stdout.write);
  try {
    return { result: await fn(), documents };
  } finally {
    spy.mockRestore();
  }
}
