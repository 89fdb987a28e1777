/**
 * Labels: up to 16 key/value pairs an allocation carries (which VPC, which site), as Kubernetes
 * and AWS tags have them. Their rules, the JSON merge patch that changes them (RFC 7396: a key set to
 * null goes), and the `key:value` filters of the allocation listing. Pure: no I/O.
 */
import type { Parsed } from './values.js';

export type Labels = Readonly<Record<string, string>>;

export const MAX_LABELS = 16;
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;
export const LABEL_KEY_RULE = '1-64 characters of A-Za-z0-9._/- starting with a letter or digit';
/** Printable: anything but control characters (a label value may say "Zürich"). */
const LABEL_VALUE_PATTERN = /^[^\p{Cc}]{0,256}$/u;
export const LABEL_VALUE_RULE = '0-256 printable characters (no control characters)';

export interface LabelIssue {
  /** The key the issue is about, or undefined for the labels as a whole. */
  key?: string;
  message: string;
}

const shortKey = (k: string) => JSON.stringify(k.length > 48 ? `${k.slice(0, 48)}…` : k);

/** What is wrong with one key and its value, or undefined. `value` null is a merge patch's removal. */
export function labelIssue(key: string, value: unknown, { removal = false } = {}): string | undefined {
  if (!LABEL_KEY_PATTERN.test(key)) return `label key ${shortKey(key)} is not accepted: keys are ${LABEL_KEY_RULE}`;
  if (removal && value === null) return undefined;
  if (typeof value !== 'string') return `label ${shortKey(key)} must be a string of ${LABEL_VALUE_RULE}${removal ? ', or null to remove it' : ''}`;
  if (!LABEL_VALUE_PATTERN.test(value)) return `label ${shortKey(key)}'s value is not accepted: values are ${LABEL_VALUE_RULE}`;
  return undefined;
}

export function tooMany(count: number): string {
  return `an allocation carries at most ${MAX_LABELS} labels; this would give it ${count}`;
}

/** RFC 7396 on a flat map: a key set to null is removed, any other is set. */
export function mergeLabels(current: Labels, patch: Readonly<Record<string, string | null>>): Labels {
  const out: Record<string, string> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

export interface LabelFilter {
  key: string;
  value: string;
}

/** A listing's `label` parameter: `key:value` (the first colon splits; the value may hold more). */
export function parseLabelFilter(text: string): Parsed<LabelFilter> {
  const colon = text.indexOf(':');
  const key = colon < 0 ? text : text.slice(0, colon);
  if (colon < 0 || !LABEL_KEY_PATTERN.test(key)) {
    return { ok: false, message: `label filters are key:value with a key of ${LABEL_KEY_RULE} (such as vpc:vpc-42); got ${JSON.stringify(text.slice(0, 80))}` };
  }
  return { ok: true, value: { key, value: text.slice(colon + 1) } };
}

/** Whether the labels match every filter. */
export function matchesAll(labels: Labels, filters: readonly LabelFilter[]): boolean {
  return filters.every((f) => Object.hasOwn(labels, f.key) && labels[f.key] === f.value);
}
