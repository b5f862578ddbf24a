import type { QualityIssue } from '../shared/manifest.js';

/** What to do with a symbol whose rows break a data-quality rule: report it (default), or also skip it. */
export type QualityPolicy = 'flag' | 'skip';
export const QUALITY_POLICIES: readonly QualityPolicy[] = ['flag', 'skip'];
/** Issues listed per symbol; the rest are counted. */
export const MAX_LISTED_ISSUES = 10;

/**
 * The first rule one row's prices break, if any: a price must be positive, high >= low, and open and close
 * within [low, high]; a market capitalisation must not be negative. Checked in this order.
 */
export function qualityRule(open: number, high: number, low: number, close: number, market: number): { column: string; rule: string } | undefined {
  if (!(open > 0)) return { column: 'open', rule: open === 0 ? 'price is 0' : 'negative price' };
  if (!(high > 0)) return { column: 'high', rule: high === 0 ? 'price is 0' : 'negative price' };
  if (!(low > 0)) return { column: 'low', rule: low === 0 ? 'price is 0' : 'negative price' };
  if (!(close > 0)) return { column: 'close', rule: close === 0 ? 'price is 0' : 'negative price' };
  if (high < low) return { column: 'high', rule: 'high < low' };
  if (open < low || open > high) return { column: 'open', rule: 'open outside [low, high]' };
  if (close < low || close > high) return { column: 'close', rule: 'close outside [low, high]' };
  if (market < 0) return { column: 'market', rule: 'negative market capitalisation' };
  return undefined;
}

/** Collects one symbol's issues: the first MAX_LISTED_ISSUES in full, a count of all. */
export class QualityLog {
  readonly issues: QualityIssue[] = [];
  count = 0;

  add(row: number, column: string, rule: string): void {
    this.count += 1;
    if (this.issues.length < MAX_LISTED_ISSUES) this.issues.push({ row, column, rule });
  }
}
