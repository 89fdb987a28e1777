/**
 * Time and retries: the budget every store operation works within, and the pacing of its retries.
 * Pure apart from the clock and timers.
 *
 * Every operation gets a budget (8 s by default) that covers all of its DynamoDB requests and all of
 * their retries: each request is sent with an abort signal for at most what is left, so a stalled
 * DynamoDB costs the caller its budget, not the Lambda's timeout, and the answer is UNAVAILABLE with
 * Retry-After instead of a bare gateway error.
 */

export interface RetryPolicy {
  /** Attempts before answering UNAVAILABLE, if the budget lasts that long. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 30, baseDelayMs: 4, maxDelayMs: 200 };

/** What one operation may spend in all; the API answers within 10 s, Lambda and API Gateway add their part. */
export const DEFAULT_BUDGET_MS = 8000;
/** The longest one request may take before it is given up on (and, for a write, found out). */
export const REQUEST_TIMEOUT_MS = 2500;
/** Kept back at the end of a budget: the last retry's pause never eats into it. */
export const RESERVE_MS = 500;
/**
 * Finding out whether a write whose answer was lost landed gets its own time after the budget: the
 * operation then still answers within DEFAULT_BUDGET_MS + FINAL_CHECK_MS (9.5 s).
 */
export const FINAL_CHECK_MS = 1500;

export class Budget {
  constructor(
    readonly deadline: number,
    private readonly clock: () => number = Date.now,
  ) {}

  static of(ms: number, clock: () => number = Date.now): Budget {
    return new Budget(clock() + ms, clock);
  }

  remaining(): number {
    return this.deadline - this.clock();
  }

  /** Whether there is time for more than the final check. */
  open(): boolean {
    return this.remaining() > RESERVE_MS;
  }

  /** An abort signal for one read: at most REQUEST_TIMEOUT_MS, never past the deadline. */
  signal(): AbortSignal {
    return AbortSignal.timeout(Math.max(1, Math.min(REQUEST_TIMEOUT_MS, this.remaining())));
  }

  /**
   * An abort signal for one write: whatever is left but the reserve. A write given up on may still
   * land and must then be found out, so it is better waited for than abandoned early; a stalled
   * DynamoDB still costs no more than the budget.
   */
  writeSignal(): AbortSignal {
    return AbortSignal.timeout(Math.max(1, this.remaining() - RESERVE_MS));
  }
}

/** The budget of the read that finds out whether an operation's lost write landed. */
export function finalCheck(): Budget {
  return Budget.of(FINAL_CHECK_MS);
}

/**
 * Retry pacing. A failed condition comes back with the item as it now stands, so the next choice is
 * already informed and is tried at once; only repeated conflicts, throttling and errors back off,
 * with full jitter so that competing callers spread out instead of colliding again in step.
 */
export class Pacing {
  private attempts = 0;
  private conflicts = 0;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly random: () => number,
    private readonly budget: Budget,
  ) {}

  more(): boolean {
    return this.attempts++ < this.policy.maxAttempts && this.budget.open();
  }

  /** A fresh read instead of a write: it does not use up a write attempt, but it is not free either. */
  reread(): void {
    this.attempts -= 0.5;
  }

  async conflict(): Promise<void> {
    this.conflicts++;
    if (this.conflicts > 2) await this.pause(this.conflicts - 2);
  }

  /**
   * A conflict on a chunk that every caller of a lowest-first pool wants. Such callers take turns on
   * one item by design, so a caller is expected to lose about as often as there are others: it uses
   * up no attempt, and only the budget bounds how long it waits. The pause is random in a window that
   * first grows (few callers: short waits), then shrinks the longer the call has waited, so that the
   * calls waiting longest try most often and get their turn first, instead of the newest ones.
   */
  async contended(): Promise<void> {
    this.attempts--;
    const n = ++this.conflicts;
    const window = n <= CONTENDED_GROWING ? CONTENDED_FIRST_MS * 4 ** (n - 1) : Math.max(CONTENDED_MIN_MS, CONTENDED_MAX_MS / (n - CONTENDED_GROWING));
    await sleep(Math.min(this.random() * Math.min(window, CONTENDED_MAX_MS), Math.max(0, this.budget.remaining() - RESERVE_MS)));
  }

  async failure(): Promise<void> {
    this.conflicts++;
    await this.pause(this.conflicts);
  }

  private async pause(n: number): Promise<void> {
    await sleep(Math.min(jitter(this.policy, n, this.random), Math.max(0, this.budget.remaining() - RESERVE_MS)));
  }
}

/** Pauses between turns on a contended chunk: 25, 100, 400 ms windows, then 1,000 ms shrinking to 50. */
const CONTENDED_FIRST_MS = 25;
const CONTENDED_GROWING = 3;
const CONTENDED_MAX_MS = 1000;
const CONTENDED_MIN_MS = 50;

export function jitter(policy: RetryPolicy, n: number, random: () => number): number {
  return random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(n, 16));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
